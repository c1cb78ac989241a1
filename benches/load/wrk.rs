//! Driving wrk and reading its report.

use std::net::SocketAddr;
use std::process::Command;

use crate::Options;

#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub fn wrk(addr: SocketAddr, path: &str, connections: usize, o: &Options) -> Run {
    wrk_with(addr, path, connections, o, None, None)
}

/// The same with one more request header (`name: value`), if any.
pub fn wrk_header(addr: SocketAddr, path: &str, header: Option<&str>, connections: usize, o: &Options) -> Run {
    wrk_with(addr, path, connections, o, None, header)
}

/// The same for a JSON POST of `body`.
pub fn wrk_post(addr: SocketAddr, path: &str, body: &str, connections: usize, o: &Options) -> Run {
    let script = tempfile::Builder::new().suffix(".lua").tempfile().unwrap();
    let lua =
        format!("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n");
    std::fs::write(script.path(), lua).unwrap();
    wrk_with(addr, path, connections, o, Some(script.path()), None)
}

fn wrk_with(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    o: &Options,
    script: Option<&std::path::Path>,
    header: Option<&str>,
) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &o.threads.min(connections).to_string(), "-c", &connections.to_string()]).args([
        "-d",
        &format!("{}s", o.duration),
        "--latency",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    if let Some(header) = header {
        cmd.args(["-H", header]);
    }
    let out = cmd.arg(format!("http://{addr}{path}")).output().expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).and_then(|l| l.split_whitespace().nth(1))
    };
    let ms = |v: &str| -> f64 {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => f64::NAN,
        }
    };
    let socket_errors: u64 = text
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors"))
        .map(|l| l.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let non_2xx: u64 = field("Non-2xx")
        .and_then(|_| {
            text.lines()
                .find(|l| l.contains("Non-2xx"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0);
    if socket_errors + non_2xx > 0 {
        let detail: Vec<&str> = text.lines().filter(|l| l.contains("Socket errors") || l.contains("Non-2xx")).collect();
        eprintln!("  wrk on {addr} ({connections} connections) reported errors: {}", detail.join("; ").trim());
    }
    Run {
        rps: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        p50_ms: field("50%").map_or(f64::NAN, ms),
        p99_ms: field("99%").map_or(f64::NAN, ms),
        errors: socket_errors + non_2xx,
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// wrk on legacy's `/api/1/ping` through `legacy` (one connection) while 8 clients loop
/// `one` against `load_at` (none: an idle baseline): the ping run, and how many of the
/// clients' requests succeeded meanwhile.
pub fn ping_while<F>(legacy: SocketAddr, load_at: Option<SocketAddr>, o: &Options, one: F) -> (Run, u64)
where
    F: Fn(&reqwest::blocking::Client, SocketAddr) -> bool + Copy + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let load: Vec<_> = load_at
        .into_iter()
        .flat_map(|addr| std::iter::repeat(addr).take(8))
        .map(|addr| {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    if one(&client, addr) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let ping = wrk(legacy, "/api/1/ping", 1, o);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.join();
    }
    (ping, done.load(Ordering::Relaxed))
}
