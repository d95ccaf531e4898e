//! Bounded property tests of everything that parses untrusted text: URIs, endpoints,
//! credential files, error documents, metadata answers, and the key encoding.

use obs_plugin::credentials::{files, metadata};
use obs_plugin::endpoint::Endpoint;
use obs_plugin::error::{obs_error, parse_error_doc};
use obs_plugin::sign::{encode_path, parse_query};
use obs_plugin::uri::{validate_bucket, ObsUri};
use proptest::prelude::*;
use scheme_plugin_kit::http::Headers;

fn bucket() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]".prop_filter("valid bucket", |b| validate_bucket(b).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn uri_parse_never_panics_and_is_consistent(s in "\\PC{0,80}|obs://[a-z0-9.:@-]{0,12}/\\PC{0,40}") {
        if let Ok(u) = ObsUri::parse(&s) {
            prop_assert!(s.starts_with("obs://"));
            prop_assert!(validate_bucket(&u.bucket).is_ok());
            prop_assert_eq!(format!("obs://{}/{}", u.bucket, u.key), s.clone());
            prop_assert!(u.key.ends_with(u.extension));
            let name = u.package_name();
            prop_assert_eq!(name.len(), 4 + 40 + u.extension.len());
            prop_assert!(!u.display().chars().any(char::is_control));
        }
    }

    #[test]
    fn keys_are_taken_literally(b in bucket(), key in "[^\\p{Cc}]{1,60}", ext in prop::sample::select(vec![".zip", ".jar", ".whl", ".tar.gz", ".tgz", ".tar.xz"])) {
        let uri = format!("obs://{b}/{key}{ext}");
        let u = ObsUri::parse(&uri).unwrap();
        prop_assert_eq!(u.bucket, b);
        prop_assert_eq!(u.key, format!("{key}{ext}"));
    }

    #[test]
    fn key_encoding_is_unreserved_and_reversible(key in "\\PC{0,60}") {
        let enc = encode_path(&key);
        prop_assert!(enc.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.~/%".contains(&c)));
        let decoded = parse_query(&format!("k={}", enc.replace('&', "%26")));
        prop_assert_eq!(decoded[0].1.clone(), Some(key));
    }

    #[test]
    fn endpoint_parse_never_panics(s in "\\PC{0,60}|(https?://)?[a-z0-9.:\\[\\]-]{0,30}/?") {
        if let Ok(e) = Endpoint::parse(&s, false) {
            let t = e.object("bkt", "k.zip");
            prop_assert!(t.path.starts_with('/'));
            prop_assert!(!t.authority.is_empty());
        }
    }

    #[test]
    fn config_parsers_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = files::parse_obsutil(&b);
        let _ = files::parse_sdk_credentials(&b);
        let _ = files::looks_encrypted(&String::from_utf8_lossy(&b));
        let _ = metadata::parse_answer(&b, std::time::SystemTime::now());
        let _ = metadata::parse_rfc3339(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn error_documents_never_panic_and_stay_bounded(b in prop::collection::vec(any::<u8>(), 0..600), status in 100u16..600) {
        if let Some(d) = parse_error_doc(&b) {
            for f in [d.code, d.message, d.request_id, d.host_id, d.resource].into_iter().flatten() {
                prop_assert!(f.chars().count() <= 512);
            }
        }
        let e = obs_error(status, &Headers::new(), &b, false, &["SECRETKEYVALUE"]);
        prop_assert!(!e.message.contains("SECRETKEYVALUE"));
        prop_assert!(!e.message.chars().any(|c| c.is_control()));
    }

    #[test]
    fn structured_error_documents_round_trip(code in "[A-Za-z]{1,30}", msg in "[^<&\\p{Cc}]{0,80}") {
        let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{msg}</Message><RequestId>R1</RequestId></Error>");
        let d = parse_error_doc(body.as_bytes()).unwrap();
        prop_assert_eq!(d.code, Some(code));
        prop_assert_eq!(d.message.unwrap_or_default(), msg.trim().to_string());
    }
}
