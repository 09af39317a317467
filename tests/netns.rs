//! A provider that goes dark (issue 6, item 2): no resets, no refusals, its packets just vanish.
//!
//! As root, the primary's origin runs in its own network namespace behind a veth pair with
//! addresses of our own test hosts (10.213.X.Y/30, unique per run); the standby runs on loopback.
//! After warm-up the namespace side of the link goes down: the host side keeps its route (the
//! link is only without carrier), so connects and in-flight reads toward the primary time out
//! instead of failing fast. GETs must keep succeeding from the standby within ~3 s, and no client
//! may wait longer than connect_timeout + read_timeout. An `unreachable` route of lower priority
//! guarantees that no packet for the test subnet ever leaves by the default route. Everything is
//! removed on exit by a Drop guard, also on panic; namespaces left by a killed run are swept.
//!
//! The second test does the same with the primary site reached over TLS by host name (verified
//! against a test CA, the name resolved through `/etc/hosts` of a private mount namespace the
//! proxy runs in): the failover must not depend on how the site is reached.
//!
//! Without root, or where network namespaces cannot be made, the tests print a loud SKIPPED
//! line and return.

pub mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::conf::two_tier_at;
use support::load::sequential_gets;
use support::proxy::scratch_dir;
use support::pyorigin::PyOrigin;
use support::tls_origin::TestCa;
use support::tools::{loud, require, which, IP, PYTHON3};
use support::{get_timeout, wait_until, Behaviour, Origin, Proxy};

const PREFIX: &str = "fbtest";
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// The tests of this file share the subnet choice and measure latency: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Scheduling slack on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(700);

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new(which("ip").ok_or("no `ip` command")?)
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    out.status
        .success()
        .then_some(text)
        .ok_or(format!("ip {}: {}", args.join(" "), err.trim()))
}

/// A namespace with one end of a veth pair; the other end and a safety route on the host.
struct Netns {
    name: String,
    host_if: String,
    peer_if: String,
    subnet: String,
    host_ip: String,
    ns_ip: String,
}

/// Whether this process runs as root.
fn root() -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(String::from));
    uid.as_deref().and_then(|l| l.split_whitespace().nth(1)) == Some("0")
}

impl Netns {
    /// `Err` only when namespaces cannot be used at all (the skip case).
    fn create() -> Result<Netns, String> {
        if !root() {
            return Err("not running as root".into());
        }
        ip(&["netns", "list"])?;
        sweep_stale();
        let pid = std::process::id();
        let taken = ip(&["-o", "-4", "addr"]).unwrap_or_default() + &ip(&["-4", "route"])?;
        let (x, y) = (0..64u32)
            .map(|k| (1 + (pid + k) % 250, 4 * ((pid / 250 + k) % 63)))
            .find(|(x, y)| !taken.contains(&format!("10.213.{x}.{y}/")))
            .ok_or("no free 10.213.x.y/30 subnet")?;
        let name = format!("{PREFIX}-{pid}-{x}-{y}");
        ip(&["netns", "add", &name])?;
        let ns = Netns {
            host_if: format!("fbh{pid}"),
            peer_if: format!("fbp{pid}"),
            subnet: format!("10.213.{x}.{y}/30"),
            host_ip: format!("10.213.{x}.{}", y + 1),
            ns_ip: format!("10.213.{x}.{}", y + 2),
            name,
        };
        ns.setup()
            .unwrap_or_else(|e| panic!("cannot set up namespace {}: {e}", ns.name));
        Ok(ns)
    }

    fn setup(&self) -> Result<(), String> {
        let (h, p, n) = (&self.host_if, &self.peer_if, &self.name);
        ip(&["link", "add", h, "type", "veth", "peer", "name", p])?;
        ip(&["link", "set", p, "netns", n])?;
        // Should the connected route ever be ignored, this one answers "unreachable" at once:
        // nothing for the test subnet can go out by the default route.
        ip(&[
            "route",
            "add",
            "unreachable",
            &self.subnet,
            "metric",
            "4000",
        ])?;
        ip(&["addr", "add", &format!("{}/30", self.host_ip), "dev", h])?;
        ip(&["link", "set", h, "up"])?;
        self.exec(&["ip", "addr", "add", &format!("{}/30", self.ns_ip), "dev", p])?;
        self.exec(&["ip", "link", "set", p, "up"])?;
        self.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn exec(&self, cmd: &[&str]) -> Result<String, String> {
        ip(&[&["netns", "exec", &self.name], cmd].concat())
    }

    /// Takes the namespace's end down: the host end loses carrier, packets vanish.
    fn go_dark(&self) {
        self.exec(&["ip", "link", "set", &self.peer_if, "down"])
            .unwrap_or_else(|e| panic!("{e}"));
        let route = ip(&["route", "get", &self.ns_ip]).unwrap_or_default();
        assert!(
            route.contains(&format!("dev {}", self.host_if)),
            "after link down the primary is no longer routed into the veth: {route}"
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&[
            "route",
            "del",
            "unreachable",
            &self.subnet,
            "metric",
            "4000",
        ]);
    }
}

/// Removes what runs killed before their Drop left behind (their process is gone).
fn sweep_stale() {
    let list = ip(&["netns", "list"]).unwrap_or_default();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        // fbtest-PID-X-Y: the pid that made it and its subnet 10.213.X.Y/30.
        let parts: Vec<&str> = name.split('-').collect();
        let [PREFIX, pid, x, y] = parts[..] else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
            let _ = ip(&["link", "del", &format!("fbh{pid}")]);
            let subnet = format!("10.213.{x}.{y}/30");
            let _ = ip(&["route", "del", "unreachable", &subnet, "metric", "4000"]);
        }
    }
}

/// A namespace for `test`, or None after a loud SKIPPED line (without root nothing here can
/// run, whatever is installed; as root a missing `ip` fails through `require`).
fn netns_or_skip(test: &str) -> Option<Netns> {
    if root() && require(IP).is_none() {
        return None;
    }
    match Netns::create() {
        Ok(ns) => Some(ns),
        Err(why) => {
            loud(&format!(
                "SKIPPED (needs root and ip netns): {why}. {test} did NOT run"
            ));
            None
        }
    }
}

#[test]
fn a_primary_whose_packets_vanish_is_replaced_by_the_standby_within_the_timeouts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ns) = netns_or_skip("the plain netns test") else {
        return;
    };
    let Some(py) = require(PYTHON3) else {
        return;
    };
    let ip_cmd = which("ip").expect("ip").display().to_string();
    let prefix = [ip_cmd.as_str(), "netns", "exec", &ns.name];
    let dark = PyOrigin::start(&py, &prefix, &ns.ns_ip, 8080, "dark");
    let standby = Origin::start("standby", Behaviour::Normal);
    let p = Proxy::start(&two_tier_at(&[(dark.addr(), 1)], &[standby.addr()], "", ""));
    let up = || p.backend_health(dark.addr()).as_deref() == Some("up");
    assert!(
        wait_until(Duration::from_secs(5), up),
        "the primary in {} never came up",
        ns.name
    );
    for i in 0..20 {
        let r = get_timeout(p.http_addr(), &format!("/warm/{i}"), SLACK * 5);
        let r = r.unwrap_or_else(|e| panic!("warm-up GET: {e}"));
        assert_eq!((r.status, r.header("x-origin")), (200, Some("dark")));
    }

    expect_failover(&ns, &p, dark.addr());
    assert!(p.is_running(), "the proxy died");
}

/// Takes the namespace's link down and checks what clients see: every GET served by the
/// standby (a 502/504 only in the first 3 s), none waiting past the timeouts, and the dark
/// primary shown down.
fn expect_failover(ns: &Netns, p: &Proxy, dark: std::net::SocketAddr) {
    let t0 = Instant::now();
    ns.go_dark();
    let run = sequential_gets(p.http_addr(), t0, Duration::from_secs(8), || {});
    let mut problems = Vec::new();
    for (i, s) in run.iter().enumerate() {
        let (at, latency) = (s.at, s.latency);
        let outcome = s.answer.as_ref().map(|r| {
            let detail = r
                .try_json()
                .map_or("not JSON".into(), |v| v["error"].to_string());
            (r.status, r.header("x-origin").map(String::from), detail)
        });
        let fine = match &outcome {
            Ok((200, Some(o), _)) => o == "standby",
            Ok((502, None, e)) => e == "\"bad_gateway\"" && at < Duration::from_secs(3),
            Ok((504, None, e)) => e == "\"gateway_timeout\"" && at < Duration::from_secs(3),
            _ => false,
        };
        if !fine || latency > CONNECT_TIMEOUT + READ_TIMEOUT + SLACK {
            problems.push(format!("#{i} at {at:?} took {latency:?}: {outcome:?}"));
        }
    }
    let samples: Vec<Duration> = run.iter().map(|s| s.latency).collect();
    let max = samples.iter().max().copied().unwrap_or_default();
    let slow = samples.iter().filter(|l| **l > CONNECT_TIMEOUT).count();
    let health = p.backend_health(dark);
    eprintln!(
        "netns: {} GETs after the link went down, max latency {max:?} (bound {:?} + {SLACK:?}), \
         {slow} slower than connect_timeout; primary now {health:?}",
        samples.len(),
        CONNECT_TIMEOUT + READ_TIMEOUT
    );
    assert!(
        problems.is_empty(),
        "GETs misbehaved:\n{}",
        problems.join("\n")
    );
    assert!(samples.len() >= 20, "only {} GETs in 8 s", samples.len());
    assert!(
        matches!(health.as_deref(), Some("down" | "ejected")),
        "the dark primary is not shown down: {health:?}"
    );
    // The packets really vanish: a connect times out rather than being refused.
    let direct = std::net::TcpStream::connect_timeout(&dark, Duration::from_millis(500));
    let kind = direct.as_ref().map_err(|e| e.kind()).err();
    assert_eq!(kind, Some(std::io::ErrorKind::TimedOut), "{direct:?}");
}

#[test]
fn a_site_reached_over_tls_by_name_whose_link_goes_down_fails_over_the_same_way() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(ns) = netns_or_skip("the TLS netns test") else {
        return;
    };
    let (Some(py), Some(unshare)) = (require(PYTHON3), which("unshare")) else {
        return;
    };
    // The primary site: HTTPS in its namespace, certificate for its name from a test CA.
    let dir = scratch_dir("netns-tls");
    let ca = TestCa::new(&dir, "site");
    let leaf = ca.leaf("primary", &[SITE], false);
    let ip_cmd = which("ip").expect("ip").display().to_string();
    let prefix = [ip_cmd.as_str(), "netns", "exec", &ns.name];
    let site = (ns.ns_ip.as_str(), 8443, "dark");
    let dark = PyOrigin::start_tls(&py, &prefix, site, &leaf.cert, &leaf.key);
    // The proxy resolves the name through /etc/hosts of a private mount namespace.
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{} {SITE}\n", ns.ns_ip),
    )
    .unwrap();
    let standby = Origin::start("standby", Behaviour::Normal);
    let placeholder = std::net::SocketAddr::from(([127, 0, 0, 9], 8443));
    let tls = format!("tls = {{ ca = \"{}\" }}", ca.pem().display());
    let cfg = two_tier_at(&[(placeholder, 1)], &[standby.addr()], "", "")
        .replacen(
            "slow_start = \"0s\"",
            &format!("slow_start = \"0s\"\n{tls}"),
            1,
        )
        .replace(&placeholder.to_string(), &format!("{SITE}:8443"));
    let p = Proxy::start_with_hosts(&cfg, &unshare, &hosts);
    let up = || p.backend_health(dark.addr()).as_deref() == Some("up");
    assert!(
        wait_until(Duration::from_secs(5), up),
        "{:?}",
        p.backend(dark.addr())
    );
    for i in 0..20 {
        let r = get_timeout(p.http_addr(), &format!("/warm/{i}"), SLACK * 5).unwrap();
        assert_eq!((r.status, r.header("x-origin")), (200, Some("dark")));
    }
    expect_failover(&ns, &p, dark.addr());
}

/// The primary site's host name in the TLS test.
const SITE: &str = "primary.site.test";
