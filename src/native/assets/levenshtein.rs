//! `POST /api/1/assets/search/levenshtein`: rotki's fuzzy asset search. Rows matching the
//! text (by name or symbol, SQL `LIKE`), the chain, type and address filters come in SQL
//! order; each gets the smallest Levenshtein distance (polyleven's: code points, cost 1 each)
//! from the case-folded text to its case-folded name or symbol; the user's NFTs follow when
//! asked for. A stable sort then puts fiat first, then native tokens, then the nearest, and
//! the limit is a Python slice (0 is nothing, -1 all but the last). The ranked rows of a
//! query are kept until global.db changes.

use std::sync::Arc;

use indexmap::IndexMap;
use rusqlite::types::Value;

use super::{asset_rows, parse_address, python_strip, respond, user_view, AssetRow, Cell, CellMap, UserView};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::args::FieldErrors;
use crate::rotki::assets::{native_token_ids, native_token_of, AssetType, ChainId};
use crate::rotki::json;
use crate::rotki::schema::{Fields, Refusal};

struct Query {
    /// `value.strip().casefold()`.
    text: Option<String>,
    /// `WHERE ...` for global.db, with its values.
    filter: String,
    params: Vec<Value>,
    limit: i128,
    search_nfts: bool,
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let super::Admitted { req, open, global, query } = match super::admit(req, &ctx, parse) {
        Ok(admitted) => admitted,
        Err(outcome) => return Ok(*outcome),
    };
    let Some(user) = user_view(&open).await else { return Ok(Outcome::HandBack(req)) };
    let nfts = match query.search_nfts {
        false => Vec::new(),
        true => match nfts(&open, query.text.clone()).await {
            Some(rows) => rows,
            None => return Ok(Outcome::HandBack(req)),
        },
    };
    let (filter, params, text) = (query.filter.clone(), query.params.clone(), query.text.clone());
    let key = format!("levenshtein {filter} {params:?}");
    let scan =
        move |conn: &rusqlite::Connection| asset_rows(conn, &filter, &params).map(|rows| rank(rows, text.as_deref()));
    let answer = move |ranked: &Arc<Ranked>| assemble(ranked, &query, &user, nfts);
    Ok(respond(req, global.with_cached(key, |r: &Ranked| r.rows.len(), scan, answer).await))
}

/// The schema's fields, its one validator, then its post-load steps in rotki's order (the
/// address, the chain's native token, the text).
fn parse(json: Option<&serde_json::Value>) -> Result<Query, Refusal> {
    let mut f = Fields::resource_json(json)?;
    let value = f.empty_as_none("value");
    let chain = f.enumeration("evm_chain", "evm chain", true, ChainId::from_api);
    let address = f.empty_as_none("address");
    let limit = f.required_integer("limit");
    let search_nfts = f.boolean("search_nfts", false);
    let asset_type = f.enumeration("asset_type", "AssetType", true, AssetType::from_api);
    f.finish()?;
    if value.is_none() && address.is_none() {
        return Err(FieldErrors::single("_schema", "Either value or address need to be provided").into());
    }
    let address = match address {
        Some(a) => Some(parse_address(&a).ok_or_else(|| {
            FieldErrors::single("address", &format!("Given value {a} is not a valid EVM or Solana address"))
        })?),
        None => None,
    };
    // A chain without a blockchain of rotki's is its KeyError, a 500: legacy's to word.
    let mut native = match chain {
        Some(c) => Some(native_token_of(c).ok_or(Refusal::Legacy)?),
        None => None,
    };
    if asset_type == Some(AssetType::SOLANA_TOKEN) {
        native = Some("SOL".to_string());
    }
    let text = value.map(|v| caseless::default_case_fold_str(python_strip(&v)));

    let (mut parts, mut params) = (Vec::new(), Vec::new());
    if let Some(t) = &text {
        parts.push("((name LIKE ? OR symbol LIKE ?))".to_string());
        params.extend([Value::Text(format!("%{t}%")), Value::Text(format!("%{t}%"))]);
    }
    let mut terms = Vec::new();
    if let Some(c) = chain {
        terms.push("chain=?");
        params.push(Value::Integer(c.0.into()));
    }
    if let Some(t) = asset_type {
        terms.push("assets.type=?");
        params.push(Value::Text(t.db_char()));
    }
    if !terms.is_empty() {
        let inner = format!("({})", terms.join(" AND "));
        match native {
            Some(id) => {
                parts.push(format!("(({inner} OR assets.identifier=?))"));
                params.push(Value::Text(id));
            }
            None => parts.push(format!("({inner})")),
        }
    }
    if let Some(a) = address {
        let column = if a.starts_with("0x") { "evm_tokens.address" } else { "solana_tokens.address" };
        parts.push(format!("({column}=?)"));
        params.push(Value::Text(a));
    }
    let filter = if parts.is_empty() { String::new() } else { format!("WHERE {}", parts.join(" AND ")) };
    let limit = limit.as_deref().map_or(i128::MAX, super::small);
    Ok(Query { text, filter, params, limit, search_nfts })
}

/// An entry with its distance.
type Scored = (usize, CellMap);

/// The user's NFTs matching the text: `None` when the read fails, or when rotki itself
/// would fail (an address-only search meeting a named NFT: its TypeError).
async fn nfts(open: &Arc<crate::session::Open>, text: Option<String>) -> Option<Vec<Scored>> {
    let read = open.db.read(move |conn| {
        let (sql, params) = match &text {
            Some(t) => (
                "SELECT identifier, name, collection_name FROM nfts WHERE ((name LIKE ? OR collection_name LIKE ?))",
                vec![format!("%{t}%"), format!("%{t}%")],
            ),
            None => ("SELECT identifier, name, collection_name FROM nfts ", vec![]),
        };
        let mut stmt = conn.prepare(sql).map_err(super::sql_error)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(super::sql_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(super::sql_error)? {
            let cell = |i: usize| row.get_ref(i).map_err(super::sql_error).and_then(Cell::of);
            let (identifier, name, collection) = (cell(0)?, cell(1)?, cell(2)?);
            let mut distance = 100;
            for candidate in [&name, &collection] {
                match (candidate, &text) {
                    (Cell::Null, _) => {}
                    (Cell::Text(c), Some(t)) => distance = distance.min(lev(t, c)),
                    _ => return Ok(None),
                }
            }
            let entry = IndexMap::from([
                ("identifier", identifier),
                ("name", name),
                ("collection_name", collection),
                ("asset_type", Cell::Text("nft".into())),
            ]);
            out.push((distance, entry));
        }
        Ok(Some(out))
    });
    read.await.ok().flatten()
}

/// The ranking key rotki sorts by: fiat first, then native tokens, then the nearest.
type Rank = (bool, bool, usize);

/// An asset row, scored and rendered.
struct RankedRow {
    rank: Rank,
    /// Its place in SQL order (for the ETH/ETH2 merge, which keeps the first).
    position: usize,
    identifier: String,
    /// ETH or ETH2, which `treat_eth2_as_eth` shows as one ETH when there is a text.
    is_eth: bool,
    /// `None`: a row only rotki renders (an asset type or chain it does not know).
    entry: Option<CellMap>,
}

/// The rows of one query in rotki's final order, which neither the user's ignored assets
/// nor the ETH merge change (the merged ETH takes the rank of the row it replaces): kept
/// until global.db changes, so a search is a walk to its limit.
struct Ranked {
    rows: Vec<RankedRow>,
    /// Where the ETH and ETH2 rows are, and the rows only rotki renders (usually none):
    /// what an answer must look at beyond its limit.
    eth: Vec<usize>,
    unrenderable: Vec<usize>,
}

fn rank(rows: Vec<AssetRow>, text: Option<&str>) -> Ranked {
    let natives = native_token_ids();
    let mut ranked: Vec<RankedRow> = rows
        .into_iter()
        .enumerate()
        .map(|(position, row)| {
            let mut distance = 100;
            let mut unreadable = false;
            if let Some(t) = text {
                for candidate in [&row.name, &row.symbol] {
                    match candidate {
                        Cell::Null => {}
                        Cell::Text(c) => distance = distance.min(lev(t, c)),
                        _ => unreadable = true,
                    }
                }
            }
            let entry = row.asset_type.filter(|_| !unreadable).and_then(|asset_type| {
                let mut entry = IndexMap::from([
                    ("identifier", Cell::Text(row.identifier.clone())),
                    ("name", row.name.clone()),
                    ("symbol", row.symbol.clone()),
                    ("asset_type", Cell::Text(asset_type.api_string())),
                ]);
                let readable = super::chain_and_custom_type(&mut entry, row.chain.clone(), row.custom_type.clone());
                (readable && !entry.values().any(|c| matches!(c, Cell::Unsupported))).then_some(entry)
            });
            let fiat = row.asset_type == Some(AssetType::FIAT);
            RankedRow {
                rank: (!fiat, !natives.contains(row.identifier.as_str()), distance),
                position,
                is_eth: row.identifier == "ETH" || row.identifier == "ETH2",
                identifier: row.identifier,
                entry,
            }
        })
        .collect();
    // `sorted` is stable: ties keep the SQL order.
    ranked.sort_by_key(|r| r.rank);
    let at = |f: fn(&RankedRow) -> bool| ranked.iter().enumerate().filter(|(_, r)| f(r)).map(|(i, _)| i).collect();
    let (eth, unrenderable) = (at(|r| r.is_eth), at(|r| r.entry.is_none()));
    Ranked { rows: ranked, eth, unrenderable }
}

/// rotki's answer from the ranked rows: ignored assets left out, ETH and ETH2 as one (the
/// first in SQL order) when there is a text, the NFTs after the assets of the same rank,
/// then the limit. `None` when a row rotki would render is one only rotki renders.
fn assemble(ranked: &Ranked, q: &Query, user: &UserView, nfts: Vec<Scored>) -> Option<Vec<u8>> {
    let merge_eth = q.text.is_some() && user.eth2_as_eth;
    let visible = |r: &&RankedRow| !user.ignored.contains(&r.identifier);
    let row = |i: &usize| &ranked.rows[*i];
    let first_eth = ranked.eth.iter().map(row).filter(visible).filter(|_| merge_eth).map(|r| r.position).min();
    // rotki renders every row before it slices: one it cannot render fails the whole answer.
    if ranked.unrenderable.iter().map(row).filter(visible).any(|r| !(merge_eth && r.is_eth)) {
        return None;
    }
    let eth = || {
        IndexMap::from([
            ("identifier", Cell::Text("ETH".into())),
            ("name", Cell::Text("Ethereum".into())),
            ("symbol", Cell::Text("ETH".into())),
            ("asset_type", Cell::Text("own chain".into())),
        ])
    };
    let mut assets = ranked.rows.iter().filter(visible).filter_map(|r| match (merge_eth && r.is_eth, &r.entry) {
        (true, _) if Some(r.position) == first_eth => Some((r.rank, eth())),
        (true, _) => None,
        (false, entry) => Some((r.rank, entry.clone()?)),
    });
    // NFTs rank as neither fiat nor native; among equals they come after the assets.
    let mut nfts: Vec<(Rank, CellMap)> = nfts.into_iter().map(|(d, e)| ((true, true, d), e)).collect();
    nfts.sort_by_key(|(rank, _)| *rank);
    let mut nfts = nfts.into_iter().peekable();
    let mut next_asset = assets.next();
    let wanted = if q.limit < 0 { usize::MAX } else { q.limit.min(usize::MAX as i128) as usize };
    let mut found: Vec<CellMap> = Vec::new();
    while found.len() < wanted {
        let take_nft = match (&next_asset, nfts.peek()) {
            (Some((asset, _)), Some((nft, _))) => nft < asset,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        match take_nft {
            true => found.push(nfts.next().expect("peeked").1),
            false => match next_asset.take() {
                Some((_, entry)) => {
                    found.push(entry);
                    next_asset = assets.next();
                }
                None => break,
            },
        }
    }
    Some(json::dumps(&python_slice(&found, q.limit)))
}

/// polyleven's `levenshtein(text, other.casefold())`.
fn lev(text: &str, other: &str) -> usize {
    strsim::levenshtein(text, &caseless::default_case_fold_str(other))
}

/// `items[:limit]`.
fn python_slice<T>(items: &[T], limit: i128) -> &[T] {
    let len = items.len() as i128;
    let end = if limit < 0 { (len + limit).max(0) } else { limit.min(len) };
    &items[..end as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_like_python() {
        let v = [1, 2, 3];
        assert_eq!(python_slice(&v, 0), &[] as &[i32]);
        assert_eq!(python_slice(&v, 2), &[1, 2]);
        assert_eq!(python_slice(&v, 10), &[1, 2, 3]);
        assert_eq!(python_slice(&v, -1), &[1, 2]);
        assert_eq!(python_slice(&v, -5), &[] as &[i32]);
    }

    #[test]
    fn distances_over_folded_code_points() {
        assert_eq!(lev("swiss", "Swiß"), 0);
        assert_eq!(lev("dai", "XDAI"), 1);
        assert_eq!(lev("\u{3bc}azuki", "\u{39c}AZUKI"), 0);
    }
}
