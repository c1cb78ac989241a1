//! Noticing that legacy's session is gone without anyone logging out through banyan: legacy
//! restarted (a restart forgets the session), stopped, or was logged out some other way.
//! While a session is open, a watcher keeps one idle keep-alive connection to legacy and
//! asks it `GET /api/1/users` every [`EVERY`]. A process that exits closes that connection,
//! so a restart is seen the moment the old process dies, before a new one listens: no
//! request can be answered natively for a session the new process does not have. An answer
//! that no longer says the user is logged in closes the session too.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Sessions, State};
use crate::legacy::QuickAck;

/// How often the watcher asks legacy who is logged in.
pub const EVERY: Duration = Duration::from_secs(1);
/// Largest answer the watcher reads (the user list is a few bytes per user).
const MAX_ANSWER: usize = 64 * 1024;

pub(super) async fn watch(sessions: Arc<Sessions>, generation: u64, user: String) {
    let gone = |why: String| {
        let sessions = sessions.clone();
        async move { sessions.close_opened(generation, State::Unknown, &why).await }
    };
    let mut stream = match sessions.legacy.connect_raw().await {
        Ok(s) => s,
        Err(e) => return gone(format!("legacy cannot be reached to watch the session: {e}")).await,
    };
    let request = format!(
        "GET /api/1/users HTTP/1.1\r\nHost: {}\r\nUser-Agent: banyan-session-watch\r\n\r\n",
        sessions.legacy.authority()
    );
    loop {
        if !sessions.open().is_some_and(|o| o.generation == generation) {
            return;
        }
        let answer = tokio::time::timeout(sessions.legacy.timeout(), ask(&mut stream, request.as_bytes())).await;
        let users = match answer {
            Ok(Ok(users)) => users,
            Ok(Err(e)) => return gone(format!("legacy went away (restarted or stopped): {e}")).await,
            Err(_) => return gone("legacy did not say who is logged in in time".into()).await,
        };
        if users.get(&user).and_then(Value::as_str) != Some("loggedin") {
            let why = format!("legacy says {user} is not logged in");
            return sessions.close_opened(generation, State::Nobody, &why).await;
        }
        // Idle until the next question; legacy closing the connection meanwhile is a restart.
        let mut byte = [0u8; 1];
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            read = stream.0.read(&mut byte) => {
                let why = match read {
                    Ok(0) => "legacy closed its connection: it restarted or stopped".to_string(),
                    Ok(_) => "legacy sent bytes nobody asked for".to_string(),
                    Err(e) => format!("legacy's connection failed: {e}"),
                };
                return gone(why).await;
            }
        }
    }
}

/// One exchange of `GET /api/1/users` on a keep-alive connection: the `result` object.
async fn ask(stream: &mut QuickAck, request: &[u8]) -> std::io::Result<serde_json::Map<String, Value>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    stream.0.write_all(request).await?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed mid-answer"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_ANSWER {
            return Err(bad("the user list is too large"));
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut head = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(at) = head.parse(&buf).map_err(|_| bad("not HTTP"))? else { continue };
        let length = head
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())
            .ok_or_else(|| bad("an answer without Content-Length"))?;
        if head.code != Some(200) {
            return Err(bad(&format!("GET /api/1/users answered {:?}", head.code)));
        }
        if buf.len() < at + length {
            continue;
        }
        let parsed: Value = serde_json::from_slice(&buf[at..at + length]).map_err(|_| bad("not JSON"))?;
        return match parsed {
            Value::Object(mut envelope) => match envelope.remove("result") {
                Some(Value::Object(users)) => Ok(users),
                _ => Err(bad("no user list")),
            },
            _ => Err(bad("not rotki's envelope")),
        };
    }
}
