//! The load benchmark: banyan's legacy passthrough against the proxies ops would otherwise
//! use (nginx `proxy_pass` with upstream keep-alive, HAProxy), a bare hyper forwarder (our
//! stack with no features) and a direct connection (the limit), all forwarding to the same
//! fast upstream, driven by wrk in interleaved rounds. Prints one table of medians with
//! the ratios to nginx and to the bare forwarder; ratios, because absolute numbers move
//! from run to run on a shared machine.
//!
//! Run it with `scripts/bench-load.sh` (installs wrk, nginx and HAProxy, builds, runs).
//! Options: `--duration SECS` (per run, default 5), `--rounds N` (default 3),
//! `--connections 32,256`, `--threads N` (wrk threads, default 2).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Options {
    duration: u64,
    rounds: usize,
    connections: Vec<usize>,
    threads: usize,
}

fn options() -> Options {
    let mut o = Options { duration: 5, rounds: 3, connections: vec![32, 256], threads: 2 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).unwrap_or_else(|| panic!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--duration" => o.duration = value.parse().expect("--duration SECS"),
            "--rounds" => o.rounds = value.parse().expect("--rounds N"),
            "--threads" => o.threads = value.parse().expect("--threads N"),
            "--connections" => {
                o.connections = value.split(',').map(|c| c.parse().expect("--connections 32,256")).collect()
            }
            // `cargo` passes `--bench` when run as a bench target; ignore such flags.
            other if other.starts_with("--") => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o
}

/// A process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM, so nginx's master takes its workers down with it.
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a program that prints `LISTENING <port>` on stdout.
fn start_reporting(cmd: &mut Command) -> (Proc, u16) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start helper");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("LISTENING ").and_then(|p| p.parse().ok()).expect("LISTENING <port>");
    (Proc(child), port)
}

fn release_dir() -> PathBuf {
    // target/release/examples/loadbench -> target/release
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

struct Contender {
    name: &'static str,
    port: u16,
    _procs: Vec<Proc>,
}

fn nginx(dir: &Path, upstream: u16) -> Contender {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "worker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};\n  uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           upstream legacy {{ server 127.0.0.1:{upstream}; keepalive 512; }}\n\
           server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://legacy; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-c", &dir.join("nginx.conf").display().to_string(), "-g", "daemon off;"])
        .spawn()
        .expect("start nginx (apt-get install nginx-light)");
    wait_port(port);
    Contender { name: "nginx", port, _procs: vec![Proc(child)] }
}

fn haproxy(dir: &Path, upstream: u16) -> Contender {
    let port = free_port();
    let conf = format!(
        "global\n  nbthread {}\n  maxconn 8000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         option http-keep-alive\n  http-reuse always\nfrontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\
         backend be\n  server s1 127.0.0.1:{upstream}\n",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    std::fs::write(dir.join("haproxy.cfg"), conf).unwrap();
    let child = Command::new("haproxy")
        .args(["-f", &dir.join("haproxy.cfg").display().to_string(), "-db"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start haproxy (apt-get install haproxy)");
    wait_port(port);
    Contender { name: "haproxy", port, _procs: vec![Proc(child)] }
}

fn bare(upstream: u16) -> Contender {
    let (p, port) = start_reporting(
        Command::new(release_dir().join("examples/bare-forwarder"))
            .args(["127.0.0.1:0", &format!("127.0.0.1:{upstream}")]),
    );
    Contender { name: "bare hyper", port, _procs: vec![p] }
}

/// Banyan with no route matching the benchmark path: every request is legacy passthrough.
fn banyan(dir: &Path, upstream: u16) -> Contender {
    let flags = dir.join("flags.toml");
    std::fs::write(&flags, "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\n").unwrap();
    std::fs::write(dir.join("banyan.toml"), "").unwrap();
    let port = free_port();
    let child = Command::new(release_dir().join("banyan"))
        .arg("serve")
        .arg("--config")
        .arg(dir.join("banyan.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--admin-listen", "127.0.0.1:0"])
        .args(["--legacy", &format!("http://127.0.0.1:{upstream}")])
        .arg("--flags")
        .arg(&flags)
        .env("BANYAN_LOG", "warn")
        .spawn()
        .expect("start banyan (cargo build --release)");
    wait_port(port);
    Contender { name: "banyan", port, _procs: vec![Proc(child)] }
}

#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(addr: SocketAddr, connections: usize, o: &Options) -> Run {
    let out = Command::new("wrk")
        .args(["-t", &o.threads.min(connections).to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", o.duration), "--latency"])
        .arg(format!("http://{addr}/api/1/ping"))
        .output()
        .expect("run wrk (apt-get install wrk)");
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
    Run {
        rps: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        p50_ms: field("50%").map_or(f64::NAN, ms),
        p99_ms: field("99%").map_or(f64::NAN, ms),
        errors: socket_errors + non_2xx,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let (upstream_proc, upstream) = start_reporting(&mut Command::new(release_dir().join("examples/upstream")));
    let contenders = vec![
        Contender { name: "direct", port: upstream, _procs: vec![] },
        nginx(dir.path(), upstream),
        haproxy(dir.path(), upstream),
        bare(upstream),
        banyan(dir.path(), upstream),
    ];
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "load benchmark: GET /api/1/ping, 31-byte JSON answer; {} rounds x {} s per contender and connection count, wrk -t{}; {cores} cores\n",
        o.rounds, o.duration, o.threads
    );
    for &conns in &o.connections {
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); contenders.len()];
        for round in 0..o.rounds {
            // Rotate the order each round so no contender always runs first or last.
            for k in 0..contenders.len() {
                let i = (k + round) % contenders.len();
                let c = &contenders[i];
                let run = wrk(SocketAddr::from(([127, 0, 0, 1], c.port)), conns, &o);
                eprintln!(
                    "  {} connections, round {}, {}: {:.0} req/s, p99 {:.2} ms",
                    conns,
                    round + 1,
                    c.name,
                    run.rps,
                    run.p99_ms
                );
                runs[i].push(run);
            }
        }
        let med: Vec<(f64, f64, f64, u64)> = runs
            .iter()
            .map(|r| {
                (
                    median(r.iter().map(|x| x.rps).collect()),
                    median(r.iter().map(|x| x.p50_ms).collect()),
                    median(r.iter().map(|x| x.p99_ms).collect()),
                    r.iter().map(|x| x.errors).sum(),
                )
            })
            .collect();
        let nginx_rps = med[1].0;
        let bare_rps = med[3].0;
        println!("### {conns} connections\n");
        println!("| contender | req/s | p50 ms | p99 ms | vs nginx | vs bare hyper | errors |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (c, (rps, p50, p99, errors)) in contenders.iter().zip(&med) {
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.2}x | {:.2}x | {} |",
                c.name,
                rps,
                p50,
                p99,
                rps / nginx_rps,
                rps / bare_rps,
                errors
            );
        }
        println!();
    }
    drop(contenders);
    drop(upstream_proc);
}
