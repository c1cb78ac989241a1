"""rotki v1.43.2's asset search and mapping routes, as the legacy stand-in serves them.

    POST /api/1/assets/search               search by one column (name or symbol)
    POST /api/1/assets/search/levenshtein   substring filter, then ranked by edit distance
    POST /api/1/assets/mappings             identifier -> details (global DB + the user's NFTs)
    POST /api/1/assets/counterpartymappings the counterparty_asset_mappings table, paginated
    GET  /api/1/assets/ignored/whitelist    the spam false-positive list (general_cache)
    POST /api/1/assets/ignored/whitelist    adds a token to it (and un-spams / un-ignores it)

The facts (field order, messages, SQL text, key order, tie-breaks) are recorded in
captures/17/assets-search.md; the SQL below is rotki's text, so SQLite picks the same plan
and rows come in the same order. `register(app, api_response, fail, gdb, users)` adds the
routes: `gdb` is globaldb.GlobalDB (autocommit, `query(sql, params)`), `users` is
users.Users. The user database is read through `users`' API (`ignored_assets`, `settings`)
and, for the `nfts` table, which users.py does not create, through `users.conn` directly
(`_user_nfts`): a missing table reads as empty, as rotki's always-present empty one does.
"""
import time
import urllib.parse

from flask import request
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema
from polyleven import levenshtein
from webargs.flaskparser import parser

import login_history
from rotki_enums import ASSET_TYPES, CHAINS
from rotki_fields import (
    DBOrderBySchema, DBPaginationSchema, DelimitedOrNormalList, EmptyAsNoneStringField, EnumNameField,
    NonEmptyStringField, evm_or_solana_address, load_json_body,
)

# ---- enums, as rotki names and numbers them -------------------------------------------

CHAIN_NAMES = {v: k.lower() for k, v in CHAINS.items()}
# The chains rotki maps to a SupportedBlockchain, with that blockchain's native token. Any
# other chain makes the levenshtein filter fail with rotki's KeyError text.
CHAIN_NATIVE_TOKEN = {
    'ETHEREUM': 'ETH', 'OPTIMISM': 'ETH', 'AVALANCHE': 'AVAX',
    'POLYGON_POS': 'eip155:137/erc20:0x0000000000000000000000000000000000001010', 'ARBITRUM_ONE': 'ETH',
    'BASE': 'ETH', 'HYPERLIQUID': 'HYPE', 'GNOSIS': 'XDAI', 'SCROLL': 'ETH', 'BINANCE_SC': 'BNB', 'MONAD': 'MON',
}
# The native token of every SupportedBlockchain (fiat first, then these, in the ranking).
NATIVE_TOKEN_IDS = frozenset({
    'ETH', 'ETH2', 'BTC', 'BCH', 'KSM', 'AVAX', 'DOT', 'eip155:137/erc20:0x0000000000000000000000000000000000001010',
    'HYPE', 'XDAI', 'BNB', 'MON', 'SOL',
})
TYPE_BY_CHAR = {chr(v + 64): k.lower().replace('_', ' ') for k, v in ASSET_TYPES.items()}
FIAT, CUSTOM_ASSET_CHAR, EVM_TOKEN_CHAR, SOLANA_TOKEN_CHAR = 'fiat', '[', 'C', 'Y'

# What chains_aggregator.get_all_counterparties() yields in v1.43.2 (identifiers only; a set).
COUNTERPARTIES = frozenset([
    '0x', '1inch', '1inch-v1', '1inch-v2', '1inch-v3', '1inch-v4', '1inch-v5', '1inch-v6', 'Locked GNO', 'aave',
    'aave-v1', 'aave-v2', 'aave-v3', 'account delegation', 'aerodrome', 'arbitrum_one', 'aura-finance', 'badger',
    'balancer-v1', 'balancer-v2', 'balancer-v3', 'base', 'basenames', 'beefy_finance', 'blur', 'cctp', 'clrfund',
    'compound', 'compound-v3', 'convex', 'cowswap', 'crosscurve', 'curve', 'defisaver', 'degen', 'digixdao',
    'diva', 'drips', 'dxdaomesa', 'eas', 'echo', 'efp', 'eigenlayer', 'element-finance', 'ens', 'eth2', 'extrafi',
    'farcaster', 'firebird-finance', 'fluence', 'frax', 'gas', 'gearbox', 'gho', 'gitcoin', 'giveth', 'gmx',
    'gnosis-chain', 'gnosis_pay', 'golem', 'harvest finance', 'hedgey', 'hop', 'hyperliquid', 'jito', 'juicebox',
    'jupiter', 'kraken', 'kyber', 'kyber legacy', 'lido', 'lido-csm', 'liquity', 'llamazip', 'magpie',
    'makerdao dsr', 'makerdao migration', 'makerdao sai', 'makerdao vault', 'merkl', 'metamask_swaps',
    'mintclub', 'monerium', 'morpho', 'morpho_blue', 'octant', 'odos-v1', 'odos-v2', 'omni', 'openocean',
    'optimism', 'paladin', 'paraswap', 'pendle', 'pickle finance', 'poloniex', 'polygon', 'puffer', 'pump-fun',
    'quickswap-v2', 'quickswap-v3', 'quickswap-v4', 'rainbow_swaps', 'rotki', 'runmoney', 'safe',
    'safe-multisig', 'scroll', 'shapeshift', 'shutter', 'sky', 'socket', 'spark', 'stakedao', 'stakedao-v2',
    'summer-fi', 'superfluid', 'sushiswap', 'sushiswap-v2', 'thegraph', 'umami', 'uniswap', 'uniswap-v1',
    'uniswap-v2', 'uniswap-v3', 'uniswap-v4', 'uphold', 'velodrome', 'votium', 'walletconnect', 'weth', 'wmatic',
    'wmon', 'woo-fi', 'wxdai', 'yearn-v1', 'yearn-v2', 'yearn-v3', 'yearn_staking', 'ygov', 'zksync',
])

SPAM_PROTOCOL = 'spam'
WHITELIST_KEY = 'SPAM_ASSET_FALSE_POSITIVE'

# rotki's joins of the assets tables, byte for byte (whitespace included).
_JOINS = (
    '\nFROM assets LEFT JOIN common_asset_details on assets.identifier=common_asset_details.identifier\n'
    'LEFT JOIN evm_tokens ON evm_tokens.identifier=assets.identifier\n'
    'LEFT JOIN custom_assets ON custom_assets.identifier=assets.identifier\n'
    'LEFT JOIN solana_tokens ON solana_tokens.identifier=assets.identifier\n'
)
ASSETS_SELECT = (
    '\nSELECT assets.identifier, name, symbol, chain, assets.type, custom_assets.type, evm_tokens.address, '
    'solana_tokens.address ' + _JOINS
)
MAPPINGS_SELECT = (
    'SELECT assets.identifier, assets.name, common_asset_details.symbol, chain, assets.type, custom_assets.type, '
    'collection_id, asset_collections.name, asset_collections.symbol, asset_collections.main_asset, '
    'evm_tokens.protocol, common_asset_details.coingecko, common_asset_details.cryptocompare, '
    'solana_tokens.protocol' + _JOINS + 'LEFT JOIN multiasset_mappings ON assets.identifier=multiasset_mappings.asset '
    'LEFT JOIN asset_collections ON multiasset_mappings.collection_id=asset_collections.id'
)


class ServerError(Exception):
    """Surfaces as rotki's 500 with exactly this text (the app's catch-all handler)."""


# ---- fields --------------------------------------------------------------------------

class Counterparty(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if value is not None and value not in COUNTERPARTIES:  # an unhashable value: TypeError, a 500
            raise ValidationError(f'Unknown counterparty {value} provided')
        return value


# ---- schemas (fields in rotki's effective order: inherited ones first) -------------------

class SearchSchema(DBOrderBySchema, DBPaginationSchema):  # rotki's AssetsSearchByColumnSchema
    search_column = fields.String(required=True, validate=validate.OneOf(choices=('name', 'symbol')))
    value = NonEmptyStringField(required=True)
    evm_chain = EnumNameField(CHAINS, 'evm chain', load_default=None)
    return_exact_matches = fields.Boolean(load_default=False)

    @post_load
    def to_query(self, data, **_kwargs):
        attributes = data['order_by_attributes'] or ['name']
        ascending = data['ascending'] or []
        order = [(a, ascending[i] if i < len(ascending) else False) for i, a in enumerate(attributes)]
        return {'column': data['search_column'], 'text': data['value'].strip(),
                'exact': data['return_exact_matches'], 'chain': data['evm_chain'], 'order': order,
                'limit': data['limit']}


class LevenshteinSchema(Schema):
    value = EmptyAsNoneStringField(load_default=None)
    evm_chain = EnumNameField(CHAINS, 'evm chain', load_default=None)
    address = EmptyAsNoneStringField(load_default=None)
    limit = fields.Integer(required=True)
    search_nfts = fields.Boolean(load_default=False)
    asset_type = EnumNameField(ASSET_TYPES, 'AssetType', load_default=None)

    @validates_schema
    def need_value_or_address(self, data, **_kwargs):
        if data['value'] is None and data['address'] is None:
            raise ValidationError('Either value or address need to be provided')

    @post_load
    def to_query(self, data, **_kwargs):
        address = evm_or_solana_address(data['address'])
        chain, asset_type = data['evm_chain'], data['asset_type']
        native = None
        if chain is not None:
            if chain not in CHAIN_NATIVE_TOKEN:
                raise ServerError(f'<ChainID.{chain}: {CHAINS[chain]}>')
            native = CHAIN_NATIVE_TOKEN[chain]
        if asset_type == 'SOLANA_TOKEN':
            native = 'SOL'
        return {'text': data['value'].strip().casefold() if data['value'] else None, 'chain': chain,
                'asset_type': asset_type, 'native': native, 'address': address,
                'limit': data['limit'], 'search_nfts': data['search_nfts']}


class MappingsSchema(Schema):
    identifiers = DelimitedOrNormalList(NonEmptyStringField(required=True), required=True)


class CounterpartyMappingsSchema(Schema):
    counterparty = Counterparty(load_default=None)
    limit = fields.Integer(load_default=None)
    offset = fields.Integer(load_default=None)
    counterparty_symbol = EmptyAsNoneStringField(load_default=None)


# ---- helpers -----------------------------------------------------------------------------

def where_clause(filters):
    """rotki's DBFilterQuery.prepare: each filter in parentheses, joined with AND."""
    return ('WHERE ' + ' AND '.join(f'({f})' for f in filters)) if filters else ''


def pagination_clause(limit, offset):
    """rotki's pagination: only when both are given; 0 means no limit; OFFSET 0 omitted."""
    if limit is None or offset is None:
        return ''
    return f'LIMIT {limit or -1}' + (f' OFFSET {offset}' if offset else '')


def asset_mappings_query(gdb, table, columns, keys, filters, params, limit, offset, reader=None):
    """The location/counterparty mappings read: total, filtered count, then the page, with
    rotki's statement text (`f'SELECT ... FROM {table} {query}'`, a trailing space when empty)."""
    where = where_clause(filters)
    total = gdb.query(f'SELECT COUNT(*) FROM {table}')[0][0]
    found = gdb.query(f'SELECT COUNT(*) FROM {table} {where}', params)[0][0]
    query = ' '.join(part for part in (where, pagination_clause(limit, offset)) if part)
    rows = gdb.query(f'SELECT {columns} FROM {table} {query}', params)
    entries = [dict(zip(keys, row)) for row in rows]
    if reader is not None:
        entries = [reader(entry) for entry in entries]
    return {'entries': entries, 'entries_found': found, 'entries_total': total}


def _user_nfts(users, sql, params):
    try:
        return users.conn.execute(sql, params).fetchall()
    except Exception as e:  # the stand-in's user DB has no nfts table unless a test made one
        if 'no such table: nfts' in str(e):
            return []
        raise


def _treat_eth2_as_eth(users):
    return users.settings()['treat_eth2_as_eth']


def _asset_type_name(char):
    return TYPE_BY_CHAR[char]


def _global_write(gdb, statements):
    """One transaction on the autocommit global connection, holding its statement lock."""
    lock, conn = getattr(gdb, 'lock', None), getattr(gdb, 'conn', None)
    if lock is None or conn is None:
        for sql, params in statements:
            gdb.query(sql, params)
        return
    with lock:
        conn.execute('BEGIN')
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute('COMMIT')
        except Exception:
            conn.execute('ROLLBACK')
            raise


# ---- the routes --------------------------------------------------------------------------

def register(app, api_response, fail, gdb, users):
    history = login_history.for_app(app, users)

    def ok(result):
        return api_response({'result': result, 'message': ''})

    def server_error(message):
        return fail(message, 500)

    def not_unlocked():
        return server_error(login_history.NO_DB)

    def logged_out():
        return server_error(login_history.CLOSED_DB)

    @app.route('/api/1/assets/search', methods=['POST'])
    def assets_search():
        if history.never_logged_in():
            return not_unlocked()
        q = load_json_body(SearchSchema())
        if users.name is None:
            return logged_out()
        treat_eth2_as_eth = _treat_eth2_as_eth(users)
        ignored = set(users.ignored_assets())
        filters, params = [], []
        if q['exact']:
            filters.append(f"{q['column']}=?")
            params.append(q['text'])
        else:
            filters.append(f"{q['column']} LIKE ?")
            params.append(f"%{q['text']}%")
        if q['chain'] is not None:
            filters.append('chain=?')
            params.append(CHAINS[q['chain']])
        order = 'ORDER BY ' + ','.join(f"{a} COLLATE NOCASE {'ASC' if asc else 'DESC'}" for a, asc in q['order'])
        parts = [where_clause(filters), order]
        if q['limit'] is not None:
            parts.append(pagination_clause(q['limit'], 0))
        rows = gdb.query(ASSETS_SELECT + ' '.join(parts), params)
        result, seen_eth = [], False
        for identifier, name, symbol, chain, type_char, custom_type, _, _ in rows:
            if identifier in ignored:
                continue
            if treat_eth2_as_eth and identifier in ('ETH', 'ETH2'):
                if not seen_eth:
                    result.append({'identifier': 'ETH', 'name': 'Ethereum', 'symbol': 'ETH', 'is_custom_asset': False})
                    seen_eth = True
                continue
            entry = {'identifier': identifier, 'name': name, 'symbol': symbol,
                     'is_custom_asset': type_char == CUSTOM_ASSET_CHAR}
            if chain is not None:
                entry['evm_chain'] = CHAIN_NAMES[chain]
            if custom_type is not None:
                entry['custom_asset_type'] = custom_type
            result.append(entry)
        return ok(result)

    @app.route('/api/1/assets/search/levenshtein', methods=['POST'])
    def assets_search_levenshtein():
        if history.never_logged_in():
            return not_unlocked()
        q = load_json_body(LevenshteinSchema())
        if users.name is None:
            return logged_out()
        text = q['text']
        asset_filters, asset_params = [], []
        if text is not None:
            asset_filters.append('(name LIKE ? OR symbol LIKE ?)')
            asset_params += [f'%{text}%', f'%{text}%']
        narrowing, narrowing_params = [], []
        if q['chain'] is not None:
            narrowing.append('chain=?')
            narrowing_params.append(CHAINS[q['chain']])
        if q['asset_type'] is not None:
            narrowing.append('assets.type=?')
            narrowing_params.append(chr(ASSET_TYPES[q['asset_type']] + 64))
        if narrowing:
            combined = '(' + ' AND '.join(narrowing) + ')'
            if q['native'] is not None:
                combined = f'({combined} OR assets.identifier=?)'
                narrowing_params.append(q['native'])
            asset_filters.append(combined)
            asset_params += narrowing_params
        if q['address'] is not None:
            column = 'evm_tokens.address' if q['address'].startswith('0x') else 'solana_tokens.address'
            asset_filters.append(f'{column}=?')
            asset_params.append(q['address'])

        treat_eth2_as_eth = _treat_eth2_as_eth(users)
        ignored = set(users.ignored_assets())
        scored, seen_eth = [], False
        for identifier, name, symbol, chain, type_char, custom_type, _, _ in gdb.query(
                ASSETS_SELECT + where_clause(asset_filters), asset_params):
            if identifier in ignored:
                continue
            distance = 100
            if text is not None:
                if name is not None:
                    distance = min(distance, levenshtein(text, name.casefold()))
                if symbol is not None:
                    distance = min(distance, levenshtein(text, symbol.casefold()))
                if treat_eth2_as_eth and identifier in ('ETH', 'ETH2'):
                    if not seen_eth:
                        scored.append((distance, {'identifier': 'ETH', 'name': 'Ethereum', 'symbol': 'ETH',
                                                  'asset_type': 'own chain'}))
                        seen_eth = True
                    continue
            entry = {'identifier': identifier, 'name': name, 'symbol': symbol,
                     'asset_type': _asset_type_name(type_char)}
            if chain is not None:
                entry['evm_chain'] = CHAIN_NAMES[chain]
            if custom_type is not None:
                entry['custom_asset_type'] = custom_type
            scored.append((distance, entry))

        if q['search_nfts']:
            nft_where, nft_params = '', []
            if text is not None:
                nft_where = where_clause(['(name LIKE ? OR collection_name LIKE ?)'])
                nft_params = [f'%{text}%', f'%{text}%']
            for identifier, name, collection in _user_nfts(
                    users, 'SELECT identifier, name, collection_name FROM nfts ' + nft_where, nft_params):
                distance = 100
                for candidate in (name, collection):
                    if candidate is not None:
                        # with no text (an address-only search) polyleven's TypeError is rotki's 500
                        distance = min(distance, levenshtein(text, candidate.casefold()))
                scored.append((distance, {'identifier': identifier, 'name': name, 'collection_name': collection,
                                          'asset_type': 'nft'}))

        ranked = [entry for _, entry in sorted(scored, key=lambda item: (
            item[1]['asset_type'] != FIAT, item[1]['identifier'] not in NATIVE_TOKEN_IDS, item[0]))]
        return ok(ranked if q['limit'] is None else ranked[:q['limit']])

    @app.route('/api/1/assets/mappings', methods=['POST'])
    def assets_mappings():
        if users.name is None:
            return fail('No user is currently logged in', 401)
        identifiers = parser.parse(MappingsSchema(), request, location='json')['identifiers']
        marks = ','.join('?' * len(identifiers))
        assets, collections = {}, {}
        for row in gdb.query(MAPPINGS_SELECT + ' WHERE ' + f'assets.identifier IN ({marks})', identifiers):
            (identifier, name, symbol, chain, type_char, custom_type, collection_id, collection_name,
             collection_symbol, main_asset, evm_protocol, coingecko, cryptocompare, solana_protocol) = row
            entry = {'name': name, 'symbol': symbol, 'asset_type': _asset_type_name(type_char)}
            if chain is not None:
                entry['evm_chain'] = CHAIN_NAMES[chain]
            if custom_type is not None:
                entry['custom_asset_type'] = custom_type
            if collection_id is not None:
                entry['collection_id'] = str(collection_id)
                collections[str(collection_id)] = {'name': collection_name, 'symbol': collection_symbol,
                                                   'main_asset': main_asset}
            if SPAM_PROTOCOL in (evm_protocol, solana_protocol):
                entry['is_spam'] = True
            if coingecko is not None:
                entry['coingecko'] = coingecko
            if cryptocompare is not None:
                entry['cryptocompare'] = cryptocompare
            assets[identifier] = entry  # a later row (a second collection) replaces the details
        nfts = {
            identifier: {'name': name, 'asset_type': 'nft', 'collection_name': collection, 'image_url': image}
            for identifier, name, collection, image in _user_nfts(
                users, 'SELECT identifier, name, collection_name, image_url FROM nfts WHERE '
                f'identifier IN ({marks})', identifiers)
        }
        return ok({'assets': assets | nfts, 'asset_collections': collections})

    @app.route('/api/1/assets/counterpartymappings', methods=['POST'])
    def counterparty_mappings():
        if users.name is None:
            return server_error("'Rotkehlchen' object has no attribute 'chains_aggregator'")
        q = load_json_body(CounterpartyMappingsSchema())
        filters, params = [], []
        if q['counterparty_symbol'] is not None:
            filters.append('symbol LIKE ?')
            params.append(f"%{q['counterparty_symbol']}%")
        if q['counterparty'] is not None:
            filters.append('counterparty=?')
            params.append(q['counterparty'])
        return ok(asset_mappings_query(
            gdb, 'counterparty_asset_mappings', 'local_id, counterparty, symbol',
            ('asset', 'counterparty', 'counterparty_symbol'), filters, params, q['limit'], q['offset'],
        ))

    @app.route('/api/1/assets/ignored/whitelist', methods=['GET'])
    def whitelist():
        rows = gdb.query('SELECT value FROM general_cache WHERE key=?', (WHITELIST_KEY,))
        return ok([row[0] for row in rows])

    class TokenField(fields.Field):
        """rotki's UnionAssetField(EvmToken, SolanaToken): the identifier (URL-unquoted) of an
        asset whose type is evm token or solana token."""

        def _deserialize(self, value, attr, data, **kwargs):
            if not isinstance(value, str):
                raise ValidationError(f'Tried to initialize an asset out of a non-string identifier {value}')
            identifier = urllib.parse.unquote(value)
            rows = gdb.query(
                'SELECT assets.type, evm_tokens.protocol, solana_tokens.protocol FROM assets '
                'LEFT JOIN evm_tokens ON evm_tokens.identifier=assets.identifier '
                'LEFT JOIN solana_tokens ON solana_tokens.identifier=assets.identifier WHERE assets.identifier=?',
                (identifier,),
            )
            if not rows or rows[0][0] not in (EVM_TOKEN_CHAR, SOLANA_TOKEN_CHAR):
                raise ValidationError(f'Asset {identifier} is not one of EvmToken, SolanaToken')
            type_char, evm_protocol, solana_protocol = rows[0]
            if type_char == EVM_TOKEN_CHAR:
                return {'identifier': identifier, 'table': 'evm_tokens', 'protocol': evm_protocol}
            return {'identifier': identifier, 'table': 'solana_tokens', 'protocol': solana_protocol}

    class TokenSchema(Schema):
        token = TokenField(required=True)

    @app.route('/api/1/assets/ignored/whitelist', methods=['POST'])
    def add_to_whitelist():
        if users.name is None:
            return fail('No user is currently logged in', 401)
        token = parser.parse(TokenSchema(), request, location='json_and_query')['token']
        statements = [('INSERT OR REPLACE INTO general_cache (key, value, last_queried_ts) VALUES (?, ?, ?)',
                       (WHITELIST_KEY, token['identifier'], int(time.time())))]
        if token['protocol'] == SPAM_PROTOCOL:
            statements.append((f"UPDATE {token['table']} SET protocol=? WHERE identifier=?",
                               (None, token['identifier'])))
        _global_write(gdb, statements)
        # rotki also runs `UPDATE history_events SET ignored=0 WHERE asset=?`; the stand-in has no events.
        users.write([("DELETE FROM multisettings WHERE name='ignored_asset' AND value=?;", (token['identifier'],))])
        return ok(True)
