//! Interop with real third-party WebSocket implementations, over loopback.
//!
//! Peer servers (Python `websockets`, Python `aiohttp`, Node `ws`, each over ws:// and wss://)
//! are child processes running the scripts in `tests/peers/`; typed-ws's client talks to them.
//! Python `websockets` and Node `ws` clients drive typed-ws's own server accept side.
//!
//! The peers are installed by `scripts/peers` (which `scripts/test` runs) into `target/peers`,
//! or wherever `TYPED_WS_PEERS` points, so every test here is `#[ignore]`d: run them with
//! `scripts/test`, or `cargo test -p typed-ws-tests --test interop -- --include-ignored`.
//! A missing peer fails the test with a message saying so; it is never skipped silently.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{
    Client, CloseCode, CloseReason, ContentConverter, Frame, Json, Message, MessagePack, Request,
    Scheme, Session, Utf8Bytes,
};
use typed_ws_tests::support::{within, ws_server};

/// The bound on a peer printing its port (Python with aiohttp takes ~0.5 s to start).
const STARTUP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Peers

/// Where `scripts/peers` installed the peers.
fn peers_dir() -> PathBuf {
    match std::env::var_os("TYPED_WS_PEERS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers"),
    }
}

/// The peer scripts (`tests/peers/`).
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is missing ({} not found): run scripts/test, which installs the interop peers \
         with scripts/peers (or point TYPED_WS_PEERS at an installed peers folder)",
        path.display()
    );
}

/// A command running one of the peer scripts with its runtime, the peers checked to exist.
fn peer_command(script_name: &str) -> Command {
    let peers = peers_dir();
    if script_name.ends_with(".py") {
        let python = peers.join("py/bin/python");
        require(
            &python,
            "the Python peer venv (websockets, aiohttp, msgpack)",
        );
        let mut command = Command::new(python);
        command.arg(script(script_name));
        command
    } else {
        let modules = peers.join("node/node_modules");
        require(&modules.join("ws/package.json"), "the Node peer `ws`");
        require(
            &modules.join("@msgpack/msgpack/package.json"),
            "the Node peer `@msgpack/msgpack`",
        );
        let mut command = Command::new("node");
        command.arg(script(script_name)).env("NODE_PATH", modules);
        command
    }
}

/// The third-party servers.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// Python `websockets` (asyncio implementation).
    Websockets,
    /// Python `aiohttp`.
    Aiohttp,
    /// Node `ws`.
    NodeWs,
}

impl Peer {
    /// The name the peer puts in its messages.
    fn name(self) -> &'static str {
        match self {
            Peer::Websockets => "websockets",
            Peer::Aiohttp => "aiohttp",
            Peer::NodeWs => "node-ws",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Peer::Websockets => "websockets_server.py",
            Peer::Aiohttp => "aiohttp_server.py",
            Peer::NodeWs => "ws_server.js",
        }
    }
}

/// A scratch folder under the target dir (certificates, peer logs), removed on drop unless the
/// test failed, so a failing test leaves the peer's stderr to read.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "interop-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running peer server; killed (and reaped) when dropped.
struct PeerServer {
    peer: Peer,
    tls: Option<rcgen::CertifiedKey<rcgen::KeyPair>>,
    port: u16,
    child: Child,
    /// Removed after `drop` has killed the child (fields drop after `Drop::drop`).
    _scratch: Scratch,
}

impl PeerServer {
    /// Starts `peer` on 127.0.0.1 port 0 (over TLS with a fresh self-signed certificate when
    /// `tls`) and reads the port it prints, waiting at most [`STARTUP`].
    fn start(peer: Peer, tls: bool) -> PeerServer {
        let mut command = peer_command(peer.script());
        let scratch = Scratch::new(peer.name());
        let certified = tls.then(|| {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
            let cert = scratch.0.join("cert.pem");
            let key = scratch.0.join("key.pem");
            std::fs::write(&cert, certified.cert.pem()).expect("write cert");
            std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
            command.arg("--tls").arg(cert).arg(key);
            certified
        });
        let log_path = scratch.0.join("stderr.log");
        let log = std::fs::File::create(&log_path).expect("peer log");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the {} peer ({e}): is its runtime (python3 venv, node) \
                     installed? run scripts/test",
                    peer.name()
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = PeerServer {
            peer,
            tls: certified,
            port: 0,
            child,
            _scratch: scratch,
        };
        let line = rx.recv_timeout(STARTUP).unwrap_or_else(|_| {
            panic!(
                "the {} peer printed no port within {STARTUP:?}; its stderr: {}",
                peer.name(),
                log_path.display()
            )
        });
        server.port = line.trim().parse().unwrap_or_else(|_| {
            let _ = server.child.kill();
            let _ = server.child.wait();
            panic!(
                "the {} peer did not start (first line {line:?}); its stderr:\n{}",
                peer.name(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        });
        server
    }

    fn scheme(&self) -> Scheme {
        if self.tls.is_some() {
            Scheme::Wss
        } else {
            Scheme::Ws
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme(), self.port)
    }

    /// A client builder that trusts this peer's certificate (and nothing else).
    fn client(&self) -> typed_ws::ClientBuilder {
        let builder = Client::builder().tls_built_in_roots(false);
        match &self.tls {
            Some(certified) => builder.add_root_certificate_der(certified.cert.der().to_vec()),
            None => builder,
        }
    }

    async fn session<C: ContentConverter>(&self, client: &Client<C>, path: &str) -> Session<C> {
        let what = format!("connecting to {} at {}", self.peer.name(), self.url(path));
        within(&what, client.web_socket_session(self.url(path)))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// What the peers send back

/// The document the typed tests send; the peers decode it with their own JSON / MessagePack
/// library and answer with [`Doc::transformed`] in their own encoding.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Doc {
    name: String,
    count: u32,
    items: Vec<String>,
    ratio: f64,
    flag: bool,
    note: Option<String>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    nested: BTreeMap<String, i64>,
}

impl Doc {
    fn sample(count: u32) -> Doc {
        Doc {
            name: "héllo wörld ✓ 🦀".into(),
            count,
            items: vec!["a".into(), "ü".into()],
            ratio: 0.5,
            flag: true,
            note: None,
            blob: vec![0, 1, 127, 128, 255],
            nested: BTreeMap::from([("neg".into(), -7), ("big".into(), 1 << 40)]),
        }
    }

    /// What a peer named `by` answers: count + 1, its name appended to `items`.
    fn transformed(mut self, by: &str) -> Doc {
        self.count += 1;
        self.items.push(by.into());
        self
    }
}

/// The first message of the `/hello` route: what the peer saw of the upgrade request.
#[derive(Deserialize, Debug, PartialEq)]
struct Hello {
    peer: String,
    path: String,
    query: BTreeMap<String, String>,
    header: Option<String>,
    subprotocol: Option<String>,
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn next_frame<C: ContentConverter>(session: &mut Session<C>, what: &str) -> Frame {
    match within(what, session.receive()).await {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => panic!("{what}: {e}"),
        None => panic!(
            "{what}: the session ended ({})",
            session.close_reason().await
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks, run against every peer over ws:// and wss://

async fn echo_text_and_binary(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server.client().build();
    let mut session = server.session(&client, "/echo").await;
    let frames = [
        Frame::Text("héllo wörld ✓ 🦀".into()),
        Frame::Binary(Bytes::from((0..=255u8).collect::<Vec<_>>())),
        Frame::Text(Utf8Bytes::new()),
        Frame::Binary(Bytes::new()),
    ];
    for frame in &frames {
        session.send(frame.clone()).await.unwrap();
    }
    for frame in &frames {
        let back = next_frame(&mut session, "echo").await;
        assert_eq!(&back, frame, "{} echoed a different frame", peer.name());
    }
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();
    assert_eq!(
        within("close reason", session.close_reason()).await,
        CloseReason::normal("bye")
    );
    assert!(within("end", session.receive()).await.is_none());
}

async fn typed_json(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server.client().converter(Json::default()).build();
    let mut session = server.session(&client, "/json").await;
    for count in [0, 41, 99] {
        session.send_serialized(&Doc::sample(count)).await.unwrap();
    }
    for count in [0, 41, 99] {
        let frame = next_frame(&mut session, "json reply").await;
        assert!(
            matches!(frame, Frame::Text(_)),
            "{}: {frame:?}",
            peer.name()
        );
        let reply: Doc = session
            .converter()
            .deserialize(&frame)
            .unwrap_or_else(|e| panic!("{}'s JSON did not decode: {e}: {frame:?}", peer.name()));
        assert_eq!(reply, Doc::sample(count).transformed(peer.name()));
    }
}

async fn typed_msgpack(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server.client().converter(MessagePack::default()).build();
    let mut session = server.session(&client, "/msgpack").await;
    for count in [0, 41, 99] {
        session.send_serialized(&Doc::sample(count)).await.unwrap();
    }
    for count in [0, 41, 99] {
        let frame = next_frame(&mut session, "msgpack reply").await;
        assert!(
            matches!(frame, Frame::Binary(_)),
            "{}: {frame:?}",
            peer.name()
        );
        let reply: Doc = session.converter().deserialize(&frame).unwrap_or_else(|e| {
            panic!(
                "{}'s MessagePack did not decode: {e}: {frame:?}",
                peer.name()
            )
        });
        assert_eq!(reply, Doc::sample(count).transformed(peer.name()));
    }
}

/// A `#[derive(Message)]` protocol: the peers decode the envelope with their own libraries
/// and build their answer envelope by hand.
#[derive(typed_ws::Message, Debug, PartialEq)]
#[message(rename_all = "snake_case")]
enum Proto {
    Doc(Doc),
    Ping,
    Pong,
}

async fn derived_envelopes(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    async fn talk<C: ContentConverter>(server: &PeerServer, client: Client<C>, binary: bool) {
        let peer = server.peer.name();
        let mut session = server.session(&client, "/envelope").await;
        session.send_message::<Proto>(Doc::sample(7)).await.unwrap();
        let frame = next_frame(&mut session, "envelope reply").await;
        assert_eq!(
            matches!(frame, Frame::Binary(_)),
            binary,
            "{peer}: {frame:?}"
        );
        let reply = Proto::decode(&*session.converter(), &frame)
            .unwrap_or_else(|e| panic!("{peer}'s envelope did not decode: {e}: {frame:?}"));
        assert_eq!(reply, Proto::Doc(Doc::sample(7).transformed(peer)));
        session.send_message::<Proto>(Proto::Ping).await.unwrap();
        let frame = next_frame(&mut session, "pong").await;
        assert_eq!(
            Proto::decode(&*session.converter(), &frame).unwrap(),
            Proto::Pong,
            "{peer}"
        );
    }
    talk(
        &server,
        server.client().converter(Json::default()).build(),
        false,
    )
    .await;
    talk(
        &server,
        server.client().converter(MessagePack::default()).build(),
        true,
    )
    .await;
}

async fn subprotocol_header_and_query(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server.client().build();
    let request = Request::builder()
        .protocol(server.scheme())
        .host("127.0.0.1")
        .port(server.port)
        .path("/hello")
        .header("X-Typed-Ws", "typed-ws interop")
        .query("room", "a b&c/é")
        .query("token", "s3cret")
        .subprotocols(["v2.json", "v1.json"]);
    let mut session = within("connect", client.web_socket_session(request))
        .await
        .unwrap();
    let handshake = session.handshake();
    assert_eq!(handshake.status(), 101);
    assert_eq!(handshake.subprotocol(), Some("v1.json"), "{}", peer.name());
    assert_eq!(handshake.header("Sec-WebSocket-Protocol"), Some("v1.json"));
    let hello: Hello = within("hello", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(
        hello,
        Hello {
            peer: peer.name().into(),
            path: "/hello".into(),
            query: BTreeMap::from([
                ("room".into(), "a b&c/é".into()),
                ("token".into(), "s3cret".into()),
            ]),
            header: Some("typed-ws interop".into()),
            subprotocol: Some("v1.json".into()),
        }
    );
    // and the session goes on in the selected subprotocol
    session.send_text("after hello").await.unwrap();
    assert_eq!(
        next_frame(&mut session, "echo").await,
        Frame::Text("after hello".into())
    );
}

async fn large_message(peer: Peer, tls: bool) {
    const SIZE: usize = 4 << 20;
    let server = PeerServer::start(peer, tls);
    let client = server.client().build();
    let mut session = server.session(&client, "/echo").await;
    let binary = Bytes::from(pseudo_random(SIZE, 0x9e37_79b9_7f4a_7c15));
    let text: String = "typed-ws ✓ é 🦀 ".repeat(SIZE / 20);
    session.send_binary(binary.clone()).await.unwrap();
    session.send_text(text.clone()).await.unwrap();
    match next_frame(&mut session, "4 MiB binary echo").await {
        Frame::Binary(back) => {
            assert_eq!(back.len(), SIZE, "{}", peer.name());
            assert!(
                back == binary,
                "{}: 4 MiB binary came back altered",
                peer.name()
            );
        }
        other => panic!("{}: expected binary, got {}", peer.name(), other.kind()),
    }
    match next_frame(&mut session, "large text echo").await {
        Frame::Text(back) => assert!(
            back == text,
            "{}: large text came back altered",
            peer.name()
        ),
        other => panic!("{}: expected text, got {}", peer.name(), other.kind()),
    }
}

async fn peer_closes_with_4000(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server.client().build();
    let mut session = server.session(&client, "/close").await;
    let end = within("end of session", session.receive()).await;
    assert!(
        end.is_none(),
        "{}: expected the end, got {end:?}",
        peer.name()
    );
    let why = within("close reason", session.close_reason()).await;
    assert_eq!(
        why,
        CloseReason::new(4000, format!("bye from {}", peer.name()))
    );
    assert!(session.is_closed());
}

async fn unresponsive_peer_is_a_ping_timeout(peer: Peer, tls: bool) {
    let server = PeerServer::start(peer, tls);
    let client = server
        .client()
        .ping_interval(Duration::from_millis(200))
        .pong_timeout(Duration::from_millis(300))
        .close_timeout(Duration::from_millis(500))
        .build();
    let started = Instant::now();
    let mut session = server.session(&client, "/silent").await;
    match within("ping timeout", session.receive()).await {
        Some(Err(e)) => assert!(e.is_timeout(), "{}: {e}", peer.name()),
        other => panic!(
            "{}: expected a ping timeout error, got {other:?}",
            peer.name()
        ),
    }
    let why = within("close reason", session.close_reason()).await;
    assert_eq!(
        why,
        CloseReason::new(CloseCode::INTERNAL_ERROR, "ping timeout")
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
        "{}: ping timeout after {elapsed:?}",
        peer.name()
    );
}

macro_rules! peer_tests {
    ($($module:ident: $peer:expr, $tls:expr;)*) => {$(
        mod $module {
            use super::*;

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn echo_text_and_binary() {
                super::echo_text_and_binary($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn typed_json() {
                super::typed_json($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn typed_msgpack() {
                super::typed_msgpack($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn derived_envelopes() {
                super::derived_envelopes($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn subprotocol_header_and_query() {
                super::subprotocol_header_and_query($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn large_message() {
                super::large_message($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn peer_closes_with_4000() {
                super::peer_closes_with_4000($peer, $tls).await;
            }

            #[tokio::test]
            #[ignore = "needs peers: run scripts/test"]
            async fn unresponsive_peer_is_a_ping_timeout() {
                super::unresponsive_peer_is_a_ping_timeout($peer, $tls).await;
            }
        }
    )*};
}

peer_tests! {
    websockets_ws: Peer::Websockets, false;
    websockets_wss: Peer::Websockets, true;
    aiohttp_ws: Peer::Aiohttp, false;
    aiohttp_wss: Peer::Aiohttp, true;
    node_ws_ws: Peer::NodeWs, false;
    node_ws_wss: Peer::NodeWs, true;
}

// ---------------------------------------------------------------------------------------------
// Third-party clients against typed-ws's server accept side

/// What the typed-ws server saw of one session.
#[derive(Debug)]
struct Seen {
    path: String,
    header: Option<String>,
    subprotocol: Option<String>,
    close: CloseReason,
}

/// Runs a peer client script against a typed-ws server that echoes text and binary, answers a
/// JSON `Doc` with `Doc::transformed("typed-ws")`, closes with 4001 on "close please", and
/// reports each session; checks the script's verdict and both sessions.
async fn third_party_client(script_name: &str, name: &str) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::builder().subprotocols(["v1.json"]).build();
    let guard = ws_server(server, move |mut session: Session<Json>| {
        let tx = tx.clone();
        async move {
            let handshake = session.handshake().clone();
            while let Some(Ok(frame)) = session.receive().await {
                let sent = match &frame {
                    Frame::Text(text) if text == "close please" => {
                        let _ = session
                            .close(CloseReason::new(4001, "server says bye"))
                            .await;
                        break;
                    }
                    Frame::Text(text) if text.starts_with('{') => {
                        match session.converter().deserialize::<Doc>(&frame) {
                            Ok(doc) => session.send_serialized(&doc.transformed("typed-ws")).await,
                            Err(e) => session.send_text(format!("decode error: {e}")).await,
                        }
                    }
                    _ => session.send(frame).await,
                };
                if sent.is_err() {
                    break;
                }
            }
            let close = session.close_reason().await;
            let _ = tx.send(Seen {
                path: handshake.path().to_owned(),
                header: handshake.header("x-typed-ws").map(str::to_owned),
                subprotocol: handshake.subprotocol().map(str::to_owned),
                close,
            });
        }
    })
    .await;

    let command = peer_command(script_name);
    let mut command = tokio::process::Command::from(command);
    command
        .arg(format!("ws://{}", guard.addr))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = within(&format!("the {name} client"), command.output())
        .await
        .unwrap_or_else(|e| panic!("cannot run the {name} client: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "OK",
        "the {name} client failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );

    let first = within("first session report", rx.recv()).await.unwrap();
    assert_eq!(first.path, format!("/peer?name={name}"));
    assert_eq!(first.header.as_deref(), Some(name));
    assert_eq!(first.subprotocol.as_deref(), Some("v1.json"));
    assert_eq!(first.close, CloseReason::new(4001, "server says bye"));
    let second = within("second session report", rx.recv()).await.unwrap();
    assert_eq!(second.path, format!("/peer?name={name}-2"));
    assert_eq!(second.subprotocol, None);
    assert_eq!(second.close, CloseReason::new(4002, "client bye"));
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_client_against_typed_ws_server() {
    third_party_client("websockets_client.py", "websockets").await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn node_ws_client_against_typed_ws_server() {
    third_party_client("ws_client.js", "node-ws").await;
}
