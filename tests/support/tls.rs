//! TLS for the tests of the HTTPS listener: a self-signed certificate made with `openssl`, and
//! the usual two origins behind a proxy that also listens for HTTPS (HTTP/1.1 and HTTP/2).

use super::proxy::{free_addr, scratch_dir};
use super::{conf, Behaviour, Origin, Proxy};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a self-signed certificate with subject `CN=<cn>`, valid for `localhost` and
/// 127.0.0.1, to `cert` and its key to `key`.
pub fn self_signed(openssl: &Path, cert: &Path, key: &Path, cn: &str) {
    let out = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={cn}"))
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("cannot run openssl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl req failed: {err}");
}

/// Origins "a" (primary) and "standby" behind a ready proxy with an HTTPS listener at `addr`,
/// whose certificate (`CN=localhost`) is `cert`/`key` in the scratch dir `dir`.
pub struct Https {
    pub a: Origin,
    pub standby: Origin,
    pub proxy: Proxy,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Https {
    pub fn start(openssl: &Path, tag: &str) -> Https {
        let dir = scratch_dir(tag);
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        self_signed(openssl, &cert, &key, "localhost");
        let a = Origin::start("a", Behaviour::Normal);
        let standby = Origin::start("standby", Behaviour::Normal);
        let addr = free_addr();
        let cfg = conf::two_tier(&[(&a, 1)], &[&standby], "", "");
        let proxy = Proxy::start(&conf::with_https(&cfg, addr, &cert, &key));
        assert!(proxy.wait_ready());
        Https {
            a,
            standby,
            proxy,
            addr,
            dir,
            cert,
            key,
        }
    }
}
