//! A global.db with many rows, for slow native and legacy queries (tests and benchmarks):
//! the schema of rotki's `location_asset_mappings` and `settings` tables, `rows` kraken
//! mappings with long symbols.

use std::path::Path;

pub fn fill(data_dir: &Path, rows: usize) {
    std::fs::create_dir_all(data_dir.join("global")).unwrap();
    let mut db = rusqlite::Connection::open(data_dir.join("global/global.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE settings (name VARCHAR[24] NOT NULL PRIMARY KEY, value TEXT);
         CREATE TABLE location_asset_mappings (location TEXT, exchange_symbol TEXT NOT NULL,
             local_id TEXT NOT NULL COLLATE NOCASE, UNIQUE (location, exchange_symbol));
         CREATE INDEX idx_location_mappings_identifier ON location_asset_mappings (local_id);
         PRAGMA journal_mode=WAL;",
    )
    .unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut insert = tx.prepare("INSERT INTO location_asset_mappings VALUES ('B', ?, 'ETH')").unwrap();
        for i in 0..rows {
            insert.execute([format!("xxxxxxxxxxxxxxxxxxxxxxxx{i}")]).unwrap();
        }
    }
    tx.commit().unwrap();
}
