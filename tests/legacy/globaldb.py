"""rotki's global.db as the legacy app reads it: plain SQLite in WAL mode under
`<data-dir>/global/global.db`, one shared connection, and the progress-handler hack rotki
v1.43.2 uses so a long statement does not freeze gevent's single thread (the handler yields
to other greenlets every `sqlite_instructions` SQLite instructions, inside the running
statement). Also the Location enum and the `locationmappings` query, as
shared/rotki/endpoints.md §d records them.
"""
import os
import sqlite3
from pathlib import Path

import gevent
from gevent.lock import Semaphore

SQLITE_INSTRUCTIONS = 5000

# (enum name, allowed as the locationmappings filter), in value order 1..58; the DB char is
# chr(value + 64) and the API string the lower-case name with '_' as ' '.
LOCATIONS = [
    ('EXTERNAL', False), ('KRAKEN', True), ('POLONIEX', True), ('BITTREX', True), ('BINANCE', True),
    ('BITMEX', True), ('COINBASE', True), ('TOTAL', False), ('BANKS', False), ('BLOCKCHAIN', False),
    ('COINBASEPRO', True), ('GEMINI', True), ('EQUITIES', False), ('REALESTATE', False),
    ('COMMODITIES', False), ('CRYPTOCOM', True), ('UNISWAP', False), ('BITSTAMP', True),
    ('BINANCEUS', True), ('BITFINEX', True), ('BITCOINDE', True), ('ICONOMI', True), ('KUCOIN', True),
    ('BALANCER', False), ('LOOPRING', False), ('FTX', True), ('NEXO', True), ('BLOCKFI', True),
    ('INDEPENDENTRESERVE', True), ('GITCOIN', False), ('SUSHISWAP', False), ('SHAPESHIFT', True),
    ('UPHOLD', True), ('BITPANDA', True), ('BISQ', True), ('FTXUS', True), ('OKX', True),
    ('ETHEREUM', False), ('OPTIMISM', False), ('POLYGON_POS', False), ('ARBITRUM_ONE', False),
    ('BASE', False), ('GNOSIS', False), ('WOO', True), ('BYBIT', True), ('SCROLL', False),
    ('ZKSYNC_LITE', False), ('HTX', True), ('BITCOIN', False), ('BITCOIN_CASH', False),
    ('POLKADOT', False), ('KUSAMA', False), ('COINBASEPRIME', True), ('BINANCE_SC', False),
    ('SOLANA', False), ('AVALANCHE', False), ('HYPERLIQUID', False), ('MONAD', False),
]
BY_NAME = {name: chr(i + 65) for i, (name, _) in enumerate(LOCATIONS)}
BY_CHAR = {chr(i + 65): name for i, (name, _) in enumerate(LOCATIONS)}
# rotki's ALL_SUPPORTED_EXCHANGES in its own order, as the error message lists it.
SUPPORTED_TEXT = (
    'kucoin,okx,coinbaseprime,bitpanda,binance,binanceus,bitcoinde,bitfinex,bitmex,bitstamp,'
    'coinbase,cryptocom,gemini,iconomi,kraken,independentreserve,poloniex,woo,bybit,htx,cryptocom,'
    'blockfi,nexo,shapeshift,uphold,bisq,bitmex,ftx,ftxus,bittrex,coinbasepro'
)
SUPPORTED = {n for n, allowed in LOCATIONS if allowed}

SCHEMA = """
CREATE TABLE settings (name VARCHAR[24] NOT NULL PRIMARY KEY, value TEXT);
CREATE TABLE asset_types (type CHAR(1) PRIMARY KEY NOT NULL, seq INTEGER UNIQUE);
CREATE TABLE assets (identifier TEXT PRIMARY KEY NOT NULL COLLATE NOCASE, name TEXT,
                     type CHAR(1) NOT NULL DEFAULT('A') REFERENCES asset_types(type));
CREATE TABLE common_asset_details (identifier TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
    symbol TEXT, coingecko TEXT, cryptocompare TEXT, forked TEXT, started INTEGER, swapped_for TEXT,
    FOREIGN KEY (forked) REFERENCES assets(identifier) ON UPDATE CASCADE ON DELETE SET NULL,
    FOREIGN KEY (identifier) REFERENCES assets(identifier) ON UPDATE CASCADE ON DELETE CASCADE,
    FOREIGN KEY (swapped_for) REFERENCES assets(identifier) ON UPDATE CASCADE ON DELETE SET NULL);
CREATE TABLE location_asset_mappings (location TEXT, exchange_symbol TEXT NOT NULL,
    local_id TEXT NOT NULL COLLATE NOCASE, UNIQUE (location, exchange_symbol));
CREATE INDEX idx_assets_identifier ON assets (identifier);
CREATE INDEX idx_common_assets_identifier ON common_asset_details (identifier);
CREATE INDEX idx_location_mappings_identifier ON location_asset_mappings (local_id);
INSERT INTO settings VALUES ('version', '16'), ('assets_version', '42');
"""

# The rows of the captures (endpoints.md, "Test data"), in rowid order.
MAPPINGS = [
    ('B', 'XBT', 'BTC'),
    (None, 'USDC', 'eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48'),
    ('E', 'BETH', 'ETH2'),
    ('B', 'XETH', 'ETH'),
    (None, 'DAI', 'eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F'),
    ('E', 'BCHABC', 'BCH'),
    ('B', 'ETH2', 'ETH2'),
    ('G', 'FET', 'eip155:1/erc20:0xaea46A60368A7bD060eec7DF8CBa43b7EF41Ad85'),
    ('l', 'ETH-AETH', 'ETH'),
    ('B', 'ZEUR', 'EUR'),
]


def ensure(data_dir):
    """Creates the fixture global.db if there is none; atomically, so parallel test
    processes sharing a data dir never see half a file."""
    path = Path(data_dir) / 'global' / 'global.db'
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'global.db.{os.getpid()}.tmp')
    conn = sqlite3.connect(tmp)
    conn.executescript(SCHEMA)
    conn.executemany(
        'INSERT INTO location_asset_mappings(location, exchange_symbol, local_id) VALUES (?, ?, ?)', MAPPINGS,
    )
    conn.commit()
    conn.execute('PRAGMA journal_mode=WAL')
    conn.close()
    os.replace(tmp, path)
    return path


class GlobalDB:
    """One shared connection, as rotki's GlobalDBHandler holds; statements take turns (a
    lock), and a running statement lets other greenlets run (the progress handler)."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute('PRAGMA foreign_keys=ON')
        self.conn.execute('PRAGMA journal_mode=WAL')
        self.conn.set_progress_handler(_yield, SQLITE_INSTRUCTIONS)
        self.lock = Semaphore()

    def query(self, sql, params=()):
        with self.lock:
            return self.conn.execute(sql, params).fetchall()


def _yield():
    gevent.sleep(0)
    return 0


def location_api_string(char):
    if char is None:
        return None
    if len(char) != 1:
        raise ValueError(f'Failed to deserialize Location DB value from multi-character value: {char}')
    name = BY_CHAR.get(char)
    if name is None:
        raise ValueError(f'Failed to deserialize Location DB value {char}')
    return name.lower().replace('_', ' ')


def location_mappings(db, location, location_symbol, limit, offset, location_given):
    """rotki's three autocommit statements (endpoints.md §d, "SQL that rotki runs")."""
    conditions, params = [], []
    if location_symbol is not None:
        conditions.append('(exchange_symbol LIKE ?)')
        params.append(f'%{location_symbol}%')
    if location_given:
        conditions.append('(location IS ?)')
        params.append(None if location is None else BY_NAME[location])
    where = ('WHERE ' + ' AND '.join(conditions)) if conditions else ''
    pagination = ''
    if limit is not None and offset is not None:
        pagination = f'LIMIT {limit or -1}' + (f' OFFSET {offset}' if offset != 0 else '')
    total = db.query('SELECT COUNT(*) FROM location_asset_mappings')[0][0]
    found = db.query(' '.join(['SELECT COUNT(*) FROM location_asset_mappings', where]), params)[0][0]
    rows = db.query(
        ' '.join(['SELECT local_id, location, exchange_symbol FROM location_asset_mappings', where, pagination]),
        params,
    )
    entries = [
        {'asset': local_id, 'location': location_api_string(char), 'location_symbol': symbol}
        for local_id, char, symbol in rows
    ]
    return {'entries': entries, 'entries_found': found, 'entries_total': total}
