//! Checks that a wheel's platform tag tells the truth about the binary inside it.
//!
//! maturin picks the tag with its auditwheel check; this reads the binary out of the
//! finished wheel once more and checks what the file name claims against what the ELF file
//! needs (`elf_needs`): the same CPU, only libraries every manylinux system has, and no
//! glibc symbol version newer than the tag's floor. A wheel that claims too old a glibc
//! installs on a node and then fails to start there, so this runs on every wheel we build.

use crate::elf_needs::{self, ElfNeeds};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// One manylinux platform tag: `manylinux_2_17_aarch64` or its legacy alias
/// `manylinux2014_aarch64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformTag {
    pub tag: String,
    pub glibc: (u32, u32),
    pub arch: String,
}

/// The libraries PEP 599/600 let a manylinux wheel link against without bundling them
/// (auditwheel's policy list, less the graphics libraries a CLI never links), plus the
/// dynamic loaders, which DT_NEEDED names on some toolchains.
const ALLOWED_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libutil.so.1",
    "libresolv.so.2",
    "libnsl.so.1",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

/// The platform tags of a wheel file name
/// (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, the platform part possibly
/// a `.`-joined set). Every tag must be manylinux: a plain `linux_*` wheel is refused,
/// since PyPI and pip treat it as built for this machine only.
pub fn platform_tags(wheel_file_name: &str) -> Result<Vec<PlatformTag>> {
    let stem = wheel_file_name.strip_suffix(".whl").with_context(|| format!("{wheel_file_name}: not a .whl file name"))?;
    let platform = stem.rsplit('-').next().filter(|_| stem.split('-').count() >= 5).with_context(|| format!("{wheel_file_name}: not a wheel file name"))?;
    platform.split('.').map(|tag| manylinux_tag(tag).with_context(|| format!("{wheel_file_name}: platform tag {tag:?}"))).collect()
}

fn manylinux_tag(tag: &str) -> Result<PlatformTag> {
    let (glibc, arch) = if let Some(rest) = tag.strip_prefix("manylinux_") {
        let mut parts = rest.splitn(3, '_');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(|p| p.parse().ok());
        match (major, minor, parts.next()) {
            (Some(major), Some(minor), Some(arch)) => ((major, minor), arch),
            _ => bail!("not manylinux_<major>_<minor>_<arch>"),
        }
    } else if let Some(arch) = tag.strip_prefix("manylinux2014_") {
        ((2, 17), arch)
    } else if let Some(arch) = tag.strip_prefix("manylinux2010_") {
        ((2, 12), arch)
    } else if let Some(arch) = tag.strip_prefix("manylinux1_") {
        ((2, 5), arch)
    } else {
        bail!("not a manylinux tag: it promises nothing about the glibc it needs");
    };
    if arch.is_empty() {
        bail!("no architecture");
    }
    Ok(PlatformTag { tag: tag.to_string(), glibc, arch: arch.to_string() })
}

/// Checks `needs` against every tag; the error lists each broken promise.
pub fn check(tags: &[PlatformTag], needs: &ElfNeeds) -> Result<()> {
    let mut problems = Vec::new();
    let arch = needs.arch();
    let floor = needs.glibc_floor();
    for t in tags {
        if arch != Some(t.arch.as_str()) {
            problems.push(format!("{} is for {} but the binary is {}", t.tag, t.arch, arch.map(str::to_string).unwrap_or_else(|| format!("ELF machine {}", needs.machine))));
        }
        if let Some(floor) = floor.filter(|f| *f > t.glibc) {
            let newest: Vec<&str> =
                needs.versions.iter().filter(|(_, v)| elf_needs::glibc_version(v).is_some_and(|g| g > t.glibc)).map(|(_, v)| v.as_str()).collect();
            problems.push(format!("{} promises glibc {}.{} but the binary needs glibc {}.{} ({})", t.tag, t.glibc.0, t.glibc.1, floor.0, floor.1, newest.join(", ")));
        }
    }
    for lib in needs.libraries.iter().filter(|l| !ALLOWED_LIBRARIES.contains(&l.as_str())) {
        problems.push(format!("links {lib}, which manylinux systems need not have"));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

/// What `verify` found, for the log and the README.
pub struct WheelReport {
    pub wheel: String,
    pub tags: Vec<PlatformTag>,
    pub binary: String,
    pub needs: ElfNeeds,
}

impl std::fmt::Display for WheelReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let floor = self.needs.glibc_floor().map(|(a, b)| format!("glibc {a}.{b}")).unwrap_or_else(|| "no glibc version".into());
        let tags: Vec<&str> = self.tags.iter().map(|t| t.tag.as_str()).collect();
        let mut other: Vec<&str> = self.needs.versions.iter().filter(|(_, v)| elf_needs::glibc_version(v).is_none()).map(|(_, v)| v.as_str()).collect();
        other.sort();
        other.dedup();
        write!(
            f,
            "{}: {} is an {} binary that needs {floor} at most; links {}; other symbol versions {}; tag {} holds",
            self.wheel,
            self.binary,
            self.needs.arch().unwrap_or("unknown CPU's"),
            self.needs.libraries.join(" "),
            if other.is_empty() { "none".into() } else { other.join(" ") },
            tags.join(".")
        )
    }
}

/// Reads `<name>.data/scripts/<binary>` out of the wheel and checks its tag against it.
pub fn verify(wheel: &Path, binary: &str) -> Result<WheelReport> {
    let file_name = wheel.file_name().and_then(|n| n.to_str()).with_context(|| format!("{}: no UTF-8 file name", wheel.display()))?;
    let tags = platform_tags(file_name)?;
    let (name, needs) = binary_needs(wheel, binary)?;
    check(&tags, &needs).with_context(|| format!("{file_name}: the platform tag does not match {name}"))?;
    Ok(WheelReport { wheel: file_name.to_string(), tags, binary: name, needs })
}

/// The entry name of `<name>.data/scripts/<binary>` in the wheel and what that ELF file needs.
pub fn binary_needs(wheel: &Path, binary: &str) -> Result<(String, ElfNeeds)> {
    let file_name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| wheel.display().to_string());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?)
        .with_context(|| format!("{} is not a zip file", wheel.display()))?;
    let suffix = format!(".data/scripts/{binary}");
    let name = zip
        .file_names()
        .find_map(|n| n.ok().filter(|n| n.ends_with(&suffix)).map(|n| n.into_owned()))
        .with_context(|| format!("{file_name} holds no *{suffix}"))?;
    let mut data = Vec::new();
    zip.by_name(&name)?.read_to_end(&mut data).with_context(|| format!("cannot read {name} from {file_name}"))?;
    let needs = elf_needs::parse(&data).with_context(|| format!("{name} in {file_name}"))?;
    Ok((name, needs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf_needs::testing::elf;
    use crate::elf_needs::{EM_AARCH64, EM_X86_64};

    fn tag(t: &str, glibc: (u32, u32), arch: &str) -> PlatformTag {
        PlatformTag { tag: t.into(), glibc, arch: arch.into() }
    }

    #[test]
    fn reads_single_and_compressed_tag_sets() {
        assert_eq!(
            platform_tags("ray_scheme_host-0.1.0-py3-none-manylinux_2_34_x86_64.whl").unwrap(),
            [tag("manylinux_2_34_x86_64", (2, 34), "x86_64")]
        );
        assert_eq!(
            platform_tags("ray_scheme_host-0.1.0-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl").unwrap(),
            [tag("manylinux_2_17_aarch64", (2, 17), "aarch64"), tag("manylinux2014_aarch64", (2, 17), "aarch64")]
        );
        assert_eq!(platform_tags("x-1-py3-none-manylinux1_x86_64.whl").unwrap(), [tag("manylinux1_x86_64", (2, 5), "x86_64")]);
    }

    #[test]
    fn refuses_non_manylinux_and_malformed_names() {
        for bad in [
            "ray_scheme_host-0.1.0-py3-none-linux_aarch64.whl",
            "ray_scheme_host-0.1.0-py3-none-any.whl",
            "ray_scheme_host-0.1.0-py3-none-manylinux_2_aarch64.whl",
            "ray_scheme_host-0.1.0-py3-none-manylinux_2_17_.whl",
            "ray_scheme_host-0.1.0.tar.gz",
            "manylinux_2_17_aarch64.whl",
        ] {
            assert!(platform_tags(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tag_at_or_above_the_floor_holds() {
        let needs = elf_needs::parse(&elf(EM_AARCH64, &[("libgcc_s.so.1", &["GCC_4.2.0"]), ("libc.so.6", &["GLIBC_2.17"]), ("ld-linux-aarch64.so.1", &["GLIBC_2.17"])])).unwrap();
        check(&[tag("manylinux_2_17_aarch64", (2, 17), "aarch64"), tag("manylinux2014_aarch64", (2, 17), "aarch64")], &needs).unwrap();
        check(&[tag("manylinux_2_28_aarch64", (2, 28), "aarch64")], &needs).unwrap();
    }

    #[test]
    fn a_tag_below_the_floor_is_refused_and_names_the_symbols() {
        let needs = elf_needs::parse(&elf(EM_X86_64, &[("libc.so.6", &["GLIBC_2.17", "GLIBC_2.34"])])).unwrap();
        let err = check(&[tag("manylinux_2_17_x86_64", (2, 17), "x86_64")], &needs).unwrap_err().to_string();
        assert!(err.contains("needs glibc 2.34") && err.contains("GLIBC_2.34") && !err.contains("GLIBC_2.17)"), "{err}");
        check(&[tag("manylinux_2_34_x86_64", (2, 34), "x86_64")], &needs).unwrap();
    }

    #[test]
    fn the_wrong_cpu_or_an_unlisted_library_is_refused() {
        let x86 = elf_needs::parse(&elf(EM_X86_64, &[("libc.so.6", &["GLIBC_2.17"])])).unwrap();
        let err = check(&[tag("manylinux2014_aarch64", (2, 17), "aarch64")], &x86).unwrap_err().to_string();
        assert!(err.contains("binary is x86_64"), "{err}");
        let ssl = elf_needs::parse(&elf(EM_AARCH64, &[("libssl.so.3", &[]), ("libc.so.6", &["GLIBC_2.17"])])).unwrap();
        let err = check(&[tag("manylinux2014_aarch64", (2, 17), "aarch64")], &ssl).unwrap_err().to_string();
        assert!(err.contains("libssl.so.3"), "{err}");
    }

    #[test]
    fn verify_reads_the_binary_out_of_the_wheel() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let write_wheel = |name: &str, binary: &[u8]| {
            let path = dir.path().join(name);
            let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
            w.start_file("ray_scheme_host/__init__.py", zip::write::SimpleFileOptions::default()).unwrap();
            w.start_file("ray_scheme_host-0.1.0.data/scripts/scheme-host", zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(binary).unwrap();
            w.finish().unwrap();
            path
        };
        let binary = elf(EM_AARCH64, &[("libc.so.6", &["GLIBC_2.17"])]);
        let good = write_wheel("ray_scheme_host-0.1.0-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", &binary);
        let report = verify(&good, "scheme-host").unwrap();
        assert_eq!(report.binary, "ray_scheme_host-0.1.0.data/scripts/scheme-host");
        assert_eq!(report.needs.glibc_floor(), Some((2, 17)));
        let line = report.to_string();
        assert!(line.contains("aarch64 binary that needs glibc 2.17 at most") && line.contains("manylinux2014_aarch64 holds"), "{line}");
        let x86_claim = write_wheel("ray_scheme_host-0.1.0-py3-none-manylinux_2_17_x86_64.whl", &binary);
        assert!(verify(&x86_claim, "scheme-host").is_err());
        assert!(verify(&good, "other-binary").is_err());
    }
}
