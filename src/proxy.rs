//! hyper's path: what the byte-level passthrough hands over (websocket handshakes, chunked
//! uploads, HTTP/1.0, ...) and every request when `byte_passthrough = false`. It admits
//! each request with the core (`request/`), serves it as admission says with hyper's
//! bodies, stamps `x-banyan-backend`, and finishes it with the core.

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

use crate::access::X_REQUEST_ID;
use crate::app::App;
use crate::body::{self, Body};
use crate::decide::Backend;
use crate::failure::{BadAnswer, Failure};
use crate::flags::WebsocketMode;
use crate::legacy::{is_websocket_upgrade, Slot};
use crate::native::Served;
use crate::request::{Action, Admission, Entry, Head, NativeCall, ShadowPlan};
use crate::rotki::cors::Cors;
use crate::shadow::{self, Primary};
use crate::stats::Label;
use crate::tasks_bridge::Target;

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
    let app = &conn.app;
    let started = Instant::now();
    let snapshot = app.flags.snapshot();
    // (Content-Length with Transfer-Encoding never gets here as such: the byte-level path
    // refuses it, and hyper drops the length and frames by the chunks.)
    let head = Head {
        method: req.method(),
        path: req.uri().path(),
        headers: req.headers(),
        peer: conn.peer.ip(),
        body_len: hyper::body::Body::size_hint(req.body()).exact(),
        upgrade: is_websocket_upgrade(&req),
    };
    let Admission { label, request_id, generated_id, action, shadow } =
        app.core.admit(&snapshot, &head, app.shadow.has_room());
    if generated_id {
        let id = HeaderValue::from_str(request_id.as_str()).expect("hex digits");
        req.headers_mut().insert(X_REQUEST_ID.clone(), id);
    }
    let method = req.method().clone();
    // Kept past `serve` (which takes the request) only for the access log; a shared copy.
    let uri = app.core.logs_access().then(|| req.uri().clone());
    let refused = matches!(action, Action::Refuse(_));

    let (backend, mut resp) = serve(conn, label, action, shadow, req).await;
    resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), HeaderValue::from_static(backend.as_str()));
    if refused {
        // The client may still be sending the body banyan will not read.
        resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let path = uri.as_ref().map_or("", |u| u.path());
    let (status, latency) = (resp.status().as_u16(), started.elapsed());
    app.core.finish(Entry { id: &request_id, label, method: &method, path, backend, status, latency });
    resp
}

/// Who answers, and the answer.
async fn serve(
    conn: &Connection,
    label: Label,
    action: Action,
    shadow: ShadowPlan,
    req: Request<Incoming>,
) -> (Backend, Response<Body>) {
    let (app, peer, slot) = (&conn.app, conn.peer, &conn.legacy);
    // Taken where an answer of banyan's own may need it: a native answer has its CORS
    // headers from the dispatcher already.
    let failed = |failure: Failure, origin: Option<HeaderValue>| {
        app.responder.answer(&failure, origin.as_ref()).map(body::full_from)
    };
    let native = match &action {
        Action::Native(call) => Some(*call),
        _ => None,
    };
    match shadow {
        ShadowPlan::Capture(target) => return serve_shadowed(conn, native, target, req).await,
        ShadowPlan::Dropped(route) => app.shadow.dropped(route),
        ShadowPlan::Off => {}
    }
    // A chunked body has no length to check up front: it is held to the limit as it streams.
    let max_body = app.core.limits().max_body;
    let forward = |req: Request<Body>, relay| async move {
        let origin = Cors::origin(req.headers());
        app.legacy.forward(req, peer, slot, relay).await.map_err(|f| (f, origin))
    };
    match action {
        Action::Refuse(failure) => (Backend::Legacy, failed(failure, Cors::origin(req.headers()))),
        Action::Tasks(Target::Native(task)) => {
            let origin = Cors::origin(req.headers());
            (Backend::Native, app.tasks.answer(task, origin.as_ref()).map(body::full_from))
        }
        Action::Tasks(Target::List) => {
            let merged = match forward(req.map(|b| body::limited(b, max_body)), None).await {
                Ok(resp) => app.tasks.merge_list(resp).await.map_err(|f| failed(f, None)),
                Err((f, origin)) => Err(failed(f, origin)),
            };
            (Backend::Legacy, merged.unwrap_or_else(|answer| answer))
        }
        Action::Websocket(mode @ (WebsocketMode::Native | WebsocketMode::Merge)) => {
            (Backend::Native, crate::ws::serve(&app.ws, mode, label, req, peer))
        }
        Action::Websocket(mode @ WebsocketMode::Relay) => {
            let ctx = app.ws.ctx(label, mode);
            let sent = forward(req.map(body::stream), Some(ctx)).await;
            (Backend::Legacy, sent.unwrap_or_else(|(f, origin)| failed(f, origin)))
        }
        Action::Session(step) => {
            let origin = Cors::origin(req.headers());
            let sent = crate::session::serve(&app.sessions, &app.legacy, step, req, peer, slot, max_body).await;
            (Backend::Legacy, sent.unwrap_or_else(|f| failed(f, origin)))
        }
        Action::Native(call) => match app.native.serve(call.handler, req, call.async_query).await {
            Served::Response(r) => (Backend::Native, r.map(Either::Right)),
            Served::HandBack(r) => {
                (Backend::Legacy, forward(r, None).await.unwrap_or_else(|(f, origin)| failed(f, origin)))
            }
        },
        Action::Legacy => {
            let sent = forward(req.map(|b| body::limited(b, max_body)), None).await;
            (Backend::Legacy, sent.unwrap_or_else(|(f, origin)| failed(f, origin)))
        }
    }
}

/// Serves a request its route shadows: with its body read (admission saw it is small), so
/// the copy can send it again, and with the primary's answer kept for the comparison. The
/// client's answer does not wait for the copy.
async fn serve_shadowed(
    conn: &Connection,
    native: Option<NativeCall>,
    target: shadow::Target,
    req: Request<Incoming>,
) -> (Backend, Response<Body>) {
    let (app, peer, slot) = (&conn.app, conn.peer, &conn.legacy);
    let origin = Cors::origin(req.headers());
    let failed = |failure: Failure| app.responder.answer(&failure, origin.as_ref()).map(body::full_from);
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        // The client's upload broke off.
        Err(e) => return (Backend::Legacy, failed(Failure::Malformed(e.into()))),
    };
    let copy = app.shadow.capture(target, parts.clone(), body.clone(), peer);
    let (backend, resp, primary) = match native {
        Some(call) => match app.native.serve_buffered(call.handler, parts, body, call.async_query).await {
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
                let resp = app.legacy.forward(r, peer, slot, None).await.unwrap_or_else(failed);
                (Backend::Legacy, resp, Some(Primary::Unusable("the native handler handed the request to legacy")))
            }
        },
        None => {
            let req = Request::from_parts(parts, body::full(body));
            let (resp, primary) = match app.legacy.forward(req, peer, slot, None).await {
                Ok(resp) => comparable(resp)
                    .await
                    .unwrap_or_else(|f| (failed(f), Primary::Unusable("legacy's answer broke off"))),
                Err(f) => (failed(f), Primary::Unusable("legacy did not answer")),
            };
            (Backend::Legacy, resp, Some(primary))
        }
    };
    if let (Some(copy), Some(primary)) = (copy, primary) {
        copy.finish(&app.shadow, primary);
    }
    (backend, resp)
}

/// Legacy's answer, read whole if it is small enough to compare (rotki's JSON answers
/// are), and what the comparison gets of it.
async fn comparable(resp: Response<Body>) -> Result<(Response<Body>, Primary), Failure> {
    let size = hyper::body::Body::size_hint(resp.body()).exact();
    if !size.is_some_and(|n| n <= shadow::MAX_BODY as u64) {
        return Ok((resp, Primary::Unusable("the answer is larger than the shadow limit, or of unknown length")));
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| Failure::exchange(BadAnswer::CutShort(e)))?.to_bytes();
    let primary = Primary::Answered { backend: Backend::Legacy, status: parts.status.as_u16(), body: bytes.clone() };
    Ok((Response::from_parts(parts, body::full(bytes)), primary))
}
