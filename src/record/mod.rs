//! Recording: a route with `record = N` keeps its last N exchanges in memory, whichever
//! backend answered, for `GET /api/records/{route}` (a HAR 1.2 document) and from there
//! `banyan replay` (`src/replay/`). Admission decides which requests are kept (never the
//! user lifecycle's, never one on a route without `record`: those cost one branch); each
//! request path captures the request as it reads it ([`Pending`]) and adds the answer as it
//! sends it. Secrets are taken out at capture (`redact.rs`), before anything is stored.
//!
//! Memory is bounded twice: at most [`MAX_KEEP`] exchanges per route, and `[server]
//! record_max_bytes` for all of them (the oldest of the route go first; an exchange that
//! does not fit even so is not kept, and counted). A request whose body is over
//! [`MAX_BODY`] (or chunked) is not recorded; an answer's body over it is kept without its
//! bytes.

mod exchange;
pub mod har;
pub mod redact;

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use http::HeaderName;
use serde::Serialize;

use crate::flags::Snapshot;
use crate::stats::Label;
pub use exchange::{Exchange, Pending};

/// The largest `record = N`.
pub const MAX_KEEP: u32 = 10_000;
/// The largest body a recording keeps (a larger request is not recorded, a larger answer
/// is kept without its body): the same limit as a shadow comparison's, so what is
/// recorded is what could be compared.
pub const MAX_BODY: usize = crate::shadow::MAX_BODY;

/// A recorded route, as admission found it.
#[derive(Debug, Clone)]
pub struct Target {
    pub route: Label,
    pub keep: u32,
    /// Sticky headers (the route's and `[defaults]`'), whose values identify a user.
    pub sticky: Vec<HeaderName>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Exchange>,
    bytes: usize,
    /// Exchanges that did not fit the memory bound.
    not_kept: u64,
    kept: u64,
}

#[derive(Default)]
struct Inner {
    routes: HashMap<Label, Ring, BuildHasherDefault<LabelHasher>>,
    bytes: usize,
}

/// A label is a small interned number already: it is its own hash (SipHash would cost
/// more than the rest of a lookup on every recorded request).
#[derive(Default)]
struct LabelHasher(u64);

impl Hasher for LabelHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// Every recorded route's exchanges.
pub struct Recorder {
    budget: usize,
    inner: Mutex<Inner>,
}

/// A route's recording, as the admin API and `/metrics` show it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub held: usize,
    pub bytes: usize,
    pub kept: u64,
    pub not_kept: u64,
}

impl Recorder {
    pub fn new(budget: usize) -> Recorder {
        Recorder { budget, inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps an exchange: the route's oldest go when it holds `keep`, or when all routes
    /// together would hold more than the budget. Returns an empty buffer for the caller's
    /// next [`Pending`]: the oldest exchange's, once the ring is full.
    pub fn keep(&self, exchange: Exchange) -> Vec<u8> {
        let (weight, keep) = (exchange.weight(), exchange.keep as usize);
        let mut spare = None;
        let mut inner = self.lock();
        let Inner { routes, bytes } = &mut *inner;
        let ring = routes.entry(exchange.route).or_default();
        if weight > self.budget || keep == 0 {
            ring.not_kept += 1;
            return exchange.into_buffer();
        }
        while ring.entries.len() >= keep || *bytes + weight > self.budget {
            let Some(old) = ring.entries.pop_front() else { break };
            let w = old.weight();
            ring.bytes -= w;
            *bytes -= w;
            spare = Some(old);
        }
        if *bytes + weight > self.budget {
            ring.not_kept += 1;
            return exchange.into_buffer();
        }
        ring.entries.push_back(exchange);
        ring.bytes += weight;
        ring.kept += 1;
        *bytes += weight;
        drop(inner);
        spare.map(Exchange::into_buffer).unwrap_or_default()
    }

    /// A route's exchanges, oldest first.
    pub fn exchanges(&self, route: Label) -> Vec<Exchange> {
        self.lock().routes.get(&route).map(|r| r.entries.iter().cloned().collect()).unwrap_or_default()
    }

    /// Forgets a route's exchanges; how many there were.
    pub fn clear(&self, route: Label) -> usize {
        let mut inner = self.lock();
        let Some(ring) = inner.routes.get_mut(&route) else { return 0 };
        let (n, freed) = (ring.entries.len(), ring.bytes);
        ring.entries.clear();
        ring.bytes = 0;
        inner.bytes -= freed;
        n
    }

    pub fn summary(&self, route: Label) -> Option<Summary> {
        let inner = self.lock();
        let r = inner.routes.get(&route)?;
        Some(Summary { held: r.entries.len(), bytes: r.bytes, kept: r.kept, not_kept: r.not_kept })
    }

    /// Every route's summary, for `/metrics`.
    pub fn summaries(&self) -> Vec<(Label, Summary)> {
        let inner = self.lock();
        let summary = |r: &Ring| Summary { held: r.entries.len(), bytes: r.bytes, kept: r.kept, not_kept: r.not_kept };
        inner.routes.iter().map(|(l, r)| (*l, summary(r))).collect()
    }

    /// Drops what routes no longer recording hold, and trims a lowered `record` (run after
    /// every reload, by the once-a-second tick).
    pub fn retain(&self, snapshot: &Snapshot) {
        let mut inner = self.lock();
        let Inner { routes, bytes } = &mut *inner;
        for (label, ring) in routes.iter_mut() {
            let keep = snapshot.routes.iter().find(|r| r.label == *label).and_then(|r| r.record).unwrap_or(0);
            while ring.entries.len() > keep as usize {
                let old = ring.entries.pop_front().expect("longer than keep");
                let w = old.weight();
                ring.bytes -= w;
                *bytes -= w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Backend;

    fn exchange(target: &Target, body: usize) -> Exchange {
        let (parts, ()) = http::Request::post("/api/1/x").body(()).unwrap().into_parts();
        let pending = Pending::new(target.clone(), "id", &parts, &vec![b'a'; body], Vec::new());
        pending.answered(Backend::Legacy, 200, std::time::Duration::ZERO, std::iter::empty(), Ok(b""))
    }

    #[test]
    fn a_route_keeps_its_last_n_within_the_memory_bound() {
        let route = crate::stats::labels::flags_route("x");
        let target = Target { route, keep: 3, sticky: Vec::new() };
        let recorder = Recorder::new(20_000);
        for i in 0..5 {
            recorder.keep(exchange(&target, i));
        }
        let held: Vec<usize> = recorder.exchanges(route).iter().map(|e| e.request_body().len()).collect();
        assert_eq!(held, [2, 3, 4]);
        // A full ring hands its oldest buffer back for reuse.
        assert!(recorder.keep(exchange(&target, 5)).capacity() > 0);
        // Large ones push the oldest out to stay within the budget, and one that cannot
        // fit is not kept.
        recorder.keep(exchange(&target, 8_000));
        recorder.keep(exchange(&target, 12_000));
        let s = recorder.summary(route).unwrap();
        assert!(s.bytes <= 20_000 && s.held == 1, "{s:?}");
        recorder.keep(exchange(&target, 30_000));
        assert_eq!(recorder.summary(route).unwrap().not_kept, 1);
        assert_eq!(recorder.clear(route), 1);
        assert_eq!(recorder.summary(route).unwrap().bytes, 0);
    }
}
