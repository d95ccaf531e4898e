//! Which files Ray 2.60 leaves out of a working_dir, as options.
//!
//! `upload_working_dir_if_needed` (`ray/_private/runtime_env/working_dir.py`) packs with
//! `excludes = default excludes + runtime_env["excludes"]`, one pathspec, relative to the
//! directory; the defaults are `RAY_RUNTIME_ENV_DEFAULT_EXCLUDES` (`ray_constants.py`),
//! replaced by the comma-separated `RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES` when set (empty
//! turns them off). `.gitignore` files are read unless `RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1`
//! (`ray.init`, `ray job submit` and Ray Client read it); `.rayignore` files always are.

use crate::pattern::is_python_space;

/// `RAY_RUNTIME_ENV_DEFAULT_EXCLUDES` in Ray 2.60 (`.git` because it is never in .gitignore).
pub const RAY_DEFAULT_EXCLUDES: [&str; 4] = [".git", ".venv", "venv", "__pycache__"];
/// Replaces [`RAY_DEFAULT_EXCLUDES`]: comma-separated, empty for none.
pub const ENV_OVERRIDE_DEFAULT_EXCLUDES: &str = "RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES";
/// `1` stops Ray from reading `.gitignore` files (`.rayignore` files are still read).
pub const ENV_IGNORE_GITIGNORE: &str = "RAY_RUNTIME_ENV_IGNORE_GITIGNORE";

/// What to leave out, with Ray's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Ray's built-in excludes; patterns go before [`Rules::excludes`] in one list, so a user
    /// `!pattern` can re-include what a default left out (as in Ray).
    pub default_excludes: Vec<String>,
    /// `runtime_env["excludes"]`: gitwildmatch patterns relative to the directory.
    pub excludes: Vec<String>,
    /// Whether `.gitignore` files count.
    pub include_gitignore: bool,
}

impl Default for Rules {
    /// Ray 2.60's behaviour with none of its environment variables set.
    fn default() -> Self {
        Rules {
            default_excludes: RAY_DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            excludes: Vec::new(),
            include_gitignore: true,
        }
    }
}

impl Rules {
    /// [`Rules::default`] adjusted by the process environment the way Ray adjusts it, so a
    /// package built here matches what `ray job submit` on this machine would upload.
    pub fn from_env() -> Self {
        Self::default()
            .with_env(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Applies Ray's two environment variables, read through `var`.
    pub fn with_env(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(list) = var(ENV_OVERRIDE_DEFAULT_EXCLUDES) {
            self.default_excludes = list
                .split(',')
                .map(|p| p.trim_matches(is_python_space))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
        }
        // Ray: `os.environ.get(RAY_RUNTIME_ENV_IGNORE_GITIGNORE, "0") != "1"`.
        self.include_gitignore = var(ENV_IGNORE_GITIGNORE).as_deref() != Some("1");
        self
    }

    /// The one exclude list Ray builds: defaults first, then the user's.
    pub(crate) fn combined_excludes(&self) -> impl Iterator<Item = &str> {
        self.default_excludes
            .iter()
            .chain(&self.excludes)
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_are_ray_260s() {
        let r = Rules::default();
        assert_eq!(r.default_excludes, [".git", ".venv", "venv", "__pycache__"]);
        assert!(r.include_gitignore);
        assert_eq!(r, Rules::default().with_env(env(&[])));
    }

    #[test]
    fn environment_overrides_like_ray() {
        let r = Rules::default().with_env(env(&[(ENV_OVERRIDE_DEFAULT_EXCLUDES, " a , ,b/ ,")]));
        assert_eq!(r.default_excludes, ["a", "b/"]);
        let r = Rules::default().with_env(env(&[(ENV_OVERRIDE_DEFAULT_EXCLUDES, "")]));
        assert!(r.default_excludes.is_empty());
        assert!(
            !Rules::default()
                .with_env(env(&[(ENV_IGNORE_GITIGNORE, "1")]))
                .include_gitignore
        );
        // Only the exact string "1" turns .gitignore off in Ray.
        for v in ["0", "true", " 1", ""] {
            assert!(
                Rules::default()
                    .with_env(env(&[(ENV_IGNORE_GITIGNORE, v)]))
                    .include_gitignore,
                "{v:?}"
            );
        }
    }

    #[test]
    fn user_excludes_follow_the_defaults() {
        let r = Rules {
            excludes: vec!["*.tmp".into()],
            ..Rules::default()
        };
        let all: Vec<&str> = r.combined_excludes().collect();
        assert_eq!(all, [".git", ".venv", "venv", "__pycache__", "*.tmp"]);
    }
}
