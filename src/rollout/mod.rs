//! Guards and ramps, run once a second for every route that has them.
//!
//! A **guard** judges a route's native answers over its window: the share of 5xx answers,
//! the p99 latency and, with shadowing, the share of mismatches. When one is over its
//! limit it trips: the route goes back to 0 % native at once, through the file
//! (`FlagsStore::set_route`, so a restart keeps it) or, where the file cannot be written,
//! held in memory (`FlagsStore::force_native`) and shown as such. The trip is logged at
//! warning level, counted, and recorded with its reason in the audit log.
//!
//! A **ramp** moves the route to its next step each interval while the guard stays quiet
//! and native has answered enough requests since the last step to be judged, each step a
//! write to the file like any other change (only if nobody moved the route meanwhile). A
//! trip stops it and writes why into the ramp's table (`stopped = "..."`), so a restart
//! does not climb back into the failure; deleting that line resumes it. A change of the
//! route's share by anyone else (a file edit, the API) starts it again from that share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::json;

use crate::audit::{rfc3339_now, Origin, Source};
use crate::decide::Backend;
use crate::flags::managed::Manager;
use crate::flags::rollout::{GuardSettings, RampSettings};
use crate::flags::{CompiledRoute, EditError, FlagsStore, ReloadOutcome};
use crate::shadow::{Book, MismatchRate};
use crate::stats::{Label, Recent, Stats};

pub struct Rollout {
    /// Where rollbacks and steps are written, and the routes read.
    flags: Arc<FlagsStore>,
    /// Native answers, judged by guards and counted by ramps.
    stats: Arc<Stats>,
    /// Shadow mismatches, for `max_mismatch_rate`.
    book: Arc<Book>,
    routes: Mutex<HashMap<String, RouteState>>,
    ticks: AtomicU64,
}

/// A route's guard and ramp, as the admin API and the dashboard show them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteState {
    pub guard_trips: u64,
    pub last_trip: Option<Trip>,
    pub ramp: Option<RampState>,
    /// When the guard last tripped (Unix seconds): it judges only answers since.
    #[serde(skip)]
    tripped_unix: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trip {
    pub time: String,
    pub reason: String,
    /// The file could not be written: the rollback holds in memory only.
    pub in_memory: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RampState {
    /// The route's native share now.
    pub at: f64,
    /// The next step, if any is left.
    pub next: Option<f64>,
    /// Seconds until the next step is due, while running.
    pub next_in_secs: Option<u64>,
    /// Why the ramp stopped: a guard trip (also in the file), a file banyan cannot write.
    pub stopped: Option<String>,
    /// Why a due step waits (too few native answers since the last one to judge).
    pub waiting: Option<String>,
    #[serde(skip)]
    next_at: Instant,
    /// Native answers the route had given (since start) when the last step was taken: the
    /// guard must have seen enough since, counted from the step itself.
    #[serde(skip)]
    native_at_step: u64,
    /// A stop the file cannot hold (it is not writable).
    #[serde(skip)]
    memory_stop: Option<String>,
    /// The share the ramp last saw or set: another value means someone else moved the
    /// route, and the ramp starts again from there.
    #[serde(skip)]
    seen: f64,
}

impl Rollout {
    /// The trips the audit log remembers count from the start, so a restart does not show
    /// a stopped ramp beside "0 trips".
    pub fn new(flags: Arc<FlagsStore>, stats: Arc<Stats>, book: Arc<Book>) -> Rollout {
        let routes = Mutex::new(trips_on_record(&flags.audit().tail(usize::MAX)));
        Rollout { flags, stats, book, routes, ticks: AtomicU64::new(0) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, RouteState>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A route's guard and ramp state.
    pub fn state(&self, route: &str) -> Option<RouteState> {
        self.lock().get(route).cloned()
    }

    /// Guard trips per route with a guard, for `/metrics`.
    pub fn trips(&self, routes: &[CompiledRoute]) -> Vec<(Label, u64)> {
        let states = self.lock();
        let guarded = routes.iter().filter(|r| r.guard.is_some());
        guarded.map(|r| (r.label, states.get(&r.name).map_or(0, |s| s.guard_trips))).collect()
    }

    /// Evaluations run so far (tests wait on it).
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Acquire)
    }

    /// Judges every guarded route and moves every ramp that is due.
    pub fn tick(&self) {
        let snapshot = self.flags.snapshot();
        let now = Instant::now();
        for route in snapshot.routes.iter().filter(|r| r.guard.is_some() || r.ramp.is_some()) {
            self.route(route, snapshot.legacy_only, now);
        }
        self.ticks.fetch_add(1, Ordering::AcqRel);
    }

    fn route(&self, route: &CompiledRoute, legacy_only: bool, now: Instant) {
        let (tripped_unix, ramp_running) = {
            // Read before the lock: the statistics have their own.
            let native_now = route.ramp.as_ref().map_or(0, |_| self.stats.total(route.label, Backend::Native));
            let mut states = self.lock();
            let state = states.entry(route.name.clone()).or_default();
            sync_ramp(state, route, now, native_now);
            (state.tripped_unix, state.ramp.as_ref().is_some_and(|r| r.stopped.is_none() && r.next.is_some()))
        };
        if let Some(guard) = &route.guard {
            // Nothing to roll back, and no ramp to stop: nothing to judge.
            if route.native_percent > 0.0 || ramp_running {
                if let Some(reason) = self.judge(route, guard, tripped_unix) {
                    self.trip(route, reason);
                    return;
                }
            }
        }
        if !legacy_only {
            self.step(route, now);
        }
    }

    fn trip(&self, route: &CompiledRoute, reason: String) {
        tracing::warn!(route = %route.name, reason = %reason, "guard tripped: native goes back to 0 %");
        let origin = Origin::automatic(Source::Guard, &reason);
        let mut changes = json_native(0.0);
        if route.ramp.is_some() {
            changes.insert("ramp.stopped".into(), json!(format!("guard tripped at {}: {reason}", rfc3339_now())));
        }
        let (mut in_memory, mut written) = (false, true);
        if let Err(e) = self.flags.set_route(&route.name, &changes, origin) {
            written = false;
            tracing::warn!(route = %route.name, "cannot write the rollback to the flags file ({}); holding it in memory", describe(&e));
            if route.native_percent > 0.0 {
                in_memory = matches!(self.flags.force_native(&route.name, 0.0, origin), ReloadOutcome::Applied(_));
            }
        }
        let mut states = self.lock();
        let state = states.entry(route.name.clone()).or_default();
        state.guard_trips += 1;
        state.tripped_unix = Some(unix_now());
        state.last_trip = Some(Trip { time: rfc3339_now(), reason: reason.clone(), in_memory });
        if let Some(ramp) = &mut state.ramp {
            let stop = format!("guard tripped: {reason}");
            // Written into the file, the stop comes back with the next generation; else it
            // is held here.
            ramp.memory_stop = (!written).then(|| stop.clone());
            ramp.stopped = Some(stop);
            ramp.seen = 0.0;
        }
    }

    /// Moves a due ramp to its next step, if native was judged since the last one.
    fn step(&self, route: &CompiledRoute, now: Instant) {
        let (Some(settings), Some(guard)) = (&route.ramp, &route.guard) else { return };
        let (next, seen, native_at_step) = {
            let states = self.lock();
            let Some(ramp) = states.get(&route.name).and_then(|s| s.ramp.as_ref()) else { return };
            let Some(next) = ramp.next.filter(|_| ramp.stopped.is_none() && now >= ramp.next_at) else { return };
            (next, ramp.seen, ramp.native_at_step)
        };
        // From 0 % nothing can be judged; above it, enough native answers must have been.
        let native_now = self.stats.total(route.label, Backend::Native);
        if route.native_percent > 0.0 {
            let judged = native_now.saturating_sub(native_at_step);
            if judged < guard.min_requests {
                let why = format!("{judged} of {} native answers since the last step", guard.min_requests);
                if let Some(r) = self.lock().get_mut(&route.name).and_then(|s| s.ramp.as_mut()) {
                    r.waiting = Some(why);
                }
                return;
            }
        }
        let index = settings.steps.iter().position(|s| *s == next).map_or(0, |i| i + 1);
        let reason = format!("ramp step {index} of {}: {next} %", settings.steps.len());
        let origin = Origin::automatic(Source::Ramp, &reason);
        let result = self.flags.set_route_if(&route.name, &json_native(next), origin, seen);
        // Asked before taking the lock: it looks at the file system.
        let elsewhere = match (&result, self.flags.manager()) {
            (Err(_), Ok(Manager::Elsewhere { message, .. })) => Some(message),
            _ => None,
        };
        let mut states = self.lock();
        let Some(ramp) = states.get_mut(&route.name).and_then(|s| s.ramp.as_mut()) else { return };
        match result {
            Ok(_) => {
                tracing::info!(route = %route.name, "{reason}");
                ramp.at = next;
                ramp.seen = next;
                ramp.next = next_step(settings, next);
                if ramp.next.is_none() {
                    tracing::info!(route = %route.name, native = next, "ramp finished: the route stays at {next} %");
                }
                ramp.next_at = now + Duration::from_secs(settings.interval_secs);
                ramp.native_at_step = native_now;
                ramp.waiting = None;
            }
            Err(_) if elsewhere.is_some() => {
                let why = format!("cannot write the next step: {}", elsewhere.as_deref().unwrap_or_default());
                tracing::warn!(route = %route.name, "ramp stopped: {why}");
                ramp.memory_stop = Some(why);
                ramp.stopped = ramp.memory_stop.clone();
            }
            // Someone changed the file meanwhile: the next tick sees it and starts over.
            Err(e) => {
                tracing::info!(route = %route.name, "ramp step not taken: {}", describe(&e));
                ramp.waiting = Some(describe(&e));
            }
        }
    }
}

/// Each route's guard trips in audit entries (oldest first), with the last one's time and
/// reason. A trip's time is kept too: the guard judges only answers after it.
fn trips_on_record(entries: &[serde_json::Value]) -> HashMap<String, RouteState> {
    let mut routes: HashMap<String, RouteState> = HashMap::new();
    for entry in entries.iter().filter(|e| e["source"] == Source::Guard.as_str()) {
        let mut names: Vec<&str> =
            entry["changes"].as_array().into_iter().flatten().filter_map(|c| c["route"].as_str()).collect();
        names.dedup();
        for name in names {
            let state = routes.entry(name.to_string()).or_default();
            state.guard_trips += 1;
            state.tripped_unix = entry["unix_time"].as_f64().map(|t| t as u64);
            let (time, reason) = (entry["time"].as_str(), entry["reason"].as_str());
            state.last_trip = Some(Trip {
                time: time.unwrap_or_default().to_string(),
                reason: reason.unwrap_or_default().to_string(),
                in_memory: false,
            });
        }
    }
    routes
}

/// Keeps a route's ramp state in step with its settings and its share now; `native_now`:
/// the route's native answers so far.
fn sync_ramp(state: &mut RouteState, route: &CompiledRoute, now: Instant, native_now: u64) {
    let Some(settings) = &route.ramp else {
        state.ramp = None;
        return;
    };
    let fresh = || RampState {
        at: route.native_percent,
        next: next_step(settings, route.native_percent),
        next_in_secs: None,
        stopped: settings.stopped.clone(),
        waiting: None,
        next_at: now + Duration::from_secs(settings.interval_secs),
        native_at_step: native_now,
        memory_stop: None,
        seen: route.native_percent,
    };
    let ramp = state.ramp.get_or_insert_with(fresh);
    // Someone else moved the route, or ops deleted the stop a guard wrote: start again.
    let resumed = settings.stopped.is_none() && ramp.stopped.is_some() && ramp.memory_stop.is_none();
    if ramp.seen != route.native_percent || resumed {
        *ramp = fresh();
    }
    ramp.at = route.native_percent;
    ramp.next = next_step(settings, route.native_percent);
    ramp.stopped = settings.stopped.clone().or_else(|| ramp.memory_stop.clone());
    let running = ramp.stopped.is_none() && ramp.next.is_some();
    ramp.next_in_secs = running.then(|| ramp.next_at.saturating_duration_since(now).as_secs());
}

fn next_step(settings: &RampSettings, native: f64) -> Option<f64> {
    settings.steps.iter().copied().find(|s| *s > native)
}

impl Rollout {
    /// Why the guard trips now, if it does. Only answers since the last trip count, so a
    /// route moved back up is judged on its new answers.
    fn judge(&self, route: &CompiledRoute, guard: &GuardSettings, tripped_unix: Option<u64>) -> Option<String> {
        if route.streak.as_ref().is_some_and(|s| s.tripped()) {
            return Some(format!("{} native 5xx answers in a row (consecutive_errors)", guard.consecutive_errors));
        }
        let now = unix_now();
        let since = now.saturating_sub(guard.window_secs).max(tripped_unix.map_or(0, |t| t + 1));
        let window = now.saturating_sub(since);
        let native = self.stats.recent_since(route.label, Backend::Native, since);
        let mismatches = guard.max_mismatch_rate.map(|_| self.book.mismatch_rate(route.label, window));
        verdict(guard, window, &native, mismatches)
    }
}

/// The guard's rules over one window's evidence: native's answers, and (with a mismatch
/// rule) the shadow's mismatch rate and how many were compared.
fn verdict(guard: &GuardSettings, window: u64, native: &Recent, mismatches: Option<MismatchRate>) -> Option<String> {
    if native.requests >= guard.min_requests {
        let rate = native.errors as f64 / native.requests as f64;
        if rate > guard.max_error_rate {
            return Some(format!(
                "native error rate {:.1} % over the last {window} s ({} of {} requests) is above max_error_rate {:.1} %",
                rate * 100.0,
                native.errors,
                native.requests,
                guard.max_error_rate * 100.0
            ));
        }
        if let (Some(max), Some(p99)) = (guard.max_p99_ms, native.p99_ms) {
            if p99 > max {
                return Some(format!(
                    "native p99 {p99:.1} ms over the last {window} s ({} requests) is above max_p99_ms {max} ms",
                    native.requests
                ));
            }
        }
    }
    if let (Some(max), Some(MismatchRate { rate, compared })) = (guard.max_mismatch_rate, mismatches) {
        if compared >= guard.min_requests && rate > max {
            return Some(format!(
                "shadow mismatch rate {:.1} % over the last {window} s ({compared} compared) is above max_mismatch_rate {:.1} %",
                rate * 100.0,
                max * 100.0
            ));
        }
    }
    None
}

fn json_native(native: f64) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("native".into(), json!(native));
    m
}

fn describe(e: &EditError) -> String {
    match e {
        EditError::Invalid(m) | EditError::UnknownRoute(m) | EditError::Conflict(m) | EditError::Failed(m) => m.clone(),
    }
}

fn unix_now() -> u64 {
    crate::stats::unix_secs(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditLog;
    use crate::native::Registry;

    fn guard(min_requests: u64) -> GuardSettings {
        GuardSettings {
            window_secs: 30,
            min_requests,
            max_error_rate: 0.1,
            max_p99_ms: Some(100.0),
            max_mismatch_rate: Some(0.2),
            consecutive_errors: 5,
        }
    }

    fn recent(requests: u64, errors: u64, p99_ms: f64) -> Recent {
        Recent { requests, errors, p99_ms: Some(p99_ms) }
    }

    fn rate(rate: f64, compared: u64) -> Option<MismatchRate> {
        Some(MismatchRate { rate, compared })
    }

    #[test]
    fn the_verdict_follows_each_rule_and_waits_for_enough_answers() {
        let g = guard(10);
        assert_eq!(verdict(&g, 30, &recent(20, 2, 50.0), rate(0.2, 20)), None, "at the limits");
        let errors = verdict(&g, 30, &recent(20, 3, 50.0), None).unwrap();
        assert_eq!(
            errors,
            "native error rate 15.0 % over the last 30 s (3 of 20 requests) is above max_error_rate 10.0 %"
        );
        let slow = verdict(&g, 30, &recent(20, 0, 150.0), None).unwrap();
        assert!(slow.starts_with("native p99 150.0 ms over the last 30 s (20 requests)"), "{slow}");
        let mismatch = verdict(&g, 30, &recent(0, 0, 0.0), rate(0.5, 10)).unwrap();
        assert!(mismatch.starts_with("shadow mismatch rate 50.0 %"), "{mismatch}");
        // Too few to judge, whatever they say.
        assert_eq!(verdict(&g, 30, &recent(9, 9, 900.0), rate(1.0, 9)), None);
        // No mismatch rule: the shadow's evidence is not asked for.
        let no_rule = GuardSettings { max_mismatch_rate: None, ..guard(1) };
        assert_eq!(verdict(&no_rule, 30, &recent(0, 0, 0.0), rate(1.0, 100)), None);
    }

    /// A guarded route at 100 %, its statistics made up: the guard trips on native's
    /// errors, writes the rollback into the file, and stays quiet on a healthy route.
    #[test]
    fn a_tick_rolls_back_a_failing_route_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.toml");
        let flags = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\n\
                     [routes.ping.guard]\nwindow_secs = 30\nmin_requests = 5\nmax_error_rate = 0.5\n\n\
                     [routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = 100\n\
                     [routes.info.guard]\nwindow_secs = 30\nmin_requests = 5\nmax_error_rate = 0.5\n";
        std::fs::write(&path, flags).unwrap();
        let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")));
        let store = Arc::new(FlagsStore::load(&path, Arc::new(Registry::builtin()), audit).unwrap());
        let stats = Arc::new(Stats::default());
        let rollout = Rollout::new(store.clone(), stats.clone(), Arc::default());
        let label = |name: &str| store.snapshot().routes.iter().find(|r| r.name == name).unwrap().label;
        for _ in 0..6 {
            stats.record(label("ping"), Backend::Native, 500, Duration::from_millis(1));
            stats.record(label("info"), Backend::Native, 200, Duration::from_millis(1));
        }
        stats.drain();
        rollout.tick();

        let native = |name: &str| store.snapshot().routes.iter().find(|r| r.name == name).unwrap().native_percent;
        assert_eq!((native("ping"), native("info")), (0.0, 100.0));
        assert!(std::fs::read_to_string(&path).unwrap().contains("native = 0"));
        let state = rollout.state("ping").unwrap();
        assert_eq!(state.guard_trips, 1);
        let trip = state.last_trip.unwrap();
        assert!(trip.reason.contains("(6 of 6 requests)"), "{}", trip.reason);
        assert!(!trip.in_memory);
        assert_eq!(rollout.state("info").unwrap().guard_trips, 0);
        assert_eq!(rollout.ticks(), 1);
    }
}
