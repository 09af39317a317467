//! TLS certificates that reload with the config.
//!
//! Each HTTPS listener gets a certificate resolver holding its current certificate behind an
//! `ArcSwap`; a successful config reload re-reads the listener's PEM files and swaps them in, so
//! renewed certificates (cert-manager, certbot) take effect without a restart. New handshakes
//! get the new certificate; established connections keep theirs. A file that fails to load is
//! reported and the old certificate stays.

use crate::lock::lock;
use crate::pem::load;
use arc_swap::ArcSwap;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{ClientHello, ResolvesServerCert};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A listener's current certificate.
#[derive(Debug)]
pub struct Reloadable {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The resolvers of all HTTPS listeners, by address.
#[derive(Debug, Default)]
pub struct Certs {
    by_addr: Mutex<HashMap<SocketAddr, Arc<Reloadable>>>,
}

impl Certs {
    /// Loads a listener's certificate and returns its resolver (at start-up).
    pub fn register(
        &self,
        addr: SocketAddr,
        cert: &Path,
        key: &Path,
    ) -> Result<Arc<Reloadable>, String> {
        let r = Arc::new(Reloadable {
            current: ArcSwap::from_pointee(load(cert, key)?),
        });
        lock(&self.by_addr).insert(addr, r.clone());
        Ok(r)
    }

    /// Re-reads the certificates of the listeners in `config` (after a reload). Returns the
    /// errors of those that could not be loaded (they keep their old certificate).
    pub fn reload(&self, listeners: &[crate::config::TlsListenerConf]) -> Vec<String> {
        let map = lock(&self.by_addr);
        let mut errors = vec![];
        for l in listeners {
            let Some(r) = map.get(&l.addr) else { continue }; // a new listener needs a restart
            match load(&l.cert, &l.key) {
                Ok(k) => r.current.store(Arc::new(k)),
                Err(e) => errors.push(e),
            }
        }
        errors
    }
}
