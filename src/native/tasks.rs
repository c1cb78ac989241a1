//! Native async tasks, with rotki's task semantics (tasks.md): an `async_query` request
//! answers `{"task_id": N}` at once and the work runs as a task; polling a completed task
//! returns its outcome once and forgets it; a pending one can be cancelled, which drops its
//! future (and so interrupts the SQLite query it runs). Native ids start at a base legacy
//! never reaches, so `/api/1/tasks/{id}` can go to whichever side owns the id.
//! Bounded: at most `max_pending` pending tasks, unread results expire, and at most
//! `MAX_KEPT` tasks are kept.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indexmap::IndexMap;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// What a task's command returned: the `{"result", "message"}` of its synchronous answer
/// (as `json.dumps` wrote it, key order included), and the status code when the command
/// carried one.
pub struct TaskOutcome {
    pub outcome: String,
    pub status_code: Option<u16>,
}

/// Tasks kept at most, pending and unread together.
const MAX_KEPT: usize = 10_000;

pub struct Tasks {
    base: u64,
    next: AtomicU64,
    max_pending: usize,
    ttl: Duration,
    /// In spawn order, as rotki lists them.
    entries: Mutex<IndexMap<u64, Entry>>,
}

enum Entry {
    Pending(AbortHandle),
    Completed(TaskOutcome, Instant),
}

/// What a poll found.
pub enum Poll {
    Pending,
    Completed(TaskOutcome),
    NotFound,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} native tasks are pending already; try again later")]
pub struct TooMany(pub usize);

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").field("base", &self.base).field("next", &self.next).finish()
    }
}

impl Tasks {
    pub fn new(base: u64, max_pending: usize, ttl: Duration) -> Arc<Tasks> {
        Arc::new(Tasks { base, next: AtomicU64::new(base), max_pending, ttl, entries: Mutex::default() })
    }

    /// Whether `id` is a native task's (legacy's ids stay below the base).
    pub fn owns(&self, id: u64) -> bool {
        id >= self.base
    }

    /// Runs `work` as a task on the current runtime; its id.
    pub fn spawn<F>(self: &Arc<Self>, work: F) -> Result<u64, TooMany>
    where
        F: Future<Output = TaskOutcome> + Send + 'static,
    {
        let mut entries = self.lock();
        self.expire(&mut entries);
        let pending = entries.values().filter(|e| matches!(e, Entry::Pending(_))).count();
        if pending >= self.max_pending {
            return Err(TooMany(pending));
        }
        // Unread results are bounded in number too, not only in age: the oldest go first.
        while entries.len() >= MAX_KEPT {
            let Some(oldest) = entries.iter().find(|(_, e)| matches!(e, Entry::Completed(..))).map(|(id, _)| *id)
            else {
                break;
            };
            entries.shift_remove(&oldest);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let tasks = self.clone();
        let handle = tokio::spawn(async move {
            let outcome = work.await;
            // A task cancelled meanwhile left the list; its result is not kept.
            if let Some(entry) = tasks.lock().get_mut(&id) {
                *entry = Entry::Completed(outcome, Instant::now());
            }
        });
        entries.insert(id, Entry::Pending(handle.abort_handle()));
        Ok(id)
    }

    /// Pending and completed ids, in spawn order.
    pub fn list(&self) -> (Vec<u64>, Vec<u64>) {
        let mut entries = self.lock();
        self.expire(&mut entries);
        let (mut pending, mut completed) = (Vec::new(), Vec::new());
        for (id, e) in entries.iter() {
            match e {
                Entry::Pending(_) => pending.push(*id),
                Entry::Completed(..) => completed.push(*id),
            }
        }
        (pending, completed)
    }

    /// A task's state; a completed task's outcome is handed out once.
    pub fn poll(&self, id: u64) -> Poll {
        let mut entries = self.lock();
        self.expire(&mut entries);
        match entries.get(&id) {
            None => Poll::NotFound,
            Some(Entry::Pending(_)) => Poll::Pending,
            Some(Entry::Completed(..)) => match entries.shift_remove(&id) {
                Some(Entry::Completed(outcome, _)) => Poll::Completed(outcome),
                _ => Poll::NotFound,
            },
        }
    }

    /// Cancels a pending task; false for any other id (a completed, unread task stays).
    pub fn cancel(&self, id: u64) -> bool {
        let mut entries = self.lock();
        if !matches!(entries.get(&id), Some(Entry::Pending(_))) {
            return false;
        }
        if let Some(Entry::Pending(handle)) = entries.shift_remove(&id) {
            handle.abort();
        }
        true
    }

    /// Cancels every pending task and forgets every result: what rotki does to its own
    /// tasks at a logout. The number of tasks ended.
    pub fn end_all(&self) -> usize {
        let ended = std::mem::take(&mut *self.lock());
        for entry in ended.values() {
            if let Entry::Pending(handle) = entry {
                handle.abort();
            }
        }
        ended.len()
    }

    fn expire(&self, entries: &mut IndexMap<u64, Entry>) {
        entries.retain(|_, e| !matches!(e, Entry::Completed(_, at) if at.elapsed() >= self.ttl));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn done(v: serde_json::Value) -> TaskOutcome {
        TaskOutcome { outcome: v.to_string(), status_code: None }
    }

    #[tokio::test]
    async fn ids_states_one_shot_reads_and_cancel() {
        let tasks = Tasks::new(1_000_000_000, 2, Duration::from_secs(60));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let quick = tasks.spawn(async { done(json!({"result": 1, "message": ""})) }).unwrap();
        let slow = tasks
            .spawn(async move {
                let _ = rx.await;
                done(json!(null))
            })
            .unwrap();
        assert_eq!((quick, slow), (1_000_000_000, 1_000_000_001));
        assert!(tasks.spawn(async { done(json!(null)) }).is_err(), "over the pending bound");
        tokio::task::yield_now().await;
        assert_eq!(tasks.list(), (vec![slow], vec![quick]));
        assert!(matches!(tasks.poll(quick), Poll::Completed(o) if o.outcome == r#"{"result":1,"message":""}"#));
        assert!(matches!(tasks.poll(quick), Poll::NotFound), "read once");
        assert!(matches!(tasks.poll(slow), Poll::Pending));
        assert!(tasks.cancel(slow));
        assert!(!tasks.cancel(slow));
        assert!(matches!(tasks.poll(slow), Poll::NotFound));
        drop(tx);
        assert!(tasks.owns(slow) && !tasks.owns(999_999_999));
    }
}
