//! What changed between two generations, key by key, for the audit log.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{CompiledRoute, Snapshot};
use crate::audit::Change;

impl CompiledRoute {
    /// The route's settings as the file says them (defaults filled in), by key.
    pub fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("path", json!(self.path)),
            ("methods", json!(self.methods.names())),
            ("native", json!(self.native_percent)),
            ("sticky", json!(self.sticky.to_string())),
            ("group", json!(self.group)),
            ("websocket", json!(self.websocket.map(|w| w.as_str()))),
            ("async", json!(self.async_query)),
            ("shadow", json!(self.shadow.is_some())),
            ("shadow_methods", json!(self.shadow.as_ref().map(|s| s.methods.names()))),
            // Compiled whether or not the route shadows: replay compares by it too.
            ("shadow_ignore", json!(&self.compare_ignore[..])),
            ("shadow_noise", json!(self.shadow.as_ref().is_some_and(|s| s.noise))),
            (
                "guard",
                json!(self.guard.as_ref().map(|g| json!({
                    "window_secs": g.window_secs,
                    "min_requests": g.min_requests,
                    "max_error_rate": g.max_error_rate,
                    "max_p99_ms": g.max_p99_ms,
                    "max_mismatch_rate": g.max_mismatch_rate,
                    "consecutive_errors": g.consecutive_errors,
                }))),
            ),
            ("record", json!(self.record)),
            (
                "ramp",
                json!(self
                    .ramp
                    .as_ref()
                    .map(|r| json!({"steps": r.steps, "interval_secs": r.interval_secs, "stopped": r.stopped}))),
            ),
        ]
    }
}

impl Snapshot {
    /// Every setting, keyed by route (None: the file-wide ones) and key.
    fn settings(&self) -> BTreeMap<(Option<&str>, &'static str), Value> {
        let mut out = BTreeMap::new();
        out.insert((None, "defaults.sticky"), json!(self.default_sticky.to_string()));
        out.insert((None, "defaults.legacy_only"), json!(self.legacy_only));
        out.insert((None, "override.header"), json!(self.override_header.as_ref().map(|h| h.as_str())));
        for r in &self.routes {
            for (key, value) in r.settings() {
                // The default shadow methods follow from `shadow = true`: only a value
                // someone wrote is a change of its own.
                let derived = key == "shadow_methods" && r.shadow.as_ref().is_some_and(|s| !s.methods_written);
                let value = if derived { Value::Null } else { value };
                out.insert((Some(r.name.as_str()), key), value);
            }
        }
        out
    }
}

/// The keys whose value differs (a route added or removed shows each of its keys, with
/// null on the side where it is missing), in route order.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let (old, new) = (before.settings(), after.settings());
    let mut keys: Vec<_> = old.keys().chain(new.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (b, a) = (old.get(&k).cloned().unwrap_or(Value::Null), new.get(&k).cloned().unwrap_or(Value::Null));
            (b != a).then(|| Change { route: k.0.map(str::to_string), key: k.1.to_string(), before: b, after: a })
        })
        .collect()
}

/// Changes as one line for the log: `ping.native: 0 → 50, defaults.legacy_only: false →
/// true`, the first few of a long list and how many more.
pub fn summary(changes: &[Change]) -> String {
    const SHOWN: usize = 8;
    if changes.is_empty() {
        return "no setting changed".into();
    }
    let mut line: Vec<String> = changes
        .iter()
        .take(SHOWN)
        .map(|c| {
            let key = match &c.route {
                Some(route) => format!("{route}.{}", c.key),
                None => c.key.clone(),
            };
            format!("{key}: {} → {}", c.before, c.after)
        })
        .collect();
    if changes.len() > SHOWN {
        line.push(format!("and {} more", changes.len() - SHOWN));
    }
    line.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::Registry;

    fn snap(text: &str) -> Snapshot {
        crate::flags::compile("flags.toml".as_ref(), text, &Registry::builtin(), 1).unwrap()
    }

    #[test]
    fn lists_changed_added_and_removed_keys() {
        let ping = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\n";
        let a = snap(&format!("{ping}native = 0\n\n[routes.info]\npath = \"/api/1/info\"\n"));
        let b = snap(&format!("[defaults]\nlegacy_only = true\n{ping}native = 50\n"));
        let c = changes(&a, &b);
        let ping = c.iter().find(|c| c.route.as_deref() == Some("ping")).unwrap();
        assert_eq!((ping.key.as_str(), &ping.before, &ping.after), ("native", &json!(0.0), &json!(50.0)));
        assert!(c.iter().any(|c| c.route.is_none() && c.key == "defaults.legacy_only" && c.after == json!(true)));
        let info: Vec<_> = c.iter().filter(|c| c.route.as_deref() == Some("info")).collect();
        assert!(info.iter().all(|c| c.after.is_null()) && info.iter().any(|c| c.key == "path"));
        assert!(changes(&a, &a).is_empty());
    }

    #[test]
    fn turning_shadow_on_or_resuming_a_ramp_lists_only_what_was_written() {
        let route = "[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\nnative = 10\n";
        let guard = "[routes.info.guard]\n[routes.info.ramp]\nsteps = [25, 50]\ninterval_secs = 60\n";
        let off = snap(&format!("{route}{guard}stopped = \"guard tripped\"\n"));
        let on = snap(&format!("{route}shadow = true\n{guard}"));
        let c = changes(&off, &on);
        let keys: Vec<_> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["ramp", "shadow"], "{c:?}");
        let ramp = &c[0];
        assert_eq!((&ramp.before["stopped"], &ramp.after["stopped"]), (&json!("guard tripped"), &Value::Null));
    }
}
