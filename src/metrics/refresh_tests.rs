//! The planner's gauge refresh: series follow the snapshot's pools and backends across reloads.

use super::Metrics;
use crate::config::Config;
use crate::reload::Snapshot;
use std::path::Path;

fn snapshot(backends: &[&str], version: u64, previous: Option<&Snapshot>) -> Snapshot {
    let list: Vec<String> = backends
        .iter()
        .map(|b| format!("{{ addr = \"{b}\" }}"))
        .collect();
    let text = format!(
        "[[pool]]\nname = \"p\"\nbackends = [{}]\n[[route]]\nname = \"all\"\npath_prefix = \"/\"\n",
        list.join(", ")
    );
    let config = Config::parse(&text, Path::new("test.toml")).expect("valid test config");
    Snapshot::build(
        config,
        previous,
        version,
        &crate::resolve::Resolved::default(),
        0,
    )
}

fn refresh(m: &Metrics, snap: &Snapshot) {
    m.refresh(snap.version, &snap.pools, &snap.tiers(), false, 0);
}

fn text(m: &Metrics) -> String {
    String::from_utf8(m.encode()).unwrap()
}

#[test]
fn a_backend_removed_by_a_reload_leaves_the_gauges_and_the_rest_stay() {
    let m = Metrics::new();
    let v1 = snapshot(&["127.0.0.1:9001", "127.0.0.1:9002"], 1, None);
    refresh(&m, &v1);
    refresh(&m, &v1); // the next tick, same snapshot
    let t = text(&m);
    for b in ["127.0.0.1:9001", "127.0.0.1:9002"] {
        assert_eq!(
            t.matches(&format!("firebreak_backend_up{{backend=\"{b}\""))
                .count(),
            1,
            "{t}"
        );
    }

    let v2 = snapshot(&["127.0.0.1:9001"], 2, Some(&v1));
    m.refresh(v2.version, &v2.pools, &v2.tiers(), true, 0);
    let t = text(&m);
    assert!(
        t.contains("firebreak_backend_up{backend=\"127.0.0.1:9001\""),
        "{t}"
    );
    assert!(!t.contains("127.0.0.1:9002"), "{t}");
    assert!(
        t.contains("firebreak_pool_concurrency_limit{pool=\"p\"}"),
        "{t}"
    );
    assert!(t.contains("firebreak_tier_share{tier=\"0\"}"), "{t}");
    assert!(t.contains("firebreak_maintenance_active 1"), "{t}");
}
