//! Banyan's own answers as bytes, for the byte-level passthrough: the same bytes hyper
//! writes for them on its path. The status line carries the reason phrase `finish` set
//! (Werkzeug's); header names take rotki's case from the same head that hyper's path
//! learns it from (`ROTKI_HEAD`), other names title case or lower case as
//! `title_case` says (hyper's `title_case_headers`); `Date` comes last when the response
//! has none, as hyper adds it.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::DATE;
use http::{HeaderName, Response};
use hyper::ext::ReasonPhrase;

use super::response::ROTKI_HEAD;

/// Header names as rotki writes them.
static ROTKI_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut headers);
    resp.parse(ROTKI_HEAD).expect("a valid head");
    resp.headers.iter().map(|h| h.name).collect()
});

/// Writes the status line and headers of `resp`, and the blank line.
pub fn write<B>(resp: &Response<B>, title_case: bool, out: &mut Vec<u8>) {
    let status = resp.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    match resp.extensions().get::<ReasonPhrase>() {
        Some(reason) => out.extend_from_slice(reason.as_bytes()),
        None => out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes()),
    }
    out.extend_from_slice(b"\r\n");
    for (name, value) in resp.headers() {
        write_name(name, title_case, out);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !resp.headers().contains_key(DATE) {
        write_name(&DATE, title_case, out);
        out.extend_from_slice(b": ");
        http_date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn write_name(name: &HeaderName, title_case: bool, out: &mut Vec<u8>) {
    let name = name.as_str();
    if let Some(rotki) = ROTKI_NAMES.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        out.extend_from_slice(rotki.as_bytes());
    } else if title_case {
        let mut upper = true;
        out.extend(name.bytes().map(|b| {
            let c = if upper { b.to_ascii_uppercase() } else { b };
            upper = b == b'-';
            c
        }));
    } else {
        out.extend_from_slice(name.as_bytes());
    }
}

thread_local! {
    /// The formatted date and the second it is for: formatting once a second, like hyper.
    static DATE_CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn http_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_CACHE.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            *text = httpdate::fmt_http_date(now);
            *cached = second;
        }
        out.extend_from_slice(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotki::response;
    use http::StatusCode;

    #[test]
    fn writes_rotki_case_reason_and_date() {
        let mut resp = response::fail(StatusCode::BAD_GATEWAY, "down");
        resp.headers_mut().insert("x-banyan-backend", "legacy".parse().unwrap());
        resp.headers_mut().insert("x-other-thing", "1".parse().unwrap());
        let mut out = Vec::new();
        write(&resp, true, &mut out);
        let head = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], "HTTP/1.1 502 BAD GATEWAY");
        assert_eq!(lines[1], "mimetype: application/json");
        assert_eq!(lines[2], "Content-Type: application/json");
        assert_eq!(lines[3], "Content-Length: 35");
        assert_eq!(lines[4], "X-Banyan-Backend: legacy");
        assert_eq!(lines[5], "X-Other-Thing: 1");
        assert!(lines[6].starts_with("Date: ") && lines[6].ends_with(" GMT"), "{}", lines[6]);
        assert!(head.ends_with("\r\n\r\n"));
        let mut lower = Vec::new();
        write(&resp, false, &mut lower);
        assert!(String::from_utf8(lower).unwrap().contains("\r\nx-other-thing: 1\r\n"));
    }
}
