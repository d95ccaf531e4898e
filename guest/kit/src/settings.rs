//! Reading a plugin's settings from its environment: trimmed values, switches, durations
//! and counts, each refused with the variable's name when malformed. Each plugin keeps its
//! own variable names; the rules are the same for all.

use std::time::Duration;

use crate::env::Env;
use crate::http::Timeouts;
use crate::text::escape;
use crate::{Error, ErrorKind, Result};

/// A variable's trimmed value; empty counts as unset, as in the stores' own tools.
pub fn var(env: &dyn Env, name: &str) -> Option<String> {
    env.var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A malformed setting. The host has no `config` kind for plugins; `invalid-uri` is the
/// kind that says "what you asked for cannot be fetched as configured".
pub fn setting_error(message: String) -> Error {
    Error::new(ErrorKind::InvalidUri, message)
}

/// `true/1/yes/on` or `false/0/no/off`; anything else is a configuration error, because
/// silently ignoring a typo in a switch is worse than stopping.
pub fn flag(env: &dyn Env, name: &str) -> Result<bool> {
    match var(env, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
        Some(v) => Err(setting_error(format!("{name} must be true or false, not {:?}", escape(&v)))),
    }
}

/// A whole number in `range`, or `None` when unset.
pub fn number(env: &dyn Env, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>> {
    match var(env, name) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(setting_error(format!("{name} must be a whole number from {} to {}, not {:?}", range.start(), range.end(), escape(&v)))),
        },
    }
}

/// Whole seconds from 1 to `max`, `default` when unset.
pub fn seconds(env: &dyn Env, name: &str, default: u64, max: u64) -> Result<Duration> {
    match var(env, name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(setting_error(format!("{name} must be a whole number of seconds from 1 to {max}, not {:?}", escape(&v)))),
        },
    }
}

/// The variables that override a plugin's three HTTP waits.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutVars {
    pub connect: &'static str,
    pub first_byte: &'static str,
    pub between_bytes: &'static str,
}

/// Defaults 10 s to connect, 30 s to the first byte and between bytes; the host may cap
/// them lower.
pub fn timeouts(env: &dyn Env, names: TimeoutVars) -> Result<Timeouts> {
    Ok(Timeouts {
        connect: seconds(env, names.connect, 10, 600)?,
        first_byte: seconds(env, names.first_byte, 30, 3600)?,
        between_bytes: seconds(env, names.between_bytes, 30, 3600)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    const VARS: TimeoutVars = TimeoutVars { connect: "C", first_byte: "F", between_bytes: "B" };

    #[test]
    fn timeouts_defaults_and_overrides() {
        let t = timeouts(&MapEnv::new(), VARS).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (10, 30, 30));
        let env = MapEnv::new().var("C", " 3 ").var("B", "120");
        let t = timeouts(&env, VARS).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (3, 30, 120));
        for bad in ["0", "-1", "abc", "601", "1.5"] {
            let e = timeouts(&MapEnv::new().var("C", bad), VARS).unwrap_err();
            assert!(e.message.starts_with("C must be"), "{bad}: {e}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number(&MapEnv::new(), "N", 0..=20).unwrap(), None);
        assert_eq!(number(&MapEnv::new().var("N", " 0 "), "N", 0..=20).unwrap(), Some(0));
        assert!(number(&MapEnv::new().var("N", "21"), "N", 0..=20).is_err());
        assert!(number(&MapEnv::new().var("N", "x"), "N", 1..=20).unwrap_err().message.contains("1 to 20"));
    }

    #[test]
    fn flags() {
        assert!(!flag(&MapEnv::new(), "P").unwrap());
        assert!(!flag(&MapEnv::new().var("P", "  "), "P").unwrap());
        assert!(flag(&MapEnv::new().var("P", "TRUE"), "P").unwrap());
        assert!(!flag(&MapEnv::new().var("P", "off"), "P").unwrap());
        let e = flag(&MapEnv::new().var("P", "ture"), "P").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidUri);
    }
}
