//! The soak's short variant, run in CI (the long one is `benches/soak/soak.sh`): about 20 s of
//! mixed traffic (GETs on three routes and priorities, POSTs with unique ids) while, every 2 s,
//! one backend is killed (TCP resets, like a crashed process) and the previous one restarted,
//! and the config is rewritten and reloaded by `POST /reload`, SIGHUP and the file watcher in
//! turn. It asserts no crash (running throughout, no panic logged, exit 0 on SIGTERM), no write
//! applied twice across origins, every POST answered 200 applied exactly once, every reload
//! applied, and RSS growth bounded.

pub mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use support::conf::{two_tier, TOKEN};
use support::load::{open_loop, writers};
use support::{wait_until, Behaviour, Origin, Proxy};

const RUN: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_secs(2);

/// Config variant `k`: weights rotate and the third primary backend comes and goes.
fn config(primary: &[Origin], standby: &Origin, k: usize) -> String {
    let mut list: Vec<(&Origin, u32)> = vec![
        (&primary[0], 1 + (k % 3) as u32),
        (&primary[1], 1 + ((k + 1) % 3) as u32),
    ];
    if k % 2 == 0 {
        list.push((&primary[2], 2));
    }
    two_tier(&list, &[standby], "", &format!("# reload {k}\n"))
}

#[test]
fn short_soak_kills_and_reloads_under_mixed_traffic() {
    let primary: Vec<Origin> = ["p1", "p2", "p3"]
        .iter()
        .map(|n| Origin::start(n, Behaviour::Delay(Duration::from_millis(2))))
        .collect();
    let standby = Origin::start("s1", Behaviour::Normal);
    let p = Proxy::start_with_env(&config(&primary, &standby, 0), &[TOKEN]);
    assert!(p.wait_ready_within(Duration::from_secs(10)), "never ready");
    let addr = p.http_addr();
    // POST workers: each sends writes with unique ids in the body, one after another.
    let posts = writers(
        addr,
        3,
        Duration::from_millis(15),
        |w, i| format!("soak-w{w}-{i}"),
        |i| match i % 4 {
            0 => "/login/session",
            _ => "/orders",
        },
    );
    // GETs on a fixed schedule over three routes and priorities, for the whole run.
    let gets = std::thread::spawn(move || {
        open_loop(addr, 40.0, RUN.as_secs_f64(), |i| match i % 4 {
            0 => ("critical", "/login/page".to_string(), String::new()),
            1 => ("bulk", format!("/reports/{i}"), String::new()),
            _ => ("normal", format!("/items/{i}"), String::new()),
        })
    });

    let start = Instant::now();
    let mut rss = vec![(0.0f64, p.rss_kib())];
    let (mut kills, mut reloads, mut k) = (0, 0, 0);
    let mut down: Option<&Origin> = None;
    let victims: Vec<&Origin> = primary.iter().chain([&standby]).collect();
    while start.elapsed() < RUN {
        let tick = Instant::now();
        if let Some(o) = down.take() {
            o.restart();
        }
        let victim = victims[k % victims.len()];
        victim.kill();
        down = Some(victim);
        kills += 1;

        k += 1;
        let before = p.config_version().expect("status answers");
        p.rewrite_config(&config(&primary, &standby, k));
        match k % 3 {
            0 => {
                let r = p.admin_post("/reload", "");
                assert_eq!(r.map(|r| r.status).ok(), Some(200), "POST /reload {k}");
            }
            1 => p.signal("HUP"),
            _ => {} // the file watcher picks the change up
        }
        assert!(
            wait_until(Duration::from_secs(5), || p
                .config_version()
                .is_some_and(|v| v > before)),
            "reload {k} never applied"
        );
        reloads += 1;
        assert!(p.is_running(), "firebreak died:\n{}", p.stderr_text());
        rss.push((start.elapsed().as_secs_f64(), p.rss_kib()));
        std::thread::sleep(TICK.saturating_sub(tick.elapsed()));
    }
    if let Some(o) = down.take() {
        o.restart();
    }
    let got = gets.join().unwrap();
    // Every answer's status by id (0 = no answer).
    let sent: Vec<(String, u16)> = posts
        .finish()
        .into_iter()
        .map(|w| (w.id, w.status.unwrap_or(0)))
        .collect();
    rss.push((start.elapsed().as_secs_f64(), p.rss_kib()));

    // No crash: alive now, no panic logged, and a clean exit on SIGTERM.
    assert!(p.is_running(), "firebreak died:\n{}", p.stderr_text());
    p.signal("TERM");
    assert_eq!(
        p.wait_exit(Duration::from_secs(15)),
        Some(0),
        "exit on SIGTERM"
    );
    let stderr = p.stderr_text();
    assert!(!stderr.contains("panicked"), "panic in the log:\n{stderr}");

    // Writes: never applied twice (across every origin), every 200 applied exactly once.
    let mut applied: HashMap<String, Vec<&str>> = HashMap::new();
    for o in primary.iter().chain([&standby]) {
        for body in o.applied() {
            applied.entry(body).or_default().push(o.name());
        }
    }
    let ids: HashSet<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
    let twice: Vec<_> = applied.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(twice.is_empty(), "writes applied twice: {twice:?}");
    let unknown: Vec<_> = applied
        .keys()
        .filter(|id| !ids.contains(id.as_str()))
        .collect();
    assert!(unknown.is_empty(), "unknown writes applied: {unknown:?}");
    let lost: Vec<_> = sent
        .iter()
        .filter(|(id, st)| *st == 200 && applied.get(id).map_or(0, Vec::len) != 1)
        .collect();
    assert!(
        lost.is_empty(),
        "answered 200 but not applied once: {lost:?}"
    );

    // Traffic mostly succeeded (one backend of four is down at any time).
    let ok_posts = sent.iter().filter(|(_, st)| *st == 200).count();
    let ok_gets = got.iter().filter(|o| o.status == 200).count();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for s in sent
        .iter()
        .map(|(_, s)| *s)
        .chain(got.iter().map(|o| o.status))
    {
        *statuses.entry(s).or_default() += 1;
    }
    eprintln!(
        "short soak: {} GETs ({ok_gets} ok), {} POSTs ({ok_posts} ok), statuses {statuses:?}, \
         {kills} kills, {reloads} reloads",
        got.len(),
        sent.len()
    );
    assert!(sent.len() > 100, "too few writes: {}", sent.len());
    assert!(
        ok_posts * 100 >= sent.len() * 85,
        "too many failed writes: {statuses:?}"
    );
    assert!(
        ok_gets * 100 >= got.len() * 85,
        "too many failed GETs: {statuses:?}"
    );
    assert!(
        reloads >= 6 && kills >= 6,
        "{reloads} reloads, {kills} kills"
    );

    // RSS bounded: after a 4 s warm-up it grows by at most half, and 64 MiB at most.
    let curve: Vec<String> = rss
        .iter()
        .map(|(t, kib)| format!("{t:.0}s:{:.1}MiB", *kib as f64 / 1024.0))
        .collect();
    eprintln!("RSS curve: {}", curve.join(" "));
    let warm = rss
        .iter()
        .find(|(t, _)| *t >= 4.0)
        .map_or(rss[0].1, |s| s.1);
    let end = rss.last().unwrap().1;
    assert!(
        end <= warm + warm / 2 && end <= warm + 64 * 1024,
        "RSS grew from {warm} KiB to {end} KiB: {curve:?}"
    );
}
