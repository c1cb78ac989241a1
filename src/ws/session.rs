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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{ClientRequestBuilder, Message};
use tokio_tungstenite::WebSocketStream;

use super::hub::Next;
use super::Bridge;
use super::{answer_close, close_with, frame, Ctx};
use crate::legacy::Legacy;

type LegacySocket = WebSocketStream<TcpStream>;
type ClientSocket = WebSocketStream<TokioIo<Upgraded>>;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// A legacy socket that stayed up this long resets the backoff when lost.
const STABLE: Duration = Duration::from_secs(5);
/// How long one attempt to reach legacy's notifier may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// How banyan reaches legacy's notifier for this socket.
#[derive(Clone)]
pub struct Upstream {
    /// `ws://host:port/path?query`
    pub uri: String,
    /// Headers passed on: cookies, Origin, `X-Forwarded-*`.
    pub headers: Vec<(String, String)>,
}

pub async fn serve(upgraded: Upgraded, bridge: Arc<Bridge>, upstream: Option<Upstream>, mut ctx: Ctx) {
    let mut client =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(super::config())).await;
    let mut sub = bridge.hub.subscribe();
    let (ping_interval, limit) = (bridge.ping_interval, ctx.send_limit);
    let mut ping = tokio::time::interval_at(Instant::now() + ping_interval, ping_interval);
    // After a stall, one late tick rather than a burst that would drop a client before its
    // pong could arrive.
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut unanswered = false;
    let mut legacy: Option<LegacySocket> = None;
    // Connecting runs beside the session, so native messages keep flowing meanwhile.
    let mut connecting: Option<Connecting> = upstream.clone().map(|u| connect(bridge.legacy.clone(), u));
    let (mut retry_at, mut backoff, mut connected_at) = (Instant::now(), FIRST_RETRY, Instant::now());
    // Pinned once: a fresh shutdown future per loop turn would re-register with the watch
    // (a lock every socket shares) on every message.
    let stopping = ctx.stopping();
    tokio::pin!(stopping);
    let close = loop {
        tokio::select! {
            next = sub.next() => match next {
                Next::Message(text) => {
                    if let Err(close) = send(&mut client, Message::Text(text), limit).await {
                        break close;
                    }
                }
                Next::TooSlow => break Some(frame(CloseCode::Again, "too slow to keep up with the notifier")),
            },
            received = client.next() => {
                unanswered = false;
                match received {
                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                        // Legacy echoes what it gets; without legacy, banyan does.
                        let m = match legacy.as_mut() {
                            Some(l) => match tokio::time::timeout(limit, l.send(m.clone())).await {
                                Ok(Ok(())) => None,
                                Ok(Err(_)) | Err(_) => {
                                    lost(&mut legacy, "sending to it failed");
                                    Some(m)
                                }
                            },
                            None => Some(m),
                        };
                        if let Some(m) = m {
                            if let Err(close) = send(&mut client, m, limit).await {
                                break close;
                            }
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
                    if let Err(close) = send(&mut client, m, limit).await {
                        break close;
                    }
                }
                Some(Ok(Message::Close(_))) => {
                    // Finish legacy's close off the session's path.
                    if let Some(mut l) = legacy.take() {
                        tokio::task::spawn_local(async move { answer_close(&mut l).await });
                    }
                    lost(&mut legacy, "it closed the socket");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => lost(&mut legacy, &e.to_string()),
                None => lost(&mut legacy, "it closed the connection"),
            },
            connected = finish_connecting(&mut connecting) => {
                connecting = None;
                match connected {
                    Some(socket) => {
                        tracing::info!(legacy = %bridge.legacy.url(), "merged websocket: legacy notifier connected");
                        legacy = Some(socket);
                        connected_at = Instant::now();
                    }
                    None => {
                        retry_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(LAST_RETRY);
                    }
                }
            }
            _ = tokio::time::sleep_until(retry_at), if legacy.is_none() && connecting.is_none() && upstream.is_some() => {
                connecting = upstream.clone().map(|u| connect(bridge.legacy.clone(), u));
            }
            _ = ping.tick() => {
                if unanswered {
                    tracing::debug!("websocket client stopped answering pings: dropped");
                    break None;
                }
                if let Err(close) = send(&mut client, Message::Ping(Bytes::new()), limit).await {
                    break close;
                }
                unanswered = true;
            }
            _ = &mut stopping => break Some(frame(CloseCode::Away, "banyan is shutting down")),
        }
        if upstream.is_some() && legacy.is_none() && connecting.is_none() && retry_at <= connected_at {
            // Just lost: retry after the backoff, which restarts from the shortest only if
            // legacy had stayed up (a legacy that accepts and drops at once backs off).
            if connected_at.elapsed() >= STABLE {
                backoff = FIRST_RETRY;
            }
            retry_at = Instant::now() + backoff;
            backoff = (backoff * 2).min(LAST_RETRY);
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

/// Sends to the client within `limit`: a client that takes no message for that long (a
/// frozen tab, a full TCP window) is closed with 1013 rather than stalling its session.
async fn send(client: &mut ClientSocket, m: Message, limit: Duration) -> Result<(), Option<CloseFrame>> {
    match tokio::time::timeout(limit, client.send(m)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some(frame(CloseCode::Again, "too slow to take messages"))),
    }
}

type Connecting = Pin<Box<dyn Future<Output = Option<LegacySocket>>>>;

/// The connect attempt's result, or never while none runs.
async fn finish_connecting(connecting: &mut Option<Connecting>) -> Option<LegacySocket> {
    match connecting.as_mut() {
        Some(attempt) => attempt.await,
        None => std::future::pending().await,
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

/// Connects to legacy's notifier: the socket, or None (logged) if legacy is not there
/// or does not finish the handshake within `CONNECT_LIMIT`.
fn connect(legacy: Arc<Legacy>, upstream: Upstream) -> Connecting {
    Box::pin(async move {
        let attempt = async {
            let stream = legacy.connect_raw().await.map_err(|e| e.to_string())?.0;
            let uri = upstream.uri.parse().map_err(|e| format!("{e}"))?;
            let request =
                (upstream.headers.into_iter()).fold(ClientRequestBuilder::new(uri), |r, (k, v)| r.with_header(k, v));
            let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(super::config()))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(socket)
        };
        let why = match tokio::time::timeout(CONNECT_LIMIT, attempt).await {
            Ok(Ok(socket)) => return Some(socket),
            Ok(Err(e)) => e,
            Err(_) => format!("no handshake within {} s", CONNECT_LIMIT.as_secs()),
        };
        tracing::warn!(legacy = %legacy.url(), "merged websocket: legacy notifier unreachable: {why}");
        None
    })
}
