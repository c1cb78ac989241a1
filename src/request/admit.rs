//! Admission: what a request means, decided once for both paths from its head alone. The
//! rules, in order:
//!
//! 1. its request id: the client's first non-empty `X-Request-Id`, else a new one;
//! 2. a path of the front door's (`front.rs`: an upstream's prefix, the web app's files) is
//!    theirs, under their label, held to its body limit as in 4; nothing below applies;
//! 3. its route and statistics label (a flags route, else rotki's inventory rule, else
//!    `unmatched`), and the backend the flags choose;
//! 4. a declared body over `[server] max_body_bytes` (or the path's `[[server.body_limits]]`
//!    entry) is refused with a 413 (an undeclared, chunked one is held to the limit as it
//!    streams);
//! 5. the user lifecycle (create, login, logout, password change) and the polls and
//!    cancels of an async login's legacy task are the session bridge's (`session/`):
//!    never shadowed, never retried;
//! 6. the task URL space: the list and the polls and cancels of native ids are the task
//!    bridge's (`tasks_bridge.rs`);
//! 7. a websocket handshake (matched with repeated slashes merged: `//ws/` is `/ws/`) is
//!    the websocket bridge's on a route with `websocket`, else
//!    legacy's (rotki completes a handshake on any path, so even on a native route);
//! 8. a route that shadows the method captures the request if a copy could start and its
//!    declared body is small enough to duplicate, else counts it dropped;
//! 9. a native decision with a handler is native, unless the declared body is over what
//!    native handlers read (`[native] body_limit_bytes`): that is legacy's, untouched;
//! 10. everything else is legacy's;
//! 11. on a route with `record = N`, a request served by 9 or 10 whose declared body is at
//!     most `record::MAX_BODY` is recorded with its answer (the lifecycle, the task space
//!     and handshakes, which return above, never are).
//!
//! Pure like `decide`, which it calls, and allocation-free but for a lifecycle step's user
//! name and a path with repeated slashes.

use std::net::IpAddr;
use std::sync::Arc;

use http::Method;

use super::front::{Front, Owner};
use crate::access::{RequestId, X_REQUEST_ID};
use crate::decide::{Backend, Headers, Sticky};
use crate::failure::Failure;
use crate::flags::rollout::Streak;
use crate::flags::{Snapshot, WebsocketMode};
use crate::native::tasks::Tasks;
use crate::native::HandlerId;
use crate::record;
use crate::session;
use crate::shadow::{self, Shadow};
use crate::stats::{labels, Label};
use crate::tasks_bridge;

/// A request's head, as either path parsed it.
pub struct Head<'a, H: Headers + ?Sized> {
    pub method: &'a Method,
    /// Without the query.
    pub path: &'a str,
    pub headers: &'a H,
    pub peer: IpAddr,
    /// The declared body length; `None` for a body framed by its chunks.
    pub body_len: Option<u64>,
    /// A websocket handshake (rotki's rule, `legacy::is_websocket_upgrade`).
    pub upgrade: bool,
}

/// The limits admission applies, copied from the config once at start.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `[server] max_body_bytes`.
    pub max_body: u64,
    /// `[[server.body_limits]]`, in the file's order.
    pub body_limits: Arc<[crate::config::BodyLimit]>,
    /// `[native] body_limit_bytes`: a larger body is legacy's even on a native route.
    pub native_body: u64,
}

impl Limits {
    /// The largest body a request to `path` may carry: that of the first
    /// `[[server.body_limits]]` entry matching it, else `max_body_bytes`.
    pub fn max_body_for(&self, path: &str) -> u64 {
        self.body_limits.iter().find(|l| l.path_regex.is_match(path)).map_or(self.max_body, |l| l.max_body)
    }
}

/// Everything a path needs to serve a request.
pub struct Admission {
    pub label: Label,
    pub request_id: RequestId,
    /// The client sent no id: `request_id` is new and goes into legacy's head.
    pub generated_id: bool,
    pub action: Action,
    pub shadow: ShadowPlan,
    /// Keep the exchange (`record = N`): the route's, with the headers to redact.
    pub record: Option<record::Target>,
    /// A native call on a guarded route: its answer counts in the guard's run of 5xx.
    pub streak: Option<Arc<Streak>>,
    /// The largest body the request may carry (rule 4): what a chunked one is held to.
    pub max_body: u64,
}

pub enum Action {
    /// Answered at once with this failure's envelope, and the connection closed.
    Refuse(Failure),
    Tasks(tasks_bridge::Target),
    /// A step of the user lifecycle, seen by the session bridge on its way to legacy.
    Session(session::Step),
    /// Served by the websocket bridge in this mode.
    Websocket(WebsocketMode),
    Native(NativeCall),
    Legacy,
    /// A file of the web app (`[static]`).
    WebApp,
    /// The `[upstreams.*]` entry at this index, its prefix stripped.
    Upstream(usize),
    /// A 301 to the path with a slash added (an upstream's prefix without it).
    Slash,
}

/// The native handler that serves a request, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeCall {
    pub handler: HandlerId,
    /// The route lets the handler take `async_query` (`async = true`).
    pub async_query: bool,
}

pub enum ShadowPlan {
    Off,
    /// Capture the request (its head and body) for a copy to the other backend.
    Capture(shadow::Target),
    /// The route shadows it, but no copy could start or its body is too large: counted.
    Dropped(Label),
}

impl Admission {
    /// Who answers, as far as the head tells (a native handler may still hand back).
    pub fn backend(&self) -> Backend {
        match &self.action {
            Action::Native(_)
            | Action::Websocket(WebsocketMode::Native | WebsocketMode::Merge)
            | Action::Tasks(tasks_bridge::Target::Native(_))
            | Action::WebApp
            | Action::Slash => Backend::Native,
            Action::Refuse(_)
            | Action::Session(_)
            | Action::Legacy
            | Action::Websocket(WebsocketMode::Relay)
            | Action::Tasks(tasks_bridge::Target::List)
            | Action::Upstream(_) => Backend::Legacy,
        }
    }
}

/// `path` with every run of slashes as one.
pub fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// Decides what `head` means under `snapshot`. `login_pending`: whether a legacy task id is
/// an async login's the session bridge waits for. `shadow_room`: a shadow copy could start
/// now (one that could not is not worth capturing).
pub fn admit<H: Headers + ?Sized>(
    snapshot: &Snapshot,
    limits: &Limits,
    front: &Front,
    tasks: &Tasks,
    login_pending: impl Fn(u64) -> bool,
    head: &Head<'_, H>,
    shadow_room: bool,
) -> Admission {
    let given = head.headers.all(&X_REQUEST_ID).find(|v| !v.is_empty());
    let (request_id, generated_id) = match given {
        Some(v) => (RequestId::from_client(v), false),
        None => (RequestId::generate(), true),
    };
    let max_body = limits.max_body_for(head.path);
    if let Some((owner, label)) = front.owner(head.path, head.upgrade) {
        let action = match (head.body_len.is_some_and(|n| n > max_body), owner) {
            (true, _) => Action::Refuse(Failure::TooLarge(max_body)),
            (false, Owner::WebApp) => Action::WebApp,
            (false, Owner::Upstream(i)) => Action::Upstream(i),
            (false, Owner::Slash) => Action::Slash,
        };
        let (shadow, record, streak) = (ShadowPlan::Off, None, None);
        return Admission { label, request_id, generated_id, action, shadow, record, streak, max_body };
    }
    // A handshake is matched with repeated slashes merged, as nginx and Werkzeug match
    // paths: rotki's web app, whose backend URL is empty, opens its socket on `//ws/`.
    let merged;
    let path = match head.upgrade && head.path.contains("//") {
        true => {
            merged = merge_slashes(head.path);
            merged.as_str()
        }
        false => head.path,
    };
    let routed = snapshot.route(head.method, path, head.headers, head.peer);
    let label = routed.route.map_or_else(|| labels::unrouted(head.method, path), |r| r.label);
    let admission = |action, shadow| Admission {
        label,
        request_id,
        generated_id,
        action,
        shadow,
        record: None,
        streak: None,
        max_body,
    };

    if head.body_len.is_some_and(|n| n > max_body) {
        return admission(Action::Refuse(Failure::TooLarge(max_body)), ShadowPlan::Off);
    }
    if let Some(step) = session::Step::of(head.method, head.path, login_pending) {
        return admission(Action::Session(step), ShadowPlan::Off);
    }
    if let Some(target) = tasks_bridge::target(tasks, head.method, head.path) {
        return admission(Action::Tasks(target), ShadowPlan::Off);
    }
    if head.upgrade {
        let action = routed.route.and_then(|r| r.websocket).map_or(Action::Legacy, Action::Websocket);
        return admission(action, ShadowPlan::Off);
    }
    let shadow = match Shadow::target(routed.route, head.method) {
        Some(t) if shadow_room && head.body_len.is_some_and(|n| n <= shadow::MAX_BODY as u64) => ShadowPlan::Capture(t),
        Some(t) => ShadowPlan::Dropped(t.route()),
        None => ShadowPlan::Off,
    };
    let fits = !matches!(head.body_len, Some(n) if n > limits.native_body);
    let action = match routed.route.and_then(|r| r.handler) {
        Some(handler) if routed.backend == Backend::Native && fits => {
            Action::Native(NativeCall { handler, async_query: routed.route.is_some_and(|r| r.async_query) })
        }
        _ => Action::Legacy,
    };
    let streak = match action {
        Action::Native(_) => routed.route.and_then(|r| r.streak.clone()),
        _ => None,
    };
    let mut admitted = admission(action, shadow);
    admitted.streak = streak;
    if let Some(route) = routed.route.filter(|r| r.record.is_some_and(|n| n > 0)) {
        if head.body_len.is_some_and(|n| n <= record::MAX_BODY as u64) {
            admitted.record = Some(record_target(snapshot, route));
        }
    }
    admitted
}

/// What a recording of `route` keeps, and which sticky headers it leaves out.
#[cold]
fn record_target(snapshot: &Snapshot, route: &crate::flags::CompiledRoute) -> record::Target {
    let mut sticky = Vec::new();
    for s in [&route.sticky, &snapshot.default_sticky] {
        if let Sticky::Header(name) = s {
            if !sticky.contains(name) {
                sticky.push(name.clone());
            }
        }
    }
    record::Target { route: route.label, keep: route.record.unwrap_or(0), sticky }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::native::Registry;
    use crate::tasks_bridge::NativeTask;

    const FLAGS: &str = r#"
[routes.ping]
path = "/api/1/ping"
methods = ["GET"]
native = 100

[routes.info]
path = "/api/1/info"
methods = ["GET"]
native = 0
shadow = true

[routes.mappings]
path = "/api/1/assets/locationmappings"
methods = ["POST"]
native = 100
async = true

[routes.ws]
path = "/ws"
websocket = "merge"
"#;

    fn limits() -> Limits {
        Limits { max_body: 4 << 20, body_limits: Arc::new([]), native_body: 100 }
    }
    const TASK_BASE: u64 = 1_000_000_000;

    struct Case<'a> {
        method: Method,
        path: &'a str,
        headers: HeaderMap,
        body_len: Option<u64>,
        upgrade: bool,
        shadow_room: bool,
    }

    fn case(method: Method, path: &str) -> Case<'_> {
        Case { method, path, headers: HeaderMap::new(), body_len: Some(0), upgrade: false, shadow_room: true }
    }

    fn admit_case(c: &Case<'_>) -> Admission {
        let snapshot = crate::flags::compile("flags.toml".as_ref(), FLAGS, &Registry::builtin(), 1).unwrap();
        let tasks = Tasks::new(TASK_BASE, 10, Duration::from_secs(60));
        let head = Head {
            method: &c.method,
            path: c.path,
            headers: &c.headers,
            peer: "10.0.0.1".parse().unwrap(),
            body_len: c.body_len,
            upgrade: c.upgrade,
        };
        admit(&snapshot, &limits(), &Front::default(), &tasks, |id| id == 5, &head, c.shadow_room)
    }

    fn native(a: &Admission) -> Option<NativeCall> {
        match a.action {
            Action::Native(call) => Some(call),
            _ => None,
        }
    }

    #[test]
    fn a_client_id_is_kept_and_a_missing_or_empty_one_is_made() {
        let mut c = case(Method::GET, "/api/1/ping");
        c.headers.append("x-request-id", HeaderValue::from_static(""));
        c.headers.append("x-request-id", HeaderValue::from_static("abc-1"));
        let a = admit_case(&c);
        assert_eq!((a.request_id.as_str(), a.generated_id), ("abc-1", false));
        let a = admit_case(&case(Method::GET, "/api/1/ping"));
        assert_eq!((a.request_id.as_str().len(), a.generated_id), (32, true));
    }

    #[test]
    fn labels_come_from_flags_then_the_inventory() {
        assert_eq!(admit_case(&case(Method::GET, "/api/1/ping")).label.name(), "ping");
        assert_eq!(admit_case(&case(Method::GET, "/api/1/settings")).label.kind(), crate::stats::Kind::Inventory);
        assert_eq!(admit_case(&case(Method::GET, "/nowhere")).label.name(), "unmatched");
    }

    #[test]
    fn a_declared_body_over_the_limit_is_refused_wherever_it_goes() {
        for path in ["/api/1/ping", "/nowhere", "/api/1/tasks/1000000001"] {
            let mut c = case(Method::GET, path);
            c.body_len = Some((4 << 20) + 1);
            let a = admit_case(&c);
            assert!(matches!(a.action, Action::Refuse(Failure::TooLarge(n)) if n == 4 << 20), "{path}");
            assert_eq!(a.backend(), Backend::Legacy);
            // Counted under its route all the same.
            assert_ne!(a.label.name(), "", "{path}");
        }
        let mut c = case(Method::GET, "/nowhere");
        c.body_len = Some(4 << 20);
        assert!(matches!(admit_case(&c).action, Action::Legacy));
    }

    #[test]
    fn the_task_space_is_the_bridges_for_native_ids_and_the_list() {
        let target = |m, p| match admit_case(&case(m, p)).action {
            Action::Tasks(t) => Some(t),
            _ => None,
        };
        assert_eq!(target(Method::GET, "/api/1/tasks"), Some(tasks_bridge::Target::List));
        let native = |t| Some(tasks_bridge::Target::Native(t));
        assert_eq!(target(Method::GET, "/api/1/tasks/1000000007"), native(NativeTask::Poll(1000000007)));
        assert_eq!(target(Method::HEAD, "/api/1/tasks/01000000007"), native(NativeTask::Poll(1000000007)));
        assert_eq!(target(Method::DELETE, "/api/1/tasks/1000000007"), native(NativeTask::Cancel(1000000007)));
        // Legacy's ids, and what the bridge does not answer, are routed as usual.
        assert!(target(Method::GET, "/api/1/tasks/12").is_none());
        assert!(target(Method::POST, "/api/1/tasks").is_none());
        assert!(target(Method::GET, "/api/1/tasks/12x").is_none());
        let poll = admit_case(&case(Method::GET, "/api/1/tasks/1000000007"));
        assert_eq!(poll.backend(), Backend::Native);
        assert_eq!(admit_case(&case(Method::GET, "/api/1/tasks")).backend(), Backend::Legacy);
    }

    #[test]
    fn the_user_lifecycle_is_the_session_bridges_and_never_shadowed() {
        let step = |m, p| match admit_case(&case(m, p)) {
            Admission { action: Action::Session(s), shadow: ShadowPlan::Off, .. } => Some(s),
            _ => None,
        };
        assert_eq!(step(Method::PUT, "/api/1/users"), Some(session::Step::Create));
        assert_eq!(step(Method::POST, "/api/1/users/ann"), Some(session::Step::Login("ann".into())));
        assert_eq!(step(Method::PATCH, "/api/1/users/ann/password"), Some(session::Step::Password("ann".into())));
        // Legacy task 5 is an async login's: its poll tells the bridge the outcome.
        assert_eq!(step(Method::GET, "/api/1/tasks/5"), Some(session::Step::Task(5)));
        assert_eq!(step(Method::GET, "/api/1/tasks/6"), None);
        assert_eq!(step(Method::GET, "/api/1/users"), None);
        let mut big = case(Method::POST, "/api/1/users/ann");
        big.body_len = Some((4 << 20) + 1);
        assert!(matches!(admit_case(&big).action, Action::Refuse(_)), "the size limit comes first");
    }

    #[test]
    fn a_handshake_goes_to_the_bridge_or_to_legacy_even_on_a_native_route() {
        let mut c = case(Method::GET, "/ws");
        c.upgrade = true;
        let a = admit_case(&c);
        assert!(matches!(a.action, Action::Websocket(WebsocketMode::Merge)));
        assert_eq!(a.backend(), Backend::Native);
        let mut c = case(Method::GET, "/api/1/ping");
        c.upgrade = true;
        assert!(matches!(admit_case(&c).action, Action::Legacy));
    }

    #[test]
    fn shadowing_captures_only_what_a_copy_can_carry() {
        let plan = |room: bool, body_len: Option<u64>| {
            let mut c = case(Method::GET, "/api/1/info");
            (c.shadow_room, c.body_len) = (room, body_len);
            admit_case(&c).shadow
        };
        assert!(matches!(plan(true, Some(10)), ShadowPlan::Capture(_)));
        assert!(matches!(plan(false, Some(10)), ShadowPlan::Dropped(l) if l.name() == "info"));
        assert!(matches!(plan(true, None), ShadowPlan::Dropped(_)));
        assert!(matches!(plan(true, Some(shadow::MAX_BODY as u64 + 1)), ShadowPlan::Dropped(_)));
        // Not a shadowed method, not a shadowed route.
        assert!(matches!(admit_case(&case(Method::POST, "/api/1/info")).shadow, ShadowPlan::Off));
        assert!(matches!(admit_case(&case(Method::GET, "/api/1/ping")).shadow, ShadowPlan::Off));
    }

    #[test]
    fn native_takes_what_its_handler_can_read() {
        let a = admit_case(&case(Method::POST, "/api/1/assets/locationmappings"));
        assert_eq!(native(&a).map(|n| n.async_query), Some(true));
        assert_eq!(native(&admit_case(&case(Method::GET, "/api/1/ping"))).map(|n| n.async_query), Some(false));
        // Over the native limit: legacy's.
        let mut c = case(Method::GET, "/api/1/ping");
        c.body_len = Some(101);
        assert!(matches!(admit_case(&c).action, Action::Legacy));
        // A chunked body is read under the limit as it comes.
        c.body_len = None;
        assert!(native(&admit_case(&c)).is_some());
        // Not the route's method, or the flags say legacy.
        assert!(matches!(admit_case(&case(Method::POST, "/api/1/ping")).action, Action::Legacy));
        assert!(matches!(admit_case(&case(Method::GET, "/api/1/info")).action, Action::Legacy));
    }
}
