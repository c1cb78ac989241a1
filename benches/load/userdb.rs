//! The user's SQLCipher database behind rotki's login, natively and on legacy.
//!
//! - Throughput and latency of `GET /api/1/settings`, `GET /api/1/tags` (20 tags),
//!   `GET /api/1/blockchains/gnosis/accounts` (10 accounts, labelled and tagged) and the
//!   frontend's `POST /api/1/notes` count (10 notes) through banyan, served natively from the session bridge's open database and by the
//!   legacy app (rotki's gevent stack on the same database), at 1 and 32 connections; with
//!   the CPU each request cost banyan and the legacy app together (wrk shares the two
//!   cores, so at 32 connections throughput is partly the load generator's).
//! - Latency of legacy's `/api/1/ping` through banyan while 8 clients read settings,
//!   natively and on legacy: what moving the reads buys the endpoints still on legacy.

use std::net::SocketAddr;
use std::path::Path;

use crate::compare::{native_vs_legacy, Side};
use crate::procs::native_and_legacy;
use crate::wrk::ping_while;
use crate::Options;

/// (route, method, route path, request path, JSON body).
const READS: [(&str, &str, &str, &str, Option<&str>); 4] = [
    ("settings", "GET", "/api/1/settings", "/api/1/settings", None),
    ("tags", "GET", "/api/1/tags", "/api/1/tags", None),
    ("accounts", "GET", "/api/1/blockchains/{chain}/accounts", "/api/1/blockchains/gnosis/accounts", None),
    (
        "notes",
        "POST",
        "/api/1/notes",
        "/api/1/notes",
        Some(
            r#"{"ascending": [false], "limit": 1, "location": "dashboard", "offset": 0, "order_by_attributes": ["title"], "title_substring": ""}"#,
        ),
    ),
];

pub fn run(o: &Options, dir: &Path) {
    println!("## The user database (SQLCipher, behind the login)\n");
    let routes: Vec<_> = READS.iter().map(|(name, method, path, ..)| (*name, *method, *path)).collect();
    // Kept whole: its data directory lives as long as it does.
    let pair = native_and_legacy(dir, &routes);
    let (native, through, legacy_proc) = (&pair.native, &pair.through, &pair.legacy);
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let legacy_pid = legacy_proc.0.id();
    let (native_pids, legacy_pids) = ([native.proc.0.id(), legacy_pid], [through.proc.0.id(), legacy_pid]);
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
    let accounts: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"address": "0x{i:040x}", "label": "account {i}", "tags": ["tag{i}"]}}"#))
        .collect();
    put("/api/1/blockchains/gnosis/accounts", format!(r#"{{"accounts": [{}]}}"#, accounts.join(", ")));
    for i in 0..10 {
        let note = format!(r#"{{"title": "note {i}", "content": "c", "location": "dashboard", "is_pinned": false}}"#);
        put("/api/1/notes", note);
    }

    for (_, method, _, path, body) in READS {
        let request = client.request(method.parse().unwrap(), format!("http://{native}{path}"));
        let request = match body {
            Some(b) => request.header("content-type", "application/json").body(b),
            None => request,
        };
        let r = request.send().unwrap();
        assert_eq!(r.headers()["x-banyan-backend"], "native", "the session did not open: {path}");
        println!("### `{method} {path}`\n");
        let native = Side { addr: native, pids: &native_pids };
        native_vs_legacy(o, path, body, native, Side { addr: legacy, pids: &legacy_pids });
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
