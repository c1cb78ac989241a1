//! Flags from a Kubernetes ConfigMap. Kubelet never writes the file: it publishes each
//! version in a new directory and swaps the `..data` symlink (`common/configmap.rs` does
//! exactly that). Banyan applies the swap by itself, refuses admin API changes with a
//! message naming where flags are managed, holds a guard's rollback in memory (shown in
//! `/api/flags` and `/metrics`) until the ConfigMap takes it, and warns at start about a
//! `subPath` mount, which never updates.

mod common;

use std::time::Duration;

use common::configmap::ConfigMapDir;
use common::*;
use serde_json::Value;

fn ping(native: u32) -> String {
    get_route("ping", "/api/1/ping", &native.to_string(), "")
}

fn audit(banyan: &Banyan) -> Vec<Value> {
    let resp = client().get(format!("http://{}/api/audit", banyan.admin)).send().unwrap();
    let body: Value = serde_json::from_str(&resp.text().unwrap()).unwrap();
    body["entries"].as_array().unwrap().clone()
}

fn patch(banyan: &Banyan, route: &str, body: &str) -> (u16, Value) {
    let resp =
        banyan.admin_request(reqwest::Method::PATCH, &format!("/api/flags/routes/{route}")).body(body.to_string());
    let resp = resp.send().unwrap();
    (resp.status().as_u16(), serde_json::from_str(&resp.text().unwrap()).unwrap())
}

const CONFIG: &str = "flags_managed_by = \"ConfigMap rotki/banyan-flags\"\n[admin]\naudit_log = \"audit.jsonl\"\n";

#[test]
fn a_configmap_update_applies_by_itself_and_the_api_points_to_the_configmap() {
    let legacy = Legacy::start();
    let mut volume = ConfigMapDir::new(&[("flags.toml", &ping(0))]);
    let banyan = Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), CONFIG, &[]);
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "legacy");
    let state = banyan.flags_state();
    assert_eq!(state["managed"]["by"], "configmap", "{state}");
    assert_eq!(state["writable"], false);
    let message = state["managed"]["message"].as_str().unwrap();
    assert!(message.contains(&volume.dir().display().to_string()), "{message}");
    assert!(message.contains("ConfigMap rotki/banyan-flags"), "{message}");

    // Kubelet's swap: a new version directory, `..data` renamed to it, the old one deleted.
    volume.update(&[("flags.toml", &ping(100))]);
    eventually(Duration::from_secs(5), || banyan.flags_state()["generation"] == 2).expect("the swap is applied");
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "native");
    let state = banyan.flags_state();
    // Deleting the old version is not mistaken for a missing file.
    assert_eq!(state["last_reload"]["error"], Value::Null, "{state}");
    assert!(banyan.metrics().contains("banyan_flags_reloads_total{outcome=\"rejected\"} 0"));
    let entries = audit(&banyan);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["source"], "file");
    assert_eq!(entries[0]["changes"][0]["after"], 100.0);

    // A change through the API would be lost on the next update and never reach the other
    // replicas: refused, pointing to the ConfigMap, with nothing changed.
    let (status, body) = patch(&banyan, "ping", r#"{"native": 0}"#);
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("Kubernetes ConfigMap") && error.contains("ConfigMap rotki/banyan-flags"), "{error}");
    assert_eq!(std::fs::read_to_string(volume.path("flags.toml")).unwrap(), ping(100));
    assert_eq!(banyan.flags_state()["generation"], 2);
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "native");

    // An invalid version keeps the last good one serving, and the next good one applies.
    volume.update(&[("flags.toml", "[routes.ping]\nnative = 50\n")]);
    eventually(Duration::from_secs(5), || banyan.flags_state()["last_reload"]["outcome"] == "rejected")
        .expect("the invalid version is reported");
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "native");
    volume.update(&[("flags.toml", &ping(0))]);
    eventually(Duration::from_secs(5), || banyan.flags_state()["generation"] == 3).expect("the next version applies");
    assert_eq!(banyan.flags_state()["last_reload"]["error"], Value::Null);
}

#[test]
fn a_guard_rollback_is_held_in_memory_until_the_configmap_takes_it() {
    let legacy = Legacy::start();
    let mut volume = ConfigMapDir::new(&[("flags.toml", &guarded_info(100))]);
    let config = format!("{}{CONFIG}", version_mismatch(&legacy));
    let banyan = Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), &config, &[]);
    let c = client();
    for _ in 0..6 {
        assert_eq!(backend(&c.get(banyan.url("/api/1/info")).send().unwrap()), "native");
    }
    eventually(Duration::from_secs(10), || banyan.flags_state()["routes"][0]["native"] == 0.0)
        .expect("the guard rolls the route back");
    assert_eq!(backend(&c.get(banyan.url("/api/1/info")).send().unwrap()), "legacy");

    // The file says 100 still; the rollback is in memory, and says so everywhere.
    assert_eq!(std::fs::read_to_string(volume.path("flags.toml")).unwrap(), guarded_info(100));
    let route = &banyan.flags_state()["routes"][0];
    assert_eq!(route["runtime"]["override"], serde_json::json!({"native": 0.0, "file_native": 100.0}), "{route}");
    assert!(banyan.metrics().contains("banyan_flags_override{route=\"info\"} 0"), "{}", banyan.metrics());
    let trip = audit(&banyan).into_iter().find(|e| e["source"] == "guard").expect("the trip is audited");
    assert_eq!(trip["changes"][0]["after"], 0.0);

    // Ops make it permanent in the ConfigMap: the override has done its job and goes.
    volume.update(&[("flags.toml", &guarded_info(0))]);
    eventually(Duration::from_secs(5), || banyan.flags_state()["routes"][0]["runtime"]["override"].is_null())
        .expect("the file's own 0 % replaces the override");
    assert!(!banyan.metrics().contains("banyan_flags_override{"));
    assert_eq!(backend(&c.get(banyan.url("/api/1/info")).send().unwrap()), "legacy");
}

/// Two more ways a pod can name the file: through `..data` itself, or in a directory of
/// the volume (an `items` path). Either names it through a link into one version, which
/// kubelet deletes on the next update: banyan must follow the volume, not that version.
#[test]
fn a_flags_path_through_data_or_a_volume_directory_follows_every_update() {
    let legacy = Legacy::start();
    let mut nested = ConfigMapDir::new(&[("banyan/flags.toml", &ping(0))]);
    let mut through_data = ConfigMapDir::new(&[("flags.toml", &ping(0))]);
    let replicas = [
        Banyan::start_at(&legacy.url(), &nested.path("banyan/flags.toml"), CONFIG, &[]),
        Banyan::start_at(&legacy.url(), &through_data.dir().join("..data/flags.toml"), CONFIG, &[]),
    ];
    for (i, native) in [100, 0, 100].into_iter().enumerate() {
        nested.update(&[("banyan/flags.toml", &ping(native))]);
        through_data.update(&[("flags.toml", &ping(native))]);
        for banyan in &replicas {
            let generation = i as u64 + 2;
            eventually(Duration::from_secs(5), || banyan.flags_state()["generation"] == generation)
                .unwrap_or_else(|| panic!("update {} not applied: {}", i + 1, banyan.flags_state()));
            assert_eq!(banyan.flags_state()["managed"]["by"], "configmap");
        }
    }
}

/// A `subPath` mount is a bind mount of the one file, made here in a private mount
/// namespace (`unshare`, as root) exactly as kubelet makes it for a container.
#[test]
fn a_subpath_mount_is_warned_about_at_start_and_a_directory_mount_is_not() {
    let legacy = Legacy::start();
    let volume = ConfigMapDir::new(&[("flags.toml", &ping(0))]);
    let pod = tempfile::tempdir().unwrap();
    let mounted = pod.path().join("flags.toml");
    std::fs::write(&mounted, "").unwrap();
    let source = volume.path("flags.toml").canonicalize().unwrap();
    let bind = format!("mount --bind '{}' '{}' && exec \"$0\" \"$@\"", source.display(), mounted.display());
    let banyan = Banyan::start_at(&legacy.url(), &mounted, CONFIG, &["unshare", "--mount", "sh", "-c", &bind]);
    let warning = banyan.log.wait_for(0, &["is a mount point of its own"], Duration::from_secs(5));
    let warning = warning.unwrap_or_else(|| panic!("no subPath warning:\n{}", banyan.log.text()));
    assert!(warning.contains("Mount the directory"), "{warning}");
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "legacy");

    let directory = Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), CONFIG, &[]);
    assert!(!directory.log.text().contains("mount point of its own"), "{}", directory.log.text());
    assert!(directory.log.text().contains("flags are managed by a Kubernetes ConfigMap"), "{}", directory.log.text());
}

/// Runs banyan in a user namespace of its own whose inotify instances are 0: a node out of
/// them, as a busy one can be. Only this process is affected.
const NO_INOTIFY: [&str; 6] =
    ["unshare", "-U", "-r", "sh", "-c", "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$0\" \"$@\""];

/// Where inotify cannot start, banyan says so at start and in `/api/flags`, and polls:
/// an edit of a plain file and a ConfigMap's `..data` swap both apply without a SIGHUP.
#[test]
fn without_inotify_the_flags_are_polled() {
    let legacy = Legacy::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.toml");
    std::fs::write(&file, ping(100)).unwrap();
    let banyan = Banyan::start_at(&legacy.url(), &file, "", &NO_INOTIFY);
    let said = banyan.log.text();
    assert!(
        said.contains("cannot watch the flags file with inotify") && said.contains("polling it every 1 s instead"),
        "{said}"
    );
    assert_eq!(banyan.flags_state()["watch"], "poll");
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "native");
    std::fs::write(&file, ping(0)).unwrap();
    eventually(Duration::from_secs(10), || {
        backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()) == "legacy"
    })
    .expect("the edit is polled");

    let mut volume = ConfigMapDir::new(&[("flags.toml", &ping(0))]);
    let banyan = Banyan::start_at(&legacy.url(), &volume.path("flags.toml"), CONFIG, &NO_INOTIFY);
    assert_eq!(banyan.flags_state()["watch"], "poll");
    volume.update(&[("flags.toml", &ping(100))]);
    eventually(Duration::from_secs(10), || banyan.flags_state()["generation"] == 2).expect("the swap is polled");
    assert_eq!(backend(&client().get(banyan.url("/api/1/ping")).send().unwrap()), "native");
    assert_eq!(banyan.flags_state()["last_reload"]["error"], Value::Null);
}
