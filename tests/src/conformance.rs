//! The converter conformance suite (Ktor's abstract converter test): one set of checks that
//! every [`ContentConverter`] must pass, parameterised by what its format can and cannot do
//! ([`Caps`]).
//!
//! Run every case as its own `#[test]` with [`conformance_tests!`](crate::conformance_tests),
//! or all of them in one call with [`run_all`]:
//!
//! ```
//! use typed_ws_converters::Json;
//! use typed_ws_tests::conformance::{Caps, run_all};
//!
//! run_all(&Json::new(), Caps::JSON);
//! ```
//!
//! Every case panics with a message naming the converter on the first violation.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::fmt::Debug;

use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize, Serializer};
use typed_ws_converters::{
    CloseReason, ContentConverter, ConvertError, ConvertErrorKind, Frame, FrameKind,
};

/// What a converter's format can do; the suite checks the capability where it is claimed and a
/// clean error (never a panic) where it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// The frame kind `serialize` produces.
    pub writes: FrameKind,
    /// `deserialize` reads Text frames.
    pub reads_text: bool,
    /// `deserialize` reads Binary frames.
    pub reads_binary: bool,
    /// NaN and ±∞ round-trip; when `false` they must be an encode error whose `Display` names
    /// them ("NaN", "infinity").
    pub non_finite_floats: bool,
    /// Maps with composite keys (`HashMap<(i32, i32), _>`) round-trip; when `false` they must be
    /// an encode error.
    pub tuple_keys: bool,
    /// `Some(None)` in an `Option<Option<T>>` survives; when `false` it comes back as `None`.
    pub nested_option: bool,
    /// Byte fields are written as native binary (about one wire byte per payload byte), not as
    /// an array of numbers.
    pub native_bytes: bool,
    /// Structs are written as positional arrays (MessagePack compact). serde cannot read
    /// struct variants of untagged enums, nor unit and struct variants of adjacently tagged
    /// enums, back from arrays: those must then be clean decode errors.
    pub structs_as_arrays: bool,
}

impl Caps {
    /// [`Json`](typed_ws_converters::Json) with default settings.
    pub const JSON: Caps = Caps {
        writes: FrameKind::Text,
        reads_text: true,
        reads_binary: false,
        non_finite_floats: false,
        tuple_keys: false,
        nested_option: false,
        native_bytes: false,
        structs_as_arrays: false,
    };

    /// [`MessagePack::default`](typed_ws_converters::MessagePack): structs as named maps.
    pub const MESSAGE_PACK: Caps = Caps {
        writes: FrameKind::Binary,
        reads_text: false,
        reads_binary: true,
        non_finite_floats: true,
        tuple_keys: true,
        nested_option: false,
        native_bytes: true,
        structs_as_arrays: false,
    };

    /// [`MessagePack::compact`](typed_ws_converters::MessagePack::compact): structs as arrays.
    pub const MESSAGE_PACK_COMPACT: Caps = Caps {
        structs_as_arrays: true,
        ..Caps::MESSAGE_PACK
    };

    /// The example CBOR converter.
    pub const CBOR: Caps = Caps {
        writes: FrameKind::Binary,
        reads_text: false,
        reads_binary: true,
        non_finite_floats: true,
        tuple_keys: true,
        nested_option: false,
        native_bytes: true,
        structs_as_arrays: false,
    };

    /// `true` when `deserialize` reads frames of `kind`.
    pub fn reads(&self, kind: FrameKind) -> bool {
        match kind {
            FrameKind::Text => self.reads_text,
            FrameKind::Binary => self.reads_binary,
            _ => false,
        }
    }
}

/// Generates one `#[test]` per conformance case for a converter expression and its [`Caps`].
///
/// ```
/// mod json {
///     use typed_ws_converters::Json;
///     use typed_ws_tests::conformance::Caps;
///
///     typed_ws_tests::conformance_tests!(Json::new(), Caps::JSON);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($converter:expr, $caps:expr) => {
        $crate::conformance_tests!(@cases $converter, $caps;
            frame_kind, applicability, wrong_frame, primitives, options, external_enums,
            internally_tagged, adjacently_tagged, untagged, nested_maps, integer_keys, tuple_keys,
            byte_fields, integer_extremes, finite_floats, non_finite_floats, unicode,
            large_payload, truncated, trailing_garbage, random_bytes, deep_nesting, errors);
    };
    (@cases $converter:expr, $caps:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::$case(&$converter, $caps);
            }
        )*
    };
}

/// Runs every case of the suite against `c`.
///
/// # Panics
///
/// On the first violation, with a message naming the converter and the case.
pub fn run_all<C: ContentConverter>(c: &C, caps: Caps) {
    frame_kind(c, caps);
    applicability(c, caps);
    wrong_frame(c, caps);
    primitives(c, caps);
    options(c, caps);
    external_enums(c, caps);
    internally_tagged(c, caps);
    adjacently_tagged(c, caps);
    untagged(c, caps);
    nested_maps(c, caps);
    integer_keys(c, caps);
    tuple_keys(c, caps);
    byte_fields(c, caps);
    integer_extremes(c, caps);
    finite_floats(c, caps);
    non_finite_floats(c, caps);
    unicode(c, caps);
    large_payload(c, caps);
    truncated(c, caps);
    trailing_garbage(c, caps);
    random_bytes(c, caps);
    deep_nesting(c, caps);
    errors(c, caps);
}

// ---------------------------------------------------------------------------------------------
// Model types

/// Every shape of externally tagged variant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Shape {
    /// A unit variant.
    Unit,
    /// A newtype variant.
    Newtype(i32),
    /// A tuple variant.
    Tuple(i32, String),
    /// A struct variant.
    Struct {
        /// Width.
        w: u32,
        /// Height.
        h: u32,
    },
}

/// A struct used inside the enums.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Inner {
    /// A name.
    pub name: String,
    /// A count.
    pub count: u16,
}

/// An internally tagged enum (`#[serde(tag = "type")]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum Internal {
    /// A unit variant.
    Ping,
    /// A struct variant.
    Join {
        /// Room name.
        room: String,
        /// User id.
        user: u64,
    },
    /// A newtype variant around a struct.
    Wrapped(Inner),
}

/// An adjacently tagged enum (`#[serde(tag = "t", content = "c")]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "t", content = "c")]
pub enum Adjacent {
    /// A unit variant.
    Unit,
    /// A newtype variant.
    Newtype(String),
    /// A tuple variant.
    Tuple(u8, bool),
    /// A struct variant.
    Struct {
        /// A signed value.
        x: i64,
    },
}

/// An untagged enum. The variants have distinct shapes, so it decodes unambiguously even from
/// formats that write structs as arrays.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Untagged {
    /// An integer.
    Num(i64),
    /// A string.
    Text(String),
    /// A list of small numbers.
    List(Vec<u8>),
    /// A struct.
    Obj {
        /// A flag.
        flag: bool,
        /// A label.
        label: String,
    },
}

/// A moderately nested document touching every shape of the suite.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Doc {
    /// An id.
    pub id: u64,
    /// A title.
    pub title: String,
    /// Tags.
    pub tags: Vec<String>,
    /// An optional note.
    pub note: Option<String>,
    /// Externally tagged enums.
    pub shapes: Vec<Shape>,
    /// An internally tagged enum.
    pub internal: Internal,
    /// Adjacently tagged enums.
    pub adjacent: Vec<Adjacent>,
    /// Untagged enums.
    pub untagged: Vec<Untagged>,
    /// Nested maps.
    pub nested: BTreeMap<String, BTreeMap<String, Vec<i64>>>,
    /// Integer keys.
    pub by_id: BTreeMap<u32, Option<Inner>>,
    /// A byte field.
    #[serde(with = "serde_bytes")]
    pub blob: Vec<u8>,
    /// A float.
    pub ratio: f64,
}

impl Doc {
    /// A fixed sample document.
    pub fn sample() -> Doc {
        let mut nested = BTreeMap::new();
        nested.insert(
            "outer".to_owned(),
            BTreeMap::from([("a".to_owned(), vec![1, -2, 3]), ("b".to_owned(), vec![])]),
        );
        nested.insert("empty".to_owned(), BTreeMap::new());
        Doc {
            id: 42,
            title: "héllo wörld ✓".to_owned(),
            tags: vec!["x".to_owned(), String::new()],
            note: None,
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(-7),
                Shape::Tuple(1, "t".to_owned()),
                Shape::Struct { w: 3, h: 4 },
            ],
            internal: Internal::Join {
                room: "lobby".to_owned(),
                user: 9,
            },
            // No shapes that need self-describing structs (see `Caps::structs_as_arrays`): the
            // document is shared by every converter.
            adjacent: vec![Adjacent::Newtype("n".to_owned()), Adjacent::Tuple(1, true)],
            untagged: vec![
                Untagged::Num(-5),
                Untagged::Text("five".to_owned()),
                Untagged::List(vec![5]),
            ],
            nested,
            by_id: BTreeMap::from([
                (
                    1,
                    Some(Inner {
                        name: "one".to_owned(),
                        count: 1,
                    }),
                ),
                (2, None),
            ]),
            blob: vec![0, 1, 2, 254, 255],
            ratio: 0.25,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Serializes `value`, panicking with the converter's error on failure.
pub fn encode<C: ContentConverter, T: Serialize + ?Sized>(c: &C, value: &T) -> Frame {
    match c.serialize(value) {
        Ok(frame) => frame,
        Err(e) => panic!("{}: encoding failed: {e} ({e:?})", c.name()),
    }
}

/// Serializes then deserializes `value`, checking the frame kind on the way.
pub fn round_trip<C: ContentConverter, T: Serialize + DeserializeOwned>(
    c: &C,
    caps: Caps,
    value: &T,
) -> T {
    let frame = encode(c, value);
    assert_eq!(frame.kind(), caps.writes, "{}: frame kind", c.name());
    match c.deserialize(&frame) {
        Ok(back) => back,
        Err(e) => panic!(
            "{}: decoding failed: {e} ({e:?}); frame {frame:?}",
            c.name()
        ),
    }
}

/// Asserts that `value` survives a round trip unchanged.
pub fn assert_round_trip<C, T>(c: &C, caps: Caps, value: &T)
where
    C: ContentConverter,
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let back: T = round_trip(c, caps, value);
    assert_eq!(&back, value, "{}: round trip changed the value", c.name());
}

/// The payload of a data frame.
pub fn payload(frame: &Frame) -> Vec<u8> {
    frame.read_bytes().to_vec()
}

/// A frame of `kind` carrying `bytes`, `None` when `kind` is Text and `bytes` is not UTF-8.
pub fn frame_of(kind: FrameKind, bytes: Vec<u8>) -> Option<Frame> {
    match kind {
        FrameKind::Text => String::from_utf8(bytes)
            .ok()
            .map(|text| Frame::Text(text.into())),
        _ => Some(Frame::Binary(bytes.into())),
    }
}

/// Decodes `frame` as `T` and requires an error of `kind`.
pub fn expect_error<C: ContentConverter, T: DeserializeOwned + Debug>(
    c: &C,
    frame: &Frame,
    kind: ConvertErrorKind,
) -> ConvertError {
    match c.deserialize::<T>(frame) {
        Ok(value) => panic!(
            "{}: expected a {kind:?} error decoding {frame:?}, got {value:?}",
            c.name()
        ),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{}: {e}", c.name());
            e
        }
    }
}

/// Tries to decode `frame` as several target types; any result is fine, a panic is not.
pub fn decode_anything<C: ContentConverter>(c: &C, frame: &Frame) {
    let _ = c.deserialize::<Doc>(frame);
    let _ = c.deserialize::<serde_json::Value>(frame);
    let _ = c.deserialize::<IgnoredAny>(frame);
    let _ = c.deserialize::<Vec<String>>(frame);
    let _ = c.deserialize::<BTreeMap<String, Vec<u64>>>(frame);
    let _ = c.deserialize::<Vec<Shape>>(frame);
    let _ = c.deserialize::<Internal>(frame);
    let _ = c.deserialize::<Untagged>(frame);
    let _ = c.deserialize::<Option<f64>>(frame);
}

/// A small deterministic generator (SplitMix64) so failures reproduce without a seed file.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// The frame kind produced is the one claimed, and the converter reads it back.
pub fn frame_kind<C: ContentConverter>(c: &C, caps: Caps) {
    let frame = encode(c, &Doc::sample());
    assert_eq!(frame.kind(), caps.writes, "{}: frame kind", c.name());
    assert!(
        c.is_applicable(&frame),
        "{}: not applicable to its own frames",
        c.name()
    );
    assert_round_trip(c, caps, &Doc::sample());
}

/// `is_applicable` is `true` exactly for the data frame kinds the converter reads; the
/// converter decodes its encoding carried in every kind it reads.
pub fn applicability<C: ContentConverter>(c: &C, caps: Caps) {
    let bytes = payload(&encode(c, &Doc::sample()));
    let frames = [
        Frame::Text("{}".into()),
        Frame::Binary(Bytes::from_static(b"\x80")),
        Frame::Ping(Bytes::new()),
        Frame::Pong(Bytes::from_static(b"p")),
        Frame::Close(None),
        Frame::Close(Some(CloseReason::normal("bye"))),
    ];
    for frame in &frames {
        assert_eq!(
            c.is_applicable(frame),
            caps.reads(frame.kind()),
            "{}: is_applicable({frame:?})",
            c.name()
        );
    }
    for kind in [FrameKind::Text, FrameKind::Binary] {
        if !caps.reads(kind) {
            continue;
        }
        if let Some(frame) = frame_of(kind, bytes.clone()) {
            let back: Doc = c
                .deserialize(&frame)
                .unwrap_or_else(|e| panic!("{}: reading a {kind} frame: {e}", c.name()));
            assert_eq!(back, Doc::sample(), "{}: {kind} frame", c.name());
        }
    }
}

/// Frames of a kind the converter does not read are `WrongFrame` errors naming the converter and
/// the kind; control frames are never decoded.
pub fn wrong_frame<C: ContentConverter>(c: &C, caps: Caps) {
    let bytes = payload(&encode(
        c,
        &Inner {
            name: "n".into(),
            count: 1,
        },
    ));
    let mut frames = vec![
        Frame::Ping(bytes.clone().into()),
        Frame::Pong(bytes.clone().into()),
        Frame::Close(None),
        Frame::Close(Some(CloseReason::normal("{}"))),
    ];
    for kind in [FrameKind::Text, FrameKind::Binary] {
        if !caps.reads(kind) {
            frames.push(frame_of(kind, bytes.clone()).unwrap_or_else(|| Frame::Text("{}".into())));
        }
    }
    for frame in &frames {
        assert!(
            !c.is_applicable(frame),
            "{}: applicable to {frame:?}",
            c.name()
        );
        let e = expect_error::<C, Inner>(c, frame, ConvertErrorKind::WrongFrame);
        assert_eq!(e.frame_kind(), Some(frame.kind()), "{}", c.name());
        assert_eq!(e.converter(), c.name());
        let shown = e.to_string();
        assert!(shown.contains(c.name()), "{}: {shown}", c.name());
        assert!(
            shown.contains(&frame.kind().to_string()),
            "{}: {shown}",
            c.name()
        );
    }
}

/// Unit, newtype and tuple structs, booleans, chars, empty containers.
pub fn primitives<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Unit;
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Newtype(u32);
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Tuple(i8, String, bool);
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Empty {}

    assert_round_trip(c, caps, &Unit);
    assert_round_trip(c, caps, &());
    assert_round_trip(c, caps, &Newtype(7));
    assert_round_trip(c, caps, &Tuple(-1, "t".into(), false));
    assert_round_trip(c, caps, &Empty {});
    assert_round_trip(c, caps, &true);
    assert_round_trip(c, caps, &'é');
    assert_round_trip(c, caps, &String::new());
    assert_round_trip(c, caps, &Vec::<u8>::new());
    assert_round_trip(c, caps, &BTreeMap::<String, u8>::new());
    assert_round_trip(c, caps, &(1u8, -2i16, 3u32, "four".to_owned()));
    assert_round_trip(c, caps, &[1u16, 2, 3]);
    let value = serde_json::json!({"a": [1, -2, 2.5, null, true, "s", {"b": {}}], "c": []});
    assert_round_trip(c, caps, &value);
}

/// `Option`: `None`, `Some`, inside structs and sequences, and nested `Option<Option<T>>`.
pub fn options<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct WithOptions {
        a: Option<u32>,
        b: Option<String>,
        c: Option<Inner>,
        d: Vec<Option<i8>>,
    }
    assert_round_trip(c, caps, &None::<u32>);
    assert_round_trip(c, caps, &Some(5u32));
    assert_round_trip(c, caps, &Some(String::new()));
    assert_round_trip(
        c,
        caps,
        &WithOptions {
            a: None,
            b: Some("b".into()),
            c: None,
            d: vec![None, Some(-1), None],
        },
    );
    assert_round_trip(
        c,
        caps,
        &WithOptions {
            a: Some(0),
            b: None,
            c: Some(Inner {
                name: String::new(),
                count: 0,
            }),
            d: vec![],
        },
    );
    assert_round_trip(c, caps, &None::<Option<u8>>);
    assert_round_trip(c, caps, &Some(Some(1u8)));
    let back: Option<Option<u8>> = round_trip(c, caps, &Some(None::<u8>));
    let expected = if caps.nested_option { Some(None) } else { None };
    assert_eq!(back, expected, "{}: Some(None)", c.name());
}

/// Externally tagged unit, newtype, tuple and struct variants.
pub fn external_enums<C: ContentConverter>(c: &C, caps: Caps) {
    for shape in Doc::sample().shapes {
        assert_round_trip(c, caps, &shape);
    }
    assert_round_trip(c, caps, &Doc::sample().shapes);
    assert_round_trip(
        c,
        caps,
        &BTreeMap::from([("k".to_owned(), Shape::Newtype(1))]),
    );
}

/// `#[serde(tag = "type")]`.
pub fn internally_tagged<C: ContentConverter>(c: &C, caps: Caps) {
    assert_round_trip(c, caps, &Internal::Ping);
    assert_round_trip(
        c,
        caps,
        &Internal::Join {
            room: "r".into(),
            user: u64::MAX,
        },
    );
    assert_round_trip(
        c,
        caps,
        &Internal::Wrapped(Inner {
            name: "w".into(),
            count: 2,
        }),
    );
}

/// `#[serde(tag = "t", content = "c")]`.
pub fn adjacently_tagged<C: ContentConverter>(c: &C, caps: Caps) {
    for value in [Adjacent::Newtype("n".into()), Adjacent::Tuple(255, false)] {
        assert_round_trip(c, caps, &value);
    }
    for value in [Adjacent::Unit, Adjacent::Struct { x: i64::MIN }] {
        assert_round_trip_unless(c, caps, caps.structs_as_arrays, &value);
    }
}

/// Asserts that `value` round-trips, or, when `unsupported`, that it encodes and then fails to
/// decode with a clean `Decode` error.
pub fn assert_round_trip_unless<C, T>(c: &C, caps: Caps, unsupported: bool, value: &T)
where
    C: ContentConverter,
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    if unsupported {
        let frame = encode(c, value);
        let e = expect_error::<C, T>(c, &frame, ConvertErrorKind::Decode);
        assert!(e.source().is_some(), "{}: no source", c.name());
    } else {
        assert_round_trip(c, caps, value);
    }
}

/// `#[serde(untagged)]`.
pub fn untagged<C: ContentConverter>(c: &C, caps: Caps) {
    for value in [
        Untagged::Num(i64::MIN),
        Untagged::Num(0),
        Untagged::Text("text".into()),
        Untagged::List(vec![1, 2, 3]),
    ] {
        assert_round_trip(c, caps, &value);
    }
    let obj = Untagged::Obj {
        flag: false,
        label: "o".into(),
    };
    assert_round_trip_unless(c, caps, caps.structs_as_arrays, &obj);
}

/// `BTreeMap<String, BTreeMap<String, Vec<i64>>>`.
pub fn nested_maps<C: ContentConverter>(c: &C, caps: Caps) {
    assert_round_trip(c, caps, &Doc::sample().nested);
    let mut big = BTreeMap::new();
    for i in 0..50 {
        let inner = (0..i % 7)
            .map(|j| (format!("k{j}"), (0..j).map(|v| v * i).collect()))
            .collect::<BTreeMap<String, Vec<i64>>>();
        big.insert(format!("outer-{i}"), inner);
    }
    assert_round_trip(c, caps, &big);
}

/// Integer map keys round-trip in every format (JSON writes them as strings).
pub fn integer_keys<C: ContentConverter>(c: &C, caps: Caps) {
    let map: HashMap<u32, String> = [(0, "zero"), (7, "seven"), (u32::MAX, "max")]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    assert_round_trip(c, caps, &map);
    let signed: BTreeMap<i64, bool> = BTreeMap::from([(i64::MIN, true), (-1, false), (1, true)]);
    assert_round_trip(c, caps, &signed);
}

/// Composite (tuple) map keys: round-trip where the format has them, an encode error (not a
/// panic) where it does not.
pub fn tuple_keys<C: ContentConverter>(c: &C, caps: Caps) {
    let map: HashMap<(i32, i32), String> =
        HashMap::from([((0, 0), "origin".to_owned()), ((-1, 2), "p".to_owned())]);
    if caps.tuple_keys {
        assert_round_trip(c, caps, &map);
    } else {
        let e = c
            .serialize(&map)
            .expect_err("tuple keys must be an encode error");
        assert_eq!(e.kind(), ConvertErrorKind::Encode, "{}: {e}", c.name());
        assert!(e.source().is_some(), "{}: no source", c.name());
        // the format error is the source; `{:#}` prints the chain
        assert!(format!("{e:#}").contains("key"), "{}: {e:#}", c.name());
    }
}

/// `#[serde(with = "serde_bytes")] Vec<u8>` and `bytes::Bytes`, every byte value, empty and
/// long; native-binary formats spend about one byte per payload byte.
pub fn byte_fields<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Blobs {
        #[serde(with = "serde_bytes")]
        all: Vec<u8>,
        #[serde(with = "serde_bytes")]
        empty: Vec<u8>,
        shared: Bytes,
        #[serde(with = "serde_bytes")]
        maybe: Option<Vec<u8>>,
    }
    let all: Vec<u8> = (0..=255).collect();
    let value = Blobs {
        all: all.clone(),
        empty: vec![],
        shared: Bytes::from(all.repeat(4)),
        maybe: Some(vec![0, 255]),
    };
    assert_round_trip(c, caps, &value);
    assert_round_trip(c, caps, &Bytes::from_static(b"\x00\xff raw"));
    let frame = encode(c, &value);
    if caps.native_bytes {
        let payload_len = 256 + 1024 + 2;
        assert!(
            frame.len() < payload_len + 64,
            "{}: {} wire bytes for {payload_len} payload bytes: bytes are not native binary",
            c.name(),
            frame.len()
        );
    }
}

/// `i64`/`u64` extremes and every integer width.
pub fn integer_extremes<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Ints {
        i8s: [i8; 2],
        i16s: [i16; 2],
        i32s: [i32; 2],
        i64s: [i64; 4],
        u8s: [u8; 2],
        u16s: [u16; 2],
        u32s: [u32; 2],
        u64s: [u64; 4],
    }
    assert_round_trip(
        c,
        caps,
        &Ints {
            i8s: [i8::MIN, i8::MAX],
            i16s: [i16::MIN, i16::MAX],
            i32s: [i32::MIN, i32::MAX],
            i64s: [i64::MIN, i64::MAX, -1, 0],
            u8s: [0, u8::MAX],
            u16s: [0, u16::MAX],
            u32s: [0, u32::MAX],
            u64s: [0, u64::MAX, 1 << 53, (1 << 53) + 1],
        },
    );
    assert_round_trip(c, caps, &i64::MIN);
    assert_round_trip(c, caps, &u64::MAX);
}

/// Finite floats round-trip bit for bit (including -0.0 and subnormals).
pub fn finite_floats<C: ContentConverter>(c: &C, caps: Caps) {
    let doubles = [
        0.0,
        -0.0,
        0.1,
        1.0 / 3.0,
        -2.5e-300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        f64::EPSILON,
        1e16,
        // Parsed 1 ULP off by a fast, inexact decimal parser (serde_json without
        // `float_roundtrip`).
        -8.766921020369974e-135,
        2.2250738585072014e-308,
        0.30000000000000004,
    ];
    let back: Vec<f64> = round_trip(c, caps, &doubles.to_vec());
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&doubles), "{}: f64 bits", c.name());
    let singles = [0.5f32, -0.0, 0.1, f32::MAX, f32::MIN_POSITIVE, 1e-45];
    let back: Vec<f32> = round_trip(c, caps, &singles.to_vec());
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&singles), "{}: f32 bits", c.name());
}

/// NaN and ±∞, `f32` and `f64`, top level and nested: round-trip where the format has them, a
/// clear encode error naming them where it does not (JSON).
pub fn non_finite_floats<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, Debug)]
    struct Floats {
        a: f64,
        b: Vec<f32>,
        c: Option<f64>,
    }
    let cases: [(f64, &str); 3] = [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "infinity"),
        (f64::NEG_INFINITY, "infinity"),
    ];
    for (value, name) in cases {
        let nested = Floats {
            a: 1.0,
            b: vec![0.5, value as f32],
            c: Some(value),
        };
        if caps.non_finite_floats {
            let same = |x: f64| (x.is_nan() && value.is_nan()) || x == value;
            assert!(same(round_trip(c, caps, &value)), "{}: {value}", c.name());
            let single: f32 = round_trip(c, caps, &(value as f32));
            assert!(same(f64::from(single)), "{}: {value} as f32", c.name());
            let back: Floats = round_trip(c, caps, &nested);
            assert!(back.a == 1.0 && back.b[0] == 0.5, "{}: {back:?}", c.name());
            assert!(same(f64::from(back.b[1])), "{}: {back:?}", c.name());
            assert!(back.c.is_some_and(same), "{}: {back:?}", c.name());
        } else {
            let f32_value = value as f32;
            let mut top = Vec::new();
            top.push(c.serialize(&value).map(|_| ()));
            top.push(c.serialize(&f32_value).map(|_| ()));
            top.push(c.serialize(&nested).map(|_| ()));
            top.push(
                c.serialize(&Floats {
                    b: vec![],
                    ..nested
                })
                .map(|_| ()),
            );
            for result in top {
                let e = result.expect_err("a non-finite float must be an encode error");
                assert_eq!(e.kind(), ConvertErrorKind::Encode, "{}: {e}", c.name());
                assert!(e.source().is_some(), "{}: no source", c.name());
                let shown = format!("{e:#}");
                assert!(
                    shown.contains(name),
                    "{}: {shown:?} does not say {name}",
                    c.name()
                );
                assert!(shown.contains(c.name()), "{}: {shown:?}", c.name());
            }
        }
    }
}

/// Multi-byte, astral, combining, control and NUL characters in strings, keys and chars.
pub fn unicode<C: ContentConverter>(c: &C, caps: Caps) {
    let strings = [
        "plain",
        "héllo wörld",
        "日本語テキスト",
        "emoji 🦀👩‍👩‍👧 and flags 🇫🇷",
        "combining e\u{301} and zero\u{200b}width",
        "controls \u{0}\u{1}\t\n\r\u{7f}\u{9f}",
        "quotes \" \\ / \u{2028}\u{2029}",
        "rtl \u{202e}abc",
        "\u{ffff}\u{10ffff}",
    ];
    for s in strings {
        assert_round_trip(c, caps, &s.to_owned());
    }
    let map: BTreeMap<String, String> = strings
        .iter()
        .map(|s| ((*s).to_owned(), s.chars().rev().collect()))
        .collect();
    assert_round_trip(c, caps, &map);
    assert_round_trip(c, caps, &['\u{0}', 'ß', '€', '🦀', '\u{10ffff}']);
}

/// A struct with a 1 MiB string and a 1 MiB byte vector.
pub fn large_payload<C: ContentConverter>(c: &C, caps: Caps) {
    #[derive(Serialize, Deserialize, PartialEq)]
    struct Large {
        text: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    }
    impl Debug for Large {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "Large {{ text: {} bytes, data: {} bytes }}",
                self.text.len(),
                self.data.len()
            )
        }
    }
    const MIB: usize = 1 << 20;
    let text: String = "aé€🦀"
        .chars()
        .cycle()
        .scan(0, |len, ch| {
            *len += ch.len_utf8();
            (*len <= MIB).then_some(ch)
        })
        .collect();
    let value = Large {
        text,
        data: Rng::new(1).bytes(MIB),
    };
    assert!(value.text.len() > MIB - 4);
    let frame = encode(c, &value);
    if caps.native_bytes {
        assert!(
            frame.len() < 2 * MIB + 64,
            "{}: {} bytes",
            c.name(),
            frame.len()
        );
    }
    let back: Large = c
        .deserialize(&frame)
        .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    assert!(back == value, "{}: large payload changed", c.name());
}

/// Every prefix of a valid encoding of [`Doc::sample`] is a decode error, never a panic and
/// never a value.
pub fn truncated<C: ContentConverter>(c: &C, _caps: Caps) {
    let frame = encode(c, &Doc::sample());
    let bytes = payload(&frame);
    for len in 0..bytes.len() {
        let Some(prefix) = frame_of(frame.kind(), bytes[..len].to_vec()) else {
            continue; // a text prefix that splits a character is not a text frame
        };
        let e = expect_error::<C, Doc>(c, &prefix, ConvertErrorKind::Decode);
        assert!(e.source().is_some(), "{}: no source", c.name());
        decode_anything(c, &prefix);
    }
}

/// Bytes after a complete value are a decode error: a frame is one message.
pub fn trailing_garbage<C: ContentConverter>(c: &C, caps: Caps) {
    let frame = encode(c, &Doc::sample());
    for extra in [&b"0"[..], b"\x00", b"{}", b" x"] {
        let mut bytes = payload(&frame);
        bytes.extend_from_slice(extra);
        let Some(longer) = frame_of(caps.writes, bytes) else {
            continue;
        };
        expect_error::<C, Doc>(c, &longer, ConvertErrorKind::Decode);
    }
}

/// Random payloads (and random text for text formats) never panic, whatever the target type.
pub fn random_bytes<C: ContentConverter>(c: &C, caps: Caps) {
    let mut rng = Rng::new(0x5eed);
    let valid = payload(&encode(c, &Doc::sample()));
    for round in 0..600usize {
        let len = (rng.next_u64() % 300) as usize;
        let mut bytes = rng.bytes(len);
        if round % 3 == 0 && !valid.is_empty() {
            // Mutate a valid encoding: flip a few bytes so the decoder gets deep before failing.
            bytes = valid.clone();
            for _ in 0..1 + rng.next_u64() % 4 {
                let at = (rng.next_u64() as usize) % bytes.len();
                bytes[at] = rng.next_u64() as u8;
            }
        }
        for kind in [FrameKind::Text, FrameKind::Binary] {
            if !caps.reads(kind) {
                continue;
            }
            let frame = match kind {
                FrameKind::Text => Frame::Text(String::from_utf8_lossy(&bytes).into_owned().into()),
                _ => Frame::Binary(bytes.clone().into()),
            };
            decode_anything(c, &frame);
        }
    }
}

/// A recursive type: nesting through enum variants, which some decoders do not count.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Tree {
    /// The end.
    Leaf,
    /// One more level.
    Node(Box<Tree>),
}

/// A recursive internally tagged type.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum Chain {
    /// The end.
    End,
    /// One more level.
    Link {
        /// The rest of the chain.
        next: Box<Chain>,
    },
}

/// A frame nesting `depth` levels: the encoding of `one` (one level around `leaf`) up to where
/// the encoding of `leaf` starts, repeated, then `leaf`. Unclosed, which is as hostile.
pub fn nested_frame<C, T>(c: &C, caps: Caps, one: &T, leaf: &T, depth: usize) -> Frame
where
    C: ContentConverter,
    T: Serialize,
{
    let one = payload(&encode(c, one));
    let leaf = payload(&encode(c, leaf));
    let open = one
        .windows(leaf.len())
        .position(|w| w == leaf.as_slice())
        .map(|at| one[..at].to_vec())
        .unwrap_or_else(|| panic!("{}: cannot find the leaf in one level", c.name()));
    assert!(!open.is_empty());
    let mut bytes = open.repeat(depth);
    bytes.extend_from_slice(&leaf);
    frame_of(caps.writes, bytes).unwrap_or_else(|| panic!("{}: not text", c.name()))
}

/// 100,000 levels of nesting (arrays, enum variants, internally tagged structs) are a decode
/// error, not a stack overflow, on a test thread's default 2 MiB stack; 20 levels decode.
pub fn deep_nesting<C: ContentConverter>(c: &C, caps: Caps) {
    const DEEP: usize = 100_000;
    let arrays = nested_frame(c, caps, &Untagged::List(vec![0]), &Untagged::Num(0), DEEP);
    expect_error::<C, serde_json::Value>(c, &arrays, ConvertErrorKind::Decode);
    expect_error::<C, IgnoredAny>(c, &arrays, ConvertErrorKind::Decode);
    expect_error::<C, Untagged>(c, &arrays, ConvertErrorKind::Decode);
    expect_error::<C, Vec<Vec<u8>>>(c, &arrays, ConvertErrorKind::Decode);

    let tree = nested_frame(
        c,
        caps,
        &Tree::Node(Box::new(Tree::Leaf)),
        &Tree::Leaf,
        DEEP,
    );
    expect_error::<C, Tree>(c, &tree, ConvertErrorKind::Decode);
    let link = |next| Chain::Link {
        next: Box::new(next),
    };
    let chain = nested_frame(c, caps, &link(Chain::End), &Chain::End, DEEP);
    expect_error::<C, Chain>(c, &chain, ConvertErrorKind::Decode);

    let mut tree = Tree::Leaf;
    let mut chain = Chain::End;
    for _ in 0..20 {
        tree = Tree::Node(Box::new(tree));
        chain = link(chain);
    }
    assert_round_trip(c, caps, &tree);
    assert_round_trip(c, caps, &chain);
}

/// Decode and encode errors name the converter (and the frame kind when decoding) and keep the
/// format's error as `source()`.
pub fn errors<C: ContentConverter>(c: &C, caps: Caps) {
    // Decode: a valid encoding of the wrong type.
    let frame = encode(c, &"not a doc");
    let e = expect_error::<C, Doc>(c, &frame, ConvertErrorKind::Decode);
    assert_eq!(e.converter(), c.name());
    assert_eq!(e.frame_kind(), Some(caps.writes));
    assert!(
        e.source().is_some(),
        "{}: decode error without source",
        c.name()
    );
    let shown = e.to_string();
    assert!(shown.contains(c.name()), "{}: {shown}", c.name());
    assert!(
        shown.contains(&caps.writes.to_string()),
        "{}: {shown}",
        c.name()
    );
    assert!(!format!("{e:?}").is_empty());

    // Encode: a Serialize implementation that fails.
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom(
                "this value refuses to be serialized",
            ))
        }
    }
    let e = c.serialize(&vec![Fails]).expect_err("a failing Serialize");
    assert_eq!(e.kind(), ConvertErrorKind::Encode, "{}: {e}", c.name());
    assert_eq!(e.frame_kind(), None);
    assert!(
        e.source().is_some(),
        "{}: encode error without source",
        c.name()
    );
    let shown = format!("{e:#}");
    assert!(shown.contains(c.name()), "{}: {shown}", c.name());
    assert!(
        shown.contains("refuses to be serialized"),
        "{}: {shown}",
        c.name()
    );
}
