//! Legacy's response head as the client gets it, and how its body is framed.
//!
//! The body's bytes pass through untouched, so its framing headers do too:
//! `Transfer-Encoding` and `Trailer` stay with a chunked body, where hyper's path would
//! decode and re-encode it. The other hop-by-hop headers go, `X-Banyan-Backend` is added,
//! and `Connection: close` when the client connection ends after this response.

use std::mem::MaybeUninit;

use http::StatusCode;

use super::chunked::Chunked;
use super::request::write_header;
use crate::failure::BadAnswer;
use crate::legacy::hop;

/// More response headers than hyper's client accepts (100) is an invalid response.
const MAX_HEADERS: usize = 100;

pub enum Head {
    Incomplete,
    /// A 1xx the client did not ask for (no `Expect` reaches this path): skipped, as hyper's
    /// client does; this many bytes.
    Informational(usize),
    Final(Final),
}

pub struct Final {
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// Legacy keeps the connection open for another request.
    pub reusable: bool,
    /// The client connection closes after this response (the head says so).
    pub closes: bool,
}

#[derive(Debug)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked(Chunked),
    /// Until legacy closes: the client connection closes after it too.
    UntilClose,
}

impl Framing {
    /// How many of `bytes` (the next body bytes from legacy) belong to this message, and
    /// whether it is complete with them.
    pub fn take(&mut self, bytes: &[u8]) -> Result<(usize, bool), super::chunked::Invalid> {
        Ok(match self {
            Framing::Empty => (0, true),
            Framing::Length(left) => {
                let n = (*left).min(bytes.len() as u64);
                *left -= n;
                (n as usize, *left == 0)
            }
            Framing::Chunked(c) => match c.feed(bytes)? {
                Some(end) => (end, true),
                None => (bytes.len(), false),
            },
            Framing::UntilClose => (bytes.len(), false),
        })
    }
}

/// Parses legacy's head at the start of `buf` and writes the client's to `out`.
/// `close` says the client connection ends after this response; `request_id`, the id the
/// answer carries (`[server] return_request_id`), in place of any legacy sent.
pub fn parse(
    buf: &[u8],
    head_request: bool,
    close: bool,
    preserve_case: bool,
    request_id: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<Head, BadAnswer> {
    let mut headers = [MaybeUninit::uninit(); MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Head::Incomplete),
        Err(e) => return Err(BadAnswer::Head(e)),
    };
    let (Some(version), Some(status)) = (resp.version, resp.code) else {
        return Err(BadAnswer::NoStatus);
    };
    match status {
        101 => return Err(BadAnswer::UnaskedSwitch),
        100..=199 => return Ok(Head::Informational(len)),
        _ => {}
    }
    let mut framing = framing(resp.headers, head_request, status)?;
    if let Framing::Length(0) = framing {
        framing = Framing::Empty;
    }
    let until_close = matches!(framing, Framing::UntilClose);
    let by_transfer_encoding = resp.headers.iter().any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
    let connection = || resp.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("connection"));
    let has_connection = connection().next().is_some();
    let reusable = version == 1 && !until_close && !connection().any(|h| hop::names(h.value, "close"));

    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    // Three digits: httparse checked.
    out.extend_from_slice(&[b'0' + (status / 100) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8]);
    out.push(b' ');
    let reason = resp.reason.filter(|r| !r.is_empty());
    let canonical = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.or(canonical).unwrap_or("<none>").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in resp.headers.iter() {
        let framing_header = h.name.eq_ignore_ascii_case("transfer-encoding") || h.name.eq_ignore_ascii_case("trailer");
        // With a Transfer-Encoding, a Content-Length is a smuggling attempt or a mistake;
        // RFC 9112 §6.3 has an intermediary drop it before forwarding.
        let overridden_length = by_transfer_encoding && h.name.eq_ignore_ascii_case("content-length");
        // Framing headers stay even when `Connection` names them: the body is framed by them.
        let named = !framing_header
            && !h.name.eq_ignore_ascii_case("content-length")
            && has_connection
            && connection().any(|c| hop::names(c.value, h.name));
        // banyan says who answered; a copy from legacy would contradict it.
        let ours = h.name.eq_ignore_ascii_case("x-banyan-backend")
            || (request_id.is_some() && h.name.eq_ignore_ascii_case("x-request-id"));
        let dropped = (hop::is_hop_by_hop_name(h.name) && !framing_header) || overridden_length || named || ours;
        if !dropped {
            write_header(out, h.name, h.value, preserve_case);
        }
    }
    // hyper's path writes the names it adds in title case exactly when it keeps case.
    let title = |t: &'static str, l: &'static str| if preserve_case { t } else { l };
    write_header(out, title("X-Banyan-Backend", "x-banyan-backend"), b"legacy", true);
    if let Some(id) = request_id {
        write_header(out, title("X-Request-Id", "x-request-id"), id, true);
    }
    let closes = close || until_close;
    if closes {
        write_header(out, title("Connection", "connection"), b"close", true);
    }
    out.extend_from_slice(b"\r\n");
    Ok(Head::Final(Final { len, status, framing, reusable, closes }))
}

/// RFC 9112 §6.3, strictly: a `Transfer-Encoding` whose last coding is chunked, else one
/// (or several equal) `Content-Length`, else the body runs until legacy closes.
fn framing(headers: &[httparse::Header<'_>], head_request: bool, status: u16) -> Result<Framing, BadAnswer> {
    if head_request || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    let named = |n: &'static str| headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(n)).map(|h| h.value);
    if let Some(te) = named("transfer-encoding").next_back() {
        let last = te.rsplit(|&b| b == b',').next().unwrap_or_default().trim_ascii();
        return Ok(if last.eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked(Chunked::default())
        } else {
            Framing::UntilClose
        });
    }
    let mut length = None;
    for value in named("content-length") {
        let n = std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(BadAnswer::InvalidLength)?;
        if length.is_some_and(|l| l != n) {
            return Err(BadAnswer::ConflictingLength);
        }
        length = Some(n);
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str, head_request: bool, close: bool) -> (String, Final) {
        let mut out = Vec::new();
        match parse(raw.as_bytes(), head_request, close, true, None, &mut out).unwrap() {
            Head::Final(f) => (String::from_utf8(out).unwrap(), f),
            _ => panic!("not a final head"),
        }
    }

    #[test]
    fn keeps_names_and_reason_and_drops_hop_by_hop() {
        let (out, f) = head(
            "HTTP/1.1 404 NOT FOUND\r\nmimetype: application/json\r\nConnection: keep-alive\r\n\
             Keep-Alive: timeout=5\r\nContent-Length: 3\r\n\r\n",
            false,
            false,
        );
        assert_eq!(
            out,
            "HTTP/1.1 404 NOT FOUND\r\nmimetype: application/json\r\nContent-Length: 3\r\nX-Banyan-Backend: legacy\r\n\r\n"
        );
        assert!(matches!(f.framing, Framing::Length(3)) && f.reusable && f.status == 404);
    }

    #[test]
    fn keeps_framing_headers_that_connection_names_and_drops_a_foreign_backend_label() {
        let (out, f) = head(
            "HTTP/1.1 200 OK\r\nConnection: Content-Length, X-Drop\r\nX-Drop: 1\r\nX-Banyan-Backend: native\r\nContent-Length: 2\r\n\r\n",
            false,
            false,
        );
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Banyan-Backend: legacy\r\n\r\n");
        assert!(matches!(f.framing, Framing::Length(2)));
    }

    #[test]
    fn frames_bodies_strictly() {
        let chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", false, false);
        assert!(chunked.0.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!chunked.0.contains("Content-Length"), "{}", chunked.0);
        assert!(matches!(chunked.1.framing, Framing::Chunked(_)));
        let (out, f) = head("HTTP/1.1 200 OK\r\n\r\n", false, false);
        assert!(matches!(f.framing, Framing::UntilClose) && !f.reusable);
        assert!(out.ends_with("Connection: close\r\n\r\n"));
        assert!(matches!(head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, false).1.framing, Framing::Empty));
        assert!(!head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false, false).1.reusable);
        assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, false).1.reusable);
        for bad in ["Content-Length: 1\r\nContent-Length: 2", "Content-Length: -1", "Content-Length: 1 2"] {
            let raw = format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n");
            assert!(parse(raw.as_bytes(), false, false, true, None, &mut Vec::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn skips_informational_answers() {
        let hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
        assert!(
            matches!(parse(hints, false, false, true, None, &mut Vec::new()), Ok(Head::Informational(n)) if n == hints.len())
        );
    }
}
