//! What shadowing costs the client: wrk's latency on `/api/1/ping` with `shadow = true`
//! against the same route without it, in interleaved rounds. Two set-ups:
//! - native answers, and the copies go to a legacy that takes 50 ms to answer (the
//!   shadowed side slow: copies pile up to their limit and the rest are dropped);
//! - legacy (the fast upstream) answers, and the copies go to the native handler.
//!
//! Target: the client's p99 with shadow on within 10 % of off.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::procs::{banyan_configured, release_dir, start_reporting};
use crate::wrk::{median, wrk, Run};
use crate::Options;

const ROUTE: &str = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\n";

pub fn run(o: &Options, dir: &Path) {
    let (_slow, slow) =
        start_reporting(Command::new(release_dir().join("examples/upstream")).args(["127.0.0.1:0", "50"]));
    let (_fast, fast) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    println!(
        "## Shadow\n\nGET /api/1/ping; {} rounds x {} s per set-up, wrk -t{}; the client's latency with shadow off and on\n",
        o.rounds, o.duration, o.threads
    );
    for (title, native, legacy) in
        [("native answers, copies to a slow legacy (50 ms)", 100, slow), ("legacy answers, copies to native", 0, fast)]
    {
        let legacy_url = format!("http://127.0.0.1:{legacy}");
        let off = banyan_configured(dir, &legacy_url, &format!("{ROUTE}native = {native}\n"), "");
        let on = banyan_configured(dir, &legacy_url, &format!("{ROUTE}native = {native}\nshadow = true\n"), "");
        for &conns in &o.connections {
            let (mut runs_off, mut runs_on): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
            for round in 0..o.rounds {
                let order = if round % 2 == 0 {
                    [(false, off.port), (true, on.port)]
                } else {
                    [(true, on.port), (false, off.port)]
                };
                for (shadowed, port) in order {
                    let run = wrk(SocketAddr::from(([127, 0, 0, 1], port)), "/api/1/ping", conns, o);
                    eprintln!(
                        "  {title}, {conns} connections, round {}, shadow {}: {:.0} req/s, p99 {:.2} ms",
                        round + 1,
                        if shadowed { "on" } else { "off" },
                        run.rps,
                        run.p99_ms
                    );
                    if shadowed {
                        runs_on.push(run)
                    } else {
                        runs_off.push(run)
                    }
                }
            }
            let med = |runs: &[Run]| {
                (
                    median(runs.iter().map(|r| r.rps).collect()),
                    median(runs.iter().map(|r| r.p50_ms).collect()),
                    median(runs.iter().map(|r| r.p99_ms).collect()),
                    runs.iter().map(|r| r.errors).sum::<u64>(),
                )
            };
            let (off_m, on_m) = (med(&runs_off), med(&runs_on));
            println!("### {title}, {conns} connections\n");
            println!("| shadow | req/s | p50 ms | p99 ms | p99 on / off | errors |\n|---|---:|---:|---:|---:|---:|");
            println!("| off | {:.0} | {:.2} | {:.2} | | {} |", off_m.0, off_m.1, off_m.2, off_m.3);
            println!(
                "| on | {:.0} | {:.2} | {:.2} | {:.2}x | {} |\n",
                on_m.0,
                on_m.1,
                on_m.2,
                on_m.2 / off_m.2,
                on_m.3
            );
        }
        let outcomes = reqwest::blocking::get(format!("http://127.0.0.1:{}/api/shadow/ping", on.admin))
            .and_then(|r| r.text())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| v["summary"]["counts"].to_string())
            .unwrap_or_default();
        println!("Shadow outcomes over the runs: {outcomes}\n");
    }
}
