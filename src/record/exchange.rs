//! One exchange as a recording keeps it: every byte of it (request id, target, header
//! lines, bodies) in one buffer, redacted as it is written there. One buffer because
//! recording runs on the request path: a full ring hands its oldest buffer back to the
//! connection for its next request, so a busy recorded route allocates nothing once warm.

use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{HeaderName, Method};

use super::{redact, Target, MAX_BODY};
use crate::decide::Backend;
use crate::stats::Label;

/// The parts of [`Exchange::buf`], in order; the response body runs to the end.
const ID: usize = 0;
const TARGET: usize = 1;
const REQUEST_HEADERS: usize = 2;
const REQUEST_BODY: usize = 3;
const RESPONSE_HEADERS: usize = 4;

/// A buffer larger than this is not handed back for reuse (one 1 MiB answer must not
/// keep a connection holding 1 MiB for good).
const REUSE_UP_TO: usize = 64 * 1024;

/// One recorded exchange, redacted.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub started: SystemTime,
    /// To the answer's head.
    pub time: Duration,
    pub backend: Backend,
    pub method: Method,
    pub status: u16,
    /// Why the answer's body is not kept, when it is not.
    pub response_omitted: Option<&'static str>,
    /// The route it was recorded on, and how many exchanges that route keeps.
    pub(super) route: Label,
    pub(super) keep: u32,
    buf: Vec<u8>,
    ends: [usize; 5],
}

impl Exchange {
    fn part(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let end = self.ends.get(i).copied().unwrap_or(self.buf.len());
        &self.buf[start..end]
    }

    pub fn request_id(&self) -> &str {
        std::str::from_utf8(self.part(ID)).unwrap_or("")
    }

    /// Path and query, as the client sent them (secret query values replaced).
    pub fn target(&self) -> &str {
        std::str::from_utf8(self.part(TARGET)).unwrap_or("/")
    }

    pub fn request_headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        lines(self.part(REQUEST_HEADERS))
    }

    pub fn request_body(&self) -> &[u8] {
        self.part(REQUEST_BODY)
    }

    pub fn response_headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        lines(self.part(RESPONSE_HEADERS))
    }

    /// The answer's body, unless it was too large or chunked to keep.
    pub fn response_body(&self) -> Option<&[u8]> {
        self.response_omitted.is_none().then(|| self.part(RESPONSE_HEADERS + 1))
    }

    /// The memory it holds, for the recordings' bound.
    pub fn weight(&self) -> usize {
        self.buf.capacity() + std::mem::size_of::<Exchange>()
    }

    /// Its buffer, emptied, for the next request (or a new one if it grew large).
    pub fn into_buffer(self) -> Vec<u8> {
        let mut buf = self.buf;
        if buf.capacity() > REUSE_UP_TO {
            return Vec::new();
        }
        buf.clear();
        buf
    }
}

/// The `name: value` lines of a block (written by [`write_header`], or copied from a head
/// as it came, where the space after the colon is optional).
fn lines(block: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    block.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let name = std::str::from_utf8(&line[..colon]).unwrap_or("");
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        (name, value)
    })
}

/// Copies the header lines of a head as they came (`head` without its first line, the
/// request or status line), each secret's value replaced; a line starting with `skip` is
/// left out. The lines between those are copied in one piece.
fn copy_block(buf: &mut Vec<u8>, block: &[u8], sticky: &[HeaderName], skip: Option<&[u8]>) {
    let (mut copied, mut at) = (0, 0);
    for nl in memchr::memchr_iter(b'\n', block) {
        let line = &block[at..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let omit = skip.is_some_and(|s| starts_with_ignore_case(line, s));
        let secret = !omit && redact::secret_line(line, sticky);
        if omit || secret {
            buf.extend_from_slice(&block[copied..at]);
            if let Some(name) = secret.then(|| &line[..memchr::memchr(b':', line).unwrap_or(line.len())]) {
                write_header(buf, std::str::from_utf8(name).unwrap_or(""), b"", sticky);
            }
            copied = nl + 1;
        }
        at = nl + 1;
    }
    buf.extend_from_slice(&block[copied..at]);
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `head` without its first line, and that line.
fn split_first_line(head: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', head) {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &[]),
    }
}

/// Writes one header line, its value left out when it is a secret.
fn write_header(buf: &mut Vec<u8>, name: &str, value: &[u8], sticky: &[HeaderName]) {
    buf.reserve(name.len() + value.len() + 4);
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b": ");
    match redact::secret_header(name.as_bytes(), sticky) {
        true => buf.extend_from_slice(redact::REDACTED.as_bytes()),
        false => buf.extend_from_slice(value),
    }
    buf.extend_from_slice(b"\r\n");
}

/// Writes a body, without its secrets if it is JSON that holds some.
fn write_body(buf: &mut Vec<u8>, body: &[u8]) {
    match redact::json_body(body) {
        Some(redacted) => buf.extend_from_slice(&redacted),
        None => buf.extend_from_slice(body),
    }
}

/// A request captured on a recorded route, waiting for its answer.
pub struct Pending {
    target: Target,
    started: SystemTime,
    method: Method,
    buf: Vec<u8>,
    ends: [usize; 5],
}

impl Pending {
    /// From the head as a handler sees it (hyper's path, or the byte-level path's native
    /// and shadowed requests). `buf` is a spare buffer to write into.
    pub fn new(target: Target, request_id: &str, parts: &Parts, body: &[u8], buf: Vec<u8>) -> Pending {
        let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let headers = parts.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
        Pending::start(target, request_id, parts.method.clone(), uri, headers, body, buf)
    }

    /// From a raw request head as it came (the byte-level path's, which builds no header
    /// map for a legacy request): its header lines copied as they are, secrets replaced.
    pub fn from_raw(
        target: Target,
        request_id: &str,
        method: Method,
        head: &[u8],
        body: &[u8],
        buf: Vec<u8>,
    ) -> Pending {
        let (line, block) = split_first_line(head);
        // `METHOD TARGET HTTP/1.1`: parsed once already, so the target is there.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let uri =
            line.get(method.as_str().len() + 1..line.len().saturating_sub(b" HTTP/1.1".len())).unwrap_or_default();
        let mut p = Pending::begin(target, request_id, method, std::str::from_utf8(uri).unwrap_or("/"), buf);
        copy_block(&mut p.buf, block, &p.target.sticky, None);
        p.end_request(body);
        p
    }

    fn start<'a>(
        target: Target,
        request_id: &str,
        method: Method,
        uri: &str,
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
        buf: Vec<u8>,
    ) -> Pending {
        let mut p = Pending::begin(target, request_id, method, uri, buf);
        for (name, value) in headers {
            write_header(&mut p.buf, name, value, &p.target.sticky);
        }
        p.end_request(body);
        p
    }

    /// The id and the target; the header lines follow.
    fn begin(target: Target, request_id: &str, method: Method, uri: &str, mut buf: Vec<u8>) -> Pending {
        let mut ends = [0; 5];
        buf.clear();
        buf.extend_from_slice(request_id.as_bytes());
        ends[ID] = buf.len();
        buf.extend_from_slice(redact::target(uri).as_bytes());
        ends[TARGET] = buf.len();
        Pending { target, started: SystemTime::now(), method, buf, ends }
    }

    fn end_request(&mut self, body: &[u8]) {
        self.ends[REQUEST_HEADERS] = self.buf.len();
        write_body(&mut self.buf, body);
        self.ends[REQUEST_BODY] = self.buf.len();
    }

    /// The exchange, with the answer the client got: its head's headers, and its body or
    /// why it could not be read whole.
    /// `time`: from the request's start to the answer's head, as the access log has it.
    pub fn answered<'a>(
        mut self,
        backend: Backend,
        status: u16,
        time: Duration,
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
        body: Result<&[u8], &'static str>,
    ) -> Exchange {
        // (Who answered, `x-banyan-backend`, is added after this, and is the entry's
        // `_banyan_backend`.)
        for (name, value) in headers {
            write_header(&mut self.buf, name, value, &[]);
        }
        self.finish(backend, status, time, body)
    }

    /// The same from the response head the client got, as bytes (the byte-level path's
    /// legacy answers): its lines copied as they are.
    pub fn answered_raw(
        mut self,
        backend: Backend,
        status: u16,
        time: Duration,
        head: &[u8],
        body: Result<&[u8], &'static str>,
    ) -> Exchange {
        copy_block(&mut self.buf, split_first_line(head).1, &[], Some(b"x-banyan-backend:"));
        self.finish(backend, status, time, body)
    }

    fn finish(self, backend: Backend, status: u16, time: Duration, body: Result<&[u8], &'static str>) -> Exchange {
        let Pending { target, started, method, mut buf, mut ends } = self;
        ends[RESPONSE_HEADERS] = buf.len();
        let response_omitted = match body {
            Ok(b) if b.len() > MAX_BODY => Some("the body is larger than the recording limit (1 MiB)"),
            Ok(b) => {
                write_body(&mut buf, b);
                None
            }
            Err(why) => Some(why),
        };
        let (route, keep) = (target.route, target.keep);
        Exchange { started, time, backend, method, status, response_omitted, route, keep, buf, ends }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_reads_back_from_the_one_buffer() {
        let target = Target { route: crate::stats::labels::flags_route("x"), keep: 1, sticky: Vec::new() };
        let head = b"POST /api/1/x?a=1 HTTP/1.1\r\nHost:h\r\nCookie: c=1\r\nContent-Type: application/json \r\n\r\n";
        let body = br#"{"password": "p", "a": 1}"#;
        let pending = Pending::from_raw(target, "id-1", Method::POST, head, body, Vec::new());
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-banyan-backend: legacy\r\n\r\n";
        let e = pending.answered_raw(Backend::Legacy, 200, Duration::from_millis(2), answer, Ok(b"{}"));
        assert_eq!((e.request_id(), e.target(), e.method.as_str()), ("id-1", "/api/1/x?a=1", "POST"));
        let headers: Vec<(&str, &[u8])> = e.request_headers().collect();
        assert_eq!(headers, [("Host", &b"h"[..]), ("Cookie", b"[redacted]"), ("Content-Type", b"application/json")]);
        assert_eq!(e.request_body(), br#"{"password":"[redacted]","a":1}"#);
        assert_eq!(e.response_headers().collect::<Vec<_>>(), [("Content-Type", &b"application/json"[..])]);
        assert_eq!(e.response_body(), Some(&b"{}"[..]));
        // Handed back emptied, its capacity kept.
        let buf = e.into_buffer();
        assert!(buf.is_empty() && buf.capacity() > 0);
    }
}
