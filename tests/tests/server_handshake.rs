//! typed-ws's own server handshake against raw (and hostile) HTTP requests over loopback:
//! every malformed upgrade gets the RFC's HTTP answer, never a 101, and the connection closes;
//! the pre-upgrade hook and the origin check refuse with their status and body.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use typed_ws::server::{Accepted, Refusal, Server};
use typed_ws::{Client, CloseReason, Frame, Session};
use typed_ws_tests::support::{LogCapture, echo, within, ws_server};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An HTTP answer as the client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` (written in one go, possibly not all accepted if the server answers
/// early) and reads everything until the server closes.
async fn send_raw(addr: SocketAddr, request: Vec<u8>) -> Answer {
    let mut tcp = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    // the server may answer (and close) before it has read all of a huge request
    let _ = within("write the request", tcp.write_all(&request)).await;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match within("the answer and the close", tcp.read(&mut chunk)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn upgrade_with(lines: &[&str]) -> Vec<u8> {
    let mut request = String::from("GET /chat HTTP/1.1\r\n");
    for line in lines {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

const HOST: &str = "Host: 127.0.0.1";
const UPGRADE: &str = "Upgrade: websocket";
const CONNECTION: &str = "Connection: Upgrade";
const VERSION: &str = "Sec-WebSocket-Version: 13";
const KEY_LINE: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

fn valid() -> Vec<&'static str> {
    vec![HOST, UPGRADE, CONNECTION, VERSION, KEY_LINE]
}

fn without(name: &str) -> Vec<&'static str> {
    valid()
        .into_iter()
        .filter(|l| !l.starts_with(name))
        .collect()
}

async fn server() -> typed_ws_tests::support::Guard {
    ws_server(Server::builder().build(), echo).await
}

#[tokio::test]
async fn malformed_upgrades_get_the_rfc_answers() {
    let guard = server().await;
    let big_header = format!("X-Big: {}", "a".repeat(64 * 1024));
    let many: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let mut many_lines = valid();
    many_lines.extend(many.iter().map(String::as_str));
    let mut big_lines = valid();
    big_lines.push(&big_header);
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100 * 1024)).into_bytes();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a plain GET", upgrade_with(&[HOST]), 426),
        ("no Upgrade header", upgrade_with(&without("Upgrade:")), 426),
        (
            "no Connection: Upgrade",
            upgrade_with(&without("Connection:")),
            400,
        ),
        ("no key", upgrade_with(&without("Sec-WebSocket-Key")), 400),
        (
            "a key that is not 16 bytes",
            upgrade_with(&[
                HOST,
                UPGRADE,
                CONNECTION,
                VERSION,
                "Sec-WebSocket-Key: c2hvcnQ=",
            ]),
            400,
        ),
        (
            "no version",
            upgrade_with(&without("Sec-WebSocket-Version")),
            400,
        ),
        (
            "version 8",
            upgrade_with(&[
                HOST,
                UPGRADE,
                CONNECTION,
                "Sec-WebSocket-Version: 8",
                KEY_LINE,
            ]),
            426,
        ),
        ("no Host", upgrade_with(&without("Host")), 400),
        (
            "POST",
            format!("POST /chat HTTP/1.1\r\n{}\r\n\r\n", valid().join("\r\n")).into_bytes(),
            405,
        ),
        (
            "HTTP/1.0",
            format!("GET /chat HTTP/1.0\r\n{}\r\n\r\n", valid().join("\r\n")).into_bytes(),
            505,
        ),
        (
            "HTTP/2.0 in an HTTP/1 request line",
            format!("GET /chat HTTP/2.0\r\n{}\r\n\r\n", valid().join("\r\n")).into_bytes(),
            505,
        ),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00hello\r\n\r\n".to_vec(),
            400,
        ),
        ("200 headers", upgrade_with(&many_lines), 431),
        ("a 64 KiB header", upgrade_with(&big_lines), 431),
        ("a 100 KiB request line", long_line, 414),
    ];
    for (what, request, want) in cases {
        let answer = send_raw(guard.addr, request).await;
        assert_eq!(answer.status, want, "{what}: {answer:?}");
        assert!(
            !answer.body.is_empty(),
            "{what}: the answer says what is wrong"
        );
        let connection = answer.header("connection").unwrap_or_default();
        assert!(connection.ends_with("close"), "{what}: {connection:?}");
        if want == 426 {
            assert_eq!(answer.header("sec-websocket-version"), Some("13"), "{what}");
            assert_eq!(answer.header("upgrade"), Some("websocket"), "{what}");
        }
        if want == 405 {
            assert_eq!(answer.header("allow"), Some("GET"), "{what}");
        }
    }
    // the server is still fine
    let mut session = within(
        "a valid client",
        Client::new().web_socket_session(guard.url("/ok")),
    )
    .await
    .expect("valid upgrade");
    session.send_text("still here").await.expect("send");
    let echoed = within("echo", session.receive()).await;
    assert!(matches!(echoed, Some(Ok(Frame::Text(t))) if t == "still here"));
}

#[tokio::test]
async fn a_valid_raw_upgrade_with_a_frame_in_the_same_packet_loses_no_byte() {
    let guard = server().await;
    let mut tcp = within("connect", TcpStream::connect(guard.addr))
        .await
        .expect("connect");
    let mut request = upgrade_with(&valid());
    // a masked text frame "hi" right behind the head, in the same write
    let mask = [1u8, 2, 3, 4];
    request.extend_from_slice(&[0x81, 0x82]);
    request.extend_from_slice(&mask);
    request.extend(b"hi".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    within("write", tcp.write_all(&request))
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"\x81\x02hi") {
        let n = within("101 and the echo", tcp.read(&mut chunk))
            .await
            .expect("read");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(KEY.as_bytes());
    assert!(
        text.contains(&format!("Sec-WebSocket-Accept: {accept}\r\n")),
        "{text}"
    );
}

#[tokio::test]
async fn an_idle_client_is_dropped_after_the_connect_timeout() {
    let server = Server::builder()
        .connect_timeout(Duration::from_millis(200))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        server.accept(tcp).await
    });
    let mut tcp = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    within(
        "half a request",
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n"),
    )
    .await
    .expect("write");
    let error = within("accept to time out", accepted)
        .await
        .expect("join")
        .expect_err("timeout");
    assert!(error.is_timeout(), "{error}");
    let mut rest = Vec::new();
    let n = within("the close", tcp.read_to_end(&mut rest))
        .await
        .unwrap_or(0);
    assert_eq!(
        n,
        0,
        "no answer to an incomplete request: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

#[derive(Debug, PartialEq)]
struct UserId(u64);

fn hooked_server() -> Server {
    Server::builder()
        .allowed_origins(["https://app.example.com"])
        .before_upgrade(|request| {
            assert!(
                request.peer_addr().is_some(),
                "serve passes the peer address"
            );
            match request.query_param("token").as_deref() {
                Some("t7") => Ok(Accepted::new().data(UserId(7))),
                Some(_) => Err(Refusal::new(403)
                    .header("X-Reason", "bad-token")
                    .body("token refused")),
                None => Err(Refusal::unauthorized("a token is required")
                    .header("WWW-Authenticate", "Bearer")),
            }
        })
        .build()
}

/// A `hooked_server` run by `serve`, whose sessions answer with the user id the hook found.
async fn hooked() -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        hooked_server()
            .serve(listener, async |mut session: Session| {
                let user = session.handshake().data::<UserId>().map(|u| u.0);
                let _ = session.send_text(format!("user {user:?}")).await;
                while let Some(Ok(_)) = session.receive().await {}
            })
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    (addr, stop_tx, task)
}

#[tokio::test]
async fn the_hook_refuses_with_its_status_headers_and_body_and_passes_data() {
    let (addr, stop, task) = hooked().await;
    let base = valid();
    let answer = send_raw(addr, upgrade_with(&base)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.body, "a token is required");
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));

    let request = format!(
        "GET /chat?token=nope HTTP/1.1\r\n{}\r\n\r\n",
        base.join("\r\n")
    );
    let answer = send_raw(addr, request.into_bytes()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (403, "token refused")
    );
    assert_eq!(answer.header("x-reason"), Some("bad-token"));

    // a browser-like client from a foreign origin: 403 before the hook runs
    let mut lines = base.clone();
    lines.push("Origin: https://evil.example.net");
    let request = format!(
        "GET /chat?token=t7 HTTP/1.1\r\n{}\r\n\r\n",
        lines.join("\r\n")
    );
    let answer = send_raw(addr, request.into_bytes()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (403, "origin not allowed")
    );

    // typed-ws's client sees the refusal as a handshake error with the status and body
    let error = within(
        "refused client",
        Client::new().web_socket_session(format!("ws://{addr}/chat")),
    )
    .await
    .expect_err("refused");
    assert_eq!(error.status(), Some(401), "{error}");
    assert_eq!(
        error.response().and_then(|r| r.body.as_deref()),
        Some(&b"a token is required"[..])
    );

    // the allowed origin with a good token: upgraded, and the session sees the user id
    let request = typed_ws::Request::builder()
        .host("127.0.0.1")
        .port(addr.port())
        .path("/chat")
        .query("token", "t7")
        .header("Origin", "https://APP.example.com")
        .build()
        .expect("request");
    let mut session = within("accepted client", Client::new().web_socket_session(request))
        .await
        .expect("upgrade");
    let first = within("greeting", session.receive()).await;
    assert!(
        matches!(&first, Some(Ok(Frame::Text(t))) if t == "user Some(7)"),
        "{first:?}"
    );
    session
        .close(CloseReason::normal("bye"))
        .await
        .expect("close");
    let _ = stop.send(());
    within("serve to return", task)
        .await
        .expect("join")
        .expect("serve");
}

#[tokio::test]
async fn no_header_or_token_reaches_the_server_logs() {
    // the test runtime is single-threaded: every task of the server logs through this
    let (capture, _default) = LogCapture::on_this_thread(tracing::Level::TRACE);

    let server = Server::builder()
        .before_upgrade(|request| match request.header("authorization") {
            Some("Bearer SECRET-GOOD") => Ok(Accepted::new()),
            _ => Err(Refusal::unauthorized("no")),
        })
        .build();
    let guard = ws_server(server, echo).await;
    // refused by the hook, with secrets in a header and the query
    let refused = format!(
        "GET /chat?token=SECRET-QUERY HTTP/1.1\r\n{}\r\nAuthorization: Bearer SECRET-BAD\r\nCookie: SECRET-COOKIE\r\n\r\n",
        valid().join("\r\n")
    );
    assert_eq!(send_raw(guard.addr, refused.into_bytes()).await.status, 401);
    // malformed, with a secret in the request line
    let malformed = format!(
        "POST /x?token=SECRET-POST HTTP/1.1\r\n{}\r\n\r\n",
        valid().join("\r\n")
    );
    assert_eq!(
        send_raw(guard.addr, malformed.into_bytes()).await.status,
        405
    );
    // accepted
    let request = typed_ws::Request::builder()
        .host("127.0.0.1")
        .port(guard.addr.port())
        .path("/chat")
        .query("token", "SECRET-ACCEPTED")
        .header("Authorization", "Bearer SECRET-GOOD")
        .build()
        .expect("request");
    let mut session = within("accepted", Client::new().web_socket_session(request))
        .await
        .expect("upgrade");
    session.send_text("hi").await.expect("send");
    let _ = within("echo", session.receive()).await;
    session
        .close(CloseReason::normal("bye"))
        .await
        .expect("close");

    let logs = capture.text();
    assert!(
        logs.contains("refused the upgrade"),
        "the capture saw nothing:\n{logs}"
    );
    assert!(logs.contains("accepted"), "no accept logged:\n{logs}");
    assert!(
        !logs.contains("SECRET"),
        "a secret leaked into the logs:\n{logs}"
    );
}
