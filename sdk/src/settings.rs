//! Session settings shared by the client and the server accept side.

use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::{Error, human_bytes};

/// Default ping interval and pong timeout.
pub(crate) const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_CHANNEL_CAPACITY: usize = 1024;
pub(crate) const DEFAULT_READ_BUFFER_SIZE: usize = 16 * 1024;
pub(crate) const DEFAULT_WRITE_BUFFER_SIZE: usize = 64 * 1024;

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
    /// The first bad setting, reported by the connect or accept call.
    pub(crate) error: Option<String>,
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
            error: None,
            compression: crate::deflate::Compression::default(),
        }
    }
}

impl Settings {
    pub(crate) fn invalid(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    /// The remembered bad setting, as an error.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(message) => Err(Error::config(message.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_frame_size(Some(self.max_frame_size))
            .max_message_size(Some(self.max_message_size))
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
        /// 1009.
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
        /// Default: 64 MiB.
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
        /// from the socket until the application catches up.
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
