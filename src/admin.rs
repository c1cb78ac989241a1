//! The admin listener (separate from the public one): liveness, readiness and the current
//! flags table, and a hook to publish to the native websocket notifier. Later work adds
//! metrics, stats, changes, authentication and the dashboard here.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use crate::app::App;
use crate::body::{self, Body};
use crate::ws::hub::{MessageType, MESSAGE_TYPES};

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => {
            let snapshot = app.flags.snapshot();
            let legacy = app.legacy.reachable().await;
            let status = if legacy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            let body = json!({
                "ready": legacy,
                "flags_generation": snapshot.generation,
                "legacy": {"url": app.legacy.url(), "reachable": legacy},
            });
            json_response(status, &body)
        }
        (&Method::GET, "/api/flags") => json_response(StatusCode::OK, &flags(&app)),
        (&Method::GET, "/api/ws") => json_response(
            StatusCode::OK,
            &json!({"native_subscribers": app.hub.subscribers(), "sessions": app.sessions.open()}),
        ),
        (&Method::POST, "/api/ws/publish") => publish(&app, req).await,
        (&Method::GET, "/api/globaldb") => match &app.native.context().global_db {
            Some(db) => json_response(
                StatusCode::OK,
                &json!({"file": db.path().display().to_string(), "queries_running": db.running()}),
            ),
            None => json_response(StatusCode::OK, &json!({"file": null, "queries_running": 0})),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn flags(app: &App) -> serde_json::Value {
    let snapshot = app.flags.snapshot();
    let status = app.flags.status();
    let routes: Vec<_> = snapshot
        .routes
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "path": r.path,
                "methods": r.methods.names(),
                "native": r.native_percent,
                "sticky": r.sticky.to_string(),
                "group": r.group,
                "native_handler": r.handler.map(|id| app.registry.get(id).path),
            })
        })
        .collect();
    json!({
        "generation": snapshot.generation,
        "file": app.flags.path().display().to_string(),
        "legacy_only": snapshot.legacy_only,
        "override_header": snapshot.override_header.as_ref().map(|h| h.as_str()),
        "default_sticky": snapshot.default_sticky.to_string(),
        "last_reload": {
            "unix_time": status.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            "outcome": status.outcome,
            "error": status.error,
        },
        "routes": routes,
    })
}

/// Publishes `{"type": ..., "data": ...}` (or a list of them, in order) to the native
/// notifier's sockets, for ops and tests (keys inside `data` go out sorted; native code
/// publishes typed data in its own order). Answers to how many sockets the last one was
/// queued.
async fn publish(app: &App, req: Request<Incoming>) -> Response<Body> {
    #[derive(serde::Deserialize)]
    struct Publish {
        #[serde(rename = "type")]
        kind: String,
        data: serde_json::Value,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Publish),
        Many(Vec<Publish>),
    }
    let bad = |error: String| json_response(StatusCode::BAD_REQUEST, &json!({ "error": error }));
    let bytes = match http_body_util::BodyExt::collect(http_body_util::Limited::new(req.into_body(), 64 << 20)).await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad(format!("body: {e}")),
    };
    let messages = match serde_json::from_slice(&bytes) {
        Ok(OneOrMany::One(m)) => vec![m],
        Ok(OneOrMany::Many(list)) => list,
        Err(e) => return bad(format!("expected {{\"type\", \"data\"}} or a list of them: {e}")),
    };
    let mut typed = Vec::with_capacity(messages.len());
    for m in &messages {
        match MessageType::parse(&m.kind) {
            Some(kind) => typed.push((kind, &m.data)),
            None => {
                return bad(format!("unknown message type {:?}: expected one of {}", m.kind, MESSAGE_TYPES.join(", ")))
            }
        }
    }
    let delivered = typed.into_iter().map(|(kind, data)| app.hub.publish(kind, data)).last().unwrap_or(0);
    json_response(StatusCode::OK, &json!({ "delivered": delivered }))
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, "text/plain; charset=utf-8".parse().expect("valid"));
    r
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(body::full(serde_json::to_vec_pretty(value).unwrap_or_default()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, "application/json".parse().expect("valid"));
    r
}
