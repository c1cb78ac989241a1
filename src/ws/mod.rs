//! The websocket bridge. Routes with a `websocket` setting have banyan carry the stream
//! at the message level instead of splicing bytes:
//! - `relay` (`relay.rs`): legacy's handshake answer reaches the client as it came (so the
//!   client's key, cookies, Origin and offered subprotocols are legacy's to judge), and
//!   from the 101 on banyan holds a websocket to each side and relays between them;
//! - `native` (`native.rs`): banyan answers the handshake (`accept.rs`) and the native
//!   notifier (`hub.rs`) serves the socket alone.
//!
//! Every session counts itself in `sessions.rs`, so shutdown can close each with 1001
//! and wait for it.

mod accept;
pub mod hub;
mod native;
mod relay;
mod sessions;

use std::time::Duration;

use futures_util::StreamExt;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

pub use relay::relay;
pub use sessions::{Session, Sessions};

use crate::app::App;
use crate::body::Body;

/// How long a side may take to answer a close before its connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What a bridged session needs from the server: the shutdown signal, and its place among
/// the open sessions (held until it ends).
pub struct Ctx {
    shutdown: watch::Receiver<bool>,
    _session: Session,
}

impl Ctx {
    pub fn new(shutdown: watch::Receiver<bool>, sessions: &std::sync::Arc<Sessions>) -> Ctx {
        Ctx { shutdown, _session: sessions.enter() }
    }

    /// Resolves when banyan shuts down (or its server is gone).
    async fn stopping(&mut self) {
        crate::server::stopped(&mut self.shutdown).await
    }
}

/// Answers a websocket handshake on a `native` route and serves the socket from the
/// native notifier once upgraded.
pub fn serve_native(app: &App, mut req: Request<Incoming>) -> Response<Body> {
    let resp = accept::answer(req.headers());
    if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return resp;
    }
    let (hub, ping, ctx) = (app.hub.clone(), app.config.websocket.ping_interval, app.ws_ctx());
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::task::spawn_local(async move {
        match upgrade.await {
            Ok(upgraded) => native::serve(upgraded, hub, ping, ctx).await,
            Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
        }
    });
    resp
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
