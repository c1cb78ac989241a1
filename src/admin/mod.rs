//! The admin listener (separate from the public one): what ops use to see and steer a
//! migration. Liveness and readiness, Prometheus metrics, the flags table and changes to
//! it, live statistics, the audit log, the native notifier's publish hook, and the
//! dashboard that shows all of it on one page. Reads are open (keep the listener on
//! loopback or a private network); changes need a token (`auth.rs`).

mod api;
pub mod auth;
mod dashboard;
mod metrics;

use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::app::{App, AppError};
use crate::body::{self, Body};
use auth::Tokens;

/// Largest request body the admin API reads.
const BODY_LIMIT: usize = 1 << 20;

/// The admin listener's state: what it reads and steers, and who may change it.
pub struct Admin {
    app: Arc<App>,
    tokens: Tokens,
}

impl Admin {
    /// Loads the tokens (`[admin] tokens_file`, `BANYAN_ADMIN_TOKEN`); refuses a listener
    /// off loopback that no token protects.
    pub fn new(app: Arc<App>) -> Result<Admin, AppError> {
        let tokens = tokens(&app.config)?;
        Ok(Admin { app, tokens })
    }
}

/// The admin tokens `config` and the environment give; refuses a listener off loopback
/// that no token protects. `banyan check` asks the same, so it refuses what serve would.
pub fn tokens(config: &crate::config::Config) -> Result<Tokens, AppError> {
    let env_token = std::env::var("BANYAN_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
    let tokens = Tokens::load(config.admin.tokens_file.as_deref(), env_token).map_err(AppError::Admin)?;
    if tokens.is_empty() && !config.admin_listen.ip().is_loopback() {
        return Err(AppError::Config(format!(
            "the admin listener would be on {}, which is not loopback, and no admin token is configured: \
             set [admin] tokens_file or BANYAN_ADMIN_TOKEN, or keep admin_listen on 127.0.0.1",
            config.admin_listen
        )));
    }
    Ok(tokens)
}

pub async fn handle(admin: Arc<Admin>, req: Request<Incoming>) -> Response<Body> {
    let app = &admin.app;
    let mut hosts = req.headers().get_all(HOST).iter();
    let (host, another) = (hosts.next(), hosts.next());
    if another.is_some() || !host_allowed(app, host) {
        let message = "unexpected Host: the admin listener answers to IP addresses, localhost and \
                       [admin] allowed_hosts only";
        return error(StatusCode::MISDIRECTED_REQUEST, message.into());
    }
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => dashboard::page(),
        (Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (Method::GET, "/readyz") => api::readyz(app, req.uri().query()).await,
        (Method::GET, "/metrics") => {
            let mut r = Response::new(body::full(metrics::render(app)));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
            r
        }
        (Method::GET, "/api/flags") => json_response(StatusCode::OK, &api::flags(app)),
        (Method::PATCH, "/api/flags/defaults") => with_token(&admin, req, api::patch_defaults).await,
        (Method::PATCH, p) if p.starts_with("/api/flags/routes/") => {
            let name = percent_encoding::percent_decode_str(&p["/api/flags/routes/".len()..]).decode_utf8_lossy();
            let name = name.into_owned();
            with_token(&admin, req, |app, actor, body| api::patch_route(app, &name, actor, body)).await
        }
        (Method::GET, "/api/stats") => json_response(StatusCode::OK, &api::stats(app)),
        (Method::GET, "/api/stats/history") => api::history(app, req.uri().query()),
        (Method::GET, "/api/audit") => api::audit(app, req.uri().query()),
        (Method::GET, p) if p.starts_with("/api/shadow/") => {
            let name = percent_encoding::percent_decode_str(&p["/api/shadow/".len()..]).decode_utf8_lossy();
            api::shadow(app, &name)
        }
        // Recordings hold real users' requests and answers: a token even to read them.
        (Method::GET | Method::DELETE, p) if p.starts_with("/api/records/") => {
            let name = percent_encoding::percent_decode_str(&p["/api/records/".len()..]).decode_utf8_lossy();
            let (name, clear) = (name.into_owned(), req.method() == Method::DELETE);
            with_token(&admin, req, |app, actor, _| api::records(app, &name, clear.then_some(actor))).await
        }
        (Method::POST, "/api/notify") => with_token(&admin, req, api::notify).await,
        // The dashboard's "Use token": whether a token is good, before it changes anything.
        (Method::GET, "/api/whoami") => {
            with_token(&admin, req, |_, actor, _| json_response(StatusCode::OK, &json!({ "token": actor }))).await
        }
        (Method::GET, "/api/ws") => json_response(
            StatusCode::OK,
            &json!({"native_subscribers": app.ws.hub.subscribers(), "sessions": app.ws.sessions.open()}),
        ),
        // Who is logged in is the user's business: a token is needed even to read it.
        (Method::GET, "/api/session") => {
            with_token(&admin, req, |app, _, _| json_response(StatusCode::OK, &app.sessions.describe())).await
        }
        (Method::GET, "/api/globaldb") => match &app.global_db {
            Some(db) => json_response(
                StatusCode::OK,
                &json!({"file": db.path().display().to_string(), "queries_running": db.running()}),
            ),
            None => json_response(StatusCode::OK, &json!({"file": null, "queries_running": 0})),
        },
        (method, _) => match allowed(&path) {
            Some(allow) => {
                let mut r = error(StatusCode::METHOD_NOT_ALLOWED, format!("{path} answers {allow}, not {method}"));
                r.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static(allow));
                r
            }
            None => error(StatusCode::NOT_FOUND, format!("no admin endpoint {method} {path}")),
        },
    }
}

/// The methods an admin path answers (for a 405's `Allow`); None: no such endpoint.
fn allowed(path: &str) -> Option<&'static str> {
    const GET: [&str; 12] = [
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/flags",
        "/api/stats",
        "/api/stats/history",
        "/api/audit",
        "/api/ws",
        "/api/session",
        "/api/globaldb",
        "/api/whoami",
    ];
    Some(match path {
        p if GET.contains(&p) || p.starts_with("/api/shadow/") => "GET",
        "/api/flags/defaults" => "PATCH",
        p if p.starts_with("/api/flags/routes/") => "PATCH",
        p if p.starts_with("/api/records/") => "GET, DELETE",
        "/api/notify" => "POST",
        _ => return None,
    })
}

/// Whether the request names a host the admin listener is meant to be reached by. A web
/// page elsewhere can rebind its own name to 127.0.0.1 and read an open admin API from
/// the operator's browser; its requests still carry its name, and are refused here.
fn host_allowed(app: &App, host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else { return true };
    let name = match host.rsplit_once(':') {
        // `[::1]:4243`, `127.0.0.1:4243`, `name:4243`
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() || app.config.admin.allowed_hosts.contains(&name)
}

/// Runs a change once the request proved it carries a valid token; the change gets the
/// token's name (for the audit log) and the body.
async fn with_token(
    admin: &Admin,
    req: Request<Incoming>,
    change: impl FnOnce(&App, &str, bytes::Bytes) -> Response<Body>,
) -> Response<Body> {
    if admin.tokens.is_empty() {
        return error(
            StatusCode::FORBIDDEN,
            "changes are refused: no admin token is configured ([admin] tokens_file or BANYAN_ADMIN_TOKEN)".into(),
        );
    }
    let Some(actor) = admin.tokens.check(req.headers()).map(str::to_string) else {
        let mut r = error(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer <token>` is required".into());
        r.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"banyan admin\""));
        return r;
    };
    match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(b) => change(&admin.app, &actor, b.to_bytes()),
        Err(e) => error(StatusCode::BAD_REQUEST, format!("body: {e}")),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut r = Response::new(body::full(serde_json::to_vec_pretty(value).unwrap_or_default()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, message: String) -> Response<Body> {
    json_response(status, &json!({ "error": message }))
}
