//! One request, one way through: match the route, decide the backend with the snapshot
//! the request started with, serve it natively or from legacy, say who answered in
//! `x-banyan-backend`, and count and log it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::access::{self, RequestId, X_REQUEST_ID};
use crate::app::App;
use crate::body::Body;
use crate::decide::Backend;
use crate::flags::{Routed, WebsocketMode};
use crate::legacy::{is_websocket_upgrade, Slot};
use crate::native::Served;
use crate::stats::{labels, Label};
use crate::tasks_bridge;

pub static X_BANYAN_BACKEND: HeaderName = HeaderName::from_static("x-banyan-backend");

/// What one client connection keeps between its requests.
struct Connection {
    app: Arc<App>,
    peer: SocketAddr,
    /// The legacy connection this client connection last used.
    legacy: Slot<SendRequest<Body>>,
}

/// The request handler of a new client connection.
pub fn connection(app: Arc<App>, peer: SocketAddr) -> impl Fn(Request<Incoming>) -> LocalFuture {
    let conn = Rc::new(Connection { legacy: app.legacy.slot(), app, peer });
    move |req| {
        let conn = conn.clone();
        Box::pin(async move { handle(&conn, req).await })
    }
}

pub type LocalFuture = Pin<Box<dyn Future<Output = Response<Body>>>>;

async fn handle(conn: &Connection, mut req: Request<Incoming>) -> Response<Body> {
    let (app, peer, slot) = (&conn.app, conn.peer, &conn.legacy);
    let started = Instant::now();
    let request_id = match req.headers().get(&X_REQUEST_ID).filter(|v| !v.is_empty()) {
        Some(v) => RequestId::from_client(v.as_bytes()),
        None => {
            let id = RequestId::generate();
            req.headers_mut().insert(X_REQUEST_ID.clone(), HeaderValue::from_str(id.as_str()).expect("hex digits"));
            id
        }
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let snapshot = app.flags.snapshot();
    let routed = snapshot.route(req.method(), req.uri().path(), req.headers(), peer.ip());
    let label = routed.route.map_or_else(|| labels::unrouted(&method, &path), |r| r.label);

    let (backend, mut resp) = serve(app, &routed, label, req, peer, slot).await;
    resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), HeaderValue::from_static(backend.as_str()));
    let (status, latency) = (resp.status().as_u16(), started.elapsed());
    app.stats.record(label, backend, status, latency);
    if app.config.server.access_log {
        access::log(access::Entry { id: &request_id, method: &method, path: &path, label, backend, status, latency });
    }
    resp
}

/// Who answers, and the answer.
async fn serve(
    app: &Arc<App>,
    routed: &Routed<'_>,
    label: Label,
    req: Request<Incoming>,
    peer: SocketAddr,
    slot: &Slot<SendRequest<Body>>,
) -> (Backend, Response<Body>) {
    // The task URL space is shared by both task managers (`tasks_bridge.rs`).
    if let Some(target) = tasks_bridge::target(app, req.method(), req.uri().path()) {
        let by = match target {
            tasks_bridge::Target::List => Backend::Legacy,
            _ => Backend::Native,
        };
        return (by, tasks_bridge::serve(app, target, req, peer, slot).await);
    }
    // rotki completes a websocket handshake on any path, so an upgrade is legacy's even on
    // a native route.
    let upgrade = is_websocket_upgrade(&req);
    let handler = routed.route.and_then(|r| r.handler).filter(|_| !upgrade);
    let websocket = routed.route.and_then(|r| r.websocket).filter(|_| upgrade);
    match (routed.backend, handler, websocket) {
        (_, _, Some(mode @ (WebsocketMode::Native | WebsocketMode::Merge))) => {
            (Backend::Native, crate::ws::serve(app, mode, label, req, peer))
        }
        (_, _, Some(mode @ WebsocketMode::Relay)) => {
            let ctx = app.ws_ctx(label, mode);
            (Backend::Legacy, app.legacy.forward(req.map(Either::Left), peer, slot, Some(ctx)).await)
        }
        (Backend::Native, Some(id), _) => {
            match app.native.serve(id, req, routed.route.is_some_and(|r| r.async_query)).await {
                Served::Response(r) => (Backend::Native, r.map(Either::Right)),
                Served::HandBack(r) => (Backend::Legacy, app.legacy.forward(r, peer, slot, None).await),
            }
        }
        _ => (Backend::Legacy, app.legacy.forward(req.map(Either::Left), peer, slot, None).await),
    }
}
