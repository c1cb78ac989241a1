//! The audit log: every change to the flags in force, in order, with who made it and the
//! before and after of each changed key. Kept as append-only JSON lines so it survives
//! restarts (the recent tail is read back at start); where its directory is not writable
//! (a ConfigMap mount) it moves to the temp directory, and banyan says so at start.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

/// Entries kept in memory for `/api/audit` (the file keeps all).
const RECENT: usize = 1000;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An edit of the flags file (by hand, by a deploy, or by SIGHUP's re-read).
    File,
    /// `PATCH /api/flags/routes/{name}`.
    Api,
    Guard,
    Ramp,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Api => "api",
            Source::Guard => "guard",
            Source::Ramp => "ramp",
        }
    }
}

/// Who made a change, and why when it was automatic.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub source: Source,
    /// The admin token's name, for API changes.
    pub actor: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl<'a> Origin<'a> {
    pub fn file() -> Origin<'static> {
        Origin { source: Source::File, actor: None, reason: None }
    }

    pub fn api(actor: &'a str) -> Origin<'a> {
        Origin { source: Source::Api, actor: Some(actor), reason: None }
    }

    pub fn automatic(source: Source, reason: &'a str) -> Origin<'a> {
        Origin { source, actor: None, reason: Some(reason) }
    }
}

/// One changed key; `route` is None for the file-wide settings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub route: Option<String>,
    pub key: String,
    pub before: Value,
    pub after: Value,
}

pub struct AuditLog {
    /// Where entries are written; None: memory only (nowhere writable was found).
    path: Option<PathBuf>,
    state: Mutex<State>,
}

struct State {
    file: Option<File>,
    recent: VecDeque<Value>,
    seq: u64,
    /// The highest generation on record, so the next process counts on from it.
    generation: u64,
}

impl AuditLog {
    /// Opens `preferred` for appending, else a file in the temp directory, else keeps
    /// entries in memory; says at start where they go when it is not `preferred`.
    pub fn open(preferred: &Path) -> AuditLog {
        let fallback = private_temp_dir().map(|d| d.join(format!("banyan-audit-{:016x}.jsonl", fnv(preferred))));
        for (i, path) in [Some(preferred.to_path_buf()), fallback].into_iter().flatten().enumerate() {
            match OpenOptions::new().create(true).append(true).read(true).open(&path) {
                Ok(mut file) => {
                    if i > 0 {
                        tracing::warn!(
                            wanted = %preferred.display(),
                            audit_log = %path.display(),
                            "the audit log's directory is not writable; writing it here instead"
                        );
                    } else {
                        tracing::info!(audit_log = %path.display(), "audit log");
                    }
                    let (recent, seq, whole) = read_tail(&file);
                    // A crash mid-write left a line without its end: the next entry starts on
                    // a line of its own.
                    if !whole {
                        let _ = file.write_all(b"\n");
                    }
                    return AuditLog::new(Some(path), Some(file), recent, seq);
                }
                Err(e) => tracing::debug!(path = %path.display(), "cannot open the audit log: {e}"),
            }
        }
        tracing::warn!(
            wanted = %preferred.display(),
            "no writable place for the audit log: changes are kept in memory only and lost on restart"
        );
        AuditLog::memory()
    }

    /// Entries in memory only.
    pub fn memory() -> AuditLog {
        AuditLog::new(None, None, VecDeque::new(), 0)
    }

    fn new(path: Option<PathBuf>, file: Option<File>, recent: VecDeque<Value>, seq: u64) -> AuditLog {
        let generation = recent.iter().filter_map(|e| e["generation"].as_u64()).max().unwrap_or(0);
        AuditLog { path, state: Mutex::new(State { file, recent, seq, generation }) }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The highest flags generation the log has recorded (0: none): a restarted banyan
    /// starts above it, so generations only ever grow in the log and on the dashboard.
    pub fn last_generation(&self) -> u64 {
        self.lock().generation
    }

    /// Appends one entry for `changes` (nothing when there are none).
    pub fn record(&self, origin: Origin<'_>, generation: u64, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.seq += 1;
        state.generation = state.generation.max(generation);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let entry = serde_json::json!({
            "seq": state.seq,
            "time": rfc3339(now.as_secs()),
            "unix_time": now.as_secs_f64(),
            "source": origin.source.as_str(),
            "actor": origin.actor,
            "reason": origin.reason,
            "generation": generation,
            "changes": changes,
        });
        if let Some(file) = &mut state.file {
            let mut line = entry.to_string();
            line.push('\n');
            // One write per entry (O_APPEND keeps lines whole), synced: the log is the record
            // of who changed production.
            if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.sync_data()) {
                tracing::error!(path = ?self.path, "cannot write the audit log: {e}");
            }
        }
        state.recent.push_back(entry);
        if state.recent.len() > RECENT {
            state.recent.pop_front();
        }
    }

    /// The last `limit` entries, oldest first.
    pub fn tail(&self, limit: usize) -> Vec<Value> {
        let state = self.lock();
        state.recent.iter().skip(state.recent.len().saturating_sub(limit)).cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The last entries of an existing log, its last sequence number, and whether it ends
/// with a whole line. A line that is not JSON (a crash mid-write) is skipped.
fn read_tail(mut file: &File) -> (VecDeque<Value>, u64, bool) {
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let mut recent = VecDeque::new();
    let mut seq = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if let Ok(entry) = serde_json::from_slice::<Value>(line) {
            seq = seq.max(entry["seq"].as_u64().unwrap_or(0));
            recent.push_back(entry);
            if recent.len() > RECENT {
                recent.pop_front();
            }
        }
    }
    (recent, seq, bytes.last().map_or(true, |&b| b == b'\n'))
}

/// `banyan-<uid>` in the temp directory, made private to this user (0700); None if it is
/// not a directory this user owns alone (another user could plant or read entries).
fn private_temp_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::temp_dir().join(format!("banyan-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

/// A stable name for the fallback file of a given preferred path (so it, too, survives
/// restarts).
fn fnv(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf29ce484222325, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Now, as [`rfc3339`] writes it.
pub fn rfc3339_now() -> String {
    rfc3339(crate::stats::unix_secs(SystemTime::now()))
}

/// `2026-11-21T12:04:05Z` from Unix seconds (UTC; Howard Hinnant's civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, before: Value, after: Value) -> Change {
        Change { route: Some("ping".into()), key: key.into(), before, after }
    }

    #[test]
    fn entries_survive_a_restart_and_keep_counting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path);
        log.record(Origin::file(), 2, vec![change("native", 0.into(), 25.into())]);
        log.record(Origin::api("ops"), 3, vec![]);
        log.record(Origin::api("ops"), 3, vec![change("native", 25.into(), 50.into())]);
        drop(log);
        let log = AuditLog::open(&path);
        log.record(Origin::automatic(Source::Guard, "errors"), 4, vec![change("native", 50.into(), 0.into())]);
        let tail = log.tail(10);
        let seqs: Vec<_> = tail.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(tail[1]["actor"], "ops");
        assert_eq!(tail[1]["changes"][0]["after"], 50);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
        assert_eq!(log.tail(1)[0]["source"], "guard");
        drop(log);

        // A line cut short by a crash is skipped, and the next entry starts a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq": 5, "sou"#).unwrap();
        drop(f);
        let log = AuditLog::open(&path);
        log.record(Origin::file(), 5, vec![change("native", 0.into(), 1.into())]);
        assert_eq!(log.tail(10).iter().map(|e| e["seq"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(AuditLog::open(&path).tail(10).len(), 4);
    }

    #[test]
    fn an_unwritable_place_falls_back_to_the_temp_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flags.toml");
        std::fs::write(&file, "").unwrap();
        // A path under a regular file can never be created.
        let log = AuditLog::open(&file.join("audit.jsonl"));
        let path = log.path().unwrap().to_path_buf();
        assert!(path.starts_with(std::env::temp_dir()), "{path:?}");
        assert!(path.parent().unwrap().file_name().unwrap().to_str().unwrap().starts_with("banyan-"));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_262_645), "2026-11-21T12:04:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
