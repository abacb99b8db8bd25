//! Reconnecting sessions against a loopback server that is killed and restarted mid-stream.
//!
//! The "kill" is a TCP relay in front of a typed-ws server: aborting the relay drops every
//! connection without a close frame (the client sees 1006) and frees the port, and the restart
//! binds the same port again. Backoff timings are checked exactly on tokio's paused clock in
//! a test without socket I/O (the paused clock auto-advances past in-flight loopback I/O, so
//! it cannot time a live connection), and as lower bounds in the live kill/restart test.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use typed_ws::server::Server;
use typed_ws::{
    Backoff, Cause, Client, CloseCode, CloseReason, ErrorKind, Event, Outbox, ReconnectPolicy,
    Request,
};
use typed_ws_tests::support::{Guard, Relay, within, ws_server};

#[derive(Debug, PartialEq)]
enum Seen {
    Connected(Option<String>),
    Text(String),
}

/// A typed-ws server that reports each connection's Authorization header and every text.
async fn backend() -> (Guard, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::builder().ping_interval(None).build();
    let guard = ws_server(server, move |mut session| {
        let tx = tx.clone();
        async move {
            let auth = session
                .handshake()
                .header("authorization")
                .map(str::to_owned);
            let _ = tx.send(Seen::Connected(auth));
            while let Some(Ok(frame)) = session.receive().await {
                if let Some(text) = frame.read_text() {
                    if text == "close normally" {
                        let _ = session.close(CloseReason::normal("server done")).await;
                        return;
                    }
                    let _ = tx.send(Seen::Text(text.to_owned()));
                }
            }
        }
    })
    .await;
    (guard, rx)
}

/// Collects events with the (paused) time they were seen.
fn collect(
    mut events: impl futures_util::Stream<Item = Event> + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<(Instant, Event)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if tx.send((Instant::now(), event)).is_err() {
                break;
            }
        }
    });
    rx
}

async fn next_matching(
    events: &mut mpsc::UnboundedReceiver<(Instant, Event)>,
    log: &mut Vec<(Instant, Event)>,
    what: &str,
    matches: impl Fn(&Event) -> bool,
) -> (Instant, Event) {
    loop {
        let (at, event) = within(what, events.recv())
            .await
            .expect("event stream ended");
        log.push((at, event.clone()));
        if matches(&event) {
            return (at, event);
        }
    }
}

async fn expect_seen(seen: &mut mpsc::UnboundedReceiver<Seen>, expected: Seen) {
    let got = within("backend", seen.recv())
        .await
        .expect("backend stopped");
    assert_eq!(got, expected);
}

#[tokio::test]
async fn reconnects_after_a_server_restart_replays_the_buffer_once_in_order_with_a_fresh_header() {
    let (backend, mut seen) = backend().await;
    let mut relay = Relay::start(0, backend.addr).await;
    let port = relay.port;
    let policy = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5)).seed(7);
    let expected = policy.clone();
    let client = Client::builder().ping_interval(None).build();
    let url = format!("ws://127.0.0.1:{port}/feed");
    // retry 3 connects only once the relay is back (no race with its backoff delay)
    let (relay_up, relay_is_up) = tokio::sync::watch::channel(false);
    let mut session = within(
        "first connection",
        client
            .reconnecting(url.as_str())
            .policy(policy)
            .outbox(Outbox::Buffer { max_messages: 10 })
            .request_with(move |attempt| {
                let url = url.clone();
                let mut relay_is_up = relay_is_up.clone();
                async move {
                    if attempt == 3 {
                        let _ = relay_is_up.wait_for(|up| *up).await;
                    }
                    Request::builder()
                        .url(&url)
                        .header("Authorization", format!("Bearer token-{attempt}"))
                        .build()
                }
            })
            .on_connect(|sender| async move { sender.send_text("subscribe").await })
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    let sender = session.sender(); // cloned before the reconnect

    expect_seen(&mut seen, Seen::Connected(Some("Bearer token-0".into()))).await;
    expect_seen(&mut seen, Seen::Text("subscribe".into())).await;
    session.send_text("a1").await.unwrap();
    sender.send_text("a2").await.unwrap();
    expect_seen(&mut seen, Seen::Text("a1".into())).await;
    expect_seen(&mut seen, Seen::Text("a2".into())).await;

    relay.kill().await;
    let (_, event) = next_matching(&mut events, &mut log, "reconnecting", |e| {
        matches!(e, Event::Reconnecting { attempt: 1, .. })
    })
    .await;
    let Event::Reconnecting {
        cause: Cause::Closed(reason),
        ..
    } = event
    else {
        panic!("unexpected {event:?}")
    };
    assert_eq!(reason.code, CloseCode::ABNORMAL);
    for text in ["b1", "b2", "b3"] {
        sender.send_text(text).await.unwrap(); // buffered while down
    }
    // retries 1 and 2 hit a closed port; bring the server back before retry 3
    next_matching(&mut events, &mut log, "third retry", |e| {
        matches!(e, Event::Reconnecting { attempt: 3, .. })
    })
    .await;
    let _relay = Relay::start(port, backend.addr).await;
    relay_up.send_replace(true);
    next_matching(&mut events, &mut log, "reconnected", |e| {
        matches!(e, Event::Connected { attempt: 3 })
    })
    .await;

    expect_seen(&mut seen, Seen::Connected(Some("Bearer token-3".into()))).await;
    expect_seen(&mut seen, Seen::Text("subscribe".into())).await;
    for text in ["b1", "b2", "b3"] {
        expect_seen(&mut seen, Seen::Text(text.into())).await;
    }
    sender.send_text("c1").await.unwrap();
    expect_seen(&mut seen, Seen::Text("c1".into())).await;

    // every retry used the policy's delay and waited at least that long
    let mut checked = 0;
    for pair in log.windows(2) {
        if let [
            (t0, Event::Reconnecting { attempt, delay, .. }),
            (t1, Event::Connecting { attempt: next }),
        ] = pair
        {
            assert_eq!(attempt, next);
            assert_eq!(
                Some(*delay),
                expected.next_delay(*attempt, Duration::ZERO),
                "retry {attempt}"
            );
            assert!(*t1 - *t0 >= *delay, "retry {attempt} waited its backoff");
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "{log:?}");
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        within("reason", session.close_reason()).await,
        CloseReason::normal("bye")
    );
    assert!(seen.try_recv().is_err(), "nothing replayed twice");
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_are_exact_on_the_paused_clock_and_the_policy_gives_up() {
    // no socket I/O at all: the request hook fails with a transient (I/O) error each time
    let policy = Backoff::exponential(Duration::from_millis(250), Duration::from_secs(4))
        .seed(11)
        .max_attempts(6);
    let expected = policy.clone();
    let client = Client::new();
    let mut session = client
        .reconnecting("ws://127.0.0.1:9/")
        .policy(policy)
        .outbox(Outbox::Buffer { max_messages: 2 })
        .request_with(|attempt| async move {
            Err(std::io::Error::other(format!("server down (attempt {attempt})")).into())
        })
        .start()
        .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    let start = Instant::now();
    next_matching(&mut events, &mut log, "gave up", |e| {
        matches!(e, Event::Closed { .. })
    })
    .await;
    let mut total = Duration::ZERO;
    let mut retries = 0;
    for pair in log.windows(2) {
        if let [
            (
                t0,
                Event::Reconnecting {
                    attempt,
                    delay,
                    cause,
                },
            ),
            (t1, Event::Connecting { attempt: next }),
        ] = pair
        {
            assert_eq!(attempt, next);
            assert!(
                matches!(
                    cause,
                    Cause::ConnectFailed {
                        kind: ErrorKind::Io,
                        ..
                    }
                ),
                "{cause:?}"
            );
            assert_eq!(
                Some(*delay),
                expected.next_delay(*attempt, Duration::ZERO),
                "retry {attempt}"
            );
            assert!(
                *delay <= expected.ceiling(*attempt),
                "full jitter stays under the ceiling"
            );
            assert_eq!(
                *t1 - *t0,
                *delay,
                "retry {attempt} waited exactly its backoff"
            );
            total += *delay;
            retries += 1;
        }
    }
    assert_eq!(retries, 6, "{log:?}");
    assert_eq!(
        Instant::now() - start,
        total,
        "no time passes but the backoff"
    );
    // the buffer is bounded while down, and the final reason says why it gave up
    let reason = within("reason", session.close_reason()).await;
    assert_eq!(reason.code, CloseCode::ABNORMAL);
    assert!(
        reason.reason.contains("server down (attempt 6)"),
        "{reason}"
    );
    assert!(within("end", session.receive()).await.is_none());
}

#[tokio::test]
async fn the_buffer_is_bounded_while_disconnected() {
    let client = Client::new();
    let session = client
        .reconnecting("ws://127.0.0.1:9/")
        .policy(Backoff::exponential(
            Duration::from_secs(60),
            Duration::from_secs(60),
        ))
        .outbox(Outbox::Buffer { max_messages: 2 })
        .request_with(|_| async { Err(std::io::Error::other("down").into()) })
        .start()
        .unwrap();
    session.send_text("1").await.unwrap();
    session.send_text("2").await.unwrap();
    let err = session.send_text("3").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("outbox is full (2 messages, max_messages)"),
        "{err}"
    );
    within("close", session.close(CloseReason::normal("")))
        .await
        .unwrap();
}

async fn quick(client: &Client, url: &str, outbox: Outbox) -> typed_ws::ReconnectingSession {
    within(
        "connect",
        client
            .reconnecting(url)
            .policy(
                Backoff::exponential(Duration::from_millis(20), Duration::from_millis(20))
                    .without_jitter(),
            )
            .outbox(outbox)
            .connect(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn fail_and_drop_outbox_policies_behave_as_named() {
    let (backend, mut seen) = backend().await;
    let mut relay = Relay::start(0, backend.addr).await;
    let url = format!("ws://127.0.0.1:{}/", relay.port);
    let client = Client::builder().ping_interval(None).build();
    let mut fail = quick(&client, &url, Outbox::Fail).await;
    let mut drop_ = quick(&client, &url, Outbox::Drop).await;
    let mut fail_events = collect(fail.events());
    let mut drop_events = collect(drop_.events());
    expect_seen(&mut seen, Seen::Connected(None)).await;
    expect_seen(&mut seen, Seen::Connected(None)).await;

    relay.kill().await;
    let mut log = Vec::new();
    next_matching(&mut fail_events, &mut log, "fail down", |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    next_matching(&mut drop_events, &mut log, "drop down", |e| {
        matches!(e, Event::Reconnecting { .. })
    })
    .await;
    let err = fail.send_text("lost?").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(err.to_string().contains("Fail"), "{err}");
    drop_.send_text("dropped").await.unwrap();

    let _relay = Relay::start(relay.port, backend.addr).await;
    next_matching(&mut fail_events, &mut log, "fail up", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await;
    next_matching(&mut drop_events, &mut log, "drop up", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await;
    drop_.send_text("after").await.unwrap();
    fail.send_text("after too").await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 2 {
        if let Seen::Text(t) = within("backend", seen.recv()).await.unwrap() {
            texts.push(t);
        }
    }
    texts.sort();
    assert_eq!(
        texts,
        ["after", "after too"],
        "the dropped message never arrives"
    );
    within("close", fail.close(CloseReason::normal("")))
        .await
        .unwrap();
    within("close", drop_.close(CloseReason::normal("")))
        .await
        .unwrap();
    assert!(within("end", fail.receive()).await.is_none());
    assert!(within("end", drop_.receive()).await.is_none());
}

#[tokio::test]
async fn no_reconnect_after_a_normal_close_by_either_side() {
    let (backend, mut seen) = backend().await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = quick(&client, &backend.url("/"), Outbox::Fail).await;
    let mut events = collect(session.events());
    expect_seen(&mut seen, Seen::Connected(None)).await;
    session.send_text("close normally").await.unwrap();
    assert!(within("end", session.receive()).await.is_none());
    let reason = within("reason", session.close_reason()).await;
    assert_eq!(reason, CloseReason::normal("server done"));
    let mut log = Vec::new();
    next_matching(&mut events, &mut log, "closed", |e| {
        matches!(e, Event::Closed { .. })
    })
    .await;
    assert!(
        !log.iter()
            .any(|(_, e)| matches!(e, Event::Reconnecting { .. })),
        "{log:?}"
    );
    assert!(seen.try_recv().is_err(), "no second connection");

    let mut session = quick(&client, &backend.url("/"), Outbox::Fail).await;
    let mut events = collect(session.events());
    expect_seen(&mut seen, Seen::Connected(None)).await;
    within("close", session.close(CloseReason::normal("client done")))
        .await
        .unwrap();
    assert!(within("end", session.receive()).await.is_none());
    let err = session.send_text("late").await.unwrap_err();
    assert!(err.is_closed(), "{err}");
    // the supervisor has stopped once the event stream ends (the session holds the last
    // other sender): no attempt was made after the user closed
    drop(session);
    let mut log = Vec::new();
    while let Some(event) = within("the supervisor to stop", events.recv()).await {
        log.push(event);
    }
    assert!(
        !log.iter().any(|(_, e)| matches!(
            e,
            Event::Reconnecting { .. } | Event::Connecting { attempt: 1.. }
        )),
        "no reconnect after the user closed: {log:?}"
    );
    assert!(seen.try_recv().is_err(), "no second connection");
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_says_why() {
    let (backend, mut seen) = backend().await;
    let mut relay = Relay::start(0, backend.addr).await;
    let port = relay.port;
    let client = Client::builder().ping_interval(None).build();
    let mut session = within(
        "connect",
        client
            .reconnecting(format!("ws://127.0.0.1:{port}/"))
            .policy(
                Backoff::exponential(Duration::from_millis(5), Duration::from_millis(5))
                    .max_attempts(2),
            )
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    expect_seen(&mut seen, Seen::Connected(None)).await;
    relay.kill().await;
    assert!(within("end", session.receive()).await.is_none());
    let reason = within("reason", session.close_reason()).await;
    assert_eq!(reason.code, CloseCode::ABNORMAL, "{reason}");
    assert!(
        reason
            .reason
            .contains(&format!("could not connect to 127.0.0.1:{port}")),
        "says why: {reason}"
    );
    // exactly max_attempts retries, each a failed connect, then the end
    let mut log = Vec::new();
    next_matching(&mut events, &mut log, "closed", |e| {
        matches!(e, Event::Closed { .. })
    })
    .await;
    let retries: Vec<u32> = log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [1, 2], "{log:?}");
    let failed_connects = log
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Reconnecting {
                    cause: Cause::ConnectFailed {
                        kind: ErrorKind::Connect,
                        ..
                    },
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        failed_connects, 1,
        "retry 1 follows the loss, retry 2 a refused connect: {log:?}"
    );
    assert!(
        matches!(log.last(), Some((_, Event::Closed { reason: r })) if *r == reason),
        "{log:?}"
    );
    assert!(
        seen.try_recv().is_err(),
        "no other connection reached the server"
    );
}

#[tokio::test]
async fn first_connection_failure_that_is_not_transient_is_returned() {
    let client = Client::new();
    let err = client
        .reconnecting("ftp://nope")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = within(
        "give up",
        client
            .reconnecting(format!("ws://127.0.0.1:{port}/"))
            .policy(
                Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1))
                    .max_attempts(1),
            )
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

#[tokio::test]
async fn dropping_the_session_closes_the_connection_and_stops_the_supervisor() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = ws_server(Server::new(), move |mut session| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(None);
            while session.receive().await.is_some() {}
            let _ = tx.send(Some(session.close_reason().await));
        }
    })
    .await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = quick(&client, &server.url("/"), Outbox::Fail).await;
    let mut events = collect(session.events());
    let extra = session.sender();
    assert_eq!(within("connected", rx.recv()).await, Some(None));
    drop(session);
    drop(extra);
    let seen = within("server saw the close", rx.recv()).await.unwrap();
    assert_eq!(seen.map(|r| r.code), Some(CloseCode::NORMAL));
    // the supervisor ends: its event stream ends, after Closed and without a retry
    let mut log = Vec::new();
    while let Some(event) = within("the supervisor to stop", events.recv()).await {
        log.push(event);
    }
    assert!(
        matches!(log.last(), Some((_, Event::Closed { .. }))),
        "{log:?}"
    );
    assert!(
        !log.iter()
            .any(|(_, e)| matches!(e, Event::Reconnecting { .. })),
        "{log:?}"
    );
    drop(server);
    assert!(rx.try_recv().is_err(), "no second connection");
}

#[tokio::test]
async fn max_elapsed_counts_from_the_loss_not_from_the_connect() {
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let server = ws_server(Server::new(), move |mut session| {
        let mut release = release_rx.clone();
        async move {
            // the first connection lives until the test says so, then the server restarts
            if !*release.borrow() {
                let _ = release.wait_for(|r| *r).await;
                let _ = session.close(CloseReason::new(1012u16, "restart")).await;
            } else {
                while session.receive().await.is_some() {}
            }
        }
    })
    .await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = within(
        "connect",
        client
            .reconnecting(server.url("/"))
            .policy(
                Backoff::exponential(Duration::from_millis(5), Duration::from_millis(5))
                    .max_elapsed(Duration::from_millis(200)),
            )
            .connect(),
    )
    .await
    .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    let (connected_at, _) = next_matching(&mut events, &mut log, "connected", |e| {
        matches!(e, Event::Connected { attempt: 0 })
    })
    .await;
    // the scenario itself, not a synchronisation: the connection must outlive max_elapsed
    // (200 ms) before it is lost
    tokio::time::sleep_until(connected_at + Duration::from_millis(300)).await;
    release_tx.send(true).unwrap();
    next_matching(&mut events, &mut log, "reconnected", |e| {
        matches!(e, Event::Connected { attempt: 1 } | Event::Closed { .. })
    })
    .await;
    assert!(
        log.iter()
            .any(|(_, e)| matches!(e, Event::Connected { attempt: 1 })),
        "gave up without retrying: {log:?}"
    );
    within("close", session.close(CloseReason::normal("")))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_transient_close_during_the_hook_is_retried() {
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let server = ws_server(Server::new(), move |mut session| {
        let first = first.swap(false, std::sync::atomic::Ordering::SeqCst);
        async move {
            if first {
                let _ = session.close(CloseReason::new(1012u16, "restart")).await;
            } else {
                while session.receive().await.is_some() {}
            }
        }
    })
    .await;
    let client = Client::builder().ping_interval(None).build();
    let mut session = client
        .reconnecting(server.url("/"))
        .policy(Backoff::exponential(
            Duration::from_millis(5),
            Duration::from_millis(5),
        ))
        .on_connect({
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            move |sender| {
                let call = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if call == 0 {
                        // the first server closes (1012) before this hook can subscribe
                        sender.close_reason().await;
                    }
                    sender.send_text("subscribe").await
                }
            }
        })
        .start()
        .unwrap();
    let mut events = collect(session.events());
    let mut log = Vec::new();
    next_matching(&mut events, &mut log, "connected", |e| {
        matches!(e, Event::Connected { .. } | Event::Closed { .. })
    })
    .await;
    let retried = log.iter().any(|(_, e)| {
        matches!(e, Event::Reconnecting { cause: Cause::Closed(r), .. } if r.code == CloseCode::SERVICE_RESTART)
    });
    assert!(retried, "{log:?}");
    assert!(
        matches!(log.last(), Some((_, Event::Connected { .. }))),
        "{log:?}"
    );
    within("close", session.close(CloseReason::normal("")))
        .await
        .unwrap();
}

#[tokio::test]
async fn close_does_not_wait_for_a_slow_hook() {
    let server = ws_server(Server::new(), |mut session| async move {
        while session.receive().await.is_some() {}
    })
    .await;
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let entered = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let client = Client::builder().ping_interval(None).build();
    let session = client
        .reconnecting(server.url("/"))
        .on_connect(move |_sender| {
            let entered = entered.lock().unwrap().take();
            async move {
                if let Some(entered) = entered {
                    let _ = entered.send(());
                }
                std::future::pending::<()>().await; // e.g. waits forever for an ack
                Ok(())
            }
        })
        .start()
        .unwrap();
    within("hook entered", entered_rx).await.unwrap();
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        within("reason", session.close_reason()).await,
        CloseReason::normal("bye")
    );
}

#[test]
fn independent_backoffs_jitter_independently() {
    let sequences: Vec<Vec<Option<Duration>>> = (0..5)
        .map(|_| {
            let policy = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30));
            (1..8)
                .map(|n| policy.next_delay(n, Duration::ZERO))
                .collect()
        })
        .collect();
    for (i, a) in sequences.iter().enumerate() {
        for b in &sequences[i + 1..] {
            assert_ne!(a, b, "two policies produced the same 'random' delays");
        }
    }
}

#[tokio::test]
async fn frames_queued_but_not_written_when_the_connection_dies_are_replayed() {
    // the first connection's server stops reading, so the client's queue fills; then the
    // connection dies. What `send` accepted but never wrote must arrive after the reconnect.
    let (tx, mut seen) = mpsc::unbounded_channel();
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let server = Server::builder()
        .ping_interval(None)
        .channel_capacity(1)
        .build();
    let backend = ws_server(server, move |mut session| {
        let tx = tx.clone();
        let first = first.swap(false, std::sync::atomic::Ordering::SeqCst);
        async move {
            if first {
                // never read: the relay is killed under this connection
                std::future::pending::<()>().await;
            }
            while let Some(Ok(frame)) = session.receive().await {
                let seq = frame
                    .read_text()
                    .and_then(|t| t.split(':').next()?.parse::<u32>().ok());
                let _ = tx.send(seq);
            }
        }
    })
    .await;
    let mut relay = Relay::start(0, backend.addr).await;
    let client = Client::builder()
        .ping_interval(None)
        .channel_capacity(8)
        .build();
    let session = quick(
        &client,
        &format!("ws://127.0.0.1:{}/", relay.port),
        Outbox::Buffer { max_messages: 16 },
    )
    .await;
    let padding = "x".repeat(256 * 1024);
    let mut accepted = 0u32;
    loop {
        let frame = format!("{accepted}:{padding}");
        match tokio::time::timeout(Duration::from_millis(500), session.send_text(frame)).await {
            Ok(result) => {
                result.unwrap();
                accepted += 1;
            }
            Err(_) => break, // every buffer and the queue are full
        }
        assert!(accepted < 10_000, "send never blocked");
    }
    let last = accepted - 1;
    relay.kill().await;
    let _relay = Relay::start(relay.port, backend.addr).await;
    let mut got = Vec::new();
    while got.last() != Some(&last) {
        let seq = within("replayed frames", seen.recv())
            .await
            .unwrap()
            .expect("a numbered frame");
        got.push(seq);
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "replayed in order, once: {got:?}"
    );
    assert!(
        got.len() >= 2,
        "the queued frames were replayed: {got:?} (last accepted {last})"
    );
    drop(session);
}
