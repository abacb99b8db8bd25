//! Edge cases of the driver found in review: deadlines that must hold whatever arrives, errors
//! that must reach the application, closes that must neither lie nor wait on the application.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use typed_ws::{Client, CloseCode, CloseReason, ErrorKind, Frame};
use typed_ws_tests::support::within;

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// Waits (bounded) until `condition` holds, checking every millisecond.
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_pong_during_the_close_handshake_keeps_the_close_deadline() {
    let (listener, url) = listener().await;
    let (ping_tx, ping_rx) = tokio::sync::oneshot::channel();
    let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => break,
                Some(Ok(_)) => {}
                other => panic!("the client's ping never came: {other:?}"),
            }
        }
        let _ = ping_tx.send(());
        // once the client's close frame has arrived, flush the pong (next() does) and read
        // the close, but never echo it
        ws.get_ref().readable().await.unwrap();
        let _ = ws.next().await;
        let _ = hold_rx.await;
    });
    let client = Client::builder()
        .ping_interval(Duration::from_millis(20))
        .pong_timeout(Duration::from_secs(60))
        .close_timeout(Duration::from_millis(300))
        .build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    within("ping", ping_rx).await.unwrap();
    within(
        "close despite the pong",
        session.close(CloseReason::normal("bye")),
    )
    .await
    .unwrap();
    // the peer never answered the close: 1006, with what we sent kept (RFC 6455 7.1.5)
    assert_eq!(
        session.try_close_reason(),
        Some(CloseReason::new(
            CloseCode::ABNORMAL,
            "close not acknowledged by the peer (sent 1000 \"bye\")"
        ))
    );
    drop(hold_tx);
}

#[tokio::test]
async fn the_error_that_ends_a_session_reaches_an_application_that_was_not_reading() {
    for capacity in [8, 1] {
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            ws.send(Message::text("a")).await.unwrap();
            // the TCP connection ends without a close frame
        });
        let client = Client::builder().channel_capacity(capacity).build();
        let mut session = within("connect", client.web_socket_session(url))
            .await
            .unwrap();
        // the driver has seen the end (and the queue was full for capacity 1)
        assert_eq!(
            within("end", session.close_reason()).await.code,
            CloseCode::ABNORMAL
        );
        assert_eq!(
            within("a", session.receive()).await.unwrap().unwrap(),
            Frame::Text("a".into())
        );
        let err = within("error", session.receive())
            .await
            .expect("the 1006 error")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "capacity {capacity}: {err}");
        assert!(within("none", session.receive()).await.is_none());
    }
}

#[tokio::test]
async fn close_during_a_deferred_failure_reports_the_failure_on_both_ends() {
    let (listener, url) = listener().await;
    let (code_tx, code_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::binary(vec![0u8; 4096])).await.unwrap();
        let mut code = None;
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(frame) = message {
                code = frame.map(|f| u16::from(f.code));
                break;
            }
        }
        let _ = code_tx.send(code);
    });
    let client = Client::builder()
        .max_frame_size(1024)
        .max_message_size(1024)
        .build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    until("the error is queued", || session.queued() == 1).await;
    // the application closes without taking the error
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        session.try_close_reason().map(|r| r.code),
        Some(CloseCode::TOO_BIG)
    );
    assert_eq!(within("peer", code_rx).await.unwrap(), Some(1009));
}

#[tokio::test]
async fn close_does_not_wait_on_a_full_incoming_queue() {
    let (listener, url) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        for i in 0..10 {
            ws.send(Message::text(format!("{i}"))).await.unwrap();
        }
        while let Some(Ok(_)) = ws.next().await {} // echoes the close at once
    });
    // a close timeout far beyond the test's bound: waiting on it would fail the test
    let client = Client::builder()
        .channel_capacity(2)
        .close_timeout(Duration::from_secs(120))
        .build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    until("the queue is full", || session.queued() == 2).await;
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(session.try_close_reason(), Some(CloseReason::normal("bye")));
}

#[tokio::test]
async fn close_is_bounded_when_the_peer_stops_reading_and_queued_data_cannot_leave() {
    let (listener, url) = listener().await;
    let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = hold_rx.await; // never reads
    });
    let client = Client::builder()
        .ping_interval(None)
        .channel_capacity(4)
        .close_timeout(Duration::from_millis(300))
        .build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    let sender = session.sender();
    let flood = tokio::spawn(async move {
        let big = bytes::Bytes::from(vec![0u8; 1 << 20]);
        while sender.send(Frame::Binary(big.clone())).await.is_ok() {}
    });
    // wait until a send blocks: the socket and every queue are full (no event says so: a
    // probe send that waits 200 ms is taken as blocked; the whole wait is bounded)
    within("a send to block", async {
        loop {
            let probe = session.send_binary(vec![1u8; 1 << 20]);
            if tokio::time::timeout(Duration::from_millis(200), probe)
                .await
                .is_err()
            {
                break;
            }
        }
    })
    .await;
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    let why = session.try_close_reason().unwrap();
    assert_eq!(why.code, CloseCode::ABNORMAL, "{why}");
    assert!(why.reason.contains("stopped reading"), "{why}");
    within("flood ends", flood).await.unwrap();
    drop(hold_tx);
}

#[tokio::test]
async fn a_dead_peer_is_found_even_when_the_application_never_reads() {
    let (listener, url) = listener().await;
    let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        for i in 0..3 {
            ws.send(Message::text(format!("{i}"))).await.unwrap();
        }
        let _ = hold_rx.await; // frozen: never reads, never answers a ping
    });
    let client = Client::builder()
        .channel_capacity(1)
        .ping_interval(Duration::from_millis(50))
        .pong_timeout(Duration::from_millis(100))
        .build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    let why = within("ping timeout", session.close_reason()).await;
    assert_eq!(
        why,
        CloseReason::new(CloseCode::INTERNAL_ERROR, "ping timeout")
    );
    drop(hold_tx);
}
