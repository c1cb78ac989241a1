//! Native reads of the logged-in user's database, behind rotki's login gate. Each runs
//! rotki's own SQL (same text, so SQLite picks the same plan and rows come in the same order)
//! on the session bridge's read-only connection, and serializes as rotki does. Without an
//! open session the request goes to legacy, whose 401 is rotki's own; so does a request
//! whose rows this code cannot render exactly as rotki would (a value of a form only rotki's
//! parser knows, a premium user), and one whose read failed: a read is always safe to give
//! to legacy, whose answer is the reference.

mod accounts;
mod notes;
mod settings;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use indexmap::IndexMap;
use rusqlite::Connection;
use serde::Serialize;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::location::Location;
use crate::rotki::{json, response};
use crate::session::Open;

pub use accounts::handle as accounts;
pub use notes::handle as notes;
pub use settings::handle as settings;

/// What a read found: the `result` to answer with, or `None` when only legacy can say.
type Read = Result<Option<Vec<u8>>, String>;

/// Runs `query` on the open session's database and answers `{"result": ..., "message": ""}`.
async fn gated<F>(req: NativeRequest, ctx: &Context, query: F) -> HandlerResult
where
    F: FnOnce(&Connection, &Open) -> Read + Send + 'static,
{
    let Some(open) = ctx.sessions.open() else { return Ok(Outcome::HandBack(req)) };
    let session = open.clone();
    match open.db.read(move |conn| query(conn, &session)).await {
        Ok(Some(result)) => {
            let mut body = Vec::with_capacity(result.len() + 32);
            body.extend_from_slice(br#"{"result": "#);
            body.extend_from_slice(&result);
            body.extend_from_slice(br#", "message": ""}"#);
            Ok(Outcome::Respond(response::api_response(StatusCode::OK, Bytes::from(body))))
        }
        Ok(None) => Ok(Outcome::HandBack(req)),
        Err(e) => {
            tracing::warn!(path = req.parts.uri.path(), "user database read failed, legacy answers: {e}");
            Ok(Outcome::HandBack(req))
        }
    }
}

fn sql(e: rusqlite::Error) -> String {
    e.to_string()
}

/// Whether the user has premium credentials: whether premium is active then, and what it
/// unlocks, only rotki knows.
fn premium(conn: &Connection) -> Result<bool, String> {
    conn.prepare_cached("SELECT api_key, api_secret FROM user_credentials where name='rotkehlchen';")
        .and_then(|mut s| s.exists([]))
        .map_err(sql)
}

/// `GET /api/1/tags`: every tag in the table's order (a rename re-inserts, so it moves to
/// the end), keyed by name.
pub async fn tags(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    #[derive(Serialize)]
    struct Tag {
        name: String,
        description: Option<String>,
        background_color: String,
        foreground_color: String,
    }
    gated(req, &ctx, |conn, _| {
        let mut stmt = conn
            .prepare_cached("SELECT name, description, background_color, foreground_color FROM tags;")
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut tags = IndexMap::new();
        while let Some(row) = rows.next().map_err(sql)? {
            let text = |i| row.get::<_, Option<String>>(i).ok();
            let (Some(Some(name)), Some(description), Some(Some(bg)), Some(Some(fg))) =
                (text(0), text(1), text(2), text(3))
            else {
                // rotki skips such a row with a warning on its websocket: its answer, not ours.
                return Ok(None);
            };
            if !color(&bg) || !color(&fg) {
                return Ok(None);
            }
            tags.insert(name.clone(), Tag { name, description, background_color: bg, foreground_color: fg });
        }
        Ok(Some(json::dumps(&tags)))
    })
    .await
}

/// A colour rotki accepts: six hex digits.
fn color(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /api/1/assets/ignored`. rotki answers a Python set, whose order changes from one
/// rotki process to the next; this answers the same identifiers in the order rotki's
/// query returns them (ascending).
pub async fn ignored_assets(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    gated(req, &ctx, |conn, _| {
        let mut stmt =
            conn.prepare_cached("SELECT value FROM multisettings WHERE name='ignored_asset' ").map_err(sql)?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sql)?.collect::<Result<Vec<_>, _>>();
        Ok(Some(json::dumps(&ids.map_err(sql)?)))
    })
    .await
}

/// rotki's `ExternalService` members, as `GET /api/1/external_services` names them.
const SERVICES: [&str; 14] = [
    "etherscan",
    "cryptocompare",
    "beaconchain",
    "loopring",
    "opensea",
    "blockscout",
    "thegraph",
    "gnosis_pay",
    "monerium",
    "defillama",
    "coingecko",
    "alchemy",
    "helius",
    "routescan",
];

/// `GET /api/1/external_services`: each known service's `api_key`, in the table's order (a
/// service saved again moves to the end). The secrets are never read.
pub async fn external_services(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    #[derive(Serialize)]
    struct Key {
        api_key: Option<String>,
    }
    gated(req, &ctx, |conn, _| {
        let mut stmt = conn.prepare_cached("SELECT name, api_key from external_service_credentials;").map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut services = IndexMap::new();
        while let Some(row) = rows.next().map_err(sql)? {
            let name: String = row.get(0).map_err(sql)?;
            let member = name.replace(' ', "_").to_ascii_lowercase();
            // rotki skips a name it does not know (with a log line).
            if let Some(known) = SERVICES.iter().find(|s| **s == member) {
                services.insert(*known, Key { api_key: row.get(1).map_err(sql)? });
            }
        }
        Ok(Some(json::dumps(&services)))
    })
    .await
}

/// rotki's modules in its own order (`AVAILABLE_MODULES_MAP`).
pub const MODULES: [&str; 9] = [
    "makerdao_dsr",
    "makerdao_vaults",
    "uniswap",
    "loopring",
    "eth2",
    "sushiswap",
    "liquity",
    "pickle_finance",
    "nfts",
];

/// `GET /api/1/queried_addresses`: per module in rotki's order, its addresses ascending
/// (the table's unique index), modules without one left out.
pub async fn queried_addresses(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    gated(req, &ctx, |conn, _| {
        let mut stmt = conn.prepare_cached("SELECT value FROM multisettings WHERE name=?;").map_err(sql)?;
        let mut modules = IndexMap::new();
        for module in MODULES {
            let key = format!("queried_address_{module}");
            let values = stmt.query_map([&key], |r| r.get::<_, String>(0)).map_err(sql)?;
            let values = values.collect::<Result<Vec<_>, _>>().map_err(sql)?;
            if !values.is_empty() {
                modules.insert(module, values);
            }
        }
        Ok(Some(json::dumps(&modules)))
    })
    .await
}

/// `GET /api/1/history/skipped_external_events`: how many events were skipped per location
/// (in the order of the locations' DB characters), and in all.
pub async fn skipped_external_events(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    #[derive(Serialize)]
    struct Summary {
        locations: IndexMap<String, i64>,
        total: i64,
    }
    gated(req, &ctx, |conn, _| {
        let mut stmt = conn
            .prepare_cached("SELECT COUNT(*), location FROM skipped_external_events GROUP BY location")
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut summary = Summary { locations: IndexMap::new(), total: 0 };
        while let Some(row) = rows.next().map_err(sql)? {
            let count: i64 = row.get(0).map_err(sql)?;
            // A character rotki does not know is its 500.
            let Ok(location) = Location::from_db(&row.get::<_, String>(1).map_err(sql)?) else { return Ok(None) };
            summary.locations.insert(location.api_string(), count);
            summary.total += count;
        }
        Ok(Some(json::dumps(&summary)))
    })
    .await
}

/// `GET /api/1/calendar/google`: not connected while no Google credentials are stored;
/// with some, rotki asks Google (or refreshes them), so legacy answers.
pub async fn google_calendar(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    gated(req, &ctx, |conn, _| {
        let mut stmt = conn.prepare_cached("SELECT value FROM key_value_cache WHERE name=?").map_err(sql)?;
        match stmt.exists(["google_calendar_credentials"]).map_err(sql)? {
            true => Ok(None),
            false => Ok(Some(br#"{"authenticated": false, "user_email": null}"#.to_vec())),
        }
    })
    .await
}
