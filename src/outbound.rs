//! Everything firebreak sends to a backend leaves through here: proxied requests, health
//! checks, shadow copies and the capacity probe's ramp reach a backend the same way — the same
//! Pingora peer (address, TLS, SNI, verification, CA, client certificate, timeouts) and the same
//! `Host` — so a check that passes says the proxied path works, TLS included.
//!
//! - [`PeerTemplate`]: a pool's way to its backends, built once per config snapshot (the CA and
//!   client certificate parsed once, not per request), and [`PeerTemplate::peer`] for one
//!   address. The CA and the client certificate go into the peer's `group_key`, because
//!   Pingora's connection-pool key leaves the CA out: after a reload that changes the CA, no
//!   connection verified under the old one is reused.
//! - [`Client`]: firebreak's own requests, a `GET` over Pingora's HTTP connector (its TLS
//!   included), with a hard timeout and a cap on the body kept.
//! - [`tls_reason`]: why a TLS handshake failed, in an operator's words.

use crate::config::PoolConf;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, CertKey, WrappedX509};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A pool's way to its backends.
#[derive(Debug, Clone)]
pub struct PeerTemplate {
    tls: Option<Arc<PeerTls>>,
    connect_timeout: Duration,
    read_timeout: Duration,
    idle_timeout: Duration,
    host_header: Option<String>,
}

#[derive(Debug)]
struct PeerTls {
    /// None: each backend's own host name.
    sni: Option<String>,
    verify: bool,
    ca: Option<Arc<[WrappedX509]>>,
    client: Option<Arc<CertKey>>,
    group_key: u64,
}

impl PeerTemplate {
    /// The template of a validated pool (its PEM files were parsed by validation, so the
    /// DER here parses).
    pub fn new(conf: &PoolConf) -> Self {
        let tls = conf.tls.as_ref().map(|t| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.ca.hash(&mut h);
            t.client.hash(&mut h);
            Arc::new(PeerTls {
                sni: t.sni.clone(),
                verify: t.verify,
                ca: t.ca.as_ref().map(|certs| {
                    let wrapped: Vec<WrappedX509> = certs
                        .iter()
                        .map(|der| WrappedX509::new(der.clone(), parse_x509))
                        .collect();
                    Arc::from(wrapped)
                }),
                client: t
                    .client
                    .as_ref()
                    .map(|(chain, key)| Arc::new(CertKey::new(chain.clone(), key.clone()))),
                group_key: h.finish(),
            })
        });
        Self {
            tls,
            connect_timeout: conf.connect_timeout,
            read_timeout: conf.read_timeout,
            idle_timeout: conf.idle_timeout,
            host_header: conf.host_header.clone(),
        }
    }

    /// The peer for one of the pool's backend addresses; `host`: the name it was resolved
    /// from, if any (the SNI when the pool sets none).
    pub fn peer(&self, addr: SocketAddr, host: Option<&str>) -> HttpPeer {
        let mut peer = match &self.tls {
            Some(t) => {
                // Never an empty SNI with TLS: Pingora would verify nothing. Validation gives
                // every IP backend a `sni`; were one missing, a name no certificate carries
                // fails the check instead of skipping it.
                let sni = t.sni.as_deref().or(host).unwrap_or(NO_SNI);
                HttpPeer::new(addr, true, sni.to_string())
            }
            None => HttpPeer::new(addr, false, String::new()),
        };
        let o = &mut peer.options;
        o.connection_timeout = Some(self.connect_timeout);
        o.total_connection_timeout = Some(self.connect_timeout);
        o.read_timeout = Some(self.read_timeout);
        o.write_timeout = Some(self.read_timeout);
        o.idle_timeout = Some(self.idle_timeout);
        if let Some(t) = &self.tls {
            o.verify_cert = t.verify;
            o.verify_hostname = t.verify;
            o.ca = t.ca.clone();
            peer.client_cert_key = t.client.clone();
            peer.group_key = t.group_key;
        }
        peer
    }

    /// The `Host` the pool's backends get instead of the client's, if set.
    pub fn host_header(&self) -> Option<&str> {
        self.host_header.as_deref()
    }
}

/// The SNI of a TLS peer that has no name: reserved (RFC 2606), so verification fails.
const NO_SNI: &str = "no-sni.firebreak.invalid";

/// What a backend answered to firebreak's own request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The start of the body, at most the limit asked for.
    pub body: Vec<u8>,
    /// From the start of the request to the end of the answer (or of the part kept).
    pub elapsed: Duration,
}

/// Why firebreak's own request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The TLS handshake failed, with [`tls_reason`]'s word for why.
    Tls(&'static str),
    Timeout,
    /// Connecting or the exchange failed otherwise.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Tls(reason) => write!(f, "tls: {reason}"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Other(e) => f.write_str(e),
        }
    }
}

/// One of firebreak's own requests: `GET path` with `Host: host` and `headers`, over a new
/// connection (`reuse = false`: what a health check must test) or the connector's pool
/// (`reuse`). At most `keep` body bytes are kept; the whole exchange has `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Get<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'static str, &'a str)],
    pub timeout: Duration,
    pub keep: usize,
    pub reuse: bool,
}

/// firebreak's own requests to backends.
pub struct Client {
    connector: Connector,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outbound::Client")
    }
}

impl Default for Client {
    fn default() -> Self {
        Self {
            connector: Connector::new(None),
        }
    }
}

impl Client {
    /// Sends `get` to `peer`.
    pub async fn get(&self, peer: &HttpPeer, get: Get<'_>) -> Result<Answer, Failure> {
        let start = crate::clock::now_ns();
        match tokio::time::timeout(get.timeout, self.exchange(peer, get)).await {
            Ok(Ok((status, body))) => Ok(Answer {
                status,
                body,
                elapsed: Duration::from_nanos(crate::clock::now_ns().saturating_sub(start)),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn exchange(&self, peer: &HttpPeer, get: Get<'_>) -> Result<(u16, Vec<u8>), Failure> {
        let Get {
            host,
            path,
            headers,
            keep,
            reuse,
            ..
        } = get;
        let (mut session, _) = self.connector.get_http_session(peer).await.map_err(fail)?;
        let mut req = RequestHeader::build("GET", path.as_bytes(), None).map_err(fail)?;
        req.insert_header("Host", host).map_err(fail)?;
        for (k, v) in headers {
            req.insert_header(*k, *v).map_err(fail)?;
        }
        if !reuse {
            req.insert_header("Connection", "close").map_err(fail)?;
        }
        session
            .write_request_header(Box::new(req))
            .await
            .map_err(fail)?;
        session.finish_request_body().await.map_err(fail)?;
        session.read_response_header().await.map_err(fail)?;
        let status = session.response_header().map_or(0, |h| h.status.as_u16());
        let mut body = Vec::new();
        let mut complete = false;
        while body.len() < keep {
            match session.read_response_body().await.map_err(fail)? {
                Some(chunk) => {
                    let room = keep - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                None => {
                    complete = true;
                    break;
                }
            }
        }
        if reuse && complete {
            let idle = peer.options.idle_timeout;
            self.connector
                .release_http_session(session, peer, idle)
                .await;
        }
        Ok((status, body))
    }
}

fn fail(e: Box<pingora::Error>) -> Failure {
    match tls_reason(&e) {
        Some(reason) => Failure::Tls(reason),
        None if matches!(
            e.etype(),
            pingora::ErrorType::ConnectTimedout | pingora::ErrorType::ReadTimedout
        ) =>
        {
            Failure::Timeout
        }
        // The error type says it (`ConnectRefused`, `ConnectionClosed`, `InvalidHTTPHeader`…);
        // Pingora's full text repeats the address and context.
        None => Failure::Other(e.etype().as_str().to_string()),
    }
}

/// Why a TLS handshake with a backend failed: `unknown_ca`, `name_mismatch`, `expired`,
/// `not_yet_valid`, `client_cert_refused` or `handshake_failed`; `None` for any other error.
///
/// A backend that requires a client certificate refuses one (or its absence) after the
/// handshake, in TLS 1.3: that alert arrives as a read error, and is a TLS failure too.
pub fn tls_reason(e: &pingora::Error) -> Option<&'static str> {
    let text = e.to_string().to_ascii_lowercase();
    let handshake = matches!(
        e.etype(),
        pingora::ErrorType::TLSHandshakeFailure | pingora::ErrorType::InvalidCert
    );
    if !handshake && !text.contains("received fatal alert") {
        return None;
    }
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    Some(if has(&["unknownissuer", "unknown issuer", "unknownca"]) {
        "unknown_ca"
    } else if has(&["notvalidforname", "not valid for name"]) {
        "name_mismatch"
    } else if has(&["expired"]) {
        "expired"
    } else if has(&["notvalidyet", "not valid yet"]) {
        "not_yet_valid"
    } else if has(&[
        "certificaterequired",
        "certificate required",
        "badcertificate",
    ]) {
        "client_cert_refused"
    } else {
        "handshake_failed"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_named() {
        let e = |etype, text: &str| pingora::Error::explain(etype, text.to_string());
        use pingora::ErrorType::*;
        let cases = [
            ("invalid peer certificate: UnknownIssuer", "unknown_ca"),
            (
                "invalid peer certificate: certificate not valid for name \"x\"",
                "name_mismatch",
            ),
            (
                "invalid peer certificate: certificate expired: verification time",
                "expired",
            ),
            (
                "received fatal alert: CertificateRequired",
                "client_cert_refused",
            ),
            ("received fatal alert: HandshakeFailure", "handshake_failed"),
        ];
        for (text, reason) in cases {
            assert_eq!(
                tls_reason(&e(TLSHandshakeFailure, text)),
                Some(reason),
                "{text}"
            );
        }
        assert_eq!(tls_reason(&e(ConnectRefused, "refused")), None);
        let read = e(
            ReadError,
            "cause: received fatal alert: CertificateRequired",
        );
        assert_eq!(tls_reason(&read), Some("client_cert_refused"));
        assert_eq!(tls_reason(&e(ReadError, "connection reset")), None);
    }
}
