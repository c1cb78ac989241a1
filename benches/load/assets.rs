//! rotki's asset module natively and on legacy, on a global.db the size of a real one: the
//! fixture slice of the tests (`tests/legacy/fixtures/global.sql`) with synthetic EVM tokens
//! added up to `ASSETS` assets, behind a logged-in user.
//!
//! - Throughput, latency and CPU per request of what the frontend asks most: a page of 25
//!   EVM tokens of the asset manager (`POST /api/1/assets/all`), the asset picker's
//!   `/api/1/assets/search` and `/api/1/assets/search/levenshtein` for "usd", and the
//!   `/api/1/assets/mappings` of 25 identifiers every table with assets asks for.
//! - Native `/api/1/ping`'s latency while 8 clients page through `/api/1/assets/all`, at a
//!   pace legacy could not keep and flat out, natively and on legacy: asset queries never
//!   hold up the rest.

use std::net::SocketAddr;
use std::path::Path;

use crate::compare::{native_vs_legacy, Side};
use crate::procs::{banyan_configured, legacy_app_on, ping_flags};
use crate::wrk::ping_while;
use crate::Options;

/// Assets in the benchmark's global.db (a stock rotki v1.43.2 install has 8159).
const ASSETS: usize = 8200;

/// (route, path, body).
const QUERIES: [(&str, &str, &str); 4] = [
    (
        "assets_all",
        "/api/1/assets/all",
        r#"{"limit": 25, "offset": 0, "asset_type": "evm token", "ignored_assets_handling": "exclude"}"#,
    ),
    (
        "search",
        "/api/1/assets/search",
        r#"{"value": "usd", "search_column": "name", "limit": 25, "return_exact_matches": false}"#,
    ),
    ("levenshtein", "/api/1/assets/search/levenshtein", r#"{"value": "usd", "limit": 25}"#),
    ("mappings", "/api/1/assets/mappings", ""),
];

pub fn run(o: &Options, dir: &Path) {
    println!("## The asset module (global.db with {ASSETS} assets, behind the login)\n");
    let data = tempfile::tempdir_in(dir).unwrap();
    let ids = fill(data.path());
    let mappings =
        format!(r#"{{"identifiers": [{}]}}"#, ids.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", "));
    let (legacy_proc, port) = legacy_app_on(data.path());
    let url = format!("http://127.0.0.1:{port}");
    let config = format!("data_dir = \"{}\"\n", data.path().display());
    let mut flags: String = QUERIES
        .iter()
        .map(|(name, path, _)| format!("[routes.{name}]\npath = \"{path}\"\nmethods = [\"POST\"]\nnative = 100\n"))
        .collect();
    flags.push_str(&ping_flags(100));
    let native = banyan_configured(dir, &url, &flags, &config);
    let through = banyan_configured(dir, &url, &ping_flags(100), &config);
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let legacy_pid = legacy_proc.0.id();
    let (native_pids, legacy_pids) = ([native.proc.0.id(), legacy_pid], [through.proc.0.id(), legacy_pid]);
    let (native, legacy) = (addr(native.port), addr(through.port));

    let client = reqwest::blocking::Client::new();
    let post = |at: SocketAddr, path: &str, body: &str| {
        client
            .post(format!("http://{at}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let r = client
        .put(format!("http://{native}/api/1/users"))
        .header("content-type", "application/json")
        .body(r#"{"name": "bench", "password": "bench"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "create the user");

    for (_, path, body) in QUERIES {
        let body = if body.is_empty() { mappings.as_str() } else { body };
        let (ours, theirs) = (post(native, path, body), post(legacy, path, body));
        assert_eq!(ours.headers()["x-banyan-backend"], "native", "the session did not open: {path}");
        assert_eq!(ours.text().unwrap(), theirs.text().unwrap(), "native and legacy differ: {path}");
        println!("### `POST {path}`\n\n`{}`\n", if body.len() > 120 { "25 identifiers" } else { body });
        let native = Side { addr: native, pids: &native_pids };
        native_vs_legacy(o, path, Some(body), native, Side { addr: legacy, pids: &legacy_pids });
    }

    println!("### Native `/api/1/ping` while 8 clients page through `/api/1/assets/all`\n");
    println!("Paced: the 8 clients ask for 20 pages a second in all (twice what legacy can serve); flat out: as fast");
    println!("as they are answered.\n");
    println!("| asset pages served by | pages asked for | ping req/s | ping p50 ms | ping p99 ms | pages done |");
    println!("|---|---|---:|---:|---:|---:|");
    let cases = [
        ("none (idle)", None, true),
        ("native", Some(native), true),
        ("legacy", Some(legacy), true),
        ("native", Some(native), false),
    ];
    for (name, pages_at, paced) in cases {
        let (ping, done) = ping_while(native, pages_at, o, move |client, addr| {
            let started = std::time::Instant::now();
            let r = client
                .post(format!("http://{addr}/api/1/assets/all"))
                .header("content-type", "application/json")
                .body(QUERIES[0].2)
                .send();
            // Each of the 8 clients: one page every 400 ms at most.
            if paced {
                std::thread::sleep(std::time::Duration::from_millis(400).saturating_sub(started.elapsed()));
            }
            r.is_ok_and(|r| r.status() == 200)
        });
        let asked = if paced { "20/s" } else { "flat out" };
        println!("| {name} | {asked} | {:.0} | {:.2} | {:.2} | {done} |", ping.rps, ping.p50_ms, ping.p99_ms);
    }
    println!();
}

/// The fixture global.db with synthetic EVM tokens up to `ASSETS`; returns 25 identifiers
/// of several kinds for the mappings query.
fn fill(data_dir: &Path) -> Vec<String> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/legacy/fixtures/global.sql");
    std::fs::create_dir_all(data_dir.join("global")).unwrap();
    let mut db = rusqlite::Connection::open(data_dir.join("global/global.db")).unwrap();
    db.execute_batch(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let have: usize = db.query_row("SELECT COUNT(*) FROM assets", [], |r| r.get(0)).unwrap();
    let words = ["USD Coin", "Wrapped Ether", "Dai Stablecoin", "Bitcoin Bridge", "Governance Token", "Liquid Staked"];
    let tx = db.transaction().unwrap();
    for i in have..ASSETS {
        let id = format!("eip155:1/erc20:0x{i:040x}");
        let name = format!("{} {i}", words[i % words.len()]);
        tx.execute("INSERT INTO assets VALUES (?, ?, 'C')", (&id, &name)).unwrap();
        tx.execute(
            "INSERT INTO common_asset_details VALUES (?, ?, NULL, NULL, NULL, 1600000000, NULL)",
            (&id, format!("SYN{i}")),
        )
        .unwrap();
        tx.execute("INSERT INTO evm_tokens VALUES (?, 'A', 1, ?, 18, NULL)", (&id, format!("0x{i:040x}"))).unwrap();
    }
    tx.commit().unwrap();
    db.execute_batch("PRAGMA journal_mode=WAL;").unwrap();
    let mut stmt = db.prepare("SELECT identifier FROM assets ORDER BY rowid LIMIT 25 OFFSET 40").unwrap();
    let ids = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<Vec<String>, _>>().unwrap();
    ids
}
