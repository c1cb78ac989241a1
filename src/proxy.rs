//! One request, one way through: match the route, decide the backend with the snapshot
//! the request started with, serve it natively or from legacy, say who answered in
//! `x-banyan-backend`, and count and log it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use http::header::CONNECTION;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Either};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::access::{self, RequestId, X_REQUEST_ID};
use crate::app::App;
use crate::body::{self, Body};
use crate::decide::Backend;
use crate::flags::{Routed, WebsocketMode};
use crate::legacy::{is_websocket_upgrade, Failure, Slot};
use crate::native::Served;
use crate::rotki::cors::Cors;
use crate::shadow::{self, Primary, Shadow};
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
    // (Content-Length with Transfer-Encoding never gets here as such: the byte-level path
    // refuses it, and hyper drops the length and frames by the chunks.)
    let max_body = app.config.server.max_body;
    if hyper::body::Body::size_hint(req.body()).lower() > max_body {
        let mut resp = app.legacy.failed(Failure::TooLarge(max_body), Cors::origin(req.headers())).map(Either::Right);
        resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    let request_id = match req.headers().get(&X_REQUEST_ID).filter(|v| !v.is_empty()) {
        Some(v) => RequestId::from_client(v.as_bytes()),
        None => {
            let id = RequestId::generate();
            req.headers_mut().insert(X_REQUEST_ID.clone(), HeaderValue::from_str(id.as_str()).expect("hex digits"));
            id
        }
    };
    let method = req.method().clone();
    let snapshot = app.flags.snapshot();
    let routed = snapshot.route(req.method(), req.uri().path(), req.headers(), peer.ip());
    let label = routed.route.map_or_else(|| labels::unrouted(&method, req.uri().path()), |r| r.label);
    // Kept past `serve` (which takes the request) only for the access log.
    let path = app.config.server.access_log.then(|| req.uri().path().to_string());

    let (backend, mut resp) = serve(app, &routed, label, req, peer, slot).await;
    resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), HeaderValue::from_static(backend.as_str()));
    let (status, latency) = (resp.status().as_u16(), started.elapsed());
    app.stats.record(label, backend, status, latency);
    if let Some(path) = &path {
        access::log(access::Entry { id: &request_id, method: &method, path, label, backend, status, latency });
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
    if let Some(target) = Shadow::target(routed.route, req.method()).filter(|_| !upgrade) {
        let small = hyper::body::Body::size_hint(req.body()).upper().is_some_and(|n| n <= shadow::MAX_BODY as u64);
        if small && app.shadow.has_room() {
            return serve_shadowed(app, routed, target, req, peer, slot).await;
        }
        app.shadow.dropped(target.route());
    }
    match (routed.backend, handler, websocket) {
        (_, _, Some(mode @ (WebsocketMode::Native | WebsocketMode::Merge))) => {
            (Backend::Native, crate::ws::serve(app, mode, label, req, peer))
        }
        (_, _, Some(mode @ WebsocketMode::Relay)) => {
            let ctx = app.ws_ctx(label, mode);
            (Backend::Legacy, app.legacy.forward(req.map(body::stream), peer, slot, Some(ctx)).await)
        }
        (Backend::Native, Some(id), _) => {
            match app.native.serve(id, req, routed.route.is_some_and(|r| r.async_query)).await {
                Served::Response(r) => (Backend::Native, r.map(Either::Right)),
                Served::HandBack(r) => (Backend::Legacy, app.legacy.forward(r, peer, slot, None).await),
            }
        }
        _ => {
            // A chunked body has no length to check up front: it is held to the limit as it
            // streams.
            let max = app.config.server.max_body;
            (Backend::Legacy, app.legacy.forward(req.map(|b| body::limited(b, max)), peer, slot, None).await)
        }
    }
}

/// Serves a request its route shadows: with its body read (it is small), so the copy can
/// send it again, and with the primary's answer kept for the comparison. The client's
/// answer does not wait for the copy.
async fn serve_shadowed(
    app: &Arc<App>,
    routed: &Routed<'_>,
    target: shadow::Target,
    req: Request<Incoming>,
    peer: SocketAddr,
    slot: &Slot<SendRequest<Body>>,
) -> (Backend, Response<Body>) {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let failure = Failure::Send(format!("reading the request body: {e}"));
            return (Backend::Legacy, app.legacy.failed(failure, None).map(Either::Right));
        }
    };
    let copy = app.shadow.capture(target, parts.clone(), body.clone(), peer);
    // A body over the native limit is legacy's, as on the other paths.
    let fits = body.len() <= app.native.body_limit();
    let native = routed.route.and_then(|r| r.handler).filter(|_| routed.backend == Backend::Native && fits);
    let (backend, resp, primary) = match native {
        Some(id) => match app.native.serve_buffered(id, parts, body, routed.route.is_some_and(|r| r.async_query)).await
        {
            Served::Response(r) => {
                // A `Full` body is ready at once.
                let answer = r.body().clone().collect().now_or_never().and_then(Result::ok).map(|b| b.to_bytes());
                let primary = answer.map(|body| Primary::Answered {
                    backend: Backend::Native,
                    status: r.status().as_u16(),
                    body,
                });
                (Backend::Native, r.map(Either::Right), primary)
            }
            Served::HandBack(r) => {
                let resp = app.legacy.forward(r, peer, slot, None).await;
                (Backend::Legacy, resp, Some(Primary::Unusable("the native handler handed the request to legacy")))
            }
        },
        None => {
            let req = Request::from_parts(parts, body::full(body));
            let resp = app.legacy.forward(req, peer, slot, None).await;
            let (resp, primary) = legacy_answer(app, resp).await;
            (Backend::Legacy, resp, Some(primary))
        }
    };
    if let (Some(copy), Some(primary)) = (copy, primary) {
        copy.finish(app.clone(), primary);
    }
    (backend, resp)
}

/// Legacy's answer, read whole if it is small enough to compare (rotki's JSON answers
/// are), and what the comparison gets of it.
async fn legacy_answer(app: &App, resp: Response<Body>) -> (Response<Body>, Primary) {
    if matches!(resp.body(), Either::Right(_)) {
        return (resp, Primary::Unusable("legacy did not answer"));
    }
    let size = hyper::body::Body::size_hint(resp.body()).exact();
    if !size.is_some_and(|n| n <= shadow::MAX_BODY as u64) {
        return (resp, Primary::Unusable("the answer is larger than the shadow limit, or of unknown length"));
    }
    let (parts, body) = resp.into_parts();
    match body.collect().await {
        Ok(b) => {
            let bytes = b.to_bytes();
            let primary =
                Primary::Answered { backend: Backend::Legacy, status: parts.status.as_u16(), body: bytes.clone() };
            (Response::from_parts(parts, body::full(bytes)), primary)
        }
        Err(e) => {
            let failure = Failure::Send(e.to_string());
            (app.legacy.failed(failure, None).map(Either::Right), Primary::Unusable("legacy's answer broke off"))
        }
    }
}
