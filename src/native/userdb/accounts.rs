//! `GET /api/1/blockchains/<blockchain>/accounts`: the chain's accounts ascending (the
//! table's primary key), each with its private address-book name for the chain (else the
//! one for the chain's address group) and its tags. Bitcoin chains answer
//! `{"standalone": [...], "xpubs": []}`; one with xpubs is legacy's. A chain name rotki
//! refuses gets its webargs 400 (once a user is logged in: rotki checks the login first).

use std::sync::Arc;

use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::{gated, sql, Read};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::args::FieldErrors;
use crate::rotki::{json, response};

/// rotki's `SupportedBlockchain` values this endpoint takes (all but `ETH2`).
const CHAINS: [&str; 17] = [
    "ETH",
    "BTC",
    "BCH",
    "KSM",
    "AVAX",
    "DOT",
    "OPTIMISM",
    "POLYGON_POS",
    "ARBITRUM_ONE",
    "BASE",
    "HYPERLIQUID",
    "GNOSIS",
    "SCROLL",
    "BINANCE_SC",
    "MONAD",
    "ZKSYNC_LITE",
    "SOLANA",
];

const SQL: &str = "SELECT A.account, COALESCE(C1.name, C2.name), (SELECT group_concat(tag_name, ',') FROM tag_mappings WHERE object_reference = A.account) FROM blockchain_accounts AS A LEFT OUTER JOIN address_book AS C1 ON C1.address = A.account AND C1.blockchain = A.blockchain LEFT OUTER JOIN address_book AS C2 ON C2.address = A.account AND C2.blockchain = ? WHERE A.blockchain=?;";

#[derive(Serialize)]
struct Account {
    address: String,
    label: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Bitcoin {
    standalone: Vec<Account>,
    xpubs: [(); 0],
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    // `/api/1/blockchains/<blockchain>/accounts`: rotki reads the name with spaces as
    // underscores, upper-cased.
    let segment = req.parts.uri.path().split('/').nth(4).unwrap_or("");
    let name = percent_decode_str(segment).decode_utf8_lossy().replace(' ', "_").to_uppercase();
    let Some(chain) = CHAINS.iter().copied().find(|c| *c == name) else {
        if ctx.sessions.open().is_none() {
            return Ok(Outcome::HandBack(req));
        }
        // rotki's `BlockchainField`, on the path segment as Flask decoded it.
        let given = percent_decode_str(segment).decode_utf8_lossy();
        let message = match name.as_str() {
            "ETH2" => format!("Blockchain name {given} is not allowed in this endpoint"),
            _ => format!("Failed to deserialize SupportedBlockchain value {given}"),
        };
        let errors = FieldErrors::single("blockchain", &message);
        return Ok(Outcome::Respond(response::validation_error(&errors)));
    };
    gated(req, &ctx, move |conn, _| read(conn, chain)).await
}

fn read(conn: &rusqlite::Connection, chain: &'static str) -> Read {
    let bitcoin = matches!(chain, "BTC" | "BCH");
    // The address-book entries valid for every chain of the account's address group.
    let group = match chain {
        "BTC" | "BCH" => "TYPE_BITCOIN",
        "KSM" | "DOT" => "TYPE_SUBSTRATE",
        "SOLANA" => "TYPE_SOLANA",
        _ => "TYPE_EVMLIKE",
    };
    if bitcoin {
        let mut xpubs = conn.prepare_cached("SELECT 1 FROM xpubs WHERE blockchain=?").map_err(sql)?;
        if xpubs.exists([chain]).map_err(sql)? {
            return Ok(None);
        }
    }
    let mut stmt = conn.prepare_cached(SQL).map_err(sql)?;
    let accounts = stmt
        .query_map([group, chain], |r| {
            let tags: Option<String> = r.get(2)?;
            Ok(Account {
                address: r.get(0)?,
                label: r.get(1)?,
                tags: tags.filter(|t| !t.is_empty()).map(|t| t.split(',').map(str::to_string).collect()),
            })
        })
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    Ok(Some(match bitcoin {
        true => json::dumps(&Bitcoin { standalone: accounts, xpubs: [] }),
        false => json::dumps(&accounts),
    }))
}
