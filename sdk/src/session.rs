//! What the application holds: [`Session`], and its halves [`Sender`] and [`Receiver`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use typed_ws_converters::ContentConverter;

use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};
use crate::handshake::Handshake;
use crate::shared::{Command, Drive, Inline, Shared, TERMINATE};
use crate::typed::{self, ReceiveFrames, SendFrames, SessionHandle, SinkSlot, SplitFrames};

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

        /// Changes the largest frame payload accepted from now on (Ktor's `maxFrameSize`),
        /// up or down from the builder's `max_frame_size`; a larger frame closes the session
        /// with 1009, as at connect time. `max_message_size` stays as built.
        ///
        /// # Errors
        ///
        /// [`ErrorKind::Config`](crate::ErrorKind::Config) for 0 (nothing changes).
        pub fn set_max_frame_size(&self, bytes: usize) -> Result<()> {
            if bytes == 0 {
                return Err(Error::config(
                    "max_frame_size must be greater than zero",
                ));
            }
            self.$($shared).+.change_max_frame_size(bytes);
            Ok(())
        }
    };
}

/// A live WebSocket session that sends and receives typed values through the converter `C`.
///
/// A driver task owns the socket; the session talks to it over bounded queues, so pings are
/// answered, the pinger runs and close frames are handled whether or not you are reading.
/// While you wait in a receive, or send a reply to what you received, your task does the
/// driver's work itself when the driver is free, so a request and its answer cost no hop
/// between tasks.
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
        drive: Arc<dyn Drive>,
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
                drive: Arc::clone(&drive),
                sink: SinkSlot::default(),
            },
            receiver: Receiver {
                incoming,
                converter,
                shared,
                drive,
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

    fn poll_frame_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        self.receiver.poll_frame_waiting(cx)
    }

    fn stop_waiting(&self) {
        self.receiver.stop_waiting();
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
    drive: Arc<dyn Drive>,
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
            drive: Arc::clone(&self.drive),
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
        // without waiting first: an awaited acquire spends the task's cooperative budget, so a
        // task sending to many sessions would yield twice as often (BENCHMARKS.md finding 8)
        match self.shared.outgoing.try_acquire_many(cost) {
            Ok(permit) => Some(permit),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.shared.outgoing.acquire_many(cost).await.ok()
            }
            Err(tokio::sync::TryAcquireError::Closed) => None,
        }
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
        // a reply to what the application just took, with nothing more received waiting: written
        // now, on this task. A stream of sends, or replies to requests still queued, go through
        // the queue, so the driver batches them into one flush.
        let reply = self.shared.replying.load(Ordering::Relaxed);
        if reply {
            self.shared.replying.store(false, Ordering::Relaxed);
        }
        let frame = if reply && self.shared.incoming_bytes.load(Ordering::Relaxed) == 0 {
            match self.drive.send_inline(frame) {
                Ok(()) => return Ok(()),
                Err(frame) => frame,
            }
        } else {
            frame
        };
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
    drive: Arc<dyn Drive>,
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

    fn poll_frame_waiting(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        // readiness handed to this receive: acted on below, by the pass or passed on
        let handed = self.shared.take_route();
        match self.incoming.try_recv() {
            Ok(item) => {
                if handed {
                    self.shared.driver_waker.wake();
                }
                return Poll::Ready(self.shared.observe(Some(item)));
            }
            Err(mpsc::error::TryRecvError::Disconnected) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        let armed = match self.drive.receive_inline() {
            Inline::Item(item) => return Poll::Ready(self.shared.observe(Some(item))),
            Inline::Nothing => true,
            Inline::Busy => {
                if handed {
                    self.shared.driver_waker.wake();
                }
                false
            }
        };
        if armed {
            // the pass left the socket's read readiness armed: it wakes this task, which runs
            // the next pass itself (the queue's waker below covers a pass of the driver's task)
            self.shared.wait_for_readiness(cx.waker());
        }
        match self.poll_frame(cx) {
            Poll::Ready(item) => {
                self.shared.stop_waiting();
                Poll::Ready(item)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn stop_waiting(&self) {
        self.shared.stop_waiting();
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
