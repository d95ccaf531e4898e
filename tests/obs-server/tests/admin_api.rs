//! The JSON admin API over HTTP.

mod common;

use common::{End, Req, admin, start_default};
use serde_json::{Value, json};


#[tokio::test]
async fn faults_round_trip_through_json() {
    let server = start_default().await;
    let (status, created) = admin(
        &server,
        "POST",
        "/faults",
        Some(json!({"bucket": "pub-b", "key": "a b.zip", "times": 1, "fault": {"kind": "reset", "after_bytes": 100}})),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_u64().unwrap();
    let (_, listed) = admin(&server, "GET", "/faults", None).await;
    assert_eq!(listed["faults"][0]["id"].as_u64(), Some(id));
    assert_eq!(listed["faults"][0]["fault"]["kind"], "reset");
    assert_eq!(listed["faults"][0]["remaining"], 1);

    // Seed through the admin API, with a key that needs encoding.
    let put = Req::new("PUT", "/__admin/objects/pub-b/a%20b.zip")
        .header("Content-Type", "application/zip")
        .body(common::pattern(5000));
    let put = put.send(&server).await;
    assert_eq!(put.status, 200, "{}", put.text());
    let info: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(
        (info["key"].as_str(), info["size"].as_u64()),
        (Some("a b.zip"), Some(5000))
    );
    let cut = Req::new("GET", "/pub-b/a%20b.zip").send(&server).await;
    assert_eq!((cut.end, cut.body.len()), (End::Reset, 100));
    assert_eq!(cut.header("content-type"), Some("application/zip"));

    let (_, counters) = admin(&server, "GET", "/counters?bucket=pub-b&key=a%20b.zip", None).await;
    assert_eq!(counters["counters"][0]["total"], 1);
    let (_, log) = admin(&server, "GET", "/requests?bucket=pub-b", None).await;
    let entry = &log["requests"][0];
    assert_eq!(
        (entry["method"].as_str(), entry["key"].as_str()),
        (Some("GET"), Some("a b.zip"))
    );
    assert_eq!(entry["faults"], json!(["reset"]));
    assert_eq!(entry["has_authorization"], false);

    let (status, bad) = admin(
        &server,
        "POST",
        "/faults",
        Some(json!({"bucket": "pub-b", "fault": {"kind": "bogus"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("invalid fault rule")
    );
    assert_eq!(
        admin(&server, "DELETE", &format!("/faults/{id}"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        admin(&server, "DELETE", &format!("/faults/{id}"), None)
            .await
            .0,
        404
    );
    let (_, reset) = admin(&server, "POST", "/reset", None).await;
    assert_eq!(reset["ok"], true);
    let (_, log) = admin(&server, "GET", "/requests", None).await;
    assert_eq!(log["requests"], json!([]));
}

#[tokio::test]
async fn settings_switch_at_run_time() {
    let server = start_default().await;
    let (_, initial) = admin(&server, "GET", "/settings", None).await;
    assert_eq!(
        initial,
        json!({"crc64": false, "throttle_bytes_per_sec": null, "clock": {"mode": "system"}})
    );
    let (status, changed) = admin(
        &server,
        "PUT",
        "/settings",
        Some(json!({"crc64": true, "throttle_bytes_per_sec": 5000000, "clock": {"mode": "fixed", "epoch_secs": 1728976809}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(changed["crc64"], true);
    assert_eq!(server.settings().throttle_bytes_per_sec, Some(5_000_000));
    server.put_object("pub-b", "k", b"abc".to_vec()).unwrap();
    let resp = Req::new("GET", "/pub-b/k").send(&server).await;
    assert!(resp.header("x-obs-checksum-crc64ecma").is_some());
    assert_eq!(resp.header("date"), Some("Tue, 15 Oct 2024 07:20:09 GMT"));
    let (_, off) = admin(
        &server,
        "PUT",
        "/settings",
        Some(json!({"throttle_bytes_per_sec": null})),
    )
    .await;
    assert_eq!(off["throttle_bytes_per_sec"], Value::Null);
    assert_eq!(off["crc64"], true, "untouched settings stay");
    assert_eq!(
        admin(&server, "PUT", "/settings", Some(json!({"crc65": true})))
            .await
            .0,
        400
    );
    assert_eq!(
        admin(
            &server,
            "PUT",
            "/settings",
            Some(json!({"throttle_bytes_per_sec": 0}))
        )
        .await
        .0,
        400
    );
    admin(&server, "POST", "/reset", None).await;
    assert_eq!(admin(&server, "GET", "/settings", None).await.1, initial);
}

#[tokio::test]
async fn buckets_and_objects_endpoints() {
    let server = start_default().await;
    let (status, _) = admin(
        &server,
        "PUT",
        "/buckets/made-public",
        Some(json!({"public_read": true})),
    )
    .await;
    assert_eq!(status, 200);
    Req::new("PUT", "/__admin/objects/made-public/x/y.txt")
        .body("hi")
        .send(&server)
        .await;
    assert_eq!(
        Req::new("GET", "/made-public/x/y.txt")
            .send(&server)
            .await
            .text(),
        "hi"
    );
    let (_, keys) = admin(&server, "GET", "/objects/made-public", None).await;
    assert_eq!(keys["keys"], json!(["x/y.txt"]));
    let (_, buckets) = admin(&server, "GET", "/buckets", None).await;
    let names: Vec<&str> = buckets["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["made-public", "priv-b", "pub-b"]);
    let (_, removed) = admin(&server, "DELETE", "/objects/made-public/x/y.txt", None).await;
    assert_eq!(removed["removed"], true);
    assert_eq!(
        admin(&server, "PUT", "/buckets/Bad_Name", None).await.0,
        400
    );
    assert_eq!(admin(&server, "GET", "/nothing-here", None).await.0, 404);
    assert_eq!(
        admin(&server, "GET", "/health", None).await.1,
        json!({"ok": true})
    );
}

#[tokio::test]
async fn admin_prefix_is_an_ordinary_key_on_a_virtual_host() {
    let server = start_default().await;
    server
        .put_object("pub-b", "__admin/health", b"just a key".to_vec())
        .unwrap();
    let resp = Req::new("GET", "/__admin/health")
        .send_host(&server, "pub-b.obs.test")
        .await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "just a key"));
    // Admin calls are not part of the request log.
    Req::new("GET", "/__admin/health").send(&server).await;
    assert_eq!(server.requests().len(), 1);
}
