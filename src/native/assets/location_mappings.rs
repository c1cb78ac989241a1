//! `POST /api/1/assets/locationmappings` (endpoints.md §d): the location/symbol mappings of
//! global.db, filtered and paged exactly as rotki does: its argument parsing and messages,
//! and the three statements it shares with the counterparty mappings (`symbol_mappings.rs`).
//! Unlike the other asset reads it needs no login, and it may run as an async task.

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use rusqlite::types::Value as SqlValue;

use super::symbol_mappings;
use crate::db::DbError;
use crate::native::tasks::TaskOutcome;
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::filter::FilterQuery;
use crate::rotki::location::{Location, EXCHANGES_TEXT};
use crate::rotki::schema::{Fields, Refusal};
use crate::rotki::{json, pyrepr, response};

/// The filters and page, as rotki's schema loads them.
#[derive(Debug, Default)]
struct Query {
    /// Absent: no filter; `Some(None)`: the common (NULL) mappings only.
    location: Option<Option<Location>>,
    symbol: Option<String>,
    /// Decimal integers, pasted into the SQL as rotki does (any size: SQLite judges).
    limit: Option<String>,
    offset: Option<String>,
}

#[derive(Serialize)]
struct Mappings {
    entries: Vec<Entry>,
    entries_found: i64,
    entries_total: i64,
}

#[derive(Serialize)]
struct Entry {
    asset: String,
    location: Option<String>,
    location_symbol: String,
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let Some(db) = ctx.global_db.clone() else { return Ok(Outcome::HandBack(req)) };
    let (query, as_task) = match parse(req.json.as_ref(), req.async_allowed) {
        Ok(q) => q,
        Err(refusal) => return Ok(super::refuse(req, refusal)),
    };
    if as_task {
        // rotki's task outcome: the synchronous envelope, or "died unexpectedly" for what
        // would have been an exception there (a failing SQLite statement).
        let work = async move {
            let outcome = match db.read(move |conn| run(conn, &query)).await {
                Ok(mappings) => json::dumps(&Envelope { result: &mappings, message: "" }),
                Err(e) => {
                    let message = format!("The backend query task died unexpectedly: {e}");
                    json::dumps(&Envelope { result: &(), message: &message })
                }
            };
            TaskOutcome { outcome: String::from_utf8(outcome).expect("ASCII"), status_code: None }
        };
        return Ok(Outcome::Respond(match ctx.tasks.spawn(work) {
            Ok(id) => response::envelope(StatusCode::OK, &serde_json::json!({ "task_id": id }), ""),
            Err(too_many) => response::fail(StatusCode::SERVICE_UNAVAILABLE, &too_many.to_string()),
        }));
    }
    match db.read(move |conn| run(conn, &query)).await {
        Ok(mappings) => Ok(Outcome::Respond(response::envelope(StatusCode::OK, &mappings, ""))),
        // No global.db here: legacy answers.
        Err(DbError::Open(..)) => Ok(Outcome::HandBack(req)),
        Err(DbError::Query(message)) => {
            Ok(Outcome::Respond(response::fail(StatusCode::INTERNAL_SERVER_ERROR, &message)))
        }
    }
}

/// `{"result": ..., "message": ...}` in that order.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    result: &'a T,
    message: &'a str,
}

/// `LocationAssetMappingsPostSchema` on the JSON body only (the query string is never
/// read; a non-JSON body is `{}`): `location` from its base schema, the inherited page,
/// then `location_symbol`. With `async_allowed`, an `async_query` boolean says whether to
/// run as a task.
fn parse(json: Option<&Value>, async_allowed: bool) -> Result<(Query, bool), Refusal> {
    let mut f = Fields::json(json)?;
    let mut q = Query::default();
    match f.any("location") {
        None => {}
        Some(Value::Null) => q.location = Some(None),
        Some(Value::String(s)) => match Location::from_api(s) {
            Some(l) if l.is_exchange() => q.location = Some(Some(l)),
            Some(_) => f.errors.add(
                "location",
                format!("Given location {s} is not one of {EXCHANGES_TEXT} as needed by the endpoint"),
            ),
            None => f.errors.add("location", format!("Failed to deserialize Location value {s}")),
        },
        Some(other) => f.errors.add(
            "location",
            format!("Failed to deserialize Location value from non string value: {}", pyrepr::str_of(other)),
        ),
    }
    q.limit = f.integer("limit");
    q.offset = f.integer("offset");
    q.symbol = f.empty_as_none("location_symbol");
    let as_task = async_allowed && f.boolean("async_query", false);
    f.finish()?;
    Ok((q, as_task))
}

/// rotki's three autocommit statements (endpoints.md §d, "SQL that rotki runs").
fn run(conn: &rusqlite::Connection, q: &Query) -> Result<Mappings, String> {
    let mut filter = FilterQuery::new(q.limit.clone(), q.offset.clone());
    if let Some(symbol) = &q.symbol {
        filter.substring("exchange_symbol", symbol);
    }
    if let Some(location) = q.location {
        let value = location.map_or(SqlValue::Null, |l| SqlValue::Text(l.db_char()));
        filter.filter("location IS ?", [value]);
    }
    let found =
        symbol_mappings::query(conn, "location_asset_mappings", "local_id, location, exchange_symbol", &filter)?;
    let mut entries = Vec::with_capacity(found.rows.len());
    for (asset, location, location_symbol) in found.rows {
        let location = location.map(|l| Location::from_db(&l).map(Location::api_string)).transpose()?;
        entries.push(Entry { asset, location, location_symbol });
    }
    Ok(Mappings { entries, entries_found: found.found, entries_total: found.total })
}
