//! Static process configuration (`config/banyan.toml` plus command-line overrides): where
//! to listen, where legacy is, timeouts, and the values rotki derives from its own process
//! that native handlers must repeat. Parsed once at start; what changes at run time lives
//! in `flags`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Uri;
use serde::Deserialize;
use toml::Spanned;

use crate::location::Located;

mod front;

pub use front::{StaticConfig, UpstreamConfig, ROTKI_PREFIXES};

pub const DEFAULT_CONFIG: &str = "config/banyan.toml";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4242";
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:4243";
pub const DEFAULT_LEGACY: &str = "http://127.0.0.1:5042";
pub const DEFAULT_FLAGS: &str = "./flags.toml";

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub flags_path: PathBuf,
    /// Where ops manage the flags when banyan may not write them (a ConfigMap's name, a
    /// repository), named when a change through the admin API is refused.
    pub flags_managed_by: Option<String>,
    /// rotki's `--data-dir`, as given.
    pub data_dir: Option<PathBuf>,
    pub legacy: LegacyConfig,
    pub native: NativeConfig,
    pub rotki: RotkiConfig,
    pub server: ServerConfig,
    pub websocket: WebsocketConfig,
    pub admin: AdminConfig,
    /// `[static]`: the web app's files, when banyan is the front door.
    pub webapp: Option<StaticConfig>,
    /// `[upstreams.NAME]`, in the file's order.
    pub upstreams: Vec<UpstreamConfig>,
}

/// The admin listener's tokens and audit log (`docs/operations.md`).
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// `name:token` per line; with `BANYAN_ADMIN_TOKEN` (named `env`), who may change things.
    pub tokens_file: Option<PathBuf>,
    /// Append-only JSON lines of every flags change [default: `banyan-audit.jsonl` beside
    /// the flags file].
    pub audit_log: Option<PathBuf>,
    /// Host names the admin listener answers to, besides IP addresses and `localhost`
    /// (a page on another site that rebinds its name to 127.0.0.1 is refused).
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LegacyConfig {
    pub url: Uri,
    pub connect_timeout: Duration,
    /// Time allowed for sending the request and receiving legacy's response head; past it
    /// the client gets 504. Generous: rotki runs long queries synchronously.
    pub timeout: Duration,
    pub pool_idle_timeout: Duration,
}

impl LegacyConfig {
    /// `url` with the file's timeouts, or the defaults (shared by `[legacy]` and every
    /// `[upstreams.NAME]`).
    fn with(url: Uri, connect_ms: Option<u64>, timeout_ms: Option<u64>, idle_secs: Option<u64>) -> LegacyConfig {
        LegacyConfig {
            url,
            connect_timeout: Duration::from_millis(connect_ms.unwrap_or(1_000)),
            timeout: Duration::from_millis(timeout_ms.unwrap_or(300_000)),
            pool_idle_timeout: Duration::from_secs(idle_secs.unwrap_or(90)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NativeConfig {
    /// Largest request body a native handler reads; larger ones get 413.
    pub body_limit: usize,
    /// A native handler still running after this gets 504.
    pub timeout: Duration,
    /// The first id of native async tasks: above any id legacy reaches, exact in
    /// JavaScript numbers.
    pub task_id_base: u64,
    /// Native tasks pending at most; more are refused with 503.
    pub max_pending_tasks: usize,
    /// A completed native task's result is dropped this long after it completed, if never
    /// read.
    pub task_result_ttl: Duration,
}

/// What rotki reports about its own process (`/api/1/info`, CORS), repeated by native code.
#[derive(Debug, Clone)]
pub struct RotkiConfig {
    pub version: String,
    pub log_level: String,
    pub accept_docker_risk: bool,
    /// flask-cors origins, as rotki's `--api-cors` (comma-separated there, a list here).
    pub api_cors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Threads serving the public listener, each with its own runtime and socket.
    pub workers: usize,
    /// Forward header names in the case they were written (costs about 13 % of banyan's
    /// own instructions per proxied request; lower-case names are just as valid HTTP).
    pub preserve_header_case: bool,
    pub header_read_timeout: Duration,
    /// Carry plain legacy requests at the byte level (`passthrough/`); off, hyper carries
    /// every request.
    pub byte_passthrough: bool,
    /// How long in-flight requests may run after SIGTERM before banyan exits anyway.
    pub drain_timeout: Duration,
    /// How long banyan keeps accepting after SIGTERM, with `/readyz` at 503, before it
    /// drains: the time a load balancer (a Kubernetes Service) takes to stop sending.
    pub shutdown_delay: Duration,
    /// One access line per request (route, backend, status, latency, request id), and where.
    pub access_log: AccessLogTo,
    /// `access_log_format`; unset, the access log reads as `--log-format` says.
    pub access_log_format: Option<crate::access::Format>,
    /// Every answer carries the request's `X-Request-Id` (the client's, or the one banyan
    /// made), so a user's report can be found in the logs. Off by default: rotki sends none.
    pub return_request_id: bool,
    /// Public connections open at once, at most; more wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body banyan passes on (declared by `Content-Length`); larger gets
    /// a 413 envelope.
    pub max_body: u64,
    /// `[[server.body_limits]]`: another `max_body` for the paths one matches (the first
    /// that matches), as nginx's `client_max_body_size` per location.
    pub body_limits: Vec<BodyLimit>,
    /// What the recordings of every `record = N` route hold together, at most.
    pub record_max_bytes: usize,
}

/// The websocket bridge's native side (`src/ws/`).
#[derive(Debug, Clone)]
pub struct WebsocketConfig {
    /// Banyan pings each socket it serves this often, and drops one that did not answer
    /// the previous ping.
    pub ping_interval: Duration,
    /// Messages a socket may fall behind the native notifier before it is closed (1013).
    pub client_queue: usize,
}

/// Command-line values that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub legacy: Option<String>,
    pub flags: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<Spanned<String>>,
    admin_listen: Option<Spanned<String>>,
    flags: Option<PathBuf>,
    flags_managed_by: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    legacy: LegacyFile,
    #[serde(default)]
    native: NativeFile,
    #[serde(default)]
    rotki: RotkiFile,
    #[serde(default)]
    server: ServerFile,
    #[serde(default)]
    websocket: WebsocketFile,
    #[serde(default)]
    admin: AdminFile,
    #[serde(rename = "static")]
    webapp: Option<front::StaticFile>,
    #[serde(default)]
    upstreams: indexmap::IndexMap<String, front::UpstreamFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    tokens_file: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebsocketFile {
    ping_interval_secs: Option<u64>,
    client_queue: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFile {
    url: Option<Spanned<String>>,
    connect_timeout_ms: Option<u64>,
    timeout_ms: Option<u64>,
    pool_idle_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeFile {
    body_limit_bytes: Option<usize>,
    timeout_ms: Option<u64>,
    task_id_base: Option<u64>,
    max_pending_tasks: Option<usize>,
    task_result_ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotkiFile {
    version: Option<String>,
    log_level: Option<Spanned<String>>,
    accept_docker_risk: Option<bool>,
    api_cors: Option<Spanned<Vec<String>>>,
}

/// `[server] access_log`: on (to stderr), off, or a file (relative to the config file).
fn access_log_to(v: &toml::Value, base: &Path) -> Result<AccessLogTo, String> {
    match v {
        toml::Value::Boolean(true) => Ok(AccessLogTo::Stderr),
        toml::Value::Boolean(false) => Ok(AccessLogTo::Off),
        toml::Value::String(s) if s == "stderr" => Ok(AccessLogTo::Stderr),
        toml::Value::String(s) if !s.is_empty() => Ok(AccessLogTo::File(relative_to(base, Path::new(s)))),
        _ => Err(
            "expected true, false, \"stderr\" or the path of a file, e.g. access_log = \"/var/log/banyan/access.log\""
                .to_string(),
        ),
    }
}

/// A body limit for the paths `path_regex` matches.
#[derive(Debug, Clone)]
pub struct BodyLimit {
    pub path_regex: regex::Regex,
    pub max_body: u64,
}

/// Where the access log goes (`[server] access_log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTo {
    Off,
    Stderr,
    /// A file of its own, reopened on SIGUSR1.
    File(PathBuf),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    workers: Option<Spanned<usize>>,
    preserve_header_case: Option<bool>,
    header_read_timeout_ms: Option<u64>,
    byte_passthrough: Option<bool>,
    drain_timeout_ms: Option<u64>,
    shutdown_delay_ms: Option<u64>,
    /// `true | false | "stderr" | "path/to/access.log"`, read by [`access_log_to`].
    access_log: Option<Spanned<toml::Value>>,
    access_log_format: Option<Spanned<String>>,
    return_request_id: Option<bool>,
    max_connections: Option<usize>,
    max_body_bytes: Option<u64>,
    body_limits: Option<Vec<BodyLimitFile>>,
    record_max_bytes: Option<usize>,
}

/// One `[[server.body_limits]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyLimitFile {
    path_regex: Spanned<String>,
    max_body_bytes: u64,
}

const LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

impl Config {
    /// Loads `explicit` if given (it must exist), else `config/banyan.toml` if present, else
    /// built-in defaults; then applies the command-line overrides.
    pub fn load(explicit: Option<&Path>, overrides: &Overrides) -> Result<Config, Located> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
        };
        let (file, text, base) = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Located::whole_file(p, format!("cannot read config: {e}")))?;
                let file: File = toml::from_str(&text).map_err(|e| Located::from_toml(p, &text, &e))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (file, text, base)
            }
            None => (File::default(), String::new(), PathBuf::new()),
        };
        let path = path.unwrap_or_else(|| PathBuf::from("<built-in defaults>"));
        let at = |s: &Spanned<String>, msg: String| Located::at_span(&path, &text, s.span(), msg);
        let cli = |flag: &str, msg: String| Located::whole_file(Path::new(flag), msg);

        let listen = match (&overrides.listen, &file.listen) {
            (Some(v), _) => parse_addr(v).map_err(|m| cli("--listen", m))?,
            (None, Some(v)) => parse_addr(v.get_ref()).map_err(|m| at(v, m))?,
            (None, None) => DEFAULT_LISTEN.parse().expect("valid default"),
        };
        let admin_listen = match (&overrides.admin_listen, &file.admin_listen) {
            (Some(v), _) => parse_addr(v).map_err(|m| cli("--admin-listen", m))?,
            (None, Some(v)) => parse_addr(v.get_ref()).map_err(|m| at(v, m))?,
            (None, None) => DEFAULT_ADMIN_LISTEN.parse().expect("valid default"),
        };
        let url = match (&overrides.legacy, &file.legacy.url) {
            (Some(v), _) => parse_legacy_url(v).map_err(|m| cli("--legacy", m))?,
            (None, Some(v)) => parse_legacy_url(v.get_ref()).map_err(|m| at(v, m))?,
            (None, None) => parse_legacy_url(DEFAULT_LEGACY).expect("valid default"),
        };
        // Paths in the file are relative to the file, so the config works from any directory.
        let flags_path = match (&overrides.flags, &file.flags) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => relative_to(&base, p),
            (None, None) => PathBuf::from(DEFAULT_FLAGS),
        };
        let data_dir = overrides.data_dir.clone().or_else(|| file.data_dir.as_ref().map(|p| relative_to(&base, p)));

        let log_level = match &file.rotki.log_level {
            Some(v) => {
                let upper = v.get_ref().to_ascii_uppercase();
                if !LOG_LEVELS.contains(&upper.as_str()) {
                    return Err(at(
                        v,
                        format!("unknown log_level {:?}: expected one of {}", v.get_ref(), LOG_LEVELS.join(", ")),
                    ));
                }
                upper
            }
            None => "DEBUG".to_string(),
        };
        let api_cors = match &file.rotki.api_cors {
            Some(list) => {
                crate::rotki::cors::Cors::new(list.get_ref())
                    .map_err(|m| Located::at_span(&path, &text, list.span(), m))?;
                list.get_ref().clone()
            }
            None => vec!["http://localhost:*/*".to_string()],
        };
        let workers = match &file.server.workers {
            Some(w) if *w.get_ref() == 0 => {
                return Err(Located::at_span(&path, &text, w.span(), "workers must be at least 1"));
            }
            Some(w) => *w.get_ref(),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
        let spot = |span: std::ops::Range<usize>, msg: String| Located::at_span(&path, &text, span, msg);
        let webapp = file.webapp.as_ref().map(|f| front::static_config(f, &base, &spot)).transpose()?;
        let upstreams = front::upstreams(&file.upstreams, &spot)?;
        Ok(Config {
            listen,
            admin_listen,
            flags_path,
            flags_managed_by: file.flags_managed_by.clone().filter(|s| !s.trim().is_empty()),
            data_dir,
            legacy: LegacyConfig::with(
                url,
                file.legacy.connect_timeout_ms,
                file.legacy.timeout_ms,
                file.legacy.pool_idle_timeout_secs,
            ),
            native: NativeConfig {
                body_limit: file.native.body_limit_bytes.unwrap_or(10 * 1024 * 1024),
                timeout: ms(file.native.timeout_ms, 30_000),
                task_id_base: file.native.task_id_base.unwrap_or(1_000_000_000),
                max_pending_tasks: file.native.max_pending_tasks.unwrap_or(64).max(1),
                task_result_ttl: Duration::from_secs(file.native.task_result_ttl_secs.unwrap_or(3600)),
            },
            rotki: RotkiConfig {
                version: file.rotki.version.unwrap_or_else(|| "1.43.2".to_string()),
                log_level,
                // rotki reads the variable's presence from its own environment; when banyan
                // runs beside it the two share one, so that is the default here too.
                accept_docker_risk: file
                    .rotki
                    .accept_docker_risk
                    .unwrap_or_else(|| std::env::var_os("ROTKI_ACCEPT_DOCKER_RISK").is_some()),
                api_cors,
            },
            server: ServerConfig {
                workers,
                preserve_header_case: file.server.preserve_header_case.unwrap_or(true),
                header_read_timeout: ms(file.server.header_read_timeout_ms, 60_000),
                byte_passthrough: file.server.byte_passthrough.unwrap_or(true),
                drain_timeout: ms(file.server.drain_timeout_ms, 10_000),
                shutdown_delay: ms(file.server.shutdown_delay_ms, 0),
                access_log: match &file.server.access_log {
                    None => AccessLogTo::Stderr,
                    Some(v) => access_log_to(v.get_ref(), &base).map_err(|m| {
                        let written = text.get(v.span()).unwrap_or_default();
                        Located::at_span(&path, &text, v.span(), format!("access_log = {written}: {m}"))
                    })?,
                },
                access_log_format: match &file.server.access_log_format {
                    None => None,
                    Some(f) => Some(match f.get_ref().as_str() {
                        "text" => crate::access::Format::Text,
                        "json" => crate::access::Format::Json,
                        other => {
                            let message = format!("access_log_format = {other:?}: expected \"text\" or \"json\"");
                            return Err(at(f, message));
                        }
                    }),
                },
                return_request_id: file.server.return_request_id.unwrap_or(false),
                max_connections: file.server.max_connections.unwrap_or(10_000).max(1),
                max_body: file.server.max_body_bytes.unwrap_or(1 << 30),
                body_limits: {
                    let mut limits = Vec::new();
                    for l in file.server.body_limits.iter().flatten() {
                        let regex = regex::Regex::new(l.path_regex.get_ref())
                            .map_err(|e| at(&l.path_regex, format!("path_regex is not a regular expression: {e}")))?;
                        limits.push(BodyLimit { path_regex: regex, max_body: l.max_body_bytes });
                    }
                    limits
                },
                record_max_bytes: file.server.record_max_bytes.unwrap_or(64 << 20),
            },
            websocket: WebsocketConfig {
                ping_interval: Duration::from_secs(file.websocket.ping_interval_secs.unwrap_or(30).max(1)),
                client_queue: file.websocket.client_queue.unwrap_or(1024).max(1),
            },
            admin: AdminConfig {
                tokens_file: file.admin.tokens_file.as_ref().map(|p| relative_to(&base, p)),
                audit_log: file.admin.audit_log.as_ref().map(|p| relative_to(&base, p)),
                allowed_hosts: file.admin.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            },
            webapp,
            upstreams,
        })
    }
}

/// `path` as seen from the config file's directory, with `dir/..` folded away so messages
/// name `flags.toml`, not `config/../flags.toml`.
fn relative_to(base: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(path).components() {
        match c {
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| format!("invalid listen address {s:?}: expected IP:PORT, e.g. 127.0.0.1:4242"))
}

fn parse_legacy_url(s: &str) -> Result<Uri, String> {
    parse_url("legacy URL", s)
}

fn parse_upstream_url(s: &str) -> Result<Uri, String> {
    parse_url("url", s)
}

/// An upstream's URL: plain http, a host, and no path (requests keep theirs).
fn parse_url(what: &str, s: &str) -> Result<Uri, String> {
    let uri: Uri = s.parse().map_err(|e| format!("invalid {what} {s:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("invalid {what} {s:?}: only http:// is supported (rotki serves plain HTTP)"));
    }
    if uri.authority().is_none() {
        return Err(format!("invalid {what} {s:?}: no host"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "invalid {what} {s:?}: give only scheme, host and port; paths are passed through as requested"
        ));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_listen_address_is_located_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("banyan.toml");
        std::fs::write(&p, "# comment\nlisten = \"nowhere\"\n").unwrap();
        let err = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(err.position, Some((2, 10)), "{err}");
        assert!(err.message.contains("invalid listen address"), "{err}");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_location() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("banyan.toml");
        std::fs::write(&p, "[legacy]\nurl = \"http://127.0.0.1:1\"\ntimeout = 5\n").unwrap();
        let err = Config::load(Some(&p), &Overrides::default()).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(3), "{err}");
        assert!(err.message.contains("unknown field `timeout`"), "{err}");
    }

    #[test]
    fn command_line_wins_and_relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("banyan.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nflags = \"../flags.toml\"\n").unwrap();
        let o = Overrides { listen: Some("127.0.0.1:2".into()), ..Default::default() };
        let c = Config::load(Some(&p), &o).unwrap();
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.flags_path, dir.path().parent().unwrap().join("flags.toml"));
        assert_eq!(relative_to(Path::new("config"), Path::new("../flags.toml")), Path::new("flags.toml"));
        assert_eq!(relative_to(Path::new(""), Path::new("../x")), Path::new("../x"));
    }

    #[test]
    fn legacy_url_must_be_plain_http_without_path() {
        assert!(parse_legacy_url("https://x:1").is_err());
        assert!(parse_legacy_url("http://x:1/api").is_err());
        assert!(parse_legacy_url("http://127.0.0.1:5042").is_ok());
    }
}
