//! The byte-level passthrough (`src/passthrough/`) and hyper's path answer every request
//! alike, heads included: legacy's answers, native handlers' (and their hand-backs),
//! banyan's own 413, 502 and 504, task answers and async refusals; and a connection moves
//! from the first to the second when a request needs hyper (a chunked upload, an
//! oversized body, HTTP/1.0, `Expect`), with pipelined requests kept in order.

mod common;

use std::time::Duration;

use common::{big_data_dir, eventually_value, get_route, raw, request, Banyan, KeepAlive, Legacy, Options, Raw, SLOW};

/// Banyan with the byte-level passthrough (the default) and without it.
fn both(legacy: &Legacy, flags: &str) -> (Banyan, Banyan) {
    both_with(&legacy.url(), flags, "", None)
}

/// The same with more config (top-level keys, or tables: `[server]` is added last) and a
/// data dir.
fn both_with(legacy: &str, flags: &str, config: &str, data_dir: Option<&str>) -> (Banyan, Banyan) {
    let start =
        |config: String| Banyan::start_with(Options { legacy: legacy.to_string(), flags, config: &config, data_dir });
    let hyper = format!("{config}\n[server]\nbyte_passthrough = false\n");
    (start(config.to_string()), start(hyper))
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
        let answers = [bytes, hyper].map(|b| answer(b, req, *head_request));
        assert_same(&answers, Some(backend), req);
    }
}

fn answer(banyan: &Banyan, req: &[u8], head_request: bool) -> Raw {
    let mut conn = KeepAlive::connect(banyan.addr);
    conn.send(req);
    conn.response(head_request)
}

/// Both answers alike, and said to come from `backend` (`None`: hyper's own answer, which
/// names no backend).
fn assert_same(answers: &[Raw; 2], backend: Option<&str>, req: &[u8]) {
    let what = String::from_utf8_lossy(&req[..req.iter().position(|&b| b == b'\r').unwrap()]).to_string();
    for a in answers {
        assert_eq!(a.header("x-banyan-backend"), backend, "{what}: {a:?}");
    }
    assert_eq!(comparable(&answers[0]), comparable(&answers[1]), "{what}");
    // Same bytes, header case included, apart from the Date.
    assert_eq!(answers[0].comparable_head(), answers[1].comparable_head(), "{what}");
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
fn both_paths_write_banyans_own_answers_alike() {
    let legacy = Legacy::start();
    let config = "[legacy]\ntimeout_ms = 300\n[native]\nbody_limit_bytes = 64\n[server]\nmax_body_bytes = 1000\n";
    // `[server]` twice would be invalid: the hyper banyan's config says it once.
    let (bytes, hyper) = {
        let start = |config: &str| {
            Banyan::start_with(Options { legacy: legacy.url(), flags: &common::all_native(), config, data_dir: None })
        };
        (start(config), start(&format!("{config}byte_passthrough = false\n")))
    };
    let cors = ("Origin", "http://localhost:8080");
    let json = ("Content-Type", "application/json");
    let requests: Vec<(Vec<u8>, bool, Option<&str>)> = vec![
        // 413: a declared body over max_body_bytes, on a native route and off one.
        (request("POST", "/_test/echo", &[cors], &[b'x'; 1001]), false, Some("legacy")),
        (request("GET", "/api/1/ping", &[cors], &[b'x'; 1001]), false, Some("legacy")),
        // 504: legacy slower than timeout_ms.
        (request("GET", "/_test/sleep?ms=2000", &[cors], b""), false, Some("legacy")),
        // A body over the native limit: legacy's answer, even on a native route.
        (request("GET", "/api/1/ping", &[], &[b'x'; 65]), false, Some("legacy")),
        // Hand-backs: a body serde cannot read, and an `/info` the handler leaves to legacy.
        (request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": NaN}"), false, Some("legacy")),
        (request("GET", "/api/1/info?check_for_updates=true", &[], b""), false, Some("legacy")),
        // Native HEAD and OPTIONS.
        (request("HEAD", "/api/1/info", &[cors], b""), true, Some("native")),
        (
            request("OPTIONS", "/api/1/info", &[cors, ("Access-Control-Request-Method", "GET")], b""),
            false,
            Some("legacy"),
        ),
        // An empty JSON body: native's 500, as rotki's before-request hook gives.
        (request("GET", "/api/1/assets/types", &[json], b""), false, Some("native")),
        // 431: more headers than hyper takes (both paths leave it to hyper).
        (
            {
                let many: Vec<(String, String)> = (0..120).map(|i| (format!("X-H{i}"), "1".to_string())).collect();
                let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                request("GET", "/api/1/ping", &refs, b"")
            },
            false,
            None,
        ),
    ];
    for (req, head_request, backend) in &requests {
        let answers = [&bytes, &hyper].map(|b| answer(b, req, *head_request));
        assert_same(&answers, *backend, req);
    }
    assert_eq!(answer(&bytes, &requests[0].0, false).status(), 413);
    assert_eq!(answer(&bytes, &requests[2].0, false).status(), 504);
    assert_eq!(answer(&bytes, &requests[9].0, false).status(), 431);
}

#[test]
fn both_paths_answer_tasks_and_async_refusals_alike() {
    let legacy = Legacy::start();
    let data = big_data_dir();
    let flags = "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\nasync = true\n";
    let (bytes, hyper) = both_with(&legacy.url(), flags, "[native]\nmax_pending_tasks = 1\n", data.path().to_str());
    let json = [("Content-Type", "application/json"), ("Origin", "http://localhost:8080")];
    let mappings = |body: &str| request("POST", "/api/1/assets/locationmappings", &json, body.as_bytes());
    let both = |req: &[u8], head_request: bool| [&bytes, &hyper].map(|b| answer(b, req, head_request));

    // A task id, the same on both (each banyan counts from the base).
    let start = mappings(r#"{"limit": 2, "async_query": true}"#);
    let started = both(&start, false);
    assert_same(&started, Some("native"), &start);
    let id: u64 =
        serde_json::from_slice::<serde_json::Value>(&started[0].body).unwrap()["result"]["task_id"].as_u64().unwrap();
    // Polled until done on each, then the same completed answer (read once), then not found.
    let poll = request("GET", &format!("/api/1/tasks/{id}"), &json, b"");
    let done = [&bytes, &hyper].map(|b| {
        eventually_value(Duration::from_secs(20), || {
            let r = answer(b, &poll, false);
            (!String::from_utf8_lossy(&r.body).contains("pending")).then_some(r)
        })
        .expect("the task completes")
    });
    assert!(String::from_utf8_lossy(&done[0].body).contains(r#""status": "completed""#), "{:?}", done[0]);
    assert_same(&done, Some("native"), &poll);
    assert_same(&both(&poll, false), Some("native"), &poll);
    let head = request("HEAD", &format!("/api/1/tasks/{id}"), &[], b"");
    assert_same(&both(&head, true), Some("native"), &head);
    let cancel = request("DELETE", &format!("/api/1/tasks/{}", id + 5), &json, b"");
    let cancelled = both(&cancel, false);
    assert_eq!(cancelled[0].status(), 404);
    assert_same(&cancelled, Some("native"), &cancel);

    // Refusals: a non-boolean async_query, and a second task while one is pending.
    let bad = mappings(r#"{"async_query": "maybe"}"#);
    assert_same(&both(&bad, false), Some("native"), &bad);
    let slow = mappings(&format!(r#"{{"async_query": true, {}"#, &SLOW[1..]));
    let slow_started = both(&slow, false);
    assert_same(&slow_started, Some("native"), &slow);
    let refused = both(&slow, false);
    assert_eq!(refused[0].status(), 503, "{:?}", refused[0]);
    assert_same(&refused, Some("native"), &slow);
    // Cancelled, so the slow query stops.
    let slow_id = id + 1;
    let cancel = request("DELETE", &format!("/api/1/tasks/{slow_id}"), &json, b"");
    let cancelled = both(&cancel, false);
    assert_eq!(cancelled[0].body, br#"{"result": true, "message": ""}"#);
    assert_same(&cancelled, Some("native"), &cancel);
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
