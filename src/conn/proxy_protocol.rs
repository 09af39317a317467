//! PROXY protocol (v1 text and v2 binary, as HAProxy's `send-proxy[-v2]` and the cloud load
//! balancers send it) on listeners with `proxy_protocol = true`.
//!
//! Every connection to such a listener must begin with a valid header within
//! `limits.header_read_timeout`; otherwise the connection is closed (and only it). The header
//! is parsed by the `ppp` crate (the same parser the Rust PROXY-protocol servers use); its
//! source address becomes the connection's peer address, so everything that asks for the
//! client's address (fairness by `addr`, the access log, `X-Forwarded-For`) sees the real
//! client. A `LOCAL` (v2) or `UNKNOWN` (v1) header — the load balancer's own health check —
//! keeps the socket's peer. Bytes read past the header are put back for HTTP or TLS.
//!
//! Plain listeners read it when the connection reaches firebreak's connection guard; TLS
//! listeners read it in Pingora's pre-TLS callback, before the handshake.

use async_trait::async_trait;
use pingora::listeners::PreTlsProcess;
use pingora::protocols::l4::socket::SocketAddr as PeerAddr;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, SocketDigest};
use ppp::{v1, v2, HeaderResult, PartialResult};
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// A header longer than this (v2 allows 64 KiB of TLVs) is refused.
const MAX_HEADER: usize = 4096;

/// The listeners that require a header, and how long it may take.
#[derive(Debug, Clone)]
pub struct ProxyProtocol {
    listeners: Arc<Vec<SocketAddr>>,
    timeout: Duration,
}

impl ProxyProtocol {
    pub fn new(listeners: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self {
            listeners: Arc::new(listeners),
            timeout,
        }
    }

    /// Whether a connection accepted at `local` came through a listener that requires it.
    pub fn required_at(&self, local: Option<SocketAddr>) -> bool {
        let Some(local) = local else { return false };
        self.listeners.iter().any(|l| {
            l.port() == local.port()
                && (l.ip() == local.ip()
                    || (l.ip().is_unspecified() && l.is_ipv4() == local.is_ipv4()))
        })
    }

    /// Reads the header off a new connection when its listener requires one.
    pub async fn accept(&self, stream: &mut L4Stream) -> Result<(), String> {
        let local = stream
            .get_socket_digest()
            .and_then(|d| d.local_addr().and_then(|a| a.as_inet()).copied());
        if !self.required_at(local) {
            return Ok(());
        }
        let read = tokio::time::timeout(self.timeout, read_header(stream)).await;
        let source = read.map_err(|_| "no PROXY protocol header in time".to_string())??;
        if let Some(source) = source {
            let digest = SocketDigest::from_raw_fd(stream.as_raw_fd());
            let _ = digest.peer_addr.set(Some(PeerAddr::Inet(source)));
            stream.set_socket_digest(digest);
        }
        Ok(())
    }
}

#[async_trait]
impl PreTlsProcess for ProxyProtocol {
    async fn process(&self, stream: &mut L4Stream) -> pingora::Result<()> {
        self.accept(stream).await.map_err(|e| {
            refused(&e);
            pingora::Error::explain(pingora::ErrorType::AcceptError, e)
        })
    }
}

/// Logs a refused connection, at most once a second.
pub fn refused(why: &str) {
    if let Some(left_out) = super::unparsed::once_a_second() {
        tracing::warn!(
            why,
            left_out,
            "connection closed: PROXY protocol header missing or malformed"
        );
    }
}

/// Reads until a whole header is parsed; puts back what follows it. `Ok(None)`: a header
/// without a client address (LOCAL, UNKNOWN).
async fn read_header(stream: &mut L4Stream) -> Result<Option<SocketAddr>, String> {
    let mut buf = Vec::with_capacity(256);
    loop {
        if let Some((len, source)) = parse(&buf)? {
            stream.rewind(&buf[len..]);
            return Ok(source);
        }
        if buf.len() >= MAX_HEADER {
            return Err(format!("PROXY protocol header over {MAX_HEADER} bytes"));
        }
        let mut chunk = [0u8; 512];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the PROXY protocol header: {e}"))?;
        if n == 0 {
            return Err("closed before a PROXY protocol header".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A complete header's length and source address; `Ok(None)` while incomplete.
fn parse(buf: &[u8]) -> Result<Option<(usize, Option<SocketAddr>)>, String> {
    if buf.is_empty() {
        return Ok(None);
    }
    let result = HeaderResult::parse(buf);
    if result.is_incomplete() {
        // A v1 line is complete at its CRLF: what ppp still calls partial then is malformed
        // (it does so for an address that is not one, e.g. `PROXY TCP4 nonsense`).
        let v1_line_ended = buf.starts_with(b"PROXY") && buf.windows(2).any(|w| w == b"\r\n");
        if v1_line_ended {
            return Err("malformed PROXY protocol v1 header".into());
        }
        return Ok(None);
    }
    match result {
        HeaderResult::V1(Ok(h)) => {
            let source = match h.addresses {
                v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Unknown => None,
            };
            Ok(Some((h.header.len(), source)))
        }
        HeaderResult::V2(Ok(h)) => {
            let source = match (h.command, h.addresses) {
                (v2::Command::Local, _) => None,
                (_, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                (_, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                _ => None,
            };
            Ok(Some((h.len(), source)))
        }
        HeaderResult::V1(Err(e)) => Err(format!("malformed PROXY protocol v1 header: {e}")),
        HeaderResult::V2(Err(e)) => Err(format!("malformed PROXY protocol v2 header: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

    fn v2(command: u8, family: u8, addrs: &[u8]) -> Vec<u8> {
        let mut h = V2_SIG.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
        h.extend_from_slice(addrs);
        h
    }

    #[test]
    fn v1_and_v2_headers_give_their_length_and_source() {
        let v1 = b"PROXY TCP4 198.51.100.4 10.0.0.1 51234 8080\r\nGET / HTTP/1.1\r\n";
        let (len, src) = parse(v1).unwrap().unwrap();
        assert_eq!(&v1[len..len + 3], b"GET");
        assert_eq!(src, Some("198.51.100.4:51234".parse().unwrap()));
        let v1_6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 443\r\n";
        assert_eq!(
            parse(v1_6).unwrap().unwrap().1,
            Some("[2001:db8::1]:4000".parse().unwrap())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap().unwrap().1, None);
        // v2, PROXY over TCP/IPv4: 198.51.100.4:51234 -> 10.0.0.1:8080.
        let addrs = [198, 51, 100, 4, 10, 0, 0, 1, 0xC8, 0x22, 0x1F, 0x90];
        let mut h = v2(1, 0x11, &addrs);
        let header_len = h.len();
        h.extend_from_slice(b"\x16\x03\x01"); // a TLS ClientHello follows
        let (len, src) = parse(&h).unwrap().unwrap();
        assert_eq!(len, header_len);
        assert_eq!(src, Some("198.51.100.4:51234".parse().unwrap()));
        // v2 LOCAL (the balancer's own check): no client address.
        assert_eq!(parse(&v2(0, 0x00, &[])).unwrap().unwrap().1, None);
    }

    #[test]
    fn partial_headers_wait_and_garbage_is_refused() {
        assert_eq!(parse(b"").unwrap(), None);
        assert_eq!(parse(b"PROXY TCP4 198.51").unwrap(), None);
        assert_eq!(parse(&V2_SIG[..7]).unwrap(), None);
        assert!(parse(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").is_err());
        assert!(parse(b"PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n").is_err());
        assert!(parse(b"PROXY TCP4 nonsense\r\nGET / HTTP/1.1\r\n").is_err());
        assert!(parse(b"GET /none HTTP/1.1\r\nHost: t\r\n\r\n").is_err());
        assert!(parse(b"PROXY TCP4 1.2.3.4 10.0.0.1 99999 2\r\n").is_err());
    }
}
