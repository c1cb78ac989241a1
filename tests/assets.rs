//! rotki's asset module through banyan, native against the legacy test app on the same
//! fixture global.db (a slice of a real one, `tests/legacy/fixtures/global.sql`) and the same
//! SQLCipher user database: every request of a sweep, valid and invalid, gets the bytes
//! legacy gives (status, head but `Date`, body), also right after writes through legacy
//! (ignoring assets, adding and editing a custom asset); before a login the routes that
//! need one are handed to legacy, whose 500 is rotki's; the answers rotki computes from its
//! own code are the ones the legacy app builds from its own tables.

mod common;

use common::{get_route, raw, request, Banyan, Legacy, Options, Raw};

/// The native asset routes at 100 %.
fn flags() -> String {
    let mut flags = String::new();
    for (name, path) in POSTS {
        flags.push_str(&format!("[routes.{name}]\npath = \"{path}\"\nmethods = [\"POST\"]\nnative = 100\n\n"));
    }
    for (name, path) in METADATA {
        flags.push_str(&get_route(name, path, "100", ""));
    }
    flags
}

/// The POST routes of the module.
const POSTS: &[(&str, &str)] = &[("assets_all", "/api/1/assets/all")];

const METADATA: [(&str, &str); 6] = [
    ("oracles", "/api/1/oracles"),
    ("type_mappings", "/api/1/history/events/type_mappings"),
    ("counterparties", "/api/1/history/events/counterparties"),
    ("chains", "/api/1/blockchains/supported"),
    ("evm_chains", "/api/1/blockchains/evm/all"),
    ("modules", "/api/1/blockchains/eth/modules"),
];

struct Setup {
    legacy: Legacy,
    banyan: Banyan,
    _data: tempfile::TempDir,
}

fn setup() -> Setup {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_in(0, &dir, &[]);
    let banyan =
        Banyan::start_with(Options { legacy: legacy.url(), flags: &flags(), config: "", data_dir: Some(&dir) });
    Setup { legacy, banyan, _data: data }
}

/// A request with a JSON body given as text, so its key order and odd values stay.
fn send(addr: std::net::SocketAddr, method: &str, path: &str, body: Option<&str>) -> Raw {
    match body {
        Some(b) => raw(addr, &request(method, path, &[("Content-Type", "application/json")], b.as_bytes())),
        None => raw(addr, &request(method, path, &[], b"")),
    }
}

fn text(r: &Raw) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Through banyan (by `backend`) and from legacy itself: the same status, head and body.
fn same(s: &Setup, method: &str, path: &str, body: Option<&str>, backend: &str) -> Raw {
    let ours = send(s.banyan.addr, method, path, body);
    let theirs = send(s.legacy.addr(), method, path, body);
    let what = format!("{method} {path} {body:?}");
    assert_eq!(ours.header("x-banyan-backend"), Some(backend), "{what}: {}", ours.head);
    assert_eq!(ours.comparable_head(), theirs.comparable_head(), "{what}");
    assert_eq!(text(&ours), text(&theirs), "{what}");
    ours
}

/// Bodies of `POST /api/1/assets/all`: each filter, ordering and page alone and combined,
/// and bad input of every kind marshmallow words (the requests of the captures from the
/// real rotki, on the fixture's assets).
const ALL: &[&str] = &[
    "{}",
    r#"{"limit": 10, "offset": 0}"#,
    r#"{"limit": 10, "offset": 10}"#,
    r#"{"limit": 0, "offset": 0}"#,
    r#"{"limit": -5, "offset": 0}"#,
    r#"{"limit": 3, "offset": -2}"#,
    r#"{"limit": 10, "offset": 100000}"#,
    r#"{"limit": 2, "name": "bitcoin"}"#,
    r#"{"offset": 5, "name": "bitcoin"}"#,
    r#"{"limit": 2.9, "offset": "1", "name": "bitcoin"}"#,
    r#"{"limit": 1e+300, "offset": 0, "asset_type": "fiat"}"#,
    r#"{"name": "bitcoin", "limit": 20, "offset": 0}"#,
    r#"{"name": "BITCOIN", "limit": 20, "offset": 0}"#,
    r#"{"name": "b_t%n", "limit": 10, "offset": 0}"#,
    r#"{"name": "\u65e5\u672c"}"#,
    r#"{"name": "CAF\u00c9"}"#,
    r#"{"name": "Caf\u00e9"}"#,
    r#"{"name": "\u03bc", "limit": 5, "offset": 0}"#,
    r#"{"symbol": "usdc", "limit": 10, "offset": 0}"#,
    r#"{"name": "dai", "symbol": "dai", "limit": 10, "offset": 0}"#,
    r#"{"asset_type": "fiat"}"#,
    r#"{"asset_type": "own chain", "limit": 10, "offset": 0}"#,
    r#"{"asset_type": "evm token", "limit": 10, "offset": 0}"#,
    r#"{"asset_type": "solana token", "limit": 5, "offset": 0}"#,
    r#"{"asset_type": "custom asset"}"#,
    r#"{"asset_type": "other", "limit": 5, "offset": 0}"#,
    r#"{"asset_type": "nft"}"#,
    r#"{"asset_type": "Counterparty_Token"}"#,
    r#"{"asset_type": "tron token", "order_by_attributes": ["symbol"], "ascending": [true]}"#,
    r#"{"evm_chain": "optimism", "limit": 5, "offset": 0}"#,
    r#"{"evm_chain": "gnosis", "asset_type": "evm token"}"#,
    r#"{"evm_chain": "Polygon POS"}"#,
    r#"{"address": "0x6b175474e89094c44da98b954eedeac495271d0f"}"#,
    r#"{"address": "0x6B175474E89094C44Da98b954EedeAC495271d0F", "evm_chain": "ethereum"}"#,
    r#"{"address": "a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"}"#,
    r#"{"identifiers": ["BTC", "ETH", "eip155:1/erc20:0x1111111111111111111111111111111111111111", "f061b316-2fe7-4ae7-9548-a065ccaff6f8", "eip155:8453/erc721:0x2222222222222222222222222222222222222222/42", "NOPE"]}"#,
    r#"{"identifiers": "EUR,USD,BCH"}"#,
    r#"{"identifiers": ["btc", "eth", "eur"]}"#,
    r#"{"identifiers": ["eip155:1/erc20:0x1111111111111111111111111111111111111111", "eip155:100/erc20:0x3333333333333333333333333333333333333333", "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F"]}"#,
    r#"{"identifiers": ["eip155:100/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "eip155:100/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "EUR"], "order_by_attributes": ["name"], "ascending": [true]}"#,
    r#"{"ignored_assets_handling": "exclude", "identifiers": ["BCH", "BTC", "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "bch"]}"#,
    r#"{"ignored_assets_handling": "SHOW_ONLY", "identifiers": ["BCH", "BTC", "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "bch"]}"#,
    r#"{"ignored_assets_handling": "exclude", "limit": 10, "offset": 0}"#,
    r#"{"ignored_assets_handling": "exclude", "limit": 5, "offset": 100}"#,
    r#"{"ignored_assets_handling": "none", "limit": 3, "offset": 0}"#,
    r#"{"ignored_assets_handling": "show only", "limit": 10, "offset": 0}"#,
    r#"{"ignored_assets_handling": "show only"}"#,
    r#"{"show_user_owned_assets_only": true}"#,
    r#"{"show_user_owned_assets_only": true, "ignored_assets_handling": "exclude"}"#,
    r#"{"show_user_owned_assets_only": true, "ignored_assets_handling": "show only"}"#,
    r#"{"show_whitelisted_assets_only": true, "limit": 10, "offset": 0}"#,
    r#"{"show_whitelisted_assets_only": true, "ignored_assets_handling": "exclude"}"#,
    r#"{"asset_type": "evm token", "show_user_owned_assets_only": true, "order_by_attributes": ["symbol"], "ascending": [true]}"#,
    r#"{"name": "usd", "symbol": "usd", "asset_type": "evm token", "evm_chain": "ethereum", "limit": 5, "offset": 1, "ignored_assets_handling": "exclude"}"#,
    r#"{"name": "wrapped", "order_by_attributes": ["symbol"], "ascending": [true], "limit": 20, "offset": 3}"#,
    r#"{"order_by_attributes": "symbol", "ascending": "true", "limit": 5, "offset": 0}"#,
    r#"{"limit": null, "offset": null, "name": null, "symbol": "", "address": "", "evm_chain": null, "identifiers": null, "order_by_attributes": null, "ascending": null, "asset_type": "fiat"}"#,
    // Every column of the query, both ways (many ties).
    r#"{"order_by_attributes": ["identifier"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["type"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["address"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["decimals"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["name"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["symbol"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["started"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["forked"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["swapped_for"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["coingecko"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["cryptocompare"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["protocol"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["chain"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["token_kind"], "ascending": [false], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["notes"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["custom_asset_type"], "ascending": [false], "limit": 10, "offset": 0}"#,
    // Refused by the schema (400) or by SQLite (500).
    r#"{"order_by_attributes": ["foo"], "ascending": [true], "limit": 10, "offset": 0}"#,
    r#"{"order_by_attributes": ["amount"], "ascending": [true]}"#,
    r#"{"order_by_attributes": ["A.name"], "ascending": [false]}"#,
    r#"{"order_by_attributes": ["na me"], "ascending": [true]}"#,
    r#"{"order_by_attributes": [""], "ascending": [true]}"#,
    r#"{"order_by_attributes": ["name"]}"#,
    r#"{"order_by_attributes": ["name", "symbol"], "ascending": [true]}"#,
    r#"{"order_by_attributes": ["name", "symbol"], "ascending": [true, false]}"#,
    r#"{"order_by_attributes": ["a", "b"], "ascending": [true, true], "evm_chain": "ethereum", "asset_type": "fiat"}"#,
    r#"{"order_by_attributes": [], "ascending": []}"#,
    r#"{"evm_chain": "ethereum", "asset_type": "fiat"}"#,
    r#"{"evm_chain": "eth"}"#,
    r#"{"asset_type": "bogus"}"#,
    r#"{"asset_type": ["fi\u00e4t"], "evm_chain": "\u00e9th"}"#,
    r#"{"ignored_assets_handling": "bogus"}"#,
    r#"{"show_user_owned_assets_only": "yes", "show_whitelisted_assets_only": 0}"#,
    r#"{"show_user_owned_assets_only": null, "show_whitelisted_assets_only": null, "ignored_assets_handling": null}"#,
    r#"{"address": "0x12"}"#,
    r#"{"address": "0x1234", "name": "x"}"#,
    r#"{"identifiers": []}"#,
    r#"{"identifiers": ["a", "", 5, null]}"#,
    r#"{"identifiers": "a,,b"}"#,
    r#"{"order_by_attributes": [5], "ascending": ["x"]}"#,
    r#"{"order_by_attributes": [null, "name"], "ascending": "true,maybe"}"#,
    r#"{"identifiers": {}}"#,
    r#"{"identifiers": {"a": 1}}"#,
    r#"{"async_query": true}"#,
    r#"{"foo": 1}"#,
    r#"{"foo": 1, "identifiers": 5, "show_whitelisted_assets_only": null, "show_user_owned_assets_only": "maybe", "ignored_assets_handling": 1, "evm_chain": 1, "address": 5, "asset_type": 5, "symbol": [], "name": 5, "offset": true, "limit": "x", "ascending": "x", "order_by_attributes": 7}"#,
    "[]",
    "null",
    "5",
    r#""x""#,
];

/// Bodies Python reads and banyan does not (JSON's NaN and Infinity, Unicode digits):
/// legacy answers them.
const HANDED_BACK: &[&str] = &[r#"{"limit": 1e400, "offset": NaN}"#, r#"{"limit": "\u0663", "offset": 0}"#];

fn sweep(s: &Setup, when: &str) {
    for body in ALL {
        let r = same(s, "POST", "/api/1/assets/all", Some(body), "native");
        assert!(r.status() == 200 || r.status() == 400 || r.status() == 500, "{when}: {body}");
    }
    for body in HANDED_BACK {
        same(s, "POST", "/api/1/assets/all", Some(body), "legacy");
    }
    // Not JSON: rotki's parser hands "missing" to the schema.
    for ct in [None, Some("text/plain")] {
        let headers: Vec<(&str, &str)> = ct.map(|c| vec![("Content-Type", c)]).unwrap_or_default();
        let req = request("POST", "/api/1/assets/all", &headers, br#"{"name": "bitcoin"}"#);
        let (ours, theirs) = (raw(s.banyan.addr, &req), raw(s.legacy.addr(), &req));
        assert_eq!(ours.header("x-banyan-backend"), Some("native"));
        assert_eq!((ours.status(), text(&ours)), (theirs.status(), text(&theirs)), "{when}: {ct:?}");
        assert_eq!(ours.status(), 400);
    }
    for (_, path) in METADATA {
        same(s, "GET", path, None, "native");
    }
}

#[test]
fn the_asset_module_answers_as_legacy_does() {
    let s = setup();
    // Before a login rotki builds no schema: its 500, from legacy.
    let r = same(&s, "POST", "/api/1/assets/all", Some(r#"{"foo": 1}"#), "legacy");
    assert_eq!(text(&r), r#"{"result": null, "message": "'DataHandler' object has no attribute 'db'"}"#);
    let r = same(&s, "GET", "/api/1/history/events/counterparties", None, "legacy");
    assert_eq!(r.status(), 500);
    for (name, path) in METADATA.iter().filter(|(n, _)| *n != "counterparties") {
        let r = same(&s, "GET", path, None, "native");
        assert_eq!(r.status(), 200, "{name}");
        let head = same(&s, "HEAD", path, None, "native");
        assert!(head.body.is_empty(), "{name}");
    }

    let r = send(s.banyan.addr, "PUT", "/api/1/users", Some(r#"{"name": "ann", "password": "pw"}"#));
    assert_eq!(r.status(), 200, "{}", text(&r));
    sweep(&s, "after the login");

    // Writes through legacy show in the next native read.
    let only_ignored = r#"{"ignored_assets_handling": "show only"}"#;
    let found =
        |r: &Raw| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["result"]["entries_found"].clone();
    let before = found(&same(&s, "POST", "/api/1/assets/all", Some(only_ignored), "native"));
    let ignore = r#"{"assets": ["BCH", "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "USD"]}"#;
    let r = send(s.banyan.addr, "PUT", "/api/1/assets/ignored", Some(ignore));
    assert_eq!(r.status(), 200, "{}", text(&r));
    let after = found(&same(&s, "POST", "/api/1/assets/all", Some(only_ignored), "native"));
    assert_eq!(after.as_i64().unwrap(), before.as_i64().unwrap() + 3);
    let added = send(
        s.banyan.addr,
        "PUT",
        "/api/1/assets/custom",
        Some(r#"{"name": "Gr\u00fcne Wiese", "custom_asset_type": "land", "notes": "2 ha"}"#),
    );
    assert_eq!(added.status(), 200, "{}", text(&added));
    let id: String =
        serde_json::from_slice::<serde_json::Value>(&added.body).unwrap()["result"].as_str().unwrap().to_string();
    let custom = r#"{"asset_type": "custom asset", "order_by_attributes": ["name"], "ascending": [true]}"#;
    let r = same(&s, "POST", "/api/1/assets/all", Some(custom), "native");
    assert!(text(&r).contains(&format!(r#""identifier": "{id}", "asset_type": "custom asset", "name": "Gr\u00fcne Wiese", "notes": "2 ha", "custom_asset_type": "land""#)));
    let edit = format!(r#"{{"identifier": "{id}", "name": "Wiese", "custom_asset_type": "land", "notes": null}}"#);
    let r = send(s.banyan.addr, "PATCH", "/api/1/assets/custom", Some(&edit));
    assert_eq!(text(&r), r#"{"result": true, "message": ""}"#);
    let r = same(&s, "POST", "/api/1/assets/all", Some(custom), "native");
    assert!(text(&r).contains(r#""name": "Wiese", "notes": null"#), "{}", text(&r));
    sweep(&s, "after the writes");

    // After a logout the session is closed: legacy answers (rotki's own 500 for a valid body).
    let r = send(s.banyan.addr, "PATCH", "/api/1/users/ann", Some(r#"{"action": "logout"}"#));
    assert_eq!(r.status(), 200);
    let r = same(&s, "POST", "/api/1/assets/all", Some("{}"), "legacy");
    assert_eq!(text(&r), r#"{"result": null, "message": "'NoneType' object has no attribute 'read_ctx'"}"#);
    same(&s, "GET", "/api/1/history/events/counterparties", None, "legacy");
    same(&s, "GET", "/api/1/oracles", None, "native");
}
