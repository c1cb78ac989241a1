//! Hot reload. The watcher follows the flags file's directory, not the file: editors and
//! Kubernetes replace files (rename, `..data` symlink swaps) rather than write them, and a
//! watch on the old inode would go quiet. Events are coalesced for a few milliseconds so
//! an editor's write-then-rename applies once, and a file written in place is read only
//! once its writer has closed it and it has been still for a moment, so a half-written
//! save is never compiled. In a ConfigMap volume the watch is on the volume's root, which
//! outlives every version. SIGHUP forces a re-read, also when the watcher could not start.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::managed::{self, Manager};
use super::FlagsStore;

/// Quiet time after the last event before the file is read.
const SETTLE: Duration = Duration::from_millis(5);
/// Upper bound on coalescing, so a steady stream of events still applies.
const MAX_DELAY: Duration = Duration::from_millis(25);
/// How long a file written in place may stay open before it is read anyway.
const MAX_WRITING: Duration = Duration::from_millis(500);

/// What an event says about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Written in place; the writer may not be done.
    Writing,
    /// Complete: the writer closed it, or it was created, renamed or removed.
    Done,
}

/// Starts the reload loop (file events and SIGHUP). Returns the watcher, which must be
/// kept alive, or `None` when the directory cannot be watched: then only SIGHUP reloads.
/// Signal handlers are installed before this returns, so a SIGHUP never kills banyan.
pub fn spawn_watcher(store: Arc<FlagsStore>) -> Option<notify::RecommendedWatcher> {
    for warning in managed::start_warnings(store.path()) {
        tracing::warn!("{warning}");
    }
    if let Ok(Manager::Elsewhere { message, .. }) = store.manager() {
        tracing::info!("{message}; the admin API will not change them, and a guard's rollback is held in memory");
    }
    let hangup = hangup_signal();
    let (tx, rx) = mpsc::unbounded_channel::<Change>();
    let watcher = match watch(store.path(), tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(file = %store.path().display(), "cannot watch the flags file ({e}); reload with SIGHUP");
            None
        }
    };
    tokio::spawn(reload_loop(store, rx, hangup));
    watcher
}

fn watch(path: &Path, tx: mpsc::UnboundedSender<Change>) -> notify::Result<notify::RecommendedWatcher> {
    // In a ConfigMap volume, its root: the directory the file is named through may be a
    // link into one version, which kubelet deletes on the next update, and the watch with it.
    let dir = managed::configmap_dir(path).unwrap_or_else(|| managed::parent(path));
    let name: OsString = path.file_name().map(OsString::from).unwrap_or_default();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) => {
            if let Some(change) = classify(&event, &name) {
                let _ = tx.send(change);
            }
        }
        Err(e) => tracing::warn!("flags watcher error: {e}"),
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

fn classify(event: &notify::Event, name: &OsString) -> Option<Change> {
    let ours = event.paths.iter().any(|p| match p.file_name() {
        // `..data` and `..<timestamp>` are how a Kubernetes ConfigMap mount swaps content.
        Some(f) => f == name.as_os_str() || f.to_string_lossy().starts_with(".."),
        None => false,
    });
    if !ours {
        return None;
    }
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Change::Done),
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => None,
        EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) => Some(Change::Writing),
        _ => Some(Change::Done),
    }
}

async fn reload_loop(store: Arc<FlagsStore>, mut events: mpsc::UnboundedReceiver<Change>, mut hangup: Hangup) {
    // An edit between the initial load and the watch would otherwise wait for the next one.
    reload(&store, &mut events).await;
    loop {
        tokio::select! {
            got = events.recv() => match got {
                Some(change) => settle(&mut events, change).await,
                None => std::future::pending::<()>().await,
            },
            _ = recv_hangup(&mut hangup) => {
                tracing::info!("SIGHUP: re-reading flags");
            }
        }
        reload(&store, &mut events).await;
    }
}

/// How long notify may take to hand over an event the kernel already raised.
const EVENT_LAG: Duration = Duration::from_millis(2);

/// How long the file must have gone unmodified before it is read: a save that truncated
/// it and has not written it yet is then done, even where its events are late.
const QUIET: Duration = Duration::from_millis(10);

/// Reads the file and applies it, unless a new write began meanwhile: a writer that
/// truncated the file just before the read would otherwise get an empty file applied.
async fn reload(store: &Arc<FlagsStore>, events: &mut mpsc::UnboundedReceiver<Change>) {
    loop {
        until_still(store.path()).await;
        let reader = store.clone();
        let writes = store.writes();
        // A blocking file read; keep it off the request workers.
        let Ok(read) = tokio::task::spawn_blocking(move || reader.read()).await else {
            return;
        };
        tokio::time::sleep(EVENT_LAG).await;
        match events.try_recv() {
            Ok(change) => settle(events, change).await,
            Err(_) => {
                store.apply_read(read, writes);
                return;
            }
        }
    }
}

/// Waits until the file was last modified `QUIET` ago (within `MAX_WRITING`; a
/// modification time in the future does not hold it up).
async fn until_still(path: &Path) {
    let deadline = Instant::now() + MAX_WRITING;
    loop {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok());
        match age {
            Some(age) if age < QUIET && Instant::now() < deadline => tokio::time::sleep(QUIET - age).await,
            _ => return,
        }
    }
}

/// Waits until events stop for `SETTLE` and the last one says the file is complete, within
/// `MAX_DELAY` (or `MAX_WRITING` while a writer still has the file open).
async fn settle(events: &mut mpsc::UnboundedReceiver<Change>, mut last: Change) {
    let start = Instant::now();
    loop {
        let budget = if last == Change::Writing { MAX_WRITING } else { MAX_DELAY };
        let wait = SETTLE.min((start + budget).saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            return;
        }
        match tokio::time::timeout(wait, events.recv()).await {
            Ok(Some(change)) => last = change,
            Ok(None) => return,
            Err(_) if last == Change::Writing => continue,
            Err(_) => return,
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn recv_hangup(h: &mut Hangup) {
    match h {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
#[cfg(not(unix))]
async fn recv_hangup(_: &mut Hangup) {
    std::future::pending().await
}
