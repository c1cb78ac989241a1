//! `POST /api/1/assets/locationmappings` (endpoints.md §d): the location/symbol mappings of
//! global.db, filtered and paged exactly as rotki does: its argument parsing and messages,
//! and the same three SQL statements (same text, so SQLite picks the same plans and rows
//! come back in the same order).

use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::tasks::TaskOutcome;
use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::db::DbError;
use crate::rotki::args::{self, FieldErrors};
use crate::rotki::location::{Location, EXCHANGES_TEXT};
use crate::rotki::schema::integer;
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
        Err(errors) => return Ok(Outcome::Respond(response::validation_error(&errors))),
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

/// The JSON body only (the query string is never read); a non-JSON body is `{}`. With
/// `async_allowed`, an `async_query` boolean says whether to run as a task.
fn parse(json: Option<&Value>, async_allowed: bool) -> Result<(Query, bool), FieldErrors> {
    let empty = Map::new();
    let args = match json {
        None => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(FieldErrors::single("_schema", "Invalid input type.")),
    };
    let mut errors = FieldErrors::default();
    let mut q = Query::default();
    // marshmallow reports fields in the schema's order, then unknown ones.
    match args.get("location") {
        None => {}
        Some(Value::Null) => q.location = Some(None),
        Some(Value::String(s)) => match Location::from_api(s) {
            Some(l) if l.is_exchange() => q.location = Some(Some(l)),
            Some(_) => errors.add(
                "location",
                format!("Given location {s} is not one of {EXCHANGES_TEXT} as needed by the endpoint"),
            ),
            None => errors.add("location", format!("Failed to deserialize Location value {s}")),
        },
        Some(other) => errors.add(
            "location",
            format!("Failed to deserialize Location value from non string value: {}", pyrepr::str_of(other)),
        ),
    }
    match args.get("location_symbol") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => q.symbol = (!s.is_empty()).then(|| s.clone()),
        Some(_) => errors.add("location_symbol", "Not a valid string."),
    }
    for (field, slot) in [("limit", &mut q.limit), ("offset", &mut q.offset)] {
        match args.get(field).map(integer) {
            None | Some(Ok(None)) => {}
            Some(Ok(Some(n))) => *slot = Some(n),
            Some(Err(())) => errors.add(field, "Not a valid integer."),
        }
    }
    let mut as_task = false;
    if async_allowed {
        match args.get("async_query").map(args::bool_from_json) {
            None => {}
            Some(Some(b)) => as_task = b,
            Some(None) => errors.add("async_query", "Not a valid boolean."),
        }
    }
    let known = |k: &str| {
        ["location", "location_symbol", "limit", "offset"].contains(&k) || (async_allowed && k == "async_query")
    };
    for key in args.keys().filter(|k| !known(k)) {
        errors.add(key.clone(), "Unknown field.");
    }
    if errors.is_empty() {
        Ok((q, as_task))
    } else {
        Err(errors)
    }
}

/// rotki's three autocommit statements (endpoints.md §d, "SQL that rotki runs").
fn run(conn: &rusqlite::Connection, q: &Query) -> Result<Mappings, String> {
    let mut conditions = Vec::new();
    let mut params: Vec<Option<String>> = Vec::new();
    if let Some(symbol) = &q.symbol {
        conditions.push("(exchange_symbol LIKE ?)");
        params.push(Some(format!("%{symbol}%")));
    }
    if let Some(location) = q.location {
        conditions.push("(location IS ?)");
        params.push(location.map(Location::db_char));
    }
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let page = match (&q.limit, &q.offset) {
        (Some(limit), Some(offset)) => {
            let limit = if limit == "0" { "-1" } else { limit };
            let offset = if offset == "0" { String::new() } else { format!(" OFFSET {offset}") };
            format!("LIMIT {limit}{offset}")
        }
        _ => String::new(),
    };
    let sql_error = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    };
    let count = |sql: &str, params: &[Option<String>]| {
        conn.query_row(sql, rusqlite::params_from_iter(params), |row| row.get::<_, i64>(0)).map_err(sql_error)
    };
    let entries_total = count("SELECT COUNT(*) FROM location_asset_mappings", &[])?;
    let entries_found = count(&format!("SELECT COUNT(*) FROM location_asset_mappings {filter}"), &params)?;
    let sql = format!("SELECT local_id, location, exchange_symbol FROM location_asset_mappings {filter} {page}");
    let mut statement = conn.prepare(&sql).map_err(sql_error)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(&params), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?, row.get::<_, String>(2)?))
        })
        .map_err(sql_error)?;
    let mut entries = Vec::new();
    for row in rows {
        let (asset, location, location_symbol) = row.map_err(sql_error)?;
        let location = location.map(|l| Location::from_db(&l).map(Location::api_string)).transpose()?;
        entries.push(Entry { asset, location, location_symbol });
    }
    Ok(Mappings { entries, entries_found, entries_total })
}
