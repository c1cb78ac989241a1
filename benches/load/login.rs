//! login: the reads rotki's web app makes at every login (`shared/rotki/frontend-session.md`:
//! the accounts of all 17 chains, the user list, settings, tags, services, two notes
//! counts, ping, info, the chain lists), sent as a browser sends them (6 connections at
//! once), through banyan with those routes native and with everything on legacy: how many
//! are answered natively, the time until the last answer, and what the batch cost banyan
//! and legacy in CPU. Interleaved, `--rounds` x 10 logins each way.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::procs::{cpu_ns, native_and_legacy};
use crate::wrk::median;
use crate::Options;

/// The chains the app asks the accounts of, as it names them.
const CHAINS: [&str; 17] = [
    "eth",
    "btc",
    "bch",
    "ksm",
    "avax",
    "dot",
    "optimism",
    "polygon_pos",
    "arbitrum_one",
    "base",
    "hyperliquid",
    "gnosis",
    "scroll",
    "binance_sc",
    "monad",
    "zksync_lite",
    "solana",
];

const NOTES: &str = r#"{"ascending": [false], "limit": 1, "location": "dashboard", "offset": 0, "order_by_attributes": ["title"], "title_substring": ""}"#;
const NOTES_GLOBAL: &str = r#"{"ascending": [false], "limit": 1, "location": "global", "offset": 0, "order_by_attributes": ["title"], "title_substring": ""}"#;

/// (flags route, method, route path) of every read below.
const ROUTES: [(&str, &str, &str); 10] = [
    ("users", "GET", "/api/1/users"),
    ("settings", "GET", "/api/1/settings"),
    ("tags", "GET", "/api/1/tags"),
    ("services", "GET", "/api/1/external_services"),
    ("accounts", "GET", "/api/1/blockchains/{blockchain}/accounts"),
    ("notes", "POST", "/api/1/notes"),
    ("ping", "GET", "/api/1/ping"),
    ("info", "GET", "/api/1/info"),
    ("supported", "GET", "/api/1/blockchains/supported"),
    ("evm_all", "GET", "/api/1/blockchains/evm/all"),
];

/// One login's reads: (method, path, JSON body).
fn reads() -> Vec<(&'static str, String, Option<&'static str>)> {
    let mut r: Vec<_> = CHAINS.iter().map(|c| ("GET", format!("/api/1/blockchains/{c}/accounts"), None)).collect();
    for path in [
        "/api/1/users",
        "/api/1/settings",
        "/api/1/tags",
        "/api/1/external_services",
        "/api/1/ping",
        "/api/1/info?check_for_updates=false",
        "/api/1/blockchains/supported",
        "/api/1/blockchains/evm/all",
    ] {
        r.push(("GET", path.to_string(), None));
    }
    r.push(("POST", "/api/1/notes".into(), Some(NOTES)));
    r.push(("POST", "/api/1/notes".into(), Some(NOTES_GLOBAL)));
    r
}

/// What one login's reads took: wall time, and how many banyan answered itself.
fn login(clients: &[reqwest::blocking::Client], addr: SocketAddr) -> (Duration, usize) {
    let reads = reads();
    let (next, native) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for client in clients {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((method, path, body)) = reads.get(i) else { break };
                let mut req = client.request(method.parse().unwrap(), format!("http://{addr}{path}"));
                if let Some(b) = body {
                    req = req.header("content-type", "application/json").body(*b);
                }
                let resp = req.send().unwrap();
                assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
                if resp.headers()["x-banyan-backend"] == "native" {
                    native.fetch_add(1, Ordering::Relaxed);
                }
                resp.bytes().unwrap();
            });
        }
    });
    (started.elapsed(), native.into_inner())
}

pub fn run(o: &Options, dir: &Path) {
    // Kept whole: its data directory lives as long as it does.
    let pair = native_and_legacy(dir, &ROUTES);
    let (native, through, legacy_proc) = (&pair.native, &pair.through, &pair.legacy);
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let legacy_pid = legacy_proc.0.id();

    // A user with accounts on a few chains, created through the native banyan, whose
    // session bridge opens its database.
    let client = reqwest::blocking::Client::new();
    let put = |path: &str, body: String| {
        let r = client.put(format!("http://{}{path}", addr(native.port))).header("content-type", "application/json");
        let resp = r.body(body).send().unwrap();
        let status = resp.status();
        assert_eq!(status, 200, "PUT {path}: {}", resp.text().unwrap_or_default());
    };
    put("/api/1/users", r#"{"name": "bench", "password": "bench pass'word"}"#.into());
    put(
        "/api/1/tags",
        r#"{"name": "hot", "description": "d", "background_color": "ffffff", "foreground_color": "000000"}"#.into(),
    );
    // (An address's tags are the address's on every chain: each chain gets its own.)
    for (c, chain) in ["eth", "gnosis", "base"].iter().enumerate() {
        let accounts: Vec<String> = (0..5)
            .map(|i| format!(r#"{{"address": "0x{:040x}", "label": "account {i}", "tags": ["hot"]}}"#, c * 16 + i))
            .collect();
        put(&format!("/api/1/blockchains/{chain}/accounts"), format!(r#"{{"accounts": [{}]}}"#, accounts.join(", ")));
    }
    put(
        "/api/1/blockchains/btc/accounts",
        r#"{"accounts": [{"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "label": "cold"}]}"#.into(),
    );

    let browser: Vec<reqwest::blocking::Client> = (0..6).map(|_| reqwest::blocking::Client::new()).collect();
    let sides = [
        ("native reads", addr(native.port), native.proc.0.id()),
        ("all legacy", addr(through.port), through.proc.0.id()),
    ];
    let mut seen: Vec<(Vec<f64>, Vec<f64>, usize)> = vec![(Vec::new(), Vec::new(), 0); sides.len()];
    for (i, (_, at, _)) in sides.iter().enumerate() {
        seen[i].2 = login(&browser, *at).1; // warm: connections open, caches filled
    }
    for _ in 0..o.rounds {
        for (i, (_, at, pid)) in sides.iter().enumerate() {
            // CPU over the round's 10 logins: the kernel counts it in 10 ms ticks.
            let before = cpu_ns(&[*pid, legacy_pid]);
            for _ in 0..10 {
                let (took, native) = login(&browser, *at);
                seen[i].0.push(took.as_secs_f64() * 1000.0);
                seen[i].2 = native;
            }
            seen[i].1.push(cpu_ns(&[*pid, legacy_pid]).saturating_sub(before) as f64 / 1e6 / 10.0);
        }
    }
    let n = reads().len();
    println!("## A login's reads\n\nThe {n} reads rotki's web app makes at every login, 6 at a time, {} logins each way, interleaved\n", o.rounds * 10);
    println!("| banyan with | answered natively | time to the last answer, median ms | p90 ms | CPU ms per login (banyan + legacy) |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, ..), (times, cpu, native)) in sides.iter().zip(&seen) {
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let p90 = sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)];
        println!("| {name} | {native} of {n} | {:.1} | {p90:.1} | {:.1} |", median(times.clone()), median(cpu.clone()));
    }
    println!("\n(CPU: each round's 10 logins together, per login; the median over rounds.)\n");
}
