//! `GET /api/1/info` (endpoints.md §b). The values rotki derives from its own process come
//! from banyan's config; `check_for_updates=true` asks GitHub, which stays legacy's job.

use std::path::Path;
use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;

use super::{Context, HandlerResult, NativeRequest, Outcome};
use crate::rotki::args::{self, FieldErrors};
use crate::rotki::response;

const FIELD: &str = "check_for_updates";

#[derive(Serialize)]
struct Info<'a> {
    version: Version<'a>,
    data_directory: &'a str,
    log_level: &'a str,
    accept_docker_risk: bool,
    backend_default_arguments: DefaultArguments,
}

#[derive(Serialize)]
struct Version<'a> {
    our_version: &'a str,
    latest_version: Option<&'a str>,
    download_url: Option<&'a str>,
}

/// Compile-time constants in rotki, not the values its process was started with.
#[derive(Serialize)]
struct DefaultArguments {
    max_logfiles_num: u32,
    max_size_in_mb_all_logs: u32,
    sqlite_instructions: u32,
}

enum Plan {
    Answer,
    Invalid(FieldErrors),
    Legacy,
}

pub async fn handle(req: NativeRequest, ctx: Arc<Context>) -> HandlerResult {
    Ok(match plan(&req) {
        Plan::Invalid(errors) => Outcome::Respond(response::validation_error(&errors)),
        Plan::Legacy => Outcome::HandBack(req),
        Plan::Answer => {
            let info = Info {
                version: Version { our_version: &ctx.rotki.version, latest_version: None, download_url: None },
                data_directory: &ctx.data_directory,
                log_level: &ctx.rotki.log_level,
                accept_docker_risk: ctx.rotki.accept_docker_risk,
                backend_default_arguments: DefaultArguments {
                    max_logfiles_num: 3,
                    max_size_in_mb_all_logs: 300,
                    sqlite_instructions: 5000,
                },
            };
            Outcome::Respond(response::envelope(StatusCode::OK, &info, ""))
        }
    })
}

fn plan(req: &NativeRequest) -> Plan {
    let args = match args::json_and_query(req) {
        Ok(a) => a,
        Err(errors) => return Plan::Invalid(errors),
    };
    let mut errors = FieldErrors::default();
    let check = args.boolean(FIELD).unwrap_or_else(|msg| {
        errors.add(FIELD, msg);
        None
    });
    let unknown: Vec<&str> = args.keys().into_iter().filter(|k| *k != FIELD).collect();
    // marshmallow lists several unknown fields in Python's set order, which changes from
    // one process to the next; legacy's answer is the only faithful one then.
    if unknown.len() > 1 {
        return Plan::Legacy;
    }
    for field in unknown {
        errors.add(field, "Unknown field.");
    }
    if !errors.is_empty() {
        Plan::Invalid(errors)
    } else if check == Some(true) {
        Plan::Legacy
    } else {
        Plan::Answer
    }
}

/// `data_directory` as rotki prints it: `--data-dir` through Python's `Path` (no trailing
/// slash, `.` segments and repeated slashes dropped, not made absolute), or the default.
pub fn data_directory(data_dir: Option<&Path>) -> String {
    match data_dir {
        Some(p) => python_path(&p.to_string_lossy()),
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .filter(|v| Path::new(v).is_absolute())
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
                .unwrap_or_default();
            python_path(&base.join("rotki/data").to_string_lossy())
        }
    }
}

/// `str(pathlib.PurePosixPath(s))`.
fn python_path(s: &str) -> String {
    let root = if s.starts_with("//") && !s.starts_with("///") {
        "//"
    } else if s.starts_with('/') {
        "/"
    } else {
        ""
    };
    let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let joined = format!("{root}{}", parts.join("/"));
    if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_like_pathlib() {
        assert_eq!(python_path("/tmp/x/"), "/tmp/x");
        assert_eq!(python_path("/tmp//./x"), "/tmp/x");
        assert_eq!(python_path("rel/../x"), "rel/../x");
        assert_eq!(python_path("./"), ".");
        assert_eq!(python_path("//net/x"), "//net/x");
        assert_eq!(python_path("///x"), "/x");
    }
}
