//! `X-Forwarded-*`: legacy learns who the client was and which host it asked for. Banyan
//! is the first hop in front of rotki, so `-Proto` and `-Host` are its own view; `-For`
//! keeps any chain the client sent and appends the peer.

use std::net::SocketAddr;

use http::header::HOST;
use http::{HeaderMap, HeaderName, HeaderValue};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

pub fn add(headers: &mut HeaderMap, peer: SocketAddr) {
    let value = if headers.contains_key(&X_FORWARDED_FOR) {
        let mut chain = Vec::new();
        chain_for(headers.get_all(&X_FORWARDED_FOR).iter().map(|v| v.as_bytes()), peer, &mut chain);
        HeaderValue::from_bytes(&chain)
    } else {
        let mut buf = [0; 48];
        HeaderValue::from_bytes(crate::ip::text(peer.ip(), &mut buf))
    };
    if let Ok(v) = value {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    match headers.get(HOST).cloned() {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

/// Writes the headers `add` sets onto a head being written at the byte level, given the
/// request's `X-Forwarded-For` values and `Host` (the caller leaves out the ones it had).
pub fn write<'a>(out: &mut Vec<u8>, chain: impl Iterator<Item = &'a [u8]>, host: &[u8], peer: SocketAddr) {
    out.extend_from_slice(b"x-forwarded-for: ");
    chain_for(chain, peer, out);
    out.extend_from_slice(b"\r\nx-forwarded-proto: http\r\nx-forwarded-host: ");
    out.extend_from_slice(host);
    out.extend_from_slice(b"\r\n");
}

/// Whether a header name (in any case) is one `add` and `write` set.
pub fn is_forwarded_name(name: &str) -> bool {
    [&X_FORWARDED_FOR, &X_FORWARDED_PROTO, &X_FORWARDED_HOST].iter().any(|h| h.as_str().eq_ignore_ascii_case(name))
}

/// The `X-Forwarded-For` chain the client sent, then the peer.
fn chain_for<'a>(chain: impl Iterator<Item = &'a [u8]>, peer: SocketAddr, out: &mut Vec<u8>) {
    for v in chain {
        out.extend_from_slice(v);
        out.extend_from_slice(b", ");
    }
    let mut buf = [0; 48];
    out.extend_from_slice(crate::ip::text(peer.ip(), &mut buf));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_to_the_chain_and_sets_proto_and_host() {
        let mut h = HeaderMap::new();
        h.insert(HOST, "example:4242".parse().unwrap());
        h.append("x-forwarded-for", "10.0.0.1".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        add(&mut h, "127.0.0.1:5555".parse().unwrap());
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example:4242");
    }

    #[test]
    fn writes_the_same_at_the_byte_level() {
        let mut out = Vec::new();
        write(&mut out, [&b"10.0.0.1"[..]].into_iter(), b"example:4242", "127.0.0.1:5555".parse().unwrap());
        let want =
            "x-forwarded-for: 10.0.0.1, 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: example:4242\r\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert!(is_forwarded_name("X-Forwarded-Proto") && !is_forwarded_name("X-Forwarded"));
    }
}
