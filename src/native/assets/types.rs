//! `GET /api/1/assets/types` (endpoints.md §c).

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::StatusCode;

use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::{json, response};

static TYPES_BODY: LazyLock<Bytes> = LazyLock::new(|| {
    #[derive(serde::Serialize)]
    struct Envelope {
        result: Vec<String>,
        message: &'static str,
    }
    let types = crate::rotki::assets::public_asset_types().collect();
    Bytes::from(json::dumps(&Envelope { result: types, message: "" }))
});

/// `GET /api/1/assets/types`: a constant list; `async_query` and any body are ignored.
pub async fn types(_req: NativeRequest, _ctx: Arc<Context>) -> HandlerResult {
    Ok(Outcome::Respond(response::api_response(StatusCode::OK, TYPES_BODY.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_body_is_the_captured_one() {
        assert_eq!(TYPES_BODY.len(), 386);
        assert!(TYPES_BODY.starts_with(br#"{"result": ["fiat", "own chain", "evm token","#));
        assert!(TYPES_BODY.ends_with(br#""solana token", "custom asset"], "message": ""}"#));
    }
}
