//! Micro-benchmarks of the per-request routing work (route match plus flag decision on
//! rotki's whole route inventory) and of compiling a large flags file on reload.
//! Run: `cargo bench --bench decide`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use banyan::flags::compile;
use banyan::inventory;
use banyan::native::Registry;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, Method};

fn inventory_flags() -> String {
    let flags = inventory::to_flags(&inventory::parse(inventory::ROTKI_ROUTES));
    let ping = "path = \"/api/1/ping\"\nmethods = [\"GET\"]\n";
    assert!(flags.contains(ping));
    flags.replace(ping, &format!("{ping}native = 50\nsticky = \"header:x-session-id\"\n"))
}

fn route_and_decide(c: &mut Criterion) {
    let registry = Registry::builtin();
    let snapshot = compile(Path::new("bench.toml"), &inventory_flags(), &registry, 1).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-session-id", "user-42".parse().unwrap());
    headers.insert("user-agent", "Mozilla/5.0".parse().unwrap());
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut group = c.benchmark_group("route_and_decide_162_rules");
    for (name, method, path) in [
        ("native_sticky_percentage", Method::GET, "/api/1/ping"),
        ("static_deep", Method::GET, "/api/1/blockchains/eth/modules/liquity/balances"),
        ("parameter", Method::DELETE, "/api/1/tasks/123"),
        ("mid_segment_parameter", Method::GET, "/api/1/blockchains/eth/modules/aave/v3/balances"),
        ("unmatched", Method::GET, "/api/1/nowhere/at/all"),
        ("percent_encoded", Method::GET, "/api/1/assets/%74ypes"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let routed = snapshot.route(black_box(&method), black_box(path), black_box(&headers), peer);
                black_box(routed.backend)
            })
        });
    }
    group.finish();
}

fn compile_1000_routes(c: &mut Criterion) {
    let registry = Registry::builtin();
    let mut flags = String::from("[defaults]\nsticky = \"header:x-session-id\"\n\n");
    for i in 0..1000 {
        flags.push_str(&format!(
            "[routes.r{i}]\npath = \"/api/1/generated/r{i}/{{id}}/items\"\nmethods = [\"GET\", \"POST\"]\ngroup = \"g{}\"\n\n",
            i % 10
        ));
    }
    c.bench_function("flags_parse_and_compile_1000_routes", |b| {
        b.iter(|| compile(Path::new("bench.toml"), black_box(&flags), &registry, 1).unwrap())
    });
}

criterion_group!(benches, route_and_decide, compile_1000_routes);
criterion_main!(benches);
