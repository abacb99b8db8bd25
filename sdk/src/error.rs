//! The one error type of typed-ws.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::frame::{CloseReason, Frame};
use typed_ws_converters::ConvertError;

/// A `Result` whose error is [`typed_ws::Error`](Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input from the caller: a malformed URL, header name or value, an invalid setting.
    Config,
    /// The TCP connection (or the proxy) could not be established.
    Connect,
    /// The TLS handshake failed, or `wss` was asked for without TLS support compiled in.
    Tls,
    /// The server did not accept the WebSocket upgrade (a non-101 response, a bad
    /// `Sec-WebSocket-Accept`, an unknown subprotocol).
    Handshake,
    /// A connect, close or ping deadline passed.
    Timeout,
    /// The session is closed: nothing more can be sent or received.
    Closed,
    /// A value could not be serialized.
    Encode,
    /// A frame could not be deserialized; the session stays open and [`Error::frame`] holds
    /// the frame.
    Decode,
    /// The peer broke RFC 6455 (close code 1002), or sent invalid UTF-8 text (1007).
    Protocol,
    /// A frame or message was over the configured size limit (close code 1009).
    TooBig,
    /// The connection failed mid-session (reset, broken pipe: close code 1006).
    Io,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::Connect => "connect error",
            ErrorKind::Tls => "tls error",
            ErrorKind::Handshake => "handshake error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "session closed",
            ErrorKind::Encode => "encode error",
            ErrorKind::Decode => "decode error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::TooBig => "message too big",
            ErrorKind::Io => "i/o error",
        })
    }
}

/// The HTTP response to a refused upgrade, kept by [`ErrorKind::Handshake`] errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The HTTP status code, e.g. 403.
    pub status: u16,
    /// The response headers, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The response body, when the server sent one (at most 64 KiB are kept).
    pub body: Option<Vec<u8>>,
}

/// The error type of typed-ws: one opaque type with a [`kind`](Error::kind), predicates, the
/// cause as [`source`](StdError::source), and the frame that failed to decode.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
    frame: Option<Frame>,
    close: Option<CloseReason>,
    response: Option<HandshakeResponse>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
                frame: None,
                close: None,
                response: None,
            }),
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_close(mut self, close: CloseReason) -> Self {
        self.inner.close = Some(close);
        self
    }

    pub(crate) fn with_response(mut self, response: HandshakeResponse) -> Self {
        self.inner.response = Some(response);
        self
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn closed(close: Option<CloseReason>) -> Self {
        let message = match &close {
            Some(why) => format!("session is closed ({why})"),
            None => "session is closed".to_owned(),
        };
        let mut error = Self::new(ErrorKind::Closed, message);
        error.inner.close = close;
        error
    }

    pub(crate) fn timeout(what: &str, after: Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("{what} timed out after {after:?}"),
        )
    }

    pub(crate) fn encode(error: ConvertError) -> Self {
        Self::new(ErrorKind::Encode, error.to_string()).with_source(error)
    }

    pub(crate) fn decode(error: ConvertError, frame: Frame) -> Self {
        let mut this = Self::new(ErrorKind::Decode, error.to_string()).with_source(error);
        this.inner.frame = Some(frame);
        this
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// `true` for a connect, close or ping timeout.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// `true` when the session is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == ErrorKind::Closed
    }

    /// `true` when a frame failed to decode (the session stays open).
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// `true` when a value failed to encode.
    pub fn is_encode(&self) -> bool {
        self.inner.kind == ErrorKind::Encode
    }

    /// `true` when the server refused the upgrade.
    pub fn is_handshake(&self) -> bool {
        self.inner.kind == ErrorKind::Handshake
    }

    /// `true` for a connect failure (refused, unreachable, DNS).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
    }

    /// `true` for a frame or message over the size limits.
    pub fn is_too_big(&self) -> bool {
        self.inner.kind == ErrorKind::TooBig
    }

    /// `true` for a protocol violation by the peer.
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == ErrorKind::Protocol
    }

    /// The frame that failed to decode, for [`ErrorKind::Decode`].
    pub fn frame(&self) -> Option<&Frame> {
        self.inner.frame.as_ref()
    }

    /// Takes the frame that failed to decode out of the error.
    pub fn into_frame(self) -> Option<Frame> {
        self.inner.frame
    }

    /// The close reason that ended the session, where this error ended it.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.inner.close.as_ref()
    }

    /// The server's response to a refused upgrade, for [`ErrorKind::Handshake`].
    pub fn response(&self) -> Option<&HandshakeResponse> {
        self.inner.response.as_ref()
    }

    /// The HTTP status of a refused upgrade.
    pub fn status(&self) -> Option<u16> {
        self.inner.response.as_ref().map(|r| r.status)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        if let Some(frame) = &self.inner.frame {
            d.field("frame", &frame.kind());
        }
        if let Some(close) = &self.inner.close {
            d.field("close", close);
        }
        if let Some(response) = &self.inner.response {
            d.field("status", &response.status);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for Error {
    /// An I/O error from the application's own socket code (binding a listener, accepting),
    /// so that `?` works in handlers that return `typed_ws::Result`.
    fn from(error: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, error.to_string()).with_source(error)
    }
}

impl From<ConvertError> for Error {
    /// A converter error from calling a converter directly: `Encode` for encode errors,
    /// `Decode` (without a frame) otherwise.
    fn from(error: ConvertError) -> Self {
        match error.kind() {
            typed_ws_converters::ConvertErrorKind::Encode => Error::encode(error),
            _ => Error::new(ErrorKind::Decode, error.to_string()).with_source(error),
        }
    }
}

/// Formats a byte count for error messages: "70 MiB", "1.5 KiB", "12 bytes".
pub(crate) fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    // one decimal, and the exact count too where the decimal hides a difference (a limit of
    // 16 MiB and a frame of 16 MiB + 1 byte must not read alike)
    let approx = |unit: usize, name: &str| {
        let tenths = (n as f64 * 10.0 / unit as f64).round();
        if tenths * unit as f64 == n as f64 * 10.0 {
            format!("{:.1} {name}", tenths / 10.0)
        } else {
            format!("{:.1} {name} ({n} bytes)", n as f64 / unit as f64)
        }
    };
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        approx(MIB, "MiB")
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else if n >= KIB {
        approx(KIB, "KiB")
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(70 * 1024 * 1024 + 512 * 1024), "70.5 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(
            human_bytes((16 << 20) + 1),
            "16.0 MiB (16777217 bytes)",
            "one byte over a limit must not read like the limit"
        );
    }

    #[test]
    fn predicates_follow_kind() {
        let e = Error::timeout("connect", Duration::from_secs(1));
        assert!(e.is_timeout() && !e.is_closed());
        assert_eq!(e.to_string(), "connect timed out after 1s");
    }
}
