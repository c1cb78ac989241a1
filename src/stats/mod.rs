//! Per-route, per-backend request statistics: what `/metrics`, `/api/stats` and the
//! dashboard show.
//!
//! Each worker thread records into a shard of its own (an uncontended lock, a small map
//! and a histogram add per request, about the cost of one allocation). A drain, every
//! second and before every read, moves the shards' counts into the global series: totals
//! for Prometheus, and ten-second slots for the last 15 minutes, from which the sliding
//! one-minute window (rate, error rate, p50/p90/p99) and the dashboard's charts are read.
//! Labels are bounded (`labels.rs`), so neither the shards nor the series grow with what
//! clients send.

mod histogram;
pub mod labels;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::decide::Backend;
pub use histogram::LogHistogram;
pub use labels::{Kind, Label};

/// The Prometheus histogram's upper bounds, in microseconds (exported in seconds).
pub const PROM_BOUNDS_MICROS: [u64; 16] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000, 60_000_000,
];
/// One slot of the recent history.
pub const SLOT_SECS: u64 = 10;
/// Slots kept: 15 minutes.
pub const SLOTS: u64 = 90;
/// The sliding window of `/api/stats`.
pub const WINDOW_SECS: u64 = 60;

type Key = (Label, Backend);

/// What a shard gathers between drains, and what a series totals.
#[derive(Default, Clone)]
struct Counts {
    requests: u64,
    errors: u64,
    sum_micros: u64,
    /// Per status code; a handful per route.
    codes: Vec<(u16, u64)>,
    /// Not cumulative; the last slot counts anything slower than the last bound.
    prom: [u64; PROM_BOUNDS_MICROS.len() + 1],
    hist: LogHistogram,
}

impl Counts {
    fn record(&mut self, status: u16, micros: u64) {
        self.requests += 1;
        self.errors += u64::from(status >= 500);
        self.sum_micros += micros;
        match self.codes.iter_mut().find(|(c, _)| *c == status) {
            Some((_, n)) => *n += 1,
            None => self.codes.push((status, 1)),
        }
        self.prom[PROM_BOUNDS_MICROS.partition_point(|&b| b < micros)] += 1;
        self.hist.record(micros);
    }
}

/// A worker's counts, indexed by `slot(label, backend)`: labels are small dense numbers,
/// so a request finds its counts without hashing.
#[derive(Default)]
struct Shard {
    counts: Vec<Option<Box<Counts>>>,
}

fn slot(label: Label, backend: Backend) -> usize {
    label.index() * 2 + usize::from(backend == Backend::Legacy)
}

fn key(slot: usize) -> Key {
    (Label::from_index(slot / 2), if slot % 2 == 0 { Backend::Native } else { Backend::Legacy })
}

/// A key's history: totals since start, and recent slots (only those with traffic).
#[derive(Default)]
struct Series {
    requests: u64,
    errors: u64,
    sum_micros: u64,
    codes: BTreeMap<u16, u64>,
    prom: [u64; PROM_BOUNDS_MICROS.len() + 1],
    slots: VecDeque<Slot>,
}

struct Slot {
    /// Unix time / SLOT_SECS.
    number: u64,
    requests: u64,
    errors: u64,
    hist: LogHistogram,
}

pub struct Stats {
    /// Tells this instance's shards from another's on the same thread (tests build many).
    id: usize,
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
    series: Mutex<HashMap<Key, Series>>,
    started: SystemTime,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: RefCell<Option<(usize, Arc<Mutex<Shard>>)>> = const { RefCell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain counters: a panic mid-update leaves nothing that later reads could trip on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shards: Mutex::default(),
            series: Mutex::default(),
            started: SystemTime::now(),
        }
    }
}

impl Stats {
    /// Counts one answered request.
    pub fn record(&self, label: Label, backend: Backend, status: u16, latency: Duration) {
        let micros = latency.as_micros().min(u64::MAX as u128) as u64;
        SHARD.with(|cell| {
            let mut cell = cell.borrow_mut();
            if !matches!(&*cell, Some((id, _)) if *id == self.id) {
                let shard = Arc::new(Mutex::new(Shard::default()));
                lock(&self.shards).push(shard.clone());
                *cell = Some((self.id, shard));
            }
            if let Some((_, shard)) = &*cell {
                let mut shard = lock(shard);
                let i = slot(label, backend);
                if shard.counts.len() <= i {
                    shard.counts.resize_with(i + 1, || None);
                }
                shard.counts[i].get_or_insert_with(Box::default).record(status, micros);
            }
        });
    }

    /// Moves what the shards gathered into the series, in the slot of now.
    pub fn drain(&self) {
        let now = SystemTime::now();
        let number = unix_secs(now) / SLOT_SECS;
        let shards: Vec<_> = lock(&self.shards).clone();
        let mut series = lock(&self.series);
        for shard in shards {
            let mut shard = lock(&shard);
            let used = shard.counts.iter_mut().enumerate().filter_map(|(i, c)| Some((i, c.as_mut()?)));
            for (i, counts) in used.filter(|(_, c)| c.requests > 0) {
                series.entry(key(i)).or_default().add(number, counts);
                counts.requests = 0;
                counts.errors = 0;
                counts.sum_micros = 0;
                counts.codes.clear();
                counts.prom = Default::default();
                counts.hist.clear();
            }
        }
        for s in series.values_mut() {
            while s.slots.front().is_some_and(|slot| slot.number + SLOTS <= number) {
                s.slots.pop_front();
            }
        }
    }

    /// Totals since start, per key, for `/metrics`.
    pub fn totals(&self) -> Vec<Totals> {
        self.drain();
        let series = lock(&self.series);
        let mut out: Vec<Totals> = series
            .iter()
            .map(|((label, backend), s)| Totals {
                label: *label,
                backend: *backend,
                codes: s.codes.iter().map(|(c, n)| (*c, *n)).collect(),
                requests: s.requests,
                sum_micros: s.sum_micros,
                prom: s.prom,
            })
            .collect();
        out.sort_by_key(|t| (t.label.name(), t.backend.as_str()));
        out
    }

    /// The sliding window of every key that has had traffic.
    pub fn window(&self) -> Vec<Window> {
        self.drain();
        let now = SystemTime::now();
        let number = unix_secs(now) / SLOT_SECS;
        // The window is the current slot so far plus the whole slots before it; it is
        // shorter while banyan has been up for less than a minute.
        let into_slot = unix_secs(now) % SLOT_SECS;
        let full = (WINDOW_SECS / SLOT_SECS).saturating_sub(1);
        let span =
            (full * SLOT_SECS + into_slot + 1).min(now.duration_since(self.started).map_or(1, |d| d.as_secs() + 1));
        let series = lock(&self.series);
        let mut out = Vec::new();
        for ((label, backend), s) in series.iter() {
            let mut hist = LogHistogram::default();
            let (mut requests, mut errors) = (0, 0);
            for slot in s.slots.iter().filter(|slot| slot.number + full >= number) {
                requests += slot.requests;
                errors += slot.errors;
                hist.merge(&slot.hist);
            }
            out.push(Window {
                label: *label,
                backend: *backend,
                total_requests: s.requests,
                requests,
                rps: requests as f64 / span as f64,
                error_rate: if requests == 0 { 0.0 } else { errors as f64 / requests as f64 },
                p50_ms: hist.quantile(0.5).map(|m| m / 1000.0),
                p90_ms: hist.quantile(0.9).map(|m| m / 1000.0),
                p99_ms: hist.quantile(0.99).map(|m| m / 1000.0),
                codes: s.codes.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            });
        }
        out
    }

    /// One label and backend's answers since start, counted to the last request recorded.
    pub fn total(&self, label: Label, backend: Backend) -> u64 {
        self.drain();
        lock(&self.series).get(&(label, backend)).map_or(0, |s| s.requests)
    }

    /// One label and backend in the ten-second slots that start at or after `since` (Unix
    /// seconds, the current slot included): what a guard judges, and nothing older.
    pub fn recent_since(&self, label: Label, backend: Backend, since: u64) -> Recent {
        self.drain();
        let first = since.div_ceil(SLOT_SECS);
        let series = lock(&self.series);
        let mut hist = LogHistogram::default();
        let (mut requests, mut errors) = (0, 0);
        for slot in series.get(&(label, backend)).iter().flat_map(|s| &s.slots).filter(|s| s.number >= first) {
            requests += slot.requests;
            errors += slot.errors;
            hist.merge(&slot.hist);
        }
        Recent { requests, errors, p99_ms: hist.quantile(0.99).map(|m| m / 1000.0) }
    }

    /// The last 15 minutes of one label, slot by slot, per backend (empty slots included).
    pub fn history(&self, label: Label) -> History {
        self.drain();
        let number = unix_secs(SystemTime::now()) / SLOT_SECS;
        let first = number + 1 - SLOTS;
        let series = lock(&self.series);
        let points = |backend| -> Vec<Point> {
            let slots = series.get(&(label, backend)).map(|s| &s.slots);
            (first..=number)
                .map(|n| {
                    let slot = slots.and_then(|s| s.iter().find(|slot| slot.number == n));
                    Point {
                        rps: slot.map_or(0.0, |s| s.requests as f64 / SLOT_SECS as f64),
                        p99_ms: slot.and_then(|s| s.hist.quantile(0.99)).map(|m| m / 1000.0),
                    }
                })
                .collect()
        };
        History {
            slot_seconds: SLOT_SECS,
            first_slot_unix: first * SLOT_SECS,
            native: points(Backend::Native),
            legacy: points(Backend::Legacy),
        }
    }
}

impl Series {
    fn add(&mut self, number: u64, c: &Counts) {
        self.requests += c.requests;
        self.errors += c.errors;
        self.sum_micros += c.sum_micros;
        for (code, n) in &c.codes {
            *self.codes.entry(*code).or_default() += n;
        }
        for (a, b) in self.prom.iter_mut().zip(&c.prom) {
            *a += b;
        }
        if !matches!(self.slots.back(), Some(s) if s.number == number) {
            self.slots.push_back(Slot { number, requests: 0, errors: 0, hist: LogHistogram::default() });
        }
        let slot = self.slots.back_mut().expect("pushed above");
        slot.requests += c.requests;
        slot.errors += c.errors;
        slot.hist.merge(&c.hist);
    }
}

/// A label and backend over a recent window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recent {
    pub requests: u64,
    /// 5xx answers.
    pub errors: u64,
    pub p99_ms: Option<f64>,
}

pub struct Totals {
    pub label: Label,
    pub backend: Backend,
    pub codes: Vec<(u16, u64)>,
    pub requests: u64,
    pub sum_micros: u64,
    /// Per bound of `PROM_BOUNDS_MICROS`, then above the last; not cumulative.
    pub prom: [u64; PROM_BOUNDS_MICROS.len() + 1],
}

/// One key over the sliding window.
#[derive(Serialize)]
pub struct Window {
    #[serde(skip)]
    pub label: Label,
    #[serde(skip)]
    pub backend: Backend,
    /// Since start.
    pub total_requests: u64,
    /// In the window.
    pub requests: u64,
    pub rps: f64,
    /// Share of 5xx answers in the window (banyan's own 502/504 included).
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Since start, per status code.
    pub codes: BTreeMap<String, u64>,
}

#[derive(Serialize)]
pub struct History {
    pub slot_seconds: u64,
    pub first_slot_unix: u64,
    pub native: Vec<Point>,
    pub legacy: Vec<Point>,
}

#[derive(Serialize)]
pub struct Point {
    pub rps: f64,
    pub p99_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_drain_into_window_totals_and_history() {
        let stats = Stats::default();
        let ping = labels::flags_route("stats-test-ping");
        for i in 0..100u64 {
            let status = if i < 5 { 502 } else { 200 };
            stats.record(ping, Backend::Native, status, Duration::from_micros(1000 + i * 10));
        }
        std::thread::scope(|s| {
            s.spawn(|| stats.record(ping, Backend::Legacy, 200, Duration::from_millis(40)));
        });
        let window = stats.window();
        let native = window.iter().find(|w| w.label == ping && w.backend == Backend::Native).unwrap();
        assert_eq!((native.requests, native.total_requests), (100, 100));
        assert!((native.error_rate - 0.05).abs() < 1e-9);
        let p99 = native.p99_ms.unwrap();
        assert!((1.8..2.3).contains(&p99), "{p99}");
        assert_eq!(native.codes["200"], 95);
        let legacy = window.iter().find(|w| w.label == ping && w.backend == Backend::Legacy).unwrap();
        assert_eq!(legacy.requests, 1);

        let totals = stats.totals();
        let t = totals.iter().find(|t| t.label == ping && t.backend == Backend::Native).unwrap();
        assert_eq!(t.codes, [(200, 95), (502, 5)]);
        // 1.0 ms to 1.99 ms: all in the 2.5 ms bucket but the first (at 1 ms exactly).
        assert_eq!((t.prom[1], t.prom[2]), (1, 99));

        let h = stats.history(ping);
        assert_eq!(h.native.len(), SLOTS as usize);
        assert_eq!(h.native.iter().map(|p| p.rps).sum::<f64>(), 100.0 / SLOT_SECS as f64);
        // Drained counts are not counted twice.
        assert_eq!(
            stats.window().iter().find(|w| w.label == ping && w.backend == Backend::Native).unwrap().requests,
            100
        );
    }
}
