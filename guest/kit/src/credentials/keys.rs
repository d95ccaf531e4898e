//! A plugin's credentials as the kit sees them: the strings no message may show and when
//! they lapse, and the rules every source follows for reading and printing them.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// Temporary credentials are refreshed this long before they expire, so a signature made
/// now is still valid when a slow request reaches the store.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What the kit needs of a plugin's credentials; each cloud keeps its own type, since field
/// names (a session or a security token) and sources are its own vocabulary.
pub trait KeyMaterial {
    /// Strings no message may contain.
    fn secrets(&self) -> Vec<&str>;
    /// When temporary credentials lapse; `None` for long-lived keys.
    fn expires_at(&self) -> Option<SystemTime>;

    /// Still good for a request signed at `now`, with [`REFRESH_MARGIN`] to spare.
    fn fresh(&self, now: SystemTime) -> bool {
        self.expires_at().is_none_or(|e| e > now + REFRESH_MARGIN)
    }
}

/// The keys from two named values, `None` when neither is set. One without the other is a
/// configuration error rather than a reason to try the next source, which would silently
/// use another identity. The message names both values and `source` (as the plugin
/// describes it), never what they hold.
pub fn key_pair(ak: Option<String>, sk: Option<String>, ak_name: &str, sk_name: &str, source: &str) -> Result<Option<(String, String)>> {
    match (ak, sk) {
        (Some(ak), Some(sk)) => Ok(Some((ak, sk))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::bad_credentials(format!("{ak_name} is set but {sk_name} is not ({source})"))),
        (None, Some(_)) => Err(Error::bad_credentials(format!("{sk_name} is set but {ak_name} is not ({source})"))),
    }
}

/// The `Debug` form of credentials: their source, whether a token is present and when they
/// lapse. Debug output ends up in logs and panic messages, so no key or token is in it.
pub fn redacted_debug(f: &mut fmt::Formatter<'_>, source: &dyn fmt::Debug, has_token: bool, expires_at: Option<SystemTime>) -> fmt::Result {
    f.debug_struct("Credentials").field("source", source).field("token", &has_token).field("expires_at", &expires_at).finish_non_exhaustive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    struct Keys(Option<SystemTime>);

    impl KeyMaterial for Keys {
        fn secrets(&self) -> Vec<&str> {
            vec!["AK", "SK"]
        }
        fn expires_at(&self) -> Option<SystemTime> {
            self.0
        }
    }

    impl fmt::Debug for Keys {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            redacted_debug(f, &"env", true, self.0)
        }
    }

    #[test]
    fn fresh_until_the_refresh_margin() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(Keys(None).fresh(now), "long-lived keys never lapse");
        assert!(Keys(Some(now + REFRESH_MARGIN + Duration::from_secs(1))).fresh(now));
        assert!(!Keys(Some(now + REFRESH_MARGIN)).fresh(now));
        assert!(!Keys(Some(now - Duration::from_secs(1))).fresh(now));
    }

    #[test]
    fn a_half_pair_is_an_error_naming_no_value() {
        let pair = |ak: Option<&str>, sk: Option<&str>| key_pair(ak.map(String::from), sk.map(String::from), "AK_VAR", "SK_VAR", "the environment");
        assert_eq!(pair(Some("a"), Some("s")).unwrap(), Some(("a".to_string(), "s".to_string())));
        assert_eq!(pair(None, None).unwrap(), None);
        let e = pair(Some("AKVALUE"), None).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::BadCredentials, "AK_VAR is set but SK_VAR is not (the environment)"));
        let e = pair(None, Some("SKVALUE")).unwrap_err();
        assert_eq!(e.message, "SK_VAR is set but AK_VAR is not (the environment)");
    }

    #[test]
    fn debug_shows_no_secret() {
        let d = format!("{:?}", Keys(None));
        assert_eq!(d, "Credentials { source: \"env\", token: true, expires_at: None, .. }");
    }
}
