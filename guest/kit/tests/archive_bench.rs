//! Timing of the corpus-S shape of `cargo xtask bench`: 20,000 source-like files, 200 MB,
//! about 45 MB as a deflate zip. Ignored by default (it needs a release build and a quiet
//! machine); run with
//! `cargo test --release -p scheme-plugin-kit --test archive_bench -- --ignored --nocapture`.
//! Output goes to /dev/shm when it exists (tmpfs), as the performance notes require.

mod archive_support;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use archive_support::*;
use scheme_plugin_kit::archive::{extract_tar, extract_zip, TarCompression};
use scheme_plugin_kit::Limits;

const FILES: usize = 20_000;
const FILE_BYTES: usize = 10_000;

/// Python-looking text from a fixed vocabulary and a deterministic generator: compresses
/// roughly like real source (4-5x with deflate).
fn source_file(seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "def", "return", "self", "import", "from", "class", "for", "in", "if", "else", "None",
        "value", "items", "config", "result", "data", "index", "name", "path", "error", "len",
        "print", "range", "dict", "list", "True", "False", "await", "async", "with", "open",
    ];
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut out = Vec::with_capacity(FILE_BYTES + 100);
    while out.len() < FILE_BYTES {
        let indent = next() % 4;
        out.extend(std::iter::repeat_n(b' ', indent * 4));
        for _ in 0..(3 + next() % 6) {
            out.extend_from_slice(WORDS[next() % WORDS.len()].as_bytes());
            if next() % 3 == 0 {
                out.extend_from_slice(format!("_{}", next() % 1000).as_bytes());
            }
            out.push(b' ');
        }
        out.push(b'\n');
    }
    out.truncate(FILE_BYTES);
    out
}

fn scratch() -> tempfile::TempDir {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// CPU seconds (user + system) this process has used; wall time on a shared, loaded machine
/// says little, CPU time says what the extraction costs.
fn cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15; `fields` starts at field 3. 100 ticks per second.
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f` and returns (wall seconds, CPU seconds).
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    f();
    (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn corpus_s_timing() {
    let dir = scratch();
    let zip_path = dir.path().join("s.zip");
    let tgz_path = dir.path().join("s.tar.gz");
    {
        let mut z = zip::ZipWriter::new(BufWriter::new(File::create(&zip_path).unwrap()));
        let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
            BufWriter::new(File::create(&tgz_path).unwrap()),
            flate2::Compression::default(),
        ));
        for i in 0..FILES {
            let name = format!("pkg/m{:02}/s{:02}/file{i:05}.py", i % 50, (i / 50) % 20);
            let data = source_file(i as u64);
            z.start_file(
                name.as_str(),
                opts().unix_permissions(if i % 100 == 0 { 0o755 } else { 0o644 }),
            )
            .unwrap();
            z.write_all(&data).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            t.append_data(&mut h, &name, data.as_slice()).unwrap();
        }
        z.finish().unwrap().flush().unwrap();
        t.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    println!(
        "corpus S: {FILES} files, {} MB; zip {} MB, tar.gz {} MB; output in {}",
        FILES * FILE_BYTES / 1_000_000,
        fs::metadata(&zip_path).unwrap().len() / 1_000_000,
        fs::metadata(&tgz_path).unwrap().len() / 1_000_000,
        dir.path().display()
    );

    let (mut zip_times, mut zip_cpu, mut tar_times, mut tar_cpu, mut base_times, mut base_cpu) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 0..3 {
        let target = dir.path().join(format!("zip{run}"));
        fs::create_dir(&target).unwrap();
        let mut stats = None;
        let (wall, cpu) = timed(|| {
            stats = Some(
                extract_zip(
                    File::open(&zip_path).unwrap(),
                    &target,
                    &Limits::default(),
                    &mut |_, _| {},
                )
                .unwrap(),
            )
        });
        zip_times.push(wall);
        zip_cpu.push(cpu);
        let stats = stats.unwrap();
        assert_eq!(stats.files, FILES as u64);
        assert_eq!(stats.bytes_written, (FILES * FILE_BYTES) as u64);
        assert_eq!(stats.executables.len(), FILES / 100);
        fs::remove_dir_all(&target).unwrap();

        // Baseline in the same run: the zip crate's own (unchecked) extraction.
        let target = dir.path().join(format!("base{run}"));
        let (wall, cpu) = timed(|| {
            zip::ZipArchive::new(File::open(&zip_path).unwrap())
                .unwrap()
                .extract(&target)
                .unwrap()
        });
        base_times.push(wall);
        base_cpu.push(cpu);
        fs::remove_dir_all(&target).unwrap();

        let target = dir.path().join(format!("tar{run}"));
        fs::create_dir(&target).unwrap();
        let (wall, cpu) = timed(|| {
            let stats = extract_tar(
                File::open(&tgz_path).unwrap(),
                TarCompression::Gzip,
                &target,
                &Limits::default(),
                &mut |_, _| {},
            )
            .unwrap();
            assert_eq!(stats.files, FILES as u64);
        });
        tar_times.push(wall);
        tar_cpu.push(cpu);
        fs::remove_dir_all(&target).unwrap();
    }
    for (what, wall, cpu) in [
        ("extract_zip", &zip_times, &zip_cpu),
        (
            "zip crate ZipArchive::extract (baseline)",
            &base_times,
            &base_cpu,
        ),
        ("extract_tar (gzip)", &tar_times, &tar_cpu),
    ] {
        println!(
            "{what}: wall {wall:.3?} s (median {:.3}), cpu {cpu:.2?} s (median {:.2})",
            median(wall),
            median(cpu)
        );
    }
    // Generous: the target is well under 2 s on tmpfs; a loaded shared machine is slower.
    assert!(median(&zip_times) < 10.0);
}
