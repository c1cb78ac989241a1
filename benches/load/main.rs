//! The load benchmark, in parts:
//! - passthrough: banyan's legacy passthrough, with its access log on and off, against the
//!   proxies ops would otherwise use (nginx `proxy_pass` with upstream keep-alive, with and
//!   without its access log; HAProxy), at equal worker counts, a bare hyper forwarder (our
//!   stack with no features) and a direct connection (the limit), all forwarding to the
//!   same fast upstream, driven by wrk in interleaved rounds: a table of medians per worker
//!   count and connection count, with each process's CPU per request and the ratios to
//!   nginx and to the bare forwarder (ratios, because absolute numbers move from run to
//!   run on a shared machine);
//! - legacy: the legacy test app (rotki's gevent stack) reached directly and through
//!   banyan, against banyan's native handler for the same endpoint;
//! - reload: how long a saved flags file takes to serve, while wrk loads banyan;
//! - globaldb: `POST /api/1/assets/locationmappings` native against legacy, and legacy's
//!   ping latency while 8 heavy queries run on either side;
//! - userdb: `GET /api/1/settings` and `/api/1/tags` from the logged-in user's SQLCipher
//!   database native against legacy, and legacy's ping latency while 8 clients read
//!   settings on either side;
//! - assets: rotki's asset module (`/api/1/assets/all`, `/search`, `/search/levenshtein`,
//!   `/mappings`) native against legacy on a global.db of a real one's size, and native
//!   ping's latency while 8 clients page through assets on either side;
//! - websocket: banyan's RSS per relayed websocket (`--ws-connections`, default 9,900) and
//!   the time from a native publish to the last of `--ws-clients` (1,000) sockets;
//! - shadow: the client's latency with `shadow = true` against without, both ways round:
//!   native answering with copies to a slow legacy (50 ms), and legacy answering with
//!   copies to the native handler;
//! - record: what `record = N` costs a route's requests, and how long `banyan replay`
//!   takes for 10,000 recorded exchanges;
//! - static: the web app's files, nginx as rotki's image configures it against banyan's
//!   `[static]` (a hashed script, the SPA fallback, the script gzipped);
//! - login: the reads rotki's web app makes at every login, 6 at a time, through banyan with
//!   them native and with all on legacy: answered natively, time to the last answer, CPU;
//! - soak (only when asked for, `--only soak`): RSS over `--soak-secs` (600) at full load.
//!
//! Run it with `scripts/bench-load.sh` (installs wrk, nginx and HAProxy, builds, runs).
//! Options: `--duration SECS` (per run, default 5), `--rounds N` (default 3),
//! `--connections 32,256`, `--workers 1,2` (each passthrough contender's workers: nginx's
//! processes, HAProxy's and banyan's threads), `--threads N` (wrk threads, default 2), `--only
//! passthrough,legacy,reload,globaldb,userdb,assets,websocket,shadow,record,static,login,soak` (the parts to run; default all
//! but soak),
//! `--soak-secs SECS`, `--ws-connections N`, `--ws-clients N`.

pub struct Options {
    pub duration: u64,
    pub rounds: usize,
    pub connections: Vec<usize>,
    /// Workers each passthrough contender runs (one table per count).
    pub workers: Vec<usize>,
    pub threads: usize,
    /// Which parts to run: passthrough, legacy, reload, soak.
    pub only: Vec<String>,
    /// How long the memory soak runs.
    pub soak_secs: u64,
    /// Relayed websockets the websocket part holds open.
    pub ws_connections: usize,
    /// Sockets a native broadcast goes to.
    pub ws_clients: usize,
}

impl Options {
    /// Options for one wrk run of `duration` seconds, for parts that drive load themselves.
    pub fn single_run(duration: u64, threads: usize) -> Options {
        Options {
            duration,
            rounds: 1,
            connections: vec![],
            workers: vec![],
            threads,
            only: vec![],
            soak_secs: 0,
            ws_connections: 0,
            ws_clients: 0,
        }
    }
}

fn options() -> Options {
    let mut o = Options {
        duration: 5,
        rounds: 3,
        connections: vec![32, 256],
        workers: vec![1, 2],
        threads: 2,
        only: vec![
            "passthrough".into(),
            "legacy".into(),
            "reload".into(),
            "globaldb".into(),
            "userdb".into(),
            "assets".into(),
            "websocket".into(),
            "shadow".into(),
            "record".into(),
            "static".into(),
            "login".into(),
        ],
        soak_secs: 600,
        ws_connections: 9_900,
        ws_clients: 1_000,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).unwrap_or_else(|| panic!("{} needs a value", args[i]));
        match args[i].as_str() {
            "--duration" => o.duration = value.parse().expect("--duration SECS"),
            "--rounds" => o.rounds = value.parse().expect("--rounds N"),
            "--threads" => o.threads = value.parse().expect("--threads N"),
            "--only" => o.only = value.split(',').map(str::to_string).collect(),
            "--soak-secs" => o.soak_secs = value.parse().expect("--soak-secs SECS"),
            "--ws-connections" => o.ws_connections = value.parse().expect("--ws-connections N"),
            "--ws-clients" => o.ws_clients = value.parse().expect("--ws-clients N"),
            "--workers" => o.workers = value.split(',').map(|c| c.parse().expect("--workers 1,2")).collect(),
            "--connections" => {
                o.connections = value.split(',').map(|c| c.parse().expect("--connections 32,256")).collect()
            }
            // `cargo` passes `--bench` when run as a bench target; ignore such flags.
            other if other.starts_with("--") => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o
}

mod assets;
mod compare;
mod globaldb;
mod legacy_app;
mod login;
mod passthrough;
mod procs;
mod record;
mod reload;
mod shadow;
mod soak;
mod userdb;
mod web_files;
mod websockets;
mod wrk;

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let wants = |part: &str| o.only.iter().any(|p| p == part);
    if wants("passthrough") {
        passthrough::run(&o, dir.path());
    }
    if wants("legacy") {
        legacy_app::run(&o, dir.path());
    }
    if wants("reload") {
        reload::run(&o, dir.path());
    }
    if wants("globaldb") {
        globaldb::run(&o, dir.path());
    }
    if wants("userdb") {
        userdb::run(&o, dir.path());
    }
    if wants("assets") {
        assets::run(&o, dir.path());
    }
    if wants("websocket") {
        websockets::run(&o, dir.path());
    }
    if wants("login") {
        login::run(&o, dir.path());
    }
    if wants("static") {
        web_files::run(&o, dir.path());
    }
    if wants("shadow") {
        shadow::run(&o, dir.path());
    }
    if wants("record") {
        record::run(&o, dir.path());
    }
    if wants("soak") {
        soak::run(&o, dir.path());
    }
}
