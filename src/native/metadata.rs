//! Answers rotki computes from its own code, not from a database: its price oracles, the
//! event type mappings, the counterparties its decoders know, the chains it supports, its
//! EVM chains and its modules. The bytes are rotki v1.43.2's own, captured once and kept in
//! `src/rotki/data/` (the one reviewed place for them); `tests/metadata.rs` compares them
//! with the legacy test app, which builds the same answers from its own tables, so either
//! going stale fails a test. A new rotki release needs new captures.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::response;

/// (route, rotki's answer, whether rotki needs a logged-in user for it).
pub const ANSWERS: [(&str, &[u8], bool); 6] = [
    ("/api/1/oracles", include_bytes!("../rotki/data/oracles.json"), false),
    ("/api/1/history/events/type_mappings", include_bytes!("../rotki/data/type_mappings.json"), false),
    // From the decoders of the chains a login loads: before one rotki answers 500.
    ("/api/1/history/events/counterparties", include_bytes!("../rotki/data/counterparties.json"), true),
    ("/api/1/blockchains/supported", include_bytes!("../rotki/data/supported_chains.json"), false),
    ("/api/1/blockchains/evm/all", include_bytes!("../rotki/data/evm_chains.json"), false),
    ("/api/1/blockchains/eth/modules", include_bytes!("../rotki/data/eth_modules.json"), false),
];

/// The answer of the route at `index` in [`ANSWERS`]; the query string and any body are
/// ignored, as rotki ignores them.
pub async fn serve(index: usize, req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let (_, body, gated) = ANSWERS[index];
    if gated && ctx.sessions.open().is_none() {
        return Ok(Outcome::HandBack(req));
    }
    Ok(Outcome::Respond(response::api_response(StatusCode::OK, Bytes::from_static(body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_an_envelope_in_pythons_spacing() {
        for (path, body, _) in ANSWERS {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(v["message"], "", "{path}");
            assert!(body.starts_with(br#"{"result": "#) && body.ends_with(br#", "message": ""}"#), "{path}");
            assert_eq!(crate::rotki::json::dumps(&v).len(), body.len(), "{path}: json.dumps spacing, ASCII only");
        }
    }
}
