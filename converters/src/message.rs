//! The [`Message`] trait: an enum that is a whole message protocol.

use crate::converter::{ContentConverter, ConvertError};
use crate::frame::Frame;

/// A message protocol: a type (usually an enum with `#[derive(Message)]`) that encodes each of
/// its values to one frame and decodes any frame of the protocol back.
///
/// Derive it with `#[derive(typed_ws::Message)]` (feature `macros`); implement it by hand only
/// for shapes the derive does not cover.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a typed-ws message protocol",
    label = "`Message` is not implemented for this type",
    note = "add `#[derive(typed_ws::Message)]` to the enum that lists your protocol's messages"
)]
pub trait Message: Sized + Send + 'static {
    /// The wire tags of every variant, in declaration order.
    const TAGS: &'static [&'static str];

    /// The wire tag of this value's variant.
    fn tag(&self) -> &'static str;

    /// Encodes this value into one frame, through `converter` where the variant has a
    /// serialized payload.
    ///
    /// # Errors
    ///
    /// The converter's encode error.
    fn encode<C: ContentConverter>(&self, converter: &C) -> Result<Frame, ConvertError>;

    /// Decodes a value from `frame`.
    ///
    /// # Errors
    ///
    /// A decode error when the frame is not a message of this protocol, naming the unknown tag
    /// and the known ones where there is a tag.
    fn decode<C: ContentConverter>(converter: &C, frame: &Frame) -> Result<Self, ConvertError>;
}

/// A value a typed handle can send: every serde `Serialize` type (through the converter), and
/// every [`Message`] protocol (`#[derive(Message)]` implements it, through
/// [`Message::encode`]).
///
/// A `#[derive(Message)]` enum must not also implement `Serialize`: it would have two ways to
/// become a frame, and the compiler reports the two `ToFrame` implementations as conflicting.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent by a typed handle",
    label = "neither `Serialize` nor `Message` is implemented for this type",
    note = "derive `serde::Serialize` for a plain value, or `typed_ws::Message` for a protocol enum"
)]
pub trait ToFrame {
    /// Encodes `self` into one frame with `converter`.
    ///
    /// # Errors
    ///
    /// The converter's encode error.
    fn to_frame<C: ContentConverter>(&self, converter: &C) -> Result<Frame, ConvertError>;
}

impl<T: serde::Serialize + ?Sized> ToFrame for T {
    fn to_frame<C: ContentConverter>(&self, converter: &C) -> Result<Frame, ConvertError> {
        converter.serialize(self)
    }
}

/// A value a typed handle can receive: every serde `DeserializeOwned` type (through the
/// converter), and every [`Message`] protocol (`#[derive(Message)]` implements it, through
/// [`Message::decode`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be received by a typed handle",
    label = "neither `Deserialize` nor `Message` is implemented for this type",
    note = "derive `serde::Deserialize` for a plain value, or `typed_ws::Message` for a protocol enum"
)]
pub trait FromFrame: Sized {
    /// Decodes a value from `frame` with `converter`.
    ///
    /// # Errors
    ///
    /// The converter's decode error, or the protocol's (an unknown tag).
    fn from_frame<C: ContentConverter>(converter: &C, frame: &Frame) -> Result<Self, ConvertError>;
}

impl<T: serde::de::DeserializeOwned> FromFrame for T {
    fn from_frame<C: ContentConverter>(converter: &C, frame: &Frame) -> Result<Self, ConvertError> {
        converter.deserialize(frame)
    }
}
