//! `websocket = "merge"`: one client socket carries legacy's notifier and banyan's native
//! notifier, each message whole, nothing lost or duplicated; it survives legacy going away
//! (native messages keep flowing) and picks legacy up again when it returns. Clients reach
//! it on `/ws`, `/ws/` and rotki's web app's `//ws/`, from a raw client and from Chromium.

mod common;

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::Duration;

use common::browser::{browser, chromedriver};
use common::{client, eventually, eventually_value, Banyan, Legacy, Options};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

const MERGE: &str = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"merge\"\n";

fn start(legacy: &Legacy) -> Banyan {
    Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: MERGE,
        config: "[websocket]\nclient_queue = 20000\n",
        data_dir: None,
    })
}

fn connect(banyan: &Banyan) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(banyan.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let (ws, head) = tungstenite::client(format!("ws://{}/ws/", banyan.addr).as_str(), stream).unwrap();
    assert_eq!(head.status(), 101);
    ws
}

fn next_text(ws: &mut WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return t.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn native_subscribers(banyan: &Banyan) -> u64 {
    let body = client().get(format!("http://{}/api/ws", banyan.admin)).send().unwrap().text().unwrap();
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["native_subscribers"].as_u64().unwrap()
}

#[test]
fn a_burst_from_both_worlds_arrives_whole_in_order_once() {
    let legacy = Legacy::start();
    let banyan = start(&legacy);
    let mut ws = connect(&banyan);
    assert!(eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 1).is_some());
    assert!(eventually(Duration::from_secs(5), || native_subscribers(&banyan) == 1).is_some());

    const EACH: usize = 5_000;
    let from_legacy: Vec<_> =
        (0..EACH).map(|i| serde_json::json!({"type": "legacy", "data": {"value": format!("L{i}")}})).collect();
    let from_native: Vec<_> =
        (0..EACH).map(|i| serde_json::json!({"type": "refresh_balances", "data": {"n": i}})).collect();
    let legacy_url = legacy.url();
    let l = std::thread::spawn(move || common::broadcast(&legacy_url, serde_json::Value::Array(from_legacy)));
    banyan.notify(&serde_json::Value::Array(from_native));
    l.join().unwrap();

    let (mut next_legacy, mut next_native) = (0, 0);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..2 * EACH {
        let text = next_text(&mut ws);
        *seen.entry(text.clone()).or_default() += 1;
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a whole message ({e}): {text}"));
        match v["type"].as_str().unwrap() {
            "legacy" => {
                assert_eq!(v["data"]["value"], format!("L{next_legacy}"), "legacy messages out of order");
                next_legacy += 1;
            }
            "refresh_balances" => {
                assert_eq!(v["data"]["n"], next_native, "native messages out of order");
                next_native += 1;
            }
            other => panic!("unexpected type {other}"),
        }
    }
    assert_eq!((next_legacy, next_native), (EACH, EACH));
    assert!(seen.values().all(|&n| n == 1), "a message arrived twice");

    // Echo comes once (legacy's), not twice.
    ws.send(Message::text("hello")).unwrap();
    assert_eq!(next_text(&mut ws), "hello");
    banyan.notify(&serde_json::json!({"type": "refresh_balances", "data": {}}));
    assert_eq!(next_text(&mut ws), r#"{"type": "refresh_balances", "data": {}}"#);
}

#[test]
fn native_messages_keep_flowing_while_legacy_restarts() {
    let mut legacy = Legacy::start();
    let port = legacy.port;
    let banyan = start(&legacy);
    let mut ws = connect(&banyan);
    assert!(eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 1).is_some());
    legacy.broadcast(serde_json::json!([{"type": "legacy", "data": {"value": "before"}}]));
    assert_eq!(next_text(&mut ws), r#"{"type": "legacy", "data": {"value": "before"}}"#);

    legacy.stop();
    banyan.notify(&serde_json::json!({"type": "refresh_balances", "data": {"while": "legacy is down"}}));
    assert_eq!(next_text(&mut ws), r#"{"type": "refresh_balances", "data": {"while": "legacy is down"}}"#);
    // Without legacy, banyan echoes.
    ws.send(Message::text("echo without legacy")).unwrap();
    assert_eq!(next_text(&mut ws), "echo without legacy");

    let legacy = Legacy::start_on(port, &[]);
    assert!(
        eventually(Duration::from_secs(10), || legacy.broadcast(serde_json::json!([])) == 1).is_some(),
        "banyan did not reconnect to legacy"
    );
    legacy.broadcast(serde_json::json!([{"type": "legacy", "data": {"value": "after"}}]));
    assert_eq!(next_text(&mut ws), r#"{"type": "legacy", "data": {"value": "after"}}"#);
    assert!(banyan.log.text().contains("legacy notifier lost"), "{}", banyan.log.text());
}

#[test]
fn a_legacy_that_never_answers_the_handshake_does_not_hold_native_messages_back() {
    // Accepts TCP connections (the kernel does, into the backlog) and never speaks.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let banyan = Banyan::start_with(Options {
        legacy: format!("http://{}", hung.local_addr().unwrap()),
        flags: MERGE,
        config: "",
        data_dir: None,
    });
    let mut ws = connect(&banyan);
    assert!(eventually(Duration::from_secs(5), || native_subscribers(&banyan) == 1).is_some());
    let started = std::time::Instant::now();
    banyan.notify(&serde_json::json!({"type": "refresh_balances", "data": {}}));
    assert_eq!(next_text(&mut ws), r#"{"type": "refresh_balances", "data": {}}"#);
    // Well inside the 5 s the legacy handshake may take.
    assert!(started.elapsed() < Duration::from_secs(2), "native message waited {:?}", started.elapsed());
}

/// rotki's web app opens its socket on `//ws/` (an empty backend URL joined with `/ws/`),
/// as the desktop app's and nginx's clients reach `/ws` and `/ws/`: each gets the merged
/// stream, native and legacy messages both.
#[test]
fn the_web_apps_double_slash_path_gets_the_merged_stream_as_ws_does() {
    let legacy = Legacy::start();
    let banyan = start(&legacy);
    for path in ["/ws", "/ws/", "//ws/", "//ws"] {
        let stream = TcpStream::connect(banyan.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (mut ws, head) = tungstenite::client(format!("ws://{}{path}", banyan.addr).as_str(), stream).unwrap();
        assert_eq!(head.status(), 101, "{path}");
        assert!(eventually(Duration::from_secs(5), || native_subscribers(&banyan) == 1).is_some(), "{path}");
        assert!(
            eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 1).is_some(),
            "{path}"
        );
        banyan.notify(&serde_json::json!({"type": "refresh_balances", "data": {"path": path}}));
        legacy.broadcast(serde_json::json!([{"type": "legacy", "data": {"path": path}}]));
        let mut types: Vec<String> = (0..2)
            .map(|_| serde_json::from_str::<serde_json::Value>(&next_text(&mut ws)).unwrap()["type"].to_string())
            .collect();
        types.sort();
        assert_eq!(types, [r#""legacy""#, r#""refresh_balances""#], "{path}");
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        assert!(eventually(Duration::from_secs(5), || native_subscribers(&banyan) == 0).is_some(), "{path}");
    }
}

/// The same from a real browser: a headless Chromium page opens `new WebSocket(...)` on
/// `//ws/`, as rotki's web app does, and on `/ws` and `/ws/`, and receives both worlds.
#[test]
fn a_browser_socket_on_the_web_apps_path_receives_native_and_legacy_messages() {
    let legacy = Legacy::start();
    let banyan = start(&legacy);
    let (_driver, port) = chromedriver();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let page = runtime.block_on(browser(port));
    // A page from banyan's own origin, as the web app is served from its backend's host.
    runtime.block_on(page.goto(&banyan.url("/api/1/ping"))).unwrap();
    let run = |js: &str| runtime.block_on(page.execute(js, vec![])).unwrap();
    for path in ["//ws/", "/ws", "/ws/"] {
        run(&format!(
            "window.got = []; window.sock = new WebSocket('ws://{}{path}'); \
             window.sock.onmessage = e => window.got.push(JSON.parse(e.data).type);",
            banyan.addr
        ));
        let open = eventually(Duration::from_secs(10), || native_subscribers(&banyan) == 1);
        assert!(open.is_some(), "{path}: readyState {}, {}", run("return window.sock.readyState;"), banyan.log.text());
        assert!(
            eventually(Duration::from_secs(10), || legacy.broadcast(serde_json::json!([])) == 1).is_some(),
            "{path}"
        );
        banyan.notify(&serde_json::json!({"type": "refresh_balances", "data": {}}));
        legacy.broadcast(serde_json::json!([{"type": "legacy", "data": {}}]));
        let got = eventually_value(Duration::from_secs(10), || {
            let got = run("return window.got;");
            (got.as_array().map_or(0, Vec::len) == 2).then_some(got)
        });
        let mut got: Vec<String> =
            got.expect(path).as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        got.sort();
        assert_eq!(got, ["legacy", "refresh_balances"], "{path}");
        run("window.sock.close();");
        assert!(eventually(Duration::from_secs(10), || native_subscribers(&banyan) == 0).is_some(), "{path}");
    }
    let _ = runtime.block_on(page.close());
}
