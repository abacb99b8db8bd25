//! Every attribute and variant kind together, used the way sessions use them.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use typed_ws_converters::{ContentConverter, Frame, Json, Message, MessagePack};
use typed_ws_macros::Message;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Join {
    room: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Say {
    text: String,
}

mod protocol {
    use super::*;

    #[derive(Message, Debug, Clone, PartialEq)]
    #[message(crate = "::typed_ws_converters::__derive")]
    #[message(tag = "op", content = "d", rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum Chat {
        Join(Join),
        #[message(rename = "chat.say")]
        Say(Say),
        MoveTo { x: i32, r#type: u8 },
        Pair(u8, String),
        Ping,
        Empty {},
        Nothing(),
        #[message(binary)]
        Upload(Vec<u8>),
        #[message(text)]
        Raw(String),
        #[message(other)]
        Unknown(Frame),
    }
}

use protocol::Chat;

/// Generated code must not pick up the user's names for std and private items.
#[allow(dead_code)]
mod shadowed {
    struct Result;
    struct Option;
    struct String;
    struct Frame;
    struct Clone;
    struct From;
    struct Bytes;
    struct Some;
    struct Ok;
    struct __TypedWsProtocol;
    mod serde {}
    mod core {}

    #[derive(typed_ws_macros::Message)]
    #[message(crate = "::typed_ws_converters::__derive")]
    pub enum Shadowed {
        Ping,
        Move { x: i32 },
        #[message(binary)]
        Upload(Vec<u8>),
        #[message(text)]
        Raw(std::string::String),
        #[message(other)]
        Unknown { tag: std::string::String, frame: typed_ws_converters::Frame },
    }
}

#[derive(Message, Debug, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", tag = "type")]
enum Internal {
    Say(Say),
    Map(std::collections::BTreeMap<std::string::String, u8>),
    Boxed(Box<Join>),
    Unit,
}

/// What a session does: `send_message(value)` is `M::encode(&value.into(), &converter)`.
fn send<M: Message, C: ContentConverter>(converter: &C, value: impl Into<M>) -> Frame {
    value.into().encode(converter).unwrap()
}

fn main() {
    let json = Json::default();
    let frame = send::<Chat, _>(&json, Say { text: "hi".into() });
    assert_eq!(frame.read_text(), Some(r#"{"op":"chat.say","d":{"text":"hi"}}"#));
    let frame = send::<Chat, _>(&json, Join { room: "r".into() });
    assert_eq!(frame.read_text(), Some(r#"{"op":"JOIN","d":{"room":"r"}}"#));
    let frame = Chat::MoveTo { x: 1, r#type: 2 }.encode(&json).unwrap();
    assert_eq!(frame.read_text(), Some(r#"{"op":"MOVE_TO","d":{"x":1,"type":2}}"#));
    assert_eq!(Chat::decode(&json, &frame).unwrap(), Chat::MoveTo { x: 1, r#type: 2 });
    assert_eq!(Chat::TAGS, ["JOIN", "chat.say", "MOVE_TO", "PAIR", "PING", "EMPTY", "NOTHING"]);
    let frame = Chat::Empty {}.encode(&json).unwrap();
    assert_eq!(frame.read_text(), Some(r#"{"op":"EMPTY","d":{}}"#));
    assert_eq!(Chat::decode(&json, &frame).unwrap(), Chat::Empty {});
    let frame = Chat::Nothing().encode(&json).unwrap();
    assert_eq!(Chat::decode(&json, &frame).unwrap(), Chat::Nothing());

    let msgpack = MessagePack::default();
    for message in [
        Chat::Pair(1, "p".into()),
        Chat::Ping,
        Chat::Empty {},
        Chat::Nothing(),
        Chat::Upload(vec![1, 2]),
        Chat::Raw("text".into()),
    ] {
        let frame = message.encode(&msgpack).unwrap();
        assert_eq!(Chat::decode(&msgpack, &frame).unwrap(), message);
    }
    let unknown = Frame::Text(r#"{"op":"LEAVE"}"#.into());
    assert_eq!(Chat::decode(&json, &unknown).unwrap(), Chat::Unknown(unknown.clone()));
    assert_eq!(Chat::from(Bytes::from_static(b"x").to_vec()), Chat::Upload(vec![b'x']));

    let mut map = std::collections::BTreeMap::new();
    let _ = map.insert("a".to_owned(), 1);
    for message in [
        Internal::Say(Say { text: "s".into() }),
        Internal::Map(map),
        Internal::Boxed(Box::new(Join { room: "b".into() })),
        Internal::Unit,
    ] {
        let frame = message.encode(&json).unwrap();
        assert_eq!(Internal::decode(&json, &frame).unwrap(), message);
    }
    let frame = Internal::Boxed(Box::new(Join { room: "b".into() })).encode(&json).unwrap();
    assert_eq!(frame.read_text(), Some(r#"{"type":"Boxed","room":"b"}"#));
}
