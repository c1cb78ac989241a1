//! A lifecycle request on its way through banyan: its body read (lifecycle bodies are a
//! few bytes), sent to legacy once, legacy's answer read whole and passed on as it came,
//! and the bridge told what happened before the client hears it, so the client's next
//! request already finds the session as legacy has it. Never shadowed, never retried: a
//! second login or password change would be a real action.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use super::lifecycle::{Claim, Step};
use super::Sessions;
use crate::body::{self, Body};
use crate::failure::{BadAnswer, Failure};
use crate::legacy::{Legacy, Slot};
use crate::native::is_json;

/// Largest answer the bridge reads to learn the outcome (a login's is a few kB); a larger
/// one passes on unread and changes nothing.
const MAX_ANSWER: usize = 1 << 20;

/// Legacy's answer to `req`, or why there is none.
pub async fn serve(
    sessions: &Arc<Sessions>,
    legacy: &Legacy,
    step: Step,
    req: Request<Incoming>,
    peer: SocketAddr,
    slot: &Slot<SendRequest<Body>>,
    max_body: u64,
) -> Result<Response<Body>, Failure> {
    let (parts, incoming) = req.into_parts();
    let body = match Limited::new(incoming, max_body as usize).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(Failure::TooLarge(max_body)),
        Err(e) => return Err(Failure::Malformed(e)),
    };
    let claim = Claim::read(is_json(&parts.headers), &body, parts.uri.query());
    let req = Request::from_parts(parts, body::full(body));
    let resp = match step {
        // A poll may go on a kept connection: asking twice changes nothing (and a retry
        // only ever resends what legacy never got).
        Step::Task(_) => legacy.forward(req, peer, slot, None).await?,
        _ => legacy.forward_once(req, peer).await?,
    };
    let (parts, answer) = resp.into_parts();
    let known = hyper::body::Body::size_hint(&answer).exact().is_some_and(|n| n <= MAX_ANSWER as u64);
    if !known {
        return Ok(Response::from_parts(parts, answer));
    }
    let answer: Bytes = answer.collect().await.map_err(|e| Failure::exchange(BadAnswer::CutShort(e)))?.to_bytes();
    sessions.after(&step, claim, parts.status.as_u16(), &answer).await;
    Ok(Response::from_parts(parts, body::full(answer)))
}
