//! Every fault, observed on the wire with a raw client.

mod common;

use std::time::Duration;

use common::{AK, End, Req, SK, start_default};
use obs_server::{Fault, FaultRule, crc64_xz};

const SIZE: usize = 300_000;

async fn server_with_object() -> (obs_server::ServerHandle, Vec<u8>) {
    let server = start_default().await;
    let data = common::pattern(SIZE);
    server.put_object("pub-b", "obj.zip", data.clone()).unwrap();
    (server, data)
}

fn get() -> Req {
    Req::new("GET", "/pub-b/obj.zip")
}

#[tokio::test]
async fn slow_down_then_success_with_retry_after() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(
            FaultRule::new(
                "pub-b",
                "obj.zip",
                Fault::SlowDown {
                    retry_after_secs: Some(2),
                },
            )
            .times(2),
        )
        .unwrap();
    for _ in 0..2 {
        let resp = get().send(&server).await;
        assert_eq!(
            (resp.status, resp.xml("Code").as_deref()),
            (503, Some("SlowDown"))
        );
        assert_eq!(resp.header("retry-after"), Some("2"));
        assert!(resp.xml("RequestId").is_some());
    }
    let ok = get().send(&server).await;
    assert_eq!((ok.status, ok.body.len()), (200, data.len()));
    let counter = server.counter("pub-b", Some("obj.zip"));
    assert_eq!((counter.total, counter.by_method["GET"]), (3, 3));
    let faults = server.faults();
    assert_eq!((faults[0].remaining, faults[0].applied), (Some(0), 2));
}

#[tokio::test]
async fn internal_error_forever_and_proxy_pages() {
    let (server, _) = server_with_object().await;
    let id = server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::InternalError))
        .unwrap();
    for _ in 0..5 {
        let resp = get().send(&server).await;
        assert_eq!(
            (resp.status, resp.xml("Code").as_deref()),
            (500, Some("InternalError"))
        );
    }
    assert!(server.remove_fault(id));
    for (fault, status) in [(Fault::BadGateway, 502), (Fault::GatewayTimeout, 504)] {
        server
            .set_fault(FaultRule::new("pub-b", "obj.zip", fault).times(1))
            .unwrap();
        let resp = get().send(&server).await;
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("content-type"), Some("text/html"));
        assert!(resp.text().contains("<html>") && resp.text().contains(&status.to_string()));
    }
    let custom = Fault::Error {
        status: 429,
        code: "TooManyRequests".into(),
        message: None,
        retry_after_secs: Some(1),
    };
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", custom).times(1))
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!(
        (
            resp.status,
            resp.xml("Code").as_deref(),
            resp.header("retry-after")
        ),
        (429, Some("TooManyRequests"), Some("1"))
    );
    assert_eq!(get().send(&server).await.status, 200);
}

#[tokio::test]
async fn short_body_closes_before_content_length() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::ShortBody { bytes: 1000 }).times(1))
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_length(), Some(SIZE));
    assert_eq!(resp.body, &data[..1000]);
    assert_eq!(resp.end, End::Eof);
    assert_eq!(
        get().send(&server).await.body.len(),
        SIZE,
        "count exhausted"
    );
}

#[tokio::test]
async fn long_body_sends_bytes_past_content_length() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(
            FaultRule::new("pub-b", "obj.zip", Fault::LongBody { extra_bytes: 777 }).times(1),
        )
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!(resp.content_length(), Some(SIZE));
    assert_eq!(resp.body.len(), SIZE + 777);
    assert_eq!(&resp.body[..SIZE], &data[..]);
    assert!(resp.body[SIZE..].starts_with(b"EXTRA-BYTES"));
    assert_eq!(resp.header("connection"), Some("close"));
}

#[tokio::test]
async fn reset_mid_body_after_n_bytes() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::Reset { after_bytes: 4096 }).times(1))
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!(resp.end, End::Reset, "connection must end with RST");
    assert_eq!(resp.body, &data[..4096]);
    let again = get().send(&server).await;
    assert_eq!((again.end, again.body.len()), (End::Eof, SIZE));
}

#[tokio::test]
async fn stall_mid_body() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(
            FaultRule::new(
                "pub-b",
                "obj.zip",
                Fault::Stall {
                    after_bytes: 1000,
                    millis: 700,
                },
            )
            .times(1),
        )
        .unwrap();
    let resp = get().send(&server).await;
    assert!(
        resp.elapsed >= Duration::from_millis(700),
        "{:?}",
        resp.elapsed
    );
    assert_eq!(resp.body, data);
}

#[tokio::test]
async fn throttle_per_key_and_global() {
    let server = start_default().await;
    server
        .put_object("pub-b", "t", common::pattern(60_000))
        .unwrap();
    // 60 kB at 50 kB/s: at least 1.15 s once the first slice has gone out.
    server
        .set_fault(
            FaultRule::new(
                "pub-b",
                "t",
                Fault::Throttle {
                    bytes_per_sec: 50_000,
                },
            )
            .times(1),
        )
        .unwrap();
    let slow = Req::new("GET", "/pub-b/t").send(&server).await;
    assert_eq!(slow.body.len(), 60_000);
    assert!(
        slow.elapsed >= Duration::from_millis(1_150),
        "{:?}",
        slow.elapsed
    );
    let fast = Req::new("GET", "/pub-b/t").send(&server).await;
    assert!(
        fast.elapsed < Duration::from_millis(600),
        "{:?}",
        fast.elapsed
    );
    server.set_throttle(Some(50_000)).unwrap();
    let global = Req::new("GET", "/pub-b/t").send(&server).await;
    assert!(
        global.elapsed >= Duration::from_millis(1_150),
        "{:?}",
        global.elapsed
    );
}

#[tokio::test]
async fn redirects_carry_location() {
    let (server, _) = server_with_object().await;
    let foreign = "http://foreign.example.invalid:9/pub-b/obj.zip";
    server
        .set_fault(
            FaultRule::new(
                "pub-b",
                "obj.zip",
                Fault::Redirect {
                    status: 307,
                    location: foreign.into(),
                },
            )
            .times(1),
        )
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!((resp.status, resp.header("location")), (307, Some(foreign)));
    assert_eq!(resp.xml("Code").as_deref(), Some("TemporaryRedirect"));
    server
        .set_fault(
            FaultRule::new(
                "pub-b",
                "obj.zip",
                Fault::Redirect {
                    status: 301,
                    location: "/elsewhere".into(),
                },
            )
            .times(1),
        )
        .unwrap();
    let moved = get().send(&server).await;
    assert_eq!(
        (moved.status, moved.xml("Code").as_deref()),
        (301, Some("PermanentRedirect"))
    );
}

#[tokio::test]
async fn error_page_served_as_the_object() {
    let (server, _) = server_with_object().await;
    let page = "<html><body>Proxy login required</body></html>";
    server
        .set_fault(FaultRule::new(
            "pub-b",
            "obj.zip",
            Fault::ErrorPage {
                status: 200,
                content_type: "text/html".into(),
                body: page.into(),
            },
        ))
        .unwrap();
    let resp = get().send(&server).await;
    assert_eq!(
        (
            resp.status,
            resp.text().as_str(),
            resp.header("content-type")
        ),
        (200, page, Some("text/html"))
    );
}

#[tokio::test]
async fn huge_headers() {
    let (server, _) = server_with_object().await;
    server
        .set_fault(
            FaultRule::new("pub-b", "obj.zip", Fault::HugeHeaders { bytes: 200_000 }).times(1),
        )
        .unwrap();
    let resp = get().send(&server).await;
    let header_bytes: usize = resp.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(header_bytes >= 200_000, "{header_bytes}");
    assert_eq!(resp.body.len(), SIZE);
}

#[tokio::test]
async fn wrong_checksums() {
    let (server, data) = server_with_object().await;
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::WrongCrc64).times(1))
        .unwrap();
    let resp = get().send(&server).await;
    let sent: u64 = resp
        .header("x-obs-checksum-crc64ecma")
        .expect("crc header")
        .parse()
        .unwrap();
    assert_ne!(sent, crc64_xz(&data));
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::WrongEtag).times(1))
        .unwrap();
    let wrong = get().send(&server).await;
    let right = get().send(&server).await;
    assert_ne!(wrong.header("etag"), right.header("etag"));
    assert_eq!(wrong.body, right.body);
}

#[tokio::test]
async fn range_ignored_or_etag_changed_on_resume() {
    let (server, data) = server_with_object().await;
    let etag = get()
        .send(&server)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::IgnoreRange).times(1))
        .unwrap();
    // The fault waits for a ranged request; this plain GET does not consume it.
    assert_eq!(get().send(&server).await.status, 200);
    let ignored = get()
        .header("Range", "bytes=100-")
        .header("If-Match", &etag)
        .send(&server)
        .await;
    assert_eq!((ignored.status, ignored.body.len()), (200, SIZE));
    assert_eq!(ignored.header("content-range"), None);

    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::ChangeEtagOnResume).times(2))
        .unwrap();
    let resumed = get()
        .header("Range", "bytes=100-")
        .header("If-Match", &etag)
        .send(&server)
        .await;
    assert_eq!(
        (resumed.status, resumed.xml("Code").as_deref()),
        (412, Some("PreconditionFailed"))
    );
    let unconditional = get().header("Range", "bytes=100-").send(&server).await;
    assert_eq!(unconditional.status, 206);
    assert_ne!(unconditional.header("etag"), Some(etag.as_str()));
    assert_eq!(unconditional.body, &data[100..]);
}

#[tokio::test]
async fn date_skew_shows_in_date_and_in_auth() {
    let server = start_default().await;
    server.put_object("priv-b", "k", b"v".to_vec()).unwrap();
    server
        .set_fault(FaultRule::new("priv-b", "k", Fault::DateSkew { secs: 3600 }).times(1))
        .unwrap();
    let resp = Req::new("GET", "/priv-b/k")
        .signed("OBS", AK, SK, "/priv-b/k")
        .send(&server)
        .await;
    assert_eq!(
        (resp.status, resp.xml("Code").as_deref()),
        (403, Some("RequestTimeTooSkewed"))
    );
    let server_date = httpdate::parse_http_date(resp.header("date").unwrap()).unwrap();
    let ahead = server_date
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(ahead > Duration::from_secs(3500), "{ahead:?}");
    let ok = Req::new("GET", "/priv-b/k")
        .signed("OBS", AK, SK, "/priv-b/k")
        .send(&server)
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn method_filter_bucket_wide_rules_and_request_log() {
    let (server, _) = server_with_object().await;
    server.put_object("pub-b", "other", b"o".to_vec()).unwrap();
    let rule = FaultRule {
        bucket: "pub-b".into(),
        key: None,
        methods: Some(vec!["HEAD".into()]),
        times: None,
        fault: Fault::InternalError,
    };
    server.set_fault(rule).unwrap();
    assert_eq!(
        Req::new("HEAD", "/pub-b/other").send(&server).await.status,
        500
    );
    assert_eq!(
        Req::new("HEAD", "/pub-b/obj.zip")
            .send(&server)
            .await
            .status,
        500
    );
    assert_eq!(
        Req::new("GET", "/pub-b/other").send(&server).await.status,
        200
    );
    server.clear_faults();
    server
        .set_fault(FaultRule::new("pub-b", "obj.zip", Fault::Reset { after_bytes: 10 }).times(1))
        .unwrap();
    // HEAD carries no body: the reset stays armed for the GET.
    assert_eq!(
        Req::new("HEAD", "/pub-b/obj.zip")
            .send(&server)
            .await
            .status,
        200
    );
    let cut = get().header("Range", "bytes=5-").send(&server).await;
    assert_eq!(cut.end, End::Reset);
    let last = server.requests().into_iter().last().unwrap();
    assert_eq!(last.range.as_deref(), Some("bytes=5-"));
    assert_eq!(last.faults, vec!["reset".to_string()]);
    assert_eq!(last.status, 206);
    assert!(!last.has_authorization);
    server.reset();
    assert!(
        server.requests().is_empty() && server.faults().is_empty() && server.counters().is_empty()
    );
}
