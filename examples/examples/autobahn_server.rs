//! The Autobahn|Testsuite server: an echo server on typed-ws's public server API (the same
//! accept, session, driver and close handling applications get), for `wstest -m
//! fuzzingclient`, which runs every fuzzing case against it as a client.
//!
//! ```text
//! cargo run --release --example autobahn_server -p typed-ws-examples -- 127.0.0.1:9002 \
//!     [cert.pem key.pem]
//! ```
//!
//! Arguments: the address to listen on (loopback), and for wss the PEM files of the server's
//! certificate chain and private key. It prints `listening on ADDR` once bound and runs until
//! killed. `scripts/autobahn` runs this and checks the results.
//!
//! The pinger is off, as in the client: an unsolicited ping in the middle of a case would make
//! the reports depend on timing. The peer's pings are still answered by the driver.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use typed_ws::Session;
use typed_ws::server::Server;

/// Large enough for the 9.x cases (up to 16 MiB messages).
const LIMIT: usize = 64 << 20;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: autobahn_server ADDR [CERT_PEM KEY_PEM]   (ADDR: 127.0.0.1:9002)");
        return ExitCode::from(2);
    };
    let tls = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => match acceptor(&cert, &key) {
            Ok(acceptor) => Some(acceptor),
            Err(e) => {
                eprintln!("autobahn_server: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("autobahn_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    let server = Server::builder()
        .ping_interval(None)
        .max_frame_size(LIMIT)
        .max_message_size(LIMIT)
        .close_timeout(Duration::from_secs(5))
        .build();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let session = match tls {
                Some(tls) => match tls.accept(tcp).await {
                    Ok(stream) => server.accept(stream).await,
                    Err(_) => return,
                },
                None => server.accept(tcp).await,
            };
            if let Ok(session) = session {
                echo(session).await;
            }
        });
    }
}

/// Echoes every data frame until the session ends.
async fn echo(mut session: Session) {
    while let Some(Ok(frame)) = session.receive().await {
        if frame.is_data() && session.send(frame).await.is_err() {
            break;
        }
    }
    session.close_reason().await;
}

fn acceptor(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key from {key}: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
