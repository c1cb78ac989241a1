//! Guards and ramps on a running banyan (in-process, on real sockets, so native handlers
//! can be made to fail or stall on purpose): a guard trips on errors and on latency and
//! writes the rollback into flags.toml with the operator's comments intact, holds it in
//! memory where the file cannot be written, and a ramp steps up on its clock and stops on
//! a trip.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use banyan::config::{Config, Overrides};
use banyan::native::{BoxFuture, Context, HandlerResult, NativeRequest, Registry};
use banyan::server::Running;
use common::eventually;
use serde_json::Value;

static ERRORS_FAIL: AtomicBool = AtomicBool::new(true);
static RAMP_FAIL: AtomicBool = AtomicBool::new(false);

fn answer(fail: bool) -> HandlerResult {
    if fail {
        return Err("native broke".into());
    }
    let body = bytes::Bytes::from_static(br#"{"result": true, "message": ""}"#);
    Ok(banyan::native::Outcome::Respond(banyan::rotki::response::api_response(http::StatusCode::OK, body)))
}

fn errors(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async { answer(ERRORS_FAIL.load(Ordering::SeqCst)) })
}

fn slow(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async {
        tokio::time::sleep(Duration::from_millis(120)).await;
        answer(false)
    })
}

/// Never fails: for a test that must not see another test's `RAMP_FAIL`, as the tests of
/// this file run at once.
fn steady(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async { answer(false) })
}

fn ramped(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async { answer(RAMP_FAIL.load(Ordering::SeqCst)) })
}

struct Env {
    rt: tokio::runtime::Runtime,
    running: Option<Running>,
    dir: tempfile::TempDir,
    _legacy: common::Legacy,
}

impl Env {
    fn start(flags: &str) -> Env {
        let legacy = common::Legacy::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flags.toml"), flags).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let running = Self::serve(&rt, &dir, &legacy);
        Env { rt, running: Some(running), dir, _legacy: legacy }
    }

    /// A banyan on `dir`'s flags file (and its audit log beside it).
    fn serve(rt: &tokio::runtime::Runtime, dir: &tempfile::TempDir, legacy: &common::Legacy) -> Running {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            admin_listen: Some("127.0.0.1:0".into()),
            legacy: Some(legacy.url()),
            flags: Some(dir.path().join("flags.toml")),
            data_dir: None,
        };
        let config = Config::load(None, &overrides).unwrap();
        let mut registry = Registry::builtin();
        registry.add("/api/1/errors", &[http::Method::GET], errors);
        registry.add("/api/1/slow", &[http::Method::GET], slow);
        registry.add("/api/1/ramped", &[http::Method::GET], ramped);
        registry.add("/api/1/steady", &[http::Method::GET], steady);
        rt.block_on(banyan::server::start(config, registry)).unwrap()
    }

    /// Stops this banyan and starts another on the same files, as a deploy would.
    fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown());
        }
        self.running = Some(Self::serve(&self.rt, &self.dir, &self._legacy));
    }

    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    fn get(&self, path: &str, n: usize) -> Vec<(u16, String)> {
        let c = common::client();
        (0..n)
            .map(|_| {
                let r = c.get(format!("http://{}{path}", self.running().public_addr)).send().unwrap();
                (r.status().as_u16(), common::backend(&r))
            })
            .collect()
    }

    fn flags_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("flags.toml")).unwrap()
    }

    fn route(&self, name: &str) -> Value {
        let url = format!("http://{}/api/flags", self.running().admin_addr);
        let flags: Value = serde_json::from_str(&common::client().get(url).send().unwrap().text().unwrap()).unwrap();
        flags["routes"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone()
    }

    fn audit(&self) -> Vec<Value> {
        let url = format!("http://{}/api/audit", self.running().admin_addr);
        let a: Value = serde_json::from_str(&common::client().get(url).send().unwrap().text().unwrap()).unwrap();
        a["entries"].as_array().unwrap().clone()
    }

    /// Waits for `n` more evaluations of guards and ramps.
    fn ticks(&self, n: u64) {
        let from = self.running().app.rollout.ticks();
        eventually(Duration::from_secs(n + 10), || self.running().app.rollout.ticks() >= from + n)
            .expect("the guards are evaluated every second");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt.block_on(r.shutdown());
        }
    }
}

const ERRORS: &str = "# The errors route: 100 % native while we watch it.\n\
[routes.errors]\n\
path = \"/api/1/errors\"\n\
methods = [\"GET\"]\n\
native = 100   # flipped after the shadow run\n\
\n\
[routes.errors.guard]\n\
window_secs = 30\n\
min_requests = 10\n\
max_error_rate = 0.2\n\
consecutive_errors = 0   # the error-rate rule alone\n";

#[test]
fn a_guard_trips_on_errors_and_writes_the_rollback_into_the_file() {
    let mut env = Env::start(ERRORS);
    let answers = env.get("/api/1/errors", 12);
    assert!(answers.iter().all(|(s, b)| *s == 500 && b == "native"), "{answers:?}");

    eventually(Duration::from_secs(10), || env.route("errors")["native"] == 0.0).expect("the guard rolls back");
    // The file says so too, the operator's comments and layout intact.
    assert_eq!(env.flags_file(), ERRORS.replace("native = 100   #", "native = 0   #"));
    let route = env.route("errors");
    assert_eq!(route["runtime"]["guard_trips"], 1);
    let reason = route["runtime"]["last_trip"]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("error rate 100.0 %") && reason.contains("max_error_rate 20.0 %"), "{reason}");
    assert_eq!(route["runtime"]["last_trip"]["in_memory"], false);
    let entry = env.audit().pop().unwrap();
    assert_eq!((entry["source"].as_str(), entry["reason"].as_str()), (Some("guard"), Some(reason.as_str())));
    assert_eq!(entry["changes"][0]["after"], 0.0);
    // Legacy answers from now on.
    assert!(env.get("/api/1/errors", 3).iter().all(|(_, b)| b == "legacy"));
    let metrics =
        common::client().get(format!("http://{}/metrics", env.running().admin_addr)).send().unwrap().text().unwrap();
    assert!(metrics.contains(r#"banyan_guard_trips_total{route="errors"} 1"#), "{metrics}");

    // A restart remembers the trip (from the audit log), and counts generations on from
    // the last one on record: the audit list never goes back to generation 1.
    let last_generation = env.audit().last().unwrap()["generation"].as_u64().unwrap();
    env.restart();
    let route = env.route("errors");
    assert_eq!(route["runtime"]["guard_trips"], 1, "{route}");
    assert_eq!(route["runtime"]["last_trip"]["reason"], reason.as_str());
    let flags: Value = serde_json::from_str(
        &common::client().get(format!("http://{}/api/flags", env.running().admin_addr)).send().unwrap().text().unwrap(),
    )
    .unwrap();
    assert_eq!(flags["generation"].as_u64(), Some(last_generation + 1), "{flags}");
}

/// A run of 5xx trips the guard on the request that completes it, not at the next
/// judgement: every request after it goes to legacy at once, and the rollback follows.
#[test]
fn a_run_of_errors_trips_on_the_request_that_completes_it() {
    ERRORS_FAIL.store(true, Ordering::SeqCst);
    let flags = "[routes.errors]\npath = \"/api/1/errors\"\nmethods = [\"GET\"]\nnative = 100\n\
                 [routes.errors.guard]\nmin_requests = 10\nconsecutive_errors = 3\n";
    let env = Env::start(flags);
    // One keep-alive client, one request after another.
    let answers = env.get("/api/1/errors", 30);
    let native: Vec<_> = answers.iter().filter(|(_, b)| b == "native").collect();
    assert_eq!(native.len(), 3, "{answers:?}");
    assert!(native.iter().all(|(s, _)| *s == 500) && answers[3..].iter().all(|(_, b)| b == "legacy"), "{answers:?}");
    eventually(Duration::from_secs(5), || env.route("errors")["native"] == 0.0).expect("the rollback is written");
    let reason = env.route("errors")["runtime"]["last_trip"]["reason"].as_str().unwrap().to_string();
    assert_eq!(reason, "3 native 5xx answers in a row (consecutive_errors)");
    assert!(env.flags_file().contains("native = 0\n"), "{}", env.flags_file());
}

#[test]
fn a_guard_trips_on_latency() {
    let flags = "[routes.slow]\npath = \"/api/1/slow\"\nmethods = [\"GET\"]\nnative = 100\n\
                 [routes.slow.guard]\nmin_requests = 5\nmax_p99_ms = 50\n";
    let env = Env::start(flags);
    assert!(env.get("/api/1/slow", 6).iter().all(|(s, _)| *s == 200));
    eventually(Duration::from_secs(10), || env.route("slow")["native"] == 0.0).expect("the guard rolls back");
    let reason = env.route("slow")["runtime"]["last_trip"]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("p99") && reason.contains("max_p99_ms 50 ms"), "{reason}");
}

#[test]
fn where_the_file_cannot_be_written_the_rollback_holds_in_memory() {
    let env = Env::start(ERRORS);
    let path = env.dir.path().join("flags.toml");
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    env.get("/api/1/errors", 12);
    eventually(Duration::from_secs(10), || env.route("errors")["native"] == 0.0).expect("the guard rolls back");
    assert_eq!(env.flags_file(), ERRORS, "a read-only file was written");
    let route = env.route("errors");
    assert_eq!(route["runtime"]["override"]["native"], 0.0);
    assert_eq!(route["runtime"]["last_trip"]["in_memory"], true);
    assert!(env.get("/api/1/errors", 3).iter().all(|(_, b)| b == "legacy"));
}

/// A ramp counts native answers from its step itself: what `waiting` says is the count so
/// far, and the next step comes as soon as enough are in (not at the next statistics
/// slot).
#[test]
fn a_ramps_evidence_is_counted_from_the_step() {
    let flags = "[override]\nheader = \"x-banyan-force\"\n\
                 [routes.steady]\npath = \"/api/1/steady\"\nmethods = [\"GET\"]\nnative = 10\n\
                 [routes.steady.guard]\nwindow_secs = 10\nmin_requests = 5\nmax_error_rate = 0.2\n\
                 [routes.steady.ramp]\nsteps = [10, 50]\ninterval_secs = 1\n";
    let env = Env::start(flags);
    let native = |n: usize| {
        let c = common::client();
        for _ in 0..n {
            let url = format!("http://{}/api/1/steady", env.running().public_addr);
            let r = c.get(url).header("x-banyan-force", "native").send().unwrap();
            assert_eq!((common::backend(&r), r.status().as_u16()), ("native".to_string(), 200));
        }
    };
    // Due after a second, the step waits for five native answers since the ramp began.
    let waiting = || env.route("steady")["runtime"]["ramp"]["waiting"].as_str().map(str::to_string);
    eventually(Duration::from_secs(10), || waiting().as_deref() == Some("0 of 5 native answers since the last step"))
        .expect("the due step waits");
    native(3);
    let said = common::eventually_value(Duration::from_secs(5), || {
        waiting().filter(|w| w == "3 of 5 native answers since the last step")
    });
    assert!(said.is_some(), "the count did not follow: {:?}", waiting());
    native(2);
    eventually(Duration::from_secs(5), || env.route("steady")["native"] == 50.0).expect("the step, once five are in");
}

#[test]
fn a_ramp_steps_up_on_its_clock_and_stops_when_the_guard_trips() {
    RAMP_FAIL.store(false, Ordering::SeqCst);
    let flags = "[routes.ramped]\npath = \"/api/1/ramped\"\nmethods = [\"GET\"]\nnative = 0\n\
                 [routes.ramped.guard]\nwindow_secs = 10\nmin_requests = 10\nmax_error_rate = 0.2\n\
                 [routes.ramped.ramp]\nsteps = [10, 50, 100]\ninterval_secs = 1\n";
    let env = Env::start(flags);
    // Each step after the first waits for enough native answers to judge: keep traffic up.
    eventually(Duration::from_secs(30), || {
        env.get("/api/1/ramped", 20);
        env.route("ramped")["native"] == 100.0
    })
    .expect("the ramp reaches 100 %");
    let steps: Vec<_> =
        env.audit().iter().filter(|e| e["source"] == "ramp").map(|e| e["changes"][0]["after"].clone()).collect();
    assert_eq!(steps, [10.0, 50.0, 100.0]);
    assert!(env.flags_file().contains("native = 100\n"), "{}", env.flags_file());
    assert_eq!(env.route("ramped")["runtime"]["ramp"]["next"], Value::Null);

    // An operator's edit back to 10 % restarts the ramp from there; then native breaks.
    std::fs::write(env.dir.path().join("flags.toml"), env.flags_file().replace("native = 100\n", "native = 10\n"))
        .unwrap();
    eventually(Duration::from_secs(10), || env.route("ramped")["native"] == 10.0).expect("back at 10 %");
    RAMP_FAIL.store(true, Ordering::SeqCst);
    eventually(Duration::from_secs(30), || {
        env.get("/api/1/ramped", 20);
        env.route("ramped")["native"] == 0.0
    })
    .expect("the guard rolls back");
    let ramp = env.route("ramped")["runtime"]["ramp"].clone();
    assert!(ramp["stopped"].as_str().unwrap().starts_with("guard tripped"), "{ramp}");
    // The stop is in the file too, so a restart does not climb back into the failure.
    let file = env.flags_file();
    assert!(file.contains("native = 0\n") && file.contains("stopped = \"guard tripped at "), "{file}");
    env.ticks(3);
    assert_eq!(env.route("ramped")["native"], 0.0);
    assert_eq!(env.audit().last().unwrap()["source"], "guard");

    // Native is fixed; deleting the stop resumes the ramp from 0 %.
    RAMP_FAIL.store(false, Ordering::SeqCst);
    let resumed: String = file.lines().filter(|l| !l.starts_with("stopped = ")).map(|l| format!("{l}\n")).collect();
    std::fs::write(env.dir.path().join("flags.toml"), resumed).unwrap();
    eventually(Duration::from_secs(15), || env.route("ramped")["native"] == 10.0).expect("the ramp resumes");
    let ramp_changes: Vec<_> = env
        .audit()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .filter(|c| c["key"] == "ramp")
        .map(|c| (c["before"]["stopped"].is_string(), c["after"]["stopped"].is_string()))
        .collect();
    assert_eq!(ramp_changes, [(false, true), (true, false)], "the guard's stop and the resume are both audited");
}
