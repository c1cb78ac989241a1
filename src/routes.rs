//! The compiled route table: request path and method to the index of a flags route.
//! Built once per flags generation on `matchit`'s radix tree, where static segments win
//! over parameters as they do in Flask. Anything it does not match goes to legacy.

use std::borrow::Cow;

use http::Method;
use indexmap::IndexMap;

/// The methods a route claims, as a bit set so a lookup is one AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u16);

/// Methods a route may name. TRACE and CONNECT are never routed natively.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl MethodSet {
    pub const ALL: MethodSet = MethodSet(u16::MAX);

    fn bit(method: &Method) -> u16 {
        match *method {
            Method::GET => 1,
            Method::HEAD => 1 << 1,
            Method::POST => 1 << 2,
            Method::PUT => 1 << 3,
            Method::PATCH => 1 << 4,
            Method::DELETE => 1 << 5,
            Method::OPTIONS => 1 << 6,
            Method::TRACE => 1 << 7,
            Method::CONNECT => 1 << 8,
            _ => 1 << 15,
        }
    }

    /// Parses one of [`METHODS`]; GET brings HEAD along, as Flask answers HEAD on every GET rule.
    pub fn parse(name: &str) -> Option<MethodSet> {
        if !METHODS.contains(&name) {
            return None;
        }
        let m: Method = name.parse().ok()?;
        let mut bits = Self::bit(&m);
        if m == Method::GET {
            bits |= Self::bit(&Method::HEAD);
        }
        Some(MethodSet(bits))
    }

    pub fn from_methods<'a>(methods: impl IntoIterator<Item = &'a Method>) -> MethodSet {
        let mut set = MethodSet(0);
        for m in methods {
            set.0 |= Self::bit(m);
            if *m == Method::GET {
                set.0 |= Self::bit(&Method::HEAD);
            }
        }
        set
    }

    pub fn union(self, other: MethodSet) -> MethodSet {
        MethodSet(self.0 | other.0)
    }

    pub fn contains(self, method: &Method) -> bool {
        self.0 & Self::bit(method) != 0
    }

    pub fn overlaps(self, other: MethodSet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_subset_of(self, other: MethodSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The names in this set, in [`METHODS`] order.
    pub fn names(self) -> Vec<&'static str> {
        if self == Self::ALL {
            return vec!["*"];
        }
        METHODS.iter().copied().filter(|n| self.contains(&n.parse().expect("known method"))).collect()
    }
}

/// A route path written for humans (`/api/1/tasks/{task_id}`), in the form that decides
/// whether two routes claim the same path: parameter names replaced by their segment index.
pub fn normalize_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut segment = 0;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' => {
                segment += 1;
                out.push('/');
            }
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push_str("{{");
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push_str("}}");
            }
            '{' => {
                let catch_all = chars.peek() == Some(&'*');
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                if catch_all {
                    out.push_str("{*rest}");
                } else {
                    out.push_str(&format!("{{p{segment}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Why a table could not be built: which route (by index) and what matchit said.
#[derive(Debug)]
pub struct TableError {
    pub route: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    router: matchit::Router<Vec<(MethodSet, usize)>>,
}

impl RouteTable {
    /// Builds the table from `(route index, pattern, methods)`, in route order (a route may
    /// come more than once, under several patterns). Routes with the same normalized
    /// pattern share one entry; overlapping methods there are the caller's to reject before
    /// this.
    pub fn build<'a>(routes: impl IntoIterator<Item = (usize, &'a str, MethodSet)>) -> Result<RouteTable, TableError> {
        let mut by_pattern: IndexMap<String, Vec<(MethodSet, usize)>> = IndexMap::new();
        for (i, path, methods) in routes {
            by_pattern.entry(normalize_pattern(path)).or_default().push((methods, i));
        }
        let mut router = matchit::Router::new();
        for (pattern, entries) in by_pattern {
            let first = entries[0].1;
            router.insert(pattern, entries).map_err(|e| TableError { route: first, message: e.to_string() })?;
        }
        Ok(RouteTable { router })
    }

    /// The route serving `method` on `path`. Percent-encoded paths are decoded first, as
    /// Werkzeug does before matching, so both worlds see the same route.
    pub fn lookup(&self, path: &str, method: &Method) -> Option<usize> {
        let path: Cow<'_, str> = if path.contains('%') {
            percent_encoding::percent_decode_str(path).decode_utf8().ok()?
        } else {
            Cow::Borrowed(path)
        };
        let matched = self.router.at(&path).ok()?;
        matched.value.iter().find(|(methods, _)| methods.contains(method)).map(|(_, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> MethodSet {
        MethodSet::parse("GET").unwrap()
    }

    #[test]
    fn static_segments_win_over_parameters() {
        let t = RouteTable::build([(0, "/api/1/tasks/{id}", get()), (1, "/api/1/tasks/trigger", get())]).unwrap();
        assert_eq!(t.lookup("/api/1/tasks/trigger", &Method::GET), Some(1));
        assert_eq!(t.lookup("/api/1/tasks/7", &Method::GET), Some(0));
        assert_eq!(t.lookup("/api/1/tasks/7/x", &Method::GET), None);
    }

    #[test]
    fn methods_split_a_path_between_routes_and_get_brings_head() {
        let post = MethodSet::parse("POST").unwrap();
        let t = RouteTable::build([(0, "/a", get()), (1, "/a", post)]).unwrap();
        assert_eq!(t.lookup("/a", &Method::HEAD), Some(0));
        assert_eq!(t.lookup("/a", &Method::POST), Some(1));
        assert_eq!(t.lookup("/a", &Method::DELETE), None);
    }

    #[test]
    fn percent_encoded_paths_match_like_werkzeug() {
        let t = RouteTable::build([(0, "/api/1/assets/types", get())]).unwrap();
        assert_eq!(t.lookup("/api/1/assets/%74ypes", &Method::GET), Some(0));
        assert_eq!(t.lookup("/api/1/assets/%ff", &Method::GET), None);
    }

    #[test]
    fn catch_all_and_trailing_slash() {
        let t = RouteTable::build([(0, "/static/{*rest}", MethodSet::ALL), (1, "/api/1/ping", get())]).unwrap();
        assert_eq!(t.lookup("/static/a/b.js", &Method::GET), Some(0));
        assert_eq!(t.lookup("/api/1/ping/", &Method::GET), None);
    }

    #[test]
    fn normalized_patterns_ignore_parameter_names() {
        assert_eq!(normalize_pattern("/a/{x}/b"), normalize_pattern("/a/{y}/b"));
        assert_ne!(normalize_pattern("/a/{x}/b"), normalize_pattern("/a/{x}/c"));
        assert_eq!(normalize_pattern("/m/v{version}/x"), "/m/v{p2}/x");
    }
}
