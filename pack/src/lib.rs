//! `scheme-pack`: packs a directory into a zip exactly as Ray 2.60 packs a local
//! `working_dir`, named by its content (`_ray_pkg_<hash>.zip`), for
//! `scheme-host pack-and-upload`.
//!
//! ```no_run
//! # fn main() -> Result<(), scheme_pack::Error> {
//! use scheme_pack::{Packer, Rules};
//! let plan = Packer::new("job/").rules(Rules::from_env()).exclude(["*.ckpt"]).plan()?;
//! // HEAD `prefix/` + plan.name() here; upload only when it is missing:
//! let summary = plan.pack_to(std::fs::File::create(plan.name()).unwrap())?;
//! assert_eq!(summary.name, plan.name());
//! # Ok(()) }
//! ```
//!
//! **What is packed** is what Ray 2.60's `upload_working_dir_if_needed` packs
//! (`src/walk.rs`): regular files and empty directories, minus what `.gitignore` files (unless
//! `RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1`), `.rayignore` files and the excludes match, with
//! Ray's default excludes `.git`, `.venv`, `venv` and `__pycache__` (see [`Rules`]). Patterns
//! mean what Ray's vendored `pathspec` makes of them (`src/pattern.rs`). Fifos, sockets and
//! devices are skipped as Ray skips them. Three deliberate differences:
//! - symlinks are kept as links when they stay inside the directory and refused when they
//!   leave it ([`Error::Symlink`]); Ray copies what they point to. The scheme plugins
//!   recreate the links; Ray's own unzip (used for its built-in schemes such as `s3://`)
//!   would write each as a small file holding the target;
//! - a directory that its own ignore pattern matches (`.*` or `*` in the top `.gitignore`)
//!   is [`Error::RootExcluded`]; Ray uploads an empty package;
//! - names the unpacker refuses (a backslash, two spellings equal after NFC) are refused
//!   here; Ray packs them and its own unzip skips the first kind.
//!
//! Names that are not UTF-8 are [`Error::NonUtf8Name`] unless excluded (Ray fails on them
//! too). Planning also fails ([`Error::OverLimit`]) when the unpacker's limits would refuse
//! the package (entries, unpacked size, name length, depth; see [`Packer::unpack_limits`]).
//! `tests/ray_differential.rs` compares the file lists with Ray 2.60's own packing.
//!
//! **The zip** wraps everything in one directory named like the package, so Ray's
//! unpacking of a remote zip (which strips a single top directory) gives back exactly the
//! directory, also when that holds a single directory itself. Files keep their exec bit
//! (mode 0755 or 0644), links are mode 0120777 with the target as data. The bytes depend only
//! on paths, contents, exec bits and link targets: sorted entries, fixed timestamps, a fixed
//! deflate level, and chunking that does not depend on the thread count.
//!
//! **The name** is a SHA-256 of the listing, see [`digest`] for the scheme and why.
//!
//! **Speed and memory**: files are hashed (planning) and compressed (packing) in 1 MiB
//! chunks on every core; the zip streams to any `Write`, holding about two chunks per thread.
//! A file that changes between planning and packing, or while it is read, fails the packing
//! with [`Error::Changed`] rather than producing a package whose bytes do not match its name
//! (a large file is checked once all of it went by: discard what was written on any error).
//!
//! Ray's GCS size limit (`GCS_STORAGE_MAX_SIZE`, 512 MiB by default) does not apply: these
//! packages go to object storage, where the unpacker's limits apply instead. The packer stays
//! under its compression-ratio limit (`src/deflate.rs`).

mod buffers;
mod deflate;
pub mod digest;
mod error;
mod ignore_files;
mod links;
mod names;
mod pack;
mod pattern;
mod plan;
mod pool;
mod read;
mod rules;
mod walk;
mod zipwriter;

pub use error::{Error, Result, SymlinkRefusal};
pub use pack::PackSummary;
pub use plan::{Entry, EntryKind, Packer, Plan, plan};
pub use rules::{ENV_IGNORE_GITIGNORE, ENV_OVERRIDE_DEFAULT_EXCLUDES, RAY_DEFAULT_EXCLUDES, Rules};
/// The unpacker's limits, for [`Packer::unpack_limits`].
pub use scheme_contract::Limits;
