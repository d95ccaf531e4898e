//! Maps Host + raw path to bucket, key and the canonical resource used for signatures.
//!
//! The canonical resource is built from the path exactly as it was sent (never decoded and
//! re-encoded), so whatever encoding the client chose, it signed the same bytes we check.

use http::StatusCode;
use percent_encoding::percent_decode_str;

use crate::obs_error::ObsError;

/// Path prefix of the admin API. Bucket names cannot contain `_`, so no path-style bucket
/// collides with it; virtual-hosted requests never reach the admin API.
pub const ADMIN_PREFIX: &str = "/__admin";

/// Longest key OBS accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Addressing {
    PathStyle,
    VirtualHost,
}

/// What an OBS request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addressing: Addressing,
    pub bucket: Option<String>,
    /// The decoded object key; `None` for service- and bucket-level requests.
    pub key: Option<String>,
    /// `/<bucket>/<raw key>` (or `/<bucket>/`, `/<bucket>`, `/`), without sub-resources.
    pub canonical_resource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Admin API; holds the path after the prefix (`/faults`, `/requests`, ...).
    Admin(String),
    Obs(Target),
}

/// Classifies a request. `host` is the Host header (or the authority of an absolute URI).
pub fn route(host: Option<&str>, raw_path: &str, domains: &[String]) -> Result<Route, ObsError> {
    if !raw_path.starts_with('/') {
        return Err(invalid_uri("the request path must start with '/'"));
    }
    if let Some(bucket) = host.and_then(|h| vhost_bucket(h, domains)) {
        if !is_valid_bucket_name(&bucket) {
            return Err(invalid_bucket_name(&bucket));
        }
        let raw_key = &raw_path[1..];
        let key = if raw_key.is_empty() {
            None
        } else {
            Some(decode_key(raw_key)?)
        };
        let canonical_resource = format!("/{bucket}{raw_path}");
        return Ok(Route::Obs(Target {
            addressing: Addressing::VirtualHost,
            bucket: Some(bucket),
            key,
            canonical_resource,
        }));
    }
    if raw_path == ADMIN_PREFIX || raw_path.starts_with("/__admin/") {
        return Ok(Route::Admin(raw_path[ADMIN_PREFIX.len()..].to_string()));
    }
    let rest = &raw_path[1..];
    if rest.is_empty() {
        return Ok(Route::Obs(Target {
            addressing: Addressing::PathStyle,
            bucket: None,
            key: None,
            canonical_resource: "/".into(),
        }));
    }
    let (bucket, raw_key) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if !is_valid_bucket_name(bucket) {
        return Err(invalid_bucket_name(bucket));
    }
    let key = if raw_key.is_empty() {
        None
    } else {
        Some(decode_key(raw_key)?)
    };
    Ok(Route::Obs(Target {
        addressing: Addressing::PathStyle,
        bucket: Some(bucket.to_string()),
        key,
        canonical_resource: raw_path.to_string(),
    }))
}

/// `Some(bucket)` when `host` (port stripped, case-insensitive) is `<bucket>.<domain>`.
fn vhost_bucket(host: &str, domains: &[String]) -> Option<String> {
    let host = strip_port(host).to_ascii_lowercase();
    domains.iter().find_map(|domain| {
        let domain = domain.to_ascii_lowercase();
        let prefix = host.strip_suffix(domain.as_str())?.strip_suffix('.')?;
        (!prefix.is_empty()).then(|| prefix.to_string())
    })
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: never a virtual host.
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn decode_key(raw_key: &str) -> Result<String, ObsError> {
    let key = percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| invalid_uri("the object key is not valid UTF-8 after percent-decoding"))?
        .into_owned();
    if key.len() > MAX_KEY_BYTES {
        return Err(ObsError::new(
            StatusCode::BAD_REQUEST,
            "KeyTooLongError",
            format!(
                "Your key is too long: {} bytes, at most {MAX_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(key)
}

fn invalid_uri(message: &str) -> ObsError {
    ObsError::new(StatusCode::BAD_REQUEST, "InvalidURI", message)
}

fn invalid_bucket_name(bucket: &str) -> ObsError {
    ObsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidBucketName",
        "The specified bucket is not valid.",
    )
    .with_extra("BucketName", bucket)
}

/// OBS bucket naming rules: 3-63 chars of `[a-z0-9.-]`, alphanumeric at both ends, no `..`,
/// `.-`, `-.`, and not an IPv4 address.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return false;
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.iter().all(|&b| allowed(b)) || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    name.parse::<std::net::Ipv4Addr>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec!["obs.test".into(), "obs.cn-north-4.myhuaweicloud.com".into()]
    }

    fn obs(host: &str, path: &str) -> Target {
        match route(Some(host), path, &domains()).unwrap() {
            Route::Obs(t) => t,
            other => panic!("expected OBS route, got {other:?}"),
        }
    }

    #[test]
    fn virtual_host_and_path_style_give_the_same_canonical_resource() {
        let v = obs("ray-jobs.obs.test:9000", "/my%20dir/job%20file.zip");
        let p = obs("127.0.0.1:9000", "/ray-jobs/my%20dir/job%20file.zip");
        assert_eq!(v.addressing, Addressing::VirtualHost);
        assert_eq!(p.addressing, Addressing::PathStyle);
        for t in [&v, &p] {
            assert_eq!(t.bucket.as_deref(), Some("ray-jobs"));
            assert_eq!(t.key.as_deref(), Some("my dir/job file.zip"));
            assert_eq!(t.canonical_resource, "/ray-jobs/my%20dir/job%20file.zip");
        }
    }

    #[test]
    fn raw_path_is_never_reencoded() {
        // `~` sent encoded stays encoded in the resource, and decodes in the key.
        let t = obs("localhost", "/b-1/a%7Eb%2Bc+d");
        assert_eq!(t.canonical_resource, "/b-1/a%7Eb%2Bc+d");
        assert_eq!(t.key.as_deref(), Some("a~b+c+d"));
    }

    #[test]
    fn bucket_level_forms() {
        let v = obs("ray-jobs.OBS.test", "/");
        assert_eq!(
            (v.bucket.as_deref(), v.key.as_deref()),
            (Some("ray-jobs"), None)
        );
        assert_eq!(v.canonical_resource, "/ray-jobs/");
        let p = obs("obs.test", "/ray-jobs");
        assert_eq!(p.canonical_resource, "/ray-jobs");
        assert_eq!(p.key, None);
        let s = obs("obs.test", "/");
        assert_eq!((s.bucket, s.canonical_resource.as_str()), (None, "/"));
    }

    #[test]
    fn dotted_bucket_in_virtual_host() {
        let v = obs("my.bucket.obs.test", "/k");
        assert_eq!(v.bucket.as_deref(), Some("my.bucket"));
    }

    #[test]
    fn admin_only_without_virtual_host() {
        assert_eq!(
            route(Some("127.0.0.1:1"), "/__admin/faults", &domains()).unwrap(),
            Route::Admin("/faults".into())
        );
        let v = obs("bkt.obs.test", "/__admin/faults");
        assert_eq!(v.key.as_deref(), Some("__admin/faults"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(route(Some("h"), "/Bad_Bucket/k", &domains()).is_err());
        assert!(route(Some("h"), "/bkt/%FF", &domains()).is_err());
        let long = format!("/bkt/{}", "a".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(
            route(Some("h"), &long, &domains()).unwrap_err().code,
            "KeyTooLongError"
        );
        assert!(route(Some("h"), "bkt/k", &domains()).is_err());
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "ray-jobs", "a.b.c", "0aa", &"a".repeat(63)] {
            assert!(is_valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "a-.b",
            "192.168.1.1",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn ipv6_host_is_path_style() {
        let t = obs("[::1]:8080", "/bkt/k");
        assert_eq!(t.addressing, Addressing::PathStyle);
    }
}
