//! `GET /api/1/settings`: rotki's 56 keys in the order of its settings class, each from its
//! row of the `settings` table when there is one, else its default, then the two cache
//! values. Only what rotki writes is read here; a stored value in a form only rotki's
//! parser knows (an integer with a `+`, an indexer order, exchanges not to sync, ...), and a
//! user with premium credentials (whether premium is active only rotki knows), go to legacy.
//!
//! `active_modules` has no row until the user sets it, and rotki's default is a Python set
//! whose order is that legacy process's own: the session bridge learned it from legacy's
//! login answer; without it, legacy answers.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::{gated, premium, sql, Read};
use crate::native::{Context, HandlerResult, NativeRequest};
use crate::rotki::json;
use crate::session::Open;

/// How a setting's stored text reads, and its default.
enum Kind {
    Bool(bool),
    Int(i64),
    /// `taxfree_after_period`: NULL or not positive is `null`.
    Period(i64),
    Text(&'static str),
    /// An RPC endpoint: an empty stored value is the default.
    Endpoint(&'static str),
    /// A JSON list of strings, re-written as it was stored.
    Strings(&'static [&'static str]),
    /// A decimal rotki writes normalized (`0.005`).
    Decimal(&'static str),
    /// `active_modules`: see the module comment.
    Modules,
    /// A JSON value rotki re-orders or re-reads (the default is written as it is).
    RotkiOnly(&'static str),
    /// `have_premium`, in legacy's memory.
    Premium,
}

use Kind::*;

const SETTINGS: [(&str, Kind); 54] = [
    ("have_premium", Premium),
    ("version", Int(52)),
    ("last_write_ts", Int(0)),
    ("premium_should_sync", Bool(false)),
    ("include_crypto2crypto", Bool(true)),
    ("ui_floating_precision", Int(2)),
    ("taxfree_after_period", Period(31_536_000)),
    ("balance_save_frequency", Int(24)),
    ("include_gas_costs", Bool(true)),
    ("ksm_rpc_endpoint", Endpoint("")),
    ("dot_rpc_endpoint", Endpoint("")),
    ("beacon_rpc_endpoint", Endpoint("https://ethereum-beacon-api.publicnode.com")),
    ("btc_mempool_api", Endpoint("")),
    // rotki resolves it against global.db; what it stored is what it resolved.
    ("main_currency", Text("USD")),
    ("date_display_format", Text("%d/%m/%Y %H:%M:%S %Z")),
    ("submit_usage_analytics", Bool(true)),
    ("active_modules", Modules),
    ("frontend_settings", Text("")),
    ("btc_derivation_gap_limit", Int(20)),
    ("calculate_past_cost_basis", Bool(true)),
    ("display_date_in_localtime", Bool(true)),
    ("current_price_oracles", Strings(&["defillama", "coingecko", "uniswapv2", "uniswapv3"])),
    ("historical_price_oracles", Strings(&["defillama", "coingecko", "uniswapv3", "uniswapv2"])),
    (
        "evm_indexers_order",
        RotkiOnly(
            r#"{"base": ["blockscout", "routescan", "etherscan"], "optimism": ["blockscout", "routescan", "etherscan"], "binance_sc": ["etherscan"], "hyperliquid": ["etherscan", "blockscout"], "scroll": ["blockscout"], "monad": ["etherscan"]}"#,
        ),
    ),
    ("default_evm_indexer_order", Strings(&["etherscan", "blockscout", "routescan"])),
    ("pnl_csv_with_formulas", Bool(true)),
    ("pnl_csv_have_summary", Bool(false)),
    ("ssf_graph_multiplier", Int(0)),
    ("last_data_migration", Int(26)),
    ("non_syncing_exchanges", RotkiOnly("[]")),
    (
        "evmchains_to_skip_detection",
        Strings(&["eth", "avax", "optimism", "polygon_pos", "arbitrum_one", "base", "gnosis", "scroll"]),
    ),
    ("cost_basis_method", Text("fifo")),
    ("treat_eth2_as_eth", Bool(true)),
    ("eth_staking_taxable_after_withdrawal_enabled", Bool(true)),
    (
        "address_name_priority",
        Strings(&[
            "private_addressbook",
            "blockchain_account",
            "global_addressbook",
            "ethereum_tokens",
            "hardcoded_mappings",
            "ens_names",
        ]),
    ),
    ("include_fees_in_cost_basis", Bool(true)),
    ("infer_zero_timed_balances", Bool(false)),
    ("query_retry_limit", Int(5)),
    ("connect_timeout", Int(30)),
    ("read_timeout", Int(30)),
    ("oracle_penalty_threshold_count", Int(5)),
    ("oracle_penalty_duration", Int(1800)),
    ("auto_delete_calendar_entries", Bool(true)),
    ("auto_create_calendar_reminders", Bool(true)),
    ("ask_user_upon_size_discrepancy", Bool(true)),
    ("auto_detect_tokens", Bool(true)),
    ("csv_export_delimiter", Text(",")),
    ("asset_movement_amount_tolerance", Decimal("0.005")),
    ("asset_movement_time_range", Int(72000)),
    ("suppress_missing_key_msg_services", Strings(&[])),
    ("auto_create_profit_events", Bool(false)),
    ("use_asset_collections_in_cost_basis", Bool(true)),
    ("internal_txs_to_repull", Int(100)),
    ("internal_tx_conflict_repull_frequency", Int(900)),
];

/// One value of the answer, written as `json.dumps` writes it.
#[derive(Serialize)]
#[serde(untagged)]
enum Value {
    Bool(bool),
    Int(i64),
    Null(()),
    Text(String),
    Strings(Vec<String>),
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    gated(req, &ctx, read).await
}

fn read(conn: &rusqlite::Connection, open: &Open) -> Read {
    if premium(conn)? {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached("SELECT name, value FROM settings;").map_err(sql)?;
    let stored: HashMap<String, Option<String>> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql)?.collect::<Result<_, _>>().map_err(sql)?;

    let mut out = Vec::with_capacity(2600);
    out.push(b'{');
    for (i, (key, kind)) in SETTINGS.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(&json::dumps(key));
        out.extend_from_slice(b": ");
        let row = stored.get(*key);
        let value = match (kind, row) {
            (Premium, _) => Value::Bool(false),
            (Modules, Some(Some(text))) => match strings(text) {
                Some(list) => Value::Strings(list),
                None => return Ok(None),
            },
            (Modules, _) => match &open.default_modules {
                Some(list) => Value::Strings(list.clone()),
                None => return Ok(None),
            },
            (RotkiOnly(default), None) => {
                out.extend_from_slice(default.as_bytes());
                continue;
            }
            (RotkiOnly(_), Some(Some(text))) if *key == "non_syncing_exchanges" && text == "[]" => {
                out.extend_from_slice(b"[]");
                continue;
            }
            (RotkiOnly(_), Some(_)) => return Ok(None),
            (Endpoint(default), None) => Value::Text(default.to_string()),
            (Endpoint(default), Some(Some(t))) if t.is_empty() => Value::Text(default.to_string()),
            (Bool(default), None) => Value::Bool(*default),
            // Only the exact text `True` is true.
            (Bool(_), Some(t)) => Value::Bool(t.as_deref() == Some("True")),
            (Int(default) | Period(default), None) => Value::Int(*default),
            (Int(_), Some(Some(t))) => match plain_int(t) {
                Some(n) => Value::Int(n),
                None => return Ok(None),
            },
            (Period(_), Some(None)) => Value::Null(()),
            (Period(_), Some(Some(t))) => match plain_int(t) {
                Some(n) if n > 0 => Value::Int(n),
                Some(_) => Value::Null(()),
                None => return Ok(None),
            },
            (Text(default) | Decimal(default), None) => Value::Text(default.to_string()),
            (Text(_) | Endpoint(_), Some(Some(t))) => Value::Text(t.clone()),
            (Decimal(_), Some(Some(t))) if normalized_decimal(t) => Value::Text(t.clone()),
            (Strings(default), None) => Value::Strings(default.iter().map(|s| s.to_string()).collect()),
            (Strings(_), Some(Some(t))) => match strings(t) {
                Some(list) => Value::Strings(list),
                None => return Ok(None),
            },
            // NULL where rotki expects text, an int it cannot read, a decimal it would
            // re-write: rotki's own rendering (or its 500) is the answer.
            (Int(_) | Text(_) | Endpoint(_) | Decimal(_) | Strings(_), Some(_)) => return Ok(None),
        };
        out.extend_from_slice(&json::dumps(&value));
    }

    let mut cache = conn.prepare_cached("SELECT name, value FROM key_value_cache WHERE name IN (?,?);").map_err(sql)?;
    let cached: HashMap<String, Option<String>> = cache
        .query_map(["last_data_upload_ts", "last_balance_save"], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    for key in ["last_balance_save", "last_data_upload_ts"] {
        let n = match cached.get(key) {
            None => 0,
            Some(Some(t)) => match plain_int(t) {
                Some(n) => n,
                None => return Ok(None),
            },
            Some(None) => return Ok(None),
        };
        out.extend_from_slice(format!(r#", "{key}": {n}"#).as_bytes());
    }
    out.push(b'}');
    Ok(Some(out))
}

/// An integer in the form rotki writes it (Python's `int()` reads more forms: legacy's).
fn plain_int(t: &str) -> Option<i64> {
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    t.parse().ok()
}

/// A decimal as rotki's `str(FVal)` writes it: no exponent, no trailing zeros.
fn normalized_decimal(t: &str) -> bool {
    let body = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    plain_int(int).is_some()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && body.contains('.') != frac.is_empty()
        && !frac.ends_with('0')
        && t != "-0"
}

/// A JSON list of strings, as stored.
fn strings(text: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_rotkis_own_form_only() {
        assert_eq!(plain_int("52"), Some(52));
        assert_eq!(plain_int("-3"), Some(-3));
        for odd in ["", "+1", " 1", "1_000", "01", "1.0", "-"] {
            assert_eq!(plain_int(odd), None, "{odd:?}");
        }
        for ok in ["0.005", "1", "12.5", "-0.1"] {
            assert!(normalized_decimal(ok), "{ok}");
        }
        for odd in ["0.0050", "1E-3", "1.", ".5", "-0"] {
            assert!(!normalized_decimal(odd), "{odd}");
        }
    }

    #[test]
    fn every_key_once_in_rotkis_order() {
        let keys: Vec<_> = SETTINGS.iter().map(|(k, _)| *k).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len());
        assert_eq!(keys[..3], ["have_premium", "version", "last_write_ts"]);
        assert_eq!(keys.last(), Some(&"internal_tx_conflict_repull_frequency"));
    }
}
