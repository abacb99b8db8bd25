//! JSON encoding that refuses non-finite floats instead of writing them as `null`.
//!
//! serde_json writes NaN and ±∞ as `null`, so a value silently changes on the way through. Here
//! a thin [`Serializer`] wraps `serde_json::Serializer`, forwards every call to it and checks
//! each `f32`/`f64` it sees, at any depth (struct fields, sequence elements, map keys and
//! values, enum variants, options). It is one pass over the value with no extra allocation on
//! the success path: the only buffer is serde_json's output `Vec`.
//!
//! When a non-finite float is found, the path to it (`$.items[2].ratio`) is collected while the
//! error unwinds, so the bookkeeping costs nothing unless the value is refused. The forwarding
//! methods are `#[inline(always)]`: left to the inliner, the extra layer stays a call inside
//! derived `Serialize` code and costs about 10% on struct-heavy values.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Display, Write as _};

use serde::ser::{
    self, Error as _, Serialize, SerializeMap, SerializeSeq, SerializeStruct,
    SerializeStructVariant, SerializeTuple, SerializeTupleStruct, SerializeTupleVariant,
    Serializer,
};

/// Serializes `value` to a JSON string, failing on NaN and infinities.
///
/// The output is byte for byte what `serde_json::to_string` writes for every value it accepts.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let trail = Trail::default();
    let result = value.serialize(Finite {
        inner: &mut serde_json::Serializer::new(&mut out),
        trail: &trail,
    });
    match result {
        // serde_json only writes UTF-8; the check is a fast scan, never a copy.
        Ok(()) => String::from_utf8(out).map_err(serde_json::Error::custom),
        Err(error) => Err(trail.finish().map_or(error, serde_json::Error::custom)),
    }
}

/// Where the walk is, recorded only while a non-finite float error unwinds.
#[derive(Default)]
struct Trail {
    /// `Some("NaN" | "infinity" | "-infinity")` once a non-finite float was refused.
    found: Cell<Option<&'static str>>,
    /// Path segments, innermost first.
    path: RefCell<Vec<Segment>>,
}

/// One step of the path to a refused float.
enum Segment {
    /// A struct field or an enum variant: `.name`.
    Field(&'static str),
    /// A sequence or tuple element: `[3]`.
    Index(usize),
    /// The value of a map entry whose key is known, as JSON: `["key"]`.
    Key(String),
    /// The value of the map entry at this position (key not at hand): `[#3]`.
    Entry(usize),
    /// The key of the map entry at this position: `[#3 key]`.
    KeyOf(usize),
}

impl Trail {
    /// Records the refused float and returns the (preliminary) error; the final message with
    /// the path is made by [`Trail::finish`].
    #[cold]
    #[inline(never)]
    fn refuse<E: ser::Error>(&self, what: &'static str) -> E {
        self.found.set(Some(what));
        E::custom(Refused { what, path: "" })
    }

    /// Adds a segment when `result` is an error caused by a refused float.
    #[inline(always)]
    fn at<R, E>(&self, result: Result<R, E>, segment: impl FnOnce() -> Segment) -> Result<R, E> {
        if result.is_err() && self.found.get().is_some() {
            self.push(segment());
        }
        result
    }

    #[cold]
    #[inline(never)]
    fn push(&self, segment: Segment) {
        self.path.borrow_mut().push(segment);
    }

    /// The final error message, `None` when the error was not a refused float.
    fn finish(&self) -> Option<Refused<String>> {
        let what = self.found.get()?;
        let segments = self.path.borrow();
        let mut path = String::new();
        if !segments.is_empty() {
            path.push('$');
        }
        for segment in segments.iter().rev() {
            // Writing to a String cannot fail.
            let _ = match segment {
                Segment::Field(name) => write!(path, ".{name}"),
                Segment::Index(index) => write!(path, "[{index}]"),
                Segment::Key(key) => write!(path, "[{key}]"),
                Segment::Entry(index) => write!(path, "[#{index}]"),
                Segment::KeyOf(index) => write!(path, "[#{index} key]"),
            };
        }
        Some(Refused { what, path })
    }
}

/// The error message for a refused float.
struct Refused<P> {
    what: &'static str,
    path: P,
}

impl<P: AsRef<str>> Display for Refused<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cannot be represented in JSON", self.what)?;
        let path = self.path.as_ref();
        if !path.is_empty() {
            write!(f, " (found at {path})")?;
        }
        Ok(())
    }
}

fn describe_f64(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "infinity"
    } else {
        "-infinity"
    }
}

/// The wrapping serializer: forwards to `inner`, refusing non-finite floats.
struct Finite<'t, S> {
    inner: S,
    trail: &'t Trail,
}

/// A value to be serialized through [`Finite`] by a forwarded compound serializer.
struct Checked<'t, 'v, T: ?Sized> {
    value: &'v T,
    trail: &'t Trail,
}

impl<T: Serialize + ?Sized> Serialize for Checked<'_, '_, T> {
    #[inline(always)]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Finite {
            inner: serializer,
            trail: self.trail,
        })
    }
}

/// Wraps a compound serializer so the elements it is given are checked too.
struct Compound<'t, C> {
    inner: C,
    trail: &'t Trail,
    /// The enum variant this compound belongs to, added to the path after the element.
    variant: Option<&'static str>,
    /// The index of the next element or map entry.
    next: usize,
}

impl<'t, C> Compound<'t, C> {
    fn new(inner: C, trail: &'t Trail, variant: Option<&'static str>) -> Self {
        Compound {
            inner,
            trail,
            variant,
            next: 0,
        }
    }

    #[inline(always)]
    fn checked<'v, T: ?Sized>(&self, value: &'v T) -> Checked<'t, 'v, T> {
        Checked {
            value,
            trail: self.trail,
        }
    }

    /// Records `segment` (and the variant, if any) when `result` is a refused float.
    #[inline(always)]
    fn at<R, E>(&self, result: Result<R, E>, segment: impl FnOnce() -> Segment) -> Result<R, E> {
        let result = self.trail.at(result, segment);
        match self.variant {
            Some(variant) => self.trail.at(result, || Segment::Field(variant)),
            None => result,
        }
    }

    /// Forwards one positional element.
    #[inline(always)]
    fn element<T: Serialize + ?Sized, E>(
        &mut self,
        value: &T,
        forward: impl FnOnce(&mut C, &Checked<'t, '_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let index = self.next;
        self.next += 1;
        let checked = self.checked(value);
        let result = forward(&mut self.inner, &checked);
        self.at(result, || Segment::Index(index))
    }

    /// Forwards one named field.
    #[inline(always)]
    fn field<T: Serialize + ?Sized, E>(
        &mut self,
        key: &'static str,
        value: &T,
        forward: impl FnOnce(&mut C, &Checked<'t, '_, T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let checked = self.checked(value);
        let result = forward(&mut self.inner, &checked);
        self.at(result, || Segment::Field(key))
    }
}

impl<'t, S: Serializer> Serializer for Finite<'t, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'t, S::SerializeSeq>;
    type SerializeTuple = Compound<'t, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'t, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'t, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'t, S::SerializeMap>;
    type SerializeStruct = Compound<'t, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'t, S::SerializeStructVariant>;

    #[inline(always)]
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            self.inner.serialize_f32(v)
        } else {
            Err(self.trail.refuse(describe_f64(f64::from(v))))
        }
    }

    #[inline(always)]
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            self.inner.serialize_f64(v)
        } else {
            Err(self.trail.refuse(describe_f64(v)))
        }
    }

    #[inline(always)]
    fn serialize_bool(self, v: bool) -> Result<S::Ok, S::Error> {
        self.inner.serialize_bool(v)
    }

    #[inline(always)]
    fn serialize_i8(self, v: i8) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i8(v)
    }

    #[inline(always)]
    fn serialize_i16(self, v: i16) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i16(v)
    }

    #[inline(always)]
    fn serialize_i32(self, v: i32) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i32(v)
    }

    #[inline(always)]
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i64(v)
    }

    #[inline(always)]
    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        self.inner.serialize_i128(v)
    }

    #[inline(always)]
    fn serialize_u8(self, v: u8) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u8(v)
    }

    #[inline(always)]
    fn serialize_u16(self, v: u16) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u16(v)
    }

    #[inline(always)]
    fn serialize_u32(self, v: u32) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u32(v)
    }

    #[inline(always)]
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u64(v)
    }

    #[inline(always)]
    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        self.inner.serialize_u128(v)
    }

    #[inline(always)]
    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        self.inner.serialize_char(v)
    }

    #[inline(always)]
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_str(v)
    }

    #[inline(always)]
    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        self.inner.serialize_bytes(v)
    }

    #[inline(always)]
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    #[inline(always)]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&Checked {
            value,
            trail: self.trail,
        })
    }

    #[inline(always)]
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    #[inline(always)]
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_struct(name)
    }

    #[inline(always)]
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }

    #[inline(always)]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(
            name,
            &Checked {
                value,
                trail: self.trail,
            },
        )
    }

    #[inline(always)]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let trail = self.trail;
        let result =
            self.inner
                .serialize_newtype_variant(name, index, variant, &Checked { value, trail });
        trail.at(result, || Segment::Field(variant))
    }

    #[inline(always)]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        let inner = self.inner.serialize_seq(len)?;
        Ok(Compound::new(inner, self.trail, None))
    }

    #[inline(always)]
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        let inner = self.inner.serialize_tuple(len)?;
        Ok(Compound::new(inner, self.trail, None))
    }

    #[inline(always)]
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        let inner = self.inner.serialize_tuple_struct(name, len)?;
        Ok(Compound::new(inner, self.trail, None))
    }

    #[inline(always)]
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let inner = self
            .inner
            .serialize_tuple_variant(name, index, variant, len)?;
        Ok(Compound::new(inner, self.trail, Some(variant)))
    }

    #[inline(always)]
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let inner = self.inner.serialize_map(len)?;
        Ok(Compound::new(inner, self.trail, None))
    }

    #[inline(always)]
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let inner = self.inner.serialize_struct(name, len)?;
        Ok(Compound::new(inner, self.trail, None))
    }

    #[inline(always)]
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let inner = self
            .inner
            .serialize_struct_variant(name, index, variant, len)?;
        Ok(Compound::new(inner, self.trail, Some(variant)))
    }

    #[inline(always)]
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.collect_str(value)
    }

    #[inline(always)]
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<C: SerializeSeq> SerializeSeq for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.element(value, |inner, checked| inner.serialize_element(checked))
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeTuple> SerializeTuple for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.element(value, |inner, checked| inner.serialize_element(checked))
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeTupleStruct> SerializeTupleStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.element(value, |inner, checked| inner.serialize_field(checked))
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeTupleVariant> SerializeTupleVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.element(value, |inner, checked| inner.serialize_field(checked))
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeMap> SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        let index = self.next;
        let checked = self.checked(key);
        let result = self.inner.serialize_key(&checked);
        self.at(result, || Segment::KeyOf(index))
    }

    #[inline(always)]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let index = self.next;
        self.next += 1;
        let checked = self.checked(value);
        let result = self.inner.serialize_value(&checked);
        self.at(result, || Segment::Entry(index))
    }

    #[inline(always)]
    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), C::Error> {
        let index = self.next;
        self.serialize_key(key)?;
        self.next += 1;
        let checked = self.checked(value);
        let result = self.inner.serialize_value(&checked);
        // The key is at hand: name it in the path (only on the error path).
        self.at(result, || match serde_json::to_string(key) {
            Ok(key) => Segment::Key(key),
            Err(_) => Segment::Entry(index),
        })
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStruct> SerializeStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.field(key, value, |inner, checked| {
            inner.serialize_field(key, checked)
        })
    }

    #[inline(always)]
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStructVariant> SerializeStructVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    #[inline(always)]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        self.field(key, value, |inner, checked| {
            inner.serialize_field(key, checked)
        })
    }

    #[inline(always)]
    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    #[inline(always)]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use super::to_string;

    fn refused<T: Serialize + ?Sized>(value: &T) -> String {
        match to_string(value) {
            Ok(json) => panic!("expected an error, got {json}"),
            Err(error) => error.to_string(),
        }
    }

    #[derive(Serialize)]
    struct Inner {
        name: &'static str,
        ratio: f64,
    }

    #[derive(Serialize)]
    struct Outer {
        id: u32,
        inner: Inner,
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(f64),
        Tuple(u8, f32),
        Struct { w: f64, h: f64 },
    }

    #[derive(Serialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Point { x: f64 },
    }

    #[derive(Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        Value(f64),
    }

    #[test]
    fn nan_at_top_level() {
        let message = refused(&f64::NAN);
        assert_eq!(message, "NaN cannot be represented in JSON");
    }

    #[test]
    fn infinities_are_named() {
        assert_eq!(
            refused(&f64::INFINITY),
            "infinity cannot be represented in JSON"
        );
        assert_eq!(
            refused(&f64::NEG_INFINITY),
            "-infinity cannot be represented in JSON"
        );
    }

    #[test]
    fn f32_infinity() {
        assert_eq!(
            refused(&f32::INFINITY),
            "infinity cannot be represented in JSON"
        );
        assert_eq!(
            refused(&vec![1.0f32, f32::NAN]),
            "NaN cannot be represented in JSON (found at $[1])"
        );
    }

    #[test]
    fn nan_in_nested_struct() {
        let value = Outer {
            id: 1,
            inner: Inner {
                name: "x",
                ratio: f64::NAN,
            },
        };
        assert_eq!(
            refused(&value),
            "NaN cannot be represented in JSON (found at $.inner.ratio)"
        );
    }

    #[test]
    fn nan_in_vec() {
        let value = vec![vec![0.5], vec![1.0, 2.0, f64::NAN]];
        assert_eq!(
            refused(&value),
            "NaN cannot be represented in JSON (found at $[1][2])"
        );
    }

    #[test]
    fn nan_in_map_value() {
        let mut map = BTreeMap::new();
        map.insert("a", 1.0);
        map.insert("b", f64::NAN);
        assert_eq!(
            refused(&map),
            r#"NaN cannot be represented in JSON (found at $["b"])"#
        );
        let mut numeric = HashMap::new();
        numeric.insert(7u32, vec![f64::INFINITY]);
        assert_eq!(
            refused(&numeric),
            "infinity cannot be represented in JSON (found at $[7][0])"
        );
    }

    #[test]
    fn nan_in_map_key() {
        // serde_json writes float keys as strings; a non-finite one is still refused by us
        // first, with our message.
        #[derive(Serialize)]
        struct Key(f64);
        let entries = [(Key(1.0), 1), (Key(f64::NAN), 2)];
        struct Map<'a>(&'a [(Key, i32)]);
        impl Serialize for Map<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        assert_eq!(
            refused(&Map(&entries)),
            "NaN cannot be represented in JSON (found at $[#1 key])"
        );
    }

    #[test]
    fn nan_in_option() {
        assert_eq!(
            refused(&Some(f64::NAN)),
            "NaN cannot be represented in JSON"
        );
        assert_eq!(
            refused(&vec![None, Some(Some(f64::NEG_INFINITY))]),
            "-infinity cannot be represented in JSON (found at $[1])"
        );
    }

    #[test]
    fn nan_in_enum_variants() {
        assert_eq!(
            refused(&Shape::Newtype(f64::NAN)),
            "NaN cannot be represented in JSON (found at $.Newtype)"
        );
        assert_eq!(
            refused(&Shape::Tuple(1, f32::NAN)),
            "NaN cannot be represented in JSON (found at $.Tuple[1])"
        );
        assert_eq!(
            refused(&Shape::Struct {
                w: 1.0,
                h: f64::INFINITY
            }),
            "infinity cannot be represented in JSON (found at $.Struct.h)"
        );
        assert_eq!(
            refused(&Tagged::Point { x: f64::NAN }),
            "NaN cannot be represented in JSON (found at $.x)"
        );
        assert_eq!(
            refused(&Adjacent::Value(f64::NAN)),
            "NaN cannot be represented in JSON (found at $.c)"
        );
    }

    #[test]
    fn error_is_a_serde_json_custom_error() {
        let error = to_string(&f64::NAN).unwrap_err();
        assert!(error.is_data(), "{error:?}");
    }

    #[test]
    fn other_errors_pass_through_unchanged() {
        let mut map = HashMap::new();
        map.insert((1, 2), 3);
        let ours = to_string(&map).unwrap_err().to_string();
        let theirs = serde_json::to_string(&map).unwrap_err().to_string();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn finite_values_match_serde_json_exactly() {
        #[derive(Serialize)]
        struct Rich {
            unit: (),
            flag: bool,
            small: i8,
            big: i128,
            huge: u128,
            min: i64,
            max: u64,
            half: f32,
            third: f64,
            tiny: f64,
            neg_zero: f64,
            large: f64,
            letter: char,
            text: String,
            #[serde(with = "serde_bytes")]
            blob: Vec<u8>,
            none: Option<f64>,
            some: Option<Option<f64>>,
            shapes: Vec<Shape>,
            tagged: Tagged,
            adjacent: Adjacent,
            map: BTreeMap<String, BTreeMap<u32, Vec<f64>>>,
            tuple: (i32, f64, &'static str),
            json: serde_json::Value,
        }
        let mut map = BTreeMap::new();
        map.insert(
            "k".to_owned(),
            BTreeMap::from([(1, vec![0.1, -2.5e300]), (2, vec![])]),
        );
        let value = Rich {
            unit: (),
            flag: true,
            small: -8,
            big: i128::MIN,
            huge: u128::MAX,
            min: i64::MIN,
            max: u64::MAX,
            half: 0.5,
            third: 1.0 / 3.0,
            tiny: f64::MIN_POSITIVE,
            neg_zero: -0.0,
            large: f64::MAX,
            letter: 'é',
            text: "quote \" backslash \\ newline \n emoji 🦀 \u{0}".into(),
            blob: vec![0, 1, 255],
            none: None,
            some: Some(Some(2.0)),
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(1.5),
                Shape::Tuple(1, 2.25),
                Shape::Struct { w: 3.0, h: 4.0 },
            ],
            tagged: Tagged::Point { x: 0.25 },
            adjacent: Adjacent::Value(8.0),
            map,
            tuple: (-1, 1e-7, "t"),
            json: serde_json::json!({"a": [1, 2.5, null, {"b": "c"}]}),
        };
        let ours = to_string(&value).unwrap();
        assert_eq!(ours, serde_json::to_string(&value).unwrap());
        assert!(ours.contains(r#""neg_zero":-0.0"#), "{ours}");
    }
}
