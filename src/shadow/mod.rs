//! Shadowing: a request on a `shadow = true` route is also sent to the backend that was
//! not chosen, off the client's path, and the two answers are compared (`compare.rs`) and
//! recorded (`record.rs`). The client gets the chosen backend's answer as soon as it is
//! ready; the copy runs afterwards, at most `MAX_IN_FLIGHT` at a time, and is dropped (and
//! counted) beyond that or when the request body is too large to duplicate.
//!
//! With `shadow_noise`, a sample of shadowed requests also goes to legacy a second time:
//! the pointers where legacy disagrees with itself (timestamps, random ids) are learned as
//! noise, logged, and left out of later comparisons.

pub mod compare;
pub mod record;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Limited};
use tokio::sync::Semaphore;

use crate::decide::Backend;
use crate::flags::rollout::ShadowSettings;
use crate::flags::CompiledRoute;
use crate::legacy::Legacy;
use crate::native::{HandlerId, Native, Served};
use crate::stats::Label;
use compare::{Answer, Ignored};
pub use record::{Book, ErrorReason, LastError, Mismatch, MismatchRate, Outcome};

use crate::access::RequestId;

/// Why a handed-back request has no comparison.
const HANDED_BACK: &str = "the native handler hands this request to legacy: there is no native answer to compare";

/// Copies running at once, at most; beyond that a copy is dropped (and counted).
pub const MAX_IN_FLIGHT: usize = 64;
/// Bodies (requests to duplicate, answers to compare) larger than this are not compared.
pub const MAX_BODY: usize = 1 << 20;
/// A copy still unanswered after this is an error: it must not hold its place for
/// legacy's whole (generous) timeout.
const COPY_TIMEOUT: Duration = Duration::from_secs(30);
/// Answers up to this size (both together) are compared on the worker's thread.
const INLINE_COMPARE: usize = 64 * 1024;
/// With `shadow_noise`, one shadowed request in this many also asks legacy twice.
const NOISE_EVERY: u64 = 10;
/// Two legacy answers differing in more places than this are not noise but a different
/// answer (an error, another state): nothing is learned from them.
const MAX_NOISE_PER_SAMPLE: usize = 10;

pub struct Shadow {
    /// What the copies found, for the admin API, `/metrics` and the guards.
    pub book: Arc<Book>,
    permits: Arc<Semaphore>,
    sampled: AtomicU64,
    /// The two backends a copy may go to.
    native: Arc<Native>,
    legacy: Arc<Legacy>,
}

/// A shadowed route, as a request of it is captured.
pub struct Target {
    route: Label,
    settings: Arc<ShadowSettings>,
    handler: HandlerId,
}

impl Target {
    pub fn route(&self) -> Label {
        self.route
    }
}

/// A request captured for its copy, waiting for the primary answer.
pub struct Captured {
    route: Label,
    settings: Arc<ShadowSettings>,
    handler: HandlerId,
    parts: Parts,
    body: Bytes,
    peer: SocketAddr,
    request_id: RequestId,
}

/// Whether a request asks for an `async_query` task (in its query or JSON body).
pub fn asks_for_a_task(parts: &Parts, body: &[u8]) -> bool {
    let needle: &[u8] = b"async_query";
    parts.uri.query().is_some_and(|q| q.contains("async_query")) || body.windows(needle.len()).any(|w| w == needle)
}

/// An answer: status, content type and body.
type Copied = (u16, Option<HeaderValue>, Bytes);

/// The answer the client got.
pub enum Primary {
    Answered {
        backend: Backend,
        status: u16,
        content_type: Option<HeaderValue>,
        body: Bytes,
    },
    /// No comparable answer: why (legacy failed, the answer was too large, ...).
    Unusable(&'static str),
    /// The native handler handed the request to legacy: nothing native to compare.
    HandedBack,
}

impl Shadow {
    pub fn new(native: Arc<Native>, legacy: Arc<Legacy>) -> Shadow {
        Shadow {
            book: Arc::default(),
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            sampled: AtomicU64::new(0),
            native,
            legacy,
        }
    }

    /// What to capture of a request if its route shadows requests of its method.
    pub fn target(route: Option<&CompiledRoute>, method: &http::Method) -> Option<Target> {
        let route = route?;
        let settings = route.shadow.as_ref().filter(|s| s.methods.contains(method))?.clone();
        Some(Target { route: route.label, settings, handler: route.handler? })
    }

    /// Captures a request for its copy, or counts it dropped when its body is too large to
    /// duplicate. A request that asks for an `async_query` task is not copied: a copy would
    /// start a second real task, and the two task ids never match.
    pub fn capture(
        &self,
        target: Target,
        parts: Parts,
        body: Bytes,
        peer: SocketAddr,
        request_id: RequestId,
    ) -> Option<Captured> {
        if body.len() > MAX_BODY || asks_for_a_task(&parts, &body) {
            self.book.count(target.route, Outcome::Dropped);
            return None;
        }
        let Target { route, settings, handler } = target;
        Some(Captured { route, settings, handler, parts, body, peer, request_id })
    }

    /// Whether a copy could start now (one that could not is not worth capturing).
    pub fn has_room(&self) -> bool {
        self.permits.available_permits() > 0
    }

    /// Counts a shadowed request that could not be captured (its body too large to read).
    pub fn dropped(&self, route: Label) {
        self.book.count(route, Outcome::Dropped);
    }
}

impl Captured {
    /// Sends the copy to the other backend and compares, in a task of its own on the
    /// current worker, if fewer than `MAX_IN_FLIGHT` copies run (else it is dropped).
    pub fn finish(self, shadow: &Arc<Shadow>, primary: Primary) {
        let Ok(permit) = shadow.permits.clone().try_acquire_owned() else {
            shadow.book.count(self.route, Outcome::Dropped);
            return;
        };
        let shadow = shadow.clone();
        tokio::task::spawn_local(async move {
            let outcome = tokio::time::timeout(COPY_TIMEOUT, self.run(&shadow, primary)).await;
            if outcome.is_err() {
                let detail = format!("no answer to compare within {} s", COPY_TIMEOUT.as_secs());
                self.error(&shadow.book, ErrorReason::Timeout, detail);
            }
            drop(permit);
        });
    }

    async fn run(&self, shadow: &Shadow, primary: Primary) {
        let book = &shadow.book;
        let (backend, ours) = match primary {
            Primary::Answered { backend, status, content_type, body } => (backend, (status, content_type, body)),
            Primary::Unusable(why) => return self.error(book, ErrorReason::PrimaryUnusable, why.to_string()),
            Primary::HandedBack => return self.error(book, ErrorReason::HandedBack, HANDED_BACK.to_string()),
        };
        let other = match backend {
            Backend::Legacy => self.native(&shadow.native).await,
            Backend::Native => self.legacy(&shadow.legacy).await.map_err(|why| (ErrorReason::LegacyFailed, why)),
        };
        let theirs = match other {
            Ok(answer) => answer,
            Err((reason, why)) => return self.error(book, reason, why),
        };
        let (legacy, native) = match backend {
            Backend::Legacy => (ours, theirs),
            Backend::Native => (theirs, ours),
        };
        // Noise only from requests that are safe to repeat, and only from two good answers.
        let safe = matches!(self.parts.method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS);
        let sample = self.settings.noise
            && safe
            && (200..300).contains(&legacy.0)
            && shadow.sampled.fetch_add(1, Ordering::Relaxed) % NOISE_EVERY == 0;
        let again = match sample {
            true => self.legacy(&shadow.legacy).await.ok().filter(|(s, _, _)| *s == legacy.0).map(|(_, _, b)| b),
            false => None,
        };
        let head = self.parts.method == http::Method::HEAD;
        let (legacy_len, native_len) = (legacy.2.len(), native.2.len());
        let ignore = self.settings.ignore.clone();
        let noise = book.noise(self.route);
        let judge = move || {
            let learned = again.map(|again| compare::noise(&legacy.2, &again)).unwrap_or_default();
            let mut ignored = Ignored::new(ignore.iter().map(String::as_str));
            for p in noise.iter().chain(learned.iter().take(MAX_NOISE_PER_SAMPLE)) {
                ignored.add(p);
            }
            // A HEAD answer has no body on the wire; a handler's may carry one all the same.
            let (lb, nb) = if head { (&[][..], &[][..]) } else { (&legacy.2[..], &native.2[..]) };
            let content_type = |v: &Option<HeaderValue>| v.as_ref().map(|v| v.as_bytes().to_vec());
            let differences = compare::compare(
                &Answer { status: legacy.0, content_type: content_type(&legacy.1).as_deref(), body: lb },
                &Answer { status: native.0, content_type: content_type(&native.1).as_deref(), body: nb },
                &ignored,
            );
            (learned, differences)
        };
        // Parsing and walking two large bodies is not for the worker's thread; rotki's
        // usual small answers are compared in place (a thread hop costs more than that).
        let (learned, differences) = if legacy_len + native_len <= INLINE_COMPARE {
            judge()
        } else {
            match tokio::task::spawn_blocking(judge).await {
                Ok(judged) => judged,
                Err(e) => return self.error(book, ErrorReason::CompareFailed, e.to_string()),
            }
        };
        if !learned.is_empty() && learned.len() <= MAX_NOISE_PER_SAMPLE {
            let new = book.learn_noise(self.route, learned);
            if !new.is_empty() {
                tracing::info!(route = self.route.name(), pointers = ?new, "shadow: learned noise (legacy disagrees with itself there); left out of comparisons from now on");
            }
        }
        if differences.is_empty() {
            book.count(self.route, Outcome::Match);
            return;
        }
        let (count, first) = (differences.len(), differences[0].pointer.clone());
        book.count(self.route, Outcome::Mismatch);
        let log = book.mismatch(
            self.route,
            Mismatch {
                time: crate::audit::rfc3339_now(),
                request_id: self.request_id.as_str().to_string(),
                method: self.parts.method.to_string(),
                target: self.target(),
                primary: backend.as_str(),
                differences: differences.into_iter().map(compare::Difference::preview).collect(),
            },
        );
        if let Some(unlogged) = log {
            tracing::info!(
                route = self.route.name(),
                request_id = self.request_id.as_str(),
                target = %self.target(),
                differences = count,
                first = %first,
                unlogged,
                "shadow: native and legacy answers differ (every mismatch is in GET /api/shadow/{}; \
                 `unlogged` counts those since the last line)",
                self.route.name()
            );
        }
    }

    /// Counts a copy that ended without a comparison, and why.
    fn error(&self, book: &Book, reason: ErrorReason, detail: String) {
        tracing::debug!(
            route = self.route.name(),
            request_id = self.request_id.as_str(),
            "shadow: not compared ({}): {detail}",
            reason.as_str()
        );
        let error = LastError {
            time: crate::audit::rfc3339_now(),
            reason,
            detail,
            request_id: self.request_id.as_str().to_string(),
            target: self.target(),
        };
        book.error(self.route, error);
    }

    /// The request's target as kept and logged: secret query parameters' values out.
    fn target(&self) -> String {
        let uri = self.parts.uri.path_and_query().map_or("/", |p| p.as_str());
        crate::record::redact::target(uri).into_owned()
    }

    /// The native handler's answer to the copy.
    async fn native(&self, native: &Native) -> Result<Copied, (ErrorReason, String)> {
        // Never `async_query` in a copy: that would start a second task for real.
        match native.serve_buffered(self.handler, self.parts.clone(), self.body.clone(), false).await {
            Served::Response(r) => {
                let (status, content_type) = (r.status().as_u16(), r.headers().get(CONTENT_TYPE).cloned());
                let body = r.into_body().collect().await.map_err(|e| (ErrorReason::NativeFailed, e.to_string()))?;
                Ok((status, content_type, body.to_bytes()))
            }
            Served::HandBack(_) => Err((ErrorReason::HandedBack, HANDED_BACK.into())),
        }
    }

    /// Legacy's answer to the copy, on a connection of its own.
    async fn legacy(&self, legacy: &Legacy) -> Result<Copied, String> {
        let req = Request::from_parts(self.parts.clone(), crate::body::full(self.body.clone()));
        let slot = legacy.slot();
        let resp = legacy.forward(req, self.peer, &slot, None).await;
        let resp = resp.map_err(|failure| format!("legacy did not answer: {failure}"))?;
        let (status, content_type) = (resp.status().as_u16(), resp.headers().get(CONTENT_TYPE).cloned());
        let body = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, content_type, body))
    }
}
