//! `GET /api/1/assets/types` (endpoints.md §c).

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::StatusCode;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::{json, response};

/// rotki's `AssetType` enum in declaration order, without `nft`, as the API names them.
pub const ASSET_TYPES: [&str; 24] = [
    "fiat",
    "own chain",
    "evm token",
    "omni token",
    "neo token",
    "counterparty token",
    "bitshares token",
    "ardor token",
    "nxt token",
    "ubiq token",
    "nubits token",
    "burst token",
    "waves token",
    "qtum token",
    "stellar token",
    "tron token",
    "ontology token",
    "vechain token",
    "eos token",
    "fusion token",
    "luniverse token",
    "other",
    "solana token",
    "custom asset",
];

static TYPES_BODY: LazyLock<Bytes> = LazyLock::new(|| {
    #[derive(serde::Serialize)]
    struct Envelope {
        result: [&'static str; 24],
        message: &'static str,
    }
    Bytes::from(json::dumps(&Envelope { result: ASSET_TYPES, message: "" }))
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
