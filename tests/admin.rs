//! The admin API as ops use it: metrics with bounded labels, live statistics, changing a
//! route through the API (token, validation, the file kept as written, the audit trail,
//! a file managed elsewhere), the access log and request ids, and the refusal to expose
//! an unauthenticated admin listener.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::Value;

const FLAGS: &str = "# Managed by ops; comments must survive API edits.\n\
[routes.ping]\n\
path = \"/api/1/ping\"\n\
methods = [\"GET\"]\n\
native = 100   # fully native since the first rollout\n\
\n\
[routes.info]\n\
path = \"/api/1/info\"\n\
methods = [\"GET\"]\n\
native = 0\n";

fn get(url: String) -> reqwest::blocking::Response {
    client().get(url).send().unwrap()
}

fn json(resp: reqwest::blocking::Response) -> Value {
    serde_json::from_str(&resp.text().unwrap()).unwrap()
}

fn admin_json(banyan: &Banyan, path: &str) -> Value {
    json(get(format!("http://{}{path}", banyan.admin)))
}

fn metrics(banyan: &Banyan) -> String {
    let resp = get(format!("http://{}/metrics", banyan.admin));
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    resp.text().unwrap()
}

#[test]
fn metrics_count_requests_per_route_with_bounded_labels() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    for _ in 0..5 {
        assert_eq!(get(banyan.url("/api/1/ping")).status(), 200);
    }
    get(banyan.url("/api/1/info"));
    // Legacy-only traffic is labelled by rotki's rule, never by the raw path.
    get(banyan.url("/api/1/tasks/123"));
    get(banyan.url("/api/1/tasks/456"));
    get(banyan.url("/no/such/thing/f00d"));
    get(banyan.url("/no/such/thing/beef"));

    let text = metrics(&banyan);
    assert_eq!(
        sample(&text, r#"banyan_requests_total{route="ping",backend="native",code="200"}"#),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"banyan_requests_total{route="info",backend="legacy",code="200"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"banyan_request_duration_seconds_count{route="ping",backend="native"}"#),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"banyan_request_duration_seconds_bucket{le="+Inf",route="ping",backend="native"}"#),
        Some(5.0),
        "{text}"
    );
    let tasks = text.lines().filter(|l| l.contains(r#"route="/api/1/tasks/<int:task_id>""#)).count();
    assert!(tasks > 0, "{text}");
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(!text.contains("f00d") && !text.contains("/api/1/tasks/123"), "a raw path became a label:\n{text}");
    assert_eq!(sample(&text, "banyan_flags_generation"), Some(1.0));
    assert_eq!(sample(&text, r#"banyan_flags_reloads_total{outcome="rejected"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"banyan_native_share{route="ping"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"banyan_native_share{route="info"}"#), Some(0.0));
    for family in ["banyan_shadow", "banyan_guard_trips", "banyan_websocket_connections"] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }

    // A rejected reload is counted, and the last good generation keeps serving.
    banyan.write_flags("[routes.ping\n");
    eventually(Duration::from_secs(10), || {
        sample(&metrics(&banyan), r#"banyan_flags_reloads_total{outcome="rejected"}"#) == Some(1.0)
    })
    .expect("the rejected reload is counted");
    assert_eq!(sample(&metrics(&banyan), "banyan_flags_generation"), Some(1.0));
}

#[test]
fn stats_show_each_backend_over_the_sliding_window() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    for _ in 0..20 {
        get(banyan.url("/api/1/ping"));
    }
    for _ in 0..4 {
        get(banyan.url("/api/1/info"));
    }
    let stats = admin_json(&banyan, "/api/stats");
    let route = |name: &str| stats["routes"].as_array().unwrap().iter().find(|r| r["route"] == name).unwrap().clone();
    let ping = route("ping");
    assert_eq!(ping["kind"], "flags");
    assert_eq!(ping["native"]["requests"], 20);
    assert!(ping["legacy"].is_null());
    assert!(ping["native"]["rps"].as_f64().unwrap() > 0.0);
    assert_eq!(ping["native"]["error_rate"], 0.0);
    let (p50, p99) = (ping["native"]["p50_ms"].as_f64().unwrap(), ping["native"]["p99_ms"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99, "{ping}");
    assert_eq!(route("info")["legacy"]["requests"], 4);
    let share = stats["native_share"].as_f64().unwrap();
    assert!((share - 20.0 / 24.0).abs() < 1e-9, "{stats}");

    let history = admin_json(&banyan, "/api/stats/history?route=ping");
    let points = history["history"]["native"].as_array().unwrap();
    assert_eq!(points.len(), 90);
    let total: f64 = points.iter().map(|p| p["rps"].as_f64().unwrap() * 10.0).sum();
    assert!((total - 20.0).abs() < 1e-9, "{history}");
    assert_eq!(get(format!("http://{}/api/stats/history?route=nope", banyan.admin)).status(), 404);
}

#[test]
fn a_route_changes_through_the_api_as_a_file_edit_would() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    let patch = |name: &str, body: &str, token: Option<&str>| {
        let mut req = client().patch(format!("http://{}/api/flags/routes/{name}", banyan.admin)).body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, json(resp))
    };

    assert_eq!(patch("info", r#"{"native": 50}"#, None).0, 401);
    assert_eq!(patch("info", r#"{"native": 50}"#, Some("wrong-token-wrong-token")).0, 401);
    let (status, body) = patch("nope", r#"{"native": 50}"#, Some(ADMIN_TOKEN));
    assert_eq!(status, 404, "{body}");
    let (status, body) = patch("info", r#"{"native": 150}"#, Some(ADMIN_TOKEN));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("native"), "{body}");
    let (status, body) = patch("info", r#"{"natve": 10}"#, Some(ADMIN_TOKEN));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("natve"), "{body}");
    assert_eq!(std::fs::read_to_string(banyan.flags_path()).unwrap(), FLAGS, "a refused change wrote the file");
    assert_eq!(banyan.flags_state()["generation"], 1);

    let (status, body) = patch("ping", r#"{"native": 25}"#, Some(ADMIN_TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["generation"], 2);
    // The file is as ops wrote it, but for the one value (its comment kept).
    let want = FLAGS.replace("native = 100   #", "native = 25   #");
    assert_eq!(std::fs::read_to_string(banyan.flags_path()).unwrap(), want);
    assert_eq!(banyan.flags_state()["routes"][0]["native"], 25.0);

    // A file edit is recorded too, as the file's.
    banyan.write_flags(&want.replace("native = 0\n", "native = 0\ngroup = \"reads\"\n"));
    eventually(Duration::from_secs(10), || banyan.flags_state()["generation"] == 3).expect("the edit is applied");

    let audit = admin_json(&banyan, "/api/audit");
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(entries[0]["source"], "api");
    assert_eq!(entries[0]["actor"], "env");
    assert_eq!(entries[0]["generation"], 2);
    assert_eq!(
        entries[0]["changes"],
        serde_json::json!([{"route": "ping", "key": "native", "before": 100.0, "after": 25.0}])
    );
    assert_eq!(entries[1]["source"], "file");
    assert_eq!(entries[1]["actor"], Value::Null);
    assert_eq!(entries[1]["changes"][0]["key"], "group");
    // Kept as JSON lines beside the flags file, so it outlives the process.
    let lines = std::fs::read_to_string(banyan.dir.path().join("banyan-audit.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);

    // A file managed elsewhere is not written.
    let before = std::fs::read_to_string(banyan.flags_path()).unwrap();
    let mut perms = std::fs::metadata(banyan.flags_path()).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(banyan.flags_path(), perms).unwrap();
    let (status, body) = patch("ping", r#"{"native": 0}"#, Some(ADMIN_TOKEN));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("read-only"), "{body}");
    assert_eq!(std::fs::read_to_string(banyan.flags_path()).unwrap(), before);
    assert_eq!(banyan.flags_state()["generation"], 3);
    // Tokens, right or wrong, never reach the log.
    let log = banyan.log.text();
    assert!(!log.contains(ADMIN_TOKEN) && !log.contains("wrong-token-wrong-token"), "{log}");
}

#[test]
fn with_no_token_configured_every_change_is_refused() {
    let legacy = Legacy::start();
    let banyan =
        Banyan::start_without_token(Options { legacy: legacy.url(), flags: FLAGS, config: "", data_dir: None });
    let patch = banyan.admin_request(Method::PATCH, "/api/flags/routes/info").body(r#"{"native": 50}"#).send().unwrap();
    assert_eq!(patch.status(), 403);
    assert!(patch.text().unwrap().contains("no admin token is configured"));
    let notify =
        banyan.admin_request(Method::POST, "/api/notify").body(r#"{"type": "legacy", "data": {}}"#).send().unwrap();
    assert_eq!(notify.status(), 403);
    assert_eq!(std::fs::read_to_string(banyan.flags_path()).unwrap(), FLAGS);
    // Reads stay open.
    assert_eq!(get(format!("http://{}/api/flags", banyan.admin)).status(), 200);
}

#[test]
fn the_admin_listener_answers_only_to_its_own_names() {
    let legacy = Legacy::start();
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: FLAGS,
        config: "[admin]\nallowed_hosts = [\"banyan-admin.internal\"]\n",
        data_dir: None,
    });
    let get_as =
        |host: &str| raw(banyan.admin, format!("GET /api/flags HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).status();
    // A page on another site that rebinds its name to 127.0.0.1 still sends its own name.
    assert_eq!(get_as("evil.example:4243"), 421);
    for host in ["127.0.0.1:4243", "localhost:4243", "[::1]:4243", "banyan-admin.internal", "BANYAN-ADMIN.internal:80"]
    {
        assert_eq!(get_as(host), 200, "{host}");
    }
    // Two names at once is no name at all.
    let two = raw(banyan.admin, b"GET /api/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n");
    assert_eq!(two.status(), 421);
}

#[test]
fn notify_needs_a_token() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    let body = r#"{"type": "legacy", "data": {"verbosity": "warning", "msg": "maintenance at 10:00"}}"#;
    let resp = client().post(format!("http://{}/api/notify", banyan.admin)).body(body).send().unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(banyan.notify(&serde_json::from_str(body).unwrap()), 0);
}

#[test]
fn every_request_has_an_id_that_legacy_sees_and_the_access_log_names() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let from = banyan.log.len();
    let echo = json(get(banyan.url("/_test/echo?secret=1")));
    let headers = echo["result"]["headers"].as_array().unwrap();
    let id = headers.iter().find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("x-request-id")).unwrap()[1]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 32);
    let line = banyan.log.wait_for(from, &[&id], Duration::from_secs(5)).expect("an access line with the id");
    let line = line.lines().find(|l| l.contains(&id)).unwrap();
    for field in ["route=\"unmatched\"", "backend=\"legacy\"", "status=200", "path=\"/_test/echo\"", "latency_ms="] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(!line.contains("secret"), "the query was logged: {line}");
    // Latencies to the microsecond, however many requests print one.
    for _ in 0..20 {
        get(banyan.url("/_test/echo"));
    }
    // (Lines are written out within a second.)
    let logged = || banyan.log.text().matches("latency_ms=").count();
    assert!(eventually(Duration::from_secs(5), || logged() >= 21).is_some(), "{}", banyan.log.text());
    let text = banyan.log.text();
    let latencies: Vec<&str> = text.lines().filter_map(|l| l.split("latency_ms=").nth(1)).collect();
    for v in latencies {
        let v = v.split_whitespace().next().unwrap();
        let decimals = v.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3 && v.parse::<f64>().is_ok(), "latency_ms={v}");
    }

    // An empty id is replaced, not kept.
    let echo = json(client().get(banyan.url("/_test/echo")).header("X-Request-Id", "").send().unwrap());
    assert_eq!(request_ids(&echo).len(), 1, "{echo}");
    assert_eq!(request_ids(&echo)[0].as_str().unwrap().len(), 32, "{echo}");

    // Hyper's path (a chunked upload goes there) makes one too, and keeps a client's own.
    let chunked =
        |id: &str| format!("POST /_test/echo HTTP/1.1\r\nHost: h\r\n{id}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    let raw_echo = raw(banyan.addr, chunked("").as_bytes());
    let echo: Value = serde_json::from_slice(&raw_echo.body).unwrap();
    assert_eq!(request_ids(&echo)[0].as_str().unwrap().len(), 32, "{echo}");

    let raw = raw(banyan.addr, chunked("X-Request-Id: client-chosen-1\r\n").as_bytes());
    let echo: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(request_ids(&echo), ["client-chosen-1"]);
    banyan.log.wait_for(from, &["request_id=\"client-chosen-1\""], Duration::from_secs(5)).expect("logged");
}

/// The `X-Request-Id` values legacy received, from its echo.
fn request_ids(echo: &Value) -> Vec<Value> {
    let headers = echo["result"]["headers"].as_array().unwrap();
    headers
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("x-request-id"))
        .map(|h| h[1].clone())
        .collect()
}

#[test]
fn a_public_admin_listener_without_a_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flags.toml"), "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_banyan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0", "--legacy", "http://127.0.0.1:9"])
        .arg("--flags")
        .arg(dir.path().join("flags.toml"))
        .env_remove("BANYAN_ADMIN_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // If the check regressed banyan would serve on: wait with a deadline, then fail.
    let status = eventually_value(Duration::from_secs(20), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        panic!("banyan started with a public admin listener and no token");
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("not loopback") && err.contains("BANYAN_ADMIN_TOKEN"), "{err}");
}
