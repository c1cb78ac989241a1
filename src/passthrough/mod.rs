//! The byte-level passthrough: most requests during a migration go to legacy unchanged,
//! and this carries them without hyper. It parses each head with httparse (the parser
//! hyper uses), routes it like any request, writes legacy's head into one buffer
//! (hop-by-hop headers out, `X-Forwarded-*` in) and relays the response's bytes as they
//! come, following only their framing. No header map, no body frames, no task per legacy
//! connection (`docs/benchmarks.md` has what that saves). A request for a native handler
//! gets its head as the handler sees it and the handler's answer written as hyper would
//! write it (`rotki/head.rs`), as do banyan's own 502 and 504.
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

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::CONNECTION;
use http::{HeaderValue, Method, Response};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::access;
use crate::app::App;
use crate::decide::Backend;
use crate::legacy::{Failure, QuickAck, Slot};
use crate::native::Served;
use crate::proxy::X_BANYAN_BACKEND;
use crate::rotki::head;
use crate::shadow::{self, Primary};
use deadline::Deadline;
use request::{Forward, Plan, Settings};
use response::{Final, Framing, Head};

/// Buffers start this big and grow to `MAX_BUF`; a request head and body (or a response
/// head) larger than that goes to hyper (or is a 502).
const FIRST_BUF: usize = 8 * 1024;
const MAX_BUF: usize = 64 * 1024;
/// How long, and how many bytes, a refused client's remaining upload is read and dropped.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 4 << 20;

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

/// Serves a client connection until it closes or needs hyper. When `stop` resolves, an
/// idle connection closes at once and a busy one after its response.
pub async fn serve(app: &Arc<App>, client: TcpStream, peer: SocketAddr, stop: impl Future<Output = ()>) -> End {
    let shared = Shared::default();
    let conn = Conn::new(app, client, peer, &shared).run();
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
    /// Legacy's answer body, kept while the request is shadowed.
    capture: Option<Capture>,
    legacy: Slot<QuickAck>,
    settings: Settings,
    /// The connection's timer (see `deadline.rs`).
    timer: Option<Deadline>,
    shared: &'a Shared,
}

impl<'a> Conn<'a> {
    fn new(app: &'a Arc<App>, client: TcpStream, peer: SocketAddr, shared: &'a Shared) -> Conn<'a> {
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
            legacy: app.legacy.slot(),
            settings: Settings {
                preserve_case: app.config.server.preserve_header_case,
                native_body_limit: app.native.body_limit(),
                shadow_room: true,
                max_body: app.config.server.max_body,
            },
            timer: Some(Deadline::new()),
            shared,
        }
    }

    async fn run(mut self) -> End {
        let mut snapshot = self.app.flags.snapshot();
        // When the last request ended (one clock read serves two purposes).
        let mut ended = Instant::now();
        loop {
            // Like hyper's, the header-read timeout also bounds how long a keep-alive
            // connection may sit idle.
            let deadline = tokio::time::Instant::from_std(ended) + self.app.config.server.header_read_timeout;
            let fwd = loop {
                if self.filled > 0 {
                    // The flags in force when the request arrived, as on hyper's path.
                    self.app.flags.refresh(&mut snapshot);
                    self.settings.shadow_room = self.app.shadow.has_room();
                    let head = &self.buf[..self.filled];
                    match request::plan(head, &snapshot, self.peer, &self.settings, &mut self.out, &mut self.origin) {
                        Plan::Forward(f) if f.head_len + f.body_len <= MAX_BUF => break f,
                        Plan::Forward(_) | Plan::HandOff => return self.hand_off(),
                        Plan::Reject(failure) => {
                            let origin = HeaderValue::from_bytes(&self.origin).ok().filter(|_| !self.origin.is_empty());
                            let resp = self.app.legacy.failed(failure, origin);
                            self.respond(resp, Backend::Legacy, false, true).await;
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

    /// Serves one request, natively or from legacy; whether the client connection stays
    /// open, and when the request ended.
    async fn exchange(&mut self, mut fwd: Forward) -> (bool, Instant) {
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
        let body = &self.buf[fwd.head_len..end];
        let head_request = fwd.method == Method::HEAD;
        if let Some(route) = fwd.shadow_dropped {
            self.app.shadow.dropped(route);
        }
        let copy = fwd.shadow.take().and_then(|(target, parts)| {
            self.app.shadow.capture(target, parts, Bytes::copy_from_slice(body), self.peer)
        });
        let (native, deadline) = match fwd.native.take() {
            Some((id, parts, async_allowed)) => {
                let serve = self.app.native.serve_buffered(id, parts, Bytes::copy_from_slice(body), async_allowed);
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
            None => (None, deadline),
        };
        if native.is_none() {
            self.out.extend_from_slice(body);
        }
        let log = self.app.config.server.access_log;
        if log {
            self.path.clear();
            self.path.push_str(std::str::from_utf8(&self.buf[fwd.path.clone()]).unwrap_or("?"));
        }
        self.buf.copy_within(end..self.filled, 0);
        self.filled -= end;

        let (backend, (keep, status, head_at), primary) = match native {
            Some(resp) => {
                let answer = copy.as_ref().map(|_| resp.body().clone());
                let done = self.respond(resp, Backend::Native, head_request, fwd.close).await;
                // A `Full` body is ready at once.
                let body = answer.and_then(|b| b.collect().now_or_never()).and_then(Result::ok).map(|b| b.to_bytes());
                let primary = body.map(|body| Primary::Answered { backend: Backend::Native, status: done.1, body });
                (Backend::Native, done, primary)
            }
            None => {
                self.capture = copy.as_ref().map(|_| Capture::default());
                let done = self.forward(deadline, head_request, fwd.close).await;
                let primary = self.capture.take().map(|c| match (c.unusable, c.complete) {
                    (Some(why), _) => Primary::Unusable(why),
                    // Relaying stopped part way (legacy or the client went away).
                    (None, false) => Primary::Unusable("the answer was cut short"),
                    (None, true) => {
                        Primary::Answered { backend: Backend::Legacy, status: done.1, body: c.bytes.into() }
                    }
                });
                (Backend::Legacy, done, primary)
            }
        };
        if let (Some(copy), Some(primary)) = (copy, primary) {
            copy.finish(self.app.clone(), primary);
        }
        let ended = Instant::now();
        // To the answer's head, as on hyper's path: a slow client or a long body does not
        // count as the backend's latency.
        let latency = head_at - started;
        self.app.stats.record(fwd.label, backend, status, latency);
        if log {
            let (id, method, path) = (&fwd.request_id, &fwd.method, &self.path);
            access::log(access::Entry { id, method, path, label: fwd.label, backend, status, latency });
        }
        (keep, ended)
    }

    /// Sends the request in `out` to legacy and relays its answer, or answers 502/504;
    /// whether the client connection stays open, the status, and when the answer's head was
    /// ready.
    async fn forward(
        &mut self,
        deadline: tokio::time::Instant,
        head_request: bool,
        close: bool,
    ) -> (bool, u16, Instant) {
        // `send` borrows the connection, so the timer is taken out for it.
        let mut timer = self.timer.take().unwrap_or_else(Deadline::new);
        let sent = timer.run(deadline, self.send(head_request, close)).await;
        self.timer = Some(timer);
        let failure = match sent {
            Ok(Ok((stream, head, filled))) => {
                let (status, head_at) = (head.status, Instant::now());
                return (self.relay(stream, head, filled).await, status, head_at);
            }
            Ok(Err(failure)) => failure,
            Err(_) => Failure::TimedOut,
        };
        if let Some(c) = &mut self.capture {
            c.unusable = Some("legacy did not answer");
        }
        let origin = (!self.origin.is_empty()).then(|| HeaderValue::from_bytes(&self.origin).ok()).flatten();
        let resp = self.app.legacy.failed(failure, origin);
        self.respond(resp, Backend::Legacy, head_request, close).await
    }

    /// Writes the request (in `out`) to legacy and reads the response head; returns the
    /// stream, the head (the client's is then in `out`) and how much of `rbuf` is filled.
    async fn send(&mut self, head_request: bool, close: bool) -> Result<(QuickAck, Final, usize), Failure> {
        let legacy = &self.app.legacy;
        let (mut stream, reused) = legacy.acquire_raw(&self.legacy).await?;
        match stream.0.write(&self.out).await {
            Ok(n) => stream.0.write_all(&self.out[n..]).await.map_err(send_failed)?,
            // Nothing of it reached legacy, which had closed the idle connection: once more
            // on a new one is safe.
            Err(_) if reused => {
                stream = legacy.connect_raw().await?;
                stream.0.write_all(&self.out).await.map_err(send_failed)?;
            }
            Err(e) => return Err(send_failed(e)),
        }
        let mut filled = 0;
        loop {
            let close = close || self.shared.draining.get();
            match response::parse(&self.rbuf[..filled], head_request, close, self.settings.preserve_case, &mut self.out)
            {
                Ok(Head::Final(head)) => return Ok((stream, head, filled)),
                Ok(Head::Informational(n)) => {
                    self.rbuf.copy_within(n..filled, 0);
                    filled -= n;
                    continue;
                }
                Ok(Head::Incomplete) => {}
                Err(e) => return Err(Failure::Send(e)),
            }
            if filled == self.rbuf.len() {
                if filled >= MAX_BUF {
                    return Err(Failure::Send("response head too large".into()));
                }
                self.rbuf.resize(MAX_BUF.min(filled * 2), 0);
            }
            if filled > 0 {
                stream.ack_now();
            }
            match stream.0.read(&mut self.rbuf[filled..]).await {
                Ok(0) => return Err(Failure::Send("connection closed before message completed".into())),
                Ok(n) => filled += n,
                Err(e) => return Err(send_failed(e)),
            }
        }
    }

    /// Sends the client the response head (in `out`) and the body as legacy sends it;
    /// whether the client connection stays open. A response cut short closes it.
    async fn relay(&mut self, mut stream: QuickAck, mut head: Final, filled: usize) -> bool {
        let body = &self.rbuf[head.len..filled];
        let Ok((take, mut done)) = head.framing.take(body) else { return false };
        let mut extra = take < body.len();
        self.out.extend_from_slice(&body[..take]);
        if let Some(c) = &mut self.capture {
            if matches!(head.framing, Framing::Chunked(_)) {
                c.unusable = Some("a chunked answer is not compared");
            }
            c.add(&body[..take]);
        }
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

    /// Writes an answer banyan made (a native handler's, or its own 502/504) as hyper's
    /// path would; whether the client connection stays open, the status, and when the
    /// answer was ready.
    async fn respond(
        &mut self,
        mut resp: Response<Full<Bytes>>,
        by: Backend,
        head_request: bool,
        close: bool,
    ) -> (bool, u16, Instant) {
        let (status, head_at) = (resp.status().as_u16(), Instant::now());
        resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), HeaderValue::from_static(by.as_str()));
        let close = close || self.shared.draining.get();
        if close {
            resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        self.out.clear();
        head::write(&resp, self.settings.preserve_case, &mut self.out);
        if !head_request {
            // A `Full` body is ready at once.
            let body = resp.into_body().collect().now_or_never().and_then(Result::ok).map(|b| b.to_bytes());
            self.out.extend_from_slice(&body.unwrap_or_default());
        }
        (self.client.write_all(&self.out).await.is_ok() && !close, status, head_at)
    }
}

/// Legacy's answer body as it is relayed, for a shadow comparison.
#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    /// Why the answer cannot be compared, once that is known.
    unusable: Option<&'static str>,
    /// The whole answer was relayed.
    complete: bool,
}

impl Capture {
    fn add(&mut self, bytes: &[u8]) {
        if self.unusable.is_some() {
            return;
        }
        if self.bytes.len() + bytes.len() > shadow::MAX_BODY {
            self.unusable = Some("the answer is larger than the shadow limit");
            self.bytes = Vec::new();
        } else {
            self.bytes.extend_from_slice(bytes);
        }
    }
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

fn send_failed(e: std::io::Error) -> Failure {
    Failure::Send(e.to_string())
}
