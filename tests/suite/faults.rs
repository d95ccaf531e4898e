//! Hostile servers: every fault switch of the OBS test server against the real binary.
//! Transient faults must be survived, permanent ones must fail fast with the store's code
//! and request id, and nothing may be left behind either way. Prints a fault → outcome
//! table (also written to `$CARGO_TARGET_TMPDIR/hostile-servers.md`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use obs_server::{Fault, FaultRule, RequestRecord};
use scheme_host_tests::hostile::raw_zip::{zip, Entry};
use scheme_host_tests::obs::ObsFixture;
use scheme_host_tests::{listing, on_two_threads, tree, Env, Run};

use crate::catalogue::obs_env;

const BUCKET: &str = "ray-jobs";
/// Short enough that a stall costs a second, long enough for a loaded machine.
const CONFIG: &str = "[limits]\nconnect-timeout-secs = 2\nfirst-byte-timeout-secs = 3\nbetween-bytes-timeout-secs = 1\ntimeout-secs = 60\n";
const MAX_RETRIES: u64 = 2;

struct Ctx {
    fx: ObsFixture,
    /// A second server standing for a foreign host a redirect points at.
    foreign: ObsFixture,
    e: Env,
    /// Like `e`, but the operator also allows the foreign host in the host's config.
    e_foreign_allowed: Env,
    package: Vec<u8>,
}

/// A package whose body is long enough for faults at 50 KB and 100 KB to land inside it.
fn package() -> Vec<u8> {
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    zip(&[Entry::deflated("pkg/main.py", b"print('faults')\n"), Entry::stored("pkg/blob.bin", &blob)])
}

const TREE: [&str; 2] = ["blob.bin", "main.py"];

impl Ctx {
    fn key(name: &str) -> String {
        format!("faults/{name}.zip")
    }

    fn put(&self, name: &str) -> String {
        let key = Ctx::key(name);
        self.fx.put(BUCKET, &key, self.package.clone());
        key
    }

    fn fault(&self, key: &str, fault: Fault, times: Option<u64>) {
        let mut rule = FaultRule::new(BUCKET, key, fault);
        rule.times = times;
        self.fx.server.set_fault(rule).unwrap();
    }

    fn unpack(&self, e: &Env, key: &str, name: &str) -> (Run, serde_json::Value, Duration, PathBuf) {
        let parent = e.out(name);
        std::fs::create_dir(&parent).unwrap();
        let dest = parent.join("pkg");
        let started = Instant::now();
        let r = e.run(&["download-and-unpack", &format!("obs://{BUCKET}/{key}"), dest.to_str().unwrap(), "--json"]);
        let took = started.elapsed();
        let v = serde_json::from_str(r.stdout.trim()).unwrap_or(serde_json::Value::Null);
        (r, v, took, parent)
    }

    fn gets(&self, key: &str) -> Vec<RequestRecord> {
        self.fx.server.requests().into_iter().filter(|r| r.key.as_deref() == Some(key) && r.method == "GET").collect()
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Success with the whole tree and nothing beside it.
fn survived(v: &serde_json::Value, parent: &Path) -> Result<(), String> {
    ensure!(v["ok"] == true, "expected success, got {v}");
    ensure!(listing(parent) == ["pkg"], "beside DEST: {:?}", listing(parent));
    ensure!(tree(&parent.join("pkg")) == TREE, "tree {:?}", tree(&parent.join("pkg")));
    Ok(())
}

/// Failure of `kind`, message containing `mentions`, nothing left behind.
fn failed<'v>(v: &'v serde_json::Value, parent: &Path, kind: &str, mentions: &str) -> Result<&'v serde_json::Value, String> {
    ensure!(v["ok"] == false, "expected {kind}, got {v}");
    let err = &v["error"];
    ensure!(err["kind"] == kind, "expected {kind}, got {err}");
    ensure!(err["message"].as_str().unwrap_or("").contains(mentions), "expected a message mentioning {mentions:?}: {err}");
    ensure!(listing(parent).is_empty(), "left behind: {:?}", listing(parent));
    Ok(err)
}

fn store_details(err: &serde_json::Value, code: &str, status: u64) -> Result<(), String> {
    ensure!(err["store_code"] == code, "store code {} instead of {code}", err["store_code"]);
    ensure!(err["http_status"] == status, "status {} instead of {status}", err["http_status"]);
    ensure!(err["request_id"].as_str().is_some_and(|s| !s.is_empty()), "no request id: {err}");
    Ok(())
}

type Check = fn(&Ctx, &str) -> Result<String, String>;

struct FaultCase {
    name: &'static str,
    fault: &'static str,
    check: Check,
}

fn cases() -> Vec<FaultCase> {
    vec![
        FaultCase { name: "short-body-once", fault: "short_body 100000 B, once", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::ShortBody { bytes: 100_000 }, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            let resumed = c.gets(&key).iter().any(|r| r.range.is_some() && r.status == 206);
            ensure!(resumed, "no Range resume answered 206: {:?}", c.gets(&key));
            Ok(format!("survived: resumed with Range (retries: {})", v["retries"]))
        }},
        FaultCase { name: "short-body-forever", fault: "short_body 1000 B, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::ShortBody { bytes: 1000 }, None);
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "network", "gave up after")?;
            ensure!(c.gets(&key).len() as u64 == MAX_RETRIES + 1, "{} GETs", c.gets(&key).len());
            Ok(format!("network after {} attempts ({:.1}s)", MAX_RETRIES + 1, took.as_secs_f64()))
        }},
        FaultCase { name: "long-body", fault: "long_body +5000 B, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::LongBody { extra_bytes: 5000 }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            ensure!(v["bytes_downloaded"] == c.package.len() as u64 && v["verified"] == "md5-etag", "{v}");
            Ok("accepted: bytes past Content-Length never reach the plugin; MD5 verified".into())
        }},
        FaultCase { name: "reset-once", fault: "reset after 50000 B, once", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Reset { after_bytes: 50_000 }, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            ensure!(c.gets(&key).iter().any(|r| r.range.is_some()), "not resumed");
            Ok(format!("survived: resumed with Range (retries: {})", v["retries"]))
        }},
        FaultCase { name: "reset-forever", fault: "reset after 0 B, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Reset { after_bytes: 0 }, None);
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "network", "gave up after")?;
            Ok(format!("network after {} GETs ({:.1}s)", c.gets(&key).len(), took.as_secs_f64()))
        }},
        FaultCase { name: "stall-once", fault: "stall 4 s after 50000 B, once (between-bytes timeout 1 s)", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Stall { after_bytes: 50_000, millis: 4000 }, Some(1));
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            ensure!(c.gets(&key).iter().any(|r| r.range.is_some()), "not resumed after the stall");
            Ok(format!("survived: timed out, resumed with Range ({:.1}s)", took.as_secs_f64()))
        }},
        FaultCase { name: "slow-down-then-success", fault: "503 SlowDown, once", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::SlowDown { retry_after_secs: None }, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            ensure!(v["retries"] == 0 && v["throttled"] == 1 && c.gets(&key).len() == 2, "{v}");
            Ok("survived: 1 throttled answer, waited on".into())
        }},
        FaultCase { name: "retry-after", fault: "503 SlowDown with Retry-After: 2, once", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::SlowDown { retry_after_secs: Some(2) }, Some(1));
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            // A lower bound only: sleeping cannot be shorter than asked.
            ensure!(took >= Duration::from_secs(2), "retried after {took:?}, before Retry-After");
            Ok(format!("survived: waited the 2 s asked ({:.1}s in all)", took.as_secs_f64()))
        }},
        FaultCase { name: "retry-after-too-long", fault: "503 SlowDown with Retry-After: 3600, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::SlowDown { retry_after_secs: Some(3600) }, None);
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "network", "longer than we wait")?;
            store_details(err, "SlowDown", 503)?;
            ensure!(c.gets(&key).len() == 1, "{} GETs", c.gets(&key).len());
            Ok(format!("network at once, SlowDown + request id ({:.1}s)", took.as_secs_f64()))
        }},
        FaultCase { name: "internal-error-forever", fault: "500 InternalError, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::InternalError, None);
            let (_, v, took, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "network", "InternalError")?;
            store_details(err, "InternalError", 500)?;
            ensure!(c.gets(&key).len() as u64 == MAX_RETRIES + 1, "{} GETs", c.gets(&key).len());
            Ok(format!("network after {} attempts, InternalError + request id ({:.1}s)", MAX_RETRIES + 1, took.as_secs_f64()))
        }},
        FaultCase { name: "bad-gateway-once", fault: "502 HTML page, once", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::BadGateway, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            Ok("survived: 1 retry".into())
        }},
        FaultCase { name: "gateway-timeout-forever", fault: "504 HTML page, always", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::GatewayTimeout, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "network", "504")?;
            ensure!(err["http_status"] == 504, "{err}");
            Ok("network after retries, status 504".into())
        }},
        FaultCase { name: "redirect-allowed", fault: "307 to another key on the endpoint itself, once", check: |c, n| {
            let key = c.put(n);
            let moved = c.put(&format!("{n}-moved"));
            c.fault(&key, Fault::Redirect { status: 307, location: format!("{}/{BUCKET}/{moved}", c.fx.endpoint()) }, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            let signed = c.gets(&moved).iter().all(|r| r.has_authorization);
            ensure!(c.gets(&moved).len() == 1 && signed, "{:?}", c.gets(&moved));
            Ok("survived: followed, signed again for the same host".into())
        }},
        FaultCase { name: "redirect-foreign", fault: "307 to a second server", check: |c, n| {
            let key = c.put(n);
            c.foreign.put(BUCKET, &key, c.package.clone());
            c.fault(&key, Fault::Redirect { status: 307, location: format!("{}/{BUCKET}/{key}", c.foreign.endpoint()) }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "network", "not an allowed host")?;
            let reached: Vec<_> = c.foreign.server.requests().into_iter().filter(|r| r.key.as_deref() == Some(key.as_str())).collect();
            ensure!(reached.is_empty(), "the foreign host was contacted: {reached:?}");
            Ok("network: refused, the foreign host saw no request".into())
        }},
        FaultCase { name: "redirect-foreign-operator-allowed", fault: "307 to a second server the operator allowed", check: |c, n| {
            let key = c.put(n);
            c.foreign.put(BUCKET, &key, c.package.clone());
            c.fault(&key, Fault::Redirect { status: 307, location: format!("{}/{BUCKET}/{key}", c.foreign.endpoint()) }, None);
            let (_, v, _, parent) = c.unpack(&c.e_foreign_allowed, &key, n);
            failed(&v, &parent, "network", "not an allowed host")?;
            let reached: Vec<_> = c.foreign.server.requests().into_iter().filter(|r| r.key.as_deref() == Some(key.as_str())).collect();
            ensure!(reached.iter().all(|r| !r.has_authorization && !r.has_security_token), "credentials reached the foreign host: {reached:?}");
            ensure!(reached.is_empty(), "the foreign host was contacted: {reached:?}");
            Ok("network: the plugin's own list refuses it; no request, no credential".into())
        }},
        FaultCase { name: "xml-error-as-object", fault: "200 with an OBS XML error body", check: |c, n| {
            let key = c.put(n);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>denied</Message></Error>".to_string();
            c.fault(&key, Fault::ErrorPage { status: 200, content_type: "application/xml".into(), body }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "integrity", "not a zip archive")?;
            Ok("integrity: not a zip, first bytes shown".into())
        }},
        FaultCase { name: "html-page-as-object", fault: "200 with an HTML page", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::ErrorPage { status: 200, content_type: "text/html".into(), body: "<html><body>Captive portal</body></html>".into() }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "integrity", "<html>")?;
            Ok("integrity: not a zip, first bytes shown".into())
        }},
        FaultCase { name: "html-403-from-a-proxy", fault: "403 with an HTML page", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::ErrorPage { status: 403, content_type: "text/html".into(), body: "<html>Forbidden by proxy</html>".into() }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "access-denied", "not an OBS error document")?;
            ensure!(c.gets(&key).len() == 1, "a 403 was retried");
            Ok("access-denied at once, never retried".into())
        }},
        FaultCase { name: "huge-headers-under-limit", fault: "16 KiB of extra headers", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::HugeHeaders { bytes: 16 << 10 }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            Ok("survived".into())
        }},
        FaultCase { name: "huge-headers-256k", fault: "256 KiB of extra headers (max-header-bytes 64 KiB)", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::HugeHeaders { bytes: 256 << 10 }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "network", "max-header-bytes")?;
            Ok(format!("network after {} attempts: the host names limits.max-header-bytes", c.gets(&key).len()))
        }},
        FaultCase { name: "huge-headers-1m", fault: "1 MiB of extra headers", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::HugeHeaders { bytes: 1 << 20 }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "network", "HttpProtocolError")?;
            // The client reports an oversized head as a protocol error, retried like one.
            ensure!(c.gets(&key).len() as u64 == MAX_RETRIES + 1, "{} GETs", c.gets(&key).len());
            Ok(format!("network after {} attempts: HTTP protocol error", MAX_RETRIES + 1))
        }},
        FaultCase { name: "wrong-crc64", fault: "x-obs-checksum-crc64ecma that does not match", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::WrongCrc64, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "integrity", "mismatch")?;
            Ok("integrity: CRC-64 mismatch".into())
        }},
        FaultCase { name: "wrong-etag", fault: "ETag that is not the MD5", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::WrongEtag, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            failed(&v, &parent, "integrity", "mismatch")?;
            Ok("integrity: MD5 mismatch".into())
        }},
        FaultCase { name: "range-answered-200", fault: "reset once, then the Range request answered 200", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Reset { after_bytes: 50_000 }, Some(1));
            c.fault(&key, Fault::IgnoreRange, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            ensure!(c.gets(&key).iter().any(|r| r.range.is_some() && r.status == 200), "{:?}", c.gets(&key));
            ensure!(v["verified"] == "md5-etag", "{v}");
            Ok("survived: started over with the full body, MD5 verified".into())
        }},
        FaultCase { name: "range-etag-changed", fault: "reset once, then the object's ETag changes for the Range request", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Reset { after_bytes: 50_000 }, Some(1));
            c.fault(&key, Fault::ChangeEtagOnResume, Some(1));
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            survived(&v, &parent)?;
            let gets = c.gets(&key);
            let failed_at = gets.iter().position(|r| r.status == 412).ok_or_else(|| format!("no If-Match failure: {gets:?}"))?;
            // Starting over means asking without If-Match: the old ETag no longer holds.
            let restarted = gets[failed_at + 1..].iter().any(|r| r.if_match.is_none() && matches!(r.status, 200 | 206));
            ensure!(restarted, "not restarted after the 412: {gets:?}");
            Ok("survived: If-Match 412, started over without If-Match".into())
        }},
        FaultCase { name: "clock-skew", fault: "server clock 1 hour ahead", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::DateSkew { secs: 3600 }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "bad-credentials", "clock")?;
            store_details(err, "RequestTimeTooSkewed", 403)?;
            ensure!(c.gets(&key).len() == 1, "{} GETs", c.gets(&key).len());
            Ok("bad-credentials at once: RequestTimeTooSkewed, fix the clock".into())
        }},
        FaultCase { name: "not-found", fault: "no such key", check: |c, n| {
            let key = Ctx::key(n);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "not-found", "NoSuchKey")?;
            store_details(err, "NoSuchKey", 404)?;
            ensure!(c.gets(&key).len() == 1, "a 404 was retried");
            Ok("not-found at once: NoSuchKey + request id".into())
        }},
        FaultCase { name: "access-denied", fault: "403 AccessDenied", check: |c, n| {
            let key = c.put(n);
            c.fault(&key, Fault::Error { status: 403, code: "AccessDenied".into(), message: Some("Access Denied".into()), retry_after_secs: None }, None);
            let (_, v, _, parent) = c.unpack(&c.e, &key, n);
            let err = failed(&v, &parent, "access-denied", "AccessDenied")?;
            store_details(err, "AccessDenied", 403)?;
            ensure!(c.gets(&key).len() == 1, "a 403 was retried");
            Ok("access-denied at once: AccessDenied + request id".into())
        }},
    ]
}

fn faulty_env(fx: &ObsFixture, extra_config: &str) -> Env {
    let mut e = obs_env(fx);
    e.write_config(&format!("{CONFIG}{extra_config}"));
    e.set("OBS_MAX_RETRIES", MAX_RETRIES.to_string())
        .set("OBS_CONNECT_TIMEOUT_SECS", "2")
        .set("OBS_FIRST_BYTE_TIMEOUT_SECS", "3")
        .set("OBS_BETWEEN_BYTES_TIMEOUT_SECS", "1");
    e
}

#[test]
fn hostile_servers_are_survived_or_fail_fast_and_clean() {
    let fx = ObsFixture::start();
    let foreign = ObsFixture::start();
    let e = faulty_env(&fx, "");
    let allowed = format!("\n[plugins.obs]\nextra-allow-hosts = [\"{}\"]\n", foreign.server.local_addr());
    let e_foreign_allowed = faulty_env(&fx, &allowed);
    let ctx = Ctx { fx, foreign, e, e_foreign_allowed, package: package() };
    let cases = cases();
    let rows = on_two_threads(&cases, |c| (c.fault, (c.check)(&ctx, c.name)));
    let mut table = String::from("| fault | outcome |\n|---|---|\n");
    for (fault, verdict) in &rows {
        match verdict {
            Ok(outcome) => table.push_str(&format!("| {fault} | {outcome} |\n")),
            Err(why) => table.push_str(&format!("| {fault} | WRONG: {why} |\n")),
        }
    }
    eprintln!("{table}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-servers.md"), &table);
    let wrong: Vec<String> = rows.iter().zip(&cases).filter_map(|((_, v), c)| v.as_ref().err().map(|e| format!("{}: {e}", c.name))).collect();
    assert!(wrong.is_empty(), "{} of {} faults ended wrongly:\n{}", wrong.len(), rows.len(), wrong.join("\n"));
}
