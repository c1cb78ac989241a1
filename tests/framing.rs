//! Hostile framing on real sockets: every request that could be read two ways (both
//! Content-Length and Transfer-Encoding, conflicting lengths, obfuscated
//! Transfer-Encoding, bad chunks, folded headers) is refused with 400, or normalised so
//! that legacy receives exactly the requests banyan parsed: the legacy app counts what it
//! gets. No `Upgrade` but websocket reaches legacy, and request trailers do not either.

mod common;

use common::*;
use serde_json::Value;

/// Sends `raw` on a new connection; the answer's status, body, and how many requests
/// legacy received meanwhile.
fn exchange(banyan: &Banyan, legacy: &Legacy, raw_request: &[u8]) -> (u16, Value, u64) {
    let before = legacy.seen();
    let r = raw(banyan.addr, raw_request);
    let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status(), body, legacy.seen() - before)
}

const CLOSE: &str = "Connection: close\r\n";

#[test]
fn ambiguous_framing_is_refused_before_legacy_sees_it() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let head =
        |headers: &str, body: &str| format!("POST /_test/echo HTTP/1.1\r\nHost: h\r\n{headers}{CLOSE}\r\n{body}");
    for (what, request) in [
        // The smuggler's classic: a chunked body that ends early, then a second request
        // that a Content-Length reader would have taken as body.
        (
            "Content-Length with Transfer-Encoding",
            head(
                "Content-Length: 44\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\nGET /_test/echo?smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
            ),
        ),
        (
            "Transfer-Encoding with Content-Length",
            head("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "0\r\n\r\n"),
        ),
        ("conflicting Content-Length", head("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")),
        ("a Content-Length list", head("Content-Length: 5, 6\r\n", "hello!")),
        ("a signed Content-Length", head("Content-Length: +5\r\n", "hello")),
        ("xchunked", head("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n")),
        ("chunked, then identity", head("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n")),
        ("a space before the colon", head("Transfer-Encoding : chunked\r\n", "0\r\n\r\n")),
        ("an invalid chunk size", head("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n")),
        (
            "an oversized chunk extension",
            head("Transfer-Encoding: chunked\r\n", &format!("5;{}\r\nhello\r\n0\r\n\r\n", "a".repeat(20_000))),
        ),
        ("an obs-fold header line", head("X-Folded: a\r\n b\r\nContent-Length: 0\r\n", "")),
        (
            "Transfer-Encoding on HTTP/1.0",
            "POST /_test/echo HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_string(),
        ),
    ] {
        let (status, body, seen) = exchange(&banyan, &legacy, request.as_bytes());
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(seen, 0, "{what}: legacy received it");
    }
}

#[test]
fn what_is_accepted_reaches_legacy_exactly_as_parsed() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let echo =
        |headers: &str, body: &str| format!("POST /_test/echo HTTP/1.1\r\nHost: h\r\n{headers}{CLOSE}\r\n{body}");
    for (what, request, body_len) in [
        ("chunked in capitals", echo("Transfer-Encoding: CHUNKED\r\n", "5\r\nhello\r\n0\r\n\r\n"), 5),
        ("the same Content-Length twice", echo("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 5),
        (
            "bare LF line ends",
            "POST /_test/echo HTTP/1.1\nHost: h\nContent-Length: 2\nConnection: close\n\nhi".to_string(),
            2,
        ),
    ] {
        let (status, body, seen) = exchange(&banyan, &legacy, request.as_bytes());
        assert_eq!((status, seen), (200, 1), "{what}: {body}");
        assert_eq!(body["result"]["body_len"], body_len, "{what}: {body}");
    }

    // 100-continue: the interim answer, then legacy's, for one request.
    let before = legacy.seen();
    let mut conn = std::net::TcpStream::connect(banyan.addr).unwrap();
    let expect = echo("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello");
    std::io::Write::write_all(&mut conn, expect.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(r#""body_len": 5"#), "{answer}");
    assert_eq!(legacy.seen() - before, 1);

    // Trailers end with the request: legacy gets the body, not the trailer.
    let trailer = echo("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\nX-Sneaky: 1\r\n\r\n");
    let (status, body, seen) = exchange(&banyan, &legacy, trailer.as_bytes());
    assert_eq!((status, seen), (200, 1), "{body}");
    assert!(!body.to_string().to_ascii_lowercase().contains("sneaky"), "{body}");

    // No protocol switch but websocket: an h2c upgrade arrives as a plain request.
    let h2c = "GET /_test/echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
               HTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: close\r\n\r\n";
    let (status, body, seen) = exchange(&banyan, &legacy, h2c.as_bytes());
    assert_eq!((status, seen), (200, 1), "{body}");
    let headers = body["result"]["headers"].to_string().to_ascii_lowercase();
    assert!(!headers.contains("upgrade") && !headers.contains("http2-settings"), "{headers}");
}
