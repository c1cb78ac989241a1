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

/// Publishes `{"type": ..., "data": ...}` to the native notifier's sockets, for ops and
/// tests (keys inside `data` go out sorted; native code publishes typed data in its own
/// order). Answers how many sockets it was queued for.
async fn publish(app: &App, req: Request<Incoming>) -> Response<Body> {
    #[derive(serde::Deserialize)]
    struct Publish {
        #[serde(rename = "type")]
        kind: String,
        data: serde_json::Value,
    }
    let bytes = match http_body_util::BodyExt::collect(http_body_util::Limited::new(req.into_body(), 1 << 20)).await {
        Ok(b) => b.to_bytes(),
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": format!("body: {e}")})),
    };
    let message: Publish = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("expected {{\"type\", \"data\"}}: {e}")}),
            )
        }
    };
    let Some(kind) = MessageType::parse(&message.kind) else {
        let error = format!("unknown message type {:?}: expected one of {}", message.kind, MESSAGE_TYPES.join(", "));
        return json_response(StatusCode::BAD_REQUEST, &json!({ "error": error }));
    };
    let delivered = app.hub.publish(kind, &message.data);
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
