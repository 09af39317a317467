//! PEM certificate chains and private keys, read into a rustls certified key: the one loader
//! that `firebreak check` (through validation) and the HTTPS listeners (at start and on every
//! reload) share, so `check` refuses exactly what `run` would: an unreadable file, no
//! certificate, no key, or a key that does not belong to the certificate. Backends' CA bundles
//! and client certificates (upstream TLS) are read here too, into the DER Pingora takes.

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

/// Reads a PEM bundle of CA certificates into DER, each checked to parse as X.509 (Pingora's
/// per-peer CA parser panics on one that does not).
pub fn load_ca(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let p = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| format!("{p}: {e}"))?;
    let mut certs = Vec::new();
    for item in rustls_pemfile::certs(&mut text.as_slice()) {
        let der = item.map_err(|e| format!("{p}: not a PEM certificate bundle: {e}"))?;
        x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("{p}: a certificate does not parse: {e}"))?;
        certs.push(der.as_ref().to_vec());
    }
    if certs.is_empty() {
        return Err(format!("{p}: no PEM certificate in it"));
    }
    Ok(certs)
}

/// Reads a client certificate chain and its key (mTLS to a backend) into DER, checked like a
/// listener's: every certificate parses and the key belongs to the first.
pub fn load_client(cert: &Path, key: &Path) -> Result<(Vec<Vec<u8>>, Vec<u8>), String> {
    load(cert, key)?;
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let (chain, key) = load_certs_and_key_files(&c, &k)
        .map_err(|e| format!("{c}: {e}"))?
        .ok_or_else(|| format!("{c} / {k}: no certificate or no private key found"))?;
    for der in &chain {
        x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|e| format!("{c}: a certificate does not parse: {e}"))?;
    }
    let chain = chain.iter().map(|d| d.as_ref().to_vec()).collect();
    Ok((chain, key.secret_der().to_vec()))
}
