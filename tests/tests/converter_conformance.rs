//! The converter conformance suite (`typed_ws_tests::conformance`) run for every converter, one
//! `#[test]` per converter × case, plus the format-specific promises: which frame kinds each
//! converter reads and writes, and the MessagePack struct shapes.

use typed_ws_converters::{
    ContentConverter, ConvertErrorKind, Frame, Json, MessagePack, Utf8Bytes,
};
use typed_ws_examples::cbor::Cbor;
use typed_ws_tests::conformance::{self, Caps, Doc, Inner};

mod json {
    use super::*;
    typed_ws_tests::conformance_tests!(Json::new(), Caps::JSON);
}

mod json_accept_binary {
    use super::*;
    typed_ws_tests::conformance_tests!(
        Json::new().accept_binary(true),
        Caps {
            reads_binary: true,
            ..Caps::JSON
        }
    );
}

mod messagepack_named {
    use super::*;
    typed_ws_tests::conformance_tests!(MessagePack::default(), Caps::MESSAGE_PACK);
}

mod messagepack_compact {
    use super::*;
    typed_ws_tests::conformance_tests!(MessagePack::compact(), Caps::MESSAGE_PACK_COMPACT);
}

mod cbor {
    use super::*;
    typed_ws_tests::conformance_tests!(Cbor, Caps::CBOR);
}

/// `run_all` (the one-call form for custom converter authors) runs the same cases.
#[test]
fn run_all_passes_for_every_converter() {
    conformance::run_all(&Json::new(), Caps::JSON);
    conformance::run_all(&MessagePack::new(), Caps::MESSAGE_PACK);
    conformance::run_all(&MessagePack::compact(), Caps::MESSAGE_PACK_COMPACT);
    conformance::run_all(&Cbor, Caps::CBOR);
}

fn inner() -> Inner {
    Inner {
        name: "n".into(),
        count: 3,
    }
}

#[test]
fn json_reads_text_only_unless_binary_is_accepted() {
    let text = Json::new().serialize(&inner()).unwrap();
    assert_eq!(text, Frame::Text(r#"{"name":"n","count":3}"#.into()));
    let binary = Frame::Binary(text.read_bytes());

    assert!(Json::new().is_applicable(&text));
    assert!(!Json::new().is_applicable(&binary));
    let e = Json::new().deserialize::<Inner>(&binary).unwrap_err();
    assert_eq!(e.kind(), ConvertErrorKind::WrongFrame);
    assert_eq!(
        e.to_string(),
        "json converter does not read binary frames (send the frame kind this converter writes, or use another converter)"
    );

    let lenient = Json::new().accept_binary(true);
    assert!(lenient.is_applicable(&binary));
    assert_eq!(lenient.deserialize::<Inner>(&binary).unwrap(), inner());
    // Still writes text.
    assert_eq!(lenient.serialize(&inner()).unwrap(), text);
    // Binary that is not UTF-8 is a decode error, not a panic.
    let e = lenient
        .deserialize::<Inner>(&Frame::Binary(vec![0xff, 0xfe].into()))
        .unwrap_err();
    assert_eq!(e.kind(), ConvertErrorKind::Decode);
}

#[test]
fn messagepack_reads_binary_only() {
    for c in [MessagePack::default(), MessagePack::compact()] {
        let frame = c.serialize(&inner()).unwrap();
        assert!(matches!(frame, Frame::Binary(_)));
        assert!(c.is_applicable(&frame));
        assert!(!c.is_applicable(&Frame::Text("{}".into())));
        let e = c
            .deserialize::<Inner>(&Frame::Text("\u{82}".into()))
            .unwrap_err();
        assert_eq!(e.kind(), ConvertErrorKind::WrongFrame);
        assert!(
            e.to_string()
                .starts_with("messagepack converter does not read text frames")
        );
    }
}

#[test]
fn messagepack_named_writes_maps_and_compact_writes_arrays() {
    let named = MessagePack::default().serialize(&inner()).unwrap();
    let compact = MessagePack::compact().serialize(&inner()).unwrap();
    // fixmap of 2 with the field names; fixarray of 2 without them.
    assert_eq!(
        named.read_bytes().as_ref(),
        b"\x82\xa4name\xa1n\xa5count\x03".as_slice()
    );
    assert_eq!(compact.read_bytes().as_ref(), b"\x92\xa1n\x03".as_slice());
    assert!(!MessagePack::default().is_compact());
    assert!(MessagePack::compact().is_compact());

    let doc = MessagePack::default().serialize(&Doc::sample()).unwrap();
    assert_eq!(doc.read_bytes()[0], 0x80 | 12, "Doc has 12 fields: fixmap");
    let doc = MessagePack::compact().serialize(&Doc::sample()).unwrap();
    assert_eq!(
        doc.read_bytes()[0],
        0x90 | 12,
        "Doc has 12 fields: fixarray"
    );

    // Either mode reads either shape.
    for c in [MessagePack::default(), MessagePack::compact()] {
        assert_eq!(c.deserialize::<Inner>(&named).unwrap(), inner());
        assert_eq!(c.deserialize::<Inner>(&compact).unwrap(), inner());
    }
}

#[test]
fn cbor_writes_binary_maps() {
    let frame = Cbor.serialize(&inner()).unwrap();
    // map(2) "name" => "n", "count" => 3
    assert_eq!(
        frame.read_bytes().as_ref(),
        b"\xa2\x64name\x61n\x65count\x03".as_slice()
    );
    assert!(!Cbor.is_applicable(&Frame::Text(Utf8Bytes::new())));
}

#[test]
fn json_nan_error_names_the_path() {
    #[derive(serde::Serialize)]
    struct Reading {
        sensor: &'static str,
        values: Vec<f64>,
    }
    let e = Json::new()
        .serialize(&Reading {
            sensor: "t1",
            values: vec![1.0, f64::NAN],
        })
        .unwrap_err();
    assert_eq!(e.kind(), ConvertErrorKind::Encode);
    assert_eq!(e.to_string(), "json converter could not encode the value");
    // the cause is the source, printed once by `{:#}`
    assert_eq!(
        format!("{e:#}"),
        "json converter could not encode the value: NaN cannot be represented in JSON (found at $.values[1])"
    );
}
