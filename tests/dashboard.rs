//! The rollout dashboard in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test.sh`), driven over WebDriver: the page
//! loads and shows the routes and their traffic, a wrong token is refused, an operator
//! moves a route to 50 % with the right token, `flags.toml` changes (comments kept), the
//! page shows the new generation and the audit entry, and an invalid file on disk shows a
//! banner. On a 1366-pixel screen every column of the routes table shows, the filter and
//! the sortable headers hold across the page's redraws, and the chart has a clock-time
//! axis. "Use token" checks the token, and the kill switch sends everything to legacy and
//! back. Screenshots are kept in `target/test-artifacts/`.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::browser::{browser, chromedriver};
use common::*;
use fantoccini::{Client, Locator};

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

/// `/api/flags` as banyan serves it now, fetched by the test.
async fn flags_json(admin: &str) -> serde_json::Value {
    let url = format!("{admin}api/flags");
    let body = tokio::task::spawn_blocking(move || client().get(url).send().unwrap().text().unwrap()).await.unwrap();
    serde_json::from_str(&body).unwrap()
}

/// Who answered a GET of `url` (`x-banyan-backend`).
async fn answered_by(url: &str) -> String {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || backend(&client().get(url).send().unwrap())).await.unwrap()
}

/// What a script run in the page returns.
async fn script(page: &Client, js: &str) -> serde_json::Value {
    page.execute(js, vec![]).await.unwrap()
}

/// The routes table's rows, top to bottom, by route name.
async fn route_rows(page: &Client) -> Vec<String> {
    let rows = script(
        page,
        "return [...document.querySelectorAll('#routes tbody tr[data-route]')].map((tr) => tr.dataset.route)",
    )
    .await;
    serde_json::from_value(rows).unwrap()
}

/// Waits until the routes table lists exactly `want`, in this order (within 15 s).
async fn rows_become(page: &Client, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = route_rows(page).await;
        if rows == want {
            return;
        }
        assert!(Instant::now() < deadline, "the routes table shows {rows:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page has drawn two more polls of the admin API than it had: what it
/// shows then was redrawn from fresh data at least once.
async fn two_more_polls(page: &Client) {
    let polls = "return Number(document.body.dataset.polls || 0)";
    let start = script(page, polls).await.as_f64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while script(page, polls).await.as_f64().unwrap() < start + 2.0 {
        assert!(Instant::now() < deadline, "the page stopped polling");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `ok` holds (within 15 s).
async fn until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Answers the page's confirm() once it is up (OK or Cancel); returns its question.
async fn answer_confirm(page: &Client, accept: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(question) = page.get_alert_text().await {
            if accept {
                page.accept_alert().await.unwrap();
            } else {
                page.dismiss_alert().await.unwrap();
            }
            return question;
        }
        assert!(Instant::now() < deadline, "no confirm() came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
        // The button names what it does next.
        text_when(&page, "#routes tr[data-route=ping] button.shadow-toggle", |t| t == "Stop shadow").await;
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

/// A route with a long name, the default sticky header, shadow with noise, a guard and a
/// ramp a guard stopped: what makes a row of the routes table wide.
const ASSETS: &str = "asset_types_for_the_asset_manager_view";

const WIDE_FLAGS: &str = "# A wide table: long names, a sticky header, shadows, guards and a stopped ramp.\n\
[defaults]\n\
sticky = \"header:x-rotki-session-identifier\"\n\
\n\
[routes.asset_types_for_the_asset_manager_view]\n\
path = \"/api/1/assets/types\"\n\
methods = [\"GET\"]\n\
native = 25\n\
shadow = true\n\
shadow_noise = true\n\
shadow_ignore = [\"/result/*/timestamp\"]\n\
\n\
[routes.asset_types_for_the_asset_manager_view.guard]\n\
max_error_rate = 0.01\n\
max_p99_ms = 250\n\
\n\
[routes.asset_types_for_the_asset_manager_view.ramp]\n\
steps = [25, 50, 100]\n\
interval_secs = 3600\n\
stopped = \"guard tripped at 2026-11-21T13:17:35Z: native error rate 12.0 % above 1.0 % over 60 s\"\n\
\n\
[routes.info]\n\
path = \"/api/1/info\"\n\
methods = [\"GET\"]\n\
native = 100\n\
shadow = true\n\
\n\
[routes.ping]\n\
path = \"/api/1/ping\"\n\
methods = [\"GET\"]\n\
native = 50\n\
sticky = \"cookie:rotki-session\"\n\
shadow = true\n\
\n\
[routes.ping.guard]\n\
max_error_rate = 0.5\n\
\n\
[routes.blockchain_balances]\n\
path = \"/api/1/balances/blockchains\"\n\
methods = [\"GET\", \"POST\"]\n\
native = 0\n";

/// Traffic that ranks the routes: ping busiest, then the asset types, then info.
fn send_traffic(base: &str) {
    let http = client();
    for (path, n) in [("/api/1/ping", 12), ("/api/1/assets/types", 6), ("/api/1/info", 3)] {
        for _ in 0..n {
            http.get(format!("{base}{path}")).send().unwrap();
        }
    }
}

/// On a 1366-pixel screen (a common laptop) every column of the routes table is on the
/// screen and so is every control in it, with nothing to scroll sideways; a stopped ramp
/// says why instead of "0 trips"; the chart opens on the busiest route with clock times
/// under it; the filter and the sort hold across the page's redraws every two seconds.
#[test]
fn the_routes_table_fits_a_1366_pixel_screen_and_filters_and_sorts() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), WIDE_FLAGS);
    let base = banyan.url("");
    send_traffic(&base);
    let (_driver, port) = chromedriver();
    let admin = format!("http://{}/", banyan.admin);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let page = browser(port).await;
        page.set_window_size(1366, 800).await.unwrap();
        page.goto(&admin).await.unwrap();

        // Every row as wide as it gets: the shadow outcomes are in, the stopped ramp's note.
        text_when(&page, "#routes tr[data-route=ping]", |t| t.contains("% match")).await;
        let stopped = "ramp stopped: guard tripped at 2026-11-21T13:17:35Z";
        let assets = text_when(&page, &format!("#routes tr[data-route={ASSETS}]"), |t| t.contains(stopped)).await;
        assert!(!assets.contains("0 trips"), "{assets}");

        let fit = script(
            &page,
            "const width = document.documentElement.clientWidth; \
             const off = [...document.querySelectorAll('#routes thead th, #routes tbody button, #routes tbody input')] \
               .filter((e) => e.getBoundingClientRect().right > width) \
               .map((e) => e.textContent || e.className); \
             return {width, inner: window.innerWidth, page: document.documentElement.scrollWidth, off};",
        )
        .await;
        assert!(fit["inner"].as_f64().unwrap() <= 1366.0, "the window is wider than 1366 px: {fit}");
        assert_eq!(fit["off"], serde_json::json!([]), "off the screen: {fit}");
        assert!(fit["page"].as_f64().unwrap() <= fit["width"].as_f64().unwrap(), "the page scrolls sideways: {fit}");
        std::fs::write(artifacts().join("dashboard-1366.png"), page.screenshot().await.unwrap()).unwrap();

        // Nobody picked a route: the chart shows the busiest, clock times under it (one
        // every five minutes of the fifteen) and its unit beside it.
        text_when(&page, "#chart-title", |t| t.contains(": ping")).await;
        let axis = script(
            &page,
            "return {ticks: [...document.querySelectorAll('#chart text.tick')].map((t) => t.textContent), \
             units: [...document.querySelectorAll('#chart text.ylabel')].map((t) => t.textContent)};",
        )
        .await;
        let ticks: Vec<String> = serde_json::from_value(axis["ticks"].clone()).unwrap();
        assert!(ticks.len() >= 2, "{axis}");
        assert!(ticks.iter().all(|t| t.len() == 5 && t.as_bytes()[2] == b':'), "not clock times: {axis}");
        assert_eq!(axis["units"][0], "req/s", "{axis}");

        // The filter matches names and paths, whatever the case, and holds across redraws.
        let filter = page.find(Locator::Id("route-filter")).await.unwrap();
        filter.send_keys("PING").await.unwrap();
        rows_become(&page, &["ping"]).await;
        two_more_polls(&page).await;
        assert_eq!(route_rows(&page).await, ["ping"]);
        filter.clear().await.unwrap();
        filter.send_keys("/assets/").await.unwrap();
        rows_become(&page, &[ASSETS]).await;
        filter.clear().await.unwrap();
        rows_become(&page, &[ASSETS, "info", "ping", "blockchain_balances"]).await;

        // Sorted by traffic, busiest first, across redraws; again: the other way round.
        tokio::task::spawn_blocking(move || send_traffic(&base)).await.unwrap();
        let by_rps = "#routes thead button.sort[data-sort=rps]";
        page.find(Locator::Css(by_rps)).await.unwrap().click().await.unwrap();
        let busiest_first = ["ping", ASSETS, "info", "blockchain_balances"];
        rows_become(&page, &busiest_first).await;
        two_more_polls(&page).await;
        assert_eq!(route_rows(&page).await, busiest_first);
        page.find(Locator::Css(by_rps)).await.unwrap().click().await.unwrap();
        rows_become(&page, &["blockchain_balances", "info", ASSETS, "ping"]).await;
        page.close().await.unwrap();
    });
}

/// "Use token" asks banyan whose token it is and keeps only one it knows. The kill switch
/// asks first, then writes `legacy_only = true` into the file: every request goes to
/// legacy and each row says so beside what the file says; turned off, the shares are back.
#[test]
fn the_kill_switch_sends_everything_to_legacy_and_back_from_the_dashboard() {
    let legacy = Legacy::start();
    let banyan = Banyan::start(&legacy.url(), FLAGS);
    let (_driver, port) = chromedriver();
    let flags_path = banyan.flags_path();
    let file = || std::fs::read_to_string(&flags_path).unwrap();
    let admin = format!("http://{}/", banyan.admin);
    let info_url = banyan.url("/api/1/info");
    let stored = "return sessionStorage.getItem('banyan-admin-token')";

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let page = browser(port).await;
        page.goto(&admin).await.unwrap();
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("100 % native")).await;
        assert_eq!(answered_by(&info_url).await, "native");

        // A token banyan does not know: refused at once, not kept, and no change with it.
        page.find(Locator::Id("token")).await.unwrap().send_keys("not-the-token-at-all").await.unwrap();
        page.find(Locator::Id("token-save")).await.unwrap().click().await.unwrap();
        text_when(&page, "#message", |t| t.contains("not valid")).await;
        assert_eq!(script(&page, stored).await, serde_json::Value::Null);
        let kill = page.find(Locator::Id("kill-switch")).await.unwrap();
        assert_eq!(kill.text().await.unwrap(), "Kill switch: send all traffic to legacy");
        let _ = kill.click().await;
        answer_confirm(&page, true).await;
        text_when(&page, "#message", |t| t.contains("kill switch: not changed") && t.contains("not valid")).await;
        assert_eq!(file(), FLAGS);

        // The right one: banyan names it.
        let token = page.find(Locator::Id("token")).await.unwrap();
        token.clear().await.unwrap();
        token.send_keys(ADMIN_TOKEN).await.unwrap();
        page.find(Locator::Id("token-save")).await.unwrap().click().await.unwrap();
        text_when(&page, "#message", |t| t.contains("token accepted: env")).await;
        assert_eq!(script(&page, stored).await, ADMIN_TOKEN);

        // Cancelled at the question: nothing changes.
        let _ = kill.click().await;
        answer_confirm(&page, false).await;
        text_when(&page, "#message", |t| t == "kill switch: not changed").await;
        assert_eq!(file(), FLAGS);

        // Confirmed: into the file, served, and said on every row.
        let _ = kill.click().await;
        let question = answer_confirm(&page, true).await;
        assert!(question.contains("legacy"), "{question}");
        until("legacy_only = true in the flags file", || file().contains("legacy_only = true")).await;
        assert_eq!(flags_json(&admin).await["legacy_only"], serde_json::json!(true));
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("0 % native (kill switch; file says 100 %)"))
            .await;
        text_when(&page, "#routes tr[data-route=ping]", |t| t.contains("0 % native (kill switch; file says 0 %)"))
            .await;
        text_when(&page, "#kill-switch", |t| t == "Turn kill switch off").await;
        text_when(&page, "#progress", |t| t.contains("KILL SWITCH ON")).await;
        let audit = text_when(&page, "#audit", |t| t.contains("legacy_only: false → true")).await;
        assert!(audit.contains("api (env)"), "{audit}");
        assert_eq!(answered_by(&info_url).await, "legacy");
        std::fs::write(artifacts().join("dashboard-kill-switch.png"), page.screenshot().await.unwrap()).unwrap();

        // Off again, with no question: the routes have their shares back.
        kill.click().await.unwrap();
        until("legacy_only = false in the flags file", || file().contains("legacy_only = false")).await;
        text_when(&page, "#routes tr[data-route=info]", |t| t.contains("100 % native") && !t.contains("kill switch"))
            .await;
        text_when(&page, "#kill-switch", |t| t == "Kill switch: send all traffic to legacy").await;
        assert_eq!(answered_by(&info_url).await, "native");
        page.close().await.unwrap();
    });
}

/// A legacy that is down is the first thing the page says, and the page says when it is
/// back, without a reload.
#[test]
fn a_legacy_that_is_down_is_shown_until_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let banyan = Banyan::start(&format!("http://127.0.0.1:{port}"), "");
    let (_driver, chrome) = chromedriver();
    let admin = format!("http://{}/", banyan.admin);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let page = browser(chrome).await;
        page.goto(&admin).await.unwrap();
        let down = text_when(&page, "#legacy-banner", |t| !t.is_empty()).await;
        assert!(down.starts_with("Legacy backend is down: ") && down.contains("refused"), "{down}");
        let _legacy = Legacy::start_on(port, &[]);
        // The next request to legacy finds it back, and so does the page.
        http_get(&banyan.url("/api/1/version")).await;
        text_when(&page, "#legacy-banner", |t| t.is_empty()).await;
        page.close().await.unwrap();
    });
}
