//! Which requests are steps of rotki's user lifecycle, what a step's request claims (the
//! user, the password), and what legacy's answer says happened. Pure: no I/O, no state.
//! The bridge (`mod.rs`) acts on the results.

use http::Method;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use zeroize::Zeroizing;

/// A request of the user lifecycle, from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `PUT /api/1/users`: a new user, logged in when legacy says so.
    Create,
    /// `POST /api/1/users/<name>`.
    Login(String),
    /// `PATCH /api/1/users/<name>`: a logout when its body says `"action": "logout"`
    /// (rotki also takes premium keys here, which change nothing banyan knows).
    Account(String),
    /// `PATCH /api/1/users/<name>/password`.
    Password(String),
    /// `GET` or `HEAD /api/1/tasks/<id>` of an async login or create still waiting for
    /// its outcome.
    Task(u64),
    /// `DELETE /api/1/tasks/<id>` of one.
    CancelTask(u64),
}

impl Step {
    /// The lifecycle step a request is, if any. `pending` says whether a task id is an
    /// async login's.
    pub fn of(method: &Method, path: &str, pending: impl Fn(u64) -> bool) -> Option<Step> {
        if path == "/api/1/users" {
            return (method == Method::PUT).then_some(Step::Create);
        }
        if path.starts_with("/api/1/tasks/") {
            let id = crate::tasks_bridge::task_id(path).filter(|id| pending(*id))?;
            return match *method {
                Method::GET | Method::HEAD => Some(Step::Task(id)),
                Method::DELETE => Some(Step::CancelTask(id)),
                _ => None,
            };
        }
        let rest = path.strip_prefix("/api/1/users/")?;
        let (segment, password) = match rest.strip_suffix("/password") {
            Some(s) => (s, true),
            None => (rest, false),
        };
        // Werkzeug's string converter: one non-empty segment, percent-decoded.
        if segment.is_empty() || segment.contains('/') {
            return None;
        }
        let name = percent_decode_str(segment).decode_utf8_lossy().into_owned();
        match (method, password) {
            (&Method::POST, false) => Some(Step::Login(name)),
            (&Method::PATCH, false) => Some(Step::Account(name)),
            (&Method::PATCH, true) => Some(Step::Password(name)),
            _ => None,
        }
    }
}

/// What a lifecycle request asks for, read from its arguments as rotki's webargs would: the
/// JSON body when the request says it is JSON and has one, else the query string. The
/// secrets are wiped when this is dropped.
#[derive(Default)]
pub struct Claim {
    pub name: Option<String>,
    pub password: Option<Zeroizing<String>>,
    pub new_password: Option<Zeroizing<String>>,
    pub logout: bool,
}

impl std::fmt::Debug for Claim {
    // Never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim").field("name", &self.name).field("logout", &self.logout).finish_non_exhaustive()
    }
}

impl Claim {
    pub fn read(json: bool, body: &[u8], query: Option<&str>) -> Claim {
        let mut claim = Claim::default();
        if json && !body.is_empty() {
            let Ok(Value::Object(mut args)) = serde_json::from_slice::<Value>(body) else { return claim };
            let mut text = |key: &str| match args.remove(key) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            };
            claim.name = text("name");
            claim.password = text("password").map(Zeroizing::new);
            claim.new_password = text("new_password").map(Zeroizing::new);
            claim.logout = text("action").as_deref() == Some("logout");
            // What serde_json kept of the body goes with `args`; the strings taken above
            // are wiped by `Zeroizing`.
            return claim;
        }
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "name" => claim.name = Some(value.into_owned()),
                "password" => claim.password = Some(Zeroizing::new(value.into_owned())),
                "new_password" => claim.new_password = Some(Zeroizing::new(value.into_owned())),
                "action" => claim.logout = value == "logout",
                _ => {}
            }
        }
        claim
    }
}

/// What legacy's answer to a login or create says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The user is logged in now.
    LoggedIn,
    /// It runs as this legacy task: its poll will tell.
    Task(u64),
    /// 401: a wrong password, an unknown user, a corrupt database. Nobody is logged in.
    Refused,
    /// Anything else (409 "already logged in", a 400, a 5xx): nothing changed.
    Unchanged,
}

impl Outcome {
    /// From a login's or create's status and body.
    pub fn of_login(status: u16, body: &[u8]) -> Outcome {
        match status {
            200 => match serde_json::from_slice::<Value>(body).ok().as_ref().and_then(|v| v.get("result")) {
                Some(Value::Object(r)) if r.len() == 1 => r.get("task_id").and_then(Value::as_u64).map_or(
                    // One key that is not a task id is not rotki's login answer.
                    Outcome::Unchanged,
                    Outcome::Task,
                ),
                Some(Value::Object(r)) if r.contains_key("settings") => Outcome::LoggedIn,
                _ => Outcome::Unchanged,
            },
            401 => Outcome::Refused,
            _ => Outcome::Unchanged,
        }
    }

    /// From a poll of the login's task: `None` while it is pending (or the poll failed).
    /// A task legacy no longer knows (cancelled, or forgotten at a logout) is `Unchanged`.
    pub fn of_poll(status: u16, body: &[u8]) -> Option<Outcome> {
        if status == 404 {
            return Some(Outcome::Unchanged);
        }
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_slice(body).ok()?;
        let result = v.get("result")?;
        if result.get("status")?.as_str()? != "completed" {
            return None;
        }
        let code = result.get("status_code").and_then(Value::as_u64).unwrap_or(200) as u16;
        let outcome = serde_json::to_vec(result.get("outcome")?).ok()?;
        Some(match Outcome::of_login(code, &outcome) {
            // A task does not start another task.
            Outcome::Task(_) => Outcome::Unchanged,
            o => o,
        })
    }
}

/// `active_modules` of the settings in a login's or create's answer (or in its task's
/// outcome): while the user never set them, that order is the legacy process's own.
pub fn active_modules(answer: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(answer).ok()?;
    let result = v.get("result")?;
    let result = result.get("outcome").and_then(|o| o.get("result")).unwrap_or(result);
    serde_json::from_value(result.get("settings")?.get("active_modules")?.clone()).ok()
}

/// Whether a user name can be a directory under `<data-dir>/users` (rotki would find no
/// database under `.`, `..` or a name with a NUL, and banyan never opens one there).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(method: Method, path: &str) -> Option<Step> {
        Step::of(&method, path, |id| id == 7)
    }

    #[test]
    fn lifecycle_requests_are_known_by_method_and_path() {
        assert_eq!(step(Method::PUT, "/api/1/users"), Some(Step::Create));
        assert_eq!(step(Method::GET, "/api/1/users"), None);
        assert_eq!(step(Method::POST, "/api/1/users/ann"), Some(Step::Login("ann".into())));
        assert_eq!(step(Method::POST, "/api/1/users/a%20n%27"), Some(Step::Login("a n'".into())));
        assert_eq!(step(Method::PATCH, "/api/1/users/ann"), Some(Step::Account("ann".into())));
        assert_eq!(step(Method::PATCH, "/api/1/users/ann/password"), Some(Step::Password("ann".into())));
        assert_eq!(step(Method::POST, "/api/1/users/ann/password"), None);
        assert_eq!(step(Method::POST, "/api/1/users/"), None);
        assert_eq!(step(Method::POST, "/api/1/users/a/b"), None);
        assert_eq!(step(Method::GET, "/api/1/tasks/7"), Some(Step::Task(7)));
        assert_eq!(step(Method::DELETE, "/api/1/tasks/007"), Some(Step::CancelTask(7)));
        assert_eq!(step(Method::GET, "/api/1/tasks/8"), None);
        assert_eq!(step(Method::GET, "/api/1/tasks/7x"), None);
    }

    #[test]
    fn claims_come_from_the_json_body_else_the_query() {
        let c = Claim::read(true, br#"{"name":"ann","password":"p'q\"r","action":"logout"}"#, Some("password=no"));
        assert_eq!(c.name.as_deref(), Some("ann"));
        assert_eq!(c.password.as_deref().map(String::as_str), Some("p'q\"r"));
        assert!(c.logout);
        let c = Claim::read(false, b"", Some("password=a%27b&new_password=c"));
        assert_eq!(c.password.as_deref().map(String::as_str), Some("a'b"));
        assert_eq!(c.new_password.as_deref().map(String::as_str), Some("c"));
        assert!(!c.logout);
        assert!(!format!("{c:?}").contains("a'b"));
    }

    #[test]
    fn answers_say_what_happened() {
        let ok = br#"{"result": {"exchanges": [], "settings": {"version": 52}}, "message": ""}"#;
        assert_eq!(Outcome::of_login(200, ok), Outcome::LoggedIn);
        assert_eq!(Outcome::of_login(200, br#"{"result": {"task_id": 3}, "message": ""}"#), Outcome::Task(3));
        assert_eq!(Outcome::of_login(401, b"{}"), Outcome::Refused);
        assert_eq!(Outcome::of_login(409, b"{}"), Outcome::Unchanged);
        let done = br#"{"result": {"status": "completed", "outcome": {"result": {"exchanges": [], "settings": {}}, "message": ""}, "status_code": 200}, "message": ""}"#;
        assert_eq!(Outcome::of_poll(200, done), Some(Outcome::LoggedIn));
        let bad = br#"{"result": {"status": "completed", "outcome": {"result": null, "message": "Wrong password or invalid/corrupt database for user"}, "status_code": 401}, "message": ""}"#;
        assert_eq!(Outcome::of_poll(200, bad), Some(Outcome::Refused));
        let pending =
            br#"{"result": {"status": "pending", "outcome": null}, "message": "The task with id 3 is still pending"}"#;
        assert_eq!(Outcome::of_poll(200, pending), None);
        assert_eq!(Outcome::of_poll(404, b""), Some(Outcome::Unchanged));
    }

    #[test]
    fn only_plain_names_are_directories() {
        assert!(plain_name("ann"));
        assert!(plain_name("a n'\""));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }
}
