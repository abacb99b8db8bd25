//! typed-ws's server (`Server::serve`, with an origin check and a token hook) against real
//! third-party clients — Python `websockets` and Node `ws` — over ws:// and wss://. Accepted
//! clients talk typed JSON and see the hook's per-connection data; refused ones get the status
//! and body, never a 101.
//!
//! The peers are installed by `scripts/peers` into `target/peers` (or wherever
//! `TYPED_WS_PEERS` points), so every test here is `#[ignore]`d: run them with `scripts/test`,
//! or `cargo test -p typed-ws-tests --all-features --test server_interop -- --include-ignored`.
//! A missing peer fails the test with a message saying so.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use typed_ws::server::{Accepted, Refusal, Server};
use typed_ws::{ContentConverter, Frame, Session};
use typed_ws_tests::support::within;

fn peers_dir() -> PathBuf {
    match std::env::var_os("TYPED_WS_PEERS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers"),
    }
}

fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is missing ({} not found): run scripts/test, which installs the interop peers \
         with scripts/peers (or point TYPED_WS_PEERS at an installed peers folder)",
        path.display()
    );
}

/// The command running peer script `name` (`tests/peers/`) with its runtime.
fn peer_command(name: &str) -> tokio::process::Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name);
    let peers = peers_dir();
    let mut command = if name.ends_with(".py") {
        let python = peers.join("py/bin/python");
        require(&python, "the Python peer venv (websockets)");
        tokio::process::Command::new(python)
    } else {
        let modules = peers.join("node/node_modules");
        require(&modules.join("ws/package.json"), "the Node peer `ws`");
        let mut command = tokio::process::Command::new("node");
        command.env("NODE_PATH", modules);
        command
    };
    command.arg(script).stdin(Stdio::null()).kill_on_drop(true);
    command
}

#[derive(Debug, PartialEq)]
struct UserId(u64);

#[derive(Serialize, Deserialize)]
struct Num {
    n: i64,
}

#[derive(Serialize)]
struct Greeting {
    user: u64,
}

/// The server under test: subprotocol v1.json, one allowed origin, a token in the query.
fn app_server() -> Server {
    Server::builder()
        .subprotocols(["v1.json"])
        .allowed_origins(["https://app.example.com"])
        .before_upgrade(|request| match request.query_param("token").as_deref() {
            Some("t7") => Ok(Accepted::new().data(UserId(7))),
            _ => Err(Refusal::unauthorized("a token is required")),
        })
        .build()
}

/// Greets with the user id, answers `{"n": x}` with `{"n": x + 1}`, echoes binary.
async fn app(mut session: Session) {
    let user = session.handshake().data::<UserId>().map_or(0, |u| u.0);
    if session.send_serialized(&Greeting { user }).await.is_err() {
        return;
    }
    while let Some(Ok(frame)) = session.receive().await {
        let sent = match &frame {
            Frame::Text(_) => match session.converter().deserialize::<Num>(&frame) {
                Ok(num) => session.send_serialized(&Num { n: num.n + 1 }).await,
                Err(e) => session.send_text(format!("decode error: {e}")).await,
            },
            _ => session.send(frame).await,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Serves `app_server` (over TLS when `tls`), runs the peer client script against it, checks it
/// printed OK, then shuts the server down gracefully.
async fn run_client(script: &str, tls: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let scratch = tempdir(script, tls);
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = app_server()
        .serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    let (serve, url, ca) = if tls {
        let certificate = typed_ws_examples::tls::self_signed().expect("certificate");
        let ca = scratch.join("ca.pem");
        std::fs::write(&ca, &certificate.cert_pem).expect("write the certificate");
        let config = Arc::clone(certificate.acceptor.config());
        (
            serve.rustls(config),
            format!("wss://localhost:{port}"),
            Some(ca),
        )
    } else {
        (serve, format!("ws://127.0.0.1:{port}"), None)
    };
    let server = tokio::spawn(serve.into_future());

    let mut command = peer_command(script);
    command.arg(&url);
    if let Some(ca) = &ca {
        command.arg(ca);
    }
    let output = within(&format!("the {script} client"), command.output())
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "OK",
        "{script} against {url} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let _ = stop.send(());
    within("serve to return", server)
        .await
        .expect("serve task")
        .expect("serve");
    let _ = std::fs::remove_dir_all(&scratch);
}

fn tempdir(script: &str, tls: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "server-interop-{script}-{tls}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_client_ws() {
    run_client("typed_server_client.py", false).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_client_wss() {
    run_client("typed_server_client.py", true).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn node_ws_client_ws() {
    run_client("typed_server_client.js", false).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn node_ws_client_wss() {
    run_client("typed_server_client.js", true).await;
}

// ---------------------------------------------------------------------------------------------
// Malformed upgrades: typed-ws's answers next to Python websockets' and Node ws's
// (docs/CONFORMANCE.md; print the table with `-- --nocapture`)

/// The malformed requests, each with the status typed-ws answers.
fn malformed_requests() -> Vec<(&'static str, Vec<u8>, u16)> {
    let valid = "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let without = |name: &str| -> String {
        valid
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with(name))
            .collect()
    };
    let get = |headers: &str| format!("GET /echo HTTP/1.1\r\n{headers}\r\n").into_bytes();
    let many = |count: usize| {
        let extra: String = (0..count).map(|i| format!("X-H{i}: v\r\n")).collect();
        get(&format!("{valid}{extra}"))
    };
    let big = |bytes: usize| get(&format!("{valid}X-Big: {}\r\n", "a".repeat(bytes)));
    vec![
        (
            "plain GET (no upgrade headers)",
            get("Host: 127.0.0.1\r\n"),
            426,
        ),
        ("no `Upgrade: websocket`", get(&without("Upgrade:")), 426),
        (
            "no `Connection: Upgrade`",
            get(&without("Connection:")),
            400,
        ),
        (
            "no Sec-WebSocket-Key",
            get(&without("Sec-WebSocket-Key")),
            400,
        ),
        (
            "Sec-WebSocket-Key not 16 bytes",
            get(&format!(
                "{}Sec-WebSocket-Key: c2hvcnQ=\r\n",
                without("Sec-WebSocket-Key")
            )),
            400,
        ),
        (
            "no Sec-WebSocket-Version",
            get(&without("Sec-WebSocket-Version")),
            400,
        ),
        (
            "Sec-WebSocket-Version: 8",
            get(&valid.replace("Version: 13", "Version: 8")),
            426,
        ),
        ("no Host", get(&without("Host")), 400),
        (
            "POST",
            format!("POST /echo HTTP/1.1\r\n{valid}\r\n").into_bytes(),
            405,
        ),
        (
            "HTTP/1.0",
            format!("GET /echo HTTP/1.0\r\n{valid}\r\n").into_bytes(),
            505,
        ),
        (
            "HTTP/2.0 in the request line",
            format!("GET /echo HTTP/2.0\r\n{valid}\r\n").into_bytes(),
            505,
        ),
        (
            "not HTTP (TLS-like bytes)",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
        ),
        ("200 headers", many(200), 431),
        ("10,000 headers", many(10_000), 431),
        ("one 64 KiB header", big(64 << 10), 431),
        ("1 MiB of headers", big(1 << 20), 431),
        (
            "100 KiB request line",
            format!("GET /{} HTTP/1.1\r\n{valid}\r\n", "a".repeat(100 << 10)).into_bytes(),
            414,
        ),
    ]
}

/// Sends `request` (written concurrently, so an early answer is not lost to our own write
/// failing) and describes what came back: the status, and whether the server closed.
async fn probe(port: u16, request: Vec<u8>) -> (Option<u16>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = within(
        "connect",
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .expect("connect");
    let (mut read, mut write) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    // a bounded measurement window: a server that neither answers nor closes is reported so
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        loop {
            match read.read(&mut chunk).await {
                Ok(0) => return "closed",
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(_) => return "reset",
            }
        }
    })
    .await
    .unwrap_or("kept open");
    writer.abort();
    let text = String::from_utf8_lossy(&got);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    let description = match status {
        Some(status) => format!("{status}, {outcome}"),
        None if got.is_empty() => format!("no answer, {outcome}"),
        None => format!("non-HTTP bytes, {outcome}"),
    };
    (status, description)
}

/// A peer server printing its port on its first line of stdout; killed by PID on drop.
struct PeerProcess {
    _child: tokio::process::Child,
}

async fn start_peer(script: &str) -> (PeerProcess, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = peer_command(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the peer server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = within(&format!("{script} to print its port"), lines.next_line())
        .await
        .expect("read the port")
        .expect("the peer exited before printing its port");
    let port = line.trim().parse().expect("a port number");
    (PeerProcess { _child: child }, port)
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn malformed_upgrades_next_to_python_websockets_and_node_ws() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ours = listener.local_addr().expect("addr").port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::new()
            .serve(listener, typed_ws_tests::support::echo)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let (python, python_port) = start_peer("websockets_server.py").await;
    let (node, node_port) = start_peer("ws_server.js").await;

    println!("| request | typed-ws | Python websockets 15 | Node ws 8 |");
    println!("|---|---|---|---|");
    for (what, request, want) in malformed_requests() {
        let (status, typed) = probe(ours, request.clone()).await;
        let (_, py) = probe(python_port, request.clone()).await;
        let (_, js) = probe(node_port, request).await;
        println!("| {what} | {typed} | {py} | {js} |");
        assert_eq!(status, Some(want), "typed-ws's answer to {what}: {typed}");
        assert!(
            typed.ends_with("closed"),
            "typed-ws closes after {what}: {typed}"
        );
    }
    let _ = stop.send(());
    within("serve to return", server)
        .await
        .expect("serve task")
        .expect("serve");
    drop((python, node));
}
