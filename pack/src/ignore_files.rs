//! Reading `.gitignore` and `.rayignore` the way Ray 2.60's `_get_ignore_file` does.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::{Error, Result, io_error, shown};
use crate::pattern::Spec;

pub(crate) const GITIGNORE: &str = ".gitignore";
pub(crate) const RAYIGNORE: &str = ".rayignore";

/// The spec of `dir/<name>` when that is a file (a symlink to a file counts, as
/// `Path.is_file()` follows links), with the message name of its origin.
pub(crate) fn load(dir: &Path, name: &str) -> Result<Option<(Spec, String)>> {
    let path = dir.join(name);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        // `Path.is_file()` answers False for exactly these errors and raises on the others.
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(io_error("checking ignore file", &path)(e)),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let bytes = fs::read(&path).map_err(io_error("reading ignore file", &path))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Error::IgnoreFileNotUtf8 { path: shown(&path) })?;
    let spec = Spec::new(lines(&text)).map_err(|e| Error::Pattern {
        pattern: crate::error::shown_str(&e.pattern),
        origin: format!("`{}`", shown(&path)),
        reason: e.reason,
    })?;
    Ok(Some((spec, format!("`{}`", shown(&path)))))
}

/// pathlib's ignored errors (`ENOENT`, `ENOTDIR`, `EBADF`, `ELOOP`).
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::ENOTDIR | libc::EBADF | libc::ELOOP)
    )
}

/// Python's text-mode `readlines()`: `\r\n`, `\r` and `\n` all end a line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|l| l.split('\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines() {
        let got: Vec<&str> = lines("a\r\nb\rc\nd").filter(|l| !l.is_empty()).collect();
        assert_eq!(got, ["a", "b", "c", "d"]);
    }

    #[test]
    fn loads_files_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), GITIGNORE).unwrap().is_none());
        fs::create_dir(dir.path().join(GITIGNORE)).unwrap();
        assert!(
            load(dir.path(), GITIGNORE).unwrap().is_none(),
            "a directory is not an ignore file"
        );
        fs::write(dir.path().join(RAYIGNORE), "*.log\r\n!keep.log\n").unwrap();
        let (spec, origin) = load(dir.path(), RAYIGNORE).unwrap().unwrap();
        assert!(spec.excludes("x.log") && !spec.excludes("keep.log"));
        assert!(origin.ends_with(".rayignore`"));
        fs::write(dir.path().join(RAYIGNORE), b"ok\n\xff\n").unwrap();
        assert!(matches!(
            load(dir.path(), RAYIGNORE),
            Err(Error::IgnoreFileNotUtf8 { .. })
        ));
        fs::write(dir.path().join(RAYIGNORE), "[z-a]\n").unwrap();
        assert!(matches!(
            load(dir.path(), RAYIGNORE),
            Err(Error::Pattern { .. })
        ));
    }
}
