//! A real Prometheus server (Debian's `prometheus` package) scrapes firebreak's `/metrics`.
//!
//! The test writes a `prometheus.yml` with a 1 s scrape interval and one job, `firebreak`,
//! targeting the proxy's admin listener, starts Prometheus on a free loopback port with its
//! TSDB in a temp dir, waits for `/-/ready`, sends traffic through the proxy, and then asks
//! Prometheus's HTTP API for `firebreak_requests_total` until the scraped series (with its
//! `route` and `code` labels) carries the exact count sent. It also checks
//! `up{job="firebreak"} == 1` and that the backend gauge made it through. Prometheus runs in its
//! own process group and is killed when the test ends, panics included.
//!
//! Without Prometheus the test fails loudly (`.ci/deps-browser` installs it), unless
//! `FIREBREAK_SKIP_TOOLS` names `prometheus`.

pub mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::conf::two_tier;
use support::proxy::{free_addr, scratch_dir};
use support::tools::{require, Spawned, PROMETHEUS};
use support::{get, wait_until, Behaviour, Origin, Proxy};

/// How long Prometheus may take to become ready, and the scraped series to show up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const SERIES_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Prometheus; dropping it kills it (and removes its dir unless the test panicked).
struct Prometheus {
    proc: Spawned,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second; retries with another port if the one
    /// chosen was taken meanwhile.
    fn start(bin: &Path, target: SocketAddr) -> Prometheus {
        let mut last_err = String::new();
        for _ in 0..3 {
            match Prometheus::try_start(bin, target) {
                Ok(p) => return p,
                Err(e) if e.contains("address already in use") => last_err = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last_err}");
    }

    fn try_start(bin: &Path, target: SocketAddr) -> Result<Prometheus, String> {
        let dir = scratch_dir("firebreak-prometheus");
        let config = dir.join("prometheus.yml");
        let yml = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: firebreak\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(&config, yml).expect("write prometheus.yml");
        let addr = free_addr();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--storage.tsdb.retention.time=1h")
            .arg("--log.level=warn");
        let mut prom = Prometheus {
            proc: Spawned::start("prometheus", cmd, &dir),
            addr,
            dir,
        };
        let mut exited = None;
        let ready = wait_until(READY_TIMEOUT, || {
            if get(addr, "/-/ready").is_ok_and(|r| r.status == 200) {
                return true;
            }
            exited = prom.proc.exited();
            exited.is_some()
        });
        match exited {
            Some(status) => Err(format!("prometheus exited ({status}):\n{}", prom.log())),
            None if !ready => Err(format!(
                "prometheus not ready in {READY_TIMEOUT:?}:\n{}",
                prom.log()
            )),
            None => Ok(prom),
        }
    }

    fn log(&self) -> String {
        format!("{}{}", self.proc.stdout_text(), self.proc.stderr_text())
    }

    /// An instant query through `/api/v1/query`: the `data.result` vector.
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", urlencode(promql));
        let r = get(self.addr, &path)?;
        let v = r.try_json()?;
        if r.status != 200 || v["status"] != "success" {
            return Err(format!("{promql}: {} {v}", r.status));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Polls `promql` until `accept` holds for its result; panics with the last answer after
    /// `SERIES_TIMEOUT`.
    fn await_query(&self, promql: &str, accept: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut got = Err(String::new());
        let accepted = wait_until(SERIES_TIMEOUT, || {
            got = self.query(promql);
            got.as_deref().is_ok_and(&accept)
        });
        match got {
            Ok(result) if accepted => result,
            _ => {
                let targets = get(self.addr, "/api/v1/targets").map(|r| r.text());
                panic!(
                    "Prometheus never returned the expected {promql} within {SERIES_TIMEOUT:?}; \
                     last answer: {got:?}\ntargets: {targets:?}\nlog:\n{}",
                    self.log()
                );
            }
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.proc.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Minimal percent-encoding for a URL query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The sample value of an instant-vector element, as text ("10", "1", ...).
fn value(sample: &Value) -> &str {
    sample["value"][1].as_str().unwrap_or("")
}

/// Whether `sample` is from the firebreak job and has all these label values.
fn has_labels(sample: &Value, labels: &[(&str, &str)]) -> bool {
    let m = &sample["metric"];
    m["job"] == "firebreak" && labels.iter().all(|(k, v)| m[*k] == *v)
}

#[test]
fn a_real_prometheus_scrapes_the_metrics_and_answers_queries() {
    let Some(bin) = require(PROMETHEUS) else {
        return;
    };
    let t0 = Instant::now();
    let a = Origin::start("a", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier(&[(&a, 1)], &[&s], "", ""));
    assert!(
        p.wait_ready_within(Duration::from_secs(10)),
        "the proxy never became ready"
    );

    let prom = Prometheus::start(&bin, p.admin_addr());
    let t_ready = t0.elapsed();
    for i in 0..10 {
        assert_eq!(
            get(p.http_addr(), &format!("/login/{i}")).unwrap().status,
            200
        );
    }
    for i in 0..4 {
        assert_eq!(
            get(p.http_addr(), &format!("/orders/{i}")).unwrap().status,
            200
        );
    }

    // The counter arrives through a real scrape with its route, pool and code labels, at the
    // exact count sent.
    let login = [("route", "login"), ("pool", "primary"), ("code", "200")];
    let result = prom.await_query("firebreak_requests_total", |res| {
        res.iter()
            .any(|s| has_labels(s, &login) && value(s) == "10")
    });
    let default = [("route", "default"), ("pool", "primary"), ("code", "200")];
    assert!(
        wait_until(SERIES_TIMEOUT, || prom
            .query(r#"firebreak_requests_total{route="default"}"#)
            .is_ok_and(|r| r
                .iter()
                .any(|s| has_labels(s, &default) && value(s) == "4"))),
        "no default-route series of 4 requests; first answer was {result:?}"
    );
    let t_series = t0.elapsed();

    let up = prom.query(r#"up{job="firebreak"}"#).expect("query up");
    assert_eq!(up.len(), 1, "one firebreak target: {up:?}");
    assert_eq!(value(&up[0]), "1", "the firebreak target is not up: {up:?}");
    assert_eq!(up[0]["metric"]["instance"], p.admin_addr().to_string());

    let primary = a.addr().to_string();
    let backend = [("pool", "primary"), ("backend", primary.as_str())];
    let gauges = prom.await_query("firebreak_backend_up", |res| {
        res.iter().any(|s| has_labels(s, &backend))
    });
    let gauge = gauges.iter().find(|s| has_labels(s, &backend)).unwrap();
    assert_eq!(value(gauge), "1", "{gauges:?}");
    eprintln!(
        "prometheus test: proxy + prometheus ready {t_ready:?}, series queried {t_series:?}, \
         total {:?}",
        t0.elapsed()
    );
}
