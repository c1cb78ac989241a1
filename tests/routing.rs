//! Flags decide who answers: 0 and 100 percent, an exact split for known sticky keys,
//! the override header, the kill switch, and legacy for everything unmatched.

mod common;

use common::{backend, client, get_route, Banyan, Legacy};

fn info_flags(native: &str, sticky: &str) -> String {
    get_route("ping", "/api/1/ping", "100", "")
        + &get_route("info", "/api/1/info", native, &format!("sticky = \"{sticky}\"\ngroup = \"pilot\""))
}

/// Which of `user-0`..`user-999` are served natively, by index.
fn native_keys(banyan: &Banyan) -> Vec<usize> {
    let c = client();
    (0..1000)
        .filter(|i| {
            let r = c.get(banyan.url("/api/1/info")).header("x-session-id", format!("user-{i}")).send().unwrap();
            assert_eq!(r.status(), 200);
            backend(&r) == "native"
        })
        .collect()
}

#[test]
fn zero_and_hundred_percent() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &info_flags("0", "random"));
    let c = client();
    for _ in 0..50 {
        assert_eq!(backend(&c.get(banyan.url("/api/1/info")).send().unwrap()), "legacy");
        assert_eq!(backend(&c.get(banyan.url("/api/1/ping")).send().unwrap()), "native");
    }
}

/// The expected keys were computed independently with Python's `mmh3`:
/// `mmh3.hash("pilot:user-<i>", 0, signed=False) % 10000 < 1250`.
#[test]
fn a_percentage_splits_known_keys_exactly() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &info_flags("12.5", "header:x-session-id"));
    let native = native_keys(&banyan);
    assert_eq!(native.len(), 119);
    assert_eq!(native[..12], [24, 31, 46, 55, 65, 73, 74, 82, 84, 94, 106, 108]);
    // Sticky: the same key gets the same answer every time.
    assert_eq!(native_keys(&banyan), native);

    // Raising the percentage only adds keys.
    banyan.write_flags(&info_flags("50", "header:x-session-id"));
    let c = client();
    common::eventually(std::time::Duration::from_secs(5), || {
        backend(&c.get(banyan.url("/api/1/info")).header("x-session-id", "user-1").send().unwrap()) == "native"
    })
    .expect("50% applied");
    let wider = native_keys(&banyan);
    assert_eq!(wider.len(), 508);
    assert!(native.iter().all(|k| wider.contains(k)), "a key moved back to legacy when the share went up");
}

#[test]
fn cookie_and_ip_stickiness() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &info_flags("50", "cookie:sid"));
    let c = client();
    let by_cookie =
        |v: &str| backend(&c.get(banyan.url("/api/1/info")).header("cookie", format!("a=b; sid={v}")).send().unwrap());
    // mmh3("pilot:user-1") % 10000 < 5000, mmh3("pilot:user-0") % 10000 >= 5000.
    for _ in 0..5 {
        assert_eq!(by_cookie("user-1"), "native");
        assert_eq!(by_cookie("user-0"), "legacy");
    }
    drop(banyan);

    // mmh3("pilot:127.0.0.1") % 10000 = 1126: native at 11.27 %, legacy at 11.26 %.
    let banyan = Banyan::start(&legacy.url(), &info_flags("11.27", "ip"));
    assert!((0..10).all(|_| backend(&c.get(banyan.url("/api/1/info")).send().unwrap()) == "native"));
    drop(banyan);
    let banyan = Banyan::start(&legacy.url(), &info_flags("11.26", "ip"));
    assert!((0..10).all(|_| backend(&c.get(banyan.url("/api/1/info")).send().unwrap()) == "legacy"));
}

#[test]
fn random_stickiness_splits_roughly() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &info_flags("50", "random"));
    let c = client();
    let native = (0..1000).filter(|_| backend(&c.get(banyan.url("/api/1/info")).send().unwrap()) == "native").count();
    // Binomial(1000, 0.5): 350..650 is more than nine standard deviations wide.
    assert!((350..650).contains(&native), "{native} of 1000 native at 50 %");
}

#[test]
fn override_header_forces_a_backend_only_when_configured() {
    let legacy = Legacy::start();
    let flags = format!("[override]\nheader = \"x-banyan-force\"\n{}", info_flags("0", "random"))
        + "\n[routes.exchanges]\npath = \"/api/1/exchanges\"\n";
    let banyan = Banyan::start(&legacy.url(), &flags);
    let c = client();
    let get = |path: &str, force: Option<&str>| {
        let mut r = c.get(banyan.url(path));
        if let Some(f) = force {
            r = r.header("x-banyan-force", f);
        }
        backend(&r.send().unwrap())
    };
    assert_eq!(get("/api/1/info", Some("native")), "native");
    assert_eq!(get("/api/1/info", None), "legacy");
    assert_eq!(get("/api/1/ping", Some("legacy")), "legacy");
    assert_eq!(get("/api/1/ping", Some("other")), "native");
    // No native handler behind the route: legacy whatever the header says.
    assert_eq!(get("/api/1/exchanges", Some("native")), "legacy");
    drop(banyan);

    let banyan = Banyan::start(&legacy.url(), &info_flags("0", "random"));
    let r = c.get(banyan.url("/api/1/info")).header("x-banyan-force", "native").send().unwrap();
    assert_eq!(backend(&r), "legacy", "the override header must be off unless configured");
}

#[test]
fn kill_switch_sends_everything_to_legacy() {
    let legacy = Legacy::start();
    let flags = format!(
        "[defaults]\nlegacy_only = true\n[override]\nheader = \"x-banyan-force\"\n{}",
        info_flags("100", "random")
    );
    let banyan = Banyan::start(&legacy.url(), &flags);
    let c = client();
    for path in ["/api/1/ping", "/api/1/info"] {
        let r = c.get(banyan.url(path)).header("x-banyan-force", "native").send().unwrap();
        assert_eq!(backend(&r), "legacy", "{path}");
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn unmatched_requests_go_to_legacy() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), &info_flags("100", "random"));
    let c = client();
    for path in ["/", "/api/1/ping/", "/api/1/settings", "/ws", "/api//1/ping", "/api/1/assets/types"] {
        let r = c.get(banyan.url(path)).send().unwrap();
        assert_eq!(backend(&r), "legacy", "{path}");
        let direct = c.get(format!("{}{}", legacy.url(), path)).send().unwrap();
        assert_eq!(r.status(), direct.status(), "{path}");
    }
}
