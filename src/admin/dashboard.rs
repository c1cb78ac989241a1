//! `GET /`: the rollout dashboard, one self-contained page (no build step, no external
//! network) embedded in the binary. It polls the admin API every two seconds.

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};

use crate::body::{self, Body};

const PAGE: &str = include_str!("dashboard.html");

pub fn page() -> Response<Body> {
    let mut r = Response::new(body::full(PAGE));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Everything is inline; nothing may load from elsewhere.
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    r
}
