//! The websocket sessions banyan holds open. Each runs as a task of its own after the HTTP
//! connection handed it the socket, so shutdown waits for them here: a worker thread only
//! ends once every session has sent its close (1001) or the drain timeout passes. They
//! are also counted per route and mode, for `banyan_websocket_connections`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::flags::WebsocketMode;
use crate::stats::Label;

#[derive(Default)]
pub struct Sessions {
    open: AtomicUsize,
    changed: Notify,
    by_route: Mutex<BTreeMap<(Label, &'static str), usize>>,
}

/// Counts a session as open until dropped.
pub struct Session {
    sessions: Arc<Sessions>,
    key: (Label, &'static str),
}

impl Sessions {
    pub fn enter(self: &Arc<Sessions>, label: Label, mode: WebsocketMode) -> Session {
        self.open.fetch_add(1, Ordering::AcqRel);
        let key = (label, mode.as_str());
        *self.counts().entry(key).or_default() += 1;
        Session { sessions: self.clone(), key }
    }

    /// Open sessions per route label and mode (a pair once seen stays, at 0).
    pub fn by_route(&self) -> Vec<(Label, &'static str, usize)> {
        self.counts().iter().map(|(&(l, m), &n)| (l, m, n)).collect()
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Label, &'static str), usize>> {
        self.by_route.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once no session is open.
    pub async fn all_closed(&self) {
        loop {
            let changed = self.changed.notified();
            if self.open() == 0 {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(n) = self.sessions.counts().get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
        if self.sessions.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sessions.changed.notify_waiters();
        }
    }
}
