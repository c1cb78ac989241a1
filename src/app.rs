//! The runtime state shared by every connection: static config, the flags store, the
//! native dispatcher and the legacy client, built once at start and shared by `Arc`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::admin::auth::Tokens;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::flags::{FlagsStore, WebsocketMode};
use crate::legacy::Legacy;
use crate::location::Located;
use crate::native::{Context, Native, Registry};
use crate::rotki::cors::Cors;
use crate::stats::{Label, Stats};
use crate::ws::hub::Hub;
use crate::ws::Sessions;
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    pub flags: Arc<FlagsStore>,
    pub native: Native,
    pub legacy: Legacy,
    pub registry: Arc<Registry>,
    /// The native notifier native code publishes websocket messages to.
    pub hub: Arc<Hub>,
    /// Websocket sessions open now (shutdown waits for them).
    pub sessions: Arc<Sessions>,
    /// Who may change things through the admin API.
    pub tokens: Tokens,
    /// Requests per route and backend, for `/metrics`, `/api/stats` and the dashboard.
    pub stats: Stats,
    /// Shadow copies in flight and what they found.
    pub shadow: crate::shadow::Shadow,
    /// Guards and ramps.
    pub rollout: crate::rollout::Rollout,
    /// Turns true when banyan shuts down.
    shutdown: watch::Receiver<bool>,
    /// Set on SIGTERM, `shutdown_delay` before banyan stops accepting: `/readyz` says 503
    /// so load balancers stop sending new connections while it still takes them.
    draining: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Flags(Located),
    #[error("config: {0}")]
    Config(String),
    #[error("{0}")]
    Admin(Located),
}

impl App {
    /// `shutdown` turns true (or closes) when banyan shuts down.
    pub fn new(config: Config, registry: Registry, shutdown: watch::Receiver<bool>) -> Result<App, AppError> {
        let registry = Arc::new(registry);
        let env_token = std::env::var("BANYAN_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
        let tokens = Tokens::load(config.admin.tokens_file.as_deref(), env_token).map_err(AppError::Admin)?;
        if tokens.is_empty() && !config.admin_listen.ip().is_loopback() {
            return Err(AppError::Config(format!(
                "the admin listener would be on {}, which is not loopback, and no admin token is configured: \
                 set [admin] tokens_file or BANYAN_ADMIN_TOKEN, or keep admin_listen on 127.0.0.1",
                config.admin_listen
            )));
        }
        let audit_path = config.admin.audit_log.clone().unwrap_or_else(|| {
            config.flags_path.parent().unwrap_or(std::path::Path::new(".")).join("banyan-audit.jsonl")
        });
        let audit = Arc::new(AuditLog::open(&audit_path));
        let flags = FlagsStore::load(&config.flags_path, registry.clone(), audit)
            .map_err(AppError::Flags)?
            .with_managed_by(config.flags_managed_by.clone());
        let cors = Cors::new(&config.rotki.api_cors).map_err(AppError::Config)?;
        let ctx = Context::from_config(&config, cors.clone());
        Ok(App {
            native: Native::new(registry.clone(), Arc::new(ctx)),
            legacy: Legacy::new(&config.legacy, cors, config.server.preserve_header_case, config.server.max_body),
            flags: Arc::new(flags),
            registry,
            hub: Hub::new(config.websocket.client_queue),
            sessions: Arc::default(),
            tokens,
            stats: Stats::default(),
            shadow: Default::default(),
            rollout: Default::default(),
            shutdown,
            draining: AtomicBool::new(false),
            config,
        })
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// A new websocket session's context: counted as open (per route and mode) until it ends.
    pub fn ws_ctx(&self, label: Label, mode: WebsocketMode) -> crate::ws::Ctx {
        let session = self.sessions.enter(label, mode);
        crate::ws::Ctx::new(self.shutdown.clone(), session, self.config.websocket.ping_interval)
    }
}
