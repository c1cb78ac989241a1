//! rotki's asset mappings by type: the location and the counterparty mappings of global.db
//! share one query (rotki's `query_asset_mappings_by_type`): a total, a filtered count, then
//! the filtered page, three statements with rotki's text. This file holds that query and
//! `POST /api/1/assets/counterpartymappings`; the location one is in `location_mappings.rs`.

use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::Connection;
use serde::Serialize;

use crate::native::{Context, HandlerResult, NativeRequest};
use crate::rotki::assets::is_counterparty;
use crate::rotki::filter::FilterQuery;
use crate::rotki::schema::{Fields, Refusal};
use crate::rotki::{json, pyrepr};

/// The rows of a mapping table: (asset, location or counterparty, symbol), with the
/// filtered count and the table's total.
pub struct Found {
    pub rows: Vec<(String, Option<String>, String)>,
    pub found: i64,
    pub total: i64,
}

/// rotki's three statements on `table`, reading `columns` (asset, key, symbol).
pub fn query(conn: &Connection, table: &str, columns: &str, filter: &FilterQuery) -> Result<Found, String> {
    let sql_error = super::sql_error;
    let count = |sql: &str, params: &[Value]| {
        conn.query_row(sql, rusqlite::params_from_iter(params), |row| row.get::<_, i64>(0)).map_err(sql_error)
    };
    let total = count(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
    let found = count(&format!("SELECT COUNT(*) FROM {table} {}", filter.prepare(false)), filter.params())?;
    let sql = format!("SELECT {columns} FROM {table} {}", filter.prepare(true));
    let mut statement = conn.prepare(&sql).map_err(sql_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(filter.params()), |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(sql_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_error)?;
    Ok(Found { rows, found, total })
}

/// `POST /api/1/assets/counterpartymappings`. The counterparties rotki knows come from the
/// decoders a login loads: before one rotki answers 500, so legacy does.
pub async fn counterparties(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let super::Admitted { req, open: _, global: db, query: filter } = match super::admit(req, &ctx, parse) {
        Ok(admitted) => admitted,
        Err(outcome) => return Ok(*outcome),
    };
    super::answer(req, &db, move |conn| {
        #[derive(Serialize)]
        struct Entry {
            asset: String,
            counterparty: Option<String>,
            counterparty_symbol: String,
        }
        #[derive(Serialize)]
        struct Page {
            entries: Vec<Entry>,
            entries_found: i64,
            entries_total: i64,
        }
        let f = query(conn, "counterparty_asset_mappings", "local_id, counterparty, symbol", &filter)?;
        let entries = f
            .rows
            .into_iter()
            .map(|(asset, counterparty, counterparty_symbol)| Entry { asset, counterparty, counterparty_symbol })
            .collect();
        Ok(Some(json::dumps(&Page { entries, entries_found: f.found, entries_total: f.total })))
    })
    .await
}

/// `CounterpartyAssetMappingsPostSchema`: `counterparty` (from its base schema), the page,
/// then `counterparty_symbol`.
fn parse(json: Option<&serde_json::Value>) -> Result<FilterQuery, Refusal> {
    use serde_json::Value as Json;
    let mut f = Fields::resource_json(json)?;
    let counterparty = match f.any("counterparty") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if is_counterparty(s) => Some(s.clone()),
        // A list or an object is unhashable in Python: rotki's TypeError, a 500.
        Some(Json::Array(_) | Json::Object(_)) => {
            f.for_legacy();
            None
        }
        Some(other) => {
            // `str()` of the value: a string as it is.
            let shown = other.as_str().map_or_else(|| pyrepr::str_of(other), str::to_string);
            f.errors.add("counterparty", format!("Unknown counterparty {shown} provided"));
            None
        }
    };
    let limit = f.integer("limit");
    let offset = f.integer("offset");
    let symbol = f.empty_as_none("counterparty_symbol");
    f.finish()?;
    let mut filter = FilterQuery::new(limit, offset);
    if let Some(symbol) = symbol {
        filter.substring("symbol", &symbol);
    }
    if let Some(c) = counterparty {
        filter.equals("counterparty", Value::Text(c));
    }
    Ok(filter)
}
