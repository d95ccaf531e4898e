//! The package's content name (pure logic).
//!
//! `_ray_pkg_<32 hex>.zip`: the first 128 bits of a SHA-256 over a canonical listing of
//! what the package unpacks to. Per entry, in byte order of the paths:
//! - a kind byte: `f` a file, `x` an executable file, `l` a symlink, `d` an empty directory;
//! - the path as a u64 (little-endian) length and its UTF-8 bytes;
//! - files: the size (u64) and the content digest, which is SHA-256 over the SHA-256
//!   digests of the file's consecutive 1 MiB chunks (SHA-256 of nothing for an empty file);
//! - symlinks: the stored target as a u64 length and its bytes.
//!
//! It is preceded by [`SCHEME`], so a change of the rules renames every package.
//!
//! Why this and not Ray's own hash (`_hash_directory`: SHA-1 of path and content per file,
//! XORed together, and the XOR with an 8-byte start value truncates it to 64 bits): Ray's
//! ignores exec bits and symlinks, which change what the job sees, and XOR cancels pairs.
//! Why from a listing and not from the zip bytes: the name is then known before anything is
//! compressed (a caller can check whether the object exists and skip the work), and a
//! better compressor later does not rename unchanged code. Why chunked content digests:
//! both planning and packing hash a large file on every core, and packing checks each file
//! against the plan as its chunks go by. Why 128 bits: Ray's names show 32 hex digits in
//! its documentation, and a collision needs about 2^64 packages.

use sha2::{Digest, Sha256};

/// Identifies the naming and packing rules; part of every name.
pub const SCHEME: &[u8] = b"scheme-pack/1\n";
/// The chunk of the content digest, and the unit of parallel compression.
pub const CHUNK: u64 = 1 << 20;
pub const NAME_PREFIX: &str = "_ray_pkg_";

pub(crate) type Sha = [u8; 32];

/// How many chunks a file of `size` bytes has (none when empty).
pub(crate) fn chunks(size: u64) -> u64 {
    size.div_ceil(CHUNK)
}

pub(crate) fn chunk_digest(data: &[u8]) -> Sha {
    Sha256::digest(data).into()
}

/// Combines chunk digests, in order, into a file's content digest.
#[derive(Default)]
pub(crate) struct ContentDigest(Sha256);

impl ContentDigest {
    pub fn add(&mut self, chunk: &Sha) {
        self.0.update(chunk);
    }
    pub fn finish(self) -> Sha {
        self.0.finalize().into()
    }
}

/// What the listing says about one entry.
pub(crate) enum Listed<'a> {
    File {
        size: u64,
        executable: bool,
        content: &'a Sha,
    },
    Symlink {
        target: &'a str,
    },
    EmptyDir,
}

/// The listing digest of entries given in path byte order.
pub(crate) fn listing<'a>(entries: impl IntoIterator<Item = (&'a str, Listed<'a>)>) -> Sha {
    let mut h = Sha256::new();
    h.update(SCHEME);
    let bytes = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    for (path, what) in entries {
        match what {
            Listed::File {
                size,
                executable,
                content,
            } => {
                h.update(if executable { b"x" } else { b"f" });
                bytes(&mut h, path.as_bytes());
                h.update(size.to_le_bytes());
                h.update(content);
            }
            Listed::Symlink { target } => {
                h.update(b"l");
                bytes(&mut h, path.as_bytes());
                bytes(&mut h, target.as_bytes());
            }
            Listed::EmptyDir => {
                h.update(b"d");
                bytes(&mut h, path.as_bytes());
            }
        }
    }
    h.finalize().into()
}

/// `_ray_pkg_<first 16 bytes of the listing digest, hex>` (the top directory's name too).
pub(crate) fn stem(listing: &Sha) -> String {
    format!("{NAME_PREFIX}{}", hex::encode(&listing[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(data: &[u8]) -> Sha {
        let mut d = ContentDigest::default();
        for c in data.chunks(CHUNK as usize) {
            d.add(&chunk_digest(c));
        }
        d.finish()
    }

    #[test]
    fn chunk_counts() {
        assert_eq!(chunks(0), 0);
        assert_eq!(chunks(1), 1);
        assert_eq!(chunks(CHUNK), 1);
        assert_eq!(chunks(CHUNK + 1), 2);
    }

    #[test]
    fn content_digest_is_a_hash_list() {
        // Independent of this module: SHA-256(SHA-256(chunk 1) || SHA-256(chunk 2)).
        let data = vec![7u8; CHUNK as usize + 3];
        let mut manual = Sha256::new();
        manual.update(Sha256::digest(&data[..CHUNK as usize]));
        manual.update(Sha256::digest(&data[CHUNK as usize..]));
        assert_eq!(content(&data), <[u8; 32]>::from(manual.finalize()));
        assert_eq!(content(b""), <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn every_listed_property_changes_the_name() {
        let a = content(b"print(1)\n");
        let b = content(b"print(2)\n");
        let base = || {
            vec![
                (
                    "a.py",
                    Listed::File {
                        size: 9,
                        executable: false,
                        content: &a,
                    },
                ),
                ("d", Listed::EmptyDir),
                ("l", Listed::Symlink { target: "a.py" }),
            ]
        };
        let name = |v: Vec<(&'static str, Listed<'_>)>| stem(&listing(v));
        let reference = name(base());
        assert_eq!(reference, name(base()), "deterministic");
        assert!(reference.starts_with("_ray_pkg_") && reference.len() == 9 + 32);
        let mut v = base();
        v[0].1 = Listed::File {
            size: 9,
            executable: true,
            content: &a,
        };
        assert_ne!(name(v), reference, "exec bit");
        let mut v = base();
        v[0].1 = Listed::File {
            size: 9,
            executable: false,
            content: &b,
        };
        assert_ne!(name(v), reference, "content");
        let mut v = base();
        v[0].0 = "b.py";
        assert_ne!(name(v), reference, "path");
        let mut v = base();
        v[2].1 = Listed::Symlink { target: "d" };
        assert_ne!(name(v), reference, "link target");
        let mut v = base();
        v.remove(1);
        assert_ne!(name(v), reference, "empty directory");
        // Length prefixes keep path and target boundaries apart.
        let x = name(vec![("ab", Listed::Symlink { target: "c" })]);
        let y = name(vec![("a", Listed::Symlink { target: "bc" })]);
        assert_ne!(x, y);
    }
}
