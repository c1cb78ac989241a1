//! Connections to legacy, kept where they are used. Each client connection holds on to the
//! legacy connection its last request used (HTTP/1.1 serves one request at a time, so it is
//! free again by the next one); when the client connection ends, that legacy connection
//! goes to an idle list of the worker thread, for the next client connection to take. A
//! request therefore never waits on a lock or on another thread, and its legacy connection
//! is driven by a task on its own thread. The price: legacy sees about one connection per
//! open client connection (kept while the client keeps its own open, up to the idle
//! timeout), where a shared pool would need one per request in flight.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::quickack::QuickAck;
use crate::body::Body;
use crate::config::LegacyConfig;

/// Idle legacy connections kept per worker thread, at most.
const MAX_IDLE: usize = 512;

thread_local! {
    static IDLE: RefCell<Vec<Idle>> = const { RefCell::new(Vec::new()) };
}

struct Idle {
    pool: usize,
    sender: SendRequest<Body>,
    since: Instant,
}

static NEXT_POOL: AtomicUsize = AtomicUsize::new(0);

pub struct Pool {
    /// Tells this pool's idle connections from another's on the same thread.
    id: usize,
    host: String,
    port: u16,
    connect_timeout: Duration,
    idle_timeout: Duration,
    preserve_header_case: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("connect timed out after {0} ms")]
    Timeout(u128),
    #[error("{0}")]
    Handshake(#[from] hyper::Error),
}

/// The legacy connection of one client connection, and when it last served a request.
pub struct Slot {
    pool: usize,
    sender: RefCell<Option<(SendRequest<Body>, Instant)>>,
}

impl Pool {
    pub fn new(host: &str, port: u16, cfg: &LegacyConfig, preserve_header_case: bool) -> Pool {
        Pool {
            id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
            // `[::1]` in a URL is `::1` to connect().
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
            connect_timeout: cfg.connect_timeout,
            idle_timeout: cfg.pool_idle_timeout,
            preserve_header_case,
        }
    }

    /// An empty slot for a new client connection.
    pub fn slot(&self) -> Slot {
        Slot { pool: self.id, sender: RefCell::new(None) }
    }

    /// A connection ready for a request, and whether it was used before: the client
    /// connection's own, else an idle one of this thread, else a new one.
    pub async fn acquire(&self, slot: &Slot) -> Result<(SendRequest<Body>, bool), ConnectError> {
        let own = slot.sender.borrow_mut().take();
        if let Some((mut sender, used)) = own {
            // Free again once the previous response was read to its end; past the idle
            // timeout it is dropped, which closes it.
            if used.elapsed() < self.idle_timeout && sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        while let Some(mut sender) = self.take_idle() {
            if let Some(Ok(())) = sender.ready().now_or_never() {
                return Ok((sender, true));
            }
        }
        Ok((self.connect().await?, false))
    }

    /// Keeps `sender` for the slot's next request.
    pub fn release(&self, slot: &Slot, sender: SendRequest<Body>) {
        *slot.sender.borrow_mut() = Some((sender, Instant::now()));
    }

    /// Whether legacy accepts TCP connections now (for `/readyz`).
    pub async fn reachable(&self) -> bool {
        self.tcp().await.is_ok()
    }

    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        Ok(tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| ConnectError::Timeout(self.connect_timeout.as_millis()))??)
    }

    pub async fn connect(&self) -> Result<SendRequest<Body>, ConnectError> {
        let stream = self.tcp().await?;
        // Requests must go out at once: with Nagle's algorithm a small write can wait for
        // the peer's delayed ACK.
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::Builder::new()
            // Forwarded header names keep the case they arrived with, both ways.
            .preserve_header_case(self.preserve_header_case)
            .handshake(TokioIo::new(QuickAck(stream)))
            .await?;
        // A task of the worker's own local set: it wakes and is woken by the client
        // connection's task without crossing schedulers (which would cost an eventfd write).
        // So forwarding runs on a banyan worker thread (inside its `LocalSet`), always.
        tokio::task::spawn_local(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!("legacy connection ended: {e}");
            }
        });
        Ok(sender)
    }

    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let now = Instant::now();
        IDLE.with_borrow_mut(|idle| {
            // Expired and closed connections go first (dropping one closes it), so the list
            // never keeps legacy sockets open past the idle timeout for long.
            idle.retain(|e| {
                e.pool != self.id || (now.duration_since(e.since) < self.idle_timeout && !e.sender.is_closed())
            });
            // Newest first: the least likely to have been closed by legacy meanwhile.
            let i = idle.iter().rposition(|e| e.pool == self.id)?;
            Some(idle.remove(i).sender)
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((sender, since)) = self.sender.get_mut().take() else { return };
        if sender.is_closed() {
            return;
        }
        let _ = IDLE.try_with(|idle| {
            let mut idle = idle.borrow_mut();
            if idle.len() >= MAX_IDLE {
                idle.remove(0);
            }
            idle.push(Idle { pool: self.pool, sender, since });
        });
    }
}
