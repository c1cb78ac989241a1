//! Where access lines go: stderr (beside the diagnostic log, whose lines they never cut
//! into) or a file of their own, opened for appending and reopened on SIGUSR1 so logrotate
//! can move it away, as nginx's is.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub enum Sink {
    Stderr,
    File { path: PathBuf, file: RwLock<File> },
}

impl Sink {
    /// A file sink, its file opened (created if missing) for appending; the error says
    /// which file and why, as [`check`] does.
    pub fn file(path: &Path) -> Result<Sink, String> {
        let file = open(path).map_err(|e| cannot_open(path, e))?;
        Ok(Sink::File { path: path.to_path_buf(), file: RwLock::new(file) })
    }

    /// Writes `bytes` (whole lines) at once: through stderr's lock, which the diagnostic
    /// log takes too, or as one append to the file.
    pub fn write(&self, bytes: &[u8]) {
        let written = match self {
            Sink::Stderr => std::io::stderr().lock().write_all(bytes),
            Sink::File { file, .. } => {
                let file = file.read().unwrap_or_else(|p| p.into_inner());
                (&*file).write_all(bytes)
            }
        };
        if let Err(e) = written {
            // Not through the access log itself; lines are dropped, not queued forever.
            tracing::error!("cannot write the access log ({} bytes of lines lost): {e}", bytes.len());
        }
    }

    /// Opens the file again at its path (logrotate moved the old one away); lines written
    /// after this go to the new file. Stderr has nothing to reopen.
    pub fn reopen(&self) {
        let Sink::File { path, file } = self else {
            tracing::info!("SIGUSR1: the access log goes to stderr; nothing to reopen");
            return;
        };
        match open(path) {
            Ok(new) => {
                *file.write().unwrap_or_else(|p| p.into_inner()) = new;
                tracing::info!(access_log = %path.display(), "SIGUSR1: access log reopened");
            }
            Err(e) => tracing::error!(
                access_log = %path.display(),
                "SIGUSR1: cannot reopen the access log ({e}); still writing the file it had open"
            ),
        }
    }
}

/// What `banyan check` can tell without creating the file: whether serve could open it
/// (its directory exists, and it is no directory itself).
pub fn check(path: &Path) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let problem = match (std::fs::metadata(dir), std::fs::metadata(path)) {
        (Err(e), _) => format!("{}: {e}", dir.display()),
        (Ok(d), _) if !d.is_dir() => format!("{} is not a directory", dir.display()),
        (_, Ok(f)) if f.is_dir() => "it is a directory".to_string(),
        _ => return Ok(()),
    };
    Err(cannot_open(path, problem))
}

fn cannot_open(path: &Path, problem: impl std::fmt::Display) -> String {
    format!("cannot open the access log {}: {problem}", path.display())
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
