//! `firebreak demo`: the July incident on one laptop.
//!
//! Starts three simulated fireTMS origins in-process (a fast two-backend primary and a small,
//! slow standby: 2 workers × 60 ms), then the real proxy with `conf/demo.toml` on
//! 127.0.0.1:8080 (admin on 127.0.0.1:9901), prints what to try, and reads commands from stdin
//! (`kill primary`, `start primary`, `kill standby`, `note TEXT`, …) to break things live and
//! watch the customers' status page (`/_status` on the proxy) follow.

mod origin;

use crate::server;
use origin::DemoOrigin;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const CONFIG: &str = include_str!("../../conf/demo.toml");

fn origins() -> Vec<Arc<DemoOrigin>> {
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    vec![
        DemoOrigin::new("primary-a", addr(18081), Duration::from_millis(5), 256),
        DemoOrigin::new("primary-b", addr(18082), Duration::from_millis(5), 256),
        DemoOrigin::new("standby", addr(18091), Duration::from_millis(60), 2),
    ]
}

const HELP: &str = "\
firebreak demo: proxy on http://127.0.0.1:8080, operators' page on http://127.0.0.1:9901/
Customers' status page: http://127.0.0.1:8080/_status (JSON: /_status.json)

Try, in another terminal:
  curl -s localhost:8080/orders/42                  # served by the primary (3:1 over two backends)
  curl -s -H 'Accept: text/html' localhost:8080/    # what a browser gets
  curl -s localhost:9901/status | python3 -m json.tool
  curl -s localhost:9901/metrics | grep firebreak_
  curl -s -X POST -H 'Authorization: Bearer demo' localhost:9901/maintenance \\
       -d '{\"enabled\": true, \"message\": \"Back at 14:00\"}'

Type here to break things:
  kill primary | start primary | kill standby | start standby
  slow primary (500 ms per request) | fast primary | state | help | quit
  failback   (after `start primary`, traffic stays on the standby until you say so)
  note TEXT  (posts TEXT to the customers' status page; `note clear` removes every note)
";

fn command(line: &str, origins: &[Arc<DemoOrigin>], rt: &tokio::runtime::Handle) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let pick = |which: &str| {
        origins
            .iter()
            .filter(move |o| o.name.starts_with(which))
            .cloned()
            .collect::<Vec<_>>()
    };
    match words.as_slice() {
        ["kill", which] => pick(which).iter().for_each(|o| o.kill()),
        ["start", which] => {
            for o in pick(which) {
                if let Err(e) = rt.block_on(o.start()) {
                    println!("cannot start {}: {e}", o.name);
                }
            }
        }
        ["slow", which] => pick(which)
            .iter()
            .for_each(|o| o.set_service(Duration::from_millis(500))),
        ["fast", which] => pick(which)
            .iter()
            .for_each(|o| o.set_service(Duration::from_millis(5))),
        ["state"] => {}
        ["failback"] => {
            let admin = SocketAddr::from(([127, 0, 0, 1], 9901));
            let token = std::env::var("FIREBREAK_ADMIN_TOKEN").ok();
            match crate::operator::call(admin, "POST", "/failback", token.as_deref(), "") {
                Ok((200, _)) => println!("failback: traffic moves back to the primary"),
                Ok((_, answer)) => println!("failback: {}", answer["message"]),
                Err(e) => println!("failback: {e}"),
            }
        }
        ["note", "clear"] => post_note(r#"{"clear": true}"#),
        ["note", ..] => {
            let text = line.trim_start().strip_prefix("note").unwrap_or("").trim();
            post_note(&serde_json::json!({ "text": text }).to_string());
        }
        ["help"] => print!("{HELP}"),
        ["quit"] | ["exit"] => std::process::exit(0),
        [] => return true,
        _ => println!("unknown command; type help"),
    }
    for o in origins {
        println!(
            "  {:<10} {:<15} {:<8} served {}",
            o.name,
            o.addr,
            if o.is_running() { "up" } else { "DOWN" },
            o.served()
        );
    }
    let proxy = SocketAddr::from(([127, 0, 0, 1], 8080));
    if let Ok((200, page)) = crate::operator::call(proxy, "GET", "/_status.json", None, "") {
        let (mode, since) = (&page["mode"], &page["since_utc"]);
        println!("  status page: {mode} since {since} (modes follow health checks within ~1 s)");
    }
    true
}

/// Posts a status note (`POST /note`) to the demo's admin API and says what happened.
fn post_note(body: &str) {
    let admin = SocketAddr::from(([127, 0, 0, 1], 9901));
    let token = std::env::var("FIREBREAK_ADMIN_TOKEN").ok();
    match crate::operator::call(admin, "POST", "/note", token.as_deref(), body) {
        Ok((200, _)) => println!("note: on http://127.0.0.1:8080/_status"),
        Ok((_, answer)) => println!("note: {}", answer["message"]),
        Err(e) => println!("note: {e}"),
    }
}

/// Runs the demo until Ctrl-C.
pub fn run() -> Result<(), String> {
    if std::env::var_os("FIREBREAK_ADMIN_TOKEN").is_none() {
        std::env::set_var("FIREBREAK_ADMIN_TOKEN", "demo");
    }
    let dir = std::env::temp_dir().join(format!("firebreak-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("demo.toml");
    std::fs::write(&path, CONFIG).map_err(|e| format!("{}: {e}", path.display()))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let origins = origins();
    for o in &origins {
        rt.block_on(o.start())
            .map_err(|e| format!("demo origin {} on {}: {e}", o.name, o.addr))?;
    }
    std::thread::spawn(move || {
        print!("{HELP}");
        println!("(config written to {})", path.display());
        let handle = rt.handle().clone();
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            command(&line, &origins, &handle);
        }
        // stdin closed (e.g. run in the background): keep the origins alive.
        loop {
            std::thread::park();
        }
    });
    server::run(&dir.join("demo.toml"), false)
}
