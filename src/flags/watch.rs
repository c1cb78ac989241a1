//! Hot reload. The watcher follows the flags file's directory, not the file: editors and
//! Kubernetes replace files (rename, `..data` symlink swaps) rather than write them, and a
//! watch on the old inode would go quiet. Events are coalesced for a few milliseconds so
//! an editor's write-then-rename applies once, and a file written in place is read only
//! once its writer has closed it and it has been still for a moment, so a half-written
//! save is never compiled. In a ConfigMap volume the watch is on the volume's root, which
//! outlives every version. Where inotify cannot start (a busy node out of watches or
//! instances), the file is looked at every [`POLL_EVERY`] instead. SIGHUP forces a re-read
//! in every case.

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

/// How often the flags directory is polled where inotify cannot be used.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// What follows the flags file: kept alive as long as reloads should happen.
pub enum Watching {
    /// The kernel's file events (inotify).
    Events(notify::RecommendedWatcher),
    /// Polling the file, where inotify could not start.
    Poll,
}

impl Watching {
    /// How reloads are noticed, as `/api/flags` says it: `inotify` or `poll`.
    pub fn mode(&self) -> &'static str {
        match self {
            Watching::Events(_) => "inotify",
            Watching::Poll => "poll",
        }
    }
}

/// Starts the reload loop (file events and SIGHUP). Returns what watches the directory,
/// which must be kept alive. Signal handlers are installed before this returns, so a
/// SIGHUP never kills banyan.
pub fn spawn_watcher(store: Arc<FlagsStore>) -> Watching {
    for warning in managed::start_warnings(store.path()) {
        tracing::warn!("{warning}");
    }
    if let Ok(Manager::Elsewhere { message, .. }) = store.manager() {
        tracing::info!("{message}; the admin API will not change them, and a guard's rollback is held in memory");
    }
    let hangup = hangup_signal();
    let (tx, rx) = mpsc::unbounded_channel::<Change>();
    let file = store.path().display().to_string();
    let watching = match watch(store.path(), tx.clone()) {
        Ok(w) => Watching::Events(w),
        Err(e) => {
            tracing::warn!(
                file,
                "cannot watch the flags file with inotify ({e}); polling it every {} s instead",
                POLL_EVERY.as_secs()
            );
            // The first look is taken now, before the first read: an edit from then on is seen.
            let first = stamp(store.path());
            tokio::spawn(poll(store.path().to_path_buf(), first, tx));
            Watching::Poll
        }
    };
    store.set_watch_mode(watching.mode());
    tokio::spawn(reload_loop(store, rx, hangup));
    watching
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

/// What says the file changed: its modification time, length and inode, through any
/// links (a ConfigMap's swap of `..data` shows as another inode).
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Looks at the file every `POLL_EVERY` and reports a change as an event would. By hand
/// rather than notify's `PollWatcher`, which takes its first look on its own thread, later:
/// an edit made meanwhile would never be seen.
async fn poll(path: std::path::PathBuf, mut last: Stamp, tx: mpsc::UnboundedSender<Change>) {
    let mut every = tokio::time::interval(POLL_EVERY);
    loop {
        every.tick().await;
        let now = stamp(&path);
        if now != last {
            last = now;
            if tx.send(Change::Done).is_err() {
                return;
            }
        }
    }
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
    reload(&store, &mut events, false).await;
    loop {
        let hung_up = tokio::select! {
            got = events.recv() => match got {
                Some(change) => {
                    settle(&mut events, change).await;
                    false
                }
                None => std::future::pending::<bool>().await,
            },
            _ = recv_hangup(&mut hangup) => {
                tracing::info!("SIGHUP: re-reading flags");
                true
            }
        };
        reload(&store, &mut events, hung_up).await;
    }
}

/// How long notify may take to hand over an event the kernel already raised.
const EVENT_LAG: Duration = Duration::from_millis(2);

/// How long the file must have gone unmodified before it is read: a save that truncated
/// it and has not written it yet is then done, even where its events are late.
const QUIET: Duration = Duration::from_millis(10);

/// Reads the file and applies it, unless a new write began meanwhile: a writer that
/// truncated the file just before the read would otherwise get an empty file applied.
async fn reload(store: &Arc<FlagsStore>, events: &mut mpsc::UnboundedReceiver<Change>, hangup: bool) {
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
                store.apply_read(read, writes, hangup);
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
