//! Sessions stay on one site: with `[affinity]`, while the primary can carry only part of the
//! traffic, every customer (session cookie) is served by one site for all its requests, and
//! the customers split between the sites as the tier shares say.

pub mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;
use support::{request, wait_until, Behaviour, Origin, Proxy};

const CLIENTS: usize = 500;
const REQUESTS: usize = 20;
const THREADS: usize = 10;

#[test]
fn each_customer_is_served_by_one_site_while_traffic_is_split() {
    let a1 = Origin::start("primary", Behaviour::Normal);
    let a2 = Origin::start("primary", Behaviour::Normal);
    let s = Origin::start("standby", Behaviour::Normal);
    let tail = "[affinity]\nkey = \"cookie:SESSIONID\"\nhold = \"30m\"\n";
    let p = Proxy::start(&support::conf::two_tier(
        &[(&a1, 1), (&a2, 1)],
        &[&s],
        "",
        tail,
    ));
    assert!(p.wait_ready());
    // Half the primary is lost: its tier keeps the share it can carry, the standby the rest.
    a2.kill();
    let standby_share = || p.admin_get("/status").unwrap().json()["tiers"][1]["share"].as_f64();
    assert!(wait_until(Duration::from_secs(5), || standby_share()
        .is_some_and(|s| s > 0.05)));
    let share = standby_share().unwrap();
    let addr = p.http_addr();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mine: Vec<usize> = (t..CLIENTS).step_by(THREADS).collect();
                let mut seen = Vec::new();
                // Each client's requests are spread over the run, between other clients'.
                for r in 0..REQUESTS {
                    for &c in &mine {
                        let cookie = format!("theme=dark; SESSIONID=s{c}");
                        let path = format!("/orders/{c}/{r}");
                        let got = request(addr, "GET", &path, &[("Cookie", &cookie)], b"");
                        let origin = got
                            .ok()
                            .filter(|g| g.status == 200)
                            .and_then(|g| g.header("x-origin").map(String::from));
                        seen.push((c, origin));
                    }
                }
                seen
            })
        })
        .collect();
    let mut sites: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut failed = 0;
    for t in threads {
        for (c, origin) in t.join().unwrap() {
            match origin {
                Some(o) => {
                    sites.entry(c).or_default().insert(o);
                }
                None => failed += 1,
            }
        }
    }
    let both = sites.values().filter(|s| s.len() > 1).count();
    let on_standby = sites.values().filter(|s| s.contains("standby")).count();
    let fraction = on_standby as f64 / CLIENTS as f64;
    eprintln!(
        "affinity: {} requests, {failed} failed; {both} of {CLIENTS} clients saw both sites; \
         {on_standby} clients on the standby ({fraction:.3}) for a standby share of {share:.3}",
        CLIENTS * REQUESTS
    );
    assert_eq!(failed, 0);
    assert_eq!(both, 0, "customers were served by both sites");
    assert!(
        (fraction - share).abs() <= 0.05,
        "{fraction} of clients for share {share}"
    );
}
