//! Banyan in nginx's place at the front of rotki's Docker image. A real nginx runs rotki's
//! server block (`fixtures/front_door/nginx.conf.in`) and banyan runs the configuration the
//! image ships (`deploy/rotki-image/banyan.toml`), both in front of the same legacy app, the
//! same colibri stand-in and the same web app directory; the same requests to both answer
//! with the same status, body (decoded) and content type. Then what banyan adds: caching
//! headers, revalidation, and no way out of the root.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{client, eventually, raw, request, Banyan, Legacy, Options, ROOT};
use tokio_tungstenite::tungstenite::{self, Message};

const SECRET: &str = "SECRET-OUTSIDE-THE-ROOT";
const INDEX: &str = "<!doctype html><html><head><title>rotki</title>\
    <script type=\"module\" src=\"/index-B1aX_9zQ.js\"></script></head><body><div id=\"app\"></div></body></html>\n";

/// A web app as Vite lays it out, hashed names at the top, beside a directory it must
/// never reach.
fn web_app(dir: &Path) -> PathBuf {
    let root = dir.join("frontend");
    let outside = dir.join("outside");
    for d in [&root.join("images"), &root.join("fonts"), &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(outside.join("secret"), SECRET).unwrap();
    std::fs::write(root.join("index.html"), INDEX).unwrap();
    let script = "export function greet(name) { return `hello ${name}`; }\n".repeat(200);
    std::fs::write(root.join("index-B1aX_9zQ.js"), &script).unwrap();
    // A precompressed sibling, which banyan serves as it is and nginx ignores.
    let vendor = "const vendor = [1, 2, 3].map((n) => n * 2);\n".repeat(300);
    std::fs::write(root.join("vue-vendor-Dk2x9aQ1.js"), &vendor).unwrap();
    std::fs::write(root.join("vue-vendor-Dk2x9aQ1.js.gz"), gzip(vendor.as_bytes())).unwrap();
    std::fs::write(root.join("style-C3dE4fG5.css"), "body { margin: 0; color: #333; }\n".repeat(50)).unwrap();
    std::fs::write(
        root.join("logo.svg"),
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{}</svg>", "<g/>".repeat(40)),
    )
    .unwrap();
    std::fs::write(root.join("robots.txt"), "User-agent: *\nDisallow:\n").unwrap();
    std::fs::write(root.join("manifest.webmanifest"), "{\"name\": \"rotki\"}").unwrap();
    let png: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("images/rotki.png"), &png).unwrap();
    std::fs::write(root.join("fonts/roboto-AbC12345.woff2"), &png[..1500]).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), root.join("leak")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("outdir")).unwrap();
    root
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// A child process, stopped on drop: with SIGTERM, so nginx's master takes its workers
/// with it.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The colibri stand-in (`tests/legacy/colibri.py`) on a port of its own.
fn colibri() -> (Process, u16) {
    let mut child = Command::new(common::python())
        .arg(Path::new(ROOT).join("tests/legacy/colibri.py"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the colibri stand-in");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let port = line.trim().strip_prefix("LISTENING ").and_then(|p| p.parse().ok()).expect("colibri's port");
    (Process(child), port)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's nginx with rotki's server block, in `dir`.
fn nginx(dir: &Path, root: &Path, legacy: u16, colibri: u16) -> (Process, SocketAddr) {
    let port = free_port();
    let template = std::fs::read_to_string(Path::new(ROOT).join("tests/fixtures/front_door/nginx.conf.in")).unwrap();
    let conf = template
        .replace("@DIR@", &dir.display().to_string())
        .replace("@ROOT@", &root.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@LEGACY@", &legacy.to_string())
        .replace("@COLIBRI@", &colibri.to_string());
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx (Debian's nginx-light; scripts/test.sh installs it)");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = eventually(Duration::from_secs(10), || TcpStream::connect(addr).is_ok());
    let log = || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(up.is_some(), "nginx did not start:\n{}", log());
    (Process(child), addr)
}

/// Banyan with the image's configuration, its paths and ports made the test's.
fn banyan(dir: &Path, root: &Path, legacy: &Legacy, colibri: u16) -> Banyan {
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("deploy/rotki-image/banyan.toml")).unwrap();
    let config = shipped
        .replace("/opt/rotki/frontend", &root.display().to_string())
        .replace("http://127.0.0.1:4343", &format!("http://127.0.0.1:{colibri}"))
        .replace("/logs/banyan-audit.jsonl", &dir.join("audit.jsonl").display().to_string())
        .replace("data_dir = \"/data\"", "");
    assert_ne!(config, shipped);
    Banyan::start_with(Options { legacy: legacy.url(), flags: "", config: &config, data_dir: Some(&legacy.data_dir) })
}

/// What a user of the answer sees: the status, the type, the encoding, and the body as
/// the browser decodes it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    content_type: Option<String>,
    encoding: Option<String>,
    content_range: Option<String>,
    /// A redirect's target, as a path.
    location: Option<String>,
    body: String,
}

fn fetch(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (Seen, reqwest::header::HeaderMap) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client().request(method, format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{path} on {addr}: {e}"));
    let head = resp.headers().clone();
    let header = |name: &str| head.get(name).map(|v| v.to_str().unwrap().to_string());
    let status = resp.status().as_u16();
    // A redirect's page is the proxy's own words (nginx names itself in it): its type and
    // bytes are not compared.
    let content_type = header("content-type").filter(|_| status != 301);
    let encoding = header("content-encoding");
    let content_range = header("content-range");
    let location = header("location").map(|l| match l.strip_prefix("http://") {
        Some(absolute) => absolute[absolute.find('/').unwrap_or(absolute.len())..].to_string(),
        None => l,
    });
    let bytes = if status == 301 { Vec::new() } else { resp.bytes().unwrap().to_vec() };
    let body = match encoding.as_deref() {
        Some("gzip") if !bytes.is_empty() => gunzip(&bytes),
        _ => bytes,
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    (Seen { status, content_type, encoding, content_range, location, body }, head)
}

struct Door {
    _dir: tempfile::TempDir,
    root: PathBuf,
    legacy: Legacy,
    _colibri: Process,
    _nginx: Process,
    nginx: SocketAddr,
    banyan: Banyan,
}

fn door() -> Door {
    let dir = tempfile::tempdir().unwrap();
    let root = web_app(dir.path());
    let legacy = Legacy::start();
    let (colibri_process, colibri) = colibri();
    let nginx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    let (nginx_process, nginx) = nginx(&nginx_dir, &root, legacy.port, colibri);
    let banyan = banyan(dir.path(), &root, &legacy, colibri);
    Door { _dir: dir, root, legacy, _colibri: colibri_process, _nginx: nginx_process, nginx, banyan }
}

/// A request: method, target, headers.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn banyan_answers_what_rotkis_nginx_answers() {
    let door = door();
    let gz = [("accept-encoding", "gzip")];
    let cases: &[Case] = &[
        // The web app's files, plain and compressed.
        ("GET", "/", &[]),
        ("GET", "/", &gz),
        ("GET", "/index.html", &gz),
        ("GET", "/index-B1aX_9zQ.js", &[]),
        ("GET", "/index-B1aX_9zQ.js", &gz),
        ("GET", "/vue-vendor-Dk2x9aQ1.js", &gz),
        ("GET", "/vue-vendor-Dk2x9aQ1.js", &[]),
        ("GET", "/style-C3dE4fG5.css", &gz),
        ("GET", "/logo.svg", &gz),
        ("GET", "/robots.txt", &gz),
        ("GET", "/manifest.webmanifest", &gz),
        ("GET", "/images/rotki.png", &gz),
        ("GET", "/fonts/roboto-AbC12345.woff2", &[]),
        ("GET", "/images/rotki.png", &[("range", "bytes=100-199")]),
        ("HEAD", "/index-B1aX_9zQ.js", &[]),
        // Compression as negotiated: refused, or only what neither has.
        ("GET", "/index-B1aX_9zQ.js", &[("accept-encoding", "gzip;q=0")]),
        ("GET", "/index-B1aX_9zQ.js", &[("accept-encoding", "br")]),
        // The app's own routes: index.html, whatever the path and query.
        ("GET", "/dashboard", &gz),
        ("GET", "/settings/accounts?tab=evm", &[]),
        ("GET", "/missing-AbCd1234.js", &[]),
        // rotki-core's API, its 404 included.
        ("GET", "/api/1/ping", &[]),
        ("GET", "/api/1/info", &gz),
        ("GET", "/api/1/no/such/route", &[]),
        // colibri, the prefix taken off.
        ("GET", "/colibri/assets/icon?asset_id=ETH", &[]),
        ("GET", "/colibri/echo/a%20b?x=1&y=2", &[]),
        ("GET", "/colibri/missing/icon", &[]),
        ("GET", "/colibri?x=1", &[]),
    ];
    for (method, path, headers) in cases {
        let (want, _) = fetch(door.nginx, method, path, headers);
        let (got, head) = fetch(door.banyan.addr, method, path, headers);
        assert_eq!(got, want, "{method} {path} {headers:?}");
        assert!(head.contains_key("x-banyan-backend"), "{path}");
    }
    let (icon, head) = fetch(door.banyan.addr, "GET", "/colibri/echo/x?q=1", &[]);
    assert_eq!(icon.body, r#"{"path": "/echo/x", "query": "q=1"}"#);
    assert_eq!(head["x-banyan-backend"], "colibri");
    let (page, head) = fetch(door.banyan.addr, "GET", "/dashboard", &[]);
    assert_eq!((page.body.as_str(), &head["x-banyan-backend"]), (INDEX, &"native".parse().unwrap()));

    // Each counts under its own route label.
    let metrics = door.banyan.metrics();
    for route in ["static", "colibri"] {
        let series = format!("banyan_requests_total{{route=\"{route}\",backend=");
        assert!(metrics.contains(&series), "{route} in\n{metrics}");
    }
}

#[test]
fn uploads_and_the_websocket_pass_as_through_nginx() {
    let door = door();
    // Over 1 MiB: an upload endpoint takes it (rotki answers it), any other path refuses it.
    let two_mib = vec![b'x'; 2 << 20];
    for addr in [door.nginx, door.banyan.addr] {
        let resp = client()
            .post(format!("http://{addr}/api/1/import"))
            .header("content-type", "application/octet-stream")
            .body(two_mib.clone())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401, "{addr}");
        assert_eq!(resp.text().unwrap(), r#"{"result": null, "message": "No user is currently logged in"}"#);
    }
    for (path, declared) in [("/api/1/settings", 2 << 20), ("/api/1/import", 51 << 20)] {
        let head = format!("PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n\r\n");
        let from_nginx = raw(door.nginx, head.as_bytes());
        let from_banyan = raw(door.banyan.addr, head.as_bytes());
        assert_eq!((from_banyan.status(), from_nginx.status()), (413, 413), "{path}");
        // Banyan's refusal is rotki's envelope (the app reads JSON), naming the limit.
        let limit = if path == "/api/1/import" { "52428800" } else { "1048576" };
        assert!(String::from_utf8_lossy(&from_banyan.body).contains(limit), "{from_banyan:?}");
    }

    // The notifier: both upgrade /ws/, and a broadcast reaches both sockets.
    let connect = |addr: SocketAddr| {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (ws, resp) = tungstenite::client(format!("ws://{addr}/ws/").as_str(), stream).unwrap();
        assert_eq!(resp.status(), 101);
        ws
    };
    let mut sockets = [connect(door.nginx), connect(door.banyan.addr)];
    assert!(eventually(Duration::from_secs(5), || door.legacy.broadcast(serde_json::json!([])) == 2).is_some());
    door.legacy.broadcast(serde_json::json!([{"type": "balance_snapshot_error", "data": {"location": "kraken"}}]));
    for ws in &mut sockets {
        let message = loop {
            match ws.read().unwrap() {
                Message::Ping(_) | Message::Pong(_) => continue,
                m => break m,
            }
        };
        let want = r#"{"type": "balance_snapshot_error", "data": {"location": "kraken"}}"#;
        assert_eq!(message, Message::text(want));
    }
}

#[test]
fn the_web_apps_files_are_cached_as_their_names_allow_and_revalidated() {
    let door = door();
    let base = door.banyan.addr;
    let (_, hashed) = fetch(base, "GET", "/index-B1aX_9zQ.js", &[]);
    assert_eq!(hashed["cache-control"], "public, max-age=31536000, immutable");
    for path in ["/", "/index.html", "/dashboard", "/images/rotki.png", "/robots.txt"] {
        let (seen, head) = fetch(base, "GET", path, &[]);
        assert_eq!((seen.status, &head["cache-control"]), (200, &"no-cache".parse().unwrap()), "{path}");
    }
    // Revalidation: the ETag answers 304 with no body, on both proxies, for both
    // encodings; a changed file gets a new ETag and its new bytes.
    for addr in [door.nginx, base] {
        for encoding in [&[][..], &[("accept-encoding", "gzip")][..]] {
            let (_, head) = fetch(addr, "GET", "/index.html", encoding);
            let etag = head["etag"].to_str().unwrap().to_string();
            let mut conditional = encoding.to_vec();
            conditional.push(("if-none-match", &etag));
            let (seen, _) = fetch(addr, "GET", "/index.html", &conditional);
            assert_eq!((seen.status, seen.body.as_str()), (304, ""), "{addr} {etag}");
        }
    }
    // A text file gzipped is one answer of known length (compressed once, kept), with a
    // weak ETag of its own; the plain one keeps the strong one.
    let (gzipped, head) = fetch(base, "GET", "/index-B1aX_9zQ.js", &[("accept-encoding", "gzip")]);
    assert_eq!(gzipped.encoding.as_deref(), Some("gzip"));
    let length: usize = head["content-length"].to_str().unwrap().parse().unwrap();
    assert!(length > 0 && length < gzipped.body.len() / 4, "{length} of {}", gzipped.body.len());
    assert_eq!(head["etag"].to_str().unwrap(), format!("W/{}", hashed["etag"].to_str().unwrap()));
    let (_, before) = fetch(base, "GET", "/robots.txt", &[]);
    std::fs::write(door.root.join("robots.txt"), "User-agent: *\nDisallow: /\n").unwrap();
    let etag = before["etag"].to_str().unwrap();
    let (seen, after) = fetch(base, "GET", "/robots.txt", &[("if-none-match", etag)]);
    assert_eq!((seen.status, seen.body.as_str()), (200, "User-agent: *\nDisallow: /\n"));
    assert_ne!(after["etag"], before["etag"]);
    // A method other than GET or HEAD on a file is refused, as nginx refuses it.
    let (from_banyan, _) = fetch(base, "POST", "/index.html", &[]);
    let (from_nginx, _) = fetch(door.nginx, "POST", "/index.html", &[]);
    assert_eq!((from_banyan.status, from_nginx.status), (405, 405));
}

#[test]
fn no_request_reaches_outside_the_web_apps_root() {
    let door = door();
    let targets = [
        "/../outside/secret",
        "/%2e%2e/outside/secret",
        "/%2E%2E/%2e%2e/outside/secret",
        "/..%2foutside%2fsecret",
        "/images/..%2f..%2foutside%2fsecret",
        "/images/%2e%2e/%2e%2e/outside/secret",
        "/.%2e/outside/secret",
        "/%5c..%5coutside%5csecret",
        "/leak",
        "/outdir/secret",
        "/outdir/%2e%2e/outside/secret",
        "//..//outside//secret",
        "/images/../../outside/secret",
    ];
    for target in targets {
        let resp = raw(door.banyan.addr, &request("GET", target, &[], b""));
        let body = String::from_utf8_lossy(&resp.body);
        assert!(!body.contains(SECRET), "{target} read the secret: {resp:?}");
        // Whatever the path, the answer is the app's page or a refusal, never a file outside.
        assert!(resp.status() == 400 || body == INDEX, "{target}: {resp:?}");
    }
    // nginx follows the symlink out of its root (`disable_symlinks` is off by default);
    // banyan does not.
    let via_nginx = raw(door.nginx, &request("GET", "/leak", &[], b""));
    assert_eq!(String::from_utf8_lossy(&via_nginx.body), SECRET);
}

#[test]
fn the_content_types_are_nginxs() {
    // Every extension of Debian's mime.types (the table rotki's image's nginx reads) gets
    // the same type from banyan, and banyan has no extension nginx lacks.
    let text = std::fs::read_to_string("/etc/nginx/mime.types").expect("nginx's mime.types (scripts/test.sh)");
    let body = text.split_once('{').unwrap().1.rsplit_once('}').unwrap().0;
    let mut nginx = std::collections::BTreeMap::new();
    for entry in body.split(';') {
        let mut words = entry.split_whitespace();
        let Some(kind) = words.next() else { continue };
        for ext in words {
            nginx.insert(ext.to_string(), kind.to_string());
        }
    }
    assert!(nginx.len() > 80, "{nginx:?}");
    for (ext, kind) in &nginx {
        assert_eq!(banyan::webapp::types::content_type(&format!("x.{ext}")), kind, ".{ext}");
    }
    let ours: std::collections::BTreeMap<_, _> =
        banyan::webapp::types::table().map(|(e, t)| (e.to_string(), t.to_string())).collect();
    assert_eq!(ours, nginx);
}

#[test]
fn an_upstream_that_is_down_gets_banyans_502_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = Legacy::start();
    let dead = free_port();
    let config = format!("[upstreams.colibri]\nurl = \"http://127.0.0.1:{dead}\"\nprefix = \"/colibri/\"\n");
    let banyan = Banyan::start_with(Options { legacy: legacy.url(), flags: "", config: &config, data_dir: None });
    let (seen, head) = fetch(banyan.addr, "GET", "/colibri/assets/icon?asset_id=ETH", &[]);
    assert_eq!(seen.status, 502);
    assert!(seen.body.starts_with(r#"{"result": null, "message": "The colibri backend is unreachable: "#), "{seen:?}");
    assert_eq!(head["x-banyan-backend"], "colibri");
    // rotki-core is still reached, and without [static] every other path is its.
    let (ping, head) = fetch(banyan.addr, "GET", "/api/1/ping", &[]);
    assert_eq!((ping.status, &head["x-banyan-backend"]), (200, &"legacy".parse().unwrap()));
    assert_eq!(fetch(banyan.addr, "GET", "/dashboard", &[]).0.status, 404);
    let found = banyan.log.wait_for(
        0,
        &["colibri request failed", "upstream=http://127.0.0.1:", "route=\"colibri\""],
        Duration::from_secs(5),
    );
    assert!(found.is_some(), "{}", banyan.log.text());
    drop(dir);
}
