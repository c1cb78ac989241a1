//! rotki's own stack behind banyan: the legacy test app (Flask on gevent pywsgi, as rotki
//! v1.43.2 runs) reached directly and through banyan, against banyan's native handler for
//! the same endpoint. Shows whether banyan ever makes legacy slower (gevent's answers
//! under concurrency are held up by Nagle's algorithm meeting delayed ACKs) and what the
//! native path buys: throughput, which wrk bounds for the native handler, and the CPU each
//! request costs the processes behind it (banyan and the legacy app together), which it
//! does not.

use std::net::SocketAddr;
use std::path::Path;

use crate::procs::{banyan_with, cpu_ns, legacy_app, ping_flags};
use crate::wrk::{median, wrk, Run};
use crate::Options;

pub fn run(o: &Options, dir: &Path) {
    let (legacy, legacy_port) = legacy_app();
    let legacy_url = format!("http://127.0.0.1:{legacy_port}");
    let (via_legacy_proc, via_legacy, _) = banyan_with(dir, &legacy_url, &ping_flags(0));
    let (via_native_proc, via_native, _) = banyan_with(dir, &legacy_url, &ping_flags(100));
    let (legacy_pid, through_pid, native_pid) = (legacy.0.id(), via_legacy_proc.0.id(), via_native_proc.0.id());
    // Where each row's requests go, and the processes whose CPU they cost.
    let rows = [
        ("legacy app, direct", legacy_port, vec![legacy_pid]),
        ("legacy app through banyan", via_legacy, vec![through_pid, legacy_pid]),
        ("banyan native handler", via_native, vec![native_pid]),
    ];
    println!("## rotki's legacy stack and the native handler\n");
    println!("GET /api/1/ping; {} rounds x {} s each, interleaved; medians\n", o.rounds, o.duration);
    println!("| path | connections | req/s | p50 ms | p99 ms | CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|");
    for conns in [1, 32] {
        let mut runs: Vec<Vec<(Run, f64)>> = vec![Vec::new(); rows.len()];
        for round in 0..o.rounds {
            for k in 0..rows.len() {
                let i = (k + round) % rows.len();
                let (name, port, pids) = &rows[i];
                let before = cpu_ns(pids);
                let run = wrk(SocketAddr::from(([127, 0, 0, 1], *port)), "/api/1/ping", conns, o);
                let cpu = cpu_ns(pids).saturating_sub(before) as f64 / 1000.0 / (run.rps * o.duration as f64).max(1.0);
                eprintln!("  {conns} connections, round {}, {name}: {:.0} req/s, {cpu:.1} µs/req", round + 1, run.rps);
                runs[i].push((run, cpu));
            }
        }
        let med: Vec<[f64; 4]> = runs
            .iter()
            .map(|r| {
                let m = |f: &dyn Fn(&(Run, f64)) -> f64| median(r.iter().map(f).collect());
                [m(&|x| x.0.rps), m(&|x| x.0.p50_ms), m(&|x| x.0.p99_ms), m(&|x| x.1)]
            })
            .collect();
        for ((name, _, _), [rps, p50, p99, cpu]) in rows.iter().zip(&med) {
            println!("| {name} | {conns} | {rps:.0} | {p50:.2} | {p99:.2} | {cpu:.1} |");
        }
        println!(
            "| *native / legacy through banyan* | {conns} | {:.1}x | | | {:.1}x less |",
            med[2][0] / med[1][0],
            med[1][3] / med[2][3]
        );
    }
    println!();
}
