//! Hot reload: a saved flags file serves within a second, whether written in place,
//! replaced by rename, or picked up on SIGHUP; an invalid or deleted file changes nothing;
//! and no request fails while routing flips under load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{backend, client, eventually, sample, Banyan, Legacy};

fn ping(native: u32) -> String {
    format!("[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = {native}\n")
}

fn served_by(banyan: &Banyan) -> String {
    backend(&client().get(banyan.url("/api/1/ping")).send().unwrap())
}

#[test]
fn an_edit_applies_within_a_second() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &ping(0));
    assert_eq!(served_by(&banyan), "legacy");
    for (native, want) in [(100, "native"), (0, "legacy"), (100, "native")] {
        banyan.write_flags(&ping(native));
        let took = eventually(Duration::from_secs(1), || served_by(&banyan) == want);
        assert!(took.is_some(), "native = {native} not serving within 1 s");
    }
    assert_eq!(banyan.flags_state()["generation"], 4);
}

#[test]
fn an_invalid_file_keeps_the_last_good_flags_and_says_where() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &ping(100));
    let from = banyan.log.len();
    banyan.write_flags("[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 150\n");
    let path = banyan.flags_path().display().to_string();
    let line = banyan.log.wait_for(
        from,
        &["flags rejected", &format!("{path}:4:10: route `ping`: native = 150 is out of range")],
        Duration::from_secs(5),
    );
    assert!(line.is_some(), "rejection not logged with its location:\n{}", banyan.log.text());
    assert_eq!(served_by(&banyan), "native");
    let state = banyan.flags_state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["last_reload"]["outcome"], "rejected");
    assert!(state["last_reload"]["error"].as_str().unwrap().contains(":4:10: "), "{state}");

    // Half a file (an editor mid-save) is just as harmless.
    banyan.write_flags("[routes.ping]\npath = \"/api/1/pi");
    let half = format!("{path}:2:");
    assert!(banyan.log.wait_for(from, &["flags rejected", &half], Duration::from_secs(5)).is_some());
    assert_eq!(served_by(&banyan), "native");

    // The next good write applies.
    banyan.write_flags(&ping(0));
    assert!(eventually(Duration::from_secs(1), || served_by(&banyan) == "legacy").is_some());
    assert_eq!(banyan.flags_state()["last_reload"]["outcome"], "applied");
}

#[test]
fn a_file_replaced_by_rename_applies() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &ping(0));
    // What editors and `kubectl cp`-style tools do: write a new file, rename it over.
    let tmp = banyan.dir.path().join(".flags.toml.swp");
    std::fs::write(&tmp, ping(100)).unwrap();
    std::fs::rename(&tmp, banyan.flags_path()).unwrap();
    assert!(eventually(Duration::from_secs(1), || served_by(&banyan) == "native").is_some());
}

#[test]
fn sighup_rereads_a_file_the_watcher_cannot_see() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &ping(0));
    // The flags path becomes a symlink to a file in another directory: edits there raise no
    // event in the watched directory, so only SIGHUP picks them up.
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real.toml");
    std::fs::write(&real, format!("# managed elsewhere\n{}", ping(0))).unwrap();
    std::fs::remove_file(banyan.flags_path()).unwrap();
    std::os::unix::fs::symlink(&real, banyan.flags_path()).unwrap();
    let generation = || banyan.flags_state()["generation"].as_u64().unwrap();
    assert!(eventually(Duration::from_secs(2), || generation() == 2).is_some(), "symlink swap not applied");

    std::fs::write(&real, ping(100)).unwrap();
    assert!(
        eventually(Duration::from_millis(500), || served_by(&banyan) == "native").is_none(),
        "the watcher saw an edit in another directory; this test no longer tests SIGHUP"
    );
    banyan.signal("HUP");
    assert!(eventually(Duration::from_secs(1), || served_by(&banyan) == "native").is_some(), "SIGHUP did not reload");
    assert_eq!(generation(), 3);
}

#[test]
fn a_deleted_file_keeps_the_last_good_flags() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &ping(100));
    let from = banyan.log.len();
    std::fs::remove_file(banyan.flags_path()).unwrap();
    assert!(banyan.log.wait_for(from, &["flags file unreadable"], Duration::from_secs(5)).is_some());
    assert_eq!(served_by(&banyan), "native");
    banyan.write_flags(&ping(0));
    assert!(eventually(Duration::from_secs(1), || served_by(&banyan) == "legacy").is_some());
}

/// Four clients asking for `/api/1/ping` until stopped; each answers with its successes,
/// how many were native, and its failures.
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<(usize, usize, Vec<String>)>>,
}

impl Load {
    fn start(banyan: &Arc<Banyan>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..4)
            .map(|_| {
                let (banyan, stop) = (banyan.clone(), stop.clone());
                std::thread::spawn(move || {
                    let c = client();
                    let (mut ok, mut native, mut failed) = (0, 0, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        match c.get(banyan.url("/api/1/ping")).send() {
                            Ok(r) if r.status() == 200 => {
                                native += usize::from(backend(&r) == "native");
                                let body = r.text().unwrap();
                                if body == r#"{"result": true, "message": ""}"# {
                                    ok += 1;
                                } else {
                                    failed.push(body);
                                }
                            }
                            Ok(r) => failed.push(format!("status {}", r.status())),
                            Err(e) => failed.push(e.to_string()),
                        }
                    }
                    (ok, native, failed)
                })
            })
            .collect();
        Load { stop, workers }
    }

    /// Stops the clients; total successes and native answers (any failure fails the test).
    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut ok, mut native) = (0, 0);
        for w in self.workers {
            let (o, n, failed) = w.join().unwrap();
            assert!(failed.is_empty(), "failed requests: {failed:?}");
            ok += o;
            native += n;
        }
        (ok, native)
    }
}

#[test]
fn no_request_fails_while_routing_flips_under_load() {
    let legacy = Legacy::start();
    let banyan = Arc::new(Banyan::start(&legacy.url(), &ping(0)));
    let load = Load::start(&banyan);
    for i in 0..20 {
        let want = if i % 2 == 0 { "native" } else { "legacy" };
        banyan.write_flags(&ping(if i % 2 == 0 { 100 } else { 0 }));
        assert!(eventually(Duration::from_secs(1), || served_by(&banyan) == want).is_some(), "flip {i}");
    }
    let (ok, native) = load.finish();
    assert!(ok >= 40 && native > 0 && native < ok, "{ok} requests, {native} native");
    let audit = client().get(format!("http://{}/api/audit", banyan.admin)).send().unwrap().text().unwrap();
    assert_eq!(banyan.flags_state()["generation"], 21, "one generation per save: {audit}");
}

#[test]
fn a_reload_storm_under_load_fails_no_request_and_the_last_valid_file_wins() {
    let legacy = Legacy::start();
    let banyan = Arc::new(Banyan::start(&legacy.url(), &ping(0)));
    let load = Load::start(&banyan);
    let path = banyan.flags_path();
    // Hundreds of saves: bursts of half-written files and files replaced by rename (as
    // editors and deploys do) that may be coalesced, each burst ending on an invalid file
    // that must be rejected and then a valid one that must apply.
    for round in 0..100u32 {
        let rejected_before = rejections(&banyan);
        let valid = ping(if round % 2 == 0 { 100 } else { 0 });
        banyan.write_flags(&valid[..valid.len() / 2]);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, ping(100)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        banyan.write_flags(&valid.replace("native = ", "native = 1")); // 1100 or 10
        banyan.write_flags(&ping(150));
        // A new rejection, not the last round's status: this round's own invalid file.
        eventually(Duration::from_secs(5), || rejections(&banyan) > rejected_before)
            .unwrap_or_else(|| panic!("round {round}: the invalid file is rejected"));
        let group = format!("round-{round}");
        banyan.write_flags(&format!("{valid}group = \"{group}\"\n"));
        eventually(Duration::from_secs(5), || banyan.flags_state()["routes"][0]["group"] == group.as_str())
            .unwrap_or_else(|| panic!("round {round}: the valid file applies"));
    }
    let last = format!("{}group = \"storm-over\"\n", ping(100));
    banyan.write_flags(&last);
    eventually(Duration::from_secs(10), || banyan.flags_state()["routes"][0]["group"] == "storm-over")
        .expect("the last valid file wins");
    let (ok, native) = load.finish();
    assert!(ok > 0 && native > 0, "{ok} requests, {native} native");
    let state = banyan.flags_state();
    assert_eq!(state["last_reload"]["error"], serde_json::Value::Null, "{state}");
    assert_eq!(served_by(&banyan), "native");
    // Every rejection was reported: as many in the log as the metric counts.
    let rejected = rejections(&banyan);
    let log = banyan.log.text();
    let logged = log.matches("flags rejected").count() + log.matches("flags file unreadable").count();
    assert_eq!(logged, rejected);
    assert!(rejected >= 100, "{rejected} rejections reported");
}

/// `banyan_flags_reloads_total{outcome="rejected"}`.
fn rejections(banyan: &Banyan) -> usize {
    sample(&banyan.metrics(), r#"banyan_flags_reloads_total{outcome="rejected"}"#).unwrap() as usize
}
