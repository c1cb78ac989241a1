//! Hot reload. The watcher follows the flags file's directory, not the file: editors and
//! Kubernetes replace files (rename, `..data` symlink swaps) rather than write them, and a
//! watch on the old inode would go quiet. Events are coalesced for a few milliseconds so
//! an editor's write-then-rename applies once; SIGHUP forces a re-read.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::FlagsStore;

/// Quiet time after the last event before the file is read.
const SETTLE: Duration = Duration::from_millis(5);
/// Upper bound on coalescing, so a steady stream of events still applies.
const MAX_DELAY: Duration = Duration::from_millis(25);

/// Starts watching; the returned watcher must be kept alive for as long as reloads should
/// happen.
pub fn spawn_watcher(store: Arc<FlagsStore>) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::unbounded_channel::<()>();
    let dir = match store.path().parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let name: OsString = store.path().file_name().map(OsString::from).unwrap_or_default();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) if relevant(&event, &name) => {
            let _ = tx.send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("flags watcher error: {e}"),
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(reload_loop(store, rx));
    Ok(watcher)
}

fn relevant(event: &notify::Event, name: &OsString) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|p| match p.file_name() {
        // `..data` and `..<timestamp>` are how a Kubernetes ConfigMap mount swaps content.
        Some(f) => f == name.as_os_str() || f.to_string_lossy().starts_with(".."),
        None => false,
    })
}

async fn reload_loop(store: Arc<FlagsStore>, mut events: mpsc::UnboundedReceiver<()>) {
    let mut hangup = hangup_signal();
    loop {
        tokio::select! {
            got = events.recv() => {
                if got.is_none() {
                    return;
                }
                settle(&mut events).await;
            }
            _ = recv_hangup(&mut hangup) => {
                tracing::info!("SIGHUP: re-reading flags");
            }
        }
        let store = store.clone();
        // The read is a blocking file read; keep it off the request workers.
        let _ = tokio::task::spawn_blocking(move || store.reload()).await;
    }
}

async fn settle(events: &mut mpsc::UnboundedReceiver<()>) {
    let deadline = tokio::time::Instant::now() + MAX_DELAY;
    loop {
        let wait = SETTLE.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, events.recv()).await {
            Ok(Some(())) if tokio::time::Instant::now() < deadline => continue,
            _ => return,
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
