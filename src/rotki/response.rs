//! rotki's responses as they go on the wire: the `{"result": ..., "message": ...}` envelope
//! with its stray `mimetype` header, the jsonify-style 400, Werkzeug's upper-case reason
//! phrases, and the header-name case rotki writes.

use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{Empty, Full};
use hyper::ext::ReasonPhrase;
use serde::Serialize;

use super::args::FieldErrors;
use super::json;

pub static MIMETYPE: HeaderName = HeaderName::from_static("mimetype");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

#[derive(Serialize)]
struct Envelope<'a, T: Serialize + ?Sized> {
    result: &'a T,
    message: &'a str,
}

/// A normal rotki answer: `json.dumps` bytes with `mimetype`, `Content-Type` and
/// `Content-Length`, in that order (the server appends `Date`).
pub fn api_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let body = body.into();
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(MIMETYPE.clone(), APPLICATION_JSON);
    h.insert(CONTENT_TYPE, APPLICATION_JSON);
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *resp.body_mut() = Full::new(body);
    finish(resp)
}

/// `{"result": <result>, "message": <message>}`.
pub fn envelope<T: Serialize + ?Sized>(status: StatusCode, result: &T, message: &str) -> Response<Full<Bytes>> {
    api_response(status, json::dumps(&Envelope { result, message }))
}

/// A failure: `{"result": null, "message": <message>}`.
pub fn fail(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    envelope(status, &(), message)
}

/// A webargs validation failure: Flask's `jsonify(result=None, message=json.dumps(errors))`,
/// compact, keys sorted (so `message` first), a trailing newline, and no `mimetype`.
pub fn validation_error(errors: &FieldErrors) -> Response<Full<Bytes>> {
    #[derive(Serialize)]
    struct Jsonify<'a> {
        message: &'a str,
        result: (),
    }
    let message = String::from_utf8(json::dumps(errors)).expect("json.dumps writes ASCII");
    let mut body = json::dumps_compact(&Jsonify { message: &message, result: () });
    body.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, APPLICATION_JSON);
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *resp.body_mut() = Full::new(Bytes::from(body));
    finish(resp)
}

/// Werkzeug's reason phrase for a status: the standard one in upper case.
fn werkzeug_reason(status: StatusCode) -> Option<ReasonPhrase> {
    let reason: &'static [u8] = match status.as_u16() {
        300 => b"MULTIPLE CHOICES",
        308 => b"PERMANENT REDIRECT",
        400 => b"BAD REQUEST",
        401 => b"UNAUTHORIZED",
        403 => b"FORBIDDEN",
        404 => b"NOT FOUND",
        409 => b"CONFLICT",
        413 => b"REQUEST ENTITY TOO LARGE",
        424 => b"FAILED DEPENDENCY",
        500 => b"INTERNAL SERVER ERROR",
        502 => b"BAD GATEWAY",
        503 => b"SERVICE UNAVAILABLE",
        504 => b"GATEWAY TIMEOUT",
        507 => b"INSUFFICIENT STORAGE",
        _ => return None,
    };
    Some(ReasonPhrase::from_static(reason))
}

/// Header names as rotki writes them. hyper keeps the case of forwarded headers through
/// a private extension that only its own parser can create, so banyan parses rotki's
/// response head once at start and stamps a copy of that extension on native answers;
/// names it does not cover follow `preserve_header_case` (title case, or lower case).
static HEADER_CASE: OnceLock<http::Extensions> = OnceLock::new();

pub(super) const ROTKI_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nmimetype: application/json\r\nContent-Type: application/json\r\n\
Content-Length: 0\r\nAccess-Control-Allow-Origin: x\r\nVary: Origin\r\nX-Banyan-Backend: native\r\n\
Date: Sat, 21 Nov 2026 07:13:02 GMT\r\n\r\n";

/// Learns rotki's header case; call once at start, inside the runtime.
pub async fn learn_header_case() {
    if HEADER_CASE.get().is_some() {
        return;
    }
    match parse_rotki_head().await {
        Ok(ext) => {
            let _ = HEADER_CASE.set(ext);
        }
        Err(e) => tracing::warn!("native answers will use title-case header names: {e}"),
    }
}

async fn parse_rotki_head() -> Result<http::Extensions, Box<dyn std::error::Error + Send + Sync>> {
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (client, mut server) = tokio::io::duplex(4096);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(client))
        .await?;
    let conn = tokio::spawn(conn);
    let peer = async move {
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = server.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        server.write_all(ROTKI_HEAD).await?;
        Ok::<_, std::io::Error>(server)
    };
    let (resp, server) = tokio::join!(sender.send_request(http::Request::new(Empty::new())), peer);
    let resp = resp?;
    drop(server?);
    conn.abort();
    Ok(resp.extensions().clone())
}

/// Stamps reason phrase and header case on a response banyan built itself.
pub fn finish<B>(mut resp: Response<B>) -> Response<B> {
    if let Some(ext) = HEADER_CASE.get() {
        *resp.extensions_mut() = ext.clone();
    }
    if let Some(reason) = werkzeug_reason(resp.status()) {
        resp.extensions_mut().insert(reason);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(r: Response<Full<Bytes>>) -> Vec<u8> {
        r.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn envelope_matches_rotki_bytes() {
        // The 401 of wire.md §6d, Content-Length 61.
        let r = fail(StatusCode::UNAUTHORIZED, "No user is currently logged in");
        assert_eq!(r.headers()["content-length"], "61");
        assert_eq!(r.extensions().get::<ReasonPhrase>().unwrap().as_bytes(), b"UNAUTHORIZED");
        assert_eq!(body(r).await, br#"{"result": null, "message": "No user is currently logged in"}"#);
    }

    #[tokio::test]
    async fn validation_error_matches_jsonify() {
        let r = validation_error(&FieldErrors::single("location", "Failed to deserialize Location value \u{e9}"));
        assert!(r.headers().get(&MIMETYPE).is_none());
        assert_eq!(
            body(r).await,
            b"{\"message\":\"{\\\"location\\\": [\\\"Failed to deserialize Location value \\\\u00e9\\\"]}\",\"result\":null}\n"
        );
    }
}
