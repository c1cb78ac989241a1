//! The `route` label of every request's statistics and metrics: the flags route's name,
//! else the rotki inventory rule the request matches (`/api/1/tasks/<int:task_id>`), else
//! `unmatched`; or, for what the front door serves besides rotki-core, `static` and each
//! upstream's name (`colibri`). Never a raw path, so the number of series stays bounded whatever clients
//! send: flags names and inventory rules are interned once and live for the process.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};

use http::Method;

use crate::inventory;
use crate::routes::{MethodSet, RouteTable};

/// An interned route label. Copy-cheap, so the hot path carries it instead of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(u32);

/// Where a label comes from, for the dashboard's grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Flags,
    Inventory,
    Unmatched,
    /// The web app's files and the `[upstreams.*]`.
    Front,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Flags => "flags",
            Kind::Inventory => "inventory",
            Kind::Unmatched => "unmatched",
            Kind::Front => "front",
        }
    }
}

/// Flags names beyond this many distinct ones (a file renamed in a loop) share one label.
const MAX_FLAGS_NAMES: usize = 4096;
/// Room for every label: the flags names, rotki's inventory, `unmatched` and the overflow.
const CAPACITY: usize = MAX_FLAGS_NAMES + 1024;

/// Interning takes a lock (once per route per flags generation); reading a label's name
/// (every access-log line, every scrape) does not.
struct Interner {
    ids: HashMap<(Kind, &'static str), u32>,
    len: usize,
    flags_names: usize,
}

/// A label's kind and name, set once when it is interned.
type Name = OnceLock<(Kind, &'static str)>;

static NAMES: LazyLock<Box<[Name]>> = LazyLock::new(|| (0..CAPACITY).map(|_| OnceLock::new()).collect());

static INTERNER: LazyLock<RwLock<Interner>> = LazyLock::new(|| {
    let mut i = Interner { ids: HashMap::new(), len: 0, flags_names: 0 };
    i.intern(Kind::Unmatched, "unmatched");
    // Not a valid route name, so it never collides with one.
    i.intern(Kind::Flags, "(other)");
    RwLock::new(i)
});

pub const UNMATCHED: Label = Label(0);
const OVERFLOW: Label = Label(1);

impl Interner {
    fn intern(&mut self, kind: Kind, name: &str) -> Label {
        if let Some(&id) = self.ids.get(&(kind, name)) {
            return Label(id);
        }
        if kind == Kind::Flags {
            if self.flags_names >= MAX_FLAGS_NAMES {
                return OVERFLOW;
            }
            self.flags_names += 1;
        }
        if self.len >= CAPACITY {
            return OVERFLOW;
        }
        // Leaked on purpose: bounded (the inventory, and MAX_FLAGS_NAMES), and read on
        // every scrape without copying.
        let name: &'static str = Box::leak(name.into());
        let id = self.len;
        let _ = NAMES[id].set((kind, name));
        self.len += 1;
        self.ids.insert((kind, name), id as u32);
        Label(id as u32)
    }
}

fn interner() -> std::sync::RwLockReadGuard<'static, Interner> {
    INTERNER.read().unwrap_or_else(|p| p.into_inner())
}

/// The label of a flags route (done once per route per flags generation).
pub fn flags_route(name: &str) -> Label {
    if let Some(&id) = interner().ids.get(&(Kind::Flags, name)) {
        return Label(id);
    }
    INTERNER.write().unwrap_or_else(|p| p.into_inner()).intern(Kind::Flags, name)
}

/// The label of the web app's files (`static`) or of an upstream (its name), interned once
/// at start.
pub fn front(name: &str) -> Label {
    INTERNER.write().unwrap_or_else(|p| p.into_inner()).intern(Kind::Front, name)
}

/// The label with this name, if it was ever interned (a flags name before an inventory
/// rule of the same text).
pub fn known(name: &str) -> Option<Label> {
    let i = interner();
    [Kind::Flags, Kind::Inventory, Kind::Unmatched, Kind::Front]
        .iter()
        .find_map(|k| i.ids.get(&(*k, name)).map(|&id| Label(id)))
}

impl Label {
    pub(super) fn index(self) -> usize {
        self.0 as usize
    }

    pub(super) fn from_index(index: usize) -> Label {
        Label(index as u32)
    }

    pub fn name(self) -> &'static str {
        NAMES.get(self.0 as usize).and_then(OnceLock::get).map_or("unmatched", |(_, n)| n)
    }

    pub fn kind(self) -> Kind {
        NAMES.get(self.0 as usize).and_then(OnceLock::get).map_or(Kind::Unmatched, |(k, _)| *k)
    }
}

/// rotki's inventory as a route table whose values are labels.
struct Inventory {
    table: RouteTable,
    labels: Vec<Label>,
    rules: Vec<inventory::Rule>,
}

static INVENTORY: LazyLock<Inventory> = LazyLock::new(|| {
    let rules = inventory::parse(inventory::ROTKI_ROUTES);
    let mut interner = INTERNER.write().unwrap_or_else(|p| p.into_inner());
    let labels = rules.iter().map(|r| interner.intern(Kind::Inventory, &r.rule)).collect();
    drop(interner);
    let entries = rules.iter().enumerate().map(|(i, r)| {
        let methods = r.methods.iter().filter_map(|m| MethodSet::parse(m)).fold(MethodSet::default(), MethodSet::union);
        (i, r.path.as_str(), methods)
    });
    // The inventory is a fixed, tested file (`inventory.rs`): it always builds.
    let table = RouteTable::build(entries).unwrap_or_default();
    Inventory { table, labels, rules }
});

/// The label of a request no flags route matched.
pub fn unrouted(method: &Method, path: &str) -> Label {
    let inv = &*INVENTORY;
    inv.table.lookup(path, method).map_or(UNMATCHED, |i| inv.labels[i])
}

/// rotki's whole inventory, for the migration progress.
pub fn inventory_rules() -> &'static [inventory::Rule] {
    &INVENTORY.rules
}

/// The inventory rule serving `method` on `path`, if any.
pub fn inventory_rule(method: &Method, path: &str) -> Option<&'static inventory::Rule> {
    INVENTORY.table.lookup(path, method).map(|i| &INVENTORY.rules[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_get_bounded_labels() {
        let task = unrouted(&Method::GET, "/api/1/tasks/42");
        assert_eq!(task.name(), "/api/1/tasks/<int:task_id>");
        assert_eq!(task.kind(), Kind::Inventory);
        assert_eq!(unrouted(&Method::GET, "/api/1/tasks/43"), task);
        assert_eq!(unrouted(&Method::GET, "/no/such/path/9f8e"), UNMATCHED);
        assert_eq!(UNMATCHED.name(), "unmatched");
        let ping = flags_route("ping");
        assert_eq!((ping.name(), ping.kind()), ("ping", Kind::Flags));
        assert_eq!(flags_route("ping"), ping);
        // A flags route named like an inventory rule is still its own label.
        assert_ne!(flags_route("/api/1/tasks/<int:task_id>"), task);
    }
}
