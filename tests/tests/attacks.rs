//! Hostile and slow peers (issue: memory bounded in bytes, liveness that cannot be faked, slow
//! consumers kept). Each attack runs a hand-rolled peer on a loopback socket against typed-ws
//! in this process, samples this process's VmRSS while it runs, and bounds the peak growth.
//!
//! The attacks take seconds each and measure the whole process, so they run one at a time (a
//! lock) and are left to `scripts/test` (`--include-ignored`). Every attack loop is bounded in
//! count and in time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, Frame, Session};
use typed_ws_tests::support::{
    masked_frame, raw_upgrade, rss_kib, server_frame, tcp_server, within, ws_server,
};

/// One attack at a time: RSS is the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `attack` on a fresh multi-threaded runtime, alone, while a thread samples VmRSS every
/// 10 ms. Returns the attack's result and the peak RSS growth over the start, in MiB.
fn measured<T>(name: &str, attack: impl std::future::Future<Output = T>) -> (T, u64) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let output = runtime.block_on(attack);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    drop(runtime);
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    let grown = peak.saturating_sub(before) / 1024;
    println!(
        "{name}: RSS before {} MiB, peak {} MiB (+{grown} MiB), {:.1} s",
        before / 1024,
        peak / 1024,
        started.elapsed().as_secs_f64()
    );
    (output, grown)
}

/// A hand-rolled client: upgrades `tcp` and returns once the 101 head is read.
async fn raw_client(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(
        format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("upgrade request");
    let head = typed_ws_tests::support::read_head(&mut tcp)
        .await
        .expect("upgrade response");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// What a flood did: the bytes it wrote, and whether the victim stopped reading (a write
/// blocked for a second: the defence working) before the flood was over.
struct Flood {
    sent: usize,
    blocked: bool,
}

/// Writes `chunk` up to `times` times, stopping once one write has been blocked for a second.
async fn flood(tcp: &mut TcpStream, chunk: &[u8], times: usize) -> Flood {
    let mut sent = 0;
    for _ in 0..times {
        match tokio::time::timeout(Duration::from_secs(1), tcp.write_all(chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) => break,
            Err(_) => {
                return Flood {
                    sent,
                    blocked: true,
                };
            }
        }
    }
    Flood {
        sent,
        blocked: false,
    }
}

/// Keeps an attacker's connection open, unread, until the test is over (bounded).
async fn hold(tcp: TcpStream, mut done: tokio::sync::watch::Receiver<bool>) {
    let _ = tokio::time::timeout(Duration::from_secs(30), done.wait_for(|d| *d)).await;
    drop(tcp);
}

/// The session was cut for not keeping up: by the write-stall deadline or the pong deadline,
/// whichever came first.
fn cut_for_liveness(reason: &typed_ws::CloseReason) {
    assert_eq!(reason.code, CloseCode::INTERNAL_ERROR, "{reason:?}");
    assert!(
        reason.reason == "write timeout" || reason.reason == "ping timeout",
        "{reason:?}"
    );
}

/// Settings that make the liveness checks act within seconds.
fn quick_server() -> Server {
    Server::builder()
        .ping_interval(Duration::from_secs(2))
        .pong_timeout(Duration::from_secs(2))
        .build()
}

fn quick_client() -> Client {
    Client::builder()
        .ping_interval(Duration::from_secs(2))
        .pong_timeout(Duration::from_secs(2))
        .build()
}

/// Waits (bounded) for the session a server handler reports, and returns its close reason.
async fn outcome(
    rx: tokio::sync::oneshot::Receiver<typed_ws::CloseReason>,
) -> typed_ws::CloseReason {
    within("the session to end", rx)
        .await
        .expect("handler reported")
}

const PINGS: usize = 2_000_000;

/// 2M pings from a client that never reads: the pongs cannot grow the server's memory.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn ping_flood_from_a_client_that_never_reads() {
    let ((sent, reason), grown) = measured("ping flood, server role", async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Arc::new(Mutex::new(Some(tx)));
        let server = ws_server(quick_server(), move |mut session: Session| {
            let tx = tx.clone();
            async move {
                while session.receive().await.is_some() {}
                let reason = session.close_reason().await;
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(reason);
                }
            }
        })
        .await;
        let mut tcp = raw_client(server.addr).await;
        let ping = masked_frame(0x9, b"ping");
        let chunk: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 100_000)
            .collect();
        let flood = flood(&mut tcp, &chunk, PINGS / 100_000).await;
        let reason = outcome(rx).await;
        (flood, reason)
    });
    println!(
        "{} pings sent, blocked: {}; ended {reason:?}",
        sent.sent / 10,
        sent.blocked
    );
    // whether the flooder was blocked before its 2M pings were out depends on how much of
    // their pongs the kernel's socket buffers absorbed (about 10 MB on loopback): the bound is
    // memory; limits.rs `reading_resumes_once_a_ping_flooder_reads_its_pongs` checks the pause
    // with a flood no socket buffer can absorb
    cut_for_liveness(&reason);
    assert!(grown <= 64, "RSS grew {grown} MiB under a ping flood");
}

/// 2M pings from a server that never reads: the same bound on the client.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn ping_flood_from_a_server_that_never_reads() {
    let ((sent, reason), grown) = measured("ping flood, client role", async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let server = tcp_server(move |mut tcp| {
            let (tx, done) = (tx.clone(), done_rx.clone());
            async move {
                let _ = raw_upgrade(&mut tcp).await;
                let ping = server_frame(true, 0, 0x9, b"ping");
                let chunk: Vec<u8> = ping
                    .iter()
                    .copied()
                    .cycle()
                    .take(ping.len() * 100_000)
                    .collect();
                let _ = tx
                    .send(flood(&mut tcp, &chunk, PINGS / 100_000).await)
                    .await;
                hold(tcp, done).await;
            }
        })
        .await;
        let session = within(
            "connect",
            quick_client().web_socket_session(server.url("/")),
        )
        .await
        .expect("connect");
        let flood = within("the flood", rx.recv()).await.expect("flood report");
        let reason = within("close", session.close_reason()).await;
        let _ = done_tx.send(true);
        (flood, reason)
    });
    println!(
        "{} pings sent, blocked: {}; ended {reason:?}",
        sent.sent / 6,
        sent.blocked
    );
    // whether the flooder was blocked before its 2M pings were out depends on how much of
    // their pongs the kernel's socket buffers absorbed (about 10 MB on loopback): the bound is
    // memory; limits.rs `reading_resumes_once_a_ping_flooder_reads_its_pongs` checks the pause
    // with a flood no socket buffer can absorb
    cut_for_liveness(&reason);
    assert!(grown <= 64, "RSS grew {grown} MiB under a ping flood");
}

const MIB: usize = 1 << 20;
/// At most this many 1 MiB messages per attack.
const MESSAGES: usize = 1000;

/// A client sends 1 MiB messages to an echo server and never reads the echoes.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn echo_server_with_a_client_that_never_reads() {
    let ((sent, reason), grown) = measured("never-reading client, echo server", async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Arc::new(Mutex::new(Some(tx)));
        let server = ws_server(quick_server(), move |mut session: Session| {
            let tx = tx.clone();
            async move {
                while let Some(Ok(frame)) = session.receive().await {
                    if session.send(frame).await.is_err() {
                        break;
                    }
                }
                let reason = session.close_reason().await;
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(reason);
                }
            }
        })
        .await;
        let mut tcp = raw_client(server.addr).await;
        let message = masked_frame(0x2, &vec![7u8; MIB]);
        let flood = flood(&mut tcp, &message, MESSAGES).await;
        let reason = outcome(rx).await;
        (flood, reason)
    });
    println!(
        "{} MiB sent, blocked: {}; ended {reason:?}",
        sent.sent >> 20,
        sent.blocked
    );
    assert!(sent.blocked, "the server never stopped reading");
    cut_for_liveness(&reason);
    assert!(
        grown <= 128,
        "RSS grew {grown} MiB for a client that never reads"
    );
}

/// A server pushes 1 MiB messages to a client that never reads.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn push_server_with_a_client_that_never_reads() {
    let ((pushed, reason), grown) = measured("never-reading client, push server", async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Arc::new(Mutex::new(Some(tx)));
        let server = ws_server(quick_server(), move |session: Session| {
            let tx = tx.clone();
            async move {
                let payload = Bytes::from(vec![7u8; MIB]);
                let mut pushed = 0;
                while pushed < MESSAGES && session.send_binary(payload.clone()).await.is_ok() {
                    pushed += 1;
                }
                let reason = session.close_reason().await;
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send((pushed, reason));
                }
            }
        })
        .await;
        let _tcp = raw_client(server.addr).await;
        within("the session to end", rx)
            .await
            .expect("handler reported")
    });
    println!("1 MiB messages accepted by send before it failed: {pushed}; ended {reason:?}");
    assert!(pushed < MESSAGES, "send never waited");
    cut_for_liveness(&reason);
    assert!(
        grown <= 128,
        "RSS grew {grown} MiB for a client that never reads"
    );
}

/// A hostile server sends 1 MiB messages and never reads; the client echoes them.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn echoing_client_with_a_server_that_never_reads() {
    let ((sent, reason), grown) = measured("never-reading server, echoing client", async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let server = tcp_server(move |mut tcp| {
            let (tx, done) = (tx.clone(), done_rx.clone());
            async move {
                let _ = raw_upgrade(&mut tcp).await;
                let message = server_frame(true, 0, 0x2, &vec![7u8; MIB]);
                let _ = tx.send(flood(&mut tcp, &message, MESSAGES).await).await;
                hold(tcp, done).await;
            }
        })
        .await;
        let mut session = within(
            "connect",
            quick_client().web_socket_session(server.url("/")),
        )
        .await
        .expect("connect");
        let echo = async {
            while let Some(Ok(frame)) = session.receive().await {
                if session.send(frame).await.is_err() {
                    break;
                }
            }
        };
        within("the echo loop to end", echo).await;
        let flood = within("the flood", rx.recv()).await.expect("flood report");
        let reason = within("close", session.close_reason()).await;
        let _ = done_tx.send(true);
        (flood, reason)
    });
    println!(
        "{} MiB sent, blocked: {}; ended {reason:?}",
        sent.sent >> 20,
        sent.blocked
    );
    assert!(sent.blocked, "the client never stopped reading");
    cut_for_liveness(&reason);
    assert!(
        grown <= 128,
        "RSS grew {grown} MiB for a server that never reads"
    );
}

/// A server that never reads answers pings blind, with the payloads a counter would have
/// (1, 2, 3, ...): the session must still end with "ping timeout" within one ping interval
/// plus one pong timeout.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn blind_pongs_do_not_keep_a_session_alive() {
    let ((reason, took), _) = measured("blind pongs", async {
        let server = tcp_server(|mut tcp| async move {
            let _ = raw_upgrade(&mut tcp).await;
            // 64 guesses every 200 ms, for at most 30 s
            for _ in 0..150 {
                let mut burst = Vec::new();
                for n in 1u64..=64 {
                    burst.extend(server_frame(true, 0, 0xA, &n.to_be_bytes()));
                }
                if tcp.write_all(&burst).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        let client = Client::builder()
            .ping_interval(Duration::from_secs(1))
            .pong_timeout(Duration::from_secs(1))
            .build();
        let started = Instant::now();
        let session = within("connect", client.web_socket_session(server.url("/")))
            .await
            .expect("connect");
        let reason = within("the ping timeout", session.close_reason()).await;
        (reason, started.elapsed())
    });
    println!("blind pongs: ended {reason:?} after {took:?}");
    assert_eq!(reason.code, CloseCode::INTERNAL_ERROR, "{reason:?}");
    assert_eq!(reason.reason, "ping timeout");
    // interval + timeout, with a generous margin for a loaded machine: not a performance bound,
    // the check that blind pongs bought no extra periods
    assert!(took < Duration::from_secs(5), "cut after {took:?}");
}

/// An application that stops reading for 60 s while its healthy peer keeps sending (a burst
/// that fills its message queue many times over, then a message every 100 ms) keeps its
/// session, loses nothing, and holds no more than the budgets. Both sides ping every 2 s with
/// a 2 s pong timeout.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn a_slow_consumer_keeps_its_session() {
    const BURST: usize = 40; // 40 x 64 KiB, over a queue of 16 messages, under the byte budget
    const TRICKLE: usize = 600; // one every 100 ms: 60 s
    let ((received, reason), grown) = measured("slow consumer, healthy peer", async {
        let server = ws_server(quick_server(), |session: Session| async move {
            for n in 0..BURST {
                let mut frame = vec![1u8; 64 * 1024];
                frame[0] = n as u8;
                if session.send_binary(frame).await.is_err() {
                    return;
                }
            }
            for n in 0..TRICKLE {
                if session.send_text(n.to_string()).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let _ = session.send_text("end").await;
            // stays open until the client closes
            let _ = tokio::time::timeout(Duration::from_secs(30), session.close_reason()).await;
        })
        .await;
        let client = Client::builder()
            .ping_interval(Duration::from_secs(2))
            .pong_timeout(Duration::from_secs(2))
            .channel_capacity(16)
            .build();
        let mut session = within("connect", client.web_socket_session(server.url("/")))
            .await
            .expect("connect");
        // the application is busy elsewhere for 60 s (the scenario, not a synchronisation)
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            session.try_close_reason().is_none(),
            "the session ended while the application was not reading: {:?}",
            session.try_close_reason()
        );
        let mut received = Vec::new();
        loop {
            match within("the next message", session.receive()).await {
                Some(Ok(Frame::Text(text))) if text == "end" => break,
                Some(Ok(frame)) => received.push(frame),
                Some(Err(e)) => panic!("session failed: {e}"),
                None => panic!("session ended: {:?}", session.try_close_reason()),
            }
        }
        let _ = session.close(typed_ws::CloseReason::normal("done")).await;
        (received, session.close_reason().await)
    });
    assert_eq!(received.len(), BURST + TRICKLE, "frames lost or added");
    for (n, frame) in received.iter().enumerate() {
        match frame {
            Frame::Binary(bytes) => assert_eq!(usize::from(bytes[0]), n, "order"),
            Frame::Text(text) => assert_eq!(text, &(n - BURST).to_string(), "order"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reason.code, CloseCode::NORMAL, "{reason:?}");
    assert!(grown <= 64, "RSS grew {grown} MiB for a slow consumer");
}

/// A peer that goes silent (no pongs, no data, the connection kept open) while the application
/// is not reading is still found dead within one ping interval plus one pong timeout: a full
/// message queue does not hide the missing pong.
#[test]
#[ignore = "attack test (seconds each, measures the whole process): run scripts/test"]
fn a_dead_peer_is_found_while_the_application_does_not_read() {
    let ((reason, took), _) = measured("dead peer, application not reading", async {
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let server = tcp_server(move |mut tcp| {
            let done = done_rx.clone();
            async move {
                let _ = raw_upgrade(&mut tcp).await;
                // 2 MiB of data (16 messages for a queue of 4), then silence
                let message = server_frame(true, 0, 0x2, &vec![3u8; 128 * 1024]);
                for _ in 0..16 {
                    if tcp.write_all(&message).await.is_err() {
                        return;
                    }
                }
                hold(tcp, done).await;
            }
        })
        .await;
        let client = Client::builder()
            .ping_interval(Duration::from_secs(1))
            .pong_timeout(Duration::from_secs(1))
            .channel_capacity(4)
            .build();
        let started = Instant::now();
        let session = within("connect", client.web_socket_session(server.url("/")))
            .await
            .expect("connect");
        let reason = within("the ping timeout", session.close_reason()).await;
        let _ = done_tx.send(true);
        (reason, started.elapsed())
    });
    println!("dead peer: ended {reason:?} after {took:?}");
    assert_eq!(reason.code, CloseCode::INTERNAL_ERROR, "{reason:?}");
    assert_eq!(reason.reason, "ping timeout");
    // interval + timeout, with a generous margin for a loaded machine
    assert!(took < Duration::from_secs(5), "found after {took:?}");
}
