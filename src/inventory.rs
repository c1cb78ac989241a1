//! rotki's route inventory (`config/rotki-routes-v1.43.2.txt`, copied from the verified
//! fact sheets): every Flask rule with its methods. Kept as data so banyan can reason
//! about the whole API — benchmarks route against all of it, and it can be turned into
//! flags routes in banyan's path syntax.

use std::fmt::Write;

/// The inventory shipped with banyan.
pub const ROTKI_ROUTES: &str = include_str!("../config/rotki-routes-v1.43.2.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// As Werkzeug writes it: `/api/1/tasks/<int:task_id>`.
    pub rule: String,
    /// In banyan's flags syntax: `/api/1/tasks/{task_id}`.
    pub path: String,
    /// Upper-case method names, without rotki's gate marks.
    pub methods: Vec<String>,
}

/// Parses the tab-separated inventory (`RULE  METHODS  ASYNC`, `#` comments).
pub fn parse(text: &str) -> Vec<Rule> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let rule = cols.next()?.to_string();
            let methods =
                cols.next()?.split(',').map(|m| m.split(['[', '*']).next().unwrap_or("").to_string()).collect();
            Some(Rule { path: to_banyan_path(&rule), rule, methods })
        })
        .collect()
}

/// `<string:name>` and `<int:name>` become `{name}`.
pub fn to_banyan_path(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut rest = rule;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c);
        let inner = &rest[open + 1..close];
        let name = inner.rsplit(':').next().unwrap_or(inner);
        let _ = write!(out, "{{{name}}}");
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The inventory as a flags file, one legacy-only route per rule (`r0`, `r1`, ...).
pub fn to_flags(rules: &[Rule]) -> String {
    let mut out = String::new();
    for (i, r) in rules.iter().enumerate() {
        let methods: Vec<String> = r.methods.iter().map(|m| format!("{m:?}")).collect();
        let _ = write!(out, "[routes.r{i}]\npath = {:?}\nmethods = [{}]\n\n", r.path, methods.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_inventory_parses_and_compiles_as_flags() {
        let rules = parse(ROTKI_ROUTES);
        assert_eq!(rules.len(), 162);
        assert_eq!(rules.iter().map(|r| r.methods.len()).sum::<usize>(), 293);
        let tasks = rules.iter().find(|r| r.rule == "/api/1/tasks/<int:task_id>").unwrap();
        assert_eq!(tasks.path, "/api/1/tasks/{task_id}");
        assert_eq!(tasks.methods, ["DELETE", "GET"]);
        let flags = to_flags(&rules);
        let snap = crate::flags::compile(
            std::path::Path::new("inventory.toml"),
            &flags,
            &crate::native::Registry::builtin(),
            1,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(snap.routes.len(), 162);
    }

    #[test]
    fn converters_become_parameters() {
        assert_eq!(
            to_banyan_path("/api/1/blockchains/eth/modules/<string:module>/v<string:version>/balances"),
            "/api/1/blockchains/eth/modules/{module}/v{version}/balances"
        );
    }
}
