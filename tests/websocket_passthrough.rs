//! Until the websocket bridge relays frames itself, a websocket upgrade passes through to
//! legacy untouched: the frontend's `/ws/` handshake succeeds through banyan and frames
//! flow both ways (rotki's notifier echoes what a client sends).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Banyan, Legacy};

/// Connects to banyan and completes a websocket handshake on `path`; returns the head.
fn open(banyan: &Banyan, path: &str) -> (TcpStream, String) {
    let mut ws = TcpStream::connect(banyan.addr).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = handshake(&mut ws, path);
    assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-banyan-backend: legacy"), "{head}");
    (ws, head)
}

fn handshake(stream: &mut TcpStream, path: &str) -> String {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost:8080\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// One masked client text frame, as RFC 6455 requires of clients.
fn text_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[test]
fn the_frontends_websocket_passes_through_to_legacy() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &common::all_native());
    let (mut ws, head) = open(&banyan, "/ws/");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");

    for msg in [&b"hello"[..], br#"{"type": "legacy", "data": {}}"#] {
        ws.write_all(&text_frame(msg)).unwrap();
        let mut echo = vec![0u8; 2 + msg.len()];
        ws.read_exact(&mut echo).unwrap();
        assert_eq!(echo[..2], [0x81, msg.len() as u8], "an unmasked, final text frame");
        assert_eq!(&echo[2..], msg);
    }
}

/// rotki upgrades on any path, then closes at once where no notifier lives; a native
/// route must not answer such a request itself.
#[test]
fn an_upgrade_on_a_native_route_goes_to_legacy() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &common::all_native());
    let (mut ws, _) = open(&banyan, "/api/1/ping");
    let mut close = [0u8; 2];
    ws.read_exact(&mut close).unwrap();
    assert_eq!(close, [0x88, 0x00], "rotki's empty close frame");
}

#[test]
fn a_plain_get_to_ws_is_ordinary_http() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    let r = common::client().get(banyan.url("/ws/")).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(common::backend(&r), "legacy");
}
