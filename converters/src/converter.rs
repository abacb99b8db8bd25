//! The [`ContentConverter`] trait and its error type.

use std::error::Error as StdError;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::{Frame, FrameKind};

/// Turns typed values into frames and frames back into typed values.
///
/// typed-ws ships [`Json`](crate::Json) (Text frames) and
/// [`MessagePack`](crate::MessagePack) (Binary frames). Implement this trait to plug in any
/// other format and pass it to `Client::builder().converter(..)`; the session is then generic
/// over it, so dispatch is static and a session without a converter cannot send typed values.
///
/// # Examples
///
/// A converter that sends JSON in Binary frames:
///
/// ```
/// use serde::{Serialize, de::DeserializeOwned};
/// use typed_ws_converters::{ContentConverter, ConvertError, Frame};
///
/// #[derive(Debug, Default)]
/// struct BinaryJson;
///
/// impl ContentConverter for BinaryJson {
///     fn name(&self) -> &'static str { "binary-json" } // optional: defaults to the type name
///     fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
///         serde_json::to_vec(value)
///             .map(|bytes| Frame::Binary(bytes.into()))
///             .map_err(|e| ConvertError::encode(self.name(), e))
///     }
///     fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
///         match frame {
///             Frame::Binary(bytes) => serde_json::from_slice(bytes)
///                 .map_err(|e| ConvertError::decode(self.name(), frame.kind(), e)),
///             other => Err(ConvertError::wrong_frame(self.name(), other.kind())),
///         }
///     }
///     fn is_applicable(&self, frame: &Frame) -> bool { matches!(frame, Frame::Binary(_)) }
/// }
///
/// let frame = BinaryJson.serialize(&[1, 2, 3]).unwrap();
/// assert_eq!(BinaryJson.deserialize::<Vec<u8>>(&frame).unwrap(), vec![1, 2, 3]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a content converter",
    label = "this type does not implement `ContentConverter`",
    note = "use `typed_ws::Json` or `typed_ws::MessagePack`, or implement `typed_ws::ContentConverter` for your own format"
)]
pub trait ContentConverter: Send + Sync + 'static {
    /// A short name for errors and logs, such as `"json"`.
    ///
    /// Default: the type's name.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Serializes `value` into one data frame.
    ///
    /// # Errors
    ///
    /// A [`ConvertError`] of kind [`ConvertErrorKind::Encode`] when the format cannot
    /// represent the value (a NaN in JSON, a map with non-string keys, a failing `Serialize`).
    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError>;

    /// Deserializes a value from a data frame.
    ///
    /// # Errors
    ///
    /// [`ConvertErrorKind::WrongFrame`] when the frame is of a kind this converter does not
    /// read, [`ConvertErrorKind::Decode`] when the payload is not a valid `T`.
    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError>;

    /// `true` when this converter can read `frame` (Ktor's `isApplicable`).
    fn is_applicable(&self, frame: &Frame) -> bool;
}

/// What went wrong in a [`ContentConverter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConvertErrorKind {
    /// A value could not be serialized.
    Encode,
    /// A frame's payload could not be deserialized.
    Decode,
    /// The frame is of a kind the converter does not read (e.g. Binary for JSON).
    WrongFrame,
}

/// A serialization or deserialization error: which converter, which frame kind, and the
/// underlying format error as [`source`](StdError::source).
///
/// `Display` names the converter and the frame kind ("json converter could not decode a text
/// frame"); the format error is only the [`source`](StdError::source), so chain printers
/// show it once. `{:#}` prints the whole chain joined by `": "`.
pub struct ConvertError {
    kind: ConvertErrorKind,
    converter: &'static str,
    frame: Option<FrameKind>,
    message: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl ConvertError {
    /// An encode error from `converter`, caused by `source`.
    pub fn encode(
        converter: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        ConvertError {
            kind: ConvertErrorKind::Encode,
            converter,
            frame: None,
            message: None,
            source: Some(source.into()),
        }
    }

    /// A decode error from `converter` reading a `frame` frame, caused by `source`.
    pub fn decode(
        converter: &'static str,
        frame: FrameKind,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        ConvertError {
            kind: ConvertErrorKind::Decode,
            converter,
            frame: Some(frame),
            message: None,
            source: Some(source.into()),
        }
    }

    /// `converter` does not read frames of kind `frame`.
    pub fn wrong_frame(converter: &'static str, frame: FrameKind) -> Self {
        ConvertError {
            kind: ConvertErrorKind::WrongFrame,
            converter,
            frame: Some(frame),
            message: None,
            source: None,
        }
    }

    /// An error of `kind` with a message of its own and no source (used by derived
    /// [`Message`](crate::Message) implementations, e.g. for an unknown tag).
    pub fn custom(
        kind: ConvertErrorKind,
        converter: &'static str,
        frame: Option<FrameKind>,
        message: impl Into<String>,
    ) -> Self {
        ConvertError {
            kind,
            converter,
            frame,
            message: Some(message.into()),
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ConvertErrorKind {
        self.kind
    }

    /// The name of the converter that failed, such as `"json"`.
    pub fn converter(&self) -> &'static str {
        self.converter
    }

    /// The kind of frame being decoded, `None` for encode errors.
    pub fn frame_kind(&self) -> Option<FrameKind> {
        self.frame
    }
}

impl fmt::Debug for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvertError")
            .field("kind", &self.kind)
            .field("converter", &self.converter)
            .field("frame", &self.frame)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let converter = self.converter;
        match (self.kind, self.frame) {
            (ConvertErrorKind::Encode, _) => {
                write!(f, "{converter} converter could not encode the value")?
            }
            (ConvertErrorKind::Decode, Some(frame)) => {
                write!(f, "{converter} converter could not decode a {frame} frame")?
            }
            (ConvertErrorKind::Decode, None) => {
                write!(f, "{converter} converter could not decode a frame")?
            }
            (ConvertErrorKind::WrongFrame, Some(frame)) => write!(
                f,
                "{converter} converter does not read {frame} frames (send the frame kind this converter writes, or use another converter)"
            )?,
            (ConvertErrorKind::WrongFrame, None) => {
                write!(f, "{converter} converter does not read this frame kind")?
            }
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        // the cause is the `source()`, printed by chain printers; `{:#}` prints it here too
        if f.alternate() {
            let mut next = self.source();
            while let Some(error) = next {
                write!(f, ": {error}")?;
                next = error.source();
            }
        }
        Ok(())
    }
}

impl StdError for ConvertError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
