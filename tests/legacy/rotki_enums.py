"""rotki v1.43.2's enums the asset routes and metadata share, as member name -> value in
declaration order (the order rotki lists them in, where an answer lists them)."""

# ChainID: the API name is the lower-case member name, the DB keeps the number.
CHAINS = {
    'ETHEREUM': 1, 'OPTIMISM': 10, 'BINANCE_SC': 56, 'GNOSIS': 100, 'POLYGON_POS': 137,
    'FANTOM': 250, 'HYPERLIQUID': 999, 'BASE': 8453, 'ARBITRUM_ONE': 42161, 'AVALANCHE': 43114,
    'CELO': 42220, 'ARBITRUM_NOVA': 42170, 'CRONOS': 25, 'BOBA': 288, 'EVMOS': 9001,
    'POLYGON_ZKEVM': 1101, 'ZKSYNC_ERA': 324, 'PULSECHAIN': 369, 'SCROLL': 534352, 'SONIC': 146,
    'LINEA': 59144, 'MONAD': 143, 'INK': 57073, 'MEGAETH': 4326,
}

# AssetType: the DB keeps chr(value + 64), the API the lower-case name with '_' as ' '.
# No member has the value 19 or 24.
ASSET_TYPES = {
    'FIAT': 1, 'OWN_CHAIN': 2, 'EVM_TOKEN': 3, 'OMNI_TOKEN': 4, 'NEO_TOKEN': 5,
    'COUNTERPARTY_TOKEN': 6, 'BITSHARES_TOKEN': 7, 'ARDOR_TOKEN': 8, 'NXT_TOKEN': 9,
    'UBIQ_TOKEN': 10, 'NUBITS_TOKEN': 11, 'BURST_TOKEN': 12, 'WAVES_TOKEN': 13,
    'QTUM_TOKEN': 14, 'STELLAR_TOKEN': 15, 'TRON_TOKEN': 16, 'ONTOLOGY_TOKEN': 17,
    'VECHAIN_TOKEN': 18, 'EOS_TOKEN': 20, 'FUSION_TOKEN': 21, 'LUNIVERSE_TOKEN': 22,
    'OTHER': 23, 'SOLANA_TOKEN': 25, 'NFT': 26, 'CUSTOM_ASSET': 27,
}

# IgnoredAssetsHandling
IGNORED_ASSETS_HANDLINGS = {'NONE': 1, 'EXCLUDE': 2, 'SHOW_ONLY': 3}
