//! What shadowing found, per route: counts by outcome, the last mismatches with their
//! differences, the pointers learned as noise, and recent outcomes by second for the
//! guard's mismatch rate.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use serde::Serialize;

use super::compare::Difference;
use crate::stats::Label;

/// Mismatches kept per route.
const KEPT: usize = 100;
/// Pointers learned as noise per route, at most.
const MAX_NOISE: usize = 200;
/// Seconds of outcomes kept for windows (the guard's longest useful window).
const HISTORY_SECS: u64 = 900;
/// A route's mismatches get one log line per this many seconds at most (each is kept in
/// full for `/api/shadow/{route}`): under load, one line per request floods the log.
const LOG_EVERY_SECS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Match,
    Mismatch,
    /// The copy failed (transport error, timeout, a body too large to compare).
    Error,
    /// Not sent: too many copies in flight, or a request body too large to duplicate.
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Match, Outcome::Mismatch, Outcome::Error, Outcome::Dropped];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::Error => "error",
            Outcome::Dropped => "dropped",
        }
    }
}

/// Why a copy ended in no comparison (an `error` outcome); `docs/flags.md` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    /// The copy took longer than banyan waits for one.
    Timeout,
    /// The native handler hands this request to legacy (`/info?check_for_updates=true`
    /// asks GitHub, which is legacy's job): there is no native answer to compare.
    HandedBack,
    /// The copy to legacy got no answer (unreachable, timed out, cut short).
    LegacyFailed,
    /// The copy to native failed (its body could not be read).
    NativeFailed,
    /// The client's own answer cannot be compared: legacy failed on it, or it was cut
    /// short, chunked or over the 1 MiB comparison limit.
    PrimaryUnusable,
    /// The comparison itself failed (its thread panicked).
    CompareFailed,
}

impl ErrorReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::Timeout => "timeout",
            ErrorReason::HandedBack => "handed_back",
            ErrorReason::LegacyFailed => "legacy_failed",
            ErrorReason::NativeFailed => "native_failed",
            ErrorReason::PrimaryUnusable => "primary_unusable",
            ErrorReason::CompareFailed => "compare_failed",
        }
    }
}

/// The last copy that ended in an error, for the admin API and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub time: String,
    pub reason: ErrorReason,
    pub detail: String,
    pub request_id: String,
    pub target: String,
}

/// One recorded mismatch.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub time: String,
    /// The request's `X-Request-Id` (the client's or banyan's), as in the access log.
    pub request_id: String,
    pub method: String,
    pub target: String,
    /// Which backend answered the client.
    pub primary: &'static str,
    pub differences: Vec<Difference>,
}

#[derive(Default)]
struct RouteRecord {
    mismatches: VecDeque<Mismatch>,
    noise: BTreeSet<String>,
    /// (unix second, matches, mismatches)
    seconds: VecDeque<(u64, u64, u64)>,
    /// Errors by reason since start, and the last one.
    errors: std::collections::BTreeMap<&'static str, u64>,
    last_error: Option<LastError>,
    /// When a mismatch was last logged, and how many came since without a line.
    logged_at: Option<u64>,
    unlogged: u64,
}

/// Outcome counts of one route: atomics behind a read lock, so workers counting dropped
/// copies under load do not queue on one mutex.
type Counts = [AtomicU64; 4];

#[derive(Default)]
pub struct Book {
    counts: RwLock<HashMap<Label, Counts>>,
    routes: Mutex<HashMap<Label, RouteRecord>>,
}

/// A route's shadow results, as the admin API shows them.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub counts: std::collections::BTreeMap<&'static str, u64>,
    /// Matches out of compared answers since start (None before the first comparison).
    pub match_rate: Option<f64>,
    pub learned_noise: Vec<String>,
    /// `error` outcomes by reason.
    pub errors: std::collections::BTreeMap<&'static str, u64>,
    pub last_error: Option<LastError>,
}

fn now() -> u64 {
    crate::stats::unix_secs(SystemTime::now())
}

/// What the shadow found over a window: the share of mismatches among the compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MismatchRate {
    pub rate: f64,
    pub compared: u64,
}

impl Book {
    fn lock(&self) -> MutexGuard<'_, HashMap<Label, RouteRecord>> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count(&self, route: Label, outcome: Outcome) {
        let i = outcome as usize;
        let counted = self
            .counts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&route)
            .map(|c| c[i].fetch_add(1, Ordering::Relaxed));
        if counted.is_none() {
            self.counts.write().unwrap_or_else(|p| p.into_inner()).entry(route).or_default()[i]
                .fetch_add(1, Ordering::Relaxed);
        }
        if !matches!(outcome, Outcome::Match | Outcome::Mismatch) {
            return;
        }
        let mut routes = self.lock();
        let r = routes.entry(route).or_default();
        let second = now();
        if !matches!(r.seconds.back(), Some((s, _, _)) if *s == second) {
            r.seconds.push_back((second, 0, 0));
        }
        let last = r.seconds.back_mut().expect("pushed above");
        if outcome == Outcome::Match {
            last.1 += 1;
        } else {
            last.2 += 1;
        }
        while r.seconds.front().is_some_and(|(s, _, _)| s + HISTORY_SECS < second) {
            r.seconds.pop_front();
        }
    }

    fn snapshot(&self, route: Label) -> Option<[u64; 4]> {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        counts.get(&route).map(|c| std::array::from_fn(|i| c[i].load(Ordering::Relaxed)))
    }

    /// Keeps a mismatch; returns whether to log it now, with how many went unlogged
    /// before it (one line per route per `LOG_EVERY_SECS`).
    pub fn mismatch(&self, route: Label, mismatch: Mismatch) -> Option<u64> {
        let mut routes = self.lock();
        let r = routes.entry(route).or_default();
        r.mismatches.push_back(mismatch);
        if r.mismatches.len() > KEPT {
            r.mismatches.pop_front();
        }
        let second = now();
        if r.logged_at.is_some_and(|at| second < at + LOG_EVERY_SECS) {
            r.unlogged += 1;
            return None;
        }
        r.logged_at = Some(second);
        Some(std::mem::take(&mut r.unlogged))
    }

    /// Counts a copy that ended in no comparison, with why.
    pub fn error(&self, route: Label, error: LastError) {
        self.count(route, Outcome::Error);
        let mut routes = self.lock();
        let r = routes.entry(route).or_default();
        *r.errors.entry(error.reason.as_str()).or_default() += 1;
        r.last_error = Some(error);
    }

    /// Adds pointers learned as noise; returns the ones new to this route.
    pub fn learn_noise(&self, route: Label, pointers: Vec<String>) -> Vec<String> {
        let mut routes = self.lock();
        let r = routes.entry(route).or_default();
        let mut new = Vec::new();
        for p in pointers {
            if r.noise.len() >= MAX_NOISE {
                break;
            }
            if r.noise.insert(p.clone()) {
                new.push(p);
            }
        }
        new
    }

    pub fn noise(&self, route: Label) -> Vec<String> {
        self.lock().get(&route).map(|r| r.noise.iter().cloned().collect()).unwrap_or_default()
    }

    /// Mismatches out of compared answers over the last `secs` seconds.
    pub fn mismatch_rate(&self, route: Label, secs: u64) -> MismatchRate {
        let since = now().saturating_sub(secs);
        let routes = self.lock();
        let Some(r) = routes.get(&route) else { return MismatchRate { rate: 0.0, compared: 0 } };
        let (m, x) = r.seconds.iter().filter(|(s, _, _)| *s > since).fold((0, 0), |a, (_, m, x)| (a.0 + m, a.1 + x));
        let compared = m + x;
        MismatchRate { rate: if compared == 0 { 0.0 } else { x as f64 / compared as f64 }, compared }
    }

    pub fn summary(&self, route: Label) -> Option<Summary> {
        let counts = self.snapshot(route)?;
        let compared = counts[Outcome::Match as usize] + counts[Outcome::Mismatch as usize];
        let (errors, last_error) =
            self.lock().get(&route).map(|r| (r.errors.clone(), r.last_error.clone())).unwrap_or_default();
        Some(Summary {
            counts: Outcome::ALL.iter().map(|o| (o.as_str(), counts[*o as usize])).collect(),
            match_rate: (compared > 0).then(|| counts[Outcome::Match as usize] as f64 / compared as f64),
            learned_noise: self.noise(route),
            errors,
            last_error,
        })
    }

    /// Every route's counts, for `/metrics`.
    pub fn counts(&self) -> Vec<(Label, [u64; 4])> {
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        counts.iter().map(|(l, c)| (*l, std::array::from_fn(|i| c[i].load(Ordering::Relaxed)))).collect()
    }

    /// The recorded mismatches, oldest first.
    pub fn mismatches(&self, route: Label) -> Vec<Mismatch> {
        self.lock().get(&route).map(|r| r.mismatches.iter().cloned().collect()).unwrap_or_default()
    }
}
