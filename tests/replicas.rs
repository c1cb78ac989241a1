//! Several replicas behave as one system. Three banyan processes on one flags file (a
//! ConfigMap volume, updated the way kubelet updates it) route every sticky key the same
//! way at every percentage, apply each change within a second of it being published, and
//! report metrics that add up across the fleet without telling the replicas apart.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::configmap::ConfigMapDir;
use common::{get_route, request, Banyan, KeepAlive, Legacy};
use sha2::{Digest, Sha256};

const KEYS: usize = 10_000;
const REPLICAS: usize = 3;
/// Connections each replica is driven through at once.
const THREADS: usize = 4;
/// Requests sent on a connection before their answers are read.
const PIPELINE: usize = 16;

fn flags(native: u32) -> String {
    get_route("ping", "/api/1/ping", &native.to_string(), "sticky = \"header:x-session\"\ngroup = \"fleet\"")
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// For keys `user-0`..`user-9999`, whether `banyan` served each natively.
fn decisions(banyan: &Banyan) -> Vec<bool> {
    let chunk = KEYS.div_ceil(THREADS);
    let parts: Vec<Vec<bool>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut conn = KeepAlive::connect(banyan.addr);
                    let keys: Vec<usize> = (t * chunk..((t + 1) * chunk).min(KEYS)).collect();
                    // Pipelined, as HTTP/1.1 allows: the test's own cost stays small.
                    keys.chunks(PIPELINE)
                        .flat_map(|batch| {
                            for i in batch {
                                let key = format!("user-{i}");
                                conn.send(&request("GET", "/api/1/ping", &[("x-session", &key)], b""));
                            }
                            batch.iter().map(|i| answered_natively(&mut conn, *i)).collect::<Vec<_>>()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    parts.concat()
}

fn answered_natively(conn: &mut KeepAlive, key: usize) -> bool {
    let r = conn.response(false);
    assert_eq!(r.status(), 200);
    match r.header("x-banyan-backend") {
        Some("native") => true,
        Some("legacy") => false,
        other => panic!("user-{key}: answered by {other:?}"),
    }
}

/// Publishes `text` as the ConfigMap's new version and waits until every replica serves it;
/// how long each took, measured from the moment kubelet's swap completed.
fn publish(volume: &mut ConfigMapDir, replicas: &[Banyan], text: &str) -> Vec<Duration> {
    let want = sha256_hex(text);
    volume.update(&[("flags.toml", text)]);
    let published = Instant::now();
    let mut applied: Vec<Option<Duration>> = vec![None; replicas.len()];
    while applied.iter().any(Option::is_none) && published.elapsed() < Duration::from_secs(10) {
        for (i, r) in replicas.iter().enumerate() {
            if applied[i].is_none() && r.flags_state()["sha256"] == want.as_str() {
                applied[i] = Some(published.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    applied.into_iter().enumerate().map(|(i, a)| a.unwrap_or_else(|| panic!("replica {i} never applied"))).collect()
}

/// `/metrics` as (series, value): a series is the name with its labels.
fn metrics(banyan: &Banyan) -> BTreeMap<String, f64> {
    banyan
        .metrics()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn replicas_route_every_key_alike_apply_changes_together_and_aggregate() {
    let legacy = Legacy::start();
    let mut volume = ConfigMapDir::new(&[("flags.toml", &flags(0))]);
    let config = "[admin]\naudit_log = \"audit.jsonl\"\n";
    let replicas: Vec<Banyan> =
        (0..REPLICAS).map(|_| Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), config, &[])).collect();

    let mut previous: Option<Vec<bool>> = None;
    let mut native_answers = 0;
    for percent in [10, 50, 90] {
        let took = publish(&mut volume, &replicas, &flags(percent));
        assert!(took.iter().all(|t| *t < Duration::from_secs(1)), "{percent} %: applied after {took:?}");

        let mut seen: Vec<Vec<bool>> = replicas.iter().map(decisions).collect();
        for (i, other) in seen.iter().enumerate().skip(1) {
            let differ = (0..KEYS).filter(|&k| other[k] != seen[0][k]).count();
            assert_eq!(differ, 0, "{percent} %: replica {i} routed {differ} keys differently from replica 0");
        }
        let native = seen[0].iter().filter(|n| **n).count();
        let expected = KEYS * percent as usize / 100;
        assert!(native.abs_diff(expected) < KEYS / 50, "{percent} %: {native} of {KEYS} keys native");
        if let Some(before) = &previous {
            let back = (0..KEYS).filter(|&k| before[k] && !seen[0][k]).count();
            assert_eq!(back, 0, "raising to {percent} % sent {back} keys back to legacy");
        }
        native_answers += native * REPLICAS;
        previous = Some(seen.swap_remove(0));
    }

    // What Prometheus adds up: the same series on every replica (no label that tells
    // replicas apart), the same flags digest, and counters that sum to what clients saw.
    let scraped: Vec<_> = replicas.iter().map(metrics).collect();
    let series = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<BTreeSet<_>>();
    for (i, m) in scraped.iter().enumerate().skip(1) {
        let (a, b) = (series(&scraped[0]), series(m));
        assert_eq!(a, b, "replica {i} reports other series: {:?}", a.symmetric_difference(&b).collect::<Vec<_>>());
    }
    let digest = format!("banyan_flags_info{{sha256=\"{}\"}}", sha256_hex(&flags(90)));
    for m in &scraped {
        assert_eq!(m.get(&digest), Some(&1.0), "{digest} missing: {:?}", series(m));
    }
    let fleet = |backend: &str| -> f64 {
        let series = format!("banyan_requests_total{{route=\"ping\",backend=\"{backend}\",code=\"200\"}}");
        scraped.iter().map(|m| m.get(&series).copied().unwrap_or(0.0)).sum()
    };
    assert_eq!(fleet("native") as usize, native_answers);
    assert_eq!((fleet("native") + fleet("legacy")) as usize, 3 * KEYS * REPLICAS);
}
