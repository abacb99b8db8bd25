//! The JSON converter: Text frames through serde_json.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::converter::{ContentConverter, ConvertError};
use crate::frame::Frame;

/// JSON through serde_json, sent as **Text** frames so browsers, Python and Node peers receive
/// a string, not a blob.
///
/// Text frames are decoded with `serde_json::from_str`. Binary frames are rejected with a
/// [`WrongFrame`](crate::ConvertErrorKind::WrongFrame) error unless
/// [`accept_binary`](Json::accept_binary) is on. Non-finite floats (NaN, ±∞), which JSON cannot
/// represent and serde_json would silently write as `null`, are an encode error.
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{ContentConverter, Frame, Json};
/// let frame = Json::default().serialize(&serde_json::json!({"id": 1})).unwrap();
/// assert_eq!(frame, Frame::Text(r#"{"id":1}"#.into()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json {
    accept_binary: bool,
}

impl Json {
    /// A JSON converter with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also decode Binary frames holding UTF-8 JSON (some servers send JSON as binary).
    ///
    /// Default: `false` (a Binary frame is a `WrongFrame` error).
    #[must_use]
    pub fn accept_binary(mut self, accept: bool) -> Self {
        self.accept_binary = accept;
        self
    }
}

impl ContentConverter for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
        crate::finite::to_string(value)
            // the String's buffer becomes the frame's: no copy
            .map(|text| Frame::Text(text.into()))
            .map_err(|e| ConvertError::encode(self.name(), e))
    }

    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
        match frame {
            Frame::Text(text) => serde_json::from_str(text.as_str())
                .map_err(|e| ConvertError::decode(self.name(), frame.kind(), e)),
            Frame::Binary(bytes) if self.accept_binary => serde_json::from_slice(bytes)
                .map_err(|e| ConvertError::decode(self.name(), frame.kind(), e)),
            other => Err(ConvertError::wrong_frame(self.name(), other.kind())),
        }
    }

    fn is_applicable(&self, frame: &Frame) -> bool {
        match frame {
            Frame::Text(_) => true,
            Frame::Binary(_) => self.accept_binary,
            _ => false,
        }
    }
}
