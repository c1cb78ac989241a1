//! rotki's own stack behind banyan: the legacy test app (Flask on gevent pywsgi, as rotki
//! v1.43.2 runs) reached directly and through banyan, against banyan's native handler for
//! the same endpoint. Shows whether banyan ever makes legacy slower (gevent's answers
//! under concurrency are held up by Nagle's algorithm meeting delayed ACKs) and what the
//! native path buys.

use std::net::SocketAddr;
use std::path::Path;

use crate::procs::{banyan_with, legacy_app, ping_flags};
use crate::wrk::{median, wrk, Run};
use crate::Options;

pub fn run(o: &Options, dir: &Path) {
    let (_legacy, legacy_port) = legacy_app();
    let legacy_url = format!("http://127.0.0.1:{legacy_port}");
    let (_via_legacy, via_legacy, _) = banyan_with(dir, &legacy_url, &ping_flags(0));
    let (_via_native, via_native, _) = banyan_with(dir, &legacy_url, &ping_flags(100));
    let rows = [
        ("legacy app, direct", legacy_port),
        ("legacy app through banyan", via_legacy),
        ("banyan native handler", via_native),
    ];
    println!("## rotki's legacy stack and the native handler\n");
    println!("GET /api/1/ping; {} rounds x {} s each, interleaved; medians\n", o.rounds, o.duration);
    println!("| path | connections | req/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for conns in [1, 32] {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); rows.len()];
        for round in 0..o.rounds {
            for k in 0..rows.len() {
                let i = (k + round) % rows.len();
                let run = wrk(SocketAddr::from(([127, 0, 0, 1], rows[i].1)), "/api/1/ping", conns, o);
                eprintln!("  {conns} connections, round {}, {}: {:.0} req/s", round + 1, rows[i].0, run.rps);
                runs[i].push(run);
            }
        }
        let med: Vec<(f64, f64, f64)> = runs
            .iter()
            .map(|r| {
                (
                    median(r.iter().map(|x| x.rps).collect()),
                    median(r.iter().map(|x| x.p50_ms).collect()),
                    median(r.iter().map(|x| x.p99_ms).collect()),
                )
            })
            .collect();
        for ((name, _), (rps, p50, p99)) in rows.iter().zip(&med) {
            println!("| {name} | {conns} | {rps:.0} | {p50:.2} | {p99:.2} |");
        }
        println!("| *native / legacy through banyan* | {conns} | {:.1}x | | |", med[2].0 / med[1].0);
    }
    println!();
}
