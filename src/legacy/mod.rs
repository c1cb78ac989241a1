//! The way to legacy: forwards requests as they came, streaming bodies both ways, over
//! connections kept per worker thread (`pool.rs`); when legacy is down or slow it says why
//! as a typed [`Failure`], which `failure.rs` turns into rotki's envelope (502, 504).

pub(crate) mod forwarded;
mod health;
pub(crate) mod hop;
mod pool;
mod quickack;
mod upgrade;

pub use health::Seen;
pub use pool::{ConnectError, Pooled, Slot};
pub use quickack::QuickAck;
pub use upgrade::is_websocket_upgrade;

use std::net::SocketAddr;
use std::time::Duration;

use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::body::{self, Body};
use crate::config::LegacyConfig;
use crate::failure::{BadAnswer, Failure};

pub struct Legacy {
    pool: pool::Pool,
    authority: Authority,
    url: String,
    timeout: Duration,
    /// `[server] max_body_bytes`, named in a 413.
    max_body: u64,
}

impl Legacy {
    pub fn new(cfg: &LegacyConfig, preserve_header_case: bool, max_body: u64) -> Legacy {
        let authority = cfg.url.authority().cloned().expect("validated in config");
        let port = authority.port_u16().unwrap_or(80);
        Legacy {
            pool: pool::Pool::new(authority.host(), port, cfg, preserve_header_case),
            authority,
            url: cfg.url.to_string().trim_end_matches('/').to_string(),
            timeout: cfg.timeout,
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

    /// Forwards a request and returns legacy's response, or why there is none.
    /// `relay`: a websocket handshake is carried message by message (`websocket = "relay"`),
    /// in that session.
    pub async fn forward(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        slot: &Slot<SendRequest<Body>>,
        relay: Option<crate::ws::Ctx>,
    ) -> Result<Response<Body>, Failure> {
        let (req, upgrade) = self.outgoing(req, peer, relay);
        let sent = tokio::time::timeout(self.timeout, self.send(req, slot)).await;
        Self::incoming(sent.map_err(|_| Failure::TimedOut(self.timeout))??, upgrade)
    }

    /// The same on a connection of its own, never sent twice: for requests that act
    /// (a login, a password change), where even a retry that is safe by the rule of
    /// [`Failure::should_retry`] is one attempt more than the client made.
    pub async fn forward_once(&self, req: Request<Body>, peer: SocketAddr) -> Result<Response<Body>, Failure> {
        let (req, upgrade) = self.outgoing(req, peer, None);
        let sent = tokio::time::timeout(self.timeout, async {
            let mut sender = self.pool.connect().await.map_err(Failure::Connect)?;
            sender.send_request(req).await.map_err(|e| send_failure(e, false, self.max_body))
        })
        .await;
        Self::incoming(sent.map_err(|_| Failure::TimedOut(self.timeout))??, upgrade)
    }

    /// The request as legacy gets it: hop-by-hop headers gone, forwarding headers added.
    fn outgoing(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        relay: Option<crate::ws::Ctx>,
    ) -> (Request<Body>, Option<upgrade::Pending>) {
        let (mut parts, body) = req.into_parts();
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
        (Request::from_parts(parts, body), upgrade)
    }

    /// Legacy's answer as the client gets it.
    fn incoming(mut resp: Response<Incoming>, upgrade: Option<upgrade::Pending>) -> Result<Response<Body>, Failure> {
        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        Ok(match upgrade {
            Some(u) if switching => {
                u.splice(&mut resp);
                // The 101 must keep its Upgrade and Connection headers.
                resp.map(body::stream)
            }
            // A relayed websocket is banyan's to bridge: a refusal is a failure of the
            // bridge, not an answer to pass on.
            Some(u) if u.relay.is_some() => return Err(Failure::exchange(BadAnswer::RefusedUpgrade(resp.status()))),
            _ => {
                hop::strip(resp.headers_mut());
                resp.map(body::stream)
            }
        })
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

    /// Sends on the slot's connection (or another ready one), and once more on a new
    /// connection where [`Failure::should_retry`] says so.
    async fn send(&self, req: Request<Body>, slot: &Slot<SendRequest<Body>>) -> Result<Response<Incoming>, Failure> {
        let (mut sender, reused) = self.pool.acquire(slot).await.map_err(Failure::Connect)?;
        match sender.try_send_request(req).await {
            Ok(resp) => {
                self.pool.release(slot, sender);
                Ok(resp)
            }
            Err(mut e) => {
                // hyper gives the request back when none of it was sent.
                let unsent = e.take_message();
                let failure = send_failure(e.into_error(), unsent.is_some(), self.max_body);
                match unsent {
                    Some(req) if failure.should_retry(reused) => {
                        let mut fresh = self.pool.connect().await.map_err(Failure::Connect)?;
                        let resp = fresh.send_request(req).await.map_err(|e| send_failure(e, false, self.max_body))?;
                        self.pool.release(slot, fresh);
                        Ok(resp)
                    }
                    _ => Err(failure),
                }
            }
        }
    }

    /// Whether legacy accepts TCP connections now (for `/readyz`).
    pub async fn reachable(&self) -> bool {
        self.pool.reachable().await
    }

    /// What banyan has seen of legacy's health.
    pub fn health(&self) -> Seen {
        self.pool.health.seen()
    }
}

/// Why a request to legacy failed: the client's body (hyper's "user" error, raised by the
/// body stream: malformed, or over `max_body_bytes`) or the exchange with legacy.
fn send_failure(e: hyper::Error, nothing_sent: bool, max_body: u64) -> Failure {
    if !e.is_user() {
        return Failure::Exchange { cause: e.into(), nothing_sent };
    }
    // The body's own error is the cause: over the limit, or hyper's reading of the
    // client's framing (a bad chunk). A "user" error without one (a dispatch task gone) is
    // not the client's doing.
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return Failure::TooLarge(max_body);
        }
        if c.is::<hyper::Error>() {
            return Failure::Malformed(e.into());
        }
        cause = c.source();
    }
    Failure::Internal(e.into())
}
