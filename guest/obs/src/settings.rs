//! Everything the plugin reads from the environment, in one place: the names here are the
//! ones `info()` declares, so the host exposes exactly these.

use std::time::Duration;

use scheme_plugin_kit::http::Timeouts;
use scheme_plugin_kit::retry::RetryPolicy;
use scheme_plugin_kit::text::escape;
use scheme_plugin_kit::{Error, ErrorKind, Result};

use crate::env::Env;

pub const OBS_ENDPOINT: &str = "OBS_ENDPOINT";
pub const OBS_PATH_STYLE: &str = "OBS_PATH_STYLE";
pub const OBS_ACCESS_KEY_ID: &str = "OBS_ACCESS_KEY_ID";
pub const OBS_SECRET_ACCESS_KEY: &str = "OBS_SECRET_ACCESS_KEY";
pub const OBS_SECURITY_TOKEN: &str = "OBS_SECURITY_TOKEN";
pub const HUAWEICLOUD_SDK_AK: &str = "HUAWEICLOUD_SDK_AK";
pub const HUAWEICLOUD_SDK_SK: &str = "HUAWEICLOUD_SDK_SK";
pub const HUAWEICLOUD_SDK_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
pub const OBS_CONFIG_FILE: &str = "OBS_CONFIG_FILE";
pub const HUAWEICLOUD_SDK_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// `true` skips the ECS metadata service (saves the connect timeout off Huawei Cloud).
pub const OBS_METADATA_DISABLED: &str = "OBS_METADATA_DISABLED";
pub const OBS_CONNECT_TIMEOUT_SECS: &str = "OBS_CONNECT_TIMEOUT_SECS";
pub const OBS_FIRST_BYTE_TIMEOUT_SECS: &str = "OBS_FIRST_BYTE_TIMEOUT_SECS";
pub const OBS_BETWEEN_BYTES_TIMEOUT_SECS: &str = "OBS_BETWEEN_BYTES_TIMEOUT_SECS";
pub const OBS_MAX_RETRIES: &str = "OBS_MAX_RETRIES";

/// Every variable the plugin reads. The path overrides are read by the host, not by us,
/// but declaring them documents the whole interface in one list.
pub const ENV_VARS: &[&str] = &[
    OBS_ENDPOINT,
    OBS_PATH_STYLE,
    OBS_ACCESS_KEY_ID,
    OBS_SECRET_ACCESS_KEY,
    OBS_SECURITY_TOKEN,
    HUAWEICLOUD_SDK_AK,
    HUAWEICLOUD_SDK_SK,
    HUAWEICLOUD_SDK_SECURITY_TOKEN,
    OBS_CONFIG_FILE,
    HUAWEICLOUD_SDK_CREDENTIALS_FILE,
    OBS_METADATA_DISABLED,
    OBS_CONNECT_TIMEOUT_SECS,
    OBS_FIRST_BYTE_TIMEOUT_SECS,
    OBS_BETWEEN_BYTES_TIMEOUT_SECS,
    OBS_MAX_RETRIES,
];

/// A variable's trimmed value; empty counts as unset, as in Huawei's own tools.
pub fn var(env: &dyn Env, name: &str) -> Option<String> {
    env.var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `true/1/yes/on` or `false/0/no/off`; anything else is a configuration error, because
/// silently ignoring a typo in a switch is worse than stopping.
pub fn flag(env: &dyn Env, name: &str) -> Result<bool> {
    match var(env, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
        Some(v) => Err(Error::new(ErrorKind::InvalidUri, format!("{name} must be true or false, not {:?}", escape(&v)))),
    }
}

fn seconds(env: &dyn Env, name: &str, default: u64, max: u64) -> Result<Duration> {
    match var(env, name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(Error::new(ErrorKind::InvalidUri, format!("{name} must be a whole number of seconds from 1 to {max}, not {:?}", escape(&v)))),
        },
    }
}

pub fn timeouts(env: &dyn Env) -> Result<Timeouts> {
    Ok(Timeouts {
        connect: seconds(env, OBS_CONNECT_TIMEOUT_SECS, 10, 600)?,
        first_byte: seconds(env, OBS_FIRST_BYTE_TIMEOUT_SECS, 30, 3600)?,
        between_bytes: seconds(env, OBS_BETWEEN_BYTES_TIMEOUT_SECS, 30, 3600)?,
    })
}

pub fn retry_policy(env: &dyn Env) -> Result<RetryPolicy> {
    let mut p = RetryPolicy::default();
    if let Some(v) = var(env, OBS_MAX_RETRIES) {
        p.max_retries = match v.parse::<u32>() {
            Ok(n) if n <= 20 => n,
            _ => return Err(Error::new(ErrorKind::InvalidUri, format!("{OBS_MAX_RETRIES} must be 0 to 20, not {:?}", escape(&v)))),
        };
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn defaults_and_overrides() {
        let t = timeouts(&MapEnv::new()).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (10, 30, 30));
        let env = MapEnv::new().var(OBS_CONNECT_TIMEOUT_SECS, " 3 ").var(OBS_BETWEEN_BYTES_TIMEOUT_SECS, "120");
        let t = timeouts(&env).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (3, 30, 120));
        for bad in ["0", "-1", "abc", "601", "1.5"] {
            assert!(timeouts(&MapEnv::new().var(OBS_CONNECT_TIMEOUT_SECS, bad)).is_err(), "{bad}");
        }
        assert_eq!(retry_policy(&MapEnv::new().var(OBS_MAX_RETRIES, "0")).unwrap().max_retries, 0);
        assert!(retry_policy(&MapEnv::new().var(OBS_MAX_RETRIES, "99")).is_err());
    }

    #[test]
    fn flags() {
        assert!(!flag(&MapEnv::new(), OBS_PATH_STYLE).unwrap());
        assert!(!flag(&MapEnv::new().var(OBS_PATH_STYLE, "  "), OBS_PATH_STYLE).unwrap());
        assert!(flag(&MapEnv::new().var(OBS_PATH_STYLE, "TRUE"), OBS_PATH_STYLE).unwrap());
        assert!(!flag(&MapEnv::new().var(OBS_PATH_STYLE, "off"), OBS_PATH_STYLE).unwrap());
        assert!(flag(&MapEnv::new().var(OBS_PATH_STYLE, "ture"), OBS_PATH_STYLE).is_err());
    }
}
