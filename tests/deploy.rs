//! The deployment files fit together. Each Kubernetes object is read into the API's own
//! types (`k8s-openapi`) and written back: a field the API does not know (a typo) or of
//! the wrong type fails. Then the pieces are checked against each other and against a
//! real banyan started with the shipped configuration: ports, probe paths, volume and
//! ConfigMap names, the flags mount, the Service and budget selectors, the legacy address,
//! the image's user and files, and the metrics the Grafana dashboard and alerts query.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, PodSpec, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn root(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every document of a YAML file, as JSON.
fn yaml(path: &str) -> Vec<Value> {
    let docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    docs.iter().map(json).collect()
}

fn json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => serde_json::from_str(r).unwrap(),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(json).collect()),
        Yaml::Hash(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.as_str().expect("string keys").to_string(), json(v))).collect())
        }
        Yaml::Null => Value::Null,
        other => panic!("unsupported YAML: {other:?}"),
    }
}

/// `doc` as the API type `T`, failing on any field `T` does not carry as written.
fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> T {
    let name = format!("{} {}", doc["kind"], doc["metadata"]["name"]);
    let value: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_value(&value).unwrap();
    if let Some(path) = difference(doc, &back, String::new()) {
        panic!("{name}: {path} is not a field of the Kubernetes API, or not of its type");
    }
    value
}

/// The first place where `a` has something `b` does not.
fn difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.iter().find_map(|(k, v)| difference(v, b.get(k).unwrap_or(&Value::Null), format!("{at}.{k}")))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| difference(x, y, format!("{at}[{i}]")))
        }
        _ => (a != b).then_some(if at.is_empty() { ".".into() } else { at }),
    }
}

/// The one document of `kind` named `name` among `docs`.
fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let mut found = docs.iter().filter(|d| d["kind"] == kind && d["metadata"]["name"] == name);
    let doc = found.next().unwrap_or_else(|| panic!("no {kind} {name}"));
    assert!(found.next().is_none(), "two {kind} {name}");
    doc
}

fn toml(path: &str) -> toml::Table {
    read(path).parse().unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn port_of(addr: &str) -> i32 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn container_port(c: &Container, name: &str) -> i32 {
    let ports = c.ports.as_deref().unwrap_or_default();
    ports.iter().find(|p| p.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("no port {name}")).container_port
}

fn named_port(p: &IntOrString) -> &str {
    match p {
        IntOrString::String(s) => s,
        IntOrString::Int(i) => panic!("port {i} by number: name it, so a change of number cannot miss it"),
    }
}

/// The single container of a pod spec.
fn only_container(pod: &PodSpec) -> &Container {
    assert_eq!(pod.containers.len(), 1);
    &pod.containers[0]
}

/// `banyan check` on a configuration and flags file, as an operator would run it, with
/// the admin token the container gets from its Secret (an admin listener off loopback
/// needs one: check refuses it without, as serve does).
fn banyan_check(config: &str, flags: &str) -> (bool, String) {
    let check = |token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_banyan"));
        cmd.args(["check", "--config"]).arg(root(config)).arg("--flags").arg(root(flags));
        match token {
            Some(t) => cmd.env("BANYAN_ADMIN_TOKEN", t),
            None => cmd.env_remove("BANYAN_ADMIN_TOKEN"),
        };
        cmd.output().unwrap()
    };
    let bare = check(None);
    let public_admin =
        toml(config).get("admin_listen").and_then(|a| a.as_str()).is_some_and(|a| !a.starts_with("127."));
    assert_eq!(bare.status.success(), !public_admin, "{}", String::from_utf8_lossy(&bare.stderr));
    let out = check(Some("the-secret-the-pod-is-given"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_kubernetes_manifests_fit_together_and_with_banyan() {
    let kustomization = &yaml("deploy/kubernetes/kustomization.yaml")[0];
    let mut docs = Vec::new();
    for resource in kustomization["resources"].as_array().unwrap() {
        docs.extend(yaml(&format!("deploy/kubernetes/{}", resource.as_str().unwrap())));
    }
    let generated = |name: &str| -> &Value {
        let generators = kustomization["configMapGenerator"].as_array().unwrap();
        generators.iter().find(|g| g["name"] == name).unwrap_or_else(|| panic!("no ConfigMap {name}"))
    };
    // Flags change in place (a fixed name); the static config rolls the pods (hashed name).
    assert_eq!(generated("banyan-flags")["options"]["disableNameSuffixHash"], true);
    assert_eq!(generated("banyan-flags")["files"], serde_json::json!(["flags.toml"]));
    assert_eq!(generated("banyan-config")["options"]["disableNameSuffixHash"], Value::Null);
    assert_eq!(generated("banyan-config")["files"], serde_json::json!(["banyan.toml"]));
    let (ok, out) = banyan_check("deploy/kubernetes/banyan.toml", "deploy/kubernetes/flags.toml");
    assert!(ok, "{out}");
    let config = toml("deploy/kubernetes/banyan.toml");

    // Banyan's Deployment.
    let banyan: Deployment = typed(find(&docs, "Deployment", "banyan"));
    let spec = banyan.spec.as_ref().unwrap();
    assert!(spec.replicas.unwrap() >= 2, "several replicas");
    let labels = spec.template.metadata.as_ref().unwrap().labels.clone().unwrap();
    let selector = spec.selector.match_labels.clone().unwrap();
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)), "the selector matches the pods");
    let pod = spec.template.spec.as_ref().unwrap();
    let c = only_container(pod);
    assert_eq!(container_port(c, "http"), port_of(config["listen"].as_str().unwrap()));
    assert_eq!(container_port(c, "admin"), port_of(config["admin_listen"].as_str().unwrap()));
    let args = c.args.clone().unwrap();
    let config_arg = &args[args.iter().position(|a| a == "--config").unwrap() + 1];

    // Volumes: each mount has its volume, the ConfigMaps are the generated ones, and the
    // paths are the ones banyan's config names.
    let volumes = pod.volumes.as_deref().unwrap();
    let mounts = c.volume_mounts.as_deref().unwrap();
    for m in mounts {
        assert!(volumes.iter().any(|v| v.name == m.name), "mount {} has no volume", m.name);
    }
    let mount_of_configmap = |configmap: &str| {
        let volume = volumes.iter().find(|v| v.config_map.as_ref().is_some_and(|c| c.name == configmap)).unwrap();
        mounts.iter().find(|m| m.name == volume.name).unwrap_or_else(|| panic!("{configmap} is not mounted"))
    };
    let flags_mount = mount_of_configmap("banyan-flags");
    assert_eq!(flags_mount.sub_path, None, "a subPath mount never sees an update");
    assert_eq!(config["flags"].as_str().unwrap(), format!("{}/flags.toml", flags_mount.mount_path));
    assert_eq!(*config_arg, format!("{}/banyan.toml", mount_of_configmap("banyan-config").mount_path));
    let audit = Path::new(config["admin"]["audit_log"].as_str().unwrap());
    let state = mounts.iter().find(|m| audit.starts_with(&m.mount_path)).expect("the audit log is on a volume");
    assert_ne!(state.read_only, Some(true));
    let state_volume = volumes.iter().find(|v| v.name == state.name).unwrap();
    assert!(state_volume.empty_dir.is_some() || state_volume.persistent_volume_claim.is_some());

    // Non-root, read-only root, the admin token from a Secret (the admin listener is not
    // on loopback, so banyan refuses to start without one).
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    let uid = pod_security.run_as_user.unwrap();
    assert_ne!(uid, 0);
    let security = c.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let token = c.env.as_deref().unwrap().iter().find(|e| e.name == "BANYAN_ADMIN_TOKEN").unwrap();
    assert!(token.value_from.as_ref().unwrap().secret_key_ref.is_some(), "the token comes from a Secret");

    // The grace period covers the shutdown delay and the drain.
    let server = config["server"].as_table().unwrap();
    let needed_ms =
        server["shutdown_delay_ms"].as_integer().unwrap() + server["drain_timeout_ms"].as_integer().unwrap();
    assert!(pod.termination_grace_period_seconds.unwrap() * 1000 > needed_ms);

    // Probes and scrapes go to the admin port, on paths a real banyan with this
    // configuration answers: ready with legacy down (it is optional there), alive, metrics.
    let readiness = c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    let liveness = c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(named_port(&readiness.port), "admin");
    assert_eq!(named_port(&liveness.port), "admin");
    // Prometheus: the PodMonitor and the plain scrape job find these pods on this port
    // and name the job "banyan", as the dashboard and the alerts expect; no annotation
    // invites a third scrape that would double every sum.
    let monitor = &yaml("deploy/kubernetes/prometheus/podmonitor.yaml")[0];
    let monitor_selector: std::collections::BTreeMap<String, String> =
        serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap();
    assert_eq!(monitor_selector, selector);
    let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
    assert_eq!(endpoint["port"], "admin");
    let job_label = monitor["spec"]["jobLabel"].as_str().expect("jobLabel, or the job is \"<namespace>/banyan\"");
    assert_eq!(labels[job_label], "banyan");
    let job = &yaml("deploy/kubernetes/prometheus/scrape-config.yaml")[0]["scrape_configs"][0];
    assert_eq!(job["job_name"], "banyan");
    assert_eq!(job["metrics_path"], endpoint["path"]);
    let keeps: Vec<&Value> =
        job["relabel_configs"].as_array().unwrap().iter().filter(|r| r["action"] == "keep").collect();
    assert!(keeps.iter().any(|r| r["regex"] == "admin"));
    assert!(keeps.iter().any(|r| r["regex"] == selector["app.kubernetes.io/name"].as_str()));
    let annotations = spec.template.metadata.as_ref().unwrap().annotations.clone().unwrap_or_default();
    assert!(!annotations.contains_key("prometheus.io/scrape"), "scraped twice");
    let flags = root("deploy/kubernetes/flags.toml");
    let running = common::Banyan::start_at("http://127.0.0.1:9", &flags, &read("deploy/kubernetes/banyan.toml"), &[]);
    let get = |path: &str| common::client().get(format!("http://{}{path}", running.admin)).send().unwrap();
    for path in [readiness.path.as_deref().unwrap(), liveness.path.as_deref().unwrap()] {
        assert_eq!(get(path).status(), 200, "probe {path} with legacy down");
    }
    let metrics = get(endpoint["path"].as_str().unwrap()).text().unwrap();
    assert!(metrics.contains("banyan_flags_info{sha256="), "{metrics}");

    // The Service and the budget select banyan's pods, on a port the container names.
    let service: Service = typed(find(&docs, "Service", "banyan"));
    let service = service.spec.unwrap();
    assert_eq!(service.selector.clone().unwrap(), selector);
    let port = &service.ports.as_deref().unwrap()[0];
    assert_eq!(container_port(c, named_port(port.target_port.as_ref().unwrap())), container_port(c, "http"));
    assert_eq!(service.session_affinity.as_deref(), Some("ClientIP"), "native tasks live in one replica");
    let budget: PodDisruptionBudget = typed(find(&docs, "PodDisruptionBudget", "banyan"));
    let budget = budget.spec.unwrap();
    assert_eq!(budget.selector.unwrap().match_labels.unwrap(), selector);
    match budget.max_unavailable.unwrap() {
        IntOrString::Int(n) => assert!(n < spec.replicas.unwrap()),
        IntOrString::String(s) => panic!("maxUnavailable {s}: give a count"),
    }

    // Legacy: one replica on its data volume, reached where banyan's config says.
    let legacy: Deployment = typed(find(&docs, "Deployment", "rotki-legacy"));
    let legacy = legacy.spec.unwrap();
    assert_eq!(legacy.replicas, Some(1), "rotki owns its data directory");
    assert_eq!(legacy.strategy.unwrap().type_.as_deref(), Some("Recreate"));
    let legacy_pod = legacy.template.spec.unwrap();
    let rotki = only_container(&legacy_pod);
    let legacy_labels = legacy.template.metadata.unwrap().labels.unwrap();
    let legacy_service: Service = typed(find(&docs, "Service", "rotki-legacy"));
    let legacy_service_spec = legacy_service.spec.unwrap();
    let selected = legacy_service_spec.selector.unwrap();
    assert!(selected.iter().all(|(k, v)| legacy_labels.get(k) == Some(v)));
    let legacy_port = &legacy_service_spec.ports.unwrap()[0];
    let url = config["legacy"]["url"].as_str().unwrap();
    let service_name = legacy_service.metadata.name.unwrap();
    assert_eq!(url, format!("http://{service_name}:{}", legacy_port.port));
    let rotki_port = container_port(rotki, named_port(legacy_port.target_port.as_ref().unwrap()));
    let rotki_args = rotki.args.clone().unwrap();
    assert!(rotki_args.contains(&format!("--rest-api-port={rotki_port}")), "{rotki_args:?}");
    assert!(rotki_args.contains(&format!("--data-dir={}", config["data_dir"].as_str().unwrap())), "{rotki_args:?}");
    assert!(rotki_args.contains(&"--api-host=0.0.0.0".to_string()), "reachable from banyan's pods");
    let tag = rotki.image.as_deref().unwrap().rsplit_once(":v").unwrap().1;
    assert_eq!(tag, config["rotki"]["version"].as_str().unwrap(), "banyan's [rotki] version is legacy's");
    let claim = legacy_pod.volumes.unwrap().into_iter().find_map(|v| v.persistent_volume_claim).unwrap();
    let pvc: PersistentVolumeClaim = typed(find(&docs, "PersistentVolumeClaim", &claim.claim_name));
    assert!(pvc.spec.unwrap().access_modes.unwrap().contains(&"ReadWriteOnce".to_string()));
}

/// The image: built in stages, run as the manifests' non-root user, with the files and
/// ports the manifests and its own configuration expect.
#[test]
fn the_dockerfile_builds_in_stages_and_runs_as_the_manifests_expect() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    let stages: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with("FROM ")).map(|(i, _)| i).collect();
    assert!(stages.len() >= 2, "a build stage and a runtime stage");
    let runtime = &lines[*stages.last().unwrap()..];
    assert!(!runtime[0].contains("rust:"), "the runtime image carries no toolchain: {}", runtime[0]);
    let instruction =
        |name: &str| -> Vec<&str> { runtime.iter().filter_map(|l| l.strip_prefix(name).map(str::trim)).collect() };
    let user = instruction("USER ");
    let uid: i64 = user.last().expect("USER").split(':').next().unwrap().parse().expect("a numeric user");
    assert_ne!(uid, 0);
    let docs = yaml("deploy/kubernetes/banyan.yaml");
    let pod = &find(&docs, "Deployment", "banyan")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], uid, "the manifests run the image's user");

    // Each COPY from the build context names a file that exists, and the files the image
    // starts with are the ones its command line and configuration name.
    let mut copied = Vec::new();
    for copy in instruction("COPY ") {
        let parts: Vec<&str> = copy.split_whitespace().filter(|p| !p.starts_with("--")).collect();
        let (src, dst) = (parts[0], parts[1]);
        if !copy.contains("--from=") {
            assert!(root(src).exists(), "COPY {src}: no such file");
            if src.ends_with(".toml") {
                copied.push((src.to_string(), dst.to_string()));
            }
        }
    }
    let entrypoint: Vec<String> = serde_json::from_str(instruction("ENTRYPOINT ")[0]).unwrap();
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=") && l.ends_with(&entrypoint[0])), "{entrypoint:?}");
    let cmd: Vec<String> = serde_json::from_str(instruction("CMD ")[0]).unwrap();
    let config_path = &cmd[cmd.iter().position(|a| a == "--config").unwrap() + 1];
    let (config_src, _) = copied.iter().find(|(_, dst)| dst == config_path).expect("the configuration is in the image");
    let flags_path = toml(config_src)["flags"].as_str().unwrap().to_string();
    let (flags_src, _) = copied.iter().find(|(_, dst)| *dst == flags_path).expect("the flags file is in the image");
    let (ok, out) = banyan_check(config_src, flags_src);
    assert!(ok, "{out}");
    let config = toml(config_src);
    let exposed: BTreeSet<i32> = instruction("EXPOSE ")[0].split_whitespace().map(|p| p.parse().unwrap()).collect();
    let listening: BTreeSet<i32> =
        ["listen", "admin_listen"].iter().map(|k| port_of(config[*k].as_str().unwrap())).collect();
    assert_eq!(exposed, listening);
    let audit = Path::new(config["admin"]["audit_log"].as_str().unwrap()).parent().unwrap().to_str().unwrap();
    let volume: Vec<String> = serde_json::from_str(instruction("VOLUME ")[0]).unwrap();
    assert_eq!(volume, [audit], "the audit log is on the image's volume");
    assert!(runtime
        .iter()
        .any(|l| l.starts_with(&format!("COPY --from=build --chown={uid}:{uid}")) && l.ends_with(audit)));

    // The build context leaves out what would make it huge or leak local state.
    let ignore = read(".dockerignore");
    for path in ["target/", "tests/legacy/.venv/", ".git/"] {
        assert!(ignore.lines().any(|l| l.trim() == path), ".dockerignore lacks {path}");
    }
}

/// Every metric the Grafana dashboard and the alerts query is one banyan reports, so a
/// fleet view built on them is never silently empty.
#[test]
fn the_fleet_dashboard_and_alerts_query_metrics_banyan_reports() {
    let legacy = common::Legacy::start();
    let banyan = common::Banyan::start(&legacy.url(), &common::all_native());
    let metrics = banyan.metrics();
    let families: BTreeSet<&str> =
        metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();
    let suffixes = ["_total", "_bucket", "_sum", "_count", "_info", "_created"];
    let known = |name: &str| {
        families.contains(name) || suffixes.iter().any(|s| name.strip_suffix(s).is_some_and(|f| families.contains(f)))
    };
    let metric = regex::Regex::new(r"banyan_[a-z_]+").unwrap();
    for file in ["docs/grafana-dashboard.json", "docs/prometheus-alerts.yml"] {
        let text = read(file);
        let used: BTreeSet<&str> = metric.find_iter(&text).map(|m| m.as_str()).collect();
        assert!(!used.is_empty());
        let unknown: Vec<_> = used.iter().filter(|m| !known(m)).collect();
        assert!(unknown.is_empty(), "{file} queries metrics banyan does not report: {unknown:?}\n{families:?}");
    }
    // Every panel and alert that reads a per-replica series aggregates it, so a fleet of
    // replicas shows as one (the by-replica panels name `instance`).
    let dashboard: Value = serde_json::from_str(&read("docs/grafana-dashboard.json")).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    for expr in &exprs {
        let aggregated =
            ["sum", "max", "min", "count", "topk", "histogram_quantile"].iter().any(|f| expr.starts_with(f));
        assert!(aggregated, "not aggregated across replicas: {expr}");
    }
    assert!(
        exprs.iter().any(|e| e.contains("banyan_flags_info")),
        "the dashboard shows whether replicas agree on flags"
    );
    let rules = &yaml("docs/prometheus-alerts.yml")[0]["groups"][0]["rules"];
    let alerts: Vec<&str> = rules.as_array().unwrap().iter().map(|r| r["alert"].as_str().unwrap()).collect();
    for fleet in ["BanyanFlagsDiverged", "BanyanRollbackHeldInMemory"] {
        assert!(alerts.contains(&fleet), "{alerts:?}");
    }
    assert!(exprs.iter().any(|e| e.contains("banyan_flags_override")), "the dashboard shows rollbacks held in memory");
}

/// rotki's image with banyan in nginx's place: every file it copies exists, the `nginx`
/// rotki's entrypoint runs is banyan's stand-in (earlier on the image's PATH than Debian's
/// nginx) with the configuration the image ships, and that stand-in goes back to the real
/// nginx when asked (the rollback) and refuses a value it does not know.
#[test]
fn rotkis_image_starts_banyan_where_it_started_nginx() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    // The `rotki-front-door` target: its stage, up to the next.
    let first = lines.iter().position(|l| *l == "FROM ${ROTKI_IMAGE} AS rotki-front-door").expect("the target");
    let end = lines[first + 1..].iter().position(|l| l.starts_with("FROM ")).map_or(lines.len(), |i| first + 1 + i);
    assert!(lines[first..end].iter().any(|l| l.starts_with("COPY --from=build /banyan ")), "banyan's own build");
    let rotki_image = lines.iter().find_map(|l| l.strip_prefix("ARG ROTKI_IMAGE=")).unwrap();
    let config = toml("deploy/rotki-image/banyan.toml");
    assert_eq!(rotki_image, format!("rotki/rotki:v{}", config["rotki"]["version"].as_str().unwrap()));
    let mut copied = BTreeMap::new();
    for copy in lines[first..end].iter().filter_map(|l| l.strip_prefix("COPY ")) {
        let parts: Vec<&str> = copy.split_whitespace().filter(|p| !p.starts_with("--")).collect();
        if !copy.contains("--from=") {
            assert!(root(parts[0]).exists(), "COPY {}: no such file", parts[0]);
            copied.insert(parts[1].to_string(), parts[0].to_string());
        }
    }
    // Debian's PATH (the nginx image's): /usr/local/sbin comes before /usr/sbin/nginx.
    let shim = &copied["/usr/local/sbin/nginx"];
    let script = read(shim);
    let config_at = script.split("BANYAN_CONFIG:-").nth(1).unwrap().split('}').next().unwrap();
    assert_eq!(copied[config_at], "deploy/rotki-image/banyan.toml");
    assert_eq!(copied[config["flags"].as_str().unwrap()], "deploy/kubernetes/flags.toml");
    assert!(script.contains("exec /usr/local/bin/banyan serve"), "{script}");

    let run = |front: &str, args: &[&str]| {
        let out = Command::new("sh").arg(root(shim)).args(args).env("BANYAN_FRONT_DOOR", front).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run("nginx", &["-v"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.starts_with("nginx version: nginx/"), "the image's own nginx: {err}");
    let (code, err) = run("haproxy", &[]);
    assert_eq!(code, Some(64));
    assert!(err.contains("BANYAN_FRONT_DOOR=haproxy: expected banyan or nginx"), "{err}");
}
