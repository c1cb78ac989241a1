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
    pub shadow: Option<Spanned<bool>>,
    pub shadow_methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub shadow_ignore: Option<Spanned<Vec<Spanned<String>>>>,
    pub shadow_noise: Option<Spanned<bool>>,
    pub guard: Option<Spanned<GuardSpec>>,
    pub ramp: Option<Spanned<RampSpec>>,
    /// Keep the route's last N exchanges in memory (`src/record/`).
    pub record: Option<Spanned<i64>>,
}

/// `[routes.<name>.guard]`: when native misbehaves, roll it back to 0.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    pub window_secs: Option<Spanned<u64>>,
    pub min_requests: Option<Spanned<u64>>,
    pub max_error_rate: Option<Spanned<f64>>,
    pub max_p99_ms: Option<Spanned<f64>>,
    pub max_mismatch_rate: Option<Spanned<f64>>,
    pub consecutive_errors: Option<Spanned<u32>>,
}

/// `[routes.<name>.ramp]`: walk native up step by step while the guard stays quiet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    pub steps: Spanned<Vec<Spanned<f64>>>,
    pub interval_secs: Spanned<u64>,
    /// Written by a guard that tripped: the ramp waits until ops delete it.
    pub stopped: Option<Spanned<String>>,
}
