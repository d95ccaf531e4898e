//! Fuzz check: the credential and endpoint configuration the OBS plugin reads (obsutil's
//! config, the Huawei Cloud credentials INI, the ECS metadata answer, `OBS_ENDPOINT`).
//! Shared with the stable replay in guest/obs/tests.

use std::time::{Duration, SystemTime};

use obs_plugin::credentials::files::{looks_encrypted, parse_obsutil, parse_sdk_credentials, ObsutilConfig, SdkCredentialsFile};
use obs_plugin::credentials::Credentials;
use obs_plugin::credentials::metadata::{parse_answer, parse_rfc3339};
use obs_plugin::endpoint::Endpoint;

use super::printable::assert_printable;

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    let obsutil = parse_obsutil(data);
    for v in [&obsutil.ak, &obsutil.sk, &obsutil.token].into_iter().flatten() {
        assert_clean_value(v);
    }
    // The Debug form must not depend on secret values at all.
    let masked = ObsutilConfig { ak: mask(&obsutil.ak), sk: mask(&obsutil.sk), token: mask(&obsutil.token), ..obsutil.clone() };
    assert_eq!(format!("{obsutil:?}"), format!("{masked:?}"), "a secret shows in the Debug form");
    if let Some(e) = &obsutil.endpoint {
        assert_clean_value(e);
    }
    // What the parser returns reads back the same when written the way obsutil writes it.
    let mut again = String::new();
    for (k, v) in [("endpoint", &obsutil.endpoint), ("ak", &obsutil.ak), ("sk", &obsutil.sk), ("token", &obsutil.token)] {
        if let Some(v) = v {
            again.push_str(&format!("{k}={v}\n"));
        }
    }
    assert_eq!(parse_obsutil(again.as_bytes()), obsutil, "obsutil config does not round-trip");

    let sdk = parse_sdk_credentials(data);
    for v in [&sdk.ak, &sdk.sk, &sdk.security_token].into_iter().flatten() {
        assert_clean_value(v);
    }
    let masked = SdkCredentialsFile { ak: mask(&sdk.ak), sk: mask(&sdk.sk), security_token: mask(&sdk.security_token) };
    assert_eq!(format!("{sdk:?}"), format!("{masked:?}"), "a secret shows in the Debug form");

    let _ = looks_encrypted(&text);

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
    if let Ok(c) = parse_answer(data, now) {
        assert!(!c.access_key.is_empty() && !c.secret_key.is_empty());
        assert!(c.expires_at.is_none_or(|e| e > now), "expired credentials were accepted");
        let masked = Credentials {
            access_key: "masked".into(),
            secret_key: "masked".into(),
            security_token: mask(&c.security_token),
            ..c.clone()
        };
        assert_eq!(format!("{c:?}"), format!("{masked:?}"), "a secret shows in the Debug form");
    }
    let _ = parse_rfc3339(&text);

    for path_style in [false, true] {
        match Endpoint::parse(&text, path_style) {
            Ok(ep) => {
                assert!(!ep.host.is_empty());
                assert!(!ep.authority().is_empty());
                let target = ep.object("bucket-1", "k/x y.zip");
                assert!(target.path.starts_with('/'), "{}", target.path);
                assert!(!target.authority.contains(['/', '@', ' ']), "{}", target.authority);
            }
            Err(e) => {
                assert_printable(&e.message);
                // User information may be a password: an endpoint holding some is shown only
                // as "(redacted)" (messages quote user text, and only there).
                if text.trim().contains('@') {
                    let quoted: Vec<&str> = e.message.split('"').skip(1).step_by(2).collect();
                    assert!(quoted.iter().all(|q| *q == "(redacted)"), "endpoint with user info echoed: {}", e.message);
                }
            }
        }
    }
}

fn assert_clean_value(v: &str) {
    assert!(!v.is_empty(), "an empty value counts as unset");
    assert_eq!(v.trim(), v, "values are trimmed");
}

/// The same presence, another value.
fn mask(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|_| "masked".to_string())
}
