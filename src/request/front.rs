//! Which paths are not rotki-core's when banyan is the front door: an upstream's prefix
//! (`/colibri/`), then, with `[static]`, every path outside `/api/` and `/ws/` (the web
//! app's files). Paths are matched with repeated slashes merged, as nginx matches its
//! locations.

use std::sync::Arc;

use crate::config::{Config, ROTKI_PREFIXES};
use crate::stats::{labels, Label};

/// The front door's share of the URL space, copied from the config once at start.
#[derive(Debug, Clone, Default)]
pub struct Front {
    /// `[static]` is on: the label its requests count under.
    webapp: Option<Label>,
    /// Each `[upstreams.NAME]`'s prefix and label, in the file's order.
    upstreams: Arc<[(String, Label)]>,
}

/// Who answers a path of the front door's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    WebApp,
    /// The upstream at this index of the config's list.
    Upstream(usize),
    /// An upstream's prefix without its last slash (`/colibri`): sent there with a 301, as
    /// nginx answers for a `location /colibri/` that proxies.
    Slash,
}

impl Front {
    pub fn new(config: &Config) -> Front {
        Front {
            webapp: config.webapp.as_ref().map(|_| labels::front("static")),
            upstreams: config.upstreams.iter().map(|u| (u.prefix.clone(), labels::front(&u.name))).collect(),
        }
    }

    /// Who answers `path`, and under which label; `None`: rotki-core, as the flags say.
    /// A websocket handshake is never the web app's (rotki answers one on any path).
    pub fn owner(&self, path: &str, upgrade: bool) -> Option<(Owner, Label)> {
        if self.webapp.is_none() && self.upstreams.is_empty() {
            return None;
        }
        let merged;
        let path = match path.contains("//") {
            true => {
                merged = super::merge_slashes(path);
                merged.as_str()
            }
            false => path,
        };
        for (i, (prefix, label)) in self.upstreams.iter().enumerate() {
            if path.starts_with(prefix.as_str()) {
                return Some((Owner::Upstream(i), *label));
            }
            if prefix.strip_suffix('/') == Some(path) {
                return Some((Owner::Slash, *label));
            }
        }
        let rotkis = ROTKI_PREFIXES.iter().any(|p| path.starts_with(p));
        self.webapp.filter(|_| !rotkis && !upgrade).map(|label| (Owner::WebApp, label))
    }
}

/// `path` with an upstream's `prefix` taken off, its slash kept (`/colibri/x` → `/x`), as
/// nginx's `proxy_pass http://host/;` in a `location /colibri/` sends it.
pub fn strip_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some(_) => &path[prefix.len() - 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_door_takes_what_is_not_rotkis() {
        let front = Front {
            webapp: Some(labels::front("static")),
            upstreams: Arc::new([("/colibri/".to_string(), labels::front("colibri"))]),
        };
        let owner = |p: &str| front.owner(p, false).map(|(o, l)| (o, l.name()));
        assert_eq!(owner("/colibri/assets/icon"), Some((Owner::Upstream(0), "colibri")));
        assert_eq!(owner("//colibri//x"), Some((Owner::Upstream(0), "colibri")));
        assert_eq!(owner("/"), Some((Owner::WebApp, "static")));
        assert_eq!(owner("/dashboard"), Some((Owner::WebApp, "static")));
        assert_eq!(owner("/colibri"), Some((Owner::Slash, "colibri")));
        // nginx's `location /` takes these too.
        assert_eq!(owner("/colibrix"), Some((Owner::WebApp, "static")));
        assert_eq!(owner("/ws"), Some((Owner::WebApp, "static")));
        assert_eq!(owner("/api/1/ping"), None);
        assert_eq!(owner("//api/1/ping"), None);
        assert_eq!(owner("/ws/"), None);
        assert_eq!(front.owner("/anything", true), None);
        assert_eq!(Front::default().owner("/", false), None);
        assert_eq!(strip_prefix("/colibri/assets/icon", "/colibri/"), "/assets/icon");
        assert_eq!(strip_prefix("/colibri/", "/colibri/"), "/");
    }
}
