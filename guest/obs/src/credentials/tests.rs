use super::*;
use crate::env::MapEnv;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
use scheme_plugin_kit::http::TransportErrorKind;
use scheme_plugin_kit::ErrorKind;

const OBSUTIL: &str = "endpoint=https://obs.cn-north-4.myhuaweicloud.com\nak=AKUTIL00000000000001\nsk=SKutil\ntoken=TOKUTIL\n";
const SDKFILE: &str = "[basic]\nak = AKFILE00000000000001\nsk = SKfile\n";
const METADATA_ANSWER: &str = r#"{"credential":{"access":"AKMETA","secret":"SKmeta","securitytoken":"TOKMETA","expires_at":"2099-01-01T00:00:00Z"}}"#;

fn all_sources() -> MapEnv {
    MapEnv::new()
        .var(s::OBS_ACCESS_KEY_ID, " AKOBS000000000000001 ")
        .var(s::OBS_SECRET_ACCESS_KEY, "SKobs")
        .var(s::OBS_SECURITY_TOKEN, "TOKOBS")
        .var(s::HUAWEICLOUD_SDK_AK, "AKHWC000000000000001")
        .var(s::HUAWEICLOUD_SDK_SK, "SKhwc")
        .file(OBSUTIL_CONFIG_ID, OBSUTIL)
        .file(HUAWEICLOUD_CREDENTIALS_ID, SDKFILE)
}

fn static_source(env: &MapEnv) -> Option<(String, Source, Option<String>)> {
    from_static_sources(env).unwrap().map(|c| (c.access_key, c.source, c.security_token))
}

#[test]
fn precedence_walks_down_the_chain() {
    let mut env = all_sources();
    assert_eq!(static_source(&env), Some(("AKOBS000000000000001".into(), Source::ObsEnv, Some("TOKOBS".into()))));
    for k in [s::OBS_ACCESS_KEY_ID, s::OBS_SECRET_ACCESS_KEY, s::OBS_SECURITY_TOKEN] {
        env.vars.remove(k);
    }
    assert_eq!(static_source(&env), Some(("AKHWC000000000000001".into(), Source::HuaweiCloudEnv, None)));
    for k in [s::HUAWEICLOUD_SDK_AK, s::HUAWEICLOUD_SDK_SK] {
        env.vars.remove(k);
    }
    assert_eq!(static_source(&env), Some(("AKUTIL00000000000001".into(), Source::ObsutilConfig, Some("TOKUTIL".into()))));
    env.files.remove(OBSUTIL_CONFIG_ID);
    assert_eq!(static_source(&env), Some(("AKFILE00000000000001".into(), Source::HuaweiCloudCredentialsFile, None)));
    env.files.remove(HUAWEICLOUD_CREDENTIALS_ID);
    assert_eq!(static_source(&env), None);
}

#[test]
fn tokens_belong_to_their_own_source() {
    // An OBS_SECURITY_TOKEN must not be attached to HUAWEICLOUD_SDK_* keys.
    let env = MapEnv::new().var(s::OBS_SECURITY_TOKEN, "TOKOBS").var(s::HUAWEICLOUD_SDK_AK, "A").var(s::HUAWEICLOUD_SDK_SK, "B");
    assert_eq!(static_source(&env), Some(("A".into(), Source::HuaweiCloudEnv, None)));
}

#[test]
fn empty_values_count_as_unset() {
    let env = MapEnv::new().var(s::OBS_ACCESS_KEY_ID, "  ").var(s::OBS_SECRET_ACCESS_KEY, "").file(HUAWEICLOUD_CREDENTIALS_ID, SDKFILE);
    assert_eq!(static_source(&env).unwrap().1, Source::HuaweiCloudCredentialsFile);
}

#[test]
fn placeholder_obsutil_config_falls_through() {
    let env = MapEnv::new()
        .file(OBSUTIL_CONFIG_ID, "ak=*** Provide your Access Key ***\nsk=*** Provide your Secret Key ***\n")
        .file(HUAWEICLOUD_CREDENTIALS_ID, SDKFILE);
    assert_eq!(static_source(&env).unwrap().1, Source::HuaweiCloudCredentialsFile);
}

#[test]
fn half_configured_sources_are_errors_without_secrets() {
    for env in [
        MapEnv::new().var(s::OBS_ACCESS_KEY_ID, "AKONLY"),
        MapEnv::new().var(s::OBS_SECRET_ACCESS_KEY, "SKONLYSECRET"),
        MapEnv::new().var(s::HUAWEICLOUD_SDK_SK, "SKONLYSECRET"),
        MapEnv::new().file(OBSUTIL_CONFIG_ID, "sk=SKONLYSECRET\n"),
        MapEnv::new().file(HUAWEICLOUD_CREDENTIALS_ID, "[basic]\nak=AKONLY\n"),
    ] {
        let e = from_static_sources(&env).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadCredentials);
        assert!(!e.message.contains("SKONLYSECRET") && !e.message.contains("AKONLY"), "{e}");
    }
}

#[test]
fn encrypted_obsutil_values_are_reported_never_used() {
    let enc_ak = STANDARD.encode([0x5au8; 32]);
    let enc_sk = STANDARD.encode([0xa5u8; 48]);
    let env = MapEnv::new()
        .file(OBSUTIL_CONFIG_ID, &format!("ak={enc_ak}\nsk={enc_sk}\n"))
        .file(HUAWEICLOUD_CREDENTIALS_ID, SDKFILE);
    let e = from_static_sources(&env).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadCredentials);
    assert!(e.message.contains("ak and sk encrypted"), "{e}");
    assert!(!e.message.contains(&enc_sk) && !e.message.contains(&enc_ak));
    // A higher-priority source still wins without looking at the file.
    let env = env.var(s::OBS_ACCESS_KEY_ID, "A").var(s::OBS_SECRET_ACCESS_KEY, "B");
    assert_eq!(static_source(&env).unwrap().1, Source::ObsEnv);
}

#[test]
fn metadata_is_last_and_cached() {
    let _cache = METADATA_CACHE.isolated();
    let env = MapEnv::new();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(200, &[], METADATA_ANSWER.as_bytes())]);
    let r = resolve(&env, &mut t).unwrap();
    let c = r.credentials.unwrap();
    assert_eq!((c.access_key.as_str(), c.source), ("AKMETA", Source::EcsMetadata));
    // Second resolution in the same instance: no requests (the fake would panic).
    let r = resolve(&env, &mut t).unwrap();
    assert_eq!(r.credentials.unwrap().access_key, "AKMETA");
    assert_eq!(t.requests.len(), 2);
}

#[test]
fn metadata_near_expiry_is_refetched() {
    let _cache = METADATA_CACHE.isolated();
    let soon = METADATA_ANSWER.replace("2099-01-01T00:00:00Z", "2030-01-01T00:02:00Z");
    let at = metadata::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
    let env = MapEnv::new().at(at);
    let mut t = FakeTransport::new(vec![
        Reply::ok(200, &[], b"tok"),
        Reply::ok(200, &[], soon.as_bytes()),
        Reply::ok(200, &[], b"tok"),
        Reply::ok(200, &[], METADATA_ANSWER.as_bytes()),
    ]);
    resolve(&env, &mut t).unwrap();
    resolve(&env, &mut t).unwrap();
    assert_eq!(t.requests.len(), 4, "credentials 2 minutes from expiry must be refreshed");
}

#[test]
fn no_metadata_means_anonymous_with_a_reason() {
    let _cache = METADATA_CACHE.isolated();
    let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Timeout)]);
    let r = resolve(&MapEnv::new(), &mut t).unwrap();
    assert_eq!(r.credentials, None);
    assert!(r.metadata_note.unwrap().contains("not reachable"));

    let mut t = FakeTransport::new(vec![]);
    let r = resolve(&MapEnv::new().var(s::OBS_METADATA_DISABLED, "true"), &mut t).unwrap();
    assert_eq!(r.credentials, None);
    assert!(t.requests.is_empty());
}

#[test]
fn static_sources_never_touch_the_network() {
    let mut t = FakeTransport::new(vec![]);
    let r = resolve(&all_sources(), &mut t).unwrap();
    assert_eq!(r.credentials.unwrap().source, Source::ObsEnv);
    assert!(t.requests.is_empty());
}

#[test]
fn debug_output_hides_keys() {
    let c = from_static_sources(&all_sources()).unwrap().unwrap();
    let d = format!("{c:?}");
    assert!(!d.contains("AKOBS") && !d.contains("SKobs") && !d.contains("TOKOBS"), "{d}");
}
