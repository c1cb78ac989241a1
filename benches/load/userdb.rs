//! The user's SQLCipher database behind rotki's login, natively and on legacy.
//!
//! - Throughput and latency of `GET /api/1/settings` and `GET /api/1/tags` (20 tags)
//!   through banyan, served natively from the session bridge's open database and by the
//!   legacy app (rotki's gevent stack on the same database), at 1 and 32 connections.
//! - Latency of legacy's `/api/1/ping` through banyan while 8 clients read settings,
//!   natively and on legacy: what moving the reads buys the endpoints still on legacy.

use std::net::SocketAddr;
use std::path::Path;

use crate::procs::{banyan_configured, legacy_app_on};
use crate::wrk::{median, ping_while, wrk, Run};
use crate::Options;

const READS: [(&str, &str); 2] = [("settings", "/api/1/settings"), ("tags", "/api/1/tags")];

pub fn run(o: &Options, dir: &Path) {
    println!("## The user database (SQLCipher, behind the login)\n");
    let data = tempfile::tempdir_in(dir).unwrap();
    let (_legacy, port) = legacy_app_on(data.path());
    let url = format!("http://127.0.0.1:{port}");
    let config = format!("data_dir = \"{}\"\n", data.path().display());
    let flags: String = READS
        .iter()
        .map(|(name, path)| format!("[routes.{name}]\npath = \"{path}\"\nmethods = [\"GET\"]\nnative = 100\n"))
        .collect();
    let native = banyan_configured(dir, &url, &flags, &config);
    let through = banyan_configured(dir, &url, "", &config);
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let (native, legacy) = (addr(native.port), addr(through.port));

    // The user is created through the native banyan, whose session bridge opens it.
    let client = reqwest::blocking::Client::new();
    let put = |path: &str, body: String| {
        let r = client.put(format!("http://{native}{path}")).header("content-type", "application/json").body(body);
        assert_eq!(r.send().unwrap().status(), 200, "PUT {path}");
    };
    put("/api/1/users", r#"{"name": "bench", "password": "bench pass'word"}"#.into());
    for i in 0..20 {
        put(
            "/api/1/tags",
            format!(
                r#"{{"name": "tag{i}", "description": "d", "background_color": "ffffff", "foreground_color": "000000"}}"#
            ),
        );
    }

    for (_, path) in READS {
        let r = client.get(format!("http://{native}{path}")).send().unwrap();
        assert_eq!(r.headers()["x-banyan-backend"], "native", "the session did not open: {path}");
        println!("### `GET {path}`\n");
        println!("| served by | connections | req/s | p50 ms | p99 ms |");
        println!("|---|---:|---:|---:|---:|");
        for conns in [1, 32] {
            let (mut n, mut l): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
            for _ in 0..o.rounds {
                n.push(wrk(native, path, conns, o));
                l.push(wrk(legacy, path, conns, o));
            }
            let row = |name: &str, runs: &[Run]| {
                let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
                println!(
                    "| {name} | {conns} | {:.0} | {:.2} | {:.2} |",
                    m(|r| r.rps),
                    m(|r| r.p50_ms),
                    m(|r| r.p99_ms)
                );
                m(|r| r.rps)
            };
            let (nr, lr) = (row("native", &n), row("legacy (through banyan)", &l));
            println!("| *native / legacy* | {conns} | {:.1}x | | |", nr / lr);
        }
        println!();
    }

    println!("### Legacy's `/api/1/ping` through banyan while 8 clients read `/api/1/settings`\n");
    println!("| settings served by | ping req/s | ping p50 ms | ping p99 ms | settings reads done |");
    println!("|---|---:|---:|---:|---:|");
    for (name, reads_at) in [("none (idle)", None), ("native", Some(native)), ("legacy", Some(legacy))] {
        let (ping, done) = ping_while(legacy, reads_at, o, |client, addr| {
            let r = client.get(format!("http://{addr}/api/1/settings")).send();
            r.is_ok_and(|r| r.status() == 200)
        });
        println!("| {name} | {:.0} | {:.2} | {:.2} | {done} |", ping.rps, ping.p50_ms, ping.p99_ms);
    }
    println!();
}
