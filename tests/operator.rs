//! What an operator walking the runbook checks: the kill switch from the API (token, file,
//! audit), messages that say the route, the key and what it takes, an audit log that holds
//! what was written (and only that), a flags file moved away, methods an endpoint does not
//! answer, request ids returned on request, legacy's health, and the log lines that say
//! what changed.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// No `[defaults]` table: the kill switch must create one.
const FLAGS: &str = "# ops' own comment\n\
[routes.ping]\n\
path = \"/api/1/ping\"\n\
methods = [\"GET\"]\n\
native = 100\n\
\n\
[routes.info]\n\
path = \"/api/1/info\"\n\
methods = [\"GET\"]\n\
native = 0\n";

fn json_of(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().unwrap()).unwrap())
}

fn patch(banyan: &Banyan, path: &str, body: &str) -> (u16, Value) {
    json_of(banyan.admin_request(Method::PATCH, path).body(body.to_string()).send().unwrap())
}

fn audit(banyan: &Banyan) -> Vec<Value> {
    let (_, a) = json_of(client().get(format!("http://{}/api/audit", banyan.admin)).send().unwrap());
    a["entries"].as_array().unwrap().clone()
}

fn answered_by(banyan: &Banyan, path: &str) -> String {
    backend(&client().get(banyan.url(path)).send().unwrap())
}

#[test]
fn the_kill_switch_is_turned_from_the_api_into_the_file_and_the_audit() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    assert_eq!(answered_by(&banyan, "/api/1/ping"), "native");

    let anonymous = client().patch(format!("http://{}/api/flags/defaults", banyan.admin));
    assert_eq!(anonymous.body(r#"{"legacy_only": true}"#).send().unwrap().status(), 401);
    let (status, body) = patch(&banyan, "/api/flags/defaults", r#"{"legacy_onyl": true}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("\"legacy_onyl\""), "{body}");

    let from = banyan.log.len();
    let (status, body) = patch(&banyan, "/api/flags/defaults", r#"{"legacy_only": true}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["defaults"]["legacy_only"], true, "{body}");
    assert_eq!(answered_by(&banyan, "/api/1/ping"), "legacy");
    let file = std::fs::read_to_string(banyan.flags_path()).unwrap();
    assert!(file.starts_with(FLAGS) && file.ends_with("[defaults]\nlegacy_only = true\n"), "{file}");
    let entry = audit(&banyan).pop().unwrap();
    assert_eq!((entry["source"].as_str(), entry["actor"].as_str()), (Some("api"), Some("env")));
    assert_eq!(
        entry["changes"],
        json!([{"route": null, "key": "defaults.legacy_only", "before": false, "after": true}])
    );
    // The log says what the generation changed, not only that one was applied.
    let line =
        banyan.log.wait_for(from, &["flags applied", "defaults.legacy_only: false → true"], Duration::from_secs(5));
    assert!(line.is_some(), "{}", banyan.log.text());

    let (status, _) = patch(&banyan, "/api/flags/defaults", r#"{"legacy_only": false}"#);
    assert_eq!(status, 200);
    assert_eq!(answered_by(&banyan, "/api/1/ping"), "native");

    // A method the endpoint does not answer is named as such, with the ones it does.
    let put = banyan.admin_request(Method::PUT, "/api/flags/routes/ping").body("{}").send().unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "PATCH");
    let get = client().get(format!("http://{}/api/flags/defaults", banyan.admin)).send().unwrap();
    assert_eq!((get.status().as_u16(), get.headers()["allow"].to_str().unwrap()), (405, "PATCH"));
    let none = client().get(format!("http://{}/api/nothing", banyan.admin)).send().unwrap();
    assert_eq!(none.status(), 404);

    // The dashboard's "Use token" asks whether a token is good before it changes anything.
    let (status, body) = json_of(banyan.admin_request(Method::GET, "/api/whoami").send().unwrap());
    assert_eq!((status, body), (200, json!({"token": "env"})));
    let wrong = client().get(format!("http://{}/api/whoami", banyan.admin)).bearer_auth("not-the-token").send();
    assert_eq!(wrong.unwrap().status(), 401);
    assert!(!banyan.log.text().contains(ADMIN_TOKEN), "a token reached the log");
}

#[test]
fn a_refused_change_says_the_route_the_key_and_what_it_takes() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);

    let (status, body) = patch(&banyan, "/api/flags/routes/info", r#"{"native": "50"}"#);
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "route `info`: native is string \"50\": expected a number from 0 to 100 (percent), e.g. native = 25"
    );
    let (status, body) = patch(&banyan, "/api/flags/routes/info", r#"{"native": 150}"#);
    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(message.starts_with("route `info`: native = 150 is out of range"), "{message}");
    assert_eq!(message.matches("info").count(), 1, "the route is named once: {message}");

    // The same in the file, with where.
    banyan.write_flags(&FLAGS.replace("native = 0\n", "native = \"50\"\n"));
    let error = eventually_value(Duration::from_secs(10), || {
        banyan.flags_state()["last_reload"]["error"].as_str().map(str::to_string)
    })
    .expect("the edit is rejected");
    assert!(error.ends_with("flags.toml:10:10: route `info`: native is string \"50\": expected a number from 0 to 100 (percent), e.g. native = 25"), "{error}");

    // A new route above one that was there, on its path: the new one is blamed, where it is.
    let from = banyan.log.len();
    banyan.write_flags(&format!("[routes.info_copy]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\n\n{FLAGS}"));
    let line = banyan.log.wait_for(from, &["flags rejected", "info_copy"], Duration::from_secs(10)).expect("rejected");
    assert!(
        line.contains(
            "flags.toml:2:8: route `info_copy` claims GET,HEAD /api/1/info, which route `info` already claims"
        ),
        "{line}"
    );

    // Back to the file serving: the log says the trouble is over.
    let from = banyan.log.len();
    banyan.write_flags(FLAGS);
    let good = banyan.log.wait_for(from, &["flags file is good again", "generation 1"], Duration::from_secs(10));
    assert!(good.is_some(), "{}", banyan.log.text());
    assert_eq!(banyan.flags_state()["last_reload"]["error"], Value::Null);

    // A SIGHUP that finds nothing new says so.
    let from = banyan.log.len();
    banyan.signal("HUP");
    let line = banyan.log.wait_for(from, &["SIGHUP: flags file unchanged"], Duration::from_secs(10));
    assert!(line.is_some(), "{}", banyan.log.text());
}

#[test]
fn the_audit_holds_what_was_written_and_who_resumed_a_ramp() {
    let legacy = Legacy::start();
    let flags = "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = 0\n\
                 [routes.info.guard]\n\
                 [routes.info.ramp]\nsteps = [5, 50]\ninterval_secs = 3600\nstopped = \"guard tripped at 2026-12-01T10:00:00Z: error rate\"\n";
    let banyan = Banyan::start(&legacy.url(), flags);

    // Turning shadow on writes one key, and the audit says that one key.
    let (status, body) = patch(&banyan, "/api/flags/routes/info", r#"{"shadow": true}"#);
    assert_eq!(status, 200, "{body}");
    let entry = audit(&banyan).pop().unwrap();
    assert_eq!(entry["changes"], json!([{"route": "info", "key": "shadow", "before": false, "after": true}]));

    // Who resumed a stopped ramp is on record.
    let (status, body) = patch(&banyan, "/api/flags/routes/info", r#"{"ramp.stopped": null}"#);
    assert_eq!(status, 200, "{body}");
    let entry = audit(&banyan).pop().unwrap();
    assert_eq!((entry["source"].as_str(), entry["actor"].as_str()), (Some("api"), Some("env")));
    let change = &entry["changes"][0];
    assert_eq!(change["key"], "ramp", "{entry}");
    assert_eq!(change["before"]["stopped"], "guard tripped at 2026-12-01T10:00:00Z: error rate");
    assert_eq!(change["after"]["stopped"], Value::Null);
}

#[test]
fn a_flags_file_moved_away_is_reported_missing_and_changes_wait_for_it() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    let away = banyan.dir.path().join("flags.toml.moved");
    std::fs::rename(banyan.flags_path(), &away).unwrap();

    let managed = eventually_value(Duration::from_secs(10), || {
        let state = banyan.flags_state();
        (state["managed"]["by"] == "missing").then(|| state["managed"].clone())
    })
    .expect("the file is reported missing");
    assert!(managed["message"].as_str().unwrap().contains("put the file back"), "{managed}");
    let (status, body) = patch(&banyan, "/api/flags/routes/info", r#"{"native": 0}"#);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is missing (moved or deleted)"), "{body}");
    // Still serving the last good flags.
    assert_eq!(answered_by(&banyan, "/api/1/ping"), "native");

    std::fs::rename(&away, banyan.flags_path()).unwrap();
    let (status, _) = patch(&banyan, "/api/flags/routes/info", r#"{"native": 0, "group": "reads"}"#);
    assert_eq!(status, 200);
    assert_eq!(banyan.flags_state()["managed"]["by"], "banyan");
}

#[test]
fn request_ids_go_back_to_clients_only_when_asked_on_both_paths() {
    let legacy = Legacy::start();
    for byte_passthrough in [true, false] {
        let config = format!("[server]\nreturn_request_id = true\nbyte_passthrough = {byte_passthrough}\n");
        let banyan =
            Banyan::start_with(Options { legacy: legacy.url(), flags: FLAGS, config: &config, data_dir: None });
        for path in ["/api/1/ping", "/api/1/info"] {
            let given = client().get(banyan.url(path)).header("x-request-id", "ticket-4711").send().unwrap();
            assert_eq!(given.headers()["x-request-id"], "ticket-4711", "{path}");
            let made = client().get(banyan.url(path)).send().unwrap();
            let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
            assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{path}: {id}");
            let ids = made.headers().get_all("x-request-id").iter().count();
            assert_eq!(ids, 1, "{path}: one id, not legacy's and banyan's");
        }
        // A 502 carries it too: the one answer a user is most likely to report.
        let down = Banyan::start_with(Options {
            legacy: "http://127.0.0.1:9".into(),
            flags: FLAGS,
            config: &config,
            data_dir: None,
        });
        let failed = client().get(down.url("/api/1/info")).header("x-request-id", "ticket-4712").send().unwrap();
        assert_eq!(
            (failed.status().as_u16(), failed.headers()["x-request-id"].to_str().unwrap()),
            (502, "ticket-4712")
        );
    }
    // Off by default: rotki sends none, and a client that never asked gets none.
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    for path in ["/api/1/ping", "/api/1/info"] {
        let r = client().get(banyan.url(path)).header("x-request-id", "ticket-4713").send().unwrap();
        assert!(r.headers().get("x-request-id").is_none(), "{path}");
    }
}

#[test]
fn legacy_health_and_the_process_are_in_the_metrics_and_the_stats() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let banyan = Banyan::start(&format!("http://127.0.0.1:{port}"), FLAGS);
    // Said at start, not only at the first 502.
    let warning = banyan.log.wait_for(0, &["legacy is unreachable"], Duration::from_secs(5));
    assert!(warning.is_some_and(|w| w.contains(&port.to_string())), "{}", banyan.log.text());
    assert_eq!(client().get(banyan.url("/api/1/info")).send().unwrap().status(), 502);

    let metrics = banyan.metrics();
    assert_eq!(sample(&metrics, "banyan_legacy_up"), Some(0.0), "{metrics}");
    assert!(sample(&metrics, "banyan_legacy_connect_errors_total").unwrap() >= 2.0, "{metrics}");
    assert!(sample(&metrics, "process_resident_memory_bytes").unwrap() > 1e6, "{metrics}");
    assert!(sample(&metrics, "process_open_fds").unwrap() >= 4.0, "{metrics}");
    assert!(sample(&metrics, "process_max_fds").unwrap() >= sample(&metrics, "process_open_fds").unwrap());
    assert!(sample(&metrics, "process_cpu_seconds_total").unwrap() >= 0.0, "{metrics}");
    let started = sample(&metrics, "process_start_time_seconds").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - 60.0..=now + 1.0).contains(&started), "started {started}, now {now}");
    let (_, stats) = json_of(client().get(format!("http://{}/api/stats", banyan.admin)).send().unwrap());
    assert_eq!(stats["legacy"]["up"], false, "{stats}");
    assert!(stats["legacy"]["last_error"].as_str().unwrap().contains("refused"), "{stats}");

    let _legacy = Legacy::start_on(port, &[]);
    eventually(Duration::from_secs(10), || client().get(banyan.url("/api/1/info")).send().unwrap().status() == 200)
        .expect("legacy is back");
    assert_eq!(sample(&banyan.metrics(), "banyan_legacy_up"), Some(1.0));
    let back = banyan.log.wait_for(0, &["legacy is reachable again"], Duration::from_secs(5));
    assert!(back.is_some(), "{}", banyan.log.text());
}

#[test]
fn a_ramp_that_reaches_its_last_step_says_it_finished() {
    let legacy = Legacy::start();
    let flags = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 0\n\
                 [routes.ping.guard]\n[routes.ping.ramp]\nsteps = [100]\ninterval_secs = 1\n";
    let banyan = Banyan::start(&legacy.url(), flags);
    // From 0 % the first step needs no evidence: it is taken on the ramp's clock.
    let line = banyan.log.wait_for(0, &["ramp finished", "ping"], Duration::from_secs(10));
    let line = line.unwrap_or_else(|| panic!("{}", banyan.log.text()));
    assert!(line.contains("stays at 100 %"), "{line}");
    assert_eq!(answered_by(&banyan, "/api/1/ping"), "native");
    let step =
        banyan.log.wait_for(0, &["flags applied: ping.native: 0.0 → 100.0", "source=\"ramp\""], Duration::from_secs(1));
    assert!(step.is_some(), "{}", banyan.log.text());
}
