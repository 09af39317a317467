//! PEM certificate chains and private keys, read into a rustls certified key: the one loader
//! that `firebreak check` (through validation) and the HTTPS listeners (at start and on every
//! reload) share, so `check` refuses exactly what `run` would: an unreadable file, no
//! certificate, no key, or a key that does not belong to the certificate.

use pingora::tls::sign::CertifiedKey;
use pingora::tls::{load_certs_and_key_files, CryptoProvider};
use std::path::Path;

/// Reads a PEM certificate chain and key into a rustls certified key.
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let (chain, key) = load_certs_and_key_files(&c, &k)
        .map_err(|e| format!("{c}: {e}"))?
        .ok_or_else(|| format!("{c} / {k}: no certificate or no private key found"))?;
    pingora::tls::install_default_crypto_provider();
    let provider = CryptoProvider::get_default().ok_or("no TLS crypto provider")?;
    let chain = chain.into_iter().map(|c| c.into_owned()).collect();
    CertifiedKey::from_der(chain, key.clone_key(), provider).map_err(|e| format!("{c}: {e}"))
}
