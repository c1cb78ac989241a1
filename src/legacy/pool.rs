//! Connections to legacy, kept where they are used. Each client connection holds on to the
//! legacy connection its last request used (a hyper client connection, or a bare TCP stream
//! for the byte-level passthrough) (HTTP/1.1 serves one request at a time, so it is
//! free again by the next one); when the client connection ends, that legacy connection
//! goes to an idle list of the worker thread, for the next client connection to take. A
//! request therefore never waits on a lock or on another thread, and its legacy connection
//! is driven by a task on its own thread. The price: legacy sees about one connection per
//! open client connection (kept while the client keeps its own open, up to the idle
//! timeout), where a shared pool would need one per request in flight.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::quickack::QuickAck;
use crate::body::Body;
use crate::config::LegacyConfig;

/// Idle legacy connections kept per worker thread and kind, at most.
const MAX_IDLE: usize = 512;

type IdleList<T> = RefCell<Vec<Idle<T>>>;

thread_local! {
    static IDLE_HYPER: IdleList<SendRequest<Body>> = const { RefCell::new(Vec::new()) };
    static IDLE_RAW: IdleList<QuickAck> = const { RefCell::new(Vec::new()) };
}

pub struct Idle<T> {
    pool: usize,
    conn: T,
    since: Instant,
}

/// A kind of legacy connection a slot can hold.
pub trait Pooled: Sized + 'static {
    /// The worker thread's idle list for this kind.
    fn idle() -> &'static LocalKey<IdleList<Self>>;
    /// Whether legacy closed it (as far as the runtime has seen).
    fn is_closed(&self) -> bool;
}

impl Pooled for SendRequest<Body> {
    fn idle() -> &'static LocalKey<IdleList<Self>> {
        &IDLE_HYPER
    }

    fn is_closed(&self) -> bool {
        SendRequest::is_closed(self)
    }
}

impl Pooled for QuickAck {
    fn idle() -> &'static LocalKey<IdleList<Self>> {
        &IDLE_RAW
    }

    fn is_closed(&self) -> bool {
        // An idle HTTP/1.1 connection has nothing to read: end of stream means legacy closed
        // it, and bytes it sent unasked mean it is out of step. Either way it is done. The
        // check costs no syscall unless the runtime saw the socket become readable.
        !matches!(self.0.try_read(&mut [0; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
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
    /// Every new connection reports here.
    pub health: super::health::Health,
    /// Legacy's URL, for the health's log lines.
    url: String,
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
pub struct Slot<T: Pooled> {
    pool: usize,
    conn: RefCell<Option<(T, Instant)>>,
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
            health: Default::default(),
            url: cfg.url.to_string().trim_end_matches('/').to_string(),
        }
    }

    /// An empty slot for a new client connection.
    pub fn slot<T: Pooled>(&self) -> Slot<T> {
        Slot { pool: self.id, conn: RefCell::new(None) }
    }

    /// A hyper connection ready for a request, and whether it was used before: the client
    /// connection's own, else an idle one of this thread, else a new one.
    pub async fn acquire(&self, slot: &Slot<SendRequest<Body>>) -> Result<(SendRequest<Body>, bool), ConnectError> {
        let own = slot.conn.borrow_mut().take();
        if let Some((mut sender, used)) = own {
            // Free again once the previous response was read to its end; past the idle
            // timeout it is dropped, which closes it.
            if used.elapsed() < self.idle_timeout && sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        while let Some(mut sender) = self.take_idle::<SendRequest<Body>>() {
            if let Some(Ok(())) = sender.ready().now_or_never() {
                return Ok((sender, true));
            }
        }
        Ok((self.connect().await?, false))
    }

    /// The same for the byte-level passthrough: a bare stream.
    pub async fn acquire_raw(&self, slot: &Slot<QuickAck>) -> Result<(QuickAck, bool), ConnectError> {
        let own = slot.conn.borrow_mut().take();
        if let Some((stream, used)) = own {
            if used.elapsed() < self.idle_timeout && !stream.is_closed() {
                return Ok((stream, true));
            }
        }
        if let Some(stream) = self.take_idle::<QuickAck>() {
            return Ok((stream, true));
        }
        Ok((self.connect_raw().await?, false))
    }

    /// Keeps `conn` for the slot's next request.
    pub fn release<T: Pooled>(&self, slot: &Slot<T>, conn: T) {
        *slot.conn.borrow_mut() = Some((conn, Instant::now()));
    }

    /// Whether legacy accepts TCP connections now (for `/readyz`).
    pub async fn reachable(&self) -> bool {
        self.tcp().await.is_ok()
    }

    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let connected = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(ConnectError::Io(e)),
            Err(_) => Err(ConnectError::Timeout(self.connect_timeout.as_millis())),
        };
        match &connected {
            Ok(_) => self.health.connected(&self.url),
            Err(e) => self.health.failed(&self.url, e),
        }
        connected
    }

    /// A new stream to legacy, set up for request and response exchange.
    pub async fn connect_raw(&self) -> Result<QuickAck, ConnectError> {
        let stream = self.tcp().await?;
        // Requests must go out at once: with Nagle's algorithm a small write can wait for
        // the peer's delayed ACK.
        stream.set_nodelay(true)?;
        Ok(QuickAck(stream))
    }

    pub async fn connect(&self) -> Result<SendRequest<Body>, ConnectError> {
        let stream = self.connect_raw().await?;
        let (sender, conn) = http1::Builder::new()
            // Forwarded header names keep the case they arrived with, both ways.
            .preserve_header_case(self.preserve_header_case)
            .handshake(TokioIo::new(stream))
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

    fn take_idle<T: Pooled>(&self) -> Option<T> {
        let now = Instant::now();
        T::idle().with_borrow_mut(|idle| {
            // Expired and closed connections go first (dropping one closes it), so the list
            // never keeps legacy sockets open past the idle timeout for long.
            idle.retain(|e| {
                e.pool != self.id || (now.duration_since(e.since) < self.idle_timeout && !e.conn.is_closed())
            });
            // Newest first: the least likely to have been closed by legacy meanwhile.
            let i = idle.iter().rposition(|e| e.pool == self.id)?;
            Some(idle.remove(i).conn)
        })
    }
}

impl<T: Pooled> Drop for Slot<T> {
    fn drop(&mut self) {
        let Some((conn, since)) = self.conn.get_mut().take() else { return };
        if conn.is_closed() {
            return;
        }
        let _ = T::idle().try_with(|idle| {
            let mut idle = idle.borrow_mut();
            if idle.len() >= MAX_IDLE {
                idle.remove(0);
            }
            idle.push(Idle { pool: self.pool, conn, since });
        });
    }
}
