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
