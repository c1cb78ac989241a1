//! The session bridge against the legacy app's real SQLCipher user database (WAL mode,
//! gevent-served): after a login through banyan, on either request path, the native
//! login-gated reads answer what legacy answers, also right after every write made through
//! legacy; a logout, a refused login and a restart of legacy close the session, so legacy's
//! own 401 answers; a password change keeps it open under the new key; and the password
//! never shows in anything banyan wrote or answered.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{eventually, get_route, raw, request, Banyan, Legacy, Options, Raw};
use serde_json::{json, Value};

/// Both quotes and a space: rotki pastes the password into `PRAGMA key='...'`.
const PASSWORD: &str = "pa'ss\"wo rd";
const NEW_PASSWORD: &str = "n3w'pw\"";

/// The GET routes this issue moves, all native at 100 %.
const READS: [(&str, &str); 9] = [
    ("users", "/api/1/users"),
    ("settings", "/api/1/settings"),
    ("tags", "/api/1/tags"),
    ("ignored", "/api/1/assets/ignored"),
    ("services", "/api/1/external_services"),
    ("queried", "/api/1/queried_addresses"),
    ("accounts", "/api/1/blockchains/{chain}/accounts"),
    ("skipped", "/api/1/history/skipped_external_events"),
    ("google", "/api/1/calendar/google"),
];

/// The notes query the frontend sends at every login, for its page and for `global`.
fn notes_count(location: &str) -> Value {
    json!({"ascending": [false], "limit": 1, "location": location, "offset": 0, "order_by_attributes": ["title"], "title_substring": ""})
}

/// Every request the comparison makes: (method, path, JSON body).
fn probes() -> Vec<(&'static str, String, Value)> {
    let mut probes: Vec<_> = READS
        .iter()
        .filter(|(_, path)| !path.contains('{'))
        .map(|(_, path)| ("GET", path.to_string(), Value::Null))
        .collect();
    // Every chain kind (EVM, bitcoin, substrate, Solana), names as clients write them, and
    // the names rotki refuses (its 400s, native too once a user is logged in).
    for chain in
        ["eth", "gnosis", "avax", "btc", "BCH", "polygon%20pos", "ksm", "dot", "solana", "nope", "eth2", "Eth2"]
    {
        probes.push(("GET", format!("/api/1/blockchains/{chain}/accounts"), Value::Null));
    }
    for body in [
        json!({}),
        notes_count("dashboard"),
        notes_count("global"),
        json!({"title_substring": "t", "limit": 2, "offset": 1}),
        json!({"order_by_attributes": ["is_pinned", "title"], "ascending": [false, true], "limit": 0, "offset": 0}),
    ] {
        probes.push(("POST", "/api/1/notes".to_string(), body));
    }
    probes
}

struct Setup {
    legacy: Legacy,
    banyan: Banyan,
    data: tempfile::TempDir,
}

fn setup(byte_passthrough: bool) -> Setup {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_in(0, &dir, &[]);
    let mut flags: String = READS.iter().map(|(name, path)| get_route(name, path, "100", "")).collect();
    flags.push_str("[routes.notes]\npath = \"/api/1/notes\"\nmethods = [\"POST\"]\nnative = 100\n");
    let config = format!("[server]\nbyte_passthrough = {byte_passthrough}\n");
    let banyan =
        Banyan::start_with(Options { legacy: legacy.url(), flags: &flags, config: &config, data_dir: Some(&dir) });
    Setup { legacy, banyan, data }
}

fn send(addr: std::net::SocketAddr, method: &str, path: &str, body: &Value) -> Raw {
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let headers: &[(&str, &str)] = if body.is_null() { &[] } else { &[("Content-Type", "application/json")] };
    raw(addr, &request(method, path, headers, text.as_bytes()))
}

fn json_of(r: &Raw) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

/// Every read through banyan is native and answers what legacy answers itself: status,
/// head (but `Date`) and body bytes; ignored assets, a Python set at rotki, as a set.
fn native_matches_legacy(s: &Setup, when: &str) {
    for (method, path, body) in probes() {
        let path = path.as_str();
        let ours = send(s.banyan.addr, method, path, &body);
        let theirs = send(s.legacy.addr(), method, path, &body);
        assert_eq!(ours.header("x-banyan-backend"), Some("native"), "{when}: {path}: {}", ours.head);
        assert_eq!(ours.comparable_head(), theirs.comparable_head(), "{when}: {path}");
        if path == "/api/1/assets/ignored" {
            let ids = |r: &Raw| -> Vec<String> { serde_json::from_value(json_of(r)["result"].clone()).unwrap() };
            let (mine, legacy) = (ids(&ours), ids(&theirs));
            let sorted: BTreeSet<_> = mine.iter().cloned().collect();
            assert_eq!(mine, sorted.iter().cloned().collect::<Vec<_>>(), "native answers the table's order");
            assert_eq!(sorted, legacy.into_iter().collect::<BTreeSet<_>>(), "{when}");
        } else {
            assert_eq!(String::from_utf8_lossy(&ours.body), String::from_utf8_lossy(&theirs.body), "{when}: {path}");
        }
    }
}

fn session(s: &Setup) -> Value {
    let r = s.banyan.admin_request(reqwest::Method::GET, "/api/session").send().unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

fn create(s: &Setup) {
    let r = send(s.banyan.addr, "PUT", "/api/1/users", &json!({"name": "ann", "password": PASSWORD}));
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-banyan-backend"), Some("legacy"));
}

fn logout(s: &Setup) {
    let r = send(s.banyan.addr, "PATCH", "/api/1/users/ann", &json!({"action": "logout"}));
    assert_eq!(String::from_utf8_lossy(&r.body), r#"{"result": true, "message": ""}"#);
}

/// A gated read answered by legacy with rotki's 401.
fn refused_by_legacy(s: &Setup, path: &str) {
    let r = send(s.banyan.addr, "GET", path, &Value::Null);
    assert_eq!(r.header("x-banyan-backend"), Some("legacy"), "{path}");
    assert_eq!(r.status(), 401, "{path}");
    assert_eq!(String::from_utf8_lossy(&r.body), r#"{"result": null, "message": "No user is currently logged in"}"#);
}

/// Writes through banyan (to legacy); after each, every native read equals legacy's.
fn writes_show_at_once(s: &Setup) {
    let writes: Vec<(&str, &str, Value)> = vec![
        (
            "PUT",
            "/api/1/tags",
            json!({"name": "Zeta", "description": "z", "background_color": "ffffff", "foreground_color": "000000"}),
        ),
        (
            "PUT",
            "/api/1/tags",
            json!({"name": "alpha", "description": null, "background_color": "112233", "foreground_color": "445566"}),
        ),
        ("PATCH", "/api/1/tags", json!({"name": "alpha", "description": "now described"})),
        ("DELETE", "/api/1/tags", json!({"name": "Zeta"})),
        ("PUT", "/api/1/assets/ignored", json!({"assets": ["ETH", "BTC"]})),
        ("DELETE", "/api/1/assets/ignored", json!({"assets": ["BTC"]})),
        (
            "PUT",
            "/api/1/settings",
            json!({"settings": {"ui_floating_precision": 4, "main_currency": "EUR", "frontend_settings": "{\"a\":1}", "taxfree_after_period": -1}}),
        ),
        (
            "PUT",
            "/api/1/external_services",
            json!({"services": [{"name": "etherscan", "api_key": "KEY1"}, {"name": "monerium", "username": "mon_user", "password": "mon pw"}]}),
        ),
        (
            "PUT",
            "/api/1/queried_addresses",
            json!({"module": "uniswap", "address": "0x9531C059098e3d194fF87FebB587aB07B30B1306"}),
        ),
        (
            "PUT",
            "/api/1/tags",
            json!({"name": "Beta", "description": null, "background_color": "000000", "foreground_color": "ffffff"}),
        ),
        (
            "PUT",
            "/api/1/blockchains/gnosis/accounts",
            json!({"accounts": [
                {"address": "0xc37b40ABdB939635068d3c5f13E7faF686F03B65", "label": "mine", "tags": ["alpha", "Beta"]},
                {"address": "0x2B888954421b424C5D3D9Ce9bB67c9bD47537d12"},
            ]}),
        ),
        (
            "PUT",
            "/api/1/blockchains/polygon_pos/accounts",
            json!({"accounts": [{"address": "0xc37b40ABdB939635068d3c5f13E7faF686F03B65"}]}),
        ),
        (
            "PUT",
            "/api/1/blockchains/btc/accounts",
            json!({"accounts": [{"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "label": "cold"}]}),
        ),
        (
            "PUT",
            "/api/1/blockchains/avax/accounts",
            json!({"accounts": [{"address": "0x2B888954421b424C5D3D9Ce9bB67c9bD47537d12", "tags": ["alpha"]}]}),
        ),
        (
            "PUT",
            "/api/1/blockchains/ksm/accounts",
            json!({"accounts": [{"address": "HP8qJ8P4u4W2QgsJ8jzVuSsjfFTT6orQomFD6eTRSGEbiTK", "label": "kusama", "tags": ["Beta"]}]}),
        ),
        (
            "PUT",
            "/api/1/blockchains/solana/accounts",
            json!({"accounts": [{"address": "7EqQdEULxWcraVx3mXKFjc84LhCkMGZCkRuDpvcMwJeK", "label": "sol", "tags": ["alpha", "Beta"]}]}),
        ),
        (
            "PUT",
            "/api/1/notes",
            json!({"title": "t2", "content": "c2 \u{fc}", "location": "dashboard", "is_pinned": true}),
        ),
        ("PUT", "/api/1/notes", json!({"title": "t1", "content": "c1", "location": "global", "is_pinned": false})),
        (
            "PUT",
            "/api/1/notes",
            json!({"title": "a note", "content": "x", "location": "dashboard", "is_pinned": false}),
        ),
        ("POST", "/_test/skipped_event", json!({"data": "{\"a\": 1}", "location": "kraken"})),
        ("POST", "/_test/skipped_event", json!({"data": "{\"b\": 2}", "location": "binance"})),
        ("POST", "/_test/skipped_event", json!({"data": "{\"c\": 3}", "location": "kraken"})),
    ];
    for (method, path, body) in writes {
        let r = send(s.banyan.addr, method, path, &body);
        assert_eq!(r.status(), 200, "{method} {path}: {}", String::from_utf8_lossy(&r.body));
        native_matches_legacy(s, &format!("after {method} {path}"));
    }
    // The table's order, which a parsed JSON map would hide.
    let tags = String::from_utf8(send(s.banyan.addr, "GET", "/api/1/tags", &Value::Null).body).unwrap();
    let at = |name: &str| tags.find(&format!(r#""{name}": {{"name""#)).unwrap_or_else(|| panic!("{name}: {tags}"));
    assert!(at("Contract") < at("alpha") && at("alpha") < at("Beta"), "{tags}");
    // Tags belong to the address, not the chain (as in rotki): the avax write's tag shows here.
    let gnosis = send(s.banyan.addr, "GET", "/api/1/blockchains/gnosis/accounts", &Value::Null);
    assert_eq!(
        String::from_utf8_lossy(&gnosis.body),
        r#"{"result": [{"address": "0x2B888954421b424C5D3D9Ce9bB67c9bD47537d12", "label": null, "tags": ["alpha"]}, {"address": "0xc37b40ABdB939635068d3c5f13E7faF686F03B65", "label": "mine", "tags": ["Beta", "alpha"]}], "message": ""}"#
    );
    // rotki's own bytes for a chain it refuses (captured from rotki v1.43.2, logged in).
    for (chain, message) in [
        ("nope", "Failed to deserialize SupportedBlockchain value nope"),
        ("eth2", "Blockchain name eth2 is not allowed in this endpoint"),
    ] {
        let r = send(s.banyan.addr, "GET", &format!("/api/1/blockchains/{chain}/accounts"), &Value::Null);
        assert_eq!((r.status(), r.header("x-banyan-backend")), (400, Some("native")));
        let want = format!("{{\"message\":\"{{\\\"blockchain\\\": [\\\"{message}\\\"]}}\",\"result\":null}}\n");
        assert_eq!(String::from_utf8_lossy(&r.body), want);
    }
    let skipped = send(s.banyan.addr, "GET", "/api/1/history/skipped_external_events", &Value::Null);
    assert_eq!(
        String::from_utf8_lossy(&skipped.body),
        r#"{"result": {"locations": {"kraken": 2, "binance": 1}, "total": 3}, "message": ""}"#
    );
    let notes = json_of(&send(s.banyan.addr, "POST", "/api/1/notes", &notes_count("dashboard")));
    assert_eq!(notes["result"]["entries"][0]["title"], "t2", "{notes}");
    assert_eq!(notes["result"]["entries_found"], 2);
    let settings = json_of(&send(s.banyan.addr, "GET", "/api/1/settings", &Value::Null));
    assert_eq!(settings["result"]["main_currency"], "EUR");
    assert_eq!(settings["result"]["taxfree_after_period"], Value::Null);
}

fn lifecycle(byte_passthrough: bool) {
    let s = setup(byte_passthrough);
    assert_eq!(session(&s)["state"], "unknown");
    // Before anyone logged in through banyan, legacy answers everything.
    refused_by_legacy(&s, "/api/1/tags");
    create(&s);
    let open = session(&s);
    assert_eq!((open["state"].as_str(), open["user"].as_str()), (Some("open"), Some("ann")));
    assert!(open["database"].as_str().unwrap().ends_with("/users/ann/rotkehlchen.db"));
    native_matches_legacy(&s, "after create");
    writes_show_at_once(&s);

    logout(&s);
    assert_eq!(session(&s)["state"], "none");
    refused_by_legacy(&s, "/api/1/settings");
    // rotki checks the login before the chain's name.
    refused_by_legacy(&s, "/api/1/blockchains/nope/accounts");
    native_matches_legacy_users(&s);

    // A wrong password: legacy's 401, and no session.
    let r = send(s.banyan.addr, "POST", "/api/1/users/ann", &json!({"password": "wrong"}));
    assert_eq!(r.status(), 401);
    assert_eq!(session(&s)["state"], "none");
    refused_by_legacy(&s, "/api/1/tags");

    // A synchronous login opens it again.
    let r = send(s.banyan.addr, "POST", "/api/1/users/ann", &json!({"password": PASSWORD}));
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.body));
    native_matches_legacy(&s, "after a sync login");
    only_legacy_answers(&s);
    assert_no_secret(&s, &[PASSWORD]);
}

/// A bitcoin chain's xpubs are native too: each with its label, tags and derived addresses,
/// and those addresses no longer standalone. What only legacy can answer goes there: an
/// xpub in another form than `xpub…`, Google credentials, arguments its schema refuses.
fn only_legacy_answers(s: &Setup) {
    let xpub = |chain: &str, xpub: &str, path: &str, extra: Value| {
        let mut body = json!({"blockchain": chain, "xpub": xpub, "derivation_path": path});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let r = send(s.banyan.addr, "POST", "/_test/xpub", &body);
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.body));
    };
    xpub(
        "btc",
        "xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz",
        "m/0",
        json!({"label": "savings", "tags": ["alpha", "Beta"], "derived": [
            {"address": "1LZypJUwJJRdfdndwvDmtAjrVYaHko136r", "account_index": 0, "derived_index": 0},
            {"address": "1MKSdDCtBSXiE49vik8xUG2pTgTGGh5pqe", "account_index": 0, "derived_index": 1},
        ]}),
    );
    xpub("btc", "xpub68V4ZQQ62mea7ZUKn2urQu47Bdn2Wr7SxrBxBDDwE3kjytj361YBGSKDT4WoBrE5htrSB8eAMe59NPnKrcAbiv2veN5GQUmfdjRddD1Hxrk", "", json!({}));
    xpub("bch", "xpub6Cj", "m/44'/145'/0'", json!({}));
    native_matches_legacy(s, "after xpubs");
    let btc = json_of(&send(s.banyan.addr, "GET", "/api/1/blockchains/btc/accounts", &Value::Null));
    let xpubs = &btc["result"]["xpubs"];
    assert_eq!(xpubs.as_array().map(Vec::len), Some(2), "{btc}");
    assert_eq!(xpubs[1]["addresses"].as_array().map(Vec::len), Some(2), "{btc}");
    assert_eq!(xpubs[0]["derivation_path"], Value::Null, "{btc}");
    let standalone = btc["result"]["standalone"].as_array().unwrap();
    assert_eq!(standalone.len(), 1, "derived addresses are under their xpub: {btc}");

    xpub("btc", "ypub6QqdH2c5z7967", "m/0", json!({}));
    let r = send(s.banyan.addr, "POST", "/_test/google_credentials", &json!({"email": "ann@example.org"}));
    assert_eq!(r.status(), 200);
    for (method, path, body) in [
        ("GET", "/api/1/blockchains/btc/accounts", Value::Null),
        ("GET", "/api/1/calendar/google", Value::Null),
        ("POST", "/api/1/notes", json!({"limit": "x"})),
        ("POST", "/api/1/notes", json!({"order_by_attributes": ["nope"], "ascending": [true]})),
    ] {
        let ours = send(s.banyan.addr, method, path, &body);
        assert_eq!(ours.header("x-banyan-backend"), Some("legacy"), "{method} {path} {body}");
        let theirs = send(s.legacy.addr(), method, path, &body);
        assert_eq!((ours.status(), ours.body), (theirs.status(), theirs.body), "{method} {path} {body}");
    }
}

/// `GET /api/1/users` is native when nobody is logged in too.
fn native_matches_legacy_users(s: &Setup) {
    let ours = send(s.banyan.addr, "GET", "/api/1/users", &Value::Null);
    let theirs = send(s.legacy.addr(), "GET", "/api/1/users", &Value::Null);
    assert_eq!(ours.header("x-banyan-backend"), Some("native"));
    assert_eq!(ours.body, theirs.body);
    assert_eq!(String::from_utf8_lossy(&ours.body), r#"{"result": {"ann": "loggedout"}, "message": ""}"#);
}

#[test]
fn the_lifecycle_on_the_byte_path() {
    lifecycle(true);
}

#[test]
fn the_lifecycle_on_hypers_path() {
    lifecycle(false);
}

/// An async login's outcome arrives through legacy's task; the session opens when the
/// client's poll shows it, and a refused one leaves it closed.
/// A bitcoin chain with xpubs, the rows laid out as in a capture from rotki v1.43.2
/// (`fixtures/rotki/btc-accounts-with-xpubs.json`): banyan's native answer is rotki's, to
/// the byte, and the legacy app's agrees.
#[test]
fn bitcoin_xpubs_answer_as_rotki_does() {
    let s = setup(true);
    create(&s);
    for tag in ["hot", "cold"] {
        let body = json!({"name": tag, "description": "d", "background_color": "ffffff", "foreground_color": "000000"});
        assert_eq!(send(s.banyan.addr, "PUT", "/api/1/tags", &body).status(), 200);
    }
    let standalone = json!({"accounts": [{"address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "label": "cold wallet", "tags": ["hot"]}]});
    assert_eq!(send(s.banyan.addr, "PUT", "/api/1/blockchains/btc/accounts", &standalone).status(), 200);
    let xpubs = [
        json!({"blockchain": "btc", "xpub": "xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz",
               "derivation_path": "m/0", "label": "savings", "tags": ["hot", "cold"], "derived": [
            {"address": "1LZypJUwJJRdfdndwvDmtAjrVYaHko136r", "account_index": 0, "derived_index": 0, "label": "derived one"},
            {"address": "1MKSdDCtBSXiE49vik8xUG2pTgTGGh5pqe", "account_index": 0, "derived_index": 1},
        ]}),
        json!({"blockchain": "btc", "xpub": "xpub68V4ZQQ62mea7ZUKn2urQu47Bdn2Wr7SxrBxBDDwE3kjytj361YBGSKDT4WoBrE5htrSB8eAMe59NPnKrcAbiv2veN5GQUmfdjRddD1Hxrk",
               "derivation_path": "", "derived": [{"address": "12wxFzpjdymPk3xnHmdDLCTXUsArw5ZQCS", "account_index": 0, "derived_index": 0}]}),
    ];
    for body in xpubs {
        let r = send(s.banyan.addr, "POST", "/_test/xpub", &body);
        assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let rotkis = std::fs::read_to_string(
        std::path::Path::new(common::ROOT).join("tests/fixtures/rotki/btc-accounts-with-xpubs.json"),
    )
    .unwrap();
    let ours = send(s.banyan.addr, "GET", "/api/1/blockchains/btc/accounts", &Value::Null);
    assert_eq!(ours.header("x-banyan-backend"), Some("native"));
    assert_eq!(String::from_utf8_lossy(&ours.body), rotkis);
    let theirs = send(s.legacy.addr(), "GET", "/api/1/blockchains/btc/accounts", &Value::Null);
    assert_eq!(String::from_utf8_lossy(&theirs.body), rotkis, "the legacy app is rotki here too");
}

#[test]
fn async_logins_open_when_their_task_says_so() {
    let s = setup(true);
    create(&s);
    logout(&s);
    let login = |password: &str| {
        let r = send(s.banyan.addr, "POST", "/api/1/users/ann", &json!({"password": password, "async_query": true}));
        assert_eq!(r.status(), 200);
        json_of(&r)["result"]["task_id"].as_u64().unwrap()
    };
    let outcome = |task: u64| {
        eventually_value(|| {
            let r = send(s.banyan.addr, "GET", &format!("/api/1/tasks/{task}"), &Value::Null);
            let v = json_of(&r);
            (v["result"]["status"] == "completed").then_some(v)
        })
    };
    let bad = login("wrong");
    assert_eq!(outcome(bad)["result"]["status_code"], 401);
    assert_eq!(session(&s)["state"], "none");
    assert_eq!(session(&s)["pending_logins"], 0);

    let good = login(PASSWORD);
    let done = outcome(good);
    assert!(done["result"]["outcome"]["result"]["settings"].is_object(), "{done}");
    assert_eq!(session(&s)["state"], "open");
    native_matches_legacy(&s, "after an async login");
    assert_no_secret(&s, &[PASSWORD]);
}

/// A restart forgets legacy's session: banyan notices the old process go and answers
/// nothing natively for the new one.
#[test]
fn a_legacy_restart_closes_the_session() {
    let mut s = setup(true);
    create(&s);
    native_matches_legacy(&s, "before the restart");
    let port = s.legacy.port;
    s.legacy.stop();
    assert!(eventually(Duration::from_secs(10), || session(&s)["state"] == "unknown").is_some(), "{}", session(&s));
    s.legacy = Legacy::start_in(port, s.data.path().to_str().unwrap(), &[]);
    refused_by_legacy(&s, "/api/1/tags");
    let users = send(s.banyan.addr, "GET", "/api/1/users", &Value::Null);
    assert_eq!(users.header("x-banyan-backend"), Some("legacy"), "banyan does not know who is logged in");
    assert_eq!(String::from_utf8_lossy(&users.body), r#"{"result": {"ann": "loggedout"}, "message": ""}"#);
    assert!(s.banyan.log.text().contains("session closed"), "{}", s.banyan.log.text());
}

/// A password change re-keys the database: the session reads on under the new key, and a
/// later login takes only the new password.
#[test]
fn a_password_change_keeps_the_session_under_the_new_key() {
    let s = setup(true);
    create(&s);
    let change = json!({"name": "ann", "current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let r = send(s.banyan.addr, "PATCH", "/api/1/users/ann/password", &change);
    assert_eq!(String::from_utf8_lossy(&r.body), r#"{"result": true, "message": ""}"#);
    let r = send(
        s.banyan.addr,
        "PUT",
        "/api/1/tags",
        &json!({"name": "after", "description": null, "background_color": "000000", "foreground_color": "ffffff"}),
    );
    assert_eq!(r.status(), 200);
    native_matches_legacy(&s, "after the password change");
    logout(&s);
    let r = send(s.banyan.addr, "POST", "/api/1/users/ann", &json!({"password": PASSWORD}));
    assert_eq!(r.status(), 401);
    let r = send(s.banyan.addr, "POST", "/api/1/users/ann", &json!({"password": NEW_PASSWORD}));
    assert_eq!(r.status(), 200);
    native_matches_legacy(&s, "after a login with the new password");
    assert_no_secret(&s, &[PASSWORD, NEW_PASSWORD]);
}

/// Native reads run while legacy writes: every one is a whole, valid answer, and the last
/// one equals legacy's.
#[test]
fn native_reads_while_legacy_writes() {
    let s = setup(true);
    create(&s);
    let legacy = s.legacy.addr();
    let writer = std::thread::spawn(move || {
        for i in 0..40 {
            let tag = json!({"name": format!("t{i}"), "description": null, "background_color": "000000", "foreground_color": "ffffff"});
            assert_eq!(send(legacy, "PUT", "/api/1/tags", &tag).status(), 200);
        }
    });
    let mut seen = 0;
    while !writer.is_finished() {
        let r = send(s.banyan.addr, "GET", "/api/1/tags", &Value::Null);
        assert_eq!(r.header("x-banyan-backend"), Some("native"));
        let tags = json_of(&r)["result"].as_object().unwrap().len();
        assert!(tags >= seen, "a read never goes back in time: {tags} after {seen}");
        seen = tags;
    }
    writer.join().unwrap();
    native_matches_legacy(&s, "after the writes");
    assert_eq!(
        json_of(&send(s.banyan.addr, "GET", "/api/1/tags", &Value::Null))["result"].as_object().unwrap().len(),
        41
    );
}

/// rotki ends its tasks at a logout; a native task ends with the session too.
#[test]
fn a_logout_ends_native_tasks() {
    let data = common::big_data_dir();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_in(0, &dir, &[]);
    let flags = "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\nasync = true\n";
    let banyan = Banyan::start_with(Options { legacy: legacy.url(), flags, config: "", data_dir: Some(&dir) });
    let s = Setup { legacy, banyan, data };
    create(&s);
    let slow = common::SLOW.replace('}', r#", "async_query": true}"#);
    let r = raw(
        s.banyan.addr,
        &request("POST", "/api/1/assets/locationmappings", &[("Content-Type", "application/json")], slow.as_bytes()),
    );
    let task = json_of(&r)["result"]["task_id"].as_u64().unwrap();
    assert!(eventually(Duration::from_secs(10), || common::queries_running(&s.banyan) == 1).is_some());
    logout(&s);
    let poll = send(s.banyan.addr, "GET", &format!("/api/1/tasks/{task}"), &Value::Null);
    assert_eq!(poll.status(), 404, "{}", String::from_utf8_lossy(&poll.body));
    assert!(eventually(Duration::from_secs(10), || common::queries_running(&s.banyan) == 0).is_some());
}

fn eventually_value(f: impl FnMut() -> Option<Value>) -> Value {
    common::eventually_value(Duration::from_secs(20), f).expect("the task completes")
}

/// The secrets appear nowhere banyan wrote or answered: its log (access lines included),
/// `/metrics`, the admin answers and the audit log.
fn assert_no_secret(s: &Setup, secrets: &[&str]) {
    let mut seen = vec![("log", s.banyan.log.text()), ("metrics", s.banyan.metrics())];
    for path in ["/api/session", "/api/stats", "/api/flags", "/api/audit", "/api/ws", "/api/globaldb"] {
        let r = s.banyan.admin_request(reqwest::Method::GET, path).send().unwrap();
        seen.push((path, r.text().unwrap()));
    }
    for entry in std::fs::read_dir(s.banyan.dir.path()).unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path()) {
            seen.push(("a file of banyan's", text));
        }
    }
    for secret in secrets {
        let escaped = serde_json::to_string(secret).unwrap();
        let inner = &escaped[1..escaped.len() - 1];
        for (what, text) in &seen {
            assert!(!text.contains(secret) && !text.contains(inner), "the password is in {what}:\n{text}");
        }
    }
}
