//! The way to legacy: forwards requests as they came, streaming bodies both ways, over
//! connections kept per worker thread (`pool.rs`), and answers in rotki's envelope when
//! legacy is down (502) or slow (504).

pub(crate) mod forwarded;
pub(crate) mod hop;
mod pool;
mod quickack;
mod upgrade;

pub use pool::{Pooled, Slot};
pub use quickack::QuickAck;
pub use upgrade::is_websocket_upgrade;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::body::{self, Body};
use crate::config::LegacyConfig;
use crate::rotki::cors::Cors;
use crate::rotki::response;

pub struct Legacy {
    pool: pool::Pool,
    authority: Authority,
    url: String,
    timeout: Duration,
    /// rotki answers every allowed Origin with CORS headers, errors included; banyan's own
    /// 502/504 do too, or the browser would hide them from the frontend.
    cors: Cors,
    /// `[server] max_body_bytes`, named in a 413.
    max_body: u64,
}

/// Why a request got no answer from legacy.
pub enum Failure {
    Connect(pool::ConnectError),
    /// The exchange failed; the root cause.
    Send(String),
    /// The client's own request body broke off or was malformed (a bad chunk): its fault,
    /// answered 400, not legacy's.
    ClientBody(String),
    /// The request's declared body is over `[server] max_body_bytes`.
    TooLarge(u64),
    TimedOut,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "unreachable: {e}"),
            Failure::Send(cause) => f.write_str(cause),
            Failure::ClientBody(cause) => write!(f, "the request is malformed: {cause}"),
            Failure::TooLarge(limit) => write!(f, "the request body is over {limit} bytes"),
            Failure::TimedOut => f.write_str("timed out"),
        }
    }
}

impl Legacy {
    pub fn new(cfg: &LegacyConfig, cors: Cors, preserve_header_case: bool, max_body: u64) -> Legacy {
        let authority = cfg.url.authority().cloned().expect("validated in config");
        let port = authority.port_u16().unwrap_or(80);
        Legacy {
            pool: pool::Pool::new(authority.host(), port, cfg, preserve_header_case),
            authority,
            url: cfg.url.to_string().trim_end_matches('/').to_string(),
            timeout: cfg.timeout,
            cors,
            max_body,
        }
    }

    /// A legacy-connection slot for a new client connection.
    pub fn slot<T: pool::Pooled>(&self) -> Slot<T> {
        self.pool.slot()
    }

    /// `host:port` of legacy, as in its URL.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Forwards a request and returns legacy's response, or a 502/504 envelope.
    /// `relay`: a websocket handshake is carried message by message (`websocket = "relay"`),
    /// in that session.
    pub async fn forward(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        slot: &Slot<SendRequest<Body>>,
        relay: Option<crate::ws::Ctx>,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let origin = Cors::origin(&parts.headers);
        let upgrade = upgrade::take(&mut parts, relay);
        hop::strip(&mut parts.headers);
        if let Some(u) = &upgrade {
            u.restore_headers(&mut parts.headers);
        }
        forwarded::add(&mut parts.headers, peer);
        if !parts.headers.contains_key(http::header::HOST) {
            // An HTTP/1.0 client may send none; legacy still needs one.
            parts.headers.insert(http::header::HOST, HeaderValue::from_str(self.authority.as_str()).expect("valid"));
        }
        // The request line goes out in origin form (`/api/1/ping?x`), as clients send it.
        if parts.uri.authority().is_some() {
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            parts.uri = path.parse().unwrap_or_else(|_| http::Uri::from_static("/"));
        }
        parts.version = Version::HTTP_11;

        match tokio::time::timeout(self.timeout, self.send(Request::from_parts(parts, body), slot)).await {
            Ok(Ok(mut resp)) => {
                let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
                match upgrade {
                    Some(u) if switching => {
                        u.splice(&mut resp);
                        // The 101 must keep its Upgrade and Connection headers.
                        resp.map(body::stream)
                    }
                    // A relayed websocket is banyan's to bridge: a refusal is a failure of the
                    // bridge, not an answer to pass on.
                    Some(u) if u.relay.is_some() => {
                        let cause = format!("legacy refused the websocket handshake with {}", resp.status());
                        self.failed(Failure::Send(cause), origin).map(body::full_from)
                    }
                    _ => {
                        hop::strip(resp.headers_mut());
                        resp.map(body::stream)
                    }
                }
            }
            Ok(Err(failure)) => self.failed(failure, origin).map(body::full_from),
            Err(_) => self.failed(Failure::TimedOut, origin).map(body::full_from),
        }
    }

    /// rotki's envelope for a request legacy did not answer: 502, or 504 when it timed out.
    pub fn failed(&self, failure: Failure, origin: Option<HeaderValue>) -> Response<Full<Bytes>> {
        let (status, message) = match failure {
            Failure::TimedOut => {
                let ms = self.timeout.as_millis();
                tracing::warn!(legacy = %self.url, timeout_ms = ms as u64, "legacy did not answer in time");
                (StatusCode::GATEWAY_TIMEOUT, format!("Legacy backend at {} did not answer within {ms} ms", self.url))
            }
            Failure::Connect(e) => self.bad_gateway("is unreachable", &e.to_string()),
            Failure::Send(cause) => self.bad_gateway("failed", &cause),
            Failure::ClientBody(cause) => {
                tracing::debug!("request malformed: {cause}");
                (StatusCode::BAD_REQUEST, format!("The request is malformed: {cause}"))
            }
            Failure::TooLarge(limit) => {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("Request body is larger than the {limit} bytes banyan accepts"))
            }
        };
        let mut resp = response::fail(status, &message);
        self.cors.apply(origin.as_ref(), resp.headers_mut());
        resp
    }

    fn bad_gateway(&self, what: &str, cause: &str) -> (StatusCode, String) {
        tracing::warn!(legacy = %self.url, "legacy request failed: {cause}");
        (StatusCode::BAD_GATEWAY, format!("Legacy backend at {} {what}: {cause}", self.url))
    }

    /// How long legacy may take to start its answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A stream for the byte-level passthrough, and whether it was used before.
    pub async fn acquire_raw(&self, slot: &Slot<QuickAck>) -> Result<(QuickAck, bool), Failure> {
        self.pool.acquire_raw(slot).await.map_err(Failure::Connect)
    }

    /// A new stream, for a retry.
    pub async fn connect_raw(&self) -> Result<QuickAck, Failure> {
        self.pool.connect_raw().await.map_err(Failure::Connect)
    }

    /// Keeps a stream that finished its exchange cleanly for the slot's next request.
    pub fn release_raw(&self, slot: &Slot<QuickAck>, stream: QuickAck) {
        self.pool.release(slot, stream)
    }

    /// Sends on the slot's connection (or another ready one). A request that a reused
    /// connection failed before sending anything (legacy had closed it while idle) is sent
    /// once more on a new connection; nothing of it reached legacy, so that is safe.
    async fn send(&self, req: Request<Body>, slot: &Slot<SendRequest<Body>>) -> Result<Response<Incoming>, Failure> {
        let (mut sender, reused) = self.pool.acquire(slot).await.map_err(Failure::Connect)?;
        match sender.try_send_request(req).await {
            Ok(resp) => {
                self.pool.release(slot, sender);
                Ok(resp)
            }
            Err(mut e) => match e.take_message() {
                Some(req) if reused => {
                    let mut fresh = self.pool.connect().await.map_err(Failure::Connect)?;
                    let resp = fresh.send_request(req).await.map_err(|e| send_failure(&e, self.max_body))?;
                    self.pool.release(slot, fresh);
                    Ok(resp)
                }
                _ => Err(send_failure(&e.into_error(), self.max_body)),
            },
        }
    }

    /// Whether legacy accepts TCP connections now (for `/readyz`).
    pub async fn reachable(&self) -> bool {
        self.pool.reachable().await
    }
}

/// Why a request to legacy failed: the client's body (hyper's "user" error, raised by the
/// body stream: malformed, or over `max_body_bytes`) or the exchange with legacy.
fn send_failure(e: &hyper::Error, max_body: u64) -> Failure {
    if !e.is_user() {
        return Failure::Send(root_cause(e));
    }
    // The body's own error is the cause: over the limit, or hyper's reading of the
    // client's framing (a bad chunk). A "user" error without one (a dispatch task gone) is
    // not the client's doing.
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return Failure::TooLarge(max_body);
        }
        if c.is::<hyper::Error>() {
            return Failure::ClientBody(root_cause(e));
        }
        cause = c.source();
    }
    Failure::Send(root_cause(e))
}

pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
