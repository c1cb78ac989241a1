"""`POST /api/1/assets/all` as rotki v1.43.2 answers it: the body's parsing and its 400
messages, the SQL run on global.db, the entries' shapes, and the counts. The facts (messages,
SQL text, key order) come from captures of the real backend; see
/work/captures/17/assets-all.md for the spec this follows.

`register(app, api_response, fail, gdb, users)`: `gdb.query(sql, params)` runs on global.db,
`users.name is None` when nobody is logged in, `users.ignored_assets()` lists the ignored ids.
"""
from decimal import Context, Decimal

from marshmallow import ValidationError, fields, post_load, validates_schema

import login_history
from rotki_enums import ASSET_TYPES, CHAINS, IGNORED_ASSETS_HANDLINGS
from rotki_fields import (
    DBOrderBySchema, DBPaginationSchema, DelimitedOrNormalList, EmptyAsNoneStringField, EnumNameField,
    NonEmptyStringField, evm_or_solana_address, load_json_body,
)

TYPE_BY_VALUE = {v: n for n, v in ASSET_TYPES.items()}
LAST_TYPE_VALUE = max(ASSET_TYPES.values())
CHAIN_BY_ID = {v: n for n, v in CHAINS.items()}
# TokenKind: DB char -> API string
TOKEN_KINDS = {'A': 'erc20', 'B': 'erc721', 'C': 'unknown', 'D': 'spl token', 'E': 'spl nft'}
EVM_KINDS = ('A', 'B')
SOLANA_KINDS = ('D', 'E')

PARENT_QUERY = """
        SELECT A.identifier AS identifier, A.type,
        COALESCE(B.address, S.address) AS address,
        COALESCE(B.decimals, S.decimals) AS decimals,
        A.name, C.symbol, C.started, C.forked, C.swapped_for, C.coingecko, C.cryptocompare,
        COALESCE(B.protocol, S.protocol) AS protocol,
        B.chain,
        COALESCE(B.token_kind, S.token_kind) AS token_kind,
        D.notes, D.type AS custom_asset_type
        FROM assets as A
        LEFT JOIN common_asset_details AS C ON C.identifier = A.identifier
        LEFT JOIN evm_tokens as B ON B.identifier = A.identifier
        LEFT JOIN custom_assets as D ON D.identifier = A.identifier
        LEFT JOIN solana_tokens as S ON S.identifier = A.identifier
        """
UNDERLYING_QUERY = (
    'SELECT parent_token_entry, address, token_kind, weight FROM underlying_tokens_list '
    'LEFT JOIN evm_tokens ON underlying_tokens_list.identifier=evm_tokens.identifier '
    'WHERE parent_token_entry IN ({})'
)
CAST_COLUMNS = {'amount', 'fee', 'rate', 'last_price', 'last_price_asset', 'manual_price', 'pnl_taxable', 'pnl_free'}
DECIMALS = Context(prec=78)  # rotki's FVal context: enough digits for a uint256


class Failure(Exception):
    """An error rotki does not catch: the app's catch-all turns it into a 500 with its text."""


# ---- parsing --------------------------------------------------------------------------------

class AssetsQuery(DBPaginationSchema, DBOrderBySchema):
    # rotki's AssetsPostSchema: the ordering fields, then limit and offset, then these, in this
    # order (the order of errors in a 400)
    name = EmptyAsNoneStringField(load_default=None)
    symbol = EmptyAsNoneStringField(load_default=None)
    asset_type = EnumNameField(ASSET_TYPES, 'AssetType', load_default=None)
    address = EmptyAsNoneStringField(load_default=None)
    evm_chain = EnumNameField(CHAINS, 'evm chain', load_default=None)
    ignored_assets_handling = EnumNameField(IGNORED_ASSETS_HANDLINGS, 'IgnoredAssetsHandling',
                                            load_default='NONE')
    show_user_owned_assets_only = fields.Boolean(load_default=False)
    show_whitelisted_assets_only = fields.Boolean(load_default=False)
    identifiers = DelimitedOrNormalList(NonEmptyStringField(required=True), load_default=None)

    # runs after the inherited validate_order_by_schema (name order); each stops at its first failure
    @validates_schema
    def validate_schema(self, data, **_kwargs):
        if data['order_by_attributes'] is not None and len(data['order_by_attributes']) > 1:
            raise ValidationError('Multiple fields ordering is not allowed.', field_name='order_by_attributes')
        if data['evm_chain'] is not None and data['asset_type'] not in (None, 'EVM_TOKEN'):
            raise ValidationError('Filtering by evm_chain is only supported for evm tokens', field_name='evm_chain')

    @post_load
    def normalize(self, data, **_kwargs):
        data['address'] = evm_or_solana_address(data['address'])
        return data


# ---- the query ------------------------------------------------------------------------------

def build_filter(q):
    """The WHERE/ORDER BY tail rotki appends to its parent query, and its bindings."""
    conditions, bindings = [], []
    if q['name'] is not None:
        conditions.append('(name LIKE ?)')
        bindings.append(f"%{q['name']}%")
    if q['symbol'] is not None:
        conditions.append('(symbol LIKE ?)')
        bindings.append(f"%{q['symbol']}%")
    if q['asset_type'] is not None:
        conditions.append('(type=?)')
        bindings.append(chr(ASSET_TYPES[q['asset_type']] + 64))
    if q['identifiers'] is not None:
        conditions.append(f"(identifier IN ({', '.join('?' * len(q['identifiers']))}))")
        bindings.extend(q['identifiers'])
    if q['show_user_owned_assets_only']:
        conditions.append('(identifier IN (SELECT asset_id FROM user_owned_assets))')
    if q['evm_chain'] is not None:
        conditions.append('(chain=?)')
        bindings.append(CHAINS[q['evm_chain']])
    if q['address'] is not None:
        conditions.append('(address=?)')
        bindings.append(q['address'])
    if q['show_whitelisted_assets_only']:
        conditions.append("(identifier IN (SELECT value FROM general_cache WHERE key='SPAM_ASSET_FALSE_POSITIVE'))")
    if q['order_by_attributes'] is None:
        column, ascending = 'name', False  # the default is descending
    else:
        column, ascending = q['order_by_attributes'][0], q['ascending'][0]
    if column in CAST_COLUMNS:
        column = f'CAST({column} AS REAL)'
    parts = []
    if conditions:
        parts.append('WHERE ' + ' AND '.join(conditions))
    parts.append(f"ORDER BY {column} COLLATE NOCASE {'ASC' if ascending else 'DESC'}")
    return ' '.join(parts), bindings


def asset_type_of(char):
    if not isinstance(char, str):
        raise Failure(f'Failed to deserialize AssetType DB value from non string value: {char}')
    if len(char) != 1:
        raise Failure(f'Failed to deserialize AssetType DB value from multi-character value: {char}')
    number = ord(char) - 64
    if number < 1 or number > LAST_TYPE_VALUE:
        raise Failure(f'Failed to deserialize AssetType DB value {char}')
    if number not in TYPE_BY_VALUE:
        raise Failure(f'{number} is not a valid AssetType')
    return TYPE_BY_VALUE[number]


def token_kind_of(char, allowed):
    if not isinstance(char, str):
        raise Failure(f'Failed to deserialize TokenKind DB value from non string value: {char}')
    if len(char) != 1:
        raise Failure(f'Failed to deserialize TokenKind DB value from multi-character value: {char}')
    if char not in TOKEN_KINDS:
        raise Failure(f'Failed to deserialize TokenKind DB value {char}')
    if char not in allowed:
        raise Failure(f"Expected {'EVM' if allowed == EVM_KINDS else 'solana'} token kind, got {TOKEN_KINDS[char]}")
    return TOKEN_KINDS[char]


def chain_name(chain_id):
    if chain_id not in CHAIN_BY_ID:
        raise Failure(f'Could not deserialize ChainID from value {chain_id}')
    return CHAIN_BY_ID[chain_id].lower()


def entry_of(row):
    (identifier, type_char, address, decimals, name, symbol, started, forked, swapped_for,
     coingecko, cryptocompare, protocol, chain, token_kind, notes, custom_type) = row
    kind = asset_type_of(type_char)
    entry = {'identifier': identifier, 'asset_type': kind.lower().replace('_', ' '), 'name': name}
    common = {'symbol': symbol, 'started': started, 'swapped_for': swapped_for, 'forked': forked,
              'cryptocompare': cryptocompare, 'coingecko': coingecko}
    if kind == 'FIAT':
        entry.update({'symbol': symbol, 'started': started})
    elif kind == 'EVM_TOKEN':
        entry.update({'address': address, 'evm_chain': chain_name(chain),
                      'token_kind': token_kind_of(token_kind, EVM_KINDS), 'decimals': decimals,
                      'underlying_tokens': None, 'protocol': protocol})
        entry.update(common)
        if token_kind == 'B':
            parts = identifier.split('/')
            entry['collectible_id'] = parts[-1] if 'erc721' in identifier and len(parts) == 3 else None
    elif kind == 'SOLANA_TOKEN':
        entry.update({'protocol': protocol, 'token_kind': token_kind_of(token_kind, SOLANA_KINDS),
                      'address': address, 'decimals': decimals})
        entry.update(common)
    elif kind == 'CUSTOM_ASSET':
        entry.update({'notes': notes, 'custom_asset_type': custom_type})
    else:  # own chain, other, nft and the old chains' token types
        entry.update(common)
    return entry


def decimal_of(value):
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, bytes):
        return Decimal(value.decode())
    return Decimal(value)


def percent_text(weight):
    text = format(DECIMALS.multiply(weight, Decimal(100)).normalize(DECIMALS), 'f')
    return '0' if text == '-0' else text


def underlying_of(tokens):
    """rotki's export: each weight as a percentage, the last one making the sum exactly 100."""
    out, taken = [], Decimal(0)
    for idx, (address, kind, weight) in enumerate(tokens):
        shown = DECIMALS.subtract(Decimal(1), taken) if idx == len(tokens) - 1 else weight
        out.append({'address': address, 'token_kind': kind, 'weight': percent_text(shown)})
        taken = DECIMALS.add(taken, weight)
    return out


def list_assets(gdb, ignored, q):
    tail, bindings = build_filter(q)
    handling = q['ignored_assets_handling']
    limit = offset = None
    if q['limit'] is not None and q['offset'] is not None:
        limit, offset = q['limit'], q['offset']
    entries = {}
    for row in gdb.query(f'SELECT * FROM ({PARENT_QUERY}) {tail}', bindings):
        if handling == 'EXCLUDE' and row[0] in ignored:
            continue
        if handling == 'SHOW_ONLY' and row[0] not in ignored:
            continue
        if offset is not None and offset > 0:
            offset -= 1
            continue
        entry = entry_of(row)
        entries[entry['identifier']] = entry
        if limit is not None and len(entries) >= limit:
            break  # so a limit of 0 or less still gives one entry
    grouped = {}
    for parent, address, kind, weight in gdb.query(
            UNDERLYING_QUERY.format(','.join('?' * len(entries))), list(entries)):
        grouped.setdefault(parent, []).append((address, token_kind_of(kind, EVM_KINDS), decimal_of(weight)))
    for parent, tokens in grouped.items():
        entries[parent]['underlying_tokens'] = underlying_of(tokens)
    if handling == 'NONE':
        found = gdb.query(f'SELECT COUNT(*) FROM ({PARENT_QUERY}) {tail}', bindings)[0][0]
    else:
        matched = {r[0] for r in gdb.query(f'SELECT identifier FROM ({PARENT_QUERY}) {tail}', bindings)}
        found = len(matched - ignored) if handling == 'EXCLUDE' else len(matched & ignored)
    total = gdb.query('SELECT COUNT(*) from assets;')[0][0]
    return {'entries': list(entries.values()), 'entries_found': found, 'entries_total': total,
            'entries_limit': -1}


def register(app, api_response, fail, gdb, users):
    history = login_history.for_app(app, users)

    @app.route('/api/1/assets/all', methods=['POST'])
    def all_assets():
        if history.never_logged_in():
            return fail(login_history.NO_DB, 500)
        q = load_json_body(AssetsQuery())
        if users.name is None:
            return fail(login_history.CLOSED_DB, 500)
        ignored = set(users.ignored_assets())
        return api_response({'result': list_assets(gdb, ignored, q), 'message': ''})
