//! The quick start: an embedded loopback server and a typed conversation, nothing to install.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts a typed-ws server on 127.0.0.1 (a random port), then opens two client sessions:
//! one speaking JSON (Text frames), one speaking MessagePack (Binary frames). Each sends a few
//! structs, the server answers each with a typed reply, and both sides print how the session
//! closed.

use std::future::IntoFuture;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, ContentConverter, Frame, Json, MessagePack, Session};

/// What the client says.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Question {
    id: u32,
    text: String,
}

/// What the server answers.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Answer {
    id: u32,
    text: String,
    words: usize,
}

/// Answers every `Question` of one session with an `Answer`.
async fn answer<C: ContentConverter>(mut session: Session<C>) {
    loop {
        match session.receive_deserialized::<Question>().await {
            Ok(q) => {
                let answer = Answer {
                    id: q.id,
                    words: q.text.split_whitespace().count(),
                    text: format!("you asked {:?}", q.text),
                };
                if session.send_serialized(&answer).await.is_err() {
                    break;
                }
            }
            Err(e) if e.is_decode() => {
                println!("  server: skipped a frame it could not decode: {e:#}")
            }
            Err(_) => break,
        }
    }
    println!("  server: session ended: {}", session.close_reason().await);
}

/// Serves `server` on a loopback port until `stop` fires; returns the URL and the running
/// loop (which returns once every session has ended).
async fn start<C: ContentConverter>(
    server: Server<C>,
    path: &str,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<(String, JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}{path}", listener.local_addr()?);
    let serve = server
        .serve(listener, answer)
        .with_graceful_shutdown(async move {
            let _ = stop.await;
        });
    Ok((url, tokio::spawn(serve.into_future())))
}

/// Runs one typed conversation with the server at `url`.
async fn converse<C: ContentConverter>(
    name: &str,
    client: Client<C>,
    url: String,
) -> typed_ws::Result<()> {
    println!("{name} session to {url}");
    let mut session = client.web_socket_session(url).await?;
    let questions = ["what is typed-ws", "is it fast", "does it close cleanly"];
    for (id, text) in (1..).zip(questions) {
        let question = Question {
            id,
            text: text.into(),
        };
        session.send_serialized(&question).await?;
        println!("  client -> {question:?}");
        let answer: Answer = session.receive_deserialized().await?;
        println!("  client <- {answer:?}");
    }
    // a frame the server cannot decode: a per-message error on its side, the session lives on
    let wrong_kind = match session.converter().serialize(&1u8)? {
        Frame::Text(_) => Frame::Binary(vec![0xc1].into()),
        _ => Frame::Text("not messagepack".into()),
    };
    session.send(wrong_kind).await?;
    session
        .send_serialized(&Question {
            id: 99,
            text: "still there?".into(),
        })
        .await?;
    let answer: Answer = session.receive_deserialized().await?;
    println!("  client <- {answer:?}");
    session.close(CloseReason::normal("done")).await?;
    println!("  client: session closed: {}", session.close_reason().await);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (stop_json, json_stop) = oneshot::channel();
    let json = Server::builder().converter(Json::default()).build();
    let (json_url, json_server) = start(json, "/json", json_stop).await?;

    let (stop_msgpack, msgpack_stop) = oneshot::channel();
    let msgpack = Server::builder().converter(MessagePack::default()).build();
    let (msgpack_url, msgpack_server) = start(msgpack, "/msgpack", msgpack_stop).await?;

    converse("JSON (Text frames)", Client::new(), json_url).await?;
    converse(
        "MessagePack (Binary frames)",
        Client::builder().converter(MessagePack::default()).build(),
        msgpack_url,
    )
    .await?;
    // graceful shutdown: each loop returns once its sessions have ended (and printed)
    let _ = stop_json.send(());
    let _ = stop_msgpack.send(());
    json_server.await??;
    msgpack_server.await??;
    Ok(())
}
