//! Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded:
//! `Connection` and every header it names, `Keep-Alive`, `TE`, `Trailer`,
//! `Transfer-Encoding`, `Upgrade` (a websocket upgrade puts its own back, see `upgrade.rs`),
//! and the `Proxy-*` family. `Expect` is answered by
//! banyan's own server, so legacy never sees it either.

use http::header::{CONNECTION, EXPECT, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

pub fn strip(headers: &mut HeaderMap) {
    // Most requests carry none of these; look before touching the map.
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [&CONNECTION, &KEEP_ALIVE, &TE, &TRAILER, &TRANSFER_ENCODING, &UPGRADE, &EXPECT] {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
    if headers.keys().any(|k| k.as_str().starts_with("proxy-")) {
        let proxy: Vec<HeaderName> = headers.keys().filter(|k| k.as_str().starts_with("proxy-")).cloned().collect();
        for name in proxy {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_hop_by_hop_and_what_connection_names() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Drop"),
            ("x-drop", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("x-keep", "1"),
            ("cookie", "a=1"),
        ] {
            h.append(k, v.parse().unwrap());
        }
        strip(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, ["cookie", "x-keep"]);
    }
}
