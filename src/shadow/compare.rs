//! How a shadowed request's two answers are compared (and a replayed one with its
//! recording): the status first, then the content type, then the body as JSON with object
//! key order ignored (bytes when either side is not JSON), leaving out
//! the pointers ops ignore and the ones learned as noise. The result is a readable list of
//! differences, one per JSON pointer, legacy's value beside native's.

use serde::Serialize;
use serde_json::Value;

/// One difference: where, and each side's value (`null` where a side has nothing there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub pointer: String,
    pub legacy: Value,
    pub native: Value,
}

/// Longest value a recorded difference keeps (as JSON text); longer ones are cut, so
/// the last 100 mismatches of a route stay small whatever the answers hold.
const PREVIEW: usize = 2048;

impl Difference {
    /// The difference as recorded: secrets out (a value under a secret field's name, as a
    /// recording leaves them out: an API key that differs is shown as differing, not
    /// shown), each value cut to `PREVIEW` bytes of JSON text.
    pub fn preview(self) -> Difference {
        use crate::record::redact;
        let secret = self.pointer.split('/').any(redact::secret_field);
        let cut = |v: Value| -> Value {
            if secret && !v.is_null() {
                return redact::REDACTED.into();
            }
            let mut text = v.to_string();
            let v = match redact::json_body(text.as_bytes()) {
                Some(redacted) => {
                    text = String::from_utf8_lossy(&redacted).into_owned();
                    serde_json::from_str(&text).unwrap_or(Value::Null)
                }
                None => v,
            };
            if text.len() <= PREVIEW {
                return v;
            }
            let end = (0..=PREVIEW).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            format!("{}… ({} bytes in all)", &text[..end], text.len()).into()
        };
        Difference { pointer: self.pointer, legacy: cut(self.legacy), native: cut(self.native) }
    }
}

/// One answer as compared: its status, content type and body.
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// Differences beyond this many are not listed (the answer is a mismatch either way).
const MAX_DIFFERENCES: usize = 50;

/// Pointers to leave out: a pointer covers its whole subtree, and a `*` segment matches
/// any key or index (`/result/*/timestamp`).
#[derive(Debug, Default, Clone)]
pub struct Ignored {
    patterns: Vec<Vec<String>>,
}

impl Ignored {
    pub fn new<'a>(pointers: impl IntoIterator<Item = &'a str>) -> Ignored {
        Ignored { patterns: pointers.into_iter().map(segments).collect() }
    }

    pub fn add(&mut self, pointer: &str) {
        let s = segments(pointer);
        if !self.patterns.contains(&s) {
            self.patterns.push(s);
        }
    }

    fn covers(&self, path: &[String]) -> bool {
        self.patterns
            .iter()
            .any(|p| p.len() <= path.len() && p.iter().zip(path).all(|(want, got)| want == "*" || want == got))
    }
}

/// A JSON pointer's unescaped segments (`/a~1b/c` → `["a/b", "c"]`).
fn segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// The JSON pointer of a path of keys and indices (`["a/b", "c"]` → `/a~1b/c`).
pub fn pointer(path: &[String]) -> String {
    path.iter().map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1"))).collect()
}

/// The differences between legacy's and native's answers that `ignored` does not cover
/// (empty: they match).
pub fn compare(legacy: &Answer<'_>, native: &Answer<'_>, ignored: &Ignored) -> Vec<Difference> {
    let mut out = Vec::new();
    if legacy.status != native.status {
        out.push(Difference { pointer: "(status)".into(), legacy: legacy.status.into(), native: native.status.into() });
    }
    if legacy.content_type != native.content_type {
        let text = |v: Option<&[u8]>| v.map_or(Value::Null, |v| String::from_utf8_lossy(v).into_owned().into());
        out.push(Difference {
            pointer: "(content-type)".into(),
            legacy: text(legacy.content_type),
            native: text(native.content_type),
        });
    }
    match (serde_json::from_slice::<Value>(legacy.body), serde_json::from_slice::<Value>(native.body)) {
        (Ok(l), Ok(n)) => walk(&l, &n, &mut Vec::new(), ignored, &mut out),
        _ if legacy.body == native.body => {}
        _ => out.push(Difference {
            pointer: "(body)".into(),
            legacy: String::from_utf8_lossy(legacy.body).into_owned().into(),
            native: String::from_utf8_lossy(native.body).into_owned().into(),
        }),
    }
    out
}

fn walk(l: &Value, n: &Value, path: &mut Vec<String>, ignored: &Ignored, out: &mut Vec<Difference>) {
    if out.len() >= MAX_DIFFERENCES || ignored.covers(path) {
        return;
    }
    match (l, n) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                path.push(k.clone());
                walk(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), path, ignored, out);
                // A key present on one side only, with null on the other, still differs.
                if out.len() < MAX_DIFFERENCES
                    && a.contains_key(k) != b.contains_key(k)
                    && a.get(k).unwrap_or(&Value::Null).is_null()
                    && b.get(k).unwrap_or(&Value::Null).is_null()
                    && !ignored.covers(path)
                {
                    out.push(Difference {
                        pointer: pointer(path),
                        legacy: if a.contains_key(k) { Value::Null } else { "(absent)".into() },
                        native: if b.contains_key(k) { Value::Null } else { "(absent)".into() },
                    });
                }
                path.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                path.push(i.to_string());
                walk(a.get(i).unwrap_or(&Value::Null), b.get(i).unwrap_or(&Value::Null), path, ignored, out);
                path.pop();
            }
        }
        _ if l == n => {}
        _ => out.push(Difference { pointer: pointer(path), legacy: l.clone(), native: n.clone() }),
    }
}

/// The pointers at which two answers of the same side differ: what is noise there.
pub fn noise(a: &[u8], b: &[u8]) -> Vec<String> {
    let none = Ignored::default();
    let answer = |body| Answer { status: 0, content_type: None, body };
    compare(&answer(a), &answer(b), &none).into_iter().map(|d| d.pointer).filter(|p| p.starts_with('/')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_difference_never_holds_a_secret() {
        let d = |pointer: &str, legacy: Value, native: Value| Difference { pointer: pointer.into(), legacy, native };
        let key = d("/result/etherscan/api_key", "k-legacy".into(), "k-native".into()).preview();
        assert_eq!((key.legacy, key.native), ("[redacted]".into(), "[redacted]".into()));
        let missing = d("/result/etherscan/api_key", Value::Null, "k-native".into()).preview();
        assert_eq!((missing.legacy, missing.native), (Value::Null, "[redacted]".into()));
        let inside = d("/result/etherscan", serde_json::json!({"api_key": "k", "n": 1}), Value::Null).preview();
        assert_eq!(inside.legacy, serde_json::json!({"api_key": "[redacted]", "n": 1}));
        let plain = d("/result/version", "1.43.2".into(), "9.9.9".into()).preview();
        assert_eq!((plain.legacy, plain.native), ("1.43.2".into(), "9.9.9".into()));
    }

    fn diff(l: &str, n: &str, ignored: &[&str]) -> Vec<(String, Value, Value)> {
        let ignored = Ignored::new(ignored.iter().copied());
        let json = Some(&b"application/json"[..]);
        let (l, n) = (l.as_bytes(), n.as_bytes());
        compare(
            &Answer { status: 200, content_type: json, body: l },
            &Answer { status: 200, content_type: json, body: n },
            &ignored,
        )
        .into_iter()
        .map(|d| (d.pointer, d.legacy, d.native))
        .collect()
    }

    #[test]
    fn key_order_does_not_matter_values_do() {
        assert!(diff(r#"{"a": 1, "b": [1, 2]}"#, r#"{"b":[1,2],"a":1}"#, &[]).is_empty());
        assert_eq!(
            diff(r#"{"result": {"v": "1.0", "x": [1, 2]}}"#, r#"{"result": {"v": "1.1", "x": [1]}}"#, &[]),
            [("/result/v".into(), "1.0".into(), "1.1".into()), ("/result/x/1".into(), 2.into(), Value::Null)]
        );
        // A key missing on one side shows as absent, even when the other side has null.
        assert_eq!(diff(r#"{"a": null}"#, r#"{}"#, &[]), [("/a".into(), Value::Null, "(absent)".into())]);
    }

    #[test]
    fn ignored_pointers_cover_their_subtree_and_wildcards() {
        let l = r#"{"result": {"dir": "/a", "rows": [{"t": 1, "v": 1}, {"t": 2, "v": 2}]}}"#;
        let n = r#"{"result": {"dir": "/b", "rows": [{"t": 9, "v": 1}, {"t": 8, "v": 2}]}}"#;
        assert_eq!(diff(l, n, &[]).len(), 3);
        assert!(diff(l, n, &["/result/dir", "/result/rows/*/t"]).is_empty());
        assert!(diff(l, n, &["/result"]).is_empty());
    }

    #[test]
    fn status_first_and_bytes_when_not_json() {
        let html = Some(&b"text/html"[..]);
        let d = compare(
            &Answer { status: 200, content_type: html, body: b"<html>" },
            &Answer { status: 500, content_type: html, body: b"<html>" },
            &Ignored::default(),
        );
        assert_eq!(d, [Difference { pointer: "(status)".into(), legacy: 200.into(), native: 500.into() }]);
        let plain = |body| Answer { status: 200, content_type: None, body };
        let d = compare(&plain(b"a"), &plain(b"b"), &Ignored::default());
        assert_eq!(d[0].pointer, "(body)");
        let d = compare(&plain(b"{}"), &Answer { content_type: html, ..plain(b"{}") }, &Ignored::default());
        assert_eq!(
            d,
            [Difference { pointer: "(content-type)".into(), legacy: Value::Null, native: "text/html".into() }]
        );
    }

    #[test]
    fn recorded_values_are_cut_short() {
        let big = "x".repeat(10_000);
        let d = Difference { pointer: "/a".into(), legacy: big.clone().into(), native: 1.into() }.preview();
        let kept = d.legacy.as_str().unwrap();
        assert!(kept.len() < 2100 && kept.ends_with("(10002 bytes in all)"), "{}", &kept[kept.len() - 40..]);
        assert_eq!(d.native, 1);
    }

    #[test]
    fn noise_is_where_two_legacy_answers_differ() {
        assert_eq!(noise(br#"{"t": 1, "v": 2, "k~/": 3}"#, br#"{"t": 5, "v": 2, "k~/": 4}"#), ["/k~0~1", "/t"]);
    }
}
