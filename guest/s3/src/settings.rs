//! Every environment variable the plugin reads, in one place: the names here are the ones
//! `info()` declares, so the host exposes exactly these. The AWS names mean what they mean
//! to the AWS CLI and SDKs; the `S3_*` timeouts are this plugin's own.

use scheme_plugin_kit::env::Env;
use scheme_plugin_kit::http::Timeouts;
use scheme_plugin_kit::retry::RetryPolicy;
pub use scheme_plugin_kit::settings::{flag, var};
use scheme_plugin_kit::settings::{self as kit, TimeoutVars};
use scheme_plugin_kit::Result;

pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// The older name of `AWS_SESSION_TOKEN`, still read by botocore.
pub const AWS_SECURITY_TOKEN: &str = "AWS_SECURITY_TOKEN";
pub const AWS_PROFILE: &str = "AWS_PROFILE";
/// Read by the host to find the files; declared so the whole interface is in one list.
pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// `true` ignores every configured endpoint URL (environment and profile), as in the AWS CLI.
pub const AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";
/// `path`, `virtual` or `auto`; the profile's `s3.addressing_style` otherwise.
pub const AWS_S3_ADDRESSING_STYLE: &str = "AWS_S3_ADDRESSING_STYLE";
/// `true` skips the EC2 instance metadata service (saves its timeout off EC2).
pub const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
/// Attempts per request, the first included (the AWS CLI's meaning); 1 to 21.
pub const AWS_MAX_ATTEMPTS: &str = "AWS_MAX_ATTEMPTS";
// Credential sources the AWS tools would use before the ones this plugin supports; read
// only to refuse clearly instead of silently using another identity.
pub const AWS_ROLE_ARN: &str = "AWS_ROLE_ARN";
pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
pub const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
pub const AWS_CONTAINER_CREDENTIALS_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const S3_CONNECT_TIMEOUT_SECS: &str = "S3_CONNECT_TIMEOUT_SECS";
pub const S3_FIRST_BYTE_TIMEOUT_SECS: &str = "S3_FIRST_BYTE_TIMEOUT_SECS";
pub const S3_BETWEEN_BYTES_TIMEOUT_SECS: &str = "S3_BETWEEN_BYTES_TIMEOUT_SECS";

/// Every variable the plugin reads.
pub const ENV_VARS: &[&str] = &[
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN,
    AWS_SECURITY_TOKEN,
    AWS_PROFILE,
    AWS_SHARED_CREDENTIALS_FILE,
    AWS_CONFIG_FILE,
    AWS_REGION,
    AWS_DEFAULT_REGION,
    AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL,
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
    AWS_S3_ADDRESSING_STYLE,
    AWS_EC2_METADATA_DISABLED,
    AWS_MAX_ATTEMPTS,
    AWS_ROLE_ARN,
    AWS_WEB_IDENTITY_TOKEN_FILE,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
    AWS_CONTAINER_CREDENTIALS_FULL_URI,
    S3_CONNECT_TIMEOUT_SECS,
    S3_FIRST_BYTE_TIMEOUT_SECS,
    S3_BETWEEN_BYTES_TIMEOUT_SECS,
];

const TIMEOUTS: TimeoutVars = TimeoutVars { connect: S3_CONNECT_TIMEOUT_SECS, first_byte: S3_FIRST_BYTE_TIMEOUT_SECS, between_bytes: S3_BETWEEN_BYTES_TIMEOUT_SECS };

pub fn timeouts(env: &dyn Env) -> Result<Timeouts> {
    kit::timeouts(env, TIMEOUTS)
}

/// `AWS_MAX_ATTEMPTS` counts the first attempt; the kit counts retries after failures.
pub fn retry_policy(env: &dyn Env) -> Result<RetryPolicy> {
    let mut p = RetryPolicy::default();
    if let Some(n) = kit::number(env, AWS_MAX_ATTEMPTS, 1..=21)? {
        p.max_retries = n as u32 - 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheme_plugin_kit::env::MapEnv;

    #[test]
    fn timeouts_and_attempts() {
        let t = timeouts(&MapEnv::new().var(S3_FIRST_BYTE_TIMEOUT_SECS, "7")).unwrap();
        assert_eq!((t.connect.as_secs(), t.first_byte.as_secs(), t.between_bytes.as_secs()), (10, 7, 30));
        assert!(timeouts(&MapEnv::new().var(S3_CONNECT_TIMEOUT_SECS, "0")).unwrap_err().message.starts_with(S3_CONNECT_TIMEOUT_SECS));
        assert_eq!(retry_policy(&MapEnv::new()).unwrap().max_retries, RetryPolicy::default().max_retries);
        assert_eq!(retry_policy(&MapEnv::new().var(AWS_MAX_ATTEMPTS, "1")).unwrap().max_retries, 0);
        assert_eq!(retry_policy(&MapEnv::new().var(AWS_MAX_ATTEMPTS, "21")).unwrap().max_retries, 20);
        for bad in ["0", "22", "x"] {
            assert!(retry_policy(&MapEnv::new().var(AWS_MAX_ATTEMPTS, bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_name_is_declared_once() {
        let mut names = ENV_VARS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENV_VARS.len());
    }
}
