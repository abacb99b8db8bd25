//! Scenario (b): one-way streaming for a fixed time, then an end marker. The receiver decodes
//! every typed message (raw comparators only count frames); the rate is messages delivered per
//! second from the first send to the receipt of the end marker.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use typed_ws::CloseReason;

use fastwebsockets::{Frame, OpCode};

use super::net::{self, Pinning};
use super::others;
use super::stats::Measured;
use super::sys::CpuTime;
use super::wire::{Payload, SENTINEL, Wire, frame_len, wire_len};

/// Who streams to whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamImpl {
    /// Std blocking sockets, one `write()` per message of the same size: the per-message floor.
    TcpPerWrite,
    /// Std blocking sockets, 64 KiB writes of back-to-back messages: the batched floor.
    TcpBatched,
    /// tokio-tungstenite, pre-built frames (no codec), `feed` + `flush` every 64: the
    /// zero-overhead typed layer's bound.
    TtRawFeed,
    /// Hand-written typed: `SinkExt::send` per message (a flush each), as users write it.
    TtSend,
    /// Hand-written typed: `feed`, `flush` every 64 messages and at the end.
    TtFeed,
    /// Hand-written fastwebsockets: `write_frame` per message (one socket write each; the
    /// crate has no batching).
    Fws,
    /// Hand-written tokio-websockets: `feed`, `flush` every 64 messages and at the end (the
    /// crate also flushes whenever 8 KiB are queued).
    TwsFeed,
    /// typed-ws: a plain `send_serialized` loop, then one `flush`.
    Sdk,
}

impl StreamImpl {
    /// Short row name.
    pub fn name(self) -> &'static str {
        match self {
            StreamImpl::TcpPerWrite => "tcp floor, write per msg",
            StreamImpl::TcpBatched => "tcp floor, 64 KiB writes",
            StreamImpl::TtRawFeed => "tt raw frames, feed",
            StreamImpl::TtSend => "tt send",
            StreamImpl::TtFeed => "tt feed+flush/64",
            StreamImpl::Fws => "fastwebsockets write_frame",
            StreamImpl::TwsFeed => "tokio-websockets feed+flush/64",
            StreamImpl::Sdk => "SDK send_serialized",
        }
    }
}

/// What the receiving side reports: messages counted, when the end marker arrived, its CPU.
type Received = (u64, Instant, CpuTime);

/// Streams for `dur` and returns the measurement (pinning: usually split).
pub fn run<W: Wire, P: Payload>(imp: StreamImpl, pinning: Pinning, dur: Duration) -> Measured {
    match imp {
        StreamImpl::TcpPerWrite | StreamImpl::TcpBatched => {
            tcp::<W, P>(imp == StreamImpl::TcpBatched, pinning, dur)
        }
        _ => websocket::<W, P>(imp, pinning, dur),
    }
}

fn websocket<W: Wire, P: Payload>(imp: StreamImpl, pinning: Pinning, dur: Duration) -> Measured {
    let server = net::server(pinning.server_cpu(), move |listener| async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        match imp {
            StreamImpl::Sdk => {
                let server = net::sdk_server(W::Converter::default());
                let mut session = net::sdk_accept(&server, tcp).await;
                let cpu0 = CpuTime::now();
                let mut n = 0;
                loop {
                    let value: P = session.receive_deserialized().await.expect("typed stream");
                    if value.id() == SENTINEL {
                        break;
                    }
                    n += 1;
                }
                let received: Received = (n, Instant::now(), CpuTime::now().since(cpu0));
                while session.receive().await.is_some() {}
                received
            }
            StreamImpl::Fws => {
                let mut ws = others::fws_accept(tcp).await;
                let cpu0 = CpuTime::now();
                let mut n = 0;
                loop {
                    let frame = ws.read_frame().await.expect("typed stream");
                    let Some(value) = others::fws_decode::<W, P>(&frame) else {
                        continue;
                    };
                    if value.id() == SENTINEL {
                        break;
                    }
                    n += 1;
                }
                let received: Received = (n, Instant::now(), CpuTime::now().since(cpu0));
                while let Ok(frame) = ws.read_frame().await {
                    if frame.opcode == OpCode::Close {
                        break;
                    }
                }
                received
            }
            StreamImpl::TwsFeed => {
                let mut ws = others::tws_accept(tcp).await;
                let cpu0 = CpuTime::now();
                let mut n = 0;
                loop {
                    let message = ws.next().await.expect("open").expect("typed stream");
                    let Some(value) = others::tws_decode::<W, P>(&message) else {
                        continue;
                    };
                    if value.id() == SENTINEL {
                        break;
                    }
                    n += 1;
                }
                let received: Received = (n, Instant::now(), CpuTime::now().since(cpu0));
                while let Some(Ok(_)) = ws.next().await {}
                received
            }
            _ => {
                let mut ws = net::tt_accept(tcp, None).await;
                let cpu0 = CpuTime::now();
                let raw = imp == StreamImpl::TtRawFeed;
                let mut n = 0;
                while let Some(Ok(message)) = ws.next().await {
                    if !(message.is_text() || message.is_binary()) {
                        continue;
                    }
                    if raw {
                        if message.is_empty() {
                            break;
                        }
                    } else {
                        let value: P = W::decode_message(&message).expect("typed stream");
                        if value.id() == SENTINEL {
                            break;
                        }
                    }
                    n += 1;
                }
                let received: Received = (n, Instant::now(), CpuTime::now().since(cpu0));
                while let Some(Ok(_)) = ws.next().await {}
                received
            }
        }
    });
    let addr = server.addr;
    let (sent, t0, client) = net::client(pinning.client_cpu(), move || async move {
        let mut value = P::make(1);
        let mut sent = 0u64;
        match imp {
            StreamImpl::Sdk => {
                let client = net::sdk_client(W::Converter::default());
                let session = net::sdk_connect(&client, addr).await;
                let cpu0 = CpuTime::now();
                let t0 = Instant::now();
                'outer: loop {
                    for _ in 0..64 {
                        sent += 1;
                        value.set_id(sent);
                        session.send_serialized(&value).await.expect("SDK send");
                    }
                    if t0.elapsed() >= dur {
                        break 'outer;
                    }
                }
                value.set_id(SENTINEL);
                session.send_serialized(&value).await.expect("SDK send");
                session.flush().await.expect("SDK flush");
                let cpu = CpuTime::now().since(cpu0);
                let _ = session.close(CloseReason::normal("")).await;
                (sent, t0, cpu)
            }
            StreamImpl::Fws => {
                let mut ws = others::fws_connect(addr).await;
                let cpu0 = CpuTime::now();
                let t0 = Instant::now();
                while t0.elapsed() < dur {
                    for _ in 0..64 {
                        sent += 1;
                        value.set_id(sent);
                        ws.write_frame(others::fws_frame::<W>(W::encode(&value)))
                            .await
                            .expect("write_frame");
                    }
                }
                value.set_id(SENTINEL);
                ws.write_frame(others::fws_frame::<W>(W::encode(&value)))
                    .await
                    .expect("write_frame");
                let cpu = CpuTime::now().since(cpu0);
                let _ = ws.write_frame(Frame::close(1000, b"")).await;
                while let Ok(frame) = ws.read_frame().await {
                    if frame.opcode == OpCode::Close {
                        break;
                    }
                }
                (sent, t0, cpu)
            }
            StreamImpl::TwsFeed => {
                let mut ws = others::tws_connect(addr).await;
                let cpu0 = CpuTime::now();
                let t0 = Instant::now();
                while t0.elapsed() < dur {
                    for _ in 0..64 {
                        sent += 1;
                        value.set_id(sent);
                        ws.feed(others::tws_message::<W>(W::encode(&value)))
                            .await
                            .expect("feed");
                    }
                    ws.flush().await.expect("flush");
                }
                value.set_id(SENTINEL);
                ws.send(others::tws_message::<W>(W::encode(&value)))
                    .await
                    .expect("send the end marker");
                let cpu = CpuTime::now().since(cpu0);
                let _ = ws.close().await;
                while let Some(Ok(_)) = ws.next().await {}
                (sent, t0, cpu)
            }
            _ => {
                let mut ws = net::tt_connect(addr, None).await;
                let raw = W::message(W::encode(&P::make(1)));
                let cpu0 = CpuTime::now();
                let t0 = Instant::now();
                loop {
                    for _ in 0..64 {
                        sent += 1;
                        match imp {
                            StreamImpl::TtRawFeed => ws.feed(raw.clone()).await.expect("feed"),
                            StreamImpl::TtSend => {
                                value.set_id(sent);
                                ws.send(W::message(W::encode(&value))).await.expect("send");
                            }
                            _ => {
                                value.set_id(sent);
                                ws.feed(W::message(W::encode(&value))).await.expect("feed");
                            }
                        }
                    }
                    if imp != StreamImpl::TtSend {
                        ws.flush().await.expect("flush");
                    }
                    if t0.elapsed() >= dur {
                        break;
                    }
                }
                let end = if imp == StreamImpl::TtRawFeed {
                    W::empty()
                } else {
                    value.set_id(SENTINEL);
                    W::message(W::encode(&value))
                };
                ws.send(end).await.expect("send the end marker");
                let cpu = CpuTime::now().since(cpu0);
                let _ = ws.close(None).await;
                while let Some(Ok(_)) = ws.next().await {}
                (sent, t0, cpu)
            }
        }
    })
    .join()
    .expect("client thread");
    let (n, end, server_cpu) = server.join();
    assert_eq!(n, sent, "every message sent was received");
    Measured {
        n,
        wall: end - t0,
        client,
        server: server_cpu,
        latencies: Vec::new(),
    }
}

/// The floors: the same bytes as the masked frames, written one message per `write()` or in
/// 64 KiB writes; the reader reads 64 KiB at a time until EOF.
fn tcp<W: Wire, P: Payload>(batched: bool, pinning: Pinning, dur: Duration) -> Measured {
    let frame = frame_len(wire_len::<W, P>(), true);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = net::blocking(pinning.server_cpu(), move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let mut buf = vec![0u8; 64 * 1024];
        let cpu0 = CpuTime::now();
        let mut bytes = 0u64;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => bytes += k as u64,
            }
        }
        (bytes, Instant::now(), CpuTime::now().since(cpu0))
    });
    let client = net::blocking(pinning.client_cpu(), move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let per_write = if batched {
            (64 * 1024 / frame).max(1)
        } else {
            1
        };
        let out = vec![0x5au8; frame * per_write];
        let cpu0 = CpuTime::now();
        let t0 = Instant::now();
        let mut sent = 0u64;
        loop {
            for _ in 0..64 {
                stream.write_all(&out).expect("write");
                sent += per_write as u64;
            }
            if t0.elapsed() >= dur {
                break;
            }
        }
        let cpu = CpuTime::now().since(cpu0);
        stream.shutdown(Shutdown::Write).expect("shutdown");
        (sent, t0, cpu)
    });
    let (sent, t0, client) = client.join().expect("client thread");
    let (bytes, end, server) = server.join().expect("server thread");
    assert_eq!(bytes, sent * frame as u64, "every byte arrived");
    Measured {
        n: sent,
        wall: end - t0,
        client,
        server,
        latencies: Vec::new(),
    }
}
