//! The migration workbench's costs.
//!
//! - Recording: `GET /api/1/ping` through banyans that differ only in `record = 1000` on
//!   the route, answered natively and by the fast upstream, in interleaved rounds: req/s,
//!   p99 and the CPU each request cost banyan (from its own counters). Target: recording
//!   costs under 5 % of the route's CPU per request.
//! - Replay: 10,000 exchanges recorded through banyan in front of the legacy test app (ping
//!   native, rotki's oracles and an asset page on legacy, logged in) replayed with `banyan
//!   replay`. Target: under 2 s.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::procs::{banyan_configured, cpu_ns, legacy_app_on, release_dir, start_reporting, ADMIN_TOKEN};
use crate::wrk::{median, wrk, wrk_post, Run};
use crate::Options;

const PASSWORD: &str = "bench pass'word";
const ASSETS_BODY: &str = r#"{"limit": 10, "offset": 0}"#;
const REPLAYED: usize = 10_000;

/// A wrk run and the CPU microseconds each of its requests cost banyan.
type Costed = (Run, f64);

pub fn run(o: &Options, dir: &Path) {
    recording(o, dir);
    replay(o, dir);
}

fn recording(o: &Options, dir: &Path) {
    let (_upstream, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let legacy = format!("http://127.0.0.1:{upstream}");
    println!(
        "## Recording\n\nGET /api/1/ping; {} rounds x {} s, wrk -t{}; banyan's CPU per request from its own counters\n",
        o.rounds, o.duration, o.threads
    );
    println!("| answered by | connections | record | req/s | p99 ms | CPU µs/req | CPU on / off |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for (name, native) in [("native", 100), ("legacy (upstream)", 0)] {
        let route = format!("[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = {native}\n");
        let off = banyan_configured(dir, &legacy, &route, "");
        let on = banyan_configured(dir, &legacy, &format!("{route}record = 1000\n"), "");
        for &conns in &o.connections {
            let (mut runs_off, mut runs_on): (Vec<Costed>, Vec<Costed>) = (Vec::new(), Vec::new());
            for round in 0..o.rounds {
                let mut order = [(false, &off), (true, &on)];
                if round % 2 == 1 {
                    order.reverse();
                }
                for (recording, b) in order {
                    let pid = [b.proc.0.id()];
                    let before = cpu_ns(&pid);
                    let run = wrk(SocketAddr::from(([127, 0, 0, 1], b.port)), "/api/1/ping", conns, o);
                    let requests = (run.rps * o.duration as f64).max(1.0);
                    let cpu = cpu_ns(&pid).saturating_sub(before) as f64 / 1000.0 / requests;
                    if recording {
                        runs_on.push((run, cpu));
                    } else {
                        runs_off.push((run, cpu));
                    }
                }
            }
            let med = |runs: &[Costed]| {
                let m = |f: &dyn Fn(&Costed) -> f64| median(runs.iter().map(f).collect());
                (m(&|r| r.0.rps), m(&|r| r.0.p99_ms), m(&|r| r.1))
            };
            let ((r0, p0, c0), (r1, p1, c1)) = (med(&runs_off), med(&runs_on));
            println!("| {name} | {conns} | off | {r0:.0} | {p0:.2} | {c0:.1} | |");
            println!("| {name} | {conns} | 1000 | {r1:.0} | {p1:.2} | {c1:.1} | {:.3}x |", c1 / c0);
        }
        let held = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}/api/stats", on.admin))
            .send()
            .and_then(|r| r.text())
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["routes"].as_array()?.iter().find(|r| r["route"] == "ping").map(|r| r["record"].clone()));
        eprintln!("  {name}: the recording after the runs: {}", held.unwrap_or_default());
    }
    println!();
}

fn replay(o: &Options, dir: &Path) {
    let data = tempfile::tempdir_in(dir).unwrap();
    let (_legacy, port) = legacy_app_on(data.path());
    let config = format!("data_dir = \"{}\"\n", data.path().display());
    let flags = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\nrecord = 10000\n\n\
                 [routes.oracles]\npath = \"/api/1/oracles\"\nmethods = [\"GET\"]\nrecord = 10000\n\n\
                 [routes.assets_all]\npath = \"/api/1/assets/all\"\nmethods = [\"POST\"]\nrecord = 10000\n";
    let b = banyan_configured(dir, &format!("http://127.0.0.1:{port}"), flags, &config);
    let addr = SocketAddr::from(([127, 0, 0, 1], b.port));
    let client = reqwest::blocking::Client::new();
    let created = client
        .put(format!("http://{addr}/api/1/users"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"name": "bench", "password": "{PASSWORD}"}}"#))
        .send()
        .unwrap();
    assert_eq!(created.status(), 200, "create the user");

    // Enough of each: ping is native and fast, the other two wait on legacy.
    let short = Options::single_run(3, o.threads);
    wrk(addr, "/api/1/oracles", 8, &short);
    wrk_post(addr, "/api/1/assets/all", ASSETS_BODY, 8, &short);
    wrk(addr, "/api/1/ping", 8, &Options::single_run(1, o.threads));
    let har = |route: &str| -> Vec<Value> {
        let text = client
            .get(format!("http://127.0.0.1:{}/api/records/{route}", b.admin))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .and_then(|r| r.text())
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["log"]["entries"].as_array().cloned().unwrap_or_default()
    };
    // Interleaved, as traffic comes: a third of each where they have that many.
    let lists = [har("oracles"), har("assets_all"), har("ping")];
    let mut entries = Vec::new();
    let mut i = 0;
    while entries.len() < REPLAYED && lists.iter().any(|l| i < l.len()) {
        for l in &lists {
            if let Some(e) = l.get(i) {
                entries.push(e.clone());
            }
        }
        i += 1;
    }
    entries.truncate(REPLAYED);
    let counts: Vec<usize> = lists.iter().map(Vec::len).collect();
    let file = dir.join("replay.har");
    let doc = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "banyan", "version": "bench"}, "entries": entries}});
    std::fs::write(&file, doc.to_string()).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();

    println!("## Replay\n");
    println!(
        "{} entries (oracles {}, assets/all {}, ping {} recorded), {:.1} MB of HAR; {} rounds\n",
        entries.len(),
        counts[0],
        counts[1],
        counts[2],
        size as f64 / 1e6,
        o.rounds
    );
    let mut times = Vec::new();
    let mut summary = String::new();
    for _ in 0..o.rounds {
        let started = Instant::now();
        let out = Command::new(release_dir().join("banyan"))
            .arg("replay")
            .arg(&file)
            .arg("--config")
            .arg(b.flags.with_file_name("banyan.toml"))
            .arg("--flags")
            .arg(&b.flags)
            .args(["--user", "bench", "--format", "json"])
            .env("BANYAN_REPLAY_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        times.push(started.elapsed().as_secs_f64());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut reasons = std::collections::BTreeMap::<String, usize>::new();
        for e in report["entries"].as_array().into_iter().flatten() {
            if let Some(why) = e["reason"].as_str() {
                *reasons.entry(why.to_string()).or_default() += 1;
            }
        }
        summary = format!("{}; skipped: {reasons:?}", report["total"]);
        assert_eq!(out.status.code(), Some(0), "{summary} {}", String::from_utf8_lossy(&out.stderr));
    }
    let secs = median(times);
    println!("| entries | seconds (median) | entries/s | outcome |\n|---:|---:|---:|---|");
    println!("| {} | {secs:.2} | {:.0} | {summary} |\n", entries.len(), entries.len() as f64 / secs);
}
