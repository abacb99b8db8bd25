//! The one error type of typed-ws.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
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
///
/// `Display` says what failed, with the value involved (the URL, the header name, the limit);
/// the cause (an I/O error, a TLS or serde error) is not repeated there but is the
/// [`source`](StdError::source). The alternate form `{:#}` prints the whole chain joined by
/// `": "`, as `anyhow` does:
///
/// ```
/// # fn show(err: &typed_ws::Error) -> String {
/// format!("{err:#}") // "could not connect to 127.0.0.1:9: Connection refused (os error 111)"
/// # }
/// ```
///
/// `Error` is `Send + Sync + 'static` and one pointer wide, so `Result<T, Error>` stays small.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
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
        self.inner.source = Some(Arc::from(source.into()));
        self
    }

    /// A copy of this error (kind, message, source, frame...), for errors a builder remembers
    /// and reports each time it is used ([`Deferred`]).
    fn duplicate(&self) -> Self {
        let inner = &self.inner;
        Error {
            inner: Box::new(Inner {
                kind: inner.kind,
                message: inner.message.clone(),
                source: inner.source.clone(),
                frame: inner.frame.clone(),
                close: inner.close.clone(),
                response: inner.response.clone(),
            }),
        }
    }

    /// [`with_source`](Error::with_source) when there is a cause.
    pub(crate) fn maybe_source(self, source: Option<Box<dyn StdError + Send + Sync>>) -> Self {
        match source {
            Some(source) => self.with_source(source),
            None => self,
        }
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
        Self::new(ErrorKind::Encode, "error encoding a message").with_source(error)
    }

    pub(crate) fn decode(error: ConvertError, frame: Frame) -> Self {
        let mut this = Self::new(
            ErrorKind::Decode,
            format!(
                "error decoding a received message of {}",
                human_bytes(frame.len())
            ),
        )
        .with_source(error);
        this.inner.frame = Some(frame);
        this
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// `true` for bad input from the caller: a malformed URL, header, setting or root
    /// certificate ([`ErrorKind::Config`]).
    pub fn is_config(&self) -> bool {
        self.inner.kind == ErrorKind::Config
    }

    /// `true` when the TLS handshake failed or TLS is not available ([`ErrorKind::Tls`]).
    pub fn is_tls(&self) -> bool {
        self.inner.kind == ErrorKind::Tls
    }

    /// `true` when the connection failed mid-session: reset, broken pipe, or closed without
    /// a close frame ([`ErrorKind::Io`]).
    pub fn is_io(&self) -> bool {
        self.inner.kind == ErrorKind::Io
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
    /// What failed; with `{:#}`, followed by each [`source`](StdError::source) in turn.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if f.alternate() {
            write_sources(f, self.source())?;
        }
        Ok(())
    }
}

/// Writes `": cause"` for each error of a `source()` chain.
fn write_sources(
    f: &mut fmt::Formatter<'_>,
    mut next: Option<&(dyn StdError + 'static)>,
) -> fmt::Result {
    while let Some(error) = next {
        write!(f, ": {error}")?;
        next = error.source();
    }
    Ok(())
}

/// Displays an error and its whole `source()` chain joined by `": "`, for logs of errors whose
/// `Display` does not (ours print the chain with `{:#}`).
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        write_sources(f, self.0.source())
    }
}

/// A bad input a builder found and remembers, reported whole (kind, message, source) by the
/// final call, each time it is made.
pub(crate) struct Deferred(Error);

impl Deferred {
    pub(crate) fn new(error: Error) -> Self {
        Deferred(error)
    }

    /// The remembered error.
    pub(crate) fn error(&self) -> Error {
        self.0.duplicate()
    }
}

impl Clone for Deferred {
    fn clone(&self) -> Self {
        Deferred(self.0.duplicate())
    }
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

// `Error` travels between tasks and inside `anyhow`/`Box<dyn Error>`, and stays one pointer
// wide so that `Result<T, Error>` is small.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    assert!(std::mem::size_of::<Error>() == std::mem::size_of::<usize>());
};

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
        Error::new(ErrorKind::Io, "i/o error").with_source(error)
    }
}

impl From<ConvertError> for Error {
    /// A converter error from calling a converter directly: `Encode` for encode errors,
    /// `Decode` (without a frame) otherwise.
    fn from(error: ConvertError) -> Self {
        match error.kind() {
            typed_ws_converters::ConvertErrorKind::Encode => Error::encode(error),
            _ => Error::new(ErrorKind::Decode, "error decoding a message").with_source(error),
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
        let e = Error::config("bad");
        assert!(e.is_config() && !e.is_tls() && !e.is_io());
        assert!(Error::new(ErrorKind::Tls, "x").is_tls());
        assert!(Error::from(std::io::Error::other("x")).is_io());
    }

    #[test]
    fn one_pointer_wide_send_sync() {
        fn send_sync_static<T: Send + Sync + 'static>() {}
        send_sync_static::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn display_is_ours_and_the_cause_is_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Connect, "could not connect to h:1").with_source(io);
        assert_eq!(e.to_string(), "could not connect to h:1");
        assert_eq!(e.source().unwrap().to_string(), "refused");
        assert_eq!(format!("{e:#}"), "could not connect to h:1: refused");
        assert_eq!(Chain(&e).to_string(), "could not connect to h:1: refused");
    }

    #[test]
    fn deferred_keeps_kind_and_source() {
        let io = std::io::Error::other("cause");
        let deferred = Deferred::new(Error::config("bad root").with_source(io));
        for e in [deferred.error(), deferred.clone().error()] {
            assert!(e.is_config());
            assert_eq!(format!("{e:#}"), "bad root: cause");
        }
    }
}
