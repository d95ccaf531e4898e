//! WIT `package-format`: how an object becomes files, and which key endings name which
//! format. Every scheme takes its keys literally, so every plugin recognises packages the
//! same way Ray does.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageFormat {
    Zip,
    TarGz,
    TarXz,
    Wheel,
}

/// Recognised endings, longest first so `.tar.gz` wins over a shorter match.
const EXTENSIONS: &[(&str, PackageFormat)] = &[
    (".tar.gz", PackageFormat::TarGz),
    (".tar.xz", PackageFormat::TarXz),
    (".zip", PackageFormat::Zip),
    (".jar", PackageFormat::Zip),
    (".whl", PackageFormat::Wheel),
    (".tgz", PackageFormat::TarGz),
];

impl PackageFormat {
    /// The extension `key` ends with and the format it names; a key that is only an
    /// extension names nothing.
    pub fn of_key(key: &str) -> Option<(&'static str, PackageFormat)> {
        EXTENSIONS.iter().find(|(ext, _)| key.ends_with(ext) && key.len() > ext.len()).copied()
    }

    /// Every recognised extension, for error messages.
    pub fn extensions() -> impl Iterator<Item = &'static str> {
        EXTENSIONS.iter().map(|(e, _)| *e)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PackageFormat::Zip => "zip",
            PackageFormat::TarGz => "tar-gz",
            PackageFormat::TarXz => "tar-xz",
            PackageFormat::Wheel => "wheel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_extension_wins_and_a_bare_extension_is_nothing() {
        assert_eq!(PackageFormat::of_key("a/b.tar.gz"), Some((".tar.gz", PackageFormat::TarGz)));
        assert_eq!(PackageFormat::of_key("x.jar"), Some((".jar", PackageFormat::Zip)));
        assert_eq!(PackageFormat::of_key(".zip"), None);
        assert_eq!(PackageFormat::of_key("x.rar"), None);
    }
}
