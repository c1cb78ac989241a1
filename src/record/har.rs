//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>), the format browsers,
//! mitmproxy and banyan's recordings share: written by `GET /api/records/{route}`, read by
//! `banyan replay`. Reading is lenient as the spec asks: unknown and `_`-prefixed fields
//! are ignored, and fields banyan does not need may be missing.

use std::time::SystemTime;

use base64::Engine;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Exchange;

#[derive(Debug, Serialize, Deserialize)]
pub struct Har {
    pub log: Log,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Log {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub creator: Creator,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Creator {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(default)]
    pub started_date_time: String,
    /// Milliseconds from the request's start to the answer's head.
    #[serde(default)]
    pub time: f64,
    /// Required: an entry without one is refused by name (`replay`).
    pub request: Option<Request>,
    pub response: Option<Response>,
    #[serde(default)]
    pub cache: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub timings: Timings,
    /// Which backend answered: `native` or `legacy`.
    #[serde(rename = "_banyan_backend", default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(rename = "_banyan_route", default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(rename = "_banyan_request_id", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub query_string: Vec<NameValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    #[serde(default = "unknown")]
    pub headers_size: i64,
    #[serde(default = "unknown")]
    pub body_size: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    #[serde(default)]
    pub mime_type: String,
    #[serde(flatten)]
    pub body: Text,
}

/// A body's text, as `postData` and `content` both hold it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Text {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` for a body that is not UTF-8 (an extension HAR defines for `content` only;
    /// browsers write it in `postData` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Text {
    /// `bytes` as text, in base64 when they are not UTF-8.
    pub fn of(bytes: &[u8]) -> Text {
        let (text, encoding) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_string(), None),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(bytes), Some("base64".to_string())),
        };
        Text { text: Some(text), encoding, comment: None }
    }

    /// No text, and why.
    pub fn omitted(why: Option<String>) -> Text {
        Text { text: None, encoding: None, comment: why }
    }

    /// The body's bytes, if it has a text.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, String> {
        let Some(text) = &self.text else { return Ok(None) };
        match self.encoding.as_deref() {
            None | Some("") => Ok(Some(text.as_bytes().to_vec())),
            Some(e) if e.eq_ignore_ascii_case("base64") => base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map(Some)
                .map_err(|err| format!("its base64 body does not decode: {err}")),
            Some(other) => Err(format!("its body has encoding {other:?}; only base64 is known")),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: u16,
    #[serde(default)]
    pub status_text: String,
    #[serde(default)]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub content: Content,
    #[serde(rename = "redirectURL", default)]
    pub redirect_url: String,
    #[serde(default = "unknown")]
    pub headers_size: i64,
    #[serde(default = "unknown")]
    pub body_size: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub mime_type: String,
    #[serde(flatten)]
    pub body: Text,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    #[serde(default)]
    pub send: f64,
    #[serde(default)]
    pub wait: f64,
    #[serde(default)]
    pub receive: f64,
}

fn unknown() -> i64 {
    -1
}

/// The value of header `name` (any case), the first if several.
pub fn header<'a>(headers: &'a [NameValue], name: &str) -> Option<&'a str> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
}

/// The HAR document of `exchanges`, recorded on `route`.
pub fn document(route: &str, exchanges: &[Exchange]) -> Har {
    Har {
        log: Log {
            version: "1.2".into(),
            creator: Creator { name: "banyan".into(), version: env!("CARGO_PKG_VERSION").into() },
            entries: exchanges.iter().map(|e| entry(route, e)).collect(),
        },
    }
}

fn entry(route: &str, e: &Exchange) -> Entry {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let pairs = |h: &mut dyn Iterator<Item = (&str, &[u8])>| -> Vec<NameValue> {
        h.map(|(name, value)| NameValue { name: name.to_string(), value: text(value) }).collect()
    };
    let (request_headers, response_headers) = (pairs(&mut e.request_headers()), pairs(&mut e.response_headers()));
    let find = |h: &[NameValue], name: &str| header(h, name).map(str::to_string);
    let host = find(&request_headers, "host").unwrap_or_else(|| "localhost".into());
    let target = e.target();
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let query_string = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| NameValue { name: name.into_owned(), value: value.into_owned() })
        .collect();
    let body = e.request_body();
    let post_data = (!body.is_empty()).then(|| {
        let mime_type = find(&request_headers, "content-type").unwrap_or_default();
        PostData { mime_type, body: Text::of(body) }
    });
    let mime_type = find(&response_headers, "content-type").unwrap_or_default();
    let (content, body_size) = match e.response_body() {
        Some(b) => (Content { size: b.len() as i64, mime_type, body: Text::of(b) }, b.len() as i64),
        None => {
            let why = e.response_omitted.map(|why| format!("the body is not kept: {why}"));
            (Content { size: -1, mime_type, body: Text::omitted(why) }, -1)
        }
    };
    let status_text = StatusCode::from_u16(e.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    // Microseconds are all a latency needs.
    let ms = (e.time.as_secs_f64() * 1e6).round() / 1e3;
    let redirect_url = find(&response_headers, "location").unwrap_or_default();
    Entry {
        started_date_time: rfc3339_millis(e.started),
        time: ms,
        request: Some(Request {
            method: e.method.to_string(),
            url: format!("http://{host}{target}"),
            http_version: "HTTP/1.1".into(),
            cookies: Vec::new(),
            headers: request_headers,
            query_string,
            post_data,
            headers_size: -1,
            body_size: body.len() as i64,
        }),
        response: Some(Response {
            status: e.status,
            status_text: status_text.into(),
            http_version: "HTTP/1.1".into(),
            cookies: Vec::new(),
            headers: response_headers,
            content,
            redirect_url,
            headers_size: -1,
            body_size,
        }),
        cache: Default::default(),
        timings: Timings { send: 0.0, wait: ms, receive: 0.0 },
        backend: Some(e.backend.as_str().into()),
        route: Some(route.into()),
        request_id: Some(e.request_id().into()),
    }
}

/// `2026-12-02T03:04:05.678Z`.
fn rfc3339_millis(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = crate::audit::rfc3339(since.as_secs());
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_as_text_or_base64() {
        let text = Text::of(b"{\"a\": 1}");
        assert_eq!((text.text.as_deref(), text.encoding.as_deref()), (Some("{\"a\": 1}"), None));
        let binary = Text::of(&[0xff, 0x00, 0x41]);
        assert_eq!((binary.text.as_deref(), binary.encoding.as_deref()), (Some("/wBB"), Some("base64")));
        assert_eq!(binary.bytes().unwrap().unwrap(), [0xff, 0x00, 0x41]);
        let gzip = Text { encoding: Some("gzip".into()), ..Text::of(b"x") };
        assert!(gzip.bytes().unwrap_err().contains("gzip"));
    }

    #[test]
    fn times_are_iso_with_milliseconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_764_644_645_678);
        assert_eq!(rfc3339_millis(t), "2025-12-02T03:04:05.678Z");
    }
}
