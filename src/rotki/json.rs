//! Python's `json.dumps` on serde: rotki's bodies use the default separators `", "` and
//! `": "` with `ensure_ascii` on, while Flask's `jsonify` (the 400 bodies) is compact.
//! Both escape every non-ASCII character, and DEL, as lower-case `\uXXXX`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

#[derive(Clone, Copy)]
struct PyFormatter {
    compact: bool,
}

impl PyFormatter {
    fn comma(&self) -> &'static [u8] {
        if self.compact {
            b","
        } else {
            b", "
        }
    }
}

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(self.comma())
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(self.comma())
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.compact { b":" } else { b": " })
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '\x7f' {
                continue;
            }
            w.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&bytes[start..])
    }
}

fn write<T: Serialize + ?Sized>(value: &T, compact: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter { compact });
    // Serializing plain data into a Vec cannot fail; a map with non-string keys would be a
    // programming error caught by the tests of each payload.
    value.serialize(&mut ser).expect("JSON payloads serialize");
    out
}

/// `json.dumps(value)`: rotki's normal response bodies and websocket messages.
pub fn dumps<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    write(value, false)
}

/// The compact form Flask's `jsonify` writes (callers order keys and add the newline).
pub fn dumps_compact<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    write(value, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_separators_and_ensure_ascii() {
        let v = json!(["user \u{fc}", {"a": 1}, "\u{1f600}", "tab\t\"q\"\\", "\x7f", "\u{1}"]);
        assert_eq!(
            String::from_utf8(dumps(&v)).unwrap(),
            r#"["user \u00fc", {"a": 1}, "\ud83d\ude00", "tab\t\"q\"\\", "\u007f", "\u0001"]"#
        );
    }

    #[test]
    fn compact_form() {
        assert_eq!(dumps_compact(&json!({"a": [1, "\u{e9}"]})), br#"{"a":[1,"\u00e9"]}"#);
    }
}
