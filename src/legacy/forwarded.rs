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
    let mut buf = [0; 48];
    let ip = crate::ip::text(peer.ip(), &mut buf);
    let value = if headers.contains_key(&X_FORWARDED_FOR) {
        let mut chain: Vec<u8> = Vec::new();
        for v in headers.get_all(&X_FORWARDED_FOR) {
            chain.extend_from_slice(v.as_bytes());
            chain.extend_from_slice(b", ");
        }
        chain.extend_from_slice(ip);
        HeaderValue::from_bytes(&chain)
    } else {
        HeaderValue::from_bytes(ip)
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
}
