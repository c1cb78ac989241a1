//! Feature flags: the file model, its validation and compilation into an immutable
//! [`Snapshot`], the store every request reads it from, and the watcher that reloads it.

mod compile;
mod diff;
mod edit;
pub mod managed;
mod model;
pub mod rollout;
mod store;
mod watch;

use std::net::IpAddr;
use std::path::PathBuf;

use http::{HeaderName, Method};

pub use compile::{compile, compile_after};
pub use edit::EditError;
pub use store::{FlagsStore, Override, ReloadOutcome, ReloadStatus};
pub use watch::{spawn_watcher, Watching};

use crate::decide::{decide, Backend, Headers, Sticky};
use crate::native::HandlerId;
use crate::routes::{MethodSet, RouteTable};

/// One generation of flags, compiled. Requests load it once at their start and keep it,
/// so a reload never changes the routing of a request in flight.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub source: PathBuf,
    /// The SHA-256 of the file compiled (hex): replicas serving the same file report the
    /// same one, whatever their generation numbers.
    pub sha256: String,
    pub legacy_only: bool,
    pub override_header: Option<HeaderName>,
    pub default_sticky: Sticky,
    pub routes: Vec<CompiledRoute>,
    table: RouteTable,
}

#[derive(Debug, Clone)]
pub struct CompiledRoute {
    pub name: String,
    /// `name`, interned: the route's statistics and metrics label.
    pub label: crate::stats::Label,
    pub path: String,
    pub methods: MethodSet,
    /// As written, for display: 12.5 means 12.5 %.
    pub native_percent: f64,
    /// Buckets out of 10,000 that go native: `round(native_percent * 100)`.
    pub threshold: u32,
    pub sticky: Sticky,
    pub group: String,
    /// The native handler that serves every method of this route, if one does.
    pub handler: Option<HandlerId>,
    /// How banyan carries a websocket handshake on this route (`None`: through to legacy
    /// untouched).
    pub websocket: Option<WebsocketMode>,
    /// The native handler takes `async_query` here (`async = true`).
    pub async_query: bool,
    /// Compare both backends on this route's requests (`shadow = true`).
    pub shadow: Option<std::sync::Arc<rollout::ShadowSettings>>,
    pub guard: Option<rollout::GuardSettings>,
    /// The guard's run of native 5xx answers (`guard.consecutive_errors`), for this
    /// generation.
    pub streak: Option<std::sync::Arc<rollout::Streak>>,
    pub ramp: Option<rollout::RampSettings>,
    /// `shadow_ignore`: pointers shadow and `banyan replay` leave out of comparisons.
    pub compare_ignore: std::sync::Arc<[String]>,
    /// `record = N`: keep the last N exchanges (None, or 0: record nothing).
    pub record: Option<u32>,
}

/// A websocket route's `websocket` setting (`docs/flags.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebsocketMode {
    /// Banyan's own websocket to legacy, frames carried both ways.
    Relay,
    /// Relay, with the native notifier's messages interleaved.
    Merge,
    /// The native notifier alone.
    Native,
}

impl WebsocketMode {
    pub fn parse(s: &str) -> Option<WebsocketMode> {
        match s {
            "relay" => Some(WebsocketMode::Relay),
            "merge" => Some(WebsocketMode::Merge),
            "native" => Some(WebsocketMode::Native),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebsocketMode::Relay => "relay",
            WebsocketMode::Merge => "merge",
            WebsocketMode::Native => "native",
        }
    }
}

/// The outcome of routing one request.
#[derive(Debug, Clone, Copy)]
pub struct Routed<'s> {
    pub route: Option<&'s CompiledRoute>,
    pub backend: Backend,
}

impl Snapshot {
    /// Matches the request and decides its backend. Unmatched requests go to legacy.
    pub fn route(&self, method: &Method, path: &str, headers: &(impl Headers + ?Sized), peer: IpAddr) -> Routed<'_> {
        match self.table.lookup(path, method) {
            Some(i) => {
                let route = &self.routes[i];
                Routed { route: Some(route), backend: decide(self, route, headers, peer) }
            }
            None => Routed { route: None, backend: Backend::Legacy },
        }
    }
}
