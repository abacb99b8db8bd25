//! permessage-deflate (RFC 7692): configuration, negotiation, and the byte-level layer that
//! compresses and inflates messages below tungstenite.
//!
//! Why a layer below `WebSocketStream`: tokio-tungstenite has no extension support and we do not
//! fork it. [`stream::DeflateStream`] sits between tungstenite and the socket: it parses the
//! peer's frames, inflates RSV1 messages into plain frames for tungstenite, and compresses the
//! data frames tungstenite writes. tungstenite keeps doing all of RFC 6455 (fragmentation
//! rules, UTF-8, control frames, close handshake) on the plain frames. The layer is inserted
//! only when deflate was negotiated, so other sessions run exactly as before.

mod codec;
mod frame;
mod negotiate;
mod stream;

use std::fmt;
use std::io;
use std::time::Duration;

pub(crate) use negotiate::{accept_client, client_offer, negotiate_server};
pub(crate) use stream::{Codec, DeflateStream, Role, Transport};

use crate::error::{ErrorKind, human_bytes};
use crate::frame::CloseCode;

/// Default smallest message compressed (see [`Compression::threshold`]).
const DEFAULT_THRESHOLD: usize = 32;
/// Default compression level (see [`Compression::level`]).
const DEFAULT_LEVEL: u32 = 1;
/// Default idle time before a session's deflate state is released (see
/// [`Compression::idle_release`]).
const DEFAULT_IDLE_RELEASE: Duration = Duration::from_secs(1);

/// permessage-deflate (RFC 7692) settings, for [`ClientBuilder::compression`] and
/// [`ServerBuilder::compression`].
///
/// On by default: a client offers `permessage-deflate; client_max_window_bits` (what browsers
/// and Python `websockets` offer) and a server accepts such offers, so a session with a browser,
/// Python or Node `ws` peer is compressed unless you turn it off with
/// [`Compression::disabled`]. What was agreed is in
/// [`Handshake::compression`](crate::Handshake::compression).
///
/// The compressor and decompressor of a session are allocated on the first compressed message,
/// not when the session opens, so an idle session costs no deflate memory; with
/// no-context-takeover they are dropped again after every message (less memory, worse ratio);
/// with context takeover they are released once the session has been idle for
/// [`idle_release`](Compression::idle_release) (1 s), keeping only each direction's window.
///
/// Window sizes are 9-15 bits: zlib cannot compress raw deflate with an 8-bit window, so a
/// peer that demands 8 is declined (server) or refused (client), as Python `websockets` does.
///
/// # Examples
///
/// ```
/// use typed_ws::{Client, Compression};
///
/// let client = Client::builder()
///     .compression(Compression::default().client_no_context_takeover(true).threshold(1024))
///     .build();
/// let plain = Client::builder().compression(Compression::disabled()).build();
/// # let _ = (client, plain);
/// ```
///
/// [`ClientBuilder::compression`]: crate::ClientBuilder::compression
/// [`ServerBuilder::compression`]: crate::server::ServerBuilder::compression
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Compression {
    pub(crate) enabled: bool,
    pub(crate) client_max_window_bits: u8,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_no_context_takeover: bool,
    pub(crate) threshold: usize,
    pub(crate) level: u32,
    pub(crate) idle_release: Option<Duration>,
    /// The first bad setting, reported by the builder's connect or accept call.
    pub(crate) error: Option<String>,
}

impl Default for Compression {
    /// permessage-deflate on: 15-bit windows, context takeover, messages of 32 bytes or more
    /// compressed at level 1, state released after 1 s idle.
    fn default() -> Self {
        Compression {
            enabled: true,
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            threshold: DEFAULT_THRESHOLD,
            level: DEFAULT_LEVEL,
            idle_release: Some(DEFAULT_IDLE_RELEASE),
            error: None,
        }
    }
}

impl Compression {
    /// No compression: a client offers no extension, a server accepts none.
    pub fn disabled() -> Self {
        Compression {
            enabled: false,
            ..Compression::default()
        }
    }

    /// Whether permessage-deflate is offered (client) or accepted (server).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn window(mut self, name: &str, bits: u8) -> (Self, u8) {
        if !(9..=15).contains(&bits) {
            self.invalid(format!(
                "compression {name} must be 9-15 (zlib cannot compress with an 8-bit window), got {bits}"
            ));
            return (self, 15);
        }
        (self, bits)
    }

    fn invalid(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// The LZ77 window (in bits, 9-15) of the client's compressor. A client offers
    /// `client_max_window_bits=N` (or just `client_max_window_bits` at 15, letting the server
    /// choose); a server asks clients that allow it for `N` when below 15. Smaller windows use
    /// less memory and compress less.
    ///
    /// Default: 15.
    pub fn client_max_window_bits(self, bits: u8) -> Self {
        let (mut this, bits) = self.window("client_max_window_bits", bits);
        this.client_max_window_bits = bits;
        this
    }

    /// The LZ77 window (in bits, 9-15) of the server's compressor. A client below 15 requests
    /// it with `server_max_window_bits=N`; a server uses at most this (and at most what the
    /// client requested).
    ///
    /// Default: 15.
    pub fn server_max_window_bits(self, bits: u8) -> Self {
        let (mut this, bits) = self.window("server_max_window_bits", bits);
        this.server_max_window_bits = bits;
        this
    }

    /// Whether the client resets its compressor after every message (`client_no_context_takeover`):
    /// a client offers and does it; a server demands it in its answer.
    ///
    /// Default: `false` (context takeover: better ratio, compressor memory kept per session).
    pub fn client_no_context_takeover(mut self, enabled: bool) -> Self {
        self.client_no_context_takeover = enabled;
        self
    }

    /// Whether the server resets its compressor after every message (`server_no_context_takeover`):
    /// a client requests it; a server answers it and does it.
    ///
    /// Default: `false`.
    pub fn server_no_context_takeover(mut self, enabled: bool) -> Self {
        self.server_no_context_takeover = enabled;
        self
    }

    /// Messages smaller than this many bytes are sent uncompressed (a few bytes do not shrink);
    /// control frames are never compressed. With context takeover even small typed messages
    /// shrink: 66-byte JSON chat messages went to 15 bytes each at level 1 (measured with this
    /// crate's deflate backend), so the default is low. Raise it to keep sessions that only
    /// send small messages from allocating a compressor (about 330 KiB at 15 bits).
    ///
    /// Default: 32 bytes.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The deflate level, 0 (store) to 9 (smallest, slowest). Measured on 100 KB of typed JSON
    /// records: level 1 made 12.9 KB (7.7x) at about 1 GB/s, level 6 made 8.5 KB (11.8x) at
    /// about a sixth of that speed; on 66-byte messages with context takeover level 1 was 4.4x
    /// and level 6 5.0x, for 17 times the CPU. Level 1 keeps compressed JSON well under a
    /// quarter of its size at the lowest CPU.
    ///
    /// Default: 1.
    pub fn level(mut self, level: u32) -> Self {
        if level > 9 {
            self.invalid(format!("compression level must be 0-9, got {level}"));
            return self;
        }
        self.level = level;
        self
    }

    /// How long a session may go without reading or writing before its compressor and
    /// decompressor are freed; `None` keeps them for the session's life (and saves keeping a
    /// copy of each direction's window). A session with
    /// context takeover keeps each direction's window (the last `2^window_bits` bytes it
    /// compressed or inflated, at most 32 KiB) and rebuilds its state from it on the next
    /// message, so the ratio does not change and the peer cannot tell; only the rebuild costs
    /// CPU, once per message that follows an idle spell.
    ///
    /// Why: zlib-rs's state is about 300 KiB per direction-pair whatever the window bits (a
    /// fixed 128 KiB hash table and 112 KiB of buffers), so ten thousand mostly idle sessions
    /// would hold 3 GiB; released, an idle session holds its windows (up to 2 x 32 KiB at 15
    /// bits, less when less was sent) plus what an uncompressed session holds. Measured here
    /// (release build): rebuilding both directions with full windows before a small message
    /// took 64 us at 15 bits (12 us at 12 bits, 6 us at 9), against 0.3 us for the same
    /// message on kept state; so at the default a session that sends or hears about once a
    /// second or less pays that on each message, and a busier session never does.
    ///
    /// Default: 1 second.
    pub fn idle_release(mut self, after: Option<Duration>) -> Self {
        self.idle_release = after;
        self
    }
}

/// What permessage-deflate parameters a session agreed on, from
/// [`Handshake::compression`](crate::Handshake::compression).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedCompression {
    pub(crate) params: Params,
    pub(crate) header: String,
}

impl NegotiatedCompression {
    /// The agreed `Sec-WebSocket-Extensions` value, as the server answered it.
    pub fn extension(&self) -> &str {
        &self.header
    }

    /// Whether the server resets its compressor after every message.
    pub fn server_no_context_takeover(&self) -> bool {
        self.params.server_no_context_takeover
    }

    /// Whether the client resets its compressor after every message.
    pub fn client_no_context_takeover(&self) -> bool {
        self.params.client_no_context_takeover
    }

    /// The largest window (bits) the server's compressor uses: 15 unless negotiated lower.
    pub fn server_max_window_bits(&self) -> u8 {
        self.params.server_max_window_bits.unwrap_or(15)
    }

    /// The largest window (bits) the client's compressor uses: 15 unless negotiated lower.
    pub fn client_max_window_bits(&self) -> u8 {
        self.params.client_max_window_bits.unwrap_or(15)
    }
}

/// The four RFC 7692 parameters of an offer or an answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: Option<u8>,
    /// In an offer, `Some(0)` stands for the value-less `client_max_window_bits`.
    pub(crate) client_max_window_bits: Option<u8>,
}

/// A violation found while inflating; the deflate layer returns it inside an `io::Error` and
/// the driver turns it into the close code and a typed error ([`read_failure`]).
#[derive(Debug)]
pub(crate) enum DeflateError {
    /// A message inflated past `max_message_size`.
    TooBig { size: usize, max: usize },
    /// A frame (compressed or not) over the session's live `max_frame_size`.
    FrameTooBig { size: u64, max: usize },
    /// A compressed frame that breaks RFC 6455/7692 (masking).
    Protocol(String),
    /// The compressed data is not valid deflate.
    InvalidData(String),
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateError::TooBig { size, max } => write!(
                f,
                "received a compressed message inflating to more than {} (over max_message_size: {}); raise max_message_size on the builder if such messages are expected",
                human_bytes(*size),
                human_bytes(*max)
            ),
            DeflateError::FrameTooBig { size, max } => write!(
                f,
                "received a message of {} over max_frame_size ({}); raise max_frame_size on the builder (or with set_max_frame_size) if such messages are expected",
                human_bytes(usize::try_from(*size).unwrap_or(usize::MAX)),
                human_bytes(*max)
            ),
            DeflateError::Protocol(what) => {
                write!(f, "peer broke the WebSocket protocol: {what}")
            }
            DeflateError::InvalidData(what) => {
                write!(f, "peer sent invalid permessage-deflate data: {what}")
            }
        }
    }
}

impl std::error::Error for DeflateError {}

impl DeflateError {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// The close code, error kind and message for a read error from the deflate layer; `None` for
/// any other io error.
pub(crate) fn read_failure(error: &io::Error) -> Option<(CloseCode, ErrorKind, String)> {
    let deflate = error.get_ref()?.downcast_ref::<DeflateError>()?;
    let (code, kind) = match deflate {
        DeflateError::TooBig { .. } | DeflateError::FrameTooBig { .. } => {
            (CloseCode::TOO_BIG, ErrorKind::TooBig)
        }
        DeflateError::Protocol(_) => (CloseCode::PROTOCOL_ERROR, ErrorKind::Protocol),
        DeflateError::InvalidData(_) => (CloseCode::INVALID_PAYLOAD, ErrorKind::Protocol),
    };
    Some((code, kind, deflate.to_string()))
}
