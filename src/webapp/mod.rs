//! The web app's static files (`[static]`), answered where rotki's nginx answered them in
//! its Docker image: a file of the root as it is, `index.html` for any path that is no file
//! (the app routes in the browser), content types as nginx's `mime.types` gives them, and
//! the same text types compressed.
//!
//! tower-http's ServeDir does the HTTP of files (ranges, `ETag` and the conditional
//! requests, `.br`/`.gz` siblings), through [`files::Files`], which keeps it inside the root
//! and serves from memory. What is banyan's own: which paths are the app's (admission:
//! never `/api/`, `/ws/` or an upstream's prefix), the `index.html` fallback, `Cache-Control`,
//! and gzip for the text types, compressed once per file version (`gzip.rs`).

mod files;
mod gzip;
pub mod types;

use std::io::ErrorKind;
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, RANGE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Either, Full};
use tower_http::services::fs::ServeFileSystemResponseBody;
use tower_http::services::ServeDir;

use crate::config::StaticConfig;
use files::Files;

/// An answer's body: a file's bytes as ServeDir reads them, or their gzip from memory.
pub type FilesBody = Either<ServeFileSystemResponseBody, Full<Bytes>>;

type Answer = Response<ServeFileSystemResponseBody>;

/// What a file whose name carries its content hash may be cached for.
const A_YEAR: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Everything else is revalidated (its `ETag` makes that a 304): `index.html` above all,
/// which names the hashed files of the release being served.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

const INDEX: &str = "/index.html";

pub struct WebApp {
    /// Locked only while a call sets its future up (ServeDir wants `&mut`; a clone per
    /// request would allocate).
    dir: Mutex<ServeDir<tower_http::services::fs::DefaultServeDirFallback, Files>>,
    immutable: Option<regex::Regex>,
    gzipped: gzip::Gzipped,
}

impl WebApp {
    pub fn new(cfg: &StaticConfig) -> std::io::Result<WebApp> {
        let files = Files::new(&cfg.root, cfg.cache_bytes)?;
        let dir = ServeDir::with_backend(&cfg.root, files)
            // Any path that is no file is the app's: a directory too.
            .append_index_html_on_directories(false)
            .redirect_to_trailing_slash(false)
            .precompressed_br()
            .precompressed_gzip()
            // Under glibc's 64 KiB, whose free consolidates the heap on every answer.
            .with_buf_chunk_size(16 * 1024);
        if !cfg.root.join("index.html").is_file() {
            tracing::warn!(root = %cfg.root.display(), "[static]: the root has no index.html: paths that are no file get 404");
        }
        Ok(WebApp {
            dir: Mutex::new(dir),
            immutable: cfg.immutable.clone(),
            gzipped: gzip::Gzipped::new(cfg.cache_bytes / 2, cfg.cache_bytes / 8),
        })
    }

    /// The answer to a request admission gave the web app (its body, if any, is not read):
    /// the file, else `index.html` (the app routes in the browser), labelled and, where it
    /// pays, gzipped.
    pub async fn serve<B>(&self, req: Request<B>) -> Response<FilesBody> {
        let (parts, _) = req.into_parts();
        let gzip = parts.method == Method::GET && !parts.headers.contains_key(RANGE) && gzip::accepted(&parts.headers);
        let fallback = self.index_request(&parts);
        let uri = parts.uri.clone();
        let mut resp = self.answer(Request::from_parts(parts, ())).await;
        let mut name = uri.path();
        if resp.status() == StatusCode::NOT_FOUND {
            if let Some(index) = fallback {
                resp = self.answer(index).await;
                name = INDEX;
            }
        }
        let plain = self.label(&mut resp, name, name == INDEX);
        match (gzip && plain).then(|| self.compressible(&resp)).flatten() {
            Some(etag) => self.gzipped(resp, name, &etag).await,
            None => resp.map(Either::Left),
        }
    }

    async fn answer(&self, req: Request<()>) -> Answer {
        let answering = self.dir.lock().unwrap_or_else(std::sync::PoisonError::into_inner).try_call(req);
        let status = match answering.await {
            Ok(resp) => return resp,
            // No such file (a directory, a path through a file, one outside the root).
            Err(e)
                if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied)
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                StatusCode::NOT_FOUND
            }
            Err(e) => {
                tracing::warn!("[static]: cannot read a file: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut resp = Response::new(ServeFileSystemResponseBody::default());
        *resp.status_mut() = status;
        resp
    }

    /// The request for `index.html` in place of a path that is no file, with the client's
    /// validators (a revalidation of the page is a 304); none for a method ServeDir refuses.
    fn index_request(&self, parts: &http::request::Parts) -> Option<Request<()>> {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return None;
        }
        let mut req = Request::new(());
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = Uri::from_static(INDEX);
        for name in [IF_NONE_MATCH, IF_MODIFIED_SINCE] {
            if let Some(v) = parts.headers.get(&name) {
                req.headers_mut().insert(name, v.clone());
            }
        }
        Some(req)
    }

    /// The content type nginx would give the file, and how long it may be cached. Returns
    /// whether the answer is a file's plain bytes (no `.br`/`.gz` sibling of its own).
    fn label(&self, resp: &mut Answer, name: &str, fallback: bool) -> bool {
        let status = resp.status();
        if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
            return false;
        }
        let headers = resp.headers_mut();
        if status != StatusCode::NOT_MODIFIED {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(types::content_type(name)));
        }
        let forever = !fallback && self.immutable.as_ref().map_or_else(|| types::hashed(name), |r| r.is_match(name));
        headers.insert(CACHE_CONTROL, if forever { A_YEAR } else { REVALIDATE });
        !headers.contains_key(CONTENT_ENCODING)
    }

    /// The version (`ETag`) of a whole `200` of a text type worth compressing (20 bytes or
    /// more: nginx's `gzip_min_length`).
    fn compressible(&self, resp: &Answer) -> Option<HeaderValue> {
        let header = |n| resp.headers().get(n).and_then(|v: &HeaderValue| v.to_str().ok());
        let len: u64 = header(CONTENT_LENGTH)?.parse().ok()?;
        let worth = resp.status() == StatusCode::OK
            && header(CONTENT_TYPE).is_some_and(types::compressible)
            && len >= 20
            && self.gzipped.takes(len);
        worth.then(|| resp.headers().get(ETAG).cloned()).flatten()
    }

    /// `resp` gzipped, from memory when this version was compressed before. Its ETag is
    /// made weak: the two encodings must not share a strong one (nginx weakens it too).
    async fn gzipped(&self, resp: Answer, name: &str, etag: &HeaderValue) -> Response<FilesBody> {
        let (mut parts, body) = resp.into_parts();
        let packed = match self.gzipped.get(name, etag) {
            Some(packed) => packed,
            None => {
                let plain = match body.collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(e) => {
                        tracing::warn!(file = name, "[static]: cannot read the file: {e}");
                        return failed();
                    }
                };
                match self.gzipped.compress(name, etag, plain.clone()).await {
                    Ok(packed) => packed,
                    // Sent as it is, then.
                    Err(_) => return Response::from_parts(parts, Either::Right(Full::new(plain))),
                }
            }
        };
        let headers = &mut parts.headers;
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(packed.len()));
        headers.remove(ACCEPT_RANGES);
        if let Some(weak) = weak(etag.as_bytes()) {
            headers.insert(ETAG, weak);
        }
        Response::from_parts(parts, Either::Right(Full::new(packed)))
    }
}

fn failed() -> Response<FilesBody> {
    let mut resp = Response::new(Either::Right(Full::new(Bytes::new())));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

fn weak(etag: &[u8]) -> Option<HeaderValue> {
    match etag.starts_with(b"W/") {
        true => None,
        false => HeaderValue::from_bytes(&[b"W/", etag].concat()).ok(),
    }
}
