//! A chat room: one server broadcasting to every member, clients that fix their session to
//! `Line` (`typed()`) and split it into a cloneable `TypedSender` (used from several tasks) and
//! a `TypedReceiver`. The server receives typed lines and broadcasts each as one frame,
//! serialized once, through the members' untyped `Sender`s.
//!
//! ```text
//! cargo run --example chat
//! ```

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Sender, Session, TypedReceiver, TypedSession};

/// Everything said in the room.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Line {
    from: String,
    text: String,
}

type Members = Arc<Mutex<Vec<Sender>>>;

async fn room(listener: TcpListener) -> std::io::Result<()> {
    let members: Members = Arc::default();
    Server::new()
        .serve(listener, move |session: Session| {
            let members = Arc::clone(&members);
            async move {
                let (tx, rx) = session.split();
                members.lock().map(|mut m| m.push(tx)).ok();
                let mut rx: TypedReceiver<Line> = rx.typed_receiver();
                while let Ok(line) = rx.receive().await {
                    // serialize once, send the same frame to everyone
                    let everyone: Vec<Sender> =
                        members.lock().map(|m| m.clone()).unwrap_or_default();
                    let Ok(frame) =
                        typed_ws::ContentConverter::serialize(&*rx.get_ref().converter(), &line)
                    else {
                        continue;
                    };
                    for member in everyone {
                        let _ = member.send(frame.clone()).await;
                    }
                }
            }
        })
        .await
}

#[tokio::main]
async fn main() -> typed_ws::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/room", listener.local_addr()?);
    tokio::spawn(room(listener));

    let client = Client::new();
    let ann: TypedSession<Line> = client.web_socket_session(&url).await?.typed();
    let bob: TypedSession<Line> = client.web_socket_session(&url).await?.typed();
    let (ann_tx, mut ann_rx) = ann.split();
    let (bob_tx, bob_rx) = bob.split();

    // two tasks share Ann's sender; Bob says something too
    let mut tasks = Vec::new();
    for topic in ["weather", "lunch"] {
        let tx = ann_tx.clone();
        tasks.push(tokio::spawn(async move {
            tx.send(Line {
                from: "ann".into(),
                text: format!("about {topic}"),
            })
            .await
        }));
    }
    bob_tx
        .send(Line {
            from: "bob".into(),
            text: "hello all".into(),
        })
        .await?;
    for task in tasks {
        task.await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
    }

    for _ in 0..3 {
        let line = ann_rx.receive().await?;
        println!("ann's screen: <{}> {}", line.from, line.text);
    }
    ann_tx.close(CloseReason::normal("bye")).await?;
    println!("ann left: {}", ann_rx.close_reason().await);
    drop(bob_rx);
    bob_tx.close(CloseReason::going_away("bob too")).await?;
    println!("bob left: {}", bob_tx.close_reason().await);
    Ok(())
}
