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

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::access::X_REQUEST_ID;
use crate::app::App;
use crate::body::{self, Body};
use crate::decide::Backend;
use crate::failure::{BadAnswer, Context, Failure};
use crate::flags::WebsocketMode;
use crate::legacy::{is_websocket_upgrade, Slot};
use crate::native::Served;
use crate::record;
use crate::request::{Action, Admission, Entry, Head, NativeCall, ShadowPlan};
use crate::rotki::cors::Cors;
use crate::shadow::{self, Primary};
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
    let Admission { label, request_id, generated_id, action, shadow, record, streak, max_body } =
        app.core.admit(&snapshot, &head, app.shadow.has_room());
    if generated_id {
        req.headers_mut().insert(X_REQUEST_ID.clone(), request_id.header_value());
    }
    let method = req.method().clone();
    // Kept past `serve` (which takes the request) only for the access log; a shared copy.
    let uri = app.core.logs_access().then(|| req.uri().clone());
    let refused = matches!(action, Action::Refuse(_));
    let upstream = match action {
        Action::Upstream(i) => app.upstreams.get(i),
        _ => None,
    };

    let record = record.map(|target| (target, request_id.as_str()));
    let at = Context { route: label, request_id: &request_id };
    let (backend, mut resp) = serve(conn, at, action, shadow, record, max_body, req).await;
    let answered_by = upstream.map_or_else(|| HeaderValue::from_static(backend.as_str()), |u| u.backend_header());
    resp.headers_mut().insert(X_BANYAN_BACKEND.clone(), answered_by);
    if app.core.returns_request_id() {
        resp.headers_mut().insert(X_REQUEST_ID.clone(), request_id.header_value());
    }
    if refused {
        // The client may still be sending the body banyan will not read.
        resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let path = uri.as_ref().map_or("", |u| u.path());
    let (status, latency) = (resp.status().as_u16(), started.elapsed());
    app.core
        .finish(Entry { id: &request_id, label, method: &method, path, backend, status, latency }, streak.as_deref());
    resp
}

/// Who answers, and the answer.
async fn serve(
    conn: &Connection,
    at: Context<'_>,
    action: Action,
    shadow: ShadowPlan,
    record: Option<(record::Target, &str)>,
    max_body: u64,
    req: Request<Incoming>,
) -> (Backend, Response<Body>) {
    let (app, peer, slot) = (&conn.app, conn.peer, &conn.legacy);
    // Taken where an answer of banyan's own may need it: a native answer has its CORS
    // headers from the dispatcher already.
    let failed = |failure: Failure, origin: Option<HeaderValue>| {
        app.responder.answer(&failure, origin.as_ref(), at).map(body::full_from)
    };
    let native = match &action {
        Action::Native(call) => Some(*call),
        _ => None,
    };
    let copy = match shadow {
        ShadowPlan::Capture(target) => Some(target),
        ShadowPlan::Dropped(route) => {
            app.shadow.dropped(route);
            None
        }
        ShadowPlan::Off => None,
    };
    if copy.is_some() || record.is_some() {
        return serve_captured(conn, at, native, copy, record, req).await;
    }
    // A chunked body has no length to check up front: it is held to the path's limit
    // (`max_body`, from admission) as it streams, and a 413 names that limit.
    let forward = |req: Request<Body>, relay| async move {
        let origin = Cors::origin(req.headers());
        app.legacy.forward(req, peer, slot, relay).await.map_err(|f| match f {
            Failure::TooLarge(_) => (Failure::TooLarge(max_body), origin),
            f => (f, origin),
        })
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
            (Backend::Native, crate::ws::serve(&app.ws, mode, at.route, merged_slashes(req), peer))
        }
        Action::Websocket(mode @ WebsocketMode::Relay) => {
            let ctx = app.ws.ctx(at.route, mode);
            let sent = forward(merged_slashes(req).map(body::stream), Some(ctx)).await;
            (Backend::Legacy, sent.unwrap_or_else(|(f, origin)| failed(f, origin)))
        }
        Action::Session(step) => {
            let origin = Cors::origin(req.headers());
            let sent = crate::session::serve(&app.sessions, &app.legacy, step, req, peer, slot, max_body).await;
            (Backend::Legacy, sent.unwrap_or_else(|f| failed(f, origin)))
        }
        Action::Native(call) => match app.native.serve(call.handler, req, call.async_query).await {
            Served::Response(r) => (Backend::Native, r.map(body::full_from)),
            Served::HandBack(r) => {
                (Backend::Legacy, forward(r, None).await.unwrap_or_else(|(f, origin)| failed(f, origin)))
            }
        },
        Action::Legacy => {
            let sent = forward(req.map(|b| body::limited(b, max_body)), None).await;
            (Backend::Legacy, sent.unwrap_or_else(|(f, origin)| failed(f, origin)))
        }
        Action::WebApp => match &app.webapp {
            Some(webapp) => (Backend::Native, webapp.serve(req).await.map(body::files)),
            None => (Backend::Legacy, failed(Failure::Internal("[static] is off".into()), None)),
        },
        Action::Slash => (Backend::Native, slash_added(&req)),
        Action::Upstream(i) => match app.upstreams.get(i) {
            Some(upstream) => (Backend::Legacy, upstream.serve(req, peer, max_body, at).await),
            None => (Backend::Legacy, failed(Failure::Internal("no such upstream".into()), None)),
        },
    }
}

/// A 301 to the request's path with a slash added, its query kept: `/colibri` is the
/// upstream's `/colibri/`. The path as matched, repeated slashes merged: `//colibri/`
/// would send the browser to another host.
fn slash_added(req: &Request<Incoming>) -> Response<Body> {
    let path = crate::request::merge_slashes(req.uri().path());
    let target = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut resp = Response::new(body::full(Bytes::new()));
    *resp.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
    if let Ok(location) = HeaderValue::from_str(&target) {
        resp.headers_mut().insert(http::header::LOCATION, location);
    }
    resp
}

/// A handshake to a websocket route as that route matched it, repeated slashes merged:
/// legacy's notifier serves only paths that start with `/ws` (rotki answers `//ws/` with a
/// 101 and closes at once), so banyan's socket to legacy asks for `/ws/`.
fn merged_slashes(mut req: Request<Incoming>) -> Request<Incoming> {
    let path = req.uri().path();
    if path.contains("//") {
        let merged = crate::request::merge_slashes(path);
        let target = match req.uri().query() {
            Some(q) => format!("{merged}?{q}"),
            None => merged,
        };
        if let Ok(uri) = target.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// Serves a request its route shadows or records: with its body read (admission saw it is
/// small), so a copy can send it again, and with the answer kept for the comparison and
/// the recording. The client's answer does not wait for the copy.
async fn serve_captured(
    conn: &Connection,
    at: Context<'_>,
    native: Option<NativeCall>,
    copy: Option<shadow::Target>,
    record: Option<(record::Target, &str)>,
    req: Request<Incoming>,
) -> (Backend, Response<Body>) {
    let (app, peer, slot) = (&conn.app, conn.peer, &conn.legacy);
    let began = Instant::now();
    let origin = Cors::origin(req.headers());
    let failed = |failure: Failure| app.responder.answer(&failure, origin.as_ref(), at).map(body::full_from);
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        // The client's upload broke off.
        Err(e) => return (Backend::Legacy, failed(Failure::Malformed(e.into()))),
    };
    let pending = record.map(|(target, id)| record::Pending::new(target, id, &parts, &body, Vec::new()));
    let copy = copy.and_then(|target| app.shadow.capture(target, parts.clone(), body.clone(), peer, *at.request_id));
    let served = match native {
        Some(call) => app.native.serve_buffered(call.handler, parts, body, call.async_query).await,
        None => Served::HandBack(Request::from_parts(parts, body::full(body))),
    };
    // What the client gets: who answered, the answer, and its body when it was read whole.
    let (backend, resp, got) = match served {
        Served::Response(r) => {
            let got = Ok(body::full_bytes(r.body()));
            (Backend::Native, r.map(body::full_from), got)
        }
        Served::HandBack(r) => {
            let answered = match app.legacy.forward(r, peer, slot, None).await {
                Ok(resp) => whole(resp).await,
                Err(f) => Err(f),
            };
            match answered {
                Ok((resp, got)) => (Backend::Legacy, resp, got),
                // banyan's own 502 or 504: no answer of legacy's to compare or keep.
                Err(f) => {
                    if let Some(copy) = copy {
                        copy.finish(&app.shadow, Primary::Unusable("legacy did not answer"));
                    }
                    return (Backend::Legacy, failed(f));
                }
            }
        }
    };
    let status = resp.status().as_u16();
    if let Some(copy) = copy {
        let primary = match (&got, native.is_some() && backend == Backend::Legacy) {
            (_, true) => Primary::HandedBack,
            (Ok(body), false) => Primary::Answered {
                backend,
                status,
                content_type: resp.headers().get(CONTENT_TYPE).cloned(),
                body: body.clone(),
            },
            (Err(why), false) => Primary::Unusable(why),
        };
        copy.finish(&app.shadow, primary);
    }
    if let Some(pending) = pending {
        let headers = resp.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
        let body = got.as_deref().map_err(|why| *why);
        app.records.keep(pending.answered(backend, status, began.elapsed(), headers, body));
    }
    (backend, resp)
}

/// Legacy's answer, read whole if it is small enough to compare and keep (rotki's JSON
/// answers are), else passed on as it streams, with why it was not read.
async fn whole(resp: Response<Body>) -> Result<(Response<Body>, Result<Bytes, &'static str>), Failure> {
    let size = hyper::body::Body::size_hint(resp.body()).exact();
    if !size.is_some_and(|n| n <= shadow::MAX_BODY as u64) {
        return Ok((resp, Err("the answer is larger than the shadow limit, or of unknown length")));
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| Failure::exchange(BadAnswer::CutShort(e)))?.to_bytes();
    Ok((Response::from_parts(parts, body::full(bytes.clone())), Ok(bytes)))
}
