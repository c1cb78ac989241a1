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

/// The reads this issue moves, all native at 100 %.
const READS: [(&str, &str); 6] = [
    ("users", "/api/1/users"),
    ("settings", "/api/1/settings"),
    ("tags", "/api/1/tags"),
    ("ignored", "/api/1/assets/ignored"),
    ("services", "/api/1/external_services"),
    ("queried", "/api/1/queried_addresses"),
];

struct Setup {
    legacy: Legacy,
    banyan: Banyan,
    data: tempfile::TempDir,
}

fn setup(byte_passthrough: bool) -> Setup {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_in(0, &dir, &[]);
    let flags: String = READS.iter().map(|(name, path)| get_route(name, path, "100", "")).collect();
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
    for (_, path) in READS {
        let ours = send(s.banyan.addr, "GET", path, &Value::Null);
        let theirs = send(s.legacy.addr(), "GET", path, &Value::Null);
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
    let writes: [(&str, &str, Value); 9] = [
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
    ];
    for (method, path, body) in writes {
        let r = send(s.banyan.addr, method, path, &body);
        assert_eq!(r.status(), 200, "{method} {path}: {}", String::from_utf8_lossy(&r.body));
        native_matches_legacy(s, &format!("after {method} {path}"));
    }
    let tags = json_of(&send(s.banyan.addr, "GET", "/api/1/tags", &Value::Null));
    assert_eq!(tags["result"].as_object().unwrap().keys().collect::<Vec<_>>(), ["Contract", "alpha"]);
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
    assert_no_secret(&s, &[PASSWORD]);
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
