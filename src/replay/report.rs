//! What a replay found, as text for a terminal or JSON for a script: every difference with
//! its pointer and both values, every skip with its reason, and per route how many entries
//! were compared, matched, differed and skipped.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::{json, Value};

use crate::shadow::compare::Difference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// One entry's replay.
pub struct Replayed {
    pub index: usize,
    pub method: String,
    pub target: String,
    /// The flags route it matched.
    pub route: Option<String>,
    pub outcome: Outcome,
}

pub enum Outcome {
    Matched,
    /// Each difference's `legacy` is the recorded value.
    Differed(Vec<Difference>),
    Skipped(String),
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub compared: usize,
    pub matched: usize,
    pub differed: usize,
    pub skipped: usize,
}

pub struct Report {
    file: String,
    entries: Vec<Replayed>,
}

/// The name unrouted entries are counted under.
const NO_ROUTE: &str = "(no route)";

impl Report {
    pub fn new(file: String, entries: Vec<Replayed>) -> Report {
        Report { file, entries }
    }

    pub fn differed(&self) -> usize {
        self.entries.iter().filter(|e| matches!(e.outcome, Outcome::Differed(_))).count()
    }

    /// Per route, in name order (unrouted entries last), and the totals.
    fn counts(&self) -> (Vec<(&str, Counts)>, Counts) {
        let mut by: BTreeMap<(bool, &str), Counts> = BTreeMap::new();
        let mut total = Counts::default();
        for e in &self.entries {
            let name = e.route.as_deref();
            for c in [by.entry((name.is_none(), name.unwrap_or(NO_ROUTE))).or_default(), &mut total] {
                match e.outcome {
                    Outcome::Matched => (c.compared, c.matched) = (c.compared + 1, c.matched + 1),
                    Outcome::Differed(_) => (c.compared, c.differed) = (c.compared + 1, c.differed + 1),
                    Outcome::Skipped(_) => c.skipped += 1,
                }
            }
        }
        (by.into_iter().map(|((_, name), c)| (name, c)).collect(), total)
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => {
                let mut out = serde_json::to_string_pretty(&self.json()).unwrap_or_default();
                out.push('\n');
                out
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}: {} entries", self.file, self.entries.len());
        for e in &self.entries {
            let route = e.route.as_deref().unwrap_or(NO_ROUTE);
            if let Outcome::Differed(differences) = &e.outcome {
                let _ = writeln!(out, "entry {} {} {} (route {route}): differs", e.index, e.method, e.target);
                for d in differences {
                    let _ = writeln!(out, "  {}: recorded {}, native {}", d.pointer, d.legacy, d.native);
                }
            }
        }
        let (routes, total) = self.counts();
        let mut rows =
            vec![["ROUTE".to_string(), "COMPARED".into(), "MATCHED".into(), "DIFFERED".into(), "SKIPPED".into()]];
        for (name, c) in routes.iter().copied().chain([("total", total)]) {
            rows.push([
                name.into(),
                c.compared.to_string(),
                c.matched.to_string(),
                c.differed.to_string(),
                c.skipped.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..5).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
        out.push('\n');
        for row in &rows {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &self.entries {
            if let Outcome::Skipped(why) = &e.outcome {
                *reasons.entry(why).or_default() += 1;
            }
        }
        if !reasons.is_empty() {
            out.push_str("\nskipped:\n");
            for (why, n) in reasons {
                let _ = writeln!(out, "  {n}: {why}");
            }
        }
        let verdict = match total.differed {
            0 if total.compared == 0 => "nothing was compared: no entry has a native handler here".to_string(),
            0 => format!("all {} compared entries match", total.compared),
            n => format!("{n} of {} compared entries differ", total.compared),
        };
        let _ = writeln!(out, "\n{verdict}");
        out
    }

    fn json(&self) -> Value {
        let (routes, total) = self.counts();
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let mut v = json!({"index": e.index, "method": e.method, "target": e.target, "route": e.route});
                let (outcome, extra) = match &e.outcome {
                    Outcome::Matched => ("matched", None),
                    Outcome::Differed(d) => {
                        let d: Vec<Value> = d
                            .iter()
                            .map(|d| json!({"pointer": d.pointer, "recorded": d.legacy, "native": d.native}))
                            .collect();
                        ("differed", Some(("differences", Value::from(d))))
                    }
                    Outcome::Skipped(why) => ("skipped", Some(("reason", Value::from(why.as_str())))),
                };
                v["outcome"] = outcome.into();
                if let Some((key, value)) = extra {
                    v[key] = value;
                }
                v
            })
            .collect();
        let routes: Vec<Value> = routes
            .into_iter()
            .map(|(name, c)| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                v["route"] = name.into();
                v
            })
            .collect();
        json!({"file": self.file, "entries": entries, "routes": routes, "total": total})
    }
}
