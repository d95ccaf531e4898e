//! Which HTTP methods one plugin call may send. A plugin runs inside a job's setup on
//! every node with the node's store credentials; that a download can never modify or
//! delete anything in the store is decided here, not by the plugin.

use std::fmt;

/// The rule one call's requests are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodRule {
    /// Download, parse, plan and stat calls: GET and HEAD only.
    ReadOnly,
    /// Upload calls: also PUT, POST and DELETE, but those only to `bucket` (the authority
    /// of the upload's own URI): virtual-hosted (`bucket.` + any granted host), or
    /// path-style (`/bucket/...`) on a host granted by exact name or address. A host
    /// granted only by a wildcard may itself be another bucket's virtual host, where
    /// `/bucket/...` would be a key in that other bucket.
    Upload { bucket: String },
}

/// Why a request was refused, for the log and the user's error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodDenied {
    pub method: String,
    pub reason: &'static str,
}

impl fmt::Display for MethodDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", scheme_contract::text::escape(&self.method), self.reason)
    }
}

impl MethodRule {
    /// The rule for an upload to `uri`: its authority names the bucket. None when the URI
    /// has no authority, which no plugin could upload to anyway.
    pub fn upload_to(uri: &str) -> Option<MethodRule> {
        let rest = uri.split_once("://")?.1;
        let authority = rest.split(['/', '?', '#']).next()?;
        // Userinfo and ports are not part of a bucket name; refusing them keeps the
        // comparison below exact.
        if authority.is_empty() || authority.contains(['@', ':']) {
            return None;
        }
        Some(MethodRule::Upload { bucket: authority.to_ascii_lowercase() })
    }

    /// Whether a request with `method` to `host` (lower case) and `path` (as sent, without
    /// the query) may go out; `named` says an exact grant (not a wildcard) matches `host`.
    pub fn admits(&self, method: &str, host: &str, path: &str, named: bool) -> Result<(), MethodDenied> {
        let deny = |reason| Err(MethodDenied { method: method.to_string(), reason });
        match method {
            "GET" | "HEAD" => Ok(()),
            // IMDSv2 (AWS) and its Huawei ECS twin hand out a session token only for a PUT;
            // it changes nothing anywhere, and the metadata address is granted only by
            // approval.
            "PUT" if is_metadata_token(host, path) => Ok(()),
            "PUT" | "POST" | "DELETE" => match self {
                MethodRule::ReadOnly => deny("is not allowed in a read-only call: downloads and `stat` may only send GET and HEAD"),
                MethodRule::Upload { bucket } => {
                    if targets_bucket(bucket, host, path, named) {
                        Ok(())
                    } else {
                        deny("is allowed only to the upload's own bucket")
                    }
                }
            },
            _ => deny("is not a method any plugin call may send"),
        }
    }
}

fn is_metadata_token(host: &str, path: &str) -> bool {
    matches!(host, "169.254.169.254" | "[fd00:ec2::254]" | "fd00:ec2::254") && matches!(path, "/latest/api/token" | "/meta-data/latest/api/token")
}

/// Virtual-hosted (`bucket.endpoint`) or path-style (`/bucket/...` on a named endpoint).
fn targets_bucket(bucket: &str, host: &str, path: &str, named: bool) -> bool {
    let virtual_hosted = host.strip_prefix(bucket).is_some_and(|rest| rest.starts_with('.'));
    let first_segment = path.strip_prefix('/').map(|p| p.split('/').next().unwrap_or(""));
    let path_style = named && first_segment.is_some_and(|seg| seg == bucket || percent_decoded_eq(seg, bucket));
    virtual_hosted || path_style
}

/// `seg` percent-decoded equals `bucket`; a bucket name is plain ASCII, so decoding byte
/// by byte is exact. A malformed escape never matches.
fn percent_decoded_eq(seg: &str, bucket: &str) -> bool {
    let mut out = Vec::with_capacity(seg.len());
    let mut bytes = seg.bytes();
    while let Some(c) = bytes.next() {
        if c != b'%' {
            out.push(c);
            continue;
        }
        let hex = [bytes.next(), bytes.next()];
        let digit = |d: Option<u8>| d.and_then(|d| (d as char).to_digit(16));
        match (digit(hex[0]), digit(hex[1])) {
            (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
            _ => return false,
        }
    }
    out.eq_ignore_ascii_case(bucket.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up() -> MethodRule {
        MethodRule::upload_to("obs://ray-jobs/pkgs/a.zip").unwrap()
    }

    #[test]
    fn downloads_only_read() {
        let r = MethodRule::ReadOnly;
        assert!(r.admits("GET", "ray-jobs.obs.example.com", "/a.zip", false).is_ok());
        assert!(r.admits("HEAD", "obs.example.com", "/ray-jobs/a.zip", true).is_ok());
        for m in ["PUT", "POST", "DELETE"] {
            let e = r.admits(m, "ray-jobs.obs.example.com", "/a.zip", true).unwrap_err();
            assert!(e.to_string().starts_with(m) && e.to_string().contains("download"), "{e}");
        }
        assert!(r.admits("PATCH", "x", "/", true).is_err());
        // The instance metadata service's session token, which only a PUT obtains.
        assert!(r.admits("PUT", "169.254.169.254", "/latest/api/token", true).is_ok());
        assert!(r.admits("PUT", "169.254.169.254", "/meta-data/latest/api/token", true).is_ok());
        assert!(r.admits("PUT", "169.254.169.254", "/latest/user-data", true).is_err());
        assert!(r.admits("DELETE", "169.254.169.254", "/latest/api/token", true).is_err());
    }

    #[test]
    fn uploads_write_only_to_their_bucket() {
        let r = up();
        for (host, path, named) in [
            ("ray-jobs.obs.example.com", "/pkgs/a.zip", false),
            ("ray-jobs.obs.example.com", "/pkgs/a.zip", true),
            ("obs.example.com", "/ray-jobs/pkgs/a.zip", true),
            ("127.0.0.1", "/ray-jobs", true),
            ("127.0.0.1", "/ray%2Djobs/k", true),
        ] {
            for m in ["PUT", "POST", "DELETE"] {
                assert!(r.admits(m, host, path, named).is_ok(), "{m} {host}{path}");
            }
        }
        for (host, path, named) in [
            // Granted by a wildcard only: the host may be bucket `other`'s virtual host.
            ("other.obs.example.com", "/ray-jobs/x", false),
            ("ray-jobs-evil.obs.example.com", "/x", false),
            ("obs.example.com", "/ray-jobs-evil/x", true),
            ("obs.example.com", "/other/ray-jobs/x", true),
            ("ray-jobs", "/x", true),
            ("obs.example.com", "/", true),
            ("obs.example.com", "/ray%2", true),
        ] {
            let e = r.admits("DELETE", host, path, named).unwrap_err();
            assert!(e.to_string().contains("own bucket"), "{host}{path}: {e}");
        }
        assert!(r.admits("GET", "anything.example.com", "/other/x", false).is_ok());
        assert!(r.admits("CONNECT", "ray-jobs.obs.example.com", "/", true).is_err());
    }

    #[test]
    fn the_bucket_is_the_uri_authority() {
        assert_eq!(MethodRule::upload_to("s3://My-Bucket/k.zip"), Some(MethodRule::Upload { bucket: "my-bucket".into() }));
        assert_eq!(MethodRule::upload_to("obs://b"), Some(MethodRule::Upload { bucket: "b".into() }));
        for bad in ["obs:///k.zip", "obs://u@b/k.zip", "obs://b:80/k", "not a uri"] {
            assert_eq!(MethodRule::upload_to(bad), None, "{bad}");
        }
    }
}
