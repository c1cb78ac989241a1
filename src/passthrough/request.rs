//! Which requests the byte-level passthrough carries, and their head as legacy gets it.
//!
//! It carries only what it can read one way: HTTP/1.1 in origin form with one `Host`, a
//! body framed by at most one `Content-Length` (no `Transfer-Encoding`), no `Expect` and
//! no `Upgrade`. Anything else (a websocket handshake, a chunked upload, HTTP/1.0, a head
//! hyper would answer 400 or 431) is handed to hyper, so the two paths never disagree on
//! what a request means. A request for a native handler also gets its head as the
//! handler sees it (`http::request::Parts`), and legacy's head in case the handler hands
//! it back.

use std::mem::MaybeUninit;
use std::net::SocketAddr;

use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, Version};

use crate::access::RequestId;
use crate::failure::{Failure, TwoFramings};
use crate::flags::Snapshot;
use crate::legacy::{forwarded, hop};
use crate::record;
use crate::request::{Action, Admission, Core, Head, NativeCall, ShadowPlan};
use crate::stats::Label;
use crate::tasks_bridge::{NativeTask, Target};

/// More headers than this: hyper reads the request (it allows 100).
pub const MAX_HEADERS: usize = 64;

// One lives for a moment per request, on the stack: its size costs nothing, a box would.
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    /// The head is not complete yet.
    Incomplete,
    HandOff,
    /// Refused (400 or 413), and the connection closed.
    Reject(Reject),
    Forward(Forward),
}

pub struct Reject {
    pub label: Label,
    pub request_id: RequestId,
    pub method: Method,
    /// Where the path is in the buffer, for the access log.
    pub path: std::ops::Range<usize>,
    pub failure: Failure,
}

/// A request the passthrough carries; its head for legacy is in the caller's `out`.
pub struct Forward {
    pub head_len: usize,
    pub body_len: usize,
    pub method: Method,
    /// Where the path (without query) is in the buffer, for the access log.
    pub path: std::ops::Range<usize>,
    /// Asked to close the connection after the response.
    pub close: bool,
    /// The route's statistics label (an inventory rule or `unmatched` for no route).
    pub label: Label,
    pub request_id: RequestId,
    pub carry: Carry,
    pub shadow: ShadowPlan,
    /// Keep the exchange (`record = N`).
    pub record: Option<record::Target>,
    /// The guard's run of 5xx a native answer counts in.
    pub streak: Option<std::sync::Arc<crate::flags::rollout::Streak>>,
    /// The head as a native handler sees it: for the handler, or for a shadow copy.
    pub parts: Option<Parts>,
}

/// What of admission's actions this path serves itself.
pub enum Carry {
    Legacy,
    Native(NativeCall),
    /// A poll or cancel of a native task, answered at once.
    Task(NativeTask),
}

/// Reads the head at the start of `buf`: hands it off, or admits it (`request/`) and
/// writes legacy's head to `out`. The request's `Origin` goes to `origin` (for banyan's own
/// answers' CORS headers). `shadow_room`: a shadow copy could start now.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    buf: &[u8],
    snapshot: &Snapshot,
    core: &Core,
    peer: SocketAddr,
    preserve_case: bool,
    shadow_room: bool,
    out: &mut Vec<u8>,
    origin: &mut Vec<u8>,
) -> Plan {
    // Uninitialised: httparse writes only the slots it fills (no 2 KiB memset per request).
    let mut headers = [MaybeUninit::uninit(); MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Plan::Incomplete,
        Err(_) => return Plan::HandOff,
    };
    let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
        return Plan::HandOff;
    };
    if method == "CONNECT" || !target.starts_with('/') || !target.bytes().all(plain_target_byte) {
        return Plan::HandOff;
    }
    let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Plan::HandOff };

    let (mut host, mut hosts, mut body_len, mut lengths) = (&b""[..], 0, 0, 0);
    let mut close = false;
    // Every header is read before deciding: the framing check must not depend on which
    // header came first.
    let (mut chunked, mut hand_off) = (false, false);
    origin.clear();
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            host = h.value;
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            match content_length(h.value) {
                Some(n) => body_len = n,
                None => hand_off = true,
            }
            lengths += 1;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = true;
        } else if ["upgrade", "expect"].iter().any(|n| name.eq_ignore_ascii_case(n)) {
            hand_off = true;
        } else if name.eq_ignore_ascii_case("connection") {
            // A `Connection` naming headers (it could name `Content-Length` or `Host`, which
            // this path must not drop while framing by them): hyper's path handles that.
            let only_options = h.value.split(|&b| b == b',').all(|t| {
                let t = t.trim_ascii();
                t.is_empty() || t.eq_ignore_ascii_case(b"close") || t.eq_ignore_ascii_case(b"keep-alive")
            });
            hand_off |= !only_options;
            close |= hop::names(h.value, "close");
        } else if name.eq_ignore_ascii_case("origin") && origin.is_empty() {
            // The first, as `Cors::origin` takes it on hyper's path.
            origin.extend_from_slice(h.value);
        }
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    // Two framings at once is how requests are smuggled past a proxy: refused, and the
    // connection closed (RFC 9112 §6.1), whatever legacy would have made of it. (hyper,
    // which carries what this path hands off, drops the length and frames by the chunks.)
    let two_framings = chunked && lengths > 0;
    if !two_framings && (hand_off || chunked || hosts != 1 || lengths > 1) {
        return Plan::HandOff;
    }
    // Whatever it is, nothing of it is relayed: its length is not to be trusted.
    let declared = if two_framings { 0 } else { body_len as u64 };
    let head = Head {
        method: &method,
        path,
        headers: &*req.headers,
        peer: peer.ip(),
        body_len: Some(declared),
        upgrade: false,
    };
    // (A declared body's limit was applied in admission; a chunked one goes to hyper.)
    let Admission { label, request_id, generated_id, action, shadow, record, streak, max_body: _ } =
        core.admit(snapshot, &head, shadow_room);
    let path_start = path.as_ptr() as usize - buf.as_ptr() as usize;
    let path = path_start..path_start + path.len();
    let carry = match action {
        _ if two_framings => {
            let failure = Failure::Malformed(Box::new(TwoFramings));
            return Plan::Reject(Reject { label, request_id, method, path, failure });
        }
        Action::Refuse(failure) => return Plan::Reject(Reject { label, request_id, method, path, failure }),
        Action::Legacy => Carry::Legacy,
        Action::Native(call) => Carry::Native(call),
        Action::Tasks(Target::Native(task)) => Carry::Task(task),
        // The list merges legacy's answer and the session bridge learns from legacy's, which
        // hyper's path reads whole; a handshake never gets here (`Upgrade` is handed off
        // above).
        // The web app's files and the upstreams are served by hyper's path too.
        Action::Tasks(Target::List)
        | Action::Session(_)
        | Action::Websocket(_)
        | Action::WebApp
        | Action::Upstream(_)
        | Action::Slash => return Plan::HandOff,
    };
    let needs_parts = matches!(carry, Carry::Native(_)) || matches!(shadow, ShadowPlan::Capture(_));
    let parts = match needs_parts {
        true => match parts(&method, target, req.headers) {
            Some(parts) => Some(parts),
            None => return Plan::HandOff,
        },
        false => None,
    };

    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for h in req.headers.iter() {
        // (`Connection` names no headers here: see above.)
        let dropped = hop::is_hop_by_hop_name(h.name)
            || forwarded::is_forwarded_name(h.name)
            // An empty id is replaced by a new one below.
            || (h.value.is_empty() && h.name.eq_ignore_ascii_case("x-request-id"));
        if !dropped {
            write_header(out, h.name, h.value, preserve_case);
        }
    }
    let chain = req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for")).map(|h| h.value);
    forwarded::write(out, chain, host, peer);
    if generated_id {
        write_header(out, "x-request-id", request_id.as_str().as_bytes(), true);
    }
    out.extend_from_slice(b"\r\n");
    Plan::Forward(Forward {
        head_len,
        body_len,
        method,
        path,
        close,
        label,
        request_id,
        carry,
        shadow,
        record,
        streak,
        parts,
    })
}

/// The head as hyper would give it to a native handler; None where hyper would refuse it.
fn parts(method: &Method, target: &str, headers: &[httparse::Header<'_>]) -> Option<Parts> {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method.clone();
    parts.uri = target.parse().ok()?;
    parts.version = Version::HTTP_11;
    parts.headers.reserve(headers.len());
    for h in headers {
        parts.headers.append(HeaderName::from_bytes(h.name.as_bytes()).ok()?, HeaderValue::from_bytes(h.value).ok()?);
    }
    Some(parts)
}

/// `name: value` and CRLF, the name as it came or in lower case.
pub fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8], preserve_case: bool) {
    let start = out.len();
    out.extend_from_slice(name.as_bytes());
    if !preserve_case {
        out[start..].make_ascii_lowercase();
    }
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A `Content-Length` this path accepts: digits only, at most 18 of them (no list, sign or
/// space, which hyper would read its own way).
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// RFC 3986's characters of a path and query (unreserved, sub-delims, `:@/?%`). A target
/// with anything else goes to hyper, which decides whether it is valid.
fn plain_target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::Registry;

    fn run(head: &str) -> (String, Option<(usize, usize, bool)>) {
        let flags = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\n\n[routes.info]\npath = \"/api/1/info\"\n";
        let snapshot = crate::flags::compile("flags.toml".as_ref(), flags, &Registry::builtin(), 1).unwrap();
        let (mut out, mut origin) = (Vec::new(), Vec::new());
        let peer = "10.1.2.3:5000".parse().unwrap();
        let limits =
            crate::request::Limits { max_body: 1 << 20, body_limits: std::sync::Arc::new([]), native_body: 1024 };
        let tasks = crate::native::tasks::Tasks::new(1_000_000_000, 1, std::time::Duration::from_secs(1));
        let second = std::time::Duration::from_secs(1);
        let legacy = crate::config::LegacyConfig {
            url: "http://127.0.0.1:9".parse().unwrap(),
            connect_timeout: second,
            timeout: second,
            pool_idle_timeout: second,
        };
        let legacy = std::sync::Arc::new(crate::legacy::Legacy::new(&legacy, true, 1 << 20));
        let sessions = crate::session::Sessions::new(None, tasks.clone(), legacy);
        let core = Core::new(limits, Default::default(), tasks, sessions, Default::default(), None, false);
        match plan(head.as_bytes(), &snapshot, &core, peer, true, true, &mut out, &mut origin) {
            Plan::Forward(Forward {
                carry: Carry::Native(_), parts: Some(parts), head_len, body_len, close, ..
            }) => (format!("native {} {}", parts.method, parts.uri), Some((head_len, body_len, close))),
            Plan::Forward(Forward { carry: Carry::Task(task), .. }) => (format!("task {task:?}"), None),
            Plan::Forward(f) => (String::from_utf8(out).unwrap(), Some((f.head_len, f.body_len, f.close))),
            Plan::HandOff => ("hand off".into(), None),
            Plan::Reject(r) => (format!("reject {}: {}", r.label.name(), r.failure), None),
            Plan::Incomplete => ("incomplete".into(), None),
        }
    }

    #[test]
    fn rewrites_a_plain_request_for_legacy() {
        let head = "POST /api/1/info?x=1 HTTP/1.1\r\nHost: h:1\r\nConnection: keep-alive\r\n\
                    Keep-Alive: 5\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Proto: https\r\nX-Request-Id: r-1\r\n\
                    Content-Length: 2\r\n\r\nhi";
        let (out, f) = run(head);
        assert_eq!(
            out,
            "POST /api/1/info?x=1 HTTP/1.1\r\nHost: h:1\r\nX-Request-Id: r-1\r\nContent-Length: 2\r\n\
             x-forwarded-for: 9.9.9.9, 10.1.2.3\r\nx-forwarded-proto: http\r\nx-forwarded-host: h:1\r\n\r\n"
        );
        // Without one, legacy gets a new id.
        let (out, _) = run("GET /api/1/info HTTP/1.1\r\nHost: h\r\n\r\n");
        let id = out.split("x-request-id: ").nth(1).unwrap().split("\r\n").next().unwrap();
        assert_eq!(id.len(), 32, "{out}");
        assert_eq!(f, Some((head.len() - 2, 2, false)));
        assert!(run("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n").1.unwrap().2);
    }

    #[test]
    fn hands_off_what_it_does_not_carry() {
        for head in [
            "GET / HTTP/1.0\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /a{b} HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nHost: i\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
            // A Connection naming framing headers must not make this path drop them.
            "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n",
        ] {
            assert_eq!(run(head).0, "hand off", "{head:?}");
        }
        assert_eq!(run("GET / HTTP/1.1\r\nHost: h\r\n").0, "incomplete");
        let smuggle = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let reject = "reject unmatched: the request is malformed: both Content-Length and Transfer-Encoding";
        assert_eq!(run(smuggle).0, reject);
        // Whatever comes first.
        let expect_first = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(run(expect_first).0, reject);
        let bad_length_first = "POST / HTTP/1.1\r\nContent-Length: +5\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(run(bad_length_first).0, reject);
    }

    #[test]
    fn a_native_route_gets_the_head_its_handler_sees() {
        assert_eq!(run("GET /api/1/ping?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").0, "native GET /api/1/ping?x=1");
        // A body over the native limit is legacy's, as on hyper's path.
        let big = format!("GET /api/1/ping HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n{}", "x".repeat(2000));
        assert!(run(&big).0.starts_with("GET /api/1/ping HTTP/1.1\r\n"));
    }

    #[test]
    fn the_task_space_is_carried_except_the_list() {
        assert_eq!(run("GET /api/1/tasks/1000000003 HTTP/1.1\r\nHost: h\r\n\r\n").0, "task Poll(1000000003)");
        assert_eq!(run("DELETE /api/1/tasks/1000000003 HTTP/1.1\r\nHost: h\r\n\r\n").0, "task Cancel(1000000003)");
        // Legacy's ids go to legacy on this path.
        assert!(run("GET /api/1/tasks/3 HTTP/1.1\r\nHost: h\r\n\r\n").0.starts_with("GET /api/1/tasks/3 HTTP/1.1\r\n"));
        assert_eq!(run("GET /api/1/tasks HTTP/1.1\r\nHost: h\r\n\r\n").0, "hand off");
    }

    #[test]
    fn an_oversized_body_is_refused_under_its_route() {
        let head = format!("GET /api/1/ping HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", (1 << 20) + 1);
        assert_eq!(run(&head).0, "reject ping: the request body is over 1048576 bytes");
    }
}
