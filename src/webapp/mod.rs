//! The web app's static files (`[static]`), answered where rotki's nginx answered them in
//! its Docker image: a file of the root as it is, `index.html` for any path that is no file
//! (the app routes in the browser), content types as nginx's `mime.types` gives them, and
//! the same text types compressed.
//!
//! tower-http's ServeDir does the HTTP of files (ranges, `ETag` and the conditional
//! requests, `.br`/`.gz` siblings), through [`files::Files`], which keeps it inside the root
//! and serves from memory; its gzip layer compresses on the fly. What is banyan's own:
//! which paths are the app's (admission: never `/api/`, `/ws/` or an upstream's prefix),
//! `Cache-Control`, and the fallback's marking.

mod files;
pub mod types;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderValue, Request, Response, StatusCode};
use tower_http::compression::predicate::Predicate;
use tower_http::compression::{Compression, CompressionBody, CompressionLevel};
use tower_http::services::fs::{DefaultServeDirFallback, ServeFileSystemResponseBody};
use tower_http::services::ServeDir;
use tower_service::Service;

use crate::config::StaticConfig;
use files::Files;

/// An answer's body: a file's bytes, compressed or not.
pub type FilesBody = CompressionBody<ServeFileSystemResponseBody>;

/// What a file whose name carries its content hash may be cached for.
const A_YEAR: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Everything else is revalidated (its `ETag` makes that a 304): `index.html` above all,
/// which names the hashed files of the release being served.
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

pub struct WebApp {
    service: Compression<Tree, Compressible>,
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
        };
        let tree = Tree { dir: dir().fallback(Index(dir())), immutable: cfg.immutable.clone().map(Arc::new) };
        let service = Compression::new(tree).quality(CompressionLevel::Fastest).compress_when(Compressible);
        if !cfg.root.join("index.html").is_file() {
            tracing::warn!(root = %cfg.root.display(), "[static]: the root has no index.html: paths that are no file get 404");
        }
        Ok(WebApp { service })
    }

    /// The answer to a request admission gave the web app (its body, if any, is not read).
    pub async fn serve<B>(&self, req: Request<B>) -> Response<FilesBody> {
        let req = req.map(|_| ());
        let mut resp = match self.service.clone().call(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        // Compressed here, from a file whose validator names its plain bytes: the two
        // encodings must not share a strong ETag (nginx weakens it the same way).
        if resp.extensions().get::<Plain>().is_some() && resp.headers().contains_key(CONTENT_ENCODING) {
            if let Some(weak) = resp.headers().get(ETAG).and_then(|e| weak(e.as_bytes())) {
                resp.headers_mut().insert(ETAG, weak);
            }
        }
        resp
    }
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

/// Marks a file answer that left ServeDir without a `Content-Encoding` of its own.
#[derive(Clone, Copy)]
struct Plain;

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
        resp.extensions_mut().insert(Plain);
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

/// What is compressed on the fly: a whole `200` of a text type, of 20 bytes or more
/// (nginx's `gzip_min_length`).
#[derive(Clone, Copy)]
struct Compressible;

impl Predicate for Compressible {
    fn should_compress<B: hyper::body::Body>(&self, resp: &Response<B>) -> bool {
        let header = |name| resp.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        resp.status() == StatusCode::OK
            && header(CONTENT_TYPE).is_some_and(types::compressible)
            && header(CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok()).is_none_or(|n| n >= 20)
    }
}
