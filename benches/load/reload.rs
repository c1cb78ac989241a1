//! Hot reload under load: while wrk keeps banyan busy, the flags file is saved 100 times,
//! each save flipping `/api/1/ping` between native and legacy, and a client on its own
//! keep-alive connection measures how long each save takes to serve. wrk's report says
//! whether any request failed meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::{banyan_with, ping_flags, release_dir, start_reporting};
use crate::wrk::wrk;
use crate::Options;

const WRITES: usize = 100;

/// Who answered one request on `conn`.
fn backend(conn: &mut TcpStream) -> String {
    conn.write_all(b"GET /api/1/ping HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "banyan closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_string()))
    };
    let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "banyan closed the connection mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    header("x-banyan-backend").unwrap_or_default()
}

pub fn run(o: &Options, dir: &Path) {
    let (_upstream, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let (_banyan, port, flags) = banyan_with(dir, &format!("http://127.0.0.1:{upstream}"), &ping_flags(0));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    // Enough load time to cover every save; wrk stops by itself.
    let load_secs = 30;
    let load_opts = Options::single_run(load_secs, o.threads);
    let load = std::thread::spawn(move || wrk(addr, "/api/1/ping", 32, &load_opts));
    std::thread::sleep(Duration::from_secs(1));

    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let mut took = Vec::with_capacity(WRITES);
    let started = Instant::now();
    for i in 0..WRITES {
        let (native, want) = if i % 2 == 0 { (100, "native") } else { (0, "legacy") };
        // In place, as `echo > flags.toml` or an editor without atomic saves would.
        std::fs::write(&flags, ping_flags(native)).unwrap();
        let t0 = Instant::now();
        while backend(&mut conn) != want {
            assert!(t0.elapsed() < Duration::from_secs(5), "save {i} not serving after 5 s");
        }
        took.push(t0.elapsed());
        // Space the saves out so each is its own reload, not a coalesced burst.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() < Duration::from_secs(load_secs - 2), "the saves outlasted the load");
    let run = load.join().unwrap();
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("## Hot reload under load\n");
    println!("{WRITES} in-place saves of flags.toml, each flipping /api/1/ping, while wrk -c32 loads banyan\n");
    println!("| p50 ms | p99 ms | max ms | load req/s | failed requests |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {:.1} | {:.1} | {:.1} | {:.0} | {} |\n",
        ms(took[WRITES / 2]),
        ms(took[WRITES * 99 / 100]),
        ms(took[WRITES - 1]),
        run.rps,
        run.errors
    );
}
