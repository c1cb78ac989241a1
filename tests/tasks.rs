//! Async tasks from two task managers in one URL space (tasks.md): a client that only knows
//! rotki's API starts tasks on a native route (`async = true`) and on legacy, lists them
//! together, polls and cancels each through banyan, with rotki's bodies and one-shot
//! reads; cancelling a native task interrupts the SQLite query it runs.

mod common;

use std::time::Duration;

use common::{big_data_dir, eventually, eventually_value, raw, request, Banyan, Legacy, Options, SLOW};

const ASYNC_ROUTE: &str =
    "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\nasync = true\n";

fn start(legacy: &Legacy, data_dir: &str) -> Banyan {
    Banyan::start_with(Options { legacy: legacy.url(), flags: ASYNC_ROUTE, config: "", data_dir: Some(data_dir) })
}

fn mappings(banyan: &Banyan, body: &str) -> common::Raw {
    let headers = [("Content-Type", "application/json")];
    raw(banyan.addr, &request("POST", "/api/1/assets/locationmappings", &headers, body.as_bytes()))
}

fn get(banyan: &Banyan, path: &str) -> common::Raw {
    raw(banyan.addr, &request("GET", path, &[], b""))
}

fn delete(banyan: &Banyan, path: &str) -> common::Raw {
    raw(banyan.addr, &request("DELETE", path, &[], b""))
}

fn text(r: &common::Raw) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

fn task_id(r: &common::Raw) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|_| panic!("{r:?}"));
    v["result"]["task_id"].as_u64().unwrap_or_else(|| panic!("{v}"))
}

fn listed(banyan: &Banyan) -> (Vec<u64>, Vec<u64>) {
    let v: serde_json::Value = serde_json::from_slice(&get(banyan, "/api/1/tasks").body).unwrap();
    let ids = |k: &str| v["result"][k].as_array().unwrap().iter().map(|i| i.as_u64().unwrap()).collect();
    (ids("pending"), ids("completed"))
}

#[test]
fn tasks_from_both_sides_share_one_api() {
    let legacy = Legacy::start();
    let banyan = start(&legacy, &legacy.data_dir);
    let query = r#"{"location": "kraken", "limit": 2, "offset": 1}"#;
    let sync = mappings(&banyan, query);

    let legacy_task = task_id(&get(&banyan, "/_test/task?ms=300&async_query=true"));
    let native = mappings(&banyan, r#"{"location": "kraken", "limit": 2, "offset": 1, "async_query": true}"#);
    assert_eq!(text(&native), r#"{"result": {"task_id": 1000000000}, "message": ""}"#);
    let native_task = task_id(&native);
    assert!(legacy_task < 1_000_000_000, "legacy ids stay below native's");

    // Both in one list.
    assert!(eventually(Duration::from_secs(5), || {
        let (pending, completed) = listed(&banyan);
        completed.contains(&native_task) && (pending.contains(&legacy_task) || completed.contains(&legacy_task))
    })
    .is_some());

    // The native outcome is the synchronous answer, read once.
    let polled = get(&banyan, &format!("/api/1/tasks/{native_task}"));
    assert_eq!(polled.status(), 200);
    assert_eq!(polled.header("x-banyan-backend"), Some("native"));
    assert_eq!(
        text(&polled),
        format!(r#"{{"result": {{"status": "completed", "outcome": {}}}, "message": ""}}"#, text(&sync))
    );
    let again = get(&banyan, &format!("/api/1/tasks/{native_task}"));
    assert_eq!(again.status(), 404);
    assert_eq!(
        text(&again),
        r#"{"result": {"status": "not-found", "outcome": null}, "message": "No task with id 1000000000 found"}"#
    );
    // Leading zeros name the same id.
    assert_eq!(get(&banyan, "/api/1/tasks/01000000000").status(), 404);

    // Legacy's task, polled through banyan, with rotki's body and status_code.
    let done = eventually_value(Duration::from_secs(10), || {
        let r = get(&banyan, &format!("/api/1/tasks/{legacy_task}"));
        text(&r).contains("completed").then_some(r)
    })
    .expect("the legacy task completes");
    assert_eq!(
        text(&done),
        r#"{"result": {"status": "completed", "outcome": {"result": {"slept": 300}, "message": ""}, "status_code": 200}, "message": ""}"#
    );

    // Unknown ids on the native side answer like rotki.
    let unknown = delete(&banyan, "/api/1/tasks/1000000999");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        text(&unknown),
        r#"{"result": null, "message": "Did not cancel task with id 1000000999 because it could not be found"}"#
    );
    assert_eq!(listed(&banyan), (vec![], vec![]));

    // The frontend polls from its own origin: CORS headers as rotki sends them, on both.
    let origin = [("Origin", "http://localhost:8080")];
    for path in ["/api/1/tasks", "/api/1/tasks/1000000999"] {
        let r = raw(banyan.addr, &request("GET", path, &origin, b""));
        assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:8080"), "{path}: {r:?}");
    }
}

#[test]
fn cancelling_a_native_task_interrupts_its_query() {
    let data = big_data_dir();
    let dir = data.path().to_str().unwrap().to_string();
    let legacy = Legacy::start_with(&["--data-dir", &dir]);
    let banyan = start(&legacy, &dir);
    let body = SLOW.replace('}', r#", "async_query": true}"#);
    let id = task_id(&mappings(&banyan, &body));
    assert!(eventually(Duration::from_secs(10), || common::queries_running(&banyan) == 1).is_some());
    let pending = get(&banyan, &format!("/api/1/tasks/{id}"));
    assert_eq!(
        text(&pending),
        format!(
            r#"{{"result": {{"status": "pending", "outcome": null}}, "message": "The task with id {id} is still pending"}}"#
        )
    );
    let from = banyan.log.len();
    let cancelled = delete(&banyan, &format!("/api/1/tasks/{id}"));
    assert_eq!((cancelled.status(), text(&cancelled)), (200, r#"{"result": true, "message": ""}"#.to_string()));
    assert!(banyan
        .log
        .wait_for(from, &["query interrupted: its caller went away", "global/global.db"], Duration::from_secs(10))
        .is_some());
    assert_eq!(get(&banyan, &format!("/api/1/tasks/{id}")).status(), 404);
    assert!(eventually(Duration::from_secs(5), || common::queries_running(&banyan) == 0).is_some());
}
