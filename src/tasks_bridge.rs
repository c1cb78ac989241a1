//! `/api/1/tasks`, the URL space two task managers share (tasks.md §4–§7). Legacy's ids
//! count up from 0 and native ids start at `[native] task_id_base`, so the id says who owns
//! a task: `GET`/`DELETE /api/1/tasks/{id}` for a native id is answered here with rotki's
//! bodies, any other id goes to legacy as usual, and `GET /api/1/tasks` is legacy's list
//! with native's appended to each array.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::body::{self, Body};
use crate::failure::{BadAnswer, Failure};
use crate::native::tasks::{Poll, Tasks};
use crate::rotki::cors::Cors;
use crate::rotki::{json, response};

/// A request this module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Legacy's list, with native's ids merged in.
    List,
    Native(NativeTask),
}

/// A request about a native task, answered by banyan alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeTask {
    Poll(u64),
    Cancel(u64),
}

/// What this module answers: the list, and polls or cancels of native ids. Legacy's ids
/// (and anything else) are `None`: routed as usual.
pub fn target(tasks: &Tasks, method: &Method, path: &str) -> Option<Target> {
    if path == "/api/1/tasks" {
        return (method == Method::GET).then_some(Target::List);
    }
    let id = task_id(path)?;
    if !tasks.owns(id) {
        return None;
    }
    match *method {
        // Flask answers HEAD wherever it answers GET (without the body).
        Method::GET | Method::HEAD => Some(Target::Native(NativeTask::Poll(id))),
        Method::DELETE => Some(Target::Native(NativeTask::Cancel(id))),
        _ => None,
    }
}

/// The id in `/api/1/tasks/<int:task_id>`: Werkzeug's int converter, ASCII digits, leading
/// zeros allowed.
pub fn task_id(path: &str) -> Option<u64> {
    let digits = path.strip_prefix("/api/1/tasks/")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The native side of the task URL space: what both paths need to answer it.
pub struct TaskBridge {
    tasks: Arc<Tasks>,
    /// rotki answers every allowed Origin with CORS headers; the frontend polls tasks.
    cors: Cors,
}

impl TaskBridge {
    pub fn new(tasks: Arc<Tasks>, cors: Cors) -> TaskBridge {
        TaskBridge { tasks, cors }
    }

    /// rotki's answer to a poll or cancel of a native task (with its body for HEAD too:
    /// the transport drops it).
    pub fn answer(&self, task: NativeTask, origin: Option<&HeaderValue>) -> Response<Full<Bytes>> {
        let (status, text) = match task {
            NativeTask::Poll(id) => match self.tasks.poll(id) {
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
                        format!(
                            r#"{{"result": {{"status": "completed", "outcome": {outcome}{code}}}, "message": ""}}"#
                        ),
                    )
                }
                Poll::NotFound => (
                    StatusCode::NOT_FOUND,
                    format!(
                        r#"{{"result": {{"status": "not-found", "outcome": null}}, "message": "No task with id {id} found"}}"#
                    ),
                ),
            },
            NativeTask::Cancel(id) => match self.tasks.cancel(id) {
                true => (StatusCode::OK, r#"{"result": true, "message": ""}"#.to_string()),
                false => (
                    StatusCode::NOT_FOUND,
                    format!(
                        r#"{{"result": null, "message": "Did not cancel task with id {id} because it could not be found"}}"#
                    ),
                ),
            },
        };
        let mut resp = response::api_response(status, text);
        self.cors.apply(origin, resp.headers_mut());
        resp
    }

    /// Legacy's list with native's ids appended: each side's ids in its own spawn order
    /// (which side started a task first is not known across the two). Anything but rotki's
    /// list passes on as it came.
    pub async fn merge_list(&self, legacy: Response<Body>) -> Result<Response<Body>, Failure> {
        if legacy.status() != StatusCode::OK {
            return Ok(legacy);
        }
        let (mut parts, legacy_body) = legacy.into_parts();
        let bytes = legacy_body.collect().await.map_err(|e| Failure::exchange(BadAnswer::CutShort(e)))?;
        let bytes = bytes.to_bytes();
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
        let ids = |v: &serde_json::Value, key: &str| -> Option<Vec<u64>> {
            v.pointer(&format!("/result/{key}"))?.as_array()?.iter().map(|i| i.as_u64()).collect()
        };
        let Some((mut pending, mut completed)) =
            parsed.ok().and_then(|v| Some((ids(&v, "pending")?, ids(&v, "completed")?)))
        else {
            return Ok(Response::from_parts(parts, body::full(bytes)));
        };
        let (native_pending, native_completed) = self.tasks.list();
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
        parts.headers.insert(CONTENT_LENGTH, merged.len().into());
        Ok(Response::from_parts(parts, body::full(merged)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_task_space_is_recognised() {
        let tasks = Tasks::new(100, 1, std::time::Duration::from_secs(1));
        assert_eq!(target(&tasks, &Method::GET, "/api/1/tasks/100"), Some(Target::Native(NativeTask::Poll(100))));
        for path in ["/api/1/taskstrigger", "/api/1/task", "/api/1/tasks/", "/api/1/tasks/99", "/api/1/tasks/1/x"] {
            assert_eq!(target(&tasks, &Method::GET, path), None, "{path}");
        }
    }
}
