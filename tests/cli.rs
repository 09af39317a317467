//! The command line: `check` on shipped and broken configs, `--version`, `--help`.

pub mod support;

use support::proxy::{cli, scratch_dir};
use support::repo;

#[test]
fn every_shipped_config_passes_check() {
    let dir = repo().join("conf");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = cli(&["check", "--config", path.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            n += 1;
        }
    }
    assert!(n >= 2, "conf/ should ship firebreak.toml and demo.toml");
}

#[test]
fn a_broken_config_fails_check_naming_each_line() {
    let dir = scratch_dir("check");
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        r#"[listen]
http = ["127.0.0.1:8080"]

[[pool]]
name = "primary"
backends = [{ addr = "not-an-address", weight = 1 }]

[[route]]
name = "default"
path_prefix = "nope"
colour = "blue"
"#,
    )
    .unwrap();
    let out = cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let p = path.display().to_string();
    assert!(
        text.lines().all(|l| l.starts_with(&format!("{p}:"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{p}:11:1: unknown field `colour`")),
        "unknown key on line 11 not named: {text}"
    );
}

#[test]
fn a_config_with_several_semantic_errors_reports_them_all() {
    let dir = scratch_dir("check2");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        r#"[[pool]]
name = "primary"
backends = [{ addr = "not-an-address", weight = 1 }]

[[pool]]
name = "primary"
backends = []

[[route]]
name = "default"
path_prefix = "nope"
"#,
    )
    .unwrap();
    let out = cli(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let p = path.display().to_string();
    for line in [3, 6, 7, 11] {
        assert!(
            text.contains(&format!("{p}:{line}:")),
            "line {line} not reported: {text}"
        );
    }
}

#[test]
fn version_and_help() {
    let v = cli(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));
    let h = cli(&["--help"]);
    let text = String::from_utf8_lossy(&h.stdout);
    for cmd in ["run", "check", "demo"] {
        assert!(text.contains(cmd), "{text}");
    }
}

/// A listener that cannot be opened ends the process at once, with the address named and a
/// non-zero exit; it never lingers answering `/healthz` with nothing serving.
#[test]
fn a_taken_port_ends_run_at_once_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let admin = support::proxy::free_addr();
    let dir = scratch_dir("taken");
    let path = dir.join("firebreak.toml");
    std::fs::write(
        &path,
        format!(
            "[listen]\nhttp = [\"{addr}\"]\n[admin]\nlisten = \"{admin}\"\n\
             [[pool]]\nname = \"p\"\nbackends = [{{ addr = \"127.0.0.1:9\" }}]\n\
             [[route]]\nname = \"all\"\npath_prefix = \"/\"\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(support::proxy::bin_path())
        .args(["run", "--config", path.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let exited = support::wait_until(std::time::Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        exited,
        "still running 10 s after failing to bind {addr}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (listen.http)")),
        "{stderr}"
    );
    drop(taken);
}

/// `check` loads a TLS listener's certificate and key as `run` does: a key that belongs to
/// another certificate is an error at the listener's line, not a surprise at start.
#[test]
fn check_refuses_a_tls_key_that_does_not_match_its_certificate() {
    let Some(openssl) = support::tools::require(support::tools::OPENSSL) else {
        return;
    };
    let dir = scratch_dir("mismatch");
    let (cert_a, key_a) = (dir.join("a.pem"), dir.join("a.key"));
    let (cert_b, key_b) = (dir.join("b.pem"), dir.join("b.key"));
    support::tls::self_signed(&openssl, &cert_a, &key_a, "a");
    support::tls::self_signed(&openssl, &cert_b, &key_b, "b");
    let config = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "[listen]\nhttps = [{{ addr = \"127.0.0.1:8443\", cert = \"{}\", key = \"{}\" }}]\n\
             [[pool]]\nname = \"p\"\nbackends = [{{ addr = \"127.0.0.1:9\" }}]\n\
             [[route]]\nname = \"all\"\npath_prefix = \"/\"\n",
            cert.display(),
            key.display()
        )
    };
    let path = dir.join("firebreak.toml");
    std::fs::write(&path, config(&cert_a, &key_a)).unwrap();
    let out = cli(&["check", "--config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(&path, config(&cert_a, &key_b)).unwrap();
    let out = cli(&["check", "--config", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let p = path.display().to_string();
    assert!(text.starts_with(&format!("{p}:2:")), "no position: {text}");
    assert!(text.contains("listen.https"), "{text}");
}
