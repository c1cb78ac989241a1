//! The admin listener (separate from the public one): liveness, readiness and the current
//! flags table. Later work adds metrics, stats, changes and the dashboard here.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use crate::app::App;
use crate::body::{self, Body};

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
