//! The typed layer, written once for every handle.
//!
//! Every handle that sends ([`Session`](crate::Session), [`Sender`](crate::Sender),
//! [`ReconnectingSession`](crate::ReconnectingSession),
//! [`ReconnectingSender`](crate::ReconnectingSender)) implements [`SendFrames`]; every handle
//! that receives ([`Session`](crate::Session), [`Receiver`](crate::Receiver),
//! [`ReconnectingSession`](crate::ReconnectingSession)) implements [`ReceiveFrames`]. Those
//! traits are sealed and their methods hidden: they are the few primitives each handle
//! provides. The methods an application calls (`send_serialized`, `receive_message`,
//! `messages`, `close_reason`, ...) are generated from the one definition in this module's
//! macros, so every handle has them with the same signatures and the same documentation, and
//! the protocol-typed handles [`TypedSession`], [`TypedSender`] and [`TypedReceiver`] work over
//! any of them.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::stream::FusedStream;
use futures_util::Sink;
use typed_ws_converters::{ContentConverter, ConvertError, FromFrame, ToFrame};

use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};

pub(crate) mod sealed {
    /// Only typed-ws's handles implement the handle traits.
    pub trait Sealed {}
}

/// What every session handle has: a converter and an outcome. Sealed; implemented by
/// [`Session`](crate::Session), [`Sender`](crate::Sender), [`Receiver`](crate::Receiver),
/// [`ReconnectingSession`](crate::ReconnectingSession) and
/// [`ReconnectingSender`](crate::ReconnectingSender).
pub trait SessionHandle: sealed::Sealed + Send + Sync + Unpin + 'static {
    /// The converter the handle encodes and decodes with.
    type Converter: ContentConverter;

    #[doc(hidden)]
    /// The converter now (a reconnecting session's may change with each connection).
    fn current_converter(&self) -> Arc<Self::Converter>;

    #[doc(hidden)]
    /// Runs `f` with the converter, without cloning it where the handle need not.
    fn with_converter<R>(&self, f: impl FnOnce(&Self::Converter) -> R) -> R {
        f(&self.current_converter())
    }

    #[doc(hidden)]
    /// Waits until the session has ended, and says how.
    fn wait_closed(&self) -> impl Future<Output = CloseReason> + Send;

    #[doc(hidden)]
    /// How the session ended, if it has.
    fn try_closed(&self) -> Option<CloseReason>;

    #[doc(hidden)]
    /// `true` once the session started closing or has closed.
    fn closing(&self) -> bool;
}

/// A handle that sends frames. Sealed; see [`SessionHandle`].
pub trait SendFrames: SessionHandle {
    /// The cloneable handle for sending from other tasks.
    type Sender: SendFrames<Converter = Self::Converter> + Clone;

    #[doc(hidden)]
    /// Queues one frame (the handle's own `send`).
    fn send_frame(&self, frame: Frame) -> impl Future<Output = Result<()>> + Send;

    #[doc(hidden)]
    /// Waits until everything queued so far is written.
    fn flush_frames(&self) -> impl Future<Output = Result<()>> + Send;

    #[doc(hidden)]
    /// Closes the session with `reason` and waits for the outcome.
    fn close_with(&self, reason: CloseReason) -> impl Future<Output = Result<()>> + Send;

    #[doc(hidden)]
    /// A new sending handle on the same session.
    fn sending_handle(&self) -> Self::Sender;
}

/// A handle that receives frames. Sealed; see [`SessionHandle`].
pub trait ReceiveFrames: SessionHandle {
    #[doc(hidden)]
    /// The next received item: `None` once the session has ended and everything was taken.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>>;

    #[doc(hidden)]
    /// As `poll_frame`, for a receive that calls `stop_waiting` when it is dropped: it may run
    /// the driver's pass on this task and have the socket's read readiness wake it.
    fn poll_frame_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        self.poll_frame(cx)
    }

    #[doc(hidden)]
    /// A receive that polled with `poll_frame_waiting` ends.
    fn stop_waiting(&self) {}

    #[doc(hidden)]
    /// `true` once `poll_frame` returned `None`.
    fn frames_done(&self) -> bool;

    #[doc(hidden)]
    /// How many received items wait to be taken.
    fn queued_items(&self) -> usize;

    #[doc(hidden)]
    /// The error a typed receive returns once the session has ended.
    fn closed_error(&self) -> impl Future<Output = Error> + Send;
}

/// A handle that is both ends of a session and splits into them. Sealed; see
/// [`SessionHandle`].
pub trait SplitFrames: SendFrames + ReceiveFrames {
    /// The receiving half.
    type Receiver: ReceiveFrames<Converter = Self::Converter>;

    #[doc(hidden)]
    /// Splits the handle into its sending and receiving halves.
    fn split_frames(self) -> (Self::Sender, Self::Receiver);
}

/// Encodes `value` with the handle's converter.
pub(crate) fn encode<H: SessionHandle, T: ToFrame + ?Sized>(
    handle: &H,
    value: &T,
) -> Result<Frame> {
    handle
        .with_converter(|converter| value.to_frame(converter))
        .map_err(Error::encode)
}

/// Decodes `frame` with the handle's converter; a failure keeps the frame.
pub(crate) fn decode<H: SessionHandle, T>(
    handle: &H,
    frame: Frame,
    decode: impl FnOnce(&H::Converter, &Frame) -> std::result::Result<T, ConvertError>,
) -> Result<T> {
    match handle.with_converter(|converter| decode(converter, &frame)) {
        Ok(value) => Ok(value),
        Err(e) => Err(Error::decode(e, frame)),
    }
}

/// The next data frame, or the error that says the session has ended.
pub(crate) async fn next_frame<R: ReceiveFrames>(receiver: &mut R) -> Result<Frame> {
    match next_item(receiver).await {
        Some(item) => item,
        None => Err(receiver.closed_error().await),
    }
}

/// The next received item, `None` once the session has ended and everything was taken.
pub(crate) async fn next_item<R: ReceiveFrames>(receiver: &mut R) -> Option<Result<Frame>> {
    /// Stops the wait when the receive is dropped, done or not.
    struct Waiting<'a, R: ReceiveFrames>(&'a mut R);
    impl<R: ReceiveFrames> Drop for Waiting<'_, R> {
        fn drop(&mut self) {
            self.0.stop_waiting();
        }
    }
    let waiting = Waiting(receiver);
    std::future::poll_fn(|cx| waiting.0.poll_frame_waiting(cx)).await
}

/// The methods of every sending handle, generated once. Expands inside an
/// `impl<C: ContentConverter> Handle<C>` whose type implements [`SendFrames`].
macro_rules! send_methods {
    () => {
        /// Queues a frame for sending. Returns once the session has room for it
        /// (backpressure): a [`Session`](crate::Session) waits while its outgoing budget
        /// (`outgoing_budget` bytes accepted and not yet written) or its queue
        /// (`channel_capacity` frames) is full; a reconnecting session applies its
        /// [`Outbox`](crate::Outbox) policy while disconnected. Frames from one handle are
        /// written in order and flushed as soon as the queue runs empty. A `Close` frame
        /// closes the session (as [`close`](Self::close)).
        ///
        /// # Errors
        ///
        /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the session is closing or
        /// closed; the error carries the close reason (it waits, bounded by the close
        /// timeout, for a close under way to end). A reconnecting session also fails while
        /// disconnected with [`Outbox::Fail`](crate::Outbox::Fail) or a full
        /// [`Outbox::Buffer`](crate::Outbox::Buffer).
        ///
        /// # Cancel safety
        ///
        /// If the future is dropped before it completes, the frame was not queued.
        pub async fn send(&self, frame: $crate::Frame) -> $crate::Result<()> {
            $crate::typed::SendFrames::send_frame(self, frame).await
        }

        /// Sends a Text frame: a `String` or a [`Utf8Bytes`](crate::Utf8Bytes) is sent without
        /// a copy, a `&str` is copied once.
        ///
        /// # Errors
        ///
        /// As [`send`](Self::send).
        pub async fn send_text(&self, text: impl Into<$crate::Utf8Bytes>) -> $crate::Result<()> {
            self.send($crate::Frame::Text(text.into())).await
        }

        /// Sends a Binary frame.
        ///
        /// # Errors
        ///
        /// As [`send`](Self::send).
        pub async fn send_binary(&self, bytes: impl Into<$crate::Bytes>) -> $crate::Result<()> {
            self.send($crate::Frame::Binary(bytes.into())).await
        }

        /// Serializes `value` with the session's converter and sends it (JSON: Text frame,
        /// MessagePack: Binary frame).
        ///
        /// # Errors
        ///
        /// [`ErrorKind::Encode`](crate::ErrorKind::Encode) when the converter cannot encode
        /// the value (nothing is sent), else as [`send`](Self::send).
        pub async fn send_serialized<T: serde::Serialize + ?Sized>(
            &self,
            value: &T,
        ) -> $crate::Result<()> {
            let frame = $crate::typed::encode(self, value)?;
            self.send(frame).await
        }

        /// Sends one message of a [`Message`](crate::Message) protocol (usually a
        /// `#[derive(Message)]` enum); anything convertible into the enum, such as a
        /// variant's payload, is accepted. A [`TypedSender`](crate::TypedSender) fixes the
        /// protocol once, so no call needs to name it.
        ///
        /// # Errors
        ///
        /// As [`send_serialized`](Self::send_serialized).
        pub async fn send_message<M: $crate::Message>(
            &self,
            message: impl Into<M>,
        ) -> $crate::Result<()> {
            let message = message.into();
            let frame =
                $crate::SessionHandle::with_converter(self, |converter| message.encode(converter))
                    .map_err($crate::Error::encode)?;
            self.send(frame).await
        }

        /// Waits until every frame queued so far is written to the socket and flushed (a
        /// reconnecting session: on the live connection; nothing to wait for while
        /// disconnected).
        ///
        /// # Errors
        ///
        /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the session ended first.
        pub async fn flush(&self) -> $crate::Result<()> {
            $crate::typed::SendFrames::flush_frames(self).await
        }

        /// Starts the close handshake with `reason` and waits (bounded by `close_timeout`)
        /// for the peer's close frame; a reconnecting session also stops reconnecting.
        /// Closing a closed session does nothing.
        ///
        /// When the peer answers with its close frame, [`close_reason`](Self::close_reason) is
        /// `reason`. When it never does (`close_timeout` passes, or it drops the connection
        /// first), the close handshake did not complete and `close_reason` is 1006 (RFC 6455
        /// 7.1.5) with a reason that keeps what was sent, e.g.
        /// `close not acknowledged by the peer (sent 1000 "bye")`.
        ///
        /// # Errors
        ///
        /// None today; the `Result` leaves room for reporting a failed close.
        pub async fn close(&self, reason: $crate::CloseReason) -> $crate::Result<()> {
            $crate::typed::SendFrames::close_with(self, reason).await
        }

        /// This handle fixed to one outgoing type: [`TypedSender::send`](crate::TypedSender::send)
        /// takes anything that converts into `Out` (a `#[derive(Message)]` enum's payloads, or
        /// a plain serde type), and the handle is a [`Sink`](futures_util::Sink) of `Out`.
        pub fn typed_sender<Out>(
            &self,
        ) -> $crate::TypedSender<Out, <Self as $crate::SendFrames>::Sender>
        where
            Out: $crate::ToFrame + Send + 'static,
        {
            $crate::TypedSender::new($crate::typed::SendFrames::sending_handle(self))
        }
    };
}

/// The methods of every receiving handle, generated once. Expands inside an
/// `impl<C: ContentConverter> Handle<C>` whose type implements [`ReceiveFrames`].
macro_rules! receive_methods {
    () => {
        /// Receives the next data frame (Text or Binary, reassembled from fragments). `None`
        /// once the session has closed (a reconnecting session: for good) and every received
        /// frame has been returned; an `Err` says why a session ended abnormally (ping
        /// timeout, too big, protocol error, connection lost).
        ///
        /// On a raw session, Ping, Pong and Close frames are returned too.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: if the future is dropped before it completes, no frame is lost.
        pub async fn receive(&mut self) -> Option<$crate::Result<$crate::Frame>> {
            $crate::typed::next_item(self).await
        }

        /// Receives the next data frame and deserializes it with the session's converter.
        ///
        /// # Errors
        ///
        /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the frame does not decode into
        /// `T` (the frame is in [`Error::frame`](crate::Error::frame); the session stays open
        /// and the next call reads the next frame);
        /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the session has ended; the
        /// error that ended it, if it ended abnormally.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe, as [`receive`](Self::receive).
        pub async fn receive_deserialized<T: serde::de::DeserializeOwned>(
            &mut self,
        ) -> $crate::Result<T> {
            let frame = $crate::typed::next_frame(self).await?;
            $crate::typed::decode(self, frame, |converter, frame| converter.deserialize(frame))
        }

        /// Receives the next message of a [`Message`](crate::Message) protocol.
        ///
        /// # Errors
        ///
        /// As [`receive_deserialized`](Self::receive_deserialized); an unknown tag is a
        /// `Decode` error naming it, unless the enum has an `other` variant.
        pub async fn receive_message<M: $crate::Message>(&mut self) -> $crate::Result<M> {
            let frame = $crate::typed::next_frame(self).await?;
            $crate::typed::decode(self, frame, |converter, frame| M::decode(converter, frame))
        }

        /// The incoming frames deserialized into `T`, as a [`Stream`](futures_core::Stream).
        /// A frame that fails to decode is an `Err` item and the stream goes on.
        pub fn messages<T: serde::de::DeserializeOwned>(
            &mut self,
        ) -> $crate::Messages<'_, Self, T> {
            $crate::Messages::new(self, |handle, frame| {
                $crate::typed::decode(handle, frame, |converter, frame| {
                    converter.deserialize(frame)
                })
            })
        }

        /// The incoming frames decoded as messages of protocol `M` (a `#[derive(Message)]`
        /// enum), as a [`Stream`](futures_core::Stream). A frame that fails to decode is an
        /// `Err` item and the stream goes on.
        pub fn message_stream<M: $crate::Message>(&mut self) -> $crate::Messages<'_, Self, M> {
            $crate::Messages::new(self, |handle, frame| {
                $crate::typed::decode(handle, frame, |converter, frame| {
                    M::decode(converter, frame)
                })
            })
        }

        /// How many received items (frames, and the error that ended the session) wait to be
        /// taken: the incoming queue's depth, at most `channel_capacity`.
        pub fn queued(&self) -> usize {
            $crate::typed::ReceiveFrames::queued_items(self)
        }

        /// This handle fixed to one incoming type: a [`TypedReceiver`](crate::TypedReceiver),
        /// whose `receive` yields `In` and which is a [`Stream`](futures_core::Stream) of
        /// `Result<In>`.
        pub fn typed_receiver<In: $crate::FromFrame>(self) -> $crate::TypedReceiver<In, Self> {
            $crate::TypedReceiver::new(self)
        }
    };
}

/// The methods of every handle that is both ends of a session, generated once.
macro_rules! split_methods {
    () => {
        /// This session fixed to the messages it speaks: a [`TypedSession`](crate::TypedSession)
        /// that sends `Out` and receives `In` (plain serde types or `#[derive(Message)]`
        /// protocols, the same type or two), with nothing to annotate per call. It is a
        /// `Stream` of `Result<In>` and a `Sink` of `Out`, and splits into a cloneable
        /// [`TypedSender`](crate::TypedSender) and a [`TypedReceiver`](crate::TypedReceiver).
        pub fn typed<Out, In>(self) -> $crate::TypedSession<Out, In, Self>
        where
            Out: $crate::ToFrame + Send + 'static,
            In: $crate::FromFrame,
        {
            $crate::TypedSession::new(self)
        }
    };
}

/// The methods every handle has, generated once. Expands inside an
/// `impl<C: ContentConverter> Handle<C>` whose type implements [`SessionHandle`].
macro_rules! handle_methods {
    () => {
        /// How the session ended: the reason we sent when we closed and the peer answered,
        /// the peer's code and reason when it closed (1005 if its close frame had none), 1006
        /// when the connection was lost without a close frame — including after our own
        /// close that the peer never answered (reason `close not acknowledged by the peer
        /// (sent CODE "REASON")`) — 1011 "ping timeout", 1009 too big, 1002/1007 protocol
        /// errors. A reconnecting session: the final reason, once it is over for good. Waits
        /// until the session has ended.
        pub async fn close_reason(&self) -> $crate::CloseReason {
            $crate::SessionHandle::wait_closed(self).await
        }

        /// The close reason if the session has ended, without waiting.
        pub fn try_close_reason(&self) -> Option<$crate::CloseReason> {
            $crate::SessionHandle::try_closed(self)
        }

        /// `true` once the session has started closing or has closed (a reconnecting
        /// session: for good).
        pub fn is_closed(&self) -> bool {
            $crate::SessionHandle::closing(self)
        }

        /// The session's converter (a reconnecting session's: the current connection's).
        pub fn converter(&self) -> std::sync::Arc<C> {
            $crate::SessionHandle::current_converter(self)
        }
    };
}

/// `Stream` + `FusedStream` of received frames, for a [`ReceiveFrames`] handle.
macro_rules! impl_frame_stream {
    ($handle:ident) => {
        impl<C: typed_ws_converters::ContentConverter> futures_core::Stream for $handle<C> {
            type Item = $crate::Result<$crate::Frame>;

            fn poll_next(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                $crate::typed::ReceiveFrames::poll_frame(&mut *self, cx)
            }
        }

        impl<C: typed_ws_converters::ContentConverter> futures_core::stream::FusedStream
            for $handle<C>
        {
            fn is_terminated(&self) -> bool {
                $crate::typed::ReceiveFrames::frames_done(self)
            }
        }
    };
}

/// `Sink<Frame>` for a [`SendFrames`] handle; `$slot` is the path to its [`SinkSlot`].
macro_rules! impl_frame_sink {
    ($handle:ident, $($slot:ident).+) => {
        impl<C: typed_ws_converters::ContentConverter> futures_util::Sink<$crate::Frame>
            for $handle<C>
        {
            type Error = $crate::Error;

            fn poll_ready(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                self.$($slot).+.poll_idle(cx)
            }

            fn start_send(
                mut self: std::pin::Pin<&mut Self>,
                frame: $crate::Frame,
            ) -> $crate::Result<()> {
                let sender = $crate::typed::SendFrames::sending_handle(&*self);
                self.$($slot).+.start(sender, Ok(frame));
                Ok(())
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                self.$($slot).+.poll_idle(cx)
            }

            fn poll_close(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$crate::Result<()>> {
                let sender = $crate::typed::SendFrames::sending_handle(&*self);
                self.$($slot).+.poll_close(sender, cx)
            }
        }
    };
}

/// `SessionHandle` + `SendFrames` for a handle that sends through its `sender` field (a
/// [`Session`](crate::Session) through its `Sender`, a reconnecting session through its
/// `ReconnectingSender`).
macro_rules! delegate_sending {
    ($handle:ident, $sender:ident) => {
        impl<C> $crate::typed::sealed::Sealed for $handle<C> {}

        impl<C: typed_ws_converters::ContentConverter> $crate::SessionHandle for $handle<C> {
            type Converter = C;

            fn current_converter(&self) -> std::sync::Arc<C> {
                self.sender.current_converter()
            }

            fn with_converter<R>(&self, f: impl FnOnce(&C) -> R) -> R {
                self.sender.with_converter(f)
            }

            fn wait_closed(&self) -> impl std::future::Future<Output = $crate::CloseReason> + Send {
                self.sender.wait_closed()
            }

            fn try_closed(&self) -> Option<$crate::CloseReason> {
                self.sender.try_closed()
            }

            fn closing(&self) -> bool {
                self.sender.closing()
            }
        }

        impl<C: typed_ws_converters::ContentConverter> $crate::SendFrames for $handle<C> {
            type Sender = $sender<C>;

            fn send_frame(
                &self,
                frame: $crate::Frame,
            ) -> impl std::future::Future<Output = $crate::Result<()>> + Send {
                self.sender.send_frame(frame)
            }

            fn flush_frames(&self) -> impl std::future::Future<Output = $crate::Result<()>> + Send {
                self.sender.flush_frames()
            }

            fn close_with(
                &self,
                reason: $crate::CloseReason,
            ) -> impl std::future::Future<Output = $crate::Result<()>> + Send {
                self.sender.close_with(reason)
            }

            fn sending_handle(&self) -> $sender<C> {
                self.sender.clone()
            }
        }
    };
}

pub(crate) use {
    delegate_sending, handle_methods, impl_frame_sink, impl_frame_stream, receive_methods,
    send_methods, split_methods,
};

type SendFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// The one send in flight of a handle used as a [`Sink`]: `start_send` queues the frame in a
/// future that owns a clone of the sending handle; `poll_ready`/`poll_flush` drive it.
/// (`Mutex` only to make the handle `Sync`: it is always reached through `&mut`.)
#[derive(Default)]
pub(crate) struct SinkSlot {
    in_flight: Mutex<Option<SendFuture>>,
    closing: Mutex<Option<SendFuture>>,
}

impl SinkSlot {
    fn slot(cell: &mut Mutex<Option<SendFuture>>) -> &mut Option<SendFuture> {
        cell.get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ready once no send is in flight; the result is the finished send's.
    pub(crate) fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let slot = Self::slot(&mut self.in_flight);
        let Some(sending) = slot else {
            return Poll::Ready(Ok(()));
        };
        let result = std::task::ready!(sending.as_mut().poll(cx));
        *slot = None;
        Poll::Ready(result)
    }

    /// Starts sending `frame` (or failing with its encode error) through `sender`.
    pub(crate) fn start<S: SendFrames>(&mut self, sender: S, frame: Result<Frame>) {
        *Self::slot(&mut self.in_flight) =
            Some(Box::pin(async move { sender.send_frame(frame?).await }));
    }

    /// Finishes the send in flight, then closes the session with 1000.
    pub(crate) fn poll_close<S: SendFrames>(
        &mut self,
        sender: S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<()>> {
        std::task::ready!(self.poll_idle(cx))?;
        let closing = Self::slot(&mut self.closing).get_or_insert_with(|| {
            Box::pin(async move { sender.close_with(CloseReason::normal("")).await })
        });
        let result = std::task::ready!(closing.as_mut().poll(cx));
        *Self::slot(&mut self.closing) = None;
        Poll::Ready(result)
    }
}

/// A [`Stream`] of typed values decoded from a handle's frames; see `messages` and
/// `message_stream` on [`Session`](crate::Session), [`Receiver`](crate::Receiver) and
/// [`ReconnectingSession`](crate::ReconnectingSession).
pub struct Messages<'a, R, T> {
    receiver: &'a mut R,
    decode: fn(&R, Frame) -> Result<T>,
}

impl<'a, R, T> Messages<'a, R, T> {
    #[doc(hidden)]
    pub fn new(receiver: &'a mut R, decode: fn(&R, Frame) -> Result<T>) -> Self {
        Messages { receiver, decode }
    }
}

impl<R, T> fmt::Debug for Messages<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl<R: ReceiveFrames, T> Stream for Messages<'_, R, T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match std::task::ready!(this.receiver.poll_frame(cx)) {
            None => Poll::Ready(None),
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            Some(Ok(frame)) => Poll::Ready(Some((this.decode)(this.receiver, frame))),
        }
    }
}

impl<R: ReceiveFrames, T> FusedStream for Messages<'_, R, T> {
    fn is_terminated(&self) -> bool {
        self.receiver.frames_done()
    }
}

/// A session fixed to the messages it speaks: it sends `Out` and receives `In`, with nothing
/// to annotate per call.
///
/// `Out` and `In` are plain serde types or `#[derive(Message)]` protocols (anything
/// [`ToFrame`] / [`FromFrame`]); [`send`](Self::send) takes anything that converts into `Out`,
/// so a protocol's variant payloads go in as they are. Made from any session with `typed`:
/// [`Session::typed`](crate::Session::typed) (client and server alike) and
/// [`ReconnectingSession::typed`](crate::ReconnectingSession::typed). It is a [`Stream`] of
/// `Result<In>` and a [`Sink`] of `Out`, and splits into a cloneable [`TypedSender`] and a
/// [`TypedReceiver`].
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use typed_ws::{Client, Message, TypedSession};
///
/// #[derive(Serialize, Deserialize)]
/// struct Say { text: String }
///
/// #[derive(Message)]
/// enum Chat { Say(Say), Ping }
///
/// # async fn demo() -> typed_ws::Result<()> {
/// let session = Client::new().web_socket_session("ws://127.0.0.1:8080/chat").await?;
/// let mut chat: TypedSession<Chat> = session.typed();
/// chat.send(Say { text: "hi".into() }).await?;   // Say -> Chat::Say, no turbofish
/// chat.send(Chat::Ping).await?;
/// match chat.receive().await? {
///     Chat::Say(say) => println!("{}", say.text),
///     Chat::Ping => {}
/// }
/// # Ok(()) }
/// ```
pub struct TypedSession<Out, In = Out, S: SendFrames = crate::Session> {
    session: S,
    /// Sends and is the `Sink` (a clone of the session's sending handle).
    sender: TypedSender<Out, S::Sender>,
    _types: PhantomData<fn() -> In>,
}

impl<Out, In, S: SendFrames> fmt::Debug for TypedSession<Out, In, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedSession")
            .field("out", &std::any::type_name::<Out>())
            .field("in", &std::any::type_name::<In>())
            .finish_non_exhaustive()
    }
}

impl<Out, In, S> TypedSession<Out, In, S>
where
    Out: ToFrame + Send + 'static,
    In: FromFrame,
    S: SplitFrames,
{
    /// Fixes `session` to `Out` and `In`.
    pub fn new(session: S) -> Self {
        TypedSession {
            sender: TypedSender::new(session.sending_handle()),
            session,
            _types: PhantomData,
        }
    }

    /// Encodes `message` (anything that converts into `Out`) and sends it; backpressure and
    /// errors as the session's `send`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Encode`](crate::ErrorKind::Encode) when it cannot be encoded (nothing is
    /// sent); [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the session is closed.
    pub async fn send(&self, message: impl Into<Out>) -> Result<()> {
        self.sender.send(message).await
    }

    /// Receives the next message as `In`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when a frame is not an `In` (the
    /// frame is kept in the error; the next call reads the next frame);
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the session has ended; the error
    /// that ended it, if it ended abnormally.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn receive(&mut self) -> Result<In> {
        let frame = next_frame(&mut self.session).await?;
        decode(&self.session, frame, In::from_frame)
    }

    /// A cloneable sender of `Out` on this session.
    pub fn sender(&self) -> TypedSender<Out, S::Sender> {
        self.sender.clone()
    }

    /// Splits into a cloneable [`TypedSender`] and a [`TypedReceiver`]; the session closes
    /// (1000) when both halves and every clone of the sender are dropped.
    pub fn split(self) -> (TypedSender<Out, S::Sender>, TypedReceiver<In, S::Receiver>) {
        let (sender, receiver) = self.session.split_frames();
        (TypedSender::new(sender), TypedReceiver::new(receiver))
    }

    /// Closes the session; see the session's `close`.
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        self.session.close_with(reason).await
    }

    /// How the session ended; waits until it has.
    pub async fn close_reason(&self) -> CloseReason {
        self.session.wait_closed().await
    }

    /// The session underneath, for everything else (handshake, frames, flush).
    pub fn get_ref(&self) -> &S {
        &self.session
    }

    /// The session underneath, mutably (e.g. to receive a frame that is not an `In`).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// The session back.
    pub fn into_inner(self) -> S {
        self.session
    }
}

impl<Out, In, S> Stream for TypedSession<Out, In, S>
where
    In: FromFrame,
    S: SplitFrames,
{
    type Item = Result<In>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_typed(&mut self.session, cx)
    }
}

impl<Out, In, S> FusedStream for TypedSession<Out, In, S>
where
    In: FromFrame,
    S: SplitFrames,
{
    fn is_terminated(&self) -> bool {
        self.session.frames_done()
    }
}

impl<Out, In, S> Sink<Out> for TypedSession<Out, In, S>
where
    Out: ToFrame + Send + 'static,
    S: SplitFrames,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.sender).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Out) -> Result<()> {
        Pin::new(&mut self.sender).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.sender).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.sender).poll_close(cx)
    }
}

fn poll_typed<R: ReceiveFrames, In: FromFrame>(
    receiver: &mut R,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<In>>> {
    match std::task::ready!(receiver.poll_frame(cx)) {
        None => Poll::Ready(None),
        Some(Err(e)) => Poll::Ready(Some(Err(e))),
        Some(Ok(frame)) => Poll::Ready(Some(decode(receiver, frame, In::from_frame))),
    }
}

/// The sending half of a [`TypedSession`], fixed to `Out`: cheap to [`Clone`], a [`Sink`] of
/// `Out`. Made by [`TypedSession::split`], [`TypedSession::sender`], or `typed_sender` on any
/// sending handle.
pub struct TypedSender<Out, S = crate::Sender> {
    sender: S,
    sink: SinkSlot,
    _types: PhantomData<fn(Out)>,
}

impl<Out, S: Clone> Clone for TypedSender<Out, S> {
    fn clone(&self) -> Self {
        TypedSender {
            sender: self.sender.clone(),
            sink: SinkSlot::default(),
            _types: PhantomData,
        }
    }
}

impl<Out, S> fmt::Debug for TypedSender<Out, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedSender")
            .field("out", &std::any::type_name::<Out>())
            .finish_non_exhaustive()
    }
}

impl<Out, S> TypedSender<Out, S>
where
    Out: ToFrame + Send + 'static,
    S: SendFrames,
{
    /// Fixes `sender` to `Out`.
    pub fn new(sender: S) -> Self {
        TypedSender {
            sender,
            sink: SinkSlot::default(),
            _types: PhantomData,
        }
    }

    /// Encodes `message` (anything that converts into `Out`) and sends it.
    ///
    /// # Errors
    ///
    /// As [`TypedSession::send`].
    pub async fn send(&self, message: impl Into<Out>) -> Result<()> {
        let frame = encode(&self.sender, &message.into())?;
        self.sender.send_frame(frame).await
    }

    /// Closes the session; see the session's `close`.
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        self.sender.close_with(reason).await
    }

    /// How the session ended; waits until it has.
    pub async fn close_reason(&self) -> CloseReason {
        self.sender.wait_closed().await
    }

    /// The sending handle underneath.
    pub fn get_ref(&self) -> &S {
        &self.sender
    }

    /// The sending handle back.
    pub fn into_inner(self) -> S {
        self.sender
    }
}

impl<Out, S> Sink<Out> for TypedSender<Out, S>
where
    Out: ToFrame + Send + 'static,
    S: SendFrames,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.sink.poll_idle(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Out) -> Result<()> {
        let frame = encode(&self.sender, &item);
        let sender = self.sender.sending_handle();
        self.sink.start(sender, frame);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.sink.poll_idle(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let sender = self.sender.sending_handle();
        self.sink.poll_close(sender, cx)
    }
}

/// The receiving half of a [`TypedSession`], fixed to `In`: a [`Stream`] of `Result<In>`.
/// Made by [`TypedSession::split`] or `typed_receiver` on a receiving handle.
pub struct TypedReceiver<In, R = crate::Receiver> {
    receiver: R,
    _types: PhantomData<fn() -> In>,
}

impl<In, R> fmt::Debug for TypedReceiver<In, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedReceiver")
            .field("in", &std::any::type_name::<In>())
            .finish_non_exhaustive()
    }
}

impl<In: FromFrame, R: ReceiveFrames> TypedReceiver<In, R> {
    /// Fixes `receiver` to `In`.
    pub fn new(receiver: R) -> Self {
        TypedReceiver {
            receiver,
            _types: PhantomData,
        }
    }

    /// Receives the next message as `In`.
    ///
    /// # Errors
    ///
    /// As [`TypedSession::receive`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn receive(&mut self) -> Result<In> {
        let frame = next_frame(&mut self.receiver).await?;
        decode(&self.receiver, frame, In::from_frame)
    }

    /// How the session ended; waits until it has.
    pub async fn close_reason(&self) -> CloseReason {
        self.receiver.wait_closed().await
    }

    /// The receiving handle underneath.
    pub fn get_ref(&self) -> &R {
        &self.receiver
    }

    /// The receiving handle underneath, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.receiver
    }

    /// The receiving handle back.
    pub fn into_inner(self) -> R {
        self.receiver
    }
}

impl<In: FromFrame, R: ReceiveFrames> Stream for TypedReceiver<In, R> {
    type Item = Result<In>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_typed(&mut self.receiver, cx)
    }
}

impl<In: FromFrame, R: ReceiveFrames> FusedStream for TypedReceiver<In, R> {
    fn is_terminated(&self) -> bool {
        self.receiver.frames_done()
    }
}
