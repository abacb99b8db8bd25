//! The client's own checks of a `101 Switching Protocols` answer (sdk/src/upgrade.rs): a
//! hand-rolled server answers the upgrade with one thing wrong, and the client must refuse it
//! with `ErrorKind::Handshake`, the check's own message, and no session (not one frame, not
//! even a close, reaches the server).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use typed_ws::{Client, ErrorKind, Request};
use typed_ws_tests::support::{Guard, read_head, tcp_server, within};

/// How the hostile server builds its answer from the request's `Sec-WebSocket-Accept` value.
type Answer = fn(&str) -> Vec<u8>;

/// A server that reads the upgrade request, writes `answer(accept)`, then reports the bytes
/// the client sent after its request head: read until the client hangs up, or until the two
/// bytes of a frame header arrived.
async fn answering(answer: Answer) -> (Guard, mpsc::UnboundedReceiver<Vec<u8>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let guard = tcp_server(move |mut tcp| {
        let tx = tx.clone();
        async move {
            let head = read_head(&mut tcp).await.expect("the upgrade request");
            let key = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                })
                .expect("a Sec-WebSocket-Key");
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            tcp.write_all(&answer(&accept)).await.expect("write answer");
            let mut after = Vec::new();
            let mut chunk = [0u8; 64];
            while after.len() < 2 {
                match tcp.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => after.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(after);
        }
    })
    .await;
    (guard, rx)
}

fn response(lines: &[&str]) -> Vec<u8> {
    let mut out = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Connects to a server answering with `answer`; expects a handshake error containing
/// `message`, and that the server saw nothing after the request.
async fn refused(answer: Answer, request: impl FnOnce(String) -> Request, message: &str) {
    let (server, mut after) = answering(answer).await;
    let err = within(
        "refusal",
        Client::new().web_socket_session(request(server.url("/"))),
    )
    .await
    .expect_err("the client must refuse this 101");
    assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
    assert!(err.is_handshake());
    assert!(
        err.to_string().contains(message),
        "expected the check's message {message:?}, got: {err}"
    );
    assert!(
        err.response().is_none(),
        "a 101 is not a refusal with a body"
    );
    let bytes = within("the client to hang up", after.recv())
        .await
        .expect("server report");
    assert!(
        bytes.is_empty(),
        "no session: nothing after the request ({} bytes)",
        bytes.len()
    );
    server.finish().await;
}

fn plain(url: String) -> Request {
    Request::builder().url(&url).build().unwrap()
}

#[tokio::test]
async fn the_same_server_with_a_correct_101_gives_a_session() {
    // the control: the helper's correct answer is accepted, so each refusal below is the
    // refusal of its one wrong detail
    let (server, mut after) = answering(|accept| {
        response(&[
            "Upgrade: websocket",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Accept: {accept}"),
        ])
    })
    .await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    assert_eq!(session.handshake().status(), 101);
    drop(session);
    let bytes = within("the client to hang up", after.recv()).await.unwrap();
    assert_eq!(bytes[0], 0x88, "a session sends its close frame on drop");
    server.finish().await;
}

#[tokio::test]
async fn a_101_without_upgrade_websocket_is_refused() {
    refused(
        |accept| {
            response(&[
                "Connection: Upgrade",
                &format!("Sec-WebSocket-Accept: {accept}"),
            ])
        },
        plain,
        "upgrade response lacks `Upgrade: websocket`",
    )
    .await;
    refused(
        |accept| {
            response(&[
                "Upgrade: h2c",
                "Connection: Upgrade",
                &format!("Sec-WebSocket-Accept: {accept}"),
            ])
        },
        plain,
        "upgrade response lacks `Upgrade: websocket`",
    )
    .await;
}

#[tokio::test]
async fn a_101_without_connection_upgrade_is_refused() {
    refused(
        |accept| {
            response(&[
                "Upgrade: websocket",
                &format!("Sec-WebSocket-Accept: {accept}"),
            ])
        },
        plain,
        "upgrade response lacks `Connection: Upgrade`",
    )
    .await;
    refused(
        |accept| {
            response(&[
                "Upgrade: websocket",
                "Connection: keep-alive",
                &format!("Sec-WebSocket-Accept: {accept}"),
            ])
        },
        plain,
        "upgrade response lacks `Connection: Upgrade`",
    )
    .await;
}

#[tokio::test]
async fn a_101_with_a_wrong_or_missing_accept_is_refused() {
    refused(
        |_| {
            response(&[
                "Upgrade: websocket",
                "Connection: Upgrade",
                // the accept value of RFC 6455's example key, not of ours
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            ])
        },
        plain,
        "server sent a wrong Sec-WebSocket-Accept",
    )
    .await;
    refused(
        |_| response(&["Upgrade: websocket", "Connection: Upgrade"]),
        plain,
        "server sent a wrong Sec-WebSocket-Accept",
    )
    .await;
}

#[tokio::test]
async fn a_101_with_an_extension_that_was_not_offered_is_refused() {
    refused(
        |accept| {
            response(&[
                "Upgrade: websocket",
                "Connection: Upgrade",
                &format!("Sec-WebSocket-Accept: {accept}"),
                "Sec-WebSocket-Extensions: x-foo",
            ])
        },
        plain,
        "negotiated extension `x-foo`, which was not offered",
    )
    .await;
}

#[tokio::test]
async fn a_101_selecting_a_subprotocol_that_was_not_offered_is_refused() {
    let answer: Answer = |accept| {
        response(&[
            "Upgrade: websocket",
            "Connection: Upgrade",
            &format!("Sec-WebSocket-Accept: {accept}"),
            "Sec-WebSocket-Protocol: v3.json",
        ])
    };
    let offering = |url: String| {
        Request::builder()
            .url(&url)
            .subprotocols(["v1.json", "v2.json"])
            .build()
            .unwrap()
    };
    refused(
        answer,
        offering,
        "server selected subprotocol \"v3.json\", which was not offered",
    )
    .await;
    // and when nothing was offered at all
    refused(
        answer,
        plain,
        "server selected subprotocol \"v3.json\", which was not offered",
    )
    .await;
}

#[tokio::test]
async fn a_101_head_over_64_kib_is_refused() {
    refused(
        |_| {
            // one header line that never ends: 70 KiB without the blank line
            let mut head = b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ".to_vec();
            head.extend(std::iter::repeat_n(b'a', 70 * 1024));
            head
        },
        plain,
        "upgrade response head is over 64 KiB",
    )
    .await;
}
