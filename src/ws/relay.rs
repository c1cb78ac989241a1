//! Relaying one websocket between the client and legacy, message by message: text,
//! binary, ping and pong as they come, and the close handshake.
//!
//! Close codes: a close frame is passed on with its code and reason (an empty one stays
//! empty, which the other side reads as 1005, as it would from the peer itself). A side
//! that goes away without a close frame (1006, which may not be sent) ends the other with
//! 1011 and a reason saying which side went. tungstenite answers pings and closes on its
//! own side at once, so a ping relayed to the other side may bring a second, relayed pong
//! (RFC 6455 allows unsolicited pongs).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{answer_close, close_with, frame, Ctx};

type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Relays between the upgraded client and legacy connections until either side closes,
/// or banyan shuts down (both sides then get 1001).
pub async fn relay(client: Upgraded, legacy: Upgraded, mut ctx: Ctx) {
    let mut client = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, Some(super::config())).await;
    let mut legacy = WebSocketStream::from_raw_socket(TokioIo::new(legacy), Role::Client, Some(super::config())).await;
    let limit = ctx.send_limit;
    // Pinned once, so it registers with the shutdown watch once (see `session.rs`).
    let stopping = ctx.stopping();
    tokio::pin!(stopping);
    let (side, frame) = loop {
        let step = tokio::select! {
            m = client.next() => pass(m, &mut legacy, limit).await.map_err(|e| e.from(Side::Client)),
            m = legacy.next() => pass(m, &mut client, limit).await.map_err(|e| e.from(Side::Legacy)),
            _ = &mut stopping => {
                let away = || frame(CloseCode::Away, "banyan is shutting down");
                tokio::join!(close_with(&mut client, Some(away())), close_with(&mut legacy, Some(away())));
                return;
            }
        };
        if let Err(ended) = step {
            break ended;
        }
    };
    tracing::debug!(closed = side.name(), code = ?frame.as_ref().map(|f| u16::from(f.code)), "websocket relay ended");
    // The side that closed first gets its close answered (tungstenite queued the reply; it
    // goes out as the socket is read), the other gets the close frame.
    let (first, other) = match side {
        Side::Client => (&mut client, &mut legacy),
        Side::Legacy => (&mut legacy, &mut client),
    };
    tokio::join!(answer_close(first), close_with(other, frame));
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Legacy,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Legacy => "legacy",
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Client => Side::Legacy,
            Side::Legacy => Side::Client,
        }
    }
}

/// Why relaying stopped, seen from the side a message came from.
enum Stop {
    /// That side closed (or vanished); the other side gets this frame.
    Closed(Option<CloseFrame>),
    /// The side it was passed to is gone; the sending side gets this frame.
    OtherGone(CloseFrame),
}

impl Stop {
    /// The side that ended first and the close frame the remaining side gets.
    fn from(self, side: Side) -> (Side, Option<CloseFrame>) {
        match self {
            Stop::Closed(frame) => (side, frame),
            Stop::OtherGone(frame) => (side.other(), Some(frame)),
        }
    }
}

/// Passes one message from a side to the other; one that takes nothing within `limit`
/// (a frozen tab, a full TCP window) counts as gone rather than stalling both directions.
async fn pass(received: Option<Result<Message, WsError>>, to: &mut Socket, limit: Duration) -> Result<(), Stop> {
    match received {
        Some(Ok(Message::Close(frame))) => Err(Stop::Closed(frame)),
        Some(Ok(Message::Frame(_))) => Ok(()),
        Some(Ok(message)) => match tokio::time::timeout(limit, to.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Stop::OtherGone(went_away())),
        },
        // Gone without a close frame (1006, which may not be sent): 1011 to the other side.
        Some(Err(_)) | None => Err(Stop::Closed(Some(went_away()))),
    }
}

fn went_away() -> CloseFrame {
    frame(CloseCode::Error, "the other side closed the connection without a close frame")
}
