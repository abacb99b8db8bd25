//! Converters negotiated by subprotocol: offer several converters under subprotocol names
//! (`v1.json`, `v1.msgpack`, …); the session uses the one the server selected.
//!
//! Dispatch stays static: the selected converter is a [`Chosen`] enum over the offered
//! converter types, so each message costs one `match`, no boxing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::converter::{ContentConverter, ConvertError};
use crate::frame::Frame;

/// A set of converters offered under subprotocol names, built with [`Offer::new`] and
/// [`or`](Offer::or).
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{ConverterSet, Json, MessagePack, Offer};
/// let offers = Offer::new("v1.json", Json::default()).or("v1.msgpack", MessagePack::default());
/// assert_eq!(offers.names(), vec!["v1.json", "v1.msgpack"]);
/// assert_eq!(offers.select("v1.msgpack").map(|c| typed_ws_converters::ContentConverter::name(&c)), Some("messagepack"));
/// assert!(offers.select("v2.cbor").is_none());
/// ```
pub trait ConverterSet: Send + Sync + 'static {
    /// The converter a session of this set uses: one of the offered ones.
    type Converter: ContentConverter;

    /// Appends the subprotocol names, in order of preference.
    fn push_names(&self, names: &mut Vec<String>);

    /// The converter offered under `subprotocol`.
    fn select(&self, subprotocol: &str) -> Option<Self::Converter>;

    /// The converter of the first offer (used before any negotiation, e.g. to serialize
    /// outside a session).
    fn first(&self) -> Self::Converter;

    /// The subprotocol names, in order of preference.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.push_names(&mut names);
        names
    }
}

/// One converter offered under a subprotocol name.
#[derive(Clone, Debug)]
pub struct Offer<C> {
    name: String,
    converter: C,
}

impl<C: ContentConverter + Clone> Offer<C> {
    /// Offers `converter` under the subprotocol `name`.
    pub fn new(name: impl Into<String>, converter: C) -> Self {
        Offer {
            name: name.into(),
            converter,
        }
    }

    /// Also offers `converter` under `name`, with lower preference.
    pub fn or<C2: ContentConverter + Clone>(
        self,
        name: impl Into<String>,
        converter: C2,
    ) -> Offers<Self, Offer<C2>> {
        Offers(self, Offer::new(name, converter))
    }
}

/// Two sets of offers, the first preferred; nest with [`or`](Offers::or) for more.
#[derive(Clone, Debug)]
pub struct Offers<A, B>(A, B);

impl<A: ConverterSet, B: ConverterSet> Offers<A, B> {
    /// Also offers `converter` under `name`, with the lowest preference so far.
    pub fn or<C2: ContentConverter + Clone>(
        self,
        name: impl Into<String>,
        converter: C2,
    ) -> Offers<Self, Offer<C2>> {
        Offers(self, Offer::new(name, converter))
    }
}

impl<C: ContentConverter + Clone> ConverterSet for Offer<C> {
    type Converter = C;

    fn push_names(&self, names: &mut Vec<String>) {
        names.push(self.name.clone());
    }

    fn select(&self, subprotocol: &str) -> Option<C> {
        (subprotocol == self.name).then(|| self.converter.clone())
    }

    fn first(&self) -> C {
        self.converter.clone()
    }
}

impl<A: ConverterSet, B: ConverterSet> ConverterSet for Offers<A, B> {
    type Converter = Chosen<A::Converter, B::Converter>;

    fn push_names(&self, names: &mut Vec<String>) {
        self.0.push_names(names);
        self.1.push_names(names);
    }

    fn select(&self, subprotocol: &str) -> Option<Self::Converter> {
        self.0
            .select(subprotocol)
            .map(Chosen::First)
            .or_else(|| self.1.select(subprotocol).map(Chosen::Second))
    }

    fn first(&self) -> Self::Converter {
        Chosen::First(self.0.first())
    }
}

/// The converter negotiated from an [`Offers`] set: one of two converter types, dispatched
/// with a `match` (nested for more than two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen<A, B> {
    /// The first set's converter was selected.
    First(A),
    /// The second set's converter was selected.
    Second(B),
}

impl<A: ContentConverter, B: ContentConverter> ContentConverter for Chosen<A, B> {
    fn name(&self) -> &'static str {
        match self {
            Chosen::First(a) => a.name(),
            Chosen::Second(b) => b.name(),
        }
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
        match self {
            Chosen::First(a) => a.serialize(value),
            Chosen::Second(b) => b.serialize(value),
        }
    }

    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
        match self {
            Chosen::First(a) => a.deserialize(frame),
            Chosen::Second(b) => b.deserialize(frame),
        }
    }

    fn is_applicable(&self, frame: &Frame) -> bool {
        match self {
            Chosen::First(a) => a.is_applicable(frame),
            Chosen::Second(b) => b.is_applicable(frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Json, MessagePack};

    #[test]
    fn three_offers_select_statically() {
        let offers = Offer::new("v1.json", Json::default())
            .or("v1.msgpack", MessagePack::default())
            .or("v1.compact", MessagePack::compact());
        assert_eq!(offers.names(), ["v1.json", "v1.msgpack", "v1.compact"]);
        let json = offers.select("v1.json").unwrap();
        assert!(matches!(json.serialize(&1).unwrap(), Frame::Text(_)));
        let compact = offers.select("v1.compact").unwrap();
        assert_eq!(compact, Chosen::Second(MessagePack::compact()));
        assert!(matches!(compact.serialize(&1).unwrap(), Frame::Binary(_)));
        assert_eq!(offers.first().name(), "json");
        assert!(offers.select("nope").is_none());
    }
}
