//! # typed-ws
//!
//! Typed messaging over WebSockets: a Rust port of Ktor Client WebSockets on tokio and
//! tokio-tungstenite. Send and receive your own types through a [`ContentConverter`] (JSON in
//! Text frames, MessagePack in Binary frames, or your own), with a driver task per session that
//! answers pings, runs a pinger, batches writes, bounds every queue and always tells you how
//! the session ended.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use typed_ws::{Client, CloseReason};
//!
//! #[derive(Serialize, Deserialize, Debug)]
//! struct Say { from: String, text: String }
//!
//! # async fn demo() -> typed_ws::Result<()> {
//! let client = Client::new(); // JSON, pings every 20 s
//! let mut session = client.web_socket_session("ws://127.0.0.1:8080/chat").await?;
//! session.send_serialized(&Say { from: "ann".into(), text: "hi".into() }).await?;
//! let reply: Say = session.receive_deserialized().await?;
//! println!("{} says {}", reply.from, reply.text);
//! session.close(CloseReason::normal("bye")).await?;
//! println!("closed: {}", session.close_reason().await);
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it gives |
//! |---|---|---|
//! | `macros` | yes | `#[derive(Message)]`: an enum becomes a typed message protocol |
//! | `rustls` | yes | `wss://` through rustls (ring, TLS 1.2 + 1.3, webpki roots) |
//! | `native-tls` | no | `wss://` through the platform's TLS |
//! | `axum` | no | [`server::WebSocketUpgrade`]: an axum route becomes a typed [`Session`] |
//!
//! ## Compression
//!
//! permessage-deflate (RFC 7692) is on by default: the client offers it and the server accepts
//! it, so sessions with browsers, Python `websockets` and Node `ws` are compressed. Tune it or
//! turn it off with [`ClientBuilder::compression`] / [`server::ServerBuilder::compression`]
//! and a [`Compression`] ([`Compression::disabled`]); [`Handshake::compression`] tells what a
//! session agreed on.
//!
//! ## Layers
//!
//! [`Frame`] is the frame layer; [`Session`] is what you hold (typed send/receive, split
//! into [`Sender`] + [`Receiver`]); [`Client`] opens sessions; [`server::Server`] accepts
//! them ([`Server::serve`](server::Server::serve) runs the accept loop, a pre-upgrade hook can
//! refuse before the 101), so both ends of an application share one typed protocol.
//!
//! Beyond Ktor: [`Client::reconnecting`] gives a [`ReconnectingSession`] (backoff policy,
//! lifecycle [`Event`]s, an `on_connect` hook, an explicit [`Outbox`]);
//! [`ClientBuilder::negotiate`] picks the converter by subprotocol ([`Offer`]); and
//! [`ClientBuilder::proxy`] connects through HTTP CONNECT or SOCKS5.
//!
//! ## Memory and liveness
//!
//! Every session's queues are bounded in bytes both ways (`incoming_budget`,
//! `outgoing_budget`, 4 MiB each by default, on [`ClientBuilder`] and
//! [`server::ServerBuilder`]): a peer that sends without reading can make a session hold at
//! most the budgets plus one message of `max_message_size` and the write buffer. Ping payloads
//! are random, so pongs sent blind keep nothing alive; a peer that reads nothing of ours for
//! `pong_timeout` is closed with 1011 "write timeout".
//!
//! ## Logging
//!
//! typed-ws logs through `tracing` (`debug` lifecycle, `trace` per frame: kind and length,
//! never a payload or a secret). tungstenite logs whole frames through the `log` crate at
//! TRACE: with `log` routed into `tracing`, filter it out with
//! `tungstenite=info,tokio_tungstenite=info`.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod client;
mod deflate;
mod driver;
mod error;
mod handshake;
mod proxy;
mod reconnect;
mod request;
pub mod server;
mod session;
mod settings;
mod shared;
mod stream;
mod tls;
mod typed;

/// The README's Rust blocks, compiled as doctests (they need the `axum` feature).
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../../README.md")]
mod readme {}
mod upgrade;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tracing::Span;

pub use client::{Client, ClientBuilder};
pub use deflate::{Compression, NegotiatedCompression};
pub use error::{Error, ErrorKind, HandshakeResponse, Result};
pub use handshake::Handshake;
pub use proxy::{Proxy, ProxyKind};
pub use reconnect::{
    Backoff, Cause, Event, Outbox, ReconnectBuilder, ReconnectPolicy, ReconnectingSender,
    ReconnectingSession,
};
pub use request::{IntoRequest, Request, RequestBuilder, Scheme};
pub use session::{Receiver, Sender, Session};
pub use typed::{
    Messages, ReceiveFrames, SendFrames, SessionHandle, SplitFrames, TypedReceiver, TypedSender,
    TypedSession,
};
pub use typed_ws_converters::{
    Bytes, Chosen, CloseCode, CloseReason, ContentConverter, ConvertError, ConvertErrorKind,
    ConverterSet, Frame, FrameKind, FromFrame, InvalidUtf8, Json, MAX_CLOSE_REASON_BYTES, Message,
    MessagePack, Offer, Offers, ToFrame, Utf8Bytes,
};
#[cfg(feature = "macros")]
pub use typed_ws_macros::Message;

/// The frame types (also re-exported at the crate root).
pub mod frame {
    pub use typed_ws_converters::{CloseCode, CloseReason, Frame, FrameKind, Utf8Bytes};
}

/// Items the derive macros' generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use typed_ws_converters::__derive::*;
}

/// Wires a handshaken socket to a new driver task and returns the application's handle.
pub(crate) fn start_session<S, C>(
    ws: WebSocketStream<S>,
    converter: Arc<C>,
    settings: Arc<settings::Settings>,
    raw: bool,
    handshake: Handshake,
    span: Span,
) -> Session<C>
where
    S: AsyncRead + AsyncWrite + deflate::Transport + Unpin + Send + 'static,
    C: ContentConverter,
{
    let (command_tx, command_rx) = mpsc::channel(settings.channel_capacity);
    let (control_tx, control_rx) = mpsc::channel(1);
    let (incoming_tx, incoming_rx) = mpsc::channel(settings.channel_capacity);
    let (guard_tx, guard_rx) = oneshot::channel();
    let shared = shared::Shared::new(handshake, Arc::clone(&settings));
    let drive = driver::Driver::spawn(
        ws,
        settings,
        raw,
        Arc::clone(&shared),
        driver::Channels {
            commands: command_rx,
            control: control_rx,
            incoming: incoming_tx,
            receiver_gone: guard_rx,
        },
        span,
    );
    Session::new(
        converter,
        shared,
        drive,
        command_tx,
        control_tx,
        incoming_rx,
        guard_tx,
    )
}
