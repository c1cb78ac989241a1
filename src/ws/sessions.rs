//! The websocket sessions banyan holds open. Each runs as a task of its own after the HTTP
//! connection handed it the socket, so shutdown waits for them here: a worker thread only
//! ends once every session has sent its close (1001) or the drain timeout passes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Sessions {
    open: AtomicUsize,
    changed: Notify,
}

/// Counts a session as open until dropped.
pub struct Session(Arc<Sessions>);

impl Sessions {
    pub fn enter(self: &Arc<Sessions>) -> Session {
        self.open.fetch_add(1, Ordering::AcqRel);
        Session(self.clone())
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
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.changed.notify_waiters();
        }
    }
}
