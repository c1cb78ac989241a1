//! A fast websocket upstream for the websocket benchmark: accepts any handshake and echoes
//! every data message, like rotki's notifier does, as fast as tokio-tungstenite can, so
//! the benchmark measures banyan's relay and not a Python server.
//! Usage: `ws-upstream <addr>` (port 0 picks one); prints `LISTENING <port>`.

#[path = "listening.rs"]
mod listening;

use futures_util::{SinkExt, StreamExt};

#[tokio::main]
async fn main() {
    let listener = listening::bind_from_args().await;
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
            while let Some(Ok(m)) = ws.next().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    return;
                }
            }
        });
    }
}
