//! The frame layer shared by every part of typed-ws.

use std::fmt;

use bytes::Bytes;

use crate::utf8::Utf8Bytes;

/// One WebSocket frame (or a whole reassembled data message).
///
/// `Text` and `Binary` are data frames; `Ping`, `Pong` and `Close` are control frames and are
/// only visible to users of a raw session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A UTF-8 text message. [`Utf8Bytes`] is cheap to clone and dereferences to `str`.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping control frame (payload at most 125 bytes).
    Ping(Bytes),
    /// A pong control frame (payload at most 125 bytes).
    Pong(Bytes),
    /// A close control frame, with the code and reason when the peer sent one.
    Close(Option<CloseReason>),
}

/// The kind of a [`Frame`], without its payload: used in errors and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// [`Frame::Text`].
    Text,
    /// [`Frame::Binary`].
    Binary,
    /// [`Frame::Ping`].
    Ping,
    /// [`Frame::Pong`].
    Pong,
    /// [`Frame::Close`].
    Close,
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameKind::Text => "text",
            FrameKind::Binary => "binary",
            FrameKind::Ping => "ping",
            FrameKind::Pong => "pong",
            FrameKind::Close => "close",
        })
    }
}

impl Frame {
    /// The kind of this frame.
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::Text(_) => FrameKind::Text,
            Frame::Binary(_) => FrameKind::Binary,
            Frame::Ping(_) => FrameKind::Ping,
            Frame::Pong(_) => FrameKind::Pong,
            Frame::Close(_) => FrameKind::Close,
        }
    }

    /// `true` for `Text` and `Binary`.
    pub fn is_data(&self) -> bool {
        matches!(self, Frame::Text(_) | Frame::Binary(_))
    }

    /// `true` for `Ping`, `Pong` and `Close`.
    pub fn is_control(&self) -> bool {
        !self.is_data()
    }

    /// The text of a `Text` frame, `None` for every other kind (Ktor's `readText`).
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::Frame;
    /// assert_eq!(Frame::Text("hi".into()).read_text(), Some("hi"));
    /// assert_eq!(Frame::Binary(vec![1u8].into()).read_text(), None);
    /// ```
    pub fn read_text(&self) -> Option<&str> {
        match self {
            Frame::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes of any frame (Ktor's `readBytes`): the UTF-8 bytes of a text frame,
    /// the payload of a binary, ping or pong frame, and the encoded code + reason of a close
    /// frame (empty when it has none). No copy, except for a close frame.
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::Frame;
    /// assert_eq!(Frame::Text("hi".into()).read_bytes(), b"hi".as_slice());
    /// ```
    pub fn read_bytes(&self) -> Bytes {
        match self {
            Frame::Text(text) => text.clone().into_bytes(),
            Frame::Binary(b) | Frame::Ping(b) | Frame::Pong(b) => b.clone(),
            Frame::Close(None) => Bytes::new(),
            Frame::Close(Some(reason)) => {
                let mut out = Vec::with_capacity(2 + reason.reason.len());
                out.extend_from_slice(&reason.code.0.to_be_bytes());
                out.extend_from_slice(reason.reason.as_bytes());
                out.into()
            }
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(b) | Frame::Ping(b) | Frame::Pong(b) => b.len(),
            Frame::Close(None) => 0,
            Frame::Close(Some(reason)) => 2 + reason.reason.len(),
        }
    }

    /// `true` when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Utf8Bytes> for Frame {
    fn from(text: Utf8Bytes) -> Self {
        Frame::Text(text)
    }
}

impl From<String> for Frame {
    /// A Text frame that takes over the `String`'s allocation.
    fn from(text: String) -> Self {
        Frame::Text(text.into())
    }
}

impl From<&str> for Frame {
    /// A Text frame holding a copy of `text`.
    fn from(text: &str) -> Self {
        Frame::Text(text.into())
    }
}

impl From<Bytes> for Frame {
    fn from(bytes: Bytes) -> Self {
        Frame::Binary(bytes)
    }
}

impl From<Vec<u8>> for Frame {
    fn from(bytes: Vec<u8>) -> Self {
        Frame::Binary(bytes.into())
    }
}

/// A WebSocket close status code (RFC 6455 section 7.4).
///
/// Any `u16` can be carried; the RFC's codes have named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection was lost without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's payload was inconsistent with its type (e.g. invalid UTF-8 text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: an unexpected condition (internal error, ping timeout).
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The RFC 6455 name of this code, `None` for codes the RFC does not define.
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::CloseCode;
    /// assert_eq!(CloseCode::NORMAL.known(), Some("normal closure"));
    /// assert_eq!(CloseCode(4000).known(), None);
    /// ```
    pub fn known(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            _ => return None,
        })
    }

    /// `true` when this code may be sent in a close frame (RFC 6455 section 7.4.1: 1000–1003,
    /// 1007–1014 and 3000–4999).
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.known() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The most bytes a close reason can have: a control frame payload is at most 125 bytes, two of
/// which are the code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Why a connection closed: a [`CloseCode`] and a human-readable reason.
///
/// Reasons longer than 123 bytes are truncated on a UTF-8 character boundary when the value is
/// made, so a `CloseReason` always fits in a close frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseReason {
    /// The close code.
    pub code: CloseCode,
    /// The reason text, at most 123 bytes of UTF-8.
    pub reason: String,
}

impl CloseReason {
    /// A close reason with `code` and `reason`, truncated to 123 bytes on a character boundary.
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::{CloseCode, CloseReason};
    /// let why = CloseReason::new(CloseCode(4000), "é".repeat(100));
    /// assert_eq!(why.reason.len(), 122); // 61 two-byte characters
    /// ```
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        truncate_utf8(&mut reason, MAX_CLOSE_REASON_BYTES);
        CloseReason {
            code: code.into(),
            reason,
        }
    }

    /// 1000, normal closure.
    pub fn normal(reason: impl Into<String>) -> Self {
        Self::new(CloseCode::NORMAL, reason)
    }

    /// 1001, going away.
    pub fn going_away(reason: impl Into<String>) -> Self {
        Self::new(CloseCode::GOING_AWAY, reason)
    }

    /// 1011, internal error.
    pub fn internal_error(reason: impl Into<String>) -> Self {
        Self::new(CloseCode::INTERNAL_ERROR, reason)
    }

    /// `true` for code 1000.
    pub fn is_normal(&self) -> bool {
        self.code == CloseCode::NORMAL
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.reason)
        }
    }
}

/// Truncates `text` to at most `max` bytes without splitting a character.
pub fn truncate_utf8(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_truncates_on_char_boundary() {
        let why = CloseReason::new(CloseCode::NORMAL, "a".repeat(200));
        assert_eq!(why.reason.len(), 123);
        let why = CloseReason::new(CloseCode::NORMAL, format!("a{}", "€".repeat(60)));
        assert!(why.reason.len() <= 123);
        assert_eq!(why.reason.len(), 1 + 3 * 40);
        assert!(why.reason.chars().skip(1).all(|c| c == '€'));
        let short = CloseReason::normal("bye");
        assert_eq!(short.reason, "bye");
    }

    #[test]
    fn close_frame_bytes_carry_code_then_reason() {
        let frame = Frame::Close(Some(CloseReason::new(4001u16, "x")));
        assert_eq!(frame.read_bytes().as_ref(), &[0x0f, 0xa1, b'x']);
        assert_eq!(frame.len(), 3);
        assert!(Frame::Close(None).is_empty());
    }

    #[test]
    fn codes_have_names_and_sendability() {
        assert_eq!(CloseCode::TOO_BIG.known(), Some("message too big"));
        assert!(CloseCode::NORMAL.is_sendable());
        assert!(!CloseCode::ABNORMAL.is_sendable());
        assert!(!CloseCode::NO_STATUS.is_sendable());
        assert!(CloseCode(4999).is_sendable());
        assert!(!CloseCode(5000).is_sendable());
        assert_eq!(CloseCode(1009).to_string(), "1009 (message too big)");
    }

    #[test]
    fn accessors() {
        assert_eq!(Frame::from("x").read_text(), Some("x"));
        assert!(Frame::Ping(Bytes::new()).is_control());
        assert!(Frame::from(vec![1u8, 2]).is_data());
        assert_eq!(
            Frame::Binary(Bytes::from_static(b"ab")).kind(),
            FrameKind::Binary
        );
    }
}
