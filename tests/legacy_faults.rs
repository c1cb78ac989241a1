//! When legacy is down or slow, clients get rotki-shaped 502/504 envelopes at once, native
//! routes keep answering, readiness says so, and banyan recovers when legacy returns.

mod common;

use std::time::{Duration, Instant};

use common::{backend, client, eventually, Banyan, Legacy, Options};

const PING_NATIVE: &str = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn envelope(resp: reqwest::blocking::Response) -> (u16, String, serde_json::Value) {
    let status = resp.status().as_u16();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(backend(&resp), "legacy");
    (status, ct, serde_json::from_str(&resp.text().unwrap()).unwrap())
}

#[test]
fn legacy_down_gives_502_and_recovery_needs_no_restart() {
    let port = free_port();
    let banyan = Banyan::start(&format!("http://127.0.0.1:{port}"), PING_NATIVE);
    let c = client();

    let started = Instant::now();
    let resp = c.get(banyan.url("/api/1/exchanges")).header("origin", "http://localhost:8080").send().unwrap();
    // As rotki does for every answer to an allowed Origin, or the browser hides the error.
    assert_eq!(resp.headers()["access-control-allow-origin"], "http://localhost:8080");
    assert_eq!(resp.headers()["vary"], "Origin");
    let (status, ct, body) = envelope(resp);
    assert!(started.elapsed() < Duration::from_secs(1), "a refused connection must fail fast");
    assert_eq!((status, ct.as_str()), (502, "application/json"));
    assert_eq!(body["result"], serde_json::Value::Null);
    // The client learns legacy is unreachable, not where legacy is; the log says where,
    // for which route and request.
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("The legacy backend is unreachable: "), "{message}");
    assert!(!message.contains("127.0.0.1") && !message.contains(&port.to_string()), "{message}");
    let warning = banyan.log.wait_for(0, &["legacy request failed", "route=", "request_id="], Duration::from_secs(5));
    let warning = warning.expect("a warning names the failed request");
    assert!(warning.contains(&format!("127.0.0.1:{port}")), "{warning}");

    // Native routes do not need legacy.
    let r = c.get(banyan.url("/api/1/ping")).send().unwrap();
    assert_eq!((r.status().as_u16(), backend(&r)), (200, "native".to_string()));

    let ready = c.get(format!("http://{}/readyz", banyan.admin)).send().unwrap();
    assert_eq!(ready.status(), 503);
    // A replica's own readiness (Kubernetes' probe) does not hang on the legacy all share.
    let own = c.get(format!("http://{}/readyz?legacy=optional", banyan.admin)).send().unwrap();
    assert_eq!(own.status(), 200);
    let own: serde_json::Value = serde_json::from_str(&own.text().unwrap()).unwrap();
    assert_eq!(own["legacy"]["required"], false, "{own}");
    assert_eq!(own["legacy"]["reachable"], serde_json::Value::Null, "not even asked: {own}");

    let _legacy = Legacy::start_on(port, &[]);
    let ok = eventually(Duration::from_secs(5), || {
        c.get(banyan.url("/api/1/exchanges")).send().map(|r| r.status() == 404).unwrap_or(false)
    });
    assert!(ok.is_some(), "banyan did not recover when legacy came back");
    assert_eq!(c.get(format!("http://{}/readyz", banyan.admin)).send().unwrap().status(), 200);
}

#[test]
fn slow_legacy_gives_504_at_the_configured_timeout() {
    let legacy = Legacy::start();
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: PING_NATIVE,
        config: "[legacy]\ntimeout_ms = 300\n",
        data_dir: None,
    });
    let c = client();
    let started = Instant::now();
    let (status, ct, body) = envelope(c.get(banyan.url("/_test/sleep?ms=3000")).send().unwrap());
    let took = started.elapsed();
    assert_eq!((status, ct.as_str()), (504, "application/json"));
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(body["message"], "The legacy backend did not answer within 300 ms");
    // A request that is fast enough still passes.
    let r = c.get(banyan.url("/_test/sleep?ms=10")).send().unwrap();
    assert_eq!(r.status(), 200);
}

/// A legacy restart between two requests of one keep-alive client: the second request
/// must not see the dead legacy connection (no 502), it gets a fresh one.
#[test]
fn a_legacy_restart_between_requests_costs_no_request() {
    let mut legacy = Legacy::start();
    let port = legacy.port;
    let banyan = Banyan::start(&legacy.url(), "");
    let c = client();
    assert_eq!(c.get(banyan.url("/api/1/ping")).send().unwrap().status(), 200);
    legacy.stop();
    let _legacy = Legacy::start_on(port, &[]);
    for _ in 0..3 {
        let r = c.get(banyan.url("/api/1/ping")).send().unwrap();
        assert_eq!((r.status().as_u16(), backend(&r)), (200, "legacy".to_string()));
    }
}

#[test]
fn legacy_killed_mid_answer_cuts_the_answer_short_and_never_hangs() {
    use std::io::{Read, Write};
    let mut legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let mut conn = std::net::TcpStream::connect(banyan.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(b"GET /_test/drip?ms=30000 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    // The first chunk has arrived: legacy is mid-answer.
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&got).contains("first chunk") {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the first chunk");
        got.extend_from_slice(&buf[..n]);
    }
    legacy.stop();
    // The client sees the connection end (a read timeout here would be the hang).
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the answer hung after legacy died: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("second chunk") && !text.ends_with("0\r\n\r\n"), "a cut answer looked whole: {text}");
}

#[test]
fn a_legacy_that_never_accepts_gives_502_at_the_connect_timeout() {
    // A listener whose backlog is full: the kernel leaves new handshakes unanswered.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut filling = Vec::new();
    for _ in 0..8 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        filling.push(s);
    }
    let banyan = Banyan::start_with(Options {
        legacy: format!("http://{addr}"),
        flags: "",
        config: "[legacy]\nconnect_timeout_ms = 300\n",
        data_dir: None,
    });
    let started = Instant::now();
    let (status, _, body) = envelope(client().get(banyan.url("/api/1/exchanges")).send().unwrap());
    assert_eq!(status, 502, "{body}");
    let message = body["message"].as_str().unwrap();
    assert_eq!(message, "The legacy backend is unreachable: connect timed out after 300 ms", "{body}");
    // Given up at the connect timeout, not legacy's response timeout (300 s).
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    drop(socket);
}
