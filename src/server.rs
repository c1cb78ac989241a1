//! Listeners and connections: binds the public and admin listeners once (a reload never
//! re-binds them), serves HTTP/1.1 on each connection (the byte-level passthrough first,
//! then hyper with upgrades enabled once a request needs it), and drains in-flight
//! requests on shutdown. Knows nothing of flags or backends.
//!
//! The public listener runs thread-per-core, like nginx's workers: each worker thread has
//! its own single-threaded runtime and its own `SO_REUSEPORT` socket on the public address,
//! so the kernel spreads connections across workers and a request never crosses threads
//! (no work-stealing wakeups, no shared pool locks). The admin listener has a thread of its
//! own; the reload watcher and signals run on the caller's runtime.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::app::{App, AppError};
use crate::body::Body;
use crate::config::{Config, ServerConfig};
use crate::native::Registry;
use crate::passthrough::{self, Prefixed};
use crate::{admin, proxy, rotki};

/// A started banyan: both listeners bound, flags loaded, the watcher running.
pub struct Running {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    /// The public workers, each resolving to what it cut at the drain timeout (None: it
    /// drained in time).
    threads: Vec<oneshot::Receiver<Option<usize>>>,
    /// The admin listener stops last, so `/metrics` and `/readyz` answer through the drain.
    admin_stop: watch::Sender<bool>,
    admin_thread: oneshot::Receiver<Option<usize>>,
    _watcher: crate::flags::Watching,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start a worker thread: {0}")]
    Thread(std::io::Error),
}

/// Loads flags, binds both listeners and starts serving. Must run inside a tokio runtime,
/// which then carries the flags watcher.
pub async fn start(config: Config, registry: Registry) -> Result<Running, StartError> {
    rotki::response::learn_header_case().await;
    let (stop, stopped) = watch::channel(false);
    let app = Arc::new(App::new(config, registry, stopped.clone())?);
    let admin_state = Arc::new(admin::Admin::new(app.clone())?);
    let server = app.config.server.clone();

    // A plain bind first: it fails if anything else holds the port (a second banyan would
    // otherwise join the reuse-port group and silently take part of the traffic), and it
    // resolves port 0. The workers' group then binds the port it got.
    let probe = bind(app.config.listen, false)?;
    let public_addr = probe.local_addr().map_err(|source| StartError::Bind { addr: app.config.listen, source })?;
    drop(probe);
    let public = (0..server.workers).map(|_| bind(public_addr, true)).collect::<Result<Vec<_>, _>>()?;
    let admin = bind(app.config.admin_listen, false)?;
    let admin_addr = admin.local_addr().map_err(|source| StartError::Bind { addr: app.config.admin_listen, source })?;

    let watcher = crate::flags::spawn_watcher(app.flags.clone());
    tokio::spawn(reopen_on_sigusr1(app.clone(), stopped.clone()));
    tokio::spawn(every_second(app.clone(), stopped.clone()));
    let builder = http1_builder(&server);
    // Copied once: nothing on the request path reads the config.
    let bytes = server.byte_passthrough.then_some(passthrough::Settings {
        preserve_case: server.preserve_header_case,
        header_read_timeout: server.header_read_timeout,
        return_request_id: server.return_request_id,
    });
    // Shared by every worker: at most this many public connections at once.
    let connections = Arc::new(Semaphore::new(connection_limit(server.max_connections)));
    let mut threads = Vec::new();
    for (i, listener) in public.into_iter().enumerate() {
        // A worker ends only once the websocket sessions have closed too: some may be its own.
        let sessions = app.ws.sessions.clone();
        let (app, builder) = (app.clone(), builder.clone());
        let serve =
            move |stream, peer, stop| public_connection(app.clone(), bytes, builder.clone(), stream, peer, stop);
        let drained = async move { sessions.all_closed().await };
        let (name, limit) = (format!("banyan-worker-{i}"), Some(connections.clone()));
        threads.push(spawn_thread(name, listener, serve, drained, &server, limit, stopped.clone())?);
    }
    let serve = move |stream, peer, stop| {
        let state = admin_state.clone();
        let handler = move |req| admin::handle(state.clone(), req);
        serve_hyper(builder.clone(), Prefixed::new(stream, Vec::new()), peer, handler, stop)
    };
    // Ops can reach the admin listener even when the public one is full, and while it drains.
    let (admin_stop, admin_stopped) = watch::channel(false);
    let admin_thread =
        spawn_thread("banyan-admin".into(), admin, serve, std::future::ready(()), &server, None, admin_stopped)?;
    Ok(Running { public_addr, admin_addr, app, stop, threads, admin_stop, admin_thread, _watcher: watcher })
}

/// The connection limit the process can keep: the soft open-files limit is raised to the
/// hard one first (the usual soft 1024 is far below what a proxy needs), and each proxied
/// connection holds two descriptors (the client's and legacy's), with some kept for
/// listeners, the flags watcher and files.
fn connection_limit(configured: usize) -> usize {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = usize::try_from(nofile.saturating_sub(256) / 2).unwrap_or(usize::MAX).max(1);
    let limit = configured.min(room).min(Semaphore::MAX_PERMITS);
    if limit < configured {
        tracing::warn!(
            max_connections = limit,
            open_files = nofile,
            "the open-files limit allows {limit} connections (two descriptors each), fewer than \
             [server] max_connections = {configured}: serving at most {limit}; raise the limit \
             (ulimit -n, LimitNOFILE=) to serve more"
        );
    }
    limit
}

/// Every second: moves the workers' request counts into the statistics' time slots (so
/// the history is right even while nobody reads it), judges guards and moves ramps, and
/// frees what routes no longer recording hold.
/// Flags writes block briefly, so this runs beside the workers, never on them.
async fn every_second(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // A guard tripped on the request path: its rollback is written now, not at the
            // next second.
            _ = app.core.tripped() => {}
            _ = stopped(&mut stop) => return,
        }
        let app = app.clone();
        let _ = tokio::task::spawn_blocking(move || {
            app.stats.drain();
            app.rollout.tick();
            app.records.retain(&app.flags.snapshot());
        })
        .await;
    }
}

/// SIGUSR1 reopens the access log's file, as nginx's USR1 does for logrotate.
async fn reopen_on_sigusr1(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut usr1) = signal(SignalKind::user_defined1()) else { return };
        loop {
            tokio::select! {
                _ = usr1.recv() => app.reopen_access_log(),
                _ = stopped(&mut stop) => return,
            }
        }
    }
    #[cfg(not(unix))]
    stopped(&mut stop).await;
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the drain timeout), then stops
    /// the admin listener; returns what the drain timeout cut, if it passed.
    pub async fn shutdown(self) -> Option<Cut> {
        let _ = self.stop.send(true);
        let mut cut: Option<Cut> = None;
        for done in self.threads {
            if let Ok(Some(n)) = done.await {
                cut.get_or_insert_with(Cut::default).connections += n;
            }
        }
        let sessions = self.app.ws.sessions.open();
        if let Some(cut) = &mut cut {
            cut.websockets = sessions;
        }
        let _ = self.admin_stop.send(true);
        if let Ok(Some(n)) = self.admin_thread.await {
            cut.get_or_insert_with(Cut::default).connections += n;
        }
        cut
    }
}

/// What a drain that ran out of time cut.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cut {
    /// Connections still open, on the public listener and the admin one.
    pub connections: usize,
    /// Websocket sessions still open (their connections are counted above).
    pub websockets: usize,
}

fn bind(addr: SocketAddr, reuse_port: bool) -> Result<std::net::TcpListener, StartError> {
    use socket2::{Domain, Socket, Type};
    let fail = |source| StartError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
    socket.set_reuse_address(true).map_err(fail)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true).map_err(fail)?;
    }
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(1024).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    Ok(socket.into())
}

/// A thread with its own single-threaded runtime serving one listener; returns once the
/// thread serves (or why it cannot), with a receiver that fires when it has drained and
/// stopped. `serve` serves one connection, until it closes or shutdown ends it; on
/// shutdown the thread also waits for `drained` (within the drain timeout).
#[allow(clippy::too_many_arguments)]
fn spawn_thread<C, F, D>(
    name: String,
    listener: std::net::TcpListener,
    serve: C,
    drained: D,
    server: &ServerConfig,
    limit: Option<Arc<Semaphore>>,
    stop: watch::Receiver<bool>,
) -> Result<oneshot::Receiver<Option<usize>>, StartError>
where
    C: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
    D: Future<Output = ()> + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    let (ready, serving) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let server = server.clone();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let started = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|runtime| {
                let listener = {
                    let _entered = runtime.enter();
                    TcpListener::from_std(listener)?
                };
                Ok((runtime, listener))
            });
            let (runtime, listener) = match started {
                Ok(s) => {
                    let _ = ready.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            let cut = local.block_on(&runtime, async {
                // The worker's access lines are written at least once a second, however few.
                tokio::task::spawn_local(async {
                    let mut tick = tokio::time::interval(crate::access::FLUSH_EVERY);
                    loop {
                        tick.tick().await;
                        crate::access::flush_thread();
                    }
                });
                accept_loop(listener, serve, drained, &server, limit, stop).await
            });
            // Drained: the last requests' lines are written before the process may exit.
            crate::access::flush_thread();
            let _ = done.send(cut);
        })
        .map_err(StartError::Thread)?;
    match serving.recv() {
        Ok(Ok(())) => Ok(finished),
        Ok(Err(e)) => Err(StartError::Thread(e)),
        Err(_) => Err(StartError::Thread(std::io::Error::other("the thread ended before serving"))),
    }
}

/// Serves `listener` until stop, then drains; returns how many connections were still open
/// at the drain timeout (and were cut), or None when it drained in time.
async fn accept_loop<C, F, D>(
    listener: TcpListener,
    serve: C,
    drained: D,
    server: &ServerConfig,
    limit: Option<Arc<Semaphore>>,
    mut stop: watch::Receiver<bool>,
) -> Option<usize>
where
    C: Fn(TcpStream, SocketAddr, watch::Receiver<bool>) -> F,
    F: Future<Output = ()> + 'static,
    D: Future<Output = ()>,
{
    // Every connection task holds a clone of `open`; when the last one is gone, `all_closed`
    // yields None. (hyper-util's GracefulShutdown cannot watch upgradeable connections.)
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    // This thread's connections still open, for the drain timeout's warning.
    let count = std::rc::Rc::new(std::cell::Cell::new(0usize));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                // At the connection limit, this worker holds the one it accepted until a
                // connection anywhere closes, and accepts no more meanwhile (the rest wait
                // in the kernel's backlog). Accepting first matters: with SO_REUSEPORT each
                // worker has its own backlog, and a worker that stopped accepting could
                // leave a client waiting behind it while another worker had room.
                let permit = match &limit {
                    Some(limit) => tokio::select! {
                        permit = limit.clone().acquire_owned() => permit.ok(),
                        _ = stopped(&mut stop) => break,
                    },
                    None => None,
                };
                let _ = stream.set_nodelay(true);
                let connection = serve(stream, peer, stop.clone());
                let (open, count) = (open.clone(), count.clone());
                count.set(count.get() + 1);
                tokio::task::spawn_local(async move {
                    connection.await;
                    count.set(count.get() - 1);
                    drop(open);
                    drop(permit);
                });
            }
            _ = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    drop(open);
    let all_done = async {
        all_closed.recv().await;
        drained.await;
    };
    tokio::select! {
        _ = all_done => None,
        _ = tokio::time::sleep(server.drain_timeout) => {
            let cut = count.get();
            tracing::warn!(
                timeout_ms = server.drain_timeout.as_millis() as u64,
                connections = cut,
                "drain timeout: cutting the {cut} connections still open here"
            );
            Some(cut)
        }
    }
}

fn http1_builder(server: &ServerConfig) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        // Forwarded responses keep legacy's header case (or go out in lower case, the
        // cheapest); banyan's own answers carry rotki's case (`rotki/response.rs`).
        .preserve_header_case(server.preserve_header_case)
        .title_case_headers(server.preserve_header_case)
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout);
    builder
}

/// A public connection: the byte-level passthrough while it can (`passthrough/`), then
/// hyper.
async fn public_connection(
    app: Arc<App>,
    bytes: Option<passthrough::Settings>,
    builder: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let (stream, read) = match bytes {
        Some(settings) => match passthrough::serve(&app, settings, stream, peer, stopped(&mut stop)).await {
            passthrough::End::Closed => return,
            passthrough::End::HandOff(stream, read) => (stream, read),
        },
        None => (stream, Vec::new()),
    };
    let handler = proxy::connection(app, peer);
    serve_hyper(builder, Prefixed::new(stream, read), peer, handler, stop).await
}

/// Serves a connection with hyper; on shutdown, finishes the request in flight and closes
/// instead of waiting for the next one.
async fn serve_hyper<H, Fut>(
    mut builder: http1::Builder,
    io: Prefixed<TcpStream>,
    peer: SocketAddr,
    handler: H,
    mut stop: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> Fut + 'static,
    Fut: Future<Output = Response<Body>> + 'static,
{
    let service = service_fn(move |req| {
        let fut = handler(req);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    // Handed over while draining, with a request read: answer it, then close.
    let draining = *stop.borrow();
    if draining {
        builder.keep_alive(false);
    }
    let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    let result = if draining {
        conn.await
    } else {
        tokio::select! {
            r = conn.as_mut() => r,
            _ = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e}");
    }
}

/// Resolves on stop, or when the [`Running`] that could send it is gone (dropped without
/// `shutdown`, or a start that failed half-way): threads never outlive their owner.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
