//! What banyan has seen of legacy's health: whether its last new connection worked, how
//! many did not, and the last error. Every new connection to legacy (a request's, a
//! shadow copy's, a readiness probe's) reports here; reused connections do not, so the
//! request path pays nothing once warm. The change from up to down and back is logged once.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use serde::Serialize;

// (0: nothing seen yet.)
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Default)]
pub struct Health {
    state: AtomicU8,
    connects: AtomicU64,
    connect_errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Legacy's health, as `/api/stats` and `/metrics` show it.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    /// None until banyan first connected (or failed to).
    pub up: Option<bool>,
    pub connects: u64,
    pub connect_errors: u64,
    /// Why the last connection that failed did.
    pub last_error: Option<String>,
}

impl Health {
    /// A new connection to legacy was made.
    pub fn connected(&self, url: &str) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        // A load first: while legacy stays up the state's line is only read.
        if self.state.load(Ordering::Relaxed) != UP && self.state.swap(UP, Ordering::AcqRel) == DOWN {
            tracing::info!(legacy = url, "legacy is reachable again");
        }
    }

    /// A new connection to legacy could not be made.
    pub fn failed(&self, url: &str, error: &dyn std::fmt::Display) {
        self.connect_errors.fetch_add(1, Ordering::Relaxed);
        let message = error.to_string();
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.clone());
        if self.state.swap(DOWN, Ordering::AcqRel) != DOWN {
            tracing::warn!(
                legacy = url,
                "legacy is unreachable: {message}; its requests get 502 envelopes until it is back"
            );
        }
    }

    pub fn seen(&self) -> Seen {
        Seen {
            up: match self.state.load(Ordering::Acquire) {
                UP => Some(true),
                DOWN => Some(false),
                _ => None,
            },
            connects: self.connects.load(Ordering::Relaxed),
            connect_errors: self.connect_errors.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_up_from_down_and_keeps_the_last_error() {
        let h = Health::default();
        assert_eq!(h.seen().up, None);
        h.failed("http://l", &"connection refused");
        h.failed("http://l", &"connect timed out after 1000 ms");
        let seen = h.seen();
        assert_eq!((seen.up, seen.connect_errors), (Some(false), 2));
        assert_eq!(seen.last_error.as_deref(), Some("connect timed out after 1000 ms"));
        h.connected("http://l");
        assert_eq!((h.seen().up, h.seen().connects), (Some(true), 1));
    }
}
