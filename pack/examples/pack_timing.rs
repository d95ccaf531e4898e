//! Timing probe (prints figures, passes or fails nothing): packs a generated tree of about
//! 200 MB, or DIR, with one thread and with every core, each in a fresh child process so
//! its peak RSS is its own.
//!
//! ```text
//! cargo run --release -p scheme-pack --example pack_timing [-- DIR]
//! cargo run --release -p scheme-pack --example pack_timing -- --generate DIR   # the tree only
//! cargo run --release -p scheme-pack --example pack_timing -- --write DIR FILE  # one zip, to inspect
//! ```
//!
//! Per run: planning (walk + hash) and packing (read + hash + compress + write to a sink
//! that counts), wall time, CPU time (user + system), and the child's peak RSS (`VmHWM`). The files are in the page
//! cache for every run (they were just written, or read by the previous run).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use scheme_pack::Packer;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(
            Path::new(&args[1]),
            args[2].parse().expect("a thread count"),
        );
        return;
    }
    if args.first().map(String::as_str) == Some("--write") {
        let out = std::fs::File::create(args.get(2).expect("--write DIR FILE")).expect("create");
        let summary = Packer::new(args.get(1).expect("--write DIR FILE"))
            .pack_to(io::BufWriter::new(out))
            .expect("packing");
        println!("{summary:?}");
        return;
    }
    if args.first().map(String::as_str) == Some("--generate") {
        let (files, bytes) = generate(Path::new(args.get(1).expect("--generate DIR")));
        println!("generated {files} files, {:.1} MB", bytes as f64 / 1e6);
        return;
    }
    let generated;
    let dir = match args.first() {
        Some(d) => PathBuf::from(d),
        None => {
            generated = tempfile::tempdir().expect("a temporary directory");
            let dir = generated.path().join("tree");
            let t = Instant::now();
            let (files, bytes) = generate(&dir);
            println!(
                "generated {files} files, {:.1} MB in {:.1} s at {}",
                bytes as f64 / 1e6,
                t.elapsed().as_secs_f64(),
                dir.display()
            );
            dir
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1];
    if cores > 1 {
        counts.push(cores);
    }
    println!(
        "{:>7}  {:>8}  {:>8}  {:>8}  {:>8}  {:>9}  {:>9}  {:>8}",
        "threads", "plan s", "pack s", "total s", "cpu s", "in MB", "out MB", "peak MB"
    );
    let exe = std::env::current_exe().expect("own path");
    for threads in counts {
        let out = Command::new(&exe)
            .args([
                "--child",
                dir.to_str().expect("a UTF-8 path"),
                &threads.to_string(),
            ])
            .output()
            .expect("the child runs");
        io::stderr().write_all(&out.stderr).ok();
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn child(dir: &Path, threads: usize) {
    let packer = Packer::new(dir).threads(threads);
    let t = Instant::now();
    let plan = packer.plan().expect("planning");
    let planned = t.elapsed().as_secs_f64();
    let summary = plan.pack_to(io::sink()).expect("packing");
    let total = t.elapsed().as_secs_f64();
    println!(
        "{threads:>7}  {planned:>8.2}  {:>8.2}  {total:>8.2}  {:>8.2}  {:>9.1}  {:>9.1}  {:>8.1}",
        total - planned,
        cpu_seconds(),
        summary.bytes_in as f64 / 1e6,
        summary.bytes_out as f64 / 1e6,
        peak_rss_kb() as f64 / 1024.0,
    );
}

/// User plus system CPU time of this process, all threads: with other load on the machine
/// the wall times vary, this does not.
fn cpu_seconds() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// About 200 MB shaped like job code plus data: 4,000 small source files in nested
/// packages, 30 files of 1-3 MB, a 40 MB text file, a 30 MB incompressible file and a
/// 20 MB file of zeros (which the ratio guard stores). Returns (files, bytes).
fn generate(root: &Path) -> (u64, u64) {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let words: [&[u8]; 12] = [
        b"def ",
        b"return ",
        b"self.",
        b"value",
        b" = ",
        b"(x)\n",
        b"    ",
        b"import ",
        b"class ",
        b"if ",
        b"None",
        b"for i in range",
    ];
    let text = |n: usize, next: &mut dyn FnMut() -> u64| {
        let mut out = Vec::with_capacity(n + 16);
        while out.len() < n {
            let r = next();
            out.extend_from_slice(words[(r % 12) as usize]);
            if r.is_multiple_of(7) {
                out.extend_from_slice(format!("{}", r % 100_000).as_bytes());
            }
        }
        out.truncate(n);
        out
    };
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut write = |path: PathBuf, data: &[u8]| {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, data).expect("write");
        files += 1;
        bytes += data.len() as u64;
    };
    for i in 0..4000 {
        let size = 4_000 + (next() % 16_000) as usize;
        let data = text(size, &mut next);
        write(
            root.join(format!("src/pkg{}/mod{}/file{i}.py", i % 20, i % 7)),
            &data,
        );
    }
    for i in 0..30 {
        let size = 1_000_000 + (next() % 2_000_000) as usize;
        let data = text(size, &mut next);
        write(root.join(format!("data/medium{i}.csv")), &data);
    }
    let big = text(40_000_000, &mut next);
    write(root.join("data/big.txt"), &big);
    let noise: Vec<u8> = (0..30_000_000).map(|_| (next() >> 24) as u8).collect();
    write(root.join("data/random.bin"), &noise);
    write(root.join("data/zeros.bin"), &vec![0u8; 20_000_000]);
    (files, bytes)
}
