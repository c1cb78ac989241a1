//! The access log as ops read it: a line per request in text or JSON, to stderr or to a
//! file that logrotate can move away (SIGUSR1 reopens it), and not one line lost when
//! banyan drains and exits, though lines are buffered per worker.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const PING: &str = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\n";

fn start(legacy: &Legacy, config: &str) -> Banyan {
    Banyan::start_with(Options { legacy: legacy.url(), flags: PING, config, data_dir: None })
}

/// A GET with the request id `id`.
fn get_as(banyan: &Banyan, path: &str, id: &str) -> u16 {
    client().get(banyan.url(path)).header("X-Request-Id", id).send().unwrap().status().as_u16()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` has a line with `needle`.
fn file_has(path: &Path, needle: &str) -> bool {
    eventually(Duration::from_secs(5), || read(path).contains(needle)).is_some()
}

#[test]
fn json_lines_carry_every_field_and_are_written_within_a_second() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\naccess_log_format = \"json\"\n");
    let from = banyan.log.len();
    assert_eq!(get_as(&banyan, "/api/1/ping?token=hunter2", "json-1"), 200);
    assert_eq!(get_as(&banyan, "/api/1/info", "json-2"), 200);
    // No further traffic: the worker's clock writes the buffered lines out.
    for (id, route, backend) in [("json-1", "ping", "native"), ("json-2", "/api/1/info", "legacy")] {
        let line = banyan.log.wait_for(from, &[&format!("\"request_id\":\"{id}\"")], Duration::from_secs(5));
        let line = line.unwrap_or_else(|| panic!("no access line for {id}:\n{}", banyan.log.text()));
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!((v["target"].as_str(), v["level"].as_str()), (Some("banyan::access"), Some("INFO")), "{line}");
        let f = &v["fields"];
        assert_eq!(f["message"], "access", "{line}");
        assert_eq!((f["route"].as_str(), f["backend"].as_str()), (Some(route), Some(backend)), "{line}");
        assert_eq!((f["method"].as_str(), f["status"].as_u64()), (Some("GET"), Some(200)), "{line}");
        assert!(f["path"].as_str().unwrap().starts_with("/api/1/"), "{line}");
        assert!(f["latency_ms"].is_f64() || f["latency_ms"].is_u64(), "{line}");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.len() == 27 && t.ends_with('Z')), "{line}");
    }
    assert!(!banyan.log.text().contains("hunter2"), "the query was logged");
}

#[test]
fn a_file_access_log_keeps_stderr_for_diagnostics_and_is_reopened_on_sigusr1() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\naccess_log = \"access.log\"\n");
    let (file, moved) = (banyan.dir.path().join("access.log"), banyan.dir.path().join("access.log.1"));
    assert_eq!(get_as(&banyan, "/api/1/ping", "before-rotation"), 200);
    assert!(file_has(&file, "request_id=\"before-rotation\""), "{}", read(&file));
    assert!(read(&file).contains("  INFO access request_id=\"before-rotation\" method=\"GET\" path=\"/api/1/ping\""));

    // logrotate's way: move the file, then signal; banyan writes the moved file until then.
    std::fs::rename(&file, &moved).unwrap();
    assert_eq!(get_as(&banyan, "/api/1/ping", "while-moving"), 200);
    assert!(file_has(&moved, "request_id=\"while-moving\""), "{}", read(&moved));
    let from = banyan.log.len();
    banyan.signal("USR1");
    banyan.log.wait_for(from, &["SIGUSR1: access log reopened"], Duration::from_secs(5)).expect("reopened");
    assert_eq!(get_as(&banyan, "/api/1/ping", "after-rotation"), 200);
    assert!(file_has(&file, "request_id=\"after-rotation\""), "{}", read(&file));
    assert!(!read(&moved).contains("after-rotation"));
    assert!(!read(&file).contains("before-rotation"));

    // The diagnostic log has none of it.
    assert!(!banyan.log.text().contains("INFO access"), "{}", banyan.log.text());
}

#[test]
fn a_file_that_cannot_be_reopened_keeps_the_one_open() {
    let legacy = Legacy::start();
    let dir = tempfile::tempdir().unwrap();
    let (logs, file) = (dir.path().join("logs"), dir.path().join("logs/access.log"));
    std::fs::create_dir(&logs).unwrap();
    let banyan = start(&legacy, &format!("[server]\naccess_log = {:?}\n", file.to_str().unwrap()));
    assert_eq!(get_as(&banyan, "/api/1/ping", "first"), 200);
    assert!(file_has(&file, "request_id=\"first\""));
    // The directory is gone with the file in it: reopening fails and says so.
    std::fs::rename(&logs, dir.path().join("logs.old")).unwrap();
    let from = banyan.log.len();
    banyan.signal("USR1");
    let line = banyan.log.wait_for(from, &["SIGUSR1: cannot reopen the access log"], Duration::from_secs(5));
    assert!(line.expect("the failure is logged").contains("still writing the file it had open"));
    assert_eq!(get_as(&banyan, "/api/1/ping", "second"), 200);
    assert!(file_has(&dir.path().join("logs.old/access.log"), "request_id=\"second\""));
}

/// Lines wait in a worker's buffer for up to a second; a SIGTERM drain writes them all,
/// those of the requests it waited for included, before banyan exits.
#[test]
fn no_line_is_lost_when_banyan_drains_and_exits() {
    let legacy = Legacy::start();
    let mut banyan = start(&legacy, "[server]\naccess_log = \"access.log\"\n");
    let file = banyan.dir.path().join("access.log");
    let slow: Vec<_> = (0..4)
        .map(|i| {
            let url = banyan.url("/_test/sleep?ms=600");
            std::thread::spawn(move || {
                let r = client().get(url).header("X-Request-Id", format!("slow-{i}")).send().unwrap();
                r.status().as_u16()
            })
        })
        .collect();
    let sleeping = || {
        let body = client().get(format!("{}/_test/count", legacy.url())).send().unwrap().text().unwrap();
        serde_json::from_str::<Value>(&body).unwrap()["result"]["sleeping"].as_u64().unwrap()
    };
    assert!(eventually(Duration::from_secs(5), || sleeping() == 4).is_some());
    // Native and legacy answers on the fast path, and a chunked upload on hyper's.
    for i in 0..100 {
        let path = if i % 2 == 0 { "/api/1/ping" } else { "/api/1/info" };
        assert_eq!(get_as(&banyan, path, &format!("fast-{i}")), 200);
    }
    let chunked = "POST /_test/echo HTTP/1.1\r\nHost: h\r\nX-Request-Id: chunked-1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(raw(banyan.addr, chunked.as_bytes()).status(), 200);

    banyan.signal("TERM");
    for s in slow {
        assert_eq!(s.join().unwrap(), 200);
    }
    let exit = banyan.wait_exit(Duration::from_secs(10)).expect("banyan exited");
    assert!(exit.success(), "{exit:?}");
    let text = read(&file);
    let ids: Vec<String> = (0..4)
        .map(|i| format!("slow-{i}"))
        .chain((0..100).map(|i| format!("fast-{i}")))
        .chain(["chunked-1".to_string()])
        .collect();
    for id in &ids {
        let needle = format!("request_id=\"{id}\"");
        assert_eq!(text.matches(&needle).count(), 1, "{id} in:\n{text}");
    }
    assert_eq!(text.lines().count(), ids.len(), "{text}");
    assert!(text.lines().all(|l| l.contains(" latency_ms=")), "a line was cut:\n{text}");
}

#[test]
fn access_log_false_writes_no_lines_and_bad_values_are_refused_where_they_are() {
    let legacy = Legacy::start();
    let mut banyan = start(&legacy, "[server]\naccess_log = false\n");
    assert_eq!(get_as(&banyan, "/api/1/ping", "unlogged-1"), 200);
    // Had it been written, the drain would have flushed it before the exit.
    banyan.signal("TERM");
    assert!(banyan.wait_exit(Duration::from_secs(10)).expect("banyan exited").success());
    banyan.log.wait_for(0, &["INFO stopped"], Duration::from_secs(5)).expect("the last line");
    let log = banyan.log.text();
    assert!(!log.contains("unlogged-1") && !log.contains("INFO access"), "{log}");

    for (config, message) in [
        (
            "[server]\naccess_log = 5\n",
            "banyan.toml:2:14: access_log = 5: expected true, false, \"stderr\" or the path",
        ),
        ("[server]\naccess_log_format = \"xml\"\n", "banyan.toml:2:21: access_log_format = \"xml\": expected"),
    ] {
        let (status, log) =
            Banyan::start_failing(Options { legacy: legacy.url(), flags: PING, config, data_dir: None });
        assert!(!status.success());
        assert!(log.contains(message), "{config}: {log}");
    }
    let (status, log) = Banyan::start_failing(Options {
        legacy: legacy.url(),
        flags: PING,
        config: "[server]\naccess_log = \"no/such/dir/access.log\"\n",
        data_dir: None,
    });
    assert!(!status.success());
    assert!(log.contains("cannot open the access log") && log.contains("no/such/dir/access.log"), "{log}");

    // `banyan check` refuses it too, without creating anything.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("banyan.toml");
    std::fs::write(&config, "[server]\naccess_log = \"no/such/dir/access.log\"\n").unwrap();
    std::fs::write(dir.path().join("flags.toml"), PING).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_banyan"))
        .args(["check", "--config"])
        .arg(&config)
        .arg("--flags")
        .arg(dir.path().join("flags.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot open the access log") && stderr.contains("no/such/dir"), "{stderr}");
    assert!(!dir.path().join("no").exists());
}
