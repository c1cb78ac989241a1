//! flask-cors as rotki configures it (`wire.md` §9): every response to an allowed Origin
//! carries `Access-Control-Allow-Origin: <origin>` and `Vary: Origin`. A pattern holding a
//! regex character is a case-insensitive regex anchored at the start only (Python's
//! `re.match`), so `http://localhost:*/*` also allows `http://localhost.evil.com`, exactly
//! as rotki does; anything else is a case-insensitive exact match.

use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN, VARY};
use http::{HeaderMap, HeaderValue};
use regex::Regex;

#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<OriginPattern>,
}

#[derive(Debug, Clone)]
enum OriginPattern {
    Regex(Regex),
    Exact(String),
}

const REGEX_CHARS: [char; 9] = ['*', '\\', ']', '?', '$', '^', '[', '(', ')'];

impl Cors {
    pub fn new(patterns: &[String]) -> Result<Cors, String> {
        let origins = patterns
            .iter()
            .map(|p| {
                if p.contains(REGEX_CHARS) {
                    Regex::new(&format!("(?i)^(?:{p})"))
                        .map(OriginPattern::Regex)
                        .map_err(|e| format!("api_cors pattern {p:?} is not a valid regex: {e}"))
                } else {
                    Ok(OriginPattern::Exact(p.to_ascii_lowercase()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Cors { origins })
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|p| match p {
            OriginPattern::Regex(r) => r.is_match(origin),
            OriginPattern::Exact(e) => origin.eq_ignore_ascii_case(e),
        })
    }

    /// The request's Origin, kept to answer with once the handler has the request.
    pub fn origin(request: &HeaderMap) -> Option<HeaderValue> {
        request.get(ORIGIN).cloned()
    }

    /// Adds the CORS headers for an allowed request Origin to a response.
    pub fn apply(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        let Some(origin) = origin else {
            return;
        };
        let Ok(text) = origin.to_str() else { return };
        if self.allows(text) {
            response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotki_default_pattern_behaves_like_flask_cors() {
        let c = Cors::new(&["http://localhost:*/*".into()]).unwrap();
        for ok in ["http://localhost:8080", "http://localhost", "HTTP://LOCALHOST:1", "http://localhost.evil.com"] {
            assert!(c.allows(ok), "{ok}");
        }
        for no in ["http://127.0.0.1:8080", "http://example.com", "null"] {
            assert!(!c.allows(no), "{no}");
        }
        let exact = Cors::new(&["app://localhost".into()]).unwrap();
        assert!(exact.allows("APP://localhost"));
        assert!(!exact.allows("app://localhost/x"));
    }
}
