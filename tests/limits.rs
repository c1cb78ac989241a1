//! Limits on real sockets: an oversized body gets a 413 envelope (a declared one never
//! reaches legacy; a chunked one is cut off at the limit), an oversized head is refused, a thousand slow-headed connections neither starve normal
//! clients nor stay open past the header timeout, and past `max_connections` new clients
//! wait until one closes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn start(legacy: &Legacy, config: &str) -> Banyan {
    Banyan::start_with(Options { legacy: legacy.url(), flags: "", config, data_dir: None })
}

#[test]
fn an_oversized_body_gets_413_and_never_reaches_legacy() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\nmax_body_bytes = 1000\n");
    let before = legacy.seen();
    let body = vec![b'x'; 2000];
    let headers = [("Origin", "http://localhost:8080")];
    // The byte-level path, then hyper's (HTTP/1.0 goes there).
    let r = raw(banyan.addr, &request("POST", "/_test/echo", &headers, &body));
    assert_eq!(r.status(), 413);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        r#"{"result": null, "message": "Request body is larger than the 1000 bytes banyan accepts"}"#
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:8080"));
    assert_eq!(r.header("x-banyan-backend"), Some("legacy"));
    let mut old = b"POST /_test/echo HTTP/1.0\r\nHost: h\r\nContent-Length: 2000\r\n\r\n".to_vec();
    old.extend_from_slice(&body);
    let r = raw(banyan.addr, &old);
    assert_eq!(r.status(), 413);
    // hyper's path says who answered too.
    assert_eq!(r.header("x-banyan-backend"), Some("legacy"));
    assert_eq!(legacy.seen(), before);
    // A large upload refused at its head: the client still reads the 413 while it is
    // sending, rather than a reset connection.
    let mut conn = TcpStream::connect(banyan.addr).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(b"POST /_test/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10485760\r\n\r\n");
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..160 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = [0; 256];
    let n = conn.read(&mut answer).expect("the 413, not a reset");
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    drop(conn);
    sending.join().unwrap();
    assert_eq!(legacy.seen(), before);

    // At the limit it passes.
    let r = raw(banyan.addr, &request("POST", "/_test/echo", &[], &body[..1000]));
    assert_eq!(r.status(), 200);

    // A chunked body has no length up front: it is cut off at the limit as it streams.
    let chunk = format!("{:x}\r\n{}\r\n", 600, "y".repeat(600));
    let chunked =
        format!("POST /_test/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n");
    let r = raw(banyan.addr, chunked.as_bytes());
    assert_eq!(r.status(), 413, "{}", String::from_utf8_lossy(&r.body));
    let small = format!("POST /_test/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}0\r\n\r\n");
    let r = raw(banyan.addr, small.as_bytes());
    assert_eq!(r.status(), 200);
    let echo: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(echo["result"]["body_len"], 600);
}

/// `[[server.body_limits]]`: rotki's upload endpoints take more than the rest (its nginx
/// gives them 50 MiB), on both paths, and a 413 names the limit that applied.
#[test]
fn a_path_with_its_own_body_limit_takes_more_than_the_rest() {
    let legacy = Legacy::start();
    let config = "[server]\nmax_body_bytes = 1000\n\n[[server.body_limits]]\npath_regex = \"^/_test/echo$\"\nmax_body_bytes = 3000\n";
    let banyan = start(&legacy, config);
    let message = |limit: u32| {
        format!(r#"{{"result": null, "message": "Request body is larger than the {limit} bytes banyan accepts"}}"#)
    };
    let post = |path: &str, len: usize| raw(banyan.addr, &request("POST", path, &[], &vec![b'x'; len]));

    let r = post("/_test/echo", 2000);
    assert_eq!(r.status(), 200);
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap()["result"]["body_len"], 2000);
    let r = post("/_test/echo", 3001);
    assert_eq!((r.status(), String::from_utf8_lossy(&r.body).into_owned()), (413, message(3000)));
    // Elsewhere the server's limit holds, also on a path the regex only starts like.
    for path in ["/api/1/history/events", "/_test/echo/more"] {
        let r = post(path, 2000);
        assert_eq!((r.status(), String::from_utf8_lossy(&r.body).into_owned()), (413, message(1000)), "{path}");
        assert_ne!(post(path, 900).status(), 413, "{path}");
    }

    // Chunked (hyper's path): held to the path's limit as it streams.
    let chunked = |path: &str, chunks: usize| {
        let chunk = format!("{:x}\r\n{}\r\n", 800, "y".repeat(800));
        let body = chunk.repeat(chunks);
        raw(
            banyan.addr,
            format!("POST {path} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{body}0\r\n\r\n").as_bytes(),
        )
    };
    let r = chunked("/_test/echo", 3);
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap()["result"]["body_len"], 2400);
    let r = chunked("/_test/echo", 4);
    assert_eq!((r.status(), String::from_utf8_lossy(&r.body).into_owned()), (413, message(3000)));
    assert_eq!(chunked("/api/1/history/events", 2).status(), 413);
}

#[test]
fn a_bad_body_limit_regex_is_refused_where_it_is() {
    let legacy = Legacy::start();
    let config = "[server]\n[[server.body_limits]]\npath_regex = \"^/api/1/(import\"\nmax_body_bytes = 52428800\n";
    let (status, log) = Banyan::start_failing(Options { legacy: legacy.url(), flags: "", config, data_dir: None });
    assert!(!status.success());
    assert!(log.contains("banyan.toml:3:14: path_regex is not a regular expression"), "{log}");
}

#[test]
fn an_oversized_head_is_refused() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "");
    let before = legacy.seen();
    let big = "a".repeat(1 << 20);
    let mut conn = TcpStream::connect(banyan.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!("GET /_test/echo HTTP/1.1\r\nHost: h\r\nX-Big: {big}\r\n\r\n");
    let _ = conn.write_all(head.as_bytes());
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{}", &answer[..answer.len().min(200)]);
    assert_eq!(legacy.seen(), before);
}

#[test]
fn slow_heads_neither_starve_clients_nor_outlive_the_header_timeout() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\nheader_read_timeout_ms = 1500\n");
    // A thousand clients that start a head and never finish it (the test needs the room).
    rlimit::increase_nofile_limit(4096).unwrap();
    let mut slow: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut c = TcpStream::connect(banyan.addr).unwrap();
            c.write_all(b"GET /api/1/ping HTTP/1.1\r\nHost: h\r\nX-Slow: ").unwrap();
            c
        })
        .collect();
    // Normal clients are served meanwhile.
    let c = client();
    for _ in 0..20 {
        assert_eq!(c.get(banyan.url("/api/1/ping")).send().unwrap().status(), 200);
    }
    // And the slow ones are cut off at the header timeout (a read timeout here means one
    // was left open).
    for conn in slow.iter_mut().step_by(50) {
        conn.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = [0; 512];
        match conn.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408")),
            Err(e) => panic!("a slow head outlived the header timeout: {e}"),
        }
    }
}

#[test]
fn past_max_connections_new_clients_wait_for_a_free_one() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\nmax_connections = 4\n");
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(banyan.addr).unwrap()).collect();
    // All four are taken (a request on each proves it was accepted).
    for conn in &mut idle {
        conn.write_all(b"GET /api/1/ping HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let mut buf = [0; 1024];
        assert!(conn.read(&mut buf).unwrap() > 0);
    }
    let mut waiting = TcpStream::connect(banyan.addr).unwrap();
    waiting.write_all(b"GET /api/1/ping HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").unwrap();
    waiting.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0; 1024];
    assert!(waiting.read(&mut buf).is_err(), "a fifth connection was served past max_connections = 4");
    // One closes: the waiting client is taken and answered.
    drop(idle.pop());
    waiting.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = waiting.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The admin listener is not counted: ops still get in.
    assert_eq!(client().get(format!("http://{}/healthz", banyan.admin)).send().unwrap().status(), 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, "[server]\nheader_read_timeout_ms = 1000\n");
    for path in ["/api/1/ping", "/_test/echo"] {
        let mut conn = TcpStream::connect(banyan.addr).unwrap();
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes()).unwrap();
        let mut buf = [0; 4096];
        assert!(conn.read(&mut buf).unwrap() > 0, "{path}: answered");
        // Then nothing more: banyan closes the connection rather than keep it forever.
        conn.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut rest = Vec::new();
        let closed = conn.read_to_end(&mut rest);
        assert!(closed.is_ok(), "{path}: still open after the idle timeout: {closed:?}");
    }
}
