//! Native reads of rotki's `global/global.db` under `--data-dir`: plain SQLite in WAL mode,
//! which legacy keeps writing. Native code reads it through a few read-only connections,
//! each query on a blocking thread, so a slow query never holds up other requests (no
//! progress-handler hack: the runtime is never blocked). A query whose caller goes away
//! (the client disconnected, the handler timed out, a task was deleted) is interrupted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

/// Read-only connections at most, so slow queries cannot take every blocking thread.
const CONNECTIONS: usize = 4;

pub struct GlobalDb {
    path: PathBuf,
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
    /// Queries on a blocking thread now (for the admin API).
    running: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file cannot be opened: legacy should answer instead.
    #[error("cannot open {0}: {1}")]
    Open(PathBuf, rusqlite::Error),
    /// The query failed; SQLite's message, as rotki's 500 would carry it.
    #[error("{0}")]
    Query(String),
}

impl std::fmt::Debug for GlobalDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalDb").field("path", &self.path).finish()
    }
}

impl GlobalDb {
    /// `<data_dir>/global/global.db`; opened on first use.
    pub fn new(data_dir: &std::path::Path) -> Arc<GlobalDb> {
        Arc::new(GlobalDb {
            path: data_dir.join("global").join("global.db"),
            permits: Semaphore::new(CONNECTIONS),
            idle: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Queries running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Runs `query` on a read-only connection on a blocking thread. Dropping the returned
    /// future interrupts the query.
    pub async fn read<T, F>(self: &Arc<Self>, query: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.expect("never closed");
        let conn = match self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(c) => c,
            None => self.open()?,
        };
        let interrupt = Interrupt(conn.get_interrupt_handle(), true);
        let this = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            this.running.fetch_add(1, Ordering::Relaxed);
            let result = query(&conn);
            this.running.fetch_sub(1, Ordering::Relaxed);
            this.idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await;
        interrupt.disarm();
        match joined {
            Ok(result) => result.map_err(DbError::Query),
            Err(e) => Err(DbError::Query(format!("query failed: {e}"))),
        }
    }

    fn open(&self) -> Result<Connection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Connection::open_with_flags(&self.path, flags).map_err(|e| DbError::Open(self.path.clone(), e))
    }
}

/// Interrupts the query when dropped while armed (the caller went away mid-query).
struct Interrupt(rusqlite::InterruptHandle, bool);

impl Interrupt {
    fn disarm(mut self) {
        self.1 = false;
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        if self.1 {
            tracing::info!("global.db query interrupted: its caller went away");
            self.0.interrupt();
        }
    }
}
