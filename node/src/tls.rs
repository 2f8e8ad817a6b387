//! TLS on the node's listener (rustls) and mutual TLS between nodes.
//!
//! - The server certificate and key come from PEM files and are re-read when the files change
//!   (checked every `reload_secs`), so a renewed certificate takes effect without a restart.
//! - With `peer_ca_file`, clients may present a certificate issued by that CA; browsers without
//!   one still reach the public API, but `/federation/v1` requires one whose subject alternative
//!   name (DNS) is the sending node's id. The same CA is trusted for outgoing calls to peers, and
//!   the node presents its own certificate to them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use crate::settings::TlsSettings;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{}: no certificate found", path.display());
    }
    Ok(chain)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = read_chain(cert)?;
    let key = read_key(key)?;
    let ck =
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| anyhow::anyhow!("certificate and key: {e}"))?;
    Ok(Arc::new(ck))
}

fn roots(ca: &Path) -> anyhow::Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for cert in read_chain(ca)? {
        store.add(cert).map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
    }
    Ok(store)
}

/// The server certificate, swapped in place when its files change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Option<SystemTime>)>,
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl ReloadingCert {
    pub fn load(cert_file: PathBuf, key_file: PathBuf) -> anyhow::Result<Self> {
        let ck = certified_key(&cert_file, &key_file)?;
        let stamp = modified(&cert_file).max(modified(&key_file));
        Ok(Self { cert_file, key_file, current: RwLock::new((ck, stamp)) })
    }

    /// DER of the certificate currently served (first in the chain).
    pub fn current_der(&self) -> Vec<u8> {
        self.current.read().ok().and_then(|c| c.0.cert.first().map(|d| d.to_vec())).unwrap_or_default()
    }

    /// Re-read the files if they changed; a broken new pair keeps the old one (and says so).
    pub fn reload_if_changed(&self) {
        let stamp = modified(&self.cert_file).max(modified(&self.key_file));
        let known = self.current.read().map(|c| c.1).unwrap_or(None);
        if stamp == known {
            return;
        }
        match certified_key(&self.cert_file, &self.key_file) {
            Ok(ck) => {
                if let Ok(mut cur) = self.current.write() {
                    *cur = (ck, stamp);
                }
                tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!(error = %e, "new TLS certificate rejected; keeping the current one"),
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c.0))
    }
}

/// What the listener needs.
pub struct ServerTls {
    pub config: rustls::ServerConfig,
    pub cert: Arc<ReloadingCert>,
    pub mutual: bool,
}

pub fn server_config(tls: &TlsSettings, resolve: impl Fn(&Path) -> PathBuf) -> anyhow::Result<Option<ServerTls>> {
    let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else { return Ok(None) };
    let cert = Arc::new(ReloadingCert::load(resolve(cert), resolve(key))?);
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let (builder, mutual) = match &tls.peer_ca_file {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&resolve(ca))?), provider())
                .allow_unauthenticated()
                .build()?;
            (builder.with_client_cert_verifier(verifier), true)
        }
        None => (builder.with_no_client_auth(), false),
    };
    let mut config = builder.with_cert_resolver(cert.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(ServerTls { config, cert, mutual }))
}

/// The rustls client config for calls to peers: trust the federation CA, present our certificate.
pub fn client_config(
    tls: &TlsSettings,
    resolve: impl Fn(&Path) -> PathBuf,
) -> anyhow::Result<Option<rustls::ClientConfig>> {
    let Some(ca) = &tls.peer_ca_file else { return Ok(None) };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(&resolve(ca))?);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(c), Some(k)) => builder.with_client_auth_cert(read_chain(&resolve(c))?, read_key(&resolve(k))?)?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Some(config))
}

/// The client certificate a connection presented, kept in the connection's extensions.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub CertificateDer<'static>);

/// Whether a client certificate names `node_id` (as a DNS subject alternative name).
pub fn certificate_names(cert: &CertificateDer<'_>, node_id: &str) -> bool {
    let Ok(end_entity) = webpki::EndEntityCert::try_from(cert) else { return false };
    let Ok(name) = ServerName::try_from(node_id) else { return false };
    end_entity.verify_is_valid_for_subject_name(&name).is_ok()
}

/// Poll the certificate files.
pub async fn watch(cert: Arc<ReloadingCert>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => cert.reload_if_changed(),
            _ = shutdown.changed() => return,
        }
    }
}
