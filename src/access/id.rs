//! Request ids: every request gets an `X-Request-Id` (the client's, or one made here)
//! that legacy also receives, so one id follows a request through banyan's and rotki's
//! logs.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

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
}
