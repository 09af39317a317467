//! Tests of diagnostics: every semantic error of a file is collected, each at the line and
//! column of the offending value; unknown keys are named where they are written; warnings do
//! not fail a load; files named in the config are read relative to it; and no input, however
//! mangled, makes the loader panic.

use super::super::Config;
use super::config_tests::{assert_mutations_fail_cleanly, errors, parse, FULL_EXAMPLE, MINIMAL};
use std::time::Duration;

#[test]
fn unknown_key_is_named_at_its_position() {
    let text = format!("{MINIMAL}[limits]\nmax_conections = 5\n");
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    let (line, col, msg) = &e[0];
    assert_eq!((*line, *col), (9, 1));
    assert!(msg.contains("unknown field `max_conections`"), "{msg}");
    let inline = "[[pool]]\nname = \"p\"\nhealth = { path = \"/h\", intervall = \"1s\" }\n";
    let e = errors(inline);
    assert_eq!((e[0].0, e[0].1), (3, 25));
    assert!(e[0].2.contains("intervall"));
    let rendered = parse(inline).expect_err("bad").to_string();
    assert!(
        rendered.starts_with("test.toml:3:25: unknown field `intervall`"),
        "{rendered}"
    );
}

#[test]
fn every_error_is_reported_with_its_line() {
    let text = r#"[server]
threads = 2000
grace = 30
[listen]
http = ["0.0.0.0:80", "localhost:81"]
[admin]
listen = "0.0.0.0:80"
[[pool]]
name = "a"
tier = 17
health = { interval = "1s", timeout = "2s", rise = 0, path = "health" }
backends = [{ addr = "10.0.0.1:80", weight = 1001 }, { addr = "10.0.0.1:80" }, { addr = "10.0.0.300:80" }]
[[pool]]
name = "a"
spill = "sometimes"
backends = []
[[pool]]
name = "zero"
backends = [{ addr = "10.0.0.2:80", weight = 0 }]
[[route]]
name = ""
path_prefix = "/"
[[route]]
name = "x"
path_prefix = "/"
host = "A.example.com:443"
[[route]]
name = "x"
path_prefix = "api"
priority = "urgent"
shadow = 1.5
[[route]]
name = "dup"
path_prefix = "/"
[limits]
max_body_bytes = "0B"
max_header_bytes = "2MiB"
[retry]
max_attempts = 0
budget_ratio = -0.1
[maintenance]
retry_after = "2 weeks"
"#;
    let e = errors(text);
    let want: &[(usize, &str)] = &[
        (2, "server.threads must be from 0 to 1024, not 2000"),
        (3, "durations need a unit"),
        (5, "invalid address \"localhost:81\""),
        (7, "clashes with proxy listener 0.0.0.0:80 (line 5)"),
        (10, "pool.tier must be from 0 to 16, not 17"),
        (11, "must start with '/'"),
        (11, "must be shorter than pool.health.interval"),
        (11, "pool.health.rise must be from 1 to 100, not 0"),
        (12, "weight must be from 0 to 1000, not 1001"),
        (12, "duplicate backend 10.0.0.1:80 in pool \"a\" (first at"),
        (12, "invalid address \"10.0.0.300:80\""),
        (14, "duplicate pool name \"a\" (first at line 9)"),
        (15, "unknown value \"sometimes\""),
        (16, "pool \"a\" has no backends"),
        (19, "every backend has weight 0"),
        (21, "route.name \"\" must be 1 to 64"),
        (26, "must not include a port"),
        (28, "duplicate route name \"x\" (first at line 24)"),
        (29, "route.path_prefix \"api\" must start with '/'"),
        (30, "unknown value \"urgent\""),
        (31, "route.shadow must be from 0 to 1, not 1.5"),
        (34, "overlapping routes: \"dup\" and \"\" (line 22)"),
        (36, "limits.max_body_bytes must be greater than zero"),
        (37, "at most 1MiB"),
        (39, "retry.max_attempts must be from 1 to 10, not 0"),
        (40, "retry.budget_ratio must be from 0 to 1"),
        (42, "unknown unit \"weeks\""),
    ];
    let lines: Vec<usize> = e.iter().map(|x| x.0).collect();
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for (line, needle) in want {
        let found = e.iter().any(|(l, _, m)| l == line && m.contains(needle));
        assert!(found, "missing line {line}: {needle}\n{e:#?}");
    }
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "sorted by position");
}

#[test]
fn single_bracket_list_gets_a_hint() {
    let e = errors("[pool]\nname = \"a\"\n");
    assert!(e[0]
        .2
        .ends_with("(write [[pool]], [[route]] or [[pool.backends]] for each entry)"));
}

#[test]
fn missing_pools_and_routes_are_errors() {
    let e = errors("");
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|(l, c, _)| (*l, *c) == (1, 1)));
    assert!(e[0].2.contains("no pool") && e[1].2.contains("no route"));
    let e = errors("pool = []\n\nroute = []\n");
    assert_eq!((e[0].0, e[1].0), (1, 3));
    let e = errors("[[pool]]\nbackends = [{ weight = 2 }]\n[[route]]\nhost = \"a\"\n");
    let msgs: Vec<&str> = e.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "pool needs a name",
            "backend needs an addr",
            "route needs a name",
            "route needs a path_prefix (\"/\" matches everything)"
        ]
    );
}

#[test]
fn listeners_and_tls() {
    let e = errors(&format!("{MINIMAL}[listen]\nhttp = []\n"));
    assert!(e[0].2.contains("no listener"));
    let listen = r#"[listen]
http = ["127.0.0.1:80", "0.0.0.0:80"]
https = [{ addr = "[::]:443", cert = "/nonexistent/c.pem", key = "/nonexistent/k.pem" }]
"#;
    let e = errors(&format!("{MINIMAL}{listen}"));
    let msgs: Vec<&str> = e.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[1].contains("listen.https.cert: cannot read /nonexistent/c.pem"));
    assert!(msgs[0].contains("listener 0.0.0.0:80 clashes with listener 127.0.0.1:80"));
    let e = errors(&format!("{MINIMAL}[admin]\nlisten = \"127.0.0.1:8080\"\n"));
    assert_eq!((e[0].0, e[0].1), (9, 10));
    assert!(e[0]
        .2
        .contains("clashes with proxy listener 0.0.0.0:8080 (the default listen.http)"));
    // IPv4 and IPv6 on the same port, and ephemeral ports, do not clash.
    let listen = r#"[listen]
http = ["0.0.0.0:80", "[::]:80", "127.0.0.1:0"]
[admin]
listen = "127.0.0.1:0"
"#;
    let c = parse(&format!("{MINIMAL}{listen}"));
    assert!(c.is_ok(), "{c:?}");
}

#[test]
fn unit_values_in_the_file() {
    let limits = r#"[limits]
max_body_bytes = 1048576
max_header_bytes = 32768
header_read_timeout = "0s"
[server]
grace = 0
"#;
    let text = format!("{MINIMAL}{limits}");
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    assert!(e[0]
        .2
        .contains("header_read_timeout must be greater than zero"));
    let c = parse(&format!(
        "{MINIMAL}[limits]\nmax_body_bytes = 1048576\n[server]\ngrace = 0\n"
    ))
    .expect("valid");
    assert_eq!(
        (c.limits.max_body_bytes, c.server.grace),
        (1 << 20, Duration::ZERO)
    );
    let e = errors(&format!(
        "{MINIMAL}[limits]\nmax_body_bytes = -1\nmax_header_bytes = 1.5\n"
    ));
    assert_eq!(e.len(), 2);
    assert!(errors(&format!("{MINIMAL}[server]\ngrace = true\n"))[0]
        .2
        .contains("a string with a unit"));
}

#[test]
fn maintenance_page_is_read_relative_to_the_config() {
    let dir = std::env::temp_dir().join(format!("firebreak-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("page.html"), "<p>{message}</p>").expect("write");
    let text = format!("{MINIMAL}[maintenance]\npage = \"page.html\"\n");
    let c = Config::parse(&text, &dir.join("firebreak.toml")).expect("valid");
    assert_eq!(c.maintenance.page.as_deref(), Some("<p>{message}</p>"));
    let text = format!("{MINIMAL}[maintenance]\npage = \"missing.html\"\n");
    let e = Config::parse(&text, &dir.join("firebreak.toml")).expect_err("missing page");
    assert_eq!((e.errors[0].line, e.errors[0].col), (9, 8));
    assert!(e.errors[0]
        .message
        .starts_with("maintenance.page: cannot read"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn special_files_are_refused_without_reading_them() {
    let dir = std::env::temp_dir().join(format!("firebreak-cfg-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let fifo = dir.join("page.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut pages = vec!["/dev/zero".to_string(), dir.display().to_string()];
    if made.is_ok_and(|s| s.success()) {
        pages.push(fifo.display().to_string());
    }
    for page in pages {
        // Would block forever (a FIFO) or never end (/dev/zero) if read naively.
        let text = format!("{MINIMAL}[maintenance]\npage = \"{page}\"\n");
        let e = Config::parse(&text, &dir.join("firebreak.toml")).expect_err(&page);
        assert!(
            e.errors[0].message.contains("not a regular file"),
            "{page}: {e}"
        );
        let tls = format!(
            "{MINIMAL}[listen]\nhttps = [{{ addr = \"127.0.0.1:8443\", cert = \"{page}\", key = \"{page}\" }}]\n"
        );
        let e = Config::parse(&tls, &dir.join("firebreak.toml")).expect_err(&page);
        assert!(
            e.errors
                .iter()
                .all(|x| x.message.contains("not a regular file")),
            "{page}: {e}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warnings_do_not_fail_the_load() {
    let text = r#"
[admin]
listen = "0.0.0.0:9901"
[[pool]]
name = "a"
spill = "failover_only"
backends = [{ addr = "10.0.0.1:80" }]
[[route]]
name = "r"
path_prefix = "/"
shadow = 0.1
"#;
    let c = parse(text).expect("valid");
    let w: Vec<(usize, &str)> = c
        .warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].0 == 3 && w[0].1.contains("not a loopback address and no token_env"));
    assert!(w[1].0 == 4 && w[1].1.contains("failover_only"));
    assert!(w[2].0 == 11 && w[2].1.contains("no standby"));
}

#[test]
fn no_input_panics() {
    let alphabet = b"[]{}=\"',.#\n 0123456789-_abcdefghijklmnopqrstuvwxyz:/";
    assert_mutations_fail_cleanly(7, FULL_EXAMPLE, 0, alphabet, 3000, 6);
}

#[test]
fn every_type_error_is_reported_not_only_the_first() {
    let text = format!(
        "{MINIMAL}[server]\nthreads = \"zwö\"\n[limits]\nmax_conections = 5\n\
         [retry]\nmax_attempts = [3]\n"
    );
    let e = errors(&text);
    let lines: Vec<usize> = e.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, vec![9, 11, 13], "{e:?}");
    // Columns stay true past a blanked line with a multi-byte character.
    assert_eq!((e[1].1, e[2].1), (1, 16), "{e:?}");
    assert!(e[0].2.contains("invalid type"), "{e:?}");
    assert!(e[1].2.contains("max_conections"), "{e:?}");
    // A syntax error ends the reading: it is the only one reported.
    let e = errors(&format!("{MINIMAL}[server]\nthreads = \"two\"\n[limits\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 10, "{e:?}");
}

#[test]
fn affinity_keys_and_hold_are_checked() {
    let ok = parse(&format!(
        "{MINIMAL}[affinity]\nkey = \"cookie:SESSIONID\"\nhold = \"10m\"\n"
    ));
    let a = ok.expect("valid").affinity.expect("affinity");
    assert_eq!(a.hold, Duration::from_secs(600));
    for (keys, want) in [
        ("key = \"session\"", "must be cookie:NAME"),
        ("key = \"cookie:\"", "must be cookie:NAME"),
        ("key = \"header:a b\"", "must be cookie:NAME"),
        ("key = \"addr\"\nhold = \"soon\"", "affinity.hold"),
        ("hold = \"1m\"", "affinity.key is required"),
    ] {
        let e = errors(&format!("{MINIMAL}[affinity]\n{keys}\n"));
        assert!(e.iter().any(|(_, _, m)| m.contains(want)), "{keys}: {e:?}");
    }
}
