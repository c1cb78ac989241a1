//! Validation and compilation of `flags.toml` into a [`Snapshot`]. Every rejection names
//! the file, line and column of the offending value and what is wrong with it.

use std::collections::HashMap;
use std::path::Path;

use http::HeaderName;

use super::model::{FlagsFile, RouteSpec};
use super::{CompiledRoute, Snapshot, WebsocketMode};
use crate::decide::{Sticky, BUCKETS};
use crate::location::Located;
use crate::native::Registry;
use crate::routes::{normalize_pattern, MethodSet, RouteTable};

/// Parses, validates and compiles `text` (the content of `file`) as generation `generation`.
pub fn compile(file: &Path, text: &str, registry: &Registry, generation: u64) -> Result<Snapshot, Located> {
    compile_after(file, text, registry, generation, None)
}

/// [`compile`], as a change of `previous` (the generation serving): where two routes claim
/// one path, the message blames the one the change added or moved, not the one that was
/// there first.
pub fn compile_after(
    file: &Path,
    text: &str,
    registry: &Registry,
    generation: u64,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, Located> {
    let parsed: FlagsFile = toml::from_str(text).map_err(|e| {
        let mut located = Located::from_toml(file, text, &e);
        if let Some(explained) = e.span().and_then(|span| explain_type(text, span.start, e.message())) {
            located.message = explained;
        }
        located
    })?;
    let err = |span: std::ops::Range<usize>, msg: String| Located::at_span(file, text, span, msg);

    let default_sticky = match &parsed.defaults.sticky {
        Some(s) => Sticky::parse(s.get_ref()).map_err(|m| err(s.span(), m))?,
        None => Sticky::Random,
    };
    let override_header = match &parsed.override_ {
        Some(o) => Some(
            HeaderName::from_bytes(o.header.get_ref().as_bytes())
                .map_err(|_| err(o.header.span(), format!("{:?} is not a valid header name", o.header.get_ref())))?,
        ),
        None => None,
    };

    let mut routes: Vec<CompiledRoute> = Vec::with_capacity(parsed.routes.len());
    let mut spans: Vec<std::ops::Range<usize>> = Vec::with_capacity(parsed.routes.len());
    // Routes by normalized pattern, to find two that claim the same path and method.
    let mut by_pattern: HashMap<String, Vec<usize>> = HashMap::with_capacity(parsed.routes.len());
    for (name, spec) in &parsed.routes {
        let route = compile_route(name, spec.get_ref(), &default_sticky, registry)
            .map_err(|(span, msg)| err(span.unwrap_or_else(|| spec.span()), msg))?;
        for path in route_paths(&route) {
            let same_path = by_pattern.entry(normalize_pattern(&path)).or_default();
            let holder = same_path.iter().copied().find(|&i| routes[i].methods.overlaps(route.methods));
            if let Some(i) = holder {
                let other = &routes[i];
                // The file's order says which came first; the serving generation says which
                // one the operator just added or moved, and that is the one to point at.
                let was_there = |r: &CompiledRoute| {
                    previous.is_some_and(|p| p.routes.iter().any(|o| o.name == r.name && o.path == r.path))
                };
                let (claimant, holder, span) = if was_there(&route) && !was_there(other) {
                    (other, &route, spans[i].clone())
                } else {
                    (&route, other, spec.get_ref().path.span())
                };
                return Err(err(
                    span,
                    format!(
                        "route `{}` claims {} {path}, which route `{}` already claims",
                        claimant.name,
                        claimant.methods.names().join(","),
                        holder.name
                    ),
                ));
            }
            same_path.push(routes.len());
        }
        spans.push(spec.get_ref().path.span());
        routes.push(route);
    }

    let paths: Vec<Vec<String>> = routes.iter().map(route_paths).collect();
    let patterns = (routes.iter().zip(&paths).enumerate())
        .flat_map(|(i, (r, paths))| paths.iter().map(move |p| (i, p.as_str(), r.methods)));
    let table = RouteTable::build(patterns).map_err(|e| {
        err(spans[e.route].clone(), format!("route `{}`: invalid path: {}", routes[e.route].name, e.message))
    })?;

    Ok(Snapshot {
        generation,
        source: file.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
        legacy_only: parsed.defaults.legacy_only,
        override_header,
        default_sticky,
        routes,
        table,
    })
}

/// The paths a route answers: its own, and for a websocket route the same with a trailing
/// slash too (rotki's frontend connects to `/ws/`).
fn route_paths(route: &CompiledRoute) -> Vec<String> {
    let mut paths = vec![route.path.clone()];
    if route.websocket.is_some() && !route.path.ends_with('/') {
        paths.push(format!("{}/", route.path));
    }
    paths
}

type RouteError = (Option<std::ops::Range<usize>>, String);

fn compile_route(
    name: &str,
    spec: &RouteSpec,
    default_sticky: &Sticky,
    registry: &Registry,
) -> Result<CompiledRoute, RouteError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err((None, format!("route name {name:?} must be letters, digits, '_' or '-'")));
    }
    if name == "unmatched" {
        return Err((None, "route name \"unmatched\" is taken: it labels requests no route matches".into()));
    }

    let path = spec.path.get_ref();
    if !path.starts_with('/') || path.contains(['?', '#', ' ', '%', '<', '>']) || path.contains("//") {
        return Err((
            Some(spec.path.span()),
            format!(
                "route `{name}`: path {path:?} must start with '/' and hold no '?', '#', '%', spaces, \
                 empty segments or Flask converters (write <int:id> as {{id}}; paths match decoded)"
            ),
        ));
    }

    let methods = match &spec.methods {
        None => MethodSet::ALL,
        Some(list) if list.get_ref().is_empty() => {
            return Err((
                Some(list.span()),
                format!("route `{name}`: methods is empty; leave it out to match every method"),
            ));
        }
        Some(list) => {
            let mut set = MethodSet::default();
            for m in list.get_ref() {
                let one = MethodSet::parse(m.get_ref()).ok_or_else(|| {
                    (
                        Some(m.span()),
                        format!(
                            "route `{name}`: unknown method {:?}: expected one of {}",
                            m.get_ref(),
                            crate::routes::METHODS.join(", ")
                        ),
                    )
                })?;
                set = set.union(one);
            }
            set
        }
    };

    let (native_percent, threshold) = match &spec.native {
        None => (0.0, 0),
        Some(p) => {
            let v = *p.get_ref();
            let hundredths = (v * 100.0).round();
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err((
                    Some(p.span()),
                    format!("route `{name}`: native = {v} is out of range: expected 0 to 100 (percent)"),
                ));
            }
            if (v * 100.0 - hundredths).abs() > 1e-6 {
                return Err((Some(p.span()), format!("route `{name}`: native = {v} has more than two decimals")));
            }
            (v, hundredths as u32)
        }
    };
    debug_assert!(threshold <= BUCKETS);

    let sticky = match &spec.sticky {
        Some(s) => Sticky::parse(s.get_ref()).map_err(|m| (Some(s.span()), format!("route `{name}`: {m}")))?,
        None => default_sticky.clone(),
    };
    let group = match &spec.group {
        Some(g) if g.get_ref().is_empty() || g.get_ref().contains(':') => {
            return Err((Some(g.span()), format!("route `{name}`: group must be non-empty and hold no ':'")));
        }
        Some(g) => g.get_ref().clone(),
        None => name.to_string(),
    };

    let endpoint = registry.find(&normalize_pattern(path));
    let handler = endpoint.filter(|e| methods.is_subset_of(e.methods)).map(|e| e.id);
    if threshold > 0 && handler.is_none() {
        let span = spec.native.as_ref().map(|p| p.span());
        let msg = match endpoint {
            Some(e) => format!(
                "route `{name}` sets native = {native_percent} for methods {} but the native handler for {path} implements only {}; list those in `methods`",
                methods.names().join(","),
                e.methods.names().join(",")
            ),
            None => format!(
                "route `{name}` sets native = {native_percent} but no native handler implements {path} (native handlers: {})",
                registry.describe()
            ),
        };
        return Err((span, msg));
    }

    let websocket = match &spec.websocket {
        None => None,
        Some(w) => {
            let mode = WebsocketMode::parse(w.get_ref()).ok_or_else(|| {
                (
                    Some(w.span()),
                    format!(
                        "route `{name}`: websocket = {:?}: expected \"relay\", \"merge\" or \"native\"",
                        w.get_ref()
                    ),
                )
            })?;
            if !methods.contains(&http::Method::GET) {
                return Err((
                    Some(w.span()),
                    format!("route `{name}`: a websocket handshake is a GET, which `methods` leaves out"),
                ));
            }
            Some(mode)
        }
    };

    let async_query = match &spec.async_ {
        Some(a) if *a.get_ref() && !handler.is_some_and(|id| registry.get(id).runs_tasks) => {
            return Err((
                Some(a.span()),
                format!("route `{name}`: async = true needs a native handler for {path} that runs async tasks"),
            ));
        }
        Some(a) => *a.get_ref(),
        None => false,
    };

    let (shadow, guard, ramp, compare_ignore) = super::rollout::compile(name, spec, methods, handler.is_some())?;

    let record = match &spec.record {
        None => None,
        Some(n) if !(0..=i64::from(crate::record::MAX_KEEP)).contains(n.get_ref()) => {
            return Err((
                Some(n.span()),
                format!(
                    "route `{name}`: record = {} is out of range: expected 0 to {} (exchanges kept in memory)",
                    n.get_ref(),
                    crate::record::MAX_KEEP
                ),
            ));
        }
        Some(n) => Some(*n.get_ref() as u32),
    };

    Ok(CompiledRoute {
        name: name.to_string(),
        label: crate::stats::labels::flags_route(name),
        path: path.clone(),
        methods,
        native_percent,
        threshold,
        sticky,
        group,
        handler,
        websocket,
        async_query,
        shadow,
        streak: guard
            .as_ref()
            .filter(|g| g.consecutive_errors > 0)
            .map(|g| std::sync::Arc::new(super::rollout::Streak::new(g.consecutive_errors))),
        guard,
        ramp,
        compare_ignore,
        record,
    })
}

/// serde's word for a value of the wrong type (`invalid type: string "50", expected f64`)
/// in the operator's terms: the route, the key, and what the key takes.
fn explain_type(text: &str, at: usize, message: &str) -> Option<String> {
    let found = message.strip_prefix("invalid type: ")?.split(", expected").next()?;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let key = text[line_start..at].split_once('=')?.0.trim();
    let header = text[..line_start].lines().rev().map(str::trim).find(|l| l.starts_with('['))?;
    let table = header.trim_start_matches('[').split(']').next()?.trim();
    let (route, key) = match table.strip_prefix("routes.") {
        Some(rest) => match rest.split_once('.') {
            Some((route, sub)) => (Some(route), format!("{sub}.{key}")),
            None => (Some(rest), key.to_string()),
        },
        None => (None, format!("{table}.{key}")),
    };
    let wanted = expected(&key)?;
    let what = format!("{key} is {found}: expected {wanted}");
    Some(match route {
        Some(route) => format!("route `{route}`: {what}"),
        None => what,
    })
}

/// What each key of `flags.toml` takes, as `docs/flags.md` says it.
fn expected(key: &str) -> Option<&'static str> {
    Some(match key {
        "native" => "a number from 0 to 100 (percent), e.g. native = 25",
        "record" => "a whole number from 0 to 10000 (exchanges kept)",
        "path" => "a string such as \"/api/1/assets/types\"",
        "group" | "ramp.stopped" | "override.header" => "a string",
        "sticky" | "defaults.sticky" => "a string: \"random\", \"ip\", \"header:<name>\" or \"cookie:<name>\"",
        "websocket" => "a string: \"relay\", \"merge\" or \"native\"",
        "methods" | "shadow_methods" => "a list of methods, e.g. [\"GET\"]",
        "shadow_ignore" => "a list of JSON pointers, e.g. [\"/result/version\"]",
        "async" | "shadow" | "shadow_noise" | "defaults.legacy_only" => "true or false",
        "guard.window_secs" => "a whole number of seconds from 10 to 900",
        "guard.min_requests" => "a whole number of requests",
        "guard.max_error_rate" | "guard.max_mismatch_rate" => "a share from 0 to 1, e.g. 0.02",
        "guard.max_p99_ms" => "a number of milliseconds above 0",
        "guard.consecutive_errors" => "a whole number of answers (0: off)",
        "ramp.steps" => "a list of percents, e.g. [1, 5, 25, 100]",
        "ramp.interval_secs" => "a whole number of seconds above 0",
        _ => return None,
    })
}

/// The SHA-256 of the file's bytes, in hex as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Snapshot, String> {
        compile(Path::new("flags.toml"), text, &Registry::builtin(), 1).map_err(|e| e.to_string())
    }

    #[test]
    fn a_valid_file_compiles_in_order() {
        let s = check(
            "[defaults]\nsticky = \"ip\"\n[override]\nheader = \"x-banyan-force\"\n\
             [routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 100\n\
             [routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = 12.5\nsticky = \"header:x-session-id\"\ngroup = \"pilot\"\n",
        )
        .unwrap();
        assert_eq!(s.routes.len(), 2);
        assert_eq!(s.routes[0].name, "ping");
        assert_eq!(s.routes[0].threshold, 10_000);
        assert_eq!(s.routes[1].threshold, 1_250);
        assert_eq!(s.routes[1].group, "pilot");
        assert_eq!(s.routes[0].sticky, Sticky::Ip);
        assert!(s.routes[1].handler.is_some());
    }

    #[test]
    fn errors_name_line_column_and_problem() {
        let cases = [
            (
                "[routes.a]\npath = \"/api/1/ping\"\nnative = 101\n",
                "flags.toml:3:10: route `a`: native = 101 is out of range",
            ),
            (
                "[routes.a]\npath = \"/api/1/ping\"\nnative = 1.234\n",
                "flags.toml:3:10: route `a`: native = 1.234 has more than two decimals",
            ),
            ("[routes.a]\npath = \"/api/1/ping\"\nnativ = 1\n", "flags.toml:3:1: unknown field `nativ`"),
            ("[defaults]\nsticky = \"rand\"\n", "flags.toml:2:10: bad sticky \"rand\""),
            (
                "[routes.a]\npath = \"/x\"\nmethods = [\"GET\", \"FETCH\"]\n",
                "flags.toml:3:19: route `a`: unknown method \"FETCH\"",
            ),
            (
                "[routes.a]\npath = \"/api/1/nope\"\nnative = 5\n",
                "flags.toml:3:10: route `a` sets native = 5 but no native handler implements /api/1/nope",
            ),
            (
                "[routes.a]\npath = \"/api/1/ping\"\nnative = 5\n",
                "flags.toml:3:10: route `a` sets native = 5 for methods * but the native handler",
            ),
            (
                "[routes.a]\npath = \"/x/{id}\"\nmethods = [\"GET\"]\n[routes.b]\npath = \"/x/{other}\"\n",
                "flags.toml:5:8: route `b` claims * /x/{other}, which route `a` already claims",
            ),
            ("[routes.a]\npath = \"/x\"\n[routes.a]\npath = \"/y\"\n", "flags.toml:3:"),
            ("[routes.a]\npath = \"x\"\n", "flags.toml:2:8: route `a`: path \"x\" must start with '/'"),
            ("[routes.a]\npath = \"/x/{a}-{b}\"\n", "flags.toml:2:8: route `a`: invalid path"),
            ("[routes.a]\npath = \"/x/<int:id>\"\n", "flags.toml:2:8: route `a`: path \"/x/<int:id>\" must start"),
            ("[routes.a]\npath = \"/x/%74\"\n", "flags.toml:2:8: route `a`: path \"/x/%74\" must start"),
            ("[routes.a]\npath = \"/x\"\ngroup = \"a:b\"\n", "flags.toml:3:9: route `a`: group must be non-empty"),
            (
                "[routes.a]\npath = \"/x\"\nrecord = -1\n",
                "flags.toml:3:10: route `a`: record = -1 is out of range: expected 0 to 10000",
            ),
            (
                "[routes.a]\npath = \"/x\"\nrecord = \"5\"\n",
                "flags.toml:3:10: route `a`: record is string \"5\": expected a whole number from 0 to 10000",
            ),
            (
                "[routes.a]\npath = \"/api/1/ping\"\nnative = \"50\"\n",
                "flags.toml:3:10: route `a`: native is string \"50\": expected a number from 0 to 100 (percent)",
            ),
            (
                "[routes.a]\npath = \"/x\"\n[routes.a.guard]\nwindow_secs = 1.5\n",
                "flags.toml:4:15: route `a`: guard.window_secs is floating point `1.5`: expected a whole number",
            ),
            (
                "[defaults]\nlegacy_only = \"yes\"\n",
                "flags.toml:2:15: defaults.legacy_only is string \"yes\": expected true or false",
            ),
            ("[routes.a]\npath = \"/x\"\nsticky = \"header:\"\n", "flags.toml:3:10: route `a`: bad sticky"),
            (
                "[routes.p]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nasync = true\n",
                "flags.toml:4:9: route `p`: async = true needs a native handler for /api/1/ping that runs async tasks",
            ),
            (
                "[routes.ws]\npath = \"/ws\"\nwebsocket = \"bridge\"\n",
                "flags.toml:3:13: route `ws`: websocket = \"bridge\": expected \"relay\", \"merge\" or \"native\"",
            ),
            (
                "[routes.ws]\npath = \"/ws\"\nmethods = [\"POST\"]\nwebsocket = \"relay\"\n",
                "flags.toml:4:13: route `ws`: a websocket handshake is a GET",
            ),
            (
                "[routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n[routes.other]\npath = \"/ws/\"\n",
                "flags.toml:5:8: route `other` claims * /ws/, which route `ws` already claims",
            ),
        ];
        for (text, want) in cases {
            let got = check(text).map(|_| ()).unwrap_err();
            assert!(got.starts_with(want), "for {text:?}\n got: {got}\nwant: {want}…");
        }
    }

    #[test]
    fn a_websocket_route_answers_its_path_with_a_trailing_slash_too() {
        let s = check("[routes.ws]\npath = \"/ws\"\nwebsocket = \"relay\"\n").unwrap();
        assert_eq!(s.routes[0].websocket, Some(WebsocketMode::Relay));
        let peer = "127.0.0.1".parse().unwrap();
        for path in ["/ws", "/ws/"] {
            let routed = s.route(&http::Method::GET, path, &http::HeaderMap::new(), peer);
            assert_eq!(routed.route.map(|r| r.name.as_str()), Some("ws"), "{path}");
        }
        assert!(s.route(&http::Method::GET, "/ws/x", &http::HeaderMap::new(), peer).route.is_none());
    }

    #[test]
    fn a_path_conflict_blames_the_route_the_change_added() {
        let types = "[routes.asset_types]\npath = \"/api/1/assets/types\"\nmethods = [\"GET\"]\n";
        let new = "[routes.a_new]\npath = \"/api/1/assets/types\"\nmethods = [\"GET\"]\n";
        let serving = check(types).unwrap();
        // Added above the route that was there: still the new one is named, where it is.
        let text = format!("{new}{types}");
        let e = compile_after(Path::new("flags.toml"), &text, &Registry::builtin(), 2, Some(&serving)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "flags.toml:2:8: route `a_new` claims GET,HEAD /api/1/assets/types, which route `asset_types` already claims"
        );
    }

    #[test]
    fn disjoint_methods_on_one_path_are_fine() {
        let s =
            check("[routes.a]\npath = \"/x\"\nmethods = [\"GET\"]\n[routes.b]\npath = \"/x\"\nmethods = [\"POST\"]\n")
                .unwrap();
        assert_eq!(s.routes.len(), 2);
    }
}
