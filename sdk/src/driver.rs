//! The driver: the state machine that owns a session's socket, with a task of its own.
//!
//! It reads, writes, answers pings, runs the pinger, batches outgoing frames (write all that is
//! queued, flush once) and carries out the close handshake. The session's handles talk to it
//! over bounded channels, so liveness never depends on whether the application reads.
//!
//! The driver sits behind a lock ([`Core`]) so that the application's task can do its work
//! when it is free ([`Drive`]): a receive that finds nothing queued reads the socket itself and
//! then has the socket's read readiness wake it rather than the driver's task, and a reply is
//! written and flushed at once. That takes the hop between tasks out of a request and its
//! answer (BENCHMARKS.md finding 12). Every waker such a pass registers is still the driver
//! task's, so whenever the application is not waiting (or stops), the task carries on as
//! before.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as WsCloseCode, Data as OpData, OpCode,
};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{Instrument, Span, debug, trace};
use typed_ws_converters::__tungstenite;

use crate::deflate::Transport;
use crate::error::{Chain, Error, ErrorKind};
use crate::frame::{CloseCode, CloseReason, Frame, Utf8Bytes};
use crate::settings::{MAX_WRITE_FRAME, Settings};
use crate::shared::{
    Command, Drive, FRAME_LIMIT, Inline, LIVENESS, ROUTE_APP, ROUTE_HANDED, Shared, TERMINATE,
    incoming_cost,
};

/// The most events handled in one wake-up before yielding to other tasks.
const BUDGET: usize = 256;
/// Upper bound on flushing a close frame after a failure (ping timeout, protocol error), and on
/// waiting for the application to take the frames received before a read-side failure.
const FAIL_FLUSH: Duration = Duration::from_secs(1);
/// Pings read while our writes are stalled before reading pauses: each one queues a pong, so
/// a peer that floods pings and reads nothing would otherwise grow the write buffer.
const MAX_PONGS_WHILE_STALLED: u32 = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Frames flow both ways.
    Open,
    /// A close frame was sent or received; waiting for the end of the handshake (bounded by
    /// the close deadline).
    Closing,
    /// Finished: the socket is dropped.
    Done,
}

type Item = Result<Frame, Error>;
type Reserve = Pin<
    Box<dyn Future<Output = Result<mpsc::OwnedPermit<Item>, mpsc::error::SendError<()>>> + Send>,
>;

/// The channels between the driver and a session's handles.
pub(crate) struct Channels {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) control: mpsc::Receiver<CloseReason>,
    pub(crate) incoming: mpsc::Sender<Item>,
    pub(crate) receiver_gone: oneshot::Receiver<()>,
}

/// The task that owns one session's socket.
///
/// # States
///
/// ```text
///  Open ──close()──────────────► (close_requested: queued frames drain first) ─┐
///   │  ──peer's close frame────► echo it ───────────────────────────────────────┤
///   │  ──read-side failure─────► (failing: the app takes what came before,     │
///   │                             bounded by the close deadline) ──► fail_now ──┤
///   │  ──ping/write timeout────► fail_now ──────────────────────────────────────┤
///   │                                                                           ▼
///   │                                  Closing: our close frame is out; waiting for the
///   │                                  peer's (close_received) or the close deadline;
///   │                                  after a failure the server role shuts TCP down
///   │                                  (shut_down) and reads are discarded (discarding)
///   │                                                                           │
///   └──terminate() / every handle dropped after the close / socket error ──► Done
/// ```
///
/// Alongside the phase, three gates decide what a pass does: the **pinger** (`pinger`: next
/// ping, the outstanding one and its pong deadline; idle unless Open with no close or failure
/// pending), **delivery** (`delivery`: items the application's full queue could not take wait
/// in `pending`; reading stops only once the incoming byte budget is spent,
/// [`reads_held_back`](Self::reads_held_back)), and the **read gate** (`read`: `reading` ends
/// with the peer's close or a failure; reading pauses after [`MAX_PONGS_WHILE_STALLED`] pings
/// while `write` is stalled, and resumes once the socket takes our pongs). The **write** side
/// (`write`) tracks what is buffered (`dirty`), flushes owed to `flush()` callers, a large
/// message going out in fragments, and since when writes have stalled (the 1011 "write
/// timeout" deadline).
pub(crate) struct Driver<S> {
    ws: WebSocketStream<S>,
    settings: Arc<Settings>,
    raw: bool,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    /// Close requests: a path of their own, so a close never waits behind queued data.
    control: mpsc::Receiver<CloseReason>,
    control_open: bool,
    phase: Phase,
    /// How the session ended, once known.
    outcome: Option<CloseReason>,
    timer: Pin<Box<Sleep>>,
    /// Bounds the close handshake, a requested close's drain, and a deferred failure.
    close_deadline: Option<Instant>,
    /// A close the application asked for: queued frames are written first, then the close.
    close_requested: Option<CloseReason>,
    /// A read-side failure waiting to be reported with a close frame until the application
    /// has taken every frame received before it (bounded by the close deadline), so replies to
    /// those frames still go out.
    failing: Option<(CloseReason, oneshot::Receiver<()>)>,
    /// Our side of the TCP connection is shut down (a server that failed the connection closes
    /// the TCP connection first, RFC 6455 7.1.1, once its close frame is out).
    shut_down: bool,
    /// The peer's close frame arrived (its own close, or the answer to ours).
    close_received: bool,
    /// The pinger: when the next ping goes out and the pong it waits for.
    pinger: Pinger,
    /// Delivery to the application: its queue, what waits for room in it, and whether anyone reads.
    delivery: Delivery,
    /// The read side: whether we read, and what pauses it.
    read: ReadGate,
    /// The write side: what is buffered, flushed, stalled and owed back to the budget.
    write: Writes,
    /// When the transport's idle memory (deflate state) is released if the session stays
    /// idle, and the transport's activity count that deadline was set for.
    idle_release: Option<(Instant, u64)>,
    /// The driver task's waker, once the task has run: a pass run on the application's task
    /// ([`Drive`]) registers it, so every source still wakes the driver.
    task_waker: Option<std::task::Waker>,
}

/// The driver behind its lock: polled by its own task, and by the application's handles when
/// it is free ([`Drive`]). `None` once the task has finished with it.
pub(crate) struct Core<S> {
    driver: std::sync::Mutex<Option<Driver<S>>>,
    span: Span,
}

impl<S> Core<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Driver<S>>> {
        self.driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pinger: when the next ping goes out and the pong it waits for.
struct Pinger {
    /// Payload of the ping waiting for its pong (random, so pongs sent blind cannot match),
    /// and when it was sent.
    outstanding_ping: Option<([u8; 8], Instant)>,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
}

/// Delivery to the application: its queue, what waits for room in it, and whether anyone reads.
struct Delivery {
    incoming: mpsc::Sender<Item>,
    /// Items the application's full queue could not take yet, in order, and the wait for room.
    pending: VecDeque<Item>,
    reserve: Option<Reserve>,
    /// Set while a pass runs on the application's task: the first item it reads goes to
    /// `slot` (when nothing is queued before it), for the application to take as the pass ends.
    slot_open: bool,
    slot: Option<Item>,
    /// Resolves when the application dropped its `Receiver`.
    receiver_gone: oneshot::Receiver<()>,
    receiver_open: bool,
}

/// The read side: whether we read, and what pauses it.
struct ReadGate {
    reading: bool,
    /// Pings read since the write side stalled (each queued a pong).
    pongs_while_stalled: u32,
    /// After failing the connection: bytes still arriving are read and discarded (until the
    /// peer closes or the close deadline), so the socket is not closed with unread data, which
    /// would send a reset that can destroy our close frame before the peer reads it.
    discarding: bool,
    /// Set by `poll_read` when the socket had nothing (its waker is registered).
    read_pending: bool,
    /// Woken by the socket's read readiness only: the socket is polled again only then, not
    /// on every wake-up of the task (tungstenite zero-fills its read buffer on every read poll).
    read_signal: Arc<ReadSignal>,
    read_waker: std::task::Waker,
    /// The last read poll returned Pending and `read_signal` has not fired since.
    read_armed: bool,
}

/// The write side: what is buffered, flushed, stalled and owed back to the budget.
struct Writes {
    dirty: bool,
    flush_waiters: Vec<oneshot::Sender<()>>,
    /// Since when the write side has been waiting on the socket (flush or `poll_ready`
    /// pending): no progress for `pong_timeout` closes the session with 1011 "write timeout".
    write_stalled_since: Option<Instant>,
    /// `poll_ready` was pending: its next `Ready` means tungstenite flushed everything.
    ready_pending: bool,
    /// A message over `MAX_WRITE_FRAME` being written frame by frame.
    fragments: Option<Fragments>,
    /// Outgoing budget to give back at the end of this pass (written frames' costs).
    release: usize,
    /// The waker the socket's write side gets (`signal`'s).
    waker: std::task::Waker,
    signal: Arc<WriteSignal>,
}

/// The socket's write-side waker: wakes the driver's task only while a write waits on the
/// socket. (tokio-tungstenite wakes the write-side waker on read readiness too; read readiness
/// has its own path, [`ReadSignal`], which a waiting application receive may take.)
struct WriteSignal {
    waiting: std::sync::atomic::AtomicBool,
    shared: Arc<Shared>,
}

impl std::task::Wake for WriteSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.waiting.load(Ordering::Acquire) {
            self.shared.driver_waker.wake();
        }
    }
}

/// A large outgoing message, written as frames of at most `MAX_WRITE_FRAME` bytes.
struct Fragments {
    payload: Bytes,
    text: bool,
    written: usize,
}

/// The socket's read-side waker: records that the socket has something, then wakes the
/// driver's task, or the application's receive that waits for it ([`ROUTE_APP`]).
struct ReadSignal {
    ready: std::sync::atomic::AtomicBool,
    task: futures_util::task::AtomicWaker,
    /// Where readiness goes: the driver's task, or an application receive waiting for it.
    shared: Arc<Shared>,
}

impl std::task::Wake for ReadSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.store(true, Ordering::Release);
        if self
            .shared
            .route
            .compare_exchange(ROUTE_APP, ROUTE_HANDED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // the receive runs the pass itself (or, dropped first, hands this to the task)
            self.shared.app_waker.wake();
        } else {
            self.task.wake();
        }
    }
}

impl<S> Driver<S>
where
    S: AsyncRead + AsyncWrite + Transport + Unpin + Send + 'static,
{
    pub(crate) fn spawn(
        ws: WebSocketStream<S>,
        settings: Arc<Settings>,
        raw: bool,
        shared: Arc<Shared>,
        channels: Channels,
        span: Span,
    ) -> Arc<dyn Drive> {
        let now = Instant::now();
        let next_ping = if raw {
            None
        } else {
            settings.ping_interval.map(|interval| now + interval)
        };
        let read_signal = Arc::new(ReadSignal {
            ready: std::sync::atomic::AtomicBool::new(false),
            task: futures_util::task::AtomicWaker::new(),
            shared: Arc::clone(&shared),
        });
        let write_signal = Arc::new(WriteSignal {
            waiting: std::sync::atomic::AtomicBool::new(false),
            shared: Arc::clone(&shared),
        });
        let driver = Driver {
            ws,
            settings,
            raw,
            shared,
            commands: channels.commands,
            commands_open: true,
            control: channels.control,
            control_open: true,
            phase: Phase::Open,
            outcome: None,
            timer: Box::pin(tokio::time::sleep_until(now)),
            close_deadline: None,
            close_requested: None,
            failing: None,
            shut_down: false,
            close_received: false,
            idle_release: None,
            pinger: Pinger {
                outstanding_ping: None,
                next_ping,
                pong_deadline: None,
            },
            delivery: Delivery {
                incoming: channels.incoming,
                pending: VecDeque::new(),
                reserve: None,
                slot_open: false,
                slot: None,
                receiver_gone: channels.receiver_gone,
                receiver_open: true,
            },
            read: ReadGate {
                reading: true,
                pongs_while_stalled: 0,
                discarding: false,
                read_pending: false,
                read_signal: Arc::clone(&read_signal),
                read_waker: std::task::Waker::from(read_signal),
                read_armed: false,
            },
            write: Writes {
                dirty: false,
                flush_waiters: Vec::new(),
                write_stalled_since: None,
                ready_pending: false,
                fragments: None,
                release: 0,
                waker: std::task::Waker::from(Arc::clone(&write_signal)),
                signal: write_signal,
            },
            task_waker: None,
        };
        let core = Arc::new(Core {
            driver: std::sync::Mutex::new(Some(driver)),
            span: span.clone(),
        });
        tokio::spawn(Self::run(Arc::clone(&core)).instrument(span));
        core
    }

    async fn run(core: Arc<Core<S>>) {
        debug!("session open");
        let driver = poll_fn(|cx| {
            let mut slot = core.lock();
            let Some(driver) = slot.as_mut() else {
                return Poll::Ready(None);
            };
            if !driver
                .task_waker
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                driver.task_waker = Some(cx.waker().clone());
            }
            match driver.poll_drive(cx) {
                Poll::Ready(()) => Poll::Ready(slot.take()),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        if let Some(driver) = driver {
            // boxed: the task holds only the `Core` while the session is live (idle memory)
            Box::pin(driver.finish()).await;
        }
    }

    /// After the last pass: reports how the session ended, keeps what was never written, and
    /// hands the application what it has not taken yet.
    async fn finish(mut self) {
        let outcome = self
            .outcome
            .take()
            .unwrap_or_else(|| CloseReason::new(CloseCode::ABNORMAL, "connection lost"));
        debug!(code = outcome.code.0, reason = %outcome.reason, "session closed");
        self.shared.closing.store(true, Ordering::Release);
        // frames accepted by `send` that never reached the socket: kept for whoever can use
        // them (a reconnecting session replays them), before anyone learns the session ended
        self.commands.close();
        let mut unsent = Vec::new();
        if let Some(fragments) = self.write.fragments.take() {
            // partly written: the peer drops an unfinished message with the connection, so the
            // whole message is still unsent
            unsent.push(match fragments.text {
                true => match Utf8Bytes::try_from(fragments.payload) {
                    Ok(text) => Frame::Text(text),
                    Err(invalid) => Frame::Binary(invalid.into_bytes()),
                },
                false => Frame::Binary(fragments.payload),
            });
        }
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Send(frame) = command {
                unsent.push(frame);
            }
        }
        if !unsent.is_empty() {
            debug!(
                frames = unsent.len(),
                "session ended with frames not yet written"
            );
            if let Ok(mut slot) = self.shared.unsent.lock() {
                slot.extend(unsent);
            }
        }
        self.shared.outcome.send_replace(Some(outcome));
        // senders waiting for budget learn that the session ended (after the outcome, so their
        // error carries it)
        self.shared.outgoing.close();
        // the socket goes now; what the application has not taken yet (at most a frame and
        // the error that ended the session) still reaches it when it reads
        let pending = std::mem::take(&mut self.delivery.pending);
        let incoming = self.delivery.incoming.clone();
        let open = self.delivery.receiver_open;
        drop(self);
        if open {
            for item in pending {
                match incoming.reserve().await {
                    Ok(permit) => permit.send(item),
                    Err(_) => break,
                }
            }
        }
    }

    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut budget = BUDGET;
        // A source that returned Pending in this call has the task's waker registered: polling
        // it again before the next wake-up is wasted work (for the socket, a zero-fill of the
        // whole read buffer by tungstenite each time).
        let mut read_idle = false;
        self.read.read_signal.task.register(cx.waker());
        self.shared.driver_waker.register(cx.waker());
        let requests = self.shared.requests.swap(0, Ordering::AcqRel);
        if requests & TERMINATE != 0 {
            debug!("terminated by the application");
            self.outcome.get_or_insert_with(|| {
                CloseReason::new(CloseCode::ABNORMAL, "terminated by the application")
            });
            self.phase = Phase::Done;
            return Poll::Ready(());
        }
        if requests & LIVENESS != 0 {
            self.apply_liveness();
        }
        if requests & FRAME_LIMIT != 0 {
            let bytes = self.shared.max_frame_size.load(Ordering::Acquire);
            debug!(bytes, "max_frame_size changed");
            self.ws.get_mut().set_max_frame_size(bytes);
        }
        if self.delivery.receiver_open
            && Pin::new(&mut self.delivery.receiver_gone)
                .poll(cx)
                .is_ready()
        {
            self.delivery.receiver_open = false;
            self.delivery.pending.clear();
            self.delivery.reserve = None;
        }
        loop {
            if self.phase == Phase::Done {
                return Poll::Ready(());
            }
            let mut progress = false;

            progress |= self.poll_deliver(cx);
            if !read_idle {
                // take what the socket has (up to a bound) before polling the other sources
                progress |= self.read_some(cx);
                read_idle = self.read.read_pending;
            }
            progress |= self.poll_control(cx);
            let drained = self.poll_commands(cx, &mut progress);
            if drained
                && self.phase == Phase::Open
                && let Some(reason) = self.close_requested.take()
            {
                // everything queued before the close request is written: now the close
                self.begin_close(reason, cx);
                progress = true;
            }
            // after the commands: what the application sent before taking the error goes first
            if let Some((_, seen)) = self.failing.as_mut()
                && (!self.delivery.receiver_open || Pin::new(seen).poll(cx).is_ready())
            {
                self.fail_now(cx);
                progress = true;
            }
            self.poll_flush();
            progress |= self.poll_discard(cx);
            if !progress || budget == 1 {
                // the timers matter once the busy sources are quiet (or the budget is spent)
                progress |= self.poll_timer(cx);
            }

            if !self.commands_open && !self.control_open && !self.delivery.receiver_open {
                // every handle is gone (the drop of a session): close normally
                if self.failing.is_some() {
                    self.fail_now(cx);
                    progress = true;
                } else if self.phase == Phase::Open && self.close_requested.is_none() {
                    self.begin_close(CloseReason::new(CloseCode::NORMAL, ""), cx);
                    progress = true;
                }
            }
            if self.phase == Phase::Closing
                && !self.read.reading
                && !self.read.discarding
                && !self.write.dirty
            {
                self.phase = Phase::Done;
            }
            if self.write.release > 0 {
                self.shared
                    .outgoing
                    .add_permits(std::mem::take(&mut self.write.release));
            }
            if self.phase == Phase::Done {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
            budget -= 1;
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// Open with nothing under way but reading: no close, failure or request pending, nothing
    /// held back for the application or waiting to be written. A quiet driver's only source
    /// of work the task is not woken for is a socket it has stopped polling.
    fn quiet(&self) -> bool {
        self.phase == Phase::Open
            && self.read.reading
            && !self.read.discarding
            && self.read.pongs_while_stalled == 0
            && self.failing.is_none()
            && self.close_requested.is_none()
            && self.delivery.receiver_open
            && self.delivery.pending.is_empty()
            && self.delivery.reserve.is_none()
            && !self.write.dirty
            && self.write.fragments.is_none()
            && self.write.write_stalled_since.is_none()
            && self.shared.requests.load(Ordering::Acquire) == 0
            && !self.reads_held_back()
    }

    /// Hands held-back items to the application as its queue makes room, in order.
    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(reserve) = self.delivery.reserve.as_mut() {
            match reserve.as_mut().poll(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(_)) => {
                    self.delivery.receiver_open = false;
                    self.delivery.pending.clear();
                    self.delivery.reserve = None;
                    return true;
                }
                Poll::Ready(Ok(permit)) => {
                    progress = true;
                    self.delivery.reserve = None;
                    if let Some(item) = self.delivery.pending.pop_front() {
                        permit.send(item);
                    }
                    while let Some(item) = self.delivery.pending.pop_front() {
                        if !self.offer(item) {
                            break;
                        }
                    }
                }
            }
        }
        progress
    }

    /// Tries to hand `item` over now; on a full queue keeps it first in line and waits for
    /// room. `false` when it could not be handed over.
    fn offer(&mut self, item: Item) -> bool {
        match self.delivery.incoming.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(item)) => {
                self.delivery.pending.push_front(item);
                self.delivery.reserve =
                    Some(Box::pin(self.delivery.incoming.clone().reserve_owned()));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.delivery.receiver_open = false;
                self.delivery.pending.clear();
                false
            }
        }
    }

    fn deliver(&mut self, item: Item) {
        if !self.delivery.receiver_open {
            return;
        }
        let waiting = !self.delivery.pending.is_empty();
        let full = waiting || self.delivery.incoming.capacity() == 0;
        if full && self.phase != Phase::Open && item.is_ok() {
            // data arriving while we close, for an application that is not reading: dropped
            // rather than held (the close must not wait on the application)
            trace!("frame dropped while closing: the application's queue is full");
            return;
        }
        // counted until the application takes it (`Shared::observe`)
        self.shared
            .incoming_bytes
            .fetch_add(incoming_cost(&item), Ordering::AcqRel);
        if self.delivery.slot_open
            && self.delivery.slot.is_none()
            && !waiting
            && self.delivery.incoming.capacity() == self.delivery.incoming.max_capacity()
        {
            // a pass on the application's task, nothing queued before: straight to it
            self.delivery.slot = Some(item);
            return;
        }
        if waiting {
            self.delivery.pending.push_back(item);
        } else {
            self.offer(item);
        }
    }

    /// Reads up to 32 frames, while the socket has them; `true` if any was read.
    /// `read.read_pending` says whether the socket ran dry (its waker is armed).
    fn read_some(&mut self, cx: &mut Context<'_>) -> bool {
        let mut read = false;
        for _ in 0..32 {
            self.read.read_pending = false;
            if !self.poll_read(cx) {
                break;
            }
            read = true;
        }
        read
    }

    /// Reads what the socket has while the application can take it (and always while
    /// closing, so the close handshake never waits on the application).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.read.reading || (self.phase == Phase::Open && !self.may_read(cx)) {
            return false;
        }
        if self.read.read_armed && !self.read.read_signal.ready.load(Ordering::Acquire) {
            self.read.read_pending = true;
            return false;
        }
        self.read.read_signal.ready.store(false, Ordering::Release);
        let mut read_cx = Context::from_waker(&self.read.read_waker);
        let polled = Pin::new(&mut self.ws).poll_next(&mut read_cx);
        self.read.read_armed = polled.is_pending();
        match polled {
            Poll::Pending => {
                self.read.read_pending = true;
                false
            }
            Poll::Ready(Some(Ok(message))) => {
                self.on_message(message);
                true
            }
            Poll::Ready(Some(Err(error))) => {
                self.on_read_error(error);
                true
            }
            Poll::Ready(None) => {
                self.read.reading = false;
                self.end_of_stream();
                true
            }
        }
    }

    /// Whether reading may go on while the session is open: not while the peer floods us with
    /// pings it does not read the pongs of, and not while the application is behind by the
    /// whole incoming budget. (A full queue of messages alone does not stop reading: held-back
    /// items are bounded by the byte budget too, so pongs are still read.)
    fn may_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.write.write_stalled_since.is_some()
            && self.read.pongs_while_stalled >= MAX_PONGS_WHILE_STALLED
        {
            return false;
        }
        if !self.reads_held_back() {
            return true;
        }
        // behind: wake when the application takes bytes (registered before the second look,
        // so a take in between is not missed)
        self.shared.driver_waker.register(cx.waker());
        !self.reads_held_back()
    }

    /// Whether the application holds back reading: the incoming budget is spent on received
    /// items it has not taken yet.
    fn reads_held_back(&self) -> bool {
        self.delivery.receiver_open
            && self.shared.incoming_bytes.load(Ordering::Acquire) >= self.settings.incoming_budget
    }

    fn on_message(&mut self, message: WsMessage) {
        match message {
            WsMessage::Text(text) => {
                trace!(kind = "text", len = text.len(), "received");
                // tungstenite checked the UTF-8: the payload is moved, not copied or checked
                // again (BENCHMARKS.md findings 2 and 7)
                self.deliver(Ok(Frame::Text(__tungstenite::from_tungstenite(text))));
            }
            WsMessage::Binary(bytes) => {
                trace!(kind = "binary", len = bytes.len(), "received");
                // moved, not copied: a slice of tungstenite's read buffer
                self.deliver(Ok(Frame::Binary(bytes)));
            }
            WsMessage::Ping(payload) => {
                trace!(kind = "ping", len = payload.len(), "received");
                // tungstenite queued the pong (one at most: a newer ping's replaces it while
                // the write buffer is full); it goes out with the next flush
                self.write.dirty = true;
                if self.write.write_stalled_since.is_some() {
                    self.read.pongs_while_stalled += 1;
                }
                if self.raw {
                    self.deliver(Ok(Frame::Ping(payload)));
                }
            }
            WsMessage::Pong(payload) => {
                trace!(kind = "pong", len = payload.len(), "received");
                if let Some((expected, sent)) = self.pinger.outstanding_ping
                    && payload.as_ref() == expected
                {
                    trace!(rtt = ?sent.elapsed(), "pong matched");
                    self.pinger.outstanding_ping = None;
                    self.pinger.pong_deadline = None;
                    self.pinger.next_ping =
                        self.settings.ping_interval.map(|interval| sent + interval);
                }
                if self.raw {
                    self.deliver(Ok(Frame::Pong(payload)));
                }
            }
            WsMessage::Close(frame) => {
                let reason = match frame {
                    Some(frame) => CloseReason::new(u16::from(frame.code), frame.reason.as_str()),
                    None => CloseReason::new(CloseCode::NO_STATUS, ""),
                };
                self.close_received = true;
                if self.phase == Phase::Open {
                    debug!(code = reason.code.0, reason = %reason.reason, "peer closed");
                    // tungstenite queued the echo; flush it, then wait for the end of stream
                    self.outcome = Some(reason.clone());
                    self.phase = Phase::Closing;
                    self.close_requested = None;
                    self.close_deadline = Some(Instant::now() + self.settings.close_timeout);
                    self.write.dirty = true;
                    self.shared.closing.store(true, Ordering::Release);
                } else {
                    debug!(code = reason.code.0, "close acknowledged by peer");
                }
                if self.raw {
                    self.deliver(Ok(Frame::Close(Some(reason))));
                }
            }
            WsMessage::Frame(_) => {}
        }
    }

    fn on_read_error(&mut self, error: WsError) {
        let settings = Arc::clone(&self.settings);
        let (code, kind, message) = match &error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.read.reading = false;
                self.end_of_stream();
                return;
            }
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
                CloseCode::TOO_BIG,
                ErrorKind::TooBig,
                settings.too_big_message(*size, *max_size),
            ),
            WsError::Capacity(_) => (
                CloseCode::TOO_BIG,
                ErrorKind::TooBig,
                "received a message over the size limits".to_owned(),
            ),
            WsError::Utf8(_) => (
                CloseCode::INVALID_PAYLOAD,
                ErrorKind::Protocol,
                "peer sent a text message that is not valid UTF-8".to_owned(),
            ),
            // RFC 6455: data after the peer's close frame is discarded
            WsError::Protocol(ProtocolError::ReceivedAfterClosing) if self.outcome.is_some() => {
                return;
            }
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.read.reading = false;
                self.lost("connection reset without a closing handshake", error);
                return;
            }
            WsError::Protocol(_) => (
                CloseCode::PROTOCOL_ERROR,
                ErrorKind::Protocol,
                "peer broke the WebSocket protocol".to_owned(),
            ),
            // permessage-deflate: a violation the deflate layer found (deflate/mod.rs) -> 1009/1002/1007
            WsError::Io(e) if crate::deflate::read_failure(e).is_some() => {
                crate::deflate::read_failure(e).unwrap_or((
                    CloseCode::PROTOCOL_ERROR,
                    ErrorKind::Protocol,
                    String::new(),
                ))
            }
            WsError::Io(_) | WsError::Tls(_) => {
                self.read.reading = false;
                self.lost("connection lost", error);
                return;
            }
            _ => (
                CloseCode::PROTOCOL_ERROR,
                ErrorKind::Protocol,
                "websocket error".to_owned(),
            ),
        };
        let reason = CloseReason::new(code, short_reason(kind));
        self.read.reading = false;
        let error = Error::new(kind, message)
            .maybe_source(ws_cause(error))
            .with_close(reason.clone());
        debug!(code = code.0, error = %Chain(&error), "failing the connection");
        if self.phase != Phase::Open {
            // already closing: nothing more to say to the peer
            if self.outcome.is_none() {
                self.outcome = Some(reason);
            }
            self.deliver(Err(error));
            return;
        }
        // stop reading now, but send the close frame only once the application has taken the
        // frames received before the error (or after a short bound): it may still reply to them
        let (seen_tx, seen_rx) = oneshot::channel();
        self.shared.set_terminal_watch(seen_tx);
        self.outcome = Some(reason.clone());
        self.deliver(Err(error));
        self.failing = Some((reason, seen_rx));
        self.close_deadline = Some(Instant::now() + FAIL_FLUSH.min(self.settings.close_timeout));
    }

    /// Sends the close frame of a deferred read-side failure.
    fn fail_now(&mut self, cx: &mut Context<'_>) {
        if let Some((reason, _)) = self.failing.take() {
            self.fail(reason, cx);
        }
    }

    /// The transport failed: nothing can be sent any more; the session ends with 1006.
    fn lost(&mut self, what: &str, error: WsError) {
        debug!(%error, "{what}");
        let reason = CloseReason::new(CloseCode::ABNORMAL, what);
        if self.outcome.is_none() {
            self.outcome = Some(reason.clone());
            self.deliver(Err(Error::new(ErrorKind::Io, what)
                .maybe_source(ws_cause(error))
                .with_close(reason)));
        } else if self.phase == Phase::Closing {
            self.close_unacknowledged();
        }
        self.write.dirty = false;
        self.phase = Phase::Done;
    }

    fn end_of_stream(&mut self) {
        if self.outcome.is_none() {
            debug!("connection ended without a close frame");
            let reason = CloseReason::new(
                CloseCode::ABNORMAL,
                "connection closed without a close frame",
            );
            self.deliver(Err(Error::new(
                ErrorKind::Io,
                "connection closed by the peer without a close frame (1006)",
            )
            .with_close(reason.clone())));
            self.outcome = Some(reason);
            self.write.dirty = false;
        } else if self.phase == Phase::Closing {
            self.close_unacknowledged();
        }
        self.phase = Phase::Done;
    }

    /// The connection ended after we sent a close frame (not a failure's: those keep their
    /// code) but before the peer's close frame arrived: RFC 6455 7.1.5 calls that 1006; the
    /// reason keeps what we sent.
    fn close_unacknowledged(&mut self) {
        if !self.close_received
            && !self.read.discarding
            && let Some(sent) = self.outcome.take()
        {
            debug!("the peer never acknowledged our close");
            self.outcome = Some(CloseReason::new(
                CloseCode::ABNORMAL,
                format!(
                    "close not acknowledged by the peer (sent {} {:?})",
                    sent.code.0, sent.reason
                ),
            ));
        }
    }

    /// Fails the connection: sends a close frame with `reason` (flushed for at most a second),
    /// and stops reading.
    fn fail(&mut self, reason: CloseReason, cx: &mut Context<'_>) {
        self.read.reading = false;
        self.read.discarding = true;
        if self.outcome.is_none() {
            self.outcome = Some(reason.clone());
        }
        self.shared.closing.store(true, Ordering::Release);
        if self.phase == Phase::Open {
            if !self.write(close_message(&reason), cx) {
                return;
            }
            self.phase = Phase::Closing;
        }
        self.close_deadline = Some(Instant::now() + FAIL_FLUSH.min(self.settings.close_timeout));
    }

    fn begin_close(&mut self, reason: CloseReason, cx: &mut Context<'_>) {
        if self.failing.is_some() {
            // a failure is already under way: its code is the truth
            self.fail_now(cx);
            return;
        }
        if self.phase != Phase::Open {
            return;
        }
        debug!(code = reason.code.0, reason = %reason.reason, "closing");
        self.shared.closing.store(true, Ordering::Release);
        if self.write(close_message(&reason), cx) {
            self.outcome = Some(reason);
            self.phase = Phase::Closing;
            self.close_deadline = Some(Instant::now() + self.settings.close_timeout);
        }
    }

    /// Queues one message in tungstenite's write buffer. `false` if the transport is gone.
    fn write(&mut self, message: WsMessage, _cx: &mut Context<'_>) -> bool {
        match Pin::new(&mut self.ws).start_send(message) {
            Ok(()) => {
                self.write.dirty = true;
                true
            }
            Err(WsError::Io(e)) => {
                self.lost("connection lost while writing", WsError::Io(e));
                false
            }
            Err(error) => {
                // tungstenite refuses writes only once the connection is unusable
                self.lost("write refused", error);
                false
            }
        }
    }

    /// Reads and discards what still arrives after we failed the connection (see
    /// `discarding`), until the peer closes the connection.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.read.discarding {
            return false;
        }
        if self.settings.server && !self.write.dirty && !self.shut_down {
            // the close frame is out: the server ends the TCP connection (FIN), and still reads
            // what arrives, so the close frame is not destroyed by a reset
            match Pin::new(self.ws.get_mut()).poll_shutdown(cx) {
                Poll::Pending => return false,
                Poll::Ready(_) => self.shut_down = true,
            }
        }
        let mut scratch = [0u8; 4096];
        for _ in 0..16 {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match Pin::new(self.ws.get_mut()).poll_read(cx, &mut buf) {
                Poll::Pending => return false,
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.read.discarding = false;
                    return true;
                }
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    self.read.discarding = false;
                    return true;
                }
            }
        }
        true
    }

    /// Takes a close request from the application.
    fn poll_control(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.control_open {
            return false;
        }
        match self.control.poll_recv(cx) {
            Poll::Pending => false,
            Poll::Ready(None) => {
                self.control_open = false;
                true
            }
            Poll::Ready(Some(reason)) => {
                if self.failing.is_some() {
                    self.fail_now(cx);
                } else if self.phase == Phase::Open && self.close_requested.is_none() {
                    // the queued frames go first, within the close timeout
                    self.close_requested = Some(reason);
                    self.close_deadline = Some(Instant::now() + self.settings.close_timeout);
                }
                true
            }
        }
    }

    /// Moves queued commands into the write buffer while it has room. Returns `true` when the
    /// command queue is empty (or closed).
    fn poll_commands(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> bool {
        let mut drained = !self.commands_open && self.write.fragments.is_none();
        while (self.commands_open || self.write.fragments.is_some()) && self.phase == Phase::Open {
            match self.poll_write_side(|ws, cx| ws.poll_ready(cx)) {
                Poll::Pending => {
                    self.write.ready_pending = true;
                    self.write_stalled();
                    break;
                }
                Poll::Ready(Err(error)) => {
                    self.on_write_error(error);
                    *progress = true;
                    return false;
                }
                Poll::Ready(Ok(())) => {
                    if std::mem::take(&mut self.write.ready_pending) {
                        // tungstenite flushed its whole buffer
                        self.write_progressed();
                    }
                }
            }
            if self.write.fragments.is_some() {
                *progress = true;
                if !self.write_fragment(cx) {
                    return false;
                }
                drained = !self.commands_open && self.write.fragments.is_none();
                continue;
            }
            match self.commands.poll_recv(cx) {
                Poll::Pending => {
                    drained = true;
                    break;
                }
                Poll::Ready(None) => {
                    self.commands_open = false;
                    drained = true;
                    *progress = true;
                }
                Poll::Ready(Some(Command::Send(frame))) => {
                    let message = to_message(frame);
                    trace!(
                        kind = message_kind(&message),
                        len = message.len(),
                        "sending"
                    );
                    *progress = true;
                    self.write.release += self.settings.outgoing_cost(message.len()) as usize;
                    let large = match &message {
                        WsMessage::Text(text) if text.len() > MAX_WRITE_FRAME => {
                            Some((AsRef::<Bytes>::as_ref(text).clone(), true))
                        }
                        WsMessage::Binary(bytes) if bytes.len() > MAX_WRITE_FRAME => {
                            Some((bytes.clone(), false))
                        }
                        _ => None,
                    };
                    if let Some((payload, text)) = large {
                        self.write.fragments = Some(Fragments {
                            payload,
                            text,
                            written: 0,
                        });
                        drained = false;
                        continue;
                    }
                    if !self.write(message, cx) {
                        return false;
                    }
                }
                Poll::Ready(Some(Command::Flush(waiter))) => {
                    self.write.flush_waiters.push(waiter);
                    *progress = true;
                }
            }
        }
        if !self.write.dirty && !self.write.flush_waiters.is_empty() {
            for waiter in self.write.flush_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        drained
    }

    /// Writes the next frame of a large message.
    fn write_fragment(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(fragments) = self.write.fragments.as_mut() else {
            return true;
        };
        let start = fragments.written;
        let end = (start + MAX_WRITE_FRAME).min(fragments.payload.len());
        let opcode = match (start, fragments.text) {
            (0, true) => OpData::Text,
            (0, false) => OpData::Binary,
            _ => OpData::Continue,
        };
        let last = end == fragments.payload.len();
        let frame = WsFrame::message(
            fragments.payload.slice(start..end),
            OpCode::Data(opcode),
            last,
        );
        fragments.written = end;
        if last {
            self.write.fragments = None;
        }
        self.write(WsMessage::Frame(frame), cx)
    }

    /// The write side is waiting on the socket: starts the write-stall clock.
    fn write_stalled(&mut self) {
        if self.write.write_stalled_since.is_none() {
            self.write.write_stalled_since = Some(Instant::now());
        }
    }

    /// Everything written so far reached the socket.
    fn write_progressed(&mut self) {
        self.write.write_stalled_since = None;
        if self.read.pongs_while_stalled >= MAX_PONGS_WHILE_STALLED {
            // reading was paused for this (the socket's read waker is not armed): poll again
            std::task::Wake::wake_by_ref(&self.read.read_signal);
        }
        self.read.pongs_while_stalled = 0;
    }

    fn on_write_error(&mut self, error: WsError) {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.write.dirty = false;
                if self.phase == Phase::Open {
                    self.phase = Phase::Closing;
                    self.close_deadline = Some(Instant::now() + self.settings.close_timeout);
                }
            }
            other => self.lost("connection lost while writing", other),
        }
    }

    /// Polls the socket's write side with its own waker ([`WriteSignal`]), which wakes the
    /// task only while this is pending.
    fn poll_write_side<R>(
        &mut self,
        poll: impl FnOnce(Pin<&mut WebSocketStream<S>>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        self.write.signal.waiting.store(true, Ordering::Release);
        let polled = poll(
            Pin::new(&mut self.ws),
            &mut Context::from_waker(&self.write.waker),
        );
        if polled.is_ready() {
            self.write.signal.waiting.store(false, Ordering::Release);
        }
        polled
    }

    /// Flushes the write buffer once everything queued has been written into it.
    fn poll_flush(&mut self) {
        if !self.write.dirty {
            return;
        }
        match self.poll_write_side(|ws, cx| ws.poll_flush(cx)) {
            Poll::Pending => self.write_stalled(),
            Poll::Ready(Ok(())) => {
                self.write_progressed();
                self.write.dirty = false;
                for waiter in self.write.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Poll::Ready(Err(error)) => self.on_write_error(error),
        }
    }

    /// The pinger, the pong deadline and the close deadline.
    /// Takes liveness settings changed on the live session and moves the ping timers.
    fn apply_liveness(&mut self) {
        let Some(liveness) = self
            .shared
            .liveness
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
        else {
            return;
        };
        debug!(?liveness, "liveness settings changed");
        let mut settings = (*self.settings).clone();
        settings.ping_interval = liveness.ping_interval;
        settings.pong_timeout = liveness.pong_timeout;
        self.settings = Arc::new(settings);
        let now = Instant::now();
        match (liveness.ping_interval, self.pinger.outstanding_ping) {
            _ if self.raw => {}
            (None, _) => {
                self.pinger.next_ping = None;
                self.pinger.outstanding_ping = None;
                self.pinger.pong_deadline = None;
            }
            (Some(_), Some((_, sent))) => {
                self.pinger.pong_deadline = Some(sent + liveness.pong_timeout);
            }
            (Some(interval), None) => self.pinger.next_ping = Some(now + interval),
        }
    }

    /// The transport holds memory to release once idle, and its deadline was not set after
    /// its latest activity: activity on the application's task ([`Drive`]) does not run the
    /// timers, so the task must, or the release would come up to twice `idle_release` late.
    fn release_stale(&self) -> bool {
        self.ws
            .get_ref()
            .idle_release()
            .is_some_and(|(_, activity)| self.idle_release.is_none_or(|(_, seen)| seen != activity))
    }

    /// When the transport releases its idle memory: `idle_release` after the last read or
    /// write it saw, if it holds any (only deflate sessions do).
    fn idle_release_deadline(&mut self) -> Option<Instant> {
        let Some((after, activity)) = self.ws.get_ref().idle_release() else {
            self.idle_release = None;
            return None;
        };
        match self.idle_release {
            Some((when, seen)) if seen == activity => Some(when),
            _ => {
                let when = Instant::now() + after;
                self.idle_release = Some((when, activity));
                Some(when)
            }
        }
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let pinging =
            self.phase == Phase::Open && self.failing.is_none() && self.close_requested.is_none();
        let ping_when = if !pinging {
            None
        } else if self.pinger.outstanding_ping.is_some() {
            self.pinger.pong_deadline
        } else {
            self.pinger.next_ping
        };
        let stall_when = match self.phase {
            Phase::Open => self
                .write
                .write_stalled_since
                .map(|since| since + self.settings.pong_timeout),
            _ => None,
        };
        let release_when = self.idle_release_deadline();
        let Some(when) = [self.close_deadline, ping_when, stall_when, release_when]
            .into_iter()
            .flatten()
            .min()
        else {
            return false;
        };
        if self.timer.deadline() != when {
            self.timer.as_mut().reset(when);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        if self.close_deadline.is_some_and(|deadline| now >= deadline) {
            self.close_deadline = None;
            if self.failing.is_some() {
                self.fail_now(cx);
            } else if self.phase == Phase::Open && self.close_requested.is_some() {
                // the queued frames could not be written in time: the peer stopped reading
                debug!("close timed out before the close frame could be written");
                self.close_requested = None;
                self.outcome = Some(CloseReason::new(
                    CloseCode::ABNORMAL,
                    "close timed out: the peer stopped reading before the close frame could be sent",
                ));
                self.read.reading = false;
                self.write.dirty = false;
                self.phase = Phase::Done;
            } else if self.phase != Phase::Open {
                debug!("peer did not finish the close handshake in time");
                self.close_unacknowledged();
                self.read.reading = false;
                self.write.dirty = false;
                self.phase = Phase::Done;
            }
            return true;
        }
        if release_when.is_some_and(|deadline| now >= deadline) {
            if self.ws.get_mut().release_idle() {
                debug!("idle: deflate state released");
            }
            // what could not go (a message half read) is tried again after another idle spell
            self.idle_release = None;
            return true;
        }
        if stall_when.is_some_and(|deadline| now >= deadline) {
            // the peer read nothing of ours for a whole pong timeout: pongs or not, it is not
            // keeping up (and a peer that never reads must not hold our memory)
            let timeout = self.settings.pong_timeout;
            debug!(?timeout, "write stalled: write timeout");
            let reason = CloseReason::new(CloseCode::INTERNAL_ERROR, "write timeout");
            self.outcome = Some(reason.clone());
            self.deliver(Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "write timeout: the peer read nothing of what we sent for {timeout:?} (raise pong_timeout if the peer is slow)"
                ),
            )
            .with_close(reason.clone())));
            self.write.write_stalled_since = None;
            self.fail(reason, cx);
            return true;
        }
        if !pinging {
            return true;
        }
        if self.pinger.outstanding_ping.is_some() {
            if self
                .pinger
                .pong_deadline
                .is_some_and(|deadline| now >= deadline)
            {
                if self.reads_held_back() {
                    // the pong may be queued behind data the application has not made room
                    // for: no verdict until it does (the session holds no more meanwhile)
                    trace!("no pong yet; reading is held back by the application");
                    self.pinger.pong_deadline = Some(now + self.settings.pong_timeout);
                    return true;
                }
                let timeout = self.settings.pong_timeout;
                debug!(?timeout, "no pong: ping timeout");
                let reason = CloseReason::new(CloseCode::INTERNAL_ERROR, "ping timeout");
                self.outcome = Some(reason.clone());
                self.deliver(Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "ping timeout: no pong within {timeout:?}; the peer or the network is unresponsive (raise pong_timeout if the peer is slow)"
                    ),
                )
                .with_close(reason.clone())));
                self.pinger.outstanding_ping = None;
                self.pinger.pong_deadline = None;
                self.fail(reason, cx);
            }
        } else if self.pinger.next_ping.is_some_and(|next| now >= next) {
            // unpredictable, so a peer that does not read our pings cannot answer them blind
            let payload: [u8; 8] = rand::random();
            if self.write(WsMessage::Ping(Bytes::copy_from_slice(&payload)), cx) {
                trace!("ping sent");
                self.pinger.outstanding_ping = Some((payload, now));
                self.pinger.pong_deadline = Some(now + self.settings.pong_timeout);
            }
            self.pinger.next_ping = None;
        }
        true
    }
}

/// The cause inside a tungstenite error, for our error's `source()`: tungstenite's own
/// `Display` repeats its cause, and our message already says what the wrapper would.
fn ws_cause(error: WsError) -> Option<Box<dyn std::error::Error + Send + Sync>> {
    match error {
        // the deflate layer's message is the whole story (see `deflate::read_failure`)
        WsError::Io(e) if crate::deflate::read_failure(&e).is_some() => None,
        WsError::Io(e) => Some(Box::new(e)),
        // `Settings::too_big_message` names the size and the setting
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => None,
        WsError::Capacity(e) => Some(Box::new(e)),
        WsError::Protocol(e) => Some(Box::new(e)),
        WsError::Utf8(detail) => Some(detail.into()),
        other => Some(Box::new(other)),
    }
}

fn short_reason(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::TooBig => "message too big",
        ErrorKind::Protocol => "protocol error",
        _ => "error",
    }
}

fn message_kind(message: &WsMessage) -> &'static str {
    match message {
        WsMessage::Text(_) => "text",
        WsMessage::Binary(_) => "binary",
        WsMessage::Ping(_) => "ping",
        WsMessage::Pong(_) => "pong",
        WsMessage::Close(_) => "close",
        WsMessage::Frame(_) => "frame",
    }
}

pub(crate) fn close_message(reason: &CloseReason) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code: WsCloseCode::from(reason.code.0),
        reason: reason.reason.as_str().into(),
    }))
}

/// Converts a frame for the wire without copying the payload.
fn to_message(frame: Frame) -> WsMessage {
    match frame {
        Frame::Text(text) => WsMessage::Text(__tungstenite::into_tungstenite(text)),
        Frame::Binary(bytes) => WsMessage::Binary(bytes),
        Frame::Ping(bytes) => WsMessage::Ping(bytes),
        Frame::Pong(bytes) => WsMessage::Pong(bytes),
        Frame::Close(None) => WsMessage::Close(None),
        Frame::Close(Some(reason)) => close_message(&reason),
    }
}

impl<S> Drive for Core<S>
where
    S: AsyncRead + AsyncWrite + Transport + Unpin + Send + 'static,
{
    fn receive_inline(&self) -> Inline {
        let Ok(mut slot) = self.driver.try_lock() else {
            return Inline::Busy;
        };
        let Some(driver) = slot.as_mut() else {
            return Inline::Busy;
        };
        let Some(waker) = driver.task_waker.take() else {
            return Inline::Busy;
        };
        let quiet = driver.quiet();
        if quiet && driver.read.read_armed && !driver.read.read_signal.ready.load(Ordering::Acquire)
        {
            // nothing arrived since the socket's read waker was armed, and only the socket
            // could have work for a quiet driver (every other source wakes its task)
            driver.task_waker = Some(waker);
            return Inline::Nothing;
        }
        let _entered = self.span.enter();
        let mut cx = Context::from_waker(&waker);
        driver.delivery.slot_open = true;
        let done = if quiet {
            // only the socket to read: what a pass would do first, without polling the rest
            let pinger = driver.pinger.outstanding_ping.is_some();
            driver.read_some(&mut cx);
            if driver.write.dirty {
                // a pong to send
                driver.poll_flush();
            }
            if !driver.quiet()
                || pinger != driver.pinger.outstanding_ping.is_some()
                || driver.release_stale()
            {
                // what was read needs a whole pass (a close, an error, a full queue, a pong
                // that moves the pinger's timer, deflate state to release once idle): the task
                // runs one
                waker.wake_by_ref();
            }
            false
        } else {
            driver.poll_drive(&mut cx).is_ready()
        };
        driver.delivery.slot_open = false;
        let item = driver.delivery.slot.take();
        if done {
            // the task ends the session (its last pass returns at once)
            waker.wake_by_ref();
        }
        driver.task_waker = Some(waker);
        match item {
            Some(item) => Inline::Item(item),
            None => Inline::Nothing,
        }
    }

    fn send_inline(&self, frame: Frame) -> Result<(), Frame> {
        if frame.len() > MAX_WRITE_FRAME || !matches!(frame, Frame::Text(_) | Frame::Binary(_)) {
            return Err(frame);
        }
        let Ok(mut slot) = self.driver.try_lock() else {
            return Err(frame);
        };
        let Some(driver) = slot.as_mut() else {
            return Err(frame);
        };
        if driver.phase != Phase::Open
            || driver.close_requested.is_some()
            || driver.failing.is_some()
            || driver.write.dirty
            || driver.write.fragments.is_some()
            || driver.write.write_stalled_since.is_some()
            || !driver.commands.is_empty()
        {
            return Err(frame);
        }
        let Some(waker) = driver.task_waker.take() else {
            return Err(frame);
        };
        let _entered = self.span.enter();
        let mut cx = Context::from_waker(&waker);
        let message = to_message(frame);
        trace!(
            kind = message_kind(&message),
            len = message.len(),
            "sending"
        );
        if driver.write(message, &mut cx) {
            driver.poll_flush();
        }
        if driver.write.dirty
            || driver.phase != Phase::Open
            || driver.outcome.is_some()
            || driver.release_stale()
        {
            // the socket did not take it all (the task times the stall), the write failed, or
            // deflate state is to be released once idle: the task carries on from here
            waker.wake_by_ref();
        }
        driver.task_waker = Some(waker);
        Ok(())
    }
}
