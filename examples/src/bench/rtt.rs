//! Scenario (a): one connection, one message in flight, a typed echo. The client encodes a
//! caller-owned struct (one field changed per send), the server decodes it and encodes it back,
//! the client decodes the echo and checks its id.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use typed_ws::{CloseReason, ContentConverter, Session};

use fastwebsockets::{Frame, OpCode};

use super::net::{self, Pinning, Probe};
use super::others::{self, Fws, Tws};
use super::stats::Measured;
use super::sys::CpuTime;
use super::wire::{Payload, Wire, frame_len, wire_len};

/// Who is on both ends of a round-trip run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RttImpl {
    /// Std blocking sockets echoing the same number of bytes: the floor.
    Tcp,
    /// Hand-written tokio-tungstenite + serde, tungstenite's default config (what users write).
    Tt,
    /// Hand-written tokio-tungstenite + serde with the SDK's buffer sizes (16 KiB / 64 KiB).
    TtSdkBuffers,
    /// Hand-written fastwebsockets + serde (see [`others`]).
    Fws,
    /// Hand-written tokio-websockets + serde (see [`others`]).
    Tws,
    /// typed-ws client and server, defaults but compression off.
    Sdk,
    /// As `Sdk`, with each end's application code in a spawned task rather than the
    /// runtime's `block_on` future: tokio's current-thread runtime polls the `block_on` future
    /// only after a (non-blocking) `epoll_wait`, so when the session's driver task wakes it,
    /// every message costs one more system call; a spawned task is woken onto the run queue.
    SdkSpawned,
}

impl RttImpl {
    /// Short row name.
    pub fn name(self) -> &'static str {
        match self {
            RttImpl::Tcp => "tcp floor",
            RttImpl::Tt => "tt send",
            RttImpl::TtSdkBuffers => "tt send, SDK buffers",
            RttImpl::Fws => "fastwebsockets",
            RttImpl::Tws => "tokio-websockets",
            RttImpl::Sdk => "SDK",
            RttImpl::SdkSpawned => "SDK, app in a spawned task",
        }
    }
}

/// Runs one round-trip measurement: `warm` untimed, then `dur` timed.
pub fn run<W: Wire, P: Payload>(
    imp: RttImpl,
    pinning: Pinning,
    warm: Duration,
    dur: Duration,
) -> Measured {
    match imp {
        RttImpl::Tcp => tcp::<W, P>(pinning, dur),
        RttImpl::Tt | RttImpl::TtSdkBuffers => {
            let config = (imp == RttImpl::TtSdkBuffers).then(net::sdk_buffers);
            let server = net::server(pinning.server_cpu(), move |listener| async move {
                let (tcp, _) = listener.accept().await.expect("accept");
                tt_echo::<W, P>(net::tt_accept(tcp, config).await).await;
            });
            let (addr, probe) = (server.addr, server.probe.clone());
            let measured = net::client(pinning.client_cpu(), move || async move {
                tt_client::<W, P>(addr, config, &probe, warm, dur).await
            })
            .join()
            .expect("client thread");
            server.join();
            measured
        }
        RttImpl::Fws | RttImpl::Tws => {
            let server = net::server(pinning.server_cpu(), move |listener| async move {
                let (tcp, _) = listener.accept().await.expect("accept");
                if imp == RttImpl::Fws {
                    fws_echo::<W, P>(others::fws_accept(tcp).await).await;
                } else {
                    tws_echo::<W, P>(others::tws_accept(tcp).await).await;
                }
            });
            let (addr, probe) = (server.addr, server.probe.clone());
            let measured = net::client(pinning.client_cpu(), move || async move {
                if imp == RttImpl::Fws {
                    let ws = others::fws_connect(addr).await;
                    measure_rounds(FwsRounds::<W, P>::new(ws), &probe, warm, dur).await
                } else {
                    let ws = others::tws_connect(addr).await;
                    measure_rounds(TwsRounds::<W, P>::new(ws), &probe, warm, dur).await
                }
            })
            .join()
            .expect("client thread");
            server.join();
            measured
        }
        RttImpl::Sdk | RttImpl::SdkSpawned => {
            let spawned = imp == RttImpl::SdkSpawned;
            let server = net::server(pinning.server_cpu(), move |listener| async move {
                let (tcp, _) = listener.accept().await.expect("accept");
                let server = net::sdk_server(W::Converter::default());
                let echo = sdk_echo::<W::Converter, P>(net::sdk_accept(&server, tcp).await);
                if spawned {
                    tokio::spawn(echo).await.expect("echo task");
                } else {
                    echo.await;
                }
            });
            let (addr, probe) = (server.addr, server.probe.clone());
            let measured = net::client(pinning.client_cpu(), move || async move {
                let rounds =
                    async move { sdk_client::<W::Converter, P>(addr, &probe, warm, dur).await };
                if spawned {
                    tokio::spawn(rounds).await.expect("client task")
                } else {
                    rounds.await
                }
            })
            .join()
            .expect("client thread");
            server.join();
            measured
        }
    }
}

/// The SDK's typed echo: receive a `P`, send it back, until the session ends.
pub async fn sdk_echo<C: ContentConverter, P: Payload>(mut session: Session<C>) {
    while let Ok(value) = session.receive_deserialized::<P>().await {
        if session.send_serialized(&value).await.is_err() {
            break;
        }
    }
}

/// The hand-written typed echo over tokio-tungstenite.
pub async fn tt_echo<W: Wire, P: Payload>(mut ws: WebSocketStream<TcpStream>) {
    while let Some(Ok(message)) = ws.next().await {
        // a Close is answered by tungstenite on the next poll; keep polling until the end
        if let Some(value) = W::decode_message::<P>(&message)
            && ws.send(W::message(W::encode(&value))).await.is_err()
        {
            break;
        }
    }
}

/// The hand-written typed echo over fastwebsockets.
pub async fn fws_echo<W: Wire, P: Payload>(mut ws: Fws) {
    while let Ok(frame) = ws.read_frame().await {
        if frame.opcode == OpCode::Close {
            break;
        }
        if let Some(value) = others::fws_decode::<W, P>(&frame)
            && ws
                .write_frame(others::fws_frame::<W>(W::encode(&value)))
                .await
                .is_err()
        {
            break;
        }
    }
}

/// The hand-written typed echo over tokio-websockets.
pub async fn tws_echo<W: Wire, P: Payload>(mut ws: Tws) {
    while let Some(Ok(message)) = ws.next().await {
        if let Some(value) = others::tws_decode::<W, P>(&message)
            && ws
                .send(others::tws_message::<W>(W::encode(&value)))
                .await
                .is_err()
        {
            break;
        }
    }
}

/// One client's way of doing a round trip.
trait Rounds {
    /// Sends the value with id `id` and waits for its echo.
    async fn round(&mut self, id: u64);
    /// Closes the connection.
    async fn finish(self);
}

/// An SDK client session doing typed round trips.
pub struct SdkRounds<C, P> {
    session: Session<C>,
    value: P,
}

impl<C: ContentConverter, P: Payload> SdkRounds<C, P> {
    /// Wraps a session.
    pub fn new(session: Session<C>) -> Self {
        SdkRounds {
            session,
            value: P::make(0),
        }
    }
}

impl<C: ContentConverter, P: Payload> Rounds for SdkRounds<C, P> {
    async fn round(&mut self, id: u64) {
        self.value.set_id(id);
        self.session
            .send_serialized(&self.value)
            .await
            .expect("SDK send");
        let back: P = self.session.receive_deserialized().await.expect("SDK echo");
        assert_eq!(back.id(), id, "echo out of order");
    }

    async fn finish(self) {
        let _ = self.session.close(CloseReason::normal("")).await;
    }
}

/// A hand-written tokio-tungstenite client doing typed round trips.
pub struct TtRounds<W, P> {
    ws: WebSocketStream<TcpStream>,
    value: P,
    _wire: PhantomData<W>,
}

impl<W: Wire, P: Payload> TtRounds<W, P> {
    /// Wraps a connection.
    pub fn new(ws: WebSocketStream<TcpStream>) -> Self {
        TtRounds {
            ws,
            value: P::make(0),
            _wire: PhantomData,
        }
    }
}

impl<W: Wire, P: Payload> Rounds for TtRounds<W, P> {
    async fn round(&mut self, id: u64) {
        self.value.set_id(id);
        self.ws
            .send(W::message(W::encode(&self.value)))
            .await
            .expect("tt send");
        loop {
            let message = self
                .ws
                .next()
                .await
                .expect("tt connection open")
                .expect("tt read");
            if let Some(back) = W::decode_message::<P>(&message) {
                assert_eq!(back.id(), id, "echo out of order");
                return;
            }
        }
    }

    async fn finish(mut self) {
        let _ = self.ws.close(None).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

/// A hand-written fastwebsockets client doing typed round trips.
pub struct FwsRounds<W, P> {
    ws: Fws,
    value: P,
    _wire: PhantomData<W>,
}

impl<W: Wire, P: Payload> FwsRounds<W, P> {
    /// Wraps a connection.
    pub fn new(ws: Fws) -> Self {
        FwsRounds {
            ws,
            value: P::make(0),
            _wire: PhantomData,
        }
    }
}

impl<W: Wire, P: Payload> Rounds for FwsRounds<W, P> {
    async fn round(&mut self, id: u64) {
        self.value.set_id(id);
        self.ws
            .write_frame(others::fws_frame::<W>(W::encode(&self.value)))
            .await
            .expect("fastwebsockets write");
        loop {
            let frame = self.ws.read_frame().await.expect("fastwebsockets read");
            if let Some(back) = others::fws_decode::<W, P>(&frame) {
                assert_eq!(back.id(), id, "echo out of order");
                return;
            }
        }
    }

    async fn finish(mut self) {
        let _ = self.ws.write_frame(Frame::close(1000, b"")).await;
        while let Ok(frame) = self.ws.read_frame().await {
            if frame.opcode == OpCode::Close {
                break;
            }
        }
    }
}

/// A hand-written tokio-websockets client doing typed round trips.
pub struct TwsRounds<W, P> {
    ws: Tws,
    value: P,
    _wire: PhantomData<W>,
}

impl<W: Wire, P: Payload> TwsRounds<W, P> {
    /// Wraps a connection.
    pub fn new(ws: Tws) -> Self {
        TwsRounds {
            ws,
            value: P::make(0),
            _wire: PhantomData,
        }
    }
}

impl<W: Wire, P: Payload> Rounds for TwsRounds<W, P> {
    async fn round(&mut self, id: u64) {
        self.value.set_id(id);
        self.ws
            .send(others::tws_message::<W>(W::encode(&self.value)))
            .await
            .expect("tokio-websockets send");
        loop {
            let message = self
                .ws
                .next()
                .await
                .expect("tokio-websockets connection open")
                .expect("tokio-websockets read");
            if let Some(back) = others::tws_decode::<W, P>(&message) {
                assert_eq!(back.id(), id, "echo out of order");
                return;
            }
        }
    }

    async fn finish(mut self) {
        let _ = self.ws.close().await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

async fn measure_rounds<R: Rounds>(
    mut rounds: R,
    probe: &Probe,
    warm: Duration,
    dur: Duration,
) -> Measured {
    let mut id = 0;
    let warm_end = Instant::now() + warm;
    while Instant::now() < warm_end {
        id += 1;
        rounds.round(id).await;
    }
    let server0 = probe.sample().await;
    let client0 = CpuTime::now();
    let t0 = Instant::now();
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut last = t0;
    let mut n = 0;
    loop {
        id += 1;
        rounds.round(id).await;
        n += 1;
        let now = Instant::now();
        latencies.push(u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX));
        last = now;
        if now - t0 >= dur {
            break;
        }
    }
    let wall = t0.elapsed();
    let client = CpuTime::now().since(client0);
    let server = probe.sample().await.since(server0);
    rounds.finish().await;
    Measured {
        n,
        wall,
        client,
        server,
        latencies,
    }
}

/// An SDK client's typed round trips against `addr`.
pub async fn sdk_client<C: ContentConverter + Default, P: Payload>(
    addr: SocketAddr,
    probe: &Probe,
    warm: Duration,
    dur: Duration,
) -> Measured {
    let client = net::sdk_client(C::default());
    let session = net::sdk_connect(&client, addr).await;
    measure_rounds(SdkRounds::<C, P>::new(session), probe, warm, dur).await
}

/// A hand-written tokio-tungstenite client's typed round trips against `addr`.
pub async fn tt_client<W: Wire, P: Payload>(
    addr: SocketAddr,
    config: Option<WebSocketConfig>,
    probe: &Probe,
    warm: Duration,
    dur: Duration,
) -> Measured {
    let ws = net::tt_connect(addr, config).await;
    measure_rounds(TtRounds::<W, P>::new(ws), probe, warm, dur).await
}

/// The floor: std blocking sockets exchanging the same number of bytes as a masked request
/// frame and an unmasked reply frame of the payload's size.
fn tcp<W: Wire, P: Payload>(pinning: Pinning, dur: Duration) -> Measured {
    let len = wire_len::<W, P>();
    let (request, reply) = (frame_len(len, true), frame_len(len, false));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = net::blocking(pinning.server_cpu(), move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let mut buf = vec![0u8; request.max(reply)];
        let cpu0 = CpuTime::now();
        while stream.read_exact(&mut buf[..request]).is_ok() {
            if stream.write_all(&buf[..reply]).is_err() {
                break;
            }
        }
        CpuTime::now().since(cpu0)
    });
    let client = net::blocking(pinning.client_cpu(), move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let out = vec![0x5au8; request];
        let mut back = vec![0u8; reply];
        let mut latencies = Vec::with_capacity(1 << 16);
        let cpu0 = CpuTime::now();
        let t0 = Instant::now();
        let mut last = t0;
        let mut n = 0;
        loop {
            stream.write_all(&out).expect("write");
            stream.read_exact(&mut back).expect("read");
            n += 1;
            let now = Instant::now();
            latencies.push(u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX));
            last = now;
            if now - t0 >= dur {
                break;
            }
        }
        (n, t0.elapsed(), CpuTime::now().since(cpu0), latencies)
    });
    let (n, wall, client, latencies) = client.join().expect("client thread");
    let server = server.join().expect("server thread");
    Measured {
        n,
        wall,
        client,
        server,
        latencies,
    }
}
