//! rotki's asset module, native: reads of global.db (and of the user's ignored assets, in
//! the user's database) answered as rotki v1.43.2 answers them. rotki builds these routes'
//! schemas from the logged-in user's database, so before a login it answers 500 for every
//! request; without an open session banyan hands the request to legacy for those bytes.
//! Each query runs on global.db's blocking pool and is read fresh (no cache), so a write
//! legacy made shows on the next read.

mod address;
mod all;
mod decimal;
mod levenshtein;
mod location_mappings;
mod mappings;
mod search;
mod symbol_mappings;
mod types;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use indexmap::IndexMap;
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use serde::ser::{Serialize, Serializer};

use super::{HandlerResult, NativeRequest, Outcome};
use crate::db::{DbError, ReadDb};
use crate::rotki::args::FieldErrors;
use crate::rotki::assets::AssetType;
use crate::rotki::filter::is_column_name;
use crate::rotki::response;
use crate::rotki::schema::Refusal;
use crate::session::Open;

use address::parse_address;
use decimal::Decimal;

pub use all::handle as all;
pub use levenshtein::handle as levenshtein;
pub use location_mappings::handle as location_mappings;
pub use mappings::handle as mappings;
pub use search::handle as search;
pub use symbol_mappings::counterparties as counterparty_mappings;
pub use types::types;

/// rotki's `ALL_ASSETS_TABLES_QUERY`: identifier, name, symbol, chain, type, custom type and
/// the two address columns, over every asset table (the search routes' base).
const ASSETS_SELECT: &str = "
SELECT assets.identifier, name, symbol, chain, assets.type, custom_assets.type, evm_tokens.address, solana_tokens.address 
FROM assets LEFT JOIN common_asset_details on assets.identifier=common_asset_details.identifier
LEFT JOIN evm_tokens ON evm_tokens.identifier=assets.identifier
LEFT JOIN custom_assets ON custom_assets.identifier=assets.identifier
LEFT JOIN solana_tokens ON solana_tokens.identifier=assets.identifier
";

/// An entry of a JSON object, keys in rotki's order.
type CellMap = IndexMap<&'static str, Cell>;

/// What the search routes read from the user's database.
struct UserView {
    ignored: HashSet<String>,
    /// The `treat_eth2_as_eth` setting: ETH and ETH2 show as one ETH.
    eth2_as_eth: bool,
}

/// The user's ignored assets and `treat_eth2_as_eth` (absent: true; otherwise only the
/// text `True` is true, as rotki reads its booleans), kept until the user's database
/// changes; `None` if the read failed.
async fn user_view(open: &Arc<Open>) -> Option<Arc<UserView>> {
    let read = open.db.read_cached(
        "assets: user view".into(),
        |v: &UserView| v.ignored.len() + 1,
        |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT value FROM multisettings WHERE name='ignored_asset' ")
                .map_err(sql_error)?;
            let ids = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sql_error)?;
            let ignored = ids.collect::<Result<HashSet<_>, _>>().map_err(sql_error)?;
            let mut stmt =
                conn.prepare_cached("SELECT value FROM settings WHERE name='treat_eth2_as_eth'").map_err(sql_error)?;
            let setting: Option<Option<String>> = stmt.query_row([], |r| r.get(0)).map(Some).or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(sql_error(e)),
            })?;
            let eth2_as_eth = setting.map_or(true, |v| v.as_deref() == Some("True"));
            Ok(UserView { ignored, eth2_as_eth })
        },
    );
    read.await.ok()
}

/// Adds `evm_chain` (a chain id, by its name) and `custom_asset_type` when the row has them.
/// False for a chain id rotki does not know (its 500).
fn chain_and_custom_type(entry: &mut CellMap, chain: Cell, custom_type: Cell) -> bool {
    match chain {
        Cell::Null => {}
        Cell::Int(id) => match crate::rotki::assets::ChainId::from_db(id) {
            Some(c) => {
                entry.insert("evm_chain", Cell::Text(c.name()));
            }
            None => return false,
        },
        _ => return false,
    }
    if !matches!(custom_type, Cell::Null) {
        entry.insert("custom_asset_type", custom_type);
    }
    true
}

/// Python's `str.strip()`.
fn python_strip(s: &str) -> &str {
    s.trim_matches(python_space)
}

/// Python's `str.isspace()`: Unicode whitespace, and the four separators Python counts too.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `GET /api/1/assets/ignored/whitelist`: the tokens the user said are not spam, from
/// global.db's general cache, in its key index's order. No login needed; the query string
/// and any body are ignored.
pub async fn whitelist(req: NativeRequest, ctx: Arc<crate::native::Context>) -> HandlerResult {
    let Some(db) = ctx.global_db.clone() else { return Ok(Outcome::HandBack(req)) };
    answer(req, &db, |conn| {
        let mut stmt = conn.prepare_cached("SELECT value FROM general_cache WHERE key=?").map_err(sql_error)?;
        let ids = stmt.query_map(["SPAM_ASSET_FALSE_POSITIVE"], |r| r.get::<_, String>(0)).map_err(sql_error)?;
        let ids = ids.collect::<Result<Vec<_>, _>>().map_err(sql_error)?;
        Ok(Some(crate::rotki::json::dumps(&ids)))
    })
    .await
}

/// Runs a read of global.db and answers with what it found ([`respond`]).
async fn answer<F>(req: NativeRequest, db: &Arc<ReadDb>, query: F) -> HandlerResult
where
    F: FnOnce(&Connection) -> Result<Option<Vec<u8>>, String> + Send + 'static,
{
    Ok(respond(req, db.read(query).await))
}

/// A read's JSON `result` in rotki's envelope; `None` (a row only rotki renders) or no
/// global.db goes to legacy; a failing statement is rotki's 500 with SQLite's message.
fn respond(req: NativeRequest, read: Result<Option<Vec<u8>>, DbError>) -> Outcome {
    match read {
        Ok(Some(result)) => {
            let mut body = Vec::with_capacity(result.len() + 32);
            body.extend_from_slice(br#"{"result": "#);
            body.extend_from_slice(&result);
            body.extend_from_slice(br#", "message": ""}"#);
            Outcome::Respond(response::api_response(StatusCode::OK, Bytes::from(body)))
        }
        Ok(None) | Err(DbError::Open(..)) => Outcome::HandBack(req),
        Err(DbError::Query(message)) => Outcome::Respond(response::fail(StatusCode::INTERNAL_SERVER_ERROR, &message)),
    }
}

/// A row of [`ASSETS_SELECT`].
struct AssetRow {
    identifier: String,
    name: Cell,
    symbol: Cell,
    chain: Cell,
    /// `None`: a type rotki does not know (its 500 when the row is rendered).
    asset_type: Option<AssetType>,
    custom_type: Cell,
}

/// `then` on the rows of `ASSETS_SELECT` with `tail`, which are kept until global.db changes.
async fn scan_assets<R, G>(db: &Arc<ReadDb>, tail: String, params: Vec<Value>, then: G) -> Result<R, DbError>
where
    R: Send + 'static,
    G: FnOnce(&Vec<AssetRow>) -> R + Send + 'static,
{
    let key = format!("assets {tail} {params:?}");
    db.with_cached(key, Vec::len, move |conn| asset_rows(conn, &tail, &params), move |rows| then(rows)).await
}

/// The rows of `ASSETS_SELECT` with `tail`.
fn asset_rows(conn: &Connection, tail: &str, params: &[Value]) -> Result<Vec<AssetRow>, String> {
    let mut stmt = conn.prepare(&format!("{ASSETS_SELECT}{tail}")).map_err(sql_error)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let cell = |i: usize| row.get_ref(i).map_err(sql_error).and_then(Cell::of);
        let Cell::Text(identifier) = cell(0)? else { return Err("an asset without an identifier".into()) };
        out.push(AssetRow {
            identifier,
            name: cell(1)?,
            symbol: cell(2)?,
            chain: cell(3)?,
            asset_type: cell(4)?.text().and_then(|t| AssetType::from_db(&t)),
            custom_type: cell(5)?,
        });
    }
    Ok(out)
}

/// A request to a route behind rotki's login, with what its handler needs: the open
/// session, global.db and the parsed body. Without a session or a global.db, or with a body
/// only rotki words an answer for, the request goes to legacy; a body rotki refuses gets its
/// 400.
struct Admitted<Q> {
    req: NativeRequest,
    open: Arc<Open>,
    global: Arc<ReadDb>,
    query: Q,
}

fn admit<Q>(
    req: NativeRequest,
    ctx: &crate::native::Context,
    parse: fn(Option<&serde_json::Value>) -> Result<Q, Refusal>,
) -> Result<Admitted<Q>, Box<Outcome>> {
    let (Some(open), Some(global)) = (ctx.sessions.open(), ctx.global_db.clone()) else {
        return Err(Box::new(Outcome::HandBack(req)));
    };
    match parse(req.json.as_ref()) {
        Ok(query) => Ok(Admitted { req, open, global, query }),
        Err(refusal) => Err(Box::new(refuse(req, refusal))),
    }
}

/// A body rotki refuses: its 400, or legacy's answer for a shape only it words exactly.
fn refuse(req: NativeRequest, refusal: Refusal) -> Outcome {
    match refusal {
        Refusal::Invalid(errors) => Outcome::Respond(response::validation_error(&errors)),
        Refusal::Legacy => Outcome::HandBack(req),
    }
}

/// SQLite's own message, as Python's sqlite3 words the exception.
fn sql_error(e: rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        rusqlite::Error::SqlInputError { msg, .. } => msg,
        other => other.to_string(),
    }
}

/// rotki's `IgnoredAssetsHandling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ignored {
    None,
    Exclude,
    ShowOnly,
}

impl Ignored {
    fn from_api(s: &str) -> Option<Ignored> {
        match s.replace(' ', "_").to_uppercase().as_str() {
            "NONE" => Some(Ignored::None),
            "EXCLUDE" => Some(Ignored::Exclude),
            "SHOW_ONLY" => Some(Ignored::ShowOnly),
            _ => None,
        }
    }

    /// Whether a row is left out (rotki's `get_should_skip_handler`).
    fn skips(self, identifier: &str, ignored: &HashSet<String>) -> bool {
        match self {
            Ignored::None => false,
            Ignored::Exclude => ignored.contains(identifier),
            Ignored::ShowOnly => !ignored.contains(identifier),
        }
    }
}

/// `DBOrderBySchema`'s validator and `create_order_by_rules_list`: the rules given, paired
/// with their directions; errors go to `errors`.
fn order_rules(
    order: Option<Vec<Option<String>>>,
    ascending: Option<Vec<bool>>,
    errors: &mut FieldErrors,
) -> Option<Vec<(String, bool)>> {
    const FIELD: &str = "order_by_attributes";
    let (order, ascending) = match (order, ascending) {
        (None, None) => return None,
        (Some(o), Some(a)) => (o, a),
        _ => {
            errors.add(FIELD, "order_by_attributes and ascending have to be both null or have a value");
            return None;
        }
    };
    if order.len() != ascending.len() {
        errors.add(FIELD, "order_by_attributes and ascending don't have the same length");
        return None;
    }
    let mut rules = Vec::with_capacity(order.len());
    for (attribute, ascending) in order.into_iter().zip(ascending) {
        match attribute {
            Some(a) if is_column_name(&a) => rules.push((a, ascending)),
            other => {
                let shown = other.unwrap_or_else(|| "None".to_string());
                errors.add(FIELD, format!("Unsupported value {shown} for order_by_attributes"));
                return None;
            }
        }
    }
    Some(rules)
}

/// A Python int as a loop bound: any size, saturated.
fn small(n: &str) -> i128 {
    n.parse().unwrap_or(if n.starts_with('-') { i128::MIN } else { i128::MAX })
}

/// A column value as Python's sqlite3 gives it to `json.dumps`. Floats and blobs, which
/// these tables do not hold, are left to rotki.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<CellMap>),
    Unsupported,
}

impl Cell {
    fn of(v: ValueRef<'_>) -> Result<Cell, String> {
        Ok(match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Int(i),
            ValueRef::Text(t) => std::str::from_utf8(t).map_or(Cell::Unsupported, |s| Cell::Text(s.to_string())),
            ValueRef::Real(_) | ValueRef::Blob(_) => Cell::Unsupported,
        })
    }

    fn text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null | Cell::Unsupported => s.serialize_unit(),
            Cell::Bool(b) => s.serialize_bool(*b),
            Cell::Int(i) => s.serialize_i64(*i),
            Cell::Text(t) => s.serialize_str(t),
            Cell::List(items) => items.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rules_follow_dborderbyschema() {
        let mut e = FieldErrors::default();
        let rules = order_rules(Some(vec![Some("symbol".into())]), Some(vec![true]), &mut e);
        assert_eq!(rules, Some(vec![("symbol".to_string(), true)]));
        assert!(order_rules(Some(vec![None]), Some(vec![true]), &mut e).is_none());
        assert!(order_rules(Some(vec![Some("a b".into())]), Some(vec![true]), &mut e).is_none());
        assert!(order_rules(None, Some(vec![true]), &mut e).is_none());
        assert_eq!(
            String::from_utf8(crate::rotki::json::dumps(&e)).unwrap(),
            "{\"order_by_attributes\": [\"Unsupported value None for order_by_attributes\", \
             \"Unsupported value a b for order_by_attributes\", \
             \"order_by_attributes and ascending have to be both null or have a value\"]}"
        );
    }
}
