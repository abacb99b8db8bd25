//! Loopback servers and bounded waits for the integration tests.
//!
//! Every server binds 127.0.0.1 port 0 and stops when its guard is dropped; every wait is
//! bounded by [`within`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use typed_ws::ContentConverter;
use typed_ws::server::Server;

/// The default bound on any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, panicking with `what` if it takes longer than [`WAIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// A background server task, aborted when dropped.
///
/// A handler that panics (a failed assertion, an `unwrap`) fails the test that started the
/// server: [`Guard::finish`] waits for the running handlers and re-raises the first panic, and
/// dropping the guard panics with every handler panic seen so far.
#[derive(Debug)]
pub struct Guard {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: Option<JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    panics: Panics,
}

/// The panics of a server's handlers, and a count to wait on.
#[derive(Debug, Default, Clone)]
struct Panics {
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    count: std::sync::Arc<tokio::sync::watch::Sender<usize>>,
}

impl Panics {
    fn push(&self, message: String) {
        let mut messages = self.messages.lock().unwrap();
        messages.push(message);
        self.count.send_replace(messages.len());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.messages.lock().unwrap())
    }
}

impl Guard {
    /// `ws://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Stops accepting, waits (at most [`WAIT`]) for every running handler to return, and
    /// panics with the first handler panic, if any: call it at the end of a test whose server
    /// handler asserts something.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("the server handlers to return", task)
                .await
                .expect("server task");
        }
        let panics = self.panics.take();
        if let Some(first) = panics.first() {
            panic!("server handler panicked ({} in all): {first}", panics.len());
        }
    }

    /// Waits (at most [`WAIT`]) until a handler has panicked.
    pub async fn handler_panicked(&self) {
        let mut count = self.panics.count.subscribe();
        within("a handler panic", count.wait_for(|n| *n > 0))
            .await
            .expect("the server's panic record");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        let panics = self.panics.take();
        if !panics.is_empty() && !std::thread::panicking() {
            panic!("server handler panicked: {panics:?}");
        }
    }
}

fn panic_message(error: tokio::task::JoinError) -> Option<String> {
    let payload = error.try_into_panic().ok()?;
    Some(
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-string payload".to_owned()),
    )
}

/// Binds 127.0.0.1:0 and runs `handler` for every accepted TCP connection. A handler's panic
/// fails the test (see [`Guard`]).
pub async fn tcp_server<F, Fut>(handler: F) -> Guard
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let panics = Panics::default();
    let seen = panics.clone();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        let record = |done: Result<(), tokio::task::JoinError>| {
            if let Err(error) = done
                && let Some(message) = panic_message(error)
            {
                seen.push(message);
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        conns.spawn(handler(tcp));
                    }
                    Err(_) => break,
                },
                Some(done) = conns.join_next(), if !conns.is_empty() => record(done),
                _ = &mut stopped => break,
            }
        }
        drop(listener);
        while let Some(done) = conns.join_next().await {
            record(done);
        }
    });
    Guard {
        addr,
        task: Some(task),
        stop: Some(stop),
        panics,
    }
}

/// A typed-ws server that runs `handler` on every accepted session.
pub async fn ws_server<C, F, Fut>(server: Server<C>, handler: F) -> Guard
where
    C: ContentConverter,
    F: Fn(typed_ws::Session<C>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tcp_server(move |tcp| {
        let server = server.clone();
        let handler = handler.clone();
        async move {
            if let Ok(session) = server.accept(tcp).await {
                handler(session).await;
            }
        }
    })
    .await
}

/// Echoes every data frame back until the session ends.
pub async fn echo<C: ContentConverter>(mut session: typed_ws::Session<C>) {
    while let Some(Ok(frame)) = session.receive().await {
        if session.send(frame).await.is_err() {
            break;
        }
    }
}

/// A typed-ws server that echoes every data frame until the client closes.
pub async fn echo_server<C: ContentConverter>(server: Server<C>) -> Guard {
    ws_server(server, echo).await
}

/// A typed-ws echo server behind TLS (`acceptor`), with default settings.
pub async fn tls_echo_server(acceptor: tokio_rustls::TlsAcceptor) -> Guard {
    let server = Server::new();
    tcp_server(move |tcp| {
        let acceptor = acceptor.clone();
        let server = server.clone();
        async move {
            if let Ok(stream) = acceptor.accept(tcp).await
                && let Ok(session) = server.accept(stream).await
            {
                echo(session).await;
            }
        }
    })
    .await
}

/// Reads an HTTP upgrade request from `tcp` and answers 101: the start of a hand-rolled
/// (hostile) server. Returns the request head.
pub async fn raw_upgrade(tcp: &mut TcpStream) -> std::io::Result<String> {
    let head = read_head(tcp).await?;
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    tcp.write_all(response.as_bytes()).await?;
    Ok(head)
}

/// Reads up to the end of an HTTP head (`\r\n\r\n`).
pub async fn read_head(tcp: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Encodes one unmasked server frame: `fin`, `opcode`, `payload`, with `rsv` bits (0–7).
pub fn server_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    push_len(&mut out, 0, payload.len());
    out.extend_from_slice(payload);
    out
}

/// Encodes one masked frame (as a client would send, which a server must not).
pub fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut out = vec![0x80 | opcode];
    push_len(&mut out, 0x80, payload.len());
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: usize) {
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Reads client frames from `tcp` until a close frame arrives, returning its code (`None` if
/// the connection ended first or the close had no code). Unmasks as it goes.
pub async fn read_close_code(tcp: &mut TcpStream) -> Option<u16> {
    read_until_close(tcp).await.1
}

/// Reads client frames until a close frame: the text frames seen before it, and the close
/// code (`None` if the connection ended first or the close had no code).
pub async fn read_until_close(tcp: &mut TcpStream) -> (Vec<String>, Option<u16>) {
    let mut texts = Vec::new();
    loop {
        let Some((opcode, payload)) = read_client_frame(tcp).await else {
            return (texts, None);
        };
        match opcode {
            0x1 => texts.push(String::from_utf8_lossy(&payload).into_owned()),
            0x8 => {
                let code =
                    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                return (texts, code);
            }
            _ => {}
        }
    }
}

/// Reads one client frame (unmasking it): its opcode and payload, `None` once the connection
/// ended or broke.
pub async fn read_client_frame(
    tcp: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.ok()?;
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        tcp.read_exact(&mut b).await.ok()?;
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        tcp.read_exact(&mut b).await.ok()?;
        len = u64::from_be_bytes(b);
    }
    let mut key = [0u8; 4];
    if masked {
        tcp.read_exact(&mut key).await.ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    tcp.read_exact(&mut payload).await.ok()?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Some((opcode, payload))
}

/// The folder `scripts/peers` installs the third-party peers into: `$TYPED_WS_PEERS`, else
/// `target/peers` of this workspace.
pub fn peers_dir() -> std::path::PathBuf {
    match std::env::var_os("TYPED_WS_PEERS") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers"),
    }
}

/// The path of an installed peer file (e.g. `proxy/bin/pproxy`), panicking with the command
/// to run when it is missing: a peer-backed test never passes without its peer.
pub fn peer(relative: &str) -> std::path::PathBuf {
    let path = peers_dir().join(relative);
    assert!(
        path.exists(),
        "peer {} is not installed: run scripts/test (or scripts/peers) first",
        path.display()
    );
    path
}

/// A free loopback port (bound and released: for peers that cannot bind port 0 themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process killed (by PID) and reaped when dropped.
#[derive(Debug)]
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (at most [`WAIT`]),
/// checking that `child` is still alive.
pub async fn wait_for_port(child: &mut Child, port: u16) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("peer exited before listening on {port}: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "peer never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A minimal HTTP CONNECT proxy on loopback. It answers 407 unless the request carries
/// `Proxy-Authorization: <required>` (when one is required), and sends every CONNECT head it
/// saw on the returned channel.
pub async fn connect_proxy(
    required: Option<String>,
) -> (Guard, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (guard, heads, _carried) = routing_connect_proxy(required, None).await;
    (guard, heads)
}

/// [`connect_proxy`] that tunnels every CONNECT to `route` when given (whatever target it
/// names: a test can name a target only the proxy can reach), and reports each tunnel's
/// bytes (client to target, target to client) on the second channel when it ends.
pub async fn routing_connect_proxy(
    required: Option<String>,
    route: Option<SocketAddr>,
) -> (
    Guard,
    tokio::sync::mpsc::UnboundedReceiver<String>,
    tokio::sync::mpsc::UnboundedReceiver<(u64, u64)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (carried_tx, carried_rx) = tokio::sync::mpsc::unbounded_channel();
    let guard = tcp_server(move |mut client| {
        let required = required.clone();
        let tx = tx.clone();
        let carried_tx = carried_tx.clone();
        async move {
            let Ok(head) = read_head(&mut client).await else {
                return;
            };
            let _ = tx.send(head.clone());
            let authorized = match &required {
                None => true,
                Some(value) => head.lines().any(|line| {
                    line.split_once(':').is_some_and(|(n, v)| {
                        n.trim().eq_ignore_ascii_case("proxy-authorization") && v.trim() == value
                    })
                }),
            };
            if !authorized {
                let _ = client
                    .write_all(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                    )
                    .await;
                return;
            }
            let target = head
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or_default()
                .to_owned();
            let upstream = match route {
                Some(route) => TcpStream::connect(route).await,
                None => TcpStream::connect(target.as_str()).await,
            };
            let Ok(mut upstream) = upstream else {
                let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                return;
            };
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_ok()
                && let Ok(carried) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
            {
                let _ = carried_tx.send(carried);
            }
        }
    })
    .await;
    (guard, rx, carried_rx)
}

/// What an in-process SOCKS5 proxy ([`socks5_proxy`]) saw on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socks5Seen {
    /// The authentication methods the client offered (0: none, 2: user/password).
    pub methods: Vec<u8>,
    /// The user name and password it sent, if it authenticated.
    pub auth: Option<(String, String)>,
    /// The address type of its CONNECT request: 1 IPv4, 3 domain name, 4 IPv6 (0: none).
    pub atyp: u8,
    /// The requested host: the address as text, or the domain name.
    pub host: String,
    /// The requested port.
    pub port: u16,
    /// Bytes tunnelled (client to target, target to client), once the tunnel ended.
    pub carried: Option<(u64, u64)>,
}

/// How an in-process SOCKS5 proxy behaves.
#[derive(Debug, Clone, Default)]
pub struct Socks5Config {
    /// Require this user name and password (method 2); `None`: no authentication (method 0).
    pub auth: Option<(String, String)>,
    /// Answer every CONNECT with this SOCKS5 failure code (1-8) instead of connecting.
    pub fail_with: Option<u8>,
    /// Tunnel every CONNECT here, whatever it names (a test can name a target only the proxy
    /// can reach); `None`: connect to the requested address or name.
    pub route: Option<SocketAddr>,
}

/// An in-process SOCKS5 proxy (RFC 1928, user/password per RFC 1929) on loopback, reporting
/// what it saw on each connection when that connection ends.
pub async fn socks5_proxy(
    config: Socks5Config,
) -> (Guard, tokio::sync::mpsc::UnboundedReceiver<Socks5Seen>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let guard = tcp_server(move |mut client| {
        let config = config.clone();
        let tx = tx.clone();
        async move {
            let mut seen = Socks5Seen::default();
            let _ = socks5_session(&mut client, &config, &mut seen).await;
            let _ = tx.send(seen);
        }
    })
    .await;
    (guard, rx)
}

async fn socks5_session(
    client: &mut TcpStream,
    config: &Socks5Config,
    seen: &mut Socks5Seen,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    assert_eq!(head[0], 5, "a SOCKS5 greeting");
    seen.methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut seen.methods).await?;
    let wanted = if config.auth.is_some() { 2 } else { 0 };
    if !seen.methods.contains(&wanted) {
        return client.write_all(&[5, 0xff]).await;
    }
    client.write_all(&[5, wanted]).await?;
    if let Some((user, pass)) = &config.auth {
        let mut version_len = [0u8; 2];
        client.read_exact(&mut version_len).await?;
        assert_eq!(version_len[0], 1, "RFC 1929 version");
        let mut name = vec![0u8; usize::from(version_len[1])];
        client.read_exact(&mut name).await?;
        let mut len = [0u8; 1];
        client.read_exact(&mut len).await?;
        let mut password = vec![0u8; usize::from(len[0])];
        client.read_exact(&mut password).await?;
        let given = (
            String::from_utf8_lossy(&name).into_owned(),
            String::from_utf8_lossy(&password).into_owned(),
        );
        let ok = given == (user.clone(), pass.clone());
        seen.auth = Some(given);
        client.write_all(&[1, u8::from(!ok)]).await?;
        if !ok {
            return Ok(());
        }
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    assert_eq!(&request[..3], &[5, 1, 0], "a SOCKS5 CONNECT request");
    seen.atyp = request[3];
    seen.host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            std::net::Ipv6Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        other => panic!("unknown SOCKS5 address type {other}"),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    seen.port = u16::from_be_bytes(port);
    let failure = |code: u8| [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
    if let Some(code) = config.fail_with {
        return client.write_all(&failure(code)).await;
    }
    let upstream = match config.route {
        Some(route) => TcpStream::connect(route).await,
        None => TcpStream::connect((seen.host.as_str(), seen.port)).await,
    };
    let Ok(mut upstream) = upstream else {
        return client.write_all(&failure(5)).await;
    };
    let bound = upstream.local_addr()?;
    let mut reply = vec![5, 0, 0, 1];
    match bound.ip() {
        std::net::IpAddr::V4(ip) => reply.extend_from_slice(&ip.octets()),
        std::net::IpAddr::V6(_) => reply.extend_from_slice(&[0, 0, 0, 0]),
    }
    reply.extend_from_slice(&bound.port().to_be_bytes());
    client.write_all(&reply).await?;
    seen.carried = Some(tokio::io::copy_bidirectional(client, &mut upstream).await?);
    Ok(())
}

/// Starts a peer program that prints the port it listens on as its first stdout line, and
/// returns it with that port (waiting at most [`WAIT`]).
pub fn spawn_peer(program: &std::path::Path, args: &[&str]) -> (Child, u16) {
    let mut child = Child(
        std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display())),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{} printed no port within {WAIT:?}", program.display()));
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{} printed {line:?}, not a port", program.display()));
    (child, port)
}

/// A TCP relay on a fixed port in front of `backend`; `kill` drops every connection.
#[derive(Debug)]
pub struct Relay {
    /// The port it listens on (the same after a restart).
    pub port: u16,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Listens on 127.0.0.1:`port` (0: any) and relays every connection to `backend`.
    pub async fn start(port: u16, backend: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conns = std::sync::Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                conns.lock().unwrap().push(relay);
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { port, tasks }
    }

    /// Drops every relayed connection (no close frame) and frees the port.
    pub async fn kill(&mut self) {
        let tasks: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

/// This process's resident memory (VmRSS), in KiB: what the memory-bound tests measure.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .expect("VmRSS in /proc/self/status")
}

/// A `tracing_subscriber` writer that keeps everything written, for tests that read the logs.
#[derive(Clone, Default)]
pub struct LogCapture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Captures what this thread logs at `level` or more severe until the guard is dropped; on
    /// a test's single-threaded runtime that is every task's logs.
    pub fn on_this_thread(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = LogCapture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = self.0.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
