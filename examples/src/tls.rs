//! A throwaway certificate authority for the wss examples and tests: a self-signed
//! certificate for `localhost`, `127.0.0.1` and `::1`, and a rustls server acceptor using it.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A generated certificate and the acceptor that serves it.
#[derive(Clone)]
pub struct TestTls {
    /// The certificate in PEM, to hand to `ClientBuilder::add_root_certificate_pem`.
    pub cert_pem: String,
    /// The certificate in DER.
    pub cert_der: Vec<u8>,
    /// A TLS acceptor (TLS 1.2 and 1.3) presenting the certificate.
    pub acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TestTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestTls").finish_non_exhaustive()
    }
}

/// Generates a self-signed certificate for localhost / 127.0.0.1 / ::1 and an acceptor.
///
/// # Errors
///
/// When certificate generation or the rustls setup fails.
pub fn self_signed() -> Result<TestTls, Box<dyn std::error::Error + Send + Sync>> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert_der = certified.cert.der().to_vec();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert_der.clone())], key)?;
    Ok(TestTls {
        cert_pem: certified.cert.pem(),
        cert_der,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}
