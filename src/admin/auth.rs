//! Who may change things through the admin API: named tokens from a file (`name:token`
//! per line) and one from `BANYAN_ADMIN_TOKEN` (named `env`). A request proves itself with
//! `Authorization: Bearer <token>`, compared in constant time. With no token configured,
//! nothing can be changed through the API.

use std::path::Path;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::location::Located;

/// Shorter tokens are refused at start: they could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

pub struct Tokens {
    tokens: Vec<(String, Vec<u8>)>,
}

/// Names only: a token never reaches a log.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tokens.iter().map(|(name, _)| name)).finish()
    }
}

impl Tokens {
    /// Reads the tokens file (if configured) and `env_token`; a malformed line, a short or
    /// duplicate token is an error naming where it is.
    pub fn load(file: Option<&Path>, env_token: Option<String>) -> Result<Tokens, Located> {
        let mut tokens = Vec::new();
        if let Some(path) = file {
            use std::os::unix::fs::PermissionsExt;
            if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                tracing::warn!(file = %path.display(), "the admin tokens file is readable by other users: chmod 600 it");
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| Located::whole_file(path, format!("cannot read the admin tokens file: {e}")))?;
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let start = offset;
                offset += line.len();
                let trimmed = line.trim();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let at = |msg: String| Located::at(path, &text, start + (line.len() - line.trim_start().len()), msg);
                let Some((name, token)) = trimmed.split_once(':') else {
                    return Err(at("expected `name:token`".into()));
                };
                let (name, token) = (name.trim(), token.trim());
                check(name, token).map_err(at)?;
                if tokens.iter().any(|(n, _)| n == name) {
                    return Err(at(format!("token name {name:?} appears twice")));
                }
                tokens.push((name.to_string(), token.as_bytes().to_vec()));
            }
        }
        if let Some(token) = env_token {
            check("env", &token).map_err(|m| {
                Located::whole_file(Path::new("BANYAN_ADMIN_TOKEN"), m.replace("token for \"env\"", "the token"))
            })?;
            tokens.push(("env".to_string(), token.into_bytes()));
        }
        Ok(Tokens { tokens })
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The name of the token the request carries, if it carries a valid one.
    pub fn check(&self, headers: &HeaderMap) -> Option<&str> {
        let given = headers.get(AUTHORIZATION)?.as_bytes();
        // The scheme is case-insensitive (RFC 9110).
        let (scheme, given) = given.split_at_checked(7)?;
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return None;
        }
        // Every token is compared, so the time taken does not tell which one nearly matched.
        let mut found = None;
        for (name, token) in &self.tokens {
            if bool::from(token.as_slice().ct_eq(given)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

fn check(name: &str, token: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a token needs a name before the `:`".into());
    }
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!("token for {name:?} is too short: at least {MIN_TOKEN_LEN} characters"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("token for {name:?} has spaces or characters outside printable ASCII"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        h
    }

    #[test]
    fn named_tokens_from_a_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# ops\nalice:aaaaaaaaaaaaaaaa1\n\nbob: bbbbbbbbbbbbbbbb2\n").unwrap();
        let t = Tokens::load(Some(&path), Some("eeeeeeeeeeeeeeee3".into())).unwrap();
        assert_eq!(t.check(&bearer("aaaaaaaaaaaaaaaa1")), Some("alice"));
        assert_eq!(t.check(&bearer("bbbbbbbbbbbbbbbb2")), Some("bob"));
        assert_eq!(t.check(&bearer("eeeeeeeeeeeeeeee3")), Some("env"));
        let mut lower = HeaderMap::new();
        lower.insert(AUTHORIZATION, "bearer aaaaaaaaaaaaaaaa1".parse().unwrap());
        assert_eq!(t.check(&lower), Some("alice"));
        assert_eq!(t.check(&bearer("aaaaaaaaaaaaaaaa")), None);
        assert_eq!(t.check(&HeaderMap::new()), None);
        assert!(Tokens::load(None, None).unwrap().is_empty());
    }

    #[test]
    fn bad_lines_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "alice:aaaaaaaaaaaaaaaa1\n  bob:short\n").unwrap();
        let e = Tokens::load(Some(&path), None).unwrap_err();
        assert_eq!(e.position, Some((2, 3)), "{e}");
        assert!(e.message.contains("too short"), "{e}");
        std::fs::write(&path, "alice:aaaaaaaaaaaaaaaa1\nalice:aaaaaaaaaaaaaaaa2\n").unwrap();
        assert!(Tokens::load(Some(&path), None).unwrap_err().message.contains("twice"));
        std::fs::write(&path, "just-a-token-without-name\n").unwrap();
        assert!(Tokens::load(Some(&path), None).unwrap_err().message.contains("name:token"));
    }
}
