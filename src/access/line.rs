//! One access-log line, formatted by hand into the worker's buffer: the same fields and
//! layout as the diagnostic log's lines (`tracing-subscriber`'s text and JSON), at a small
//! part of their cost, since every request writes one.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Entry;

/// How lines are written: as the text log or the JSON log writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// The current second's `2026-12-02T08:00:00`, kept per worker: a line formats only its
/// microseconds.
#[derive(Default)]
pub struct Clock {
    second: u64,
    stamp: String,
}

impl Clock {
    /// Appends now as `2026-12-02T08:00:00.123456Z`.
    fn write_now(&mut self, out: &mut Vec<u8>) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        if now.as_secs() != self.second || self.stamp.is_empty() {
            self.second = now.as_secs();
            // `2026-12-02T08:00:00Z` without its `Z`.
            self.stamp = crate::audit::rfc3339(self.second).trim_end_matches('Z').to_string();
        }
        out.extend_from_slice(self.stamp.as_bytes());
        out.push(b'.');
        let micros = now.subsec_micros();
        let mut digits = [b'0'; 6];
        let mut n = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
    }
}

/// A field's value, written the same way in both formats.
enum Value<'a> {
    Str(&'a str),
    Int(u16),
    Millis(u128),
}

/// The fields of `e`, in the order both formats write them.
fn fields<'a>(e: &Entry<'a>) -> [(&'static str, Value<'a>); 7] {
    [
        ("request_id", Value::Str(e.id.as_str())),
        ("method", Value::Str(e.method.as_str())),
        ("path", Value::Str(e.path)),
        ("route", Value::Str(e.label.name())),
        ("backend", Value::Str(e.backend.as_str())),
        ("status", Value::Int(e.status)),
        ("latency_ms", Value::Millis(e.latency.as_micros())),
    ]
}

/// Appends `e` as one line (with its newline): `<stamp>  INFO access name=value ...` or
/// `{"timestamp":..,"level":"INFO","fields":{"message":"access",..},"target":"banyan::access"}`.
pub fn write(format: Format, clock: &mut Clock, e: &Entry<'_>, out: &mut Vec<u8>) {
    let (head, between, after_name, tail): (&[u8], &[u8], &[u8], &[u8]) = match format {
        Format::Text => (b"  INFO access", b" ", b"=", b""),
        Format::Json => (
            b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"access\"",
            b",\"",
            b"\":",
            b"},\"target\":\"banyan::access\"}",
        ),
    };
    if format == Format::Json {
        out.extend_from_slice(b"{\"timestamp\":\"");
    }
    clock.write_now(out);
    out.extend_from_slice(head);
    for (name, value) in fields(e) {
        out.extend_from_slice(between);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(after_name);
        match value {
            Value::Str(s) => quoted(s, out),
            Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Value::Millis(micros) => millis(micros, out),
        }
    }
    out.extend_from_slice(tail);
    out.push(b'\n');
}

/// `s` in double quotes, escaped so that both a JSON parser and a reader of the text log
/// (as Rust's `{:?}` writes it) read `s` back: `"` and `\` escaped, control characters as
/// `\u00XX`.
fn quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f {
            out.extend_from_slice(&bytes[start..i]);
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
                }
            }
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Microseconds as milliseconds to the microsecond, as the shortest decimal: `2.629`,
/// `0.41`, `12`.
fn millis(micros: u128, out: &mut Vec<u8>) {
    let mut int = itoa::Buffer::new();
    out.extend_from_slice(int.format(micros / 1000).as_bytes());
    let mut frac = (micros % 1000) as u16;
    if frac == 0 {
        return;
    }
    let digits = [b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8];
    let mut len = 3;
    while frac % 10 == 0 {
        frac /= 10;
        len -= 1;
    }
    out.push(b'.');
    out.extend_from_slice(&digits[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::RequestId;
    use crate::decide::Backend;
    use std::time::Duration;

    fn line(format: Format, id: &[u8], path: &str, latency: Duration) -> String {
        let id = RequestId::from_client(id);
        let e = Entry {
            id: &id,
            method: &http::Method::GET,
            path,
            label: crate::stats::labels::flags_route("ping"),
            backend: Backend::Native,
            status: 200,
            latency,
        };
        let mut out = Vec::new();
        write(format, &mut Clock::default(), &e, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_text_line_reads_as_the_diagnostic_log_writes_its_lines() {
        let l = line(Format::Text, b"abc-1", "/api/1/ping", Duration::from_micros(410));
        let (stamp, rest) = l.split_once("  ").unwrap();
        assert_eq!(stamp.len(), "2026-12-02T08:00:00.123456Z".len(), "{l}");
        assert!(stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.', "{l}");
        assert_eq!(
            rest,
            "INFO access request_id=\"abc-1\" method=\"GET\" path=\"/api/1/ping\" route=\"ping\" backend=\"native\" status=200 latency_ms=0.41\n"
        );
    }

    #[test]
    fn a_json_line_is_the_json_log_s_shape_and_escapes_what_clients_send() {
        let l = line(Format::Json, br#"a"b\c"#, "/x\u{1}y", Duration::from_micros(12_345_678));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["target"], "banyan::access");
        assert_eq!(v["level"], "INFO");
        let f = &v["fields"];
        assert_eq!((f["message"].as_str(), f["request_id"].as_str()), (Some("access"), Some(r#"a"b\c"#)));
        assert_eq!((f["path"].as_str(), f["status"].as_u64()), (Some("/x\u{1}y"), Some(200)));
        assert_eq!(f["latency_ms"].as_f64(), Some(12345.678));
        assert!(l.ends_with("}\n") && l.matches('\n').count() == 1);
    }

    #[test]
    fn latencies_print_to_the_microsecond_in_the_shortest_form() {
        let ms = |micros: u128| {
            let mut out = Vec::new();
            millis(micros, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            [ms(2_629), ms(410), ms(1), ms(12_000), ms(0), ms(1_500)],
            ["2.629", "0.41", "0.001", "12", "0", "1.5"]
        );
    }
}
