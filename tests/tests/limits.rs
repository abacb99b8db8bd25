//! Byte budgets and the messages limits produce: what a user sees when a peer sends too much,
//! too fast, or a malformed handshake.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use typed_ws::{Client, CloseCode, ErrorKind};
use typed_ws_tests::support::{
    raw_upgrade, read_client_frame, read_head, server_frame, tcp_server, within,
};

const MIB: usize = 1 << 20;

/// Sends `message` until a write has been blocked for a second, at most `times` times.
async fn write_until_blocked(
    tcp: &mut tokio::net::TcpStream,
    message: &[u8],
    times: usize,
) -> usize {
    let mut sent = 0;
    for _ in 0..times {
        match tokio::time::timeout(Duration::from_secs(1), tcp.write_all(message)).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    sent
}

#[tokio::test]
async fn send_waits_once_the_outgoing_budget_is_spent() {
    // the message queue alone would take 1024 x 64 KiB = 64 MiB; the budget stops it far sooner
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tcp_server(move |mut tcp| {
        let mut stop = stop_rx.clone();
        async move {
            let _ = raw_upgrade(&mut tcp).await;
            let _ = stop.wait_for(|s| *s).await;
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(None)
        .channel_capacity(1024)
        .outgoing_budget(256 * 1024)
        .build();
    let session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let payload = bytes::Bytes::from(vec![1u8; 64 * 1024]);
    let mut accepted = 0usize;
    while accepted < 1024 {
        match tokio::time::timeout(Duration::from_secs(1), session.send_binary(payload.clone()))
            .await
        {
            Ok(result) => {
                result.unwrap();
                accepted += 1;
            }
            Err(_) => break,
        }
    }
    let accepted_mib = accepted * payload.len() / MIB;
    println!("accepted {accepted_mib} MiB before send waited");
    assert!(accepted < 1024, "send never waited");
    // budget + write buffer + what the kernel's socket buffers took on loopback
    assert!(
        accepted_mib < 24,
        "{accepted_mib} MiB accepted with a 256 KiB outgoing budget"
    );
    let _ = stop_tx.send(true);
}

#[tokio::test]
async fn reading_stops_once_the_incoming_budget_is_spent() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let server = tcp_server(move |mut tcp| {
        let tx = tx.clone();
        async move {
            let _ = raw_upgrade(&mut tcp).await;
            let message = server_frame(true, 0, 0x2, &vec![5u8; MIB]);
            let _ = tx
                .send(write_until_blocked(&mut tcp, &message, 100).await)
                .await;
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(None)
        .channel_capacity(1024)
        .incoming_budget(MIB)
        .build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    // the application does not read until the peer is blocked
    let sent = within("the peer to be blocked", rx.recv()).await.unwrap();
    println!("the peer wrote {sent} MiB before it was blocked");
    assert!(
        sent < 100,
        "the session read 100 MiB for an application that does not read"
    );
    // budget + one message + the read buffer + the kernel's socket buffers
    assert!(sent < 24, "{sent} MiB read past a 1 MiB incoming budget");
    assert!(
        session.queued() < sent,
        "queued {} of {sent}",
        session.queued()
    );
    // nothing was lost: every message written is received, in order
    for _ in 0..sent {
        let frame = within("a message", session.receive())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frame.len(), MIB);
    }
}

#[tokio::test]
async fn a_frame_one_byte_over_the_limit_is_reported_exactly() {
    let server = tcp_server(|mut tcp| async move {
        let _ = raw_upgrade(&mut tcp).await;
        let _ = tcp
            .write_all(&server_frame(true, 0, 0x2, &vec![0u8; 1025]))
            .await;
        let _ = typed_ws_tests::support::read_close_code(&mut tcp).await;
    })
    .await;
    let client = Client::builder().max_frame_size(1024).build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let error = within("the error", session.receive())
        .await
        .expect("an item")
        .expect_err("too big");
    assert_eq!(error.kind(), ErrorKind::TooBig);
    assert!(
        error
            .to_string()
            .contains("1.0 KiB (1025 bytes) over max_frame_size (1 KiB)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_101_with_too_many_headers_says_so() {
    let server = tcp_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        let mut response = String::from("HTTP/1.1 101 Switching Protocols\r\n");
        for n in 0..97 {
            response.push_str(&format!("X-Filler-{n}: x\r\n"));
        }
        response.push_str("\r\n");
        let _ = tcp.write_all(response.as_bytes()).await;
    })
    .await;
    let error = within(
        "the handshake",
        Client::new().web_socket_session(server.url("/")),
    )
    .await
    .expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Handshake);
    assert_eq!(
        error.to_string(),
        "upgrade response has more than 96 headers"
    );
}

#[tokio::test]
async fn a_send_refused_as_closed_comes_with_the_close_reason() {
    // the peer closes at once; every send that fails must already see the reason
    let server = tcp_server(|mut tcp| async move {
        let _ = raw_upgrade(&mut tcp).await;
        let mut close = 4000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"go away");
        let _ = tcp.write_all(&server_frame(true, 0, 0x8, &close)).await;
        let _ = typed_ws_tests::support::read_close_code(&mut tcp).await;
    })
    .await;
    for _ in 0..20 {
        let session = within("connect", Client::new().web_socket_session(server.url("/")))
            .await
            .unwrap();
        let mut sends = 0;
        let error = loop {
            match within("send", session.send_text("x")).await {
                Ok(()) => sends += 1,
                Err(error) => break error,
            }
            assert!(
                sends < 100_000,
                "sends kept succeeding after the peer closed"
            );
        };
        assert!(error.is_closed(), "{error}");
        let reason = session
            .try_close_reason()
            .expect("an error saying closed comes after the outcome is known");
        assert_eq!(reason.code, CloseCode(4000));
        assert_eq!(
            error.close_reason().map(|r| r.code),
            Some(CloseCode(4000)),
            "{error}"
        );
    }
}

#[tokio::test]
async fn reading_resumes_once_a_ping_flooder_reads_its_pongs() {
    // a peer floods pings without reading (the session pauses reading: their pongs cannot go
    // out), then starts reading: the session must read on by itself, with no timer to wake it
    // (the pinger is off), and answer what follows the flood
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let server = tcp_server(move |mut tcp| {
        let tx = tx.clone();
        async move {
            let _ = raw_upgrade(&mut tcp).await;
            // full-size pings (125 bytes): the socket buffers fill with fewer of them; written
            // with try_write so a blocked write never leaves half a frame behind unaccounted
            let ping = server_frame(true, 0, 0x9, &[7u8; 125]);
            let chunk: Vec<u8> = ping
                .iter()
                .copied()
                .cycle()
                .take(ping.len() * 1_000)
                .collect();
            let (mut written, mut blocked) = (0usize, false);
            while written < chunk.len() * 1_000 && !blocked {
                match tokio::time::timeout(Duration::from_millis(500), tcp.writable()).await {
                    Ok(Ok(())) => match tcp.try_write(&chunk[written % chunk.len()..]) {
                        Ok(n) => written += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    },
                    Ok(Err(_)) => return,
                    Err(_) => blocked = true,
                }
            }
            // the rest of the frame the flood stopped in, then the message
            let mut tail = ping[written % ping.len()..].to_vec();
            if written % ping.len() == 0 {
                tail.clear();
            }
            tail.extend(server_frame(true, 0, 0x1, b"after the flood"));
            let (mut read, mut write) = tcp.into_split();
            let reader = async {
                while let Some((opcode, payload)) = read_client_frame(&mut read).await {
                    if opcode == 0x1 {
                        return Some(String::from_utf8_lossy(&payload).into_owned());
                    }
                }
                None
            };
            let writer = async {
                let _ = write.write_all(&tail).await;
            };
            let (echo, ()) = tokio::join!(reader, writer);
            let _ = tx.send((blocked, echo)).await;
        }
    })
    .await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    let echo = async {
        while let Some(Ok(frame)) = session.receive().await {
            if session.send(frame).await.is_err() {
                break;
            }
        }
    };
    let report = async { within("the echo after the flood", rx.recv()).await };
    let (blocked, echo) = tokio::select! {
        // the peer reports before it hangs up, and the session then ends: the report first
        biased;
        report = report => report.expect("a report"),
        () = echo => panic!("the session ended: {:?}", session.try_close_reason()),
    };
    assert!(blocked, "the flood never met backpressure");
    assert_eq!(echo.as_deref(), Some("after the flood"));
}
