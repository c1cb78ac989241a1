//! The web app's static files (`[static]`), answered where rotki's nginx answered them in
//! its Docker image: a file of the root as it is, `index.html` for any path that is no file
//! (the app routes in the browser), content types as nginx's `mime.types` gives them, and
//! the same text types compressed.
//!
//! tower-http's ServeDir does the HTTP of files (ranges, `ETag` and the conditional
//! requests, `.br`/`.gz` siblings), through [`files::Files`], which keeps it inside the root
//! and serves from memory. What is banyan's own: which paths are the app's (admission:
//! never `/api/`, `/ws/` or an upstream's prefix), `Cache-Control`, the fallback's marking,
//! and gzip for the text types, compressed once per file version (`gzip.rs`).

mod files;
mod gzip;
pub mod types;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, RANGE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use tower_http::services::fs::{DefaultServeDirFallback, ServeFileSystemResponseBody};
use tower_http::services::ServeDir;
use tower_service::Service;

use crate::config::StaticConfig;
use files::Files;

/// An answer's body: a file's bytes as ServeDir reads them, or their gzip from memory.
pub type FilesBody = Either<ServeFileSystemResponseBody, Full<Bytes>>;

/// What a file whose name carries its content hash may be cached for.
const A_YEAR: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Everything else is revalidated (its `ETag` makes that a 304): `index.html` above all,
/// which names the hashed files of the release being served.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

pub struct WebApp {
    tree: Tree,
    gzipped: gzip::Gzipped,
}

impl WebApp {
    pub fn new(cfg: &StaticConfig) -> std::io::Result<WebApp> {
        let files = Files::new(&cfg.root, cfg.cache_bytes)?;
        let dir = || {
            ServeDir::with_backend(&cfg.root, files.clone())
                // Any path that is no file is the app's: a directory too.
                .append_index_html_on_directories(false)
                .redirect_to_trailing_slash(false)
                .precompressed_br()
                .precompressed_gzip()
                // Under glibc's 64 KiB, whose free consolidates the heap on every answer.
                .with_buf_chunk_size(16 * 1024)
        };
        let tree = Tree { dir: dir().fallback(Index(dir())), immutable: cfg.immutable.clone().map(Arc::new) };
        if !cfg.root.join("index.html").is_file() {
            tracing::warn!(root = %cfg.root.display(), "[static]: the root has no index.html: paths that are no file get 404");
        }
        Ok(WebApp { tree, gzipped: gzip::Gzipped::new(cfg.cache_bytes / 2, cfg.cache_bytes / 8) })
    }

    /// The answer to a request admission gave the web app (its body, if any, is not read).
    pub async fn serve<B>(&self, req: Request<B>) -> Response<FilesBody> {
        let gzip = req.method() == Method::GET && !req.headers().contains_key(RANGE) && gzip::accepted(req.headers());
        let resp = match self.tree.clone().call(req.map(|_| ())).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        match gzip.then(|| self.compressible(&resp)).flatten() {
            Some((name, etag)) => self.gzipped(resp, &name, &etag).await,
            None => resp.map(Either::Left),
        }
    }

    /// The name and version of a whole, plain `200` of a text type worth compressing (20
    /// bytes or more: nginx's `gzip_min_length`).
    fn compressible(&self, resp: &Answer) -> Option<(String, HeaderValue)> {
        let Plain(name) = resp.extensions().get::<Plain>()?;
        let header = |n| resp.headers().get(n).and_then(|v: &HeaderValue| v.to_str().ok());
        let len: u64 = header(CONTENT_LENGTH)?.parse().ok()?;
        let worth = resp.status() == StatusCode::OK
            && header(CONTENT_TYPE).is_some_and(types::compressible)
            && len >= 20
            && self.gzipped.takes(len);
        worth.then(|| Some((name.clone(), resp.headers().get(ETAG)?.clone()))).flatten()
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

/// Marks an answer the fallback gave: `index.html` in place of a path that is no file.
#[derive(Clone, Copy)]
struct Fallback;

/// Marks a file answer that left ServeDir without a `Content-Encoding` of its own, with
/// the name of the file it is.
#[derive(Clone)]
struct Plain(String);

type Answer = Response<ServeFileSystemResponseBody>;
type Answering = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

/// The root's files, with `index.html` behind them.
#[derive(Clone)]
struct Tree {
    dir: ServeDir<Index, Files>,
    immutable: Option<Arc<regex::Regex>>,
}

impl Service<Request<()>> for Tree {
    type Response = Answer;
    type Error = Infallible;
    type Future = Answering;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<()>) -> Answering {
        let path = req.uri().path().to_string();
        let immutable = self.immutable.clone();
        let answering = self.dir.call(req);
        Box::pin(async move {
            let mut resp = answering.await?;
            label(&mut resp, &path, immutable.as_deref());
            Ok(resp)
        })
    }
}

/// The content type nginx would give the file, and how long it may be cached.
fn label(resp: &mut Answer, path: &str, immutable: Option<&regex::Regex>) {
    let status = resp.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
        return;
    }
    let fallback = resp.extensions().get::<Fallback>().is_some();
    let name = if fallback { "/index.html" } else { path };
    if !resp.headers().contains_key(CONTENT_ENCODING) {
        resp.extensions_mut().insert(Plain(name.to_string()));
    }
    let headers = resp.headers_mut();
    if status != StatusCode::NOT_MODIFIED {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(types::content_type(name)));
    }
    let forever = !fallback && immutable.map_or_else(|| types::hashed(name), |r| r.is_match(name));
    headers.insert(CACHE_CONTROL, if forever { A_YEAR } else { REVALIDATE });
}

/// The fallback: `index.html`, for a path that is no file of the root.
#[derive(Clone)]
struct Index(ServeDir<DefaultServeDirFallback, Files>);

impl Service<Request<()>> for Index {
    type Response = Answer;
    type Error = Infallible;
    type Future = Answering;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<()>) -> Answering {
        *req.uri_mut() = http::Uri::from_static("/index.html");
        let answering = self.0.call(req);
        Box::pin(async move {
            let mut resp = answering.await?;
            resp.extensions_mut().insert(Fallback);
            Ok(resp)
        })
    }
}
