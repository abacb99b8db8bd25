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
