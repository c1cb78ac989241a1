//! `POST /api/1/assets/search`: assets whose name or symbol contains (or equals) a text,
//! as rotki's `AssetsSearchByColumnSchema` and `GlobalDBHandler.search_assets` find them.
//! The limit is SQL's, applied before the user's ignored assets are dropped (so a page can
//! come back short, as rotki's does); the offset is read and never used.

use std::sync::Arc;

use indexmap::IndexMap;
use rusqlite::types::Value;

use super::{order_rules, python_strip, respond, scan_assets, user_view, AssetRow, Cell, CellMap, UserView};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::args::FieldErrors;
use crate::rotki::assets::{AssetType, ChainId};
use crate::rotki::filter::FilterQuery;
use crate::rotki::json;
use crate::rotki::schema::{Fields, Refusal};

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    let super::Admitted { req, open, global, query: filter } = match super::admit(req, &ctx, parse) {
        Ok(admitted) => admitted,
        Err(outcome) => return Ok(*outcome),
    };
    let Some(user) = user_view(&open).await else { return Ok(Outcome::HandBack(req)) };
    let (tail, params) = (filter.prepare(true), filter.params().to_vec());
    Ok(respond(req, scan_assets(&global, tail, params, move |rows| assemble(rows, &user)).await))
}

/// The schema's fields in declaration order (pagination, then ordering, then its own),
/// the ordering validator, then the query.
fn parse(json: Option<&serde_json::Value>) -> Result<FilterQuery, Refusal> {
    let mut f = Fields::resource_json(json)?;
    let limit = f.integer("limit");
    let _offset = f.integer("offset");
    let order = f.string_list("order_by_attributes", false, false);
    let ascending = f.bool_list("ascending");
    let column = f.required_string("search_column", false);
    let column = match column.as_deref() {
        None => None,
        Some(c @ ("name" | "symbol")) => Some(c.to_string()),
        Some(_) => {
            f.errors.add("search_column", "Must be one of: name, symbol.");
            None
        }
    };
    let value = f.required_string("value", true);
    let chain = f.enumeration("evm_chain", "evm chain", true, ChainId::from_api);
    let exact = f.boolean("return_exact_matches", false);
    f.finish()?;
    let mut errors = FieldErrors::default();
    let rules = order_rules(order, ascending, &mut errors);
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    let (Some(column), Some(value)) = (column, value) else { return Err(Refusal::Legacy) };
    // rotki pages with offset 0 so that its limit applies.
    let rules = rules.unwrap_or_else(|| vec![("name".to_string(), false)]);
    let mut filter = FilterQuery::new(limit, Some("0".to_string())).order_by(rules, false);
    let text = python_strip(&value);
    match exact {
        true => filter.equals(&column, Value::Text(text.to_string())),
        false => filter.substring(&column, text),
    }
    if let Some(chain) = chain {
        filter.equals("chain", Value::Integer(chain.0.into()));
    }
    Ok(filter)
}

/// rotki's loop over the rows: the user's ignored assets left out, ETH and ETH2 as one.
fn assemble(rows: &[AssetRow], user: &UserView) -> Option<Vec<u8>> {
    let mut found: Vec<CellMap> = Vec::new();
    let mut found_eth = false;
    for row in rows {
        if user.ignored.contains(&row.identifier) {
            continue;
        }
        if user.eth2_as_eth && (row.identifier == "ETH" || row.identifier == "ETH2") {
            if !found_eth {
                found.push(IndexMap::from([
                    ("identifier", Cell::Text("ETH".into())),
                    ("name", Cell::Text("Ethereum".into())),
                    ("symbol", Cell::Text("ETH".into())),
                    ("is_custom_asset", Cell::Bool(false)),
                ]));
                found_eth = true;
            }
            continue;
        }
        let mut entry = IndexMap::from([
            ("identifier", Cell::Text(row.identifier.clone())),
            ("name", row.name.clone()),
            ("symbol", row.symbol.clone()),
            ("is_custom_asset", Cell::Bool(row.asset_type? == AssetType::CUSTOM_ASSET)),
        ]);
        if !super::chain_and_custom_type(&mut entry, row.chain.clone(), row.custom_type.clone()) {
            return None;
        }
        found.push(entry);
    }
    if found.iter().flat_map(|e| e.values()).any(|c| matches!(c, Cell::Unsupported)) {
        return None;
    }
    Some(json::dumps(&found))
}
