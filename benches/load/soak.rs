//! Memory under sustained load: wrk keeps banyan busy (legacy passthrough to the fast
//! upstream) for `--soak-secs` while banyan's RSS is sampled every 10 s; growth between the
//! end of the first minute (pools and buffers warmed up) and the end is what would leak.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::{banyan_with, release_dir, start_reporting};
use crate::wrk::wrk;
use crate::Options;

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn run(o: &Options, dir: &Path) {
    let (_upstream, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let flags = "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\n";
    let (banyan, port, _) = banyan_with(dir, &format!("http://127.0.0.1:{upstream}"), flags);
    let pid = banyan.0.id();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let idle = rss_kib(pid);
    let secs = o.soak_secs;
    let load_opts = Options::single_run(secs, o.threads);
    let load = std::thread::spawn(move || wrk(addr, "/api/1/ping", 256, &load_opts));
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(10).min(Duration::from_secs(secs).saturating_sub(started.elapsed())));
        samples.push((started.elapsed().as_secs(), rss_kib(pid)));
    }
    let run = load.join().unwrap();
    let warm = samples.iter().find(|(t, _)| *t >= 60).or(samples.first()).map_or(0, |s| s.1);
    let end = samples.last().map_or(0, |s| s.1);
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!("## Memory soak\n");
    println!("wrk -c256 for {secs} s against banyan (legacy passthrough); RSS sampled every 10 s\n");
    println!("| idle MiB | after 1 min MiB | end MiB | max MiB | req/s | failed requests |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "| {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} |\n",
        mib(idle),
        mib(warm),
        mib(end),
        mib(max),
        run.rps,
        run.errors
    );
    eprintln!("  RSS samples (s, KiB): {samples:?}");
}
