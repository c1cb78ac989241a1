//! Test harness: real processes on real sockets. `Legacy` is the gevent/Flask stand-in
//! for rotki in `tests/legacy/`, `Banyan` is the built binary in front of it; both pick
//! free ports themselves and report them, so tests run in parallel without collisions.

#![allow(dead_code)]

pub mod browser;

pub mod big_db;
pub mod configmap;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Creates the legacy app's virtualenv on first use (a fresh machine has none).
pub fn python() -> PathBuf {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let status = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/legacy/setup.sh"))
            .status()
            .expect("run tests/legacy/setup.sh");
        assert!(status.success(), "tests/legacy/setup.sh failed");
    });
    Path::new(ROOT).join("tests/legacy/.venv/bin/python")
}

/// The legacy app, killed on drop.
pub struct Legacy {
    child: Child,
    pub port: u16,
    pub data_dir: String,
}

impl Legacy {
    pub fn start() -> Legacy {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Legacy {
        Self::start_on(0, extra)
    }

    /// On a given port (0: any free one), e.g. to bring legacy back where it was.
    pub fn start_on(port: u16, extra: &[&str]) -> Legacy {
        Self::start_in(port, "/tmp/banyan-test/rotki-data/", extra)
    }

    /// With a data directory of its own (users, their databases).
    pub fn start_in(port: u16, data_dir: &str, extra: &[&str]) -> Legacy {
        let data_dir = data_dir.to_string();
        let mut child = Command::new(python())
            .arg(Path::new(ROOT).join("tests/legacy/app.py"))
            .args(["--port", &port.to_string(), "--data-dir", &data_dir])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the legacy app");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("legacy app did not start: {line:?}"));
        Legacy { child, port, data_dir }
    }

    /// Requests the legacy app has received (its `/_test/count`).
    pub fn seen(&self) -> u64 {
        let body = client().get(format!("{}/_test/count", self.url())).send().unwrap().text().unwrap();
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["result"]["requests"].as_u64().unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Broadcasts `messages` through the legacy app's notifier (its test hook); returns how
    /// many sockets it has open.
    pub fn broadcast(&self, messages: serde_json::Value) -> u64 {
        broadcast(&self.url(), messages)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Legacy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Lines a process wrote to stderr, with a way to wait for one.
#[derive(Clone, Default)]
pub struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    fn capture(self, stream: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let (lines, cv) = &*self.0;
                lines.lock().unwrap().push(line);
                cv.notify_all();
            }
        });
    }

    pub fn text(&self) -> String {
        self.0 .0.lock().unwrap().join("\n")
    }

    /// Waits until a line containing all of `needles` appears after line `from`; returns it.
    pub fn wait_for(&self, from: usize, needles: &[&str], timeout: Duration) -> Option<String> {
        let (lines, cv) = &*self.0;
        let deadline = Instant::now() + timeout;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(l) = guard.iter().skip(from).find(|l| needles.iter().all(|n| l.contains(n))) {
                return Some(l.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            guard = cv.wait_timeout(guard, left).unwrap().0;
        }
    }

    pub fn len(&self) -> usize {
        self.0 .0.lock().unwrap().len()
    }
}

/// The admin token every test banyan accepts (as `BANYAN_ADMIN_TOKEN`, named `env`).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A banyan process with its own flags file in a temp dir, killed on drop.
pub struct Banyan {
    child: Child,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub log: Log,
}

pub struct Options<'a> {
    pub legacy: String,
    pub flags: &'a str,
    /// Content of the config file passed with --config.
    pub config: &'a str,
    pub data_dir: Option<&'a str>,
}

impl Banyan {
    pub fn start(legacy: &str, flags: &str) -> Banyan {
        Self::start_with(Options { legacy: legacy.to_string(), flags, config: "", data_dir: None })
    }

    pub fn start_with(o: Options<'_>) -> Banyan {
        Self::start_ready(&o, true)
    }

    /// With no admin token configured (no `BANYAN_ADMIN_TOKEN`).
    pub fn start_without_token(o: Options<'_>) -> Banyan {
        Self::start_ready(&o, false)
    }

    /// With the flags file at `flags` (shared, or laid out as a test wants it) rather than
    /// one of its own, and the command run through `wrapper` (e.g. `unshare`), if any: the
    /// banyan command line is appended to it.
    pub fn start_at(legacy: &str, flags: &Path, config: &str, wrapper: &[&str]) -> Banyan {
        let o = Options { legacy: legacy.to_string(), flags: "", config, data_dir: None };
        let (child, dir, log) = Self::spawn_at(&o, true, Some(flags), wrapper);
        Self::ready(child, dir, log)
    }

    fn start_ready(o: &Options<'_>, token: bool) -> Banyan {
        let (child, dir, log) = Self::spawn(o, token);
        Self::ready(child, dir, log)
    }

    fn ready(child: Child, dir: tempfile::TempDir, log: Log) -> Banyan {
        let mut child = child;
        let ready = log.wait_for(0, &["banyan ready"], Duration::from_secs(20));
        let Some(ready) = ready else {
            let _ = child.kill();
            panic!("banyan did not become ready:\n{}", log.text());
        };
        let field = |name: &str| -> SocketAddr {
            let start = ready.find(&format!("{name}=")).unwrap() + name.len() + 1;
            ready[start..].split_whitespace().next().unwrap().parse().unwrap()
        };
        Banyan { addr: field("listen"), admin: field("admin"), child, dir, log }
    }

    /// Starts banyan expecting it to refuse; returns its exit status and stderr.
    pub fn start_failing(o: Options<'_>) -> (std::process::ExitStatus, String) {
        let (mut child, _dir, log) = Self::spawn(&o, true);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                // The reader thread may still be draining stderr.
                std::thread::sleep(Duration::from_millis(50));
                return (status, log.text());
            }
            assert!(Instant::now() < deadline, "banyan kept running:\n{}", log.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(o: &Options<'_>, token: bool) -> (Child, tempfile::TempDir, Log) {
        Self::spawn_at(o, token, None, &[])
    }

    fn spawn_at(
        o: &Options<'_>,
        token: bool,
        flags_at: Option<&Path>,
        wrapper: &[&str],
    ) -> (Child, tempfile::TempDir, Log) {
        let dir = tempfile::tempdir().unwrap();
        let flags = match flags_at {
            Some(path) => path.to_path_buf(),
            None => {
                std::fs::write(dir.path().join("flags.toml"), o.flags).unwrap();
                dir.path().join("flags.toml")
            }
        };
        std::fs::write(dir.path().join("banyan.toml"), o.config).unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(env!("CARGO_BIN_EXE_banyan"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_banyan")),
        };
        cmd.arg("serve")
            .arg("--config")
            .arg(dir.path().join("banyan.toml"))
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--legacy", &o.legacy])
            .arg("--flags")
            .arg(flags);
        if let Some(d) = o.data_dir {
            cmd.args(["--data-dir", d]);
        }
        if token {
            cmd.env("BANYAN_ADMIN_TOKEN", ADMIN_TOKEN);
        } else {
            cmd.env_remove("BANYAN_ADMIN_TOKEN");
        }
        let mut child =
            cmd.env("BANYAN_LOG", "info").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start banyan");
        let log = Log::default();
        log.clone().capture(child.stderr.take().unwrap());
        (child, dir, log)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn flags_path(&self) -> PathBuf {
        self.dir.path().join("flags.toml")
    }

    /// Rewrites the flags file in place, as `echo > flags.toml` would.
    pub fn write_flags(&self, text: &str) {
        std::fs::write(self.flags_path(), text).unwrap();
    }

    /// The admin API's view of the flags.
    pub fn flags_state(&self) -> serde_json::Value {
        let body = reqwest::blocking::get(format!("http://{}/api/flags", self.admin)).unwrap().text().unwrap();
        serde_json::from_str(&body).unwrap()
    }

    /// `/metrics`, as Prometheus scrapes it.
    pub fn metrics(&self) -> String {
        let resp = client().get(format!("http://{}/metrics", self.admin)).send().unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().unwrap()
    }

    /// A request to the admin API carrying the test token.
    pub fn admin_request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        client().request(method, format!("http://{}{path}", self.admin)).bearer_auth(ADMIN_TOKEN)
    }

    /// Publishes rotki messages through the native notifier (`POST /api/notify`); to how
    /// many sockets the last went.
    pub fn notify(&self, messages: &serde_json::Value) -> u64 {
        let resp = self.admin_request(reqwest::Method::POST, "/api/notify").body(messages.to_string()).send().unwrap();
        assert_eq!(resp.status(), 200);
        serde_json::from_str::<serde_json::Value>(&resp.text().unwrap()).unwrap()["delivered"].as_u64().unwrap()
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").args(["-s", sig, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Banyan {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP client that keeps connections alive, as a browser would, and shows
/// redirects instead of following them.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Which backend answered, from `x-banyan-backend`.
pub fn backend(resp: &reqwest::blocking::Response) -> String {
    resp.headers().get("x-banyan-backend").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// The value of one sample line of `/metrics`, by its exact name and labels.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `f` until it returns true or `timeout` passes; returns how long it took.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Polls `f` until it yields a value, for up to `timeout`.
pub fn eventually_value<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// A response read off the wire as bytes: the head exactly as sent, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub head: String,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn status(&self) -> u16 {
        self.head.split(' ').nth(1).unwrap().parse().unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The head without the lines that legitimately differ between two answers: `Date`
    /// and banyan's own `x-banyan-backend`.
    pub fn comparable_head(&self) -> Vec<String> {
        self.head
            .lines()
            .filter(|l| {
                let lower = l.to_ascii_lowercase();
                !lower.starts_with("date:") && !lower.starts_with("x-banyan-backend:")
            })
            .map(str::to_string)
            .collect()
    }
}

/// Sends raw request bytes and reads one response (Content-Length framed, or none for HEAD).
pub fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the response head: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut body = buf[head_end + 4..].to_vec();
    let r = Raw { head, body: Vec::new() };
    let len: usize = if request.starts_with(b"HEAD ") {
        0
    } else {
        r.header("content-length").map(|v| v.parse().unwrap()).unwrap_or(0)
    };
    while body.len() < len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    Raw { body, ..r }
}

/// [`Legacy::broadcast`] by the legacy app's URL (from a thread that does not hold it).
pub fn broadcast(legacy_url: &str, messages: serde_json::Value) -> u64 {
    let resp = client()
        .post(format!("{legacy_url}/_test/broadcast"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "messages": messages }).to_string())
        .send()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    body["result"]["subscribers"].as_u64().unwrap()
}

/// A GET (or other bodiless) request in raw bytes.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A `[routes.<name>]` table for GET on `path`; `extra` adds lines (sticky, group).
pub fn get_route(name: &str, path: &str, native: &str, extra: &str) -> String {
    format!("[routes.{name}]\npath = \"{path}\"\nmethods = [\"GET\"]\nnative = {native}\n{extra}\n")
}

/// `/api/1/info` at `native` %, shadowed, with a guard that trips once more than one in
/// ten of at least five comparisons in 30 s mismatch. With [`version_mismatch`] every
/// comparison does.
pub fn guarded_info(native: u32) -> String {
    format!(
        "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = {native}\nshadow = true\n\
         [routes.info.guard]\nwindow_secs = 30\nmin_requests = 5\nmax_mismatch_rate = 0.1\n"
    )
}

/// Config lines under which native's `/api/1/info` differs from `legacy`'s (another
/// version), so a shadowed route mismatches on every request. Top-level keys only, so
/// they go before any table of the rest of the config.
pub fn version_mismatch(legacy: &Legacy) -> String {
    format!("data_dir = \"{}\"\nrotki.version = \"9.9.9\"\n", legacy.data_dir)
}

/// Flags that send the three native endpoints to native at 100 %.
pub fn all_native() -> String {
    [("ping", "/api/1/ping"), ("info", "/api/1/info"), ("asset_types", "/api/1/assets/types")]
        .map(|(name, path)| get_route(name, path, "100", ""))
        .concat()
}

/// A client connection kept open across requests, reading responses off the wire as they
/// come: Content-Length, chunked (decoded) or until close.
pub struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        KeepAlive { stream, buf: Vec::new() }
    }

    pub fn send(&mut self, request: &[u8]) {
        self.stream.write_all(request).unwrap();
    }

    /// Reads the next response; `head_request` says it answers a HEAD (no body).
    pub fn response(&mut self, head_request: bool) -> Raw {
        let head_end = self.fill_until(|b| b.windows(4).position(|w| w == b"\r\n\r\n"));
        let head = String::from_utf8(self.buf[..head_end].to_vec()).unwrap();
        self.buf.drain(..head_end + 4);
        let r = Raw { head, body: Vec::new() };
        let status = r.status();
        if (100..200).contains(&status) || head_request || status == 204 || status == 304 {
            return r;
        }
        let chunked = r.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            self.chunked_body()
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().unwrap();
            self.fill_until(|b| (b.len() >= len).then_some(len));
            self.buf.drain(..len).collect()
        } else {
            while self.read_more() {}
            std::mem::take(&mut self.buf)
        };
        // (Until close: the server closed the connection to end the body.)
        Raw { body, ..r }
    }

    /// Whether the server closed the connection: reads end of stream, with nothing before
    /// it (a read that times out instead means it is still open).
    pub fn closed(&mut self) -> bool {
        self.buf.is_empty() && matches!(self.stream.read(&mut [0; 1]), Ok(0))
    }

    fn chunked_body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = self.fill_until(|b| b.windows(2).position(|w| w == b"\r\n"));
            let line = String::from_utf8(self.buf[..line_end].to_vec()).unwrap();
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // No trailers expected: the final CRLF.
                self.fill_until(|b| (b.len() >= 2).then_some(2));
                self.buf.drain(..2);
                return body;
            }
            self.fill_until(|b| (b.len() >= size + 2).then_some(size));
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    fn fill_until(&mut self, mut found: impl FnMut(&[u8]) -> Option<usize>) -> usize {
        loop {
            if let Some(i) = found(&self.buf) {
                return i;
            }
            assert!(self.read_more(), "connection closed early: {:?}", String::from_utf8_lossy(&self.buf));
        }
    }

    /// Reads what is there; false at end of stream. A read timeout fails the test.
    fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let n = self.stream.read(&mut chunk).expect("the server neither answered nor closed");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }
}

/// Rows in `big_data_dir`'s global.db.
pub const ROWS: usize = 400_000;
/// A locationmappings body that matches no symbol after a long scan per row: two full
/// scans of `big_data_dir`'s table per request.
pub const SLOW: &str = r#"{"location_symbol": "%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%z"}"#;

/// A data dir whose global.db holds `ROWS` mappings.
pub fn big_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    big_db::fill(dir.path(), ROWS);
    dir
}

/// Native global.db queries running in `banyan` now (admin `/api/globaldb`).
pub fn queries_running(banyan: &Banyan) -> u64 {
    let body = client().get(format!("http://{}/api/globaldb", banyan.admin)).send().unwrap().text().unwrap();
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["queries_running"].as_u64().unwrap()
}
