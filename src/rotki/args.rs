//! Reading request arguments the way rotki's webargs/marshmallow schemas do
//! (`wire.md` §7): where the arguments come from, marshmallow's boolean parsing, and the
//! per-field error dict that becomes a 400.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::native::NativeRequest;

/// Per-field error messages, in the order marshmallow reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Messages)>);

/// A field's messages, or, for a list field, its items' messages by index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Messages {
    Field(Vec<String>),
    Items(Vec<(usize, Vec<String>)>),
}

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, Messages::Field(msgs))) => msgs.push(message.into()),
            Some((_, items)) => *items = Messages::Field(vec![message.into()]),
            None => self.0.push((field, Messages::Field(vec![message.into()]))),
        }
    }

    /// An error of one item of a list field, as marshmallow's `List` reports it.
    pub fn add_item(&mut self, field: &str, index: usize, message: impl Into<String>) {
        let entry = match self.0.iter_mut().position(|(f, _)| f == field) {
            Some(i) => &mut self.0[i].1,
            None => {
                self.0.push((field.to_string(), Messages::Items(Vec::new())));
                &mut self.0.last_mut().expect("just pushed").1
            }
        };
        if let Messages::Items(items) = entry {
            match items.iter_mut().find(|(i, _)| *i == index) {
                Some((_, msgs)) => msgs.push(message.into()),
                None => items.push((index, vec![message.into()])),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn single(field: &str, message: &str) -> FieldErrors {
        let mut e = FieldErrors::default();
        e.add(field, message);
        e
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (field, msgs) in &self.0 {
            match msgs {
                Messages::Field(list) => map.serialize_entry(field, list)?,
                Messages::Items(items) => map.serialize_entry(field, &Items(items))?,
            }
        }
        map.end()
    }
}

/// Item errors keyed by index (Python's int keys become strings in JSON).
struct Items<'a>(&'a [(usize, Vec<String>)]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (index, msgs) in self.0 {
            map.serialize_entry(&index.to_string(), msgs)?;
        }
        map.end()
    }
}

/// Arguments from the `json_and_query` location: the JSON body when the request has a
/// JSON content type and a non-empty body, otherwise the query string; never both.
pub enum Args<'r> {
    Json(&'r Map<String, Value>),
    Query(Vec<(Cow<'r, str>, Cow<'r, str>)>),
}

/// A JSON body that is not an object is marshmallow's schema-level error.
pub fn json_and_query(req: &NativeRequest) -> Result<Args<'_>, FieldErrors> {
    match &req.json {
        Some(Value::Object(map)) => Ok(Args::Json(map)),
        Some(_) => Err(FieldErrors::single("_schema", "Invalid input type.")),
        None => Ok(Args::Query(form_urlencoded::parse(req.parts.uri.query().unwrap_or("").as_bytes()).collect())),
    }
}

impl Args<'_> {
    /// The argument names present, each once, in order of appearance.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        match self {
            Args::Json(map) => keys.extend(map.keys().map(String::as_str)),
            Args::Query(pairs) => {
                for (k, _) in pairs {
                    if !keys.contains(&k.as_ref()) {
                        keys.push(k);
                    }
                }
            }
        }
        keys
    }

    /// A boolean field: `Ok(None)` when absent, `Err` with marshmallow's message when the
    /// value is not a boolean. Repeated query keys take the first value, as Werkzeug does.
    pub fn boolean(&self, field: &str) -> Result<Option<bool>, &'static str> {
        let parsed = match self {
            Args::Json(map) => match map.get(field) {
                None => return Ok(None),
                // The field has a default, so marshmallow does not allow None.
                Some(Value::Null) => return Err("Field may not be null."),
                Some(v) => bool_from_json(v),
            },
            Args::Query(pairs) => match pairs.iter().find(|(k, _)| k == field) {
                None => return Ok(None),
                Some((_, v)) => bool_from_str(v),
            },
        };
        parsed.map(Some).ok_or("Not a valid boolean.")
    }
}

const TRUTHY: [&str; 15] =
    ["t", "T", "true", "True", "TRUE", "on", "On", "ON", "y", "Y", "yes", "Yes", "YES", "1", "1"];
const FALSY: [&str; 15] =
    ["f", "F", "false", "False", "FALSE", "off", "Off", "OFF", "n", "N", "no", "No", "NO", "0", "0"];

/// marshmallow's `Boolean` on a string.
pub fn bool_from_str(s: &str) -> Option<bool> {
    if TRUTHY.contains(&s) {
        Some(true)
    } else if FALSY.contains(&s) {
        Some(false)
    } else {
        None
    }
}

/// marshmallow's `Boolean` on a JSON value: Python's set lookup makes `1`, `1.0` and
/// `true` equal, so numbers equal to 1 or 0 count too.
pub fn bool_from_json(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => bool_from_str(s),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marshmallow_booleans() {
        for s in ["true", "True", "TRUE", "t", "y", "yes", "on", "1"] {
            assert_eq!(bool_from_str(s), Some(true), "{s}");
        }
        for s in ["false", "F", "no", "off", "0", "N"] {
            assert_eq!(bool_from_str(s), Some(false), "{s}");
        }
        for s in ["", "tRue", "2", "yes "] {
            assert_eq!(bool_from_str(s), None, "{s}");
        }
        assert_eq!(bool_from_json(&json!(1.0)), Some(true));
        assert_eq!(bool_from_json(&json!(0)), Some(false));
        assert_eq!(bool_from_json(&json!(2)), None);
        assert_eq!(bool_from_json(&json!(null)), None);
        assert_eq!(bool_from_json(&json!([true])), None);
    }

    #[test]
    fn errors_serialize_in_insertion_order() {
        let mut e = FieldErrors::default();
        e.add("location", "x");
        e.add("limit", "y");
        e.add("location", "z");
        e.add_item("identifiers", 2, "Not a valid string.");
        e.add_item("identifiers", 0, "Field cannot be an empty string");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"location":["x","z"],"limit":["y"],"identifiers":{"2":["Not a valid string."],"0":["Field cannot be an empty string"]}}"#
        );
    }
}
