//! Interop with permessage-deflate negotiated: typed-ws's client against Python `websockets`
//! and Node `ws` servers, and their clients against typed-ws's server, with context takeover on
//! and off and several window sizes (`tests/peers/deflate_peer.{py,js}`).
//!
//! The peers are installed by `scripts/peers` into `target/peers` (or `TYPED_WS_PEERS`), so the
//! tests are `#[ignore]`d like those of `interop.rs`: `cargo test -p typed-ws-tests --test
//! deflate_interop -- --include-ignored`. A missing peer fails the test, naming it.

use std::time::Duration;
use typed_ws::server::Server;

use typed_ws::{Client, Compression, Frame, Session};
use typed_ws_tests::support::within;

/// A JSON-ish text that compresses well.
fn json_text(len: usize) -> String {
    let mut text = String::from("[");
    let mut i = 0;
    while text.len() < len {
        text.push_str(&format!(
            r#"{{"id":{i},"user":"user-{}","text":"hello from the typed-ws deflate test","ok":true}},"#,
            i % 7
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

/// Peer options: no-context-takeover both ways, and the window bits both ways (`None`: the
/// peer's defaults).
const PEER_SETUPS: [(bool, Option<u8>); 3] = [(false, None), (true, Some(10)), (false, Some(9))];

fn peer_args(no_context_takeover: bool, bits: Option<u8>) -> Vec<String> {
    let mut args = Vec::new();
    if no_context_takeover {
        args.push("--no-context-takeover".to_owned());
    }
    if let Some(bits) = bits {
        args.push("--max-window-bits".to_owned());
        args.push(bits.to_string());
    }
    args
}

/// The program and leading arguments that run `tests/peers/deflate_peer.{py,js}`.
fn deflate_peer(node: bool) -> (std::path::PathBuf, Vec<String>) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(if node {
        "peers/deflate_peer.js"
    } else {
        "peers/deflate_peer.py"
    });
    if node {
        let modules = typed_ws_tests::support::peer("node/node_modules/ws/package.json");
        let modules = modules
            .ancestors()
            .nth(2)
            .expect("node_modules")
            .display()
            .to_string();
        (
            "env".into(),
            vec![
                format!("NODE_PATH={modules}"),
                "node".into(),
                script.display().to_string(),
            ],
        )
    } else {
        (
            typed_ws_tests::support::peer("py/bin/python"),
            vec![script.display().to_string()],
        )
    }
}

/// Messages both sides can check: small, JSON, repeated, 1 MiB, binary.
fn interop_messages() -> Vec<Frame> {
    let json = json_text(100_000);
    vec![
        Frame::Text("hi".into()),
        Frame::Text(json.clone().into()),
        Frame::Text(json.into()),
        Frame::Text("x".repeat(1 << 20).into()),
        Frame::Binary(
            (0..300_000u32)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<_>>()
                .into(),
        ),
    ]
}

/// typed-ws's client against the peer's echo server. The client releases its deflate state
/// 20 ms into every pause between messages, so each message after the first is compressed and
/// inflated by state rebuilt from the window, against a peer that kept its own.
async fn client_against_peer_server(node: bool) {
    for (reset, bits) in PEER_SETUPS {
        let (program, mut args) = deflate_peer(node);
        args.push("server".into());
        args.extend(peer_args(reset, bits));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_child, port) = typed_ws_tests::support::spawn_peer(&program, &args);
        let client = Client::builder()
            .ping_interval(None)
            .compression(Compression::default().idle_release(Some(Duration::from_millis(20))))
            .build();
        let mut session = within(
            "connect",
            client.web_socket_session(format!("ws://127.0.0.1:{port}/")),
        )
        .await
        .unwrap();
        let negotiated = session
            .handshake()
            .compression()
            .unwrap_or_else(|| panic!("no compression with {reset} {bits:?}"))
            .clone();
        assert_eq!(
            negotiated.server_no_context_takeover(),
            reset,
            "{negotiated:?}"
        );
        assert_eq!(
            negotiated.client_no_context_takeover(),
            reset,
            "{negotiated:?}"
        );
        if let Some(bits) = bits {
            assert_eq!(negotiated.server_max_window_bits(), bits, "{negotiated:?}");
            assert_eq!(negotiated.client_max_window_bits(), bits, "{negotiated:?}");
        }
        for frame in interop_messages() {
            within("send", session.send(frame.clone())).await.unwrap();
            let echo = within("echo", session.receive())
                .await
                .expect("an echo")
                .unwrap();
            assert!(echo == frame, "echo differs ({reset} {bits:?})");
            tokio::time::sleep(Duration::from_millis(80)).await;
        }
        within(
            "close",
            session.close(typed_ws::CloseReason::normal("done")),
        )
        .await
        .unwrap();
    }
}

/// The peer's client against typed-ws's echo server.
async fn peer_client_against_server(node: bool) {
    for (reset, bits) in PEER_SETUPS {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = typed_ws_tests::support::ws_server(
            Server::builder().ping_interval(None).build(),
            move |session: Session| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(session.handshake().compression().cloned());
                    typed_ws_tests::support::echo(session).await;
                }
            },
        )
        .await;
        let (program, mut args) = deflate_peer(node);
        args.push("client".into());
        args.push(server.url("/"));
        args.extend(peer_args(reset, bits));
        let mut command = tokio::process::Command::new(&program);
        command
            .args(&args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = within("the peer client", command.output()).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success()
                && stdout.starts_with("OK ")
                && stdout.contains("permessage-deflate"),
            "peer client failed ({reset} {bits:?}): {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let negotiated = within("session report", rx.recv())
            .await
            .flatten()
            .unwrap_or_else(|| panic!("server session not compressed ({reset} {bits:?})"));
        assert_eq!(
            negotiated.server_no_context_takeover(),
            reset,
            "{negotiated:?}"
        );
        assert_eq!(
            negotiated.client_no_context_takeover(),
            reset,
            "{negotiated:?}"
        );
        if let Some(bits) = bits {
            assert_eq!(negotiated.server_max_window_bits(), bits, "{negotiated:?}");
            assert_eq!(negotiated.client_max_window_bits(), bits, "{negotiated:?}");
        }
    }
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_server_with_compression() {
    client_against_peer_server(false).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_client_with_compression() {
    peer_client_against_server(false).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn node_ws_server_with_compression() {
    client_against_peer_server(true).await;
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn node_ws_client_with_compression() {
    peer_client_against_server(true).await;
}
