//! Native handlers answer byte for byte like rotki: the same request to the legacy app and
//! to banyan's native handler gives the same status line, the same headers in the same
//! order and case (but `Date`), and the same body.

mod common;

use common::{all_native, raw, request, Banyan, Legacy, Options, Raw};

fn both(legacy: &Legacy, banyan: &Banyan, req: &[u8]) -> (Raw, Raw) {
    (raw(legacy.addr(), req), raw(banyan.addr, req))
}

fn start() -> (Legacy, Banyan) {
    start_with_config("")
}

fn start_with_config(config: &str) -> (Legacy, Banyan) {
    let legacy = Legacy::start();
    let data_dir = legacy.data_dir.clone();
    let banyan =
        Banyan::start_with(Options { legacy: legacy.url(), flags: &all_native(), config, data_dir: Some(&data_dir) });
    (legacy, banyan)
}

#[test]
fn native_answers_match_legacy_to_the_byte() {
    native_parity(start());
}

/// Native answers keep rotki's header case even when forwarded ones go out in lower case.
#[test]
fn native_answers_keep_rotkis_case_without_header_case_preservation() {
    let (legacy, banyan) = start_with_config("[server]\npreserve_header_case = false\n");
    let forwarded = raw(banyan.addr, &request("GET", "/nope", &[], b""));
    assert!(
        forwarded.head.contains("\r\nmimetype: application/json\r\ncontent-type: application/json\r\n"),
        "{}",
        forwarded.head
    );
    native_parity((legacy, banyan));
}

fn native_parity((legacy, banyan): (Legacy, Banyan)) {
    let json = ("Content-Type", "application/json");
    let origin_ok = ("Origin", "http://localhost:8080");
    let origin_no = ("Origin", "http://example.com");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ping", request("GET", "/api/1/ping", &[], b"")),
        ("ping, query ignored", request("GET", "/api/1/ping?async_query=true&x=1", &[], b"")),
        ("ping, valid JSON body", request("GET", "/api/1/ping", &[json], b"{\"a\": 1}")),
        ("ping, empty JSON body is a 500", request("GET", "/api/1/ping", &[json], b"")),
        ("ping, text body ignored", request("GET", "/api/1/ping", &[("Content-Type", "text/plain")], b"hi")),
        ("ping HEAD", request("HEAD", "/api/1/ping", &[], b"")),
        ("ping, allowed Origin gets CORS", request("GET", "/api/1/ping", &[origin_ok], b"")),
        ("ping, other Origin gets none", request("GET", "/api/1/ping", &[origin_no], b"")),
        (
            "ping, prefix-matching Origin",
            request("GET", "/api/1/ping", &[("Origin", "http://localhost.evil.com")], b""),
        ),
        ("info", request("GET", "/api/1/info", &[], b"")),
        ("info HEAD with Origin", request("HEAD", "/api/1/info", &[origin_ok], b"")),
        ("info false", request("GET", "/api/1/info?check_for_updates=false", &[], b"")),
        ("info 0", request("GET", "/api/1/info?check_for_updates=0", &[], b"")),
        (
            "info repeated key takes the first",
            request("GET", "/api/1/info?check_for_updates=no&check_for_updates=x", &[], b""),
        ),
        ("info not a boolean", request("GET", "/api/1/info?check_for_updates=maybe", &[], b"")),
        ("info empty value", request("GET", "/api/1/info?check_for_updates=", &[], b"")),
        ("info unknown field", request("GET", "/api/1/info?foo=1", &[], b"")),
        ("info async_query rejected", request("GET", "/api/1/info?async_query=true", &[], b"")),
        ("info bad and unknown", request("GET", "/api/1/info?check_for_updates=x&zzz=1", &[origin_ok], b"")),
        ("info JSON body", request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": false}")),
        ("info JSON body wins over query", request("GET", "/api/1/info?foo=1", &[json], b"{\"check_for_updates\": 0}")),
        ("info JSON array body", request("GET", "/api/1/info", &[json], b"[1]")),
        ("info JSON null body", request("GET", "/api/1/info", &[json], b"null")),
        (
            "info JSON unknown",
            request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": \"yes\", \"\xc3\xa9\": 1}"),
        ),
        ("info JSON not a boolean", request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": 2}")),
        ("info JSON null", request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": null}")),
        ("info JSON float one", request("GET", "/api/1/info", &[json], b"{\"check_for_updates\": 0.0}")),
        ("info empty JSON body", request("GET", "/api/1/info", &[json], b"")),
        (
            "info form body falls back to query",
            request(
                "GET",
                "/api/1/info?check_for_updates=off",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                b"a=b",
            ),
        ),
        (
            "info JSON+suffix type",
            request("GET", "/api/1/info", &[("Content-Type", "application/vnd.x+json; charset=utf-8")], b"{}"),
        ),
        ("types", request("GET", "/api/1/assets/types", &[], b"")),
        ("types async_query ignored", request("GET", "/api/1/assets/types?async_query=true", &[], b"")),
        ("types HEAD", request("HEAD", "/api/1/assets/types", &[], b"")),
        ("types percent-encoded path", request("GET", "/api/1/assets/%74ypes", &[], b"")),
    ];
    let mut failures = Vec::new();
    for (name, req) in &cases {
        let (l, b) = both(&legacy, &banyan, req);
        if b.header("x-banyan-backend") != Some("native") {
            failures.push(format!("{name}: served by {:?}, expected native", b.header("x-banyan-backend")));
        }
        if l.comparable_head() != b.comparable_head() || l.body != b.body {
            failures.push(format!(
                "{name}:\n legacy: {:?} {:?}\n banyan: {:?} {:?}",
                l.comparable_head(),
                String::from_utf8_lossy(&l.body),
                b.comparable_head(),
                String::from_utf8_lossy(&b.body)
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// What the native handler does not implement goes to legacy, which answers as itself.
#[test]
fn native_hands_back_what_it_does_not_implement() {
    let legacy = Legacy::start_with(&["--latest-release", "1.44.0"]);
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &all_native(),
        config: "[native]\nbody_limit_bytes = 64\n",
        data_dir: Some(&legacy.data_dir),
    });
    let big = [b'x'; 100];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("check_for_updates asks GitHub", request("GET", "/api/1/info?check_for_updates=true", &[], b"")),
        (
            "JSON body check_for_updates",
            request("GET", "/api/1/info", &[("Content-Type", "application/json")], b"{\"check_for_updates\": true}"),
        ),
        ("several unknown fields (Python set order)", request("GET", "/api/1/info?b=1&a=2", &[], b"")),
        ("a body over the native limit", request("GET", "/api/1/ping", &[("Content-Type", "text/plain")], &big)),
        (
            "JSON serde rejects but Python accepts",
            request("GET", "/api/1/info", &[("Content-Type", "application/json")], b"{\"check_for_updates\": NaN}"),
        ),
    ];
    for (name, req) in &cases {
        let (l, b) = both(&legacy, &banyan, req);
        assert_eq!(b.header("x-banyan-backend"), Some("legacy"), "{name}");
        assert_eq!((l.comparable_head(), &l.body), (b.comparable_head(), &b.body), "{name}");
    }
    let (_, b) = both(&legacy, &banyan, &cases[0].1);
    assert!(String::from_utf8_lossy(&b.body).contains("\"latest_version\": \"1.44.0\""));
}

/// Methods a route does not list are not native: the wrong-method 500 comes from legacy.
#[test]
fn methods_outside_the_route_go_to_legacy() {
    let (legacy, banyan) = start();
    for method in ["POST", "DELETE", "OPTIONS"] {
        let req = request(method, "/api/1/ping", &[("Origin", "http://localhost:1")], b"");
        let (l, b) = both(&legacy, &banyan, &req);
        assert_eq!(b.header("x-banyan-backend"), Some("legacy"), "{method}");
        assert_eq!(l.status(), b.status(), "{method}");
        assert_eq!(l.body, b.body, "{method}");
    }
}
