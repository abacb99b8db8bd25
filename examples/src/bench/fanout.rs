//! Scenario (d): broadcast. The server serializes one typed value per round, once, and sends a
//! clone of the frame to every session; tokio-tungstenite clients (the same for every server
//! variant) count receipts. The rate is deliveries per second; CPU per delivery is given for
//! the server (what the variants differ in) and the clients.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use typed_ws::{ContentConverter, Frame};

use fastwebsockets::Payload as FwsPayload;

use super::net::{self, Pinning};
use super::others;
use super::stats::Measured;
use super::sys::CpuTime;
use super::wire::{Payload, Small, Wire, frame_len, wire_len};

/// The broadcasting server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanoutImpl {
    /// tokio TCP streams, one `write_all` of the frame's bytes per session per round: the floor.
    TokioTcp,
    /// Hand-written tokio-tungstenite: serialize once, `send(message.clone())` per session.
    TtSend,
    /// Hand-written tokio-tungstenite: serialize once, `feed` to every session, then flush all.
    TtFeed,
    /// Hand-written fastwebsockets: serialize once, `write_frame` of a frame borrowing the
    /// bytes per session (one socket write each).
    Fws,
    /// Hand-written tokio-websockets: serialize once, `feed(message.clone())` to every session,
    /// then flush all.
    TwsFeed,
    /// typed-ws server: `serialize` once, `session.send(frame.clone())` per session.
    Sdk,
}

impl FanoutImpl {
    /// Short row name.
    pub fn name(self) -> &'static str {
        match self {
            FanoutImpl::TokioTcp => "tokio tcp floor",
            FanoutImpl::TtSend => "tt send per session",
            FanoutImpl::TtFeed => "tt feed all, flush all",
            FanoutImpl::Fws => "fastwebsockets write_frame per session",
            FanoutImpl::TwsFeed => "tokio-websockets feed all, flush all",
            FanoutImpl::Sdk => "SDK send(frame.clone())",
        }
    }
}

/// Broadcasts [`Small`] with codec `W` to `sessions` clients for `dur`.
pub fn run<W: Wire>(imp: FanoutImpl, sessions: usize, pinning: Pinning, dur: Duration) -> Measured {
    let (go_tx, go_rx) = oneshot::channel::<Instant>();
    let frame_bytes = frame_len(wire_len::<W, Small>(), false);
    let server = net::server(pinning.server_cpu(), move |listener| async move {
        // the client connects one at a time, each waiting for its handshake: accept the same way
        let mut tcps = Vec::with_capacity(sessions);
        let next = async || listener.accept().await.expect("accept").0;
        let mut value = Small::make(0);
        let mut rounds = 0u64;
        match imp {
            FanoutImpl::Sdk => {
                let server = net::sdk_server(W::Converter::default());
                let mut all = Vec::with_capacity(sessions);
                for _ in 0..sessions {
                    all.push(net::sdk_accept(&server, next().await).await);
                }
                let converter = W::Converter::default();
                let t0 = go_rx.await.expect("clients ready");
                let cpu0 = CpuTime::now();
                while t0.elapsed() < dur {
                    rounds += 1;
                    value.set_id(rounds);
                    let frame = converter.serialize(&value).expect("encode");
                    for session in &all {
                        session.send(frame.clone()).await.expect("SDK send");
                    }
                }
                let end = if W::TEXT {
                    Frame::Text(typed_ws::Utf8Bytes::new())
                } else {
                    Frame::Binary(Bytes::new())
                };
                for session in &all {
                    session.send(end.clone()).await.expect("SDK send");
                }
                for session in &all {
                    // a client that already got its end marker may have hung up: not an error
                    let _ = session.flush().await;
                }
                (rounds, CpuTime::now().since(cpu0))
            }
            FanoutImpl::TtSend | FanoutImpl::TtFeed => {
                let mut all = Vec::with_capacity(sessions);
                for _ in 0..sessions {
                    all.push(net::tt_accept(next().await, None).await);
                }
                let t0 = go_rx.await.expect("clients ready");
                let cpu0 = CpuTime::now();
                while t0.elapsed() < dur {
                    rounds += 1;
                    value.set_id(rounds);
                    let message = W::message(W::encode(&value));
                    for ws in &mut all {
                        if imp == FanoutImpl::TtSend {
                            ws.send(message.clone()).await.expect("send");
                        } else {
                            ws.feed(message.clone()).await.expect("feed");
                        }
                    }
                    if imp == FanoutImpl::TtFeed {
                        for ws in &mut all {
                            ws.flush().await.expect("flush");
                        }
                    }
                }
                for ws in &mut all {
                    ws.send(W::empty()).await.expect("send the end marker");
                }
                (rounds, CpuTime::now().since(cpu0))
            }
            FanoutImpl::Fws => {
                let mut all = Vec::with_capacity(sessions);
                for _ in 0..sessions {
                    all.push(others::fws_accept(next().await).await);
                }
                let t0 = go_rx.await.expect("clients ready");
                let cpu0 = CpuTime::now();
                while t0.elapsed() < dur {
                    rounds += 1;
                    value.set_id(rounds);
                    let encoded = W::encode(&value);
                    for ws in &mut all {
                        let payload = FwsPayload::Borrowed(encoded.as_ref());
                        let frame = if W::TEXT {
                            fastwebsockets::Frame::text(payload)
                        } else {
                            fastwebsockets::Frame::binary(payload)
                        };
                        ws.write_frame(frame).await.expect("write_frame");
                    }
                }
                for ws in &mut all {
                    let end = if W::TEXT {
                        fastwebsockets::Frame::text(FwsPayload::Borrowed(b""))
                    } else {
                        fastwebsockets::Frame::binary(FwsPayload::Borrowed(b""))
                    };
                    ws.write_frame(end).await.expect("send the end marker");
                }
                (rounds, CpuTime::now().since(cpu0))
            }
            FanoutImpl::TwsFeed => {
                let mut all = Vec::with_capacity(sessions);
                for _ in 0..sessions {
                    all.push(others::tws_accept(next().await).await);
                }
                let t0 = go_rx.await.expect("clients ready");
                let cpu0 = CpuTime::now();
                while t0.elapsed() < dur {
                    rounds += 1;
                    value.set_id(rounds);
                    let message = others::tws_message::<W>(W::encode(&value));
                    for ws in &mut all {
                        ws.feed(message.clone()).await.expect("feed");
                    }
                    for ws in &mut all {
                        ws.flush().await.expect("flush");
                    }
                }
                for ws in &mut all {
                    let end = if W::TEXT {
                        tokio_websockets::Message::text("")
                    } else {
                        tokio_websockets::Message::binary(Vec::new())
                    };
                    ws.send(end).await.expect("send the end marker");
                }
                (rounds, CpuTime::now().since(cpu0))
            }
            FanoutImpl::TokioTcp => {
                for _ in 0..sessions {
                    let tcp = next().await;
                    tcp.set_nodelay(true).expect("TCP_NODELAY");
                    tcps.push(tcp);
                }
                let bytes = vec![0x5au8; frame_bytes];
                let t0 = go_rx.await.expect("clients ready");
                let cpu0 = CpuTime::now();
                while t0.elapsed() < dur {
                    rounds += 1;
                    for tcp in &mut tcps {
                        tcp.write_all(&bytes).await.expect("write");
                    }
                }
                for tcp in &mut tcps {
                    tcp.shutdown().await.expect("shutdown");
                }
                (rounds, CpuTime::now().since(cpu0))
            }
        }
    });
    let addr = server.addr;
    let (delivered, wall, client) = net::client(pinning.client_cpu(), move || async move {
        let mut tasks = JoinSet::new();
        if imp == FanoutImpl::TokioTcp {
            let mut streams = Vec::with_capacity(sessions);
            for _ in 0..sessions {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                tcp.set_nodelay(true).expect("TCP_NODELAY");
                streams.push(tcp);
            }
            for mut tcp in streams {
                tasks.spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut bytes = 0u64;
                    loop {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => bytes += k as u64,
                        }
                    }
                    (bytes / frame_bytes as u64, Instant::now())
                });
            }
        } else {
            let mut streams = Vec::with_capacity(sessions);
            for _ in 0..sessions {
                // 32 KiB read / 64 KiB write, as in every earlier run of this table
                let config = WebSocketConfig::default()
                    .read_buffer_size(32 * 1024)
                    .write_buffer_size(64 * 1024);
                streams.push(net::tt_connect(addr, Some(config)).await);
            }
            for mut ws in streams {
                tasks.spawn(async move {
                    let mut n = 0u64;
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_text() || message.is_binary() {
                            if message.is_empty() {
                                break;
                            }
                            n += 1;
                        }
                    }
                    // the connection is dropped with the task's result, after the run
                    (n, Instant::now())
                });
            }
        }
        let cpu0 = CpuTime::now();
        let t0 = Instant::now();
        go_tx.send(t0).expect("server waits");
        let mut delivered = 0;
        let mut last = t0;
        while let Some(result) = tasks.join_next().await {
            let (n, done) = result.expect("client task");
            delivered += n;
            last = last.max(done);
        }
        (delivered, last - t0, CpuTime::now().since(cpu0))
    })
    .join()
    .expect("client thread");
    let (rounds, server_cpu) = server.join();
    assert_eq!(
        delivered,
        rounds * sessions as u64,
        "every session got every round"
    );
    Measured {
        n: delivered,
        wall,
        client,
        server: server_cpu,
        latencies: Vec::new(),
    }
}
