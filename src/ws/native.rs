//! A socket served by the native notifier alone (`websocket = "native"`), with rotki's
//! semantics: every published message, and each data message the client sends echoed back
//! to it with its opcode. Unlike rotki, banyan pings the socket every `ping_interval` and
//! drops it when a ping goes unanswered for a whole interval, closes it with 1013 when it
//! falls a whole queue behind the notifier, and with 1001 on shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::hub::{Hub, Next};
use super::{answer_close, close_with, Ctx};

pub async fn serve(upgraded: Upgraded, hub: Arc<Hub>, ping_interval: Duration, mut ctx: Ctx) {
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
    let mut sub = hub.subscribe();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let mut unanswered = false;
    let frame = loop {
        tokio::select! {
            next = sub.next() => match next {
                Next::Message(text) => {
                    if ws.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Next::TooSlow => break frame(CloseCode::Again, "too slow to keep up with the notifier"),
            },
            received = ws.next() => {
                unanswered = false;
                match received {
                    // rotki's echo.
                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                        if ws.send(m).await.is_err() {
                            return;
                        }
                    }
                    // tungstenite answered the close; reading on sends the answer.
                    Some(Ok(Message::Close(_))) => {
                        answer_close(&mut ws).await;
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
            _ = ping.tick() => {
                if unanswered {
                    tracing::debug!("websocket client stopped answering pings: dropped");
                    return;
                }
                if ws.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
                unanswered = true;
            }
            _ = ctx.stopping() => break frame(CloseCode::Away, "banyan is shutting down"),
        }
    };
    close_with(&mut ws, Some(frame)).await;
}

fn frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}
