//! Starting and stopping the processes the benchmark measures.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process killed when dropped.
pub struct Proc(pub Child);

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a program that prints `LISTENING <port>` on stdout.
pub fn start_reporting(cmd: &mut Command) -> (Proc, u16) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start helper");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("LISTENING ").and_then(|p| p.parse().ok()).expect("LISTENING <port>");
    (Proc(child), port)
}

pub fn release_dir() -> PathBuf {
    // target/release/examples/loadbench -> target/release
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

pub struct Contender {
    pub name: &'static str,
    /// Whether it writes an access line per request.
    pub access_log: bool,
    pub port: u16,
    pub _procs: Vec<Proc>,
}

impl Contender {
    /// The processes whose CPU a request through this contender costs: its own and their
    /// children (nginx's workers).
    pub fn pids(&self) -> Vec<u32> {
        let own: Vec<u32> = self._procs.iter().map(|p| p.0.id()).collect();
        let mut all = own.clone();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if parent.is_some_and(|ppid: u32| own.contains(&ppid)) {
                all.push(pid);
            }
        }
        all
    }
}

/// nginx with `workers` worker processes, writing an access log (the combined format,
/// buffered as `buffer=64k flush=1s`) or none.
pub fn nginx(dir: &Path, upstream: u16, workers: usize, access_log: bool) -> Contender {
    let port = free_port();
    let dir = tempfile::Builder::new().prefix("nginx").tempdir_in(dir).unwrap().keep();
    let d = dir.display();
    let log = if access_log {
        format!("access_log {d}/access.log combined buffer=64k flush=1s;")
    } else {
        "access_log off;".into()
    };
    let conf = format!(
        "worker_processes {workers};\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  {log}\n  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};\n  uwsgi_temp_path {d}; scgi_temp_path {d};\n\
           upstream legacy {{ server 127.0.0.1:{upstream}; keepalive 512; }}\n\
           server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://legacy; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-c", &dir.join("nginx.conf").display().to_string(), "-g", "daemon off;"])
        .spawn()
        .expect("start nginx (apt-get install nginx-light)");
    wait_port(port);
    let name = if access_log { "nginx, access log" } else { "nginx" };
    Contender { name, access_log, port, _procs: vec![Proc(child)] }
}

pub fn haproxy(dir: &Path, upstream: u16, workers: usize) -> Contender {
    let port = free_port();
    let conf = format!(
        "global\n  nbthread {workers}\n  maxconn 8000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         option http-keep-alive\n  http-reuse always\nfrontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\
         backend be\n  server s1 127.0.0.1:{upstream}\n"
    );
    let path = dir.join(format!("haproxy-{port}.cfg"));
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("haproxy")
        .args(["-f", &path.display().to_string(), "-db"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start haproxy (apt-get install haproxy)");
    wait_port(port);
    Contender { name: "haproxy", access_log: false, port, _procs: vec![Proc(child)] }
}

/// The bare hyper forwarder on a tokio runtime of `workers` threads.
pub fn bare(upstream: u16, workers: usize) -> Contender {
    let (p, port) = start_reporting(
        Command::new(release_dir().join("examples/bare-forwarder"))
            .args(["127.0.0.1:0", &format!("127.0.0.1:{upstream}")])
            .env("TOKIO_WORKER_THREADS", workers.to_string()),
    );
    Contender { name: "bare hyper", access_log: false, port, _procs: vec![p] }
}

/// The bare byte forwarder (`bare_bytes.rs`) with `workers` threads.
pub fn bare_bytes(upstream: u16, workers: usize) -> Contender {
    let (p, port) = start_reporting(Command::new(release_dir().join("examples/bare-bytes")).args([
        "127.0.0.1:0",
        &format!("127.0.0.1:{upstream}"),
        &workers.to_string(),
    ]));
    Contender { name: "bare bytes", access_log: false, port, _procs: vec![p] }
}

/// Banyan in front of `legacy` with `flags`, its flags file in `dir`; returns the process,
/// its port and the flags file (for reload measurements).
pub fn banyan_with(dir: &Path, legacy: &str, flags: &str) -> (Proc, u16, PathBuf) {
    let b = banyan_configured(dir, legacy, flags, "");
    (b.proc, b.port, b.flags)
}

/// A started banyan.
pub struct Started {
    pub proc: Proc,
    pub port: u16,
    pub admin: u16,
    pub flags: PathBuf,
}

/// Banyan with `config` as its `banyan.toml`, logging as it does by default (`info`, the
/// access log on) into `banyan.log` in its directory, as a service's stderr goes to a file
/// or a journal.
pub fn banyan_configured(dir: &Path, legacy: &str, flags: &str, config: &str) -> Started {
    let dir = tempfile::Builder::new().prefix("banyan").tempdir_in(dir).unwrap().keep();
    let flags_path = dir.join("flags.toml");
    std::fs::write(&flags_path, flags).unwrap();
    std::fs::write(dir.join("banyan.toml"), config).unwrap();
    let (port, admin) = (free_port(), free_port());
    let child = Command::new(release_dir().join("banyan"))
        .arg("serve")
        .arg("--config")
        .arg(dir.join("banyan.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--legacy", legacy])
        .arg("--flags")
        .arg(&flags_path)
        .env("BANYAN_LOG", "info")
        .env("BANYAN_ADMIN_TOKEN", ADMIN_TOKEN)
        .stderr(std::fs::File::create(dir.join("banyan.log")).unwrap())
        .spawn()
        .expect("start banyan (cargo build --release)");
    wait_port(port);
    Started { proc: Proc(child), port, admin, flags: flags_path }
}

/// The legacy app on a data directory of its own, with two banyans in front of it reading
/// that directory: `native`, with `routes` (name, method, path) native at 100 %, and
/// `through`, with everything on legacy. Fields drop in order: the processes before the
/// directory.
pub struct NativeAndLegacy {
    pub native: Started,
    pub through: Started,
    pub legacy: Proc,
    _data: tempfile::TempDir,
}

pub fn native_and_legacy(dir: &Path, routes: &[(&str, &str, &str)]) -> NativeAndLegacy {
    let data = tempfile::tempdir_in(dir).unwrap();
    let (legacy, port) = legacy_app_on(data.path());
    let url = format!("http://127.0.0.1:{port}");
    let config = format!("data_dir = \"{}\"\n", data.path().display());
    let flags: String = routes
        .iter()
        .map(|(name, method, path)| {
            format!("[routes.{name}]\npath = \"{path}\"\nmethods = [\"{method}\"]\nnative = 100\n")
        })
        .collect();
    let native = banyan_configured(dir, &url, &flags, &config);
    let through = banyan_configured(dir, &url, "", &config);
    NativeAndLegacy { native, through, legacy, _data: data }
}

/// Banyan with no route matching the benchmark path: every request is legacy passthrough,
/// on the byte-level path (the default) or, with `hyper`, through hyper's server and client;
/// `workers` workers, the access log on (the default) or off.
pub fn banyan(dir: &Path, upstream: u16, hyper: bool, workers: usize, access_log: bool) -> Contender {
    let flags = "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\n";
    let mut config = format!("[server]\nworkers = {workers}\n");
    if hyper {
        config.push_str("byte_passthrough = false\n");
    }
    if !access_log {
        config.push_str("access_log = false\n");
    }
    let b = banyan_configured(dir, &format!("http://127.0.0.1:{upstream}"), flags, &config);
    let name = match (hyper, access_log) {
        (false, true) => "banyan (default)",
        (false, false) => "banyan, access log off",
        (true, true) => "banyan, hyper path",
        (true, false) => "banyan, hyper path, access log off",
    };
    Contender { name, access_log, port: b.port, _procs: vec![b.proc] }
}

/// The legacy test app (rotki's gevent/Flask stack), from `tests/legacy/`.
pub fn legacy_app() -> (Proc, u16) {
    legacy_app_on(Path::new("/tmp/banyan-bench-rotki"))
}

/// The same with rotki's data in `data_dir` (its global.db is created if absent).
pub fn legacy_app_on(data_dir: &Path) -> (Proc, u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash").arg(root.join("tests/legacy/setup.sh")).status().expect("run setup.sh");
    assert!(status.success(), "tests/legacy/setup.sh failed");
    start_reporting(
        Command::new(root.join("tests/legacy/.venv/bin/python"))
            .arg(root.join("tests/legacy/app.py"))
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir),
    )
}

/// Flags routing `GET /api/1/ping` to native at `native` percent.
pub fn ping_flags(native: u32) -> String {
    format!("[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = {native}\n")
}

/// The admin token of every banyan the benchmark starts.
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

/// CPU time the processes have used so far, in nanoseconds: user and system time of
/// `/proc/PID/stat`, which keeps the time of threads that have exited (a blocking pool's
/// threads come and go), in clock ticks of 10 ms.
pub fn cpu_ns(pids: &[u32]) -> u64 {
    const NS_PER_TICK: u64 = 10_000_000;
    let mut total = 0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        total += (ticks(11) + ticks(12)) * NS_PER_TICK;
    }
    total
}
