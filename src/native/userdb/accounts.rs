//! `GET /api/1/blockchains/<blockchain>/accounts`: the chain's accounts ascending (the
//! table's primary key), each with its private address-book name for the chain (else the
//! one for the chain's address group) and its tags. Bitcoin chains answer
//! `{"standalone": [...], "xpubs": [...]}`: each xpub (in the order of `xpub ||
//! derivation_path`) with its label, tags and derived addresses, the rest standalone. A
//! chain name rotki refuses gets its webargs 400 (once a user is logged in: rotki checks
//! the login first).

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

/// rotki's statements for a bitcoin chain's xpubs (grouped, hence ordered, by
/// `xpub || derivation_path`) and for the xpub an address was derived from.
const XPUBS_SQL: &str = "SELECT A.xpub, A.blockchain, A.derivation_path, A.label, group_concat(B.tag_name,',') FROM xpubs as A LEFT OUTER JOIN tag_mappings AS B ON B.object_reference = A.xpub || A.derivation_path WHERE A.blockchain=? GROUP BY A.xpub || A.derivation_path";
const DERIVED_SQL: &str = "SELECT B.address, A.xpub, A.derivation_path FROM xpubs as A LEFT OUTER JOIN xpub_mappings as B ON B.xpub = A.xpub AND B.derivation_path IS A.derivation_path AND B.blockchain = A.blockchain WHERE B.address=? AND B.blockchain=?;";

#[derive(Serialize)]
struct Bitcoin {
    standalone: Vec<Account>,
    xpubs: Vec<Xpub>,
}

#[derive(Serialize)]
struct Xpub {
    xpub: String,
    blockchain: &'static str,
    /// Stored as `''` when there is none.
    derivation_path: Option<String>,
    label: Option<String>,
    tags: Option<Vec<String>>,
    addresses: Option<Vec<Account>>,
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
    let mut stmt = conn.prepare_cached(SQL).map_err(sql)?;
    let accounts = stmt
        .query_map([group, chain], |r| {
            let tags: Option<String> = r.get(2)?;
            Ok(Account { address: r.get(0)?, label: r.get(1)?, tags: tags_of(tags) })
        })
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    if !bitcoin {
        return Ok(Some(json::dumps(&accounts)));
    }
    Ok(bitcoin_accounts(conn, chain, accounts)?.map(|b| json::dumps(&b)))
}

/// rotki's `deserialize_tags_from_db`.
fn tags_of(concatenated: Option<String>) -> Option<Vec<String>> {
    concatenated.filter(|t| !t.is_empty()).map(|t| t.split(',').map(str::to_string).collect())
}

/// A bitcoin chain's accounts split as rotki splits them: each derived address under its
/// xpub (in the accounts' order), the others standalone. `None` (legacy answers) for an
/// xpub stored in another form than `xpub…`, which rotki's key parser may rewrite.
fn bitcoin_accounts(
    conn: &rusqlite::Connection,
    chain: &'static str,
    accounts: Vec<Account>,
) -> Result<Option<Bitcoin>, String> {
    let key = |xpub: &str, path: &str| format!("{xpub}{path}");
    let mut xpubs = Vec::new();
    let mut stmt = conn.prepare_cached(XPUBS_SQL).map_err(sql)?;
    let mut rows = stmt.query([chain]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let (xpub, path): (String, String) = (r.get(0).map_err(sql)?, r.get(2).map_err(sql)?);
        if !xpub.starts_with("xpub") {
            return Ok(None);
        }
        let entry = Xpub {
            blockchain: if chain == "BTC" { "btc" } else { "bch" },
            derivation_path: Some(path.clone()).filter(|p| !p.is_empty()),
            label: r.get(3).map_err(sql)?,
            tags: tags_of(r.get(4).map_err(sql)?),
            addresses: None,
            xpub: xpub.clone(),
        };
        xpubs.push((key(&xpub, &path), entry));
    }
    let mut derived = conn.prepare_cached(DERIVED_SQL).map_err(sql)?;
    let mut standalone = Vec::new();
    for account in accounts {
        let from: Option<(String, String)> = derived
            .query_row([&account.address, chain], |r| Ok((r.get(1)?, r.get(2)?)))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sql)?;
        let xpub = from.and_then(|(x, p)| xpubs.iter_mut().find(|(k, _)| *k == key(&x, &p)));
        match xpub {
            Some((_, x)) => x.addresses.get_or_insert_with(Vec::new).push(account),
            None => standalone.push(account),
        }
    }
    Ok(Some(Bitcoin { standalone, xpubs: xpubs.into_iter().map(|(_, x)| x).collect() }))
}
