//! The one body type that flows through the proxy in both directions: hyper's streaming
//! `Incoming` when bytes pass through untouched, or a buffered `Full` when banyan produced
//! or already read them (native answers, requests a native handler hands back to legacy).
//! `Either` keeps that choice free of boxing on the hot path.

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;

pub type Body = Either<Incoming, Full<Bytes>>;

/// A body banyan built itself.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Either::Right(Full::new(bytes.into()))
}

/// Bytes that pass through as they arrive.
pub fn stream(incoming: Incoming) -> Body {
    Either::Left(incoming)
}

/// Wraps a response banyan built itself.
pub fn full_from(b: http_body_util::Full<Bytes>) -> Body {
    Either::Right(b)
}
