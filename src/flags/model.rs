//! `flags.toml` as ops write it by hand. Every key is documented in `docs/flags.md`;
//! unknown keys are errors, so a typo never silently does nothing.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsFile {
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(rename = "override")]
    pub override_: Option<Override>,
    #[serde(default)]
    pub routes: IndexMap<String, Spanned<RouteSpec>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub sticky: Option<Spanned<String>>,
    #[serde(default)]
    pub legacy_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub header: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub path: Spanned<String>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub native: Option<Spanned<f64>>,
    pub sticky: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub websocket: Option<Spanned<String>>,
    /// banyan's extension: the native handler takes `async_query` (rotki may not).
    #[serde(rename = "async")]
    pub async_: Option<Spanned<bool>>,
}
