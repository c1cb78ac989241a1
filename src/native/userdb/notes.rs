//! `POST /api/1/notes`: a query of the user's notes, filtered, ordered and paged as rotki's
//! schema and filter query build it, with the same SQL text (so SQLite orders ties the same
//! way). A free user sees only the ten newest notes. What rotki would refuse (a value its
//! schema rejects, an unknown key, a column that does not exist) and a premium user (its
//! limit is in rotki's memory) are legacy's: its answer is the reference.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::Value as Sql;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{gated, premium, sql, Read};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::json;

/// Notes a user without premium sees (rotki's `FREE_USER_NOTES_LIMIT`).
const FREE_LIMIT: i64 = 10;
const COLUMNS: &str = "identifier, title, content, location, last_update_timestamp, is_pinned";

/// The query, as rotki's schema loads it.
struct Query {
    from: i64,
    to: i64,
    limit: Option<i64>,
    offset: Option<i64>,
    /// (attribute, ascending); rotki's default is the newest first.
    order: Vec<(String, bool)>,
    title: Option<String>,
    location: Option<String>,
}

#[derive(Serialize)]
struct Note {
    identifier: i64,
    title: String,
    content: String,
    location: String,
    last_update_timestamp: i64,
    is_pinned: bool,
}

#[derive(Serialize)]
struct Notes {
    entries: Vec<Note>,
    entries_found: i64,
    entries_total: i64,
    entries_limit: i64,
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let empty = Map::new();
    let args = match &req.json {
        None => &empty,
        Some(Value::Object(args)) => args,
        Some(_) => return Ok(Outcome::HandBack(req)),
    };
    let Some(query) = parse(args, now) else { return Ok(Outcome::HandBack(req)) };
    gated(req, &ctx, move |conn, _| read(conn, &query)).await
}

/// The arguments in the forms rotki writes and the frontend sends; anything else (and
/// anything rotki's schema refuses) is `None`.
fn parse(args: &Map<String, Value>, now: i64) -> Option<Query> {
    const KNOWN: [&str; 8] = [
        "from_timestamp",
        "to_timestamp",
        "limit",
        "offset",
        "order_by_attributes",
        "ascending",
        "title_substring",
        "location",
    ];
    if args.keys().any(|k| !KNOWN.contains(&k.as_str())) {
        return None;
    }
    let int = |key: &str| -> Option<Option<i64>> {
        match args.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => n.as_i64().map(Some),
            Some(_) => None,
        }
    };
    // rotki's empty-as-none strings.
    let text = |key: &str| -> Option<Option<String>> {
        match args.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some((!s.is_empty()).then(|| s.clone())),
            Some(_) => None,
        }
    };
    let timestamp = |key: &str| match int(key)? {
        Some(t) if t >= 0 => Some(Some(t)),
        Some(_) => None,
        None if args.contains_key(key) => None,
        None => Some(None),
    };
    let from = timestamp("from_timestamp")?.unwrap_or(0);
    let to = timestamp("to_timestamp")?.unwrap_or(now);
    let order = match (args.get("order_by_attributes"), args.get("ascending")) {
        (None | Some(Value::Null), None | Some(Value::Null)) => vec![("last_update_timestamp".to_string(), false)],
        (Some(Value::Array(attributes)), Some(Value::Array(ascending))) if attributes.len() == ascending.len() => {
            let pairs = attributes.iter().zip(ascending).map(|(a, asc)| match (a, asc) {
                (Value::String(a), Value::Bool(asc)) if order_attribute(a) => Some((a.clone(), *asc)),
                _ => None,
            });
            pairs.collect::<Option<Vec<_>>>()?
        }
        _ => return None,
    };
    (from <= to).then_some(Query {
        from,
        to,
        limit: int("limit")?,
        offset: int("offset")?,
        order,
        title: text("title_substring")?,
        location: text("location")?,
    })
}

/// rotki's rule for a column name pasted into `ORDER BY`.
fn order_attribute(a: &str) -> bool {
    let mut chars = a.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn read(conn: &rusqlite::Connection, q: &Query) -> Read {
    if premium(conn)? {
        return Ok(None);
    }
    // rotki's filter query: each filter in parentheses, in this order.
    let mut filters = Vec::new();
    let mut bindings: Vec<Sql> = Vec::new();
    if let Some(title) = &q.title {
        filters.push("(title LIKE ?)");
        bindings.push(Sql::Text(format!("%{title}%")));
    }
    if let Some(location) = &q.location {
        filters.push("(location=?)");
        bindings.push(Sql::Text(location.clone()));
    }
    filters.push("(last_update_timestamp >= ? AND last_update_timestamp <= ?)");
    bindings.extend([Sql::Integer(q.from), Sql::Integer(q.to)]);
    let order: Vec<String> =
        q.order.iter().map(|(a, asc)| format!("{a} {}", if *asc { "ASC" } else { "DESC" })).collect();
    let unpaged = format!("WHERE {} ORDER BY {}", filters.join(" AND "), order.join(","));
    let paged = match (q.limit, q.offset) {
        (Some(limit), Some(offset)) => {
            let limit = if limit == 0 { -1 } else { limit };
            let offset = if offset == 0 { String::new() } else { format!(" OFFSET {offset}") };
            format!("{unpaged} LIMIT {limit}{offset}")
        }
        _ => unpaged.clone(),
    };

    let select = format!(
        "SELECT {COLUMNS} FROM (SELECT {COLUMNS} from user_notes ORDER BY last_update_timestamp DESC LIMIT ?) {paged}"
    );
    let mut all = vec![Sql::Integer(FREE_LIMIT)];
    all.extend(bindings.iter().cloned());
    // The frontend sends the same few queries again and again: their statements are kept.
    let mut stmt = conn.prepare_cached(&select).map_err(sql)?;
    let entries = stmt
        .query_map(rusqlite::params_from_iter(all), |r| {
            Ok(Note {
                identifier: r.get(0)?,
                title: r.get(1)?,
                content: r.get(2)?,
                location: r.get(3)?,
                last_update_timestamp: r.get(4)?,
                is_pinned: r.get::<_, i64>(5)? != 0,
            })
        })
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    let count = format!("SELECT COUNT(*) from user_notes {unpaged}");
    let found = conn
        .prepare_cached(&count)
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(bindings), |r| r.get(0)))
        .map_err(sql)?;
    let total = conn
        .prepare_cached("SELECT COUNT(*) from user_notes")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql)?;
    let notes = Notes { entries, entries_found: found, entries_total: total, entries_limit: FREE_LIMIT };
    Ok(Some(json::dumps(&notes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Option<Query> {
        parse(v.as_object().unwrap(), 1000)
    }

    #[test]
    fn the_frontends_query_and_what_goes_to_legacy() {
        let q = args(json!({"ascending": [false], "limit": 1, "location": "dashboard", "offset": 0, "order_by_attributes": ["title"], "title_substring": ""})).unwrap();
        assert_eq!((q.from, q.to, q.limit, q.offset), (0, 1000, Some(1), Some(0)));
        assert_eq!(q.order, [("title".to_string(), false)]);
        assert_eq!((q.title, q.location.as_deref()), (None, Some("dashboard")));
        let q = args(json!({})).unwrap();
        assert_eq!(q.order, [("last_update_timestamp".to_string(), false)]);
        for refused in [
            json!({"foo": 1}),
            json!({"from_timestamp": 5, "to_timestamp": 4}),
            json!({"order_by_attributes": ["title"]}),
            json!({"order_by_attributes": ["ti tle"], "ascending": [true]}),
            json!({"order_by_attributes": "title", "ascending": "true"}),
            json!({"limit": "1"}),
            json!({"from_timestamp": -1}),
        ] {
            assert!(args(refused.clone()).is_none(), "{refused}");
        }
    }
}
