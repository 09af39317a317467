//! `firebreak check` on `[status_page]`: a `host` that is also a route's host is an error (the
//! route could never be reached), a `path` that shadows a route's `path_prefix` (or lies over
//! one) a warning, and bad values errors at their line.

pub mod support;

use support::conf::two_tier;
use support::proxy::{cli, scratch_dir};

const HOST: &str = "status.example.net";

/// `firebreak check` on `[status_page]` over the usual routes plus `extra`.
fn check(extra: &str) -> (bool, String) {
    let dir = scratch_dir("status-check");
    let path = dir.join("f.toml");
    let cfg = two_tier(&[], &[], "", extra)
        .replace("{HTTP}", "127.0.0.1:18980")
        .replace("{ADMIN}", "127.0.0.1:18981");
    let cfg = cfg
        .replacen(
            "backends = []",
            r#"backends = [{ addr = "127.0.0.1:1", weight = 1 }]"#,
            1,
        )
        .replacen(
            "backends = []",
            r#"backends = [{ addr = "127.0.0.1:2", weight = 1 }]"#,
            1,
        );
    std::fs::write(&path, cfg).unwrap();
    let out = cli(&["check", "--config", path.to_str().unwrap()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn check_refuses_a_colliding_host_and_warns_of_a_shadowed_path() {
    let route = "[[route]]\nname = \"tms\"\nhost = \"Status.Example.NET\"\npath_prefix = \"/\"\n";
    let (ok, out) = check(&format!("[status_page]\nhost = \"{HOST}\"\n{route}"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("status_page.host \"status.example.net\" is also the host of route \"tms\""),
        "{out}"
    );
    let placed = out
        .lines()
        .any(|l| l.contains("f.toml:") && l.contains("also the host"));
    assert!(placed, "the error names its line: {out}");

    let (ok, out) = check("[status_page]\npath = \"/reports/status\"\n");
    assert!(ok, "{out}");
    assert!(
        out.contains("warning: status_page.path \"/reports/status\" shadows route \"reports\""),
        "{out}"
    );
    let (ok, out) = check(
        "[status_page]\npath = \"/st\"\n[[route]]\nname = \"stats\"\npath_prefix = \"/stats\"\n",
    );
    assert!(
        ok && out.contains(
            "warning: route \"stats\" (path_prefix \"/stats\") lies under status_page.path \"/st\""
        ),
        "{out}"
    );
    let (ok, out) = check("[status_page]\npath = \"/_status\"\n");
    assert!(ok && !out.contains("status_page"), "{out}");
    for (bad, why) in [
        ("\"/\"", "home page"),
        ("\"status\"", "must start with '/'"),
        ("\"/s/\"", "must not end with '/'"),
    ] {
        let (ok, out) = check(&format!("[status_page]\npath = {bad}\n"));
        assert!(!ok && out.contains(why), "{bad}: {out}");
    }
    let (ok, out) = check("[status_page]\nmax_rps = 0\ntitle = \"\"\n");
    assert!(
        !ok && out.contains("status_page.max_rps must be from 1")
            && out.contains("status_page.title must not be empty"),
        "{out}"
    );
}
