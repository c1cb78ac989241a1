//! `/api/1/tasks`, the URL space two task managers share (tasks.md §4–§7). Legacy's ids
//! count up from 0 and native ids start at `[native] task_id_base`, so the id says who owns
//! a task: `GET`/`DELETE /api/1/tasks/{id}` for a native id is answered here with rotki's
//! bodies, any other id goes to legacy as usual, and `GET /api/1/tasks` is legacy's list
//! with native's appended to each array.

use std::net::SocketAddr;

use http::header::CONTENT_LENGTH;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::app::App;
use crate::body::{self, Body};
use crate::legacy::Slot;
use crate::native::tasks::Poll;
use crate::rotki::cors::Cors;
use crate::rotki::{json, response};

/// A request this module answers.
pub enum Target {
    List,
    Poll(u64),
    Cancel(u64),
}

/// Whether `path` is the task URL space at all (the byte-level path leaves it to hyper).
pub fn is_tasks_path(path: &str) -> bool {
    path == "/api/1/tasks" || path.starts_with("/api/1/tasks/")
}

/// What this module answers: the list, and polls or cancels of native ids. Legacy's ids
/// (and anything else) are `None`: routed as usual.
pub fn target(app: &App, method: &Method, path: &str) -> Option<Target> {
    if path == "/api/1/tasks" {
        return (method == Method::GET).then_some(Target::List);
    }
    let digits = path.strip_prefix("/api/1/tasks/")?;
    // Werkzeug's int converter: ASCII digits, leading zeros allowed.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: u64 = digits.parse().ok()?;
    if !app.native.context().tasks.owns(id) {
        return None;
    }
    match *method {
        // Flask answers HEAD wherever it answers GET (without the body).
        Method::GET | Method::HEAD => Some(Target::Poll(id)),
        Method::DELETE => Some(Target::Cancel(id)),
        _ => None,
    }
}

pub async fn serve(
    app: &App,
    target: Target,
    req: Request<Incoming>,
    peer: SocketAddr,
    slot: &Slot<SendRequest<Body>>,
) -> Response<Body> {
    let tasks = &app.native.context().tasks;
    let origin = Cors::origin(req.headers());
    let (status, text) = match target {
        Target::Poll(id) => match tasks.poll(id) {
            Poll::Pending => (
                StatusCode::OK,
                format!(
                    r#"{{"result": {{"status": "pending", "outcome": null}}, "message": "The task with id {id} is still pending"}}"#
                ),
            ),
            Poll::Completed(done) => {
                let code = done.status_code.map_or(String::new(), |c| format!(r#", "status_code": {c}"#));
                let outcome = done.outcome;
                (
                    StatusCode::OK,
                    format!(r#"{{"result": {{"status": "completed", "outcome": {outcome}{code}}}, "message": ""}}"#),
                )
            }
            Poll::NotFound => (
                StatusCode::NOT_FOUND,
                format!(
                    r#"{{"result": {{"status": "not-found", "outcome": null}}, "message": "No task with id {id} found"}}"#
                ),
            ),
        },
        Target::Cancel(id) => match tasks.cancel(id) {
            true => (StatusCode::OK, r#"{"result": true, "message": ""}"#.to_string()),
            false => (
                StatusCode::NOT_FOUND,
                format!(
                    r#"{{"result": null, "message": "Did not cancel task with id {id} because it could not be found"}}"#
                ),
            ),
        },
        Target::List => return list(app, req, peer, slot).await,
    };
    let mut resp = response::api_response(status, text);
    // rotki answers every allowed Origin with CORS headers; the frontend polls tasks.
    app.native.context().cors.apply(origin.as_ref(), resp.headers_mut());
    resp.map(body::full_from)
}

/// Legacy's list with native's ids appended: each side's ids in its own spawn order (which
/// side started a task first is not known across the two).
async fn list(app: &App, req: Request<Incoming>, peer: SocketAddr, slot: &Slot<SendRequest<Body>>) -> Response<Body> {
    let resp = app.legacy.forward(req.map(|b| body::limited(b, app.config.server.max_body)), peer, slot, None).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (parts, legacy_body) = resp.into_parts();
    let Ok(bytes) = legacy_body.collect().await.map(|b| b.to_bytes()) else {
        return app
            .legacy
            .failed(crate::legacy::Failure::Send("legacy's task list was cut short".into()), None)
            .map(body::full_from);
    };
    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
    let ids = |v: &serde_json::Value, key: &str| -> Option<Vec<u64>> {
        v.pointer(&format!("/result/{key}"))?.as_array()?.iter().map(|i| i.as_u64()).collect()
    };
    let Some((mut pending, mut completed)) =
        parsed.ok().and_then(|v| Some((ids(&v, "pending")?, ids(&v, "completed")?)))
    else {
        // Not the list rotki sends: pass it on as it came.
        return Response::from_parts(parts, body::full(bytes));
    };
    let (native_pending, native_completed) = app.native.context().tasks.list();
    pending.extend(native_pending);
    completed.extend(native_completed);
    #[derive(serde::Serialize)]
    struct Lists {
        pending: Vec<u64>,
        completed: Vec<u64>,
    }
    #[derive(serde::Serialize)]
    struct Envelope {
        result: Lists,
        message: &'static str,
    }
    // Legacy's head (its CORS headers included), the merged body.
    let merged = json::dumps(&Envelope { result: Lists { pending, completed }, message: "" });
    let mut parts = parts;
    parts.headers.insert(CONTENT_LENGTH, merged.len().into());
    Response::from_parts(parts, body::full(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_task_space_is_recognised() {
        assert!(is_tasks_path("/api/1/tasks") && is_tasks_path("/api/1/tasks/12"));
        assert!(!is_tasks_path("/api/1/taskstrigger") && !is_tasks_path("/api/1/task"));
    }
}
