"""rotki's computed metadata routes, rebuilt from tables of rotki v1.43.2's own definitions.

Six GET routes whose answers rotki computes from its code, not from a database:
`/api/1/oracles`, `/api/1/history/events/type_mappings`, `/api/1/history/events/counterparties`,
`/api/1/blockchains/supported`, `/api/1/blockchains/evm/all`, `/api/1/blockchains/eth/modules`.
banyan serves captured bytes for them; this module is a second, independent representation
(tables written from rotki's enums and mappings, not read from those captures), so a test
comparing the two notices when either goes stale.

Names follow rotki's serialization rules: an enum member `MANUAL_CURRENT` is exposed as
`manual current` (lower case, words joined by a space), and an oracle's display name is that
string capitalized. Tables keep rotki's definition order, which is the order on the wire.

Counterparties: rotki answers 500 while nobody is logged in (the chains aggregator, which owns
the decoders, exists only for a logged-in user). The decoder part of the list comes from a
Python set of NamedTuples; on Python 3.11, hash(None) is address based, so rotki's order changes
with every process even with a fixed PYTHONHASHSEED. The order here is that of the reference
capture (rotki run with PYTHONHASHSEED=0 under `setarch -R`, which makes it repeatable).
"""
from rotki_enums import CHAINS


def _word(member):
    """rotki's str() of a name-serialized enum member: MANUAL_CURRENT -> 'manual current'."""
    return ' '.join(part.lower() for part in member.split('_'))


def _rows(text):
    """A '|'-separated text table: one row per line, cells stripped, empty cells are None."""
    rows = []
    for line in text.strip('\n').splitlines():
        cells = [cell.strip() or None for cell in line.split('|')]
        rows.append(cells)
    return rows


# ---- /api/1/oracles (HistoricalPriceOracle, CurrentPriceOracle, NOT_EXPOSED_SOURCES) ------

HISTORICAL_ORACLES = ['MANUAL', 'COINGECKO', 'CRYPTOCOMPARE', 'XRATESCOM', 'MANUAL_CURRENT',
                      'DEFILLAMA', 'UNISWAPV2', 'UNISWAPV3', 'ALCHEMY']
NOT_EXPOSED_ORACLES = {'XRATESCOM'}
CURRENT_ORACLES = ['COINGECKO', 'CRYPTOCOMPARE', 'UNISWAPV2', 'UNISWAPV3', 'MANUALCURRENT',
                   'BLOCKCHAIN', 'FIAT', 'DEFILLAMA', 'ALCHEMY']


def oracles():
    def entry(member):
        return {'id': _word(member), 'name': _word(member).capitalize()}
    return {
        'history': [entry(m) for m in HISTORICAL_ORACLES if m not in NOT_EXPOSED_ORACLES],
        'current': [entry(m) for m in CURRENT_ORACLES],
    }


# ---- /api/1/history/events/type_mappings ---------------------------------------------------

# EVENT_CATEGORY_MAPPINGS: event type -> [(subtype, category, category for an exchange)]
GLOBAL_MAPPINGS = {
    'informational': [
        ('none', 'informational'), ('governance', 'governance'),
        ('deposit asset', 'informational'), ('remove asset', 'withdraw'),
        ('place order', 'place order'), ('create', 'create project'), ('update', 'update'),
        ('apply', 'apply'), ('approve', 'approval'), ('attest', 'attest'),
        ('mev reward', 'mev reward'), ('block production', 'create block'),
        ('consolidate', 'combine'), ('delegate', 'delegate'), ('message', 'message'),
    ],
    'receive': [
        ('reward', 'claim reward'), ('receive wrapped', 'receive'), ('generate debt', 'borrow'),
        ('return wrapped', 'receive'), ('airdrop', 'airdrop'), ('donate', 'receive donation'),
        ('none', 'receive'), ('liquidate', 'liquidation reward'),
        ('payment', 'receive payment'), ('grant', 'receive grant'), ('interest', 'interest'),
        ('cashback', 'cashback'), ('refund', 'refund'), ('spam', 'spam'),
    ],
    'deposit': [
        ('deposit asset', 'account deposit', 'cex deposit'),
        ('deposit for wrapped', 'deposit'), ('deposit to protocol', 'protocol deposit'),
        ('bridge', 'bridge deposit'), ('place order', 'deposit'), ('fee', 'fee'),
    ],
    'spend': [
        ('return wrapped', 'return'), ('payback debt', 'repay'), ('fee', 'fee'),
        ('donate', 'donate'), ('payment', 'pay'), ('none', 'send'), ('clawback', 'clawback'),
        ('burn', 'burn'),
    ],
    'loss': [
        ('liquidate', 'liquidation loss'), ('hack', 'hack loss'),
        ('liquidity provision loss', 'liquidity provision loss'), ('none', 'loss'),
    ],
    'withdrawal': [
        ('remove asset', 'account withdrawal', 'cex withdrawal'),
        ('redeem wrapped', 'withdraw'), ('withdraw from protocol', 'protocol withdrawal'),
        ('bridge', 'bridge withdrawal'), ('cancel order', 'cancel order'), ('refund', 'refund'),
        ('generate debt', 'borrow'), ('fee', 'fee'),
    ],
    'trade': [('spend', 'swap out'), ('receive', 'swap in'), ('none', 'informational'),
              ('fee', 'fee')],
    'renew': [('none', 'renew')],
    'staking': [
        ('deposit asset', 'stake deposit'), ('deposit for wrapped', 'stake deposit'),
        ('reward', 'staking reward'), ('remove asset', 'unstake'),
        ('redeem wrapped', 'unstake'), ('block production', 'create block'),
        ('mev reward', 'mev reward'), ('fee', 'fee'),
    ],
    'transfer': [('donate', 'donate'), ('none', 'transfer'), ('fee', 'fee')],
    'adjustment': [('spend', 'send'), ('receive', 'receive')],
    'deploy': [('none', 'deploy'), ('spend', 'deploy with spend'), ('nft', 'mint nft')],
    'migrate': [('spend', 'migrate out'), ('receive', 'migrate in')],
    'fail': [('fee', 'fail')],
    'mint': [('nft', 'mint nft'), ('fee', 'fee')],
    'burn': [('nft', 'burn')],
    'multi trade': [('spend', 'swap out'), ('receive', 'swap in'), ('fee', 'fee')],
    'margin': [('profit', 'profit'), ('loss', 'loss'), ('fee', 'fee')],
    'transaction to self': [('none', 'self transaction')],
    'exchange adjustment': [('spend', 'send'), ('receive', 'receive')],
    'exchange transfer': [
        ('spend', 'account withdrawal', 'cex withdrawal'),
        ('receive', 'account deposit', 'cex deposit'),
        ('fee', 'fee'),
    ],
}

# ENTRY_TYPE_MAPPINGS: entry type -> event type -> subtype -> {condition: category}
ENTRY_TYPE_MAPPINGS = {
    'eth withdrawal event': {
        'staking': {'remove asset': {'is_exit': 'stake exit', 'not_exit': 'withdraw'}},
    },
}

# EVENT_CATEGORY_DETAILS in its definition order; direction from EventCategory's value.
# category | direction | label | icon | color
EVENT_CATEGORIES = _rows("""
send                     | out     | send                     | lu-arrow-up
receive                  | in      | receive                  | lu-arrow-down                | success
swap out                 | out     | swap                     | lu-redo-2
swap in                  | in      | swap                     | lu-undo-2                    | success
migrate out              | out     | migrate                  | lu-redo-2
migrate in               | in      | migrate                  | lu-undo-2                    | success
approval                 | neutral | approval                 | lu-lock-keyhole-open
deposit                  | out     | deposit                  | lu-upload                    | success
withdraw                 | in      | withdraw                 | lu-download
cex deposit              | neutral | exchange deposit         | lu-upload                    | success
cex withdrawal           | neutral | exchange withdraw        | lu-download
airdrop                  | in      | airdrop                  | lu-gift
borrow                   | in      | borrow                   | lu-hand-coins
repay                    | out     | repay                    | lu-history
deploy                   | neutral | deploy                   | lu-rocket
deploy with spend        | out     | deploy with spend        | lu-rocket
bridge deposit           | out     | bridge                   | lu-upload                    | error
bridge withdrawal        | in      | bridge                   | lu-download                  | success
governance               | neutral | governance               | lu-scale
donate                   | out     | donate                   | lu-donate-fill
receive donation         | in      | receive donation         | lu-receive-donation-fill
renew                    | out     | renew                    | lu-refresh-cw
place order              | neutral | place order              | lu-briefcase
transfer                 | neutral | transfer                 | lu-arrow-up-down
staking reward           | in      | staking reward           | lu-trophy
claim reward             | in      | claim reward             | lu-gift
liquidation reward       | in      | liquidation reward       | lu-droplet-fill
liquidation loss         | out     | liquidation loss         | lu-droplet-half-fill
informational            | neutral | informational            | lu-info
cancel order             | in      | cancel order             | lu-file-x                    | error
refund                   | in      | refund                   | lu-refund
fee                      | out     | fee                      | lu-banknote
fail                     | out     | failed                   | lu-circle-x                  | error
mev reward               | in      | mev                      | lu-medal
create block             | in      | new block                | lu-box
create project           | neutral | new project              | lu-file-plus
update                   | neutral | update                   | lu-square-pen
apply                    | neutral | apply                    | lu-circle-arrow-out-up-right
stake deposit            | out     | stake                    | lu-layers-in
unstake                  | in      | unstake                  | lu-layers-out
stake exit               | in      | exit                     | lu-layers-out
attest                   | neutral | attest                   | lu-feather
pay                      | out     | pay                      | lu-upload
receive payment          | in      | receive payment          | lu-download
receive grant            | in      | receive grant            | lu-hand-coins
interest                 | in      | receive interest         | lu-sprout
cashback                 | in      | cashback                 | lu-badge-dollar-sign
hack loss                | out     | hack                     | lu-skull
clawback                 | out     | clawback                 | lu-undo-2
mint nft                 | in      | mint nft                 | lu-file-image
burn                     | out     | burn                     | lu-flame-kindling
combine                  | neutral | combine                  | lu-combine
delegate                 | neutral | delegate                 | lu-handshake
loss                     | out     | loss                     | lu-trending-down
liquidity provision loss | out     | liquidity provision loss | lu-droplet-trending-down
return                   | out     | return                   | lu-undo-2
message                  | neutral | message                  | lu-message-square-text
account deposit          | neutral | account deposit          | lu-upload                    | success
account withdrawal       | neutral | account withdraw         | lu-download
profit                   | in      | profit                   | lu-trending-up
self transaction         | neutral | self transaction         | lu-repeat-2
protocol deposit         | neutral | protocol deposit         | lu-upload
protocol withdrawal      | neutral | protocol withdrawal      | lu-download
spam                     | in      | spam                     | lu-shield-alert              | error
""")
# Per-counterparty details beside 'default': category -> [(counterparty, label, icon, color)]
CATEGORY_COUNTERPARTY_DETAILS = {'fee': [('gas', 'gas fee', 'lu-flame', None)]}

ACCOUNTING_EVENTS_ICONS = [
    ('trade', 'lu-send-to-back'), ('fee', 'lu-banknote'),
    ('asset movement', 'lu-coins-exchange'), ('margin position', 'lu-percent'),
    ('loan', 'lu-handshake'), ('prefork acquisition', 'lu-git-branch'),
    ('staking', 'lu-layers'), ('history event', 'lu-history-events-fill'),
    ('transaction event', 'lu-arrow-left-right'),
]


def _category_details(label, icon, color):
    details = {'label': label, 'icon': icon}
    if color is not None:
        details['color'] = color
    return details


def type_mappings():
    global_mappings = {}
    for event_type, rows in GLOBAL_MAPPINGS.items():
        global_mappings[event_type] = {}
        for subtype, category, *exchange in rows:
            mapping = {'default': category}
            if exchange:
                mapping['exchange'] = exchange[0]
            global_mappings[event_type][subtype] = mapping
    details = {}
    for category, direction, label, icon, *color in EVENT_CATEGORIES:
        mappings = {'default': _category_details(label, icon, color[0] if color else None)}
        for counterparty, cpt_label, cpt_icon, cpt_color in CATEGORY_COUNTERPARTY_DETAILS.get(category, []):
            mappings[counterparty] = _category_details(cpt_label, cpt_icon, cpt_color)
        details[category] = {'counterparty_mappings': mappings, 'direction': direction}
    return {
        'global_mappings': global_mappings,
        'entry_type_mappings': ENTRY_TYPE_MAPPINGS,
        'event_category_details': details,
        'accounting_events_icons': dict(ACCOUNTING_EVENTS_ICONS),
    }


# ---- /api/1/history/events/counterparties --------------------------------------------------

# ALL_SUPPORTED_EXCHANGES = SUPPORTED_EXCHANGES + EXTERNAL_EXCHANGES + DEAD_EXCHANGES (Location
# members; the first occurrence of a repeated one keeps its place).
SUPPORTED_EXCHANGES = ['KUCOIN', 'OKX', 'COINBASEPRIME', 'BITPANDA', 'BINANCE', 'BINANCEUS',
                       'BITCOINDE', 'BITFINEX', 'BITMEX', 'BITSTAMP', 'COINBASE', 'CRYPTOCOM',
                       'GEMINI', 'ICONOMI', 'KRAKEN', 'INDEPENDENTRESERVE', 'POLONIEX', 'WOO',
                       'BYBIT', 'HTX']
EXTERNAL_EXCHANGES = ['CRYPTOCOM', 'BLOCKFI', 'NEXO', 'SHAPESHIFT', 'UPHOLD', 'BISQ', 'BITMEX']
DEAD_EXCHANGES = ['FTX', 'FTXUS', 'BITTREX', 'COINBASEPRO']
# LOCATION_DETAILS of those exchanges: image, and a label where the capitalized name won't do.
EXCHANGE_IMAGES = {
    'KRAKEN': 'kraken.svg', 'POLONIEX': 'poloniex.svg', 'BITTREX': 'bittrex.svg',
    'BINANCE': 'binance.svg', 'BITMEX': 'bitmex.svg', 'COINBASE': 'coinbase.svg',
    'COINBASEPRIME': 'coinbaseprime.svg', 'COINBASEPRO': 'coinbasepro.svg',
    'GEMINI': 'gemini.svg', 'CRYPTOCOM': 'crypto_com.svg', 'BITSTAMP': 'bitstamp.svg',
    'BINANCEUS': 'binance.svg', 'BITFINEX': 'bitfinex.svg', 'BITCOINDE': 'btcde.svg',
    'ICONOMI': 'iconomi.svg', 'KUCOIN': 'kucoin.svg', 'FTX': 'ftx.svg', 'NEXO': 'nexo.svg',
    'BLOCKFI': 'blockfi.svg', 'INDEPENDENTRESERVE': 'independentreserve.svg',
    'SHAPESHIFT': 'shapeshift.svg', 'UPHOLD': 'uphold.svg', 'BITPANDA': 'bitpanda.svg',
    'BISQ': 'bisq.svg', 'FTXUS': 'ftxus.svg', 'OKX': 'okx.svg', 'WOO': 'woo.svg',
    'BYBIT': 'bybit.svg', 'HTX': 'htx.svg',
}
EXCHANGE_LABELS = {
    'COINBASEPRIME': 'Coinbase Prime', 'COINBASEPRO': 'Coinbase Pro', 'BINANCEUS': 'Binance US',
    'BITCOINDE': 'Bitcoin.de', 'FTX': 'FTX', 'INDEPENDENTRESERVE': 'Independent Reserve',
    'FTXUS': 'FTX US', 'OKX': 'OKX', 'HTX': 'HTX',
}

# Every counterparty the decoders of all chains declare (each decoder's counterparties(), the
# per-chain misc ones, and 'gas'), as rotki's decoder classes define them, laid out in the
# reference capture's order (see the module doc).
# Those whose identifier is an exchange's above are left out: the exchange entry wins
# (e.g. Ethereum's misc 'uphold' labelled 'Uphold.com').
# identifier | label | image | darkmode image | icon
DECODER_COUNTERPARTIES = _rows("""
thegraph           | The Graph                    | thegraph.svg
compound-v3        | Compound V3                  | compound.svg
eas                | Ethereum Attestation Service | eas.png
balancer-v3        | Balancer                     | balancer.svg
clrfund            | Clrfund                      | clrfund.png
giveth             | Giveth                       | giveth.jpg
omni               | Omni                         | omni.svg
pickle finance     | Pickle Finance               | pickle.svg
extrafi            | Extrafi                      | extrafi.svg
sushiswap          | Sushiswap                    | sushiswap.svg
polygon            | Polygon                      | polygon_pos.svg
1inch-v4           | 1inch V4                     | 1inch.svg
uniswap-v2         | Uniswap V2                   | uniswap.svg
hop                | Hop Protocol                 | hop_protocol.png
makerdao vault     | Makerdao vault               | makerdao.svg
quickswap-v3       | Quickswap V3                 | quickswap.png
firebird-finance   | Firebird Finance             | firebird-finance.png
rainbow_swaps      | rainbow swaps                | rainbow.svg
beefy_finance      | Beefy Finance                | beefy_finance_light.svg | beefy_finance_dark.svg
morpho             | Morpho                       | morpho.svg
woo-fi             | WOOFi                        | woo_fi.svg
arbitrum_one       | Arbitrum One                 | arbitrum_one.svg
defisaver          | Defisaver                    | defisaver.jpeg
monerium           | Monerium                     | monerium.svg
walletconnect      | WalletConnect                | walletconnect.svg
compound           | Compound                     | compound.svg
quickswap-v2       | Quickswap V2                 | quickswap.png
llamazip           | LlamaZip                     | llamazip.png
farcaster          | Farcaster                    | farcaster.png
Locked GNO         | Locked GNO                   | gnosis.svg
magpie             | Magpie                       | magpie.png
aave-v1            | Aave V1                      | aave.svg
paladin            | Paladin                      | paladin.png
wmon               | WMON                         | wmon.svg
votium             | Votium                       | votium.png
digixdao           | DigixDAO                     | digixdao.jpg
blur               | Blur                         | blur.png
uniswap-v4         | Uniswap V4                   | uniswap.svg
uniswap            | Uniswap                      | uniswap.svg
aerodrome          | Aerodrome Finance            | aerodrome.png
mintclub           | MintClub                     | mintclub.svg            | mintclub-dark.svg
superfluid         | Superfluid                   | superfluid.svg
odos-v1            | Odos v1                      | odos.svg
ygov               | Yearn Governance             | yearn_vaults.svg
wxdai              | WXDAI                        | wxdai.png
aave-v3            | Aave V3                      | aave.svg
jito               | Jito                         | jito_light.png          | jito_dark.png
aave               | Aave                         | aave.svg
diva               | Diva                         | diva.svg
dxdaomesa          | dxdao                        | dxdao.svg
yearn-v2           | Yearn V2                     | yearn_vaults.svg
harvest finance    | Harvest Finance              | harvest.svg
metamask_swaps     | metamask swaps               | metamask.svg
jupiter            | Jupiter                      | jupiter.svg
gmx                | GMX                          | gmx.svg
merkl              | Merkl                        | merkl_light.svg         | merkl_dark.svg
eigenlayer         | EigenLayer                   | eigenlayer.png
optimism           | Optimism                     | optimism.svg
makerdao dsr       | Makerdao DSR                 | makerdao.svg
cctp               | Circle CCTP                  | cctp.svg
1inch-v1           | 1inch                        | 1inch.svg
ens                | ens                          | ens.svg
fluence            | Fluence                      | fluence.png
echo               | Echo                         | echo.png
socket             | Socket                       | socket.png
element-finance    | Element Finance              | element_finance.png
safe-multisig      | Safe Multisig                | safemultisig.svg
drips              | Drips                        | drips.png
account delegation | Account delegation           | account_delegation.svg
golem              | Golem                        | golem.svg
degen              | Degen                        | degen.svg
wmatic             | WMatic                       | matic.svg
kyber              | Kyber                        | kyber.svg
safe               | Safe                         | safemultisig.svg
uniswap-v1         | Uniswap V1                   | uniswap.svg
1inch-v2           | 1inch V2                     | 1inch.svg
morpho_blue        | Morpho Blue                  | morpho.svg
basenames          | Basenames                    | base.svg
summer-fi          | Summer.fi                    | summer_fi.svg
umami              | Umami                        | umami.svg
gitcoin            | Gitcoin                      | gitcoin.svg
gas                | gas                          |                         |                        | lu-flame
scroll             | Scroll                       | scroll.svg
makerdao sai       | Makerdao SAI                 | makerdao.svg
frax               | FRAX                         | frax.png
yearn_staking      | Yearn Staking                | yearn_vaults.svg
gnosis-chain       | Gnosis Chain                 | gnosis.svg
aave-v2            | Aave V2                      | aave.svg
liquity            | Liquity                      | liquity.svg
balancer-v2        | Balancer V2                  | balancer.svg
base               | Base                         | base.svg
weth               | WETH                         | weth.svg
crosscurve         | CrossCurve                   | crosscurve.svg
octant             | Octant                       | octant.svg
zksync             | zkSync                       | zksync.jpg
eth2               | ETH2                         | ethereum.svg
1inch-v3           | 1inch V3                     | 1inch.svg
aura-finance       | Aura Finance                 | aura-finance.png
curve              | Curve.fi                     | curve.png
puffer             | Puffer                       | puffer.svg
convex             | Convex                       | convex.jpeg
1inch              | 1inch                        | 1inch.svg
rotki              | rotki                        | rotki.svg
gearbox            | Gearbox                      | gearbox.svg
stakedao-v2        | Stakedao V2                  | stakedao.png
uniswap-v3         | Uniswap V3                   | uniswap.svg
gnosis_pay         | Gnosis Pay                   | gnosis_pay.png
badger             | Badger                       | badger.png
pendle             | Pendle Finance               | pendle_light.svg        | pendle_dark.svg
yearn-v3           | Yearn V3                     | yearn_vaults.svg
lido-csm           | Lido CSM                     | lido_csm.svg
odos-v2            | Odos v2                      | odos.svg
pump-fun           | Pump.fun                     | pump-fun.png
shutter            | Shutter                      | shutter.png
0x                 | 0x                           | 0x.svg
efp                | EFP                          | efp.svg
yearn-v1           | Yearn V1                     | yearn_vaults.svg
cowswap            | Cowswap                      | cowswap.jpg
sky                | Sky                          | sky_money.svg
makerdao migration | Makerdao migration           | makerdao.svg
hyperliquid        | Hyperliquid                  | hyperliquid.svg
balancer-v1        | Balancer V1                  | balancer.svg
gho                | Gho                          | gho.svg
juicebox           | Juicebox                     | juicebox.svg
kyber legacy       | Kyber                        | kyber.svg
runmoney           | Runmoney                     | runmoney.png
spark              | Spark                        | spark.svg
velodrome          | Velodrome Finance            | velodrome.png
sushiswap-v2       | Sushiswap                    | sushiswap.svg
lido               | Lido eth                     | lido.svg
stakedao           | Stakedao                     | stakedao.png
hedgey             | Hedgey                       | hedgey_light.svg        | hedgey_dark.svg
quickswap-v4       | Quickswap V4                 | quickswap.png
1inch-v5           | 1inch V5                     | 1inch.svg
openocean          | OpenOcean                    | openocean.png
1inch-v6           | 1inch V6                     | 1inch.svg
paraswap           | Paraswap                     | paraswap.svg
""")

NOT_LOGGED_IN_COUNTERPARTIES = "'Rotkehlchen' object has no attribute 'chains_aggregator'"


def counterparties():
    result, seen = [], set()
    for member in SUPPORTED_EXCHANGES + EXTERNAL_EXCHANGES + DEAD_EXCHANGES:
        if member in seen:
            continue
        seen.add(member)
        result.append({
            'identifier': member.lower(),
            'label': EXCHANGE_LABELS.get(member, member.capitalize()),
            'image': EXCHANGE_IMAGES[member],
        })
    for identifier, label, *rest in DECODER_COUNTERPARTIES:
        entry = {'identifier': identifier, 'label': label}
        for key, value in zip(('image', 'darkmode_image', 'icon'), rest):
            if value is not None:
                entry[key] = value
        result.append(entry)
    return result


# ---- /api/1/blockchains/supported (SupportedBlockchain) ------------------------------------

# member | value | name (when not the member's words) | chain type | native token | image
# The id is the value in lower case; an evm chain's evm_chain_name is its ChainID's name in
# lower case, which for every supported evm chain is the member's name in lower case.
SUPPORTED_CHAINS = _rows("""
ETHEREUM             | ETH          |                     | evm       | ETH  | ethereum.svg
ETHEREUM_BEACONCHAIN | ETH2         | Ethereum Staking    | eth2      | ETH2 | ethereum.svg
BITCOIN              | BTC          |                     | bitcoin   | BTC  | bitcoin.svg
BITCOIN_CASH         | BCH          |                     | bitcoin   | BCH  | bitcoin-cash.svg
KUSAMA               | KSM          |                     | substrate | KSM  | kusama.svg
AVALANCHE            | AVAX         |                     | evm       | AVAX | avalanche.svg
POLKADOT             | DOT          |                     | substrate | DOT  | polkadot.svg
OPTIMISM             | OPTIMISM     |                     | evm       | ETH  | optimism.svg
POLYGON_POS          | POLYGON_POS  | Polygon PoS         | evm       | eip155:137/erc20:0x0000000000000000000000000000000000001010 | polygon_pos.svg
ARBITRUM_ONE         | ARBITRUM_ONE | Arbitrum One        | evm       | ETH  | arbitrum_one.svg
BASE                 | BASE         |                     | evm       | ETH  | base.svg
HYPERLIQUID          | HYPERLIQUID  | Hyperliquid         | evm       | HYPE | hyperliquid.svg
GNOSIS               | GNOSIS       | Gnosis              | evm       | XDAI | gnosis.svg
SCROLL               | SCROLL       |                     | evm       | ETH  | scroll.svg
BINANCE_SC           | BINANCE_SC   | Binance Smart Chain | evm       | BNB  | binance_sc.svg
MONAD                | MONAD        |                     | evm       | MON  | monad.svg
ZKSYNC_LITE          | ZKSYNC_LITE  | ZKSync Lite         | evmlike   | ETH  | zksync_lite.svg
SOLANA               | SOLANA       |                     | solana    | SOL  | solana.svg
""")


def supported_chains():
    result = []
    for member, value, name, chain_type, native_token, image in SUPPORTED_CHAINS:
        entry = {
            'id': value.lower(),
            'name': name or _word(member),
            'type': chain_type,
            'native_token': native_token,
            'image': image,
        }
        if chain_type == 'evm':
            entry['evm_chain_name'] = member.lower()
        result.append(entry)
    return result


# ---- /api/1/blockchains/evm/all (ChainID) --------------------------------------------------

# ChainID.name_and_label(): labels other than the capitalized name
EVM_CHAIN_LABELS = {
    'POLYGON_POS': 'Polygon POS', 'ZKSYNC_ERA': 'zkSync Era', 'POLYGON_ZKEVM': 'Polygon zkEVM',
    'BINANCE_SC': 'Binance Smart Chain', 'ARBITRUM_ONE': 'Arbitrum One',
    'HYPERLIQUID': 'Hyperliquid', 'ARBITRUM_NOVA': 'Arbitrum Nova', 'PULSECHAIN': 'PulseChain',
}


def evm_chains():
    return [
        {'id': chain_id, 'name': member.lower(),
         'label': EVM_CHAIN_LABELS.get(member, member.lower().capitalize())}
        for member, chain_id in CHAINS.items()
    ]


# ---- /api/1/blockchains/eth/modules (AVAILABLE_MODULES_MAP) --------------------------------

ETH_MODULES = [
    ('makerdao_dsr', 'MakerDAO DSR'), ('makerdao_vaults', 'MakerDAO Vaults'),
    ('uniswap', 'Uniswap'), ('loopring', 'Loopring'), ('eth2', 'Eth2'),
    ('sushiswap', 'Sushiswap'), ('liquity', 'Liquity'), ('pickle_finance', 'Pickle Finance'),
    ('nfts', 'NFTs'),
]


def eth_modules():
    return [{'id': module, 'name': name} for module, name in ETH_MODULES]


# ---- routes --------------------------------------------------------------------------------

ROUTES = [
    ('/api/1/oracles', 'oracles', oracles),
    ('/api/1/history/events/type_mappings', 'type_mappings', type_mappings),
    ('/api/1/history/events/counterparties', 'counterparties', counterparties),
    ('/api/1/blockchains/supported', 'supported_chains', supported_chains),
    ('/api/1/blockchains/evm/all', 'evm_chains', evm_chains),
    ('/api/1/blockchains/eth/modules', 'eth_modules', eth_modules),
]


def register(app, api_response, fail, users):
    """Adds the six GET routes. `users.name is None` means nobody is logged in."""
    def view(build, needs_user):
        def answer():
            if needs_user and users.name is None:
                return fail(NOT_LOGGED_IN_COUNTERPARTIES, 500)
            return api_response({'result': build(), 'message': ''})
        return answer

    for path, name, build in ROUTES:
        app.add_url_rule(path, endpoint=f'metadata_{name}', methods=['GET'],
                         view_func=view(build, needs_user=build is counterparties))
