//! Allocations per typed send and receive, counted on the thread that does the work (its
//! runtime runs the session's driver too, so the SDK's own allocations are all there).
//!
//! The counting itself lives in the bench binary (a counting `#[global_allocator]`); this
//! module gets it as a [`Counter`], so nothing else that links this library gets that
//! allocator.

use std::hint::black_box;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use typed_ws::{CloseReason, ContentConverter, Frame};

use super::net;
use super::wire::{Big, JsonWire, MsgPackWire, Payload, Small, Wire};

/// Runs the closure and returns how many allocations the calling thread made in it.
pub type Counter = fn(&mut dyn FnMut()) -> u64;

/// The frame that ends a measured stream: an empty data frame of the codec's frame type.
fn empty_frame<W: Wire>() -> Frame {
    if W::TEXT {
        Frame::Text(typed_ws::Utf8Bytes::new())
    } else {
        Frame::Binary(bytes::Bytes::new())
    }
}

fn listener() -> (std::net::TcpListener, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("address");
    (listener, addr)
}

/// A tokio-tungstenite server thread that counts data frames until an empty one.
fn counting_server(listener: std::net::TcpListener) -> std::thread::JoinHandle<u64> {
    net::blocking(1, move || {
        net::runtime().block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            let (tcp, _) = listener.accept().await.expect("accept");
            let mut ws = net::tt_accept(tcp, None).await;
            let mut n = 0;
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    if message.is_empty() {
                        break;
                    }
                    n += 1;
                }
            }
            while let Some(Ok(_)) = ws.next().await {}
            n
        })
    })
}

/// Allocations per `send_serialized` on the sending thread (SDK client, `n` sends and one
/// flush, after a warm-up of 1,000).
pub fn sdk_send<W: Wire, P: Payload>(n: u64, count: Counter) -> f64 {
    let (listener, addr) = listener();
    let server = counting_server(listener);
    let client = net::blocking(0, move || {
        let rt = net::runtime();
        let (_client, session) = rt.block_on(async {
            let client = net::sdk_client(W::Converter::default());
            let session = net::sdk_connect(&client, addr).await;
            (client, session)
        });
        let mut value = P::make(1);
        rt.block_on(async {
            for i in 0..1000 {
                value.set_id(i);
                session.send_serialized(&value).await.expect("send");
            }
            session.flush().await.expect("flush");
        });
        let allocs = count(&mut || {
            rt.block_on(async {
                for i in 0..n {
                    value.set_id(i);
                    session.send_serialized(&value).await.expect("send");
                }
                session.flush().await.expect("flush");
            });
        });
        rt.block_on(async {
            session.send(empty_frame::<W>()).await.expect("send");
            let _ = session.close(CloseReason::normal("")).await;
        });
        allocs
    });
    let allocs = client.join().expect("client thread");
    assert_eq!(server.join().expect("server thread"), n + 1000);
    allocs as f64 / n as f64
}

/// Allocations per message of a hand-written tokio-tungstenite sender (`encode` →
/// `Message`, `feed`, `flush` every 64), on the sending thread.
pub fn tt_send<W: Wire, P: Payload>(n: u64, count: Counter) -> f64 {
    let (listener, addr) = listener();
    let server = counting_server(listener);
    let client = net::blocking(0, move || {
        let rt = net::runtime();
        let mut ws = rt.block_on(net::tt_connect(addr, None));
        let mut value = P::make(1);
        let send = |ws: &mut _, from: u64, to: u64, value: &mut P| {
            rt.block_on(async {
                let ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> = ws;
                for i in from..to {
                    value.set_id(i);
                    ws.feed(W::message(W::encode(value))).await.expect("feed");
                    if i % 64 == 63 {
                        ws.flush().await.expect("flush");
                    }
                }
                ws.flush().await.expect("flush");
            });
        };
        send(&mut ws, 0, 1000, &mut value);
        let allocs = count(&mut || send(&mut ws, 1000, 1000 + n, &mut value));
        rt.block_on(async {
            ws.send(W::empty()).await.expect("send");
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        });
        allocs
    });
    let allocs = client.join().expect("client thread");
    assert_eq!(server.join().expect("server thread"), n + 1000);
    allocs as f64 / n as f64
}

/// Allocations per encode of the plain codec and of the SDK converter, and per decode of each.
pub fn codec<W: Wire, P: Payload>(n: u64, count: Counter) -> [f64; 4] {
    let converter = W::Converter::default();
    let mut value = P::make(1);
    let encoded = W::encode(&value);
    let frame = converter.serialize(&value).expect("encode");
    let plain_encode = count(&mut || {
        for i in 0..n {
            value.set_id(i);
            black_box(W::encode(black_box(&value)));
        }
    });
    let plain_decode = count(&mut || {
        for _ in 0..n {
            black_box(W::decode::<P>(black_box(&encoded)));
        }
    });
    let sdk_encode = count(&mut || {
        for i in 0..n {
            value.set_id(i);
            black_box(converter.serialize(black_box(&value)).expect("encode"));
        }
    });
    let sdk_decode = count(&mut || {
        for _ in 0..n {
            black_box(
                converter
                    .deserialize::<P>(black_box(&frame))
                    .expect("decode"),
            );
        }
    });
    [plain_encode, plain_decode, sdk_encode, sdk_decode].map(|a| a as f64 / n as f64)
}

/// Allocations per typed receive on the receiving thread: a tokio-tungstenite client sends
/// pre-built frames; the server (SDK: `receive_deserialized`; hand-written: `next` + decode)
/// receives `n` after a warm-up of 1,000.
pub fn receive<W: Wire, P: Payload>(sdk: bool, n: u64, count: Counter) -> f64 {
    let (listener, addr) = listener();
    let server = net::blocking(1, move || {
        let rt = net::runtime();
        let listener = rt.block_on(async { TcpListener::from_std(listener).expect("listener") });
        let (tcp, _) = rt.block_on(listener.accept()).expect("accept");
        if sdk {
            let server = net::sdk_server(W::Converter::default());
            let mut session = rt.block_on(net::sdk_accept(&server, tcp));
            let mut take = |k: u64| {
                rt.block_on(async {
                    for _ in 0..k {
                        let value: P = session.receive_deserialized().await.expect("receive");
                        black_box(value);
                    }
                });
            };
            take(1000);
            let allocs = count(&mut || take(n));
            rt.block_on(async { while session.receive().await.is_some() {} });
            allocs
        } else {
            let mut ws = rt.block_on(net::tt_accept(tcp, None));
            let mut take = |k: u64| {
                rt.block_on(async {
                    let mut got = 0;
                    while got < k {
                        let message = ws.next().await.expect("open").expect("read");
                        if let Some(value) = W::decode_message::<P>(&message) {
                            black_box(value);
                            got += 1;
                        }
                    }
                });
            };
            take(1000);
            let allocs = count(&mut || take(n));
            rt.block_on(async { while let Some(Ok(_)) = ws.next().await {} });
            allocs
        }
    });
    let client = net::blocking(0, move || {
        net::runtime().block_on(async move {
            let mut ws = net::tt_connect(addr, None).await;
            let message = W::message(W::encode(&P::make(1)));
            // more than the server takes, so the SDK driver's read-ahead (up to the channel
            // capacity) is about as full when the count ends as when it starts
            for i in 0..n + 1000 + 2048 {
                ws.feed(message.clone()).await.expect("feed");
                if i % 64 == 63 {
                    ws.flush().await.expect("flush");
                }
            }
            ws.flush().await.expect("flush");
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        });
    });
    client.join().expect("client thread");
    server.join().expect("server thread") as f64 / n as f64
}

/// Allocations per delivery on the SDK server's thread when it broadcasts: `serialize` once
/// per round, `send(frame.clone())` to each of `sessions` sessions, `rounds` rounds.
pub fn sdk_broadcast<W: Wire>(sessions: usize, rounds: u64, count: Counter) -> f64 {
    let (listener, addr) = listener();
    let server = net::blocking(1, move || {
        let rt = net::runtime();
        let listener = rt.block_on(async { TcpListener::from_std(listener).expect("listener") });
        let server = net::sdk_server(W::Converter::default());
        let all: Vec<_> = rt.block_on(async {
            let mut all = Vec::with_capacity(sessions);
            for _ in 0..sessions {
                let (tcp, _) = listener.accept().await.expect("accept");
                all.push(net::sdk_accept(&server, tcp).await);
            }
            all
        });
        let converter = W::Converter::default();
        let mut value = Small::make(1);
        let mut broadcast = |from: u64, to: u64| {
            rt.block_on(async {
                for round in from..to {
                    value.set_id(round);
                    let frame = converter.serialize(&value).expect("encode");
                    for session in &all {
                        session.send(frame.clone()).await.expect("send");
                    }
                }
                for session in &all {
                    session.flush().await.expect("flush");
                }
            });
        };
        broadcast(0, 20);
        let allocs = count(&mut || broadcast(20, 20 + rounds));
        rt.block_on(async {
            for session in &all {
                session.send(empty_frame::<W>()).await.expect("send");
            }
            for session in &all {
                let _ = session.flush().await;
            }
        });
        allocs
    });
    let client = net::blocking(0, move || {
        net::runtime().block_on(async move {
            let mut tasks = JoinSet::new();
            for _ in 0..sessions {
                let mut ws = net::tt_connect(addr, Some(net::sdk_buffers())).await;
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
                    n
                });
            }
            let mut total = 0;
            while let Some(n) = tasks.join_next().await {
                total += n.expect("client task");
            }
            total
        })
    });
    let allocs = server.join().expect("server thread");
    let delivered = client.join().expect("client thread");
    assert_eq!(delivered, (20 + rounds) * sessions as u64);
    allocs as f64 / (rounds * sessions as u64) as f64
}

/// Allocation counts per operation, measured once (they barely vary).
#[derive(Debug)]
pub struct Allocs {
    /// `(operation, allocations per call)`.
    pub rows: Vec<(String, f64)>,
    /// SDK `send_serialized` minus the codec's encode, JSON Small.
    pub sdk_side_per_send: f64,
}

/// Measures every allocation row with `count`.
pub fn measure_allocs(count: Counter) -> Allocs {
    let n = 20_000;
    let mut rows = Vec::new();
    let [json_enc, json_dec, json_conv_enc, json_conv_dec] = codec::<JsonWire, Small>(n, count);
    let [mp_enc, mp_dec, mp_conv_enc, mp_conv_dec] = codec::<MsgPackWire, Small>(n, count);
    let json_sdk = sdk_send::<JsonWire, Small>(n, count);
    let json_tt = tt_send::<JsonWire, Small>(n, count);
    let mp_sdk = sdk_send::<MsgPackWire, Small>(n, count);
    let mp_tt = tt_send::<MsgPackWire, Small>(n, count);
    rows.push((
        "JSON Small: codec encode (serde_json::to_string)".into(),
        json_enc,
    ));
    rows.push(("JSON Small: SDK converter serialize".into(), json_conv_enc));
    rows.push((
        "JSON Small: hand-written tt send (encode + Message + feed)".into(),
        json_tt,
    ));
    rows.push((
        "JSON Small: SDK send_serialized (sending thread, incl. driver)".into(),
        json_sdk,
    ));
    rows.push(("MsgPack Small: codec encode (to_vec_named)".into(), mp_enc));
    rows.push(("MsgPack Small: SDK converter serialize".into(), mp_conv_enc));
    rows.push(("MsgPack Small: hand-written tt send".into(), mp_tt));
    rows.push((
        "MsgPack Small: SDK send_serialized (sending thread, incl. driver)".into(),
        mp_sdk,
    ));
    let big_sdk = sdk_send::<JsonWire, Big>(2_000, count);
    let [big_enc, _, big_conv_enc, _] = codec::<JsonWire, Big>(2_000, count);
    rows.push(("JSON Big: codec encode".into(), big_enc));
    rows.push(("JSON Big: SDK converter serialize".into(), big_conv_enc));
    rows.push(("JSON Big: SDK send_serialized".into(), big_sdk));
    rows.push((
        "JSON Small: codec decode (from_str; the struct's own Strings/Vec)".into(),
        json_dec,
    ));
    rows.push((
        "JSON Small: SDK converter deserialize".into(),
        json_conv_dec,
    ));
    rows.push((
        "JSON Small: hand-written tt receive (next + from_str)".into(),
        receive::<JsonWire, Small>(false, 50_000, count),
    ));
    rows.push((
        "JSON Small: SDK receive_deserialized (receiving thread, incl. driver)".into(),
        receive::<JsonWire, Small>(true, 50_000, count),
    ));
    rows.push(("MsgPack Small: codec decode".into(), mp_dec));
    rows.push((
        "MsgPack Small: SDK converter deserialize".into(),
        mp_conv_dec,
    ));
    rows.push((
        "MsgPack Small: SDK receive_deserialized".into(),
        receive::<MsgPackWire, Small>(true, 50_000, count),
    ));
    rows.push((
        "broadcast to 100, JSON: SDK server per delivery".into(),
        sdk_broadcast::<JsonWire>(100, 200, count),
    ));
    rows.push((
        "broadcast to 100, MsgPack: SDK server per delivery".into(),
        sdk_broadcast::<MsgPackWire>(100, 200, count),
    ));
    Allocs {
        rows,
        sdk_side_per_send: json_sdk - json_enc,
    }
}
