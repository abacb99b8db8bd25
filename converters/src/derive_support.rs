//! Runtime support for `#[derive(Message)]`: the one private surface that derived code names
//! (as `::typed_ws::__private::…`, which re-exports this module).
//!
//! Nothing here is public API: names and signatures may change in any release.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser;

use crate::converter::ConvertErrorKind;
use crate::utf8::Utf8Bytes;
use bytes::Bytes;

pub use crate::converter::{ContentConverter, ConvertError};
pub use crate::frame::Frame;
pub use crate::message::{FromFrame, Message, ToFrame};
pub use serde;

/// The longest unknown tag quoted in an error message, in bytes.
const MAX_QUOTED_TAG: usize = 64;

/// The tag key of a derived protocol, as a type so that [`decode`] can probe for it through
/// [`ContentConverter::deserialize`]. Implemented by a hidden marker type inside the derive's
/// `const _: () = { … };` block.
pub trait TagKey {
    /// The key of the tag field, such as `"type"`.
    const KEY: &'static str;
}

/// Decodes `frame` into a derived enum `M` following the rules documented on the derive.
///
/// - `tags`: the envelope tags (`Message::TAGS`);
/// - `envelope`: decodes the frame as an envelope (one deserialize of the owned shadow enum);
/// - `other`: the `#[message(other)]` variant for an unknown tag, or the tag back without one;
/// - `raw`: the `#[message(binary)]` / `#[message(text)]` variant for the frame's kind, if any.
///
/// 1. A frame the converter does not read goes to `raw`, else `WrongFrame`. In a protocol
///    without envelope variants, every frame that `raw` takes goes there.
/// 2. A frame the converter reads is decoded by `envelope`.
/// 3. When that fails, the tag alone is probed: an unknown tag goes to `other` (else a Decode
///    error naming the known tags), a known tag returns the envelope error, and a frame without
///    a tag field (or that is not a map) goes to `raw`, else the envelope error.
///
/// # Errors
///
/// See above.
pub fn decode<K: TagKey, M, C: ContentConverter>(
    converter: &C,
    frame: &Frame,
    tags: &'static [&'static str],
    envelope: impl FnOnce() -> Result<M, ConvertError>,
    other: impl FnOnce(String) -> Result<M, String>,
    raw: impl Fn() -> Option<M>,
) -> Result<M, ConvertError> {
    if !converter.is_applicable(frame) {
        return raw().ok_or_else(|| ConvertError::wrong_frame(converter.name(), frame.kind()));
    }
    if tags.is_empty()
        && let Some(message) = raw()
    {
        return Ok(message);
    }
    let error = match envelope() {
        Ok(message) => return Ok(message),
        Err(error) => error,
    };
    match converter.deserialize::<TagProbe<K>>(frame) {
        Ok(TagProbe(Probe::Tag(tag), _)) if !tags.contains(&tag.as_str()) => {
            other(tag).map_err(|tag| unknown_tag(converter, frame, tags, &tag))
        }
        Ok(TagProbe(Probe::Tag(_) | Probe::BadTag, _)) => Err(error),
        Ok(TagProbe(Probe::NoTag, _)) | Err(_) => raw().ok_or(error),
    }
}

/// The envelope error of a protocol without envelope variants.
pub fn no_envelope(converter: &impl ContentConverter, frame: &Frame) -> ConvertError {
    ConvertError::custom(
        ConvertErrorKind::Decode,
        converter.name(),
        Some(frame.kind()),
        "this protocol has no tagged messages",
    )
}

/// A clone of the frame held by a `#[message(other)]` variant (typed, so that a field of the
/// wrong type is reported at that field).
pub fn clone_frame(frame: &Frame) -> Frame {
    frame.clone()
}

fn unknown_tag(
    converter: &impl ContentConverter,
    frame: &Frame,
    tags: &[&str],
    tag: &str,
) -> ConvertError {
    let mut quoted = tag.to_owned();
    if quoted.len() > MAX_QUOTED_TAG {
        crate::frame::truncate_utf8(&mut quoted, MAX_QUOTED_TAG);
        quoted.push('…');
    }
    let message = if tags.is_empty() {
        format!("unknown message tag `{quoted}`, this protocol has no tagged messages")
    } else {
        let expected = tags
            .iter()
            .map(|tag| format!("`{tag}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("unknown message tag `{quoted}`, expected one of {expected}")
    };
    ConvertError::custom(
        ConvertErrorKind::Decode,
        converter.name(),
        Some(frame.kind()),
        message,
    )
}

/// What the tag probe found.
enum Probe {
    /// A map with a string at the tag key, or a sequence whose first element is a string (the
    /// positional form written by formats that serialize structs as arrays).
    Tag(String),
    /// A map whose tag key holds something other than a string.
    BadTag,
    /// Not a map, or a map without the tag key.
    NoTag,
}

/// Reads only the tag of an envelope, ignoring everything else.
struct TagProbe<P>(Probe, PhantomData<P>);

impl<'de, K: TagKey> Deserialize<'de> for TagProbe<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ProbeVisitor { key: K::KEY })
            .map(|probe| TagProbe(probe, PhantomData))
    }
}

struct ProbeVisitor {
    key: &'static str,
}

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut probe = Probe::NoTag;
        while let Some(is_tag) = map.next_key_seed(KeyIs(self.key))? {
            if is_tag && matches!(probe, Probe::NoTag) {
                probe = match map.next_value::<TagValue>()? {
                    TagValue(Some(tag)) => Probe::Tag(tag),
                    TagValue(None) => Probe::BadTag,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(probe)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
        let probe = match seq.next_element::<TagValue>()? {
            Some(TagValue(Some(tag))) => Probe::Tag(tag),
            _ => Probe::NoTag,
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(probe)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_str<E>(self, _: &str) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_none<E>(self) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Probe, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_unit<E>(self) -> Result<Probe, E> {
        Ok(Probe::NoTag)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Probe, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Probe, A::Error> {
        // Formats with a native enum type (none of the built-in ones): not an envelope.
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant)?;
        Ok(Probe::NoTag)
    }
}

/// Deserializes a map key to "is it the tag key?", accepting any key type.
struct KeyIs(&'static str);

impl<'de> de::DeserializeSeed<'de> for KeyIs {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyIs {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
    fn visit_bytes<E>(self, key: &[u8]) -> Result<bool, E> {
        Ok(key == self.0.as_bytes())
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i128<E>(self, _: i128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u128<E>(self, _: u128) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_map(map).map(|_| false)
    }
}

/// A tag value: `Some` for a string, `None` for anything else (consumed and ignored).
struct TagValue(Option<String>);

impl<'de> Deserialize<'de> for TagValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TagValueVisitor)
    }
}

struct TagValueVisitor;

impl<'de> Visitor<'de> for TagValueVisitor {
    type Value = TagValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tag")
    }

    fn visit_str<E>(self, tag: &str) -> Result<TagValue, E> {
        Ok(TagValue(Some(tag.to_owned())))
    }
    fn visit_string<E>(self, tag: String) -> Result<TagValue, E> {
        Ok(TagValue(Some(tag)))
    }
    fn visit_bytes<E>(self, tag: &[u8]) -> Result<TagValue, E> {
        // MessagePack peers sometimes write strings as `bin`; serde's derive accepts those too.
        Ok(TagValue(std::str::from_utf8(tag).ok().map(str::to_owned)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_i128<E>(self, _: i128) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_u128<E>(self, _: u128) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_unit<E>(self) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_none<E>(self) -> Result<TagValue, E> {
        Ok(TagValue(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<TagValue, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| TagValue(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TagValue, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| TagValue(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TagValue, A::Error> {
        IgnoredAny.visit_map(map).map(|_| TagValue(None))
    }
}

/// Serializes an envelope shadow with its top-level struct written as a **map**, so the
/// envelope is keyed by name even in formats that write structs as arrays
/// (`MessagePack::compact`); payloads inside keep the format's own layout.
pub struct AsMap<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> serde::Serialize for AsMap<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(MapSerializer(serializer))
    }
}

/// A serializer that turns `serialize_struct` into `serialize_map` and forwards the rest.
struct MapSerializer<S>(S);

/// `SerializeStruct` on top of a `SerializeMap`.
struct StructAsMap<M>(M);

impl<M: ser::SerializeMap> ser::SerializeStruct for StructAsMap<M> {
    type Ok = M::Ok;
    type Error = M::Error;

    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<M::Ok, M::Error> {
        self.0.end()
    }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            fn $method(self, $($arg: $ty),*) -> Result<$ret, S::Error> {
                self.0.$method($($arg),*)
            }
        )*
    };
}

impl<S: serde::Serializer> serde::Serializer for MapSerializer<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = S::SerializeSeq;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = StructAsMap<S::SerializeMap>;
    type SerializeStructVariant = S::SerializeStructVariant;

    forward! {
        serialize_bool(v: bool) -> S::Ok;
        serialize_i8(v: i8) -> S::Ok;
        serialize_i16(v: i16) -> S::Ok;
        serialize_i32(v: i32) -> S::Ok;
        serialize_i64(v: i64) -> S::Ok;
        serialize_i128(v: i128) -> S::Ok;
        serialize_u8(v: u8) -> S::Ok;
        serialize_u16(v: u16) -> S::Ok;
        serialize_u32(v: u32) -> S::Ok;
        serialize_u64(v: u64) -> S::Ok;
        serialize_u128(v: u128) -> S::Ok;
        serialize_f32(v: f32) -> S::Ok;
        serialize_f64(v: f64) -> S::Ok;
        serialize_char(v: char) -> S::Ok;
        serialize_str(v: &str) -> S::Ok;
        serialize_bytes(v: &[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit() -> S::Ok;
        serialize_unit_struct(name: &'static str) -> S::Ok;
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> S::Ok;
        serialize_seq(len: Option<usize>) -> S::SerializeSeq;
        serialize_tuple(len: usize) -> S::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> S::SerializeTupleStruct;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> S::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> S::SerializeMap;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> S::SerializeStructVariant;
    }

    fn serialize_some<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(value)
    }

    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, value)
    }

    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<StructAsMap<S::SerializeMap>, S::Error> {
        self.0.serialize_map(Some(len)).map(StructAsMap)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The payload of a `#[message(binary)]` variant: sent as the raw payload of a Binary frame.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the payload of a `#[message(binary)]` variant",
    label = "expected `Bytes` or `Vec<u8>`",
    note = "a binary variant holds the raw frame payload: use `typed_ws::Bytes` or `Vec<u8>`"
)]
pub trait RawBinary: Sized {
    /// The frame payload.
    fn to_frame(&self) -> Bytes;
    /// The value from a frame payload.
    fn from_frame(bytes: &Bytes) -> Self;
}

impl RawBinary for Bytes {
    fn to_frame(&self) -> Bytes {
        self.clone()
    }
    fn from_frame(bytes: &Bytes) -> Self {
        bytes.clone()
    }
}

impl RawBinary for Vec<u8> {
    fn to_frame(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
    fn from_frame(bytes: &Bytes) -> Self {
        bytes.to_vec()
    }
}

/// The payload of a `#[message(text)]` variant: sent as the raw text of a Text frame.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the payload of a `#[message(text)]` variant",
    label = "expected `String` or `Utf8Bytes`",
    note = "a text variant holds the raw frame text: use `String` or `typed_ws::Utf8Bytes`"
)]
pub trait RawText: Sized {
    /// The frame text.
    fn to_frame(&self) -> Utf8Bytes;
    /// The value from a frame's text.
    fn from_frame(text: &Utf8Bytes) -> Self;
}

impl RawText for Utf8Bytes {
    fn to_frame(&self) -> Utf8Bytes {
        self.clone()
    }
    fn from_frame(text: &Utf8Bytes) -> Self {
        text.clone()
    }
}

impl RawText for String {
    fn to_frame(&self) -> Utf8Bytes {
        self.as_str().into()
    }
    fn from_frame(text: &Utf8Bytes) -> Self {
        text.as_str().to_owned()
    }
}

/// A type that can travel in an envelope: `Serialize + DeserializeOwned`. Derived impls are
/// bounded by `Payload: T` for each envelope field type, so a type that is not is reported once,
/// at the field, with this hint.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a message payload",
    label = "this payload type must implement `Serialize` and `Deserialize`",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to `{Self}`, or mark the variant `#[message(binary)]` / `#[message(text)]` for a raw payload"
)]
pub trait Payload: serde::Serialize + DeserializeOwned {}

impl<T: serde::Serialize + DeserializeOwned> Payload for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Json, MessagePack};

    struct Type;

    impl TagKey for Type {
        const KEY: &'static str = "type";
    }

    #[derive(Debug, PartialEq)]
    enum M {
        Tagged,
        Other(String),
        Text(String),
        Binary(Bytes),
    }

    #[derive(serde::Deserialize)]
    #[serde(tag = "type")]
    enum Env {
        #[serde(rename = "ping")]
        Ping,
    }

    fn decode_with(converter: &impl ContentConverter, frame: &Frame) -> Result<M, ConvertError> {
        decode::<Type, _, _>(
            converter,
            frame,
            &["ping"],
            || {
                converter
                    .deserialize::<Env>(frame)
                    .map(|Env::Ping| M::Tagged)
            },
            |tag| {
                if tag == "no-other" {
                    Err(tag)
                } else {
                    Ok(M::Other(tag))
                }
            },
            || match frame {
                Frame::Text(text) if !text.starts_with("no-raw") => {
                    Some(M::Text(text.as_str().to_owned()))
                }
                Frame::Binary(bytes) => Some(M::Binary(bytes.clone())),
                _ => None,
            },
        )
    }

    fn text(s: &str) -> Frame {
        Frame::Text(s.into())
    }

    #[test]
    fn routes_by_tag_and_shape() {
        let json = Json::default();
        assert_eq!(
            decode_with(&json, &text(r#"{"type":"ping"}"#)).unwrap(),
            M::Tagged
        );
        assert_eq!(
            decode_with(&json, &text(r#"{"a":[1,{"type":2}],"type":"x"}"#)).unwrap(),
            M::Other("x".into())
        );
        assert_eq!(
            decode_with(&json, &text(r#"["y", 1]"#)).unwrap(),
            M::Other("y".into())
        );
        assert_eq!(
            decode_with(&json, &text("hello")).unwrap(),
            M::Text("hello".into())
        );
        assert_eq!(
            decode_with(&json, &text(r#"{"a":1}"#)).unwrap(),
            M::Text(r#"{"a":1}"#.into())
        );
        let bytes = Bytes::from_static(b"\x01\x02");
        assert_eq!(
            decode_with(&json, &Frame::Binary(bytes.clone())).unwrap(),
            M::Binary(bytes)
        );
        let err = decode_with(&json, &Frame::Ping(Bytes::new())).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::WrongFrame);
    }

    #[test]
    fn unknown_tag_without_other_names_the_known_tags() {
        let err = decode_with(&Json::default(), &text(r#"{"type":"no-other"}"#)).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
        assert_eq!(
            err.to_string(),
            "json converter could not decode a text frame: unknown message tag `no-other`, expected one of `ping`"
        );
    }

    #[test]
    fn non_string_tag_and_no_raw_keep_the_envelope_error() {
        let json = Json::default();
        let err = decode_with(&json, &text(r#"{"type":5}"#)).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
        let err = decode_with(&json, &text("no-raw")).unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
    }

    #[test]
    fn msgpack_probe_reads_maps_with_any_keys() {
        let msgpack = MessagePack::default();
        let frame = msgpack.serialize(&(1, "x")).unwrap();
        // [1, "x"]: a sequence whose first element is not a string is not an envelope.
        assert!(matches!(
            decode_with(&msgpack, &frame).unwrap(),
            M::Binary(_)
        ));
        let frame = Frame::Binary(vec![0x81, 0x01, 0xa4, b't', b'y', b'p', b'e'].into());
        assert!(matches!(
            decode_with(&msgpack, &frame).unwrap(),
            M::Binary(_)
        ));
        let frame = Frame::Binary(vec![0x81, 0xa4, b't', b'y', b'p', b'e', 0xa1, b'z'].into());
        assert_eq!(decode_with(&msgpack, &frame).unwrap(), M::Other("z".into()));
    }
}
