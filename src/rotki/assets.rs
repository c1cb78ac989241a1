//! rotki's asset enums as v1.43.2 defines them: `AssetType` (DB char `chr(value + 64)`),
//! `ChainID` (EVM chain ids and their API names) and `TokenKind`, with the API strings and
//! the deserialization messages rotki answers for bad ones.

/// `AssetType` members (value, name); values 19 and 24 were removed.
const ASSET_TYPES: [(u8, &str); 25] = [
    (1, "FIAT"),
    (2, "OWN_CHAIN"),
    (3, "EVM_TOKEN"),
    (4, "OMNI_TOKEN"),
    (5, "NEO_TOKEN"),
    (6, "COUNTERPARTY_TOKEN"),
    (7, "BITSHARES_TOKEN"),
    (8, "ARDOR_TOKEN"),
    (9, "NXT_TOKEN"),
    (10, "UBIQ_TOKEN"),
    (11, "NUBITS_TOKEN"),
    (12, "BURST_TOKEN"),
    (13, "WAVES_TOKEN"),
    (14, "QTUM_TOKEN"),
    (15, "STELLAR_TOKEN"),
    (16, "TRON_TOKEN"),
    (17, "ONTOLOGY_TOKEN"),
    (18, "VECHAIN_TOKEN"),
    (20, "EOS_TOKEN"),
    (21, "FUSION_TOKEN"),
    (22, "LUNIVERSE_TOKEN"),
    (23, "OTHER"),
    (25, "SOLANA_TOKEN"),
    (26, "NFT"),
    (27, "CUSTOM_ASSET"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetType(u8);

impl AssetType {
    pub const FIAT: AssetType = AssetType(1);
    pub const EVM_TOKEN: AssetType = AssetType(3);
    pub const SOLANA_TOKEN: AssetType = AssetType(25);
    pub const CUSTOM_ASSET: AssetType = AssetType(27);

    /// rotki's `deserialize`: spaces as underscores, Python's `upper()`, a member name.
    pub fn from_api(s: &str) -> Option<AssetType> {
        member(&ASSET_TYPES, s).map(AssetType)
    }

    pub fn from_db(s: &str) -> Option<AssetType> {
        let mut chars = s.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else { return None };
        let value = (c as u32).checked_sub(64)?;
        ASSET_TYPES.iter().find(|(v, _)| u32::from(*v) == value).map(|(v, _)| AssetType(*v))
    }

    pub fn db_char(self) -> String {
        char::from(self.0 + 64).to_string()
    }

    /// `str(asset_type)`: the name in lower case, words separated by spaces.
    pub fn api_string(self) -> String {
        let name = ASSET_TYPES.iter().find(|(v, _)| *v == self.0).map_or("", |(_, n)| n);
        name.to_ascii_lowercase().replace('_', " ")
    }

    /// `AssetType.is_crypto_asset`: own chain and every value from 4 to 26.
    pub fn is_crypto(self) -> bool {
        self.0 == 2 || (4..27).contains(&self.0)
    }
}

/// `ChainID` members (id, API name) in declaration order, from rotki's own answer to
/// `GET /api/1/blockchains/evm/all` (`data/evm_chains.json`).
static CHAINS: std::sync::LazyLock<Vec<(u32, String)>> = std::sync::LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Answer {
        result: Vec<Chain>,
    }
    #[derive(serde::Deserialize)]
    struct Chain {
        id: u32,
        name: String,
    }
    let answer: Answer = serde_json::from_slice(include_bytes!("data/evm_chains.json")).expect("a captured answer");
    answer.result.into_iter().map(|c| (c.id, c.name)).collect()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainId(pub u32);

impl ChainId {
    /// `ChainID.deserialize_from_name`: as an enum name, spaces as underscores.
    pub fn from_api(s: &str) -> Option<ChainId> {
        let member = s.replace(' ', "_").to_uppercase();
        CHAINS.iter().find(|(_, n)| n.to_ascii_uppercase() == member).map(|(id, _)| ChainId(*id))
    }

    pub fn from_db(id: i64) -> Option<ChainId> {
        CHAINS.iter().find(|(c, _)| i64::from(*c) == id).map(|(c, _)| ChainId(*c))
    }

    /// `to_name()`: the member name in lower case.
    pub fn name(self) -> String {
        CHAINS.iter().find(|(c, _)| *c == self.0).map_or(String::new(), |(_, n)| n.clone())
    }
}

/// rotki's `SupportedBlockchain` as `GET /api/1/blockchains/supported` lists them
/// (`data/supported_chains.json`): each one's native token, and its EVM chain name.
static BLOCKCHAINS: std::sync::LazyLock<Vec<(String, Option<String>)>> = std::sync::LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Answer {
        result: Vec<Chain>,
    }
    #[derive(serde::Deserialize)]
    struct Chain {
        native_token: String,
        evm_chain_name: Option<String>,
    }
    let answer: Answer =
        serde_json::from_slice(include_bytes!("data/supported_chains.json")).expect("a captured answer");
    answer.result.into_iter().map(|c| (c.native_token, c.evm_chain_name)).collect()
});

/// Every blockchain's native token identifier (`NATIVE_TOKEN_IDS`).
pub fn native_token_ids() -> std::collections::HashSet<&'static str> {
    BLOCKCHAINS.iter().map(|(t, _)| t.as_str()).collect()
}

/// The native token of an EVM chain's blockchain; `None` for a chain rotki has no
/// blockchain for.
pub fn native_token_of(chain: ChainId) -> Option<String> {
    let name = chain.name();
    BLOCKCHAINS.iter().find(|(_, c)| c.as_deref() == Some(name.as_str())).map(|(t, _)| t.clone())
}

/// The counterparties rotki's decoders know (`chains_aggregator.get_all_counterparties()`):
/// the entries of `GET /api/1/history/events/counterparties` after its leading exchanges
/// (`data/counterparties.json`), and the four exchanges that also have decoders, whose
/// entries the exchanges' own shadow there.
pub fn is_counterparty(id: &str) -> bool {
    static DECODERS: std::sync::LazyLock<std::collections::HashSet<String>> = std::sync::LazyLock::new(|| {
        #[derive(serde::Deserialize)]
        struct Answer {
            result: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            identifier: String,
        }
        let answer: Answer =
            serde_json::from_slice(include_bytes!("data/counterparties.json")).expect("a captured answer");
        let exchanges = crate::rotki::location::EXCHANGES_TEXT.split(',').collect::<std::collections::HashSet<_>>();
        let mut ids: std::collections::HashSet<String> =
            answer.result.into_iter().map(|e| e.identifier).skip_while(|id| exchanges.contains(id.as_str())).collect();
        ids.extend(["kraken", "poloniex", "shapeshift", "uphold"].map(String::from));
        ids
    });
    DECODERS.contains(id)
}

/// `TokenKind` (DB chars A..E): erc20, erc721, unknown, spl token, spl nft.
const TOKEN_KINDS: [&str; 5] = ["erc20", "erc721", "unknown", "spl token", "spl nft"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenKind(u8);

impl TokenKind {
    pub const ERC721: TokenKind = TokenKind(1);

    pub fn from_db(s: &str) -> Option<TokenKind> {
        match s.as_bytes() {
            [c @ b'A'..=b'E'] => Some(TokenKind(c - b'A')),
            _ => None,
        }
    }

    /// What `deserialize_evm_from_db` accepts.
    pub fn is_evm(self) -> bool {
        self.0 <= 1
    }

    /// What `deserialize_solana_from_db` accepts.
    pub fn is_solana(self) -> bool {
        self.0 >= 3
    }

    pub fn api_string(self) -> &'static str {
        TOKEN_KINDS[self.0 as usize]
    }
}

/// Every member but NFT, as `/api/1/assets/types` lists them.
pub fn public_asset_types() -> impl Iterator<Item = String> {
    ASSET_TYPES.iter().filter(|(v, _)| *v != 26).map(|(v, _)| AssetType(*v).api_string())
}

fn member(table: &[(u8, &str)], s: &str) -> Option<u8> {
    let name = s.replace(' ', "_").to_uppercase();
    table.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_types_as_rotki_names_them() {
        let evm = AssetType::from_api("evm token").unwrap();
        assert_eq!((evm.db_char(), evm.api_string()), ("C".into(), "evm token".into()));
        assert_eq!(AssetType::from_api("Custom_Asset"), Some(AssetType::CUSTOM_ASSET));
        assert_eq!(AssetType::from_db("[").unwrap().api_string(), "custom asset");
        assert_eq!(AssetType::from_db("Y"), Some(AssetType::SOLANA_TOKEN));
        assert_eq!(AssetType::from_db("S"), None);
        assert!(AssetType::from_db("Z").unwrap().is_crypto());
        assert!(!AssetType::FIAT.is_crypto() && !AssetType::CUSTOM_ASSET.is_crypto());
    }

    #[test]
    fn chains_and_token_kinds() {
        assert_eq!(ChainId::from_api("polygon pos"), Some(ChainId(137)));
        assert_eq!(ChainId::from_db(534352).unwrap().name(), "scroll");
        assert_eq!(ChainId::from_api("eth"), None);
        assert_eq!(TokenKind::from_db("A").unwrap().api_string(), "erc20");
        assert!(TokenKind::from_db("D").unwrap().is_solana());
        assert!(TokenKind::from_db("F").is_none());
        assert_eq!(native_token_of(ChainId(100)).as_deref(), Some("XDAI"));
        assert_eq!(native_token_of(ChainId(250)), None);
        assert!(native_token_ids().contains("SOL") && native_token_ids().contains("ETH2"));
        assert!(is_counterparty("uniswap-v3") && is_counterparty("kraken") && !is_counterparty("kucoin"));
    }
}
