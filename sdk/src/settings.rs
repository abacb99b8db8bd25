//! Session settings shared by the client and the server accept side.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::{Deferred, Error, human_bytes};

/// Default ping interval and pong timeout.
pub(crate) const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
/// 16 MiB, not tungstenite's 64 MiB: a message is held whole while it is reassembled and
/// again while it waits in the incoming queue, so this bounds what one peer can make a session
/// hold before the application has seen a byte. Python `websockets` allows 1 MiB; typed
/// payloads (JSON, MessagePack) rarely need more than a few MiB. Raise it for bulk transfers.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_CHANNEL_CAPACITY: usize = 1024;
pub(crate) const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;
pub(crate) const DEFAULT_WRITE_BUFFER_SIZE: usize = 64 * 1024;
/// Received bytes waiting for the application before the driver stops reading: enough to keep
/// a fast stream of typed messages flowing, small enough that a peer cannot make an idle
/// application hold much (at most this plus one message of `max_message_size`).
pub(crate) const DEFAULT_INCOMING_BUDGET: usize = 4 << 20;
/// Accepted, not yet written bytes before `send` waits.
pub(crate) const DEFAULT_OUTGOING_BUDGET: usize = 4 << 20;
/// Outgoing messages larger than this are written as several frames of at most this size,
/// which keeps tungstenite's write buffer capped (see `Settings::websocket_config`) and makes
/// every completed flush a sign that the peer read at least this much.
pub(crate) const MAX_WRITE_FRAME: usize = 1 << 20;
/// Room in the write buffer above one full frame: control frames (at most 131 bytes each).
const WRITE_BUFFER_SLACK: usize = 16 * 1024;

/// The settings every session runs with.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) channel_capacity: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) incoming_budget: usize,
    pub(crate) outgoing_budget: usize,
    /// Sessions of a server: the server drops TCP first once the close handshake is over
    /// (RFC 6455 7.1.1); a client waits for that, bounded by `close_timeout`.
    pub(crate) server: bool,
    /// The first bad setting, reported by the connect or accept call.
    pub(crate) error: Option<Deferred>,
    /// permessage-deflate (see `deflate/`).
    pub(crate) compression: crate::deflate::Compression,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            pong_timeout: DEFAULT_PONG_TIMEOUT,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            incoming_budget: DEFAULT_INCOMING_BUDGET,
            outgoing_budget: DEFAULT_OUTGOING_BUDGET,
            server: false,
            error: None,
            compression: crate::deflate::Compression::default(),
        }
    }
}

impl Settings {
    pub(crate) fn invalid(&mut self, message: String) {
        self.invalid_error(Error::config(message));
    }

    /// Remembers a bad input found by a builder (the first one only), kind and source kept.
    pub(crate) fn invalid_error(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(Deferred::new(error));
        }
    }

    /// The remembered bad setting, as an error.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(deferred) => Err(deferred.error()),
            None => Ok(()),
        }
    }

    pub(crate) fn websocket_config(&self) -> WebSocketConfig {
        // The write buffer is capped: the driver writes a frame only once the previous write
        // went out (tungstenite's `poll_ready`), and no frame is larger than `MAX_WRITE_FRAME`,
        // so only the pongs tungstenite queues by itself could push past the cap - and a pong
        // that does not fit stays in its single pending slot, replaced by the next one.
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_write_buffer_size(self.write_buffer_size + MAX_WRITE_FRAME + WRITE_BUFFER_SLACK)
            .max_frame_size(Some(self.max_frame_size))
            .max_message_size(Some(self.max_message_size))
    }

    /// What a frame of `len` bytes costs against the outgoing budget: a frame larger than the
    /// whole budget takes all of it, so it goes out alone rather than never.
    pub(crate) fn outgoing_cost(&self, len: usize) -> u32 {
        // the budget is validated to fit in u32
        u32::try_from(len.min(self.outgoing_budget)).unwrap_or(u32::MAX)
    }

    /// The "over the limit" message for a received frame or message of `size` bytes.
    pub(crate) fn too_big_message(&self, size: usize, max: usize) -> String {
        let setting = if max == self.max_frame_size && max != self.max_message_size {
            "max_frame_size"
        } else if max == self.max_message_size && max != self.max_frame_size {
            "max_message_size"
        } else {
            "max_frame_size / max_message_size"
        };
        format!(
            "received a message of {} over {setting} ({}); raise {setting} on the builder if such messages are expected",
            human_bytes(size),
            human_bytes(max)
        )
    }
}

/// The session setters shared by `ClientBuilder` and `ServerBuilder`: one definition, so both
/// ends document and validate settings the same way.
macro_rules! session_setters {
    () => {
        /// How often to send a ping to check that the peer is alive; `None` disables the
        /// pinger (pings from the peer are still answered).
        ///
        /// Default: 20 s.
        pub fn ping_interval(mut self, interval: impl Into<Option<std::time::Duration>>) -> Self {
            let interval = interval.into();
            if interval == Some(std::time::Duration::ZERO) {
                self.settings.invalid(
                    "ping_interval must be greater than zero; pass None to disable pings".into(),
                );
            }
            self.settings.ping_interval = interval;
            self
        }

        /// How long to wait for the pong answering a ping before the session is closed with
        /// 1011 "ping timeout".
        ///
        /// Default: 20 s.
        pub fn pong_timeout(mut self, timeout: std::time::Duration) -> Self {
            if timeout.is_zero() {
                self.settings
                    .invalid("pong_timeout must be greater than zero".into());
            }
            self.settings.pong_timeout = timeout;
            self
        }

        /// The largest incoming frame payload accepted; a bigger one closes the session with
        /// 1009. A live session can change it (`set_max_frame_size`).
        ///
        /// Default: 16 MiB.
        pub fn max_frame_size(mut self, bytes: usize) -> Self {
            if bytes == 0 {
                self.settings
                    .invalid("max_frame_size must be greater than zero".into());
            }
            self.settings.max_frame_size = bytes;
            self
        }

        /// The largest incoming message accepted after reassembling its frames; a bigger one
        /// closes the session with 1009.
        ///
        /// Default: 16 MiB. A message is held whole while it is reassembled and while it waits
        /// for the application, so this bounds what one peer can make a session hold (with
        /// `incoming_budget`); tungstenite allows 64 MiB, Python `websockets` 1 MiB.
        pub fn max_message_size(mut self, bytes: usize) -> Self {
            if bytes == 0 {
                self.settings
                    .invalid("max_message_size must be greater than zero".into());
            }
            self.settings.max_message_size = bytes;
            self
        }

        /// The bound on establishing a session: TCP connect, TLS and the upgrade handshake
        /// together (on the server: the upgrade handshake). It does not limit a live session.
        ///
        /// Default: 10 s.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            if timeout.is_zero() {
                self.settings
                    .invalid("connect_timeout must be greater than zero".into());
            }
            self.settings.connect_timeout = timeout;
            self
        }

        /// How long `close` waits for the peer's close frame before dropping the connection.
        ///
        /// Default: 5 s.
        pub fn close_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.close_timeout = timeout;
            self
        }

        /// The capacity, in messages, of each session's outgoing and incoming queues. A full
        /// outgoing queue makes `send` wait (backpressure); a full incoming queue stops reading
        /// from the socket until the application catches up. The queues are bounded in bytes
        /// too: see `incoming_budget` and `outgoing_budget`.
        ///
        /// Default: 1024.
        pub fn channel_capacity(mut self, messages: usize) -> Self {
            if messages == 0 {
                self.settings
                    .invalid("channel_capacity must be at least 1".into());
            }
            self.settings.channel_capacity = messages;
            self
        }

        /// The size of each session's socket read buffer.
        ///
        /// Default: 16 KiB. tungstenite's own default of 128 KiB is zero-filled on every read
        /// and measurably slower for small messages, and the buffer is resident in every idle
        /// session (see `BENCHMARKS.md`); raise it for bulk transfers of large messages.
        pub fn read_buffer_size(mut self, bytes: usize) -> Self {
            if bytes == 0 {
                self.settings
                    .invalid("read_buffer_size must be greater than zero".into());
            }
            self.settings.read_buffer_size = bytes;
            self
        }

        /// How many received bytes may wait for the application before the session stops
        /// reading from the socket (the peer then sees TCP backpressure). The session holds at
        /// most this plus one message of `max_message_size` for a peer, however fast it sends
        /// and however slowly the application reads. Until the budget is spent the session
        /// keeps reading even when `channel_capacity` messages wait, so pings and pongs still
        /// get through; once it is spent, a missing pong is not held against the peer (it may
        /// be queued behind the data the application has not taken).
        ///
        /// Default: 4 MiB.
        pub fn incoming_budget(mut self, bytes: usize) -> Self {
            if bytes == 0 {
                self.settings
                    .invalid("incoming_budget must be greater than zero".into());
            }
            self.settings.incoming_budget = bytes;
            self
        }

        /// How many bytes of accepted, not yet written frames a session holds before `send`
        /// waits (backpressure). A frame larger than the budget is accepted alone, once the
        /// frames before it are written. With a peer that stops reading, the session holds at
        /// most this plus the write buffer (`write_buffer_size` + 1 MiB), and closes with 1011
        /// "write timeout" when nothing could be written for `pong_timeout`.
        ///
        /// Default: 4 MiB. At most 4 GiB.
        pub fn outgoing_budget(mut self, bytes: usize) -> Self {
            if bytes == 0 || u32::try_from(bytes).is_err() {
                self.settings.invalid(format!(
                    "outgoing_budget must be between 1 byte and 4 GiB (got {bytes})"
                ));
            }
            self.settings.outgoing_budget = bytes;
            self
        }

        /// How many bytes of outgoing frames are gathered before they are written to the
        /// socket; queued frames are always flushed when the outgoing queue runs empty.
        ///
        /// Default: 64 KiB.
        pub fn write_buffer_size(mut self, bytes: usize) -> Self {
            self.settings.write_buffer_size = bytes;
            self
        }
    };
}

/// The permessage-deflate setter shared by `ClientBuilder` and `ServerBuilder` (kept apart from
/// `session_setters`; see `deflate/`).
macro_rules! compression_setter {
    () => {
        /// permessage-deflate (RFC 7692): what a client offers or a server accepts, window
        /// sizes, context takeover, the size threshold and the level; see
        /// [`Compression`](crate::Compression). [`Compression::disabled`](crate::Compression::disabled)
        /// turns it off. What a session agreed on is in
        /// [`Handshake::compression`](crate::Handshake::compression).
        ///
        /// Default: [`Compression::default`](crate::Compression::default): on, 15-bit windows,
        /// context takeover, messages of 32 bytes or more compressed at level 1.
        pub fn compression(mut self, compression: crate::Compression) -> Self {
            if let Some(message) = &compression.error {
                self.settings.invalid(message.clone());
            }
            self.settings.compression = compression;
            self
        }
    };
}

pub(crate) use compression_setter;
pub(crate) use session_setters;
