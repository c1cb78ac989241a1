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
    let (Some(open), Some(global)) = (ctx.sessions.open(), ctx.global_db.clone()) else {
        return Ok(Outcome::HandBack(req));
    };
    // The plain webargs parser: a body that is not JSON reads as `{}`.
    let ids = match parse(req.json.as_ref()) {
        Ok(ids) => ids,
        Err(refusal) => return Ok(super::refuse(req, refusal)),
    };
    let marks = vec!["?"; ids.len()].join(",");
    let nft_ids = ids.clone();
    let nfts = open.db.read(move |conn| {
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
        Ok(Some(nfts))
    });
    let Ok(Some(nfts)) = nfts.await else { return Ok(Outcome::HandBack(req)) };
    super::answer(req, &global, move |conn| run(conn, &ids, nfts)).await
}

fn parse(json: Option<&serde_json::Value>) -> Result<Vec<String>, Refusal> {
    let mut f = Fields::json(json)?;
    let ids = f.string_list("identifiers", true, true);
    f.finish()?;
    Ok(ids.unwrap_or_default().into_iter().flatten().collect())
}

fn run(conn: &Connection, ids: &[String], nfts: IndexMap<String, CellMap>) -> Result<Option<Vec<u8>>, String> {
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
    for (id, nft) in nfts {
        assets.insert(id, nft);
    }
    let all = || assets.values().chain(collections.values()).flat_map(|e| e.values());
    if all().any(|c| matches!(c, Cell::Unsupported)) {
        return Ok(None);
    }
    #[derive(serde::Serialize)]
    struct Mappings {
        assets: IndexMap<String, CellMap>,
        asset_collections: IndexMap<String, CellMap>,
    }
    Ok(Some(json::dumps(&Mappings { assets, asset_collections: collections })))
}
