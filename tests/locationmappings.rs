//! `POST /api/1/assets/locationmappings`, the first endpoint that reads global.db: the
//! legacy app answers it byte for byte as rotki v1.43.2 did in the captures of
//! `shared/rotki/endpoints.md` §d (same fixture rows, same SQL, same parsing and errors),
//! through banyan; and banyan's native handler answers every one of them with the same
//! bytes, reading the same global.db.

mod common;

use common::{raw, request, Banyan, Legacy, Options};

/// (request body, status, exact response body) from the captures.
const CASES: &[(&str, u16, &str)] = &[
    (
        r#"{"location": "kraken", "limit": 2, "offset": 1}"#,
        200,
        r#"{"result": {"entries": [{"asset": "BTC", "location": "kraken", "location_symbol": "XBT"}, {"asset": "ETH", "location": "kraken", "location_symbol": "XETH"}], "entries_found": 4, "entries_total": 10}, "message": ""}"#,
    ),
    (
        r#"{"location": null}"#,
        200,
        r#"{"result": {"entries": [{"asset": "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "location": null, "location_symbol": "DAI"}, {"asset": "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "location": null, "location_symbol": "USDC"}], "entries_found": 2, "entries_total": 10}, "message": ""}"#,
    ),
    (
        r#"{"limit": 3, "offset": 2}"#,
        200,
        r#"{"result": {"entries": [{"asset": "ETH2", "location": "binance", "location_symbol": "BETH"}, {"asset": "ETH", "location": "kraken", "location_symbol": "XETH"}, {"asset": "eip155:1/erc20:0x6B175474E89094C44Da98b954EedeAC495271d0F", "location": null, "location_symbol": "DAI"}], "entries_found": 10, "entries_total": 10}, "message": ""}"#,
    ),
    (
        r#"{"location_symbol": "ETH", "location": "kraken"}"#,
        200,
        r#"{"result": {"entries": [{"asset": "ETH2", "location": "kraken", "location_symbol": "ETH2"}, {"asset": "ETH", "location": "kraken", "location_symbol": "XETH"}], "entries_found": 2, "entries_total": 10}, "message": ""}"#,
    ),
    (r#"{"limit": 2, "offset": 100}"#, 200, r#"{"result": {"entries": [], "entries_found": 10, "entries_total": 10}, "message": ""}"#),
    (
        r#"{"location": "ethereum"}"#,
        400,
        "{\"message\":\"{\\\"location\\\": [\\\"Given location ethereum is not one of kucoin,okx,coinbaseprime,bitpanda,binance,binanceus,bitcoinde,bitfinex,bitmex,bitstamp,coinbase,cryptocom,gemini,iconomi,kraken,independentreserve,poloniex,woo,bybit,htx,cryptocom,blockfi,nexo,shapeshift,uphold,bisq,bitmex,ftx,ftxus,bittrex,coinbasepro as needed by the endpoint\\\"]}\",\"result\":null}\n",
    ),
    (
        r#"{"location": "nowhere"}"#,
        400,
        "{\"message\":\"{\\\"location\\\": [\\\"Failed to deserialize Location value nowhere\\\"]}\",\"result\":null}\n",
    ),
    (
        r#"{"location": 5}"#,
        400,
        "{\"message\":\"{\\\"location\\\": [\\\"Failed to deserialize Location value from non string value: 5\\\"]}\",\"result\":null}\n",
    ),
    (r#"{"limit": "abc", "offset": 0}"#, 400, "{\"message\":\"{\\\"limit\\\": [\\\"Not a valid integer.\\\"]}\",\"result\":null}\n"),
    (r#"{"limit": true, "offset": 0}"#, 400, "{\"message\":\"{\\\"limit\\\": [\\\"Not a valid integer.\\\"]}\",\"result\":null}\n"),
    (
        r#"{"location_symbol": 5}"#,
        400,
        "{\"message\":\"{\\\"location_symbol\\\": [\\\"Not a valid string.\\\"]}\",\"result\":null}\n",
    ),
    (r#"{"async_query": true}"#, 400, "{\"message\":\"{\\\"async_query\\\": [\\\"Unknown field.\\\"]}\",\"result\":null}\n"),
    (r#"[1]"#, 400, "{\"message\":\"{\\\"_schema\\\": [\\\"Invalid input type.\\\"]}\",\"result\":null}\n"),
    (r#"null"#, 400, "{\"message\":\"{\\\"_schema\\\": [\\\"Invalid input type.\\\"]}\",\"result\":null}\n"),
    (
        r#"{"foo": 1, "limit": "x", "location": "nowhere"}"#,
        400,
        "{\"message\":\"{\\\"location\\\": [\\\"Failed to deserialize Location value nowhere\\\"], \\\"limit\\\": [\\\"Not a valid integer.\\\"], \\\"foo\\\": [\\\"Unknown field.\\\"]}\",\"result\":null}\n",
    ),
    (r#"{"limit": 99999999999999999999, "offset": 0}"#, 500, r#"{"result": null, "message": "datatype mismatch"}"#),
];

/// POSTs `body` as JSON to the endpoint through `banyan`.
fn post(banyan: &Banyan, body: &str) -> common::Raw {
    let headers = [("Content-Type", "application/json")];
    raw(banyan.addr, &request("POST", "/api/1/assets/locationmappings", &headers, body.as_bytes()))
}

#[test]
fn the_legacy_app_answers_locationmappings_as_rotki_did() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), "");
    for (body, status, want) in CASES {
        let r = post(&banyan, body);
        assert_eq!(r.status(), *status, "{body}");
        assert_eq!(String::from_utf8_lossy(&r.body), *want, "{body}");
    }
    // Missing pagination halves, a negative offset and a non-JSON body are not errors.
    for body in [r#"{}"#, r#"{"offset": 2}"#, r#"{"limit": 3}"#, r#"{"limit": 10, "offset": -1}"#] {
        let r = post(&banyan, body);
        assert_eq!(r.status(), 200, "{body}");
        assert!(String::from_utf8_lossy(&r.body).contains(r#""entries_found": 10, "entries_total": 10"#), "{body}");
    }
    let r =
        raw(banyan.addr, &request("POST", "/api/1/assets/locationmappings", &[("Content-Type", "text/plain")], b"x"));
    assert_eq!(r.status(), 200);
}

/// Requests beyond the captures: paging edges, filters, bad input of other shapes.
const MORE: &[&str] = &[
    r#"{}"#,
    r#"{"offset": 2}"#,
    r#"{"limit": 3}"#,
    r#"{"limit": 10, "offset": -1}"#,
    r#"{"limit": 0, "offset": 3}"#,
    r#"{"limit": -1, "offset": 0}"#,
    r#"{"limit": "3", "offset": "1"}"#,
    r#"{"limit": 3.9, "offset": 0}"#,
    r#"{"location": "KRAKEN"}"#,
    r#"{"location": "Binance", "location_symbol": "eth"}"#,
    r#"{"location_symbol": "x_t"}"#,
    r#"{"location_symbol": "%"}"#,
    r#"{"location_symbol": ""}"#,
    r#"{"location": "polygon pos"}"#,
    r#"{"location": ""}"#,
    r#"{"location": 1.5}"#,
    r#"{"location": true}"#,
    r#"{"location": ["kraken"]}"#,
    r#"{"location": "kraken", "limit": "x", "offset": [1], "location_symbol": 5}"#,
    r#"{"location_symbol": 5, "offset": "x", "location": 7}"#,
    r#"{"async_query": null}"#,
    r#""x""#,
];

#[test]
fn the_native_handler_answers_as_legacy_does() {
    let legacy = Legacy::start();
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\n",
        config: "",
        data_dir: Some(&legacy.data_dir),
    });
    let direct = |body: &str| {
        let headers = [("Content-Type", "application/json")];
        raw(legacy.addr(), &request("POST", "/api/1/assets/locationmappings", &headers, body.as_bytes()))
    };
    for body in CASES.iter().map(|(b, _, _)| *b).chain(MORE.iter().copied()) {
        let (native, legacy) = (post(&banyan, body), direct(body));
        // An integer past 2^63 that serde holds as a float: Python holds it exactly.
        let backend = if body.contains("99999999999999999999") { "legacy" } else { "native" };
        assert_eq!(native.header("x-banyan-backend"), Some(backend), "{body}");
        assert_eq!(native.comparable_head(), legacy.comparable_head(), "{body}");
        assert_eq!(String::from_utf8_lossy(&native.body), String::from_utf8_lossy(&legacy.body), "{body}");
    }
}
