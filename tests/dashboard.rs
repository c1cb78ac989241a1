//! The rollout dashboard in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test.sh`), driven over WebDriver: the page
//! loads and shows the routes and their traffic, a wrong token is refused, an operator
//! moves a route to 50 % with the right token, `flags.toml` changes (comments kept), the
//! page shows the new generation and the audit entry, and an invalid file on disk shows a
//! banner. A screenshot is kept in `target/test-artifacts/`.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

const FLAGS: &str = "# Rollout of the read-only endpoints.\n\
[routes.ping]\n\
path = \"/api/1/ping\"\n\
methods = [\"GET\"]\n\
native = 0   # legacy until the shadow run is clean\n\
\n\
[routes.info]\n\
path = \"/api/1/info\"\n\
methods = [\"GET\"]\n\
native = 100\n";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> (Driver, u16) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
    let driver = Driver(child);
    eventually(Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        .expect("chromedriver listens");
    (driver, port)
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,1100"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

/// The text of the first element `css` selects, once `ok` holds for it (within 15 s).
async fn text_when(page: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(e) = page.find(Locator::Css(css)).await {
            last = e.text().await.unwrap_or_default();
            if ok(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: condition not met; last text {last:?}");
}

/// Types `value` into a route's native % field and presses Set. The page redraws its table
/// every two seconds, which can replace an element between finding and using it: the
/// whole step is retried then.
async fn set_native(page: &Client, route: &str, value: &str) {
    let input = format!("#routes tr[data-route={route}] input.native-input");
    let button = format!("#routes tr[data-route={route}] button.set-native");
    let mut last = None;
    for _ in 0..20 {
        let step = async {
            let field = page.find(Locator::Css(&input)).await?;
            field.clear().await?;
            field.send_keys(value).await?;
            page.find(Locator::Css(&button)).await?.click().await
        };
        match step.await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot set {route} to {value}: {last:?}");
}

/// Clicks what `css` selects until `done` holds: again only if the page redrew the
/// element before the click landed (a toggle must not be clicked twice).
async fn click_until(page: &Client, css: &str, done: impl Fn() -> bool) {
    for _ in 0..20 {
        if done() {
            return;
        }
        if let Ok(e) = page.find(Locator::Css(css)).await {
            let _ = e.click().await;
        }
        for _ in 0..20 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("clicking {css} did not take effect");
}

/// Waits until the generation banyan serves satisfies `ok`; returns it.
async fn eventually_generation(admin: &str, ok: impl Fn(u64) -> bool) -> u64 {
    for _ in 0..150 {
        let g = banyan_generation(admin).await;
        if ok(g) {
            return g;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the generation did not move");
}

/// The generation banyan serves, from its admin API.
async fn banyan_generation(admin: &str) -> u64 {
    let url = format!("{admin}api/flags");
    let body = tokio::task::spawn_blocking(move || client().get(url).send().unwrap().text().unwrap()).await.unwrap();
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["generation"].as_u64().unwrap()
}

/// A request from the test, off the runtime's thread (the client blocks).
async fn http_get(url: &str) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || client().get(url).send().unwrap()).await.unwrap();
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_operator_moves_a_route_to_half_native_from_the_dashboard() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    let http = client();
    for _ in 0..12 {
        http.get(banyan.url("/api/1/ping")).send().unwrap();
    }
    for _ in 0..3 {
        http.get(banyan.url("/api/1/info")).send().unwrap();
    }
    // Legacy-only traffic, to rank on the page.
    for _ in 0..6 {
        http.get(banyan.url("/api/1/tasks")).send().unwrap();
        http.get(banyan.url("/api/1/oracles")).send().unwrap();
    }
    let (_driver, port) = chromedriver();
    let flags_path = banyan.flags_path();
    let admin = format!("http://{}/", banyan.admin);
    let ping_url = banyan.url("/api/1/ping");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let page = browser(port).await;
        page.goto(&admin).await.unwrap();

        // The routes and their traffic.
        let ping = text_when(&page, "#routes tr[data-route=ping]", |t| t.contains("0 % native")).await;
        assert!(ping.contains("/api/1/ping"), "{ping}");
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("100 % native")).await;
        assert_eq!(text_when(&page, "#generation", |t| t == "1").await, "1");
        text_when(&page, "#progress", |t| {
            t.contains("of 162 rotki routes native (") && t.contains("with a native handler")
        })
        .await;
        text_when(&page, "#legacy-routes tbody", |t| t.contains("/api/1/tasks")).await;
        // A route only legacy answers today, though this build could: ready to be turned on.
        text_when(&page, "#legacy-routes tr[data-route='/api/1/oracles']", |t| t.contains("ready: add a route")).await;

        // A wrong token changes nothing and says why.
        page.find(Locator::Id("token")).await.unwrap().send_keys("not-the-token-at-all").await.unwrap();
        page.find(Locator::Id("token-save")).await.unwrap().click().await.unwrap();
        set_native(&page, "ping", "50").await;
        text_when(&page, "#message", |t| t.contains("401")).await;
        assert_eq!(std::fs::read_to_string(&flags_path).unwrap(), FLAGS);

        // The right token moves the route.
        let token = page.find(Locator::Id("token")).await.unwrap();
        token.clear().await.unwrap();
        token.send_keys(ADMIN_TOKEN).await.unwrap();
        page.find(Locator::Id("token-save")).await.unwrap().click().await.unwrap();
        set_native(&page, "ping", "50").await;

        // The page shows the generation banyan now serves.
        let serving = eventually_generation(&admin, |g| g >= 2).await;
        text_when(&page, "#generation", |t| t == serving.to_string()).await;
        text_when(&page, "#routes tr[data-route=ping]", |t| t.contains("50 % native")).await;
        let audit = text_when(&page, "#audit", |t| t.contains("ping.native")).await;
        assert!(audit.contains("api (env)") && audit.contains("0 → 50"), "{audit}");
        let file = std::fs::read_to_string(&flags_path).unwrap();
        assert_eq!(file, FLAGS.replace("native = 0   #", "native = 50   #"));

        // Shadow on, from the same row: the file gets the key, the row says so, and the
        // copies' outcomes show up with a link to the differences.
        let shadowed = || std::fs::read_to_string(&flags_path).unwrap().contains("shadow = true");
        click_until(&page, "#routes tr[data-route=ping] button.shadow-toggle", shadowed).await;
        text_when(&page, "#routes tr[data-route=ping] button.shadow-toggle", |t| t == "shadow on").await;
        assert!(std::fs::read_to_string(&flags_path).unwrap().contains("shadow = true"));
        for _ in 0..5 {
            http_get(&ping_url).await;
        }
        let shadow = text_when(&page, "#routes tr[data-route=ping]", |t| t.contains("% match")).await;
        assert!(shadow.contains("100.0 % match"), "{shadow}");
        let link = page.find(Locator::Css("#routes tr[data-route=ping] a")).await.unwrap();
        assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("/api/shadow/ping"));

        let shot = page.screenshot().await.unwrap();
        std::fs::write(artifacts().join("dashboard.png"), shot).unwrap();

        // A broken file on disk shows a banner; the page keeps serving the last good one.
        std::fs::write(&flags_path, "[routes.ping\n").unwrap();
        let banner = text_when(&page, "#reload-banner", |t| t.contains("flags.toml:1")).await;
        let serving = banyan_generation(&admin).await;
        assert!(banner.contains(&format!("still serving generation {serving}")), "{banner}");
        std::fs::write(artifacts().join("dashboard-invalid-file.png"), page.screenshot().await.unwrap()).unwrap();
        page.close().await.unwrap();
    });
}

/// Flags from a ConfigMap, and a guard's rollback that the ConfigMap cannot take: the
/// page says where flags are managed, offers no control that would be refused, and warns
/// that the rollback lives only in this replica's memory until the ConfigMap takes it.
#[test]
fn a_rollback_held_in_memory_is_shown_until_the_configmap_takes_it() {
    let legacy = Legacy::start();
    let mut volume = common::configmap::ConfigMapDir::new(&[("flags.toml", &guarded_info(100))]);
    let config = format!("{}flags_managed_by = \"ConfigMap rotki/banyan-flags\"\n", version_mismatch(&legacy));
    let banyan = Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), &config, &[]);
    let http = client();
    for _ in 0..6 {
        http.get(banyan.url("/api/1/info")).send().unwrap();
    }
    eventually(Duration::from_secs(10), || !banyan.flags_state()["routes"][0]["runtime"]["override"].is_null())
        .expect("the guard trips");
    let (_driver, port) = chromedriver();
    let admin = format!("http://{}/", banyan.admin);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let page = browser(port).await;
        page.goto(&admin).await.unwrap();
        let note = text_when(&page, "#managed-note", |t| !t.is_empty()).await;
        assert!(note.contains("Kubernetes ConfigMap") && note.contains("ConfigMap rotki/banyan-flags"), "{note}");
        text_when(&page, "#flags-source", |t| t.contains("managed by configmap")).await;
        let held = text_when(&page, "#override-banner", |t| !t.is_empty()).await;
        assert!(held.contains("info at 0 % (the file says 100 %)"), "{held}");
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("held at 0 % in memory")).await;
        let set = page.find(Locator::Css("#routes tr[data-route=info] button.set-native")).await.unwrap();
        assert_eq!(set.attr("disabled").await.unwrap().as_deref(), Some("true"));
        std::fs::write(artifacts().join("dashboard-held-in-memory.png"), page.screenshot().await.unwrap()).unwrap();

        // The ConfigMap takes the rollback: the warning goes.
        volume.update(&[("flags.toml", &guarded_info(0))]);
        text_when(&page, "#override-banner", |t| t.is_empty()).await;
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("0 % native") && !t.contains("in memory")).await;
        page.close().await.unwrap();
    });
}
