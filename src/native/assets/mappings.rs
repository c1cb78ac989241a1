//! `POST /api/1/assets/mappings`: name, symbol, type (and chain, collection, spam mark,
//! oracle ids) of the assets asked for, keyed by global.db's spelling of each identifier, in
//! SQL order, then the user's NFTs among them; plus the collections they belong to.

use std::sync::Arc;

use indexmap::IndexMap;
use rusqlite::Connection;

use super::{Cell, CellMap};
use crate::native::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::assets::AssetType;
use crate::rotki::json;
use crate::rotki::schema::{Fields, Refusal};

const SELECT: &str = "SELECT assets.identifier, assets.name, common_asset_details.symbol, chain, assets.type, \
custom_assets.type, collection_id, asset_collections.name, asset_collections.symbol, asset_collections.main_asset, \
evm_tokens.protocol, common_asset_details.coingecko, common_asset_details.cryptocompare, solana_tokens.protocol
FROM assets LEFT JOIN common_asset_details on assets.identifier=common_asset_details.identifier
LEFT JOIN evm_tokens ON evm_tokens.identifier=assets.identifier
LEFT JOIN custom_assets ON custom_assets.identifier=assets.identifier
LEFT JOIN solana_tokens ON solana_tokens.identifier=assets.identifier
LEFT JOIN multiasset_mappings ON assets.identifier=multiasset_mappings.asset \
LEFT JOIN asset_collections ON multiasset_mappings.collection_id=asset_collections.id WHERE assets.identifier IN ";

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    // rotki's login gate comes first: legacy's 401.
    let super::Admitted { req, open, global, query: ids } = match super::admit(req, &ctx, parse) {
        Ok(admitted) => admitted,
        Err(outcome) => return Ok(*outcome),
    };
    let marks = vec!["?"; ids.len()].join(",");
    let nft_ids = ids.clone();
    // Both reads are kept until their database changes: a table asks for the same assets again.
    let key = format!("assets/mappings {ids:?}");
    let weight = |n: &Option<IndexMap<String, CellMap>>| n.as_ref().map_or(1, |n| n.len() + 1);
    let nfts = open.db.read_cached(key.clone(), weight, move |conn| {
        let sql =
            format!("SELECT identifier, name, collection_name, image_url FROM nfts WHERE identifier IN ({marks})");
        let mut stmt = conn.prepare(&sql).map_err(super::sql_error)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(&nft_ids)).map_err(super::sql_error)?;
        let mut nfts: IndexMap<String, CellMap> = IndexMap::new();
        while let Some(row) = rows.next().map_err(super::sql_error)? {
            let cell = |i: usize| row.get_ref(i).map_err(super::sql_error).and_then(Cell::of);
            let Some(id) = cell(0)?.text() else { return Ok(None) };
            let entry = IndexMap::from([
                ("name", cell(1)?),
                ("asset_type", Cell::Text("nft".into())),
                ("collection_name", cell(2)?),
                ("image_url", cell(3)?),
            ]);
            nfts.insert(id, entry);
        }
        let readable = !nfts.values().flat_map(|e| e.values()).any(|c| matches!(c, Cell::Unsupported));
        Ok(readable.then_some(nfts))
    });
    let Some(nfts) = nfts.await.ok().and_then(|n| (*n).clone()) else { return Ok(Outcome::HandBack(req)) };
    let found = global.read_cached(
        key,
        |f: &Option<Found>| f.as_ref().map_or(1, |f| f.assets.len() + 1),
        move |conn| run(conn, &ids),
    );
    let found = match found.await {
        Ok(found) => found,
        Err(e) => return Ok(super::respond(req, Err(e))),
    };
    let Some(found) = (*found).clone() else { return Ok(Outcome::HandBack(req)) };
    Ok(super::respond(req, Ok(Some(found.with(nfts)))))
}

/// What global.db says of the identifiers asked for.
#[derive(Clone)]
struct Found {
    assets: IndexMap<String, CellMap>,
    collections: IndexMap<String, CellMap>,
}

impl Found {
    /// rotki's answer: the assets, then the user's NFTs among the identifiers (an NFT with
    /// an asset's identifier replaces it in place), and the collections.
    fn with(mut self, nfts: IndexMap<String, CellMap>) -> Vec<u8> {
        for (id, nft) in nfts {
            self.assets.insert(id, nft);
        }
        #[derive(serde::Serialize)]
        struct Mappings {
            assets: IndexMap<String, CellMap>,
            asset_collections: IndexMap<String, CellMap>,
        }
        json::dumps(&Mappings { assets: self.assets, asset_collections: self.collections })
    }
}

fn parse(json: Option<&serde_json::Value>) -> Result<Vec<String>, Refusal> {
    let mut f = Fields::json(json)?;
    let ids = f.string_list("identifiers", true, true);
    f.finish()?;
    Ok(ids.unwrap_or_default().into_iter().flatten().collect())
}

/// `None` when a row is one only rotki renders.
fn run(conn: &Connection, ids: &[String]) -> Result<Option<Found>, String> {
    let sql = format!("{SELECT}({})", vec!["?"; ids.len()].join(","));
    let mut stmt = conn.prepare(&sql).map_err(super::sql_error)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(ids)).map_err(super::sql_error)?;
    let mut assets: IndexMap<String, CellMap> = IndexMap::new();
    let mut collections: IndexMap<String, CellMap> = IndexMap::new();
    while let Some(row) = rows.next().map_err(super::sql_error)? {
        let cell = |i: usize| row.get_ref(i).map_err(super::sql_error).and_then(Cell::of);
        let Some(id) = cell(0)?.text() else { return Ok(None) };
        let Some(asset_type) = cell(4)?.text().and_then(|t| AssetType::from_db(&t)) else { return Ok(None) };
        let mut entry = IndexMap::from([
            ("name", cell(1)?),
            ("symbol", cell(2)?),
            ("asset_type", Cell::Text(asset_type.api_string())),
        ]);
        if !super::chain_and_custom_type(&mut entry, cell(3)?, cell(5)?) {
            return Ok(None);
        }
        match cell(6)? {
            Cell::Null => {}
            Cell::Int(collection) => {
                let key = collection.to_string();
                entry.insert("collection_id", Cell::Text(key.clone()));
                let details = IndexMap::from([("name", cell(7)?), ("symbol", cell(8)?), ("main_asset", cell(9)?)]);
                collections.insert(key, details);
            }
            _ => return Ok(None),
        }
        let spam = |c: Cell| matches!(c, Cell::Text(p) if p == "spam");
        if spam(cell(10)?) || spam(cell(13)?) {
            entry.insert("is_spam", Cell::Bool(true));
        }
        for (key, i) in [("coingecko", 11), ("cryptocompare", 12)] {
            match cell(i)? {
                Cell::Null => {}
                value => {
                    entry.insert(key, value);
                }
            }
        }
        // A later row of the same asset (a second collection) replaces it in place.
        assets.insert(id, entry);
    }
    let all = || assets.values().chain(collections.values()).flat_map(|e| e.values());
    if all().any(|c| matches!(c, Cell::Unsupported)) {
        return Ok(None);
    }
    Ok(Some(Found { assets, collections }))
}
