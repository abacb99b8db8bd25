//! A chat protocol described once as an enum with `#[derive(Message)]`, spoken by a client and
//! by the server accept side, over JSON and over MessagePack, through typed sessions: each end
//! fixes its session to `Chat` once, and then sends payloads (`Say`, `Join`) and receives
//! `Chat` values with nothing to annotate.
//!
//! ```text
//! cargo run --example chat_protocol
//! ```

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{
    Client, CloseReason, ContentConverter, Frame, Json, Message, MessagePack, Session, TypedSession,
};

/// Someone enters a room.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Join {
    room: String,
    nick: String,
}

/// Someone says something.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Say {
    nick: String,
    text: String,
}

/// The whole protocol. On the wire (JSON): `{"type":"say","data":{"nick":"ann","text":"hi"}}`.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(rename_all = "snake_case")]
enum Chat {
    Join(Join),
    Say(Say),
    Welcome {
        members: u32,
    },
    Ping,
    /// Raw bytes in a Binary frame, outside the envelope.
    #[message(binary)]
    Avatar(Vec<u8>),
    /// Anything with a tag this version does not know.
    #[message(other)]
    Unknown {
        tag: String,
        frame: Frame,
    },
}

async fn serve<C: ContentConverter>(listener: TcpListener, server: Server<C>) {
    let _ = server
        .serve(listener, async |session: Session<C>| {
            let mut chat: TypedSession<Chat, Chat, Session<C>> = session.typed();
            let mut members = 0;
            while let Ok(message) = chat.receive().await {
                let reply = match message {
                    Chat::Join(join) => {
                        members += 1;
                        println!("  server: {} joined {}", join.nick, join.room);
                        Chat::Welcome { members }
                    }
                    Chat::Say(say) => Chat::Say(Say {
                        nick: "server".into(),
                        text: format!("{} said {:?}", say.nick, say.text),
                    }),
                    Chat::Avatar(bytes) => Chat::Say(Say {
                        nick: "server".into(),
                        text: format!("nice {}-byte avatar", bytes.len()),
                    }),
                    Chat::Unknown { tag, .. } => Chat::Say(Say {
                        nick: "server".into(),
                        text: format!("unknown message {tag:?}"),
                    }),
                    other => other,
                };
                if chat.send(reply).await.is_err() {
                    break;
                }
            }
        })
        .await;
}

async fn talk<C: ContentConverter>(
    name: &str,
    client: Client<C>,
    url: String,
) -> typed_ws::Result<()> {
    println!("{name}: tags {:?}", Chat::TAGS);
    let session = client.web_socket_session(url).await?;
    let mut chat: TypedSession<Chat, Chat, Session<C>> = session.typed();
    // a variant's payload goes in as it is: `Join` becomes `Chat::Join` through the derive's From
    chat.send(Join {
        room: "rust".into(),
        nick: "ann".into(),
    })
    .await?;
    println!("  client <- {:?}", chat.receive().await?);
    chat.send(Say {
        nick: "ann".into(),
        text: "hello".into(),
    })
    .await?;
    println!("  client <- {:?}", chat.receive().await?);
    for message in [Chat::Avatar(vec![0x89, b'P', b'N', b'G']), Chat::Ping] {
        println!("  client -> {message:?}");
        chat.send(message).await?;
        println!("  client <- {:?}", chat.receive().await?);
    }
    // a newer peer's message: this version routes it to `Unknown`
    chat.get_ref()
        .send_serialized(&serde_json::json!({"type": "typing", "data": {"nick": "bob"}}))
        .await?;
    println!("  client <- {:?}", chat.receive().await?);
    chat.close(CloseReason::normal("bye")).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> typed_ws::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let json_url = format!("ws://{}/chat", listener.local_addr()?);
    tokio::spawn(serve(listener, Server::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let msgpack_url = format!("ws://{}/chat", listener.local_addr()?);
    tokio::spawn(serve(
        listener,
        Server::builder().converter(MessagePack::default()).build(),
    ));

    talk(
        "JSON",
        Client::builder().converter(Json::default()).build(),
        json_url,
    )
    .await?;
    talk(
        "MessagePack",
        Client::builder().converter(MessagePack::default()).build(),
        msgpack_url,
    )
    .await?;
    Ok(())
}
