#!/usr/bin/env python3
"""Writes tests/legacy/fixtures/global.sql: rotki's global.db schema (v16) and a slice of a
real global.db's assets, chosen so every filter, ordering and mapping of the asset routes
returns rows (every asset type, tokens on every chain, every protocol, underlying tokens,
collections, counterparty mappings, non-ASCII names, forks and swaps), plus what no stock
global.db has (custom assets, user-owned assets, an erc721 token, split weights), and the ten location
mappings of the captures in shared/rotki/endpoints.md.

A developer tool, run by hand against a real global.db (the tests only read its output):
    scripts/globaldb-fixture.py PATH/TO/global.db > tests/legacy/fixtures/global.sql
The choice is deterministic (rowid order), so a rerun on the same database gives the same file.
"""
import sqlite3
import sys

# The ten location mappings of the captures (endpoints.md, "Test data"), in rowid order:
# tests compare with those captures, so these stay exactly as they are.
LOCATION_MAPPINGS = [
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
# What a stock global.db does not have, as rotki v1.43.2's own routes wrote it in a capture
# session: custom assets, an LP token with three underlying tokens, an erc721 token, a token
# whose underlying tokens rotki created without names, and the assets manual balances made
# user-owned.
EXTRA = {
    'assets': [
        ('f061b316-2fe7-4ae7-9548-a065ccaff6f8', 'Café ünïcödé 日本 ☃', '['),
        ('a9be55a8-f92a-46e3-9ac4-9709ff627045', 'My House', '['),
        ('eip155:1/erc20:0x1111111111111111111111111111111111111111', 'Tri Pool LP', 'C'),
        ('eip155:8453/erc721:0x2222222222222222222222222222222222222222/42', 'Test Kitties #42', 'C'),
        ('eip155:100/erc20:0x3333333333333333333333333333333333333333', 'Weird Weights', 'C'),
        ('eip155:100/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F', None, 'C'),
        ('eip155:100/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', None, 'C'),
    ],
    'common_asset_details': [
        ('eip155:1/erc20:0x1111111111111111111111111111111111111111', 'TRI', None, None, None, None, None),
        ('eip155:8453/erc721:0x2222222222222222222222222222222222222222/42', 'TKT', None, None, None, 1600000000, None),
        ('eip155:100/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F', None, None, '', None, None, None),
        ('eip155:100/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', None, None, '', None, None, None),
        ('eip155:100/erc20:0x3333333333333333333333333333333333333333', 'WW', None, None, None, None, None),
    ],
    'custom_assets': [
        ('f061b316-2fe7-4ae7-9548-a065ccaff6f8', 'note é', 'ßtuff'),
        ('a9be55a8-f92a-46e3-9ac4-9709ff627045', None, 'real estate'),
    ],
    'evm_tokens': [
        ('eip155:1/erc20:0x1111111111111111111111111111111111111111', 'A', 1,
         '0x1111111111111111111111111111111111111111', 18, 'testproto'),
        ('eip155:8453/erc721:0x2222222222222222222222222222222222222222/42', 'B', 8453,
         '0x2222222222222222222222222222222222222222', 0, None),
        ('eip155:100/erc20:0x3333333333333333333333333333333333333333', 'A', 100,
         '0x3333333333333333333333333333333333333333', 6, None),
        ('eip155:100/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F', 'A', 100,
         '0x6B175474E89094C44Da98b954EedeAC495271d0F', None, None),
        ('eip155:100/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', 'A', 100,
         '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', None, None),
    ],
    'underlying_tokens_list': [
        ('eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F', '0.333333',
         'eip155:1/erc20:0x1111111111111111111111111111111111111111'),
        ('eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', '0.333333',
         'eip155:1/erc20:0x1111111111111111111111111111111111111111'),
        ('eip155:1/erc20:0xdAC17F958D2ee523a2206206994597C13D831ec7', '0.333334',
         'eip155:1/erc20:0x1111111111111111111111111111111111111111'),
        ('eip155:100/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F', '0.001',
         'eip155:100/erc20:0x3333333333333333333333333333333333333333'),
        ('eip155:100/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', '0.999',
         'eip155:100/erc20:0x3333333333333333333333333333333333333333'),
    ],
    'user_owned_assets': [
        ('BTC',), ('eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F',),
        ('f061b316-2fe7-4ae7-9548-a065ccaff6f8',), ('eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48',),
    ],
}
WHITELIST_KEY = 'SPAM_ASSET_FALSE_POSITIVE'
MUST = ['BTC', 'eip155:1/erc20:0xdAC17F958D2ee523a2206206994597C13D831ec7', 'ETH', 'ETH2', 'BCH', 'EUR', 'USD', 'DOT', 'KSM', 'SOL', 'AVAX', 'XMR', 'DOGE', 'LTC']
COLLECTIONS = ['USDC', 'DAI', 'ETH', 'WETH', 'USDT', 'WBTC', 'LINK', 'UNI', 'AAVE', 'CRV']
TABLES = [
    'settings', 'asset_types', 'price_history_source_types', 'token_kinds', 'assets',
    'common_asset_details', 'evm_tokens', 'solana_tokens', 'custom_assets', 'user_owned_assets',
    'underlying_tokens_list', 'asset_collections', 'multiasset_mappings', 'location_asset_mappings',
    'counterparty_asset_mappings', 'general_cache',
]


def main(path):
    src = sqlite3.connect(f'file:{path}?mode=ro', uri=True)
    q = lambda sql, *p: src.execute(sql, p).fetchall()  # noqa: E731
    chosen = dict.fromkeys(MUST)
    add = lambda ids: chosen.update(dict.fromkeys(i for (i,) in ids))  # noqa: E731
    add(q("SELECT identifier FROM assets WHERE type NOT IN ('B', 'C', 'W', 'Y') ORDER BY rowid"))
    add(q("SELECT identifier FROM assets WHERE type IN ('B', 'W') AND rowid % 12 = 0 ORDER BY rowid"))
    add(q("SELECT identifier FROM solana_tokens WHERE rowid % 25 = 0 ORDER BY rowid"))
    for (chain,) in q('SELECT DISTINCT chain FROM evm_tokens ORDER BY chain'):
        add(q('SELECT identifier FROM evm_tokens WHERE chain = ? ORDER BY rowid LIMIT 12', chain))
    for (protocol,) in q('SELECT DISTINCT protocol FROM evm_tokens WHERE protocol IS NOT NULL ORDER BY 1'):
        add(q('SELECT identifier FROM evm_tokens WHERE protocol = ? ORDER BY rowid LIMIT 3', protocol))
    add(q("SELECT identifier FROM assets WHERE name GLOB '*[^ -~]*' ORDER BY rowid LIMIT 12"))
    parents = q('SELECT DISTINCT parent_token_entry FROM underlying_tokens_list ORDER BY rowid LIMIT 12')
    add(parents)
    for (parent,) in parents:
        add(q('SELECT identifier FROM underlying_tokens_list WHERE parent_token_entry = ?', parent))
    add(q('SELECT local_id FROM counterparty_asset_mappings ORDER BY rowid'))
    add(q('SELECT value FROM general_cache WHERE key = ? ORDER BY rowid LIMIT 8', WHITELIST_KEY))
    collections = [
        cid for (cid,) in q(
            f"SELECT id FROM asset_collections WHERE symbol IN ({','.join('?' * len(COLLECTIONS))}) ORDER BY id",
            *COLLECTIONS,
        )
    ]
    for cid in collections:
        add(q('SELECT main_asset FROM asset_collections WHERE id = ?', cid))
        add(q('SELECT asset FROM multiasset_mappings WHERE collection_id = ? ORDER BY rowid', cid))
    for (ident,) in [(i,) for i, _, _ in LOCATION_MAPPINGS]:
        chosen[ident] = None
    # Forks and swaps point at assets: keep the targets, so the foreign keys hold.
    while True:
        marks = ','.join('?' * len(chosen))
        extra = q(
            f'SELECT forked FROM common_asset_details WHERE identifier IN ({marks}) AND forked IS NOT NULL '
            f'UNION SELECT swapped_for FROM common_asset_details WHERE identifier IN ({marks}) '
            'AND swapped_for IS NOT NULL', *chosen, *chosen,
        )
        new = [e for (e,) in extra if e not in chosen and q('SELECT 1 FROM assets WHERE identifier = ?', e)]
        if not new:
            break
        add([(e,) for e in new])
    ids = [i for i in chosen if q('SELECT 1 FROM assets WHERE identifier = ?', i)]
    marks = ','.join('?' * len(ids))

    out = sys.stdout
    out.write('-- Generated by scripts/globaldb-fixture.py from a real rotki global.db (schema v16); do not edit.\n')
    out.write('PRAGMA foreign_keys=OFF;\nBEGIN;\n')
    for name in TABLES:
        (sql,) = q("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", name)[0]
        out.write(sql.strip() + ';\n')
    for (sql,) in q("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid"):
        table = sql.split(' ON ')[1].split(' ')[0]
        if table in TABLES:
            out.write(sql.strip() + ';\n')

    def rows(table, sql, *params):
        for row in q(sql, *params):
            out.write(f'INSERT INTO {table} VALUES ({", ".join(literal(v) for v in row)});\n')

    out.write("INSERT INTO settings VALUES ('version', '16'), ('assets_version', '42');\n")
    for table in ('asset_types', 'price_history_source_types', 'token_kinds'):
        rows(table, f'SELECT * FROM {table} ORDER BY rowid')
    rows('assets', f'SELECT * FROM assets WHERE identifier IN ({marks}) ORDER BY rowid', *ids)
    rows('common_asset_details', f'SELECT * FROM common_asset_details WHERE identifier IN ({marks}) ORDER BY rowid', *ids)
    rows('evm_tokens', f'SELECT * FROM evm_tokens WHERE identifier IN ({marks}) ORDER BY rowid', *ids)
    rows('solana_tokens', f'SELECT * FROM solana_tokens WHERE identifier IN ({marks}) ORDER BY rowid', *ids)
    rows(
        'underlying_tokens_list',
        f'SELECT * FROM underlying_tokens_list WHERE identifier IN ({marks}) AND parent_token_entry IN ({marks}) '
        'ORDER BY rowid', *ids, *ids,
    )
    cmarks = ','.join('?' * len(collections))
    rows('asset_collections', f'SELECT * FROM asset_collections WHERE id IN ({cmarks}) ORDER BY id', *collections)
    rows(
        'multiasset_mappings',
        f'SELECT * FROM multiasset_mappings WHERE collection_id IN ({cmarks}) AND asset IN ({marks}) ORDER BY rowid',
        *collections, *ids,
    )
    rows('counterparty_asset_mappings', 'SELECT * FROM counterparty_asset_mappings ORDER BY rowid')
    for row in LOCATION_MAPPINGS:
        out.write(f'INSERT INTO location_asset_mappings VALUES ({", ".join(literal(v) for v in row)});\n')
    for table, extra in EXTRA.items():
        for row in extra:
            out.write(f'INSERT INTO {table} VALUES ({", ".join(literal(v) for v in row)});\n')
    # The whitelist (spam false positives) entries among the chosen assets.
    rows('general_cache', f'SELECT * FROM general_cache WHERE key = ? AND value IN ({marks}) ORDER BY rowid',
         WHITELIST_KEY, *ids)
    out.write('COMMIT;\n')


def literal(v):
    if v is None:
        return 'NULL'
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


if __name__ == '__main__':
    main(sys.argv[1])
