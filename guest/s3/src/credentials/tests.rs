use super::*;
use crate::profile::{CONFIG_FILE_ID, CREDENTIALS_FILE_ID};
use scheme_plugin_kit::env::MapEnv;
use scheme_plugin_kit::http::testing::{FakeTransport, Reply};
use scheme_plugin_kit::http::TransportErrorKind;

const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIDFILE000000000001\naws_secret_access_key = SKfile\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=SKdev\naws_session_token=TOKDEV\n";
const CONFIG: &str = "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = SKconfig\n[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = SKcfg\naws_security_token = TOKLEGACY\n";
const IMDS_ANSWER: &str = r#"{"Code":"Success","AccessKeyId":"ASIAMETA","SecretAccessKey":"SKmeta","Token":"TOKMETA","Expiration":"2099-01-01T00:00:00Z"}"#;

fn all_sources() -> MapEnv {
    MapEnv::new()
        .var(s::AWS_ACCESS_KEY_ID, " AKIDENV0000000000001 ")
        .var(s::AWS_SECRET_ACCESS_KEY, "SKenv")
        .var(s::AWS_SESSION_TOKEN, "TOKENV")
        .file(CREDENTIALS_FILE_ID, CREDENTIALS)
        .file(CONFIG_FILE_ID, CONFIG)
}

fn found(env: &MapEnv) -> Result<Option<(String, Source, Option<String>)>> {
    let profile = Profile::load(env)?;
    Ok(from_static_sources(env, &profile)?.map(|c| (c.access_key, c.source, c.session_token)))
}

#[test]
fn precedence_walks_down_the_chain() {
    let mut env = all_sources();
    assert_eq!(found(&env).unwrap(), Some(("AKIDENV0000000000001".into(), Source::Environment, Some("TOKENV".into()))));
    for k in [s::AWS_ACCESS_KEY_ID, s::AWS_SECRET_ACCESS_KEY, s::AWS_SESSION_TOKEN] {
        env.vars.remove(k);
    }
    assert_eq!(found(&env).unwrap(), Some(("AKIDFILE000000000001".into(), Source::CredentialsFile, None)));
    env.files.remove(CREDENTIALS_FILE_ID);
    assert_eq!(found(&env).unwrap(), Some(("AKIDCONFIG".into(), Source::ConfigFile, None)));
    env.files.remove(CONFIG_FILE_ID);
    assert_eq!(found(&env).unwrap(), None);
}

#[test]
fn the_profile_is_chosen_by_aws_profile() {
    let env = all_sources().var(s::AWS_ACCESS_KEY_ID, "").var(s::AWS_SECRET_ACCESS_KEY, " ").var(s::AWS_PROFILE, "dev");
    assert_eq!(found(&env).unwrap(), Some(("AKIDDEV".into(), Source::CredentialsFile, Some("TOKDEV".into()))));
    let env = env.var(s::AWS_PROFILE, "cfgonly");
    assert_eq!(found(&env).unwrap(), Some(("AKIDCFG".into(), Source::ConfigFile, Some("TOKLEGACY".into()))));
    // The environment still wins over a named profile, as in the AWS CLI.
    let env = all_sources().var(s::AWS_PROFILE, "dev");
    assert_eq!(found(&env).unwrap().unwrap().1, Source::Environment);
}

#[test]
fn legacy_token_variable() {
    let env = MapEnv::new().var(s::AWS_ACCESS_KEY_ID, "A").var(s::AWS_SECRET_ACCESS_KEY, "B").var(s::AWS_SECURITY_TOKEN, "OLD");
    assert_eq!(found(&env).unwrap().unwrap().2.as_deref(), Some("OLD"));
    let env = env.var(s::AWS_SESSION_TOKEN, "NEW");
    assert_eq!(found(&env).unwrap().unwrap().2.as_deref(), Some("NEW"));
}

#[test]
fn half_configured_sources_are_errors_without_secrets() {
    for env in [
        MapEnv::new().var(s::AWS_ACCESS_KEY_ID, "AKIDONLY"),
        MapEnv::new().var(s::AWS_SECRET_ACCESS_KEY, "SKONLYSECRET"),
        MapEnv::new().file(CREDENTIALS_FILE_ID, "[default]\naws_secret_access_key = SKONLYSECRET\n"),
        MapEnv::new().file(CONFIG_FILE_ID, "[default]\naws_access_key_id = AKIDONLY\n"),
    ] {
        let e = found(&env).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadCredentials);
        assert!(!e.message.contains("SKONLYSECRET") && !e.message.contains("AKIDONLY"), "{e}");
    }
}

#[test]
fn sources_we_do_not_implement_stop_the_call() {
    let role = "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n";
    for (env, says) in [
        (MapEnv::new().var(s::AWS_PROFILE, "r").file(CONFIG_FILE_ID, role).file(CREDENTIALS_FILE_ID, "[r]\naws_access_key_id=A\naws_secret_access_key=B\n"), "role_arn"),
        (MapEnv::new().var(s::AWS_WEB_IDENTITY_TOKEN_FILE, "/var/run/token").var(s::AWS_ROLE_ARN, "arn:aws:iam::1:role/x"), "web identity"),
        (MapEnv::new().file(CONFIG_FILE_ID, "[default]\nsso_session = corp\nsso_account_id = 1\n"), "sso"),
        (MapEnv::new().file(CONFIG_FILE_ID, "[default]\ncredential_process = /usr/bin/get-creds\n"), "credential_process"),
        (MapEnv::new().var(s::AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, "/v2/credentials/x"), "container credentials"),
    ] {
        let e = found(&env).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{says}");
        assert!(e.message.contains(says), "{says}: {}", e.message);
    }
    // credential_process comes after the credentials file in the AWS chain: keys there win.
    let env = MapEnv::new().file(CONFIG_FILE_ID, "[default]\ncredential_process = x\n").file(CREDENTIALS_FILE_ID, "[default]\naws_access_key_id=A\naws_secret_access_key=B\n");
    assert_eq!(found(&env).unwrap().unwrap().1, Source::CredentialsFile);
    // Environment keys win over everything.
    let env = MapEnv::new().var(s::AWS_ACCESS_KEY_ID, "A").var(s::AWS_SECRET_ACCESS_KEY, "B").var(s::AWS_PROFILE, "r").file(CONFIG_FILE_ID, role);
    assert_eq!(found(&env).unwrap().unwrap().1, Source::Environment);
}

#[test]
fn metadata_is_last_and_cached() {
    let _cache = METADATA_CACHE.isolated();
    let env = MapEnv::new();
    let mut t = FakeTransport::new(vec![Reply::ok(200, &[], b"tok"), Reply::ok(200, &[], b"role"), Reply::ok(200, &[], IMDS_ANSWER.as_bytes())]);
    let r = resolve(&env, &Profile::default(), &mut t).unwrap();
    assert_eq!(r.credentials.unwrap().source, Source::InstanceMetadata);
    let r = resolve(&env, &Profile::default(), &mut t).unwrap();
    assert_eq!(r.credentials.unwrap().access_key, "ASIAMETA");
    assert_eq!(t.requests.len(), 3, "the second resolution is served from the cache");
    assert!(known_secrets(&env).contains(&"TOKMETA".to_string()));
}

#[test]
fn no_metadata_means_anonymous_with_a_reason() {
    let _cache = METADATA_CACHE.isolated();
    let mut t = FakeTransport::new(vec![Reply::fail(TransportErrorKind::Connect)]);
    let r = resolve(&MapEnv::new(), &Profile::default(), &mut t).unwrap();
    assert_eq!(r.credentials, None);
    assert!(r.metadata_note.unwrap().contains("not reachable"));
    let mut t = FakeTransport::new(vec![]);
    let r = resolve(&MapEnv::new().var(s::AWS_EC2_METADATA_DISABLED, "true"), &Profile::default(), &mut t).unwrap();
    assert_eq!(r.credentials, None);
    assert!(r.metadata_note.unwrap().contains("AWS_EC2_METADATA_DISABLED"));
    assert!(t.requests.is_empty());
}

#[test]
fn every_key_the_call_holds_is_a_known_secret() {
    let env = all_sources();
    let secrets = known_secrets(&env);
    for s in ["AKIDENV0000000000001", "SKenv", "TOKENV", "AKIDFILE000000000001", "SKfile", "AKIDCONFIG", "SKconfig"] {
        assert!(secrets.iter().any(|x| x == s), "{s} missing");
    }
    let d = format!("{:?}", found(&env).unwrap());
    assert!(!d.contains("SKenv"));
    let c = from_static_sources(&env, &Profile::load(&env).unwrap()).unwrap().unwrap();
    assert!(!format!("{c:?}").contains("AKIDENV"), "{c:?}");
}
