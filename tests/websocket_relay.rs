//! `websocket = "relay"`: banyan holds a websocket to the client and one to legacy and
//! relays messages between them. rotki's frontend pattern (connect to `/ws/`, listen to
//! broadcasts) and rotki's echo work through it; closes reach the other side; a legacy that
//! refuses or is down gives a 502 envelope instead of an upgrade.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{eventually, Banyan, Legacy};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

const RELAY: &str = "[routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n";

fn connect(banyan: &Banyan, path: &str) -> (WebSocket<TcpStream>, tungstenite::handshake::client::Response) {
    let stream = TcpStream::connect(banyan.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let url = format!("ws://{}{path}", banyan.addr);
    tungstenite::client(url.as_str(), stream).unwrap_or_else(|e| panic!("handshake on {path}: {e}"))
}

fn next_data(ws: &mut WebSocket<TcpStream>) -> Message {
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) | Message::Pong(_) => continue,
            m => return m,
        }
    }
}

#[test]
fn the_frontends_stream_and_rotkis_echo_pass_through_the_relay() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), RELAY);
    let (mut a, head) = connect(&banyan, "/ws/");
    assert_eq!(head.status(), 101);
    assert_eq!(head.headers()["x-banyan-backend"], "legacy");
    let (mut b, _) = connect(&banyan, "/ws");
    assert!(eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 2).is_some());

    // Broadcasts reach every client, in order, byte for byte as rotki serializes them.
    let sent = serde_json::json!([
        {"type": "missing_api_key", "data": {"service": "etherscan"}},
        {"type": "legacy", "data": {"value": "caf\u{e9}"}},
    ]);
    legacy.broadcast(sent);
    for ws in [&mut a, &mut b] {
        assert_eq!(next_data(ws), Message::text(r#"{"type": "missing_api_key", "data": {"service": "etherscan"}}"#));
        assert_eq!(next_data(ws), Message::text(r#"{"type": "legacy", "data": {"value": "caf\u00e9"}}"#));
    }

    // Echo to the sender alone, with its opcode; pings answered with their payload.
    a.send(Message::text("hello")).unwrap();
    a.send(Message::binary(vec![0u8, 1, 255])).unwrap();
    assert_eq!(next_data(&mut a), Message::text("hello"));
    assert_eq!(next_data(&mut a), Message::binary(vec![0u8, 1, 255]));
    a.send(Message::Ping(b"pingdata".to_vec().into())).unwrap();
    let pong = loop {
        if let Message::Pong(p) = a.read().unwrap() {
            break p;
        }
    };
    assert_eq!(&pong[..], b"pingdata");
    b.send(Message::text("only b")).unwrap();
    assert_eq!(next_data(&mut b), Message::text("only b"));
}

#[test]
fn closes_reach_the_other_side() {
    let mut legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), RELAY);

    // The client closes with a code and reason: it gets its close answered, and legacy's
    // socket closes (the notifier drops it).
    let (mut ws, _) = connect(&banyan, "/ws/");
    assert!(eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 1).is_some());
    ws.close(Some(CloseFrame { code: CloseCode::Library(4000), reason: "bye".into() })).unwrap();
    let answered = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(e) => panic!("no close answer: {e}"),
        }
    };
    assert_eq!(answered.map(|f| u16::from(f.code)), Some(4000));
    assert!(
        eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 0).is_some(),
        "legacy kept the relayed socket open after the client closed"
    );

    // Legacy goes away without a close frame (as rotki does on shutdown): the client gets
    // 1011 and a reason, not a dropped connection.
    let (mut ws, _) = connect(&banyan, "/ws/");
    assert!(eventually(Duration::from_secs(5), || legacy.broadcast(serde_json::json!([])) == 1).is_some());
    legacy.stop();
    let frame = loop {
        match ws.read() {
            Ok(Message::Close(frame)) => break frame.expect("a close code"),
            Ok(_) => continue,
            Err(e) => panic!("no close frame from banyan: {e}"),
        }
    };
    assert_eq!(frame.code, CloseCode::Error);
    assert!(frame.reason.contains("without a close frame"), "{}", frame.reason);
}

#[test]
fn a_refused_or_unreachable_legacy_gives_a_502_envelope() {
    // Down: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let banyan = Banyan::start(&format!("http://127.0.0.1:{port}"), RELAY);
    let url = format!("ws://{}/ws/", banyan.addr);
    match tungstenite::connect(url.as_str()) {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 502);
            let body: serde_json::Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
            assert!(body["message"].as_str().unwrap().contains("is unreachable"), "{body}");
        }
        other => panic!("expected a 502, got {:?}", other.map(|(_, r)| r.status())),
    }

    // Refused: the legacy app answers a handshake without a key with 400.
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), RELAY);
    let r = common::raw(
        banyan.addr,
        b"GET /ws/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(r.status(), 502, "{r:?}");
    assert!(String::from_utf8_lossy(&r.body).contains("refused the websocket handshake"), "{r:?}");
}
