//! The migration workbench end to end: a route with `record = N` keeps its exchanges
//! through either request path, whichever backend answered; the admin API hands them out
//! as HAR 1.2 (with a token) and without a secret in them; `banyan replay` runs them again
//! through the native handlers, offline, and finds a changed answer by its pointer; a
//! browser's HAR replays too; bad input exits 2 naming what and where.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{raw, request, Banyan, Legacy, Options, Raw};
use serde_json::{json, Value};

const PASSWORD: &str = "rec0rd-pw'\"";
const SECRETS: [&str; 7] =
    ["SECRET-BEARER", "SECRET-COOKIE", "SECRET-STICKY", "SECRET-QUERY", "SECRET-BODY", "SECRET-KEY", "SECRET-FIELD"];

/// ping native, the asset reads on legacy (their handlers exist), the user list and a
/// login-gated read native, each recorded; the sticky header is a user's.
fn flags(record: &str) -> String {
    format!(
        r#"[defaults]
sticky = "header:x-user"

[routes.ping]
path = "/api/1/ping"
methods = ["GET"]
native = 100
{record}

[routes.assets_all]
path = "/api/1/assets/all"
methods = ["POST"]
native = 0
{record}

[routes.search]
path = "/api/1/assets/search"
methods = ["POST"]
native = 0
{record}

[routes.users]
path = "/api/1/users"
{record}

[routes.tags]
path = "/api/1/tags"
methods = ["GET"]
native = 100
{record}

[routes.services]
path = "/api/1/external_services"
methods = ["GET"]
native = 100
{record}

[routes.services_write]
path = "/api/1/external_services"
methods = ["PUT"]
{record}
"#
    )
}

struct Setup {
    legacy: Legacy,
    banyan: Banyan,
    data: tempfile::TempDir,
}

fn setup(byte_passthrough: bool, record: &str) -> Setup {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_in(0, &dir, &[]);
    let config = format!("[server]\nbyte_passthrough = {byte_passthrough}\n");
    let banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: &flags(record),
        config: &config,
        data_dir: Some(&dir),
    });
    Setup { legacy, banyan, data }
}

fn json_post(s: &Setup, path: &str, body: &str) -> Raw {
    raw(s.banyan.addr, &request("POST", path, &[("Content-Type", "application/json")], body.as_bytes()))
}

fn get(s: &Setup, path: &str) -> Raw {
    raw(s.banyan.addr, &request("GET", path, &[], b""))
}

/// The recording of `route` as the admin API gives it.
fn har(s: &Setup, route: &str) -> Value {
    let resp = s.banyan.admin_request(reqwest::Method::GET, &format!("/api/records/{route}")).send().unwrap();
    assert_eq!(resp.status(), 200, "{route}");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains(&format!("banyan-{route}.har")));
    serde_json::from_str(&resp.text().unwrap()).unwrap()
}

fn entries(har: &Value) -> &Vec<Value> {
    har["log"]["entries"].as_array().unwrap()
}

/// `banyan replay` on `file` with the test's config, flags and data dir, logged in as the
/// test's user.
fn replay(s: &Setup, file: &Path, extra: &[&str]) -> Output {
    replay_as(s, file, extra, Some(PASSWORD))
}

fn replay_as(s: &Setup, file: &Path, extra: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_banyan"));
    cmd.arg("replay").arg(file).arg("--config").arg(s.banyan.dir.path().join("banyan.toml"));
    cmd.arg("--flags").arg(s.banyan.flags_path()).arg("--data-dir").arg(s.data.path()).args(extra);
    match password {
        Some(p) => cmd.args(["--user", "rec"]).env("BANYAN_REPLAY_PASSWORD", p),
        None => cmd.env_remove("BANYAN_REPLAY_PASSWORD"),
    };
    cmd.output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

const ASSET_BODIES: [&str; 4] = [
    r#"{"limit": 3, "offset": 0}"#,
    r#"{"name": "bitcoin", "limit": 5, "offset": 0}"#,
    r#"{"limit": -5, "offset": 0, "bogus": 1}"#,
    r#"{"asset_type": "fiat", "order_by_attributes": ["symbol"], "ascending": [true]}"#,
];

/// What the client got, exchange by exchange, on either path: recorded as it was, read
/// back by replay as matching, and a changed answer found by its pointer.
fn records_and_replays(byte_passthrough: bool) {
    let s = setup(byte_passthrough, "");
    // The asset reads need a login, as rotki's do.
    let create = json!({"name": "rec", "password": PASSWORD}).to_string();
    let created =
        raw(s.banyan.addr, &request("PUT", "/api/1/users", &[("Content-Type", "application/json")], create.as_bytes()));
    assert_eq!(created.status(), 200);
    // Off until switched on through the API like any other key.
    let off = s.banyan.admin_request(reqwest::Method::GET, "/api/records/ping").send().unwrap();
    assert_eq!(off.status(), 404);
    assert!(off.text().unwrap().contains("set `record = N`"));
    for route in ["ping", "assets_all", "search"] {
        let resp = s
            .banyan
            .admin_request(reqwest::Method::PATCH, &format!("/api/flags/routes/{route}"))
            .body(json!({"record": 50}).to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "{route}");
    }
    assert_eq!(s.banyan.flags_state()["routes"][0]["record"], 50, "{}", s.banyan.flags_state());

    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(("ping", "GET", "/api/1/ping".to_string(), String::new(), get(&s, "/api/1/ping")));
    }
    for body in ASSET_BODIES {
        sent.push((
            "assets_all",
            "POST",
            "/api/1/assets/all".into(),
            body.into(),
            json_post(&s, "/api/1/assets/all", body),
        ));
    }
    let search = r#"{"value": "eth", "search_column": "symbol", "limit": 5}"#;
    sent.push((
        "search",
        "POST",
        "/api/1/assets/search".into(),
        search.into(),
        json_post(&s, "/api/1/assets/search", search),
    ));

    // Each route's recording, oldest first, is what the client got.
    for route in ["ping", "assets_all", "search"] {
        let har = har(&s, route);
        assert_eq!(har["log"]["version"], "1.2");
        assert_eq!(har["log"]["creator"]["name"], "banyan");
        let recorded = entries(&har);
        let mine: Vec<_> = sent.iter().filter(|x| x.0 == route).collect();
        assert_eq!(recorded.len(), mine.len(), "{route}");
        for (e, (_, method, path, body, got)) in recorded.iter().zip(mine) {
            let what = format!("{route} {body}");
            assert_eq!(e["request"]["method"], *method, "{what}");
            assert!(e["request"]["url"].as_str().unwrap().ends_with(path.as_str()), "{what}");
            if !body.is_empty() {
                assert_eq!(e["request"]["postData"]["text"], *body, "{what}: the body as sent, spaces and order kept");
                assert_eq!(e["request"]["postData"]["mimeType"], "application/json");
            }
            assert_eq!(e["response"]["status"], got.status(), "{what}");
            assert_eq!(e["response"]["content"]["text"].as_str().unwrap().as_bytes(), got.body, "{what}");
            assert_eq!(e["_banyan_backend"], got.header("x-banyan-backend").unwrap(), "{what}");
            assert_eq!(e["_banyan_route"], route);
            assert!(e["startedDateTime"].as_str().unwrap().ends_with('Z') && e["time"].as_f64().unwrap() > 0.0);
        }
    }
    assert_eq!(entries(&har(&s, "ping"))[0]["_banyan_backend"], "native");
    // What each recording holds, for dashboards and alerts.
    let metrics = s.banyan.metrics();
    assert!(metrics.contains(r#"banyan_records_held{route="assets_all",unit="exchanges"} 4"#), "{metrics}");
    assert!(metrics.contains(r#"banyan_records_not_kept_total{route="ping"} 0"#), "{metrics}");
    let stats: Value = serde_json::from_str(
        &common::client().get(format!("http://{}/api/stats", s.banyan.admin)).send().unwrap().text().unwrap(),
    )
    .unwrap();
    let ping = stats["routes"].as_array().unwrap().iter().find(|r| r["route"] == "ping").unwrap();
    assert_eq!((ping["record"]["held"].as_u64(), ping["record"]["kept"].as_u64()), (Some(3), Some(3)));
    assert_eq!(entries(&har(&s, "assets_all"))[0]["_banyan_backend"], "legacy");

    // Recordings are real users' data: no token, no recording.
    let anonymous = common::client().get(format!("http://{}/api/records/ping", s.banyan.admin)).send().unwrap();
    assert_eq!(anonymous.status(), 401);

    // Written as a file, the recording replays clean through the native handlers, with
    // legacy gone: it is never asked.
    let dir = tempfile::tempdir().unwrap();
    let mut all = har(&s, "assets_all");
    for route in ["ping", "search"] {
        let more = entries(&har(&s, route)).clone();
        all["log"]["entries"].as_array_mut().unwrap().extend(more);
    }
    let file = dir.path().join("recording.har");
    std::fs::write(&file, all.to_string()).unwrap();
    let mut s = s;
    s.legacy.stop();
    let out = replay(&s, &file, &[]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(report.contains(&format!("all {} compared entries match", sent.len())), "{report}");
    assert!(
        report.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["assets_all", "4", "4", "0", "0"]),
        "{report}"
    );

    // A changed answer is found, with its pointer and both values.
    let entry = &mut all["log"]["entries"][0];
    let mut answer: Value = serde_json::from_str(entry["response"]["content"]["text"].as_str().unwrap()).unwrap();
    let first = answer["result"]["entries"][0]["name"].as_str().unwrap().to_string();
    answer["result"]["entries"][0]["name"] = "Not the name".into();
    entry["response"]["content"]["text"] = answer.to_string().into();
    std::fs::write(&file, all.to_string()).unwrap();
    let out = replay(&s, &file, &[]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let line = format!("  /result/entries/0/name: recorded \"Not the name\", native \"{first}\"");
    assert!(report.contains(&line), "{report}");
    assert!(report.contains("entry 0 POST /api/1/assets/all (route assets_all): differs"), "{report}");
    assert!(report.contains("1 of 8 compared entries differ"), "{report}");

    // The same as JSON, for scripts.
    let out = replay(&s, &file, &["--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"], json!({"compared": 8, "matched": 7, "differed": 1, "skipped": 0}));
    assert_eq!(
        report["entries"][0]["differences"][0],
        json!({"pointer": "/result/entries/0/name", "recorded": "Not the name", "native": first})
    );
}

#[test]
fn the_byte_path_records_and_replay_reads_it_back() {
    records_and_replays(true);
}

#[test]
fn hypers_path_records_and_replay_reads_it_back() {
    records_and_replays(false);
}

/// Credentials, the sticky header, secret query values and secret JSON fields (sent or
/// answered) never reach a recording or the log; the user lifecycle is never kept; a
/// login-gated read replays against the user's database given `--user` and the password
/// in the environment.
#[test]
fn secrets_never_reach_a_recording_and_gated_reads_replay_with_a_user() {
    let s = setup(true, "record = 100");
    let headers =
        [("Authorization", "Bearer SECRET-BEARER"), ("Cookie", "session=SECRET-COOKIE"), ("X-User", "SECRET-STICKY")];
    let ping = raw(s.banyan.addr, &request("GET", "/api/1/ping?api_key=SECRET-QUERY&x=1", &headers, b""));
    assert_eq!(ping.status(), 200);
    let create = json!({"name": "rec", "password": PASSWORD, "premium_api_key": "SECRET-BODY"}).to_string();
    let created =
        raw(s.banyan.addr, &request("PUT", "/api/1/users", &[("Content-Type", "application/json")], create.as_bytes()));
    assert_eq!(created.status(), 200, "{}", String::from_utf8_lossy(&created.body));
    let services = r#"{"services": [{"name": "etherscan", "api_key": "SECRET-KEY"}]}"#;
    let put = raw(
        s.banyan.addr,
        &request("PUT", "/api/1/external_services", &[("Content-Type", "application/json")], services.as_bytes()),
    );
    assert_eq!(put.status(), 200);
    let got = get(&s, "/api/1/external_services");
    assert_eq!(got.header("x-banyan-backend"), Some("native"));
    assert!(String::from_utf8_lossy(&got.body).contains("SECRET-KEY"), "the client gets its own key");
    // Any JSON body, at any depth, on any recorded route.
    let nested = r#"{"limit": 1, "filters": [{"new_password": "SECRET-FIELD"}]}"#;
    assert_eq!(json_post(&s, "/api/1/assets/all", nested).status(), 400);
    let tags =
        json!({"name": "hodl", "description": "long", "background_color": "ffffff", "foreground_color": "000000"});
    let added = raw(
        s.banyan.addr,
        &request("PUT", "/api/1/tags", &[("Content-Type", "application/json")], tags.to_string().as_bytes()),
    );
    assert_eq!(added.status(), 200, "{}", String::from_utf8_lossy(&added.body));
    let tags = get(&s, "/api/1/tags");
    assert_eq!(tags.header("x-banyan-backend"), Some("native"));
    assert_eq!(get(&s, "/api/1/users").status(), 200);

    let mut everything = String::new();
    for route in ["ping", "users", "services", "services_write", "tags", "assets_all"] {
        everything.push_str(&har(&s, route).to_string());
    }
    for secret in SECRETS.iter().chain([&PASSWORD]) {
        assert!(!everything.contains(secret), "{secret} in a recording");
        assert!(!s.banyan.log.text().contains(secret), "{secret} in banyan's log");
    }
    let ping = entries(&har(&s, "ping"))[0]["request"].clone();
    let header = |name: &str| {
        ping["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(
        (header("authorization"), header("cookie"), header("x-user")),
        ("[redacted]".into(), "[redacted]".into(), "[redacted]".into())
    );
    assert!(ping["url"].as_str().unwrap().ends_with("/api/1/ping?api_key=%5Bredacted%5D&x=1"), "{ping}");
    let services = har(&s, "services");
    let answer = entries(&services).last().unwrap()["response"]["content"]["text"].as_str().unwrap().to_string();
    assert!(answer.contains(r#""api_key":"[redacted]""#), "{answer}");
    let put = entries(&har(&s, "services_write"))[0]["request"]["postData"]["text"].clone();
    assert_eq!(put, r#"{"services":[{"name":"etherscan","api_key":"[redacted]"}]}"#);
    let nested = entries(&har(&s, "assets_all"))[0]["request"]["postData"]["text"].clone();
    assert_eq!(nested, r#"{"limit":1,"filters":[{"new_password":"[redacted]"}]}"#);
    // The lifecycle is the session bridge's, never kept: only the GET of the user list is.
    let users = har(&s, "users");
    let methods: Vec<&str> = entries(&users).iter().map(|e| e["request"]["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["GET"]);

    // The gated read replays against the user's database, legacy gone; without a user
    // it is skipped, and a wrong password is bad input.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tags.har");
    std::fs::write(&file, har(&s, "tags").to_string()).unwrap();
    let mut s = s;
    s.legacy.stop();
    let out = replay_as(&s, &file, &[], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("1: the native handler handed it to legacy"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("nothing was compared"), "{}", text(&out.stdout));
    let with_user = |password: &str| replay_as(&s, &file, &[], Some(password));
    let out = with_user(PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("all 1 compared entries match"), "{}", text(&out.stdout));
    let out = with_user("wrong");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: --user rec: cannot open "), "{}", text(&out.stderr));
    assert!(text(&out.stderr).ends_with("rotkehlchen.db: file is not a database\n"), "{}", text(&out.stderr));
    // The recorded external services answer (redacted) still compares: its key is left out.
    std::fs::write(&file, services.to_string()).unwrap();
    let out = with_user(PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("all 1 compared entries match"), "{}", text(&out.stdout));
}

/// `banyan replay` with only a flags file (and an empty config), away from any server.
fn replay_alone(file: &Path, flags: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flags.toml"), flags).unwrap();
    std::fs::write(dir.path().join("banyan.toml"), "").unwrap();
    Command::new(env!("CARGO_BIN_EXE_banyan"))
        .arg("replay")
        .arg(file)
        .arg("--config")
        .arg(dir.path().join("banyan.toml"))
        .arg("--flags")
        .arg(dir.path().join("flags.toml"))
        .args(extra)
        .output()
        .unwrap()
}

const BROWSER_FLAGS: &str = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\n\n\
    [routes.oracles]\npath = \"/api/1/oracles\"\nmethods = [\"GET\"]\n\n\
    [routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n";

/// A browser's export (Chrome's fields: pages, `_initiator`, HTTP/2 pseudo-headers, a
/// base64 body, an aborted request, a websocket) replays: what a handler implements is
/// compared (at 0 % native too), the rest skipped with its reason.
#[test]
fn a_browsers_har_replays() {
    let file = Path::new(common::ROOT).join("tests/fixtures/browser.har");
    let out = replay_alone(&file, BROWSER_FLAGS, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"], json!({"compared": 2, "matched": 2, "differed": 0, "skipped": 3}));
    let outcomes: Vec<(&str, &str)> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["target"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("/", "skipped"),
            ("/api/1/ping", "matched"),
            ("/api/1/oracles", "matched"),
            ("/api/1/ping?aborted=1", "skipped"),
            ("/ws", "skipped")
        ]
    );
    let reasons: Vec<&str> =
        report["entries"].as_array().unwrap().iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "no route in the flags matches it",
            "the request failed where it was recorded (status 0)",
            "its route has no native handler in this build"
        ]
    );
    let routes: Vec<&str> = report["routes"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["oracles", "ping", "ws", "(no route)"]);

    // The base64 answer, changed by one byte, differs where the byte is.
    let mut har: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let content = &mut har["log"]["entries"][2]["response"]["content"];
    let body = String::from_utf8(engine.decode(content["text"].as_str().unwrap()).unwrap()).unwrap();
    content["text"] = engine.encode(body.replacen("Coingecko", "CoinGecko", 1)).into();
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("changed.har");
    std::fs::write(&changed, har.to_string()).unwrap();
    let out = replay_alone(&changed, BROWSER_FLAGS, &[]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(report.contains("  /result/history/1/name: recorded \"CoinGecko\", native \"Coingecko\""), "{report}");
}

/// Bad input exits 2 and says what is wrong and where, before anything runs.
#[test]
fn bad_input_exits_2_naming_the_file_and_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let cases: [(&str, &str, String); 6] = [
        (
            "missing.har",
            "",
            format!("error: {}: cannot read: No such file or directory", path("missing.har").display()),
        ),
        (
            "broken.har",
            "{\"log\": {\"entries\": [\n  {\"request\": }\n]}}",
            format!("error: {}:2:15: invalid JSON: expected value", path("broken.har").display()),
        ),
        ("other.json", "{\"records\": []}", format!("error: {}: not a HAR document", path("other.json").display())),
        (
            "norequest.har",
            r#"{"log": {"entries": [{"request": {"method": "GET", "url": "http://h/api/1/ping"}, "response": {"status": 200}}, {"response": {"status": 200}}]}}"#,
            format!("error: {}: log.entries[1]: the entry has no request", path("norequest.har").display()),
        ),
        (
            "badurl.har",
            r#"{"log": {"entries": [{"request": {"method": "GET", "url": "not a url"}}]}}"#,
            format!("error: {}: log.entries[0]: request.url \"not a url\" is not a URL", path("badurl.har").display()),
        ),
        (
            "badbase64.har",
            r#"{"log": {"entries": [{"request": {"method": "GET", "url": "/api/1/ping"}, "response": {"status": 200, "content": {"text": "%%", "encoding": "base64"}}}]}}"#,
            format!(
                "error: {}: log.entries[0]: response.content: its base64 body does not decode",
                path("badbase64.har").display()
            ),
        ),
    ];
    for (name, content, expected) in cases {
        if !content.is_empty() {
            std::fs::write(path(name), content).unwrap();
        }
        let out = replay_alone(&path(name), BROWSER_FLAGS, &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stdout));
        assert!(text(&out.stderr).starts_with(&expected), "{name}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{name}: nothing ran");
    }
    // A bad flags file is bad input too, with its position.
    std::fs::write(path("ok.har"), r#"{"log": {"entries": []}}"#).unwrap();
    let out = replay_alone(&path("ok.har"), "[routes.ping]\npath = \"/api/1/ping\"\nrecord = 20000\n", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("flags.toml:3:10: route `ping`: record = 20000 is out of range: expected 0 to 10000"),
        "{}",
        text(&out.stderr)
    );
}
