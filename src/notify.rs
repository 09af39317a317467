//! systemd's service notification protocol (sd_notify(3)), without libsystemd: one datagram of
//! `KEY=VALUE` lines to the Unix socket named by `$NOTIFY_SOCKET`.
//!
//! Under the shipped unit (`Type=notify`), `READY=1` tells systemd that the listeners are up, so
//! `systemctl start` returns once firebreak serves. `MAINPID=` names the process that takes over
//! after a SIGUSR2 upgrade (the handover): systemd then follows the new process instead of
//! stopping the unit (and killing the new process) when the old one exits. Outside systemd the
//! variable is unset and every call does nothing.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Sends `state` to the supervisor. `Ok(false)`: not supervised (no `$NOTIFY_SOCKET`).
pub fn send(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    match path.as_encoded_bytes().strip_prefix(b"@") {
        // An abstract socket (systemd's own is a path, but the protocol allows both).
        Some(name) => send_abstract(&sock, name, state)?,
        None => {
            sock.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(true)
}

#[cfg(target_os = "linux")]
fn send_abstract(sock: &UnixDatagram, name: &[u8], state: &str) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(state.as_bytes(), &addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract NOTIFY_SOCKET outside Linux",
    ))
}

/// Sends `state`, logging a failure instead of returning it: a supervisor that cannot be told
/// must not stop the proxy.
pub fn tell(state: &str) {
    if let Err(e) = send(state) {
        tracing::warn!(error = %e, state, "cannot notify the supervisor (NOTIFY_SOCKET)");
    }
}

/// Waits until `addr` accepts a TCP connection (a listener bound to an unspecified address is
/// tried on loopback), at most `limit`. Pingora binds its listeners on its own threads, so this
/// is how the readiness announcement knows they are up.
pub fn wait_listening(addr: SocketAddr, limit: Duration) -> bool {
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    #[allow(clippy::disallowed_methods)] // waits for a real socket: wall time is the point
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_arrives_as_one_datagram_and_nothing_is_sent_unsupervised() {
        let dir = std::env::temp_dir().join(format!("fb-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        // The variable is process-wide: set and read it within this one test.
        std::env::set_var("NOTIFY_SOCKET", &path);
        assert!(send("READY=1\nMAINPID=42").unwrap());
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nMAINPID=42");
        std::env::remove_var("NOTIFY_SOCKET");
        assert!(!send("READY=1").unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
