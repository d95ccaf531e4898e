//! The request rate limiter over real HTTP: concurrent clients see a mix of 200 and
//! 503 `SlowDown` at about the configured rate, and the statistics count both, per client.

mod common;

use std::time::{Duration, Instant};

use common::sigv4::{AT_UNIX, EMPTY_SHA256};
use common::{AK, RawResponse, Req, SK, admin, start_default};
use obs_server::{ClockSetting, Credential, ObsServer, RateLimit, ServerConfig, ServerHandle};
use serde_json::{Value, json};

const AK2: &str = "AKSECONDCLIENT000001";
const SK2: &str = "SKsecondClientSecret00000000000000000001";

async fn start(limit: RateLimit) -> ServerHandle {
    let server = ObsServer::start(
        ServerConfig::default()
            .with_credential(Credential::new(AK, SK))
            .with_credential(Credential::new(AK2, SK2))
            .with_bucket("priv-b")
            .with_rate_limit(limit),
    )
    .await
    .expect("server starts");
    server
        .put_object("priv-b", "k.zip", b"payload".to_vec())
        .unwrap();
    server
}

fn get_as(ak: &str, sk: &str) -> Req {
    Req::new("GET", "/priv-b/k.zip").signed("OBS", ak, sk, "/priv-b/k.zip")
}

fn assert_slow_down(resp: &RawResponse, request_id_header: &str) {
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert_eq!(resp.xml("Code").as_deref(), Some("SlowDown"));
    assert_eq!(
        resp.xml("Message").as_deref(),
        Some("Please reduce your request rate.")
    );
    assert!(resp.header(request_id_header).is_some());
    assert_eq!(
        resp.xml("RequestId").as_deref(),
        resp.header(request_id_header)
    );
}

#[tokio::test]
async fn concurrent_clients_are_held_to_the_rate() {
    const RATE: f64 = 20.0;
    const BURST: u32 = 5;
    const CLIENTS: usize = 8;
    let server = start(RateLimit::new(RATE, BURST).with_retry_after(2)).await;
    let addr = server.local_addr();
    let started = Instant::now();
    let run_for = Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        // Half the clients sign with each access key.
        let (ak, sk) = if client % 2 == 0 {
            (AK, SK)
        } else {
            (AK2, SK2)
        };
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while started.elapsed() < run_for {
                let req = get_as(ak, sk);
                let resp = common::send_raw(addr, &req.to_bytes(&addr.to_string())).await;
                seen.push((ak, resp));
            }
            seen
        }));
    }
    let mut responses = Vec::new();
    for task in tasks {
        responses.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = responses.iter().filter(|(_, r)| r.status == 200).count();
    let throttled: Vec<_> = responses.iter().filter(|(_, r)| r.status == 503).collect();
    assert_eq!(
        ok + throttled.len(),
        responses.len(),
        "only 200 and 503 expected"
    );
    // The bucket admits its burst plus the rate over the time the clients ran.
    let expected = f64::from(BURST) + RATE * elapsed;
    eprintln!(
        "rate limit {RATE}/s burst {BURST}: {ok} served, {} throttled in {elapsed:.2}s \
         (expected about {expected:.1} served)",
        throttled.len()
    );
    assert!(
        (ok as f64) <= expected + 1.0 && (ok as f64) >= expected * 0.75,
        "{ok} admitted in {elapsed:.2}s, expected about {expected:.1}"
    );
    assert!(
        throttled.len() > ok,
        "the clients must outpace the limit: {} throttled",
        throttled.len()
    );
    for (_, resp) in &throttled {
        assert_slow_down(resp, "x-obs-request-id");
        assert_eq!(resp.header("retry-after"), Some("2"));
    }

    // The statistics count exactly what the clients saw, in total and per client.
    let stats = server.rate_stats();
    assert_eq!(
        (stats.total.served, stats.total.throttled),
        (ok as u64, throttled.len() as u64)
    );
    for ak in [AK, AK2] {
        let mine: Vec<_> = responses.iter().filter(|(k, _)| *k == ak).collect();
        let mine_ok = mine.iter().filter(|(_, r)| r.status == 200).count() as u64;
        let counted = stats.by_access_key[ak];
        assert_eq!(
            (counted.served, counted.throttled),
            (mine_ok, mine.len() as u64 - mine_ok)
        );
    }
    assert_eq!(stats.by_peer["127.0.0.1"], stats.total);
    let flagged = server.requests().iter().filter(|r| r.rate_limited).count();
    assert_eq!(flagged, throttled.len());
}

#[tokio::test]
async fn throttled_answers_speak_the_request_protocol() {
    let server = ObsServer::start(
        ServerConfig::default()
            .with_credential(Credential::new(AK, SK))
            .with_bucket("priv-b")
            .with_clock(ClockSetting::Fixed {
                epoch_secs: AT_UNIX,
            })
            // One request now, the next in 1000 s: deterministic within a test.
            .with_rate_limit(RateLimit::new(0.001, 1)),
    )
    .await
    .unwrap();
    server.put_object("priv-b", "k.zip", b"x".to_vec()).unwrap();
    let host = server.local_addr().to_string();
    let v4 = || Req::new("GET", "/priv-b/k.zip").signed_v4(AK, SK, &host, EMPTY_SHA256);
    assert_eq!(v4().send(&server).await.status, 200);
    let s3 = v4().send(&server).await;
    assert_slow_down(&s3, "x-amz-request-id");
    assert_eq!(
        s3.header("retry-after"),
        None,
        "Retry-After is off by default"
    );
    assert_eq!(s3.header("x-obs-request-id"), None);
    // Throttling comes before authentication: even a wrong signature is just slowed down.
    let forged = Req::new("GET", "/priv-b/k.zip")
        .signed_v4(AK, "wrong", &host, EMPTY_SHA256)
        .send(&server)
        .await;
    assert_slow_down(&forged, "x-amz-request-id");
    let anonymous = Req::new("GET", "/priv-b/k.zip").send(&server).await;
    assert_slow_down(&anonymous, "x-obs-request-id");
    assert!(
        anonymous.xml("Resource").is_some(),
        "OBS error documents name the resource"
    );
    let stats = server.rate_stats();
    assert_eq!((stats.total.served, stats.total.throttled), (1, 3));
    assert_eq!(stats.by_access_key[AK].throttled, 2);
    assert_eq!(stats.by_access_key["anonymous"].throttled, 1);

    // Off: everything passes again, and is still counted.
    server.set_rate_limit(None).unwrap();
    assert_eq!(v4().send(&server).await.status, 200);
    assert_eq!(server.rate_stats().total.served, 2);
    assert!(server.set_rate_limit(Some(RateLimit::new(1.0, 0))).is_err());
}


#[tokio::test]
async fn admin_api_sets_and_reports_the_limit() {
    let server = start_default().await;
    server.put_object("pub-b", "k.zip", b"x".to_vec()).unwrap();
    let (_, settings) = admin(&server, "GET", "/settings", None).await;
    assert_eq!(settings.get("rate_limit"), None, "off by default");

    let limit = json!({"requests_per_sec": 0.001, "burst": 2, "retry_after_secs": 7});
    let (status, changed) = admin(
        &server,
        "PUT",
        "/settings",
        Some(json!({"rate_limit": limit})),
    )
    .await;
    assert_eq!((status, &changed["rate_limit"]), (200, &limit));
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(Req::new("GET", "/pub-b/k.zip").send(&server).await.status);
        }
        out
    };
    assert_eq!(statuses, vec![200, 200, 503, 503]);
    let (_, rate) = admin(&server, "GET", "/rate", None).await;
    assert_eq!(rate["rate_limit"], limit);
    assert_eq!(
        (rate["served"].as_u64(), rate["throttled"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        rate["by_access_key"]["anonymous"],
        json!({"served": 2, "throttled": 2})
    );
    assert_eq!(
        rate["by_peer"]["127.0.0.1"],
        json!({"served": 2, "throttled": 2})
    );
    // Admin calls are neither limited nor counted.
    assert_eq!(admin(&server, "GET", "/health", None).await.0, 200);

    for bad in [
        json!({"requests_per_sec": 0, "burst": 1}),
        json!({"requests_per_sec": 1, "burst": 0}),
        json!({"rps": 1}),
    ] {
        let (status, _) = admin(
            &server,
            "PUT",
            "/settings",
            Some(json!({"rate_limit": bad})),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
    }
    let (_, off) = admin(
        &server,
        "PUT",
        "/settings",
        Some(json!({"rate_limit": null})),
    )
    .await;
    assert_eq!(off.get("rate_limit"), None);
    assert_eq!(
        Req::new("GET", "/pub-b/k.zip").send(&server).await.status,
        200
    );

    // Reset restores the configured state (no limit) and clears the counts.
    admin(
        &server,
        "PUT",
        "/settings",
        Some(json!({"rate_limit": limit})),
    )
    .await;
    admin(&server, "POST", "/reset", None).await;
    let (_, rate) = admin(&server, "GET", "/rate", None).await;
    assert_eq!(
        (rate["rate_limit"].clone(), rate["served"].as_u64()),
        (Value::Null, Some(0))
    );
}
