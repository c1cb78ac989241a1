//! A socket banyan serves itself (`websocket = "native"` or `"merge"`), with rotki's
//! semantics: every message the native notifier publishes, each data message the client
//! sends echoed back with its opcode. Unlike rotki, banyan pings the socket every
//! `ping_interval` and drops it when a ping goes unanswered for a whole interval, closes it
//! with 1013 when it falls a whole queue behind the notifier, and with 1001 on shutdown.
//!
//! With an upstream (`merge`), banyan also relays legacy's notifier into the same socket
//! (its own websocket to legacy, same path and query, the client's cookies and Origin
//! passed on), each message whole. Client messages then go to legacy, whose echo comes
//! back; while legacy is away banyan echoes them itself. Legacy going away does not end
//! the socket: the client keeps receiving native messages while banyan reconnects in the
//! background, backing off from 100 ms to 5 s, and logs the loss and the return.
//! (Legacy's broadcasts while it is away are not seen: rotki queues those for
//! `/api/1/messages` when it has no socket.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{ClientRequestBuilder, Message};
use tokio_tungstenite::WebSocketStream;

use super::hub::Next;
use super::{answer_close, close_with, frame, Ctx};
use crate::app::App;

type LegacySocket = WebSocketStream<TcpStream>;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// How banyan reaches legacy's notifier for this socket.
pub struct Upstream {
    /// `ws://host:port/path?query`
    pub uri: String,
    /// Headers passed on: cookies, Origin, `X-Forwarded-*`.
    pub headers: Vec<(String, String)>,
}

pub async fn serve(upgraded: Upgraded, app: Arc<App>, upstream: Option<Upstream>, mut ctx: Ctx) {
    let mut client =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(super::config())).await;
    let mut sub = app.hub.subscribe();
    let ping_interval = app.config.websocket.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    let mut unanswered = false;
    let mut legacy = match &upstream {
        Some(upstream) => connect(&app, upstream).await,
        None => None,
    };
    let (mut retry_at, mut backoff) = (Instant::now() + FIRST_RETRY, FIRST_RETRY);
    // Pinned once: a fresh shutdown future per loop turn would re-register with the watch
    // (a lock every socket shares) on every message.
    let stopping = ctx.stopping();
    tokio::pin!(stopping);
    let close = loop {
        tokio::select! {
            next = sub.next() => match next {
                Next::Message(text) => {
                    if client.send(Message::Text(text)).await.is_err() {
                        break None;
                    }
                }
                Next::TooSlow => break Some(frame(CloseCode::Again, "too slow to keep up with the notifier")),
            },
            received = client.next() => {
                unanswered = false;
                match received {
                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                        // Legacy echoes what it gets; without legacy, banyan does.
                        let sent = match legacy.as_mut() {
                            Some(l) => l.send(m).await.is_ok(),
                            None => client.send(m).await.is_ok(),
                        };
                        if !sent && legacy.is_some() {
                            lost(&mut legacy, "sending to it failed");
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        answer_close(&mut client).await;
                        if let Some(mut l) = legacy.take() {
                            close_with(&mut l, frame).await;
                        }
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            }
            received = next_from(&mut legacy) => match received {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if client.send(m).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(Message::Close(_))) => lost(&mut legacy, "it closed the socket"),
                Some(Ok(_)) => {}
                Some(Err(e)) => lost(&mut legacy, &e.to_string()),
                None => lost(&mut legacy, "it closed the connection"),
            },
            _ = tokio::time::sleep_until(retry_at), if legacy.is_none() && upstream.is_some() => {
                legacy = match &upstream {
                    Some(upstream) => connect(&app, upstream).await,
                    None => None,
                };
                if legacy.is_some() {
                    tracing::info!(legacy = %app.legacy.url(), "merged websocket: legacy notifier back");
                    backoff = FIRST_RETRY;
                } else {
                    backoff = (backoff * 2).min(LAST_RETRY);
                }
                retry_at = Instant::now() + backoff;
            }
            _ = ping.tick() => {
                if unanswered {
                    tracing::debug!("websocket client stopped answering pings: dropped");
                    break None;
                }
                if client.send(Message::Ping(Bytes::new())).await.is_err() {
                    break None;
                }
                unanswered = true;
            }
            _ = &mut stopping => break Some(frame(CloseCode::Away, "banyan is shutting down")),
        }
        if legacy.is_none() && retry_at < Instant::now() {
            retry_at = Instant::now() + backoff;
        }
    };
    let away = || frame(CloseCode::Away, "the client went away");
    match (close, legacy.as_mut()) {
        (Some(f), Some(l)) => {
            tokio::join!(close_with(&mut client, Some(f.clone())), close_with(l, Some(f)));
        }
        (Some(f), None) => close_with(&mut client, Some(f)).await,
        (None, Some(l)) => close_with(l, Some(away())).await,
        (None, None) => {}
    }
}

/// The next message from legacy, or never while there is no legacy socket.
async fn next_from(
    legacy: &mut Option<LegacySocket>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match legacy.as_mut() {
        Some(l) => l.next().await,
        None => std::future::pending().await,
    }
}

fn lost(legacy: &mut Option<LegacySocket>, why: &str) {
    tracing::warn!("merged websocket: legacy notifier lost ({why}); native messages keep flowing, reconnecting");
    *legacy = None;
}

/// A websocket to legacy's notifier, or None (logged) if legacy is not there.
async fn connect(app: &App, upstream: &Upstream) -> Option<LegacySocket> {
    let attempt = async {
        let stream = app.legacy.connect_raw().await.map_err(|e| e.to_string())?.0;
        let uri = upstream.uri.parse().map_err(|e| format!("{e}"))?;
        let request = upstream
            .headers
            .iter()
            .fold(ClientRequestBuilder::new(uri), |r, (k, v)| r.with_header(k.clone(), v.clone()));
        let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(super::config()))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(socket)
    };
    match tokio::time::timeout(app.legacy.timeout(), attempt).await {
        Ok(Ok(socket)) => Some(socket),
        Ok(Err(e)) => {
            tracing::warn!(legacy = %app.legacy.url(), "merged websocket: legacy notifier unreachable: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(legacy = %app.legacy.url(), "merged websocket: legacy notifier handshake timed out");
            None
        }
    }
}
