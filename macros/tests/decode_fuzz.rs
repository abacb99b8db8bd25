//! Decoding arbitrary frames into derived enums never panics, and whatever decodes re-encodes
//! to a frame that decodes to the same value.

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use typed_ws_converters::{ContentConverter, Frame, Json, Message, MessagePack};
use typed_ws_macros::Message;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Say {
    text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Join {
    room: String,
    #[serde(default)]
    users: Vec<u32>,
}

#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", rename_all = "snake_case")]
enum Chat {
    Join(Join),
    Say(Say),
    Move {
        x: i32,
        y: i32,
    },
    Pair(u8, String),
    Ping,
    #[message(binary)]
    Upload(Bytes),
    #[message(text)]
    Raw(String),
    #[message(other)]
    Unknown {
        tag: String,
        frame: Frame,
    },
}

#[derive(Message, Debug, Clone, PartialEq)]
#[message(
    crate = "::typed_ws_converters::__derive",
    tag = "type",
    rename_all = "snake_case"
)]
enum Internal {
    Join(Join),
    Say(Say),
    Move { x: i32, y: i32 },
    Ping,
}

#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", tag = "op", content = "d")]
enum Custom {
    #[message(rename = "say")]
    Say(Say),
    #[message(rename = "ping")]
    Ping,
    #[message(other)]
    Unknown(Frame),
}

/// Keys and strings that hit the interesting paths: every tag and key of the enums above.
const WORDS: &[&str] = &[
    "type", "data", "op", "d", "text", "room", "users", "x", "y", "join", "say", "move", "pair",
    "ping", "upload", "raw", "unknown", "Say", "", "é", "\u{0}",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// An envelope-shaped value: a map with a tag under one of the tag keys, maybe content.
fn envelope_value() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(&["type", "op"][..]),
        word(),
        proptest::option::of((
            proptest::sample::select(&["data", "d", "text", "x"][..]),
            json_value(),
        )),
        prop::collection::vec((word(), json_value()), 0..3),
    )
        .prop_map(|(key, tag, content, extra)| {
            let mut map = serde_json::Map::new();
            for (k, v) in extra {
                map.insert(k, v);
            }
            map.insert(key.to_owned(), Value::from(tag));
            if let Some((k, v)) = content {
                map.insert(k.to_owned(), v);
            }
            Value::Object(map)
        })
}

/// Decodes `frame` with `converter` into `M`; whatever decodes must survive a round trip.
fn check<M, C>(converter: &C, frame: &Frame)
where
    M: Message + std::fmt::Debug + PartialEq,
    C: ContentConverter,
{
    if let Ok(message) = M::decode(converter, frame) {
        let again = message
            .encode(converter)
            .unwrap_or_else(|e| panic!("{message:?} decoded from {frame:?} does not encode: {e}"));
        let back = M::decode(converter, &again)
            .unwrap_or_else(|e| panic!("{message:?} re-encoded as {again:?} does not decode: {e}"));
        assert_eq!(back, message, "from {frame:?} via {again:?}");
    }
}

fn check_all(frame: &Frame) {
    for json in [Json::default(), Json::default().accept_binary(true)] {
        check::<Chat, _>(&json, frame);
        check::<Internal, _>(&json, frame);
        check::<Custom, _>(&json, frame);
    }
    for msgpack in [MessagePack::default(), MessagePack::compact()] {
        check::<Chat, _>(&msgpack, frame);
        check::<Internal, _>(&msgpack, frame);
        check::<Custom, _>(&msgpack, frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn random_binary_frames(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        check_all(&Frame::Binary(bytes.into()));
    }

    #[test]
    fn random_text_frames(text in ".{0,48}") {
        check_all(&Frame::Text(text.into()));
    }

    #[test]
    fn json_ish_frames(value in prop_oneof![json_value(), envelope_value()]) {
        check_all(&Frame::Text(value.to_string().into()));
        check_all(&Frame::Binary(value.to_string().into_bytes().into()));
    }

    #[test]
    fn messagepack_ish_frames(value in prop_oneof![json_value(), envelope_value()]) {
        let named = rmp_serde::to_vec_named(&value).unwrap();
        check_all(&Frame::Binary(named.into()));
    }

    #[test]
    fn mutated_valid_frames(
        which in 0usize..6,
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let messages = [
            Chat::Join(Join { room: "r".into(), users: vec![1, 2] }),
            Chat::Say(Say { text: "hello".into() }),
            Chat::Move { x: -3, y: 4 },
            Chat::Pair(9, "p".into()),
            Chat::Ping,
            Chat::Raw("raw".into()),
        ];
        for frame in [
            messages[which].encode(&Json::default()).unwrap(),
            messages[which].encode(&MessagePack::default()).unwrap(),
            messages[which].encode(&MessagePack::compact()).unwrap(),
        ] {
            let mut bytes = frame.read_bytes().to_vec();
            if !bytes.is_empty() {
                let i = flip.index(bytes.len());
                bytes[i] ^= 1 << bit;
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            check_all(&Frame::Binary(bytes.clone().into()));
            check_all(&Frame::Text(String::from_utf8_lossy(&bytes).into_owned().into()));
        }
    }
}

#[test]
fn deeply_nested_frames_do_not_overflow_the_stack() {
    for depth in [100, 1_000, 100_000] {
        let text = format!(
            r#"{{"type":"say","data":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        check_all(&Frame::Text(text.into()));
        let text = format!(r#"{{"type":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        check_all(&Frame::Text(text.into()));
        let mut bytes = vec![0x81, 0xa4, b't', b'y', b'p', b'e'];
        bytes.extend(std::iter::repeat_n(0x91u8, depth));
        bytes.push(0xc0);
        check_all(&Frame::Binary(bytes.into()));
    }
}
