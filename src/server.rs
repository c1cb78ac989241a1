//! Listeners and connections: binds the public and admin listeners once (a reload never
//! re-binds them), serves HTTP/1.1 on each connection with upgrades enabled, and drains
//! in-flight requests on shutdown. Knows nothing of flags or backends.

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
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::app::{App, AppError};
use crate::body::Body;
use crate::config::Config;
use crate::native::Registry;
use crate::{admin, proxy, rotki};

/// A started banyan: both listeners bound, flags loaded, the watcher running.
pub struct Running {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Loads flags, binds both listeners and starts serving.
pub async fn start(config: Config, registry: Registry) -> Result<Running, StartError> {
    rotki::response::learn_header_case().await;
    let app = Arc::new(App::new(config, registry)?);
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
    };
    let public = bind(app.config.listen).await?;
    let admin = bind(app.config.admin_listen).await?;
    let public_addr = public.local_addr().expect("bound socket has an address");
    let admin_addr = admin.local_addr().expect("bound socket has an address");

    let watcher = crate::flags::spawn_watcher(app.flags.clone());
    let (stop, stopped) = watch::channel(false);
    let server = &app.config.server;
    let proxy_app = app.clone();
    let admin_app = app.clone();
    let tasks = vec![
        tokio::spawn(accept_loop(
            public,
            move |req, peer| {
                let app = proxy_app.clone();
                async move { proxy::handle(&app, req, peer).await }
            },
            server.header_read_timeout,
            server.drain_timeout,
            stopped.clone(),
        )),
        tokio::spawn(accept_loop(
            admin,
            move |req, _| admin::handle(admin_app.clone(), req),
            server.header_read_timeout,
            server.drain_timeout,
            stopped,
        )),
    ];
    Ok(Running { public_addr, admin_addr, app, stop, tasks, _watcher: watcher })
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the drain timeout), returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    handler: F,
    header_read_timeout: Duration,
    drain_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    // Every connection task holds a clone of `open`; when the last one is gone, `all_closed`
    // yields None. (hyper-util's GracefulShutdown cannot watch upgradeable connections.)
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        // Forwarded responses keep legacy's header case; banyan's own use rotki's.
        .preserve_header_case(true)
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
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
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let service = service_fn(move |req| {
                    let fut = handler(req, peer);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
                tokio::spawn(serve_connection(conn, peer, stop.clone(), open.clone()));
            }
            _ = stopped(&mut stop) => break,
        }
    }
    drop(listener);
    drop(open);
    tokio::select! {
        _ = all_closed.recv() => {}
        _ = tokio::time::sleep(drain_timeout) => {
            tracing::warn!(timeout_ms = drain_timeout.as_millis() as u64, "drain timeout: closing remaining connections");
        }
    }
}

/// Serves one connection; on shutdown, finishes the request in flight and closes instead of
/// waiting for the next one.
async fn serve_connection<C>(conn: C, peer: SocketAddr, mut stop: watch::Receiver<bool>, _open: mpsc::Sender<()>)
where
    C: Future<Output = Result<(), hyper::Error>> + GracefulConnection,
{
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "connection ended with an error: {e}");
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            // The sender is gone without a stop: keep serving.
            std::future::pending::<()>().await;
        }
    }
}

/// hyper's graceful shutdown as a trait, so `serve_connection` does not name the
/// connection type.
trait GracefulConnection {
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulConnection for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self)
    }
}
