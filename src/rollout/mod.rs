//! Guards and ramps, run once a second for every route that has them.
//!
//! A **guard** judges a route's native answers over its window: the share of 5xx answers,
//! the p99 latency and, with shadowing, the share of mismatches. When one is over its
//! limit it trips: the route goes back to 0 % native at once, through the file
//! (`FlagsStore::set_route`, so a restart keeps it) or, where the file cannot be written,
//! held in memory (`FlagsStore::force_native`) and shown as such. The trip is logged at
//! warning level, counted, and recorded with its reason in the audit log.
//!
//! A **ramp** moves the route to its next step each interval while the guard stays quiet,
//! each step a write to the file like any other change. A trip stops it; a change of the
//! route's native share by anyone else (a file edit, the API) starts it again from there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::audit::{Origin, Source};
use crate::decide::Backend;
use crate::flags::rollout::GuardSettings;
use crate::flags::{CompiledRoute, EditError};
use crate::stats::Label;

#[derive(Default)]
pub struct Rollout {
    routes: Mutex<HashMap<String, RouteState>>,
    ticks: AtomicU64,
}

/// A route's guard and ramp, as the admin API and the dashboard show them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteState {
    pub guard_trips: u64,
    pub last_trip: Option<Trip>,
    pub ramp: Option<RampState>,
    #[serde(skip)]
    tripped_at: Option<Instant>,
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
    /// The step the route is on (its native share), if it is on one.
    pub at: f64,
    /// The next step, if any is left.
    pub next: Option<f64>,
    /// Seconds until the next step, while running.
    pub next_in_secs: Option<u64>,
    /// Why the ramp stopped (a guard trip, a file banyan cannot write).
    pub stopped: Option<String>,
    #[serde(skip)]
    next_at: Instant,
    /// The share the ramp last saw or set: another value means someone else moved the
    /// route, and the ramp starts again from there.
    #[serde(skip)]
    seen: f64,
}

impl Rollout {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, RouteState>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A route's guard and ramp state.
    pub fn state(&self, route: &str) -> Option<RouteState> {
        self.lock().get(route).cloned()
    }

    /// Guard trips per route, for `/metrics`.
    pub fn trips(&self, routes: &[CompiledRoute]) -> Vec<(Label, u64)> {
        let states = self.lock();
        routes
            .iter()
            .filter(|r| r.guard.is_some())
            .map(|r| (r.label, states.get(&r.name).map_or(0, |s| s.guard_trips)))
            .collect()
    }

    /// Evaluations run so far (tests wait on it).
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Acquire)
    }

    /// Judges every guarded route and moves every ramp that is due.
    pub fn tick(&self, app: &App) {
        let snapshot = app.flags.snapshot();
        let now = Instant::now();
        for route in snapshot.routes.iter().filter(|r| r.guard.is_some() || r.ramp.is_some()) {
            self.route(app, route, snapshot.legacy_only, now);
        }
        self.ticks.fetch_add(1, Ordering::AcqRel);
    }

    fn route(&self, app: &App, route: &CompiledRoute, legacy_only: bool, now: Instant) {
        let (tripped_at, ramp_running) = {
            let mut states = self.lock();
            let state = states.entry(route.name.clone()).or_default();
            sync_ramp(state, route, now);
            (state.tripped_at, state.ramp.as_ref().is_some_and(|r| r.stopped.is_none() && r.next.is_some()))
        };
        if let Some(guard) = &route.guard {
            // Nothing to roll back, and no ramp to stop: nothing to judge.
            if route.native_percent > 0.0 || ramp_running {
                if let Some(reason) = judge(app, route, guard, tripped_at, now) {
                    self.trip(app, route, reason, now);
                    return;
                }
            }
        }
        if !legacy_only {
            self.step(app, route, now);
        }
    }

    fn trip(&self, app: &App, route: &CompiledRoute, reason: String, now: Instant) {
        tracing::warn!(route = %route.name, reason = %reason, "guard tripped: native goes back to 0 %");
        let mut in_memory = false;
        if route.native_percent > 0.0 {
            let origin = Origin::automatic(Source::Guard, &reason);
            match app.flags.set_route(&route.name, &json_native(0.0), origin) {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(route = %route.name, "cannot write the rollback to the flags file ({}); holding it in memory", describe(&e));
                    app.flags.force_native(&route.name, 0.0, origin);
                    in_memory = true;
                }
            }
        }
        let mut states = self.lock();
        let state = states.entry(route.name.clone()).or_default();
        state.guard_trips += 1;
        state.tripped_at = Some(now);
        state.last_trip = Some(Trip { time: crate::audit::rfc3339(unix_now()), reason: reason.clone(), in_memory });
        if let Some(ramp) = &mut state.ramp {
            ramp.stopped = Some(format!("guard tripped: {reason}"));
            ramp.seen = 0.0;
        }
    }

    /// Moves a due ramp to its next step.
    fn step(&self, app: &App, route: &CompiledRoute, now: Instant) {
        let (next, total, index) = {
            let states = self.lock();
            let Some(ramp) = states.get(&route.name).and_then(|s| s.ramp.as_ref()) else { return };
            let Some(next) = ramp.next.filter(|_| ramp.stopped.is_none() && now >= ramp.next_at) else { return };
            let steps = route.ramp.as_ref().map_or(&[][..], |r| &r.steps[..]);
            (next, steps.len(), steps.iter().position(|s| *s == next).map_or(0, |i| i + 1))
        };
        let reason = format!("ramp step {index} of {total}: {next} %");
        let result = app.flags.set_route(&route.name, &json_native(next), Origin::automatic(Source::Ramp, &reason));
        let mut states = self.lock();
        let Some(ramp) = states.get_mut(&route.name).and_then(|s| s.ramp.as_mut()) else { return };
        match result {
            Ok(_) => {
                tracing::info!(route = %route.name, "{reason}");
                let interval = Duration::from_secs(route.ramp.as_ref().map_or(0, |r| r.interval_secs));
                ramp.at = next;
                ramp.seen = next;
                ramp.next = next_step(route, next);
                ramp.next_at = now + interval;
            }
            Err(e) => {
                let why = format!("cannot write the next step to the flags file: {}", describe(&e));
                tracing::warn!(route = %route.name, "ramp stopped: {why}");
                ramp.stopped = Some(why);
            }
        }
    }
}

/// Keeps a route's ramp state in step with its settings and its share now.
fn sync_ramp(state: &mut RouteState, route: &CompiledRoute, now: Instant) {
    let Some(settings) = &route.ramp else {
        state.ramp = None;
        return;
    };
    let fresh = || RampState {
        at: route.native_percent,
        next: next_step(route, route.native_percent),
        next_in_secs: None,
        stopped: None,
        next_at: now + Duration::from_secs(settings.interval_secs),
        seen: route.native_percent,
    };
    match &mut state.ramp {
        // Someone else moved the route: start again from there.
        Some(r) if r.seen != route.native_percent => state.ramp = Some(fresh()),
        Some(r) => {
            r.next_in_secs =
                (r.stopped.is_none() && r.next.is_some()).then(|| r.next_at.saturating_duration_since(now).as_secs());
        }
        None => state.ramp = Some(fresh()),
    }
}

fn next_step(route: &CompiledRoute, native: f64) -> Option<f64> {
    route.ramp.as_ref()?.steps.iter().copied().find(|s| *s > native)
}

/// Why the guard trips now, if it does. Only answers since the last trip count, so a
/// route moved back up is judged on its new answers.
fn judge(
    app: &App,
    route: &CompiledRoute,
    guard: &GuardSettings,
    tripped_at: Option<Instant>,
    now: Instant,
) -> Option<String> {
    let since_trip = tripped_at.map_or(u64::MAX, |t| now.duration_since(t).as_secs());
    let window = guard.window_secs.min(since_trip);
    if window == 0 {
        return None;
    }
    let native = app.stats.recent(route.label, Backend::Native, window);
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
    if let Some(max) = guard.max_mismatch_rate {
        let (rate, compared) = app.shadow.book.mismatch_rate(route.label, window);
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
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
