//! The websocket bridge. Routes with a `websocket` setting have banyan carry the stream
//! at the message level instead of splicing bytes:
//! - `relay` (`relay.rs`): legacy's handshake answer reaches the client as it came (so the
//!   client's key, cookies, Origin and offered subprotocols are legacy's to judge), and
//!   from the 101 on banyan holds a websocket to each side and relays between them;
//! - `native` and `merge` (`session.rs`): banyan answers the handshake (`accept.rs`) and
//!   serves the socket from the native notifier (`hub.rs`), for `merge` with legacy's
//!   notifier relayed into it.
//!
//! Every session counts itself in `sessions.rs`, so shutdown can close each with 1001
//! and wait for it.

mod accept;
pub mod hub;
mod relay;
mod session;
mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http::header::{COOKIE, HOST, ORIGIN};
use http::{HeaderMap, HeaderName, Request, Response};
use hyper::body::Incoming;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

pub use relay::relay;
pub use sessions::{Session, Sessions};

use crate::body::Body;
use crate::flags::WebsocketMode;
use crate::legacy::Legacy;
use crate::stats::Label;
use hub::Hub;

/// How long a side may take to answer a close before its connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Every websocket banyan holds: a 4 KiB read buffer instead of tungstenite's 128 KiB
/// (rotki's messages are small and a relay holds two sockets per client; the buffer
/// grows for a larger message), and each message written at once (sessions flush after
/// every message anyway).
fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0)
}

/// What a bridged session needs from the server: the shutdown signal, and its place among
/// the open sessions (held until it ends).
pub struct Ctx {
    shutdown: watch::Receiver<bool>,
    _session: Session,
    /// A side that takes no message for this long is closed rather than stalling the
    /// session (`[websocket] ping_interval_secs`).
    send_limit: Duration,
}

impl Ctx {
    fn new(shutdown: watch::Receiver<bool>, session: Session, send_limit: Duration) -> Ctx {
        Ctx { shutdown, _session: session, send_limit }
    }

    /// Resolves when banyan shuts down (or its server is gone).
    async fn stopping(&mut self) {
        crate::server::stopped(&mut self.shutdown).await
    }
}

/// What the websocket bridge uses, built once at start.
pub struct Bridge {
    /// The native notifier native code publishes to.
    pub hub: Arc<Hub>,
    /// Sessions open now (shutdown waits for them).
    pub sessions: Arc<Sessions>,
    /// Turns true when banyan shuts down.
    shutdown: watch::Receiver<bool>,
    /// `[websocket] ping_interval_secs`.
    ping_interval: Duration,
    /// Where `merge` finds legacy's notifier.
    legacy: Arc<Legacy>,
}

impl Bridge {
    pub fn new(hub: Arc<Hub>, shutdown: watch::Receiver<bool>, ping_interval: Duration, legacy: Arc<Legacy>) -> Bridge {
        Bridge { hub, sessions: Arc::default(), shutdown, ping_interval, legacy }
    }

    /// A new session's context: counted as open (per route and mode) until it ends.
    pub fn ctx(&self, label: Label, mode: WebsocketMode) -> Ctx {
        Ctx::new(self.shutdown.clone(), self.sessions.enter(label, mode), self.ping_interval)
    }
}

/// Answers a websocket handshake on a `native` or `merge` route and serves the socket once
/// upgraded; `merge` also relays legacy's notifier at the same path.
pub fn serve(
    bridge: &Arc<Bridge>,
    mode: WebsocketMode,
    label: Label,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let resp = accept::answer(req.headers());
    if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return resp;
    }
    let upstream = (mode == WebsocketMode::Merge).then(|| upstream(&bridge.legacy, &req, peer));
    let (bridge, ctx) = (bridge.clone(), bridge.ctx(label, mode));
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::task::spawn_local(async move {
        match upgrade.await {
            Ok(upgraded) => session::serve(upgraded, bridge, upstream, ctx).await,
            Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
        }
    });
    resp
}

/// Legacy's notifier at the request's path and query, with the headers rotki may look at
/// (cookies, Origin) and `X-Forwarded-*` as on every forwarded request.
fn upstream(legacy: &Legacy, req: &Request<Incoming>, peer: SocketAddr) -> session::Upstream {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut headers = HeaderMap::new();
    for name in [COOKIE, ORIGIN, HOST, HeaderName::from_static("x-forwarded-for")] {
        for value in req.headers().get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }
    crate::legacy::forwarded::add(&mut headers, peer);
    headers.remove(HOST);
    let headers =
        headers.iter().filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))).collect();
    session::Upstream { uri: format!("ws://{}{target}", legacy.authority()), headers }
}

fn frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

/// Sends `ws` a close (`frame`; None is an empty close) and waits briefly for the other
/// end to finish the close handshake.
async fn close_with<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, frame: Option<CloseFrame>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let closing = async {
        if ws.close(frame).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
}

/// Finishes a close the other end started: tungstenite queued the answer, and reading on
/// sends it; waits briefly.
async fn answer_close<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_WAIT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}
