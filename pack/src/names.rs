//! Entry names the unpacker would refuse, refused while packing instead (pure logic).

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result, shown_str};

/// Names a package entry may not have. Ray's own unzip skips names with a backslash and the
/// scheme plugins refuse them; Linux allows them in file names.
pub(crate) fn check(path: &str) -> Result<()> {
    if path.contains('\\') {
        return Err(Error::UnpackableName {
            path: shown_str(path),
            reason: "the name holds a backslash, a path separator to unzip tools",
        });
    }
    Ok(())
}

/// Refuses two paths (entries or their directories) that are equal after NFC, such as
/// `é` written precomposed and decomposed: the unpacker compares names that way.
pub(crate) fn check_nfc<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen: HashMap<String, &'a str> = HashMap::new();
    for path in paths {
        if path.is_ascii() {
            // Only non-ASCII names can collide with a different spelling.
            continue;
        }
        let mut end = 0;
        for part in path.split('/') {
            end += part.len();
            let prefix = &path[..end];
            end += 1;
            if prefix.is_ascii() {
                continue;
            }
            let key: String = prefix.nfc().collect();
            match seen.get(key.as_str()) {
                Some(other) if *other != prefix => {
                    return Err(Error::NfcCollision {
                        first: shown_str(other),
                        second: shown_str(prefix),
                    });
                }
                Some(_) => {}
                None => {
                    seen.insert(key, prefix);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslashes_are_refused() {
        assert!(check("a/b.py").is_ok());
        assert!(matches!(check("a\\b"), Err(Error::UnpackableName { .. })));
    }

    #[test]
    fn nfc_twins_are_refused_also_as_directories() {
        let composed = "caf\u{e9}";
        let decomposed = "cafe\u{301}";
        assert!(check_nfc([composed, "x", "caf\u{e9}2"]).is_ok());
        assert!(
            check_nfc([
                format!("{composed}/a").as_str(),
                format!("{composed}/b").as_str()
            ])
            .is_ok()
        );
        let err = check_nfc([composed, decomposed]).unwrap_err();
        assert!(matches!(err, Error::NfcCollision { .. }), "{err}");
        let a = format!("{composed}/x");
        let b = format!("{decomposed}/y");
        assert!(check_nfc([a.as_str(), b.as_str()]).is_err());
    }
}
