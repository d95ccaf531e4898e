//! Fuzz check: `obs://` URI parsing. Shared by the cargo-fuzz target and the stable replay in
//! guest/obs/tests (included there by path, so it names only crates both can see).

use obs_plugin::uri::{validate_bucket, PackageFormat, ObsUri};
use scheme_plugin_kit::ErrorKind;

use super::printable::assert_printable;

/// Parses `data` as a URI and checks everything a success or a failure promises.
pub fn check(data: &[u8]) {
    // The host hands the plugin a string; bytes that are not UTF-8 never reach the parser.
    let Ok(s) = std::str::from_utf8(data) else { return };
    match ObsUri::parse(s) {
        Ok(u) => {
            assert_eq!(u.uri, s);
            assert_eq!(format!("obs://{}/{}", u.bucket, u.key), s, "bucket and key must rebuild the URI");
            validate_bucket(&u.bucket).expect("an accepted bucket obeys the bucket rules");
            assert!(!u.key.is_empty() && u.key.len() <= 1024, "key length {}", u.key.len());
            assert!(u.key.ends_with(u.extension) && u.key.len() > u.extension.len());
            let want = match u.extension {
                ".zip" | ".jar" => PackageFormat::Zip,
                ".tar.gz" | ".tgz" => PackageFormat::TarGz,
                ".tar.xz" => PackageFormat::TarXz,
                ".whl" => PackageFormat::Wheel,
                other => panic!("unknown extension {other:?}"),
            };
            assert_eq!(u.format, want);
            let name = u.package_name();
            // Ray's rule: a wheel keeps its file name; anything else (also a `.whl` key that
            // `urlparse` cuts at a `?` or `#`) is the scheme and the URI's SHA-1.
            let hashed = name.len() >= 44 && name.starts_with("obs_") && name[4..44].bytes().all(|b| b.is_ascii_hexdigit());
            let wheel = name.ends_with(".whl") && u.uri.ends_with(&name) && !name.contains('/');
            assert!(hashed || wheel, "{name}");
            assert!(u.extension == ".whl" || hashed, "{name}");
            assert!(!u.key.chars().any(char::is_control), "control characters are refused");
            assert_printable(&u.display());
        }
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidUri, "{e}");
            assert_printable(&e.message);
        }
    }
}
