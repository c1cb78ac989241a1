//! The one body type that flows through the proxy in both directions: hyper's streaming
//! `Incoming` when bytes pass through untouched (held to `[server] max_body_bytes` when it
//! is a request body of unknown length), or a buffered `Full` when banyan produced or
//! already read them (native answers, requests a native handler hands back to legacy), or
//! a file of the web app (`webapp/`). `Either` keeps that choice free of boxing on the hot
//! path.

use bytes::Bytes;
use http_body_util::{Either, Full, Limited};
use hyper::body::Incoming;

use crate::webapp::FilesBody;

pub type Body = Either<Either<Incoming, Limited<Incoming>>, Either<Full<Bytes>, FilesBody>>;

/// A body banyan built itself.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    full_from(Full::new(bytes.into()))
}

/// A file of the web app.
pub fn files(body: FilesBody) -> Body {
    Either::Right(Either::Right(body))
}

/// Bytes that pass through as they arrive.
pub fn stream(incoming: Incoming) -> Body {
    Either::Left(Either::Left(incoming))
}

/// A request body that passes through as it arrives, up to `max` bytes; past that it
/// fails, and the request with it (a 413).
pub fn limited(incoming: Incoming, max: u64) -> Body {
    Either::Left(Either::Right(Limited::new(incoming, usize::try_from(max).unwrap_or(usize::MAX))))
}

/// Wraps a response banyan built itself.
pub fn full_from(b: http_body_util::Full<Bytes>) -> Body {
    Either::Right(Either::Left(b))
}

/// The bytes of a `Full` body: ready at once, and shared with it (no copy, and none of
/// `collect`'s buffering).
pub fn full_bytes(body: &Full<Bytes>) -> Bytes {
    use hyper::body::Body as _;
    let mut body = body.clone();
    let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}
