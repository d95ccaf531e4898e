//! Compares a wheel built from the sdist with the shipped one, entry by entry.
//!
//! Only the compiled binary may differ in its bytes: cargo embeds the absolute paths of the
//! build (panic locations, the sdist is unpacked in a pip temp dir), so the same sources
//! never give the same binary in another directory. The entries that describe the binary
//! differ with it, and only where they describe it: RECORD's line for the binary (its
//! hash and size), WHEEL's `Tag:` (maturin's PEP 517 backend tags a wheel built from source
//! for this machine, `linux_<arch>`), and the SBOM's serial number, timestamp and the
//! source directory in its `path+file://` references. Everything else (the Python package,
//! the plugins, the approvals, METADATA, the SBOM's dependency list) must be the same
//! bytes.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// A wheel's entries by name (directories left out), bodies in memory: a wheel is ~10 MB.
pub type Entries = BTreeMap<String, Vec<u8>>;

pub fn read_wheel(wheel: &Path) -> Result<Entries> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?)
        .with_context(|| format!("{} is not a zip file", wheel.display()))?;
    let mut out = Entries::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name()?.into_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).with_context(|| format!("cannot read {name} from {}", wheel.display()))?;
        if out.insert(name.clone(), body).is_some() {
            bail!("{} holds {name} twice", wheel.display());
        }
    }
    Ok(out)
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// How one entry is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<dist>.data/scripts/<binary>`: may differ.
    Binary,
    /// `<dist>.dist-info/RECORD`: the same but for the lines of the entries that may differ.
    Record,
    /// `<dist>.dist-info/WHEEL`: the same but for the `Tag:` lines.
    WheelFile,
    /// `<dist>.dist-info/sboms/*.json`: the same once normalised (see `normalise_sbom`).
    Sbom,
    /// Everything else: the same bytes.
    Exact,
}

pub fn kind(name: &str, binary: &str) -> Kind {
    let (dir, rest) = name.split_once('/').unwrap_or(("", name));
    if dir.ends_with(".data") && rest == format!("scripts/{binary}") {
        Kind::Binary
    } else if dir.ends_with(".dist-info") && rest == "RECORD" {
        Kind::Record
    } else if dir.ends_with(".dist-info") && rest == "WHEEL" {
        Kind::WheelFile
    } else if dir.ends_with(".dist-info") && rest.starts_with("sboms/") && rest.ends_with(".json") {
        Kind::Sbom
    } else {
        Kind::Exact
    }
}

/// One entry of the comparison, for the report.
#[derive(Debug)]
pub struct EntryResult {
    pub name: String,
    pub kind: Kind,
    pub shipped_size: usize,
    pub built_size: usize,
    pub sha256: String,
    /// Whether the bytes are identical (for `Binary`, expected not to be).
    pub identical: bool,
}

/// Every entry of both wheels checked; the error lists every difference that is not the
/// binary's.
pub fn compare(shipped: &Entries, built: &Entries, binary: &str) -> Result<Vec<EntryResult>> {
    let mut problems = Vec::new();
    let only_shipped: Vec<&str> = shipped.keys().filter(|k| !built.contains_key(*k)).map(String::as_str).collect();
    let only_built: Vec<&str> = built.keys().filter(|k| !shipped.contains_key(*k)).map(String::as_str).collect();
    if !only_shipped.is_empty() {
        problems.push(format!("only in the shipped wheel: {}", only_shipped.join(", ")));
    }
    if !only_built.is_empty() {
        problems.push(format!("only in the wheel built from the sdist: {}", only_built.join(", ")));
    }
    if !shipped.keys().any(|k| kind(k, binary) == Kind::Binary) {
        problems.push(format!("the shipped wheel holds no <dist>.data/scripts/{binary}"));
    }
    // RECORD hashes every entry, so its lines for the entries allowed to differ differ too.
    let not_exact: Vec<&str> = shipped.keys().filter(|k| !matches!(kind(k, binary), Kind::Exact | Kind::Record)).map(String::as_str).collect();
    let mut results = Vec::new();
    for (name, a) in shipped {
        let Some(b) = built.get(name) else { continue };
        let k = kind(name, binary);
        let same = match k {
            Kind::Binary | Kind::Exact => a == b,
            Kind::Record => record_without(a, &not_exact) == record_without(b, &not_exact),
            Kind::WheelFile => without_tags(a) == without_tags(b),
            Kind::Sbom => match (normalise_sbom(a), normalise_sbom(b)) {
                (Ok(x), Ok(y)) => x == y,
                (Err(e), _) | (_, Err(e)) => {
                    problems.push(format!("{name}: {e:#}"));
                    continue;
                }
            },
        };
        if !same && k != Kind::Binary {
            problems.push(format!("{name} differs ({} bytes shipped, {} built{})", a.len(), b.len(), explain(k)));
        }
        results.push(EntryResult { name: name.clone(), kind: k, shipped_size: a.len(), built_size: b.len(), sha256: sha256_hex(b), identical: a == b });
    }
    if !problems.is_empty() {
        bail!("the wheel built from the sdist is not the shipped one:\n  {}", problems.join("\n  "));
    }
    Ok(results)
}

fn explain(kind: Kind) -> &'static str {
    match kind {
        Kind::Record => ", other than the lines of the binary, WHEEL and the SBOM",
        Kind::WheelFile => ", other than the Tag lines",
        Kind::Sbom => ", after normalising serial number, timestamp and source directory",
        Kind::Binary | Kind::Exact => "",
    }
}

/// RECORD's lines (`path,sha256=...,size`) but those of `skip`.
fn record_without<'a>(record: &'a [u8], skip: &[&str]) -> Vec<&'a [u8]> {
    record
        .split(|&c| c == b'\n')
        .filter(|line| {
            let path = line.split(|&c| c == b',').next().unwrap_or_default();
            !skip.iter().any(|s| s.as_bytes() == path)
        })
        .collect()
}

fn without_tags(wheel_file: &[u8]) -> Vec<&[u8]> {
    wheel_file.split(|&c| c == b'\n').filter(|line| !line.starts_with(b"Tag:")).collect()
}

/// The CycloneDX SBOM maturin writes (cargo-cyclonedx) without what changes from one
/// build to the next: `serialNumber` (a random UUID), `metadata.timestamp`, and the
/// directory the sources were built in, which every `path+file://` reference names. That
/// directory is the parent of the main component's package directory
/// (`path+file://<root>/host#scheme-host@0.1.0`); it becomes `<source>`.
pub fn normalise_sbom(data: &[u8]) -> Result<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(data).context("not JSON")?;
    let obj = v.as_object_mut().context("not a JSON object")?;
    obj.remove("serialNumber");
    let metadata = obj.get_mut("metadata").and_then(|m| m.as_object_mut()).context("no metadata object")?;
    metadata.remove("timestamp");
    let main_ref = metadata
        .get("component")
        .and_then(|c| c["bom-ref"].as_str())
        .context("no metadata.component.bom-ref")?;
    let package_dir = main_ref
        .strip_prefix("path+file://")
        .and_then(|r| r.split('#').next())
        .with_context(|| format!("metadata.component.bom-ref {main_ref:?} is not a path+file:// reference"))?;
    let root = Path::new(package_dir).parent().and_then(Path::to_str).filter(|r| !r.is_empty()).with_context(|| format!("{package_dir:?} has no parent"))?;
    let root = format!("file://{root}/");
    replace_strings(&mut v, &root, "file://<source>/");
    Ok(v)
}

fn replace_strings(v: &mut serde_json::Value, from: &str, to: &str) {
    match v {
        serde_json::Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, from, to)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| replace_strings(x, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: &str = "pkg-0.1.0.data/scripts/tool";

    fn sbom(root: &str, serial: &str, time: &str, dep: &str) -> Vec<u8> {
        serde_json::json!({
            "bomFormat": "CycloneDX",
            "serialNumber": serial,
            "metadata": {"timestamp": time, "component": {"bom-ref": format!("path+file://{root}/host#tool@0.1.0"), "name": "tool"}},
            "components": [{"bom-ref": format!("path+file://{root}/contract#contract@0.1.0")}, {"bom-ref": dep}]
        })
        .to_string()
        .into_bytes()
    }

    fn wheel(binary: &[u8], tag: &str, root: &str, plugin: &[u8]) -> Entries {
        let mut e = Entries::new();
        e.insert("pkg/__init__.py".into(), b"x = 1\n".to_vec());
        e.insert("pkg-0.1.0.data/data/share/tool/plugins/a.wasm".into(), plugin.to_vec());
        e.insert(BIN.into(), binary.to_vec());
        e.insert("pkg-0.1.0.dist-info/WHEEL".into(), format!("Wheel-Version: 1.0\nTag: py3-none-{tag}\n").into_bytes());
        e.insert("pkg-0.1.0.dist-info/sboms/tool.cyclonedx.json".into(), sbom(root, &format!("urn:{tag}"), tag, "registry+https://x#zip@9.8.0"));
        let mut record = String::new();
        for (name, body) in &e {
            record.push_str(&format!("{name},sha256={},{}\n", sha256_hex(body), body.len()));
        }
        record.push_str("pkg-0.1.0.dist-info/RECORD,,\n");
        e.insert("pkg-0.1.0.dist-info/RECORD".into(), record.into_bytes());
        e
    }

    #[test]
    fn only_the_binary_and_what_describes_it_may_differ() {
        let shipped = wheel(b"\x7fELF one build", "manylinux_2_34_x86_64", "/work/main", b"\0asm plugin");
        let built = wheel(b"\x7fELF another build, longer", "linux_x86_64", "/tmp/pip-req-build-x", b"\0asm plugin");
        let results = compare(&shipped, &built, "tool").unwrap();
        assert_eq!(results.len(), shipped.len());
        let binary = results.iter().find(|r| r.kind == Kind::Binary).unwrap();
        assert!(!binary.identical);
        assert!(results.iter().filter(|r| r.kind == Kind::Exact).all(|r| r.identical));
    }

    #[test]
    fn a_changed_plugin_or_source_or_dependency_fails() {
        let shipped = wheel(b"bin", "manylinux_2_34_x86_64", "/work/main", b"\0asm plugin");
        let plugin = wheel(b"bin", "linux_x86_64", "/tmp/b", b"\0asm plugim");
        let err = compare(&shipped, &plugin, "tool").unwrap_err().to_string();
        assert!(err.contains("plugins/a.wasm differs"), "{err}");

        let mut source = wheel(b"bin", "linux_x86_64", "/tmp/b", b"\0asm plugin");
        source.insert("pkg/__init__.py".into(), b"x = 2\n".to_vec());
        assert!(compare(&shipped, &source, "tool").unwrap_err().to_string().contains("pkg/__init__.py differs"));

        let mut dep = wheel(b"bin", "linux_x86_64", "/tmp/b", b"\0asm plugin");
        dep.insert("pkg-0.1.0.dist-info/sboms/tool.cyclonedx.json".into(), sbom("/tmp/b", "u", "t", "registry+https://x#zip@9.9.0"));
        assert!(compare(&shipped, &dep, "tool").unwrap_err().to_string().contains("cyclonedx.json differs"));
    }

    #[test]
    fn a_missing_or_extra_file_fails() {
        let shipped = wheel(b"bin", "manylinux_2_34_x86_64", "/work/main", b"p");
        let mut built = wheel(b"bin", "linux_x86_64", "/tmp/b", b"p");
        built.remove("pkg/__init__.py");
        built.insert("pkg/extra.py".into(), Vec::new());
        let err = compare(&shipped, &built, "tool").unwrap_err().to_string();
        assert!(err.contains("only in the shipped wheel: pkg/__init__.py"), "{err}");
        assert!(err.contains("only in the wheel built from the sdist: pkg/extra.py"), "{err}");
    }

    #[test]
    fn record_lines_other_than_the_binarys_must_match() {
        let shipped = wheel(b"bin", "manylinux_2_34_x86_64", "/work/main", b"p");
        let mut built = wheel(b"bin", "linux_x86_64", "/tmp/b", b"p");
        let record = String::from_utf8(built["pkg-0.1.0.dist-info/RECORD"].clone()).unwrap().replace(&format!("sha256={}", sha256_hex(b"x = 1\n")), "sha256=bbb");
        built.insert("pkg-0.1.0.dist-info/RECORD".into(), record.into_bytes());
        assert!(compare(&shipped, &built, "tool").unwrap_err().to_string().contains("RECORD differs"));
    }

    #[test]
    fn wheel_file_lines_other_than_tags_must_match() {
        let shipped = wheel(b"bin", "manylinux_2_34_x86_64", "/work/main", b"p");
        let mut built = wheel(b"bin", "linux_x86_64", "/tmp/b", b"p");
        built.insert("pkg-0.1.0.dist-info/WHEEL".into(), b"Wheel-Version: 1.0\nGenerator: other\nTag: py3-none-linux_x86_64\n".to_vec());
        assert!(compare(&shipped, &built, "tool").unwrap_err().to_string().contains("WHEEL differs"));
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(kind(BIN, "tool"), Kind::Binary);
        assert_eq!(kind("pkg-0.1.0.data/scripts/other", "tool"), Kind::Exact);
        assert_eq!(kind("pkg/scripts/tool", "tool"), Kind::Exact);
        assert_eq!(kind("pkg-0.1.0.dist-info/RECORD", "tool"), Kind::Record);
        assert_eq!(kind("pkg-0.1.0.dist-info/WHEEL", "tool"), Kind::WheelFile);
        assert_eq!(kind("pkg-0.1.0.dist-info/sboms/tool.cyclonedx.json", "tool"), Kind::Sbom);
        assert_eq!(kind("pkg-0.1.0.dist-info/METADATA", "tool"), Kind::Exact);
    }

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
