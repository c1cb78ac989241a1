//! Websockets: what a relayed connection costs banyan in memory, and how long a native
//! broadcast takes to reach the last of many sockets.
//!
//! - Relay: banyan (`websocket = "relay"`) in front of a fast websocket echo upstream
//!   (`ws_upstream.rs`); `--ws-connections` sockets (default 9,900: each relayed socket
//!   holds two descriptors in banyan, and this machine's hard limit is 20,000) are opened,
//!   each proven relayed by an echo, and banyan's RSS is read before and after.
//! - Broadcast: banyan (`websocket = "native"`) with `--ws-clients` sockets (default
//!   1,000); 100 messages published
//!   one at a time through the admin hook; for each, the time from the publish request to
//!   the last socket receiving it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::procs::{banyan_configured, release_dir, start_reporting};
use crate::Options;

pub fn run(o: &Options, dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("## Websockets\n");
    relay(o, dir, &runtime);
    broadcast(o, dir, &runtime);
}

fn relay(o: &Options, dir: &Path, runtime: &tokio::runtime::Runtime) {
    let (_upstream, port) = start_reporting(&mut Command::new(release_dir().join("examples/ws-upstream")));
    let flags = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n";
    let banyan = banyan_configured(dir, &format!("http://127.0.0.1:{port}"), flags, "");
    let addr = SocketAddr::from(([127, 0, 0, 1], banyan.port));
    let before = crate::soak::rss_kib(banyan.proc.0.id());
    let n = o.ws_connections;
    let started = Instant::now();
    let sockets = runtime.block_on(async move {
        let limit = Arc::new(tokio::sync::Semaphore::new(64));
        let opens = (0..n).map(|i| {
            let limit = limit.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let stream = TcpStream::connect(addr).await.expect("connect to banyan");
                let (mut ws, _) =
                    tokio_tungstenite::client_async_with_config(format!("ws://{addr}/ws/"), stream, Some(small()))
                        .await
                        .expect("handshake");
                let hello = format!("hello {i}");
                ws.send(Message::text(hello.clone())).await.unwrap();
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.as_str() == hello => ws,
                    other => panic!("socket {i} not relayed: {other:?}"),
                }
            })
        });
        let mut sockets = Vec::with_capacity(n);
        for open in opens.collect::<Vec<_>>() {
            sockets.push(open.await.unwrap());
        }
        sockets
    });
    let opened = started.elapsed();
    // Let allocator caches settle before reading.
    std::thread::sleep(Duration::from_secs(1));
    let after = crate::soak::rss_kib(banyan.proc.0.id());
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!("### Relayed connections held\n");
    println!("| sockets | banyan RSS before MiB | with all open MiB | per socket KiB | opened and echoed in s |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {n} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per / 1024.0,
        opened.as_secs_f64()
    );
    drop(sockets);
}

fn broadcast(o: &Options, dir: &Path, runtime: &tokio::runtime::Runtime) {
    let clients = o.ws_clients;
    const ROUNDS: usize = 100;
    let flags = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"native\"\n";
    let banyan = banyan_configured(dir, "http://127.0.0.1:9", flags, "");
    let addr = SocketAddr::from(([127, 0, 0, 1], banyan.port));
    let admin = SocketAddr::from(([127, 0, 0, 1], banyan.admin));
    let latencies = runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
        for _ in 0..clients {
            let stream = TcpStream::connect(addr).await.expect("connect to banyan");
            let (mut ws, _) =
                tokio_tungstenite::client_async_with_config(format!("ws://{addr}/ws/"), stream, Some(small()))
                    .await
                    .expect("handshake");
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(m)) = ws.next().await {
                    if let Message::Text(t) = m {
                        let at = Instant::now();
                        // `{"type": "refresh_balances", "data": {"round": N}}`: cheaper than parsing.
                        let round = t.as_str().rsplit(": ").next().unwrap().trim_end_matches('}');
                        let _ = tx.send((round.parse().unwrap(), at));
                    }
                }
            });
        }
        let client = reqwest::Client::new();
        while subscribers(&client, admin).await < clients {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut latencies = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            let body = serde_json::json!({"type": "refresh_balances", "data": {"round": round}}).to_string();
            let published = Instant::now();
            client
                .post(format!("http://{admin}/api/notify"))
                .bearer_auth(crate::procs::ADMIN_TOKEN)
                .body(body)
                .send()
                .await
                .unwrap();
            let mut last = published;
            for _ in 0..clients {
                let (r, at) = rx.recv().await.unwrap();
                assert_eq!(r, round, "a socket got rounds out of order");
                last = last.max(at);
            }
            latencies.push(last - published);
        }
        latencies
    });
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!("### Native broadcast, publish to the last of {clients} sockets\n");
    println!("| messages | p50 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|");
    println!("| {} | {:.2} | {:.2} | {:.2} |\n", ms.len(), pct(0.5), pct(0.99), ms[ms.len() - 1]);
}

/// A client socket's config: tungstenite's default 128 KiB read buffer is zeroed on every
/// read, which would make the benchmark's own clients the bottleneck.
fn small() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

async fn subscribers(client: &reqwest::Client, admin: SocketAddr) -> usize {
    let body = client.get(format!("http://{admin}/api/ws")).send().await.unwrap().text().await.unwrap();
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["native_subscribers"].as_u64().unwrap() as usize
}
