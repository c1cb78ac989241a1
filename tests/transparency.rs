//! Legacy traffic passes through unchanged: legacy sees the client's request (minus
//! hop-by-hop headers, plus X-Forwarded-*), and the client gets legacy's status, headers
//! and bytes, streamed both ways.

mod common;

use common::{client, raw, request, Banyan, Legacy};
use std::io::{Read, Write};

use sha2::{Digest, Sha256};

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn legacy_sees_the_clients_request() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let resp = client()
        .post(banyan.url("/_test/echo?a=1&b=%20x"))
        .header("host", "rotki.example:4242")
        .header("x-custom", "Value With Spaces")
        .header("cookie", "session=abc")
        .header("x-forwarded-for", "10.1.2.3")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic eA==")
        .header("te", "trailers")
        .body("hello legacy")
        .send()
        .unwrap();
    assert_eq!(resp.headers()["x-banyan-backend"], "legacy");
    let seen: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    let seen = &seen["result"];
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/_test/echo");
    assert_eq!(seen["query"], "a=1&b=%20x");
    assert_eq!(seen["body_len"], 12);
    let headers: Vec<(String, String)> = seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().to_ascii_lowercase(), h[1].as_str().unwrap().to_string()))
        .collect();
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("host"), Some("rotki.example:4242"), "the client's Host is kept");
    assert_eq!(get("x-custom"), Some("Value With Spaces"));
    assert_eq!(get("cookie"), Some("session=abc"));
    assert_eq!(get("x-forwarded-for"), Some("10.1.2.3, 127.0.0.1"));
    assert_eq!(get("x-forwarded-proto"), Some("http"));
    assert_eq!(get("x-forwarded-host"), Some("rotki.example:4242"));
    for hop in ["x-hop", "keep-alive", "proxy-authorization", "te", "connection", "transfer-encoding", "upgrade"] {
        assert_eq!(get(hop), None, "hop-by-hop header {hop} reached legacy: {headers:?}");
    }
}

#[test]
fn the_client_gets_legacys_response_unchanged() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    for path in ["/_test/headers", "/api/1/ping", "/nope", "/api/1/info?foo=1"] {
        let req = request("GET", path, &[("Origin", "http://localhost:8080")], b"");
        let direct = raw(legacy.addr(), &req);
        let proxied = raw(banyan.addr, &req);
        assert_eq!(proxied.header("x-banyan-backend"), Some("legacy"));
        assert_eq!(direct.comparable_head(), proxied.comparable_head(), "{path}");
        assert_eq!(direct.body, proxied.body, "{path}");
    }
}

#[test]
fn hop_by_hop_response_headers_stop_at_banyan() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let req = request("GET", "/_test/hop", &[], b"");
    let direct = raw(legacy.addr(), &req);
    assert_eq!(direct.header("x-drop"), Some("connection-scoped"), "the legacy app must send them");
    let proxied = raw(banyan.addr, &req);
    for hop in ["connection", "x-drop", "keep-alive"] {
        assert_eq!(proxied.header(hop), None, "{hop} reached the client:\n{}", proxied.head);
    }
    assert_eq!(proxied.header("x-kept"), Some("end-to-end"));
    assert_eq!(proxied.body, direct.body);
}

/// A proxy that buffered whole responses would hold the first chunk until the second.
#[test]
fn responses_stream_as_legacy_writes_them() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let mut s = std::net::TcpStream::connect(banyan.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /_test/drip?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("first chunk") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    let first = started.elapsed();
    assert!(first < std::time::Duration::from_millis(1500), "first chunk after {first:?}: buffered");
    while !String::from_utf8_lossy(&seen).contains("second chunk") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
}

#[test]
fn large_bodies_stream_both_ways() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let c = client();

    let upload: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let resp = c.post(banyan.url("/_test/echo")).body(upload.clone()).send().unwrap();
    let seen: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    assert_eq!(seen["result"]["body_len"], upload.len());
    assert_eq!(seen["result"]["body_sha256"], sha256_hex(&upload));

    let direct = c.get(format!("{}/_test/download?kib=16384", legacy.url())).send().unwrap().bytes().unwrap();
    let proxied = c.get(banyan.url("/_test/download?kib=16384")).send().unwrap().bytes().unwrap();
    assert_eq!(proxied.len(), 16 * 1024 * 1024);
    assert!(direct == proxied, "downloaded bytes differ");
}
