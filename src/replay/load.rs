//! Reading a HAR file into requests a native handler can take, and the answers recorded
//! for them. Everything is checked before anything runs: a file that is missing, not
//! JSON (with its line and column), not HAR, or with an entry that has no request is bad
//! input, named by the file and the entry's index in `log.entries`.

use std::path::Path;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Uri};
use serde_json::Value;

use super::BadInput;
use crate::record::har;

/// One entry, ready to replay.
pub struct Entry {
    pub index: usize,
    pub parts: Parts,
    pub body: Bytes,
    pub answer: Option<Recorded>,
}

/// The recorded answer.
pub struct Recorded {
    pub status: u16,
    pub content_type: Option<Vec<u8>>,
    /// `None` when the recording holds no body (left out, or too large to keep).
    pub body: Option<Vec<u8>>,
}

impl Entry {
    /// Path and query, for the report.
    pub fn target(&self) -> String {
        self.parts.uri.path_and_query().map_or_else(|| "/".to_string(), |p| p.to_string())
    }
}

pub fn entries(file: &Path) -> Result<Vec<Entry>, BadInput> {
    let name = file.display();
    let bytes = std::fs::read(file).map_err(|e| BadInput(format!("{name}: cannot read: {e}")))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        let text = e.to_string();
        let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
        BadInput(format!("{name}:{}:{}: invalid JSON: {message}", e.line(), e.column()))
    })?;
    let Some(Value::Array(list)) = doc.get("log").and_then(|l| l.get("entries")) else {
        return Err(BadInput(format!("{name}: not a HAR document: expected {{\"log\": {{\"entries\": [...]}}}}")));
    };
    list.iter()
        .enumerate()
        .map(|(index, value)| {
            let at = |what: String| BadInput(format!("{name}: log.entries[{index}]: {what}"));
            let entry: har::Entry = serde_json::from_value(value.clone()).map_err(|e| at(e.to_string()))?;
            let request = entry.request.ok_or_else(|| at("the entry has no request".into()))?;
            let (parts, body) = request_of(&request).map_err(at)?;
            let answer = entry.response.map(|r| answer_of(&r)).transpose().map_err(at)?;
            Ok(Entry { index, parts, body, answer })
        })
        .collect()
}

fn request_of(r: &har::Request) -> Result<(Parts, Bytes), String> {
    let method = Method::from_bytes(r.method.as_bytes())
        .map_err(|_| format!("request.method {:?} is not a method", r.method))?;
    let url: Uri = r.url.parse().map_err(|_| format!("request.url {:?} is not a URL", r.url))?;
    let target = url.path_and_query().map_or("/", |p| p.as_str());
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = target.parse().map_err(|_| format!("request.url {:?} has no path", r.url))?;
    for h in &r.headers {
        // HTTP/2's pseudo-headers (a browser's export), and the framing of a body that is
        // now whole.
        let framing =
            ["content-length", "transfer-encoding", "connection"].iter().any(|n| h.name.eq_ignore_ascii_case(n));
        if h.name.starts_with(':') || framing {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("request header {:?} is not a header name", h.name))?;
        let value =
            HeaderValue::from_str(&h.value).map_err(|_| format!("request header {:?} has an invalid value", h.name))?;
        parts.headers.append(name, value);
    }
    if !parts.headers.contains_key(HOST) {
        if let Some(v) = url.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(HOST, v);
        }
    }
    let body = match &r.post_data {
        Some(p) => {
            if !parts.headers.contains_key(CONTENT_TYPE) && !p.mime_type.is_empty() {
                if let Ok(v) = HeaderValue::from_str(&p.mime_type) {
                    parts.headers.insert(CONTENT_TYPE, v);
                }
            }
            p.body.bytes().map_err(|e| format!("request.postData: {e}"))?.unwrap_or_default()
        }
        None => Vec::new(),
    };
    Ok((parts, body.into()))
}

fn answer_of(r: &har::Response) -> Result<Recorded, String> {
    let content_type = har::header(&r.headers, "content-type")
        .or((!r.content.mime_type.is_empty()).then_some(r.content.mime_type.as_str()))
        .map(|v| v.as_bytes().to_vec());
    let body = match r.content.body.bytes().map_err(|e| format!("response.content: {e}"))? {
        Some(bytes) => Some(bytes),
        // Browsers leave `text` out of an empty body.
        None if r.content.size == 0 => Some(Vec::new()),
        None => None,
    };
    Ok(Recorded { status: r.status, content_type, body })
}
