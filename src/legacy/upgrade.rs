//! WebSocket upgrades go to legacy: banyan forwards the handshake with its `Upgrade` and
//! `Connection` headers, and once legacy answers 101 it either splices the two upgraded
//! connections together byte for byte, or, on a route with `websocket = "relay"`, hands
//! them to the websocket bridge (`crate::ws`), which relays message by message. Only
//! `Upgrade: websocket` is ever forwarded.

use http::header::{CONNECTION, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// The client side of an upgrade banyan will forward, taken from the request.
pub struct Pending {
    client: OnUpgrade,
    upgrade: HeaderValue,
    /// Relay messages (`websocket = "relay"`) instead of splicing bytes, in this session.
    pub relay: Option<crate::ws::Ctx>,
}

/// rotki's rule (websocket.md §2): GET, `Upgrade: websocket`, and `upgrade` in `Connection`.
pub fn is_websocket_upgrade<B>(req: &http::Request<B>) -> bool {
    is_websocket(req.method(), req.headers())
}

fn is_websocket(method: &Method, headers: &HeaderMap) -> bool {
    // Most requests have no Upgrade header: one lookup and out.
    let Some(upgrade) = headers.get(UPGRADE) else {
        return false;
    };
    *method == Method::GET
        && upgrade.as_bytes().eq_ignore_ascii_case(b"websocket")
        && headers.get_all(CONNECTION).iter().any(|v| {
            v.to_str().map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade"))).unwrap_or(false)
        })
}

/// Takes the client side of a websocket upgrade out of the request, if it is one.
pub fn take(parts: &mut Parts, relay: Option<crate::ws::Ctx>) -> Option<Pending> {
    if !is_websocket(&parts.method, &parts.headers) {
        return None;
    }
    let upgrade = parts.headers.get(UPGRADE)?.clone();
    let client = parts.extensions.remove::<OnUpgrade>()?;
    Some(Pending { client, upgrade, relay })
}

impl Pending {
    /// Puts back the two headers the hop-by-hop strip removed.
    pub fn restore_headers(&self, headers: &mut HeaderMap) {
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(UPGRADE, self.upgrade.clone());
    }

    /// After legacy's 101: splices client and legacy together until either side closes.
    pub fn splice<B>(self, legacy_response: &mut Response<B>) {
        let legacy = hyper::upgrade::on(legacy_response);
        tokio::spawn(async move {
            let (client, legacy) = match tokio::try_join!(self.client, legacy) {
                Ok(both) => both,
                Err(e) => {
                    tracing::warn!("websocket upgrade failed: {e}");
                    return;
                }
            };
            if let Some(ctx) = self.relay {
                crate::ws::relay(client, legacy, ctx).await;
                return;
            }
            let (mut client, mut legacy) = (TokioIo::new(client), TokioIo::new(legacy));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut legacy).await {
                tracing::debug!("websocket passthrough ended: {e}");
            }
        });
    }
}
