//! Banyan's own answers (502, 504) on the byte-level path. hyper writes them, through an
//! in-memory connection, so they are the same bytes hyper's path sends: rotki's header
//! case, Werkzeug's reason phrase, `Date`. They are rare; this costs microseconds.

use std::cell::Cell;
use std::convert::Infallible;

use http::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::body::Body;

/// `resp` as hyper would write it on a connection, as the answer to a HEAD request or not.
pub async fn wire(resp: Response<Body>, head_request: bool, preserve_case: bool) -> Vec<u8> {
    let (mut near, far) = tokio::io::duplex(16 * 1024);
    let resp = Cell::new(Some(resp));
    let service = service_fn(move |_| {
        let resp = resp.take().unwrap_or_else(|| Response::new(crate::body::full("")));
        async move { Ok::<_, Infallible>(resp) }
    });
    let conn = http1::Builder::new()
        .preserve_header_case(preserve_case)
        .title_case_headers(preserve_case)
        .serve_connection(TokioIo::new(far), service);
    let request: &[u8] = if head_request {
        b"HEAD / HTTP/1.1\r\nhost: banyan\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nhost: banyan\r\n\r\n"
    };
    let read = async {
        near.write_all(request).await?;
        let mut bytes = Vec::new();
        let mut chunk = [0; 4096];
        loop {
            let n = near.read(&mut chunk).await?;
            if n == 0 {
                return Ok(bytes);
            }
            bytes.extend_from_slice(&chunk[..n]);
            if let Some(end) = message_end(&bytes, head_request) {
                bytes.truncate(end);
                return Ok::<_, std::io::Error>(bytes);
            }
        }
    };
    tokio::pin!(conn, read);
    let bytes = tokio::select! {
        bytes = &mut read => bytes,
        _ = &mut conn => read.await,
    };
    bytes.unwrap_or_default()
}

/// Where a response with a `Content-Length` (banyan's own always have one) ends.
fn message_end(bytes: &[u8], head_request: bool) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = resp.parse(bytes).ok()? else { return None };
    let length = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())?;
    let end = head + if head_request { 0 } else { length };
    (bytes.len() >= end).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[tokio::test]
    async fn writes_what_hyper_writes() {
        crate::rotki::response::learn_header_case().await;
        let resp = crate::rotki::response::fail(StatusCode::BAD_GATEWAY, "down").map(crate::body::full_from);
        let bytes = String::from_utf8(wire(resp, false, true).await).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 502 BAD GATEWAY\r\n"), "{bytes}");
        assert!(bytes.contains("\r\nmimetype: application/json\r\n"), "{bytes}");
        assert!(bytes.contains("\r\ndate: ") || bytes.contains("\r\nDate: "), "{bytes}");
        assert!(bytes.ends_with("\r\n\r\n{\"result\": null, \"message\": \"down\"}"), "{bytes}");

        let resp = crate::rotki::response::fail(StatusCode::GATEWAY_TIMEOUT, "slow").map(crate::body::full_from);
        let head = String::from_utf8(wire(resp, true, true).await).unwrap();
        assert!(head.starts_with("HTTP/1.1 504 GATEWAY TIMEOUT\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    }
}
