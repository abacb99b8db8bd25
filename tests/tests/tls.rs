//! wss:// over rustls against a loopback TLS server (typed-ws's accept side behind
//! tokio-rustls), with a generated certificate.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use typed_ws::{Client, ErrorKind, Request, Scheme};
use typed_ws_examples::tls::{TestTls, self_signed};
use typed_ws_tests::support::{tls_echo_server, within};

fn trusting(tls: &TestTls) -> Client {
    Client::builder()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(&tls.cert_pem)
        .build()
}

#[tokio::test]
async fn wss_echo_with_custom_root() {
    let tls = self_signed().unwrap();
    let server = tls_echo_server(tls.acceptor.clone()).await;
    let client = trusting(&tls);
    let url = format!("wss://localhost:{}/secure", server.addr.port());
    let mut session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    session.send_serialized(&("tls", 1.5)).await.unwrap();
    let back: (String, f64) = within("echo", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(back, ("tls".to_owned(), 1.5));
}

#[tokio::test]
async fn wss_alias_forces_tls_on_a_ws_request() {
    let tls = self_signed().unwrap();
    let server = tls_echo_server(tls.acceptor.clone()).await;
    let client = Client::builder()
        .add_root_certificate_der(tls.cert_der.clone())
        .build();
    let request = Request::builder()
        .host("127.0.0.1")
        .port(server.addr.port())
        .protocol(Scheme::Ws);
    let echoed = within(
        "wss",
        client.wss(request, async |s| {
            s.send_text("over tls").await?;
            let frame = s
                .receive()
                .await
                .ok_or_else(|| typed_ws::Error::from(std::io::Error::other("no echo")))??;
            Ok::<_, typed_ws::Error>(frame.read_text().map(str::to_owned))
        }),
    )
    .await
    .unwrap();
    assert_eq!(echoed.as_deref(), Some("over tls"));
}

#[tokio::test]
async fn tls12_only_server_works() {
    let tls = self_signed().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(generated.cert.der().to_vec())],
            key,
        )
        .unwrap();
    drop(tls);
    let server = tls_echo_server(tokio_rustls::TlsAcceptor::from(Arc::new(config))).await;
    let client = Client::builder()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(generated.cert.pem())
        .build();
    let url = format!("wss://localhost:{}/", server.addr.port());
    let mut session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    session.send_text("1.2").await.unwrap();
    let frame = within("echo", session.receive()).await.unwrap().unwrap();
    assert_eq!(frame.read_text(), Some("1.2"));
}

#[tokio::test]
async fn untrusted_certificate_is_a_tls_error() {
    let tls = self_signed().unwrap();
    let server = tls_echo_server(tls.acceptor.clone()).await;
    let url = format!("wss://localhost:{}/", server.addr.port());
    let err = within("connect", Client::new().web_socket_session(url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("TLS handshake"), "{err}");
}

#[tokio::test]
async fn bad_root_pem_is_a_config_error() {
    let client = Client::builder()
        .add_root_certificate_pem("not a pem")
        .build();
    let err = client
        .web_socket_session("wss://localhost:1/")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("PEM"), "{err}");
}

#[tokio::test]
async fn a_hostname_mismatch_is_a_tls_error() {
    // a trusted certificate issued for another name (native-tls: sdk/tests/native_tls.rs)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let generated = rcgen::generate_simple_self_signed(vec!["other.test".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(generated.cert.der().to_vec())],
            key,
        )
        .unwrap();
    let server = tls_echo_server(tokio_rustls::TlsAcceptor::from(Arc::new(config))).await;
    let client = Client::builder()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(generated.cert.pem())
        .build();
    let url = format!("wss://localhost:{}/", server.addr.port());
    let err = within("refusal", client.web_socket_session(url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("TLS handshake with localhost failed"),
        "{text}"
    );
    // the rustls cause is the source: `{:#}` prints the chain
    let chain = format!("{err:#}");
    assert!(
        chain.contains("not valid for name \"localhost\""),
        "{chain}"
    );
}
