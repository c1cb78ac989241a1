//! `POST /api/1/assets/all`: rotki's asset list from global.db, filtered, ordered and paged
//! as rotki's `AssetsPostSchema` and `GlobalDBHandler.retrieve_assets` do. rotki skips the
//! user's ignored assets while it reads the rows (they live in the user's database), so the
//! page is counted in code, not by SQL: a limit of 0 still returns one row, as rotki's does.
//! What global.db gives for a set of filters (every row with its underlying tokens, the
//! asset count) is kept until global.db changes, so paging costs no query and no copy.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use rusqlite::types::Value;
use rusqlite::Connection;

use super::{order_rules, parse_address, respond, user_view, Cell, CellMap, Decimal, Ignored};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::assets::{AssetType, ChainId, TokenKind};
use crate::rotki::filter::FilterQuery;
use crate::rotki::json;
use crate::rotki::schema::{Fields, Refusal};

/// Every asset with its details, one row per asset (rotki's `parent_query`).
const PARENT: &str = "
        SELECT A.identifier AS identifier, A.type,
        COALESCE(B.address, S.address) AS address,
        COALESCE(B.decimals, S.decimals) AS decimals,
        A.name, C.symbol, C.started, C.forked, C.swapped_for, C.coingecko, C.cryptocompare,
        COALESCE(B.protocol, S.protocol) AS protocol,
        B.chain,
        COALESCE(B.token_kind, S.token_kind) AS token_kind,
        D.notes, D.type AS custom_asset_type
        FROM assets as A
        LEFT JOIN common_asset_details AS C ON C.identifier = A.identifier
        LEFT JOIN evm_tokens as B ON B.identifier = A.identifier
        LEFT JOIN custom_assets as D ON D.identifier = A.identifier
        LEFT JOIN solana_tokens as S ON S.identifier = A.identifier
        ";

struct Query {
    filter: FilterQuery,
    ignored: Ignored,
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let super::Admitted { req, open, global, query } = match super::admit(req, &ctx, parse) {
        Ok(admitted) => admitted,
        Err(outcome) => return Ok(*outcome),
    };
    let user = match query.ignored {
        Ignored::None => None,
        _ => match user_view(&open).await {
            Some(user) => Some(user),
            None => return Ok(Outcome::HandBack(req)),
        },
    };
    let (tail, params) = (query.filter.prepare(false), query.filter.params().to_vec());
    let key = format!("assets/all {tail} {params:?}");
    let weight = |s: &Scan| 2 * s.rows.len();
    let answer = move |scan: &Arc<Scan>| assemble(&query, scan, user.as_ref().map_or(&HashSet::new(), |u| &u.ignored));
    let found = global.with_cached(key, weight, move |conn| scan(conn, &tail, &params), answer).await;
    Ok(respond(req, found))
}

/// `AssetsPostSchema`: its fields in declaration order (the order-by and pagination
/// fields it inherits first), then its two schema validators, then the address check.
fn parse(json: Option<&serde_json::Value>) -> Result<Query, Refusal> {
    let mut f = Fields::resource_json(json)?;
    let order = f.string_list("order_by_attributes", false, false);
    let ascending = f.bool_list("ascending");
    let limit = f.integer("limit");
    let offset = f.integer("offset");
    let name = f.empty_as_none("name");
    let symbol = f.empty_as_none("symbol");
    let asset_type = f.enumeration("asset_type", "AssetType", true, AssetType::from_api);
    let address = f.empty_as_none("address");
    let chain = f.enumeration("evm_chain", "evm chain", true, ChainId::from_api);
    let ignored = f.enumeration("ignored_assets_handling", "IgnoredAssetsHandling", false, Ignored::from_api);
    let owned_only = f.boolean("show_user_owned_assets_only", false);
    let whitelisted_only = f.boolean("show_whitelisted_assets_only", false);
    let identifiers = f.string_list("identifiers", false, true);
    // Any field error (an unknown field too) skips the schema validators.
    f.finish()?;
    let mut errors = crate::rotki::args::FieldErrors::default();
    // Both validators run; the second looks at the list as given.
    let several = order.as_ref().is_some_and(|o| o.len() > 1);
    let rules = order_rules(order, ascending, &mut errors);
    if several {
        errors.add("order_by_attributes", "Multiple fields ordering is not allowed.");
    } else if chain.is_some() && asset_type.is_some_and(|t| t != AssetType::EVM_TOKEN) {
        errors.add("evm_chain", "Filtering by evm_chain is only supported for evm tokens");
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    let address = match address {
        Some(a) => Some(parse_address(&a).ok_or_else(|| {
            crate::rotki::args::FieldErrors::single(
                "address",
                &format!("Given value {a} is not a valid EVM or Solana address"),
            )
        })?),
        None => None,
    };
    let rules = rules.unwrap_or_else(|| vec![("name".to_string(), false)]);
    let mut filter = FilterQuery::new(limit, offset).order_by(rules, false);
    if let Some(name) = name {
        filter.substring("name", &name);
    }
    if let Some(symbol) = symbol {
        filter.substring("symbol", &symbol);
    }
    if let Some(t) = asset_type {
        filter.equals("type", Value::Text(t.db_char()));
    }
    if let Some(ids) = identifiers {
        let ids: Vec<String> = ids.into_iter().flatten().collect();
        filter.one_of("identifier", &ids);
    }
    if owned_only {
        filter.filter("identifier IN (SELECT asset_id FROM user_owned_assets)", []);
    }
    if let Some(chain) = chain {
        filter.equals("chain", Value::Integer(chain.0.into()));
    }
    if let Some(address) = address {
        filter.equals("address", Value::Text(address));
    }
    if whitelisted_only {
        filter.filter("identifier IN (SELECT value FROM general_cache WHERE key='SPAM_ASSET_FALSE_POSITIVE')", []);
    }
    Ok(Query { filter, ignored: ignored.unwrap_or(Ignored::None) })
}

/// A row of the asset query: its identifier, and its entry (`None` for a row only rotki's
/// own code can render: a type, chain or token kind it does not know, its 500).
struct Row {
    identifier: String,
    entry: Option<CellMap>,
}

/// What global.db says for a set of filters: the same for every page and every
/// ignored-assets handling of them, so kept until global.db changes.
struct Scan {
    /// Every row the filters select, in rotki's order.
    rows: Vec<Row>,
    /// Their identifiers, for counting the ignored ones among them.
    ids: HashSet<String>,
    /// Every asset in global.db.
    total: i64,
}

fn scan(conn: &Connection, tail: &str, params: &[Value]) -> Result<Scan, String> {
    let total = conn.query_row("SELECT COUNT(*) from assets;", [], |r| r.get(0)).map_err(super::sql_error)?;
    let mut rows = rows(conn, tail, params)?;
    // A token's underlying tokens are rotki's second query for the page; they are the same
    // on every page, so each entry carries its own (a list only rotki renders makes the
    // entry one only rotki renders).
    let underlying = underlying_tokens(conn)?;
    for row in &mut rows {
        if let (Some(entry), Some(tokens)) = (row.entry.as_mut(), underlying.get(&row.identifier)) {
            match tokens {
                Some(list) => {
                    entry.insert("underlying_tokens", Cell::List(list.clone()));
                }
                None => row.entry = None,
            }
        }
    }
    let ids = rows.iter().map(|r| r.identifier.clone()).collect();
    Ok(Scan { rows, ids, total })
}

fn rows(conn: &Connection, tail: &str, params: &[Value]) -> Result<Vec<Row>, String> {
    let sql_error = super::sql_error;
    let mut stmt = conn.prepare(&format!("SELECT * FROM ({PARENT}) {tail}")).map_err(sql_error)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let cells = (0..16).map(|i| Cell::of(row.get_ref(i).map_err(sql_error)?)).collect::<Result<Vec<_>, _>>()?;
        let Cell::Text(identifier) = &cells[0] else { return Err("an asset without an identifier".into()) };
        out.push(Row { identifier: identifier.clone(), entry: entry(cells) });
    }
    Ok(out)
}

/// rotki's entry for a row, keys in its order for the asset's type.
fn entry(mut cells: Vec<Cell>) -> Option<CellMap> {
    let mut take = |i: usize| std::mem::replace(&mut cells[i], Cell::Null);
    let identifier = take(0);
    let asset_type = take(1).text().and_then(|t| AssetType::from_db(&t))?;
    let mut data: CellMap = IndexMap::new();
    let collectible = match (&identifier, take(13).text().and_then(|k| TokenKind::from_db(&k))) {
        (Cell::Text(id), kind) => (collectible_id(id), kind),
        _ => return None,
    };
    data.insert("identifier", identifier);
    data.insert("asset_type", Cell::Text(asset_type.api_string()));
    data.insert("name", take(4));
    let (symbol, started, forked, swapped_for, coingecko, cryptocompare) =
        (take(5), take(6), take(7), take(8), take(9), take(10));
    let common = |data: &mut CellMap| {
        data.insert("symbol", symbol.clone());
        data.insert("started", started.clone());
        data.insert("swapped_for", swapped_for.clone());
        data.insert("forked", forked.clone());
        data.insert("cryptocompare", cryptocompare.clone());
        data.insert("coingecko", coingecko.clone());
    };
    if asset_type == AssetType::FIAT {
        data.insert("symbol", symbol.clone());
        data.insert("started", started.clone());
    } else if asset_type == AssetType::EVM_TOKEN {
        let chain = match take(12) {
            Cell::Int(id) => ChainId::from_db(id)?,
            _ => return None,
        };
        let kind = collectible.1.filter(|k| k.is_evm())?;
        data.insert("address", take(2));
        data.insert("evm_chain", Cell::Text(chain.name()));
        data.insert("token_kind", Cell::Text(kind.api_string().to_string()));
        data.insert("decimals", take(3));
        data.insert("underlying_tokens", Cell::Null);
        data.insert("protocol", take(11));
        common(&mut data);
        if kind == TokenKind::ERC721 {
            data.insert("collectible_id", collectible.0);
        }
    } else if asset_type == AssetType::SOLANA_TOKEN {
        let kind = collectible.1.filter(|k| k.is_solana())?;
        data.insert("protocol", take(11));
        data.insert("token_kind", Cell::Text(kind.api_string().to_string()));
        data.insert("address", take(2));
        data.insert("decimals", take(3));
        common(&mut data);
    } else if asset_type.is_crypto() {
        common(&mut data);
    } else if asset_type == AssetType::CUSTOM_ASSET {
        data.insert("notes", take(14));
        data.insert("custom_asset_type", take(15));
    }
    (!data.values().any(|c| matches!(c, Cell::Unsupported))).then_some(data)
}

/// The page rotki's loop keeps (skipping ignored assets, then the offset, then stopping at
/// the limit), with their underlying tokens and the counts. `None` when a row of the page
/// is one only rotki renders.
fn assemble(q: &Query, scan: &Scan, ignored: &HashSet<String>) -> Option<Vec<u8>> {
    let (mut offset, limit) = match q.filter.page() {
        Some(page) => (super::small(&page.offset), Some(super::small(&page.limit))),
        None => (0, None),
    };
    let mut entries: Vec<&CellMap> = Vec::new();
    for row in &scan.rows {
        if q.ignored.skips(&row.identifier, ignored) {
            continue;
        }
        if offset > 0 {
            offset -= 1;
            continue;
        }
        entries.push(row.entry.as_ref()?);
        if limit.is_some_and(|l| entries.len() as i128 >= l) {
            break;
        }
    }
    // rotki counts the same query's rows (`COUNT(*)`), or their identifiers as a set less
    // or among the ignored ones.
    let ignored_found = || ignored.iter().filter(|id| scan.ids.contains(*id)).count();
    let found = match q.ignored {
        Ignored::None => scan.ids.len(),
        Ignored::Exclude => scan.ids.len() - ignored_found(),
        Ignored::ShowOnly => ignored_found(),
    };
    #[derive(serde::Serialize)]
    struct Page<'a> {
        entries: Vec<&'a CellMap>,
        entries_found: usize,
        entries_total: i64,
        entries_limit: i64,
    }
    Some(json::dumps(&Page { entries, entries_found: found, entries_total: scan.total, entries_limit: -1 }))
}

/// An underlying token as the table gives it: address, kind, weight.
type Underlying = (Cell, TokenKind, String);

/// Every token's underlying tokens as rotki lists them (its query without the page's
/// `IN`, which only narrows it: within a token they keep the table's order), each one's weight
/// a percentage, the last one what makes them add up to 100. `None` for a token whose list
/// only rotki renders (a token kind or weight it does not read: its 500 when on the page).
fn underlying_tokens(conn: &Connection) -> Result<HashMap<String, Option<Vec<CellMap>>>, String> {
    let sql =
        "SELECT parent_token_entry, address, token_kind, weight FROM underlying_tokens_list LEFT JOIN evm_tokens \
               ON underlying_tokens_list.identifier=evm_tokens.identifier";
    let mut stmt = conn.prepare(sql).map_err(super::sql_error)?;
    let mut rows = stmt.query([]).map_err(super::sql_error)?;
    let mut found: IndexMap<String, Option<Vec<Underlying>>> = IndexMap::new();
    while let Some(row) = rows.next().map_err(super::sql_error)? {
        let cell = |i: usize| row.get_ref(i).map_err(super::sql_error).and_then(Cell::of);
        let Some(parent) = cell(0)?.text() else { continue };
        let (address, kind, weight) = (cell(1)?, cell(2)?.text(), cell(3)?.text());
        let token = kind.and_then(|k| TokenKind::from_db(&k)).filter(|k| k.is_evm()).zip(weight);
        let list = found.entry(parent).or_insert_with(|| Some(Vec::new()));
        match (list.as_mut(), token) {
            (Some(list), Some((kind, weight))) => list.push((address, kind, weight)),
            _ => *list = None,
        }
    }
    let render = |tokens: Vec<Underlying>| -> Option<Vec<CellMap>> {
        let percentages = weights(tokens.iter().map(|t| t.2.as_str()))?;
        let list = tokens.into_iter().zip(percentages).map(|((address, kind, _), weight)| {
            IndexMap::from([
                ("address", address),
                ("token_kind", Cell::Text(kind.api_string().to_string())),
                ("weight", Cell::Text(weight)),
            ])
        });
        Some(list.collect())
    };
    Ok(found.into_iter().map(|(parent, tokens)| (parent, tokens.and_then(render))).collect())
}

/// `tokenid_to_collectible_id`: the last part of an erc721 identifier with three parts.
fn collectible_id(identifier: &str) -> Cell {
    let parts: Vec<&str> = identifier.split('/').collect();
    match identifier.contains("erc721") && parts.len() == 3 {
        true => Cell::Text(parts[2].to_string()),
        false => Cell::Null,
    }
}

/// rotki's normalized weights as `str(FVal(w) * 100)`: every weight but the last as given,
/// the last `1 - sum(the others)`, printed without trailing zeros. Exact decimal arithmetic
/// on plain decimals (`12.5`); anything else (exponents, signs, NaN) is left to rotki.
fn weights<'a>(texts: impl Iterator<Item = &'a str>) -> Option<Vec<String>> {
    let values: Vec<Decimal> = texts.map(Decimal::parse).collect::<Option<_>>()?;
    let mut sum = Decimal::ZERO;
    let mut out = Vec::with_capacity(values.len());
    for (i, w) in values.iter().enumerate() {
        let weight = if i + 1 == values.len() { Decimal::ONE.sub(sum)? } else { *w };
        out.push(weight.times_100()?.to_string());
        sum = sum.add(*w)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_as_rotki_prints_them() {
        assert_eq!(weights(["1", "1"].into_iter()), Some(vec!["100".into(), "0".into()]));
        assert_eq!(weights(["0.5", "0.5"].into_iter()), Some(vec!["50".into(), "50".into()]));
        assert_eq!(weights(["1.0"].into_iter()), Some(vec!["100".into()]));
        assert_eq!(
            weights(["0.333", "0.333", "0.333"].into_iter()),
            Some(vec!["33.3".into(), "33.3".into(), "33.4".into()])
        );
        assert_eq!(weights(["0.6", "0.6"].into_iter()), Some(vec!["60".into(), "40".into()]));
        assert_eq!(weights(["1e-2"].into_iter()), None);
    }

    #[test]
    fn collectible_ids() {
        assert!(matches!(collectible_id("eip155:1/erc721:0xabc/42"), Cell::Text(s) if s == "42"));
        assert!(matches!(collectible_id("eip155:1/erc20:0xabc"), Cell::Null));
    }
}
