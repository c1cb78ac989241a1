//! `[static]` and `[upstreams.NAME]`: what banyan serves besides rotki-core when it stands
//! where nginx stands in rotki's Docker image: the web app's files, and sidecars such as
//! colibri under a path prefix of their own.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::{parse_upstream_url, relative_to, LegacyConfig};

/// The web app's files (`src/webapp/`).
#[derive(Debug, Clone)]
pub struct StaticConfig {
    /// The directory served; nothing outside it ever is, symlinks included.
    pub root: PathBuf,
    /// Paths whose files may be cached for a year (`immutable_regex`); `None`: names with
    /// a content hash, as Vite writes them (`index-B1aX_9zQ.js`).
    pub immutable: Option<regex::Regex>,
    /// Bytes of file contents kept in memory, at most (files read once, then checked
    /// with one `stat` per request).
    pub cache_bytes: u64,
}

/// A named upstream besides rotki-core, for the paths under its prefix.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The table's name: the `route` label of its requests and its `x-banyan-backend`.
    pub name: String,
    /// Matched, then stripped: `/colibri/assets/icon` reaches it as `/assets/icon`.
    pub prefix: String,
    /// How it is reached: the same settings, pooling and failures as legacy's.
    pub connect: LegacyConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StaticFile {
    root: Spanned<String>,
    immutable_regex: Option<Spanned<String>>,
    cache_max_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpstreamFile {
    url: Spanned<String>,
    prefix: Spanned<String>,
    connect_timeout_ms: Option<u64>,
    timeout_ms: Option<u64>,
    pool_idle_timeout_secs: Option<u64>,
}

/// Where a value sits in the file, for an error that names it.
pub(super) type At<'a> = &'a dyn Fn(std::ops::Range<usize>, String) -> crate::location::Located;

/// Paths that are always rotki-core's: neither a file of the web app nor an upstream's.
pub const ROTKI_PREFIXES: [&str; 2] = ["/api/", "/ws/"];

pub(super) fn static_config(
    file: &StaticFile,
    base: &Path,
    at: At<'_>,
) -> Result<StaticConfig, crate::location::Located> {
    let root = relative_to(base, Path::new(file.root.get_ref()));
    match std::fs::metadata(&root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(at(file.root.span(), format!("root = {:?}: not a directory", root.display().to_string()))),
        Err(e) => return Err(at(file.root.span(), format!("root = {:?}: {e}", root.display().to_string()))),
    }
    let immutable = match &file.immutable_regex {
        Some(r) => Some(
            regex::Regex::new(r.get_ref())
                .map_err(|e| at(r.span(), format!("immutable_regex is not a regular expression: {e}")))?,
        ),
        None => None,
    };
    Ok(StaticConfig { root, immutable, cache_bytes: file.cache_max_bytes.unwrap_or(256 << 20) })
}

pub(super) fn upstreams(
    files: &IndexMap<String, UpstreamFile>,
    at: At<'_>,
) -> Result<Vec<UpstreamConfig>, crate::location::Located> {
    let mut out: Vec<UpstreamConfig> = Vec::new();
    for (name, file) in files {
        let named = |span, msg: String| at(span, format!("[upstreams.{name}]: {msg}"));
        let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !plain || name == "native" || name == "legacy" {
            let message = "its name must be letters, digits, '_' or '-', and not \"native\" or \"legacy\"";
            return Err(named(file.url.span(), message.to_string()));
        }
        let prefix = file.prefix.get_ref();
        let clash = out.iter().find(|u| prefix.starts_with(&u.prefix) || u.prefix.starts_with(prefix.as_str()));
        let why = if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix == "/" {
            Some("a prefix starts and ends with '/' and names a directory, e.g. \"/colibri/\"".to_string())
        } else if let Some(rotki) = ROTKI_PREFIXES.iter().find(|p| prefix.starts_with(*p) || p.starts_with(prefix)) {
            Some(format!("{rotki} is rotki-core's"))
        } else {
            clash.map(|u| format!("it overlaps [upstreams.{}]'s prefix {:?}", u.name, u.prefix))
        };
        if let Some(why) = why {
            return Err(named(file.prefix.span(), format!("prefix = {prefix:?}: {why}")));
        }
        let url = parse_upstream_url(file.url.get_ref()).map_err(|m| named(file.url.span(), m))?;
        let connect = LegacyConfig::with(url, file.connect_timeout_ms, file.timeout_ms, file.pool_idle_timeout_secs);
        out.push(UpstreamConfig { name: name.clone(), prefix: prefix.clone(), connect });
    }
    Ok(out)
}
