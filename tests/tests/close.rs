//! Close semantics (RFC 6455 7.1.5): `close_reason()` tells a completed close handshake (our
//! reason) from a close the peer never acknowledged (1006, with what we sent kept), whether
//! the peer stays silent until `close_timeout` or drops the connection without answering.

use std::time::Duration;

use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, CloseReason};
use typed_ws_tests::support::{raw_upgrade, read_close_code, tcp_server, within, ws_server};

fn unacknowledged(sent: &str) -> CloseReason {
    CloseReason::new(
        CloseCode::ABNORMAL,
        format!("close not acknowledged by the peer (sent {sent})"),
    )
}

#[tokio::test]
async fn a_completed_close_handshake_reports_our_reason_on_both_ends() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let tx = tx.clone();
        async move {
            while session.receive().await.is_some() {}
            let _ = tx.send(session.close_reason().await);
        }
    })
    .await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    within(
        "close",
        session.close(CloseReason::new(4001u16, "done here")),
    )
    .await
    .unwrap();
    assert_eq!(
        within("reason", session.close_reason()).await,
        CloseReason::new(4001u16, "done here")
    );
    // the server received our close and answered it: the same reason on its side
    assert_eq!(
        within("server reason", rx.recv()).await.unwrap(),
        CloseReason::new(4001u16, "done here")
    );
    server.finish().await;
}

#[tokio::test]
async fn a_close_the_peer_never_answers_is_1006_with_what_we_sent() {
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel();
    let (hold_tx, hold_rx) = tokio::sync::watch::channel(());
    let server = tcp_server(move |mut tcp| {
        let got_tx = got_tx.clone();
        let mut hold = hold_rx.clone();
        async move {
            raw_upgrade(&mut tcp).await.unwrap();
            let _ = got_tx.send(read_close_code(&mut tcp).await);
            // silent, connection open, until the test ends
            let _ = hold.changed().await;
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(None)
        .close_timeout(Duration::from_millis(200))
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        within("peer got the close", got_rx.recv()).await,
        Some(Some(1000))
    );
    assert_eq!(
        within("reason", session.close_reason()).await,
        unacknowledged("1000 \"bye\"")
    );
    drop(hold_tx);
    server.finish().await;
}

#[tokio::test]
async fn a_close_answered_by_a_dropped_connection_is_1006_with_what_we_sent() {
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tcp_server(move |mut tcp| {
        let got_tx = got_tx.clone();
        async move {
            raw_upgrade(&mut tcp).await.unwrap();
            let _ = got_tx.send(read_close_code(&mut tcp).await);
            // the connection ends here, without a close frame
        }
    })
    .await;
    // a long close_timeout: the end of the connection, not the deadline, ends the session
    let client = Client::builder()
        .ping_interval(None)
        .close_timeout(Duration::from_secs(60))
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    within("close", session.close(CloseReason::new(4002u16, "going")))
        .await
        .unwrap();
    assert_eq!(
        within("peer got the close", got_rx.recv()).await,
        Some(Some(4002))
    );
    assert_eq!(
        within("reason", session.close_reason()).await,
        unacknowledged("4002 \"going\"")
    );
    server.finish().await;
}

#[tokio::test]
async fn a_peer_close_we_answer_keeps_the_peers_reason() {
    // the other direction: the peer's close frame arrived, so its reason is the outcome even
    // though the peer then never closes the connection
    let (hold_tx, hold_rx) = tokio::sync::watch::channel(());
    let server = tcp_server(move |mut tcp| {
        let mut hold = hold_rx.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            raw_upgrade(&mut tcp).await.unwrap();
            let mut payload = 4003u16.to_be_bytes().to_vec();
            payload.extend_from_slice(b"leaving");
            tcp.write_all(&typed_ws_tests::support::server_frame(
                true, 0, 0x8, &payload,
            ))
            .await
            .unwrap();
            assert_eq!(read_close_code(&mut tcp).await, Some(4003), "the echo");
            let _ = hold.changed().await;
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(None)
        .close_timeout(Duration::from_millis(200))
        .build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    assert!(within("end", session.receive()).await.is_none());
    assert_eq!(
        within("reason", session.close_reason()).await,
        CloseReason::new(4003u16, "leaving")
    );
    drop(hold_tx);
    server.finish().await;
}
