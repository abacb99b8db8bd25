//! A custom converter: CBOR (RFC 8949) through [ciborium](https://docs.rs/ciborium), sent in
//! Binary frames.
//!
//! This is the whole recipe for plugging a format into typed-ws: implement
//! [`ContentConverter`] (name, serialize, deserialize, is_applicable) and pass the converter to
//! `Client::builder().converter(..)`. It also shows the details a production converter needs:
//! a pre-sized output buffer, rejecting trailing bytes after the value, a nesting limit against
//! hostile input, and errors that read well (ciborium's own `Display` prints its `Debug` form).

use std::error::Error as StdError;
use std::fmt;
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use typed_ws_converters::{ContentConverter, ConvertError, Frame, FrameKind};

/// The deepest nesting [`Cbor`] decodes (ciborium's default); deeper input is a decode error,
/// never a stack overflow.
pub const MAX_DEPTH: usize = 256;

/// CBOR through ciborium, sent as **Binary** frames.
///
/// Structs are CBOR maps keyed by field name, byte fields (`#[serde(with = "serde_bytes")]`,
/// `bytes::Bytes`) are CBOR byte strings, map keys may be any value (integers, tuples), and
/// floats are written in the smallest width that keeps their value, NaN and ±∞ included.
/// Decoding reads Binary frames only, refuses bytes after the value and nesting deeper than
/// [`MAX_DEPTH`].
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{ContentConverter, Frame};
/// use typed_ws_examples::cbor::Cbor;
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Point { x: i32, y: i32 }
///
/// let frame = Cbor.serialize(&Point { x: 1, y: -2 }).unwrap();
/// // map(2) "x" => 1, "y" => -2
/// assert_eq!(frame, Frame::Binary(vec![0xa2, 0x61, b'x', 0x01, 0x61, b'y', 0x21].into()));
/// assert!(Cbor.is_applicable(&frame));
/// assert_eq!(Cbor.deserialize::<Point>(&frame).unwrap(), Point { x: 1, y: -2 });
///
/// // JSON text is not CBOR.
/// let err = Cbor.deserialize::<Point>(&Frame::Text("{}".into())).unwrap_err();
/// assert!(err.to_string().starts_with("cbor converter does not read text frames"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cbor;

impl ContentConverter for Cbor {
    fn name(&self) -> &'static str {
        "cbor"
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
        let mut out = Vec::with_capacity(128);
        ciborium::into_writer(value, &mut out)
            .map_err(|e| ConvertError::encode(self.name(), EncodeError(e)))?;
        Ok(Frame::Binary(out.into()))
    }

    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
        let Frame::Binary(bytes) = frame else {
            return Err(ConvertError::wrong_frame(self.name(), frame.kind()));
        };
        let decode_error = |e| ConvertError::decode(self.name(), FrameKind::Binary, e);
        let mut rest: &[u8] = bytes;
        let value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
            .map_err(|e| decode_error(DecodeError::Cbor(e)))?;
        if !rest.is_empty() {
            return Err(decode_error(DecodeError::Trailing(rest.len())));
        }
        Ok(value)
    }

    fn is_applicable(&self, frame: &Frame) -> bool {
        matches!(frame, Frame::Binary(_))
    }
}

/// Why a value could not be written as CBOR.
#[derive(Debug)]
struct EncodeError(ciborium::ser::Error<io::Error>);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            // the io error is the `source()`
            ciborium::ser::Error::Io(_) => f.write_str("write failed"),
            ciborium::ser::Error::Value(message) => f.write_str(message),
        }
    }
}

impl StdError for EncodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.0 {
            ciborium::ser::Error::Io(e) => Some(e),
            ciborium::ser::Error::Value(_) => None,
        }
    }
}

/// Why a frame could not be read as CBOR.
#[derive(Debug)]
enum DecodeError {
    Cbor(ciborium::de::Error<io::Error>),
    Trailing(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ciborium::de::Error;
        match self {
            DecodeError::Cbor(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                f.write_str("unexpected end of input (truncated frame?)")
            }
            // the io error is the `source()`
            DecodeError::Cbor(Error::Io(_)) => f.write_str("read failed"),
            DecodeError::Cbor(Error::Syntax(offset)) => write!(f, "invalid CBOR at byte {offset}"),
            DecodeError::Cbor(Error::Semantic(Some(offset), message)) => {
                write!(f, "{message} (item at byte {offset})")
            }
            DecodeError::Cbor(Error::Semantic(None, message)) => f.write_str(message),
            DecodeError::Cbor(Error::RecursionLimitExceeded) => {
                write!(f, "nested deeper than {MAX_DEPTH} levels")
            }
            DecodeError::Trailing(count) => {
                write!(f, "{count} unexpected bytes after the CBOR value")
            }
        }
    }
}

impl StdError for DecodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            DecodeError::Cbor(ciborium::de::Error::Io(e)) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use typed_ws_converters::{ContentConverter, ConvertErrorKind, Frame};

    use super::Cbor;

    #[test]
    fn trailing_bytes_are_refused() {
        let Frame::Binary(bytes) = Cbor.serialize(&7u32).unwrap() else {
            panic!("cbor writes binary frames");
        };
        let mut longer = bytes.to_vec();
        longer.push(0x00);
        let err = Cbor
            .deserialize::<u32>(&Frame::Binary(longer.into()))
            .unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
        // the cause is the source, printed by `{:#}`, not repeated in `Display`
        assert_eq!(
            err.to_string(),
            "cbor converter could not decode a binary frame"
        );
        assert!(
            format!("{err:#}").contains("1 unexpected bytes after"),
            "{err:#}"
        );
        assert!(err.source().is_some());
    }

    #[test]
    fn truncated_input_reads_well() {
        let err = Cbor
            .deserialize::<String>(&Frame::Binary(vec![0x65, b'a'].into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cbor converter could not decode a binary frame"
        );
        assert_eq!(
            err.source().map(|e| e.to_string()).as_deref(),
            Some("unexpected end of input (truncated frame?)")
        );
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = vec![0x81u8; 100_000];
        let err = Cbor
            .deserialize::<serde_json::Value>(&Frame::Binary(deep.into()))
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("nested deeper than 256"),
            "{err:#}"
        );
    }
}
