//! `#[derive(Message)]` protocols over real sessions: every variant kind under JSON and
//! MessagePack through typed-ws's own server, the typed stream, and a Python peer that decodes
//! and produces the documented envelope.

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{Client, ContentConverter, ErrorKind, Frame, Json, Message, MessagePack};
use typed_ws_tests::support::{peer, spawn_peer, within, ws_server};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Join {
    room: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Say {
    text: String,
}

/// The chat protocol both ends share.
#[derive(typed_ws::Message, Debug, PartialEq, Clone)]
#[message(rename_all = "snake_case")]
enum Chat {
    Join(Join),
    Say(Say),
    Move {
        x: i32,
        y: i32,
    },
    Ping,
    #[message(binary)]
    Upload(Bytes),
    #[message(other)]
    Unknown {
        tag: String,
        frame: Frame,
    },
}

/// A gateway-style protocol: custom tag and content names.
#[derive(typed_ws::Message, Debug, PartialEq)]
#[message(tag = "op", content = "d")]
enum Gateway {
    #[message(rename = "hello")]
    Hello { interval: u32 },
    #[message(rename = "heartbeat")]
    Heartbeat(u64),
}

async fn echo_server<C: ContentConverter + Clone>(converter: C) -> typed_ws_tests::support::Guard {
    ws_server(
        Server::builder().converter(converter).build(),
        |mut session| async move {
            loop {
                match session.receive_message::<Chat>().await {
                    Ok(message) => {
                        if session.send_message::<Chat>(message).await.is_err() {
                            break;
                        }
                    }
                    Err(e) if e.is_decode() => {}
                    Err(_) => break,
                }
            }
        },
    )
    .await
}

fn every_variant() -> Vec<Chat> {
    vec![
        Chat::Join(Join {
            room: "rust".into(),
        }),
        Chat::Say(Say {
            text: "héllo".into(),
        }),
        Chat::Move { x: -1, y: 2 },
        Chat::Ping,
        Chat::Upload(Bytes::from_static(&[0, 1, 2, 255])),
    ]
}

async fn round_trip<C: ContentConverter + Clone>(converter: C) {
    let server = echo_server(converter.clone()).await;
    let client = Client::builder().converter(converter).build();
    let mut session = within("connect", client.web_socket_session(server.url("/chat")))
        .await
        .unwrap();
    // From<Payload> is generated for newtype variants
    session
        .send_message::<Chat>(Say {
            text: "via From".into(),
        })
        .await
        .unwrap();
    let echoed: Chat = within("echo", session.receive_message()).await.unwrap();
    assert_eq!(
        echoed,
        Chat::Say(Say {
            text: "via From".into()
        })
    );
    for message in every_variant() {
        session.send_message::<Chat>(message.clone()).await.unwrap();
    }
    let got: Vec<Chat> = within(
        "typed stream",
        session
            .message_stream::<Chat>()
            .take(5)
            .map(|r| r.unwrap())
            .collect(),
    )
    .await;
    assert_eq!(got, every_variant());
}

#[tokio::test]
async fn every_variant_round_trips_over_json() {
    round_trip(Json::default()).await;
}

#[tokio::test]
async fn every_variant_round_trips_over_messagepack() {
    round_trip(MessagePack::default()).await;
    round_trip(MessagePack::compact()).await;
}

#[tokio::test]
async fn unknown_tags_reach_other_and_undecodable_frames_are_per_message_errors() {
    let server = ws_server(Server::new(), |session| async move {
        session
            .send_text(r#"{"type":"leave","data":{"why":"bye"}}"#)
            .await
            .unwrap();
        session
            .send_text(r#"{"type":"say","data":{"nope":1}}"#)
            .await
            .unwrap();
        session.send_text(r#"{"type":"ping"}"#).await.unwrap();
        let _ = session.close_reason().await;
    })
    .await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let Chat::Unknown { tag, frame } = within("other", session.receive_message::<Chat>())
        .await
        .unwrap()
    else {
        panic!("expected the other variant")
    };
    assert_eq!(tag, "leave");
    assert!(frame.read_text().is_some_and(|t| t.contains("bye")));
    let err = within("bad say", session.receive_message::<Chat>())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.frame().is_some());
    assert_eq!(
        within("ping", session.receive_message::<Chat>())
            .await
            .unwrap(),
        Chat::Ping
    );
    // without an `other` variant an unknown tag names itself and the known ones
    session.send_text("x").await.ok();
    let gateway = Gateway::decode(
        &Json::default(),
        &Frame::Text(r#"{"op":"dispatch","d":1}"#.into()),
    );
    let err = gateway.unwrap_err().to_string();
    assert!(
        err.contains("dispatch") && err.contains("hello") && err.contains("heartbeat"),
        "{err}"
    );
}

#[test]
fn documented_wire_shapes() {
    let json = Json::default();
    let text = |m: &Chat| m.encode(&json).unwrap().read_text().map(str::to_owned);
    assert_eq!(
        text(&Chat::Say(Say { text: "hi".into() })).as_deref(),
        Some(r#"{"type":"say","data":{"text":"hi"}}"#)
    );
    assert_eq!(
        text(&Chat::Move { x: 1, y: 2 }).as_deref(),
        Some(r#"{"type":"move","data":{"x":1,"y":2}}"#)
    );
    assert_eq!(text(&Chat::Ping).as_deref(), Some(r#"{"type":"ping"}"#));
    let hello = Gateway::Hello { interval: 41250 }.encode(&json).unwrap();
    assert_eq!(
        hello.read_text(),
        Some(r#"{"op":"hello","d":{"interval":41250}}"#)
    );
    assert_eq!(Chat::TAGS, ["join", "say", "move", "ping"]);
    assert_eq!(Gateway::TAGS, ["hello", "heartbeat"]);
    assert!(matches!(
        Chat::Upload(Bytes::from_static(b"x"))
            .encode(&json)
            .unwrap(),
        Frame::Binary(_)
    ));
}

/// Decodes our envelope with the peer's own JSON / msgpack libraries and answers with an
/// envelope it builds itself: `say` → `say` with the text upper-cased, `move` → `move` mirrored.
const PYTHON_PEER: &str = r#"
import asyncio, json, msgpack
from websockets.asyncio.server import serve

def answer(envelope):
    kind, data = envelope["type"], envelope.get("data")
    if kind == "say":
        return {"type": "say", "data": {"text": data["text"].upper()}}
    if kind == "move":
        return {"type": "move", "data": {"x": -data["x"], "y": -data["y"]}}
    return {"type": "ping"}

async def handler(ws):
    async for message in ws:
        if isinstance(message, str):
            await ws.send(json.dumps(answer(json.loads(message))))
        else:
            await ws.send(msgpack.packb(answer(msgpack.unpackb(message))))

async def main():
    async with serve(handler, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"#;

async fn python_round_trip<C: ContentConverter>(client: Client<C>, url: &str) {
    let mut session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    session
        .send_message::<Chat>(Say {
            text: "hi there".into(),
        })
        .await
        .unwrap();
    let reply: Chat = within("say", session.receive_message()).await.unwrap();
    assert_eq!(
        reply,
        Chat::Say(Say {
            text: "HI THERE".into()
        })
    );
    session
        .send_message::<Chat>(Chat::Move { x: 3, y: -4 })
        .await
        .unwrap();
    let reply: Chat = within("move", session.receive_message()).await.unwrap();
    assert_eq!(reply, Chat::Move { x: -3, y: 4 });
    session.send_message::<Chat>(Chat::Ping).await.unwrap();
    assert_eq!(
        within("ping", session.receive_message::<Chat>())
            .await
            .unwrap(),
        Chat::Ping
    );
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_peer_decodes_and_produces_the_envelope_in_json_and_messagepack() {
    let (_peer, port) = spawn_peer(&peer("py/bin/python"), &["-c", PYTHON_PEER]);
    let url = format!("ws://127.0.0.1:{port}/");
    python_round_trip(Client::new(), &url).await;
    python_round_trip(
        Client::builder().converter(MessagePack::default()).build(),
        &url,
    )
    .await;
}
