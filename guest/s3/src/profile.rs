//! `~/.aws/credentials` and `~/.aws/config` as the AWS CLI reads them (botocore's
//! `configloader`: Python's `RawConfigParser`, one level of nesting), and the profile a call
//! uses: `AWS_PROFILE`, else `default`.
//!
//! Like the AWS tools, a file that does not parse is an error, not an empty file: a typo must
//! not quietly switch identities. Errors name the file and line, never a value.

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::settings::{self as s, var};

/// Config-file ids declared in `info()`; the host maps them to paths.
pub const CREDENTIALS_FILE_ID: &str = "aws-credentials";
pub const CONFIG_FILE_ID: &str = "aws-config";

/// One section's settings: keys lower-cased; a nested block (`s3 =` followed by indented
/// `key = value` lines) flattened to `s3.key`.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Section {
    entries: Vec<(String, String)>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Keys only: values may be secrets.
impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|(k, _)| k)).finish()
    }
}

/// Why a file does not parse, by line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub why: &'static str,
}

/// Parses INI text as `RawConfigParser` does: `[section]`, `key = value` or `key: value`
/// (keys lower-cased, values trimmed, no inline comments), `#`/`;` comment lines, indented
/// lines continuing the previous value. A duplicate section or key is an error, as in
/// Python's strict parser.
pub fn parse_ini(bytes: &[u8]) -> std::result::Result<Vec<(String, Section)>, ParseError> {
    let text = String::from_utf8_lossy(bytes);
    let mut sections: Vec<(String, Section)> = Vec::new();
    // The option being read: its indentation, key, and value lines with their numbers.
    type Open = Option<(usize, String, Vec<(usize, String)>)>;
    let mut open: Open = None;
    let close = |sections: &mut Vec<(String, Section)>, open: &mut Open| -> std::result::Result<(), ParseError> {
        let Some((_, key, lines)) = open.take() else { return Ok(()) };
        let section = &mut sections.last_mut().expect("an option is only opened inside a section").1;
        if lines[0].1.is_empty() && lines.len() > 1 {
            for (line, l) in lines.iter().skip(1).filter(|(_, l)| !l.is_empty()) {
                let (k, v) = l.split_once('=').ok_or(ParseError { line: *line, why: "a nested setting without '='" })?;
                section.entries.push((format!("{key}.{}", k.trim()), v.trim().to_string()));
            }
        } else {
            let mut value = lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n");
            value.truncate(value.trim_end().len());
            section.entries.push((key, value));
        }
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some((cur_indent, _, lines)) = open.as_mut() {
            if trimmed.is_empty() {
                lines.push((line, String::new()));
                continue;
            }
            if indent > *cur_indent {
                lines.push((line, trimmed.to_string()));
                continue;
            }
        }
        if trimmed.is_empty() {
            continue;
        }
        close(&mut sections, &mut open)?;
        if let Some(rest) = trimmed.strip_prefix('[') {
            let end = rest.rfind(']').ok_or(ParseError { line, why: "a section header without ']'" })?;
            let name = rest[..end].to_string();
            if name.is_empty() {
                return Err(ParseError { line, why: "an empty section name" });
            }
            if sections.iter().any(|(n, _)| *n == name) {
                return Err(ParseError { line, why: "a section that appears twice" });
            }
            sections.push((name, Section::default()));
            continue;
        }
        if sections.is_empty() {
            return Err(ParseError { line, why: "a setting before the first [section]" });
        }
        let at = trimmed.find(['=', ':']).ok_or(ParseError { line, why: "a line that is neither a [section] nor key = value" })?;
        let key = trimmed[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(ParseError { line, why: "a setting without a name" });
        }
        let section = &sections.last().expect("checked above").1;
        if section.has(&key) || section.entries.iter().any(|(k, _)| k.starts_with(&format!("{key}."))) {
            return Err(ParseError { line, why: "a setting that appears twice in its section" });
        }
        open = Some((indent, key, vec![(line, trimmed[at + 1..].trim().to_string())]));
    }
    close(&mut sections, &mut open)?;
    Ok(sections)
}

/// The profile `name` of a config file: `[profile name]`, or `[default]` for `default`.
/// Like botocore, the section name is split as a shell would (`[profile "a b"]`).
fn config_section(sections: &[(String, Section)], name: &str) -> Option<Section> {
    sections
        .iter()
        .find(|(header, _)| {
            let words = shell_words(header);
            matches!(words.as_slice(), [p, n] if p == "profile" && n == name) || (name == "default" && header == "default")
        })
        .map(|(_, s)| s.clone())
}

/// Splits on whitespace, honouring single and double quotes (enough of `shlex.split` for a
/// profile header).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(cur.take()),
            (None, c) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    words
}

/// The profile a call uses, from both files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Its section in the credentials file (`[name]`).
    pub credentials: Option<Section>,
    /// Its section in the config file (`[profile name]`).
    pub config: Option<Section>,
}

impl Profile {
    /// A setting from either file; the credentials file wins, as in botocore's merged view.
    pub fn get(&self, key: &str) -> Option<&str> {
        [&self.credentials, &self.config].into_iter().flatten().find_map(|s| s.get(key)).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Loads the profile named by `AWS_PROFILE` (else `default`). A named profile that is in
    /// neither file is an error, as in the AWS CLI; a missing `default` is simply empty.
    pub fn load(env: &dyn Env) -> Result<Profile> {
        let named = var(env, s::AWS_PROFILE);
        let name = named.clone().unwrap_or_else(|| "default".into());
        let credentials = read(env, CREDENTIALS_FILE_ID, "~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)")?
            .and_then(|sections| sections.into_iter().find(|(n, _)| *n == name).map(|(_, s)| s));
        let config = read(env, CONFIG_FILE_ID, "~/.aws/config (AWS_CONFIG_FILE)")?.and_then(|sections| config_section(&sections, &name));
        if named.is_some() && credentials.is_none() && config.is_none() {
            return Err(Error::new(
                ErrorKind::BadCredentials,
                format!("AWS_PROFILE names the profile {:?}, which is in neither ~/.aws/credentials nor ~/.aws/config", escape(&name)),
            ));
        }
        Ok(Profile { name, credentials, config })
    }
}

fn read(env: &dyn Env, id: &str, what: &str) -> Result<Option<Vec<(String, Section)>>> {
    let Some(bytes) = env.config_file(id) else { return Ok(None) };
    parse_ini(&bytes)
        .map(Some)
        .map_err(|e| Error::new(ErrorKind::BadCredentials, format!("{what} does not parse: line {} is {}", e.line, e.why)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::env::MapEnv;

    const CONFIG: &str = "\
# comment
[default]
region = eu-west-1
s3 =
    addressing_style = path
  endpoint_url=http://127.0.0.1:9000

[profile  \"dev box\"]
region: us-west-2
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secret # not a comment
[profile other]
role_arn = arn:aws:iam::123456789012:role/x
[other]
region = never-read
";

    #[test]
    fn config_profiles_and_nesting() {
        let sections = parse_ini(CONFIG.as_bytes()).unwrap();
        let d = config_section(&sections, "default").unwrap();
        assert_eq!(d.get("region"), Some("eu-west-1"));
        assert_eq!(d.get("s3.addressing_style"), Some("path"));
        assert_eq!(d.get("s3.endpoint_url"), Some("http://127.0.0.1:9000"));
        assert_eq!(d.get("s3"), None);
        let dev = config_section(&sections, "dev box").unwrap();
        assert_eq!((dev.get("region"), dev.get("aws_secret_access_key")), (Some("us-west-2"), Some("secret # not a comment")));
        assert!(config_section(&sections, "other").unwrap().has("role_arn"));
        assert_eq!(config_section(&sections, "nope"), None);
        assert!(!format!("{dev:?}").contains("AKIDCONFIG"), "{dev:?}");
    }

    #[test]
    fn continuation_lines_and_case() {
        let s = parse_ini(b"[p]\nAWS_Access_Key_ID = a\n  b\n\nk2=v\n").unwrap();
        assert_eq!(s[0].1.get("aws_access_key_id"), Some("a\nb"));
        assert_eq!(s[0].1.get("k2"), Some("v"));
    }

    #[test]
    fn malformed_files_are_errors_without_values() {
        for (text, line) in [
            ("key = v\n", 1),
            ("[a]\njunk SECRETVALUE\n", 2),
            ("[a]\nk = 1\nk = 2\n", 3),
            ("[a]\n[a]\n", 2),
            ("[a\n", 1),
            ("[a]\ns3 =\n  no-equals SECRETVALUE\n", 3),
        ] {
            assert_eq!(parse_ini(text.as_bytes()).unwrap_err().line, line, "{text:?}");
        }
        let env = MapEnv::new().file(CREDENTIALS_FILE_ID, "[default]\njunk SECRETVALUE\n");
        let e = Profile::load(&env).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadCredentials);
        assert!(e.message.contains("line 2") && !e.message.contains("SECRETVALUE"), "{}", e.message);
    }

    #[test]
    fn selection_and_merging() {
        let env = MapEnv::new()
            .file(CREDENTIALS_FILE_ID, "[default]\nregion = from-credentials\n[dev box]\naws_access_key_id = AKIDFILE\n")
            .file(CONFIG_FILE_ID, CONFIG);
        let p = Profile::load(&env).unwrap();
        assert_eq!((p.name.as_str(), p.get("region")), ("default", Some("from-credentials")));
        let p = Profile::load(&env.clone().var(s::AWS_PROFILE, "dev box")).unwrap();
        assert_eq!((p.get("aws_access_key_id"), p.get("region")), (Some("AKIDFILE"), Some("us-west-2")));
        let e = Profile::load(&env.clone().var(s::AWS_PROFILE, "missing")).unwrap_err();
        assert!(e.message.contains("\"missing\""), "{}", e.message);
        assert_eq!(Profile::load(&MapEnv::new()).unwrap(), Profile { name: "default".into(), ..Profile::default() });
    }

    #[test]
    fn shell_splitting() {
        assert_eq!(shell_words("profile  'a b'"), vec!["profile", "a b"]);
        assert_eq!(shell_words("profile \"\""), vec!["profile", ""]);
        assert_eq!(shell_words(" profile x "), vec!["profile", "x"]);
    }
}
