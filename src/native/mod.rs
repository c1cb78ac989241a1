//! Native handlers: the registry of what banyan implements in Rust, and the dispatcher
//! that runs one. A handler is a plain async function from a [`NativeRequest`] to an
//! [`Outcome`]: a response in rotki's exact format, or the request handed back to legacy
//! when it meets something it does not implement.
//!
//! The dispatcher does what Flask does around every rotki handler, so handlers need not:
//! it reads the body, fails an empty JSON body the way rotki's before-request hook does,
//! answers HEAD like GET without a body, adds CORS headers, and turns a panic or a timeout
//! into a 500 or 504 envelope while the process lives on.

mod assets;
mod info;
mod metadata;
mod ping;
pub mod tasks;
mod userdb;
mod users;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::config::{Config, RotkiConfig};
use crate::rotki::cors::Cors;
use crate::rotki::response;
use crate::routes::{normalize_pattern, MethodSet};

pub type HandlerId = usize;
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub type HandlerFn = fn(NativeRequest, Arc<Context>) -> BoxFuture<HandlerResult>;
/// A handler's error becomes a 500 envelope whose message is the error's text, as rotki's
/// catch-all handler does with `str(exception)`.
pub type HandlerResult = Result<Outcome, Box<dyn std::error::Error + Send + Sync>>;

/// A request as a native handler sees it: head, whole body, and the body parsed as JSON
/// when the request says it is JSON.
pub struct NativeRequest {
    pub parts: Parts,
    pub body: Bytes,
    pub json: Option<serde_json::Value>,
    /// The route lets this handler take `async_query` (`async = true` in flags.toml).
    pub async_allowed: bool,
}

pub enum Outcome {
    Respond(Response<Full<Bytes>>),
    /// Not implemented natively: legacy answers instead, with the same bytes.
    HandBack(NativeRequest),
}

/// What the dispatcher returns to the proxy.
pub enum Served {
    Response(Response<Full<Bytes>>),
    HandBack(Request<Body>),
}

/// What handlers may read: rotki's process values, taken from banyan's config.
#[derive(Debug)]
pub struct Context {
    pub rotki: RotkiConfig,
    /// `/api/1/info`'s `data_directory`: `--data-dir` normalized like Python's `Path`.
    pub data_directory: String,
    pub cors: Cors,
    pub body_limit: usize,
    pub timeout: Duration,
    /// rotki's global.db under `--data-dir` (none without a data dir: legacy answers).
    pub global_db: Option<Arc<crate::db::ReadDb>>,
    /// Native async tasks.
    pub tasks: Arc<tasks::Tasks>,
    /// The session bridge: the logged-in user's database, when banyan has it open.
    pub sessions: Arc<crate::session::Sessions>,
}

impl Context {
    /// `global_db` and `tasks` are built once at start and shared with the components
    /// that also use them (the admin API, the task bridge).
    pub fn new(
        config: &Config,
        cors: Cors,
        global_db: Option<Arc<crate::db::ReadDb>>,
        tasks: Arc<tasks::Tasks>,
        sessions: Arc<crate::session::Sessions>,
    ) -> Context {
        Context {
            rotki: config.rotki.clone(),
            data_directory: info::data_directory(config.data_dir.as_deref()),
            cors,
            body_limit: config.native.body_limit,
            timeout: config.native.timeout,
            global_db,
            tasks,
            sessions,
        }
    }
}

pub struct Endpoint {
    pub id: HandlerId,
    pub path: &'static str,
    pub methods: MethodSet,
    pub handler: HandlerFn,
    /// The handler can run a request as an async task (`async_query`), so a route may
    /// set `async = true` (`docs/flags.md`).
    pub runs_tasks: bool,
}

pub struct Registry {
    endpoints: Vec<Endpoint>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Registry {
    /// Every native handler compiled into banyan.
    pub fn builtin() -> Registry {
        let mut r = Registry { endpoints: Vec::new() };
        r.add("/api/1/ping", &[Method::GET], |q, c| Box::pin(ping::handle(q, c)));
        r.add("/api/1/info", &[Method::GET], |q, c| Box::pin(info::handle(q, c)));
        r.add("/api/1/assets/types", &[Method::GET], |q, c| Box::pin(assets::types(q, c)));
        r.add("/api/1/assets/all", &[Method::POST], |q, c| Box::pin(assets::all(q, c)));
        r.add("/api/1/assets/search", &[Method::POST], |q, c| Box::pin(assets::search(q, c)));
        r.add("/api/1/assets/search/levenshtein", &[Method::POST], |q, c| Box::pin(assets::levenshtein(q, c)));
        r.add("/api/1/assets/mappings", &[Method::POST], |q, c| Box::pin(assets::mappings(q, c)));
        r.add("/api/1/assets/counterpartymappings", &[Method::POST], |q, c| {
            Box::pin(assets::counterparty_mappings(q, c))
        });
        r.add("/api/1/assets/ignored/whitelist", &[Method::GET], |q, c| Box::pin(assets::whitelist(q, c)));
        r.add("/api/1/assets/locationmappings", &[Method::POST], |q, c| Box::pin(assets::location_mappings(q, c)));
        r.endpoints.last_mut().expect("just added").runs_tasks = true;
        // Answers rotki computes from its own code.
        r.add(metadata::ANSWERS[0].0, &[Method::GET], |q, c| Box::pin(metadata::serve(0, q, c)));
        r.add(metadata::ANSWERS[1].0, &[Method::GET], |q, c| Box::pin(metadata::serve(1, q, c)));
        r.add(metadata::ANSWERS[2].0, &[Method::GET], |q, c| Box::pin(metadata::serve(2, q, c)));
        r.add(metadata::ANSWERS[3].0, &[Method::GET], |q, c| Box::pin(metadata::serve(3, q, c)));
        r.add(metadata::ANSWERS[4].0, &[Method::GET], |q, c| Box::pin(metadata::serve(4, q, c)));
        r.add(metadata::ANSWERS[5].0, &[Method::GET], |q, c| Box::pin(metadata::serve(5, q, c)));
        r.add("/api/1/users", &[Method::GET], |q, c| Box::pin(users::handle(q, c)));
        // Behind rotki's login: the session bridge's open database, else legacy.
        r.add("/api/1/settings", &[Method::GET], |q, c| Box::pin(userdb::settings(q, c)));
        r.add("/api/1/tags", &[Method::GET], |q, c| Box::pin(userdb::tags(q, c)));
        r.add("/api/1/assets/ignored", &[Method::GET], |q, c| Box::pin(userdb::ignored_assets(q, c)));
        r.add("/api/1/external_services", &[Method::GET], |q, c| Box::pin(userdb::external_services(q, c)));
        r.add("/api/1/queried_addresses", &[Method::GET], |q, c| Box::pin(userdb::queried_addresses(q, c)));
        r.add("/api/1/blockchains/{blockchain}/accounts", &[Method::GET], |q, c| Box::pin(userdb::accounts(q, c)));
        r.add("/api/1/notes", &[Method::POST], |q, c| Box::pin(userdb::notes(q, c)));
        r.add("/api/1/history/skipped_external_events", &[Method::GET], |q, c| {
            Box::pin(userdb::skipped_external_events(q, c))
        });
        r.add("/api/1/calendar/google", &[Method::GET], |q, c| Box::pin(userdb::google_calendar(q, c)));
        r
    }

    /// Registers a handler; tests and embedders add their own beside the built-in ones.
    pub fn add(&mut self, path: &'static str, methods: &[Method], handler: HandlerFn) {
        let id = self.endpoints.len();
        let methods = MethodSet::from_methods(methods);
        self.endpoints.push(Endpoint { id, path, methods, handler, runs_tasks: false });
    }

    /// The handler for a route pattern (parameter names do not matter).
    pub fn find(&self, normalized_pattern: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| normalize_pattern(e.path) == normalized_pattern)
    }

    pub fn get(&self, id: HandlerId) -> &Endpoint {
        &self.endpoints[id]
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    pub fn describe(&self) -> String {
        self.endpoints
            .iter()
            .map(|e| format!("{} {}", e.methods.names().join(","), e.path))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs native handlers.
pub struct Native {
    registry: Arc<Registry>,
    ctx: Arc<Context>,
}

impl Native {
    pub fn new(registry: Arc<Registry>, ctx: Arc<Context>) -> Native {
        Native { registry, ctx }
    }

    /// Reads the body (admission sent a declared one over the limit to legacy) and runs the
    /// handler.
    pub async fn serve(&self, id: HandlerId, req: Request<Incoming>, async_allowed: bool) -> Served {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, self.ctx.body_limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                // Only a chunked body without a length gets here: part of it is read, so it
                // can no longer be handed back whole.
                let msg =
                    format!("Request body is larger than the {} bytes native handlers accept", self.ctx.body_limit);
                let resp = response::fail(StatusCode::PAYLOAD_TOO_LARGE, &msg);
                return Served::Response(self.finish(Cors::origin(&parts.headers).as_ref(), &parts.method, resp));
            }
            Err(e) => {
                let msg = format!("Could not read the request body: {e}");
                let resp = response::fail(StatusCode::BAD_REQUEST, &msg);
                return Served::Response(self.finish(Cors::origin(&parts.headers).as_ref(), &parts.method, resp));
            }
        };
        self.serve_buffered(id, parts, body, async_allowed).await
    }

    /// The same for a request whose body is already read (the byte-level passthrough's, a
    /// shadowed one), within the limit admission checked.
    pub async fn serve_buffered(&self, id: HandlerId, parts: Parts, body: Bytes, async_allowed: bool) -> Served {
        let endpoint = self.registry.get(id);
        // What the answer needs from the request once the handler owns it.
        let origin = Cors::origin(&parts.headers);
        let method = parts.method.clone();

        // rotki's before-request hook parses every JSON body; Flask fails an empty one with a
        // BadRequest that the catch-all handler turns into a 500. A body serde rejects goes to
        // legacy: Python's parser accepts things serde's does not (NaN, lone surrogates), and
        // legacy's answer is the reference.
        let json = if is_json(&parts.headers) {
            if body.is_empty() {
                let resp = response::fail(StatusCode::INTERNAL_SERVER_ERROR, BAD_REQUEST_TEXT);
                return Served::Response(self.finish(origin.as_ref(), &method, resp));
            }
            match serde_json::from_slice(&body) {
                Ok(v) => Some(v),
                Err(_) => return Served::HandBack(Request::from_parts(parts, body::full(body))),
            }
        } else {
            None
        };

        let call = (endpoint.handler)(NativeRequest { parts, body, json, async_allowed }, self.ctx.clone());
        let outcome = tokio::time::timeout(self.ctx.timeout, AssertUnwindSafe(call).catch_unwind()).await;
        let resp = match outcome {
            Ok(Ok(Ok(Outcome::Respond(resp)))) => resp,
            Ok(Ok(Ok(Outcome::HandBack(r)))) => {
                return Served::HandBack(Request::from_parts(r.parts, body::full(r.body)))
            }
            Ok(Ok(Err(e))) => {
                tracing::error!(endpoint = endpoint.path, "native handler failed: {e}");
                response::fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
            }
            Ok(Err(panic)) => {
                let what = panic_message(&*panic);
                tracing::error!(endpoint = endpoint.path, "native handler panicked: {what}");
                response::fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Native handler for {} failed: {what}", endpoint.path),
                )
            }
            Err(_) => {
                tracing::error!(
                    endpoint = endpoint.path,
                    timeout_ms = self.ctx.timeout.as_millis() as u64,
                    "native handler timed out"
                );
                let msg = format!(
                    "Native handler for {} did not answer within {} ms",
                    endpoint.path,
                    self.ctx.timeout.as_millis()
                );
                response::fail(StatusCode::GATEWAY_TIMEOUT, &msg)
            }
        };
        Served::Response(self.finish(origin.as_ref(), &method, resp))
    }

    fn finish(
        &self,
        origin: Option<&HeaderValue>,
        method: &Method,
        mut resp: Response<Full<Bytes>>,
    ) -> Response<Full<Bytes>> {
        self.ctx.cors.apply(origin, resp.headers_mut());
        if *method == Method::HEAD {
            // Same head, Content-Length included, no body: what Flask does for HEAD.
            *resp.body_mut() = Full::new(Bytes::new());
        }
        resp
    }
}

/// `str()` of the BadRequest Flask raises for an unparseable JSON body.
pub const BAD_REQUEST_TEXT: &str =
    "400 Bad Request: The browser (or proxy) sent a request that this server could not understand.";

/// Werkzeug's `is_json`: `application/json` or `application/*+json`, any parameters.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_follow_werkzeug() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(CONTENT_TYPE, v.parse().unwrap());
            is_json(&m)
        };
        assert!(h("application/json"));
        assert!(h("Application/JSON; charset=utf-8"));
        assert!(h("application/vnd.api+json"));
        assert!(!h("text/plain"));
        assert!(!h("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
