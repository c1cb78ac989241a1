//! `banyan check` and `banyan serve` on good and broken files: the same `file:line:col`
//! message from both, a non-zero exit, and no start on a broken file.

mod common;

use std::process::Command;

use common::{Banyan, Options, ROOT};

fn banyan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_banyan")).args(args).current_dir(ROOT).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

const BROKEN: &str = "[routes.ping]\npath = \"/api/1/ping\"\nmethods = [\"GET\"]\nnative = 150\n";

#[test]
fn check_accepts_the_shipped_config_and_flags_and_prints_the_table() {
    let (code, out, err) = banyan(&["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid, 15 routes"), "{out}");
    let ping = out.lines().find(|l| l.starts_with("ping ")).expect("a row for ping");
    for cell in ["/api/1/ping", "GET,HEAD", "100%", "native /api/1/ping"] {
        assert!(ping.contains(cell), "{ping}");
    }
    // The asset module ships at 0 %, in one bucketing group.
    let all = out.lines().find(|l| l.starts_with("assets_all ")).expect("a row for assets_all");
    for cell in ["/api/1/assets/all", "POST", "0%", "assets", "native /api/1/assets/all"] {
        assert!(all.contains(cell), "{all}");
    }
    assert!(out.contains("override header: x-banyan-force"), "{out}");
}

/// The runbook's route, guard and ramp, added to the shipped flags as its steps say, pass
/// `banyan check` with a native handler for the route.
#[test]
fn the_runbooks_example_adds_to_the_shipped_flags() {
    let runbook = std::fs::read_to_string(std::path::Path::new(ROOT).join("docs/operations.md")).unwrap();
    let runbook = &runbook[runbook.find("## Runbook").expect("the runbook")..];
    let blocks: Vec<String> = runbook
        .split("```toml\n")
        .skip(1)
        .map(|b| b[..b.find("```").unwrap()].lines().map(|l| format!("{}\n", l.trim_start())).collect())
        .collect();
    assert_eq!(blocks.len(), 2, "the route (step 2) and its guard and ramp (step 5)");
    let shipped = std::fs::read_to_string(std::path::Path::new(ROOT).join("flags.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags.toml");
    std::fs::write(&flags, format!("{shipped}\n{}\n{}", blocks[0], blocks[1])).unwrap();
    let (code, out, err) = banyan(&["check", "--flags", flags.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let name = blocks[0].lines().next().unwrap().trim_start_matches("[routes.").trim_end_matches(']');
    let row = out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("0%") && row.contains("native /api/1/"), "{row}");
}

#[test]
fn check_names_line_column_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags.toml");
    std::fs::write(&flags, BROKEN).unwrap();
    let (code, out, err) = banyan(&["check", "--flags", flags.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "error: {}:4:10: route `ping`: native = 150 is out of range: expected 0 to 100 (percent)\n",
            flags.display()
        )
    );

    let config = dir.path().join("banyan.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:4242\"\n\n[legacy]\nurl = \"ftp://x\"\n").unwrap();
    let (code, _, err) = banyan(&["check", "--config", config.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.starts_with(&format!("error: {}:4:7: invalid legacy URL", config.display())), "{err}");

    // The admin tokens file too.
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ops:a-long-enough-token-1234\nshort:abc\n").unwrap();
    std::fs::write(&config, "[admin]\ntokens_file = \"tokens\"\n").unwrap();
    let (code, _, err) = banyan(&["check", "--config", config.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.starts_with(&format!("error: {}:2:1:", tokens.display())) && err.contains("too short"), "{err}");
}

/// `check` is the dry run of `serve`: whatever serve refuses before it binds, check refuses
/// with the same words. Its options say what they are for.
#[test]
fn check_refuses_what_serve_refuses_and_explains_its_options() {
    let check = |token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_banyan"));
        cmd.args(["check", "--admin-listen", "0.0.0.0:4243"]).current_dir(ROOT).env_remove("BANYAN_ADMIN_TOKEN");
        if let Some(t) = token {
            cmd.env("BANYAN_ADMIN_TOKEN", t);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8(out.stderr).unwrap())
    };
    let (ok, err) = check(None);
    assert!(!ok, "an admin listener open to the network without a token passed the check");
    assert!(err.contains("0.0.0.0:4243, which is not loopback, and no admin token is configured"), "{err}");
    // (serve's refusal: `a_public_admin_listener_without_a_token_refuses_to_start`)
    assert!(check(Some("a-long-enough-token-for-the-check")).0);

    let (code, out, _) = banyan(&["check", "--help"]);
    assert_eq!(code, 0);
    for (option, says) in [("--config", "Config file"), ("--flags", "Flags file"), ("--admin-listen", "Admin listen")] {
        let line = out.lines().find(|l| l.trim_start().starts_with(option)).unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains(says), "{option} has no description: {out}");
    }
}

#[test]
fn serve_refuses_to_start_on_a_broken_flags_file_with_the_same_message() {
    let (status, log) = Banyan::start_failing(Options {
        legacy: "http://127.0.0.1:9".into(),
        flags: BROKEN,
        config: "",
        data_dir: None,
    });
    assert!(!status.success());
    assert!(log.contains(":4:10: route `ping`: native = 150 is out of range: expected 0 to 100 (percent)"), "{log}");
    assert!(!log.contains("banyan ready"));
}

#[test]
fn sigterm_and_sigint_finish_the_request_in_flight_and_exit_zero() {
    let legacy = common::Legacy::start();
    for signal in ["TERM", "INT"] {
        let mut banyan = Banyan::start(&legacy.url(), "");
        let url = banyan.url("/_test/sleep?ms=700");
        let slow = std::thread::spawn(move || {
            let r = common::client().get(url).send().unwrap();
            (r.status().as_u16(), r.text().unwrap())
        });
        // Wait until legacy has the request, then stop banyan under it.
        let sleeping = || {
            let body = common::client().get(format!("{}/_test/count", legacy.url())).send().unwrap().text().unwrap();
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["result"]["sleeping"].as_u64().unwrap()
        };
        assert!(common::eventually(std::time::Duration::from_secs(5), || sleeping() == 1).is_some());
        banyan.signal(signal);
        let (status, body) = slow.join().unwrap();
        assert_eq!((status, body.as_str()), (200, r#"{"result": "slept", "message": ""}"#), "SIG{signal}");
        let exit = banyan.wait_exit(std::time::Duration::from_secs(5)).expect("banyan exited");
        assert!(exit.success(), "SIG{signal}: {exit:?}");
        assert!(std::net::TcpStream::connect(banyan.addr).is_err(), "still accepting after SIG{signal}");
    }
}

/// A drain that runs out of time says how many connections it cut and exits non-zero (a
/// supervisor sees requests were lost); until then the admin listener keeps answering, so
/// `/metrics` and `/readyz` are there while an operator watches the drain.
#[test]
fn a_drain_that_runs_out_of_time_says_what_it_cut_and_exits_non_zero() {
    let legacy = common::Legacy::start();
    let mut banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: "",
        config: "[server]\ndrain_timeout_ms = 2000\n",
        data_dir: None,
    });
    let url = banyan.url("/_test/sleep?ms=20000");
    let slow = std::thread::spawn(move || common::client().get(url).send().map(|r| r.status().as_u16()));
    let sleeping = || {
        let body = common::client().get(format!("{}/_test/count", legacy.url())).send().unwrap().text().unwrap();
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["result"]["sleeping"].as_u64().unwrap()
    };
    assert!(common::eventually(std::time::Duration::from_secs(5), || sleeping() == 1).is_some());
    let from = banyan.log.len();
    banyan.signal("TERM");
    banyan.log.wait_for(from, &["draining and stopping"], std::time::Duration::from_secs(5)).expect("draining");
    let admin = |path: &str| common::client().get(format!("http://{}{path}", banyan.admin)).send();
    let ready = admin("/readyz").expect("the admin listener answers during the drain");
    assert_eq!(ready.status(), 503);
    assert_eq!(admin("/metrics").expect("metrics during the drain").status(), 200);

    let exit = banyan.wait_exit(std::time::Duration::from_secs(10)).expect("banyan exited at the drain timeout");
    assert!(!exit.success(), "{exit:?}");
    let line = banyan.log.wait_for(from, &["stopped at the drain timeout"], std::time::Duration::from_secs(1));
    let line = line.unwrap_or_else(|| panic!("{}", banyan.log.text()));
    assert!(line.contains("1 connections cut"), "{line}");
    assert!(slow.join().unwrap().is_err(), "the cut request got an answer");
}

/// `[server] shutdown_delay_ms`: on SIGTERM a replica turns unready at once (so a
/// Kubernetes Service stops choosing it) but keeps accepting new connections until the
/// delay ends, then drains; a second signal ends the wait.
#[test]
fn with_a_shutdown_delay_sigterm_turns_unready_and_keeps_accepting_until_a_second_signal() {
    let legacy = common::Legacy::start();
    let mut banyan = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: "",
        config: "[server]\nshutdown_delay_ms = 60000\n",
        data_dir: None,
    });
    let ready = |b: &Banyan| common::client().get(format!("http://{}/readyz", b.admin)).send().unwrap();
    assert_eq!(ready(&banyan).status(), 200);
    banyan.signal("TERM");
    let draining = common::eventually(std::time::Duration::from_secs(5), || ready(&banyan).status() == 503);
    assert!(draining.is_some(), "not unready after SIGTERM");
    let body: serde_json::Value = serde_json::from_str(&ready(&banyan).text().unwrap()).unwrap();
    assert_eq!(body["draining"], true, "{body}");
    let probe = common::client().get(format!("http://{}/readyz?legacy=optional", banyan.admin)).send().unwrap();
    assert_eq!(probe.status(), 503, "Kubernetes' probe sees the drain too");
    // A new client (a fresh connection, as from a Service not yet updated) is served.
    for _ in 0..3 {
        let r = common::client().get(banyan.url("/api/1/ping")).send().unwrap();
        assert_eq!(r.text().unwrap(), r#"{"result": true, "message": ""}"#);
    }
    assert!(banyan.is_running());
    banyan.signal("TERM");
    let exit = banyan.wait_exit(std::time::Duration::from_secs(10)).expect("the second SIGTERM ends the delay");
    assert!(exit.success(), "{exit:?}");

    // Without a second signal, the delay ends by itself and banyan drains and exits.
    let mut short = Banyan::start_with(Options {
        legacy: legacy.url(),
        flags: "",
        config: "[server]\nshutdown_delay_ms = 300\n",
        data_dir: None,
    });
    short.signal("TERM");
    let exit = short.wait_exit(std::time::Duration::from_secs(10)).expect("the delay ends by itself");
    assert!(exit.success(), "{exit:?}");
    assert!(short.log.text().contains("accepting until the delay ends"), "{}", short.log.text());
}

/// Listeners share their port between workers only: a second banyan on a port in use
/// must fail, not quietly take part of the traffic.
#[test]
fn a_second_banyan_on_the_same_port_refuses_to_start() {
    let first = Banyan::start("http://127.0.0.1:9", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flags.toml"), "").unwrap();
    std::fs::write(dir.path().join("banyan.toml"), "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_banyan"))
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("banyan.toml"))
        .args(["--listen", &first.addr.to_string(), "--admin-listen", "127.0.0.1:0"])
        .arg("--flags")
        .arg(dir.path().join("flags.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {}", first.addr)), "{err}");
}

/// What `git status` lists in the checkout, untracked files included.
fn git_status() -> String {
    let out = Command::new("git").args(["status", "--porcelain", "--untracked-files=all"]).current_dir(ROOT).output();
    String::from_utf8(out.expect("git").stdout).unwrap()
}

/// The local demo (`scripts/run-local.sh`) keeps what it writes (rotki's data, banyan's
/// audit log) under `target/run-local/`: after a run the checkout is as it was.
#[test]
fn the_demo_leaves_the_checkout_as_it_was() {
    let before = git_status();
    let mut demo = Command::new("bash")
        .arg(std::path::Path::new(ROOT).join("scripts/run-local.sh"))
        .env("BANYAN_BIN", env!("CARGO_BIN_EXE_banyan"))
        .env_remove("ROTKI_DATA_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = common::client();
    let flags = common::eventually_value(std::time::Duration::from_secs(60), || {
        let ping = client.get("http://127.0.0.1:4242/api/1/ping").send().ok()?;
        (ping.status() == 200).then_some(())?;
        let flags = client.get("http://127.0.0.1:4243/api/flags").send().ok()?.text().ok()?;
        serde_json::from_str::<serde_json::Value>(&flags).ok()
    });
    let audit = flags.as_ref().map(|f| f["audit_log"].as_str().unwrap_or("").to_string());
    // SIGTERM: the script stops both processes.
    let _ = Command::new("kill").args(["-TERM", &demo.id().to_string()]).status();
    let _ = demo.wait();
    let audit = audit.expect("the demo did not come up on 127.0.0.1:4242 and :4243");
    let state = std::path::Path::new(ROOT).join("target/run-local");
    assert!(std::path::Path::new(&audit).starts_with(&state), "the audit log is at {audit}");
    assert_eq!(git_status(), before, "the demo changed the checkout");
}

/// The front door's keys (`[static]`, `[upstreams.NAME]`) are checked where they are
/// written: each mistake is named at its line and column, and nothing starts.
#[test]
fn check_locates_mistakes_in_the_front_doors_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("frontend")).unwrap();
    std::fs::write(dir.path().join("frontend/index.html"), "<html></html>").unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let config = dir.path().join("banyan.toml");
    let colibri = "[upstreams.colibri]\nurl = \"http://127.0.0.1:4343\"\nprefix = \"/colibri/\"\n";
    let cases = [
        ("[static]\nroot = \"missing\"\n", "2:8", "root = "),
        ("[static]\nroot = \"a-file\"\n", "2:8", "not a directory"),
        (
            "[static]\nroot = \"frontend\"\nimmutable_regex = \"(\"\n",
            "3:19",
            "immutable_regex is not a regular expression",
        ),
        ("[static]\nroot = \"frontend\"\ncache = 1\n", "3:1", "unknown field `cache`"),
        ("[upstreams.colibri]\nurl = \"https://x\"\nprefix = \"/colibri/\"\n", "2:7", "only http:// is supported"),
        ("[upstreams.colibri]\nurl = \"http://x:1\"\nprefix = \"colibri\"\n", "3:10", "starts and ends with '/'"),
        ("[upstreams.colibri]\nurl = \"http://x:1\"\nprefix = \"/api/\"\n", "3:10", "/api/ is rotki-core's"),
        (
            &format!("{colibri}[upstreams.icons]\nurl = \"http://x:1\"\nprefix = \"/colibri/icons/\"\n"),
            "6:10",
            "overlaps [upstreams.colibri]",
        ),
        ("[upstreams.legacy]\nurl = \"http://x:1\"\nprefix = \"/x/\"\n", "2:7", "not \"native\" or \"legacy\""),
    ];
    for (text, at, says) in cases {
        std::fs::write(&config, text).unwrap();
        let (code, out, err) = banyan(&["check", "--config", config.to_str().unwrap(), "--flags", "flags.toml"]);
        assert_ne!(code, 0, "{text}");
        assert_eq!(out, "");
        assert!(err.starts_with(&format!("error: {}:{at}: ", config.display())) && err.contains(says), "{text}\n{err}");
    }
    // The image's own configuration passes, once its paths exist.
    let shipped = std::fs::read_to_string(std::path::Path::new(ROOT).join("deploy/rotki-image/banyan.toml")).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let here = shipped
        .replace("/opt/rotki/frontend", "frontend")
        .replace("\"/data\"", &format!("{:?}", dir.path()))
        .replace("/logs/banyan-audit.jsonl", audit.to_str().unwrap());
    std::fs::write(&config, here).unwrap();
    std::fs::write(dir.path().join("flags.toml"), "").unwrap();
    let flags = dir.path().join("flags.toml");
    let (code, out, err) = banyan(&["check", "--config", config.to_str().unwrap(), "--flags", flags.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("upstream colibri: /colibri/* -> http://127.0.0.1:4343/ (prefix taken off)\n"), "{out}");
    assert!(out.contains(&format!("static: {}", dir.path().join("frontend").display())), "{out}");
}
