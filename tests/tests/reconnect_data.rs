//! Reconnecting sessions carrying data: typed receive across a lost connection, the buffered
//! replay (exact, gap-free, bounded, in order through a second drop), an `on_connect` hook
//! that fails, and `reconnect_when` deciding. Loopback servers only; every wait bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use typed_ws::server::Server;
use typed_ws::{
    Backoff, Cause, Client, CloseCode, CloseReason, ContentConverter, ErrorKind, Event, Json,
    MessagePack, Offer, Outbox, Request,
};
use typed_ws_tests::support::{
    Relay, raw_upgrade, read_client_frame, read_until_close, server_frame, tcp_server, within,
    ws_server,
};

/// Forwards a session's events to a channel (the stream ends when the supervisor stops).
fn collect(
    mut events: impl futures_util::Stream<Item = Event> + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads events (into `log`) until one matches.
async fn until_event(
    events: &mut mpsc::UnboundedReceiver<Event>,
    log: &mut Vec<Event>,
    what: &str,
    mut matches: impl FnMut(&Event) -> bool,
) {
    loop {
        let event = within(what, events.recv())
            .await
            .unwrap_or_else(|| panic!("event stream ended before {what}: {log:?}"));
        let found = matches(&event);
        log.push(event);
        if found {
            return;
        }
    }
}

fn quick() -> Backoff {
    Backoff::exponential(Duration::from_millis(10), Duration::from_millis(10)).without_jitter()
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Tick {
    n: u32,
    label: String,
}

#[tokio::test]
async fn typed_data_arrives_in_order_across_a_relay_kill_with_the_negotiated_converter() {
    // every connection negotiates MessagePack (the server's preference; the client offers
    // JSON first) and sends five ticks numbered on from the last connection's; ticks the
    // client sends are decoded with MessagePack and reported
    let conns = Arc::new(AtomicU32::new(0));
    let (got_tx, mut got) = mpsc::unbounded_channel();
    let server = Server::builder()
        .ping_interval(None)
        .negotiate(Offer::new("v1.msgpack", MessagePack::default()).or("v1.json", Json::default()))
        .build();
    let backend = ws_server(server, move |mut session| {
        let conn = conns.fetch_add(1, Ordering::SeqCst);
        let got_tx = got_tx.clone();
        async move {
            assert_eq!(session.handshake().subprotocol(), Some("v1.msgpack"));
            for n in conn * 5..conn * 5 + 5 {
                let tick = Tick {
                    n,
                    label: format!("connection {conn}"),
                };
                if session.send_serialized(&tick).await.is_err() {
                    return;
                }
            }
            while let Some(item) = session.receive().await {
                let Ok(frame) = item else { break };
                let tick: Tick = session
                    .converter()
                    .deserialize(&frame)
                    .expect("a MessagePack tick from the client");
                let _ = got_tx.send(tick);
            }
        }
    })
    .await;
    let mut relay = Relay::start(0, backend.addr).await;
    let client = Client::builder()
        .ping_interval(None)
        .negotiate(Offer::new("v1.json", Json::default()).or("v1.msgpack", MessagePack::default()))
        .build();
    let mut session = within(
        "connect",
        client
            .reconnecting(format!("ws://127.0.0.1:{}/ticks", relay.port))
            .policy(quick())
            .outbox(Outbox::Buffer { max_messages: 8 })
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    for n in 0..5 {
        let tick: Tick = within("tick", session.receive_deserialized())
            .await
            .unwrap();
        assert_eq!(tick.n, n, "{tick:?}");
        assert_eq!(tick.label, "connection 0");
    }
    relay.kill().await;
    let _relay = Relay::start(relay.port, backend.addr).await;
    until_event(&mut events, &mut log, "reconnected", |e| {
        matches!(e, Event::Connected { attempt: 1.. })
    })
    .await;
    for n in 5..10 {
        let tick: Tick = within("tick after the reconnect", session.receive_deserialized())
            .await
            .unwrap();
        assert_eq!(tick.n, n, "{tick:?}");
        assert_eq!(tick.label, "connection 1");
    }
    let sent = Tick {
        n: 99,
        label: "from the client".into(),
    };
    session.send_serialized(&sent).await.unwrap();
    assert_eq!(within("the server's decode", got.recv()).await, Some(sent));
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    backend.finish().await;
}

const PADDING: usize = 256 * 1024;

fn numbered(n: u32) -> String {
    format!("{n}:{}", "x".repeat(PADDING))
}

fn number(text: &str) -> u32 {
    text.split(':').next().unwrap().parse().unwrap()
}

fn close_frame(code: u16) -> Vec<u8> {
    server_frame(true, 0, 0x8, &code.to_be_bytes())
}

/// A text "closing N" and a close 1012, to be written at once (the client handles both in one
/// read: when the test has the text, the client has the close).
fn marker_and_close(conn: u32) -> Vec<u8> {
    let mut bytes = server_frame(true, 0, 0x1, format!("closing {conn}").as_bytes());
    bytes.extend(close_frame(1012));
    bytes
}

#[tokio::test]
async fn buffered_replay_is_exact_gap_free_bounded_and_keeps_order_through_a_second_drop() {
    // Connection 0 stops reading until the client's queue is full, then the server sends a
    // marker text and a close (1012) in one write, and reads everything the client wrote
    // before its echo only once the test has seen the marker (the client's driver handled
    // the close in the same read, so the frames still queued are "accepted but not written"
    // for sure). Connection 1 reads one replayed frame, then closes (1012) mid-replay and
    // reads to the echo.
    // Connection 2 reads to the end. Nothing is lost in flight (every server reads up to the
    // echo), so the three together must be every accepted frame exactly once, in order.
    const MAX_MESSAGES: usize = 48;
    const CAPACITY: usize = 4;
    let conns = Arc::new(AtomicU32::new(0));
    let (close_first, first_may_close) = watch::channel(false);
    let (allow_read, read_allowed) = watch::channel(0u32);
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let server = tcp_server(move |mut tcp| {
        let conn = conns.fetch_add(1, Ordering::SeqCst);
        let mut first_may_close = first_may_close.clone();
        let mut read_allowed = read_allowed.clone();
        let report_tx = report_tx.clone();
        async move {
            raw_upgrade(&mut tcp).await.unwrap();
            let mut seqs = Vec::new();
            match conn {
                0 => {
                    let _ = first_may_close.wait_for(|go| *go).await;
                    tcp.write_all(&marker_and_close(conn)).await.unwrap();
                    let _ = read_allowed.wait_for(|n| *n > conn).await;
                }
                1 => {
                    let (opcode, payload) = read_client_frame(&mut tcp).await.unwrap();
                    assert_eq!(opcode, 0x1);
                    seqs.push(number(&String::from_utf8_lossy(&payload)));
                    tcp.write_all(&close_frame(1012)).await.unwrap();
                }
                _ => {}
            }
            let (texts, code) = read_until_close(&mut tcp).await;
            seqs.extend(texts.iter().map(|t| number(t)));
            if conn >= 2 {
                tcp.write_all(&close_frame(code.unwrap_or(1000)))
                    .await
                    .unwrap();
            }
            let _ = report_tx.send((conn, seqs, code));
        }
    })
    .await;
    let url = server.url("/");
    let (allow_retry, retry_allowed) = watch::channel(false);
    let client = Client::builder()
        .ping_interval(None)
        .channel_capacity(CAPACITY)
        .build();
    let mut session = within(
        "connect",
        client
            .reconnecting(url.as_str())
            .policy(quick())
            .outbox(Outbox::Buffer {
                max_messages: MAX_MESSAGES,
            })
            .request_with(move |attempt| {
                let url = url.clone();
                let mut retry_allowed = retry_allowed.clone();
                async move {
                    if attempt > 0 {
                        let _ = retry_allowed.wait_for(|ok| *ok).await;
                    }
                    Request::builder().url(&url).build()
                }
            })
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();

    // 1. connection 0 reads nothing: send until a send waits (the socket and queue are full;
    //    no event says so, a probe that waits 500 ms is taken as blocked; it only sets the
    //    scene, no assertion depends on it)
    let mut next = 0u32;
    within("a send to block", async {
        while let Ok(sent) = tokio::time::timeout(
            Duration::from_millis(500),
            session.send_text(numbered(next)),
        )
        .await
        {
            sent.unwrap();
            next += 1;
        }
    })
    .await;
    // 2. the server closes connection 0; once the client has handled that (the marker came
    //    with it), sends go into the outbox until it is full
    close_first.send_replace(true);
    let marker = within("marker 0", session.receive())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marker.read_text(), Some("closing 0"));
    let full = within("the outbox to fill", async {
        loop {
            match session.send_text(numbered(next)).await {
                Ok(()) => next += 1,
                Err(e) => break e,
            }
        }
    })
    .await;
    assert_eq!(full.kind(), ErrorKind::Closed, "{full}");
    assert!(
        full.to_string()
            .contains(&format!("outbox is full ({MAX_MESSAGES} messages")),
        "{full}"
    );
    let accepted = next;
    // 3. reconnect: connection 1 is cut mid-replay, connection 2 gets the rest
    allow_read.send_replace(1);
    allow_retry.send_replace(true);
    let mut connected = 0;
    until_event(&mut events, &mut log, "the third connection", |e| {
        if matches!(e, Event::Connected { .. }) {
            connected += 1;
        }
        connected == 2
    })
    .await;
    session.send_text(numbered(accepted)).await.unwrap();
    within("close", session.close(CloseReason::normal("done")))
        .await
        .unwrap();

    let mut by_conn = vec![Vec::new(); 3];
    for _ in 0..3 {
        let (conn, seqs, code) = within("server report", reports.recv()).await.unwrap();
        let expected = if conn == 2 { Some(1000) } else { Some(1012) };
        assert_eq!(code, expected, "connection {conn}'s close");
        by_conn[conn as usize] = seqs;
    }
    let all: Vec<u32> = by_conn.concat();
    eprintln!(
        "DEBUG accepted {accepted} per conn {:?} first {:?}",
        by_conn.iter().map(Vec::len).collect::<Vec<_>>(),
        by_conn
            .iter()
            .map(|v| v.first().copied())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        all,
        (0..=accepted).collect::<Vec<_>>(),
        "every accepted frame exactly once, in order (per connection: {:?})",
        by_conn.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // the replay: frames the dead connection had accepted but not written, then the
    // outbox; bounded by max_messages + the channel capacity (the documented bound)
    let replayed = all.len() - by_conn[0].len() - 1;
    assert!(
        replayed <= MAX_MESSAGES + CAPACITY,
        "replayed {replayed} > {MAX_MESSAGES} + {CAPACITY}"
    );
    assert!(
        replayed > MAX_MESSAGES,
        "the full outbox and the frames queued when the connection died were replayed: \
         {replayed}"
    );
    assert!(
        !by_conn[1].is_empty() && by_conn[2].len() > 1,
        "the second drop cut the replay: {:?}",
        by_conn.iter().map(Vec::len).collect::<Vec<_>>()
    );
    server.finish().await;
}

/// A server that reports each connection's texts and close reason; connection 0 (when
/// `close_first` is given) is closed by the server with that reason at once.
async fn reporting(
    close_first: Option<CloseReason>,
) -> (
    typed_ws_tests::support::Guard,
    mpsc::UnboundedReceiver<(u32, Vec<String>, CloseReason)>,
) {
    let conns = Arc::new(AtomicU32::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::builder().ping_interval(None).build();
    let guard = ws_server(server, move |mut session| {
        let conn = conns.fetch_add(1, Ordering::SeqCst);
        let tx = tx.clone();
        let close_first = close_first.clone();
        async move {
            if conn == 0
                && let Some(reason) = close_first
            {
                let _ = session.close(reason).await;
            }
            let mut texts = Vec::new();
            while let Some(Ok(frame)) = session.receive().await {
                texts.extend(frame.read_text().map(str::to_owned));
            }
            let _ = tx.send((conn, texts, session.close_reason().await));
        }
    })
    .await;
    (guard, rx)
}

#[tokio::test]
async fn an_on_connect_hook_that_fails_closes_that_connection_1011_and_counts_as_a_failed_attempt()
{
    let (server, mut reports) = reporting(None).await;
    let calls = Arc::new(AtomicU32::new(0));
    let client = Client::builder().ping_interval(None).build();
    let mut session = within(
        "connect",
        client
            .reconnecting(server.url("/"))
            .policy(quick())
            .on_connect(move |sender| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    sender.send_text(format!("subscribe {call}")).await?;
                    if call == 0 {
                        return Err(std::io::Error::other("subscription refused").into());
                    }
                    Ok(())
                }
            })
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    let (conn, texts, reason) = within("first connection", reports.recv()).await.unwrap();
    assert_eq!(conn, 0);
    assert_eq!(texts, ["subscribe 0"]);
    assert_eq!(
        reason,
        CloseReason::internal_error("on_connect hook failed")
    );
    let mut log = Vec::new();
    until_event(&mut events, &mut log, "connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await;
    assert!(
        matches!(
            log.as_slice(),
            [
                Event::Connecting { attempt: 0 },
                Event::Reconnecting {
                    attempt: 1,
                    cause: Cause::ConnectFailed {
                        kind: ErrorKind::Io,
                        message,
                        ..
                    },
                    ..
                },
                Event::Connecting { attempt: 1 },
                Event::Connected { attempt: 1 },
            ] if message.contains("subscription refused")
        ),
        "{log:?}"
    );
    session.send_text("data").await.unwrap();
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    let (conn, texts, reason) = within("second connection", reports.recv()).await.unwrap();
    assert_eq!(conn, 1);
    assert_eq!(texts, ["subscribe 1", "data"]);
    assert_eq!(reason, CloseReason::normal("bye"));
    server.finish().await;
}

#[tokio::test]
async fn reconnect_when_decides_over_the_default_classification() {
    // 4000 is not transient by default and 1006 is: this classifier says the opposite
    let (backend, mut reports) = reporting(Some(CloseReason::new(4000u16, "come back"))).await;
    let mut relay = Relay::start(0, backend.addr).await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = client
        .reconnecting(format!("ws://127.0.0.1:{}/", relay.port))
        .policy(quick())
        .reconnect_when(|cause| matches!(cause, Cause::Closed(r) if r.code.0 == 4000))
        .start()
        .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    until_event(&mut events, &mut log, "reconnected after 4000", |e| {
        matches!(e, Event::Connected { attempt: 1 })
    })
    .await;
    assert!(
        log.iter().any(|e| matches!(
            e,
            Event::Reconnecting { cause: Cause::Closed(r), .. } if r.code.0 == 4000
        )),
        "{log:?}"
    );
    let (conn, _, reason) = within("first connection", reports.recv()).await.unwrap();
    assert_eq!((conn, reason.code.0), (0, 4000));
    relay.kill().await;
    until_event(&mut events, &mut log, "closed after 1006", |e| {
        matches!(e, Event::Closed { .. })
    })
    .await;
    let lost = log
        .iter()
        .rposition(|e| matches!(e, Event::Connected { attempt: 1 }))
        .unwrap();
    assert!(
        matches!(&log[lost + 1..], [Event::Closed { reason }] if reason.code == CloseCode::ABNORMAL),
        "no retry after 1006: {log:?}"
    );
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::ABNORMAL
    );
    assert!(within("end", session.receive()).await.is_none());
}
