//! Hot reload under load: every trigger (file change, SIGHUP, POST /reload), a dozen reloads
//! that add, remove and reweigh backends, and not one failed request. Plus draining a backend
//! by hand and a bad file that changes nothing.

pub mod support;

use std::time::{Duration, Instant};
use support::conf::{two_tier, TOKEN};
use support::load::Steady;
use support::{get, wait_until, Behaviour, Origin, Proxy};

#[test]
fn a_dozen_reloads_under_load_fail_no_request() {
    let o: Vec<Origin> = ["a", "b", "c"]
        .iter()
        .map(|n| Origin::start(n, Behaviour::Delay(Duration::from_millis(5))))
        .collect();
    let s = Origin::start("standby", Behaviour::Normal);
    let cfg = |set: &[(usize, u32)]| {
        let list: Vec<(&Origin, u32)> = set.iter().map(|&(i, w)| (&o[i], w)).collect();
        two_tier(&list, &[&s], "", "")
    };
    let p = Proxy::start_with_env(&cfg(&[(0, 1), (1, 1)]), &[TOKEN]);
    assert!(p.wait_ready());

    let load = Steady::start(p.http_addr(), 4, |w, i| format!("/w{w}/{i}"));

    let plans: [&[(usize, u32)]; 12] = [
        &[(0, 1), (1, 1), (2, 1)],
        &[(0, 3), (1, 1), (2, 1)],
        &[(0, 3), (2, 1)],
        &[(2, 1), (1, 2)],
        &[(0, 1), (1, 1), (2, 1)],
        &[(0, 1)],
        &[(0, 1), (2, 5)],
        &[(1, 1), (2, 1)],
        &[(0, 2), (1, 1), (2, 1)],
        &[(0, 1), (1, 0), (2, 1)],
        &[(1, 1), (2, 1)],
        &[(0, 1), (1, 1)],
    ];
    let mut applied = vec![];
    for (k, plan) in plans.iter().enumerate() {
        let before = p.config_version().unwrap();
        p.rewrite_config(&cfg(plan));
        let t = Instant::now();
        match k % 3 {
            0 => assert_eq!(p.admin_post("/reload", "").unwrap().status, 200),
            1 => p.signal("HUP"),
            _ => {} // the file watcher picks it up
        }
        assert!(
            wait_until(Duration::from_secs(5), || p.config_version().unwrap()
                > before),
            "reload {k} never applied"
        );
        applied.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    let (ok, failed) = load.finish();
    eprintln!("reload apply times: {applied:?}");
    assert_eq!(
        p.config_version().unwrap(),
        13,
        "each reload applied exactly once"
    );
    assert!(ok > 200, "too little traffic: {ok}");
    assert_eq!(failed, 0, "requests failed during reloads");
    let m = p.admin_get("/metrics").unwrap().text();
    assert!(
        m.contains(r#"firebreak_config_reloads_total{result="success"} 12"#),
        "{m}"
    );
}

#[test]
fn a_bad_file_on_disk_is_refused_and_the_old_config_keeps_serving() {
    let (_a, _s, p) = support::primary_and_standby("", &[TOKEN]);
    std::fs::write(
        p.config_path(),
        "[[pool]]\nname = \"x\"\nbackends = [{ addr = \"nope\" }]\n",
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        p.admin_get("/status").unwrap().json()["last_reload"]["ok"] == false
    }));
    let st = p.admin_get("/status").unwrap().json();
    assert_eq!(st["version"], 1);
    let errors = st["last_reload"]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains(":3:22: pool.backends.addr")),
        "{st}"
    );
    assert_eq!(get(p.http_addr(), "/x").unwrap().status, 200);
    // Tried once, not again every second.
    std::thread::sleep(Duration::from_millis(2500));
    let m = p.admin_get("/metrics").unwrap().text();
    assert!(
        m.contains(r#"firebreak_config_reloads_total{result="failure"} 1"#),
        "{m}"
    );
}

#[test]
fn a_backend_drained_by_hand_finishes_its_requests_and_gets_no_new_ones() {
    let a = Origin::start("a", Behaviour::Delay(Duration::from_millis(300)));
    let b = Origin::start("b", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start_with_env(&two_tier(&[(&a, 1), (&b, 1)], &[&s], "", ""), &[TOKEN]);
    assert!(wait_until(Duration::from_secs(5), || p
        .backends_up(&[a.addr(), b.addr()])));
    let addr = p.http_addr();
    // Get one request in flight on a.
    let mut inflight = None;
    for i in 0..40 {
        let h = std::thread::spawn(move || get(addr, &format!("/slow/{i}")));
        if wait_until(Duration::from_millis(100), || a.hits() > 0) {
            inflight = Some(h);
            break;
        }
        h.join().unwrap().unwrap();
    }
    let inflight = inflight.expect("a request in flight on a");
    let body = format!(r#"{{"pool":"primary","backend":"{}"}}"#, a.addr());
    let r = p.admin_post("/drain", &body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        inflight.join().unwrap().unwrap().status,
        200,
        "the in-flight request finished"
    );
    let hits = a.hits();
    for i in 0..30 {
        assert_eq!(get(addr, &format!("/x/{i}")).unwrap().status, 200);
    }
    assert_eq!(a.hits(), hits, "a drained backend got new requests");
    assert_eq!(
        p.admin_get("/status").unwrap().json()["pools"][0]["backends"][0]["health"],
        "drained"
    );
    let undo = format!(
        r#"{{"pool":"primary","backend":"{}","drain":false}}"#,
        a.addr()
    );
    assert_eq!(p.admin_post("/drain", &undo).unwrap().status, 200);
    let unknown = r#"{"pool":"primary","backend":"10.9.9.9:1"}"#;
    assert_eq!(p.admin_post("/drain", unknown).unwrap().status, 404);
}
