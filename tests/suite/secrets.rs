//! No credential in any output: representative commands (success, not found, bad
//! credentials, every credential source, faults) at `RUST_LOG=trace`, with `--json` and
//! without, every byte of stdout and stderr scanned for the access key, secret key and
//! token. And attacker-chosen names (zip entries, object keys, server messages) reach the
//! terminal escaped.

use obs_server::{Credential, Fault, FaultRule, ServerConfig};
use scheme_host_tests::hostile::raw_zip::{zip, Entry};
use scheme_host_tests::obs::{ObsFixture, AK, SK, TOKEN};
use scheme_host_tests::{archives, wasm, Env, Run};

use crate::catalogue::obs_env;

/// A wrong secret some scenarios use: it must not be printed either.
const WRONG_SK: &str = "SKwrongSecretKeyAlsoNeverPrinted00000001";
const SECRETS: [&str; 4] = [AK, SK, TOKEN, WRONG_SK];

/// An environment sharing `warm`'s compile cache (compiling at trace level would flood the
/// log), with no credentials.
fn bare(warm: &Env, endpoint: &str) -> Env {
    let mut e = crate::env();
    e.install(wasm::OBS, "obs.wasm");
    e.set("SCHEME_HOST_CACHE_DIR", warm.cache().to_str().unwrap())
        .set("OBS_ENDPOINT", endpoint)
        .set("OBS_METADATA_DISABLED", "true")
        .set("OBS_MAX_RETRIES", "1");
    e
}

fn scan(label: &str, r: &Run) {
    for s in SECRETS {
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            assert!(!text.contains(s), "{label}: {stream} contains a credential ({} bytes of output)", text.len());
        }
    }
}

#[test]
fn no_credential_reaches_any_output_at_trace_level() {
    let fx = ObsFixture::start();
    let temp = ObsFixture::with_config(ServerConfig::default().with_credential(Credential::new(AK, SK).with_token(TOKEN)).with_bucket("ray-jobs"));
    let pkg = archives::sample_package("job");
    for key in ["s/ok.zip", "s/fault500.zip", "s/reset.zip", "s/redirect.zip"] {
        fx.put("ray-jobs", key, pkg.clone());
    }
    fx.put("ray-jobs", "s/w-1.0-py3-none-any.whl", pkg.clone());
    fx.put("public-jobs", "s/ok.zip", pkg.clone());
    temp.put("ray-jobs", "s/ok.zip", pkg.clone());
    fx.server.set_fault(FaultRule::new("ray-jobs", "s/fault500.zip", Fault::InternalError)).unwrap();
    fx.server.set_fault(FaultRule::new("ray-jobs", "s/reset.zip", Fault::Reset { after_bytes: 10_000 }).times(1)).unwrap();
    let foreign = ObsFixture::start();
    let to = format!("{}/ray-jobs/s/redirect.zip", foreign.endpoint());
    fx.server.set_fault(FaultRule::new("ray-jobs", "s/redirect.zip", Fault::Redirect { status: 307, location: to })).unwrap();

    let warm = obs_env(&fx);
    let (ep, temp_ep) = (fx.endpoint(), temp.endpoint());
    let with = |endpoint: &str, vars: &[(&str, &str)]| {
        let mut e = bare(&warm, endpoint);
        for (k, v) in vars {
            e.set(k, v);
        }
        e
    };
    let obs = [("OBS_ACCESS_KEY_ID", AK), ("OBS_SECRET_ACCESS_KEY", SK)];
    let unpack = |bucket: &str, key: &str| vec!["download-and-unpack".to_string(), format!("obs://{bucket}/{key}"), "@DEST".to_string()];
    let ok_zip = || unpack("ray-jobs", "s/ok.zip");
    let mut scenarios: Vec<(&str, Env, Vec<String>, bool)> = vec![
        ("success, OBS_* variables", with(&ep, &obs), ok_zip(), true),
        ("download a wheel", with(&ep, &obs), vec!["download".into(), "obs://ray-jobs/s/w-1.0-py3-none-any.whl".into(), "@DEST".into()], true),
        ("parse-uri", with(&ep, &obs), vec!["parse-uri".into(), "obs://ray-jobs/s/ok.zip".into()], true),
        ("schemes", with(&ep, &obs), vec!["schemes".into()], true),
        ("not found", with(&ep, &obs), unpack("ray-jobs", "s/missing.zip"), false),
        ("500 forever", with(&ep, &obs), unpack("ray-jobs", "s/fault500.zip"), false),
        ("reset mid-body, resumed", with(&ep, &obs), unpack("ray-jobs", "s/reset.zip"), true),
        ("redirect to a foreign host", with(&ep, &obs), unpack("ray-jobs", "s/redirect.zip"), false),
        ("wrong secret (SignatureDoesNotMatch)", with(&ep, &[("OBS_ACCESS_KEY_ID", AK), ("OBS_SECRET_ACCESS_KEY", WRONG_SK)]), ok_zip(), false),
        ("HUAWEICLOUD_SDK_* variables", with(&ep, &[("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)]), ok_zip(), true),
        ("temporary credentials with token", with(&temp_ep, &[obs[0], obs[1], ("OBS_SECURITY_TOKEN", TOKEN)]), ok_zip(), true),
        ("temporary credentials without token", with(&temp_ep, &obs), ok_zip(), false),
        ("anonymous, public bucket", with(&ep, &[]), unpack("public-jobs", "s/ok.zip"), true),
        ("anonymous, private bucket", with(&ep, &[]), ok_zip(), false),
    ];
    let e = with(&ep, &[]);
    std::fs::write(e.home().join(".obsutilconfig"), format!("endpoint=http://your-endpoint\nak={AK}\nsk={SK}\n")).unwrap();
    scenarios.push(("obsutil config", e, ok_zip(), true));
    let e = with(&ep, &[]);
    std::fs::create_dir_all(e.home().join(".huaweicloud")).unwrap();
    std::fs::write(e.home().join(".huaweicloud/credentials"), format!("[basic]\nak = {AK}\nsk = {SK}\n")).unwrap();
    scenarios.push(("~/.huaweicloud/credentials", e, ok_zip(), true));
    let e = with(&ep, &[]);
    std::fs::write(e.home().join(".obsutilconfig"), format!("ak={AK}\n")).unwrap();
    scenarios.push(("half-configured obsutil (key without secret)", e, ok_zip(), false));

    let mut runs = 0;
    for (label, mut e, args, want_ok) in scenarios {
        e.set("RUST_LOG", "trace");
        for json in [true, false] {
            let dest = e.out(if json { "json" } else { "plain" });
            let dest = dest.to_str().unwrap();
            let mut a: Vec<&str> = args.iter().map(|a| if a == "@DEST" { dest } else { a.as_str() }).collect();
            if json {
                a.push("--json");
            }
            let r = e.run(&a);
            assert_eq!(r.status == 0, want_ok, "{label} (json: {json}): status {}\n{}", r.status, tail(&r.stderr));
            scan(&format!("{label} (json: {json})"), &r);
            runs += 1;
        }
    }
    assert_eq!(runs, 2 * 17);
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(2000)..]
}

/// Bytes that must never reach a terminal from attacker-chosen text.
fn assert_escaped(label: &str, r: &Run) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(!text.contains('\x1b'), "{label}: raw ESC on {stream}:\n{text}");
        assert!(!text.contains('\x07'), "{label}: raw BEL on {stream}");
        assert!(!text.contains('\u{202e}'), "{label}: raw bidi override on {stream}");
    }
}

#[test]
fn attacker_chosen_names_are_escaped_in_output() {
    let fx = ObsFixture::start();
    fx.put("ray-jobs", "esc/entry.zip", zip(&[Entry::stored("pkg/\x1b[31mred\n/../evil.py", b"x")]));
    fx.put("ray-jobs", "esc/bidi.zip", zip(&[Entry::stored("pkg/evil\u{202e}yp.exe/../x", b"x")]));
    fx.put("ray-jobs", "esc/msg.zip", archives::sample_package("m"));
    fx.server
        .set_fault(FaultRule::new(
            "ray-jobs",
            "esc/msg.zip",
            Fault::Error { status: 403, code: "AccessDenied".into(), message: Some("\x1b]0;pwned\x07 \x1b[2J denied\nforged: line".into()), retry_after_secs: None },
        ))
        .unwrap();
    let e = obs_env(&fx);
    let uris = [
        ("zip entry with ANSI and newline", "obs://ray-jobs/esc/entry.zip"),
        ("zip entry with a bidi override", "obs://ray-jobs/esc/bidi.zip"),
        ("object key with ANSI", "obs://ray-jobs/esc/\x1b[2Jevil.zip"),
        ("object key with a newline", "obs://ray-jobs/esc/a\nforged: b.zip"),
        ("object key with a bidi override", "obs://ray-jobs/esc/evil\u{202e}piz.zip"),
        ("server message with ANSI, BEL and a newline", "obs://ray-jobs/esc/msg.zip"),
    ];
    for (label, uri) in uris {
        let dest = e.out("pkg");
        let r = e.run(&["download-and-unpack", uri, dest.to_str().unwrap(), "--json"]);
        let err = r.err();
        let msg = err["message"].as_str().unwrap();
        assert!(!msg.chars().any(|c| c.is_control() || c == '\u{202e}'), "{label}: the message itself is not escaped: {msg:?}");
        assert_escaped(label, &r);
        let r = e.run(&["download-and-unpack", uri, dest.to_str().unwrap()]);
        assert_ne!(r.status, 0);
        assert_escaped(label, &r);
        let error_lines = r.stderr.lines().filter(|l| l.starts_with("error[")).count();
        assert_eq!(error_lines, 1, "{label}: {}", r.stderr);
        assert!(!r.stderr.lines().any(|l| l.starts_with("forged:") || l.starts_with("../evil")), "{label}: a forged line:\n{}", r.stderr);
        assert!(!dest.exists());
    }
}
