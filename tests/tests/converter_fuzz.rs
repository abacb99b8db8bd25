//! Property tests for every converter: arbitrary bytes, arbitrary text and mutated valid
//! encodings never make `deserialize` panic, whatever the target type, and arbitrary values of
//! a nested document survive a round trip unchanged.
//!
//! 114,000 cases in all (60k bytes, 30k text, 10k JSON token soup, 6k mutated encodings, 8k
//! round trips), split so the file stays well under 20 s in a debug build on 2 cores.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use serde::{Deserialize, Serialize};
use typed_ws_converters::{ContentConverter, ConvertErrorKind, Frame, Json, MessagePack};
use typed_ws_examples::cbor::Cbor;
use typed_ws_tests::conformance::decode_anything;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
enum Kind {
    A,
    B(i32),
    C(String, u8),
    D { x: i64, y: Option<bool> },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
enum Tagged {
    Empty,
    Named { name: String },
    Num { v: u64, w: Option<i8> },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
enum Loose {
    Int(i64),
    Text(String),
    Flags(Vec<bool>),
}

/// The nested document: enums of every tagging, options, maps, bytes, floats.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Fuzz {
    id: u64,
    delta: i64,
    name: String,
    flag: bool,
    ratio: f64,
    small: f32,
    letter: char,
    note: Option<String>,
    kinds: Vec<Kind>,
    tagged: Tagged,
    loose: Vec<Loose>,
    map: BTreeMap<String, Vec<i32>>,
    by_id: BTreeMap<u32, Option<String>>,
    pairs: Vec<(u8, i16)>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    shared: Bytes,
}

/// `cases` cases; failures are saved next to this file (`proptest-regressions/`).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

fn text() -> impl Strategy<Value = String> {
    "(?s).{0,12}"
}

fn finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::A),
        any::<i32>().prop_map(Kind::B),
        (text(), any::<u8>()).prop_map(|(s, n)| Kind::C(s, n)),
        (any::<i64>(), any::<Option<bool>>()).prop_map(|(x, y)| Kind::D { x, y }),
    ]
}

fn tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        Just(Tagged::Empty),
        text().prop_map(|name| Tagged::Named { name }),
        (any::<u64>(), any::<Option<i8>>()).prop_map(|(v, w)| Tagged::Num { v, w }),
    ]
}

fn loose() -> impl Strategy<Value = Loose> {
    prop_oneof![
        any::<i64>().prop_map(Loose::Int),
        text().prop_map(Loose::Text),
        prop::collection::vec(any::<bool>(), 0..4).prop_map(Loose::Flags),
    ]
}

fn fuzz() -> impl Strategy<Value = Fuzz> {
    let scalars = (
        any::<u64>(),
        any::<i64>(),
        text(),
        any::<bool>(),
        finite_f64(),
        finite_f32(),
        any::<char>(),
        prop::option::of(text()),
    );
    let nested = (
        prop::collection::vec(kind(), 0..4),
        tagged(),
        prop::collection::vec(loose(), 0..4),
        prop::collection::btree_map(text(), prop::collection::vec(any::<i32>(), 0..4), 0..3),
        prop::collection::btree_map(any::<u32>(), prop::option::of(text()), 0..3),
        prop::collection::vec(any::<(u8, i16)>(), 0..3),
        prop::collection::vec(any::<u8>(), 0..24),
        prop::collection::vec(any::<u8>(), 0..24),
    );
    (scalars, nested).prop_map(
        |(
            (id, delta, name, flag, ratio, small, letter, note),
            (kinds, tagged, loose, map, by_id, pairs, blob, shared),
        )| Fuzz {
            id,
            delta,
            name,
            flag,
            ratio,
            small,
            letter,
            note,
            kinds,
            tagged,
            loose,
            map,
            by_id,
            pairs,
            blob,
            shared: shared.into(),
        },
    )
}

/// Decodes `frame` with every converter into every target type; only a panic fails.
fn decode_with_all(frame: &Frame) {
    for_each_converter(|c| decode_anything_dyn(c, frame));
}

/// Calls `f` with every converter, including JSON that accepts binary frames.
fn for_each_converter(mut f: impl FnMut(&dyn DynConverter)) {
    f(&Json::new());
    f(&Json::new().accept_binary(true));
    f(&MessagePack::default());
    f(&MessagePack::compact());
    f(&Cbor);
}

/// Object-safe view of the converters for `for_each_converter` (the trait itself has generic
/// methods).
trait DynConverter {
    fn decode_anything(&self, frame: &Frame);
    fn decode_fuzz(&self, frame: &Frame) -> Result<Fuzz, typed_ws_converters::ConvertError>;
    fn encode_fuzz(&self, value: &Fuzz) -> Result<Frame, typed_ws_converters::ConvertError>;
    fn name(&self) -> &'static str;
}

impl<C: ContentConverter> DynConverter for C {
    fn decode_anything(&self, frame: &Frame) {
        decode_anything(self, frame);
    }
    fn decode_fuzz(&self, frame: &Frame) -> Result<Fuzz, typed_ws_converters::ConvertError> {
        self.deserialize(frame)
    }
    fn encode_fuzz(&self, value: &Fuzz) -> Result<Frame, typed_ws_converters::ConvertError> {
        self.serialize(value)
    }
    fn name(&self) -> &'static str {
        ContentConverter::name(self)
    }
}

fn decode_anything_dyn(c: &dyn DynConverter, frame: &Frame) {
    c.decode_anything(frame);
    let _ = c.decode_fuzz(frame);
}

proptest! {
    #![proptest_config(config(60_000))]

    /// Arbitrary bytes in a Binary frame: every converter returns (Ok or Err), never panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        let frame = Frame::Binary(bytes.into());
        for_each_converter(|c| decode_anything_dyn(c, &frame));
    }
}

proptest! {
    #![proptest_config(config(30_000))]

    /// Arbitrary text in a Text frame.
    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,64}") {
        let frame = Frame::Text(text.into());
        for_each_converter(|c| decode_anything_dyn(c, &frame));
    }

}

/// Pieces of JSON, so the JSON parser gets past the first byte.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "\"",
    "\"type\"",
    "\"Named\"",
    "\"name\"",
    "\"A\"",
    "\"D\"",
    "\"x\"",
    "\"kinds\"",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\\",
    "0",
    "-1",
    "1.5e300",
    "1e-400",
    "18446744073709551616",
    "-9223372036854775809",
    "true",
    "false",
    "null",
    " ",
    "\"\"",
];

proptest! {
    #![proptest_config(config(10_000))]

    /// JSON-shaped token soup.
    #[test]
    fn json_token_soup_never_panics(
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..48)
    ) {
        let frame = Frame::Text(tokens.concat().into());
        for_each_converter(|c| decode_anything_dyn(c, &frame));
    }
}

proptest! {
    #![proptest_config(config(6_000))]

    /// Valid encodings with a few bytes overwritten: decoders get deep before failing, and never
    /// panic. A strict prefix of a valid encoding is always a decode error.
    #[test]
    fn mutated_encodings_never_panic(
        value in fuzz(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut result = Ok(());
        for_each_converter(|c| {
            let Ok(frame) = c.encode_fuzz(&value) else {
                result = Err(TestCaseError::fail(format!("{}: cannot encode {value:?}", c.name())));
                return;
            };
            let valid = frame.read_bytes().to_vec();
            let reframe = |bytes: &[u8]| match &frame {
                Frame::Text(_) => Frame::Text(String::from_utf8_lossy(bytes).into_owned().into()),
                _ => Frame::Binary(bytes.to_vec().into()),
            };
            let mut bytes = valid.clone();
            for (at, byte) in &edits {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
            decode_with_all(&reframe(&bytes));
            let cut = reframe(&valid[..cut.index(valid.len())]);
            match c.decode_fuzz(&cut) {
                Ok(v) => result = Err(TestCaseError::fail(format!("{}: a truncated frame decoded as {v:?}", c.name()))),
                Err(e) if e.kind() != ConvertErrorKind::Decode => {
                    result = Err(TestCaseError::fail(format!("{}: {e}", c.name())));
                }
                Err(_) => {}
            }
        });
        result?;
    }
}

proptest! {
    #![proptest_config(config(8_000))]

    /// Arbitrary documents survive every converter unchanged (floats bit for bit).
    #[test]
    fn documents_round_trip(value in fuzz()) {
        let mut result = Ok(());
        for_each_converter(|c| {
            if result.is_err() {
                return;
            }
            let back = c
                .encode_fuzz(&value)
                .and_then(|frame| c.decode_fuzz(&frame));
            result = match back {
                Ok(back) if back == value
                    && back.ratio.to_bits() == value.ratio.to_bits()
                    && back.small.to_bits() == value.small.to_bits() => Ok(()),
                Ok(back) => Err(TestCaseError::fail(format!(
                    "{}: {value:?}\n came back as {back:?}", c.name()
                ))),
                Err(e) => Err(TestCaseError::fail(format!("{}: {e}", c.name()))),
            };
        });
        result?;
    }
}

/// The decode helper is exercised on the converters through the trait object too.
#[test]
fn every_converter_is_exercised() {
    let mut names = Vec::new();
    for_each_converter(|c| names.push(c.name()));
    assert_eq!(
        names,
        ["json", "json", "messagepack", "messagepack", "cbor"]
    );
}
