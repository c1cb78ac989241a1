//! Native reads of rotki's databases, which legacy keeps writing in WAL mode: the plain
//! SQLite `global/global.db` under `--data-dir`, and the logged-in user's SQLCipher
//! `users/<name>/rotkehlchen.db`. Native code reads one through a few read-only
//! connections, each query on a blocking thread, so a slow query never holds up other
//! requests (no yielding inside statements as legacy's hack does: the runtime never runs a
//! query). Each query is its own read transaction, so it sees everything legacy committed
//! before it started. A query whose caller goes away (the client disconnected, the handler
//! timed out, a task was deleted) is interrupted: its progress handler checks the query's
//! own cancel flag.
//!
//! A result worth keeping (a sorted scan of every asset) can be kept until the database
//! changes (`read_cached`, `cache.rs`).

mod cache;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Read-only connections at most, so slow queries cannot take every blocking thread.
const CONNECTIONS: usize = 4;
/// SQLite virtual-machine instructions between checks of a query's cancel flag.
const CHECK_EVERY: std::ffi::c_int = 1000;

pub struct ReadDb {
    path: PathBuf,
    /// The SQLCipher key statement (`PRAGMA key='...'`) for an encrypted database; wiped
    /// from memory when the last handle goes.
    key: Option<Zeroizing<String>>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Pooled>>,
    /// Results kept until the database changes.
    cache: cache::Cache,
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

impl std::fmt::Debug for ReadDb {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDb").field("path", &self.path).field("encrypted", &self.key.is_some()).finish()
    }
}

impl ReadDb {
    /// rotki's `<data_dir>/global/global.db`; opened on first use.
    pub fn global(data_dir: &std::path::Path) -> Arc<ReadDb> {
        ReadDb::new(data_dir.join("global").join("global.db"), None)
    }

    /// A SQLCipher database keyed with `password` as rotki keys it: the password inside
    /// single quotes, each of its own single quotes doubled, and SQLCipher 4's default
    /// cipher settings. Checked at once: a wrong key or a missing file is an error here,
    /// not on the first read.
    pub fn encrypted(path: PathBuf, password: &str) -> Result<Arc<ReadDb>, DbError> {
        let mut key = Zeroizing::new(String::with_capacity(password.len() + 16));
        key.push_str("PRAGMA key='");
        for c in password.chars() {
            if c == '\'' {
                key.push('\'');
            }
            key.push(c);
        }
        key.push_str("';");
        let db = ReadDb::new(path, Some(key));
        let conn = db.open()?;
        db.idle.lock().unwrap_or_else(|e| e.into_inner()).push(Pooled { conn, version: None });
        Ok(db)
    }

    fn new(path: PathBuf, key: Option<Zeroizing<String>>) -> Arc<ReadDb> {
        Arc::new(ReadDb {
            path,
            key,
            permits: Arc::new(Semaphore::new(CONNECTIONS)),
            idle: Mutex::new(Vec::new()),
            cache: cache::Cache::default(),
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
    /// future cancels the query: a flag its progress handler checks, set for this query
    /// only and seen by every statement it runs, so a cancel neither gets lost between
    /// statements nor reaches the next query on the same connection. The connection's
    /// permit goes with the query, so the bound holds even for abandoned queries.
    pub async fn read<T, F>(self: &Arc<Self>, query: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    {
        self.on_connection(|pooled, _| query(&pooled.conn)).await
    }

    /// Like [`read`](Self::read), but a result computed under the same `key` since the
    /// database last changed is reused (no query at all). Whether it changed is asked of
    /// SQLite on the connection itself (`PRAGMA data_version`, which moves with every
    /// commit of another connection or process), before the cache is looked at, so a write
    /// legacy committed before this call is always seen. `weight` (about a row each) bounds
    /// what the cache holds.
    pub async fn read_cached<T, F>(
        self: &Arc<Self>,
        key: String,
        weight: fn(&T) -> usize,
        query: F,
    ) -> Result<Arc<T>, DbError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&Connection) -> Result<T, String> + Send + 'static,
    {
        self.with_cached(key, weight, query, |value| value.clone()).await
    }

    /// [`read_cached`](Self::read_cached), then `then` on the result, on the same blocking
    /// thread (work on the rows, such as serializing them, costs no second hop).
    pub async fn with_cached<T, R, F, G>(
        self: &Arc<Self>,
        key: String,
        weight: fn(&T) -> usize,
        query: F,
        then: G,
    ) -> Result<R, DbError>
    where
        T: Send + Sync + 'static,
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, String> + Send + 'static,
        G: FnOnce(&Arc<T>) -> R + Send + 'static,
    {
        self.on_connection(move |pooled, db| {
            let version: i64 = pooled
                .conn
                .prepare_cached("PRAGMA data_version")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(|e| e.to_string())?;
            // A connection's first look has nothing to compare with: what the cache holds may
            // predate a change this connection cannot see, so it starts a new generation.
            if pooled.version.replace(version) != Some(version) {
                db.cache.invalidate();
            }
            let generation = db.cache.generation();
            let value = match db.cache.get::<T>(&key, generation) {
                Some(hit) => hit,
                None => {
                    let value = Arc::new(query(&pooled.conn)?);
                    db.cache.put(key, generation, value.clone(), weight(&value));
                    value
                }
            };
            Ok(then(&value))
        })
        .await
    }

    /// Runs `work` with a pooled connection on a blocking thread (see [`read`](Self::read)).
    async fn on_connection<T, F>(self: &Arc<Self>, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Pooled, &ReadDb) -> Result<T, String> + Send + 'static,
    {
        let permit = self.permits.clone().acquire_owned().await.expect("never closed");
        let mut pooled = match self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(c) => c,
            None => Pooled { conn: self.open()?, version: None },
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let guard = Cancel(cancel.clone(), true);
        let this = self.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let flag = cancel.clone();
            pooled.conn.progress_handler(CHECK_EVERY, Some(move || flag.load(Ordering::Relaxed)));
            this.running.fetch_add(1, Ordering::Relaxed);
            let result = work(&mut pooled, &this);
            this.running.fetch_sub(1, Ordering::Relaxed);
            pooled.conn.progress_handler(0, None::<fn() -> bool>);
            if cancel.load(Ordering::Relaxed) {
                tracing::info!(db = %this.path.display(), "query interrupted: its caller went away");
            }
            this.idle.lock().unwrap_or_else(|e| e.into_inner()).push(pooled);
            drop(permit);
            result
        })
        .await;
        guard.disarm();
        match joined {
            Ok(result) => result.map_err(DbError::Query),
            Err(e) => Err(DbError::Query(format!("query failed: {e}"))),
        }
    }

    fn open(&self) -> Result<Connection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let failed = |e| DbError::Open(self.path.clone(), e);
        let conn = Connection::open_with_flags(&self.path, flags).map_err(failed)?;
        if let Some(key) = &self.key {
            conn.execute_batch(key).map_err(failed)?;
            // A wrong key is our error to report, in our words: SQLCipher would also print
            // its own lines about it to stderr. (Keying sets SQLCipher up, levels included.)
            conn.execute_batch("PRAGMA cipher_log_level = NONE;").map_err(failed)?;
            // SQLCipher checks the key on the first read of a page: do one now.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())).map_err(failed)?;
        }
        Ok(conn)
    }
}

/// An idle connection, and the `data_version` it last saw (for the cache).
struct Pooled {
    conn: Connection,
    version: Option<i64>,
}

/// Cancels the query when dropped while armed (the caller went away mid-query).
struct Cancel(Arc<AtomicBool>, bool);

impl Cancel {
    fn disarm(mut self) {
        self.1 = false;
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> Result<i64, String> {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).map_err(|e| e.to_string())
    }

    /// A kept result is never served after another process's commit: not on the connection
    /// that kept it, nor on a connection opened after the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kept_result_goes_with_the_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("global")).unwrap();
        let writer = Connection::open(dir.path().join("global/global.db")).unwrap();
        writer.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        let db = ReadDb::global(dir.path());
        let kept = |db: &Arc<ReadDb>| {
            let db = db.clone();
            async move { *db.read_cached("n".into(), |_| 1, count).await.unwrap() }
        };
        assert_eq!(kept(&db).await, 1);
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(kept(&db).await, 2, "the same connection sees the commit");

        // Hold the only pooled connection busy, commit, and read on a new connection.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = {
            let db = db.clone();
            tokio::spawn(async move { db.read(move |_| wait.recv().map_err(|e| e.to_string())).await })
        };
        while db.running() == 0 {
            tokio::task::yield_now().await;
        }
        writer.execute("INSERT INTO t VALUES (3)", []).unwrap();
        assert_eq!(kept(&db).await, 3, "a new connection does not trust what was kept before it");
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
    }
}
