//! The runtime state shared by every connection: static config, the flags store, the
//! native dispatcher and the legacy client, built once at start and shared by `Arc`.

use std::sync::Arc;

use crate::config::Config;
use crate::flags::FlagsStore;
use crate::legacy::Legacy;
use crate::location::Located;
use crate::native::{Context, Native, Registry};
use crate::rotki::cors::Cors;
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
    /// Turns true when banyan shuts down.
    shutdown: watch::Receiver<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Flags(Located),
    #[error("config: {0}")]
    Config(String),
}

impl App {
    /// `shutdown` turns true (or closes) when banyan shuts down.
    pub fn new(config: Config, registry: Registry, shutdown: watch::Receiver<bool>) -> Result<App, AppError> {
        let registry = Arc::new(registry);
        let flags = FlagsStore::load(&config.flags_path, registry.clone()).map_err(AppError::Flags)?;
        let cors = Cors::new(&config.rotki.api_cors).map_err(AppError::Config)?;
        let ctx = Context::from_config(&config, cors.clone());
        Ok(App {
            native: Native::new(registry.clone(), Arc::new(ctx)),
            legacy: Legacy::new(&config.legacy, cors, config.server.preserve_header_case),
            flags: Arc::new(flags),
            registry,
            hub: Hub::new(config.websocket.client_queue),
            sessions: Arc::default(),
            shutdown,
            config,
        })
    }

    /// A new websocket session's context: counted as open until it ends.
    pub fn ws_ctx(&self) -> crate::ws::Ctx {
        crate::ws::Ctx::new(self.shutdown.clone(), &self.sessions, self.config.websocket.ping_interval)
    }
}
