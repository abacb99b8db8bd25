//! Scenario (e): many idle sessions in one process (client and server ends both), and the
//! resident memory they cost. Runs in a child process of the bench, so the heap of earlier
//! scenarios does not hide or inflate the growth.
//!
//! Each session end has a task awaiting its next message (as an idle application has), so
//! both stacks poll their sockets and allocate what a live session allocates. RSS is read
//! before connecting, once every session is idle, and again after one typed echo on each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use typed_ws::server::Server;
use typed_ws::{Client, Compression, Json};

use super::net;
use super::others;
use super::rtt;
use super::sys::{nofile, raise_nofile, rss_kib};
use super::wire::{JsonWire, Payload, Small, Wire};

/// Which stack holds the idle sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdleImpl {
    /// typed-ws client and server, defaults.
    Sdk,
    /// typed-ws with `read_buffer_size` set to this many bytes on both ends.
    SdkReadBuffer(usize),
    /// typed-ws defaults (no compression) at the deflate rows' connection count, for a
    /// like-for-like comparison with them.
    SdkFew,
    /// typed-ws with permessage-deflate negotiated at this window size (bits, both
    /// directions), context takeover on, other settings default.
    SdkDeflate(u8),
    /// typed-ws with permessage-deflate negotiated at this window size and no context
    /// takeover in either direction (the compressor state is dropped after every message).
    SdkDeflateReset(u8),
    /// As `SdkDeflate`, in a child whose glibc maps blocks of 128 KiB or more on their own
    /// (`MALLOC_MMAP_THRESHOLD_=131072`, glibc's initial threshold without its dynamic raise),
    /// so zlib state released while idle goes back to the system and RSS shows what the
    /// sessions still hold; by default glibc keeps such freed blocks on its heap for reuse.
    SdkDeflateMapped(u8),
    /// Hand-written tokio-tungstenite client and server with tungstenite's defaults.
    Tt,
    /// Hand-written fastwebsockets client and server.
    Fws,
    /// Hand-written tokio-websockets client and server, its defaults.
    Tws,
}

impl IdleImpl {
    /// Short row name.
    pub fn name(self) -> String {
        match self {
            IdleImpl::Sdk => "SDK defaults".into(),
            IdleImpl::SdkReadBuffer(bytes) => {
                format!("SDK, read_buffer_size {} KiB", bytes / 1024)
            }
            IdleImpl::SdkFew => "SDK defaults (as the deflate rows' count)".into(),
            IdleImpl::SdkDeflate(bits) => format!("SDK, deflate negotiated, {bits}-bit windows"),
            IdleImpl::SdkDeflateReset(bits) => {
                format!("SDK, deflate negotiated, {bits}-bit windows, no context takeover")
            }
            IdleImpl::SdkDeflateMapped(bits) => format!(
                "SDK, deflate negotiated, {bits}-bit windows, glibc mmap threshold fixed at 128 KiB"
            ),
            IdleImpl::Tt => "tt defaults".into(),
            IdleImpl::Fws => "fastwebsockets".into(),
            IdleImpl::Tws => "tokio-websockets".into(),
        }
    }

    /// Whether sessions negotiate permessage-deflate.
    pub fn deflate(self) -> bool {
        matches!(
            self,
            IdleImpl::SdkDeflate(_) | IdleImpl::SdkDeflateReset(_) | IdleImpl::SdkDeflateMapped(_)
        )
    }

    /// Whether the row runs at the deflate rows' (smaller) connection count.
    pub fn fewer(self) -> bool {
        self.deflate() || self == IdleImpl::SdkFew
    }

    /// The SDK's settings for this row: read buffer (if set) and compression.
    fn sdk_settings(self) -> (Option<usize>, Compression) {
        match self {
            IdleImpl::SdkReadBuffer(bytes) => (Some(bytes), Compression::disabled()),
            IdleImpl::SdkDeflate(bits) | IdleImpl::SdkDeflateMapped(bits) => (
                None,
                Compression::default()
                    .client_max_window_bits(bits)
                    .server_max_window_bits(bits),
            ),
            IdleImpl::SdkDeflateReset(bits) => (
                None,
                Compression::default()
                    .client_max_window_bits(bits)
                    .server_max_window_bits(bits)
                    .client_no_context_takeover(true)
                    .server_no_context_takeover(true),
            ),
            _ => (None, Compression::disabled()),
        }
    }

    fn sdk_server(self) -> Server<Json> {
        let (read_buffer, compression) = self.sdk_settings();
        let builder = Server::builder().compression(compression);
        match read_buffer {
            Some(bytes) => builder.read_buffer_size(bytes).build(),
            None => builder.build(),
        }
    }

    fn sdk_client(self) -> Client<Json> {
        let (read_buffer, compression) = self.sdk_settings();
        let builder = Client::builder().compression(compression);
        match read_buffer {
            Some(bytes) => builder.read_buffer_size(bytes).build(),
            None => builder.build(),
        }
    }

    /// The command-line form (`sdk`, `sdk:16384`, `deflate:12`, `tt`).
    pub fn arg(self) -> String {
        match self {
            IdleImpl::Sdk => "sdk".into(),
            IdleImpl::SdkReadBuffer(bytes) => format!("sdk:{bytes}"),
            IdleImpl::SdkFew => "sdk-few".into(),
            IdleImpl::SdkDeflate(bits) => format!("deflate:{bits}"),
            IdleImpl::SdkDeflateReset(bits) => format!("deflate-reset:{bits}"),
            IdleImpl::SdkDeflateMapped(bits) => format!("deflate-mapped:{bits}"),
            IdleImpl::Tt => "tt".into(),
            IdleImpl::Fws => "fws".into(),
            IdleImpl::Tws => "tws".into(),
        }
    }

    /// Parses the command-line form.
    pub fn parse(arg: &str) -> Option<IdleImpl> {
        match arg {
            "sdk" => Some(IdleImpl::Sdk),
            "tt" => Some(IdleImpl::Tt),
            "fws" => Some(IdleImpl::Fws),
            "tws" => Some(IdleImpl::Tws),
            "sdk-few" => Some(IdleImpl::SdkFew),
            _ => {
                if let Some(bits) = arg.strip_prefix("deflate-mapped:") {
                    return bits.parse().ok().map(IdleImpl::SdkDeflateMapped);
                }
                if let Some(bits) = arg.strip_prefix("deflate-reset:") {
                    return bits.parse().ok().map(IdleImpl::SdkDeflateReset);
                }
                if let Some(bits) = arg.strip_prefix("deflate:") {
                    return bits.parse().ok().map(IdleImpl::SdkDeflate);
                }
                arg.strip_prefix("sdk:")
                    .and_then(|b| b.parse().ok())
                    .map(IdleImpl::SdkReadBuffer)
            }
        }
    }
}

/// What a child process reports (one JSON line on stdout, prefixed `IDLE `).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IdleReport {
    /// Connections made (each has a client session and a server session).
    pub connections: usize,
    /// RSS with both runtimes up and the listener bound, in KiB.
    pub rss_before_kib: u64,
    /// RSS with every session open and idle, in KiB.
    pub rss_idle_kib: u64,
    /// RSS after one typed echo on every session, in KiB.
    pub rss_after_echo_kib: u64,
    /// RSS once the sessions were idle again for [`IDLE_AGAIN`] after the echo (a deflate
    /// session releases its compressor after `Compression::idle_release`, 1 s), in KiB.
    #[serde(default)]
    pub rss_idle_again_kib: u64,
    /// Seconds to open every connection.
    pub connect_secs: f64,
    /// The open-files soft limit in force.
    pub nofile: u64,
}

impl IdleReport {
    /// KiB per connection (both ends) once idle.
    pub fn idle_per_connection(&self) -> f64 {
        (self.rss_idle_kib.saturating_sub(self.rss_before_kib)) as f64
            / self.connections.max(1) as f64
    }

    /// KiB per connection (both ends) after one echo each.
    pub fn echo_per_connection(&self) -> f64 {
        (self.rss_after_echo_kib.saturating_sub(self.rss_before_kib)) as f64
            / self.connections.max(1) as f64
    }

    /// KiB per connection (both ends) idle again, [`IDLE_AGAIN`] after the echo.
    pub fn idle_again_per_connection(&self) -> f64 {
        (self.rss_idle_again_kib.saturating_sub(self.rss_before_kib)) as f64
            / self.connections.max(1) as f64
    }
}

/// How long after the echo the sessions count as idle again: past the default
/// `Compression::idle_release` (1 s).
pub const IDLE_AGAIN: Duration = Duration::from_millis(1500);

/// The child process's work: opens `connections` loopback connections with `imp` on both
/// ends, measures, and returns the report. The caller prints it and exits.
pub fn child(imp: IdleImpl, connections: usize) -> IdleReport {
    let limit = raise_nofile(2 * connections as u64 + 256);
    let connections = connections.min(usize::try_from(limit.saturating_sub(256) / 2).unwrap_or(0));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let accepted = Arc::new(AtomicUsize::new(0));
    let accepted_in_server = Arc::clone(&accepted);
    let server = net::server(1, move |listener| async move {
        let mut tasks = JoinSet::new();
        let sdk = imp.sdk_server();
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.expect("accept");
            if imp == IdleImpl::Tt {
                let mut ws = net::tt_accept(tcp, None).await;
                tasks.spawn(async move {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_text() && ws.send(message).await.is_err() {
                            break;
                        }
                    }
                });
            } else if imp == IdleImpl::Fws {
                let ws = others::fws_accept(tcp).await;
                tasks.spawn(rtt::fws_echo::<JsonWire, Small>(ws));
            } else if imp == IdleImpl::Tws {
                let ws = others::tws_accept(tcp).await;
                tasks.spawn(rtt::tws_echo::<JsonWire, Small>(ws));
            } else {
                let mut session = net::sdk_accept(&sdk, tcp).await;
                tasks.spawn(async move {
                    while let Ok(value) = session.receive_deserialized::<Small>().await {
                        if session.send_serialized(&value).await.is_err() {
                            break;
                        }
                    }
                });
            }
            accepted_in_server.fetch_add(1, Ordering::Release);
        }
        let _ = stop_rx.await;
        tasks
    });
    let addr = server.addr;
    let (trigger_tx, trigger_rx) = watch::channel(false);
    let (up_tx, up_rx) = std::sync::mpsc::channel::<()>();
    let connected = Arc::new(AtomicUsize::new(0));
    let echoed = Arc::new(AtomicUsize::new(0));
    let (connected_c, echoed_c) = (Arc::clone(&connected), Arc::clone(&echoed));
    let (hold_tx, hold_rx) = oneshot::channel::<()>();
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let client = net::client(0, move || async move {
        up_tx.send(()).expect("coordinator waits");
        let _ = go_rx.await;
        let sdk = imp.sdk_client();
        let gate = Arc::new(Semaphore::new(128));
        let mut tasks = JoinSet::new();
        for _ in 0..connections {
            let (gate, sdk) = (Arc::clone(&gate), sdk.clone());
            let (connected, echoed) = (Arc::clone(&connected_c), Arc::clone(&echoed_c));
            let mut trigger = trigger_rx.clone();
            tasks.spawn(async move {
                let permit = gate.acquire_owned().await.expect("semaphore open");
                let value = Small::make(1);
                if imp == IdleImpl::Tt {
                    let mut ws = net::tt_connect(addr, None).await;
                    drop(permit);
                    connected.fetch_add(1, Ordering::Release);
                    tokio::select! {
                        _ = trigger.changed() => {}
                        _ = ws.next() => return,
                    }
                    ws.send(JsonWire::message(JsonWire::encode(&value)))
                        .await
                        .expect("send");
                    let echo = ws.next().await.expect("open").expect("echo");
                    assert!(JsonWire::decode_message::<Small>(&echo).is_some());
                    echoed.fetch_add(1, Ordering::Release);
                    while let Some(Ok(_)) = ws.next().await {}
                } else if imp == IdleImpl::Fws {
                    let mut ws = others::fws_connect(addr).await;
                    drop(permit);
                    connected.fetch_add(1, Ordering::Release);
                    tokio::select! {
                        _ = trigger.changed() => {}
                        _ = ws.read_frame() => return,
                    }
                    ws.write_frame(others::fws_frame::<JsonWire>(JsonWire::encode(&value)))
                        .await
                        .expect("send");
                    let echo = ws.read_frame().await.expect("echo");
                    assert!(others::fws_decode::<JsonWire, Small>(&echo).is_some());
                    echoed.fetch_add(1, Ordering::Release);
                    let _ = ws.read_frame().await;
                } else if imp == IdleImpl::Tws {
                    let mut ws = others::tws_connect(addr).await;
                    drop(permit);
                    connected.fetch_add(1, Ordering::Release);
                    tokio::select! {
                        _ = trigger.changed() => {}
                        _ = ws.next() => return,
                    }
                    ws.send(others::tws_message::<JsonWire>(JsonWire::encode(&value)))
                        .await
                        .expect("send");
                    let echo = ws.next().await.expect("open").expect("echo");
                    assert!(others::tws_decode::<JsonWire, Small>(&echo).is_some());
                    echoed.fetch_add(1, Ordering::Release);
                    while let Some(Ok(_)) = ws.next().await {}
                } else {
                    let mut session = net::sdk_connect(&sdk, addr).await;
                    assert_eq!(
                        session.handshake().compression().is_some(),
                        imp.deflate(),
                        "deflate negotiated as configured"
                    );
                    drop(permit);
                    connected.fetch_add(1, Ordering::Release);
                    let _ = trigger.changed().await;
                    session.send_serialized(&value).await.expect("send");
                    let _: Small = session.receive_deserialized().await.expect("echo");
                    echoed.fetch_add(1, Ordering::Release);
                    let _ = session.receive().await;
                }
            });
        }
        let _ = hold_rx.await;
        tasks
    });
    up_rx.recv().expect("client thread up");
    // waits until `counter` reaches `connections` (at most 60 s) and returns what it reached
    let wait_for = |counter: &AtomicUsize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while counter.load(Ordering::Acquire) < connections && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        counter.load(Ordering::Acquire)
    };
    std::thread::sleep(Duration::from_millis(100));
    let rss_before_kib = rss_kib();
    let t0 = Instant::now();
    go_tx.send(()).expect("client waits");
    let opened = wait_for(&connected).min(wait_for(&accepted));
    let connect_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle_kib = rss_kib();
    trigger_tx.send(true).expect("client tasks wait");
    wait_for(&echoed);
    std::thread::sleep(Duration::from_millis(300));
    let rss_after_echo_kib = rss_kib();
    std::thread::sleep(IDLE_AGAIN - Duration::from_millis(300));
    let rss_idle_again_kib = rss_kib();
    // the caller exits the process: no teardown of 2 × `connections` sockets
    std::mem::forget((hold_tx, stop_tx, client, server));
    IdleReport {
        connections: opened,
        rss_before_kib,
        rss_idle_kib,
        rss_after_echo_kib,
        rss_idle_again_kib,
        connect_secs,
        nofile: nofile(),
    }
}

/// Runs [`child`] in a fresh process (`exe --child idle ARG N`) and parses its report.
pub fn in_child(exe: &std::path::Path, imp: IdleImpl, connections: usize) -> Option<IdleReport> {
    let mut command = std::process::Command::new(exe);
    command.args(["--child", "idle", &imp.arg(), &connections.to_string()]);
    if let IdleImpl::SdkDeflateMapped(_) = imp {
        command.env("MALLOC_MMAP_THRESHOLD_", "131072");
    }
    let output = command.output().ok()?;
    if !output.status.success() {
        eprintln!(
            "idle child ({}) failed: {}",
            imp.name(),
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("IDLE "))
        .and_then(|json| serde_json::from_str(json).ok())
}
