//! global.db: the first endpoint that reads a database, natively and on legacy.
//!
//! - Throughput and latency of `POST /api/1/assets/locationmappings` through banyan, served
//!   natively (`native = 100`) and by the legacy app (rotki's gevent stack with its
//!   progress-handler hack), on the captures' fixture global.db.
//! - Latency of legacy's `/api/1/ping` through banyan while 8 heavy queries run (two full
//!   scans of a 400,000-row table each), natively and on legacy: what moving the heavy
//!   endpoint to native buys the endpoints still on legacy.

use std::net::SocketAddr;
use std::path::Path;

use crate::procs::{banyan_configured, legacy_app_on};
#[path = "../../tests/common/big_db.rs"]
mod big_db;
use crate::wrk::{median, ping_while, wrk_post, Run};
use crate::Options;

const ROUTE: &str =
    "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\n";
const QUERY: &str = r#"{"location": "kraken"}"#;
const HEAVY: &str = r#"{"location_symbol": "%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%z"}"#;
const ROWS: usize = 400_000;

pub fn run(o: &Options, dir: &Path) {
    println!("## global.db\n");
    endpoint(o, dir);
    heavy(o, dir);
}

fn start_pair(dir: &Path, data_dir: &Path) -> (crate::procs::Proc, SocketAddr, SocketAddr, Vec<crate::procs::Proc>) {
    let (legacy, port) = legacy_app_on(data_dir);
    let url = format!("http://127.0.0.1:{port}");
    let data = data_dir.to_str().unwrap();
    let config = format!("data_dir = \"{data}\"\n");
    let native = banyan_configured(dir, &url, ROUTE, &config);
    let through = banyan_configured(dir, &url, "", &config);
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    (legacy, addr(native.port), addr(through.port), vec![native.proc, through.proc])
}

fn endpoint(o: &Options, dir: &Path) {
    let data = tempfile::tempdir_in(dir).unwrap();
    let (_legacy, native, legacy, _banyans) = start_pair(dir, data.path());
    println!("### `POST /api/1/assets/locationmappings` {QUERY}, fixture global.db\n");
    println!("| served by | connections | req/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    for conns in [1, 32] {
        let (mut n, mut l): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
        for _ in 0..o.rounds {
            n.push(wrk_post(native, "/api/1/assets/locationmappings", QUERY, conns, o));
            l.push(wrk_post(legacy, "/api/1/assets/locationmappings", QUERY, conns, o));
        }
        let row = |name: &str, runs: &[Run]| {
            let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
            println!("| {name} | {conns} | {:.0} | {:.2} | {:.2} |", m(|r| r.rps), m(|r| r.p50_ms), m(|r| r.p99_ms));
            m(|r| r.rps)
        };
        let (nr, lr) = (row("native", &n), row("legacy (through banyan)", &l));
        println!("| *native / legacy* | {conns} | {:.1}x | | |", nr / lr);
    }
    println!();
}

fn heavy(o: &Options, dir: &Path) {
    let data = tempfile::tempdir_in(dir).unwrap();
    big_db::fill(data.path(), ROWS);
    let (_legacy, native, legacy, _banyans) = start_pair(dir, data.path());
    println!("### Legacy's `/api/1/ping` through banyan while 8 heavy queries run ({ROWS} rows)\n");
    println!("| heavy queries served by | ping req/s | ping p50 ms | ping p99 ms | heavy queries done |");
    println!("|---|---:|---:|---:|---:|");
    for (name, heavy_at) in [("none (idle)", None), ("native", Some(native)), ("legacy", Some(legacy))] {
        let (ping, done) = ping_while(legacy, heavy_at, o, |client, addr| {
            let r = client
                .post(format!("http://{addr}/api/1/assets/locationmappings"))
                .header("content-type", "application/json")
                .body(HEAVY)
                .send();
            r.is_ok_and(|r| r.status() == 200)
        });
        println!("| {name} | {:.0} | {:.2} | {:.2} | {done} |", ping.rps, ping.p50_ms, ping.p99_ms);
    }
    println!();
}
