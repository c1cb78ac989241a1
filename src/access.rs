//! The access log and request ids. Every request gets an `X-Request-Id` (the client's, or
//! one made here) that legacy also receives, so one id follows a request through banyan's
//! and rotki's logs; and, unless `[server] access_log = false`, one `banyan::access` event
//! with its route label, backend, status and latency.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use http::Method;

use crate::decide::Backend;
use crate::stats::Label;

pub static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Longer client ids are passed on whole but logged cut to this.
const LOGGED: usize = 64;

/// A request id as logged: inline, so the hot path does not allocate for it.
#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; LOGGED],
    len: u8,
}

thread_local! {
    /// Per thread: a random prefix (ids from two workers or two runs never collide) and a
    /// counter.
    static NEXT: Cell<(u64, u64)> = Cell::new((std::collections::hash_map::RandomState::new().build_hasher().finish(), 0));
}

impl RequestId {
    /// A new id: 32 hex digits.
    pub fn generate() -> RequestId {
        let (prefix, n) = NEXT.with(|c| {
            let (p, n) = c.get();
            c.set((p, n.wrapping_add(1)));
            (p, n)
        });
        let mut id = RequestId { bytes: [0; LOGGED], len: 32 };
        hex(prefix, &mut id.bytes[..16]);
        hex(n, &mut id.bytes[16..32]);
        id
    }

    /// The client's id, as logged (printable ASCII only, at most 64 bytes).
    pub fn from_client(value: &[u8]) -> RequestId {
        let mut id = RequestId { bytes: [0; LOGGED], len: 0 };
        for (slot, &b) in id.bytes.iter_mut().zip(value) {
            *slot = if b.is_ascii_graphic() { b } else { b'?' };
            id.len += 1;
        }
        id
    }

    /// The id as a header value (its bytes are visible ASCII, as `from_client` keeps them).
    pub fn header_value(&self) -> http::HeaderValue {
        http::HeaderValue::from_str(self.as_str()).unwrap_or_else(|_| http::HeaderValue::from_static("-"))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

fn hex(v: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = DIGITS[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// What one access-log line says.
pub struct Entry<'a> {
    pub id: &'a RequestId,
    pub method: &'a Method,
    /// Without the query, which may carry what a log should not.
    pub path: &'a str,
    pub label: Label,
    pub backend: Backend,
    pub status: u16,
    pub latency: Duration,
}

pub fn log(e: Entry<'_>) {
    tracing::info!(
        target: "banyan::access",
        request_id = e.id.as_str(),
        method = e.method.as_str(),
        path = e.path,
        route = e.label.name(),
        backend = e.backend.as_str(),
        status = e.status,
        latency_ms = latency_ms(e.latency),
        "access"
    );
}

/// Milliseconds to the microsecond: `2.629`, never `2.6285979999999998` (text and JSON
/// lines print the same number).
fn latency_ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_hex_and_client_ids_are_logged_safely() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str()[..16], b.as_str()[..16]);
        assert_eq!(RequestId::from_client(b"abc\x01 d").as_str(), "abc??d");
        assert_eq!(RequestId::from_client(&[b'x'; 100]).as_str().len(), 64);
    }

    #[test]
    fn latencies_print_to_the_microsecond() {
        assert_eq!(latency_ms(Duration::from_nanos(2_628_598)).to_string(), "2.628");
        assert_eq!(latency_ms(Duration::from_nanos(1_999)).to_string(), "0.001");
        assert_eq!(serde_json::to_string(&latency_ms(Duration::from_micros(12_345_678))).unwrap(), "12345.678");
    }
}
