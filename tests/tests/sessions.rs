//! Client sessions against typed-ws's own server accept side, over loopback.

use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{
    Client, CloseCode, CloseReason, ContentConverter, ErrorKind, Frame, Json, MessagePack, Request,
    Scheme,
};
use typed_ws_tests::support::{echo_server, within, ws_server};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Say {
    from: String,
    text: String,
    n: u32,
}

fn say(n: u32) -> Say {
    Say {
        from: "ann".into(),
        text: format!("message {n}"),
        n,
    }
}

#[tokio::test]
async fn typed_json_round_trip_and_normal_close() {
    let server = echo_server(Server::new()).await;
    let client = Client::new();
    let mut session = within("connect", client.web_socket_session(server.url("/chat")))
        .await
        .unwrap();
    session.send_serialized(&say(1)).await.unwrap();
    let back: Say = within("reply", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(back, say(1));
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    let why = within("close reason", session.close_reason()).await;
    assert_eq!(why, CloseReason::normal("bye"));
    let err = session.send_text("late").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    assert!(within("end", session.receive()).await.is_none());
}

#[tokio::test]
async fn messagepack_goes_out_as_binary() {
    let server = echo_server(Server::builder().converter(MessagePack::default()).build()).await;
    let client = Client::builder().converter(MessagePack::default()).build();
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    session.send_serialized(&say(2)).await.unwrap();
    let frame = within("frame", session.receive()).await.unwrap().unwrap();
    assert!(matches!(frame, Frame::Binary(_)), "{frame:?}");
    let back: Say = session.converter().deserialize(&frame).unwrap();
    assert_eq!(back, say(2));
}

#[tokio::test]
async fn scoped_session_closes_1000_on_ok_and_1011_on_error() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let tx = tx.clone();
        async move {
            while session.receive().await.is_some() {}
            let _ = tx.send(session.close_reason().await);
        }
    })
    .await;
    let client = Client::new();
    let n: u32 = within(
        "scoped ok",
        client.web_socket(server.url("/"), async |s| {
            s.send_text("x").await?;
            Ok::<_, typed_ws::Error>(7)
        }),
    )
    .await
    .unwrap();
    assert_eq!(n, 7);
    let seen = within("server close", rx.recv()).await.unwrap();
    assert_eq!(seen.code, CloseCode::NORMAL);

    #[derive(Debug)]
    struct AppError(String);
    impl std::fmt::Display for AppError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl From<typed_ws::Error> for AppError {
        fn from(e: typed_ws::Error) -> Self {
            AppError(e.to_string())
        }
    }
    let err = within(
        "scoped err",
        client.ws(server.url("/"), async |_s| {
            Err::<(), _>(AppError("handler failed".into()))
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, "handler failed");
    let seen = within("server close", rx.recv()).await.unwrap();
    assert_eq!(seen.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(seen.reason, "handler failed");
}

#[tokio::test]
async fn request_builder_headers_query_and_subprotocol_reach_the_server() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ws_server(
        Server::builder()
            .subprotocols(["v2.json", "v1.json"])
            .build(),
        move |session| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(session.handshake().clone());
                let _ = session.close_reason().await;
            }
        },
    )
    .await;
    let request = Request::builder()
        .host("127.0.0.1")
        .port(1)
        .path("chat")
        .header("Authorization", "Bearer t0ken")
        .header("X-Custom", "yes")
        .query("room", "42 & more")
        .subprotocols(["v1.json", "v2.json"])
        .protocol(Scheme::Ws)
        .port(server.addr.port())
        .connect_timeout(Duration::from_secs(5));
    let session = within("connect", Client::new().web_socket_session(request))
        .await
        .unwrap();
    assert_eq!(session.handshake().status(), 101);
    assert_eq!(session.handshake().subprotocol(), Some("v2.json"));
    let seen = within("server handshake", rx.recv()).await.unwrap();
    assert_eq!(seen.path(), "/chat?room=42+%26+more");
    assert_eq!(seen.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(seen.header("x-custom"), Some("yes"));
    assert_eq!(seen.subprotocol(), Some("v2.json"));
}

#[tokio::test]
async fn decode_error_keeps_frame_and_session_stays_open() {
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    session.send_text("not json").await.unwrap();
    session.send_serialized(&say(3)).await.unwrap();
    let err = within("bad", session.receive_deserialized::<Say>())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.frame(), Some(&Frame::Text("not json".into())));
    assert!(std::error::Error::source(&err).is_some());
    let ok: Say = within("good", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(ok, say(3));
}

#[tokio::test]
async fn split_senders_from_many_tasks_keep_per_task_order() {
    let server = echo_server(Server::new()).await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let (tx, mut rx) = session.split();
    let mut tasks = Vec::new();
    for task in 0..16u32 {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u32 {
                tx.send_serialized(&(task, i)).await.unwrap();
            }
        }));
    }
    let mut next = [0u32; 16];
    for _ in 0..16 * 1000 {
        let (task, i): (u32, u32) = within("message", rx.receive_deserialized()).await.unwrap();
        assert_eq!(i, next[task as usize], "task {task} out of order");
        next[task as usize] += 1;
    }
    for t in tasks {
        t.await.unwrap();
    }
    within("close", tx.close(CloseReason::normal("")))
        .await
        .unwrap();
}

#[tokio::test]
async fn typed_stream_and_flush() {
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    for n in 0..10 {
        session.send_serialized(&say(n)).await.unwrap();
    }
    within("flush", session.flush()).await.unwrap();
    let got: Vec<Say> = within(
        "stream",
        session
            .messages::<Say>()
            .take(10)
            .map(|r| r.unwrap())
            .collect(),
    )
    .await;
    assert_eq!(got, (0..10).map(say).collect::<Vec<_>>());
    let frame = {
        session.send_text("raw").await.unwrap();
        within("incoming", session.incoming().next())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(frame, Frame::Text("raw".into()));
}

/// Text of `len` bytes mixing one-, two- and three-byte characters.
fn text_of(len: usize) -> String {
    let mut text = "aé✓".repeat(len / 6);
    while text.len() < len {
        text.push('z');
    }
    text
}

/// The driver copies received text of up to 4 KiB out of tungstenite's read buffer and hands
/// larger text over as it is; both sides of that line (on the server, which echoes each frame
/// it received, and on the client) keep every byte and the order.
#[tokio::test]
async fn text_on_both_sides_of_the_copy_threshold_arrives_intact() {
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let sizes = [0, 1, 4095, 4096, 4097, 6000, 100_000, 7];
    for len in sizes {
        session.send_text(text_of(len)).await.unwrap();
    }
    for len in sizes {
        let frame = within("echo", session.receive()).await.unwrap().unwrap();
        let Frame::Text(text) = frame else {
            panic!("expected text of {len} bytes, got {frame:?}")
        };
        assert!(
            text == text_of(len),
            "text of {len} bytes came back altered"
        );
    }
}

#[tokio::test]
async fn receive_is_cancel_safe() {
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    // cancel many receives mid-wait while frames arrive: none may be lost
    let sender = session.sender();
    let producer = tokio::spawn(async move {
        for n in 0..200u32 {
            sender.send_serialized(&n).await.unwrap();
            if n % 20 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let mut got = Vec::new();
    while got.len() < 200 {
        tokio::select! {
            biased;
            item = session.receive_deserialized::<u32>() => got.push(item.unwrap()),
            _ = tokio::task::yield_now() => {}
        }
    }
    producer.await.unwrap();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

#[tokio::test]
async fn raw_session_sees_control_frames() {
    let server = echo_server(Server::new()).await;
    let client = Client::builder()
        .ping_interval(Duration::from_millis(50))
        .build();
    let mut raw = within("connect", client.web_socket_raw_session(server.url("/")))
        .await
        .unwrap();
    raw.send(Frame::Ping(vec![7u8].into())).await.unwrap();
    let pong = within("pong", raw.receive()).await.unwrap().unwrap();
    assert_eq!(pong, Frame::Pong(vec![7u8].into()));
    raw.send_text("after").await.unwrap();
    let next = within("echo", raw.receive()).await.unwrap().unwrap();
    assert_eq!(next, Frame::Text("after".into()));
}

#[tokio::test]
async fn raw_session_has_no_pinger_while_a_normal_session_pings() {
    // a hand-rolled server reports every client frame with the name its connection sent
    // first; a normal session opened after the raw one pings once a ping interval has passed
    // for both, and only then does the raw session say "done": no ping may precede it
    let (tx, mut frames) = tokio::sync::mpsc::unbounded_channel();
    let server = typed_ws_tests::support::tcp_server(move |mut tcp| {
        let tx = tx.clone();
        async move {
            typed_ws_tests::support::raw_upgrade(&mut tcp)
                .await
                .unwrap();
            let mut name = String::new();
            while let Some((opcode, payload)) =
                typed_ws_tests::support::read_client_frame(&mut tcp).await
            {
                if name.is_empty() && opcode == 0x1 {
                    name = String::from_utf8(payload.clone()).unwrap();
                }
                let _ = tx.send((name.clone(), opcode, payload));
                if opcode == 0x8 {
                    break;
                }
            }
        }
    })
    .await;
    let client = Client::builder()
        .ping_interval(Duration::from_millis(50))
        .pong_timeout(Duration::from_secs(60))
        .build();
    let raw = within(
        "connect raw",
        client.web_socket_raw_session(server.url("/")),
    )
    .await
    .unwrap();
    raw.send_text("raw").await.unwrap();
    let normal = within("connect normal", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    normal.send_text("normal").await.unwrap();
    let mut seen = Vec::new();
    within("the normal session's ping", async {
        while !seen.iter().any(|(n, op, _)| n == "normal" && *op == 0x9) {
            seen.push(frames.recv().await.unwrap());
        }
    })
    .await;
    raw.send_text("done").await.unwrap();
    within("the raw session's done", async {
        while !seen
            .iter()
            .any(|(n, op, p)| n == "raw" && *op == 0x1 && p == b"done")
        {
            seen.push(frames.recv().await.unwrap());
        }
    })
    .await;
    let raw_frames: Vec<u8> = seen
        .iter()
        .filter(|(n, _, _)| n == "raw")
        .map(|(_, op, _)| *op)
        .collect();
    assert_eq!(
        raw_frames,
        [0x1, 0x1],
        "the raw session sent only its two texts"
    );
    drop((raw, normal));
}

#[tokio::test]
async fn peer_close_is_echoed_and_reported() {
    // the server's side asserts the echo: its close handshake completed (with an unanswered
    // close its close_reason would be 1006 "close not acknowledged")
    let server = ws_server(
        Server::builder()
            .close_timeout(Duration::from_secs(2))
            .build(),
        |session| async move {
            session
                .close(CloseReason::new(4000u16, "go away"))
                .await
                .unwrap();
            assert_eq!(
                session.close_reason().await,
                CloseReason::new(4000u16, "go away"),
                "the client echoed the close"
            );
        },
    )
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    assert!(within("end", session.receive()).await.is_none());
    let why = within("reason", session.close_reason()).await;
    assert_eq!(why, CloseReason::new(4000u16, "go away"));
    server.finish().await;
}

#[tokio::test]
async fn dropping_a_session_sends_1000() {
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
    drop(session);
    let seen = within("server saw close", rx.recv()).await.unwrap();
    assert_eq!(seen.code, CloseCode::NORMAL);
}

#[tokio::test]
async fn converter_is_static_and_readable() {
    let client = Client::new();
    assert_eq!(client.converter(), &Json::default());
}
