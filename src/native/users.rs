//! `GET /api/1/users` (no login needed): every directory under `<data-dir>/users` that holds
//! a `rotkehlchen.db`, in the directory's own order (rotki's `iterdir`, which `read_dir`
//! follows), each `loggedin` or `loggedout` as the session bridge knows it. While banyan
//! does not know (since it started, or legacy went away) or an async login is running
//! (legacy already says `loggedin` then), legacy answers.

use std::sync::Arc;

use http::StatusCode;
use indexmap::IndexMap;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::response;
use crate::session::State;

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let sessions = &ctx.sessions;
    let user = match &*sessions.state() {
        State::Unknown => return Ok(Outcome::HandBack(req)),
        _ if sessions.any_pending() => return Ok(Outcome::HandBack(req)),
        // rotki's name for nobody, which a directory can have too.
        State::Nobody => "no_user".to_string(),
        State::Open(open) => open.user.clone(),
    };
    let Some(dir) = sessions.users_dir() else { return Ok(Outcome::HandBack(req)) };
    let listed = tokio::task::spawn_blocking(move || {
        let mut users = IndexMap::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(users),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Both follow symlinks, as Python's `is_dir` and `exists` do.
            if path.is_dir() && path.join("rotkehlchen.db").exists() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let state = if name == user { "loggedin" } else { "loggedout" };
                users.insert(name, state);
            }
        }
        Ok(users)
    })
    .await?;
    match listed {
        Ok(users) => Ok(Outcome::Respond(response::envelope(StatusCode::OK, &users, ""))),
        Err(e) => {
            tracing::warn!("cannot list the users directory, legacy answers: {e}");
            Ok(Outcome::HandBack(req))
        }
    }
}
