//! Legacy passthrough under load: banyan against nginx (with and without its access log),
//! HAProxy, the bare hyper and byte forwarders and a direct connection, all in front of the
//! same fast upstream, each with the same number of workers. Banyan runs three ways: as
//! configured by default (byte-level passthrough, access log on), with its access log off,
//! and with `byte_passthrough = false` (every request through hyper). Besides throughput
//! and latency, each contender's CPU time per request, from its processes' own counters:
//! on a machine wrk shares, that is what a proxy costs, where throughput is partly wrk's.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::procs::{banyan, bare, bare_bytes, cpu_ns, haproxy, nginx, release_dir, start_reporting, Contender};
use crate::wrk::{median, wrk_header, Run};
use crate::Options;

/// The medians of one contender's rounds.
#[derive(Clone, Copy)]
pub struct Medians {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    /// CPU µs per request (NaN for the direct connection, which has no proxy).
    pub cpu: f64,
    pub errors: u64,
}

pub fn run(o: &Options, dir: &Path) {
    let (upstream_proc, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "## Legacy passthrough\n\nGET /api/1/ping, 31-byte JSON answer; {} rounds x {} s per contender and connection count, wrk -t{}; {cores} cores\n",
        o.rounds, o.duration, o.threads
    );
    for &workers in &o.workers {
        let contenders = vec![
            Contender { name: "direct", access_log: false, port: upstream, _procs: vec![] },
            nginx(dir, upstream, workers, false),
            nginx(dir, upstream, workers, true),
            haproxy(dir, upstream, workers),
            bare(upstream, workers),
            bare_bytes(upstream, workers),
            banyan(dir, upstream, false, workers, false),
            banyan(dir, upstream, false, workers, true),
            banyan(dir, upstream, true, workers, true),
        ];
        let mut by_conns = Vec::new();
        for &conns in &o.connections {
            let runs = measure(o, &contenders, workers, conns, "/api/1/ping", None);
            print_table(&contenders, &runs, workers, conns);
            by_conns.push((conns, runs));
        }
        print_summary(&contenders, &by_conns, workers);
    }
    drop(upstream_proc);
}

/// A wrk run and the CPU µs each of its requests cost the contender.
pub type Costed = (Run, f64);

/// Interleaved rounds of every contender at `conns` connections on `path` (with one more
/// request header, if any): each contender's runs, in round order.
pub fn measure(
    o: &Options,
    contenders: &[Contender],
    workers: usize,
    conns: usize,
    path: &str,
    header: Option<&str>,
) -> Vec<Vec<Costed>> {
    let pids: Vec<Vec<u32>> = contenders.iter().map(Contender::pids).collect();
    let mut runs: Vec<Vec<Costed>> = vec![Vec::new(); contenders.len()];
    for round in 0..o.rounds {
        // Rotate the order each round so no contender always runs first or last.
        for k in 0..contenders.len() {
            let i = (k + round) % contenders.len();
            let c = &contenders[i];
            let before = cpu_ns(&pids[i]);
            let run = wrk_header(SocketAddr::from(([127, 0, 0, 1], c.port)), path, header, conns, o);
            let requests = (run.rps * o.duration as f64).max(1.0);
            let cpu = if pids[i].is_empty() {
                f64::NAN
            } else {
                cpu_ns(&pids[i]).saturating_sub(before) as f64 / 1000.0 / requests
            };
            eprintln!(
                "  {workers} workers, {conns} connections, round {}, {}: {:.0} req/s, p99 {:.2} ms, {cpu:.1} µs/req",
                round + 1,
                c.name,
                run.rps,
                run.p99_ms
            );
            runs[i].push((run, cpu));
        }
    }
    runs
}

pub fn medians(runs: &[Costed]) -> Medians {
    let m = |f: &dyn Fn(&Costed) -> f64| median(runs.iter().map(f).collect());
    Medians {
        rps: m(&|x| x.0.rps),
        p50: m(&|x| x.0.p50_ms),
        p99: m(&|x| x.0.p99_ms),
        cpu: m(&|x| x.1),
        errors: runs.iter().map(|x| x.0.errors).sum(),
    }
}

/// One figure of a run: its req/s, or its CPU per request.
pub type Figure = fn(&Costed) -> f64;

/// The median over rounds of `a`'s figure over `b`'s in the same round: steadier than a
/// ratio of medians when the machine's speed drifts from round to round.
pub fn paired(a: &[Costed], b: &[Costed], figure: Figure) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| figure(x) / figure(y)).collect())
}

/// nginx with the same access-log setting as `c`: the peer `c` is compared with.
fn nginx_like(contenders: &[Contender], c: &Contender) -> usize {
    let i = contenders.iter().position(|n| n.name.starts_with("nginx") && n.access_log == c.access_log);
    i.expect("both nginx contenders run")
}

fn print_table(contenders: &[Contender], runs: &[Vec<Costed>], workers: usize, conns: usize) {
    let med: Vec<Medians> = runs.iter().map(|r| medians(r)).collect();
    let bytes = contenders.iter().position(|c| c.name == "bare bytes").map(|i| med[i].rps).unwrap_or(f64::NAN);
    println!("### {workers} worker(s) each, {conns} connections\n");
    println!("| contender | access log | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs nginx | CPU vs nginx | vs bare bytes | errors |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (c, m) in contenders.iter().zip(&med) {
        let peer = &med[nginx_like(contenders, c)];
        let cpu = if m.cpu.is_nan() { "—".to_string() } else { format!("{:.1}", m.cpu) };
        let cpu_ratio = if m.cpu.is_nan() { "—".to_string() } else { format!("{:.2}x", m.cpu / peer.cpu) };
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {cpu} | {:.2}x | {cpu_ratio} | {:.2}x | {} |",
            c.name,
            if c.access_log { "on" } else { "off" },
            m.rps,
            m.p50,
            m.p99,
            m.rps / peer.rps,
            m.rps / bytes,
            m.errors
        );
    }
    println!("\n(\"vs nginx\": against nginx with the same access-log setting.)\n");
}

/// Banyan against its peers round by round: what the access log costs it, how it compares
/// with nginx, and how its CPU per request moves with connections.
fn print_summary(contenders: &[Contender], by_conns: &[(usize, Vec<Vec<Costed>>)], workers: usize) {
    let at = |name: &str| contenders.iter().position(|c| c.name == name);
    let (Some(on), Some(off)) = (at("banyan (default)"), at("banyan, access log off")) else { return };
    let rps: Figure = |x| x.0.rps;
    let cpu: Figure = |x| x.1;
    println!("Round by round (medians of each round's ratio), {workers} worker(s):\n");
    for (conns, runs) in by_conns {
        println!(
            "- {conns} connections: the access log costs banyan {:+.1} % CPU per request; \
             with logs on on both, banyan {:.2}x nginx's req/s at {:.2}x its CPU per request; \
             with logs off on both, {:.2}x at {:.2}x",
            (paired(&runs[on], &runs[off], cpu) - 1.0) * 100.0,
            paired(&runs[on], &runs[nginx_like(contenders, &contenders[on])], rps),
            paired(&runs[on], &runs[nginx_like(contenders, &contenders[on])], cpu),
            paired(&runs[off], &runs[nginx_like(contenders, &contenders[off])], rps),
            paired(&runs[off], &runs[nginx_like(contenders, &contenders[off])], cpu),
        );
    }
    if let (Some((lo, first)), Some((hi, last))) = (by_conns.first(), by_conns.last()) {
        if lo != hi {
            for i in [off, on, nginx_like(contenders, &contenders[off])] {
                let (a, b) = (medians(&first[i]).cpu, medians(&last[i]).cpu);
                println!(
                    "- {}: CPU per request at {hi} connections {:+.1} % of that at {lo}",
                    contenders[i].name,
                    (b / a - 1.0) * 100.0
                );
            }
        }
    }
    println!();
}
