//! The admin API's JSON endpoints (`docs/operations.md` lists them with examples).

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{error, json_response};
use crate::app::App;
use crate::audit::Origin;
use crate::body::Body;
use crate::decide::Backend;
use crate::flags::managed::Manager;
use crate::flags::{CompiledRoute, EditError};
use crate::routes::{normalize_pattern, MethodSet};
use crate::stats::labels;
use crate::stats::Window;
use crate::ws::hub::{MessageType, MESSAGE_TYPES};

/// Ready: serving, not draining, and legacy accepting connections. With
/// `?legacy=optional` (a Kubernetes readiness probe) legacy is neither required nor
/// checked (`reachable` is null): every replica shares one legacy, so making them all
/// unready when it is down would take the native routes and the 502 envelopes away too.
pub async fn readyz(app: &App, query: Option<&str>) -> Response<Body> {
    let snapshot = app.flags.snapshot();
    let legacy_optional =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).any(|(k, v)| k == "legacy" && v == "optional");
    let draining = app.draining();
    // Not even asked when optional: a legacy that takes long to refuse (a dropped SYN, a
    // slow DNS answer) would hold the probe past its timeout, on every replica at once.
    let legacy = if legacy_optional { None } else { Some(app.legacy.reachable().await) };
    let ready = !draining && legacy.unwrap_or(true);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready,
        "draining": draining,
        "flags_generation": snapshot.generation,
        "legacy": {"url": app.legacy.url(), "reachable": legacy, "required": !legacy_optional},
    });
    json_response(status, &body)
}

/// The effective table: generation, file, last reload, each route's settings and runtime
/// state, and how far the migration is.
pub fn flags(app: &App) -> Value {
    let snapshot = app.flags.snapshot();
    let status = app.flags.status();
    let overrides = app.flags.overrides();
    let routes: Vec<_> = snapshot
        .routes
        .iter()
        .map(|r| {
            let mut route = settings(r);
            route.insert("name".into(), json!(r.name));
            route.insert("native_handler".into(), json!(r.handler.map(|id| app.registry.get(id).path)));
            let state = app.rollout.state(&r.name).unwrap_or_default();
            route.insert(
                "runtime".into(),
                json!({
                    "guard_trips": state.guard_trips,
                    "last_trip": state.last_trip,
                    "ramp": state.ramp,
                    // Held in memory over the file (a rollback the file could not take).
                    "override": overrides.get(&r.name).map(|o| json!({"native": o.native, "file_native": o.file_native})),
                }),
            );
            Value::Object(route)
        })
        .collect();
    let (writable, managed) = match app.flags.manager() {
        Ok(Manager::Banyan(_)) => (true, json!({"by": "banyan", "message": null})),
        Ok(Manager::Elsewhere { kind, message }) => (false, json!({"by": kind, "message": message})),
        // Moved away or deleted: the last good generation serves, and nothing can be changed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let message = format!(
                "{} is missing (moved or deleted): banyan keeps serving generation {}; put the file back",
                app.flags.path().display(),
                snapshot.generation
            );
            (false, json!({"by": "missing", "message": message}))
        }
        Err(e) => (false, json!({"by": "error", "message": format!("{}: {e}", app.flags.path().display())})),
    };
    json!({
        "generation": snapshot.generation,
        "file": app.flags.path().display().to_string(),
        "sha256": snapshot.sha256,
        "writable": writable,
        "managed": managed,
        "legacy_only": snapshot.legacy_only,
        "override_header": snapshot.override_header.as_ref().map(|h| h.as_str()),
        "default_sticky": snapshot.default_sticky.to_string(),
        "last_reload": {
            "unix_time": status.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            "outcome": status.outcome,
            "error": status.error,
        },
        // How an edit of the file is noticed: `inotify`, or `poll` where it could not start.
        "watch": app.flags.watch_mode(),
        "audit_log": app.flags.audit().path().map(|p| p.display().to_string()),
        "migration": migration(app),
        "routes": routes,
    })
}

/// A route's settings as a JSON object.
fn settings(r: &CompiledRoute) -> Map<String, Value> {
    r.settings().into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// rotki's inventory rules that a flags route now sends (partly) to a native handler, and
/// those this build has a native handler for (ready to be turned on).
fn migration(app: &App) -> Value {
    let snapshot = app.flags.snapshot();
    let native: Vec<_> = snapshot
        .routes
        .iter()
        .filter(|r| !snapshot.legacy_only && r.native_percent > 0.0 && r.handler.is_some())
        .map(|r| (normalize_pattern(&r.path), r.methods))
        .collect();
    let rules = labels::inventory_rules();
    let migrated: Vec<&str> = rules
        .iter()
        .filter(|rule| {
            let (pattern, methods) = (normalize_pattern(&rule.path), rule_methods(rule));
            native.iter().any(|(p, m)| *p == pattern && m.overlaps(methods))
        })
        .map(|rule| rule.rule.as_str())
        .collect();
    let implemented: Vec<&str> =
        rules.iter().filter(|rule| has_handler(app, rule)).map(|rule| rule.rule.as_str()).collect();
    json!({
        "inventory_routes": rules.len(),
        "native_routes": migrated.len(),
        "native_rules": migrated,
        "implemented_routes": implemented.len(),
        "implemented_rules": implemented,
    })
}

fn rule_methods(rule: &crate::inventory::Rule) -> MethodSet {
    rule.methods.iter().filter_map(|m| MethodSet::parse(m)).fold(MethodSet::default(), MethodSet::union)
}

/// Whether this build has a native handler for some method of an inventory rule.
fn has_handler(app: &App, rule: &crate::inventory::Rule) -> bool {
    app.registry.find(&normalize_pattern(&rule.path)).is_some_and(|e| e.methods.overlaps(rule_methods(rule)))
}

pub fn patch_route(app: &App, name: &str, actor: &str, body: bytes::Bytes) -> Response<Body> {
    let apply = |changes: &Map<String, Value>| app.flags.set_route(name, changes, Origin::api(actor));
    change(&body, "{\"native\": 25}", apply, |generation| {
        let route = app.flags.snapshot().routes.iter().find(|r| r.name == name).map(settings);
        json!({"generation": generation, "route": name, "settings": route})
    })
}

/// `PATCH /api/flags/defaults`: the kill switch (`{"legacy_only": true}`) and the default
/// sticky mode, written into `[defaults]` of the file and audited like a route change.
pub fn patch_defaults(app: &App, actor: &str, body: bytes::Bytes) -> Response<Body> {
    let apply = |changes: &Map<String, Value>| app.flags.set_defaults(changes, Origin::api(actor));
    change(&body, "{\"legacy_only\": true}", apply, |generation| {
        let s = app.flags.snapshot();
        json!({"generation": generation, "defaults": {"legacy_only": s.legacy_only, "sticky": s.default_sticky.to_string()}})
    })
}

/// A change: `body` (a JSON object of settings, as in `example`) applied by `apply`,
/// answered with `ok`'s JSON for the generation now serving, or why it was refused.
fn change(
    body: &[u8],
    example: &str,
    apply: impl FnOnce(&Map<String, Value>) -> Result<u64, EditError>,
    ok: impl FnOnce(u64) -> Value,
) -> Response<Body> {
    let Ok(Value::Object(changes)) = serde_json::from_slice(body) else {
        return error(StatusCode::BAD_REQUEST, format!("expected a JSON object of settings, e.g. {example}"));
    };
    match apply(&changes) {
        Ok(generation) => json_response(StatusCode::OK, &ok(generation)),
        Err(EditError::Invalid(m)) => error(StatusCode::BAD_REQUEST, m),
        Err(EditError::UnknownRoute(m)) => error(StatusCode::NOT_FOUND, m),
        Err(EditError::Conflict(m)) => error(StatusCode::CONFLICT, m),
        Err(EditError::Failed(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

/// Per route label (busiest first): each backend's sliding window, and websocket sessions.
pub fn stats(app: &App) -> Value {
    let mut by_label: BTreeMap<labels::Label, (Option<Window>, Option<Window>)> = BTreeMap::new();
    let (mut native_rps, mut all_rps) = (0.0, 0.0);
    for w in app.stats.window() {
        // The migration's share is of rotki-core's traffic: the web app's files and the
        // upstreams are not in it.
        let migrating = w.label.kind() != labels::Kind::Front;
        if migrating {
            all_rps += w.rps;
        }
        let entry = by_label.entry(w.label).or_default();
        match w.backend {
            Backend::Native => {
                if migrating {
                    native_rps += w.rps;
                }
                entry.0 = Some(w);
            }
            Backend::Legacy => entry.1 = Some(w),
        }
    }
    let mut websockets: BTreeMap<labels::Label, usize> = BTreeMap::new();
    for (label, _, n) in app.ws.sessions.by_route() {
        *websockets.entry(label).or_default() += n;
        by_label.entry(label).or_default();
    }
    // Flags routes are listed even before their first request.
    for r in &app.flags.snapshot().routes {
        by_label.entry(r.label).or_default();
    }
    let rps = |w: &Option<Window>| w.as_ref().map_or(0.0, |w| w.rps);
    let mut routes: Vec<_> = by_label.into_iter().collect();
    routes.sort_by(|a, b| (rps(&b.1 .0) + rps(&b.1 .1)).total_cmp(&(rps(&a.1 .0) + rps(&a.1 .1))));
    let routes: Vec<_> = routes
        .into_iter()
        .map(|(label, (native, legacy))| {
            json!({
                "route": label.name(),
                "kind": label.kind().as_str(),
                "native": native,
                "legacy": legacy,
                "websocket_connections": websockets.get(&label).copied().unwrap_or(0),
                "shadow": app.shadow.book.summary(label),
                "record": app.records.summary(label),
                "native_handler": label.kind() == labels::Kind::Inventory
                    && labels::inventory_rules().iter().any(|r| r.rule == label.name() && has_handler(app, r)),
            })
        })
        .collect();
    json!({
        "window_seconds": crate::stats::WINDOW_SECS,
        "legacy": legacy(app),
        "rps": all_rps,
        "native_share": if all_rps > 0.0 { native_rps / all_rps } else { 0.0 },
        "routes": routes,
    })
}

/// What banyan has seen of legacy's health (its new connections), with its URL.
fn legacy(app: &App) -> Value {
    let seen = app.legacy.health();
    json!({
        "url": app.legacy.url(),
        "up": seen.up,
        "connects": seen.connects,
        "connect_errors": seen.connect_errors,
        "last_error": seen.last_error,
    })
}

/// `?route=NAME`: the last 15 minutes of one route label, per backend.
pub fn history(app: &App, query: Option<&str>) -> Response<Body> {
    let route = query_param(query, "route");
    let label = route.as_deref().and_then(labels::known);
    match label {
        Some(label) => {
            json_response(StatusCode::OK, &json!({"route": label.name(), "history": app.stats.history(label)}))
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("no route {:?} has statistics (give ?route=NAME)", route.unwrap_or_default()),
        ),
    }
}

/// A route's shadow settings, outcomes, learned noise and recorded mismatches (each
/// with its differences, legacy's value beside native's), oldest first.
pub fn shadow(app: &App, name: &str) -> Response<Body> {
    let snapshot = app.flags.snapshot();
    let Some(route) = snapshot.routes.iter().find(|r| r.name == name) else {
        return error(StatusCode::NOT_FOUND, format!("no route named {name:?} in the flags"));
    };
    let settings =
        route.shadow.as_ref().map(|s| json!({"methods": s.methods.names(), "ignore": s.ignore, "noise": s.noise}));
    json_response(
        StatusCode::OK,
        &json!({
            "route": name,
            "shadow": settings,
            "summary": app.shadow.book.summary(route.label),
            "mismatches": app.shadow.book.mismatches(route.label),
        }),
    )
}

/// A recorded route's exchanges as a HAR 1.2 document, oldest first; with `clear` (the
/// actor of a DELETE), forgets them instead.
pub fn records(app: &App, name: &str, clear: Option<&str>) -> Response<Body> {
    let snapshot = app.flags.snapshot();
    let Some(route) = snapshot.routes.iter().find(|r| r.name == name) else {
        return error(StatusCode::NOT_FOUND, format!("no route named {name:?} in the flags"));
    };
    if let Some(actor) = clear {
        let cleared = app.records.clear(route.label);
        tracing::info!(actor, route = name, cleared, "recording cleared");
        return json_response(StatusCode::OK, &json!({"route": name, "cleared": cleared}));
    }
    let exchanges = app.records.exchanges(route.label);
    if route.record.unwrap_or(0) == 0 && exchanges.is_empty() {
        let message =
            format!("route {name:?} records nothing: set `record = N` (1 to {}) on it", crate::record::MAX_KEEP);
        return error(StatusCode::NOT_FOUND, message);
    }
    let har = crate::record::har::document(name, &exchanges);
    let mut r = Response::new(crate::body::full(serde_json::to_vec_pretty(&har).unwrap_or_default()));
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let file = format!("attachment; filename=\"banyan-{name}.har\"");
    if let Ok(v) = HeaderValue::from_str(&file) {
        headers.insert(http::header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `?limit=N` (default 100): the last entries, oldest first.
pub fn audit(app: &App, query: Option<&str>) -> Response<Body> {
    let limit = match query_param(query, "limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit must be a whole number".into()),
    };
    let audit = app.flags.audit();
    json_response(
        StatusCode::OK,
        &json!({"file": audit.path().map(|p| p.display().to_string()), "entries": audit.tail(limit)}),
    )
}

/// Publishes `{"type": ..., "data": ...}` (or a list of them, in order) to every native
/// notifier socket (keys inside `data` in the order they came); answers to how many sockets the
/// last one was queued.
pub fn notify(app: &App, actor: &str, body: bytes::Bytes) -> Response<Body> {
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(rename = "type")]
        kind: String,
        data: Value,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Message),
        Many(Vec<Message>),
    }
    let messages = match serde_json::from_slice(&body) {
        Ok(OneOrMany::One(m)) => vec![m],
        Ok(OneOrMany::Many(list)) => list,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, format!("expected {{\"type\", \"data\"}} or a list of them: {e}"))
        }
    };
    let mut typed = Vec::with_capacity(messages.len());
    for m in &messages {
        match MessageType::parse(&m.kind) {
            Some(kind) => typed.push((kind, &m.data)),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown message type {:?}: expected one of {}", m.kind, MESSAGE_TYPES.join(", ")),
                )
            }
        }
    }
    let kinds: Vec<&str> = messages.iter().map(|m| m.kind.as_str()).collect();
    let delivered = typed.into_iter().map(|(kind, data)| app.ws.hub.publish(kind, data)).last().unwrap_or(0);
    // A message to every user: who sent it is on record.
    tracing::info!(actor, types = ?kinds, delivered, "published to the native notifier");
    json_response(StatusCode::OK, &json!({ "delivered": delivered }))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
