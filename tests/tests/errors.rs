//! Error texts as a user sees them: real errors provoked over loopback through the public API,
//! printed as a chain (each `source()` joined by ": ", what `anyhow`'s `{:#}` prints). Every
//! level says something of its own: no message part appears twice in the chain, and the
//! cause a user needs (the io error, the TLS or serde error) is in it once.

use std::error::Error as StdError;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, ErrorKind};
use typed_ws_examples::tls::self_signed;
use typed_ws_tests::support::{
    raw_upgrade, read_head, server_frame, tcp_server, tls_echo_server, within, ws_server,
};

/// The chain of `error`, one entry per level, and each part checked to appear exactly once.
fn checked_chain(error: &typed_ws::Error) -> String {
    let mut parts = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(level) = next {
        parts.push(level.to_string());
        next = level.source();
    }
    let chain = parts.join(": ");
    println!("{:?}: {chain}", error.kind());
    for (i, part) in parts.iter().enumerate() {
        assert!(!part.is_empty(), "level {i} has an empty message: {chain}");
        for (j, other) in parts.iter().enumerate() {
            assert!(
                i == j || !other.contains(part.as_str()),
                "level {j} repeats level {i} ({part:?}): {chain}"
            );
        }
        assert_eq!(
            chain.matches(part.as_str()).count(),
            1,
            "{part:?} appears more than once in: {chain}"
        );
    }
    assert_eq!(format!("{error:#}"), chain, "`{{:#}}` prints the chain");
    assert_eq!(
        error.to_string(),
        parts[0],
        "`{{}}` prints our own phrase only"
    );
    chain
}

/// A server that completes the upgrade, then writes `bytes` and keeps the socket open.
async fn hostile(bytes: Vec<u8>) -> typed_ws_tests::support::Guard {
    tcp_server(move |mut tcp| {
        let bytes = bytes.clone();
        async move {
            if raw_upgrade(&mut tcp).await.is_ok() && tcp.write_all(&bytes).await.is_ok() {
                let mut sink = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut sink).await;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_frame_that_does_not_decode() {
    let server = ws_server(Server::new(), |mut session| async move {
        let _ = session.send_text("{oops").await;
        while session.receive().await.is_some() {}
    })
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("decode", session.receive_deserialized::<(u8, u8)>())
        .await
        .unwrap_err();
    assert!(err.is_decode(), "{err:#}");
    let chain = checked_chain(&err);
    assert!(chain.contains("json converter could not decode a text frame"));
    assert!(
        chain.contains("expected a tuple of size 2"),
        "the serde cause: {chain}"
    );
    assert!(err.frame().is_some());
}

#[tokio::test]
async fn a_value_that_does_not_encode() {
    let server = ws_server(Server::new(), |mut session| async move {
        while session.receive().await.is_some() {}
    })
    .await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    // JSON object keys must be strings
    let map = std::collections::BTreeMap::from([((1, 2), "x")]);
    let err = session.send_serialized(&map).await.unwrap_err();
    assert!(err.is_encode(), "{err:#}");
    let chain = checked_chain(&err);
    assert!(
        chain.contains("key must be a string"),
        "the serde cause: {chain}"
    );
}

#[tokio::test]
async fn connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = within(
        "connect",
        Client::new().web_socket_session(format!("ws://{addr}/")),
    )
    .await
    .unwrap_err();
    assert!(err.is_connect(), "{err:#}");
    assert_eq!(err.to_string(), format!("could not connect to {addr}"));
    let chain = checked_chain(&err);
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused),
        "the io error is the source: {chain}"
    );
}

#[tokio::test]
async fn invalid_url_and_header() {
    let err = Client::new()
        .web_socket_session("ws://[::1/chat")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err:#}");
    let chain = checked_chain(&err);
    assert!(
        chain.starts_with("invalid URL \"ws://[::1/chat\""),
        "{chain}"
    );
    assert!(err.source().is_some(), "the url parse error: {chain}");

    let request = typed_ws::Request::builder().header("Bad Name", "x");
    let err = Client::new().web_socket_session(request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err:#}");
    let chain = checked_chain(&err);
    assert!(
        chain.contains("invalid header name \"Bad Name\""),
        "{chain}"
    );
}

#[tokio::test]
async fn handshake_refused_and_not_http() {
    let server = tcp_server(|mut tcp| async move {
        if read_head(&mut tcp).await.is_ok() {
            let _ = tcp
                .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    })
    .await;
    let err = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap_err();
    assert!(err.is_handshake(), "{err:#}");
    assert_eq!(err.status(), Some(403));
    let chain = checked_chain(&err);
    assert!(chain.contains("403 Forbidden"), "{chain}");

    let server = tcp_server(|mut tcp| async move {
        if read_head(&mut tcp).await.is_ok() {
            let _ = tcp.write_all(b"SSH-2.0-OpenSSH\r\n\r\n").await;
        }
    })
    .await;
    let err = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap_err();
    assert!(err.is_handshake(), "{err:#}");
    let chain = checked_chain(&err);
    assert!(err.source().is_some(), "the httparse error: {chain}");
}

#[tokio::test]
async fn tls_with_an_untrusted_certificate() {
    let tls = self_signed().unwrap();
    let server = tls_echo_server(tls.acceptor.clone()).await;
    let url = format!("wss://localhost:{}/", server.addr.port());
    // only the webpki roots: the self-signed certificate is not trusted
    let err = within("connect", Client::new().web_socket_session(url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:#}");
    let chain = checked_chain(&err);
    assert!(
        chain.starts_with("TLS handshake with localhost failed: "),
        "{chain}"
    );
    assert!(chain.contains("certificate"), "the rustls cause: {chain}");
}

#[tokio::test]
async fn a_bad_root_certificate_stays_a_config_error() {
    let client = Client::builder()
        .add_root_certificate_der(b"not a certificate".to_vec())
        .build();
    // reported by each connect, whole: kind and cause kept
    for _ in 0..2 {
        let err = client
            .web_socket_session("wss://localhost:1/")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err:#}");
        let chain = checked_chain(&err);
        assert!(chain.starts_with("invalid root certificate: "), "{chain}");
        assert!(err.source().is_some(), "the rustls cause: {chain}");
    }
}

#[tokio::test]
async fn a_message_over_the_limit() {
    let server = hostile(server_frame(true, 0, 0x2, &[0u8; 2048])).await;
    let client = Client::builder().max_frame_size(1024).build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .expect("an error item")
        .unwrap_err();
    assert!(err.is_too_big(), "{err:#}");
    let chain = checked_chain(&err);
    assert!(chain.contains("max_frame_size"), "{chain}");
    // the close reason sent to the peer is unchanged
    assert_eq!(
        err.close_reason().map(|r| r.reason.as_str()),
        Some("message too big")
    );
}

#[tokio::test]
async fn a_protocol_violation() {
    let server = hostile(server_frame(true, 0b010, 0x1, b"bad")).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .expect("an error item")
        .unwrap_err();
    assert!(err.is_protocol(), "{err:#}");
    let chain = checked_chain(&err);
    assert!(
        chain.starts_with("peer broke the WebSocket protocol: "),
        "{chain}"
    );
}

#[tokio::test]
async fn a_scoped_handler_error_reaches_the_peer_with_its_cause() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let tx = tx.clone();
        async move {
            let _ = session.send_text("{oops").await;
            while session.receive().await.is_some() {}
            let _ = tx.send(session.close_reason().await);
        }
    })
    .await;
    let err = within(
        "scoped",
        Client::new().web_socket(server.url("/"), async |s| {
            s.receive_deserialized::<(u8, u8)>().await
        }),
    )
    .await
    .unwrap_err();
    let chain = checked_chain(&err);
    let seen = within("server close", rx.recv()).await.unwrap();
    assert_eq!(seen.code, typed_ws::CloseCode::INTERNAL_ERROR, "{seen}");
    // the reason is the chain, cut to 123 bytes: the cause is in it, once
    assert!(chain.starts_with(&seen.reason), "{seen} / {chain}");
    assert!(seen.reason.contains("json converter"), "{seen}");
}

#[test]
fn error_is_send_sync_static_and_one_pointer_wide() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<typed_ws::Error>();
    assert_eq!(
        std::mem::size_of::<typed_ws::Error>(),
        std::mem::size_of::<usize>()
    );
}
