//! A native handler that panics or hangs costs its own request a 500 or 504 envelope and
//! nothing else: the process and every other request carry on. Runs banyan in-process
//! (the library's `server::start`, on real sockets) so the test can register handlers that
//! misbehave on purpose.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use banyan::config::{Config, Overrides};
use banyan::native::{BoxFuture, Context, HandlerResult, NativeRequest, Registry};

fn boom(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async { panic!("the handler broke") })
}

fn fails(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async { Err("datatype mismatch".into()) })
}

fn stall(_: NativeRequest, _: Arc<Context>) -> BoxFuture<HandlerResult> {
    Box::pin(async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        unreachable!("the native timeout fires first")
    })
}

#[test]
fn panics_and_hangs_stay_inside_their_request() {
    let dir = tempfile::tempdir().unwrap();
    let flags =
        ["ping", "boom", "stall", "fails"].map(|n| common::get_route(n, &format!("/api/1/{n}"), "100", "")).concat();
    std::fs::write(dir.path().join("flags.toml"), flags).unwrap();
    std::fs::write(dir.path().join("banyan.toml"), "[native]\ntimeout_ms = 300\n").unwrap();
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        admin_listen: Some("127.0.0.1:0".into()),
        legacy: Some("http://127.0.0.1:9".into()),
        flags: Some(dir.path().join("flags.toml")),
        data_dir: None,
    };
    let config = Config::load(Some(&dir.path().join("banyan.toml")), &overrides).unwrap();
    let mut registry = Registry::builtin();
    registry.add("/api/1/boom", &[http::Method::GET], boom);
    registry.add("/api/1/stall", &[http::Method::GET], stall);
    registry.add("/api/1/fails", &[http::Method::GET], fails);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt.block_on(banyan::server::start(config, registry)).unwrap();
    let url = |p: &str| format!("http://{}{p}", running.public_addr);
    let c = reqwest::blocking::Client::new();

    let r = c.get(url("/api/1/boom")).send().unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["x-banyan-backend"], "native");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.text().unwrap(),
        r#"{"result": null, "message": "Native handler for /api/1/boom failed: the handler broke"}"#
    );

    // An error is rotki's catch-all: 500 with the error's text.
    let r = c.get(url("/api/1/fails")).send().unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().unwrap(), r#"{"result": null, "message": "datatype mismatch"}"#);

    let started = Instant::now();
    let r = c.get(url("/api/1/stall")).send().unwrap();
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        r.text().unwrap(),
        r#"{"result": null, "message": "Native handler for /api/1/stall did not answer within 300 ms"}"#
    );

    // Everything else carries on, concurrently with more failures.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (c, url) = (c.clone(), url(if i % 2 == 0 { "/api/1/boom" } else { "/api/1/ping" }));
            std::thread::spawn(move || {
                (0..20).map(|_| c.get(&url).send().unwrap().status().as_u16()).collect::<Vec<_>>()
            })
        })
        .collect();
    for (i, w) in workers.into_iter().enumerate() {
        let want = if i % 2 == 0 { 500 } else { 200 };
        assert!(w.join().unwrap().iter().all(|s| *s == want));
    }
    let r = c.get(url("/api/1/ping")).send().unwrap();
    assert_eq!(r.text().unwrap(), r#"{"result": true, "message": ""}"#);
    rt.block_on(running.shutdown());
}
