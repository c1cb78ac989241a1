//! The runtime state shared by every connection, built once at start and shared by `Arc`.
//! Each component gets the narrow handles it uses, and the config values it needs are
//! copied into it here: nothing on the request path reads the config.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::access::{AccessLog, Format, Sink};
use crate::audit::AuditLog;
use crate::config::{AccessLogTo, Config};
use crate::db::ReadDb;
use crate::failure::Responder;
use crate::flags::FlagsStore;
use crate::legacy::Legacy;
use crate::location::Located;
use crate::native::tasks::Tasks;
use crate::native::{Context, Native, Registry};
use crate::request::{Core, Limits};
use crate::rollout::Rollout;
use crate::rotki::cors::Cors;
use crate::session::Sessions;
use crate::shadow::Shadow;
use crate::stats::Stats;
use crate::tasks_bridge::TaskBridge;
use crate::ws::Bridge;

pub struct App {
    /// Static config, for the admin listener and the binary's edge.
    pub config: Config,
    pub flags: Arc<FlagsStore>,
    /// Admission and `finish`, the same for both request paths.
    pub core: Core,
    /// Turns failures into rotki's envelope, on both paths.
    pub responder: Responder,
    pub native: Arc<Native>,
    pub legacy: Arc<Legacy>,
    pub registry: Arc<Registry>,
    /// rotki's global.db under `--data-dir`, for native handlers and `/api/globaldb`.
    pub global_db: Option<Arc<ReadDb>>,
    /// What banyan knows of legacy's login, and the open user database.
    pub sessions: Arc<Sessions>,
    pub tasks: TaskBridge,
    pub ws: Arc<Bridge>,
    /// Requests per route and backend, for `/metrics`, `/api/stats` and the dashboard.
    pub stats: Arc<Stats>,
    /// Shadow copies in flight and what they found.
    pub shadow: Arc<Shadow>,
    /// Guards and ramps.
    pub rollout: Rollout,
    /// The exchanges of routes with `record = N`.
    pub records: crate::record::Recorder,
    /// `[static]`: the web app's files.
    pub webapp: Option<crate::webapp::WebApp>,
    /// `[upstreams.*]`, in the config's order (admission names them by index).
    pub upstreams: Vec<crate::upstream::Upstream>,
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

/// The access log `[server] access_log` asks for. `BANYAN_LOG` can still turn it off, as
/// it could when access lines went through the diagnostic log
/// (`BANYAN_LOG=info,banyan::access=off`).
fn access_log(config: &Config) -> Result<Option<AccessLog>, AppError> {
    let filtered_out = !tracing::enabled!(target: "banyan::access", tracing::Level::INFO);
    let format = config.server.access_log_format.unwrap_or(Format::Text);
    let sink = match &config.server.access_log {
        AccessLogTo::Off => return Ok(None),
        _ if filtered_out => return Ok(None),
        AccessLogTo::Stderr => Sink::Stderr,
        AccessLogTo::File(path) => Sink::file(path).map_err(AppError::Config)?,
    };
    Ok(Some(AccessLog::new(sink, format)))
}

impl App {
    /// `shutdown` turns true (or closes) when banyan shuts down.
    pub fn new(config: Config, registry: Registry, shutdown: watch::Receiver<bool>) -> Result<App, AppError> {
        let registry = Arc::new(registry);
        let audit_path = config.admin.audit_log.clone().unwrap_or_else(|| {
            config.flags_path.parent().unwrap_or(std::path::Path::new(".")).join("banyan-audit.jsonl")
        });
        let audit = Arc::new(AuditLog::open(&audit_path));
        let flags = FlagsStore::load(&config.flags_path, registry.clone(), audit)
            .map_err(AppError::Flags)?
            .with_managed_by(config.flags_managed_by.clone());
        let flags = Arc::new(flags);
        let cors = Cors::new(&config.rotki.api_cors).map_err(AppError::Config)?;

        let server = &config.server;
        let tasks =
            Tasks::new(config.native.task_id_base, config.native.max_pending_tasks, config.native.task_result_ttl);
        let global_db = config.data_dir.as_deref().map(ReadDb::global);
        let legacy = Arc::new(Legacy::new(&config.legacy, server.preserve_header_case, server.max_body));
        let sessions = Sessions::new(config.data_dir.clone(), tasks.clone(), legacy.clone());
        let ctx = Context::new(&config, cors.clone(), global_db.clone(), tasks.clone(), sessions.clone());
        let native = Arc::new(Native::new(registry.clone(), Arc::new(ctx)));
        let stats = Arc::new(Stats::default());
        let limits = Limits {
            max_body: server.max_body,
            body_limits: server.body_limits.clone().into(),
            native_body: config.native.body_limit as u64,
        };
        let shadow = Arc::new(Shadow::new(native.clone(), legacy.clone()));
        let hub = crate::ws::hub::Hub::new(config.websocket.client_queue);
        let access_log = access_log(&config)?;
        let webapp = match &config.webapp {
            Some(cfg) => Some(
                crate::webapp::WebApp::new(cfg)
                    .map_err(|e| AppError::Config(format!("[static] root {}: {e}", cfg.root.display())))?,
            ),
            None => None,
        };
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| crate::upstream::Upstream::new(u, cors.clone(), server.preserve_header_case, server.max_body))
            .collect();
        Ok(App {
            core: Core::new(
                limits,
                crate::request::Front::new(&config),
                tasks.clone(),
                sessions.clone(),
                stats.clone(),
                access_log,
                server.return_request_id,
            ),
            responder: Responder::new(cors.clone(), legacy.url()),
            tasks: TaskBridge::new(tasks, cors),
            ws: Arc::new(Bridge::new(hub, shutdown, config.websocket.ping_interval, legacy.clone())),
            rollout: Rollout::new(flags.clone(), stats.clone(), shadow.book.clone()),
            records: crate::record::Recorder::new(server.record_max_bytes),
            flags,
            native,
            legacy,
            registry,
            global_db,
            sessions,
            stats,
            shadow,
            draining: AtomicBool::new(false),
            webapp,
            upstreams,
            config,
        })
    }

    /// Reopens the access log's file (SIGUSR1, after logrotate moved it).
    pub fn reopen_access_log(&self) {
        match self.core.access_log() {
            Some(log) => log.reopen(),
            None => tracing::info!("SIGUSR1: the access log is off; nothing to reopen"),
        }
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}
