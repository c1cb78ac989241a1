//! What a recording never keeps: credentials in headers, the sticky header's value, and
//! secrets in query parameters and JSON bodies. Applied when an exchange is captured,
//! before anything is stored, so no later reader (the admin API, a HAR file, a replay) can
//! see them. The list is `docs/migrating.md`'s; keep the two together.

use http::HeaderName;
use indexmap::IndexMap;
use serde_json::value::RawValue;

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";

/// Headers whose value is always a credential.
const SECRET_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Field names (any case) that hold a secret: rotki's own (`password`, `api_secret`,
/// `premium_api_key`, Monerium's `access_token`, ...) and the usual others.
const SECRET_FIELDS: [&str; 9] = [
    "password",
    "passphrase",
    "secret",
    "api_key",
    "api_secret",
    "access_token",
    "refresh_token",
    "private_key",
    "mnemonic",
];
/// ... and names ending so (`new_password`, `kraken_futures_api_key`, `client_secret`).
const SECRET_SUFFIXES: [&str; 4] = ["_password", "_passphrase", "_secret", "_api_key"];

/// How every secret field's name ends (in any case): a body with no key ending so has no
/// secret field, and is kept without being parsed (nearly every body of rotki's read
/// routes).
const ENDINGS: [&[u8]; 8] =
    [b"password", b"passphrase", b"secret", b"api_key", b"access_token", b"refresh_token", b"private_key", b"mnemonic"];

/// Whether `body` may hold a secret field: a key (a string followed by `:`) whose name
/// ends as one does, or an escape that could spell one.
fn candidate(body: &[u8]) -> bool {
    let key_ends_secret = |q: usize| {
        let key = &body[..q];
        // The key's last letter tells which endings could match (most match none).
        let last = key.last().map_or(0, |b| b | 0x20);
        if !ENDINGS.iter().any(|e| e.last() == Some(&last)) {
            return false;
        }
        let after = body[q + 1..].iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        after == Some(&b':')
            && ENDINGS.iter().any(|e| {
                e.last() == Some(&last) && key.len() >= e.len() && key[key.len() - e.len()..].eq_ignore_ascii_case(e)
            })
    };
    // A short body in one plain pass; a long one with SIMD searches.
    if body.len() <= 256 {
        return body.iter().enumerate().any(|(i, &b)| match b {
            b'"' => key_ends_secret(i),
            b'\\' => body.get(i + 1) == Some(&b'u'),
            _ => false,
        });
    }
    memchr::memchr_iter(b'\\', body).any(|i| body.get(i + 1) == Some(&b'u'))
        || memchr::memchr_iter(b'"', body).any(key_ends_secret)
}

pub fn secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FIELDS.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether a header's value is kept: never a credential's, nor the sticky header's (it
/// identifies a user).
pub fn secret_header(name: &[u8], sticky: &[HeaderName]) -> bool {
    // (The lengths first: this runs for every header of every recorded exchange.)
    let same = |other: &str| other.len() == name.len() && other.as_bytes().eq_ignore_ascii_case(name);
    SECRET_HEADERS.iter().any(|h| same(h)) || sticky.iter().any(|s| same(s.as_str()))
}

/// Whether a header line as it came (`Name: value`) is one whose value is left out.
pub fn secret_line(line: &[u8], sticky: &[HeaderName]) -> bool {
    secret_header(&line[..memchr::memchr(b':', line).unwrap_or(line.len())], sticky)
}

/// The request target with secret query parameters' values replaced; borrowed when none is.
pub fn target(target: &str) -> std::borrow::Cow<'_, str> {
    let Some((path, query)) = target.split_once('?') else { return target.into() };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !pairs.iter().any(|(k, _)| secret_field(k)) {
        return target.into();
    }
    let start = path.len() + 1;
    let mut out = form_urlencoded::Serializer::for_suffix(format!("{path}?"), start);
    for (k, v) in &pairs {
        out.append_pair(k, if secret_field(k) { REDACTED } else { v });
    }
    out.finish().into()
}

/// A JSON body with every secret field's value replaced; `None` when it has none (or is
/// not JSON), so it is kept byte for byte. A redacted body keeps its key order; the parts
/// that held a secret are written compactly.
pub fn json_body(body: &[u8]) -> Option<Vec<u8>> {
    if body.is_empty() || !candidate(body) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    redact_value(raw).map(String::into_bytes)
}

/// Where a recorded JSON body holds a redacted value: a replay cannot know what was
/// there, so it leaves those pointers out of the comparison.
pub fn redacted_pointers(body: &[u8]) -> Vec<String> {
    if memchr::memmem::find(body, REDACTED.as_bytes()).is_none() {
        return Vec::new();
    }
    fn walk(v: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if s == REDACTED => out.push(crate::shadow::compare::pointer(at)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    at.push(k.clone());
                    walk(v, at, out);
                    at.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    at.push(i.to_string());
                    walk(v, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_slice(body) {
        walk(&value, &mut Vec::new(), &mut out);
    }
    out
}

/// `raw` rewritten, if anything inside it is a secret.
fn redact_value(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    match text.trim_start().as_bytes().first() {
        Some(b'{') => {
            let map: IndexMap<String, &RawValue> = serde_json::from_str(text).ok()?;
            let mut changed = false;
            let fields: Vec<(String, Option<String>, &RawValue)> = map
                .into_iter()
                .map(|(k, v)| {
                    let new = if secret_field(&k) { Some(format!("\"{REDACTED}\"")) } else { redact_value(v) };
                    changed |= new.is_some();
                    (k, new, v)
                })
                .collect();
            if !changed {
                return None;
            }
            let mut out = String::from("{");
            for (i, (k, new, old)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).ok()?);
                out.push(':');
                out.push_str(new.as_deref().unwrap_or(old.get()));
            }
            out.push('}');
            Some(out)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            let new: Vec<Option<String>> = items.iter().map(|v| redact_value(v)).collect();
            if new.iter().all(Option::is_none) {
                return None;
            }
            let parts: Vec<&str> = new.iter().zip(&items).map(|(n, old)| n.as_deref().unwrap_or(old.get())).collect();
            Some(format!("[{}]", parts.join(",")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_are_replaced_wherever_they_are_and_the_rest_is_kept_in_order() {
        let body = br#"{"z": 1, "services": [{"name": "etherscan", "api_key": "K1"}], "Password": "p", "a": {"new_password": 5}}"#;
        let out = String::from_utf8(json_body(body).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"services":[{"name":"etherscan","api_key":"[redacted]"}],"Password":"[redacted]","a":{"new_password":"[redacted]"}}"#
        );
        // Nothing secret: kept as it came, spaces and all.
        assert_eq!(json_body(br#"{"passthrough": 1, "token": "ETH"}"#), None);
        assert_eq!(json_body(b"not json, but a password"), None);
        // Only keys are looked at, in any case, spaces before the colon or not; an escape
        // that could spell a name is parsed to be sure.
        assert!(candidate(br#"{"x_ACCESS_TOKEN" : 1}"#) && candidate(br#"{"a": {"Mnemonic":2}}"#));
        assert!(!candidate(br#"{"message": "password", "passwords": 1}"#));
        let long = format!(r#"{{"pad": "{}", "Api_Key" :1}}"#, "x".repeat(300));
        assert!(candidate(long.as_bytes()) && !candidate(long.replace("Api_Key", "Api_Kex").as_bytes()));
        assert_eq!(
            String::from_utf8(json_body(br#"{"pass\u0077ord": "p"}"#).unwrap()).unwrap(),
            r#"{"password":"[redacted]"}"#
        );
        assert!(secret_field("kraken_futures_api_secret") && secret_field("premium_api_key"));
        assert!(!secret_field("token") && !secret_field("underlying_tokens") && !secret_field("public_key"));
        assert_eq!(
            redacted_pointers(&json_body(body).unwrap()),
            ["/services/0/api_key", "/Password", "/a/new_password"]
        );
    }

    #[test]
    fn query_secrets_and_credential_headers_go() {
        assert_eq!(target("/api/1/x?a=1&api_key=abc"), "/api/1/x?a=1&api_key=%5Bredacted%5D");
        assert!(matches!(target("/api/1/x?a=1"), std::borrow::Cow::Borrowed(_)));
        let sticky = [HeaderName::from_static("x-user")];
        assert!(secret_header(b"Cookie", &[]) && secret_header(b"X-User", &sticky));
        assert!(!secret_header(b"content-type", &sticky));
        assert!(
            secret_line(b"COOKIE: a=1", &[]) && secret_line(b"x-user:u", &sticky) && secret_line(b"Set-Cookie: s", &[])
        );
        assert!(!secret_line(b"Cookies: 1", &[]) && !secret_line(b"Host: authorization", &[]));
    }
}
