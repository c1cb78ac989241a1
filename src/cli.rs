//! The command line: `banyan serve`, `banyan check` and `banyan replay`. Option names are a contract with
//! ops; keep them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::flags::{compile, Snapshot};
use crate::location::Located;
use crate::native::Registry;

#[derive(Parser)]
#[command(name = "banyan", version, about = "Strangler-fig proxy in front of rotki's legacy backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: route every request to a native handler or to legacy, per flags.toml.
    Serve(ServeArgs),
    /// Validate the config, flags and admin tokens files and print the effective route table.
    Check(CheckArgs),
    /// Run a HAR file's requests through this build's native handlers (offline, legacy never
    /// asked) and compare each answer with the recorded one. Exit 0: all compared entries
    /// match; 1: one differs; 2: bad input.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct ReplayArgs {
    /// The HAR 1.2 file: banyan's `GET /api/records/{route}`, or a browser's export
    #[arg(value_name = "FILE.har")]
    file: PathBuf,
    /// Config file [default: config/banyan.toml if present, else built-in defaults]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Flags file whose routes match the entries [default: ./flags.toml]
    #[arg(long, value_name = "FILE")]
    flags: Option<PathBuf>,
    /// rotki's data directory (global.db, users/), as rotki's own --data-dir
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log this user in for login-gated handlers; the password comes from BANYAN_REPLAY_PASSWORD
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// A report to read, or one JSON document for scripts
    #[arg(long, value_enum, default_value = "text")]
    format: crate::replay::Format,
}

#[derive(Args)]
struct ServeArgs {
    /// Config file [default: config/banyan.toml if present, else built-in defaults]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Public listen address [default: 127.0.0.1:4242]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Admin listen address [default: 127.0.0.1:4243]
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
    /// Legacy backend URL [default: http://127.0.0.1:5042]
    #[arg(long, value_name = "URL")]
    legacy: Option<String>,
    /// Flags file [default: ./flags.toml]
    #[arg(long, value_name = "FILE")]
    flags: Option<PathBuf>,
    /// rotki's data directory, as rotki's own --data-dir
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log lines as text, or as one JSON object per line (for log shippers)
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
struct CheckArgs {
    /// Config file [default: config/banyan.toml if present, else built-in defaults]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Flags file [default: the config's `flags`, else ./flags.toml]
    #[arg(long, value_name = "FILE")]
    flags: Option<PathBuf>,
    /// Admin listen address, as serve would take it [default: the config's admin_listen]
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check(args) => check(args),
        Command::Replay(args) => crate::replay::main(crate::replay::Options {
            file: args.file,
            config: args.config,
            flags: args.flags,
            data_dir: args.data_dir,
            user: args.user,
            format: args.format,
        }),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

fn check(args: CheckArgs) -> ExitCode {
    let overrides = Overrides { flags: args.flags, admin_listen: args.admin_listen, ..Default::default() };
    let config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // What serve refuses before it binds, check refuses too: the tokens (a bad line, or an
    // admin listener off loopback that no token protects), the CORS patterns and an access
    // log file that cannot be opened.
    if let Err(e) = crate::admin::tokens(&config) {
        return fail(e);
    }
    if let Err(e) = crate::rotki::cors::Cors::new(&config.rotki.api_cors) {
        return fail(format!("config: {e}"));
    }
    if let crate::config::AccessLogTo::File(path) = &config.server.access_log {
        if let Err(e) = crate::access::check_file(path) {
            return fail(format!("config: {e}"));
        }
    }
    let registry = Registry::builtin();
    let path = &config.flags_path;
    let snapshot = match std::fs::read_to_string(path) {
        Ok(text) => compile(path, &text, &registry, 1),
        Err(e) => Err(Located::whole_file(path, format!("cannot read flags: {e}"))),
    };
    match snapshot {
        Ok(s) => {
            for warning in crate::flags::managed::start_warnings(path) {
                eprintln!("warning: {warning}");
            }
            print!("{}", route_table(&s, &registry));
            print!("{}", front_door(&config));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// What answers besides rotki-core (`[static]`, `[upstreams.*]`), as `banyan check`
/// prints it after the route table; nothing when banyan is not the front door.
fn front_door(config: &Config) -> String {
    let mut out = String::new();
    for u in &config.upstreams {
        out.push_str(&format!(
            "upstream {}: {}* -> {} (prefix taken off)
",
            u.name, u.prefix, u.connect.url
        ));
    }
    if let Some(s) = &config.webapp {
        out.push_str(&format!(
            "static: {} for every other path outside /api/ and /ws/ (index.html for any path that is no file)\n",
            s.root.display()
        ));
    }
    out
}

/// The effective route table, as `banyan check` prints it.
pub fn route_table(s: &Snapshot, registry: &Registry) -> String {
    let mut rows = vec![[
        "ROUTE".to_string(),
        "PATH".into(),
        "METHODS".into(),
        "NATIVE".into(),
        "STICKY".into(),
        "GROUP".into(),
        "HANDLER".into(),
    ]];
    for r in &s.routes {
        rows.push([
            r.name.clone(),
            r.path.clone(),
            r.methods.names().join(","),
            format!("{}%", r.native_percent),
            r.sticky.to_string(),
            r.group.clone(),
            r.handler.map_or("-".to_string(), |id| format!("native {}", registry.get(id).path)),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = format!("{}: valid, {} routes\n", s.source.display(), s.routes.len());
    for row in &rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "defaults: sticky={} legacy_only={}; override header: {}; everything else: legacy\n",
        s.default_sticky,
        s.legacy_only,
        s.override_header.as_ref().map_or("off", |h| h.as_str())
    ));
    if s.legacy_only {
        out.push_str("KILL SWITCH ON: every request goes to legacy\n");
    }
    out
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let overrides = Overrides {
        listen: args.listen,
        admin_listen: args.admin_listen,
        legacy: args.legacy,
        flags: args.flags,
        data_dir: args.data_dir,
    };
    let mut config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // Unless the config says otherwise, access lines read as the rest of the log.
    config.server.access_log_format.get_or_insert(match args.log_format {
        LogFormat::Text => crate::access::Format::Text,
        LogFormat::Json => crate::access::Format::Json,
    });
    // Workers bring their own runtimes; this one only carries signals and the flags watcher.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        // Before anything can log "ready": a SIGTERM from then on must drain, not kill.
        let mut stop = StopSignals::install();
        let flags_path = config.flags_path.clone();
        let running = match crate::server::start(config, Registry::builtin()).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        tracing::info!(
            listen = %running.public_addr,
            admin = %running.admin_addr,
            legacy = %running.app.legacy.url(),
            flags = %flags_path.display(),
            generation = running.app.flags.snapshot().generation,
            "banyan ready"
        );
        // Ready to serve, but maybe not everything: a legacy that is down is said at once
        // (legacy's health logs it), not at the first request that gets a 502.
        running.app.legacy.reachable().await;
        let signal = stop.wait().await;
        let delay = running.app.config.server.shutdown_delay;
        if !delay.is_zero() {
            // Still accepting while load balancers take this replica out; a second signal
            // cuts the wait short.
            running.app.start_draining();
            tracing::info!(delay_ms = delay.as_millis() as u64, "{signal}: not ready; accepting until the delay ends");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                again = stop.wait() => tracing::info!("{again}: stopping now"),
            }
        }
        running.app.start_draining();
        tracing::info!("{signal}: draining and stopping");
        match running.shutdown().await {
            None => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            // Requests were cut: a supervisor (and whoever reads its log) should know.
            Some(cut) => {
                tracing::error!(
                    connections = cut.connections,
                    websockets = cut.websockets,
                    "stopped at the drain timeout: {} connections cut ({} websocket sessions); \
                     raise [server] drain_timeout_ms if requests need longer",
                    cut.connections,
                    cut.websockets
                );
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(unix)]
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn install() -> StopSignals {
        use tokio::signal::unix::{signal, SignalKind};
        StopSignals {
            term: signal(SignalKind::terminate()).expect("install the SIGTERM handler"),
            int: signal(SignalKind::interrupt()).expect("install the SIGINT handler"),
        }
    }

    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn install() -> StopSignals {
        StopSignals
    }

    async fn wait(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BANYAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        // The target tells access lines (`banyan::access`) from the rest.
        LogFormat::Json => builder.json().with_target(true).with_current_span(false).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).with_target(false).init(),
    }
}
