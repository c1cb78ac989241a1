//! Native reads of global.db run on blocking threads, beside the runtime: slow queries do
//! not hold up other requests, and a query whose client goes away is interrupted. (Legacy
//! gets the first property from its progress-handler hack; both read the same file.)

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{big_data_dir, client, eventually, queries_running, raw, request, Banyan, Legacy, Options, ROWS, SLOW};

const ROUTE: &str =
    "[routes.mappings]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nnative = 100\n";

fn start(data_dir: &Path) -> (Legacy, Banyan) {
    let dir = data_dir.to_str().unwrap();
    let legacy = Legacy::start_with(&["--data-dir", dir]);
    let banyan = Banyan::start_with(Options { legacy: legacy.url(), flags: ROUTE, config: "", data_dir: Some(dir) });
    (legacy, banyan)
}

fn slow(banyan: &Banyan) -> common::Raw {
    let headers = [("Content-Type", "application/json")];
    raw(banyan.addr, &request("POST", "/api/1/assets/locationmappings", &headers, SLOW.as_bytes()))
}

#[test]
fn ping_answers_while_slow_native_queries_run() {
    let data = big_data_dir();
    let (_legacy, banyan) = start(data.path());
    let banyan = std::sync::Arc::new(banyan);
    let queries: Vec<_> = (0..4)
        .map(|_| {
            let banyan = banyan.clone();
            std::thread::spawn(move || slow(&banyan))
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || queries_running(&banyan) == 4).is_some(),
        "the four slow queries never ran together"
    );
    // With all four still running, ping answers.
    let ping = client().get(banyan.url("/api/1/ping")).send().unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(queries_running(&banyan), 4, "a query ended before ping answered: the figure proves nothing");
    for q in queries {
        let r = q.join().unwrap();
        assert_eq!(r.status(), 200);
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(body.contains(&format!(r#""entries": [], "entries_found": 0, "entries_total": {ROWS}"#)), "{body}");
    }
}

#[test]
fn a_query_whose_client_goes_away_is_interrupted() {
    let data = big_data_dir();
    let (_legacy, banyan) = start(data.path());
    let mut socket = TcpStream::connect(banyan.addr).unwrap();
    let headers = [("Content-Type", "application/json")];
    socket.write_all(&request("POST", "/api/1/assets/locationmappings", &headers, SLOW.as_bytes())).unwrap();
    assert!(eventually(Duration::from_secs(10), || queries_running(&banyan) == 1).is_some(), "the query never started");
    let from = banyan.log.len();
    drop(socket);
    let line = banyan.log.wait_for(
        from,
        &["query interrupted: its caller went away", "global/global.db"],
        Duration::from_secs(10),
    );
    assert!(line.is_some(), "no interruption logged:\n{}", banyan.log.text());
    assert!(eventually(Duration::from_secs(5), || queries_running(&banyan) == 0).is_some());
}
