//! A JSON body read field by field as rotki's marshmallow schemas read it: each reader
//! takes one field in the schema's declaration order and records marshmallow's message
//! when the value is wrong, so the errors come out in the order rotki reports them; what is
//! left at the end is an unknown field. What only Python reads the way rotki does (Unicode
//! digits in an integer) is not judged here: the request goes to legacy.

use serde_json::{Map, Value};

use super::args::{self, FieldErrors};
use super::pyrepr;

/// Why a body was not read.
#[derive(Debug)]
pub enum Refusal {
    /// marshmallow's errors: a 400.
    Invalid(FieldErrors),
    /// A shape only legacy answers exactly.
    Legacy,
}

impl From<FieldErrors> for Refusal {
    fn from(e: FieldErrors) -> Refusal {
        Refusal::Invalid(e)
    }
}

pub struct Fields<'a> {
    args: &'a Map<String, Value>,
    taken: Vec<&'static str>,
    pub errors: FieldErrors,
    /// A field asked for legacy's answer.
    legacy: bool,
}

const MISSING: &str = "Missing data for required field.";
const NULL: &str = "Field may not be null.";

impl<'a> Fields<'a> {
    /// The JSON body (`location='json'`): none or a non-JSON body reads as `{}`; a JSON
    /// value that is no object is the schema's own error.
    pub fn json(json: Option<&'a Value>) -> Result<Fields<'a>, Refusal> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        let args = match json {
            None => &*EMPTY,
            Some(Value::Object(map)) => map,
            Some(_) => return Err(FieldErrors::single("_schema", "Invalid input type.").into()),
        };
        Ok(Fields { args, taken: Vec::new(), errors: FieldErrors::default(), legacy: false })
    }

    /// The JSON body as rotki's own `resource_parser` loads it: a body that is not JSON is
    /// "missing", which the schema refuses like any non-object.
    pub fn resource_json(json: Option<&'a Value>) -> Result<Fields<'a>, Refusal> {
        match json {
            None => Err(FieldErrors::single("_schema", "Invalid input type.").into()),
            some => Fields::json(some),
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'a Value> {
        self.taken.push(name);
        self.args.get(name)
    }

    fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.add(name, message);
    }

    /// A field of marshmallow's plain `Field` (any value), for the caller to judge.
    pub fn any(&mut self, name: &'static str) -> Option<&'a Value> {
        self.take(name)
    }

    /// The caller met a value only legacy words exactly.
    pub fn for_legacy(&mut self) {
        self.legacy = true;
    }

    /// `fields.String` that may be absent or null (`load_default=None`).
    pub fn string(&mut self, name: &'static str) -> Option<String> {
        match self.take(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                self.fail(name, "Not a valid string.");
                None
            }
        }
    }

    /// rotki's `EmptyAsNoneStringField`: an empty string is no value.
    pub fn empty_as_none(&mut self, name: &'static str) -> Option<String> {
        self.string(name).filter(|s| !s.is_empty())
    }

    /// A required `fields.String` (optionally rotki's `NonEmptyStringField`).
    pub fn required_string(&mut self, name: &'static str, non_empty: bool) -> Option<String> {
        match self.take(name) {
            None => self.fail(name, MISSING),
            Some(Value::Null) => self.fail(name, NULL),
            Some(Value::String(s)) if non_empty && s.is_empty() => self.fail(name, "Field cannot be an empty string"),
            Some(Value::String(s)) => return Some(s.clone()),
            Some(_) => self.fail(name, "Not a valid string."),
        }
        None
    }

    /// `fields.Boolean(load_default=default)`: null is refused.
    pub fn boolean(&mut self, name: &'static str, default: bool) -> bool {
        match self.take(name) {
            None => default,
            Some(Value::Null) => {
                self.fail(name, NULL);
                default
            }
            Some(v) => args::bool_from_json(v).unwrap_or_else(|| {
                self.fail(name, "Not a valid boolean.");
                default
            }),
        }
    }

    /// `fields.Integer(load_default=None)`, as a decimal.
    pub fn integer(&mut self, name: &'static str) -> Option<String> {
        let value = self.take(name)?;
        if !exact_integer(value) {
            self.legacy = true;
            return None;
        }
        match integer(value) {
            Ok(n) => n,
            Err(()) => {
                self.fail(name, "Not a valid integer.");
                None
            }
        }
    }

    /// `fields.Integer(required=True)`.
    pub fn required_integer(&mut self, name: &'static str) -> Option<String> {
        match self.take(name) {
            None => self.fail(name, MISSING),
            Some(Value::Null) => self.fail(name, NULL),
            Some(v) if !exact_integer(v) => self.legacy = true,
            Some(v) => match integer(v) {
                Ok(n) => return n,
                Err(()) => self.fail(name, "Not a valid integer."),
            },
        }
        None
    }

    /// rotki's `SerializableEnumField` (and `EvmChainNameField`): `what` names the enum in
    /// its messages. `nullable` is `load_default=None`; otherwise null is refused and an
    /// absent field is `None` for the caller to default.
    pub fn enumeration<T>(
        &mut self,
        name: &'static str,
        what: &str,
        nullable: bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        match self.take(name)? {
            Value::Null if nullable => None,
            Value::Null => {
                self.fail(name, NULL);
                None
            }
            Value::String(s) => parse(s).or_else(|| {
                self.fail(name, format!("Failed to deserialize {what} value {s}"));
                None
            }),
            other => {
                self.fail(
                    name,
                    format!("Failed to deserialize {what} value from non string value: {}", pyrepr::str_of(other)),
                );
                None
            }
        }
    }

    /// rotki's `DelimitedOrNormalList` of strings: a list, or a string split at commas;
    /// never empty; anything else (an object too) is not a delimited list. A wrong item is
    /// reported under its index, as marshmallow's `List` does. `non_empty` items are `NonEmptyStringField`s; else
    /// `EmptyAsNoneStringField`s, whose empty strings are `None`.
    pub fn string_list(&mut self, name: &'static str, required: bool, non_empty: bool) -> Option<Vec<Option<String>>> {
        let items: Vec<Value> = match self.take(name) {
            None if required => {
                self.fail(name, MISSING);
                return None;
            }
            None => return None,
            Some(Value::Null) if required => {
                self.fail(name, NULL);
                return None;
            }
            Some(Value::Null) => return None,
            Some(Value::String(s)) if s.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            Some(Value::String(s)) => s.split(',').map(|p| Value::String(p.to_string())).collect(),
            Some(Value::Array(a)) if a.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(o)) if o.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            Some(_) => {
                self.fail(name, "Not a valid delimited list.");
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) if s.is_empty() && non_empty => {
                    self.errors.add_item(name, i, "Field cannot be an empty string")
                }
                Value::String(s) if s.is_empty() => out.push(None),
                Value::String(s) => out.push(Some(s)),
                Value::Null => self.errors.add_item(name, i, NULL),
                _ => self.errors.add_item(name, i, "Not a valid string."),
            }
        }
        Some(out)
    }

    /// A list of booleans the same way (`DBOrderBySchema.ascending`).
    pub fn bool_list(&mut self, name: &'static str) -> Option<Vec<bool>> {
        let items: Vec<Value> = match self.take(name)? {
            Value::Null => return None,
            Value::String(s) if s.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            Value::String(s) => s.split(',').map(|p| Value::String(p.to_string())).collect(),
            Value::Array(a) if a.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            Value::Array(a) => a.clone(),
            Value::Object(o) if o.is_empty() => {
                self.fail(name, "List cant be empty");
                return None;
            }
            _ => {
                self.fail(name, "Not a valid delimited list.");
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match (item, args::bool_from_json(item)) {
                (_, Some(b)) => out.push(b),
                (Value::Null, None) => self.errors.add_item(name, i, NULL),
                (_, None) => self.errors.add_item(name, i, "Not a valid boolean."),
            }
        }
        Some(out)
    }

    /// The fields left over are unknown; the errors so far, if any, refuse the body.
    pub fn finish(mut self) -> Result<(), Refusal> {
        if self.legacy {
            return Err(Refusal::Legacy);
        }
        let unknown: Vec<String> = self.args.keys().filter(|k| !self.taken.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            self.errors.add(key, "Unknown field.");
        }
        match self.errors.is_empty() {
            true => Ok(()),
            false => Err(Refusal::Invalid(self.errors)),
        }
    }
}

/// Whether banyan reads this value as Python's `int()` would. It does not for a string with
/// Unicode digits (Python reads any decimal digit), nor for a number past 2^63 that serde
/// holds as a float: Python holds an integer literal exactly, and SQLite then refuses
/// it where banyan's rounding would have fitted.
fn exact_integer(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_ascii(),
        Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.abs() < 9.2e18),
        _ => true,
    }
}

/// marshmallow's non-strict Integer: Python's `int()` of a number or a numeric string, as
/// a decimal; null is no value; booleans and anything else fail.
fn integer(v: &Value) -> Result<Option<String>, ()> {
    // Python has no negative zero among ints: `int(-0.5)` is `0`.
    let zero = |n: String| if n == "-0" { "0".to_string() } else { n };
    integer_text(v).map(|n| n.map(zero))
}

fn integer_text(v: &Value) -> Result<Option<String>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(Some(i.to_string())),
            (_, Some(u), _) => Ok(Some(u.to_string())),
            (_, _, Some(f)) if f.is_finite() => Ok(Some(format!("{:.0}", f.trunc()))),
            _ => Err(()),
        },
        Value::String(s) => python_int(s).map(Some).ok_or(()),
        _ => Err(()),
    }
}

/// `int(s)` for a string: surrounding whitespace, a sign, ASCII digits with single
/// underscores between them. (Python also takes non-ASCII decimal digits; those are
/// refused here.)
fn python_int(s: &str) -> Option<String> {
    let t = s.trim();
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let ok = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !ok {
        return None;
    }
    let plain: String = digits.chars().filter(|c| *c != '_').collect();
    let plain = plain.trim_start_matches('0');
    Some(match (plain.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{plain}"),
        (false, false) => plain.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_parse_like_marshmallow() {
        assert_eq!(integer(&json!(3)), Ok(Some("3".into())));
        assert_eq!(integer(&json!(3.9)), Ok(Some("3".into())));
        assert_eq!(integer(&json!(-3.9)), Ok(Some("-3".into())));
        assert_eq!(integer(&json!(" +0_7 ")), Ok(Some("7".into())));
        assert_eq!(integer(&json!("-0")), Ok(Some("0".into())));
        assert_eq!(integer(&json!(-0.5)), Ok(Some("0".into())));
        assert_eq!(integer(&json!(null)), Ok(None));
        for bad in [json!(true), json!("3.5"), json!("abc"), json!("1__0"), json!([1])] {
            assert_eq!(integer(&bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn errors_in_field_order_then_unknown() {
        let body = json!({"zeta": 1, "b": 5, "a": "x", "c": null});
        let mut f = Fields::json(Some(&body)).unwrap();
        assert_eq!(f.integer("a"), None);
        assert_eq!(f.string("b"), None);
        assert!(!f.boolean("c", false));
        let Err(Refusal::Invalid(e)) = f.finish() else { panic!() };
        assert_eq!(
            String::from_utf8(crate::rotki::json::dumps(&e)).unwrap(),
            r#"{"a": ["Not a valid integer."], "b": ["Not a valid string."], "c": ["Field may not be null."], "zeta": ["Unknown field."]}"#
        );
    }

    #[test]
    fn lists_split_or_go_to_legacy() {
        let body = json!({"l": "a,b", "e": "", "d": {"a": 1}, "n": 5, "o": {}});
        let mut f = Fields::json(Some(&body)).unwrap();
        assert_eq!(f.string_list("l", false, true), Some(vec![Some("a".into()), Some("b".into())]));
        assert_eq!(f.string_list("e", false, true), None);
        assert_eq!(f.string_list("n", false, true), None);
        assert_eq!(f.string_list("d", false, true), None);
        assert_eq!(f.string_list("o", false, true), None);
        let Err(Refusal::Invalid(e)) = f.finish() else { panic!() };
        assert_eq!(
            String::from_utf8(crate::rotki::json::dumps(&e)).unwrap(),
            r#"{"e": ["List cant be empty"], "n": ["Not a valid delimited list."], "d": ["Not a valid delimited list."], "o": ["List cant be empty"]}"#
        );
        let body = json!({"l": ["a", "", 5, null], "b": "true,x"});
        let mut f = Fields::json(Some(&body)).unwrap();
        assert!(f.string_list("l", false, true).is_some());
        assert!(f.bool_list("b").is_some());
        let Err(Refusal::Invalid(e)) = f.finish() else { panic!() };
        assert_eq!(
            String::from_utf8(crate::rotki::json::dumps(&e)).unwrap(),
            r#"{"l": {"1": ["Field cannot be an empty string"], "2": ["Not a valid string."], "3": ["Field may not be null."]}, "b": {"1": ["Not a valid boolean."]}}"#
        );
    }
}
