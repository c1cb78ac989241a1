//! Why a request got no answer from legacy, as a typed value: whose fault it was (the
//! client's, legacy's or banyan's own), its cause kept as an error, and whether sending the
//! request again is safe. Both request paths produce these, and [`Responder`] is the one
//! place that turns one into rotki's envelope (with CORS, as rotki answers every allowed
//! Origin), so a 413 or a 502 reads the same whichever path wrote it.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::legacy::ConnectError;
use crate::rotki::cors::Cors;
use crate::rotki::response;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The request's body (declared, or streamed so far) is over `[server] max_body_bytes`.
    #[error("the request body is over {0} bytes")]
    TooLarge(u64),
    /// The client's request is malformed: two framings at once, a bad chunk, a body that
    /// broke off.
    #[error("the request is malformed: {0}")]
    Malformed(#[source] BoxError),
    /// No connection to legacy could be made.
    #[error("unreachable: {0}")]
    Connect(#[source] ConnectError),
    /// Legacy did not start its answer within `[legacy] timeout_ms`.
    #[error("timed out after {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The exchange with legacy failed: a reset, a connection closed mid-answer, an answer
    /// that is not HTTP, a refused websocket handshake.
    #[error("{}", root_cause(.cause.as_ref()))]
    Exchange {
        cause: BoxError,
        /// Nothing of the request reached legacy (a reused connection legacy had closed).
        nothing_sent: bool,
    },
    /// Banyan's own side of the exchange failed (a connection task gone).
    #[error("{}", root_cause(.0.as_ref()))]
    Internal(#[source] BoxError),
}

/// Whose fault a failure was: it decides the status, the log level, and who is blamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Legacy,
    Banyan,
}

/// What legacy sent that cannot be relayed.
#[derive(Debug, thiserror::Error)]
pub enum BadAnswer {
    #[error("invalid response head: {0}")]
    Head(httparse::Error),
    #[error("invalid response head")]
    NoStatus,
    #[error("legacy switched protocols unasked")]
    UnaskedSwitch,
    #[error("invalid Content-Length")]
    InvalidLength,
    #[error("conflicting Content-Length")]
    ConflictingLength,
    #[error("response head too large")]
    HeadTooLarge,
    #[error("connection closed before message completed")]
    ClosedEarly,
    #[error("legacy refused the websocket handshake with {0}")]
    RefusedUpgrade(StatusCode),
    #[error("the answer broke off: {0}")]
    CutShort(#[source] BoxError),
}

/// The request said `Content-Length` and `Transfer-Encoding` at once: how requests are
/// smuggled past a proxy.
#[derive(Debug, thiserror::Error)]
#[error("both Content-Length and Transfer-Encoding")]
pub struct TwoFramings;

impl Failure {
    /// The exchange failed on legacy's side, after (possibly) sending part of the request.
    pub fn exchange(cause: impl Into<BoxError>) -> Failure {
        Failure::Exchange { cause: cause.into(), nothing_sent: false }
    }

    /// A reused connection failed before any of the request was written: legacy had closed
    /// it while idle.
    pub fn stale(cause: impl Into<BoxError>) -> Failure {
        Failure::Exchange { cause: cause.into(), nothing_sent: true }
    }

    pub fn fault(&self) -> Fault {
        match self {
            Failure::TooLarge(_) | Failure::Malformed(_) => Fault::Client,
            Failure::Connect(_) | Failure::TimedOut(_) | Failure::Exchange { .. } => Fault::Legacy,
            Failure::Internal(_) => Fault::Banyan,
        }
    }

    /// Whether sending the request again cannot make legacy do anything twice: nothing of
    /// it reached legacy.
    pub fn retry_safe(&self) -> bool {
        matches!(self, Failure::Exchange { nothing_sent: true, .. })
    }

    /// The one retry rule of both paths: a request that a *reused* connection failed before
    /// sending a byte goes once more on a new connection. (A new connection that fails is
    /// legacy's answer; trying again would only double the wait.)
    pub fn should_retry(&self, reused: bool) -> bool {
        reused && self.retry_safe()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Failure::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::Malformed(_) => StatusCode::BAD_REQUEST,
            Failure::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
            Failure::Connect(_) | Failure::Exchange { .. } | Failure::Internal(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

/// The innermost cause's text: what the operator needs, without the wrappers' prefixes.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Turns failures into rotki's envelope; built once at start.
pub struct Responder {
    /// rotki answers every allowed Origin with CORS headers, errors included; banyan's own
    /// answers do too, or the browser would hide them from the frontend.
    cors: Cors,
    /// Legacy's (or the upstream's) URL, for the log line: clients are not told where it is.
    legacy_url: String,
    /// Who the failures are of: `legacy`, or an upstream's name (`colibri`).
    backend: String,
}

/// The request a failure belongs to, for the log line that reports it.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub route: crate::stats::Label,
    pub request_id: &'a crate::access::RequestId,
}

impl Responder {
    pub fn new(cors: Cors, legacy_url: &str) -> Responder {
        Self::of("legacy", cors, legacy_url)
    }

    /// For the failures of the `[upstreams.*]` entry called `name`.
    pub fn of(name: &str, cors: Cors, url: &str) -> Responder {
        Responder { cors, legacy_url: url.trim_end_matches('/').to_string(), backend: name.to_string() }
    }

    /// The answer for a failure, logged as its fault deserves: legacy's at warning level
    /// (ops must see them), the client's at debug level (nothing to fix here).
    /// The client's message never holds legacy's address (an internal name a client has
    /// no use for); the log line has it, with the route and the request id.
    pub fn answer(&self, failure: &Failure, origin: Option<&HeaderValue>, at: Context<'_>) -> Response<Full<Bytes>> {
        let message = match failure {
            Failure::TooLarge(limit) => format!("Request body is larger than the {limit} bytes banyan accepts"),
            Failure::Malformed(cause) => format!("The request is malformed: {}", root_cause(cause.as_ref())),
            Failure::TimedOut(after) => {
                format!("The {} backend did not answer within {} ms", self.backend, after.as_millis())
            }
            // The cause (refused, timed out) names no address: the OS's words, or banyan's.
            Failure::Connect(e) => format!("The {} backend is unreachable: {e}", self.backend),
            Failure::Exchange { .. } | Failure::Internal(_) => {
                format!("The {} backend failed: {failure}", self.backend)
            }
        };
        let (route, request_id) = (at.route.name(), at.request_id.as_str());
        match failure.fault() {
            Fault::Client => tracing::debug!(route, request_id, "request refused: {failure}"),
            Fault::Legacy | Fault::Banyan => {
                let (backend, url) = (&self.backend, &self.legacy_url);
                match backend.as_str() {
                    "legacy" => tracing::warn!(legacy = %url, route, request_id, "legacy request failed: {failure}"),
                    _ => tracing::warn!(upstream = %url, route, request_id, "{backend} request failed: {failure}"),
                }
            }
        }
        let mut resp = response::fail(failure.status(), &message);
        self.cors.apply(origin, resp.headers_mut());
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn body(resp: Response<Full<Bytes>>) -> String {
        let bytes = resp.into_body().collect();
        let bytes = futures_util::FutureExt::now_or_never(bytes).unwrap().unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn faults_statuses_and_retries() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let cases: [(Failure, Fault, u16, bool); 6] = [
            (Failure::TooLarge(10), Fault::Client, 413, false),
            (Failure::Malformed(Box::new(TwoFramings)), Fault::Client, 400, false),
            (Failure::TimedOut(Duration::from_millis(5)), Fault::Legacy, 504, false),
            (Failure::exchange(io()), Fault::Legacy, 502, false),
            (Failure::stale(io()), Fault::Legacy, 502, true),
            (Failure::Internal(Box::new(io())), Fault::Banyan, 502, false),
        ];
        for (failure, fault, status, retry) in cases {
            assert_eq!(failure.fault(), fault, "{failure}");
            assert_eq!(failure.status().as_u16(), status, "{failure}");
            assert_eq!(failure.retry_safe(), retry, "{failure}");
            // A new connection is never retried, whatever failed on it.
            assert!(!failure.should_retry(false));
            assert_eq!(failure.should_retry(true), retry);
        }
    }

    #[test]
    fn answers_in_rotkis_envelope_with_the_root_cause() {
        let cors = Cors::new(&["http://localhost:*/*".to_string()]).unwrap();
        let responder = Responder::new(cors, "http://127.0.0.1:5042/");
        let origin = HeaderValue::from_static("http://localhost:8080");
        let wrapped = std::io::Error::other(BadAnswer::ClosedEarly);
        let id = crate::access::RequestId::from_client(b"abc");
        let at = Context { route: crate::stats::labels::flags_route("ping"), request_id: &id };
        let resp = responder.answer(&Failure::exchange(wrapped), Some(&origin), at);
        assert_eq!(resp.status(), 502);
        assert_eq!(resp.headers()["access-control-allow-origin"], "http://localhost:8080");
        assert_eq!(
            body(resp),
            r#"{"result": null, "message": "The legacy backend failed: connection closed before message completed"}"#
        );
        let resp = responder.answer(&Failure::TimedOut(Duration::from_millis(250)), None, at);
        assert_eq!(body(resp), r#"{"result": null, "message": "The legacy backend did not answer within 250 ms"}"#);
        let resp = responder.answer(&Failure::Connect(ConnectError::Timeout(1000)), None, at);
        assert_eq!(
            body(resp),
            r#"{"result": null, "message": "The legacy backend is unreachable: connect timed out after 1000 ms"}"#
        );
        let resp = responder.answer(&Failure::Malformed(Box::new(TwoFramings)), None, at);
        assert_eq!(
            body(resp),
            r#"{"result": null, "message": "The request is malformed: both Content-Length and Transfer-Encoding"}"#
        );
    }
}
