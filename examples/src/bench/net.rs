//! The harness plumbing: server and client threads (each with its own current-thread tokio
//! runtime, pinned), CPU probes across threads, and the connect/accept calls of both stacks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use typed_ws::server::Server;
use typed_ws::{Client, Compression, ContentConverter, Session};

use super::sys::{CpuTime, pin};

/// Where the two threads of a run are pinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinning {
    /// Both on cpu0: the pure CPU cost, no cross-CPU wake-ups.
    Same,
    /// Server on cpu1, client on cpu0: parallel sides, cross-CPU wake-ups included.
    Split,
}

impl Pinning {
    /// The server thread's CPU.
    pub fn server_cpu(self) -> usize {
        match self {
            Pinning::Same => 0,
            Pinning::Split => 1,
        }
    }

    /// The client thread's CPU.
    pub fn client_cpu(self) -> usize {
        0
    }

    /// "same" or "split".
    pub fn name(self) -> &'static str {
        match self {
            Pinning::Same => "same",
            Pinning::Split => "split",
        }
    }
}

/// Samples the CPU clock of the thread that started it, on request from any thread.
#[derive(Clone, Debug)]
pub struct Probe {
    requests: mpsc::UnboundedSender<oneshot::Sender<CpuTime>>,
}

impl Probe {
    /// Starts the probe task on the current runtime: samples are of this runtime's thread.
    pub fn start() -> Probe {
        let (requests, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<CpuTime>>();
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(CpuTime::now());
            }
        });
        Probe { requests }
    }

    /// The probed thread's CPU time now (from async code on another runtime).
    pub async fn sample(&self) -> CpuTime {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(tx).is_err() {
            return CpuTime::default();
        }
        rx.await.unwrap_or_default()
    }

    /// The probed thread's CPU time now (from blocking code).
    pub fn sample_blocking(&self) -> CpuTime {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(tx).is_err() {
            return CpuTime::default();
        }
        rx.blocking_recv().unwrap_or_default()
    }
}

/// A running server thread: its address, its CPU probe and its result.
#[derive(Debug)]
pub struct ServerThread<T> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Samples its CPU clock.
    pub probe: Probe,
    /// Its result, once every connection it serves is done.
    pub handle: JoinHandle<T>,
}

impl<T> ServerThread<T> {
    /// Waits for the server thread's result.
    pub fn join(self) -> T {
        self.handle.join().expect("server thread panicked")
    }
}

/// A current-thread tokio runtime with I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// Starts a server thread pinned to `cpu` with its own current-thread runtime, listening on
/// 127.0.0.1 (port 0, backlog 4096), and runs `serve(listener)` there.
pub fn server<F, Fut, T>(cpu: usize, serve: F) -> ServerThread<T>
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            pin(cpu);
            runtime().block_on(async move {
                let socket = TcpSocket::new_v4().expect("a socket");
                socket
                    .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .expect("bind 127.0.0.1:0");
                let listener = socket.listen(4096).expect("listen");
                let addr = listener.local_addr().expect("local address");
                let probe = Probe::start();
                ready_tx.send((addr, probe)).expect("coordinator waits");
                serve(listener).await
            })
        })
        .expect("spawn the server thread");
    let (addr, probe) = ready_rx.recv().expect("server thread started");
    ServerThread {
        addr,
        probe,
        handle,
    }
}

/// Starts a client thread pinned to `cpu` with its own current-thread runtime running `f`.
pub fn client<F, Fut, T>(cpu: usize, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name("bench-client".into())
        .spawn(move || {
            pin(cpu);
            runtime().block_on(f())
        })
        .expect("spawn the client thread")
}

/// Starts a plain (blocking) thread pinned to `cpu`.
pub fn blocking<F, T>(cpu: usize, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name("bench-blocking".into())
        .spawn(move || {
            pin(cpu);
            f()
        })
        .expect("spawn a blocking thread")
}

/// The `ws://` URL of a loopback address.
pub fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// The SDK's default buffer sizes as a tungstenite config (16 KiB read, 64 KiB write), for a
/// hand-written comparator that isolates the typed layer from the buffer defaults.
pub fn sdk_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(64 * 1024)
}

/// Connects a hand-written tokio-tungstenite client (`TCP_NODELAY`, `config` or tungstenite's
/// defaults).
pub async fn tt_connect(
    addr: SocketAddr,
    config: Option<WebSocketConfig>,
) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url(addr), tcp, config)
        .await
        .expect("tokio-tungstenite handshake");
    ws
}

/// Accepts a hand-written tokio-tungstenite server connection.
pub async fn tt_accept(
    tcp: TcpStream,
    config: Option<WebSocketConfig>,
) -> WebSocketStream<TcpStream> {
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    tokio_tungstenite::accept_async_with_config(tcp, config)
        .await
        .expect("tokio-tungstenite accept")
}

/// An SDK client with every default but the converter and compression, which is off
/// ([`Compression::disabled`]): the uncompressed rows compare with hand-written code that
/// negotiates no extension. The compression scenario uses [`sdk_client_with`].
pub fn sdk_client<C: ContentConverter>(converter: C) -> Client<C> {
    sdk_client_with(converter, Compression::disabled())
}

/// An SDK client with every default but the converter and `compression`.
pub fn sdk_client_with<C: ContentConverter>(converter: C, compression: Compression) -> Client<C> {
    Client::builder()
        .converter(converter)
        .compression(compression)
        .build()
}

/// Opens an SDK session to `addr`.
pub async fn sdk_connect<C: ContentConverter>(client: &Client<C>, addr: SocketAddr) -> Session<C> {
    client
        .web_socket_session(url(addr))
        .await
        .expect("SDK connect")
}

/// An SDK server with every default but the converter and compression, which is off
/// ([`Compression::disabled`], as for [`sdk_client`]).
pub fn sdk_server<C: ContentConverter>(converter: C) -> Server<C> {
    sdk_server_with(converter, Compression::disabled())
}

/// An SDK server with every default but the converter and `compression`.
pub fn sdk_server_with<C: ContentConverter>(converter: C, compression: Compression) -> Server<C> {
    Server::builder()
        .converter(converter)
        .compression(compression)
        .build()
}

/// Accepts one SDK session on an accepted TCP stream (`TCP_NODELAY`, as a user would set).
pub async fn sdk_accept<C: ContentConverter>(server: &Server<C>, tcp: TcpStream) -> Session<C> {
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    server.accept(tcp).await.expect("SDK accept")
}
