//! The request core both transports share. The byte-level passthrough (`passthrough/`) and
//! hyper's path (`proxy.rs`) are two ways of moving bytes: what a request *means* is
//! decided once, by [`Core::admit`] (`admit.rs`), and what happened to it is recorded once,
//! by [`Core::finish`]: statistics and the access line. A transport only frames, parses
//! and relays, so a rule written here holds on both paths.

mod admit;
mod front;

pub use admit::{merge_slashes, Action, Admission, Head, Limits, NativeCall, ShadowPlan};
pub use front::{strip_prefix, Front};

use std::sync::Arc;

pub use crate::access::Entry;

use crate::decide::{Backend, Headers};
use crate::flags::rollout::Streak;
use crate::flags::Snapshot;
use crate::native::tasks::Tasks;
use crate::session::Sessions;
use crate::stats::Stats;

pub struct Core {
    limits: Limits,
    /// The web app's and the upstreams' paths (rule 2 of admission).
    front: Front,
    /// Whose task ids are whose (rule 6 of admission).
    tasks: Arc<Tasks>,
    /// Which legacy task ids are async logins (rule 5).
    sessions: Arc<Sessions>,
    stats: Arc<Stats>,
    /// `[server] access_log` (None: off).
    access_log: Option<crate::access::AccessLog>,
    /// `[server] return_request_id`.
    return_request_id: bool,
    /// Woken when a guard's run of 5xx trips a route, so its rollback is written now.
    trips: Arc<tokio::sync::Notify>,
}

impl Core {
    pub fn new(
        limits: Limits,
        front: Front,
        tasks: Arc<Tasks>,
        sessions: Arc<Sessions>,
        stats: Arc<Stats>,
        access_log: Option<crate::access::AccessLog>,
        return_request_id: bool,
    ) -> Core {
        Core { limits, front, tasks, sessions, stats, access_log, return_request_id, trips: Arc::default() }
    }

    /// Whether answers carry the request's `X-Request-Id` back.
    pub fn returns_request_id(&self) -> bool {
        self.return_request_id
    }

    pub fn admit<H: Headers + ?Sized>(&self, snapshot: &Snapshot, head: &Head<'_, H>, shadow_room: bool) -> Admission {
        admit::admit(
            snapshot,
            &self.limits,
            &self.front,
            &self.tasks,
            |id| self.sessions.is_pending(id),
            head,
            shadow_room,
        )
    }

    /// Resolves when a guard's run of 5xx has tripped a route since the last call.
    pub async fn tripped(&self) {
        self.trips.notified().await
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether `finish` will want the request's path (so a path keeps a copy only then).
    pub fn logs_access(&self) -> bool {
        self.access_log.is_some()
    }

    /// The access log, if on.
    pub fn access_log(&self) -> Option<&crate::access::AccessLog> {
        self.access_log.as_ref()
    }

    /// Counts an answered request and writes its access line: the backend is who answered
    /// in the end (a native handler may have handed back), the latency runs to the
    /// answer's head (a slow client or a long body is not the backend's), and the path is
    /// the one kept while [`logs_access`](Self::logs_access) says so.
    /// `streak`: the guard's run of 5xx a native answer counts in.
    pub fn finish(&self, done: Entry<'_>, streak: Option<&Streak>) {
        if let Some(streak) = streak.filter(|_| done.backend == Backend::Native) {
            if streak.answered(done.status) {
                tracing::warn!(
                    route = done.label.name(),
                    run = streak.limit,
                    "guard: native answered 5xx that many times in a row; legacy answers from now on"
                );
                self.trips.notify_one();
            }
        }
        self.stats.record(done.label, done.backend, done.status, done.latency);
        if let Some(log) = &self.access_log {
            log.log(&done);
        }
    }
}
