//! Real endpoints: the OBS plugin over HTTPS with virtual-hosted names (`ray-jobs.obs.test`)
//! on loopback through resolve overrides, a test CA trusted only when configured, and a
//! forwarding proxy that proves what it carried.

use crate::env;
use obs_server::addressing::Addressing;
use scheme_host_tests::obs::{ObsFixture, AK, SK};
use scheme_host_tests::proxy::{ForwardProxy, ProxyOptions};
use scheme_host_tests::tls::{https_obs, TestCa};
use scheme_host_tests::{archives, listing, Env, Run};
use std::net::Ipv4Addr;

const KEY: &str = "pkgs/job.zip";
const URI: &str = "obs://ray-jobs/pkgs/job.zip";

struct Site {
    ca: TestCa,
    fx: ObsFixture,
    zip: Vec<u8>,
}

/// An HTTPS server with a `*.obs.test` certificate from a new CA and one package.
fn site() -> Site {
    let ca = TestCa::new("scheme-host suite CA");
    let fx = https_obs(&ca);
    let zip = archives::sample_package("job");
    fx.put("ray-jobs", KEY, zip.clone());
    Site { ca, fx, zip }
}

impl Site {
    fn port(&self) -> u16 {
        self.fx.server.port()
    }

    /// The plugin pointed at `https://<domain>:<port>` with the test credentials; nothing
    /// about trust, resolution or proxies yet.
    fn env(&self, domain: &str) -> Env {
        let mut e = env();
        e.install(scheme_host_tests::wasm::OBS, "obs.wasm");
        e.set("OBS_ENDPOINT", format!("https://{domain}:{}", self.port()))
            .set("OBS_ACCESS_KEY_ID", AK)
            .set("OBS_SECRET_ACCESS_KEY", SK)
            .set("OBS_METADATA_DISABLED", "true");
        e
    }

    /// `SCHEME_HOST_RESOLVE` sending every bucket of `domain` on this port to loopback.
    fn resolve_env(&self, e: &mut Env, domain: &str) {
        e.set("SCHEME_HOST_RESOLVE", format!("*.{domain}:{}:127.0.0.1", self.port()));
    }

    fn ca_file(&self, e: &Env) -> String {
        self.ca.write_pem(&e.path("ca.pem")).to_str().unwrap().to_string()
    }

    /// Checks the package arrived whole, by virtual-hosted addressing, over this server.
    fn assert_downloaded(&self, e: &Env, run: &Run, dest: &str) {
        let v = run.ok();
        assert_eq!(v["bytes_downloaded"], self.zip.len() as u64);
        assert!(e.out(dest).join("main.py").is_file());
        let gets: Vec<_> = self.fx.server.requests().into_iter().filter(|r| r.method == "GET").collect();
        assert!(!gets.is_empty(), "the server saw no GET");
        for r in gets {
            assert_eq!(r.addressing, Some(Addressing::VirtualHost), "{r:?}");
            assert_eq!(r.host.as_deref(), Some(format!("ray-jobs.obs.test:{}", self.port()).as_str()));
        }
    }
}

fn unpack(e: &Env, dest: &str) -> Run {
    e.run(&["download-and-unpack", URI, e.out(dest).to_str().unwrap(), "--json"])
}

fn message(err: &serde_json::Value) -> String {
    err["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn https_with_the_ca_in_the_config_and_resolve_in_the_config() {
    let s = site();
    let mut e = s.env("obs.test");
    let ca = s.ca_file(&e);
    e.write_config(&format!("[tls]\nca-bundle = \"{ca}\"\n[resolve]\n\"ray-jobs.obs.test:{}\" = \"127.0.0.1\"\n", s.port()));
    s.assert_downloaded(&e, &unpack(&e, "pkg"), "pkg");
}

#[test]
fn https_with_the_ca_in_ssl_cert_file() {
    let s = site();
    let mut e = s.env("obs.test");
    s.resolve_env(&mut e, "obs.test");
    let ca = s.ca_file(&e);
    e.set("SSL_CERT_FILE", ca);
    s.assert_downloaded(&e, &unpack(&e, "pkg"), "pkg");
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_naming_the_host() {
    let s = site();
    let mut e = s.env("obs.test");
    s.resolve_env(&mut e, "obs.test");
    let authority = format!("ray-jobs.obs.test:{}", s.port());
    // Nothing configured: the system store (or the bundled roots) cannot know a new CA.
    let err = unpack(&e, "none").err();
    let msg = message(&err);
    assert_eq!(err["kind"], "network", "{err:#}");
    assert!(msg.contains(&format!("TLS certificate of {authority} is not trusted")), "{msg}");
    assert!(msg.contains("[tls] ca-bundle") && msg.contains("SSL_CERT_FILE"), "the fix is named: {msg}");
    // Another CA configured: still untrusted, and the message says which roots were used.
    let other = TestCa::new("some other CA");
    let path = other.write_pem(&e.path("other.pem"));
    e.set("SSL_CERT_FILE", path.to_str().unwrap());
    let msg = message(&unpack(&e, "other").err());
    assert!(msg.contains(&format!("TLS certificate of {authority} is not trusted")) && msg.contains("trusted roots: SSL_CERT_FILE"), "{msg}");
    assert!(listing(&e.path("out")).is_empty());
    assert!(s.fx.server.requests().is_empty(), "no request may be sent over an unverified connection");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let s = site();
    // The server's certificate covers *.obs.test; the plugin asks for ray-jobs.obs.example.
    let mut e = s.env("obs.example");
    s.resolve_env(&mut e, "obs.example");
    let ca = s.ca_file(&e);
    e.set("SSL_CERT_FILE", ca);
    let err = unpack(&e, "pkg").err();
    let msg = message(&err);
    assert!(msg.contains(&format!("TLS certificate of ray-jobs.obs.example:{} is not valid for that name", s.port())), "{msg}");
    assert!(msg.contains("it is only valid for *.obs.test, obs.test"), "the names it does cover are shown: {msg}");
    assert!(s.fx.server.requests().is_empty());
}

#[test]
fn https_goes_through_a_proxy_with_connect() {
    let s = site();
    // Only the proxy knows where obs.test is: the host has no resolve override.
    let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()));
    for (i, var) in ["HTTPS_PROXY", "https_proxy"].into_iter().enumerate() {
        let mut e = s.env("obs.test");
        let ca = s.ca_file(&e);
        e.set("SSL_CERT_FILE", ca).set(var, proxy.url());
        s.assert_downloaded(&e, &unpack(&e, "pkg"), "pkg");
        let records = proxy.records();
        assert!(records.len() > i, "{var} was not used: {records:?}");
    }
    let records = proxy.records();
    assert!(records.iter().all(|r| r.method == "CONNECT" && r.target == format!("ray-jobs.obs.test:{}", s.port()) && r.status == 200), "{records:?}");
}

#[test]
fn proxy_credentials_are_sent_and_never_shown() {
    let s = site();
    let password = "pr0xy:S3cret@value";
    let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()).requiring("ray", password));
    let mut e = s.env("obs.test");
    let ca = s.ca_file(&e);
    e.set("SSL_CERT_FILE", ca).set("HTTPS_PROXY", proxy.url_with("ray", password)).set("RUST_LOG", "scheme_host=trace,wasmtime_wasi_http=trace,hyper=trace,rustls=debug");
    let run = unpack(&e, "pkg");
    s.assert_downloaded(&e, &run, "pkg");
    assert!(proxy.records().iter().all(|r| r.had_credentials && r.status == 200), "{:?}", proxy.records());
    let leaks = |r: &Run| r.stdout.contains("S3cret") || r.stderr.contains("S3cret") || r.stderr.contains("pr0xy");
    assert!(!leaks(&run), "the proxy password leaked:\n{}", run.stderr);

    e.set("HTTPS_PROXY", proxy.url_with("ray", "wrong-S3cret"));
    let run = unpack(&e, "wrong");
    let msg = message(&run.err());
    assert!(msg.contains(&format!("refused the tunnel to ray-jobs.obs.test:{}: 407", s.port())) && msg.contains("from HTTPS_PROXY"), "{msg}");
    assert!(!leaks(&run), "the proxy password leaked:\n{}\n{}", run.stdout, run.stderr);

    e.set("HTTPS_PROXY", format!("socks5://ray:{password}@127.0.0.1:1"));
    let run = unpack(&e, "socks");
    let err = run.err();
    assert_eq!(err["kind"], "config", "{err:#}");
    assert!(message(&err).contains("HTTPS_PROXY"), "{err:#}");
    assert!(!leaks(&run));
}

#[test]
fn plain_http_goes_through_a_proxy_in_absolute_form_with_credentials() {
    let fx = ObsFixture::start();
    let zip = archives::sample_package("job");
    fx.put("ray-jobs", KEY, zip.clone());
    let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()).requiring("ray", "Plain-S3cret"));
    let mut e = env();
    e.install(scheme_host_tests::wasm::OBS, "obs.wasm");
    let port = fx.server.port();
    e.set("OBS_ENDPOINT", format!("http://obs.test:{port}"))
        .set("OBS_ACCESS_KEY_ID", AK)
        .set("OBS_SECRET_ACCESS_KEY", SK)
        .set("OBS_METADATA_DISABLED", "true")
        .set("http_proxy", proxy.url_with("ray", "Plain-S3cret"))
        .set("RUST_LOG", "scheme_host=trace,wasmtime_wasi_http=trace,hyper=trace");
    let run = unpack(&e, "pkg");
    let v = run.ok();
    assert_eq!(v["bytes_downloaded"], zip.len() as u64);
    assert!(!run.stdout.contains("S3cret") && !run.stderr.contains("S3cret"), "the proxy password leaked:\n{}", run.stderr);
    let records = proxy.records();
    assert!(!records.is_empty());
    assert!(
        records.iter().all(|r| r.method == "GET" && r.target.starts_with(&format!("http://ray-jobs.obs.test:{port}/")) && r.had_credentials && r.status == 200),
        "{records:?}"
    );
    assert!(fx.server.requests().iter().all(|r| r.addressing == Some(Addressing::VirtualHost)));
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let s = site();
    let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()));
    for (tag, no_proxy) in [("domain", ".obs.test"), ("host-port", &*format!("ray-jobs.obs.test:{}", s.port())), ("all", "*")] {
        let mut e = s.env("obs.test");
        s.resolve_env(&mut e, "obs.test");
        let ca = s.ca_file(&e);
        e.set("SSL_CERT_FILE", ca).set("HTTPS_PROXY", proxy.url()).set("NO_PROXY", no_proxy);
        s.assert_downloaded(&e, &unpack(&e, tag), tag);
    }
    assert_eq!(proxy.records(), vec![], "NO_PROXY must bypass the proxy");
    // Control: an exception for another domain leaves the proxy in use.
    let mut e = s.env("obs.test");
    let ca = s.ca_file(&e);
    e.set("SSL_CERT_FILE", ca).set("HTTPS_PROXY", proxy.url()).set("no_proxy", "obs.example,10.0.0.0/8");
    s.assert_downloaded(&e, &unpack(&e, "control"), "control");
    assert!(!proxy.records().is_empty());
}

#[test]
fn a_denied_host_stays_denied_behind_a_proxy() {
    let s = site();
    let proxy = ForwardProxy::start(ProxyOptions::default().resolving("obs.test", Ipv4Addr::LOCALHOST.into()));
    let mut e = s.env("obs.test");
    let ca = s.ca_file(&e);
    e.set("HTTPS_PROXY", proxy.url());
    // The operator's grant replaces the plugin's declared hosts, endpoint included.
    e.write_config(&format!("[tls]\nca-bundle = \"{ca}\"\n[plugins.obs]\nallow-hosts = [\"*.myhuaweicloud.com\"]\n"));
    let msg = message(&unpack(&e, "pkg").err());
    assert!(msg.contains(&format!("denied connections to ray-jobs.obs.test:{}", s.port())), "{msg}");
    assert_eq!(proxy.records(), vec![], "a denied request must not reach the proxy");
    assert!(s.fx.server.requests().is_empty());
}
