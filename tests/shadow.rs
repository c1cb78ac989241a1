//! Shadowing against the real legacy app: matching and mismatching native answers (counts
//! and the recorded differences), either backend as the primary, ignored and learned-noise
//! fields, POST not shadowed unless listed, and a hanging shadowed side never holding up
//! the client's answer.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn info_route(native: u32, extra: &str) -> String {
    format!("[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = {native}\nshadow = true\n{extra}")
}

fn shadow_state(banyan: &Banyan, route: &str) -> Value {
    let resp = client().get(format!("http://{}/api/shadow/{route}", banyan.admin)).send().unwrap();
    serde_json::from_str(&resp.text().unwrap()).unwrap()
}

fn count(state: &Value, outcome: &str) -> u64 {
    state["summary"]["counts"][outcome].as_u64().unwrap_or(0)
}

/// Waits until `n` copies of `route` were compared or failed.
fn settled(banyan: &Banyan, route: &str, n: u64) -> Value {
    eventually_value(Duration::from_secs(20), || {
        let s = shadow_state(banyan, route);
        (["match", "mismatch", "error"].iter().map(|o| count(&s, o)).sum::<u64>() >= n).then_some(s)
    })
    .unwrap_or_else(|| panic!("copies did not settle: {}", shadow_state(banyan, route)))
}

/// A banyan shadowing `/api/1/info` at `primary` % native, whose native handler reports
/// another version than legacy does: every comparison mismatches.
fn mismatching(legacy: &Legacy, primary: u32) -> Banyan {
    Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &info_route(primary, ""),
        config: "[rotki]\nversion = \"9.9.9\"\n",
        data_dir: Some(&legacy.data_dir),
    })
}

fn get_info(banyan: &Banyan) -> reqwest::blocking::Response {
    let resp = client().get(banyan.url("/api/1/info")).send().unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

#[test]
fn matching_answers_are_counted_and_the_client_gets_the_primary() {
    let legacy = Legacy::start();
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &info_route(0, ""),
        config: "",
        data_dir: Some(&legacy.data_dir),
    });
    for _ in 0..10 {
        assert_eq!(backend(&get_info(&banyan)), "legacy");
    }
    let state = settled(&banyan, "info", 10);
    assert_eq!((count(&state, "match"), count(&state, "mismatch")), (10, 0), "{state}");
    assert_eq!(state["summary"]["match_rate"], 1.0);
    assert_eq!(state["mismatches"], json!([]));
    let metrics = banyan.metrics();
    assert!(metrics.contains(r#"banyan_shadow_total{route="info",outcome="match"} 10"#), "{metrics}");
}

#[test]
fn a_mismatch_is_recorded_with_its_differences_then_ignored_on_request() {
    let legacy = Legacy::start();
    for primary in [0, 100] {
        let banyan = mismatching(&legacy, primary);
        for _ in 0..3 {
            get_info(&banyan);
        }
        let state = settled(&banyan, "info", 3);
        assert_eq!(count(&state, "mismatch"), 3, "{state}");
        let m = &state["mismatches"][0];
        assert_eq!(m["primary"], if primary == 0 { "legacy" } else { "native" });
        assert_eq!((m["method"].as_str(), m["target"].as_str()), (Some("GET"), Some("/api/1/info")));
        assert_eq!(
            m["differences"],
            json!([{"pointer": "/result/version/our_version", "legacy": "1.43.2", "native": "9.9.9"}]),
            "{state}"
        );

        // Ops decide the field is expected to differ, through the API like any change.
        let resp = banyan
            .admin_request(reqwest::Method::PATCH, "/api/flags/routes/info")
            .body(r#"{"shadow_ignore": ["/result/version/our_version"]}"#)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        get_info(&banyan);
        let state = settled(&banyan, "info", 4);
        assert_eq!((count(&state, "match"), count(&state, "mismatch")), (1, 3), "{state}");
    }
}

/// Every copy that gives no comparison says why: the reasons are counted per route and
/// the last one is kept with its request's id, as are mismatches; the log gets one line
/// per route per ten seconds of mismatches, not one per request.
#[test]
fn errors_say_why_and_mismatches_carry_their_request_id_with_a_quiet_log() {
    let legacy = Legacy::start();
    for primary in [0, 100] {
        let banyan = mismatching(&legacy, primary);
        // Native hands `check_for_updates` to legacy (it asks GitHub): nothing to compare.
        let r = client().get(banyan.url("/api/1/info?check_for_updates=true")).header("x-request-id", "req-upd").send();
        assert_eq!(r.unwrap().status(), 200);
        let state = settled(&banyan, "info", 1);
        assert_eq!(state["summary"]["errors"], json!({"handed_back": 1}), "{state}");
        let last = &state["summary"]["last_error"];
        assert_eq!((last["reason"].as_str(), last["request_id"].as_str()), (Some("handed_back"), Some("req-upd")));
        assert_eq!(last["target"], "/api/1/info?check_for_updates=true");
        assert!(last["detail"].as_str().unwrap().contains("hands this request to legacy"), "{last}");

        let from = banyan.log.len();
        for i in 0..5 {
            let r = client().get(banyan.url("/api/1/info")).header("x-request-id", format!("req-{i}")).send();
            assert_eq!(r.unwrap().status(), 200);
        }
        let state = settled(&banyan, "info", 6);
        // (Copies run side by side: in the order they finished.)
        let mut ids: Vec<_> =
            state["mismatches"].as_array().unwrap().iter().map(|m| m["request_id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["req-0", "req-1", "req-2", "req-3", "req-4"], "{state}");
        let line = banyan.log.wait_for(from, &["answers differ"], Duration::from_secs(5)).expect("one line");
        assert!(line.contains("route=\"info\"") && line.contains("request_id=\"req-"), "{line}");
        let logged = banyan.log.text().lines().skip(from).filter(|l| l.contains("answers differ")).count();
        assert_eq!(logged, 1, "{}", banyan.log.text());
    }
}

#[test]
fn requests_on_hypers_path_are_shadowed_too() {
    let legacy = Legacy::start();
    let banyan = mismatching(&legacy, 0);
    // HTTP/1.0 sends the request through hyper rather than the byte-level path.
    let r = raw(banyan.addr, b"GET /api/1/info HTTP/1.0\r\nHost: h\r\n\r\n");
    assert_eq!((r.status(), r.header("x-banyan-backend")), (200, Some("legacy")));
    let state = settled(&banyan, "info", 1);
    assert_eq!(state["mismatches"][0]["differences"][0]["pointer"], "/result/version/our_version", "{state}");
    // A chunked body has no length to check against the limit up front: not copied.
    raw(banyan.addr, b"GET /api/1/info HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    eventually(Duration::from_secs(10), || count(&shadow_state(&banyan, "info"), "dropped") == 1)
        .expect("counted as dropped");
}

#[test]
fn noise_is_learned_from_legacy_disagreeing_with_itself() {
    let legacy = Legacy::start_with(&["--noisy-info"]);
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &info_route(0, "shadow_noise = true\n"),
        config: "",
        data_dir: Some(&legacy.data_dir),
    });
    let from = banyan.log.len();
    // The first copy is sampled: legacy is asked twice and its message differs.
    get_info(&banyan);
    let state = settled(&banyan, "info", 1);
    assert_eq!(state["summary"]["learned_noise"], json!(["/message"]), "{state}");
    assert_eq!(count(&state, "match"), 1, "{state}");
    banyan.log.wait_for(from, &["learned noise", "/message"], Duration::from_secs(5)).expect("noise is logged");
    for _ in 0..5 {
        get_info(&banyan);
    }
    let state = settled(&banyan, "info", 6);
    assert_eq!((count(&state, "match"), count(&state, "mismatch")), (6, 0), "{state}");

    // Without learning, the same noise is a mismatch every time.
    let plain = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &info_route(0, ""),
        config: "",
        data_dir: Some(&legacy.data_dir),
    });
    get_info(&plain);
    let state = settled(&plain, "info", 1);
    assert_eq!(state["mismatches"][0]["differences"][0]["pointer"], "/message", "{state}");
}

#[test]
fn post_is_shadowed_only_when_listed() {
    let legacy = Legacy::start();
    let route = "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 0\nshadow = true\n";
    // Shadowing a POST runs it twice: banyan refuses unless it is named on purpose. (Both
    // sides read the same global.db.)
    let options = |flags| Options { legacy: legacy.url(), flags, config: "", data_dir: Some(&legacy.data_dir) };
    let (status, log) = Banyan::start_failing(options(route));
    assert!(!status.success());
    assert!(log.contains("flags.toml:5:") && log.contains("shadow_methods"), "{log}");

    let listed = format!("{route}shadow_methods = [\"POST\"]\n");
    let banyan = Banyan::start_with(options(&listed));
    let body = br#"{"limit": 5, "offset": 0}"#;
    let r = raw(
        banyan.addr,
        &request("POST", "/api/1/assets/locationmappings", &[("Content-Type", "application/json")], body),
    );
    assert_eq!(r.status(), 200);
    let state = settled(&banyan, "mappings", 1);
    assert_eq!(count(&state, "match"), 1, "{state}");
    // A request for an async task is never copied: the copy would start a second task.
    let body = br#"{"limit": 5, "offset": 0, "async_query": true}"#;
    raw(banyan.addr, &request("POST", "/api/1/assets/locationmappings", &[("Content-Type", "application/json")], body));
    let state = eventually_value(Duration::from_secs(10), || {
        let s = shadow_state(&banyan, "mappings");
        (count(&s, "dropped") == 1).then_some(s)
    })
    .expect("the async request is counted as dropped");
    assert_eq!(count(&state, "match"), 1, "{state}");
}

#[test]
fn a_hanging_shadowed_side_never_holds_up_the_client() {
    // Legacy accepts connections and never answers: every copy hangs.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hole.local_addr().unwrap();
    let held = std::thread::spawn(move || hole.incoming().take(200).filter_map(Result::ok).collect::<Vec<_>>());
    let banyan = Banyan::start_with(Options {
        legacy: format!("http://{addr}"),
        flags: &info_route(100, ""),
        config: "[legacy]\ntimeout_ms = 120000\n",
        data_dir: None,
    });
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let url = banyan.url("/api/1/info");
            std::thread::spawn(move || {
                let c = client();
                (0..25).map(|_| c.get(&url).send().unwrap().status().as_u16()).collect::<Vec<_>>()
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert_eq!(statuses.len(), 100);
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // All 100 answered while every copy still hangs: 64 in flight, the rest dropped.
    let state = shadow_state(&banyan, "info");
    assert_eq!(count(&state, "dropped"), 100 - 64, "{state}");
    assert_eq!(count(&state, "match") + count(&state, "mismatch") + count(&state, "error"), 0, "{state}");
    drop(banyan);
    drop(held);
}

#[test]
fn a_guard_trips_when_native_disagrees_with_legacy() {
    let legacy = Legacy::start();
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &guarded_info(100),
        config: "[rotki]\nversion = \"9.9.9\"\n",
        data_dir: Some(&legacy.data_dir),
    });
    for _ in 0..6 {
        assert_eq!(backend(&get_info(&banyan)), "native");
    }
    eventually(Duration::from_secs(10), || banyan.flags_state()["routes"][0]["native"] == 0.0)
        .expect("the guard rolls the route back");
    let trip = banyan.flags_state()["routes"][0]["runtime"]["last_trip"].clone();
    assert!(trip["reason"].as_str().unwrap().contains("shadow mismatch rate 100.0 %"), "{trip}");
    assert_eq!(backend(&get_info(&banyan)), "legacy");
}
