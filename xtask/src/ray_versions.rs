//! The Ray releases the real-Ray suite runs on: `requirements/ray-versions.txt`, one release
//! per line, oldest first. Each gets its own venv, named by its minor release, so that a new
//! patch release of the same minor replaces the old one in place.

use anyhow::{bail, Context, Result};
use std::path::Path;

pub const LIST: &str = "requirements/ray-versions.txt";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RayRelease {
    pub version: String,
    pub release: (u32, u32, u32),
}

impl RayRelease {
    /// `MAJOR.MINOR.PATCH`, as PyPI names Ray's final releases.
    pub fn parse(text: &str) -> Result<Self> {
        // Digits only: u32's parser would also take "+1".
        let number = |p: &str| if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) { p.parse::<u32>().ok() } else { None };
        let numbers: Option<Vec<u32>> = text.split('.').map(number).collect();
        match numbers.as_deref() {
            Some(&[major, minor, patch]) => Ok(RayRelease { version: text.to_string(), release: (major, minor, patch) }),
            _ => bail!("{text:?} is not a Ray release like 2.60.0"),
        }
    }

    /// `.venv-ray-2.47`: one venv per minor release, beside the project's `.venv`.
    pub fn venv_dir_name(&self) -> String {
        format!(".venv-ray-{}.{}", self.release.0, self.release.1)
    }

    pub fn requirement(&self) -> String {
        format!("ray[default]=={}", self.version)
    }
}

/// The releases of a list file's text: `#` starts a comment, blank lines are skipped; at
/// least one release, strictly ascending, one per minor release (each names a venv).
pub fn parse_list(text: &str) -> Result<Vec<RayRelease>> {
    let mut releases: Vec<RayRelease> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let release = RayRelease::parse(entry).with_context(|| format!("line {}", number + 1))?;
        if let Some(last) = releases.last().filter(|last| (last.release.0, last.release.1) >= (release.release.0, release.release.1)) {
            bail!("line {}: {} does not come after {} (one release per minor, oldest first)", number + 1, release.version, last.version);
        }
        releases.push(release);
    }
    if releases.is_empty() {
        bail!("no Ray release listed");
    }
    Ok(releases)
}

pub fn read(workspace: &Path) -> Result<Vec<RayRelease>> {
    let path = workspace.join(LIST);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_list(&text).with_context(|| format!("in {}", path.display()))
}

/// The releases to test: all of them, or the one `--ray VERSION` names (which must be listed).
pub fn select(all: Vec<RayRelease>, wanted: Option<&str>) -> Result<Vec<RayRelease>> {
    let Some(wanted) = wanted else { return Ok(all) };
    match all.iter().find(|r| r.version == wanted) {
        Some(found) => Ok(vec![found.clone()]),
        None => bail!(
            "Ray {wanted} is not in {LIST} ({}); add it there to test it",
            all.iter().map(|r| r.version.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_releases_skipping_comments_and_blank_lines() {
        let list = parse_list("# tested\n2.47.1\n\n2.54.1  # middle\n2.60.0\n").unwrap();
        let versions: Vec<_> = list.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["2.47.1", "2.54.1", "2.60.0"]);
        assert_eq!(list[0].venv_dir_name(), ".venv-ray-2.47");
        assert_eq!(list[2].requirement(), "ray[default]==2.60.0");
    }

    #[test]
    fn refuses_what_would_name_one_venv_twice_or_is_out_of_order() {
        assert!(parse_list("2.54.0\n2.54.1\n").unwrap_err().to_string().contains("line 2"));
        assert!(parse_list("2.60.0\n2.47.1\n").is_err());
        assert!(parse_list("# nothing\n").is_err());
    }

    #[test]
    fn refuses_what_is_not_a_final_release() {
        for bad in ["2.60", "2.60.0rc1", "v2.60.0", "2..0", "2.60.0.1", "2.60.+1"] {
            assert!(RayRelease::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RayRelease::parse("10.0.3").unwrap().release, (10, 0, 3));
    }

    #[test]
    fn select_keeps_all_or_the_one_named() {
        let all = parse_list("2.47.1\n2.60.0\n").unwrap();
        assert_eq!(select(all.clone(), None).unwrap().len(), 2);
        assert_eq!(select(all.clone(), Some("2.60.0")).unwrap()[0].version, "2.60.0");
        assert!(select(all, Some("2.50.0")).unwrap_err().to_string().contains("not in"));
    }

    #[test]
    fn the_shipped_list_parses() {
        let list = read(&crate::util::workspace()).unwrap();
        assert!(list.len() >= 2, "the oldest supported and the newest tested release");
    }
}
