"""rotki's user lifecycle and the user's SQLCipher database, as the legacy app serves them.

`<data-dir>/users/<name>/rotkehlchen.db`, SQLCipher 4 (the `sqlcipher3` wheel rotki v1.43.2
pins) with default settings, keyed with `PRAGMA key='<password, each ' doubled>';`, in WAL
mode, one connection while the user is logged in. The tables are the subset of rotki's schema
the served routes touch, with rotki's own CREATE statements, and each read runs rotki's SQL
(same text, so SQLite picks the same plan and the rows come in the same order). Where rotki's
order comes from a Python set (ignored assets, the default active modules) so does this one's.

Deviation, on purpose: rotki copies global.db's spam tokens into the ignored assets at every
unlock; this app's global.db has no tokens, so it ignores the fixed SPAM list instead.
"""
import json
import shutil
import time
from pathlib import Path

import sqlcipher3

import globaldb

SPAM = [
    'eip155:1/erc20:0x0EA5Da303c9Ad00c8A2740c0cA8c44F12c7DA790',
    'eip155:1/erc20:0x5C406D99E04B8494dc253FCc52943Ef82bcA7D75',
    'eip155:1/erc20:0xDa63A8F9b33e3C927E8ce66606913bE1821f67de',
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name VARCHAR[24] NOT NULL PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS key_value_cache (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    description TEXT,
    background_color TEXT,
    foreground_color TEXT
);
CREATE TABLE IF NOT EXISTS tag_mappings (
    object_reference TEXT,
    tag_name TEXT,
    FOREIGN KEY(tag_name) REFERENCES tags(name)
    PRIMARY KEY (object_reference, tag_name)
);
CREATE TABLE IF NOT EXISTS multisettings (
    name VARCHAR[24] NOT NULL,
    value TEXT,
    UNIQUE(name, value)
);
CREATE TABLE IF NOT EXISTS external_service_credentials (
    name VARCHAR[30] NOT NULL PRIMARY KEY,
    api_key TEXT NOT NULL,
    api_secret TEXT
);
CREATE TABLE IF NOT EXISTS user_credentials (
    name TEXT NOT NULL,
    location CHAR(1) NOT NULL DEFAULT('A'),
    api_key TEXT,
    api_secret TEXT,
    passphrase TEXT,
    PRIMARY KEY (name, location)
);
CREATE TABLE IF NOT EXISTS blockchain_accounts (
    blockchain VARCHAR[24] NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (blockchain, account)
);
CREATE TABLE IF NOT EXISTS address_book (
    address TEXT NOT NULL,
    blockchain TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY(address, blockchain)
);
CREATE TABLE IF NOT EXISTS xpubs (
    xpub TEXT NOT NULL,
    derivation_path TEXT NOT NULL,
    label TEXT,
    blockchain TEXT NOT NULL,
    PRIMARY KEY (xpub, derivation_path, blockchain)
);
CREATE TABLE IF NOT EXISTS xpub_mappings (
    address TEXT NOT NULL,
    xpub TEXT NOT NULL,
    derivation_path TEXT NOT NULL,
    account_index INTEGER,
    derived_index INTEGER,
    blockchain TEXT NOT NULL,
    FOREIGN KEY(blockchain, address)
    REFERENCES blockchain_accounts(blockchain, account) ON DELETE CASCADE
    FOREIGN KEY(xpub, derivation_path, blockchain) REFERENCES xpubs(
        xpub,
        derivation_path,
        blockchain
    ) ON DELETE CASCADE
    PRIMARY KEY (address, xpub, derivation_path, blockchain)
);
CREATE TABLE IF NOT EXISTS user_notes(
    identifier INTEGER NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    location TEXT NOT NULL,
    last_update_timestamp INTEGER NOT NULL,
    is_pinned INTEGER NOT NULL CHECK (is_pinned IN (0, 1))
);
CREATE TABLE IF NOT EXISTS nfts (
    identifier TEXT NOT NULL PRIMARY KEY,
    name TEXT,
    last_price TEXT NOT NULL,
    last_price_asset TEXT NOT NULL,
    manual_price INTEGER NOT NULL CHECK (manual_price IN (0, 1)),
    owner_address TEXT,
    blockchain TEXT GENERATED ALWAYS AS ('ETH') VIRTUAL,
    is_lp INTEGER NOT NULL CHECK (is_lp IN (0, 1)),
    image_url TEXT,
    collection_name TEXT,
    usd_price REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS skipped_external_events (
    identifier INTEGER NOT NULL PRIMARY KEY,
    data TEXT NOT NULL,
    location CHAR(1) NOT NULL DEFAULT('A'),
    extra_data TEXT,
    UNIQUE(data, location)
);
INSERT OR IGNORE INTO tags(name, description, background_color, foreground_color) VALUES ('Contract', 'System tag for smart contract addresses', '9370DB', 'FFFFFF');
INSERT OR REPLACE INTO settings(name, value) VALUES('version', '52');
"""

# rotki's AVAILABLE_MODULES_MAP order.
MODULES = ['makerdao_dsr', 'makerdao_vaults', 'uniswap', 'loopring', 'eth2', 'sushiswap', 'liquity',
           'pickle_finance', 'nfts']
# The default active modules: a set's order, fixed for this process only, as in rotki.
DEFAULT_MODULES = list(set(MODULES) - {'makerdao_dsr'})

# DBSettings in declaration order: (key, kind, default). Kinds say how the stored text reads.
SETTINGS = [
    ('have_premium', 'premium', False), ('version', 'int', 52), ('last_write_ts', 'int', 0),
    ('premium_should_sync', 'bool', False), ('include_crypto2crypto', 'bool', True),
    ('ui_floating_precision', 'int', 2), ('taxfree_after_period', 'period', 31536000),
    ('balance_save_frequency', 'int', 24), ('include_gas_costs', 'bool', True),
    ('ksm_rpc_endpoint', 'endpoint', ''), ('dot_rpc_endpoint', 'endpoint', ''),
    ('beacon_rpc_endpoint', 'endpoint', 'https://ethereum-beacon-api.publicnode.com'),
    ('btc_mempool_api', 'endpoint', ''), ('main_currency', 'str', 'USD'),
    ('date_display_format', 'str', '%d/%m/%Y %H:%M:%S %Z'), ('submit_usage_analytics', 'bool', True),
    ('active_modules', 'json', None), ('frontend_settings', 'str', ''),
    ('btc_derivation_gap_limit', 'int', 20), ('calculate_past_cost_basis', 'bool', True),
    ('display_date_in_localtime', 'bool', True),
    ('current_price_oracles', 'json', ['defillama', 'coingecko', 'uniswapv2', 'uniswapv3']),
    ('historical_price_oracles', 'json', ['defillama', 'coingecko', 'uniswapv3', 'uniswapv2']),
    ('evm_indexers_order', 'json', {
        'base': ['blockscout', 'routescan', 'etherscan'], 'optimism': ['blockscout', 'routescan', 'etherscan'],
        'binance_sc': ['etherscan'], 'hyperliquid': ['etherscan', 'blockscout'], 'scroll': ['blockscout'],
        'monad': ['etherscan'],
    }),
    ('default_evm_indexer_order', 'json', ['etherscan', 'blockscout', 'routescan']),
    ('pnl_csv_with_formulas', 'bool', True), ('pnl_csv_have_summary', 'bool', False),
    ('ssf_graph_multiplier', 'int', 0), ('last_data_migration', 'int', 26),
    ('non_syncing_exchanges', 'json', []),
    ('evmchains_to_skip_detection', 'json',
     ['eth', 'avax', 'optimism', 'polygon_pos', 'arbitrum_one', 'base', 'gnosis', 'scroll']),
    ('cost_basis_method', 'str', 'fifo'), ('treat_eth2_as_eth', 'bool', True),
    ('eth_staking_taxable_after_withdrawal_enabled', 'bool', True),
    ('address_name_priority', 'json', ['private_addressbook', 'blockchain_account', 'global_addressbook',
                                       'ethereum_tokens', 'hardcoded_mappings', 'ens_names']),
    ('include_fees_in_cost_basis', 'bool', True), ('infer_zero_timed_balances', 'bool', False),
    ('query_retry_limit', 'int', 5), ('connect_timeout', 'int', 30), ('read_timeout', 'int', 30),
    ('oracle_penalty_threshold_count', 'int', 5), ('oracle_penalty_duration', 'int', 1800),
    ('auto_delete_calendar_entries', 'bool', True), ('auto_create_calendar_reminders', 'bool', True),
    ('ask_user_upon_size_discrepancy', 'bool', True), ('auto_detect_tokens', 'bool', True),
    ('csv_export_delimiter', 'str', ','), ('asset_movement_amount_tolerance', 'str', '0.005'),
    ('asset_movement_time_range', 'int', 72000), ('suppress_missing_key_msg_services', 'json', []),
    ('auto_create_profit_events', 'bool', False), ('use_asset_collections_in_cost_basis', 'bool', True),
    ('internal_txs_to_repull', 'int', 100), ('internal_tx_conflict_repull_frequency', 'int', 900),
]
WRITABLE = {k for k, kind, _ in SETTINGS if kind not in ('premium',)} - {'version', 'last_write_ts',
                                                                          'last_data_migration'}
# SupportedBlockchain values GET /blockchains/<chain>/accounts takes, and the address-book
# group of each (its entries hold for every chain of the group).
CHAINS = ['ETH', 'BTC', 'BCH', 'KSM', 'AVAX', 'DOT', 'OPTIMISM', 'POLYGON_POS', 'ARBITRUM_ONE', 'BASE',
          'HYPERLIQUID', 'GNOSIS', 'SCROLL', 'BINANCE_SC', 'MONAD', 'ZKSYNC_LITE', 'SOLANA']
GROUPS = {'BTC': 'BITCOIN', 'BCH': 'BITCOIN', 'KSM': 'SUBSTRATE', 'DOT': 'SUBSTRATE', 'SOLANA': 'SOLANA'}
XPUBS_SQL = (
    "SELECT A.xpub, A.blockchain, A.derivation_path, A.label, group_concat(B.tag_name,',') FROM xpubs as A "
    "LEFT OUTER JOIN tag_mappings AS B ON B.object_reference = A.xpub || A.derivation_path WHERE A.blockchain=? "
    "GROUP BY A.xpub || A.derivation_path"
)
DERIVED_SQL = (
    "SELECT B.address, A.xpub, A.derivation_path FROM xpubs as A LEFT OUTER JOIN xpub_mappings as B "
    "ON B.xpub = A.xpub AND B.derivation_path IS A.derivation_path AND B.blockchain = A.blockchain "
    "WHERE B.address=? AND B.blockchain=?;"
)
FREE_USER_NOTES_LIMIT = 10
ACCOUNTS_SQL = (
    "SELECT A.account, COALESCE(C1.name, C2.name), (SELECT group_concat(tag_name, ',') FROM tag_mappings "
    "WHERE object_reference = A.account) FROM blockchain_accounts AS A LEFT OUTER JOIN address_book AS C1 "
    "ON C1.address = A.account AND C1.blockchain = A.blockchain LEFT OUTER JOIN address_book AS C2 "
    "ON C2.address = A.account AND C2.blockchain = ? WHERE A.blockchain=?;"
)
NOTE_COLUMNS = 'identifier, title, content, location, last_update_timestamp, is_pinned'

# The services GET /external_services knows (ExternalService members, lower-cased).
SERVICES = ['etherscan', 'cryptocompare', 'beaconchain', 'loopring', 'opensea', 'blockscout', 'thegraph',
            'gnosis_pay', 'monerium', 'defillama', 'coingecko', 'alchemy', 'helius', 'routescan']


def tags_of(concatenated):
    """rotki's deserialize_tags_from_db."""
    return None if not concatenated else concatenated.split(',')


class Failure(Exception):
    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def key_statement(password, verb='key'):
    return "PRAGMA %s='%s';" % (verb, password.replace("'", "''"))


class Users:
    """Who is logged in, and their database."""

    def __init__(self, data_dir):
        self.users_dir = Path(data_dir) / 'users'
        self.name = None
        self.password = None
        self.conn = None

    def listing(self):
        if not self.users_dir.exists():
            return {}
        return {
            p.name: 'loggedin' if p.name == (self.name or 'no_user') else 'loggedout'
            for p in self.users_dir.iterdir() if p.is_dir() and (p / 'rotkehlchen.db').exists()
        }

    def _connect(self, path, password):
        conn = sqlcipher3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.executescript(key_statement(password))
        try:
            conn.execute('PRAGMA schema_version')
        except sqlcipher3.DatabaseError:
            conn.close()
            raise Failure('Wrong password or invalid/corrupt database for user', 401) from None
        conn.execute('PRAGMA foreign_keys=ON')
        conn.execute('PRAGMA journal_mode=WAL;')
        return conn

    def write(self, statements):
        """Runs (sql, params) pairs in one transaction that also stamps last_write_ts."""
        c = self.conn
        c.execute('BEGIN')
        try:
            for sql, params in statements:
                c.execute(sql, params)
            c.execute('INSERT OR REPLACE INTO settings(name, value) VALUES(?, ?)', ('last_write_ts', str(int(time.time()))))
            c.execute('COMMIT')
        except Exception:
            c.execute('ROLLBACK')
            raise

    def _unlock(self, name, password):
        self.name, self.password = name, password
        self.write([('INSERT OR IGNORE INTO multisettings(name, value) VALUES (?, ?)', ('ignored_asset', s))
                    for s in SPAM] + [
            ('INSERT OR REPLACE INTO settings(name, value) VALUES(?, ?)', ('last_data_migration', 26)),
        ])
        return {'exchanges': [], 'settings': self.settings()}

    def create(self, name, password):
        if self.name is not None:
            raise Failure(f'Can not create a new user because user {self.name} is already logged in. '
                          'Log out of that user first', 409)
        user_dir = self.users_dir / name
        if user_dir.parent != self.users_dir:
            raise Failure(f'Data dir for user {name} is not in the users directory. '
                          'Usernames may not contain path separators.', 409)
        if (user_dir / 'rotkehlchen.db').exists():
            raise Failure(f'User {name} already exists. User data dir: {user_dir}', 409)
        user_dir.mkdir(parents=True, exist_ok=True)
        self.conn = self._connect(user_dir / 'rotkehlchen.db', password)
        self.conn.executescript('BEGIN;' + SCHEMA + 'COMMIT;')
        return self._unlock(name, password)

    def login(self, name, password):
        if self.name is not None:
            raise Failure(f'Can not login to user {name} because user {self.name} is already logged in. '
                          'Log out of that user first', 409)
        user_dir = self.users_dir / name
        if not user_dir.exists():
            raise Failure(f'User {name} does not exist', 401)
        if not (user_dir / 'rotkehlchen.db').exists():
            shutil.move(user_dir, self.users_dir / f'auto_backup_{name}_{int(time.time())}')
            raise Failure(f'User {name} exists but DB is missing. Somehow must have been manually deleted or is '
                          'corrupt or access permissions do not allow reading. Please recreate the user account. '
                          'A backup of the user directory was created.', 409)
        self.conn = self._connect(user_dir / 'rotkehlchen.db', password)
        return self._unlock(name, password)

    def logout(self, name):
        if name != self.name:
            raise Failure(f'Provided user {name} is not the logged in user', 409)
        self.conn.close()  # the last connection's close checkpoints the WAL
        self.conn, self.name, self.password = None, None, None

    def change_password(self, name, current, new):
        if name != self.name:
            raise Failure(f'Provided user "{name}" is not the logged in user', 400)
        if current != self.password:
            raise Failure('Provided current password is not correct', 401)
        self.conn.executescript(key_statement(new, 'rekey'))
        self.password = new

    # -- reads, with rotki's SQL text --

    def settings(self):
        c = self.conn
        stored = dict(c.execute('SELECT name, value FROM settings;').fetchall())
        premium = c.execute("SELECT api_key, api_secret FROM user_credentials where name='rotkehlchen';").fetchone()
        out = {}
        for key, kind, default in SETTINGS:
            text = stored.get(key, ...)
            if kind == 'premium':
                out[key] = premium is not None
            elif key == 'active_modules':
                out[key] = DEFAULT_MODULES if text is ... else json.loads(text)
            elif text is ... or (kind == 'endpoint' and not text):
                out[key] = default
            elif kind == 'bool':
                out[key] = text == 'True'
            elif kind == 'int':
                out[key] = int(text)
            elif kind == 'period':
                out[key] = None if text is None or int(text) <= 0 else int(text)
            elif kind == 'json':
                out[key] = json.loads(text)
            else:
                out[key] = str(text)
        cache = dict(c.execute(
            'SELECT name, value FROM key_value_cache WHERE name IN (?,?);', ('last_data_upload_ts', 'last_balance_save'),
        ).fetchall())
        out['last_balance_save'] = int(cache.get('last_balance_save', 0))
        out['last_data_upload_ts'] = int(cache.get('last_data_upload_ts', 0))
        return out

    def tags(self):
        rows = self.conn.execute('SELECT name, description, background_color, foreground_color FROM tags;')
        return {n: {'name': n, 'description': d, 'background_color': b, 'foreground_color': f} for n, d, b, f in rows}

    def ignored_assets(self):
        rows = self.conn.execute("SELECT value FROM multisettings WHERE name='ignored_asset' ")
        return list({r[0] for r in rows})  # a set, as rotki keeps it: its order is not the table's

    def external_services(self):
        rows = self.conn.execute('SELECT name, api_key, api_secret from external_service_credentials;')
        return {n.replace(' ', '_').lower(): {'api_key': k} for n, k, _ in rows
                if n.replace(' ', '_').lower() in SERVICES}

    def queried_addresses(self):
        out = {}
        for module in MODULES:
            rows = self.conn.execute('SELECT value FROM multisettings WHERE name=?;', (f'queried_address_{module}',))
            values = [r[0] for r in rows]
            if values:
                out[module] = values
        return out

    # -- writes --

    def add_tag(self, name, description, background, foreground):
        if self.conn.execute('SELECT 1 FROM tags WHERE name=?', (name,)).fetchone():
            raise Failure(f'Tag with name {name} already exists. Tag name matching is case insensitive.', 409)
        self.write([('INSERT INTO tags(name, description, background_color, foreground_color) VALUES (?, ?, ?, ?)',
                     (name, description, background, foreground))])

    def edit_tag(self, name, description, background, foreground):
        if not self.conn.execute('SELECT 1 FROM tags WHERE name=?', (name,)).fetchone():
            raise Failure(f'Tried to edit tag with name "{name}" which does not exist', 409)
        sets = [(c, v) for c, v in (('description', description), ('background_color', background),
                                    ('foreground_color', foreground)) if v is not None]
        if not sets:
            raise Failure(f'No field was given to edit for tag "{name}"', 400)
        sql = 'UPDATE tags SET ' + ', '.join(f'{c}=?' for c, _ in sets) + ' WHERE name=?;'
        self.write([(sql, tuple(v for _, v in sets) + (name,))])

    def delete_tag(self, name):
        if name.lower() == 'contract':
            raise Failure('Cannot delete reserved system tag "Contract"', 409)
        if not self.conn.execute('SELECT 1 FROM tags WHERE name=?', (name,)).fetchone():
            raise Failure(f'Tried to delete tag with name "{name}" which does not exist', 409)
        self.write([('DELETE FROM tag_mappings WHERE tag_name = ?;', (name,)),
                    ('DELETE FROM tags WHERE name = ?;', (name,))])

    def ignore_assets(self, assets, ignore):
        current = set(self.ignored_assets())
        successful = [a for a in assets if (a not in current) == ignore]
        no_action = [a for a in assets if a not in successful]
        sql = ('INSERT OR IGNORE INTO multisettings(name, value) VALUES(?, ?)' if ignore
               else 'DELETE FROM multisettings WHERE name=? AND value=?;')
        self.write([(sql, ('ignored_asset', a)) for a in successful])
        return {'successful': successful, 'no_action': no_action}

    def set_settings(self, changes):
        unknown = [k for k in changes if k not in WRITABLE]
        if unknown:
            raise Failure(json.dumps({'settings': {k: ['Unknown field.'] for k in sorted(unknown)}},
                                     separators=(',', ':')), 400)
        changes = dict(changes)
        changes.setdefault('address_name_priority', dict((k, d) for k, _, d in SETTINGS)['address_name_priority'])
        statements = []
        for key, value in changes.items():
            if isinstance(value, bool):
                value = str(value)
            elif isinstance(value, (list, dict)):
                value = json.dumps(value)
            elif key == 'taxfree_after_period' and value == -1:
                value = None
            if key.endswith('_rpc_endpoint') and value == '':
                statements.append(('DELETE FROM settings WHERE name=?', (key,)))
            else:
                statements.append(('INSERT OR REPLACE INTO settings(name, value) VALUES(?, ?)', (key, value)))
        self.write(statements)

    def set_services(self, services):
        self.write([('INSERT OR REPLACE INTO external_service_credentials(name, api_key, api_secret) '
                     'VALUES(?, ?, ?)', (s['name'], s.get('api_key') or s.get('username'), s.get('password')))
                    for s in services])

    def delete_services(self, names):
        self.write([('DELETE FROM external_service_credentials WHERE name=?;', (n,)) for n in names])

    def add_queried_address(self, module, address):
        key = f'queried_address_{module}'
        if self.conn.execute('SELECT 1 FROM multisettings WHERE name=? AND value=?', (key, address)).fetchone():
            raise Failure(f'Address {address} is already in the queried addresses for {module}', 409)
        self.write([('INSERT INTO multisettings(name, value) VALUES(?, ?)', (key, address))])

    # -- the further login-gated reads, and writes for them --

    def accounts(self, chain):
        rows = self.conn.execute(ACCOUNTS_SQL, (f'TYPE_{GROUPS.get(chain, "EVMLIKE")}', chain))
        accounts = [{'address': a, 'label': label, 'tags': tags_of(tags)} for a, label, tags in rows]
        if chain not in ('BTC', 'BCH'):
            return accounts
        # rotki's get_blockchain_account_data for bitcoin chains: its two statements, each
        # derived address under its xpub (keyed by xpub, path and chain), the rest standalone.
        xpubs = {}
        for x, c, p, label, tags in self.conn.execute(XPUBS_SQL, (chain,)):
            xpubs[(x, p, c)] = {'xpub': x, 'blockchain': c.lower(), 'derivation_path': None if p == '' else p,
                                'label': label, 'tags': tags_of(tags), 'addresses': None}
        derived = {}
        for a in accounts:
            row = self.conn.execute(DERIVED_SQL, (a['address'], chain)).fetchone()
            if row is not None:
                derived[a['address']] = (row[1], row[2], chain)
        for a in accounts:
            if a['address'] in derived:
                entry = xpubs[derived[a['address']]]
                entry['addresses'] = (entry['addresses'] or []) + [a]
        standalone = [a for a in accounts if a['address'] not in derived]
        return {'standalone': standalone, 'xpubs': list(xpubs.values())}

    def add_accounts(self, chain, accounts):
        statements = []
        for a in accounts:
            statements.append(('INSERT INTO blockchain_accounts(blockchain, account) VALUES (?, ?)',
                               (chain, a['address'])))
            if a.get('label'):
                statements.append(('INSERT OR REPLACE INTO address_book (address, blockchain, name) VALUES (?, ?, ?)',
                                   (a['address'], chain, a['label'])))
            statements.extend(('INSERT INTO tag_mappings(object_reference, tag_name) VALUES (?, ?)',
                               (a['address'], t)) for t in a.get('tags') or [])
        self.write(statements)
        return [a['address'] for a in accounts]

    def add_xpub(self, chain, xpub, path, label=None, tags=(), derived=()):
        """What rotki writes for an xpub once it derived its used addresses: the xpub, its
        tags (under xpub || path), each address as an account and its mapping."""
        statements = [('INSERT INTO xpubs(xpub, derivation_path, label, blockchain) VALUES (?, ?, ?, ?)',
                       (xpub, path, label, chain))]
        statements.extend(('INSERT INTO tag_mappings(object_reference, tag_name) VALUES (?, ?)', (xpub + path, t))
                          for t in tags)
        for d in derived:
            statements.append(('INSERT INTO blockchain_accounts(blockchain, account) VALUES (?, ?)',
                               (chain, d['address'])))
            statements.append(('INSERT INTO xpub_mappings(address, xpub, derivation_path, account_index, '
                               'derived_index, blockchain) VALUES (?, ?, ?, ?, ?, ?)',
                               (d['address'], xpub, path, d['account_index'], d['derived_index'], chain)))
            if d.get('label'):
                statements.append(('INSERT OR REPLACE INTO address_book (address, blockchain, name) VALUES (?, ?, ?)',
                                   (d['address'], chain, d['label'])))
        self.write(statements)

    def add_note(self, title, content, location, is_pinned):
        count = self.conn.execute('SELECT COUNT(*) from user_notes').fetchone()[0]
        if count >= FREE_USER_NOTES_LIMIT:
            raise Failure(f'The limit of {FREE_USER_NOTES_LIMIT} user notes has been reached in the free plan. '
                          'To get more notes you can upgrade to premium: https://rotki.com/products', 409)
        cursor = self.conn.cursor()
        cursor.execute('BEGIN')
        cursor.execute('INSERT INTO user_notes(title, content, location, last_update_timestamp, is_pinned) '
                       'VALUES(?, ?, ?, ?, ?)', (title, content, location, int(time.time()), is_pinned))
        identifier = cursor.lastrowid
        cursor.execute('INSERT OR REPLACE INTO settings(name, value) VALUES(?, ?)', ('last_write_ts', str(int(time.time()))))
        cursor.execute('COMMIT')
        return identifier

    def notes(self, q):
        """rotki's filter query for notes: each filter in parentheses, then the order, then the page."""
        filters, bindings = [], []
        if q.get('title_substring'):
            filters.append('(title LIKE ?)')
            bindings.append(f"%{q['title_substring']}%")
        if q.get('location'):
            filters.append('(location=?)')
            bindings.append(q['location'])
        filters.append('(last_update_timestamp >= ? AND last_update_timestamp <= ?)')
        bindings += [q.get('from_timestamp', 0), q.get('to_timestamp', int(time.time()))]
        attributes = q.get('order_by_attributes') or ['last_update_timestamp']
        ascending = q.get('ascending') or [False]
        order = ','.join(f"{a} {'ASC' if asc else 'DESC'}" for a, asc in zip(attributes, ascending))
        unpaged = f"WHERE {' AND '.join(filters)} ORDER BY {order}"
        paged = unpaged
        if q.get('limit') is not None and q.get('offset') is not None:
            paged += f" LIMIT {q['limit'] or -1}" + (f" OFFSET {q['offset']}" if q['offset'] else '')
        rows = self.conn.execute(
            f'SELECT {NOTE_COLUMNS} FROM (SELECT {NOTE_COLUMNS} from user_notes ORDER BY last_update_timestamp '
            f'DESC LIMIT ?) {paged}', [FREE_USER_NOTES_LIMIT] + bindings,
        ).fetchall()
        found = self.conn.execute(f'SELECT COUNT(*) from user_notes {unpaged}', bindings).fetchone()[0]
        total = self.conn.execute('SELECT COUNT(*) from user_notes').fetchone()[0]
        return {
            'entries': [{'identifier': i, 'title': t, 'content': c, 'location': loc, 'last_update_timestamp': ts,
                         'is_pinned': bool(p)} for i, t, c, loc, ts, p in rows],
            'entries_found': found, 'entries_total': total, 'entries_limit': FREE_USER_NOTES_LIMIT,
        }

    def skip_event(self, data, location):
        self.write([('INSERT INTO skipped_external_events(data, location, extra_data) VALUES (?, ?, ?)',
                     (data, globaldb.BY_NAME[location.upper().replace(' ', '_')], None))])

    def add_nft(self, identifier, name, collection_name, image_url):
        """An NFT as rotki's NFT module stores one it found in a tracked account."""
        self.write([(
            'INSERT INTO nfts(identifier, name, last_price, last_price_asset, manual_price, is_lp, image_url, '
            'collection_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            (identifier, name, '0', 'ETH', 0, 0, image_url, collection_name),
        )])
        return True

    def skipped_events(self):
        summary = {'locations': {}}
        total = 0
        for count, char in self.conn.execute(
                'SELECT COUNT(*), location FROM skipped_external_events GROUP BY location'):
            summary['locations'][globaldb.BY_CHAR[char].lower().replace('_', ' ')] = count
            total += count
        summary['total'] = total
        return summary

    def google_calendar(self):
        row = self.conn.execute(
            'SELECT value FROM key_value_cache WHERE name=?', ('google_calendar_credentials',)).fetchone()
        if row is None:
            return {'authenticated': False, 'user_email': None}
        return {'authenticated': True, 'user_email': json.loads(row[0]).get('email')}

    def store_google_credentials(self, credentials):
        self.write([('INSERT OR REPLACE INTO key_value_cache(name, value) VALUES(?, ?)',
                     ('google_calendar_credentials', json.dumps(credentials)))])
