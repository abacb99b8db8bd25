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

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, ContentConverter, Frame, Json, MessagePack};

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

/// Accepts sessions on `listener` with `server` and answers every `Question` with an `Answer`.
async fn serve<C: ContentConverter>(listener: TcpListener, server: Server<C>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(mut session) = server.accept(tcp).await else {
                return;
            };
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
                        println!("  server: skipped a frame it could not decode: {e}")
                    }
                    Err(_) => break,
                }
            }
            println!("  server: session ended: {}", session.close_reason().await);
        });
    }
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
async fn main() -> typed_ws::Result<()> {
    let json_listener = TcpListener::bind("127.0.0.1:0").await?;
    let json_url = format!("ws://{}/json", json_listener.local_addr()?);
    tokio::spawn(serve(
        json_listener,
        Server::builder().converter(Json::default()).build(),
    ));

    let msgpack_listener = TcpListener::bind("127.0.0.1:0").await?;
    let msgpack_url = format!("ws://{}/msgpack", msgpack_listener.local_addr()?);
    tokio::spawn(serve(
        msgpack_listener,
        Server::builder().converter(MessagePack::default()).build(),
    ));

    converse("JSON (Text frames)", Client::new(), json_url).await?;
    converse(
        "MessagePack (Binary frames)",
        Client::builder().converter(MessagePack::default()).build(),
        msgpack_url,
    )
    .await?;
    // let the server tasks print their side before exiting
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}
