//! The training run of the profile-guided build (`deploy/pgo/build.sh`): `deploy/pgo/train.py`
//! must keep passing against the current firebreak, or the deploy build stops at its second
//! step. CI cannot afford the two fat-LTO builds around it, so this runs the training itself,
//! shortened, against the test build: every kind of traffic it sends (plain, TLS and HTTP/2,
//! bad input, a killed backend, reloads, maintenance, a shedding burst) must get the answers it
//! expects, and firebreak must exit 0 on SIGTERM (which is when an instrumented build writes
//! its profile).

pub mod support;

use std::process::Command;
use support::proxy::bin_path;
use support::repo;
use support::tools::{require, CURL, OPENSSL, PYTHON3};

#[test]
fn the_pgo_training_run_passes_against_this_build() {
    let Some(py) = require(PYTHON3) else {
        return;
    };
    for tool in [CURL, OPENSSL] {
        if require(tool).is_none() {
            return;
        }
    }
    let out = Command::new(py)
        .arg(repo().join("deploy/pgo/train.py"))
        .arg("--bin")
        .arg(bin_path())
        .args(["--seconds", "10"])
        .output()
        .expect("run deploy/pgo/train.py");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "train.py failed ({}):\n{log}",
        out.status
    );
    // Each check is named in the log with its verdict; all of them must have run and passed.
    for check in [
        "bad input 400/431/413: ok",
        "reload: ok",
        "maintenance on/off: ok",
        "firebreak exited 0: ok",
        "2xx answers: ok",
        "HTTP/2 answers: ok",
        "maintenance or shed answers (503): ok",
        "shed past the admission limit: ok",
    ] {
        assert!(
            log.contains(check),
            "train.py did not report {check:?}:\n{log}"
        );
    }
}
