//! A cluster start against a store that throttles: every node fetches the same package at
//! the same moment and the store answers past its rate with 503 `SlowDown`. Every node must
//! get its package (patient retries within the throttle budget), nothing may be left
//! behind, and throttled answers are reported apart from failures.

use std::process::{Child, Stdio};
use std::time::Instant;

use obs_server::RateLimit;
use scheme_host_tests::hostile::raw_zip::{zip, Entry};
use scheme_host_tests::obs::ObsFixture;
use scheme_host_tests::{listing, tree};

use crate::catalogue::obs_env;

const BUCKET: &str = "ray-jobs";
const KEY: &str = "burst/pkg.zip";

/// About 10 MB in 400 files: past the 4 MiB tail a zip's first request fetches, so each
/// node sends several requests and the host splits the package among its parts.
fn package() -> (Vec<u8>, Vec<String>) {
    let mut entries = Vec::new();
    let mut expected = vec!["src/".to_string()];
    for i in 0..400 {
        let body: Vec<u8> = (0..25_000u32).map(|j| (j.wrapping_mul(2_654_435_761).wrapping_add(i) >> 11) as u8).collect();
        entries.push(Entry::stored(&format!("job/src/f{i:03}.bin"), &body));
        expected.push(format!("src/f{i:03}.bin"));
    }
    expected.sort();
    (zip(&entries), expected)
}

#[test]
fn forty_nodes_at_once_against_a_25_rps_store_all_succeed() {
    let fx = ObsFixture::start();
    let (pkg, expected) = package();
    fx.put(BUCKET, KEY, pkg);
    let mut e = obs_env(&fx);
    // Parts as on a real node (the suite's default is one instance).
    e.set("SCHEME_HOST_UNPACK_PARTS", "2");
    // One compile for all the "nodes", as `python -m ray_scheme_host enable` does.
    e.run(&["precompile", "--json"]).ok();
    fx.server.set_rate_limit(Some(RateLimit::new(25.0, 5))).unwrap();

    const NODES: usize = 40;
    let uri = format!("obs://{BUCKET}/{KEY}");
    let parents: Vec<_> = (0..NODES).map(|i| e.out(&format!("node{i:02}"))).collect();
    let started = Instant::now();
    let children: Vec<Child> = parents
        .iter()
        .map(|p| {
            std::fs::create_dir(p).unwrap();
            let dest = p.join("pkg");
            e.command(&["download-and-unpack", &uri, dest.to_str().unwrap(), "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let last = started.elapsed();

    let mut throttled = 0u64;
    for (i, out) in outputs.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|err| panic!("node {i}: not JSON ({err}): {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(v["ok"], true, "node {i} failed: {v:#}");
        assert_eq!(v["files"], 400, "node {i}: {v:#}");
        throttled += v["throttled"].as_u64().expect("throttled is reported");
        assert!(v["throttle_wait_ms"].is_u64(), "{v:#}");
    }
    for p in &parents {
        assert_eq!(listing(p), ["pkg"], "a lock, staging or partial directory was left in {}", p.display());
        assert_eq!(tree(&p.join("pkg")), expected);
    }
    let stats = fx.server.rate_stats();
    eprintln!(
        "burst: {NODES} nodes in {:.1} s; served {} requests ({:.1} per node), throttled {} (the nodes counted {throttled})",
        last.as_secs_f64(),
        stats.total.served,
        stats.total.served as f64 / NODES as f64,
        stats.total.throttled,
    );
    assert!(stats.total.throttled > 0, "the store never throttled: the test proves nothing ({stats:?})");
    assert!(throttled > 0, "no node reported a throttled answer although the store sent {}", stats.total.throttled);
}
