//! Everything the plugin reads from the environment, in one place: the names here are the
//! ones `info()` declares, so the host exposes exactly these. How values are read is the
//! kit's ([`scheme_plugin_kit::settings`]).

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::Timeouts;
use scheme_plugin_kit::retry::RetryPolicy;
pub use scheme_plugin_kit::settings::{flag, var};
use scheme_plugin_kit::settings::{self as kit, TimeoutVars};
use scheme_plugin_kit::Result;

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

const TIMEOUTS: TimeoutVars = TimeoutVars { connect: OBS_CONNECT_TIMEOUT_SECS, first_byte: OBS_FIRST_BYTE_TIMEOUT_SECS, between_bytes: OBS_BETWEEN_BYTES_TIMEOUT_SECS };

pub fn timeouts(env: &dyn Env) -> Result<Timeouts> {
    kit::timeouts(env, TIMEOUTS)
}

pub fn retry_policy(env: &dyn Env) -> Result<RetryPolicy> {
    let mut p = RetryPolicy::default();
    if let Some(n) = kit::number(env, OBS_MAX_RETRIES, 0..=20)? {
        p.max_retries = n as u32;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::env::MapEnv;

    #[test]
    fn defaults_and_overrides() {
        let t = timeouts(&MapEnv::new()).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (10, 30, 30));
        let env = MapEnv::new().var(OBS_CONNECT_TIMEOUT_SECS, " 3 ").var(OBS_BETWEEN_BYTES_TIMEOUT_SECS, "120");
        let t = timeouts(&env).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (3, 30, 120));
        assert!(timeouts(&MapEnv::new().var(OBS_FIRST_BYTE_TIMEOUT_SECS, "0")).unwrap_err().message.starts_with(OBS_FIRST_BYTE_TIMEOUT_SECS));
        assert_eq!(retry_policy(&MapEnv::new().var(OBS_MAX_RETRIES, "0")).unwrap().max_retries, 0);
        assert!(retry_policy(&MapEnv::new().var(OBS_MAX_RETRIES, "99")).is_err());
    }

    #[test]
    fn flags() {
        assert!(!flag(&MapEnv::new(), OBS_PATH_STYLE).unwrap());
        assert!(flag(&MapEnv::new().var(OBS_PATH_STYLE, "TRUE"), OBS_PATH_STYLE).unwrap());
        assert!(flag(&MapEnv::new().var(OBS_PATH_STYLE, "ture"), OBS_PATH_STYLE).is_err());
    }
}
