//! Banyan's own answer to a websocket handshake (`native` and `merge` routes), with rotki's
//! rules (websocket.md §2): no version gets 426 and a version other than 13, 8 or 7 gets
//! 400, both with `Sec-WebSocket-Version: 13, 8, 7`; a missing or malformed key gets 400;
//! a good one gets exactly rotki's 101 (`Upgrade`, `Connection`, `Sec-WebSocket-Accept`, no
//! subprotocol).

use http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::body::{self, Body};

/// The 101 for a valid handshake, or the refusal (any other status).
pub fn answer(headers: &HeaderMap) -> Response<Body> {
    // rotki (gevent-websocket) speaks 13, 8 and 7, which frame alike.
    let version = headers.get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes());
    if !matches!(version, Some(b"13" | b"8" | b"7")) {
        let mut r = match version {
            None => refusal(StatusCode::UPGRADE_REQUIRED, "No Websocket protocol version defined"),
            Some(_) => refusal(StatusCode::BAD_REQUEST, "Unsupported WebSocket Version"),
        };
        r.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13, 8, 7"));
        return r;
    }
    let key = match headers.get(SEC_WEBSOCKET_KEY) {
        Some(k) if is_key(k.as_bytes()) => k,
        _ => return refusal(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key header is missing or invalid"),
    };
    let mut r = Response::new(body::full(""));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&derive_accept_key(key.as_bytes())).expect("base64"));
    r
}

/// Base64 of 16 bytes: 22 characters of the alphabet and `==`.
fn is_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn refusal(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(body::full(text));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn answers_like_rotki() {
        let ok =
            answer(&headers(&[("sec-websocket-version", "13"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]));
        assert_eq!(ok.status(), 101);
        assert_eq!(ok.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let old =
            answer(&headers(&[("sec-websocket-version", "12"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]));
        assert_eq!(old.status(), 400);
        assert_eq!(old.headers()["sec-websocket-version"], "13, 8, 7");
        let none = answer(&headers(&[("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]));
        assert_eq!(none.status(), 426);
        let eight =
            answer(&headers(&[("sec-websocket-version", "8"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]));
        assert_eq!(eight.status(), 101);
        let nokey = answer(&headers(&[("sec-websocket-version", "13")]));
        assert_eq!(nokey.status(), 400);
        let short = answer(&headers(&[("sec-websocket-version", "13"), ("sec-websocket-key", "c2hvcnQ=")]));
        assert_eq!(short.status(), 400);
    }
}
