//! Checks of everything under `deploy/`, with the tools that operators will use on it:
//!
//! - `deploy/prometheus/`: `promtool check rules` and `promtool test rules` (every alert shown
//!   firing and not firing), `promtool check config` on the example scrape configs;
//! - `deploy/kubernetes/`: every manifest against the Kubernetes JSON schemas with
//!   `kubernetes-validate --strict` (latest and oldest supported Kubernetes); only the
//!   Prometheus Operator's ServiceMonitor and the kustomization have no schema there. Plus the
//!   values that must agree across files (grace vs termination budget, probes, Secret names,
//!   the config's `[fleet] dns` vs the headless admin Service);
//! - the ConfigMap's embedded `firebreak.toml`: identical to `deploy/container/firebreak.toml`
//!   and accepted by `firebreak check` without a warning;
//! - `deploy/systemd/firebreak.service`: `systemd-analyze verify` on a copy whose paths point at
//!   the built binary and a shipped config, and `systemd-analyze security` exposure <= 2.0;
//! - `deploy/grafana/firebreak.json`: valid JSON, a sane dashboard, only metric names firebreak
//!   exports, every signal of the brief on a panel, and every query valid PromQL (promtool).
//!
//! The tools: `promtool` (Debian `prometheus`), `systemd-analyze` (Debian `systemd`) and
//! `kubernetes-validate` (PyPI; `.ci/deps-deploy` puts it in a venv under
//! `target/deploy-tools/`, or `$FIREBREAK_TOOLS_DIR`). `.ci/deps-deploy` installs all three.
//! A missing tool FAILS its tests with a loud message saying how to install it, unless the
//! environment variable `FIREBREAK_SKIP_TOOLS` names it (comma- or space-separated, e.g.
//! `FIREBREAK_SKIP_TOOLS=systemd-analyze,kubernetes-validate`): then the test prints a loud
//! SKIPPED line and returns. Never a silent pass (`support::tools::require`).

pub mod support;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::proxy::{bin_path, scratch_dir};
use support::repo;
use support::tools::{require, KUBERNETES_VALIDATE, PROMTOOL, SYSTEMD_ANALYZE};

/// The oldest Kubernetes release the manifests are checked against (besides the newest).
const OLDEST_KUBERNETES: &str = "1.27.0";

/// Every metric firebreak exports (`src/metrics/`, documented in docs/operations.md#metrics).
/// The dashboard may use no other.
const METRICS: &[&str] = &[
    "firebreak_requests_total",
    "firebreak_request_duration_seconds",
    "firebreak_backend_up",
    "firebreak_shed_total",
    "firebreak_config_reloads_total",
    "firebreak_maintenance_active",
    "firebreak_tier_share",
    "firebreak_tier_state",
    "firebreak_pool_concurrency_limit",
    "firebreak_pool_inflight",
    "firebreak_pool_queued",
    "firebreak_pool_congested",
    "firebreak_retries_total",
    "firebreak_backend_latency_ewma_seconds",
    "firebreak_backend_inflight",
    "firebreak_backend_share",
    "firebreak_backend_ejections",
    "firebreak_build_info",
    "firebreak_standby_capacity_rps",
    "firebreak_standby_capacity_ratio",
];

/// Histograms, whose `_bucket`, `_sum` and `_count` series may be queried.
const HISTOGRAMS: &[&str] = &["firebreak_request_duration_seconds"];

/// The alerts the brief asks for (alerts.yaml may have more; each must be unit-tested).
const REQUIRED_ALERTS: &[&str] = &[
    "FirebreakPrimaryTierDown",
    "FirebreakTrafficOnStandby",
    "FirebreakShedding",
    "FirebreakReloadFailing",
    "FirebreakMaintenanceOn",
    "FirebreakStandbyTooWeak",
    "FirebreakDown",
];

// --- helpers -----------------------------------------------------------------------------------

fn deploy(rel: &str) -> PathBuf {
    repo().join("deploy").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
}

/// The literal block scalar `key: |` of a YAML file (2-space indented `data:` of a ConfigMap),
/// with its indentation removed. Enough for our own files; serde_yaml is not a dependency.
fn yaml_block(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines();
    let header = format!("{key}: |");
    let start = lines
        .by_ref()
        .find(|l| l.trim_start() == header)
        .unwrap_or_else(|| panic!("no `{header}` block"));
    let key_indent = start.len() - start.trim_start().len();
    let mut body: Vec<&str> = Vec::new();
    let mut indent = None;
    for line in lines {
        if line.trim().is_empty() {
            body.push("");
            continue;
        }
        let n = line.len() - line.trim_start().len();
        if n <= key_indent {
            break;
        }
        let i = *indent.get_or_insert(n);
        assert!(n >= i, "block `{key}` is indented inconsistently: {line:?}");
        body.push(&line[i..]);
    }
    while body.last() == Some(&"") {
        body.pop();
    }
    // `|` keeps exactly one final newline.
    body.join("\n") + "\n"
}

/// The first `key: value` (YAML) or `key = value` (TOML, unit files use `Key=value`) value,
/// unquoted, with a trailing comment removed.
fn value_of(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        let rest = l.strip_prefix(key)?;
        let rest = rest.trim_start();
        let rest = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
        let v = rest.split(" #").next().unwrap_or("").trim();
        Some(v.trim_matches('"').to_string())
    })
}

/// Seconds of a firebreak duration such as "30s", "2m", "500ms".
fn seconds(d: &str) -> f64 {
    let d = d.trim_matches('"');
    let (num, unit) = d.split_at(d.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(d.len()));
    let n: f64 = num.parse().unwrap_or_else(|_| panic!("bad duration {d:?}"));
    match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => panic!("bad duration unit in {d:?}"),
    }
}

/// The Kubernetes manifests: every `*.yaml` under deploy/kubernetes/, sorted.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("kubernetes"))
        .expect("deploy/kubernetes/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "deploy/kubernetes/ looks incomplete: {files:?}"
    );
    files
}

// --- Prometheus --------------------------------------------------------------------------------

#[test]
fn alert_rules_pass_promtool_check() {
    let rules = deploy("prometheus/alerts.yaml");
    let text = read(&rules);
    for alert in REQUIRED_ALERTS {
        assert!(
            text.contains(&format!("alert: {alert}\n")),
            "alerts.yaml lacks {alert}"
        );
    }
    let Some(promtool) = require(PROMTOOL) else {
        return;
    };
    let out = run(Command::new(promtool).arg("check").arg("rules").arg(&rules));
    assert_ok("promtool check rules deploy/prometheus/alerts.yaml", &out);
}

#[test]
fn alert_rules_unit_tests_pass_and_cover_every_alert() {
    let rules = read(&deploy("prometheus/alerts.yaml"));
    let tests = read(&deploy("prometheus/alerts_test.yaml"));
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= REQUIRED_ALERTS.len());
    // Each `alertname:` line of alerts_test.yaml is followed by its `exp_alerts:`; `[]` means
    // "must not fire", anything else lists alerts that must fire.
    let mut fires = HashSet::new();
    let mut quiet = HashSet::new();
    let mut current: Option<&str> = None;
    for line in tests.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname: ") {
            current = Some(name.trim());
        } else if let (Some(name), Some(exp)) = (current, line.strip_prefix("exp_alerts:")) {
            if exp.trim() == "[]" {
                quiet.insert(name);
            } else {
                fires.insert(name);
            }
            current = None;
        }
    }
    for alert in &alerts {
        assert!(
            fires.contains(alert),
            "alerts_test.yaml never shows {alert} firing"
        );
        assert!(
            quiet.contains(alert),
            "alerts_test.yaml never shows {alert} not firing"
        );
    }
    let Some(promtool) = require(PROMTOOL) else {
        return;
    };
    // promtool resolves rule_files relative to the test file.
    let out = run(Command::new(promtool)
        .args(["test", "rules"])
        .arg(deploy("prometheus/alerts_test.yaml")));
    assert_ok(
        "promtool test rules deploy/prometheus/alerts_test.yaml",
        &out,
    );
}

#[test]
fn example_prometheus_configs_are_valid() {
    let Some(promtool) = require(PROMTOOL) else {
        return;
    };
    let out = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(deploy("prometheus/prometheus.example.yml")));
    assert_ok("promtool check config prometheus.example.yml", &out);

    // Debian builds Prometheus without Kubernetes service discovery; that one error is allowed.
    let out = run(Command::new(&promtool)
        .args(["check", "config"])
        .arg(deploy("prometheus/prometheus.kubernetes.example.yml")));
    if !out.status.success() {
        let all = text(&out);
        let errors: Vec<&str> = all.lines().filter(|l| l.contains("FAILED")).collect();
        let only_missing_sd = all.contains("field kubernetes_sd_configs not found")
            && all.matches("not found in type").count() == 1
            && errors.len() == 1;
        assert!(
            only_missing_sd,
            "promtool check config prometheus.kubernetes.example.yml:\n{all}"
        );
        eprintln!(
            "note: this promtool has no Kubernetes service discovery (Debian's build); \
             prometheus.kubernetes.example.yml was checked up to kubernetes_sd_configs"
        );
    }
}

// --- Grafana -----------------------------------------------------------------------------------

fn dashboard() -> serde_json::Value {
    let path = deploy("grafana/firebreak.json");
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// Every PromQL expression of the dashboard: panel targets, template queries, annotations.
fn dashboard_exprs(d: &serde_json::Value) -> Vec<String> {
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "expr" {
                        out.push(v.as_str().expect("expr is a string").to_string());
                    } else {
                        walk(v, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(d, &mut exprs);
    exprs
}

/// The `firebreak_*` identifiers in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("firebreak_") {
        let start = i + pos;
        let word_start = start == 0 || {
            let c = bytes[start - 1];
            !(c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        };
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |n| start + n);
        if word_start {
            names.insert(text[start..end].to_string());
        }
        i = end;
    }
    names
}

fn known_metric(name: &str) -> bool {
    METRICS.contains(&name)
        || HISTOGRAMS.iter().any(|h| {
            name.strip_prefix(h)
                .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))
        })
}

#[test]
fn grafana_dashboard_is_valid_and_uses_only_firebreak_metrics() {
    let d = dashboard();
    assert_eq!(d["uid"], "firebreak");
    assert!(d["title"].is_string() && d["schemaVersion"].is_u64());
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = HashSet::new();
    let mut queried = 0;
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate id: {title}"
        );
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{title}: gridPos.{k}");
        }
        let (x, w) = (p["gridPos"]["x"].as_u64(), p["gridPos"]["w"].as_u64());
        assert!(
            x.unwrap() + w.unwrap() <= 24,
            "{title}: wider than the grid"
        );
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("panel targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut refs = HashSet::new();
        for t in targets {
            assert!(
                t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{title}: empty expr"
            );
            assert!(
                refs.insert(t["refId"].as_str().expect("refId")),
                "{title}: refId"
            );
            queried += 1;
        }
    }
    assert!(queried >= 11, "too few queries: {queried}");

    // Every firebreak_* name anywhere in the file (queries, descriptions) is a real metric.
    let raw = read(&deploy("grafana/firebreak.json"));
    let used = metric_names(&raw);
    let unknown: Vec<&String> = used.iter().filter(|n| !known_metric(n)).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard uses metrics firebreak does not export: {unknown:?}"
    );
    // The signals the brief asks for, each on some panel.
    let exprs = dashboard_exprs(&d).join("\n");
    for m in [
        "firebreak_requests_total",
        "firebreak_request_duration_seconds_bucket",
        "firebreak_tier_share",
        "firebreak_tier_state",
        "firebreak_backend_up",
        "firebreak_pool_concurrency_limit",
        "firebreak_pool_inflight",
        "firebreak_shed_total",
        "firebreak_retries_total",
        "firebreak_config_reloads_total",
        "firebreak_maintenance_active",
        "firebreak_standby_capacity_ratio",
    ] {
        assert!(exprs.contains(m), "no dashboard query uses {m}");
    }
    assert!(
        exprs.contains("histogram_quantile(0.5,") && exprs.contains("histogram_quantile(0.99,")
    );
}

#[test]
fn grafana_dashboard_queries_are_valid_promql() {
    let exprs = dashboard_exprs(&dashboard());
    let Some(promtool) = require(PROMTOOL) else {
        return;
    };
    // promtool parses PromQL in rule files: one recording rule per query, with Grafana's
    // variables replaced by what Grafana would send.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        assert!(!e.contains('$'), "unknown Grafana variable in {e}");
        let quoted = serde_json::to_string(&e).expect("json string"); // valid YAML too
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = scratch_dir("deploy-grafana");
    let file = dir.join("dashboard-queries.yaml");
    std::fs::write(&file, rules).expect("write rules");
    let out = run(Command::new(promtool).args(["check", "rules"]).arg(&file));
    assert_ok("promtool check rules on the dashboard's queries", &out);
    let _ = std::fs::remove_dir_all(dir);
}

// --- Kubernetes --------------------------------------------------------------------------------

/// Runs kubernetes-validate --strict on every manifest; returns its stdout lines.
fn kubernetes_validate(tool: &Path, version: Option<&str>) -> Vec<String> {
    let mut cmd = Command::new(tool);
    cmd.arg("--strict");
    if let Some(v) = version {
        cmd.args(["-k", v]);
    }
    let out = run(cmd.args(manifests()));
    let all = text(&out);
    assert!(
        out.status.success(),
        "kubernetes-validate --strict {version:?} rejected a manifest:\n{all}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn kubernetes_manifests_match_the_kubernetes_schemas() {
    let Some(tool) = require(KUBERNETES_VALIDATE) else {
        return;
    };
    for version in [None, Some(OLDEST_KUBERNETES)] {
        let lines = kubernetes_validate(&tool, version);
        let mut passed = BTreeSet::new();
        for line in &lines {
            if let Some(rest) = line.strip_prefix("INFO ") {
                passed.insert(rest.split(' ').next().unwrap_or("").to_string());
            } else if line.starts_with("WARN ") {
                // No schema: allowed only for the two objects that are not core Kubernetes.
                let allowed = (line.contains("servicemonitor.yaml")
                    && line
                        .contains("kind ServiceMonitor with api version monitoring.coreos.com/v1"))
                    || (line.contains("kustomization.yaml")
                        && line.contains(
                            "kind Kustomization with api version kustomize.config.k8s.io/",
                        ));
                assert!(allowed, "kubernetes-validate {version:?}: {line}");
            } else if !line.trim().is_empty() {
                panic!("kubernetes-validate {version:?}: unexpected output: {line}");
            }
        }
        for file in manifests() {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            if name == "servicemonitor.yaml" || name == "kustomization.yaml" {
                continue;
            }
            assert!(
                passed.contains(&file.display().to_string()),
                "{name} was not validated against {version:?}:\n{}",
                lines.join("\n")
            );
        }
    }
}

#[test]
fn kubernetes_config_is_the_container_config_and_passes_firebreak_check() {
    let embedded = yaml_block(
        &read(&deploy("kubernetes/configmap.yaml")),
        "firebreak.toml",
    );
    let container = read(&deploy("container/firebreak.toml"));
    assert!(
        embedded == container,
        "configmap.yaml's firebreak.toml differs from deploy/container/firebreak.toml; \
         keep them byte for byte equal"
    );
    let dir = scratch_dir("deploy-configmap");
    let path = dir.join("firebreak.toml");
    std::fs::write(&path, &embedded).expect("write config");
    let out = run(Command::new(bin_path())
        .args(["check", "--config"])
        .arg(&path)
        .env("FIREBREAK_ADMIN_TOKEN", "test-token"));
    assert_ok("firebreak check on the ConfigMap's firebreak.toml", &out);
    // With the token set (as the Deployment does), not even a warning.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("warning"),
        "firebreak check warned:\n{stderr}"
    );
    // In a pod, the admin API must be reachable from the kubelet and Prometheus, with a token.
    assert_eq!(
        value_of(&embedded, "listen").as_deref(),
        Some("0.0.0.0:9901")
    );
    assert_eq!(
        value_of(&embedded, "token_env").as_deref(),
        Some("FIREBREAK_ADMIN_TOKEN")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kubernetes_manifests_agree_with_each_other() {
    let config = read(&deploy("container/firebreak.toml"));
    let grace = seconds(&value_of(&config, "grace").expect("server.grace"));
    let dep = read(&deploy("kubernetes/deployment.yaml"));
    let num = |text: &str, key: &str| -> f64 {
        value_of(text, key)
            .unwrap_or_else(|| panic!("no {key}"))
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a number"))
    };

    // Shutdown budget: preStop sleep, then the drain, then a margin before SIGKILL.
    let pre_stop: f64 = dep
        .lines()
        .find_map(|l| l.trim().strip_prefix("command: [\"sleep\", \""))
        .and_then(|r| r.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("preStop sleep");
    let termination = num(&dep, "terminationGracePeriodSeconds");
    assert!(
        termination >= pre_stop + grace + 5.0,
        "terminationGracePeriodSeconds {termination} < preStop {pre_stop} + grace {grace} + 5"
    );
    assert_eq!(num(&dep, "replicas"), 3.0);
    assert_eq!(num(&dep, "maxUnavailable"), 0.0);
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let at = dep
            .find(&format!("{probe}:"))
            .unwrap_or_else(|| panic!("no {probe}"));
        assert_eq!(
            value_of(&dep[at..], "path").as_deref(),
            Some(path),
            "{probe}"
        );
        assert_eq!(
            value_of(&dep[at..], "port").as_deref(),
            Some("admin"),
            "{probe}"
        );
    }
    assert!(dep.contains("containerPort: 9901") && dep.contains("containerPort: 8080"));
    assert!(dep.contains("readOnlyRootFilesystem: true") && dep.contains("runAsNonRoot: true"));
    assert!(dep.contains("prometheus.io/scrape: \"true\""));
    assert!(dep.contains("topologySpreadConstraints:") && dep.contains("podAntiAffinity:"));
    // The config directory is mounted whole (subPath mounts never see ConfigMap updates).
    assert!(
        dep.contains("mountPath: /etc/firebreak")
            && !dep.lines().any(|l| l.trim_start().starts_with("subPath"))
    );
    assert!(dep.contains("name: firebreak-config"));
    assert_eq!(
        value_of(&read(&deploy("kubernetes/configmap.yaml")), "name").as_deref(),
        Some("firebreak-config")
    );

    // The token comes from the Secret the example defines, by name and key.
    let secret = read(&deploy("kubernetes/secret.example.yaml"));
    let secret_name = value_of(&secret, "name").expect("Secret name");
    let key_ref = &dep[dep.find("secretKeyRef:").expect("secretKeyRef")..];
    assert_eq!(value_of(key_ref, "name"), Some(secret_name));
    assert_eq!(value_of(key_ref, "key").as_deref(), Some("token"));
    assert!(secret.contains("\n  token: "));

    // Availability: the PDB leaves room for one eviction above the HPA's floor.
    let pdb = read(&deploy("kubernetes/pdb.yaml"));
    let hpa = read(&deploy("kubernetes/hpa.yaml"));
    assert_eq!(num(&pdb, "minAvailable"), 2.0);
    assert!(num(&hpa, "minReplicas") > num(&pdb, "minAvailable"));
    assert_eq!(num(&hpa, "averageUtilization"), 60.0);
    assert!(hpa.contains("apiVersion: autoscaling/v2"));

    // The public Service carries only the proxy port; the admin port has its own Service,
    // which the ServiceMonitor selects by its port name.
    let svc = read(&deploy("kubernetes/service.yaml"));
    let objects = &svc[svc.find("apiVersion:").expect("a Service")..]; // past the comments
    let (public, admin) = objects.split_once("\n---\n").expect("two Services");
    assert!(public.contains("targetPort: http") && !public.contains("admin"));
    assert!(admin.contains("targetPort: admin") && admin.contains("name: firebreak-admin"));
    let sm = read(&deploy("kubernetes/servicemonitor.yaml"));
    assert!(sm.contains("apiVersion: monitoring.coreos.com/v1") && sm.contains("port: admin"));
    assert!(sm.contains("app.kubernetes.io/component: admin"));
}

/// The replicas find each other through the headless admin Service: `[fleet] dns` is its name
/// (short, or qualified by the kustomization's namespace) and its port, which is the admin
/// port, and the Service lists pods that are not ready too (they are replicas all the same).
#[test]
fn kubernetes_fleet_is_the_headless_admin_service() {
    let config = read(&deploy("container/firebreak.toml")); // = the ConfigMap's (tested above)
    let fleet = &config[config.find("\n[fleet]\n").expect("a [fleet] table")..];
    let dns = value_of(fleet, "dns").expect("fleet.dns");
    let (host, port) = dns.rsplit_once(':').expect("fleet.dns is HOST:PORT");
    let svc = read(&deploy("kubernetes/service.yaml"));
    let admin = svc.rsplit_once("\n---\n").expect("two Services").1;
    let name = value_of(admin, "name").expect("the admin Service's name");
    assert_eq!(
        host.split('.').next(),
        Some(name.as_str()),
        "fleet.dns {dns}"
    );
    if let Some(ns) = value_of(&read(&deploy("kubernetes/kustomization.yaml")), "namespace") {
        assert!(
            host == name || host.starts_with(&format!("{name}.{ns}.")),
            "{dns} vs {ns}"
        );
    }
    assert_eq!(
        value_of(admin, "port").as_deref(),
        Some(port),
        "the admin Service's port"
    );
    assert!(value_of(&config, "listen").is_some_and(|l| l.ends_with(&format!(":{port}"))));
    assert_eq!(value_of(admin, "clusterIP").as_deref(), Some("None"));
    assert_eq!(
        value_of(admin, "publishNotReadyAddresses").as_deref(),
        Some("true"),
        "the admin Service must list pods that are not ready"
    );
}

// --- container ---------------------------------------------------------------------------------

#[test]
fn containerfile_builds_from_the_repository_and_runs_unprivileged() {
    // No container engine here: check what can be checked without one.
    let file = read(&deploy("container/Containerfile"));
    assert!(file.contains("FROM docker.io/library/rust:1-bookworm AS build"));
    assert!(file.contains("cargo build --release --locked"));
    // The profile-guided build by default (tests/pgo.rs runs its training), the plain one
    // with --build-arg PGO=0; the training needs python3, openssl and curl in the build stage.
    assert!(file.contains("\nARG PGO=1\n") && file.contains("deploy/pgo/build.sh"));
    assert!(file.contains("cmake python3 openssl curl"));
    let build = repo().join("deploy/pgo/build.sh");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&build)
            .expect("deploy/pgo/build.sh")
            .permissions(),
    );
    assert!(mode & 0o111 != 0, "deploy/pgo/build.sh must be executable");
    assert!(file.contains("FROM docker.io/library/debian:bookworm-slim"));
    assert!(
        file.contains("\nUSER 10001:10001\n"),
        "the image must run as a non-root user"
    );
    assert!(file.contains("\nEXPOSE 8080 9901\n"));
    assert!(file.contains("ENTRYPOINT [\"firebreak\"]"));
    assert!(file.contains("CMD [\"run\", \"--config\", \"/etc/firebreak/firebreak.toml\"]"));
    // Every file COPY'd from the build context exists.
    for line in file
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let src = line.split_whitespace().nth(1).expect("COPY source");
        if src != "." {
            assert!(
                repo().join(src).exists(),
                "COPY source {src} does not exist"
            );
        }
    }
    // The Deployment runs the image's user, so runAsNonRoot holds.
    let dep = read(&deploy("kubernetes/deployment.yaml"));
    assert_eq!(value_of(&dep, "runAsUser").as_deref(), Some("10001"));
}

// --- systemd -----------------------------------------------------------------------------------

/// The unit, copied to a scratch dir with the binary and config paths pointing at this build.
fn unit_for_this_machine(dir: &Path) -> PathBuf {
    let unit = read(&deploy("systemd/firebreak.service"))
        .replace(
            "/usr/local/bin/firebreak",
            &bin_path().display().to_string(),
        )
        .replace(
            "/etc/firebreak/firebreak.toml",
            &repo().join("conf/firebreak.toml").display().to_string(),
        );
    let path = dir.join("firebreak.service");
    std::fs::write(&path, unit).expect("write unit");
    path
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit = read(&deploy("systemd/firebreak.service"));
    let key = |k: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        key("ExecStart"),
        ["/usr/local/bin/firebreak run --config /etc/firebreak/firebreak.toml"]
    );
    assert!(key("ExecStartPre")[0].contains("firebreak check --config"));
    assert!(key("ExecReload").contains(&"/bin/kill -HUP $MAINPID".to_string()));
    assert_eq!(key("KillSignal"), ["SIGTERM"]);
    // The stop timeout must outlast the drain (server.grace of the shipped config, plus
    // Pingora's 2 s backstop), or systemd kills requests that were still being served.
    let grace = seconds(&value_of(&read(&repo().join("conf/firebreak.toml")), "grace").unwrap());
    let stop: f64 = key("TimeoutStopSec")[0]
        .parse()
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop >= grace + 5.0,
        "TimeoutStopSec={stop} too close to grace {grace}s"
    );
    for (k, v) in [
        ("Restart", "on-failure"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("LimitNOFILE", "65536"),
        ("RuntimeDirectory", "firebreak"),
        ("EnvironmentFile", "-/etc/firebreak/env"),
        ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
        // READY=1 at start, and MAINPID= from the old main process in a SIGUSR2 upgrade.
        ("Type", "notify"),
        ("NotifyAccess", "main"),
    ] {
        assert!(key(k).iter().any(|x| x == v), "the unit lacks {k}={v}");
    }
    let env = key("Environment").join(" ");
    assert!(env.contains("FIREBREAK_UPGRADE_SOCK=/run/firebreak/"));
    assert!(env.contains("FIREBREAK_PID_FILE=/run/firebreak/"));

    let Some(analyze) = require(SYSTEMD_ANALYZE) else {
        return;
    };
    let dir = scratch_dir("deploy-systemd");
    let path = unit_for_this_machine(&dir);
    let out = run(Command::new(&analyze).arg("verify").arg(&path));
    // The unit must be clean; lines about other units of this host are not ours to judge.
    let all = text(&out);
    let ours: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("firebreak") && !l.starts_with("exit:"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify deploy/systemd/firebreak.service:\n{all}"
    );
    // `systemd-analyze security` scores the sandbox: 0 is locked down, 10 fully exposed.
    // 20 = 2.0 ("OK"); what remains is what a network proxy needs (sockets, the host's network).
    let out = run(Command::new(&analyze)
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&path));
    assert_ok(
        "systemd-analyze security --threshold=20 (exposure <= 2.0)",
        &out,
    );
    let _ = std::fs::remove_dir_all(dir);
}
