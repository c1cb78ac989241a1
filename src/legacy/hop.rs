//! Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded:
//! `Connection` and every header it names, `Keep-Alive`, `TE`, `Trailer`,
//! `Transfer-Encoding`, `Upgrade` (a websocket upgrade puts its own back, see `upgrade.rs`),
//! and the `Proxy-*` family. `Expect` is answered by
//! banyan's own server, so legacy never sees it either.

use http::header::CONNECTION;
use http::{HeaderMap, HeaderName};

pub fn strip(headers: &mut HeaderMap) {
    // Most messages carry none of these: one pass over the names, no lookups, and out.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
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
    let hop: Vec<HeaderName> = headers.keys().filter(|k| is_hop_by_hop(k)).cloned().collect();
    for name in hop {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    is_hop_by_hop_name(name.as_str())
}

/// The list, for a name in any case (as it came on the wire).
pub fn is_hop_by_hop_name(name: &str) -> bool {
    const HOP: [&str; 7] = ["connection", "te", "trailer", "transfer-encoding", "upgrade", "expect", "keep-alive"];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) || name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("proxy-"))
}

/// Whether a `Connection` header value names `token` (`close`, `upgrade`, a header name).
pub fn names(connection: &[u8], token: &str) -> bool {
    connection.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
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

    #[test]
    fn wire_names_follow_the_same_list() {
        for name in ["Connection", "TE", "Transfer-Encoding", "Proxy-Authorization", "KEEP-ALIVE", "expect"] {
            assert!(is_hop_by_hop_name(name), "{name}");
        }
        for name in ["Content-Length", "Proxy", "X-Connection", "Cookie"] {
            assert!(!is_hop_by_hop_name(name), "{name}");
        }
        assert!(names(b"keep-alive, X-Drop", "x-drop"));
        assert!(!names(b"keep-alive, X-Dropped", "x-drop"));
    }
}
