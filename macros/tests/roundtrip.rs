//! Round trips of every variant kind through Json and MessagePack, with the exact wire text of
//! every layout, and the decode routing rules (unknown tags, raw frames, wrong frames).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use typed_ws_converters::{
    ContentConverter, ConvertErrorKind, Frame, FrameKind, Json, Message, MessagePack, Utf8Bytes,
};
use typed_ws_macros::Message;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Join {
    room: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Say {
    text: String,
}

/// The default layout (adjacent `type` / `data`, tags as written) with every variant kind.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Chat {
    Join(Join),
    Say(Say),
    Move {
        x: i32,
        y: i32,
    },
    Ping,
    Pair(u8, String),
    Count(u32),
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

/// Internal tagging with `rename_all` and an explicit rename.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(
    crate = "::typed_ws_converters::__derive",
    tag = "type",
    rename_all = "snake_case"
)]
enum Internal {
    Say(Say),
    MoveTo {
        x: i32,
        y: i32,
    },
    Ping,
    #[message(rename = "bye!")]
    GoodBye,
}

/// Custom tag and content keys, no raw or other variants.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", tag = "op", content = "d")]
enum Custom {
    #[message(rename = "chat.say")]
    Say(Say),
    Move {
        x: i32,
        y: i32,
    },
    Ping,
}

/// `content` alone keeps the default tag key.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", content = "payload")]
enum ContentOnly {
    Say(Say),
}

/// The newtype form of `other`, and a `Vec<u8>` binary variant.
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", rename_all = "kebab-case")]
enum Forward {
    SayHello(Say),
    #[message(binary)]
    Blob(Vec<u8>),
    #[message(other)]
    Unknown(Frame),
}

/// Only frame-layer variants: every data frame is raw (text as `Utf8Bytes`, `Chat` has `String`).
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive")]
enum RawOnly {
    #[message(binary)]
    Bin(Bytes),
    #[message(text)]
    Txt(Utf8Bytes),
}

/// Two variants with one payload type: no `From<Say>` is generated (this impl would conflict).
#[derive(Message, Debug, Clone, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Dup {
    A(Say),
    B(Say),
    C(Join),
}

impl From<Say> for Dup {
    fn from(say: Say) -> Self {
        Dup::B(say)
    }
}

fn text(text: &str) -> Frame {
    Frame::Text(text.into())
}

fn say(text: &str) -> Say {
    Say { text: text.into() }
}

/// Encodes with `conv`, checks the frame, and decodes back to the same value.
fn round_trip<M, C>(conv: &C, message: M, expected: &Frame)
where
    M: Message + std::fmt::Debug + PartialEq,
    C: ContentConverter,
{
    let frame = message.encode(conv).unwrap();
    assert_eq!(&frame, expected, "encoding {message:?}");
    assert_eq!(M::decode(conv, &frame).unwrap(), message);
}

#[test]
fn adjacent_default_exact_json() {
    let conv = Json::default();
    let cases = [
        (
            Chat::Join(Join {
                room: "rust".into(),
            }),
            r#"{"type":"Join","data":{"room":"rust"}}"#,
        ),
        (
            Chat::Say(say("hi")),
            r#"{"type":"Say","data":{"text":"hi"}}"#,
        ),
        (
            Chat::Move { x: 1, y: -2 },
            r#"{"type":"Move","data":{"x":1,"y":-2}}"#,
        ),
        (Chat::Ping, r#"{"type":"Ping"}"#),
        (
            Chat::Pair(7, "x".into()),
            r#"{"type":"Pair","data":[7,"x"]}"#,
        ),
        (Chat::Count(3), r#"{"type":"Count","data":3}"#),
    ];
    for (message, wire) in cases {
        round_trip(&conv, message, &text(wire));
    }
    // Content first, extra keys and whitespace are accepted too.
    let frame = text(r#" { "data" : {"text":"yo"}, "extra": [1], "type" : "Say" } "#);
    assert_eq!(Chat::decode(&conv, &frame).unwrap(), Chat::Say(say("yo")));
}

#[test]
fn internal_exact_json() {
    let conv = Json::default();
    round_trip(
        &conv,
        Internal::Say(say("hi")),
        &text(r#"{"type":"say","text":"hi"}"#),
    );
    round_trip(
        &conv,
        Internal::MoveTo { x: 1, y: 2 },
        &text(r#"{"type":"move_to","x":1,"y":2}"#),
    );
    round_trip(&conv, Internal::Ping, &text(r#"{"type":"ping"}"#));
    round_trip(&conv, Internal::GoodBye, &text(r#"{"type":"bye!"}"#));
    let frame = text(r#"{"x":5,"y":6,"type":"move_to"}"#);
    assert_eq!(
        Internal::decode(&conv, &frame).unwrap(),
        Internal::MoveTo { x: 5, y: 6 }
    );
}

#[test]
fn custom_tag_and_content_exact_json() {
    let conv = Json::default();
    round_trip(
        &conv,
        Custom::Say(say("hi")),
        &text(r#"{"op":"chat.say","d":{"text":"hi"}}"#),
    );
    round_trip(
        &conv,
        Custom::Move { x: 0, y: 9 },
        &text(r#"{"op":"Move","d":{"x":0,"y":9}}"#),
    );
    round_trip(&conv, Custom::Ping, &text(r#"{"op":"Ping"}"#));
    round_trip(
        &conv,
        ContentOnly::Say(say("hi")),
        &text(r#"{"type":"Say","payload":{"text":"hi"}}"#),
    );
    round_trip(
        &conv,
        Forward::SayHello(say("hi")),
        &text(r#"{"type":"say-hello","data":{"text":"hi"}}"#),
    );
}

macro_rules! rename_all_case {
    ($name:ident, $rule:literal, $expected:expr) => {
        #[derive(Message, Debug, PartialEq)]
        #[message(crate = "::typed_ws_converters::__derive", rename_all = $rule)]
        enum $name {
            VeryTasty,
            #[message(rename = "Kept As-Is")]
            Renamed,
        }

        assert_eq!($name::TAGS, [$expected, "Kept As-Is"], "rule {}", $rule);
        assert_eq!($name::VeryTasty.tag(), $expected);
        round_trip(
            &Json::default(),
            $name::VeryTasty,
            &text(&format!(r#"{{"type":"{}"}}"#, $expected)),
        );
        round_trip(
            &Json::default(),
            $name::Renamed,
            &text(r#"{"type":"Kept As-Is"}"#),
        );
    };
}

#[test]
fn rename_all_rules() {
    rename_all_case!(Lower, "lowercase", "verytasty");
    rename_all_case!(Upper, "UPPERCASE", "VERYTASTY");
    rename_all_case!(Pascal, "PascalCase", "VeryTasty");
    rename_all_case!(Camel, "camelCase", "veryTasty");
    rename_all_case!(Snake, "snake_case", "very_tasty");
    rename_all_case!(ScreamingSnake, "SCREAMING_SNAKE_CASE", "VERY_TASTY");
    rename_all_case!(Kebab, "kebab-case", "very-tasty");
    rename_all_case!(ScreamingKebab, "SCREAMING-KEBAB-CASE", "VERY-TASTY");
}

#[test]
fn messagepack_envelope_is_a_map_with_the_tag_key() {
    let conv = MessagePack::default();
    let frame = Chat::Say(say("hi")).encode(&conv).unwrap();
    let Frame::Binary(bytes) = &frame else {
        panic!("not binary: {frame:?}")
    };
    assert_eq!(bytes[0], 0x82, "a fixmap of two entries");
    let value: serde_json::Value = rmp_serde::from_slice(bytes).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"type": "Say", "data": {"text": "hi"}})
    );

    let frame = Internal::MoveTo { x: 1, y: 2 }.encode(&conv).unwrap();
    let value: serde_json::Value = rmp_serde::from_slice(&frame.read_bytes()).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"type": "move_to", "x": 1, "y": 2})
    );

    let frame = Custom::Ping.encode(&conv).unwrap();
    let value: serde_json::Value = rmp_serde::from_slice(&frame.read_bytes()).unwrap();
    assert_eq!(value, serde_json::json!({"op": "Ping"}));

    // A peer's map (e.g. Python msgpack) decodes.
    let peer = rmp_serde::to_vec_named(&serde_json::json!({"data": {"room": "r"}, "type": "Join"}))
        .unwrap();
    let decoded = Chat::decode(&conv, &Frame::Binary(peer.into())).unwrap();
    assert_eq!(decoded, Chat::Join(Join { room: "r".into() }));
}

#[test]
fn compact_messagepack_keeps_the_envelope_a_map() {
    let conv = MessagePack::compact();
    let decode =
        |frame: &Frame| rmp_serde::from_slice::<serde_json::Value>(&frame.read_bytes()).unwrap();
    let frame = Chat::Say(say("hi")).encode(&conv).unwrap();
    assert_eq!(
        decode(&frame),
        serde_json::json!({"type": "Say", "data": ["hi"]})
    );
    let frame = Chat::Move { x: 1, y: 2 }.encode(&conv).unwrap();
    assert_eq!(
        decode(&frame),
        serde_json::json!({"type": "Move", "data": [1, 2]})
    );
    assert_eq!(
        Chat::decode(&conv, &frame).unwrap(),
        Chat::Move { x: 1, y: 2 }
    );
    let frame = Chat::Ping.encode(&conv).unwrap();
    assert_eq!(decode(&frame), serde_json::json!({"type": "Ping"}));
    let frame = Internal::MoveTo { x: 1, y: 2 }.encode(&conv).unwrap();
    assert_eq!(
        decode(&frame),
        serde_json::json!({"type": "move_to", "x": 1, "y": 2})
    );
}

#[test]
fn positional_envelopes_decode_as_serde_reads_them() {
    let conv = Json::default();
    assert_eq!(
        Chat::decode(&conv, &text(r#"["Say",{"text":"hi"}]"#)).unwrap(),
        Chat::Say(say("hi"))
    );
    assert_eq!(
        Chat::decode(&conv, &text(r#"["Count",3]"#)).unwrap(),
        Chat::Count(3)
    );
    let frame = text(r#"["Leave",1]"#);
    assert_eq!(
        Chat::decode(&conv, &frame).unwrap(),
        Chat::Unknown {
            tag: "Leave".into(),
            frame: frame.clone()
        }
    );
}

#[test]
fn every_variant_round_trips_through_both_converters() {
    let chat = [
        Chat::Join(Join {
            room: "rust".into(),
        }),
        Chat::Say(say("hi")),
        Chat::Move {
            x: i32::MIN,
            y: i32::MAX,
        },
        Chat::Ping,
        Chat::Pair(255, String::new()),
        Chat::Count(u32::MAX),
        Chat::Upload(Bytes::from_static(&[0, 159, 146, 150])),
        Chat::Raw("not json".into()),
    ];
    let internal = [
        Internal::Say(say("hé")),
        Internal::MoveTo { x: -1, y: 0 },
        Internal::Ping,
        Internal::GoodBye,
    ];
    for conv in [MessagePack::default(), MessagePack::compact()] {
        for message in chat.iter().cloned().chain([Chat::Say(say("x"))]) {
            let frame = message.encode(&conv).unwrap();
            assert_eq!(Chat::decode(&conv, &frame).unwrap(), message, "{conv:?}");
        }
        for message in &internal {
            let frame = message.encode(&conv).unwrap();
            assert_eq!(
                &Internal::decode(&conv, &frame).unwrap(),
                message,
                "{conv:?}"
            );
        }
    }
    for message in chat {
        let frame = message.encode(&Json::default()).unwrap();
        assert_eq!(Chat::decode(&Json::default(), &frame).unwrap(), message);
    }
    for message in internal {
        let frame = message.encode(&Json::default()).unwrap();
        assert_eq!(Internal::decode(&Json::default(), &frame).unwrap(), message);
    }
}

#[test]
fn unknown_tag_goes_to_other_and_is_forwarded_unchanged() {
    let conv = Json::default();
    let frame = text(r#"{"type":"Leave","data":{"why":"bye"}}"#);
    let decoded = Chat::decode(&conv, &frame).unwrap();
    assert_eq!(
        decoded,
        Chat::Unknown {
            tag: "Leave".into(),
            frame: frame.clone()
        }
    );
    assert_eq!(decoded.tag(), "Unknown");
    assert_eq!(decoded.encode(&conv).unwrap(), frame);

    let frame = Frame::Binary(
        rmp_serde::to_vec_named(&serde_json::json!({"type": "Leave"}))
            .unwrap()
            .into(),
    );
    let decoded = Chat::decode(&MessagePack::default(), &frame).unwrap();
    assert_eq!(
        decoded,
        Chat::Unknown {
            tag: "Leave".into(),
            frame: frame.clone()
        }
    );

    let frame = text(r#"{"type":"nope"}"#);
    let decoded = Forward::decode(&conv, &frame).unwrap();
    assert_eq!(decoded, Forward::Unknown(frame.clone()));
    assert_eq!(decoded.encode(&MessagePack::default()).unwrap(), frame);
}

#[test]
fn unknown_tag_without_other_is_a_decode_error_naming_the_tags() {
    let err = Custom::decode(&Json::default(), &text(r#"{"op":"leave","d":1}"#)).unwrap_err();
    assert_eq!(err.kind(), ConvertErrorKind::Decode);
    assert_eq!(err.frame_kind(), Some(FrameKind::Text));
    assert_eq!(
        err.to_string(),
        "json converter could not decode a text frame: unknown message tag `leave`, expected one of `chat.say`, `Move`, `Ping`"
    );
    let frame = Frame::Binary(
        rmp_serde::to_vec_named(&serde_json::json!({"type": "x"}))
            .unwrap()
            .into(),
    );
    let err = Internal::decode(&MessagePack::default(), &frame).unwrap_err();
    assert_eq!(
        err.to_string(),
        "messagepack converter could not decode a binary frame: unknown message tag `x`, expected one of `say`, `move_to`, `ping`, `bye!`"
    );
}

#[test]
fn known_tag_with_a_bad_payload_is_a_decode_error_even_with_raw_and_other() {
    for wire in [
        r#"{"type":"Say","data":5}"#,
        r#"{"type":"Say"}"#,
        r#"{"type":"Move","data":{"x":1}}"#,
        r#"{"type":7}"#,
    ] {
        let err = Chat::decode(&Json::default(), &text(wire)).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode, "{wire}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "{wire}: the serde error is kept"
        );
    }
}

#[test]
fn raw_variants_encode_without_the_converter() {
    let upload = Chat::Upload(Bytes::from_static(b"\x00\x01"));
    assert_eq!(
        upload.encode(&Json::default()).unwrap(),
        Frame::Binary(Bytes::from_static(b"\x00\x01"))
    );
    assert_eq!(
        upload.encode(&MessagePack::default()).unwrap(),
        Frame::Binary(Bytes::from_static(b"\x00\x01"))
    );
    let raw = Chat::Raw("hello".into());
    assert_eq!(raw.encode(&MessagePack::default()).unwrap(), text("hello"));
    assert_eq!(
        Forward::Blob(vec![9, 8]).encode(&Json::default()).unwrap(),
        Frame::Binary(vec![9u8, 8].into())
    );
}

#[test]
fn frames_the_converter_does_not_read_go_to_the_raw_variant_of_their_kind() {
    let bin = Frame::Binary(Bytes::from_static(b"\xff\x00"));
    assert_eq!(
        Chat::decode(&Json::default(), &bin).unwrap(),
        Chat::Upload(Bytes::from_static(b"\xff\x00"))
    );
    assert_eq!(
        Forward::decode(&Json::default(), &bin).unwrap(),
        Forward::Blob(vec![0xff, 0])
    );
    // A text frame is not MessagePack: the text variant takes it, whatever it holds.
    let envelope_text = text(r#"{"type":"Say","data":{"text":"hi"}}"#);
    assert_eq!(
        Chat::decode(&MessagePack::default(), &envelope_text).unwrap(),
        Chat::Raw(r#"{"type":"Say","data":{"text":"hi"}}"#.into())
    );
    // No raw variant of that kind: WrongFrame.
    let err = Custom::decode(&Json::default(), &bin).unwrap_err();
    assert_eq!(err.kind(), ConvertErrorKind::WrongFrame);
    let err = Forward::decode(&MessagePack::default(), &text("hi")).unwrap_err();
    assert_eq!(err.kind(), ConvertErrorKind::WrongFrame);
    assert_eq!(err.frame_kind(), Some(FrameKind::Text));
    // Control frames are never messages.
    for control in [
        Frame::Ping(Bytes::new()),
        Frame::Pong(Bytes::new()),
        Frame::Close(None),
    ] {
        let err = Chat::decode(&Json::default(), &control).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::WrongFrame);
    }
}

#[test]
fn readable_frames_without_a_tag_go_to_the_raw_variant_of_their_kind() {
    let conv = Json::default();
    for wire in [
        "hello",
        "",
        "[1,2]",
        r#"{"kind":"Say"}"#,
        "42",
        "null",
        r#"{"type""#,
    ] {
        assert_eq!(
            Chat::decode(&conv, &text(wire)).unwrap(),
            Chat::Raw(wire.into()),
            "{wire:?}"
        );
    }
    let conv = MessagePack::default();
    for payload in [&b"\xc1"[..], b"", b"\x93\x01\x02\x03", b"\x81\xa4kind\x01"] {
        let frame = Frame::Binary(Bytes::copy_from_slice(payload));
        assert_eq!(
            Chat::decode(&conv, &frame).unwrap(),
            Chat::Upload(Bytes::copy_from_slice(payload))
        );
    }
    // Without a raw variant of the kind: the converter's decode error.
    let err = Custom::decode(&Json::default(), &text("hello")).unwrap_err();
    assert_eq!(err.kind(), ConvertErrorKind::Decode);
    let err = Forward::decode(&Json::default(), &text(r#"{"kind":1}"#)).unwrap_err();
    assert_eq!(err.kind(), ConvertErrorKind::Decode);
}

#[test]
fn protocols_without_envelopes_take_every_data_frame_raw() {
    assert!(RawOnly::TAGS.is_empty());
    let conv = Json::default();
    let frame = text(r#"{"type":"Say","data":{"text":"hi"}}"#);
    assert_eq!(
        RawOnly::decode(&conv, &frame).unwrap(),
        RawOnly::Txt(frame.read_text().unwrap().into())
    );
    assert_eq!(
        RawOnly::decode(&conv, &Frame::Binary(Bytes::from_static(b"b"))).unwrap(),
        RawOnly::Bin(Bytes::from_static(b"b"))
    );
    round_trip(
        &MessagePack::default(),
        RawOnly::Txt("t".into()),
        &text("t"),
    );
    round_trip(
        &MessagePack::default(),
        RawOnly::Bin(Bytes::from_static(b"\x81")),
        &Frame::Binary(Bytes::from_static(b"\x81")),
    );
    assert_eq!(RawOnly::Bin(Bytes::new()).tag(), "Bin");

    // a `Utf8Bytes` text variant shares the frame's buffer both ways
    let Frame::Text(payload) = &frame else {
        unreachable!()
    };
    let RawOnly::Txt(decoded) = RawOnly::decode(&conv, &frame).unwrap() else {
        panic!("not the text variant")
    };
    assert_eq!(decoded.as_ptr(), payload.as_ptr());
    let Frame::Text(encoded) = RawOnly::Txt(decoded.clone()).encode(&conv).unwrap() else {
        panic!("not a text frame")
    };
    assert_eq!(encoded.as_ptr(), payload.as_ptr());
}

#[test]
fn from_impls_for_unique_newtype_payloads() {
    assert_eq!(Chat::from(say("hi")), Chat::Say(say("hi")));
    assert_eq!(
        Chat::from(Join { room: "r".into() }),
        Chat::Join(Join { room: "r".into() })
    );
    assert_eq!(Chat::from(7u32), Chat::Count(7));
    assert_eq!(
        Chat::from(Bytes::from_static(b"x")),
        Chat::Upload(Bytes::from_static(b"x"))
    );
    assert_eq!(Chat::from(String::from("raw")), Chat::Raw("raw".into()));
    assert_eq!(Forward::from(vec![1u8]), Forward::Blob(vec![1]));
    assert_eq!(Internal::from(say("x")), Internal::Say(say("x")));
    // `Dup` holds `Say` twice: its only `From<Say>` is the hand-written one above.
    assert_eq!(Dup::from(say("x")), Dup::B(say("x")));
    assert_eq!(
        Dup::from(Join { room: "j".into() }),
        Dup::C(Join { room: "j".into() })
    );
    fn send<M: Message>(message: impl Into<M>) -> Frame {
        message.into().encode(&Json::default()).unwrap()
    }
    assert_eq!(
        send::<Chat>(say("s")),
        text(r#"{"type":"Say","data":{"text":"s"}}"#)
    );
}

#[test]
fn tags_in_declaration_order_and_tag_of_each_variant() {
    assert_eq!(Chat::TAGS, ["Join", "Say", "Move", "Ping", "Pair", "Count"]);
    assert_eq!(Internal::TAGS, ["say", "move_to", "ping", "bye!"]);
    assert_eq!(Custom::TAGS, ["chat.say", "Move", "Ping"]);
    assert_eq!(Forward::TAGS, ["say-hello"]);
    assert_eq!(Dup::TAGS, ["A", "B", "C"]);
    assert_eq!(Chat::Move { x: 0, y: 0 }.tag(), "Move");
    assert_eq!(Chat::Ping.tag(), "Ping");
    assert_eq!(Chat::Upload(Bytes::new()).tag(), "Upload");
    assert_eq!(Chat::Raw(String::new()).tag(), "Raw");
    assert_eq!(Internal::GoodBye.tag(), "bye!");
    assert_eq!(Forward::Unknown(Frame::Close(None)).tag(), "unknown");
    assert_eq!(Forward::Blob(vec![]).tag(), "blob");
    for message in [Chat::Say(say("a")), Chat::Count(1), Chat::Ping] {
        assert!(Chat::TAGS.contains(&message.tag()));
    }
}

#[test]
fn encode_errors_come_from_the_converter() {
    // Internal tagging of a payload that is not a map cannot be caught at compile time through
    // an alias: the converter reports it when encoding.
    type Number = u32;
    #[derive(Message, Debug, PartialEq)]
    #[message(crate = "::typed_ws_converters::__derive", tag = "type")]
    enum Numbers {
        Number(Number),
    }
    for err in [
        Numbers::Number(1).encode(&Json::default()).unwrap_err(),
        Numbers::Number(1)
            .encode(&MessagePack::default())
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ConvertErrorKind::Encode);
        assert!(err.to_string().contains("could not encode"), "{err}");
    }
}
