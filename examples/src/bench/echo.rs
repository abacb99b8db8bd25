//! Scenario (c): many connections, each keeping one small binary message in flight (the shape
//! of uWebSockets' `load_test`, used by the published echo benchmarks). Both ends run the same
//! stack; the rate is echoes per second over all connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Compression};

use fastwebsockets::{Frame, OpCode, Payload};

use super::net::{self, Pinning};
use super::others;
use super::stats::Measured;
use super::sys::CpuTime;

/// The stack on both ends of the fan-in echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoImpl {
    /// tokio TCP streams echoing the bytes of a masked frame: the floor.
    TokioTcp,
    /// tokio-tungstenite with its defaults (128 KiB read buffer).
    TtDefaults,
    /// tokio-tungstenite with a 32 KiB read buffer (the SDK's default before it became 16 KiB),
    /// to isolate that effect.
    TtReadBuffer32k,
    /// fastwebsockets on both ends (its README's echo loop).
    Fws,
    /// tokio-websockets on both ends, its defaults.
    Tws,
    /// typed-ws client and server with their defaults (compression off).
    Sdk,
    /// typed-ws with `read_buffer_size` set to this many bytes on both ends.
    SdkReadBuffer(usize),
}

impl EchoImpl {
    /// Short row name.
    pub fn name(self) -> String {
        match self {
            EchoImpl::TokioTcp => "tokio tcp floor".into(),
            EchoImpl::TtDefaults => "tt defaults".into(),
            EchoImpl::TtReadBuffer32k => "tt, read buffer 32 KiB".into(),
            EchoImpl::Fws => "fastwebsockets".into(),
            EchoImpl::Tws => "tokio-websockets".into(),
            EchoImpl::Sdk => "SDK defaults".into(),
            EchoImpl::SdkReadBuffer(bytes) => format!("SDK, read_buffer_size {} KiB", bytes / 1024),
        }
    }

    fn tt_config(self) -> Option<WebSocketConfig> {
        (self == EchoImpl::TtReadBuffer32k)
            .then(|| WebSocketConfig::default().read_buffer_size(32 * 1024))
    }
}

/// Runs `conns` connections × `payload`-byte echoes: `warm` untimed, then `dur` timed.
pub fn run(
    imp: EchoImpl,
    conns: usize,
    payload: usize,
    pinning: Pinning,
    warm: Duration,
    dur: Duration,
) -> Measured {
    let server = net::server(pinning.server_cpu(), move |listener| async move {
        let mut tasks = JoinSet::new();
        let sdk = match imp {
            EchoImpl::SdkReadBuffer(bytes) => Server::builder()
                .read_buffer_size(bytes)
                .compression(Compression::disabled())
                .build(),
            _ => Server::builder()
                .compression(Compression::disabled())
                .build(),
        };
        for _ in 0..conns {
            let (tcp, _) = listener.accept().await.expect("accept");
            match imp {
                EchoImpl::TokioTcp => {
                    tasks.spawn(async move {
                        let mut tcp = tcp;
                        tcp.set_nodelay(true).expect("TCP_NODELAY");
                        let mut buf = vec![0u8; 4096];
                        loop {
                            match tcp.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(k) => {
                                    if tcp.write_all(&buf[..k]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                }
                EchoImpl::TtDefaults | EchoImpl::TtReadBuffer32k => {
                    let mut ws = net::tt_accept(tcp, imp.tt_config()).await;
                    tasks.spawn(async move {
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_binary() && ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                EchoImpl::Fws => {
                    let mut ws = others::fws_accept(tcp).await;
                    tasks.spawn(async move {
                        while let Ok(frame) = ws.read_frame().await {
                            if frame.opcode == OpCode::Close {
                                break;
                            }
                            if frame.opcode == OpCode::Binary
                                && ws.write_frame(frame).await.is_err()
                            {
                                break;
                            }
                        }
                    });
                }
                EchoImpl::Tws => {
                    let mut ws = others::tws_accept(tcp).await;
                    tasks.spawn(async move {
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_binary() && ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                EchoImpl::Sdk | EchoImpl::SdkReadBuffer(_) => {
                    let mut session = net::sdk_accept(&sdk, tcp).await;
                    tasks.spawn(async move {
                        while let Some(Ok(frame)) = session.receive().await {
                            if session.send(frame).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    });
    let (addr, probe) = (server.addr, server.probe.clone());
    let measured = net::client(pinning.client_cpu(), move || async move {
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let data = Bytes::from(vec![0x5au8; payload]);
        let mut tasks = JoinSet::new();
        let sdk = match imp {
            EchoImpl::SdkReadBuffer(bytes) => Client::builder()
                .read_buffer_size(bytes)
                .compression(Compression::disabled())
                .build(),
            _ => Client::builder()
                .compression(Compression::disabled())
                .build(),
        };
        for _ in 0..conns {
            let (count, stop, data) = (Arc::clone(&count), Arc::clone(&stop), data.clone());
            match imp {
                EchoImpl::TokioTcp => {
                    let mut tcp = TcpStream::connect(addr).await.expect("connect");
                    tcp.set_nodelay(true).expect("TCP_NODELAY");
                    let frame = vec![0x5au8; payload + 6];
                    tasks.spawn(async move {
                        let mut back = vec![0u8; frame.len()];
                        while !stop.load(Ordering::Relaxed) {
                            tcp.write_all(&frame).await.expect("write");
                            tcp.read_exact(&mut back).await.expect("read");
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
                EchoImpl::TtDefaults | EchoImpl::TtReadBuffer32k => {
                    let mut ws = net::tt_connect(addr, imp.tt_config()).await;
                    tasks.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            ws.send(Message::Binary(data.clone())).await.expect("send");
                            loop {
                                match ws.next().await {
                                    Some(Ok(m)) if m.is_binary() => break,
                                    Some(Ok(_)) => {}
                                    other => panic!("echo connection ended: {other:?}"),
                                }
                            }
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = ws.close(None).await;
                        while let Some(Ok(_)) = ws.next().await {}
                    });
                }
                EchoImpl::Fws => {
                    let mut ws = others::fws_connect(addr).await;
                    tasks.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            ws.write_frame(Frame::binary(Payload::Owned(data.to_vec())))
                                .await
                                .expect("write_frame");
                            loop {
                                let frame = ws.read_frame().await.expect("echo");
                                if frame.opcode == OpCode::Binary {
                                    break;
                                }
                            }
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = ws.write_frame(Frame::close(1000, b"")).await;
                        while let Ok(frame) = ws.read_frame().await {
                            if frame.opcode == OpCode::Close {
                                break;
                            }
                        }
                    });
                }
                EchoImpl::Tws => {
                    let mut ws = others::tws_connect(addr).await;
                    tasks.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            ws.send(tokio_websockets::Message::binary(data.clone()))
                                .await
                                .expect("send");
                            loop {
                                match ws.next().await {
                                    Some(Ok(m)) if m.is_binary() => break,
                                    Some(Ok(_)) => {}
                                    other => panic!("echo connection ended: {other:?}"),
                                }
                            }
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = ws.close().await;
                        while let Some(Ok(_)) = ws.next().await {}
                    });
                }
                EchoImpl::Sdk | EchoImpl::SdkReadBuffer(_) => {
                    let mut session = net::sdk_connect(&sdk, addr).await;
                    tasks.spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            session.send_binary(data.clone()).await.expect("send");
                            session
                                .receive()
                                .await
                                .expect("echo connection open")
                                .expect("echo");
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = session.close(CloseReason::normal("")).await;
                    });
                }
            }
        }
        tokio::time::sleep(warm).await;
        let server0 = probe.sample().await;
        let client0 = CpuTime::now();
        let n0 = count.load(Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(dur).await;
        let n = count.load(Ordering::Relaxed) - n0;
        let wall = t0.elapsed();
        let client = CpuTime::now().since(client0);
        let server = probe.sample().await.since(server0);
        stop.store(true, Ordering::Relaxed);
        while tasks.join_next().await.is_some() {}
        Measured {
            n,
            wall,
            client,
            server,
            latencies: Vec::new(),
        }
    })
    .join()
    .expect("client thread");
    server.join();
    measured
}
