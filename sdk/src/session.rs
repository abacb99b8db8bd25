//! What the application holds: [`Session`], and its halves [`Sender`] and [`Receiver`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use typed_ws_converters::ContentConverter;

use crate::driver::Command;
use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};
use crate::settings::Settings;
use crate::typed::{self, ReceiveFrames, SendFrames, SessionHandle, SinkSlot, SplitFrames};

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
    /// The driver's task: woken when the application takes received bytes or asks for
    /// something through `requests`.
    pub(crate) driver_waker: AtomicWaker,
    /// What the application asked of the driver outside the queues ([`TERMINATE`],
    /// [`LIVENESS`] bits), taken by the driver on its next pass.
    pub(crate) requests: AtomicU8,
    /// The ping interval and pong timeout asked for with the [`LIVENESS`] bit.
    pub(crate) liveness: std::sync::Mutex<Option<Liveness>>,
    pub(crate) settings: Arc<Settings>,
}

/// A request bit: end the session at once, without a close handshake.
pub(crate) const TERMINATE: u8 = 1;
/// A request bit: new liveness settings wait in `Shared::liveness`.
pub(crate) const LIVENESS: u8 = 2;

/// Liveness settings changed on a live session.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Liveness {
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
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
            requests: AtomicU8::new(0),
            liveness: std::sync::Mutex::new(None),
            settings,
        })
    }

    /// Asks the driver for `bit` and wakes it.
    fn request(&self, bit: u8) {
        self.requests.fetch_or(bit, Ordering::AcqRel);
        self.driver_waker.wake();
    }

    /// Changes the liveness settings the driver runs with (the last change wins).
    fn change_liveness(&self, change: impl FnOnce(&mut Liveness)) {
        if let Ok(mut slot) = self.liveness.lock() {
            let mut liveness = slot.unwrap_or(Liveness {
                ping_interval: self.settings.ping_interval,
                pong_timeout: self.settings.pong_timeout,
            });
            change(&mut liveness);
            *slot = Some(liveness);
        }
        self.request(LIVENESS);
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

/// Ktor's session controls, on [`Session`] and [`Sender`]: generated once.
macro_rules! live_methods {
    ($($shared:ident).+) => {
        /// Ends the session at once, without a close handshake (Ktor's `terminate`): the
        /// connection is dropped, queued frames are not written, and
        /// [`close_reason`](Self::close_reason) is 1006 "terminated by the application". Use
        /// [`close`](Self::close) to end it properly.
        pub fn terminate(&self) {
            self.$($shared).+.request(TERMINATE);
        }

        /// Changes the ping interval of the live session (Ktor's `pingIntervalMillis`):
        /// `None` stops pinging (and drops the wait for an outstanding pong); a new interval
        /// applies from the next ping. A raw session does not ping whatever this says.
        pub fn set_ping_interval(&self, interval: Option<Duration>) {
            self.$($shared).+.change_liveness(|liveness| liveness.ping_interval = interval);
        }

        /// Changes the pong timeout of the live session (Ktor's `timeoutMillis`); an
        /// outstanding ping's deadline moves to its send time plus `timeout`. The write-stall
        /// deadline (1011 "write timeout") follows it too.
        pub fn set_pong_timeout(&self, timeout: Duration) {
            self.$($shared).+.change_liveness(|liveness| liveness.pong_timeout = timeout);
        }
    };
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
/// A session is a [`Stream`](futures_core::Stream) of data frames and a [`Sink`](futures_util::Sink) of frames.
/// [`split`](Session::split) it to send from many tasks while one task receives, or make it a
/// [`TypedSession`](crate::TypedSession) with [`typed`](Session::typed) to send and receive
/// one protocol's values with nothing to annotate per call.
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
                sink: SinkSlot::default(),
            },
            receiver: Receiver {
                incoming,
                converter,
                shared,
                _guard: receiver_guard,
                done: false,
            },
        }
    }

    typed::send_methods!();
    typed::receive_methods!();
    typed::handle_methods!();
    typed::split_methods!();
    live_methods!(sender.shared);

    /// The incoming data frames as a [`Stream`](futures_core::Stream) (the session is itself a stream; this borrows).
    pub fn incoming(&mut self) -> &mut Receiver<C> {
        &mut self.receiver
    }

    /// The outcome of the upgrade handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.sender.shared.handshake
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

typed::delegate_sending!(Session, Sender);

impl<C: ContentConverter> ReceiveFrames for Session<C> {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        self.receiver.poll_frame(cx)
    }

    fn frames_done(&self) -> bool {
        self.receiver.done
    }

    fn queued_items(&self) -> usize {
        self.receiver.incoming.len()
    }

    fn closed_error(&self) -> impl Future<Output = Error> + Send {
        self.receiver.shared.closed_error()
    }
}

impl<C: ContentConverter> SplitFrames for Session<C> {
    type Receiver = Receiver<C>;

    fn split_frames(self) -> (Sender<C>, Receiver<C>) {
        self.split()
    }
}

typed::impl_frame_stream!(Session);
typed::impl_frame_sink!(Session, sender.sink);

/// `SessionHandle` for a half that holds the converter and the session's `Shared`; `$closing`
/// says when it counts as closed.
macro_rules! shared_handle {
    ($handle:ident, $closing:expr) => {
        impl<C> typed::sealed::Sealed for $handle<C> {}

        impl<C: ContentConverter> SessionHandle for $handle<C> {
            type Converter = C;

            fn current_converter(&self) -> Arc<C> {
                Arc::clone(&self.converter)
            }

            fn with_converter<R>(&self, f: impl FnOnce(&C) -> R) -> R {
                f(&self.converter)
            }

            fn wait_closed(&self) -> impl Future<Output = CloseReason> + Send {
                self.shared.wait_outcome()
            }

            fn try_closed(&self) -> Option<CloseReason> {
                self.shared.outcome.borrow().clone()
            }

            fn closing(&self) -> bool {
                let closing: fn(&Self) -> bool = $closing;
                closing(self)
            }
        }
    };
}

/// The sending half of a session: cheap to [`Clone`] (an `Arc` inside), so many tasks can send
/// on one session without wrapping it in a mutex. Frames from one sender keep their order. A
/// [`Sink`](futures_util::Sink) of frames.
pub struct Sender<C = crate::Json> {
    commands: mpsc::Sender<Command>,
    /// Close requests travel apart from the data, so a close never waits behind it.
    control: mpsc::Sender<CloseReason>,
    converter: Arc<C>,
    shared: Arc<Shared>,
    /// The send in flight when used as a `Sink` (not shared with clones).
    sink: SinkSlot,
}

impl<C> Clone for Sender<C> {
    fn clone(&self) -> Self {
        Sender {
            commands: self.commands.clone(),
            control: self.control.clone(),
            converter: Arc::clone(&self.converter),
            shared: Arc::clone(&self.shared),
            sink: SinkSlot::default(),
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

    typed::send_methods!();
    typed::handle_methods!();
    live_methods!(shared);

    /// The outcome of the upgrade handshake.
    pub fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }
}

shared_handle!(Sender, |sender| sender
    .shared
    .closing
    .load(Ordering::Acquire)
    || sender.commands.is_closed());

impl<C: ContentConverter> SendFrames for Sender<C> {
    type Sender = Sender<C>;

    async fn send_frame(&self, frame: Frame) -> Result<()> {
        if let Frame::Close(reason) = frame {
            return self
                .close_with(reason.unwrap_or_else(|| CloseReason::normal("")))
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

    async fn flush_frames(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.command(Command::Flush(tx)).await?;
        match rx.await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.shared.closed_error().await),
        }
    }

    async fn close_with(&self, reason: CloseReason) -> Result<()> {
        // frames sent from now on are refused; frames already queued go out before the close
        self.shared.closing.store(true, Ordering::Release);
        // a full control queue means a close is already requested; a closed one, that the
        // session has ended: either way there is nothing more to ask
        let _ = self.control.try_send(reason);
        self.shared.wait_outcome().await;
        Ok(())
    }

    fn sending_handle(&self) -> Sender<C> {
        self.clone()
    }
}

typed::impl_frame_sink!(Sender, sink);

/// The receiving half of a session: a [`Stream`](futures_core::Stream) of data frames plus typed receive methods.
pub struct Receiver<C = crate::Json> {
    incoming: mpsc::Receiver<Result<Frame>>,
    converter: Arc<C>,
    shared: Arc<Shared>,
    /// Dropped with the receiver: tells the driver nobody reads any more.
    _guard: oneshot::Sender<()>,
    /// Set once the queue has ended (`FusedStream`).
    done: bool,
}

impl<C> fmt::Debug for Receiver<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &self.incoming.len())
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> Receiver<C> {
    typed::receive_methods!();
    typed::handle_methods!();
}

shared_handle!(Receiver, |receiver| receiver
    .shared
    .closing
    .load(Ordering::Acquire));

impl<C: ContentConverter> ReceiveFrames for Receiver<C> {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        let item = std::task::ready!(self.incoming.poll_recv(cx));
        self.done = item.is_none();
        Poll::Ready(self.shared.observe(item))
    }

    fn frames_done(&self) -> bool {
        self.done
    }

    fn queued_items(&self) -> usize {
        self.incoming.len()
    }

    fn closed_error(&self) -> impl Future<Output = Error> + Send {
        self.shared.closed_error()
    }
}

typed::impl_frame_stream!(Receiver);
