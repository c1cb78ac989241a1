//! The web app's files as ServeDir reads them ([`Files`], its backend): nothing outside the
//! root is ever found, whatever a symlink inside it points to, and a file read once is
//! served from memory while one `stat` says it is still the same file.
//!
//! A hit costs one `stat` on the worker, as nginx's open costs it on its event loop; what
//! touches the disk for longer (resolving a path, reading a file) runs on tokio's blocking
//! pool.

use std::collections::HashMap;
use std::future::{ready, Future, Ready};
use std::io::{self, Cursor, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::future::Either;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use tower_http::services::fs::{Backend, File, Metadata};

/// ServeDir's way to the root's files.
#[derive(Clone)]
pub struct Files(Arc<Inner>);

struct Inner {
    /// The root as configured.
    root: PathBuf,
    /// The root with its symlinks resolved: what every file's real path starts with. It
    /// moves when the root is a symlink a deploy points at a new release.
    canonical: std::sync::RwLock<PathBuf>,
    cache: Mutex<Cache>,
    /// Bytes the cache holds at most, and the largest file it takes (an eighth of that,
    /// so one file cannot push the app out).
    capacity: u64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<PathBuf, Arc<Entry>>,
    bytes: u64,
}

/// A path found inside the root.
struct Entry {
    id: Identity,
    meta: Meta,
    /// The file's contents, if the cache holds them.
    bytes: Option<Bytes>,
    /// Where it really is (opened when its contents are not held).
    real: PathBuf,
}

/// What tells a file from its replacement without reading it: a rewrite in place changes
/// `ctime` even when it keeps the size and sets the old `mtime` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(m: &std::fs::Metadata) -> Identity {
        Identity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A file's metadata as ServeDir asks for it (its ETag and `Last-Modified` come from it).
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    dir: bool,
    modified: Option<SystemTime>,
    len: u64,
}

impl Meta {
    fn of(m: &std::fs::Metadata) -> Meta {
        Meta { dir: m.is_dir(), modified: m.modified().ok(), len: m.len() }
    }
}

impl Metadata for Meta {
    fn is_dir(&self) -> bool {
        self.dir
    }

    fn modified(&self) -> io::Result<SystemTime> {
        self.modified.ok_or_else(|| io::Error::other("no modification time"))
    }

    fn len(&self) -> u64 {
        self.len
    }
}

fn not_found() -> io::Error {
    io::ErrorKind::NotFound.into()
}

impl Files {
    /// `root` must exist (the config checked it).
    pub fn new(root: &Path, capacity: u64) -> io::Result<Files> {
        let canonical = std::sync::RwLock::new(std::fs::canonicalize(root)?);
        Ok(Files(Arc::new(Inner { root: root.to_path_buf(), canonical, cache: Mutex::default(), capacity })))
    }
}

impl Inner {
    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry for `path` if the cache has it and it is still the file `stat` sees now.
    /// `Err`: there is no such file (or directory) at all.
    fn hit(&self, path: &Path, want_bytes: bool) -> io::Result<Option<Arc<Entry>>> {
        let id = Identity::of(&std::fs::metadata(path)?);
        let cached = self.cache().entries.get(path).filter(|e| e.id == id).cloned();
        Ok(cached.filter(|e| !want_bytes || e.bytes.is_some() || !self.may_hold(e)))
    }

    fn may_hold(&self, e: &Entry) -> bool {
        !e.meta.dir && e.meta.len <= self.capacity / 8
    }

    /// Resolves `path` (on the blocking pool): a path whose real place is outside the root
    /// is not found. Reads a file's contents in when the cache has room for them.
    fn resolve(&self, path: &Path, want_bytes: bool) -> io::Result<Arc<Entry>> {
        let real = std::fs::canonicalize(path)?;
        if !self.inside(&real) {
            return Err(not_found());
        }
        let meta = std::fs::metadata(&real)?;
        let mut entry = Entry { id: Identity::of(&meta), meta: Meta::of(&meta), bytes: None, real };
        if want_bytes && self.may_hold(&entry) && self.room_for(entry.meta.len) {
            let bytes = std::fs::read(&entry.real)?;
            // Changed while it was read: served from the disk this once.
            if bytes.len() as u64 == entry.meta.len && Identity::of(&std::fs::metadata(&entry.real)?) == entry.id {
                entry.bytes = Some(Bytes::from(bytes));
            }
        }
        let entry = Arc::new(entry);
        let mut cache = self.cache();
        let held = entry.bytes.as_ref().map_or(0, |b| b.len() as u64);
        if let Some(old) = cache.entries.insert(path.to_path_buf(), entry.clone()) {
            cache.bytes -= old.bytes.as_ref().map_or(0, |b| b.len() as u64);
        }
        cache.bytes += held;
        Ok(entry)
    }

    /// Whether `real` lies under the root's real path, resolved again when it does not
    /// seem to (the root's symlink may have moved to another release since).
    fn inside(&self, real: &Path) -> bool {
        let canonical = |l: &std::sync::RwLock<PathBuf>| l.read().unwrap_or_else(PoisonError::into_inner).clone();
        if real.starts_with(canonical(&self.canonical)) {
            return true;
        }
        let Ok(now) = std::fs::canonicalize(&self.root) else { return false };
        let inside = real.starts_with(&now);
        *self.canonical.write().unwrap_or_else(PoisonError::into_inner) = now;
        inside
    }

    /// Whether `len` more bytes fit; when they do not, entries whose files changed or went
    /// (an old release's hashed names) are dropped first.
    fn room_for(&self, len: u64) -> bool {
        let mut cache = self.cache();
        if cache.bytes + len <= self.capacity {
            return true;
        }
        let mut freed = 0;
        cache.entries.retain(|path, e| {
            let current = std::fs::metadata(path).is_ok_and(|m| Identity::of(&m) == e.id);
            if !current {
                freed += e.bytes.as_ref().map_or(0, |b| b.len() as u64);
            }
            current
        });
        cache.bytes -= freed;
        cache.bytes + len <= self.capacity
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

/// Runs `resolve` where blocking is allowed.
fn resolving(inner: Arc<Inner>, path: PathBuf, want_bytes: bool) -> Boxed<Arc<Entry>> {
    Box::pin(async move {
        tokio::task::spawn_blocking(move || inner.resolve(&path, want_bytes))
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
    })
}

impl Backend for Files {
    type File = Opened;
    type Metadata = Meta;
    type OpenFuture = Either<Ready<io::Result<Opened>>, Boxed<Opened>>;
    type MetadataFuture = Either<Ready<io::Result<Meta>>, Boxed<Meta>>;

    fn open(&self, path: PathBuf) -> Self::OpenFuture {
        match self.0.hit(&path, true) {
            Err(e) => Either::Left(ready(Err(e))),
            Ok(Some(entry)) => match Opened::memory(&entry) {
                Some(opened) => Either::Left(ready(opened)),
                None => Either::Right(Box::pin(Opened::disk(entry))),
            },
            Ok(None) => {
                let resolved = resolving(self.0.clone(), path, true);
                Either::Right(Box::pin(async move {
                    let entry = resolved.await?;
                    match Opened::memory(&entry) {
                        Some(opened) => opened,
                        None => Opened::disk(entry).await,
                    }
                }))
            }
        }
    }

    fn metadata(&self, path: PathBuf) -> Self::MetadataFuture {
        match self.0.hit(&path, false) {
            Err(e) => Either::Left(ready(Err(e))),
            Ok(Some(entry)) => Either::Left(ready(Ok(entry.meta))),
            Ok(None) => {
                let resolved = resolving(self.0.clone(), path, false);
                Either::Right(Box::pin(async move { Ok(resolved.await?.meta) }))
            }
        }
    }
}

/// An opened file: its contents in memory, or the file on disk.
pub enum Opened {
    Memory(Cursor<Bytes>, Meta),
    Disk(tokio::fs::File, Meta),
}

impl Opened {
    /// From memory; `None` when the cache does not hold it. A directory is never opened:
    /// the app's fallback answers for it.
    fn memory(entry: &Entry) -> Option<io::Result<Opened>> {
        if entry.meta.dir {
            return Some(Err(not_found()));
        }
        entry.bytes.clone().map(|b| Ok(Opened::Memory(Cursor::new(b), entry.meta)))
    }

    async fn disk(entry: Arc<Entry>) -> io::Result<Opened> {
        let file = tokio::fs::File::open(&entry.real).await?;
        // The opened file's own metadata: the path may have been replaced since.
        let meta = Meta::of(&file.metadata().await?);
        Ok(Opened::Disk(file, meta))
    }
}

impl AsyncRead for Opened {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Opened::Memory(c, _) => Pin::new(c).poll_read(cx, buf),
            Opened::Disk(f, _) => Pin::new(f).poll_read(cx, buf),
        }
    }
}

impl AsyncSeek for Opened {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        match self.get_mut() {
            Opened::Memory(c, _) => Pin::new(c).start_seek(position),
            Opened::Disk(f, _) => Pin::new(f).start_seek(position),
        }
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        match self.get_mut() {
            Opened::Memory(c, _) => Pin::new(c).poll_complete(cx),
            Opened::Disk(f, _) => Pin::new(f).poll_complete(cx),
        }
    }
}

impl File for Opened {
    type Metadata = Meta;
    type MetadataFuture<'a> = Ready<io::Result<Meta>>;

    fn metadata(&self) -> Self::MetadataFuture<'_> {
        match self {
            Opened::Memory(_, m) | Opened::Disk(_, m) => ready(Ok(*m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_out_of_the_root_is_not_found_and_a_changed_file_is_read_again() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "one").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(root.path().join("a.txt"), root.path().join("alias")).unwrap();
        let files = Files::new(root.path(), 1 << 20).unwrap();
        let inner = &files.0;

        let leak = inner.resolve(&root.path().join("leak"), true);
        assert_eq!(leak.err().map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        let alias = inner.resolve(&root.path().join("alias"), true).unwrap();
        assert_eq!(alias.bytes.as_deref(), Some(&b"one"[..]));

        let a = root.path().join("a.txt");
        inner.resolve(&a, true).unwrap();
        assert!(inner.hit(&a, true).unwrap().is_some());
        std::fs::write(&a, "two!").unwrap();
        assert!(inner.hit(&a, true).unwrap().is_none(), "a rewritten file is not a hit");
        assert_eq!(inner.resolve(&a, true).unwrap().bytes.as_deref(), Some(&b"two!"[..]));
        assert_eq!(inner.cache().bytes, 3 + 4);
    }

    #[test]
    fn a_root_that_is_a_symlink_follows_it_to_the_next_release() {
        let dir = tempfile::tempdir().unwrap();
        for (release, text) in [("v1", "one"), ("v2", "two")] {
            std::fs::create_dir(dir.path().join(release)).unwrap();
            std::fs::write(dir.path().join(release).join("index.html"), text).unwrap();
        }
        let current = dir.path().join("current");
        std::os::unix::fs::symlink(dir.path().join("v1"), &current).unwrap();
        let files = Files::new(&current, 1 << 20).unwrap();
        let index = current.join("index.html");
        assert_eq!(files.0.resolve(&index, true).unwrap().bytes.as_deref(), Some(&b"one"[..]));
        // The deploy's switch: a new symlink renamed over the old one.
        std::os::unix::fs::symlink(dir.path().join("v2"), dir.path().join("next")).unwrap();
        std::fs::rename(dir.path().join("next"), &current).unwrap();
        assert!(files.0.hit(&index, true).unwrap().is_none(), "another file now");
        assert_eq!(files.0.resolve(&index, true).unwrap().bytes.as_deref(), Some(&b"two"[..]));
        // v1 is outside the root now.
        assert!(files.0.resolve(&dir.path().join("v1/index.html"), true).is_err());
    }
}
