//! What the application holds: [`Session`], and its halves [`Sender`] and [`Receiver`].

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::task::AtomicWaker;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use typed_ws_converters::{ContentConverter, Message};

use crate::driver::Command;
use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};
use crate::settings::Settings;

/// State shared by the driver and every handle of one session.
pub(crate) struct Shared {
    /// Set once the session stops accepting frames (close started, failed or ended).
    pub(crate) closing: AtomicBool,
    /// How the session ended; `None` while it is live.
    pub(crate) outcome: watch::Sender<Option<CloseReason>>,
    pub(crate) handshake: Handshake,
    /// Fired when the application takes the error that ended the session (see the driver's
    /// deferred failure).
    terminal: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    /// Frames `send` accepted that never reached the socket because the session ended first
    /// (filled by the driver as it ends; a reconnecting session replays them).
    pub(crate) unsent: std::sync::Mutex<Vec<Frame>>,
    /// The outgoing byte budget: `send` takes a frame's cost before queueing it, the driver
    /// gives it back once the frame is in the write buffer, and closes it when the session ends.
    pub(crate) outgoing: Semaphore,
    /// Bytes received and queued for the application (held back ones included), not yet
    /// taken: the driver stops reading at `Settings::incoming_budget`.
    pub(crate) incoming_bytes: AtomicUsize,
    /// The driver, waiting for the application to take received bytes.
    pub(crate) driver_waker: AtomicWaker,
    pub(crate) settings: Arc<Settings>,
}

/// What a received item counts against the incoming budget: its payload plus a fixed overhead,
/// so a flood of empty frames is bounded too.
pub(crate) fn incoming_cost(item: &Result<Frame>) -> usize {
    const OVERHEAD: usize = 64;
    match item {
        Ok(frame) => frame.len() + OVERHEAD,
        Err(_) => OVERHEAD,
    }
}

impl Shared {
    pub(crate) fn new(handshake: Handshake, settings: Arc<Settings>) -> Arc<Self> {
        Arc::new(Shared {
            closing: AtomicBool::new(false),
            outcome: watch::Sender::new(None),
            handshake,
            terminal: std::sync::Mutex::new(None),
            unsent: std::sync::Mutex::new(Vec::new()),
            outgoing: Semaphore::new(settings.outgoing_budget),
            incoming_bytes: AtomicUsize::new(0),
            driver_waker: AtomicWaker::new(),
            settings,
        })
    }

    pub(crate) fn set_terminal_watch(&self, seen: oneshot::Sender<()>) {
        if let Ok(mut slot) = self.terminal.lock() {
            *slot = Some(seen);
        }
    }

    /// Passes an item on to the application, giving its bytes back to the incoming budget and
    /// noting when it is the session-ending error.
    fn observe(&self, item: Option<Result<Frame>>) -> Option<Result<Frame>> {
        if let Some(item) = &item {
            let cost = incoming_cost(item);
            let before = self.incoming_bytes.fetch_sub(cost, Ordering::AcqRel);
            if before >= self.settings.incoming_budget {
                // the driver may be holding back reads for this: room again
                self.driver_waker.wake();
            }
        }
        if let Some(Err(error)) = &item
            && error.close_reason().is_some()
            && let Some(seen) = self.terminal.lock().ok().and_then(|mut slot| slot.take())
        {
            let _ = seen.send(());
        }
        item
    }

    /// The error for a session that is closing or closed, with its close reason: waits (bounded
    /// by the close timeout) for the outcome, so an error saying "closed" always comes with the
    /// reason `try_close_reason` reports from then on.
    async fn closed_error(&self) -> Error {
        let bound = self.settings.close_timeout + Duration::from_secs(2);
        match tokio::time::timeout(bound, self.wait_outcome()).await {
            Ok(reason) => Error::closed(Some(reason)),
            Err(_) => Error::closed(self.outcome.borrow().clone()),
        }
    }

    async fn wait_outcome(&self) -> CloseReason {
        let mut rx = self.outcome.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                // the driver is gone without a word: only possible if its task was aborted
                return CloseReason::new(crate::CloseCode::ABNORMAL, "session driver stopped");
            }
        }
    }
}

/// The outcome of the upgrade handshake: status, headers and the selected subprotocol.
///
/// Its `Debug` output redacts credentials: query values and the values of `authorization`,
/// `proxy-authorization`, `cookie` and `set-cookie`.
#[derive(Clone, PartialEq, Eq)]
pub struct Handshake {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocol: Option<String>,
    pub(crate) path: String,
    pub(crate) data: crate::server::ConnectionData,
    pub(crate) compression: Option<crate::NegotiatedCompression>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = matches!(
                    name.to_ascii_lowercase().as_str(),
                    "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
                );
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("Handshake")
            .field("status", &self.status)
            .field("subprotocol", &self.subprotocol)
            .field("path", &crate::request::redact_path(&self.path))
            .field("compression", &self.compression)
            .field("headers", &headers)
            .finish()
    }
}

impl Handshake {
    /// The HTTP status of the upgrade response (101).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers of the other side's handshake message (on the client: the response; on the
    /// server: the request), names lowercased. On the server, `authorization` and `cookie`
    /// values are kept, so do not log them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The subprotocol both sides agreed on (`Sec-WebSocket-Protocol`), if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The request path with its query (on the client: the path requested).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// On the server: the per-connection data the pre-upgrade hook attached with
    /// [`Accepted::data`](crate::server::Accepted::data), if it is a `T`. On the client: `None`.
    pub fn data<T: std::any::Any>(&self) -> Option<&T> {
        self.data.get()
    }

    /// The permessage-deflate parameters both sides agreed on, or `None` when the session is
    /// not compressed (disabled here, or not offered or not accepted by the peer).
    pub fn compression(&self) -> Option<&crate::NegotiatedCompression> {
        self.compression.as_ref()
    }
}

/// A live WebSocket session that sends and receives typed values through the converter `C`.
///
/// One driver task owns the socket; the session talks to it over bounded queues, so pings are
/// answered, the pinger runs and close frames are handled whether or not you are reading.
/// A session is a [`Stream`] of data frames. [`split`](Session::split) it to send from many
/// tasks while one task receives.
///
/// Dropping a session sends a close frame with 1000 (best effort).
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> typed_ws::Result<()> {
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Say { text: String }
///
/// let client = typed_ws::Client::new();
/// let mut session = client.web_socket_session("ws://127.0.0.1:8080/chat").await?;
/// session.send_serialized(&Say { text: "hi".into() }).await?;
/// let reply: Say = session.receive_deserialized().await?;
/// session.close(typed_ws::CloseReason::normal("bye")).await?;
/// # Ok(()) }
/// ```
pub struct Session<C = crate::Json> {
    sender: Sender<C>,
    receiver: Receiver<C>,
}

impl<C> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("subprotocol", &self.sender.shared.handshake.subprotocol)
            .field(
                "closing",
                &self.sender.shared.closing.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> Session<C> {
    pub(crate) fn new(
        converter: Arc<C>,
        shared: Arc<Shared>,
        commands: mpsc::Sender<Command>,
        control: mpsc::Sender<CloseReason>,
        incoming: mpsc::Receiver<Result<Frame>>,
        receiver_guard: oneshot::Sender<()>,
    ) -> Self {
        Session {
            sender: Sender {
                commands,
                control,
                converter: Arc::clone(&converter),
                shared: Arc::clone(&shared),
            },
            receiver: Receiver {
                incoming,
                converter,
                shared,
                _guard: receiver_guard,
            },
        }
    }

    /// Queues a frame for sending. Returns once the session has room for it (backpressure):
    /// it waits while the outgoing budget (`outgoing_budget` bytes accepted and not yet
    /// written) or the outgoing queue (`channel_capacity` frames) is full. Frames are written in
    /// order and flushed as soon as the queue runs empty.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the session is closing or closed;
    /// the error carries the close reason (it waits, bounded by the close timeout, for a close
    /// under way to end).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes, the frame was not queued.
    pub async fn send(&self, frame: Frame) -> Result<()> {
        self.sender.send(frame).await
    }

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Session::send).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.sender.send_text(text).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Session::send).
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.sender.send_binary(bytes).await
    }

    /// Serializes `value` with the session's converter and sends it (JSON: Text frame,
    /// MessagePack: Binary frame).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Encode`](crate::ErrorKind::Encode) when the converter cannot encode the
    /// value (nothing is sent), else as [`send`](Session::send).
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.sender.send_serialized(value).await
    }

    /// Sends one message of a [`Message`] protocol (usually a `#[derive(Message)]` enum);
    /// anything convertible into the enum, such as a variant's payload, is accepted.
    ///
    /// # Errors
    ///
    /// As [`send_serialized`](Session::send_serialized).
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        self.sender.send_message(message).await
    }

    /// Waits until every frame queued so far is written to the socket and flushed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the session ended first.
    pub async fn flush(&self) -> Result<()> {
        self.sender.flush().await
    }

    /// Receives the next data frame (Text or Binary, reassembled from fragments). `None` once
    /// the session has closed and every received frame has been returned; an `Err` says why a
    /// session ended abnormally (ping timeout, too big, protocol error, connection lost).
    ///
    /// On a raw session, Ping, Pong and Close frames are returned too.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no frame is lost.
    pub async fn receive(&mut self) -> Option<Result<Frame>> {
        self.receiver.receive().await
    }

    /// Receives the next data frame and deserializes it with the session's converter.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the frame does not decode into `T`
    /// (the frame is in [`Error::frame`]; the session stays open and the next call reads the
    /// next frame); [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the session has ended;
    /// the error that ended it, if it ended abnormally.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`receive`](Session::receive).
    pub async fn receive_deserialized<T: DeserializeOwned>(&mut self) -> Result<T> {
        self.receiver.receive_deserialized().await
    }

    /// Receives the next message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// As [`receive_deserialized`](Session::receive_deserialized); an unknown tag is a
    /// `Decode` error naming it, unless the enum has an `other` variant.
    pub async fn receive_message<M: Message>(&mut self) -> Result<M> {
        self.receiver.receive_message().await
    }

    /// The incoming data frames as a [`Stream`] (the session is itself a stream; this borrows).
    pub fn incoming(&mut self) -> &mut Receiver<C> {
        &mut self.receiver
    }

    /// The incoming frames deserialized into `T`, as a [`Stream`]. A frame that fails to
    /// decode is an `Err` item and the stream goes on.
    pub fn messages<T: DeserializeOwned>(&mut self) -> Messages<'_, C, T> {
        self.receiver.messages()
    }

    /// The incoming frames decoded as messages of protocol `M` (a `#[derive(Message)]` enum),
    /// as a [`Stream`]. A frame that fails to decode is an `Err` item and the stream goes on.
    pub fn message_stream<M: Message>(&mut self) -> Messages<'_, C, M> {
        self.receiver.message_stream()
    }

    /// Starts the close handshake with `reason` and waits (bounded by `close_timeout`) for
    /// the peer's close frame. Closing a closed session does nothing.
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
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        self.sender.close(reason).await
    }

    /// How the session ended: the reason we sent when we closed and the peer answered, the
    /// peer's code and reason when it closed (1005 if its close frame had none), 1006 when the
    /// connection was lost without a close frame — including after our own close that the
    /// peer never answered (reason `close not acknowledged by the peer (sent CODE "REASON")`)
    /// — 1011 "ping timeout", 1009 too big, 1002/1007 protocol errors (these failures keep
    /// their code whether or not the peer answers). Waits until the session has ended.
    pub async fn close_reason(&self) -> CloseReason {
        self.sender.shared.wait_outcome().await
    }

    /// The close reason if the session has ended, without waiting.
    pub fn try_close_reason(&self) -> Option<CloseReason> {
        self.sender.shared.outcome.borrow().clone()
    }

    /// `true` once the session has started closing or has closed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// How many received items (frames, and the error that ended the session) wait to be
    /// taken: the incoming queue's depth, at most `channel_capacity`.
    pub fn queued(&self) -> usize {
        self.receiver.queued()
    }

    /// The outcome of the upgrade handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.sender.shared.handshake
    }

    /// The session's converter.
    pub fn converter(&self) -> &C {
        &self.sender.converter
    }

    /// Splits the session into a cloneable [`Sender`] and a [`Receiver`]. The session closes
    /// (1000) when both halves and every clone of the sender are dropped.
    pub fn split(self) -> (Sender<C>, Receiver<C>) {
        (self.sender, self.receiver)
    }

    /// A new handle for sending on this session from another task.
    pub fn sender(&self) -> Sender<C> {
        self.sender.clone()
    }
}

impl<C: ContentConverter> Stream for Session<C> {
    type Item = Result<Frame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.receiver).poll_next(cx)
    }
}

/// The sending half of a session: cheap to [`Clone`] (an `Arc` inside), so many tasks can send
/// on one session without wrapping it in a mutex. Frames from one sender keep their order.
pub struct Sender<C = crate::Json> {
    commands: mpsc::Sender<Command>,
    /// Close requests travel apart from the data, so a close never waits behind it.
    control: mpsc::Sender<CloseReason>,
    converter: Arc<C>,
    shared: Arc<Shared>,
}

impl<C> Clone for Sender<C> {
    fn clone(&self) -> Self {
        Sender {
            commands: self.commands.clone(),
            control: self.control.clone(),
            converter: Arc::clone(&self.converter),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> fmt::Debug for Sender<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closing", &self.shared.closing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> Sender<C> {
    async fn command(&self, command: Command) -> Result<()> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.shared.closed_error().await);
        }
        match self.commands.send(command).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.shared.closed_error().await),
        }
    }

    /// Takes a frame's cost from the outgoing budget, waiting while it is spent. The permit
    /// goes back by itself if the frame is not queued after all.
    async fn budget(&self, frame: &Frame) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let cost = self.shared.settings.outgoing_cost(frame.len());
        self.shared.outgoing.acquire_many(cost).await.ok()
    }

    /// Like [`send`](Sender::send) for a data frame, but hands the frame back when the session
    /// is closed, so a reconnecting session can keep it for the next connection.
    pub(crate) async fn send_or_return(&self, frame: Frame) -> std::result::Result<(), Frame> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(frame);
        }
        let Some(permit) = self.budget(&frame).await else {
            return Err(frame);
        };
        match self.commands.send(Command::Send(frame)).await {
            Ok(()) => {
                // the driver gives the bytes back once the frame is written
                permit.forget();
                Ok(())
            }
            Err(mpsc::error::SendError(Command::Send(frame))) => Err(frame),
            Err(mpsc::error::SendError(_)) => Ok(()),
        }
    }

    /// Takes the frames this session accepted but never wrote (valid once it has ended).
    pub(crate) fn take_unsent(&self) -> Vec<Frame> {
        self.shared
            .unsent
            .lock()
            .map(|mut unsent| std::mem::take(&mut *unsent))
            .unwrap_or_default()
    }

    /// The converter, shared.
    pub(crate) fn converter_arc(&self) -> Arc<C> {
        Arc::clone(&self.converter)
    }

    /// Queues a frame for sending; see [`Session::send`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) once the session is closing or closed.
    pub async fn send(&self, frame: Frame) -> Result<()> {
        if let Frame::Close(reason) = frame {
            return self
                .close(reason.unwrap_or_else(|| CloseReason::normal("")))
                .await;
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(self.shared.closed_error().await);
        }
        let Some(permit) = self.budget(&frame).await else {
            return Err(self.shared.closed_error().await);
        };
        self.command(Command::Send(frame)).await?;
        // the driver gives the bytes back once the frame is written
        permit.forget();
        Ok(())
    }

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.send(Frame::Text(text.into())).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send).
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.send(Frame::Binary(bytes.into())).await
    }

    /// Serializes and sends `value`; see [`Session::send_serialized`].
    ///
    /// # Errors
    ///
    /// As [`Session::send_serialized`].
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let frame = self.converter.serialize(value).map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Sends one message of a [`Message`] protocol; see [`Session::send_message`].
    ///
    /// # Errors
    ///
    /// As [`Session::send_serialized`].
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        let frame = message
            .into()
            .encode(&*self.converter)
            .map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Waits until every frame queued so far is written and flushed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed) when the session ended first.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.command(Command::Flush(tx)).await?;
        match rx.await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.shared.closed_error().await),
        }
    }

    /// Closes the session; see [`Session::close`].
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        // frames sent from now on are refused; frames already queued go out before the close
        self.shared.closing.store(true, Ordering::Release);
        // a full control queue means a close is already requested; a closed one, that the
        // session has ended: either way there is nothing more to ask
        let _ = self.control.try_send(reason);
        self.shared.wait_outcome().await;
        Ok(())
    }

    /// `true` once the session has started closing or has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire) || self.commands.is_closed()
    }

    /// How the session ended; waits until it has. See [`Session::close_reason`].
    pub async fn close_reason(&self) -> CloseReason {
        self.shared.wait_outcome().await
    }

    /// The session's converter.
    pub fn converter(&self) -> &C {
        &self.converter
    }
}

/// The receiving half of a session: a [`Stream`] of data frames plus typed receive methods.
pub struct Receiver<C = crate::Json> {
    incoming: mpsc::Receiver<Result<Frame>>,
    converter: Arc<C>,
    shared: Arc<Shared>,
    /// Dropped with the receiver: tells the driver nobody reads any more.
    _guard: oneshot::Sender<()>,
}

impl<C> fmt::Debug for Receiver<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &self.incoming.len())
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> Receiver<C> {
    /// Receives the next data frame; see [`Session::receive`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn receive(&mut self) -> Option<Result<Frame>> {
        let item = self.incoming.recv().await;
        self.shared.observe(item)
    }

    /// Receives and deserializes the next data frame; see [`Session::receive_deserialized`].
    ///
    /// # Errors
    ///
    /// As [`Session::receive_deserialized`].
    pub async fn receive_deserialized<T: DeserializeOwned>(&mut self) -> Result<T> {
        let frame = self.next_frame().await?;
        self.converter
            .deserialize(&frame)
            .map_err(|e| Error::decode(e, frame))
    }

    /// Receives the next message of a [`Message`] protocol; see [`Session::receive_message`].
    ///
    /// # Errors
    ///
    /// As [`Session::receive_message`].
    pub async fn receive_message<M: Message>(&mut self) -> Result<M> {
        let frame = self.next_frame().await?;
        M::decode(&*self.converter, &frame).map_err(|e| Error::decode(e, frame))
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        match self.receive().await {
            Some(item) => item,
            None => Err(self.shared.closed_error().await),
        }
    }

    /// The incoming frames deserialized into `T`; see [`Session::messages`].
    pub fn messages<T: DeserializeOwned>(&mut self) -> Messages<'_, C, T> {
        Messages {
            receiver: self,
            decode: |converter, frame| converter.deserialize(frame),
        }
    }

    /// The incoming frames decoded as messages of protocol `M`; see
    /// [`Session::message_stream`].
    pub fn message_stream<M: Message>(&mut self) -> Messages<'_, C, M> {
        Messages {
            receiver: self,
            decode: |converter, frame| M::decode(converter, frame),
        }
    }

    /// How the session ended; waits until it has.
    pub async fn close_reason(&self) -> CloseReason {
        self.shared.wait_outcome().await
    }

    /// How many received items wait to be taken; see [`Session::queued`].
    pub fn queued(&self) -> usize {
        self.incoming.len()
    }

    /// The session's converter.
    pub fn converter(&self) -> &C {
        &self.converter
    }
}

impl<C: ContentConverter> Stream for Receiver<C> {
    type Item = Result<Frame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.incoming.poll_recv(cx));
        Poll::Ready(self.shared.observe(item))
    }
}

/// A [`Stream`] of typed values decoded from a session's frames; see [`Session::messages`]
/// and [`Session::message_stream`].
pub struct Messages<'a, C, T> {
    receiver: &'a mut Receiver<C>,
    decode: fn(&C, &Frame) -> std::result::Result<T, typed_ws_converters::ConvertError>,
}

impl<C, T> fmt::Debug for Messages<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl<C: ContentConverter, T> Stream for Messages<'_, C, T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let decode = self.decode;
        let receiver = &mut *self.receiver;
        let item = std::task::ready!(receiver.incoming.poll_recv(cx));
        match receiver.shared.observe(item) {
            None => Poll::Ready(None),
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            Some(Ok(frame)) => Poll::Ready(Some(
                decode(&receiver.converter, &frame).map_err(|e| Error::decode(e, frame)),
            )),
        }
    }
}
