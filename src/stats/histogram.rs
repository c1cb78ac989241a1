//! A latency histogram with log-linear buckets (four per power of two, so any quantile
//! read from it is within 12.5 % of the truth) over microseconds, from 0 to about 18
//! minutes. Fixed size and allocation-free, so recording a request is an index and an
//! add; windows are merged by adding bucket arrays.

const BUCKETS: usize = 120;

#[derive(Clone)]
pub struct LogHistogram {
    counts: [u32; BUCKETS],
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram { counts: [0; BUCKETS] }
    }
}

fn index(micros: u64) -> usize {
    if micros < 4 {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros() as usize; // >= 2
    let sub = ((micros >> (exp - 2)) & 3) as usize;
    ((exp - 1) * 4 + sub).min(BUCKETS - 1)
}

/// The values bucket `i` holds: `lo..hi`.
fn bounds(i: usize) -> (u64, u64) {
    if i < 4 {
        return (i as u64, i as u64 + 1);
    }
    let (exp, sub) = (i / 4 + 1, (i % 4) as u64);
    ((4 + sub) << (exp - 2), (5 + sub) << (exp - 2))
}

impl LogHistogram {
    pub fn record(&mut self, micros: u64) {
        let c = &mut self.counts[index(micros)];
        *c = c.saturating_add(1);
    }

    pub fn merge(&mut self, other: &LogHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn clear(&mut self) {
        self.counts = [0; BUCKETS];
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| c as u64).sum()
    }

    /// The `q` quantile (0..=1) in microseconds, interpolated inside its bucket; None when
    /// empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            let c = c as u64;
            if c > 0 && seen + c >= rank {
                let (lo, hi) = bounds(i);
                let within = (rank - seen) as f64 / c as f64;
                return Some(lo as f64 + within * (hi - lo) as f64);
            }
            seen += c;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(bounds(i).1, bounds(i + 1).0, "bucket {i}");
        }
        for v in [0, 1, 3, 4, 5, 7, 8, 9, 10, 1000, 123_456, 60_000_000] {
            let (lo, hi) = bounds(index(v));
            assert!(lo <= v && v < hi, "{v} in {lo}..{hi}");
        }
    }

    #[test]
    fn quantiles_are_within_an_eighth() {
        let mut h = LogHistogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 10);
        }
        for (q, want) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0)] {
            let got = h.quantile(q).unwrap();
            assert!((got - want).abs() / want < 0.125, "q{q}: {got} vs {want}");
        }
        assert_eq!(LogHistogram::default().quantile(0.5), None);
    }
}
