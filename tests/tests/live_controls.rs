//! Ktor's session controls on live sessions: `terminate()` (no close handshake), ping interval
//! and pong timeout changed while the session runs, and the raw scoped block forms.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, ErrorKind, Frame};
use typed_ws_tests::support::{echo_server, raw_upgrade, tcp_server, within, ws_server};

/// A server that upgrades and then reads (and discards) everything without ever answering:
/// no pongs, no close frame.
async fn silent_server() -> typed_ws_tests::support::Guard {
    tcp_server(|mut tcp| async move {
        if raw_upgrade(&mut tcp).await.is_err() {
            return;
        }
        let mut sink = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
}

#[tokio::test]
async fn terminate_ends_at_once_without_a_close_frame() {
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let seen_tx = seen_tx.clone();
        async move {
            while let Some(Ok(_)) = session.receive().await {}
            let _ = seen_tx.send(session.close_reason().await);
        }
    })
    .await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    session.send_text("before").await.unwrap();
    session.flush().await.unwrap();
    session.terminate();
    let reason = within("close reason", session.close_reason()).await;
    assert_eq!(reason.code, CloseCode::ABNORMAL);
    assert_eq!(reason.reason, "terminated by the application");
    // the peer got no close frame: for it the connection was lost
    let peer = within("the server's view", seen_rx.recv()).await.unwrap();
    assert_eq!(peer.code, CloseCode::ABNORMAL, "server saw {peer}");
    let late = session.send_text("after").await.unwrap_err();
    assert_eq!(late.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn pinging_turned_on_while_live_finds_a_silent_peer() {
    let server = silent_server().await;
    let client = Client::builder().ping_interval(None).build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    // without pings nothing notices the silent peer
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(session.try_close_reason().is_none());
    session.set_pong_timeout(Duration::from_millis(300));
    session.set_ping_interval(Some(Duration::from_millis(100)));
    let reason = within("ping timeout", session.close_reason()).await;
    assert_eq!(reason.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(reason.reason, "ping timeout");
}

#[tokio::test]
async fn pinging_turned_off_while_live_stops_the_ping_timeout() {
    let server = silent_server().await;
    let client = Client::builder()
        .ping_interval(Some(Duration::from_millis(100)))
        .pong_timeout(Duration::from_millis(300))
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let sender = session.sender();
    sender.set_ping_interval(None);
    // 100 ms interval + 300 ms timeout would have ended it after ~400 ms
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        session.try_close_reason().is_none(),
        "ended: {:?}",
        session.try_close_reason()
    );
    session.terminate();
}

#[tokio::test]
async fn a_raw_scoped_block_sees_control_frames() {
    let server = echo_server(Server::new()).await;
    let client = Client::new();
    for form in ["web_socket_raw", "ws_raw"] {
        let url = server.url("/");
        let pong = async |session: &mut typed_ws::Session| {
            session.send(Frame::Ping(b"raw".to_vec().into())).await?;
            loop {
                match session.receive().await {
                    Some(Ok(Frame::Pong(payload))) => return Ok::<_, typed_ws::Error>(payload),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Err(typed_ws::Error::from(std::io::Error::other("ended"))),
                }
            }
        };
        let payload = match form {
            "web_socket_raw" => within(form, client.web_socket_raw(url, pong)).await,
            _ => within(form, client.ws_raw(url, pong)).await,
        }
        .unwrap();
        assert_eq!(&payload[..], b"raw", "{form}");
    }
}

/// A server that sends one text message of `len` bytes whenever it receives a text frame, and
/// reports how its session ended.
async fn sender_server(
    server: Server,
) -> (
    typed_ws_tests::support::Guard,
    tokio::sync::mpsc::UnboundedReceiver<typed_ws::CloseReason>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let guard = ws_server(server, move |mut session| {
        let tx = tx.clone();
        async move {
            while let Some(Ok(frame)) = session.receive().await {
                let len: usize = frame.read_text().and_then(|t| t.parse().ok()).unwrap_or(0);
                if session.send_text("x".repeat(len)).await.is_err() {
                    break;
                }
            }
            let _ = tx.send(session.close_reason().await);
        }
    })
    .await;
    (guard, rx)
}

#[tokio::test]
async fn max_frame_size_lowered_on_a_live_session_closes_1009() {
    // the limit is on frames as they come over the wire: plain ones, and, with deflate
    // negotiated, uncompressed ones (here: below the server's compression threshold; a
    // compressed frame counts at its compressed size, its inflated message is cut into frames)
    let negotiated_but_plain = typed_ws::Compression::default().threshold(1 << 20);
    for compression in [typed_ws::Compression::disabled(), negotiated_but_plain] {
        let server = Server::builder().compression(compression.clone()).build();
        let (server, _) = sender_server(server).await;
        let client = Client::builder().compression(compression).build();
        let mut session = within("connect", client.web_socket_session(server.url("/")))
            .await
            .unwrap();
        session.send_text("2000").await.unwrap();
        let first = within("2000 bytes", session.receive())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.len(), 2000);
        session.set_max_frame_size(1024).unwrap();
        // the change is taken on the driver's next pass, before the next frame is read
        session.send_text("1024").await.unwrap();
        let at_limit = within("1024 bytes", session.receive())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(at_limit.len(), 1024);
        session.send_text("1025").await.unwrap();
        let err = within("too big", session.receive())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooBig, "{err:#}");
        assert!(
            err.to_string()
                .contains("1.0 KiB (1025 bytes) over max_frame_size (1 KiB)"),
            "{err}"
        );
        let reason = within("close reason", session.close_reason()).await;
        assert_eq!(reason.code, CloseCode::TOO_BIG);
    }
}

#[tokio::test]
async fn max_frame_size_raised_on_a_live_session_takes_bigger_frames() {
    let (server, _) = sender_server(Server::new()).await;
    let client = Client::builder()
        .max_frame_size(1024)
        .compression(typed_ws::Compression::disabled())
        .build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    session.set_max_frame_size(64 * 1024).unwrap();
    session.send_text("4000").await.unwrap();
    let frame = within("4000 bytes", session.receive())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.len(), 4000);
    let err = session.set_max_frame_size(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn a_server_session_lowers_its_frame_limit_live() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let tx = tx.clone();
        async move {
            session.set_max_frame_size(100).unwrap();
            let _ = session.send_text("ready").await;
            while let Some(Ok(_)) = session.receive().await {}
            let _ = tx.send(session.close_reason().await);
        }
    })
    .await;
    let client = Client::builder()
        .compression(typed_ws::Compression::disabled())
        .build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let ready = within("ready", session.receive()).await.unwrap().unwrap();
    assert_eq!(ready.read_text(), Some("ready"));
    session.send_text("y".repeat(101)).await.unwrap();
    let seen = within("the server's close", rx.recv()).await.unwrap();
    assert_eq!(seen.code, CloseCode::TOO_BIG, "{seen}");
    let reason = within("client close reason", session.close_reason()).await;
    assert_eq!(reason.code, CloseCode::TOO_BIG);
}
