//! Properties over arbitrary input, where a bug would hide from examples: the flags
//! compiler, the route table and the shadow comparison never panic on anything; raising
//! a route's percentage never moves a key from native back to legacy; and a comparison
//! finds no difference between an answer and itself, whatever its key order.

use banyan::decide::{bucket, Backend, BUCKETS};
use banyan::native::Registry;
use banyan::routes::{MethodSet, RouteTable};
use banyan::shadow::compare::{compare, Answer, Ignored};
use http::Method;
use proptest::prelude::*;

fn compile(text: &str) -> Result<banyan::flags::Snapshot, banyan::location::Located> {
    banyan::flags::compile("flags.toml".as_ref(), text, &Registry::builtin(), 1)
}

/// Flags files made of the keys banyan knows, with values good and bad.
fn flags_file() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        "\"[a-z/{}*:.?%0-9 ]{0,30}\"",
        Just("true".to_string()),
        Just("[\"GET\", \"POST\"]".to_string()),
        Just("[\"GT\"]".to_string()),
        Just("[]".to_string()),
    ];
    let key = prop_oneof![
        Just("path"),
        Just("native"),
        Just("methods"),
        Just("sticky"),
        Just("group"),
        Just("websocket"),
        Just("async"),
        Just("shadow"),
        Just("shadow_methods"),
        Just("shadow_ignore"),
        Just("shadow_noise"),
    ];
    let route = (
        "[a-z_]{1,8}",
        prop_oneof![Just("/api/1/ping".to_string()), Just("/api/1/info".to_string()), "/[a-z{}*/]{0,20}"],
        proptest::collection::vec((key, value), 0..5),
        proptest::option::of((0u64..2000, 0u64..50, -1.0f64..2.0)),
    )
        .prop_map(|(name, path, keys, guard)| {
            let mut t = format!("[routes.{name}]\npath = {path:?}\n");
            for (k, v) in keys {
                t.push_str(&format!("{k} = {v}\n"));
            }
            if let Some((w, m, r)) = guard {
                t.push_str(&format!(
                    "[routes.{name}.guard]\nwindow_secs = {w}\nmin_requests = {m}\nmax_error_rate = {r}\n"
                ));
            }
            t
        });
    proptest::collection::vec(route, 0..4).prop_map(|routes| routes.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_flags_compiler_never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = compile(&text);
    }

    #[test]
    fn the_flags_compiler_never_panics_on_plausible_files(text in flags_file()) {
        if let Err(e) = compile(&text) {
            // Every rejection says where, within the file.
            if let Some((line, col)) = e.position {
                prop_assert!(line >= 1 && col >= 1 && line <= text.lines().count().max(1), "{e}");
            }
        }
    }

    #[test]
    fn the_route_table_never_panics_on_any_path(
        patterns in proptest::collection::vec("/[a-z{}*]{0,12}(/[a-z{}*]{0,8}){0,3}", 0..6),
        path in "\\PC{0,60}",
    ) {
        let get = MethodSet::parse("GET").unwrap();
        if let Ok(table) = RouteTable::build(patterns.iter().enumerate().map(|(i, p)| (i, p.as_str(), get))) {
            let _ = table.lookup(&path, &Method::GET);
        }
    }

    #[test]
    fn raising_a_percentage_never_sends_a_key_back_to_legacy(
        group in "[a-z]{1,10}",
        user in "[a-zA-Z0-9-]{0,24}",
        low in 0u32..=BUCKETS,
        raise in 0u32..=BUCKETS,
    ) {
        let high = (low + raise).min(BUCKETS);
        let decide_at = |hundredths: u32| {
            let text = format!(
                "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = {}.{:02}\nsticky = \"header:x-user\"\ngroup = \"{group}\"\n",
                hundredths / 100,
                hundredths % 100
            );
            let snapshot = compile(&text).unwrap();
            let mut headers = http::HeaderMap::new();
            headers.insert("x-user", user.parse().unwrap());
            banyan::decide::decide(&snapshot, &snapshot.routes[0], &headers, "127.0.0.1".parse().unwrap())
        };
        if decide_at(low) == Backend::Native {
            prop_assert_eq!(decide_at(high), Backend::Native);
        }
        prop_assert!(bucket(&group, user.as_bytes()) < BUCKETS);
    }

    #[test]
    fn an_answer_matches_itself_in_any_key_order(value in json_value(), status in 100u16..600) {
        let a = serde_json::to_vec(&value).unwrap();
        // serde_json without preserve_order writes keys sorted; reverse them for the other side.
        let b = reversed(&value).to_string().into_bytes();
        let none = Ignored::default();
        let differences = compare(&Answer { status, content_type: None, body: &a }, &Answer { status, content_type: None, body: &b }, &none);
        prop_assert!(differences.is_empty(), "{:?}", differences);
    }

    #[test]
    fn the_comparison_never_panics_and_is_bounded(a in "\\PC{0,80}", b in json_value(), ignore in "[/a-z*0-9~]{0,12}") {
        let b = b.to_string();
        let ignored = Ignored::new([ignore.as_str()]);
        let (legacy, native) = (Answer { status: 200, content_type: None, body: a.as_bytes() }, Answer { status: 200, content_type: None, body: b.as_bytes() });
        let differences = compare(&legacy, &native, &ignored);
        prop_assert!(differences.len() <= 51, "{}", differences.len());
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        "[a-z ]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z~/]{1,4}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The same value written with every object's keys in reverse order.
fn reversed(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let fields: Vec<String> =
                m.iter().rev().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), reversed(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(reversed).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}
