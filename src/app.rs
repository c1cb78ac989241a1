//! The runtime state shared by every connection: static config, the flags store, the
//! native dispatcher and the legacy client, built once at start and shared by `Arc`.

use std::sync::Arc;

use crate::config::Config;
use crate::flags::FlagsStore;
use crate::legacy::Legacy;
use crate::location::Located;
use crate::native::{Context, Native, Registry};
use crate::rotki::cors::Cors;

pub struct App {
    pub config: Config,
    pub flags: Arc<FlagsStore>,
    pub native: Native,
    pub legacy: Legacy,
    pub registry: Arc<Registry>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Flags(Located),
    #[error("config: {0}")]
    Config(String),
}

impl App {
    pub fn new(config: Config, registry: Registry) -> Result<App, AppError> {
        let registry = Arc::new(registry);
        let flags = FlagsStore::load(&config.flags_path, registry.clone()).map_err(AppError::Flags)?;
        let cors = Cors::new(&config.rotki.api_cors).map_err(AppError::Config)?;
        let ctx = Context::from_config(&config, cors.clone());
        Ok(App {
            native: Native::new(registry.clone(), Arc::new(ctx)),
            legacy: Legacy::new(&config.legacy, cors, config.server.preserve_header_case),
            flags: Arc::new(flags),
            registry,
            config,
        })
    }
}
