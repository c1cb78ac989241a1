//! The byte-level passthrough: most requests during a migration go to legacy unchanged,
//! and this carries them without hyper. It parses each head with httparse (the parser
//! hyper uses), admits it with the request core (`request/`) as hyper's path does, writes
//! legacy's head into one buffer (hop-by-hop headers out, `X-Forwarded-*` in) and relays
//! the response's bytes as they come, following only their framing. No header map, no
//! body frames, no task per legacy connection (`docs/benchmarks.md` has what that saves).
//! A request for a native handler gets its head as the handler sees it and the handler's
//! answer written as hyper would write it (`rotki/head.rs`), as do task answers and
//! banyan's own 413, 502 and 504.
//!
//! Anything it does not carry (`request.rs` says what) goes to hyper with the bytes already
//! read (`handoff.rs`), and the connection stays with hyper from then on: websocket
//! handshakes, chunked uploads, HTTP/1.0, malformed or oversized heads. So every rule
//! hyper's path enforces still holds, and the two never read a request differently.

mod chunked;
mod deadline;
mod handoff;
mod request;
mod response;

pub use handoff::Prefixed;
/// The most request headers the byte-level path parses (more go to hyper).
pub use request::MAX_HEADERS as MAX_REQUEST_HEADERS;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE};
use http::{HeaderValue, Method, Response};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::access::{RequestId, X_REQUEST_ID};
use crate::app::App;
use crate::decide::Backend;
use crate::failure::{BadAnswer, Context, Failure};
use crate::legacy::{QuickAck, Slot};
use crate::native::Served;
use crate::proxy::X_BANYAN_BACKEND;
use crate::record;
use crate::request::{Entry, ShadowPlan};
use crate::rotki::head;
use crate::shadow::{self, Primary};
use deadline::Deadline;
use request::{Carry, Forward, Plan, Reject};
use response::{Final, Framing, Head};

/// Buffers start this big and grow to `MAX_BUF`; a request head and body (or a response
/// head) larger than that goes to hyper (or is a 502).
const FIRST_BUF: usize = 8 * 1024;
const MAX_BUF: usize = 64 * 1024;
/// How long, and how many bytes, a refused client's remaining upload is read and dropped.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 4 << 20;

/// What the passthrough takes from the config, copied once at start.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Header names as they came (else in lower case, like hyper's path does then).
    pub preserve_case: bool,
    /// How long a head may take to arrive, and a keep-alive connection may sit idle.
    pub header_read_timeout: Duration,
    /// `[server] return_request_id`: answers carry the request's `X-Request-Id`.
    pub return_request_id: bool,
}

/// How a connection left the passthrough.
pub enum End {
    Closed,
    /// hyper serves the rest of the connection, starting with these bytes.
    HandOff(TcpStream, Vec<u8>),
}

/// What the connection and its shutdown watch share.
#[derive(Default)]
struct Shared {
    /// Waiting for a request with nothing of it read: safe to close at once.
    idle: Cell<bool>,
    /// Shutting down: finish the request in flight, answer with `Connection: close`.
    draining: Cell<bool>,
}

/// An answer written to the client.
struct Written {
    /// The client connection stays open for another request.
    keep_open: bool,
    status: u16,
    /// When the answer's head was ready: the request's latency ends there.
    head_at: Instant,
}

/// Serves a client connection until it closes or needs hyper. When `stop` resolves, an
/// idle connection closes at once and a busy one after its response.
pub async fn serve(
    app: &Arc<App>,
    settings: Settings,
    client: TcpStream,
    peer: SocketAddr,
    stop: impl Future<Output = ()>,
) -> End {
    let shared = Shared::default();
    let conn = Conn::new(app, settings, client, peer, &shared).run();
    tokio::pin!(conn);
    tokio::select! {
        end = conn.as_mut() => return end,
        _ = stop => {}
    }
    if shared.idle.get() {
        return End::Closed;
    }
    shared.draining.set(true);
    conn.await
}

struct Conn<'a> {
    app: &'a Arc<App>,
    peer: SocketAddr,
    client: TcpStream,
    /// Bytes from the client not yet forwarded.
    buf: Vec<u8>,
    filled: usize,
    /// Bytes from legacy.
    rbuf: Vec<u8>,
    /// The head being written (legacy's request head, then the client's response head).
    out: Vec<u8>,
    /// The request's `Origin`, for CORS headers on banyan's own answers.
    origin: Vec<u8>,
    /// The request's path, for the access log.
    path: String,
    /// Legacy's answer, kept while the request is shadowed or recorded.
    capture: Option<Capture>,
    /// The last capture, its buffers kept for the next.
    spare_capture: Capture,
    /// A buffer for the next exchange of a recorded route (`record/`).
    record_buf: Vec<u8>,
    legacy: Slot<QuickAck>,
    settings: Settings,
    /// The connection's timer (see `deadline.rs`).
    timer: Option<Deadline>,
    shared: &'a Shared,
    /// The id the answer in progress carries back, with `return_request_id`.
    echo: Option<RequestId>,
}

impl<'a> Conn<'a> {
    fn new(app: &'a Arc<App>, settings: Settings, client: TcpStream, peer: SocketAddr, shared: &'a Shared) -> Conn<'a> {
        Conn {
            app,
            peer,
            client,
            buf: vec![0; FIRST_BUF],
            filled: 0,
            rbuf: vec![0; FIRST_BUF],
            out: Vec::with_capacity(1024),
            origin: Vec::new(),
            path: String::new(),
            capture: None,
            spare_capture: Capture::default(),
            record_buf: Vec::new(),
            legacy: app.legacy.slot(),
            settings,
            timer: Some(Deadline::new()),
            shared,
            echo: None,
        }
    }

    async fn run(mut self) -> End {
        let mut snapshot = self.app.flags.snapshot();
        // When the last request ended (one clock read serves two purposes).
        let mut ended = Instant::now();
        loop {
            // Like hyper's, the header-read timeout also bounds how long a keep-alive
            // connection may sit idle.
            let deadline = tokio::time::Instant::from_std(ended) + self.settings.header_read_timeout;
            let fwd = loop {
                if self.filled > 0 {
                    // The flags in force when the request arrived, as on hyper's path.
                    self.app.flags.refresh(&mut snapshot);
                    let head = &self.buf[..self.filled];
                    let (core, room) = (&self.app.core, self.app.shadow.has_room());
                    let (case, out, origin) = (self.settings.preserve_case, &mut self.out, &mut self.origin);
                    match request::plan(head, &snapshot, core, self.peer, case, room, out, origin) {
                        Plan::Forward(f) if f.head_len + f.body_len <= MAX_BUF => break f,
                        Plan::Forward(_) | Plan::HandOff => return self.hand_off(),
                        Plan::Reject(reject) => {
                            self.refuse(reject).await;
                            self.linger().await;
                            return End::Closed;
                        }
                        Plan::Incomplete => {}
                    }
                }
                if self.filled == self.buf.len() {
                    if self.buf.len() >= MAX_BUF {
                        return self.hand_off();
                    }
                    self.buf.resize(MAX_BUF.min(self.buf.len() * 2), 0);
                }
                self.shared.idle.set(self.filled == 0);
                let timer = self.timer.get_or_insert_with(Deadline::new);
                let read = timer.run(deadline, self.client.read(&mut self.buf[self.filled..])).await;
                self.shared.idle.set(false);
                match read {
                    Ok(Ok(n)) if n > 0 => self.filled += n,
                    _ => return End::Closed,
                }
            };
            let keep;
            (keep, ended) = self.exchange(fwd).await;
            if !keep || self.shared.draining.get() {
                return End::Closed;
            }
        }
    }

    /// Answers a refused request (its body unread) and finishes it.
    async fn refuse(&mut self, reject: Reject) {
        let started = Instant::now();
        self.echo = self.settings.return_request_id.then_some(reject.request_id);
        let at = Context { route: reject.label, request_id: &reject.request_id };
        let resp = self.app.responder.answer(&reject.failure, self.origin().as_ref(), at);
        let written = self.respond(resp, Backend::Legacy, reject.method == Method::HEAD, true).await;
        let Reject { label, request_id, method, path, .. } = reject;
        let path = std::str::from_utf8(&self.buf[path]).unwrap_or("?");
        let (status, latency) = (written.status, written.head_at - started);
        let backend = Backend::Legacy;
        self.app.core.finish(Entry { id: &request_id, label, method: &method, path, backend, status, latency }, None);
    }

    /// Before closing on a client still sending (a refused upload), reads and drops what
    /// it sends for a moment: closing with unread bytes would reset the connection, and the
    /// client would likely lose the answer it was just sent.
    async fn linger(&mut self) {
        let _ = self.client.shutdown().await;
        let (mut left, mut sink) = (LINGER_BYTES, [0u8; 8192]);
        let until = tokio::time::Instant::now() + LINGER;
        while left > 0 {
            match tokio::time::timeout_at(until, self.client.read(&mut sink)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
    }

    fn hand_off(mut self) -> End {
        self.buf.truncate(self.filled);
        End::HandOff(self.client, self.buf)
    }

    /// The request's `Origin`, for banyan's own answers.
    fn origin(&self) -> Option<HeaderValue> {
        (!self.origin.is_empty()).then(|| HeaderValue::from_bytes(&self.origin).ok()).flatten()
    }

    /// Serves one request, natively or from legacy; whether the client connection stays
    /// open, and when the request ended.
    async fn exchange(&mut self, fwd: Forward) -> (bool, Instant) {
        let started = Instant::now();
        let end = fwd.head_len + fwd.body_len;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        // The body arrives under legacy's timeout, as on hyper's path (where it bounds the
        // whole upload and the answer): a client that stalls mid-body is closed.
        let deadline = tokio::time::Instant::from_std(started) + self.app.legacy.timeout();
        while self.filled < end {
            let timer = self.timer.get_or_insert_with(Deadline::new);
            match timer.run(deadline, self.client.read(&mut self.buf[self.filled..])).await {
                Ok(Ok(n)) if n > 0 => self.filled += n,
                _ => return (false, started),
            }
        }
        let Forward { head_len, method, path, close, label, request_id, carry, shadow, record, streak, parts, .. } =
            fwd;
        self.echo = self.settings.return_request_id.then_some(request_id);
        let body = &self.buf[head_len..end];
        let head_request = method == Method::HEAD;
        let copy = match shadow {
            ShadowPlan::Capture(target) => parts
                .clone()
                .and_then(|p| self.app.shadow.capture(target, p, Bytes::copy_from_slice(body), self.peer, request_id)),
            ShadowPlan::Dropped(route) => {
                self.app.shadow.dropped(route);
                None
            }
            ShadowPlan::Off => None,
        };
        let mut pending = match record {
            // The spare buffer a recorded route's last exchange handed back.
            Some(target) => {
                let buf = std::mem::take(&mut self.record_buf);
                let head = &self.buf[..head_len];
                Some(record::Pending::from_raw(target, request_id.as_str(), method.clone(), head, body, buf))
            }
            None => None,
        };
        let (ours, deadline) = match (carry, parts) {
            (Carry::Native(call), Some(parts)) => {
                let serve =
                    self.app.native.serve_buffered(call.handler, parts, Bytes::copy_from_slice(body), call.async_query);
                // A client that goes away meanwhile ends the handler (and interrupts the
                // database query it runs) instead of letting it finish for nobody.
                let served = tokio::select! {
                    served = serve => served,
                    _ = gone(&self.client, self.filled > end) => {
                        tracing::debug!(peer = %self.peer, "client went away during a native request");
                        return (false, started);
                    }
                };
                match served {
                    Served::Response(resp) => (Some(resp), deadline),
                    // Legacy answers instead, with the bytes as they came, and has its whole
                    // timeout from now.
                    Served::HandBack(_) => (None, tokio::time::Instant::now() + self.app.legacy.timeout()),
                }
            }
            (Carry::Task(task), _) => (Some(self.app.tasks.answer(task, self.origin().as_ref())), deadline),
            (Carry::Legacy | Carry::Native(_), _) => (None, deadline),
        };
        if ours.is_none() {
            self.out.extend_from_slice(body);
        }
        if self.app.core.logs_access() {
            self.path.clear();
            self.path.push_str(std::str::from_utf8(&self.buf[path]).unwrap_or("?"));
        }
        self.buf.copy_within(end..self.filled, 0);
        self.filled -= end;

        let captured = copy.is_some() || pending.is_some();
        let (backend, written, primary, exchange) = match ours {
            Some(resp) => {
                let body = if captured { crate::body::full_bytes(resp.body()) } else { Bytes::new() };
                let status = resp.status().as_u16();
                let primary = copy.as_ref().map(|_| Primary::Answered {
                    backend: Backend::Native,
                    status,
                    content_type: resp.headers().get(CONTENT_TYPE).cloned(),
                    body: body.clone(),
                });
                let exchange = pending.take().map(|p| {
                    let headers = resp.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
                    // (Its time is set once the head is written.)
                    p.answered(Backend::Native, status, Duration::ZERO, headers, Ok(&body))
                });
                let written = self.respond(resp, Backend::Native, head_request, close).await;
                let exchange = exchange.map(|mut e| {
                    e.time = written.head_at - started;
                    e
                });
                (Backend::Native, written, primary, exchange)
            }
            None => {
                if captured {
                    let mut c = std::mem::take(&mut self.spare_capture);
                    c.reset();
                    self.capture = Some(c);
                }
                let at = Context { route: label, request_id: &request_id };
                let written = self.forward(deadline, head_request, close, at).await;
                let (mut primary, mut exchange) = (None, None);
                // Only an answer legacy gave (not banyan's 502 or 504) is compared or kept.
                if let Some(mut c) = self.capture.take() {
                    // Why the body cannot be compared or kept, if it cannot.
                    let unusable = match (c.unusable, c.complete) {
                        _ if !c.answered => Some("legacy did not answer"),
                        (Some(why), _) => Some(why),
                        // Relaying stopped part way (legacy or the client went away).
                        (None, false) => Some("the answer was cut short"),
                        (None, true) => None,
                    };
                    if c.answered {
                        let (time, body) = (written.head_at - started, unusable.map_or(Ok(&c.bytes[..]), Err));
                        exchange = pending
                            .take()
                            .map(|p| p.answered_raw(Backend::Legacy, written.status, time, &c.head, body));
                    }
                    // The comparison takes the body (the spare capture grows a new one).
                    primary = copy.as_ref().map(|_| match unusable {
                        None => Primary::Answered {
                            backend: Backend::Legacy,
                            status: written.status,
                            content_type: head_map(&c.head).get(CONTENT_TYPE).cloned(),
                            body: Bytes::from(std::mem::take(&mut c.bytes)),
                        },
                        Some(why) => Primary::Unusable(why),
                    });
                    self.spare_capture = c;
                }
                (Backend::Legacy, written, primary, exchange)
            }
        };
        if let (Some(copy), Some(primary)) = (copy, primary) {
            copy.finish(&self.app.shadow, primary);
        }
        if let Some(exchange) = exchange {
            self.record_buf = self.app.records.keep(exchange);
        }
        let ended = Instant::now();
        // To the answer's head, as on hyper's path: a slow client or a long body does not
        // count as the backend's latency.
        let (status, latency) = (written.status, written.head_at - started);
        let (method, path) = (&method, self.path.as_str());
        let done = Entry { id: &request_id, label, method, path, backend, status, latency };
        self.app.core.finish(done, streak.as_deref());
        (written.keep_open, ended)
    }

    /// Sends the request in `out` to legacy and relays its answer, or answers with why it
    /// could not (502, 504).
    async fn forward(
        &mut self,
        deadline: tokio::time::Instant,
        head_request: bool,
        close: bool,
        at: Context<'_>,
    ) -> Written {
        // `send` borrows the connection, so the timer is taken out for it.
        let mut timer = self.timer.take().unwrap_or_else(Deadline::new);
        let sent = timer.run(deadline, self.send(head_request, close)).await;
        self.timer = Some(timer);
        let failure = match sent {
            Ok(Ok((stream, head, filled))) => {
                let (status, head_at) = (head.status, Instant::now());
                let keep_open = self.relay(stream, head, filled).await;
                return Written { keep_open, status, head_at };
            }
            Ok(Err(failure)) => failure,
            Err(_) => Failure::TimedOut(self.app.legacy.timeout()),
        };
        if let Some(c) = &mut self.capture {
            c.unusable = Some("legacy did not answer");
        }
        let resp = self.app.responder.answer(&failure, self.origin().as_ref(), at);
        self.respond(resp, Backend::Legacy, head_request, close).await
    }

    /// Writes the request (in `out`) to legacy and reads the response head; returns the
    /// stream, the head (the client's is then in `out`) and how much of `rbuf` is filled.
    async fn send(&mut self, head_request: bool, close: bool) -> Result<(QuickAck, Final, usize), Failure> {
        let legacy = &self.app.legacy;
        let (mut stream, reused) = legacy.acquire_raw(&self.legacy).await?;
        match stream.0.write(&self.out).await {
            Ok(n) => stream.0.write_all(&self.out[n..]).await.map_err(Failure::exchange)?,
            Err(e) => {
                // Nothing of it reached legacy.
                let failure = Failure::stale(e);
                if !failure.should_retry(reused) {
                    return Err(failure);
                }
                stream = legacy.connect_raw().await?;
                stream.0.write_all(&self.out).await.map_err(Failure::exchange)?;
            }
        }
        let mut filled = 0;
        loop {
            let close = close || self.shared.draining.get();
            let case = self.settings.preserve_case;
            let echo = self.echo.as_ref().map(|id| id.as_str().as_bytes());
            match response::parse(&self.rbuf[..filled], head_request, close, case, echo, &mut self.out) {
                Ok(Head::Final(head)) => return Ok((stream, head, filled)),
                Ok(Head::Informational(n)) => {
                    self.rbuf.copy_within(n..filled, 0);
                    filled -= n;
                    continue;
                }
                Ok(Head::Incomplete) => {}
                Err(bad) => return Err(Failure::exchange(bad)),
            }
            if filled == self.rbuf.len() {
                if filled >= MAX_BUF {
                    return Err(Failure::exchange(BadAnswer::HeadTooLarge));
                }
                self.rbuf.resize(MAX_BUF.min(filled * 2), 0);
            }
            if filled > 0 {
                stream.ack_now();
            }
            match stream.0.read(&mut self.rbuf[filled..]).await {
                Ok(0) => return Err(Failure::exchange(BadAnswer::ClosedEarly)),
                Ok(n) => filled += n,
                Err(e) => return Err(Failure::exchange(e)),
            }
        }
    }

    /// Sends the client the response head (in `out`) and the body as legacy sends it;
    /// whether the client connection stays open. A response cut short closes it.
    async fn relay(&mut self, mut stream: QuickAck, mut head: Final, filled: usize) -> bool {
        let body = &self.rbuf[head.len..filled];
        let Ok((take, mut done)) = head.framing.take(body) else { return false };
        let mut extra = take < body.len();
        if let Some(c) = &mut self.capture {
            // The client's head, which is all `out` holds yet.
            c.head.extend_from_slice(&self.out);
            c.answered = true;
            if matches!(head.framing, Framing::Chunked(_)) {
                c.unusable = Some("a chunked answer is not compared or kept");
            }
            c.add(&body[..take]);
        }
        self.out.extend_from_slice(&body[..take]);
        if self.client.write_all(&self.out).await.is_err() {
            return false;
        }
        let until_close = matches!(head.framing, Framing::UntilClose);
        while !done {
            stream.ack_now();
            let n = match stream.0.read(&mut self.rbuf).await {
                Ok(0) if until_close => break,
                Ok(n) if n > 0 => n,
                _ => return false,
            };
            let Ok((take, complete)) = head.framing.take(&self.rbuf[..n]) else { return false };
            extra |= take < n;
            done = complete;
            if let Some(c) = &mut self.capture {
                c.add(&self.rbuf[..take]);
            }
            if self.client.write_all(&self.rbuf[..take]).await.is_err() {
                return false;
            }
        }
        if let Some(c) = &mut self.capture {
            c.complete = true;
        }
        // Bytes past the response mean legacy is out of step: that connection is done.
        if head.reusable && !extra {
            self.app.legacy.release_raw(&self.legacy, stream);
        }
        !head.closes
    }

    /// Writes an answer banyan made (a native handler's, a task's, its own 413, 502 or
    /// 504) as hyper's path would.
    async fn respond(
        &mut self,
        mut resp: Response<Full<Bytes>>,
        by: Backend,
        head_request: bool,
        close: bool,
    ) -> Written {
        let (status, head_at) = (resp.status().as_u16(), Instant::now());
        resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), HeaderValue::from_static(by.as_str()));
        if let Some(id) = &self.echo {
            resp.headers_mut().insert(X_REQUEST_ID.clone(), id.header_value());
        }
        let close = close || self.shared.draining.get();
        if close {
            resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        self.out.clear();
        head::write(&resp, self.settings.preserve_case, &mut self.out);
        if !head_request {
            self.out.extend_from_slice(&crate::body::full_bytes(resp.body()));
        }
        let keep_open = self.client.write_all(&self.out).await.is_ok() && !close;
        Written { keep_open, status, head_at }
    }
}

/// Legacy's answer as it is relayed, for a shadow comparison or a recording.
#[derive(Default)]
struct Capture {
    /// The response head as the client got it.
    head: Vec<u8>,
    /// Legacy answered (a head arrived).
    answered: bool,
    bytes: Vec<u8>,
    /// Why the answer cannot be compared, once that is known.
    unusable: Option<&'static str>,
    /// The whole answer was relayed.
    complete: bool,
}

impl Capture {
    fn reset(&mut self) {
        self.head.clear();
        self.bytes.clear();
        (self.answered, self.unusable, self.complete) = (false, None, false);
    }

    fn add(&mut self, bytes: &[u8]) {
        if self.unusable.is_some() {
            return;
        }
        if self.bytes.len() + bytes.len() > shadow::MAX_BODY {
            self.unusable = Some("the answer is larger than the shadow and recording limit (1 MiB)");
            self.bytes = Vec::new();
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }
}

/// The headers of a response head (the client's, which banyan wrote: it parses).
fn head_map(head: &[u8]) -> http::HeaderMap {
    let mut slots = [httparse::EMPTY_HEADER; 100];
    let mut resp = httparse::Response::new(&mut slots);
    let mut map = http::HeaderMap::new();
    if resp.parse(head).is_ok() {
        for h in resp.headers.iter() {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value))
            {
                map.append(name, value);
            }
        }
    }
    map
}

/// Resolves when the client closes its connection. With bytes of a next request already
/// read (`pipelined`), or arriving, it cannot tell and never resolves.
async fn gone(client: &TcpStream, pipelined: bool) {
    if !pipelined {
        if let Ok(0) | Err(_) = client.peek(&mut [0; 1]).await {
            return;
        }
    }
    std::future::pending().await
}
