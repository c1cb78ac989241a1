//! The byte-level passthrough (`src/passthrough/`) and hyper's path answer every request
//! alike (legacy's answers, native handlers', banyan's own 502), and a connection moves
//! from the first to the second when a request needs hyper (a chunked upload, an
//! oversized body, HTTP/1.0, `Expect`), with pipelined requests kept in order.

mod common;

use common::{get_route, raw, request, Banyan, KeepAlive, Legacy, Options, Raw};

/// Banyan with the byte-level passthrough (the default) and without it.
fn both(legacy: &Legacy, flags: &str) -> (Banyan, Banyan) {
    let bytes = Banyan::start(&legacy.url(), flags);
    let hyper = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags,
        config: "[server]\nbyte_passthrough = false\n",
        data_dir: None,
    });
    (bytes, hyper)
}

/// What must be equal between two answers: the status line, the headers (by lower-case
/// name and value, in any order, without `Date`), and the body, with the header lists the
/// legacy app echoes sorted (the paths may add `X-Forwarded-*` in another order) and the
/// generated request ids masked.
fn comparable(r: &Raw) -> (String, Vec<String>, serde_json::Value) {
    let mut lines = r.comparable_head().into_iter();
    let status = lines.next().unwrap();
    let mut headers: Vec<String> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            format!("{}:{}", k.to_ascii_lowercase(), v.trim())
        })
        .collect();
    headers.sort();
    let mut body: serde_json::Value =
        serde_json::from_slice(&r.body).unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into());
    if let Some(seen) = body.pointer_mut("/result/headers").and_then(|h| h.as_array_mut()) {
        for h in seen.iter_mut() {
            h[0] = h[0].as_str().unwrap().to_ascii_lowercase().into();
            // Each path makes its own request id for legacy; both must make one.
            if h[0] == "x-request-id" {
                assert_eq!(h[1].as_str().unwrap().len(), 32, "{h}");
                h[1] = "<generated>".into();
            }
        }
        seen.sort_by_key(|h| h.to_string());
    }
    (status, headers, body)
}

/// Sends each request on a new connection to both banyans and compares the answers.
fn assert_alike(bytes: &Banyan, hyper: &Banyan, requests: &[(Vec<u8>, bool)], backend: &str) {
    for (req, head_request) in requests {
        let answers: Vec<Raw> = [bytes, hyper]
            .iter()
            .map(|b| {
                let mut conn = KeepAlive::connect(b.addr);
                conn.send(req);
                conn.response(*head_request)
            })
            .collect();
        let what = String::from_utf8_lossy(&req[..req.iter().position(|&b| b == b'\r').unwrap()]).to_string();
        assert_eq!(answers[0].header("x-banyan-backend"), Some(backend), "{what}");
        assert_eq!(comparable(&answers[0]), comparable(&answers[1]), "{what}");
        // Same bytes, header case included, apart from the Date.
        assert_eq!(answers[0].comparable_head(), answers[1].comparable_head(), "{what}");
    }
}

#[test]
fn both_paths_answer_alike() {
    let legacy = Legacy::start();
    let (bytes, hyper) = both(&legacy, "");
    let cors = ("Origin", "http://localhost:8080");
    let requests: Vec<(Vec<u8>, bool)> = vec![
        (request("GET", "/api/1/ping", &[cors], b""), false),
        (request("HEAD", "/api/1/ping", &[], b""), true),
        (request("GET", "/nope", &[cors], b""), false),
        (request("OPTIONS", "/api/1/ping", &[cors, ("Access-Control-Request-Method", "PUT")], b""), false),
        (
            request(
                "POST",
                "/_test/echo?a=1&b=%20x",
                &[
                    ("X-Forwarded-For", "10.1.2.3"),
                    ("Connection", "keep-alive, X-Hop"),
                    ("X-Hop", "secret"),
                    ("Keep-Alive", "timeout=5"),
                    ("Proxy-Authorization", "Basic eA=="),
                    ("TE", "trailers"),
                    ("Cookie", "session=abc"),
                ],
                b"hello legacy",
            ),
            false,
        ),
        (request("GET", "/_test/echo", &[("X-Custom", "Value With Spaces")], b""), false),
        (request("GET", "/_test/headers", &[], b""), false),
        (request("GET", "/_test/download?kib=200", &[], b""), false),
        (request("GET", "/_test/hop", &[], b""), false),
        (request("GET", "/_test/drip?ms=10", &[], b""), false),
    ];
    assert_alike(&bytes, &hyper, &requests, "legacy");
}

#[test]
fn both_paths_answer_natively_alike() {
    let legacy = Legacy::start();
    let (bytes, hyper) = both(&legacy, &common::all_native());
    let cors = ("Origin", "http://localhost:8080");
    let requests: Vec<(Vec<u8>, bool)> = vec![
        (request("GET", "/api/1/ping", &[cors], b""), false),
        (request("HEAD", "/api/1/ping", &[], b""), true),
        (request("GET", "/api/1/info?check_for_updates=false", &[], b""), false),
        (
            request("GET", "/api/1/info", &[("Content-Type", "application/json")], b"{\"check_for_updates\": \"x\"}"),
            false,
        ),
        (request("GET", "/api/1/info", &[("Content-Type", "application/json")], b""), false),
        (request("GET", "/api/1/assets/types", &[cors], b""), false),
    ];
    assert_alike(&bytes, &hyper, &requests, "native");
}

#[test]
fn both_paths_answer_502_alike() {
    let (bytes, hyper) = {
        // Nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let legacy = format!("http://127.0.0.1:{port}");
        let start = |config| Banyan::start_with(Options { legacy: legacy.clone(), flags: "", config, data_dir: None });
        (start(""), start("[server]\nbyte_passthrough = false\n"))
    };
    let cors = ("Origin", "http://localhost:8080");
    let requests =
        vec![(request("GET", "/api/1/ping", &[cors], b""), false), (request("HEAD", "/nope", &[], b""), true)];
    assert_alike(&bytes, &hyper, &requests, "legacy");
}

#[test]
fn a_connection_moves_to_hyper_for_a_native_route_and_keeps_its_order() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &get_route("ping", "/api/1/ping", "100", ""));
    let mut conn = KeepAlive::connect(banyan.addr);
    let mut backends = Vec::new();
    for path in ["/_test/echo", "/api/1/ping", "/_test/echo"] {
        conn.send(&request("GET", path, &[], b""));
        let r = conn.response(false);
        assert_eq!(r.status(), 200, "{path}");
        backends.push(r.header("x-banyan-backend").unwrap().to_string());
    }
    assert_eq!(backends, ["legacy", "native", "legacy"]);

    // Pipelined in one write: legacy, native, legacy; answered in order on both paths.
    let mut conn = KeepAlive::connect(banyan.addr);
    let mut batch = request("GET", "/_test/echo?n=1", &[], b"");
    batch.extend(request("GET", "/api/1/ping", &[], b""));
    batch.extend(request("GET", "/_test/echo?n=3", &[], b""));
    conn.send(&batch);
    let first = conn.response(false);
    let second = conn.response(false);
    let third = conn.response(false);
    assert!(String::from_utf8_lossy(&first.body).contains("\"n=1\""), "{first:?}");
    assert_eq!(second.header("x-banyan-backend"), Some("native"));
    assert!(String::from_utf8_lossy(&third.body).contains("\"n=3\""), "{third:?}");
}

/// What legacy says it received from `/_test/echo`: (method, body length).
fn echoed(r: &Raw) -> (String, u64) {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("{r:?}"));
    (v["result"]["method"].as_str().unwrap().to_string(), v["result"]["body_len"].as_u64().unwrap())
}

#[test]
fn requests_the_byte_path_hands_to_hyper_are_served_in_full() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");

    // A body larger than the passthrough's buffer.
    let big = vec![b'x'; 200 * 1024];
    let r = raw(banyan.addr, &request("POST", "/_test/echo", &[("Content-Type", "text/plain")], &big));
    assert_eq!(echoed(&r), ("POST".into(), big.len() as u64));

    // A chunked upload.
    let mut conn = KeepAlive::connect(banyan.addr);
    conn.send(b"POST /_test/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    assert_eq!(echoed(&conn.response(false)), ("POST".into(), 11));

    // HTTP/1.0.
    let r = raw(banyan.addr, b"GET /_test/echo HTTP/1.0\r\nHost: h\r\n\r\n");
    assert_eq!(echoed(&r), ("GET".into(), 0));

    // Expect: 100-continue: the body follows banyan's 100.
    let mut conn = KeepAlive::connect(banyan.addr);
    conn.send(b"PUT /_test/echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    assert_eq!(conn.response(false).status(), 100);
    conn.send(b"body");
    assert_eq!(echoed(&conn.response(false)), ("PUT".into(), 4));
}

#[test]
fn head_answers_and_connection_close_keep_the_framing() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let mut conn = KeepAlive::connect(banyan.addr);
    // HEAD carries a Content-Length but no body: the next answer on the connection must
    // not be read as that body.
    conn.send(&request("HEAD", "/api/1/ping", &[], b""));
    let head = conn.response(true);
    assert_eq!(head.status(), 200);
    assert!(head.header("content-length").is_some());
    conn.send(&request("GET", "/api/1/ping", &[("Connection", "close")], b""));
    let last = conn.response(false);
    assert_eq!(last.body, br#"{"result": true, "message": ""}"#);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(conn.closed(), "banyan kept the connection open after Connection: close");
}
