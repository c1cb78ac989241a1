//! Legacy passthrough under load: banyan against nginx, HAProxy, the bare hyper and byte
//! forwarders and a direct connection, all in front of the same fast upstream. Banyan
//! runs twice: as configured by default (the byte-level passthrough) and with
//! `byte_passthrough = false` (every request through hyper).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::procs::{banyan, bare, bare_bytes, haproxy, nginx, release_dir, start_reporting, Contender};
use crate::wrk::{median, wrk, Run};
use crate::Options;

pub fn run(o: &Options, dir: &Path) {
    let (upstream_proc, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let contenders = vec![
        Contender { name: "direct", port: upstream, _procs: vec![] },
        nginx(dir, upstream),
        haproxy(dir, upstream),
        bare(upstream),
        bare_bytes(upstream),
        banyan(dir, upstream, true),
        banyan(dir, upstream, false),
    ];
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "## Legacy passthrough\n\nGET /api/1/ping, 31-byte JSON answer; {} rounds x {} s per contender and connection count, wrk -t{}; {cores} cores\n",
        o.rounds, o.duration, o.threads
    );
    for &conns in &o.connections {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); contenders.len()];
        for round in 0..o.rounds {
            // Rotate the order each round so no contender always runs first or last.
            for k in 0..contenders.len() {
                let i = (k + round) % contenders.len();
                let c = &contenders[i];
                let run = wrk(SocketAddr::from(([127, 0, 0, 1], c.port)), "/api/1/ping", conns, o);
                eprintln!(
                    "  {} connections, round {}, {}: {:.0} req/s, p99 {:.2} ms",
                    conns,
                    round + 1,
                    c.name,
                    run.rps,
                    run.p99_ms
                );
                runs[i].push(run);
            }
        }
        let med: Vec<(f64, f64, f64, u64)> = runs
            .iter()
            .map(|r| {
                (
                    median(r.iter().map(|x| x.rps).collect()),
                    median(r.iter().map(|x| x.p50_ms).collect()),
                    median(r.iter().map(|x| x.p99_ms).collect()),
                    r.iter().map(|x| x.errors).sum(),
                )
            })
            .collect();
        let nginx_rps = med[1].0;
        let (bare_rps, bytes_rps) = (med[3].0, med[4].0);
        println!("### {conns} connections\n");
        println!("| contender | req/s | p50 ms | p99 ms | vs nginx | vs bare hyper | vs bare bytes | errors |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (c, (rps, p50, p99, errors)) in contenders.iter().zip(&med) {
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.2}x | {:.2}x | {:.2}x | {} |",
                c.name,
                rps,
                p50,
                p99,
                rps / nginx_rps,
                rps / bare_rps,
                rps / bytes_rps,
                errors
            );
        }
        println!();
    }
    drop(contenders);
    drop(upstream_proc);
}
