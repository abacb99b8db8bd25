//! TLS for `wss://`: rustls by default (ring provider, TLS 1.2 and 1.3, webpki roots), or
//! native-tls.
#![cfg_attr(
    not(any(feature = "rustls", feature = "native-tls")),
    allow(unused_imports, dead_code)
)]

use std::fmt;

use base64::Engine as _;
#[cfg(feature = "rustls")]
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

/// How the client sets up TLS for `wss://` connections.
#[derive(Clone, Default)]
pub(crate) struct TlsSettings {
    /// Extra trusted roots, DER-encoded, added to the webpki roots.
    pub(crate) extra_roots_der: Vec<Vec<u8>>,
    /// Trust only `extra_roots_der`, not the webpki roots.
    pub(crate) only_extra_roots: bool,
    #[cfg(feature = "rustls")]
    pub(crate) rustls: Option<Arc<rustls::ClientConfig>>,
    #[cfg(feature = "native-tls")]
    pub(crate) native: Option<tokio_native_tls::native_tls::TlsConnector>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("extra_roots", &self.extra_roots_der.len())
            .field("only_extra_roots", &self.only_extra_roots)
            .finish_non_exhaustive()
    }
}

/// A ready TLS connector, built once per client.
#[derive(Clone)]
pub(crate) enum Connector {
    #[cfg(feature = "rustls")]
    Rustls(tokio_rustls::TlsConnector),
    #[cfg(feature = "native-tls")]
    Native(tokio_native_tls::TlsConnector),
    /// No TLS support compiled in.
    #[allow(dead_code)]
    None,
}

impl TlsSettings {
    pub(crate) fn connector(&self) -> Result<Connector> {
        #[cfg(feature = "native-tls")]
        if let Some(native) = &self.native {
            return Ok(Connector::Native(native.clone().into()));
        }
        #[cfg(feature = "rustls")]
        {
            let config = match &self.rustls {
                Some(config) => Arc::clone(config),
                None => Arc::new(self.rustls_config()?),
            };
            return Ok(Connector::Rustls(tokio_rustls::TlsConnector::from(config)));
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            let mut builder = tokio_native_tls::native_tls::TlsConnector::builder();
            if self.only_extra_roots {
                builder.disable_built_in_roots(true);
            }
            for der in &self.extra_roots_der {
                let cert =
                    tokio_native_tls::native_tls::Certificate::from_der(der).map_err(|e| {
                        Error::new(ErrorKind::Config, "invalid root certificate").with_source(e)
                    })?;
                builder.add_root_certificate(cert);
            }
            let connector = builder.build().map_err(|e| {
                Error::new(ErrorKind::Tls, "native-tls setup failed").with_source(e)
            })?;
            return Ok(Connector::Native(connector.into()));
        }
        #[allow(unreachable_code)]
        Ok(Connector::None)
    }

    #[cfg(feature = "rustls")]
    fn rustls_config(&self) -> Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        if !self.only_extra_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for der in &self.extra_roots_der {
            roots
                .add(rustls_pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| {
                    Error::new(ErrorKind::Config, "invalid root certificate").with_source(e)
                })?;
        }
        // an explicit provider: never depends on a process-level default being installed
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::new(ErrorKind::Tls, "rustls setup failed").with_source(e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config)
    }
}

/// Parses PEM text into DER certificates.
pub(crate) fn pem_to_der(pem: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "PEM is not UTF-8 text".to_owned())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body_start = start + "-----BEGIN CERTIFICATE-----".len();
        let Some(end) = rest[body_start..].find("-----END CERTIFICATE-----") else {
            return Err("PEM certificate without an END line".into());
        };
        let body: String = rest[body_start..body_start + end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| "PEM certificate is not valid base64".to_owned())?;
        out.push(der);
        rest = &rest[body_start + end..];
    }
    if out.is_empty() {
        return Err("no `-----BEGIN CERTIFICATE-----` block found".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC/w==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_to_der(pem.as_bytes()).unwrap(),
            vec![vec![0, 1, 2, 255]]
        );
        assert!(pem_to_der(b"nothing").is_err());
    }
}
