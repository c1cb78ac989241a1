//! Python's `str()` of a JSON-decoded value, for rotki messages that echo a bad input
//! back (`from non string value: ['kraken']`): ints, floats in Python's repr, `True`,
//! `None`, lists and dicts with single-quoted strings.

use serde_json::Value;

pub fn str_of(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => quoted(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quoted(k, out);
                out.push_str(": ");
                write(item, out);
            }
            out.push('}');
        }
    }
}

/// `repr(float)`: the shortest round-trip digits, scientific below 1e-4 and from 1e16 on.
fn float(f: f64) -> String {
    if f == 0.0 || (1e-4..1e16).contains(&f.abs()) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Rust writes `1e20` / `1.5e-5`; Python `1e+20` / `1.5e-05`.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

/// `repr(str)`: single quotes unless the text has one and no double quote.
fn quoted(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_python_str_writes() {
        for (v, want) in [
            (json!(5), "5"),
            (json!(1.5), "1.5"),
            (json!(100.0), "100.0"),
            (json!(1e20), "1e+20"),
            (json!(0.00001), "1e-05"),
            (json!(true), "True"),
            (json!(["kraken"]), "['kraken']"),
            (json!({"a": [1, null]}), "{'a': [1, None]}"),
            (json!(["it's"]), "[\"it's\"]"),
        ] {
            assert_eq!(str_of(&v), want, "{v}");
        }
    }
}
