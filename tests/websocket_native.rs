//! `websocket = "native"`: banyan answers the handshake and its native notifier serves the
//! socket with rotki's semantics (broadcast to all, echo to the sender), pings idle
//! sockets and drops the silent ones, cuts loose a socket too slow to keep up (1013),
//! closes every socket with 1001 on shutdown, and a mode change applies to new sockets only.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{client, Banyan, Legacy, Options};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

const NATIVE: &str = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"native\"\n";

fn connect(addr: std::net::SocketAddr) -> (WebSocket<TcpStream>, tungstenite::handshake::client::Response) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tungstenite::client(format!("ws://{addr}/ws/").as_str(), stream).unwrap()
}

/// Publishes through the admin hook; returns to how many sockets it went.
fn publish(banyan: &Banyan, kind: &str, data: serde_json::Value) -> u64 {
    banyan.notify(&serde_json::json!({ "type": kind, "data": data }))
}

fn next_data(ws: &mut WebSocket<TcpStream>) -> Message {
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) | Message::Pong(_) => continue,
            m => return m,
        }
    }
}

fn close_code(ws: &mut WebSocket<TcpStream>) -> Option<CloseCode> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| f.code),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

fn start(legacy: &Legacy, flags: &str, config: &str) -> Banyan {
    Banyan::start_with(Options { legacy: legacy.url(), flags, config, data_dir: None })
}

#[test]
fn the_native_notifier_broadcasts_and_echoes_like_rotki() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, NATIVE, "");
    let (mut a, head) = connect(banyan.addr);
    assert_eq!(head.status(), 101);
    assert_eq!(head.headers()["x-banyan-backend"], "native");
    let (mut b, _) = connect(banyan.addr);
    wait_for_subscribers(&banyan, 2);
    let data = serde_json::json!({"token_identifier": "eip155:1/erc20:0x\u{e9}"});
    assert_eq!(publish(&banyan, "new_token_detected", data), 2);
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_data(ws),
            Message::text(r#"{"type": "new_token_detected", "data": {"token_identifier": "eip155:1/erc20:0x\u00e9"}}"#)
        );
    }
    a.send(Message::text("hello")).unwrap();
    a.send(Message::binary(vec![0u8, 1, 255])).unwrap();
    assert_eq!(next_data(&mut a), Message::text("hello"));
    assert_eq!(next_data(&mut a), Message::binary(vec![0u8, 1, 255]));
    // An unknown type is refused, not sent.
    let resp = banyan
        .admin_request(reqwest::Method::POST, "/api/notify")
        .body(r#"{"type": "nope", "data": {}}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let error: serde_json::Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    assert!(error["error"].as_str().unwrap().starts_with("unknown message type \"nope\""), "{error}");
}

/// A message goes out with its keys in the order it was published, as rotki's dicts keep
/// theirs (`{"verbosity", "value"}` for a legacy message), not sorted.
#[test]
fn a_published_message_keeps_its_key_order() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, NATIVE, "");
    let (mut ws, _) = connect(banyan.addr);
    wait_for_subscribers(&banyan, 1);
    let message =
        r#"{"type": "legacy", "data": {"verbosity": "warning", "value": "maintenance", "a": {"z": 1, "b": [2]}}}"#;
    let resp = banyan.admin_request(reqwest::Method::POST, "/api/notify").body(message).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(next_data(&mut ws), Message::text(message));
}

/// Waits until the native notifier serves `n` sockets.
fn wait_for_subscribers(banyan: &Banyan, n: u64) {
    let count = || {
        let body = client().get(format!("http://{}/api/ws", banyan.admin)).send().unwrap().text().unwrap();
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["native_subscribers"].as_u64().unwrap()
    };
    assert!(common::eventually(Duration::from_secs(5), || count() == n).is_some(), "never {n} subscribers");
}

#[test]
fn a_slow_socket_is_closed_with_1013_and_the_others_keep_receiving() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, NATIVE, "[websocket]\nclient_queue = 4\n");
    // A socket with a small receive buffer that is not read: its queue fills.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&banyan.addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut slow, _) = tungstenite::client(format!("ws://{}/ws/", banyan.addr).as_str(), stream).unwrap();
    let (mut quick, _) = connect(banyan.addr);
    wait_for_subscribers(&banyan, 2);
    let big = "x".repeat(32 * 1024);
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    // Publish until the slow socket is cut loose (delivered drops to one socket).
    loop {
        let delivered = publish(&banyan, "legacy", serde_json::json!({"value": big}));
        sent += 1;
        let m = next_data(&mut quick);
        assert!(matches!(m, Message::Text(_)), "{m:?}");
        if delivered == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow socket was never cut loose after {sent} messages");
    }
    // The quick socket still receives.
    publish(&banyan, "refresh_balances", serde_json::json!({}));
    assert_eq!(next_data(&mut quick), Message::text(r#"{"type": "refresh_balances", "data": {}}"#));
    // The slow one, once it reads what reached it, finds a 1013.
    assert_eq!(close_code(&mut slow), Some(CloseCode::Again));
}

#[test]
fn idle_sockets_are_pinged_and_silent_ones_dropped() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, NATIVE, "[websocket]\nping_interval_secs = 1\n");
    let (mut ws, _) = connect(banyan.addr);
    let ping = loop {
        match ws.read().unwrap() {
            Message::Ping(p) => break p,
            _ => continue,
        }
    };
    assert!(ping.is_empty());
    // A client that completes the handshake and then never answers anything.
    let (ws, _) = connect(banyan.addr);
    let mut silent = ws.into_inner();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match silent.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) => panic!("banyan did not drop the silent socket: {e}"),
        }
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "dropped before a ping went unanswered");
}

#[test]
fn shutdown_closes_sockets_with_1001_and_a_mode_change_waits_for_new_sockets() {
    let legacy = Legacy::start();
    let relay = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n";
    let mut banyan = start(&legacy, relay, "");
    let (mut relayed, head) = connect(banyan.addr);
    assert_eq!(head.headers()["x-banyan-backend"], "legacy");
    banyan.write_flags(NATIVE);
    let (mut native, head) = common::eventually_value(Duration::from_secs(5), || {
        let (ws, head) = connect(banyan.addr);
        (head.headers()["x-banyan-backend"] == "native").then_some((ws, head))
    })
    .expect("new sockets go native after the change");
    assert_eq!(head.status(), 101);
    // The open relayed socket still reaches legacy: rotki's echo answers.
    relayed.send(Message::text("still relayed")).unwrap();
    assert_eq!(next_data(&mut relayed), Message::text("still relayed"));

    banyan.signal("TERM");
    assert_eq!(close_code(&mut native), Some(CloseCode::Away));
    assert_eq!(close_code(&mut relayed), Some(CloseCode::Away));
    let exit = banyan.wait_exit(Duration::from_secs(10)).expect("banyan exited");
    assert!(exit.success(), "{exit:?}");
}
