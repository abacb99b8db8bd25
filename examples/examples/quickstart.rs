//! The quick start: an embedded loopback server and a typed conversation, nothing to install.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It starts a typed-ws server on 127.0.0.1 (a random port), then opens two client sessions:
//! one speaking JSON (Text frames), one speaking MessagePack (Binary frames). Each end fixes
//! its session to the types it speaks (`session.typed()`: the client sends `Question` and
//! receives `Answer`, the server the other way round), the client sends a few questions, the
//! server answers each, and both sides print how the session closed.

use std::future::IntoFuture;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use typed_ws::server::Server;
use typed_ws::{
    Client, CloseReason, ContentConverter, Frame, Json, MessagePack, Session, TypedSession,
};

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
async fn answer<C: ContentConverter>(session: Session<C>) {
    let mut session: TypedSession<Answer, Question, Session<C>> = session.typed();
    loop {
        match session.receive().await {
            Ok(q) => {
                let answer = Answer {
                    id: q.id,
                    words: q.text.split_whitespace().count(),
                    text: format!("you asked {:?}", q.text),
                };
                if session.send(answer).await.is_err() {
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
    let session = client.web_socket_session(url).await?;
    let mut session: TypedSession<Question, Answer, Session<C>> = session.typed();
    let questions = ["what is typed-ws", "is it fast", "does it close cleanly"];
    for (id, text) in (1..).zip(questions) {
        let question = Question {
            id,
            text: text.into(),
        };
        println!("  client -> {question:?}");
        session.send(question).await?;
        let answer = session.receive().await?;
        println!("  client <- {answer:?}");
    }
    // a frame the server cannot decode: a per-message error on its side, the session lives on
    // (the typed session's `get_ref()` is the session underneath, for frames of any kind)
    let wrong_kind = match session.get_ref().converter().serialize(&1u8)? {
        Frame::Text(_) => Frame::Binary(vec![0xc1].into()),
        _ => Frame::Text("not messagepack".into()),
    };
    session.get_ref().send(wrong_kind).await?;
    session
        .send(Question {
            id: 99,
            text: "still there?".into(),
        })
        .await?;
    let answer = session.receive().await?;
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
