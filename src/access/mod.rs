//! The access log and request ids. Every request gets an `X-Request-Id` (`id.rs`) and,
//! unless `[server] access_log = false`, one line: request id, method, path (without its
//! query), route label, backend, status and latency, in the diagnostic log's text or JSON
//! shape (`line.rs`), to stderr or a file of its own (`sink.rs`).
//!
//! Every request writes a line, so the log must cost what nginx's buffered one does: each
//! worker formats its lines into a buffer of its own and writes it out in one call when it
//! holds 64 KiB, at least once a second ([`flush_thread`], which each worker runs on a
//! clock), and when the worker stops, after its drain: a drained request's line is never
//! lost.

mod id;
mod line;
mod sink;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use http::Method;

pub use id::{RequestId, X_REQUEST_ID};
pub use line::Format;
pub use sink::{check as check_file, Sink};

use crate::decide::Backend;
use crate::stats::Label;

/// A worker's buffer is written out once it holds this much.
const FLUSH_AT: usize = 64 * 1024;
/// ... and at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What one access-log line says.
pub struct Entry<'a> {
    pub id: &'a RequestId,
    pub method: &'a Method,
    /// Without the query, which may carry what a log should not.
    pub path: &'a str,
    pub label: Label,
    pub backend: Backend,
    pub status: u16,
    pub latency: Duration,
}

/// One banyan's access log: where its lines go and how they read.
pub struct AccessLog {
    sink: Arc<Sink>,
    format: Format,
}

/// A thread's lines not yet written, and the sink they are for.
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    clock: line::Clock,
    sink: Option<Arc<Sink>>,
}

thread_local! {
    static BUFFER: RefCell<Buffer> = RefCell::new(Buffer::default());
}

impl Buffer {
    fn flush(&mut self) {
        if let (Some(sink), false) = (&self.sink, self.bytes.is_empty()) {
            sink.write(&self.bytes);
            // The capacity stays: a warm worker formats without allocating.
            self.bytes.clear();
        }
    }
}

impl Drop for Buffer {
    /// A thread that ends (one that is not a worker, or a worker that did not get to its
    /// last flush) still writes its lines.
    fn drop(&mut self) {
        self.flush();
    }
}

impl AccessLog {
    pub fn new(sink: Sink, format: Format) -> AccessLog {
        AccessLog { sink: Arc::new(sink), format }
    }

    /// Formats `e` into this thread's buffer, writing the buffer out once it is full.
    pub fn log(&self, e: &Entry<'_>) {
        BUFFER.with(|b| {
            let mut b = b.borrow_mut();
            if !b.sink.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.sink)) {
                // (Only where two banyans share a process, as tests do.)
                b.flush();
                b.sink = Some(self.sink.clone());
            }
            let b = &mut *b;
            line::write(self.format, &mut b.clock, e, &mut b.bytes);
            if b.bytes.len() >= FLUSH_AT {
                b.flush();
            }
        });
    }

    /// Reopens a file sink at its path (SIGUSR1, after logrotate moved the file).
    pub fn reopen(&self) {
        self.sink.reopen();
    }
}

/// Writes out this thread's buffered lines.
pub fn flush_thread() {
    // (Not during the thread's own teardown: its buffer's drop writes them then.)
    let _ = BUFFER.try_with(|b| b.borrow_mut().flush());
}
