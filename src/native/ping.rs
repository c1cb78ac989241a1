//! `GET /api/1/ping` (endpoints.md §a): always the same answer; no arguments, no DB.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::response;

const BODY: &[u8] = br#"{"result": true, "message": ""}"#;

pub async fn handle(_req: NativeRequest, _ctx: Arc<Context>) -> HandlerResult {
    Ok(Outcome::Respond(response::api_response(StatusCode::OK, Bytes::from_static(BODY))))
}
