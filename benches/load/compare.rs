//! One endpoint natively and on legacy, through two banyans in front of the same legacy
//! app, interleaved round by round: throughput, latency, and the CPU each request cost the
//! processes behind it (banyan and legacy together), at 1 and 32 connections.

use std::net::SocketAddr;

use crate::procs::cpu_ns;
use crate::wrk::{median, wrk, wrk_post, Run};
use crate::Options;

/// Where requests go and the processes whose CPU they cost.
pub struct Side<'a> {
    pub addr: SocketAddr,
    pub pids: &'a [u32],
}

/// A wrk run and the CPU microseconds each of its requests cost.
type Costed = (Run, f64);

/// Prints the table rows (the header is the caller's) and returns native/legacy req/s at
/// each connection count.
pub fn native_vs_legacy(o: &Options, path: &str, body: Option<&str>, native: Side, legacy: Side) -> Vec<f64> {
    println!("| served by | connections | req/s | p50 ms | p99 ms | CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for conns in [1, 32] {
        let (mut n, mut l): (Vec<Costed>, Vec<Costed>) = (Vec::new(), Vec::new());
        for _ in 0..o.rounds {
            let run = |side: &Side| {
                let before = cpu_ns(side.pids);
                let r = match body {
                    Some(b) => wrk_post(side.addr, path, b, conns, o),
                    None => wrk(side.addr, path, conns, o),
                };
                let requests = r.rps * o.duration as f64;
                (r, cpu_ns(side.pids).saturating_sub(before) as f64 / 1000.0 / requests.max(1.0))
            };
            n.push(run(&native));
            l.push(run(&legacy));
        }
        let row = |name: &str, runs: &[Costed]| {
            let m = |f: &dyn Fn(&Costed) -> f64| median(runs.iter().map(f).collect());
            let (rps, cpu) = (m(&|r| r.0.rps), m(&|r| r.1));
            println!(
                "| {name} | {conns} | {rps:.0} | {:.2} | {:.2} | {cpu:.0} |",
                m(&|r| r.0.p50_ms),
                m(&|r| r.0.p99_ms)
            );
            (rps, cpu)
        };
        let ((nr, nc), (lr, lc)) = (row("native", &n), row("legacy (through banyan)", &l));
        println!("| *native / legacy* | {conns} | {:.1}x | | | {:.2}x |", nr / lr, nc / lc);
        ratios.push(nr / lr);
    }
    println!();
    ratios
}
