//! The current flags snapshot and how it changes: one `ArcSwap` that requests read without
//! locks, and one reload path that either applies a whole new generation or changes
//! nothing (an invalid or missing file leaves the last good snapshot serving).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::{compile, compile_after, diff, Snapshot};
use crate::audit::{AuditLog, Origin};
use crate::location::Located;
use crate::native::Registry;

/// The reason of a re-read SIGHUP asked for.
const HANGUP: &str = "SIGHUP";

pub struct FlagsStore {
    path: PathBuf,
    registry: Arc<Registry>,
    audit: Arc<AuditLog>,
    /// Reloads applied and rejected (a missing file counts as rejected), for `/metrics`.
    applied: AtomicU64,
    rejected: AtomicU64,
    current: ArcSwap<Snapshot>,
    /// `current`'s generation, stored after it: what [`refresh`](Self::refresh) checks.
    generation: AtomicU64,
    /// Writes banyan made to the file itself, so a read taken before one is known stale.
    writes: AtomicU64,
    /// Held for the whole of a reload, so reloads apply one at a time and in order.
    state: Mutex<State>,
    /// The operator's word on where flags are managed (`flags_managed_by`), for messages.
    managed_by: Option<String>,
    /// How file changes are noticed (`inotify`, `poll`), once the watcher started.
    watch_mode: std::sync::OnceLock<&'static str>,
}

struct State {
    /// The bytes behind the current snapshot: a touch or an unrelated event in the
    /// directory re-reads the file but does not make a new generation.
    applied: Vec<u8>,
    status: ReloadStatus,
    /// Native shares held in memory over the file's (a guard's rollback where the file
    /// could not be written), each with the file's value when it was set: once the file
    /// says something else for that route, the file wins again.
    overrides: BTreeMap<String, Override>,
}

/// A native share held in memory over the file's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Override {
    pub native: f64,
    /// What the file said when the override was set.
    pub file_native: f64,
}

/// What the last reload did, for logs and the admin API.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    pub at: SystemTime,
    pub outcome: &'static str,
    pub error: Option<String>,
}

#[derive(Debug)]
pub enum ReloadOutcome {
    Applied(u64),
    Unchanged,
    Rejected(Located),
    Missing(Located),
}

impl FlagsStore {
    /// Loads the file as the generation after the last one the audit log records (1 for a
    /// new log); at start an invalid or missing file is fatal.
    pub fn load(path: &Path, registry: Arc<Registry>, audit: Arc<AuditLog>) -> Result<FlagsStore, Located> {
        let bytes = read(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| Located::whole_file(path, format!("not UTF-8: {e}")))?;
        let first = audit.last_generation() + 1;
        let snapshot = compile(path, text, &registry, first)?;
        Ok(FlagsStore {
            path: path.to_path_buf(),
            registry,
            audit,
            applied: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            current: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(first),
            writes: AtomicU64::new(0),
            state: Mutex::new(State {
                applied: bytes,
                status: ReloadStatus { at: SystemTime::now(), outcome: "applied", error: None },
                overrides: BTreeMap::new(),
            }),
            managed_by: None,
            watch_mode: std::sync::OnceLock::new(),
        })
    }

    /// Names where the flags are managed in the messages refusing a change.
    pub fn with_managed_by(mut self, managed_by: Option<String>) -> FlagsStore {
        self.managed_by = managed_by;
        self
    }

    pub fn managed_by(&self) -> Option<&str> {
        self.managed_by.as_deref()
    }

    /// Set once, by the watcher as it starts.
    pub fn set_watch_mode(&self, mode: &'static str) {
        let _ = self.watch_mode.set(mode);
    }

    /// How file changes are noticed; `None` before the watcher started.
    pub fn watch_mode(&self) -> Option<&'static str> {
        self.watch_mode.get().copied()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The snapshot a new request should use for its whole life.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces `held` with the current snapshot if flags changed since it was taken. A
    /// connection keeps its snapshot between requests this way, and the workers do not
    /// share a reference count that every request would bump.
    pub fn refresh(&self, held: &mut Arc<Snapshot>) {
        if self.generation.load(Ordering::Acquire) != held.generation {
            *held = self.snapshot();
        }
    }

    pub fn status(&self) -> ReloadStatus {
        self.lock().status.clone()
    }

    /// Re-reads the file and applies it if it changed and is valid. Logs the outcome.
    pub fn reload(&self) -> ReloadOutcome {
        self.apply(self.read())
    }

    /// Reloads applied and rejected since start.
    pub fn reloads(&self) -> (u64, u64) {
        (self.applied.load(Ordering::Relaxed), self.rejected.load(Ordering::Relaxed))
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Changes the file and applies the result as one step, under the reload lock, so the
    /// change is recorded as `origin`'s and nothing else applies in between. `edit` gets
    /// the file's bytes as they are on disk, and returns the new bytes (None: no change)
    /// after which `write` puts them on disk. The file on disk must be the one serving:
    /// an edit not yet applied (being written, or invalid) is not built upon.
    pub fn edit<E: From<String>>(
        &self,
        edit: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>, E>,
        write: impl FnOnce(&[u8]) -> Result<(), E>,
        origin: Origin<'_>,
    ) -> Result<ReloadOutcome, E> {
        let mut state = self.lock();
        let on_disk = self.read().map_err(|e| E::from(e.to_string()))?;
        if on_disk != state.applied {
            return Err(E::from(format!(
                "{} changed on disk and is not applied yet ({}); try again once it is",
                self.path.display(),
                state.status.error.as_deref().unwrap_or("being written")
            )));
        }
        let Some(bytes) = edit(&on_disk)? else { return Ok(ReloadOutcome::Unchanged) };
        self.writes.fetch_add(1, Ordering::AcqRel);
        write(&bytes)?;
        Ok(self.apply_locked(&mut state, Ok(bytes), origin, false))
    }

    /// How many times banyan wrote the file itself; see [`apply_read`](Self::apply_read).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// [`apply`](Self::apply) for a read taken when [`writes`](Self::writes) was
    /// `writes_before`: if banyan wrote the file since, that read may predate the write, so
    /// the file is read again under the lock instead of undoing the write.
    /// `hangup`: the read was asked for by SIGHUP (which the log and the audit say).
    pub fn apply_read(&self, read: Result<Vec<u8>, Located>, writes_before: u64, hangup: bool) -> ReloadOutcome {
        let mut state = self.lock();
        let read = if self.writes() == writes_before { read } else { self.read() };
        let origin = if hangup { Origin { reason: Some(HANGUP), ..Origin::file() } } else { Origin::file() };
        self.apply_locked(&mut state, read, origin, false)
    }

    /// The file's bytes now.
    pub fn read(&self) -> Result<Vec<u8>, Located> {
        read(&self.path)
    }

    /// Applies what [`read`](Self::read) returned if it changed and is valid: an edit of
    /// the file. Logs the outcome.
    pub fn apply(&self, read: Result<Vec<u8>, Located>) -> ReloadOutcome {
        let mut state = self.lock();
        self.apply_locked(&mut state, read, Origin::file(), false)
    }

    /// Holds route `name` at `native` % in memory, over what the file says, until the file
    /// changes that route's value (for a rollback where the file cannot be written).
    pub fn force_native(&self, name: &str, native: f64, origin: Origin<'_>) -> ReloadOutcome {
        let mut state = self.lock();
        let bytes = state.applied.clone();
        let file = std::str::from_utf8(&bytes).ok().and_then(|t| compile(&self.path, t, &self.registry, 0).ok());
        let Some(file_native) = file.and_then(|s| s.routes.iter().find(|r| r.name == name).map(|r| r.native_percent))
        else {
            return ReloadOutcome::Unchanged;
        };
        state.overrides.insert(name.to_string(), Override { native, file_native });
        self.apply_locked(&mut state, Ok(bytes), origin, true)
    }

    /// The native shares held in memory over the file's, by route.
    pub fn overrides(&self) -> BTreeMap<String, Override> {
        self.lock().overrides.clone()
    }

    /// `force`: make a new generation even when the bytes did not change (an override did).
    fn apply_locked(
        &self,
        state: &mut State,
        read: Result<Vec<u8>, Located>,
        origin: Origin<'_>,
        force: bool,
    ) -> ReloadOutcome {
        let before = self.current.load_full();
        let serving = before.generation;
        // What the applied generation changed, for its log line.
        let mut changed = String::new();
        let outcome = match read {
            Err(e) => ReloadOutcome::Missing(e),
            Ok(bytes) if bytes == state.applied && !force => ReloadOutcome::Unchanged,
            Ok(bytes) => {
                let compiled = std::str::from_utf8(&bytes)
                    .map_err(|e| Located::whole_file(&self.path, format!("not UTF-8: {e}")))
                    .and_then(|text| compile_after(&self.path, text, &self.registry, serving + 1, Some(&before)));
                match compiled {
                    Ok(mut snapshot) => {
                        apply_overrides(&mut state.overrides, &mut snapshot);
                        let generation = snapshot.generation;
                        let changes = diff::changes(&before, &snapshot);
                        changed = diff::summary(&changes);
                        self.current.store(Arc::new(snapshot));
                        self.generation.store(generation, Ordering::Release);
                        state.applied = bytes;
                        self.audit.record(origin, generation, changes);
                        ReloadOutcome::Applied(generation)
                    }
                    Err(e) => ReloadOutcome::Rejected(e),
                }
            }
        };
        let (label, error) = match &outcome {
            ReloadOutcome::Applied(generation) => {
                self.applied.fetch_add(1, Ordering::Relaxed);
                let (source, actor, reason) = (origin.source.as_str(), origin.actor, origin.reason);
                // After a rejected or missing file, the operator wants to hear it is over.
                let recovered = state.status.error.is_some().then_some(true);
                let file = self.path.display();
                tracing::info!(generation, %file, source, actor, reason, recovered, "flags applied: {changed}");
                ("applied", None)
            }
            ReloadOutcome::Unchanged => {
                // Back to the bytes being served after a rejected or missing file: the file
                // on disk is good again, so stop reporting the old error.
                if state.status.error.is_some() {
                    tracing::info!(
                        generation = serving,
                        file = %self.path.display(),
                        "flags file is good again: it is the one serving, generation {serving}"
                    );
                    state.status = ReloadStatus { at: SystemTime::now(), outcome: "unchanged", error: None };
                } else if origin.reason == Some(HANGUP) {
                    tracing::info!(
                        generation = serving,
                        "SIGHUP: flags file unchanged, still serving generation {serving}"
                    );
                } else {
                    tracing::debug!(generation = serving, "flags file unchanged");
                }
                return outcome;
            }
            ReloadOutcome::Rejected(e) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::error!(generation = serving, "flags rejected, still serving the last good generation: {e}");
                ("rejected", Some(e.to_string()))
            }
            ReloadOutcome::Missing(e) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    generation = serving,
                    "flags file unreadable, still serving the last good generation: {e}"
                );
                ("missing", Some(e.to_string()))
            }
        };
        state.status = ReloadStatus { at: SystemTime::now(), outcome: label, error };
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-written (plain fields),
        // so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Holds the overridden routes at their forced share; drops the overrides whose route the
/// file changed (or removed) since.
fn apply_overrides(overrides: &mut BTreeMap<String, Override>, snapshot: &mut Snapshot) {
    overrides.retain(|name, o| snapshot.routes.iter().any(|r| r.name == *name && r.native_percent == o.file_native));
    for r in &mut snapshot.routes {
        if let Some(o) = overrides.get(&r.name) {
            r.native_percent = o.native;
            r.threshold = (o.native * 100.0).round() as u32;
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Located> {
    std::fs::read(path).map_err(|e| Located::whole_file(path, format!("cannot read flags: {e}")))
}
