//! A change to one route (`PATCH /api/flags/routes/{name}`, a guard's rollback, a ramp's
//! step) or to `[defaults]` (the kill switch), made the way ops would make it: in
//! `flags.toml` itself, with its comments and layout kept (`toml_edit`), validated exactly
//! as a file edit is, written atomically (a temp file renamed over it) and applied by the
//! normal reload path. A file managed
//! elsewhere (a Kubernetes ConfigMap, a file or mount that is read-only; `managed.rs`) is
//! not changed here: the change is refused (409).

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};
use toml_edit::{DocumentMut, Item, TableLike};

use super::managed::{self, Manager};
use super::{compile_after, FlagsStore, ReloadOutcome};
use crate::audit::Origin;

pub enum EditError {
    /// 400: the change is not valid (the message says why).
    Invalid(String),
    /// 404
    UnknownRoute(String),
    /// 409: the file is managed elsewhere, or on disk it does not parse.
    Conflict(String),
    /// 500
    Failed(String),
}

/// The table of `flags.toml` a change is made in.
#[derive(Debug, Clone, Copy)]
enum Table<'a> {
    /// A route, and the `native` share the file must still give it (a ramp's step).
    Route { name: &'a str, expected: Option<f64> },
    /// `[defaults]`: the kill switch (`legacy_only`) and the default `sticky`.
    Defaults,
}

/// The keys of `[defaults]` the API may change.
const DEFAULTS_KEYS: [&str; 2] = ["legacy_only", "sticky"];

impl FlagsStore {
    /// Applies `changes` (JSON values; null removes a key) to route `name` in the file;
    /// the generation now serving.
    pub fn set_route(&self, name: &str, changes: &Map<String, Value>, origin: Origin<'_>) -> Result<u64, EditError> {
        set(self, Table::Route { name, expected: None }, changes, origin)
    }

    /// [`set_route`](Self::set_route), only if the file still gives the route `native`
    /// share `expected` (a ramp's step must not overwrite an operator's change made since
    /// the ramp looked): 409 otherwise.
    pub fn set_route_if(
        &self,
        name: &str,
        changes: &Map<String, Value>,
        origin: Origin<'_>,
        expected: f64,
    ) -> Result<u64, EditError> {
        set(self, Table::Route { name, expected: Some(expected) }, changes, origin)
    }

    /// Applies `changes` to `[defaults]` (`legacy_only`, `sticky`), creating the table if
    /// the file has none: the kill switch from the API.
    pub fn set_defaults(&self, changes: &Map<String, Value>, origin: Origin<'_>) -> Result<u64, EditError> {
        if let Some(key) = changes.keys().find(|k| !DEFAULTS_KEYS.contains(&k.as_str())) {
            return Err(EditError::Invalid(format!(
                "[defaults] has no key {key:?} to change here: expected {}",
                DEFAULTS_KEYS.join(" or ")
            )));
        }
        set(self, Table::Defaults, changes, origin)
    }

    /// Who manages the flags file (see `managed.rs`).
    pub fn manager(&self) -> Result<Manager, std::io::Error> {
        managed::manager(self.path(), self.managed_by())
    }
}

fn set(
    store: &FlagsStore,
    table: Table<'_>,
    changes: &Map<String, Value>,
    origin: Origin<'_>,
) -> Result<u64, EditError> {
    if changes.is_empty() {
        return Err(EditError::Invalid("nothing to change: send an object such as {\"native\": 25}".into()));
    }
    let path = store.path();
    let target = match store.manager() {
        Ok(Manager::Banyan(target)) => target,
        Ok(Manager::Elsewhere { message, .. }) => return Err(EditError::Conflict(message)),
        Err(e) => return Err(unreadable(store, &e)),
    };
    let serving = store.snapshot();
    let edit = |on_disk: &[u8]| -> Result<Option<Vec<u8>>, EditError> {
        let text = std::str::from_utf8(on_disk)
            .map_err(|e| EditError::Conflict(format!("{} is not UTF-8: {e}", path.display())))?;
        let mut doc: DocumentMut = text.parse().map_err(|e| {
            EditError::Conflict(format!("{} does not parse as it is on disk; fix it first: {e}", path.display()))
        })?;
        let keys: &mut dyn TableLike = match table {
            Table::Route { name, expected } => {
                let route =
                    doc.get_mut("routes").and_then(|r| r.get_mut(name)).and_then(Item::as_table_like_mut).ok_or_else(
                        || EditError::UnknownRoute(format!("no route named {name:?} in {}", path.display())),
                    )?;
                let native = route.get("native").and_then(Item::as_value);
                let now = native.and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64))).unwrap_or(0.0);
                if let Some(expected) = expected.filter(|e| *e != now) {
                    return Err(EditError::Conflict(format!("route {name:?} is at {now} % now, not {expected} %")));
                }
                route
            }
            Table::Defaults => {
                let defaults = doc.entry("defaults").or_insert_with(toml_edit::table);
                defaults
                    .as_table_like_mut()
                    .ok_or_else(|| EditError::Conflict(format!("{}: `defaults` is not a table", path.display())))?
            }
        };
        for (key, value) in changes {
            set_key(keys, key, value)?;
        }
        let new_text = doc.to_string();
        if new_text == text {
            return Ok(None);
        }
        // The position would point into a file that was never written: the message alone,
        // which names the route where it is about one.
        compile_after(path, &new_text, store.registry(), serving.generation + 1, Some(&serving)).map_err(|e| {
            EditError::Invalid(match table {
                Table::Route { name, .. } if !e.message.contains(&format!("route `{name}`")) => {
                    format!("route `{name}`: {}", e.message)
                }
                _ => e.message,
            })
        })?;
        Ok(Some(new_text.into_bytes()))
    };
    let outcome = store.edit(edit, |bytes| write_file(&target, bytes), origin)?;
    match outcome {
        ReloadOutcome::Applied(generation) => Ok(generation),
        ReloadOutcome::Unchanged => Ok(store.snapshot().generation),
        ReloadOutcome::Rejected(e) | ReloadOutcome::Missing(e) => Err(EditError::Failed(e.to_string())),
    }
}

/// Why the flags file cannot be changed when it cannot even be looked at: moved away or
/// deleted (the last good generation keeps serving), or a fault.
fn unreadable(store: &FlagsStore, e: &std::io::Error) -> EditError {
    let path = store.path().display();
    match e.kind() {
        std::io::ErrorKind::NotFound => EditError::Conflict(format!(
            "{path} is missing (moved or deleted): banyan keeps serving generation {} from it; \
             put the file back, then change it",
            store.snapshot().generation
        )),
        _ => EditError::Failed(format!("{path}: {e}")),
    }
}

/// Sets (or with null, removes) one key of a route table, keeping the comment after the
/// old value. `ramp.stopped` names a key of the route's `ramp` table.
fn set_key(route: &mut dyn TableLike, key: &str, value: &Value) -> Result<(), EditError> {
    if let Some((table, inner)) = key.split_once('.') {
        let sub = route.get_mut(table).and_then(Item::as_table_like_mut).ok_or_else(|| {
            EditError::Invalid(format!("{key}: the route has no [{table}] table to set {inner:?} in"))
        })?;
        return set_key(sub, inner, value);
    }
    if value.is_null() {
        route.remove(key);
        return Ok(());
    }
    let mut new = to_toml(value).ok_or_else(|| {
        EditError::Invalid(format!("{key}: {value} cannot be written in flags.toml (objects are not settings)"))
    })?;
    match route.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        None => {
            route.insert(key, Item::Value(new));
        }
    }
    Ok(())
}

impl From<String> for EditError {
    /// What the flags store refuses: the file on disk is not the one serving.
    fn from(message: String) -> Self {
        EditError::Conflict(message)
    }
}

fn to_toml(v: &Value) -> Option<toml_edit::Value> {
    Some(match v {
        Value::Bool(b) => (*b).into(),
        // A whole number is written as one (`native = 50`, as ops write it).
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).into(),
            (None, f) => f?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(to_toml(item)?);
            }
            array.into()
        }
        Value::Null | Value::Object(_) => return None,
    })
}

/// Writes `bytes` to a temp file beside `target`, syncs it and renames it over `target`,
/// so a reader sees the old file or the new one, never half. Where that cannot be done (a
/// directory banyan may not write, a file bind-mounted on its own) it writes the file in
/// place instead: the reload lock is held and the watcher waits for the writer to close.
fn write_file(target: &Path, bytes: &[u8]) -> Result<(), EditError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.banyan-{}.tmp", std::process::id()));
    let atomic = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = std::fs::metadata(target) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&temp, target)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    let Err(e) = atomic else { return Ok(()) };
    let _ = std::fs::remove_file(&temp);
    tracing::debug!(file = %target.display(), "cannot replace the flags file ({e}); writing it in place");
    let in_place = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(target)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    in_place.map_err(|e| {
        let message = format!("cannot write {}: {e}", target.display());
        if managed::is_refusal(&e) {
            EditError::Conflict(format!("{message}: flags are managed elsewhere; change them there"))
        } else {
            EditError::Failed(message)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_toml_values() {
        assert_eq!(to_toml(&serde_json::json!(25)).unwrap().to_string(), "25");
        assert_eq!(to_toml(&serde_json::json!(12.5)).unwrap().to_string(), "12.5");
        assert_eq!(to_toml(&serde_json::json!(50.0)).unwrap().to_string(), "50");
        assert_eq!(to_toml(&serde_json::json!(["GET", "POST"])).unwrap().to_string(), r#"["GET", "POST"]"#);
        assert!(to_toml(&serde_json::json!({"a": 1})).is_none());
    }
}
