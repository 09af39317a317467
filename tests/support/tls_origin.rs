//! Backends reached over TLS, for the upstream-TLS tests: a test CA made with rcgen (leaf
//! certificates for any name and validity, client certificates for mTLS), and a TLS front for
//! a test `Origin` that records the SNI each handshake carried and relays the decrypted bytes
//! to the origin, as a TLS-terminating load balancer in front of an application does.

use super::origin::runtime;
use super::Origin;
use pingora::tls::{
    CertificateDer, PrivateKeyDer, RootCertStore, ServerConfig, TlsAcceptor, WebPkiClientVerifier,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A certificate authority of the test's own, and where its files are written.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    dir: PathBuf,
    name: String,
}

/// A certificate and its key, as PEM files and as DER.
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    der: (Vec<u8>, Vec<u8>),
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("firebreak test CA {name}"),
        );
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}-ca.pem")), cert.pem()).unwrap();
        TestCa {
            cert,
            key,
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The CA certificate's PEM file.
    pub fn pem(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// A leaf for `names`, valid 2020–2099, or (`expired`) only in 2020.
    pub fn leaf(&self, file: &str, names: &[&str], expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = match expired {
            true => rcgen::date_time_ymd(2021, 1, 1),
            false => rcgen::date_time_ymd(2099, 1, 1),
        };
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (c, k) = (
            self.dir.join(format!("{file}.pem")),
            self.dir.join(format!("{file}-key.pem")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        Leaf {
            cert: c,
            key: k,
            der: (cert.der().to_vec(), key.serialize_der()),
        }
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.cert.der().to_vec()))
            .unwrap();
        roots
    }
}

/// A TLS front for an origin. Dropping it stops accepting.
pub struct TlsOrigin {
    addr: SocketAddr,
    snis: Arc<Mutex<Vec<Option<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsOrigin {
    /// Serves `leaf` in front of `origin`; with `client_ca`, requires a client certificate
    /// signed by it.
    pub fn start(origin: &Origin, leaf: &Leaf, client_ca: Option<&TestCa>) -> TlsOrigin {
        pingora::tls::install_default_crypto_provider();
        let builder = match client_ca {
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder(Arc::new(ca.roots()))
                    .build()
                    .unwrap();
                ServerConfig::builder().with_client_cert_verifier(verifier)
            }
            None => ServerConfig::builder().with_no_client_auth(),
        };
        let key = PrivateKeyDer::try_from(leaf.der.1.clone()).unwrap();
        let config = builder
            .with_single_cert(vec![CertificateDer::from(leaf.der.0.clone())], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let to = origin.addr();
        let snis: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let listener = runtime()
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = snis.clone();
        let task = runtime().spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().map(String::from);
                    seen.lock().unwrap().push(sni);
                    let Ok(mut up) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        TlsOrigin { addr, snis, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SNI of every completed handshake, in order.
    pub fn snis(&self) -> Vec<Option<String>> {
        self.snis.lock().unwrap().clone()
    }
}

impl Drop for TlsOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}
