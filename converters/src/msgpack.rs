//! The MessagePack converter: Binary frames through rmp-serde.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::converter::{ContentConverter, ConvertError};
use crate::frame::Frame;

/// MessagePack through rmp-serde, sent as **Binary** frames.
///
/// By default structs are written as **maps with field names** (`rmp_serde::to_vec_named`), which
/// Python `msgpack`, Node `@msgpack/msgpack` and every other ecosystem decode to a dictionary and
/// which survives adding and reordering fields. [`MessagePack::compact`] writes structs as
/// positional arrays instead: smaller and about 1.7× faster to encode, but both ends must agree
/// on the field order. Decoding accepts either shape.
///
/// Byte fields are written as msgpack `bin` only when they are marked
/// `#[serde(with = "serde_bytes")]` (or are `serde_bytes::ByteBuf`/`bytes::Bytes`); a plain
/// `Vec<u8>` is an array of integers, as serde describes it.
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{ContentConverter, Frame, MessagePack};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Point { x: i32, y: i32 }
///
/// let frame = MessagePack::default().serialize(&Point { x: 1, y: 2 }).unwrap();
/// // fixmap of 2: "x" => 1, "y" => 2
/// assert_eq!(frame, Frame::Binary(vec![0x82, 0xa1, b'x', 1, 0xa1, b'y', 2].into()));
/// let back: Point = MessagePack::default().deserialize(&frame).unwrap();
/// assert_eq!(back, Point { x: 1, y: 2 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessagePack {
    compact: bool,
}

impl MessagePack {
    /// The default: structs as maps with field names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Structs as positional arrays (`rmp_serde::to_vec`): smaller and faster, but not
    /// self-describing. Both ends must use the same field order.
    pub fn compact() -> Self {
        MessagePack { compact: true }
    }

    /// `true` when structs are written as arrays.
    pub fn is_compact(&self) -> bool {
        self.compact
    }
}

impl ContentConverter for MessagePack {
    fn name(&self) -> &'static str {
        "messagepack"
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
        let encoded = if self.compact {
            rmp_serde::to_vec(value)
        } else {
            rmp_serde::to_vec_named(value)
        };
        encoded
            .map(|bytes| Frame::Binary(bytes.into()))
            .map_err(|e| ConvertError::encode(self.name(), e))
    }

    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
        match frame {
            Frame::Binary(bytes) => rmp_serde::from_slice(bytes)
                .map_err(|e| ConvertError::decode(self.name(), frame.kind(), e)),
            other => Err(ConvertError::wrong_frame(self.name(), other.kind())),
        }
    }

    fn is_applicable(&self, frame: &Frame) -> bool {
        matches!(frame, Frame::Binary(_))
    }
}
