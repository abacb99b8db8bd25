//! Bad input from the peer and local misuse: each ends with a clear error and an honest close
//! reason, nothing hangs, nothing panics. The hostile peers are hand-rolled loopback servers.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, ErrorKind, Request};
use typed_ws_tests::support::{
    echo_server, masked_frame, raw_upgrade, read_close_code, read_until_close, server_frame,
    tcp_server, within,
};

/// A hostile server that upgrades, writes `bytes`, then reports the texts and the close code
/// the client sent back (`None`: the connection ended without a close frame).
async fn hostile(
    bytes: Vec<u8>,
) -> (
    typed_ws_tests::support::Guard,
    mpsc::UnboundedReceiver<(Vec<String>, Option<u16>)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let guard = tcp_server(move |mut tcp| {
        let bytes = bytes.clone();
        let tx = tx.clone();
        async move {
            if raw_upgrade(&mut tcp).await.is_err() {
                return;
            }
            let _ = tcp.write_all(&bytes).await;
            let _ = tx.send(read_until_close(&mut tcp).await);
        }
    })
    .await;
    (guard, rx)
}

async fn expect_failure(
    bytes: Vec<u8>,
    client: Client,
    kind: ErrorKind,
    code: CloseCode,
) -> typed_ws::Error {
    let (server, mut seen) = hostile(bytes).await;
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .expect("an error item")
        .unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(within("end", session.receive()).await.is_none());
    let why = within("reason", session.close_reason()).await;
    assert_eq!(why.code, code, "{why}");
    let (_, peer_got) = within("peer saw close", seen.recv()).await.unwrap();
    assert_eq!(peer_got, Some(code.0), "close code the peer received");
    err
}

#[tokio::test]
async fn replies_to_frames_before_a_protocol_error_still_go_out_before_the_close() {
    // a good text, then a frame with RSV bits, in one write: the application reads the text
    // and replies; the reply must reach the peer before the 1002 close
    let mut bytes = server_frame(true, 0, 0x1, b"hello");
    bytes.extend(server_frame(true, 0b010, 0x1, b"bad"));
    let (server, mut seen) = hostile(bytes).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let hello = within("text", session.receive()).await.unwrap().unwrap();
    session
        .send_text(format!("echo: {}", hello.read_text().unwrap()))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let (texts, code) = within("peer", seen.recv()).await.unwrap();
    assert_eq!(texts, ["echo: hello"]);
    assert_eq!(code, Some(1002));
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::PROTOCOL_ERROR
    );
}

#[tokio::test]
async fn after_failing_the_client_leaves_closing_the_connection_to_the_server() {
    // RFC 6455 7.1.1: the server should close the TCP connection first. The client also must
    // not close with unread data pending (that sends a reset, which can destroy the close
    // frame in flight), so it reads and discards until the server closes.
    let (tx, mut seen) = mpsc::unbounded_channel();
    let (release, released) = tokio::sync::watch::channel(false);
    let server = tcp_server(move |mut tcp| {
        let tx = tx.clone();
        let mut released = released.clone();
        async move {
            if raw_upgrade(&mut tcp).await.is_err() {
                return;
            }
            let mut bytes = server_frame(true, 0b100, 0x1, b"bad");
            for _ in 0..8192 {
                bytes.extend(server_frame(true, 0, 0x9, b"trailing ping"));
            }
            let _ = tcp.write_all(&bytes).await;
            let code = read_close_code(&mut tcp).await;
            // still connected: nothing (no end of stream, no reset) follows the close frame
            let mut byte = [0u8; 1];
            let still_open = matches!(
                tcp.try_read(&mut byte),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
            );
            let _ = tx.send((code, still_open));
            // the server closes first, when the test says so
            let _ = released.wait_for(|r| *r).await;
        }
    })
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let sender = session.sender();
    drop(session);
    let (code, still_open) = within("peer", seen.recv()).await.unwrap();
    assert_eq!(code, Some(1002));
    assert!(still_open, "the client closed the TCP connection first");
    assert_eq!(
        futures_util::FutureExt::now_or_never(sender.close_reason()),
        None,
        "the client's session waits for the server to close"
    );
    release.send_replace(true);
    assert_eq!(
        within("the end once the server closed", sender.close_reason())
            .await
            .code,
        CloseCode::PROTOCOL_ERROR
    );
}

#[tokio::test]
async fn a_protocol_error_is_reported_even_when_nobody_reads() {
    let (server, mut seen) = hostile(server_frame(true, 0b100, 0x1, b"x")).await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    // the close goes out after a short bound even though the error is never taken
    assert_eq!(
        within("peer saw close", seen.recv()).await.unwrap().1,
        Some(1002)
    );
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::PROTOCOL_ERROR
    );
}

#[tokio::test]
async fn invalid_utf8_text_closes_1007() {
    let err = expect_failure(
        server_frame(true, 0, 0x1, &[0xff, 0xfe, b'a']),
        Client::new(),
        ErrorKind::Protocol,
        CloseCode::INVALID_PAYLOAD,
    )
    .await;
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn frame_over_max_frame_size_closes_1009_and_names_the_setting() {
    let client = Client::builder().max_frame_size(1024).build();
    let err = expect_failure(
        server_frame(true, 0, 0x2, &vec![0u8; 2048]),
        client,
        ErrorKind::TooBig,
        CloseCode::TOO_BIG,
    )
    .await;
    assert!(err.to_string().contains("max_frame_size"), "{err}");
}

#[tokio::test]
async fn message_over_max_message_size_closes_1009_and_names_the_setting() {
    let client = Client::builder()
        .max_message_size(1500)
        .max_frame_size(1024)
        .build();
    let mut bytes = server_frame(false, 0, 0x2, &[0u8; 1000]);
    bytes.extend(server_frame(true, 0, 0x0, &[0u8; 1000]));
    let err = expect_failure(bytes, client, ErrorKind::TooBig, CloseCode::TOO_BIG).await;
    assert!(err.to_string().contains("max_message_size"), "{err}");
}

#[tokio::test]
async fn masked_server_frame_closes_1002() {
    expect_failure(
        masked_frame(0x1, b"hi"),
        Client::new(),
        ErrorKind::Protocol,
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
}

#[tokio::test]
async fn rsv_bits_close_1002() {
    expect_failure(
        server_frame(true, 0b100, 0x1, b"hi"),
        Client::new(),
        ErrorKind::Protocol,
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
}

#[tokio::test]
async fn garbage_bytes_close_1002() {
    expect_failure(
        vec![0x0f, 0x00, 0xff, 0xff, 0x13, 0x37],
        Client::new(),
        ErrorKind::Protocol,
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
}

#[tokio::test]
async fn truncated_frame_then_reset_is_1006() {
    let server = tcp_server(|mut tcp| async move {
        if raw_upgrade(&mut tcp).await.is_err() {
            return;
        }
        // a frame header announcing 100 bytes, then only 3, then RST
        let mut bytes = vec![0x82, 100];
        bytes.extend_from_slice(b"abc");
        let _ = tcp.write_all(&bytes).await;
        // zero linger: the drop sends RST (no blocking: nothing is left unsent)
        #[allow(deprecated)]
        let _ = tcp.set_linger(Some(Duration::ZERO));
        drop(tcp);
    })
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = within("error", session.receive())
        .await
        .expect("an error item")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(within("end", session.receive()).await.is_none());
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::ABNORMAL
    );
}

#[tokio::test]
async fn eof_without_close_is_1006() {
    let server = tcp_server(|mut tcp| async move {
        let _ = raw_upgrade(&mut tcp).await;
        let _ = tcp
            .write_all(&server_frame(true, 0, 0x1, b"last words"))
            .await;
        let _ = tcp.shutdown().await;
    })
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let first = within("frame", session.receive()).await.unwrap().unwrap();
    assert_eq!(first.read_text(), Some("last words"));
    let err = within("error", session.receive())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::ABNORMAL
    );
}

#[tokio::test]
async fn silent_peer_is_a_ping_timeout_even_when_nobody_reads() {
    // upgrades, then never sends a byte (and never answers pings)
    let (tx, mut seen) = mpsc::unbounded_channel();
    let server = tcp_server(move |mut tcp| {
        let tx = tx.clone();
        async move {
            let _ = raw_upgrade(&mut tcp).await;
            let _ = tx.send(read_close_code(&mut tcp).await);
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(Duration::from_millis(100))
        .pong_timeout(Duration::from_millis(200))
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    // no receive call: the driver detects the dead peer on its own
    let why = within("ping timeout", session.close_reason()).await;
    assert_eq!(why.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(why.reason, "ping timeout");
    assert_eq!(
        within("peer saw close", seen.recv()).await.unwrap(),
        Some(1011)
    );
    let mut session = session;
    let err = within("error", session.receive())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn refused_upgrade_is_a_handshake_error_with_status_and_headers() {
    let server = tcp_server(|mut tcp| async move {
        let _ = typed_ws_tests::support::read_head(&mut tcp).await;
        let _ = tcp
            .write_all(
                b"HTTP/1.1 403 Forbidden\r\nX-Why: no token\r\nContent-Length: 6\r\n\r\ndenied",
            )
            .await;
    })
    .await;
    let err = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
    assert_eq!(err.status(), Some(403));
    let response = err.response().unwrap();
    assert!(
        response
            .headers
            .iter()
            .any(|(n, v)| n == "x-why" && v == "no token")
    );
    assert!(err.to_string().contains("403"), "{err}");
}

#[tokio::test]
async fn listener_that_never_answers_hits_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // accepts (via the backlog) but never reads or answers
    let request = Request::builder()
        .host("127.0.0.1")
        .port(addr.port())
        .connect_timeout(Duration::from_millis(300));
    let err = within("connect", Client::new().web_socket_session(request))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    drop(listener);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = within(
        "connect",
        Client::new().web_socket_session(format!("ws://{addr}/")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

#[tokio::test]
async fn bad_local_input_is_a_config_error() {
    let server = echo_server(Server::new()).await;
    let request = Request::builder()
        .port(server.addr.port())
        .header("Bad Header", "x");
    let err = Client::new().web_socket_session(request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("invalid header name"), "{err}");

    let client = Client::builder().channel_capacity(0).build();
    let err = client
        .web_socket_session(server.url("/"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("channel_capacity"), "{err}");

    let err = Client::new()
        .web_socket_session("http//nope")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn unencodable_value_is_an_encode_error_and_nothing_is_sent() {
    #[derive(Serialize, Deserialize)]
    struct F {
        x: f64,
    }
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let err = session
        .send_serialized(&F { x: f64::NAN })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Encode, "{err}");
    session.send_text("next").await.unwrap();
    let frame = within("echo", session.receive()).await.unwrap().unwrap();
    assert_eq!(frame.read_text(), Some("next"));
}
