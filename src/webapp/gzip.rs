//! The web app's text files gzipped: each version of a file compressed once (on the
//! blocking pool, at zlib's default level) and its bytes kept, so a page load costs what
//! serving a file from memory costs, not a compression per request. nginx's `gzip on`
//! compresses every time, at level 1.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::header::ACCEPT_ENCODING;
use http::{HeaderMap, HeaderValue};

/// Gzipped files, by the name they were served under and their `ETag` (a file's version:
/// the name is in the key because two files may share a size and a modification time).
pub struct Gzipped {
    cache: Mutex<Cache>,
    /// Bytes of compressed files kept at most; a file larger than `largest` is not
    /// compressed (it is sent as it is).
    capacity: u64,
    largest: u64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<(String, HeaderValue), Bytes>,
    bytes: u64,
}

impl Gzipped {
    pub fn new(capacity: u64, largest: u64) -> Gzipped {
        Gzipped { cache: Mutex::default(), capacity, largest }
    }

    pub fn takes(&self, len: u64) -> bool {
        len <= self.largest
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, name: &str, etag: &HeaderValue) -> Option<Bytes> {
        self.cache().entries.get(&(name.to_string(), etag.clone())).cloned()
    }

    /// Compresses `plain` (where blocking is allowed) and keeps the result. When the cache
    /// is full it starts again empty: the versions still served come back on their next
    /// request, the old release's never.
    pub async fn compress(&self, name: &str, etag: &HeaderValue, plain: Bytes) -> std::io::Result<Bytes> {
        let gz = tokio::task::spawn_blocking(move || gzip(&plain))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        let mut cache = self.cache();
        if cache.bytes + gz.len() as u64 > self.capacity {
            *cache = Cache::default();
        }
        cache.bytes += gz.len() as u64;
        cache.entries.insert((name.to_string(), etag.clone()), gz.clone());
        Ok(gz)
    }
}

fn gzip(plain: &[u8]) -> std::io::Result<Bytes> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(plain.len() / 3), flate2::Compression::default());
    e.write_all(plain)?;
    Ok(e.finish()?.into())
}

/// Whether the request's `Accept-Encoding` takes gzip: `gzip` (or `x-gzip`, or `*`) with a
/// q-value above 0, the explicit coding winning over `*`.
pub fn accepted(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(q > 0.0);
            } else if coding == "*" {
                any = Some(q > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepted(&h)
    }

    #[test]
    fn reads_accept_encoding_as_browsers_write_it() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, gzip;q=0.8"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br"));
        assert!(!accepts("*, gzip;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepted(&HeaderMap::new()));
    }

    #[test]
    fn a_version_is_compressed_once_and_reads_back() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let gz = Gzipped::new(1 << 20, 1 << 16);
        let etag = HeaderValue::from_static("\"1-2\"");
        let plain = Bytes::from("hello hello hello hello hello");
        let packed = rt.block_on(gz.compress("/a.js", &etag, plain.clone())).unwrap();
        assert_eq!(gz.get("/a.js", &etag), Some(packed.clone()));
        assert_eq!(gz.get("/b.js", &etag), None);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut back).unwrap();
        assert_eq!(back, plain);
    }
}
