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

FIXTURE = Path(__file__).parent / 'fixtures' / 'global.sql'


def ensure(data_dir):
    """Creates the fixture global.db (fixtures/global.sql: rotki's schema v16, a slice of a
    real global.db's assets and the captures' location mappings) if there is none;
    atomically, so parallel test processes sharing a data dir never see half a file."""
    path = Path(data_dir) / 'global' / 'global.db'
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'global.db.{os.getpid()}.tmp')
    conn = sqlite3.connect(tmp)
    conn.executescript(FIXTURE.read_text())
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
