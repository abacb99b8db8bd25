//! permessage-deflate (RFC 7692): typed-ws client against typed-ws server over a byte-counting
//! relay (negotiation, context takeover, window bits, threshold, bytes on the wire), and hostile
//! raw peers (a compression bomb, corrupt data, RSV bits where they do not belong, an extension
//! answer that was never offered).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, Compression, ErrorKind, Frame, Session};
use typed_ws_tests::support::{
    Guard, LogCapture, echo_server, read_head, rss_kib, server_frame, tcp_server, within,
};

/// Bytes seen by the relay, each direction.
#[derive(Default)]
struct Counts {
    up: AtomicUsize,
    down: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize) {
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to`, counting the bytes before forwarding them.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<Counts>,
    up: bool,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let counter = if up { &count.up } else { &count.down };
        counter.fetch_add(n, Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A loopback TCP relay to `target` that counts the bytes each way.
async fn relay(target: std::net::SocketAddr) -> (Guard, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let shared = Arc::clone(&counts);
    let guard = tcp_server(move |client| {
        let counts = Arc::clone(&shared);
        async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(
                pump(cr, sw, Arc::clone(&counts), true),
                pump(sr, cw, counts, false)
            );
        }
    })
    .await;
    (guard, counts)
}

/// A JSON-ish text that compresses well.
fn json_text(len: usize) -> String {
    let mut text = String::from("[");
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!(
            r#"{{"id":{i},"user":"user-{}","text":"hello from the typed-ws deflate test","ok":true}},"#,
            i % 7
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

/// Pseudo-random lowercase letters: compresses only a little on its own, so a second copy
/// shows what context takeover saves.
fn letters(len: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

/// Sends `text` and waits for its echo.
async fn round_trip(session: &mut Session, text: &str) {
    within("send", session.send_text(text)).await.unwrap();
    let frame = within("echo", session.receive())
        .await
        .expect("an echo")
        .unwrap();
    match frame {
        Frame::Text(echo) => assert!(echo.as_str() == text, "echo differs"),
        other => panic!("expected text, got {other:?}"),
    }
}

/// A typed-ws echo server with `server_side`, a relay in front of it, and a connected client
/// with `client_side`.
async fn connect(
    client_side: Compression,
    server_side: Compression,
) -> (Session, Arc<Counts>, Guard, Guard) {
    let server = echo_server(
        Server::builder()
            .ping_interval(None)
            .compression(server_side)
            .build(),
    )
    .await;
    let (relay, counts) = relay(server.addr).await;
    let client = Client::builder()
        .ping_interval(None)
        .compression(client_side)
        .build();
    let session = within("connect", client.web_socket_session(relay.url("/")))
        .await
        .unwrap();
    (session, counts, relay, server)
}

#[tokio::test]
async fn negotiated_by_default_and_compresses_json() {
    let (mut session, counts, _relay, _server) =
        connect(Compression::default(), Compression::default()).await;
    let negotiated = session.handshake().compression().expect("negotiated");
    assert_eq!(
        negotiated.extension(),
        "permessage-deflate",
        "server's answer to the default offer"
    );
    assert_eq!(negotiated.client_max_window_bits(), 15);
    assert!(!negotiated.server_no_context_takeover());

    let text = json_text(100_000);
    let before = counts.get();
    round_trip(&mut session, &text).await;
    let after = counts.get();
    let (up, down) = (after.0 - before.0, after.1 - before.1);
    assert!(
        up * 4 < text.len(),
        "client sent {up} bytes for {}",
        text.len()
    );
    assert!(down * 4 < text.len(), "server sent {down} bytes");

    // small, large, binary, many in a row, 1 MiB: all echo intact
    for len in [1, 127, 128, 5_000, 70_000, 1 << 20] {
        round_trip(&mut session, &json_text(len)).await;
    }
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    within("send", session.send_binary(blob.clone()))
        .await
        .unwrap();
    match within("echo", session.receive()).await.unwrap().unwrap() {
        Frame::Binary(echo) => assert!(echo.as_ref() == blob.as_slice(), "binary echo differs"),
        other => panic!("expected binary, got {other:?}"),
    }
    within("close", session.close(typed_ws::CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        CloseCode::NORMAL
    );
}

#[tokio::test]
async fn disabled_on_either_side_means_plain_frames() {
    for (client_side, server_side) in [
        (Compression::disabled(), Compression::default()),
        (Compression::default(), Compression::disabled()),
    ] {
        let (mut session, counts, _relay, _server) = connect(client_side, server_side).await;
        assert!(session.handshake().compression().is_none());
        let text = json_text(10_000);
        let before = counts.get();
        round_trip(&mut session, &text).await;
        let after = counts.get();
        assert!(after.0 - before.0 >= text.len(), "uncompressed up");
        assert!(after.1 - before.1 >= text.len(), "uncompressed down");
    }
}

#[tokio::test]
async fn context_takeover_on_and_off() {
    let text = letters(20_000);
    for reset in [false, true] {
        let side = Compression::default()
            .client_no_context_takeover(reset)
            .server_no_context_takeover(reset);
        let (mut session, counts, _relay, _server) = connect(side.clone(), side).await;
        let negotiated = session.handshake().compression().expect("negotiated");
        assert_eq!(negotiated.client_no_context_takeover(), reset);
        assert_eq!(negotiated.server_no_context_takeover(), reset);
        let mut sizes = Vec::new();
        for _ in 0..3 {
            let before = counts.get();
            round_trip(&mut session, &text).await;
            let after = counts.get();
            sizes.push((after.0 - before.0, after.1 - before.1));
        }
        if reset {
            // every message compressed on its own: the same size each time (masking aside)
            assert!(sizes[2].1 == sizes[0].1, "{sizes:?}");
        } else {
            // the second copy refers back to the first
            assert!(sizes[1].0 * 4 < sizes[0].0, "{sizes:?}");
            assert!(sizes[1].1 * 4 < sizes[0].1, "{sizes:?}");
        }
    }
}

/// How many sessions logged that they released their deflate state while idle.
fn releases(logs: &LogCapture) -> usize {
    logs.text().matches("idle: deflate state released").count()
}

#[tokio::test]
async fn idle_sessions_release_deflate_state_and_keep_their_window() {
    // the test runtime is single-threaded: both sessions' drivers log through this
    let (capture, _default) = LogCapture::on_this_thread(tracing::Level::DEBUG);
    let text = letters(20_000);

    // kept for the session's life: nothing released however long it idles
    let kept = Compression::default().idle_release(None);
    let (mut session, _counts, _relay, _server) = connect(kept.clone(), kept).await;
    round_trip(&mut session, &text).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(releases(&capture), 0);
    drop(session);

    // released after 30 ms idle, on both ends; the next messages still refer back to the
    // first (context takeover survives) and inflate correctly at the other end
    let quick = Compression::default().idle_release(Some(std::time::Duration::from_millis(30)));
    let (mut session, counts, _relay, _server) = connect(quick.clone(), quick).await;
    let mut sizes = Vec::new();
    for round in 0..3 {
        let before = counts.get();
        round_trip(&mut session, &text).await;
        let after = counts.get();
        sizes.push((after.0 - before.0, after.1 - before.1));
        // wait for both ends (client and server session) to release
        within("both ends to release their deflate state", async {
            while releases(&capture) < 2 * (round + 1) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    assert!(sizes[1].0 * 4 < sizes[0].0, "{sizes:?}");
    assert!(sizes[1].1 * 4 < sizes[0].1, "{sizes:?}");
    assert!(sizes[2].0 * 4 < sizes[0].0, "{sizes:?}");
}

#[tokio::test]
async fn window_bits_9_and_15() {
    for bits in [9u8, 15] {
        let side = Compression::default()
            .client_max_window_bits(bits)
            .server_max_window_bits(bits);
        let (mut session, _counts, _relay, _server) = connect(side.clone(), side).await;
        let negotiated = session.handshake().compression().expect("negotiated");
        assert_eq!(negotiated.client_max_window_bits(), bits);
        assert_eq!(negotiated.server_max_window_bits(), bits);
        for len in [300, 40_000, 1 << 20] {
            round_trip(&mut session, &json_text(len)).await;
        }
    }
}

#[tokio::test]
async fn threshold_is_respected() {
    let side = Compression::default().threshold(1000);
    let (mut session, counts, _relay, _server) = connect(side.clone(), side).await;
    let small = json_text(999);
    let before = counts.get();
    round_trip(&mut session, &small).await;
    let after = counts.get();
    assert!(after.0 - before.0 >= 999, "below the threshold: plain");
    assert!(after.1 - before.1 >= 999, "below the threshold: plain");
    let big = json_text(1000);
    let before = counts.get();
    round_trip(&mut session, &big).await;
    let after = counts.get();
    assert!(after.0 - before.0 < 900, "at the threshold: compressed");
    assert!(after.1 - before.1 < 900, "at the threshold: compressed");
}

#[tokio::test]
async fn server_refuses_a_bad_offer_naming_the_parameter() {
    let server = echo_server(Server::new()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Extensions: permessage-deflate; bogus_param\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    use tokio::io::AsyncReadExt;
    within("answer", tcp.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("bogus_param"), "{answer}");
}

// ---------------------------------------------------------------------------------------------
// Hostile raw servers

/// A raw server that answers the upgrade with `extensions` and writes `bytes`, then reports
/// the close code the client sent (`None`: none).
async fn hostile(
    extensions: &'static str,
    bytes: Vec<u8>,
) -> (Guard, tokio::sync::mpsc::UnboundedReceiver<Option<u16>>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let guard = tcp_server(move |mut tcp| {
        let bytes = bytes.clone();
        let tx = tx.clone();
        async move {
            let Ok(head) = read_head(&mut tcp).await else {
                return;
            };
            let key = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_default();
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let mut response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
            );
            if !extensions.is_empty() {
                response.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
            }
            response.push_str("\r\n");
            if tcp.write_all(response.as_bytes()).await.is_err() {
                return;
            }
            let (mut read, mut write) = tcp.into_split();
            // write while reading: the client may fail (and close) before it read everything
            tokio::spawn(async move {
                let _ = write.write_all(&bytes).await;
                // keep the write half open until the reader is done
                std::future::pending::<()>().await;
            });
            let mut joined = Vec::new();
            let code = loop {
                use tokio::io::AsyncReadExt;
                let mut chunk = [0u8; 4096];
                match read.read(&mut chunk).await {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => joined.extend_from_slice(&chunk[..n]),
                }
                if let Some(code) = close_code_in(&joined) {
                    break code;
                }
            };
            let _ = tx.send(code);
        }
    })
    .await;
    (guard, rx)
}

/// Scans masked client frames in `bytes`: `Some(code)` once a close frame is complete.
fn close_code_in(bytes: &[u8]) -> Option<Option<u16>> {
    let mut at = 0;
    while bytes.len() >= at + 2 {
        let opcode = bytes[at] & 0x0f;
        let mut len = usize::from(bytes[at + 1] & 0x7f);
        let mut head = 2;
        if len == 126 {
            len = usize::from(u16::from_be_bytes([
                *bytes.get(at + 2)?,
                *bytes.get(at + 3)?,
            ]));
            head = 4;
        } else if len == 127 {
            let b: [u8; 8] = bytes.get(at + 2..at + 10)?.try_into().ok()?;
            len = usize::try_from(u64::from_be_bytes(b)).ok()?;
            head = 10;
        }
        let masked = bytes[at + 1] & 0x80 != 0;
        let key_at = at + head;
        let payload_at = key_at + if masked { 4 } else { 0 };
        let payload = bytes.get(payload_at..payload_at + len)?;
        if opcode == 0x8 {
            let key = bytes.get(key_at..key_at + 4).unwrap_or(&[0; 4]);
            let plain: Vec<u8> = payload
                .iter()
                .enumerate()
                .map(|(i, b)| if masked { b ^ key[i % 4] } else { *b })
                .collect();
            return Some((plain.len() >= 2).then(|| u16::from_be_bytes([plain[0], plain[1]])));
        }
        at = payload_at + len;
    }
    None
}

/// Connects `client` to a hostile server and expects an error of `kind` and close `code`.
async fn expect_failure(
    client: Client,
    bytes: Vec<u8>,
    kind: ErrorKind,
    code: CloseCode,
) -> typed_ws::Error {
    let (server, mut seen) = hostile("permessage-deflate", bytes).await;
    let mut session = within("connect", client.web_socket_session(server.url("/")))
        .await
        .unwrap();
    assert!(session.handshake().compression().is_some());
    let err = loop {
        match within("error", session.receive()).await {
            Some(Ok(_)) => continue,
            Some(Err(err)) => break err,
            None => panic!("ended without an error"),
        }
    };
    assert_eq!(err.kind(), kind, "{err}");
    let why = within("reason", session.close_reason()).await;
    assert_eq!(why.code, code, "{why}");
    let peer_got = within("peer saw close", seen.recv()).await.unwrap();
    assert_eq!(peer_got, Some(code.0), "close code the peer received");
    err
}

/// Raw deflate, LSB-first bit packing.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code (written most significant bit first).
    fn code(&mut self, code: u64, bits: u32) {
        let mut reversed = 0;
        for i in 0..bits {
            reversed |= ((code >> i) & 1) << (bits - 1 - i);
        }
        self.put(reversed, bits);
    }
}

/// A compression bomb: one fixed-Huffman block of a zero byte and then `(length 258,
/// distance 1)` matches up to `size` bytes (about 158:1; ~6.8 MB for 1 GiB).
fn bomb(size: usize) -> Vec<u8> {
    let mut bits = Bits {
        out: Vec::with_capacity(size / 150),
        acc: 0,
        n: 0,
    };
    bits.put(0, 1); // not the final block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    for _ in 0..(size - 1) / 258 {
        bits.code(0xc5, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7); // pad
    bits.out
}

/// `data` as one permessage-deflate message (raw deflate, sync flush, tail stripped).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    compress
        .compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// Held by the tests that measure the process's RSS, so one does not see the other's
/// sessions (`scripts/test` runs the ignored measurement too, in the same process).
static RSS_MEASURED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn compression_bomb_closes_1009_with_flat_memory() {
    let _alone = RSS_MEASURED.lock().await;
    let payload = bomb(1 << 30);
    assert!(payload.len() < 8 << 20);
    let frame = server_frame(true, 0b100, 0x2, &payload);
    let client = Client::builder()
        .ping_interval(None)
        .max_message_size(1 << 20)
        .build();
    let before = rss_kib();
    let err = expect_failure(client, frame, ErrorKind::TooBig, CloseCode::TOO_BIG).await;
    let grown = rss_kib().saturating_sub(before);
    assert!(err.to_string().contains("max_message_size"), "{err}");
    // 1 GiB would show; the frame itself (7 MB, held by the test server) and the 1 MiB limit
    // are all that may
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB");
}

#[tokio::test]
async fn small_frame_inflating_past_the_limit_closes_1009() {
    // 8 KiB of compressed data, 1.3 MB inflated, against a 1 MiB limit
    let payload = bomb(1_300_000);
    assert!(payload.len() < 10_000);
    let client = Client::builder()
        .ping_interval(None)
        .max_message_size(1 << 20)
        .build();
    let frame = server_frame(true, 0b100, 0x1, &payload);
    expect_failure(client, frame, ErrorKind::TooBig, CloseCode::TOO_BIG).await;
}

#[tokio::test]
async fn corrupt_deflate_data_closes_1007() {
    let frame = server_frame(true, 0b100, 0x1, &[0xff, 0xff, 0xff, 0xff, 0x00]);
    let err = expect_failure(
        Client::new(),
        frame,
        ErrorKind::Protocol,
        CloseCode::INVALID_PAYLOAD,
    )
    .await;
    assert!(err.to_string().contains("deflate"), "{err}");
}

#[tokio::test]
async fn rsv_bits_where_they_do_not_belong_close_1002() {
    let compressed = deflate(b"hello hello hello hello");
    let (first, rest) = compressed.split_at(compressed.len() / 2);
    for (what, bytes) in [
        ("compressed ping", server_frame(true, 0b100, 0x9, b"ping")),
        (
            "RSV1 on a continuation",
            [
                server_frame(false, 0b100, 0x1, first),
                server_frame(true, 0b100, 0x0, rest),
            ]
            .concat(),
        ),
        ("RSV2", server_frame(true, 0b010, 0x1, b"hi")),
        ("RSV3", server_frame(true, 0b001, 0x1, b"hi")),
        ("RSV1|RSV2", server_frame(true, 0b110, 0x1, b"hi")),
    ] {
        let err = expect_failure(
            Client::new(),
            bytes,
            ErrorKind::Protocol,
            CloseCode::PROTOCOL_ERROR,
        )
        .await;
        assert!(!err.to_string().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn an_extension_never_offered_is_a_handshake_error() {
    for (client, answer, named) in [
        (
            Client::new(),
            "x-webkit-deflate-frame",
            "x-webkit-deflate-frame",
        ),
        (
            Client::builder()
                .compression(Compression::disabled())
                .build(),
            "permessage-deflate",
            "not offered",
        ),
        (Client::new(), "permessage-deflate; mystery=1", "mystery"),
    ] {
        let (server, _seen) = hostile(answer, Vec::new()).await;
        let err = within("connect", client.web_socket_session(server.url("/")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
        assert!(err.to_string().contains(named), "{err}");
    }
}

/// Opens `n` client sessions to an in-process echo server (so `n` client and `n` server
/// sessions) and returns the RSS growth per pair in KiB: idle, then after one 20 KB JSON
/// message each way.
async fn memory_per_pair(n: usize, compression: Compression) -> (u64, u64) {
    let server = echo_server(
        Server::builder()
            .ping_interval(None)
            .compression(compression.clone())
            .build(),
    )
    .await;
    let client = Client::builder()
        .ping_interval(None)
        .compression(compression)
        .build();
    let before = rss_kib();
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        sessions.push(
            within("connect", client.web_socket_session(server.url("/")))
                .await
                .unwrap(),
        );
    }
    // a round trip on each, so every server session is up too
    for session in &mut sessions {
        round_trip(session, "hi").await;
    }
    let idle = rss_kib().saturating_sub(before) / n as u64;
    let text = json_text(20_000);
    for session in &mut sessions {
        round_trip(session, &text).await;
    }
    let used = rss_kib().saturating_sub(before) / n as u64;
    (idle, used)
}

/// Prints the memory per session of one setup, chosen by `TYPED_WS_MEM_CASE` (0-3): each
/// needs a fresh process, since freed memory is reused and would hide the next setup's.
///
/// `for i in 0 1 2 3; do TYPED_WS_MEM_CASE=$i cargo test --test deflate memory_per_session --
/// --ignored --nocapture; done`
#[tokio::test]
#[ignore = "measurement: run alone with --nocapture"]
async fn memory_per_session() {
    let _alone = RSS_MEASURED.lock().await;
    let case: usize = std::env::var("TYPED_WS_MEM_CASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let setups = [
        ("off", Compression::disabled()),
        ("deflate 15 bits, takeover", Compression::default()),
        (
            "deflate 15 bits, no takeover",
            Compression::default()
                .client_no_context_takeover(true)
                .server_no_context_takeover(true),
        ),
        (
            "deflate 9 bits, takeover",
            Compression::default()
                .client_max_window_bits(9)
                .server_max_window_bits(9),
        ),
    ];
    let (label, compression) = setups[case.min(setups.len() - 1)].clone();
    let (idle, used) = memory_per_pair(200, compression).await;
    println!(
        "{label}: {idle} KiB per client+server pair idle, {used} KiB after a 20 KB message each way"
    );
}

// ---------------------------------------------------------------------------------------------
// The server role against a raw client

/// Upgrades a raw TCP connection to `server` offering permessage-deflate; returns it with the
/// response head.
async fn raw_client(server: &Guard) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = within("response", read_head(&mut tcp)).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (tcp, head)
}

/// A masked client frame with `rsv` bits.
fn client_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Reads one unmasked server frame: (first byte, payload).
async fn read_server_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        tcp.read_exact(&mut b).await.unwrap();
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        tcp.read_exact(&mut b).await.unwrap();
        len = u64::from_be_bytes(b);
    }
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut decompress = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(1 << 20);
    decompress
        .decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    out
}

#[tokio::test]
async fn server_inflates_masked_frames_and_answers_compressed() {
    let server = echo_server(Server::builder().ping_interval(None).build()).await;
    let (mut tcp, head) = raw_client(&server).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-extensions: permessage-deflate"),
        "{head}"
    );
    let text = json_text(50_000);
    // one message in three fragments, RSV1 on the first only, a ping in between
    let compressed = deflate(text.as_bytes());
    let (a, rest) = compressed.split_at(compressed.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut bytes = client_frame(false, 0b100, 0x1, a);
    bytes.extend(client_frame(false, 0, 0x0, b));
    bytes.extend(client_frame(true, 0, 0x9, b"between"));
    bytes.extend(client_frame(true, 0, 0x0, c));
    tcp.write_all(&bytes).await.unwrap();
    let (first, payload) = within("pong", read_server_frame(&mut tcp)).await;
    assert_eq!((first, payload.as_slice()), (0x8a, &b"between"[..]));
    let (first, payload) = within("echo", read_server_frame(&mut tcp)).await;
    assert_eq!(first, 0xc1, "FIN + RSV1 + text");
    assert!(payload.len() * 4 < text.len());
    assert!(
        inflate(&payload) == text.as_bytes(),
        "echo inflates to the text"
    );
}

/// Sends `bytes` from a raw client offering deflate, expects close `code` from the server.
async fn server_fails_with(server: Server, bytes: Vec<u8>, code: CloseCode) {
    let guard = echo_server(server).await;
    let (mut tcp, _) = raw_client(&guard).await;
    let (mut read, mut write) = tcp.split();
    let writer = async {
        let _ = write.write_all(&bytes).await;
    };
    let reader = async {
        use tokio::io::AsyncReadExt;
        let mut seen = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => break None,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
            if let Some(code) = close_code_in(&seen) {
                break code;
            }
        }
    };
    let ((), got) = within("close", async { tokio::join!(writer, reader) }).await;
    assert_eq!(got, Some(code.0));
}

#[tokio::test]
async fn server_closes_on_hostile_compressed_frames() {
    let limited = || {
        Server::builder()
            .ping_interval(None)
            .max_message_size(1 << 20)
            .build()
    };
    server_fails_with(
        limited(),
        client_frame(true, 0b100, 0x2, &bomb(1_300_000)),
        CloseCode::TOO_BIG,
    )
    .await;
    server_fails_with(
        limited(),
        client_frame(true, 0b100, 0x1, &[0xff, 0xff, 0xff]),
        CloseCode::INVALID_PAYLOAD,
    )
    .await;
    // unmasked compressed frame from a client
    server_fails_with(
        limited(),
        server_frame(true, 0b100, 0x1, &deflate(b"hello")),
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
    server_fails_with(
        limited(),
        client_frame(true, 0b100, 0x9, b"x"),
        CloseCode::PROTOCOL_ERROR,
    )
    .await;
}
