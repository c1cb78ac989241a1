"""`POST /api/1/assets/all` as rotki v1.43.2 answers it: the body's parsing and its 400
messages, the SQL run on global.db, the entries' shapes, and the counts. The facts (messages,
SQL text, key order) come from captures of the real backend; see
/work/captures/17/assets-all.md for the spec this follows.

`register(app, api_response, fail, gdb, users)`: `gdb.query(sql, params)` runs on global.db,
`users.name is None` when nobody is logged in, `users.ignored_assets()` lists the ignored ids.
"""
import re
from decimal import Context, Decimal

from flask import request
from marshmallow import Schema, ValidationError, fields, post_load, validates_schema
from webargs import fields as webargs_fields
from webargs.flaskparser import parser

# AssetType members (name, value); the DB keeps chr(value + 64), the API the lower-case name
# with '_' as ' '.
ASSET_TYPES = [
    ('FIAT', 1), ('OWN_CHAIN', 2), ('EVM_TOKEN', 3), ('OMNI_TOKEN', 4), ('NEO_TOKEN', 5),
    ('COUNTERPARTY_TOKEN', 6), ('BITSHARES_TOKEN', 7), ('ARDOR_TOKEN', 8), ('NXT_TOKEN', 9),
    ('UBIQ_TOKEN', 10), ('NUBITS_TOKEN', 11), ('BURST_TOKEN', 12), ('WAVES_TOKEN', 13),
    ('QTUM_TOKEN', 14), ('STELLAR_TOKEN', 15), ('TRON_TOKEN', 16), ('ONTOLOGY_TOKEN', 17),
    ('VECHAIN_TOKEN', 18), ('EOS_TOKEN', 20), ('FUSION_TOKEN', 21), ('LUNIVERSE_TOKEN', 22),
    ('OTHER', 23), ('SOLANA_TOKEN', 25), ('NFT', 26), ('CUSTOM_ASSET', 27),
]
TYPE_BY_NAME = dict(ASSET_TYPES)
TYPE_BY_VALUE = {v: n for n, v in ASSET_TYPES}
LAST_TYPE_VALUE = ASSET_TYPES[-1][1]
# ChainID members: the API name is the lower-case member name, the DB keeps the number.
CHAINS = {
    'ETHEREUM': 1, 'OPTIMISM': 10, 'BINANCE_SC': 56, 'GNOSIS': 100, 'POLYGON_POS': 137,
    'FANTOM': 250, 'HYPERLIQUID': 999, 'BASE': 8453, 'ARBITRUM_ONE': 42161, 'AVALANCHE': 43114,
    'CELO': 42220, 'ARBITRUM_NOVA': 42170, 'CRONOS': 25, 'BOBA': 288, 'EVMOS': 9001,
    'POLYGON_ZKEVM': 1101, 'ZKSYNC_ERA': 324, 'PULSECHAIN': 369, 'SCROLL': 534352, 'SONIC': 146,
    'LINEA': 59144, 'MONAD': 143, 'INK': 57073, 'MEGAETH': 4326,
}
CHAIN_BY_ID = {v: n for n, v in CHAINS.items()}
HANDLINGS = {'NONE': 1, 'EXCLUDE': 2, 'SHOW_ONLY': 3}
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
ORDER_COLUMN = re.compile(r'[A-Za-z_][A-Za-z0-9_.]*')
CAST_COLUMNS = {'amount', 'fee', 'rate', 'last_price', 'last_price_asset', 'manual_price', 'pnl_taxable', 'pnl_free'}
DECIMALS = Context(prec=78)  # rotki's FVal context: enough digits for a uint256


class Failure(Exception):
    """An error rotki does not catch: the app's catch-all turns it into a 500 with its text."""


# ---- parsing --------------------------------------------------------------------------------

class OptionalText(fields.String):
    """A string where '' means "not given"."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return None if text == '' else text


class RequiredText(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text == '':
            raise ValidationError('Field cannot be an empty string')
        return text


class NamedMember(fields.Field):
    """A member picked by name: case-insensitive, ' ' or '_' between words."""

    def __init__(self, members, what, **kwargs):
        self.members = members
        self.what = what
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError(f'Failed to deserialize {self.what} value from non string value: {value}')
        key = value.replace(' ', '_').upper()
        if key not in self.members:
            raise ValidationError(f'Failed to deserialize {self.what} value {value}')
        return key


class ListOrCommaText(webargs_fields.DelimitedList):
    """A JSON list, or a string split at commas; never empty."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            items = value.split(',')
        elif hasattr(value, '__iter__'):
            items = value
        else:
            raise self.make_error('invalid')
        if len(value) == 0:
            raise ValidationError('List cant be empty')
        return fields.List._deserialize(self, items, attr, data, **kwargs)


class AssetsQuery(Schema):
    # declaration order is the order of errors in a 400
    order_by_attributes = ListOrCommaText(OptionalText(), load_default=None)
    ascending = ListOrCommaText(fields.Boolean(), load_default=None)
    limit = fields.Integer(load_default=None)
    offset = fields.Integer(load_default=None)
    name = OptionalText(load_default=None)
    symbol = OptionalText(load_default=None)
    asset_type = NamedMember(TYPE_BY_NAME, 'AssetType', load_default=None)
    address = OptionalText(load_default=None)
    evm_chain = NamedMember(CHAINS, 'evm chain', load_default=None)
    ignored_assets_handling = NamedMember(HANDLINGS, 'IgnoredAssetsHandling', load_default='NONE')
    show_user_owned_assets_only = fields.Boolean(load_default=False)
    show_whitelisted_assets_only = fields.Boolean(load_default=False)
    identifiers = ListOrCommaText(RequiredText(required=True), load_default=None)

    # marshmallow runs schema validators in name order; each stops at its first failure
    @validates_schema
    def check_a_ordering(self, data, **_kwargs):
        attributes, ascending = data['order_by_attributes'], data['ascending']
        if (attributes is None) != (ascending is None):
            raise ValidationError('order_by_attributes and ascending have to be both null or have a value',
                                  field_name='order_by_attributes')
        if attributes is None:
            return
        if len(attributes) != len(ascending):
            raise ValidationError("order_by_attributes and ascending don't have the same length",
                                  field_name='order_by_attributes')
        for attribute in attributes:
            if not (isinstance(attribute, str) and ORDER_COLUMN.fullmatch(attribute)):
                raise ValidationError(f'Unsupported value {attribute} for order_by_attributes',
                                      field_name='order_by_attributes')

    @validates_schema
    def check_b_filters(self, data, **_kwargs):
        if data['order_by_attributes'] is not None and len(data['order_by_attributes']) > 1:
            raise ValidationError('Multiple fields ordering is not allowed.', field_name='order_by_attributes')
        if data['evm_chain'] is not None and data['asset_type'] not in (None, 'EVM_TOKEN'):
            raise ValidationError('Filtering by evm_chain is only supported for evm tokens', field_name='evm_chain')

    @post_load
    def normalize(self, data, **_kwargs):
        address = data['address']
        if address is not None and not is_solana_address(address):
            checksummed = evm_checksum(address)
            if checksummed is None:
                raise ValidationError(f'Given value {address} is not a valid EVM or Solana address',
                                      field_name='address')
            data['address'] = checksummed
        return data


# ---- addresses ------------------------------------------------------------------------------

B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def is_solana_address(text):
    """Base58 (trailing whitespace dropped) that decodes to exactly 32 bytes."""
    text = text.rstrip()
    if not text.isascii():
        return False
    number = 0
    for char in text:
        digit = B58.find(char)
        if digit < 0:
            return False
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip('1'))
    return zeros + (number.bit_length() + 7) // 8 == 32


HEX40 = re.compile(r'[0-9a-fA-F]{40}')


def evm_checksum(text):
    """EIP-55 form of an optionally 0x/0X-prefixed 40-hex-digit address, else None."""
    digits = text[2:] if text[:2] in ('0x', '0X') else text
    if not HEX40.fullmatch(digits):
        return None
    lower = digits.lower()
    digest = keccak256(lower.encode()).hex()
    return '0x' + ''.join(c.upper() if int(h, 16) > 7 else c for c, h in zip(lower, digest))


_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M if n else v


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    """Keccak-256 as Ethereum uses it (the original padding, not NIST SHA3's)."""
    rate = 136
    room = rate - len(data) % rate  # 1..rate bytes of padding
    padded = bytearray(data) + (b'\x81' if room == 1 else b'\x01' + b'\x00' * (room - 2) + b'\x80')
    state = [[0] * 5 for _ in range(5)]
    for start in range(0, len(padded), rate):
        block = padded[start:start + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            state[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], 'little')
        state = _keccak_f(state)
    return b''.join(state[i % 5][i // 5].to_bytes(8, 'little') for i in range(4))


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
        bindings.append(chr(TYPE_BY_NAME[q['asset_type']] + 64))
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
    # rotki's DataHandler gets its `db` at the first login and keeps it, closed, after a logout:
    # before any login the route fails before parsing, after a logout only after parsing.
    state = {'had_user': False}

    @app.after_request
    def note_login(response):
        if users.name is not None:
            state['had_user'] = True
        return response

    @app.route('/api/1/assets/all', methods=['POST'])
    def all_assets():
        if users.name is None and not state['had_user']:
            return fail("'DataHandler' object has no attribute 'db'", 500)
        schema = AssetsQuery()
        try:
            # rotki's parser hands a non-JSON body to the schema as "missing": not a dict
            q = schema.load(parser.load_json(request, schema))
        except ValidationError as err:
            parser._on_validation_error(err, request, schema, 'json', error_status_code=None, error_headers=None)
        if users.name is None:
            return fail("'NoneType' object has no attribute 'read_ctx'", 500)
        ignored = set(users.ignored_assets())
        return api_response({'result': list_assets(gdb, ignored, q), 'message': ''})
