//! `banyan replay FILE.har`: the recorded exchanges (banyan's own recordings, a browser's
//! export) run again through this build's native handlers, in-process and offline: legacy
//! is never contacted. Each entry is routed as live traffic is (the flags' route table), a
//! route with a native handler runs it, and its answer is compared with the recorded one as
//! shadowing compares (`shadow::compare`, with the route's `shadow_ignore`). What no
//! handler implements is skipped, not failed. `report.rs` prints what was found.
//!
//! Exit codes: 0 when every compared entry matches, 1 when one differs, 2 on bad input
//! (the file, the config or flags, the user database), named with where it is wrong.

mod load;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http_body_util::BodyExt;
use zeroize::Zeroizing;

use crate::config::{Config, Overrides};
use crate::flags::{compile, Snapshot};
use crate::location::Located;
use crate::native::{Context, Native, Registry, Served};
use crate::shadow::compare::{self, Answer, Ignored};
pub use report::Format;
use report::{Outcome, Replayed, Report};

/// The environment variable `--user`'s password is read from (never an argument: those
/// show in `ps` and shell history).
pub const PASSWORD_ENV: &str = "BANYAN_REPLAY_PASSWORD";
/// Entries run at once: handlers wait on database threads, so a few overlap.
const AT_ONCE: usize = 8;

pub struct Options {
    pub file: PathBuf,
    pub config: Option<PathBuf>,
    pub flags: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    /// Log this user in (their database under the data dir), for login-gated handlers.
    pub user: Option<String>,
    pub format: Format,
}

/// Bad input: what and where, for exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn main(options: Options) -> ExitCode {
    match run(&options) {
        Ok(report) => {
            print!("{}", report.render(options.format));
            if report.differed() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(BadInput(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

pub fn run(options: &Options) -> Result<Report, BadInput> {
    let entries = load::entries(&options.file)?;
    let overrides =
        Overrides { flags: options.flags.clone(), data_dir: options.data_dir.clone(), ..Default::default() };
    let config = Config::load(options.config.as_deref(), &overrides).map_err(|e| BadInput(e.to_string()))?;
    let registry = Registry::builtin();
    let path = &config.flags_path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(Located::whole_file(path, format!("cannot read flags: {e}")).to_string()))?;
    let snapshot = compile(path, &text, &registry, 1).map_err(|e| BadInput(e.to_string()))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BadInput(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let native = native(&config, registry, options.user.clone()).await?;
        let replayed: Vec<Replayed> = futures_util::stream::iter(entries.iter())
            .map(|entry| replay(&native, &snapshot, entry))
            .buffered(AT_ONCE)
            .collect()
            .await;
        Ok(Report::new(options.file.display().to_string(), replayed))
    })
}

/// The native handlers as `serve` builds them, over the data dir, with `user` logged in.
async fn native(config: &Config, registry: Registry, user: Option<String>) -> Result<Native, BadInput> {
    let cors = crate::rotki::cors::Cors::new(&config.rotki.api_cors).map_err(BadInput)?;
    let tasks = crate::native::tasks::Tasks::new(config.native.task_id_base, 1, config.native.task_result_ttl);
    let global_db = config.data_dir.as_deref().map(crate::db::ReadDb::global);
    // Never contacted: the session is opened here, not watched at legacy.
    let legacy = Arc::new(crate::legacy::Legacy::new(&config.legacy, true, config.server.max_body));
    let sessions = crate::session::Sessions::new(config.data_dir.clone(), tasks.clone(), legacy);
    if let Some(user) = user {
        let password = std::env::var(PASSWORD_ENV)
            .map_err(|_| BadInput(format!("--user {user}: set {PASSWORD_ENV} to their password")))?;
        let password = Zeroizing::new(password);
        sessions.open_offline(user.clone(), password).await.map_err(|e| BadInput(format!("--user {user}: {e}")))?;
    }
    let ctx = Context::new(config, cors, global_db, tasks, sessions);
    Ok(Native::new(Arc::new(registry), Arc::new(ctx)))
}

/// One entry: routed, run and compared, or why not.
async fn replay(native: &Native, snapshot: &Snapshot, entry: &load::Entry) -> Replayed {
    let (route, plan) = plan(snapshot, entry);
    let outcome = match plan {
        Err(why) => Outcome::Skipped(why),
        Ok((handler, ignore)) => run_one(native, handler, entry, ignore).await,
    };
    Replayed { index: entry.index, method: entry.parts.method.to_string(), target: entry.target(), route, outcome }
}

/// A handler to run and the pointers its comparison leaves out, or why an entry is skipped.
type Plan<'s> = Result<(crate::native::HandlerId, &'s [String]), String>;

/// The route an entry matches, and its plan.
fn plan<'s>(snapshot: &'s Snapshot, entry: &load::Entry) -> (Option<String>, Plan<'s>) {
    let (parts, path) = (&entry.parts, entry.parts.uri.path());
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    let routed = snapshot.route(&parts.method, path, &parts.headers, peer);
    let name = routed.route.map(|r| r.name.clone());
    let why = |s: &str| (name.clone(), Err(s.to_string()));
    let Some(route) = routed.route else { return why("no route in the flags matches it") };
    if crate::session::Step::of(&parts.method, path, |_| false).is_some() {
        return why("a step of the user lifecycle (never replayed: its answer is legacy's)");
    }
    let Some(handler) = route.handler else { return why("its route has no native handler in this build") };
    match &entry.answer {
        None => return why("no response was recorded"),
        Some(a) if a.status == 0 => return why("the request failed where it was recorded (status 0)"),
        Some(a) if a.status == 101 => return why("a websocket handshake"),
        Some(a) if a.body.is_none() => return why("its response body was not recorded"),
        Some(_) => {}
    }
    if crate::shadow::asks_for_a_task(parts, &entry.body) {
        return why("it asks for an async task (async_query), whose id never matches");
    }
    (name, Ok((handler, &route.compare_ignore)))
}

async fn run_one(
    native: &Native,
    handler: crate::native::HandlerId,
    entry: &load::Entry,
    ignore: &[String],
) -> Outcome {
    let parts: Parts = entry.parts.clone();
    let served = native.serve_buffered(handler, parts, Bytes::clone(&entry.body), false).await;
    let resp = match served {
        Served::Response(r) => r,
        Served::HandBack(_) => {
            return Outcome::Skipped(
                "the native handler handed it to legacy (a login-gated route needs --user, or the input is one it leaves to legacy)"
                    .into(),
            )
        }
    };
    let (status, content_type) = (resp.status().as_u16(), resp.headers().get(CONTENT_TYPE).cloned());
    let body = match resp.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Outcome::Skipped(format!("the native answer could not be read: {e}")),
    };
    let recorded = entry.answer.as_ref().expect("planned with an answer");
    let head = entry.parts.method == http::Method::HEAD;
    let (recorded_body, native_body) = match head {
        true => (&[][..], &[][..]),
        false => (recorded.body.as_deref().unwrap_or_default(), &body[..]),
    };
    let mut ignored = Ignored::new(ignore.iter().map(String::as_str));
    for pointer in crate::record::redact::redacted_pointers(recorded_body) {
        ignored.add(&pointer);
    }
    let differences = compare::compare(
        &Answer { status: recorded.status, content_type: recorded.content_type.as_deref(), body: recorded_body },
        &Answer { status, content_type: content_type.as_ref().map(|v| v.as_bytes()), body: native_body },
        &ignored,
    );
    match differences.is_empty() {
        true => Outcome::Matched,
        false => Outcome::Differed(differences.into_iter().map(compare::Difference::preview).collect()),
    }
}
