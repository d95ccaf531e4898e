//! The two credential files Huawei's tools write: obsutil's `key=value` config and the
//! Huawei Cloud SDK's INI file.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// What obsutil's config file says (only the keys we use).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct ObsutilConfig {
    pub endpoint: Option<String>,
    pub ak: Option<String>,
    pub sk: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for ObsutilConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObsutilConfig")
            .field("endpoint", &self.endpoint)
            .field("ak", &self.ak.as_ref().map(|_| "(set)"))
            .field("sk", &self.sk.as_ref().map(|_| "(set)"))
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// obsutil writes `*** Provide your Access Key ***`-style placeholders and an
/// `https://your-endpoint` endpoint into a fresh config: they mean "not configured".
fn is_placeholder(v: &str) -> bool {
    let v = v.trim();
    (v.starts_with("***") && v.ends_with("***")) || {
        let host = v.split("://").nth(1).unwrap_or(v);
        host.trim_end_matches('/').split(':').next() == Some("your-endpoint")
    }
}

fn value(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && !is_placeholder(v)).then(|| v.to_string())
}

/// Parses `~/.obsutilconfig`: `key=value` lines, `#` comments, whitespace trimmed. Lines
/// without `=` are skipped: the file holds many settings we do not use, and a stray line
/// there must not block downloads.
pub fn parse_obsutil(bytes: &[u8]) -> ObsutilConfig {
    let text = String::from_utf8_lossy(bytes);
    let mut c = ObsutilConfig::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let slot = match k.trim() {
            "endpoint" => &mut c.endpoint,
            "ak" => &mut c.ak,
            "sk" => &mut c.sk,
            "token" => &mut c.token,
            _ => continue,
        };
        // Later lines win, as in obsutil's own map.
        *slot = value(v);
    }
    c
}

/// obsutil replaces `ak`/`sk` by Base64(AES-CBC(value)) after first use, with a key baked
/// into its release build that we do not have. Ciphertext is a whole number of 16-byte
/// blocks; real access keys (20 characters) and secret keys (40) never decode to that.
pub fn looks_encrypted(v: &str) -> bool {
    let v = v.trim();
    if v.len() < 24 || !v.len().is_multiple_of(4) {
        return false;
    }
    match STANDARD.decode(v) {
        Ok(bytes) => !bytes.is_empty() && bytes.len().is_multiple_of(16),
        Err(_) => false,
    }
}

/// The `[basic]` section of `~/.huaweicloud/credentials`.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct SdkCredentialsFile {
    pub ak: Option<String>,
    pub sk: Option<String>,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for SdkCredentialsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkCredentialsFile")
            .field("ak", &self.ak.as_ref().map(|_| "(set)"))
            .field("sk", &self.sk.as_ref().map(|_| "(set)"))
            .field("security_token", &self.security_token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// INI as Python's configparser reads it: `[section]`, `key = value` or `key: value`,
/// `#`/`;` comment lines, case-insensitive keys.
pub fn parse_sdk_credentials(bytes: &[u8]) -> SdkCredentialsFile {
    let text = String::from_utf8_lossy(bytes);
    let mut out = SdkCredentialsFile::default();
    let mut in_basic = false;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(section) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            in_basic = section.trim() == "basic";
            continue;
        }
        if !in_basic {
            continue;
        }
        let Some(i) = t.find(['=', ':']) else { continue };
        let (k, v) = (t[..i].trim().to_ascii_lowercase(), t[i + 1..].trim());
        let v = (!v.is_empty()).then(|| v.to_string());
        match k.as_str() {
            "ak" => out.ak = v,
            "sk" => out.sk = v,
            "security_token" => out.security_token = v,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obsutil_config() {
        let c = parse_obsutil(
            b"# obsutil\nendpoint = https://obs.cn-north-4.myhuaweicloud.com\nak=AKPLAIN0000000000001\n  sk = SKplain000000000000000000000000000000001 \ntoken=\nnot a setting\nutilLogPath=/x=y\n",
        );
        assert_eq!(c.endpoint.as_deref(), Some("https://obs.cn-north-4.myhuaweicloud.com"));
        assert_eq!(c.ak.as_deref(), Some("AKPLAIN0000000000001"));
        assert_eq!(c.sk.as_deref(), Some("SKplain000000000000000000000000000000001"));
        assert_eq!(c.token, None);
    }

    #[test]
    fn obsutil_placeholders_mean_unset() {
        let c = parse_obsutil(b"endpoint=https://your-endpoint\nak=*** Provide your Access Key ***\nsk=*** Provide your Secret Key ***\n");
        assert_eq!(c, ObsutilConfig::default());
        assert_eq!(parse_obsutil(b"endpoint=http://your-endpoint:443/").endpoint, None);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = parse_obsutil(b"ak=AKPLAIN0000000000001\nsk=SECRETVALUE");
        let d = format!("{c:?}");
        assert!(!d.contains("AKPLAIN") && !d.contains("SECRETVALUE"), "{d}");
        let f = parse_sdk_credentials(b"[basic]\nak=AKX\nsk=SECRETVALUE\n");
        assert!(!format!("{f:?}").contains("SECRETVALUE"));
    }

    #[test]
    fn encrypted_values() {
        // Shapes obsutil produces: a 20-char AK becomes 32 bytes of ciphertext, a 40-char SK 48.
        assert!(looks_encrypted(&STANDARD.encode([7u8; 32])));
        assert!(looks_encrypted(&STANDARD.encode([200u8; 48])));
        assert!(!looks_encrypted("AKTESTEXAMPLE0000001"));
        assert!(!looks_encrypted("SKtestExampleSecretKey0000000000000000001"));
        assert!(!looks_encrypted("not base64 at all!!!!!!!"));
        assert!(!looks_encrypted(&STANDARD.encode([1u8; 30])));
    }

    #[test]
    fn sdk_credentials_file() {
        let f = parse_sdk_credentials(
            b"[default]\nak = WRONG\n\n[basic]\n; comment\nAK = AKBASIC\nsk: SKBASIC\nsecurity_token = TOK\nproject_id = p\n[other]\nsk = WRONG\n",
        );
        assert_eq!(f.ak.as_deref(), Some("AKBASIC"));
        assert_eq!(f.sk.as_deref(), Some("SKBASIC"));
        assert_eq!(f.security_token.as_deref(), Some("TOK"));
        assert_eq!(parse_sdk_credentials(b"ak=x\nsk=y\n"), SdkCredentialsFile::default());
        assert_eq!(parse_sdk_credentials(b"\xff\xfe[basic]\nak=\n").ak, None);
    }
}
