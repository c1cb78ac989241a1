//! The routing decision: native or legacy, for one request on one matched route. Pure: no
//! I/O, no locks, no allocation, so it costs nanoseconds and is the same on every replica.
//!
//! A route at `native = p` serves a request natively when
//! `murmur3_x86_32(group + ":" + key, seed 0) % 10000 < round(p * 100)`, where the key
//! comes from the route's sticky spec (a header, a cookie, the client IP) and is random
//! when absent. Raising `p` only ever adds buckets, so a key never flips back to legacy
//! on the way up.

use std::io::Read;
use std::net::IpAddr;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName};

/// Header lookup for the decision, over hyper's `HeaderMap` or the byte-level
/// passthrough's parsed head alike.
pub trait Headers {
    fn first(&self, name: &HeaderName) -> Option<&[u8]>;
    fn all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]>;
}

impl Headers for HeaderMap {
    fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }

    fn all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(|v| v.as_bytes())
    }
}

impl Headers for [httparse::Header<'_>] {
    fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        self.iter().find(|h| h.name.eq_ignore_ascii_case(name.as_str())).map(|h| h.value)
    }

    fn all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> {
        // `HeaderName`s are lower case; names on the wire may be in any case.
        self.iter().filter(|h| h.name.eq_ignore_ascii_case(name.as_str())).map(|h| h.value)
    }
}

use crate::flags::{CompiledRoute, Snapshot};

/// A static, so lookups can borrow it for as long as they like.
static COOKIE_NAME: HeaderName = COOKIE;

pub const BUCKETS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Native,
    Legacy,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Legacy => "legacy",
        }
    }
}

/// How a percentage picks its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sticky {
    Random,
    Header(HeaderName),
    Cookie(String),
    Ip,
}

impl Sticky {
    pub fn parse(spec: &str) -> Result<Sticky, String> {
        let bad =
            || format!("bad sticky {spec:?}: expected \"random\", \"ip\", \"header:<name>\" or \"cookie:<name>\"");
        match spec.split_once(':') {
            None if spec == "random" => Ok(Sticky::Random),
            None if spec == "ip" => Ok(Sticky::Ip),
            Some(("header", name)) => HeaderName::from_bytes(name.as_bytes())
                .map(Sticky::Header)
                .map_err(|_| format!("bad sticky {spec:?}: {name:?} is not a valid header name")),
            Some(("cookie", name)) => {
                let token = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
                if token {
                    Ok(Sticky::Cookie(name.to_string()))
                } else {
                    Err(format!("bad sticky {spec:?}: {name:?} is not a valid cookie name"))
                }
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Sticky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sticky::Random => f.write_str("random"),
            Sticky::Ip => f.write_str("ip"),
            Sticky::Header(h) => write!(f, "header:{h}"),
            Sticky::Cookie(c) => write!(f, "cookie:{c}"),
        }
    }
}

/// The bucket of `key` in `group`: murmur3_x86_32 of `group:key`, seed 0, mod 10,000.
pub fn bucket(group: &str, key: &[u8]) -> u32 {
    bucket_with_prefix(&[group.as_bytes(), b":"], key)
}

/// The same, with `group:` already split into parts, so the hot path hashes without
/// building a string.
fn bucket_with_prefix(prefix: &[&[u8]], key: &[u8]) -> u32 {
    let mut reader = prefix[0].chain(prefix.get(1).copied().unwrap_or_default()).chain(key);
    // Reading from byte slices cannot fail.
    murmur3::murmur3_32(&mut reader, 0).unwrap_or(0) % BUCKETS
}

/// Decides who serves a request that matched `route`.
pub fn decide(snap: &Snapshot, route: &CompiledRoute, headers: &(impl Headers + ?Sized), peer: IpAddr) -> Backend {
    if snap.legacy_only {
        return Backend::Legacy;
    }
    if let Some(name) = &snap.override_header {
        match headers.first(name) {
            Some(b"native") if route.handler.is_some() => return Backend::Native,
            Some(b"native") | Some(b"legacy") => return Backend::Legacy,
            _ => {}
        }
    }
    // A guard tripped by a run of 5xx answers: back to legacy from the next request on,
    // before its rollback is written.
    if route.streak.as_ref().is_some_and(|s| s.tripped()) {
        return Backend::Legacy;
    }
    match route.threshold {
        0 => return Backend::Legacy,
        BUCKETS.. => return Backend::Native,
        _ => {}
    }
    let bucket = sticky_bucket(route, headers, peer);
    if bucket < route.threshold {
        Backend::Native
    } else {
        Backend::Legacy
    }
}

fn sticky_bucket(route: &CompiledRoute, headers: &(impl Headers + ?Sized), peer: IpAddr) -> u32 {
    let prefix: [&[u8]; 2] = [route.group.as_bytes(), b":"];
    match &route.sticky {
        Sticky::Random => {}
        Sticky::Header(name) => {
            if let Some(v) = headers.first(name) {
                return bucket_with_prefix(&prefix, v);
            }
        }
        Sticky::Cookie(name) => {
            if let Some(v) = cookie(headers, name) {
                return bucket_with_prefix(&prefix, v);
            }
        }
        Sticky::Ip => {
            // The textual form, so any implementation that hashes "group:1.2.3.4" agrees.
            let mut buf = [0; 48];
            return bucket_with_prefix(&prefix, crate::ip::text(peer, &mut buf));
        }
    }
    fastrand::u32(..BUCKETS)
}

/// The value of cookie `name` across all `Cookie` headers.
fn cookie<'h>(headers: &'h (impl Headers + ?Sized), name: &str) -> Option<&'h [u8]> {
    headers.all(&COOKIE_NAME).find_map(|v| {
        v.split(|&b| b == b';').find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values of MurmurHash3_x86_32 with seed 0, as published with the algorithm
    /// and reproduced by every port (Guava, mmh3, the C++ original).
    #[test]
    fn murmur3_matches_the_reference() {
        let h = |s: &str| murmur3::murmur3_32(&mut s.as_bytes(), 0).unwrap();
        assert_eq!(h(""), 0);
        assert_eq!(h("hello"), 0x248b_fa47);
        assert_eq!(h("The quick brown fox jumps over the lazy dog"), 0x2e4f_f723);
    }

    /// Pinned decisions, computed independently with Python's `mmh3` (the reference C++
    /// code): any change to hashing or bucketing breaks stickiness across replicas and
    /// restarts, so it must show up here.
    #[test]
    fn bucket_vectors_are_pinned() {
        assert_eq!(bucket("ping", b"alice"), 7631);
        assert_eq!(bucket("ping", b"bob"), 5852);
        assert_eq!(bucket("pilot", b"session-1"), 2981);
    }

    #[test]
    fn cookie_lookup_handles_spacing_and_several_headers() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; sid = xyz ;b=2".parse().unwrap());
        h.append(COOKIE, "c=3".parse().unwrap());
        assert_eq!(cookie(&h, "sid"), Some(&b"xyz"[..]));
        assert_eq!(cookie(&h, "c"), Some(&b"3"[..]));
        assert_eq!(cookie(&h, "d"), None);
    }

    #[test]
    fn sticky_specs() {
        assert_eq!(Sticky::parse("random").unwrap(), Sticky::Random);
        assert_eq!(Sticky::parse("ip").unwrap(), Sticky::Ip);
        assert_eq!(Sticky::parse("header:X-Session").unwrap().to_string(), "header:x-session");
        assert_eq!(Sticky::parse("cookie:sid").unwrap(), Sticky::Cookie("sid".into()));
        assert!(Sticky::parse("header:bad name").is_err());
        assert!(Sticky::parse("cookie:").is_err());
        assert!(Sticky::parse("rand").is_err());
    }
}
