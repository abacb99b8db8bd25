//! What a session's driver task and its handles share: the state behind an `Arc`, and the
//! commands the handles queue for the driver. (Neither side imports the other: both use this.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::error::{Error, Result};
use crate::frame::{CloseReason, Frame};
use crate::handshake::Handshake;
use crate::settings::Settings;

/// What a session handle asks of the driver, in order with the frames it sends.
pub(crate) enum Command {
    /// Queue a frame for writing (converted for tungstenite here, in the driver).
    Send(Frame),
    /// Answer once everything queued before is written and flushed.
    Flush(oneshot::Sender<()>),
}

/// What a pass of the driver run on the application's task produced
/// ([`Drive::receive_inline`]).
pub(crate) enum Inline {
    /// The next received item, taken straight from the pass (it never entered the queue).
    Item(Result<Frame>),
    /// The pass ran and had nothing for the application: the socket's read readiness is
    /// armed, so [`Shared::wait_for_readiness`] may route it to the application.
    Nothing,
    /// The driver is busy (its task is in a pass), not started yet, or finished: use the queue.
    Busy,
}

/// The driver, as the application's handles reach it to do its work on their own task when
/// it is free (one task hop fewer per message: BENCHMARKS.md finding 12). Everything the pass
/// registers still wakes the driver's task, so a pass run here is, for the driver, only an
/// extra poll.
pub(crate) trait Drive: Send + Sync {
    /// Runs the driver's pass on the caller's task if the driver is free (for a receive that
    /// found its queue empty): only the socket's reads when nothing else is under way.
    fn receive_inline(&self) -> Inline;

    /// Writes and flushes `frame` now if the driver is free, nothing is queued before it and
    /// the write buffer is empty; hands it back otherwise.
    fn send_inline(&self, frame: Frame) -> std::result::Result<(), Frame>;
}

/// Read readiness goes to the driver's task.
pub(crate) const ROUTE_DRIVER: u8 = 0;
/// An application receive is waiting: read readiness wakes it, and it runs the pass.
pub(crate) const ROUTE_APP: u8 = 1;
/// Read readiness was handed to the waiting receive, which has not run the pass yet.
pub(crate) const ROUTE_HANDED: u8 = 2;

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
    /// Where the socket's read readiness goes ([`ROUTE_DRIVER`], [`ROUTE_APP`],
    /// [`ROUTE_HANDED`]).
    pub(crate) route: AtomicU8,
    /// The application's receive waiting for read readiness (with [`ROUTE_APP`]).
    pub(crate) app_waker: AtomicWaker,
    /// The application took a received item since its last send: the next send may be
    /// written at once (a reply), rather than queued for the driver to batch (a stream).
    pub(crate) replying: AtomicBool,
    /// What the application asked of the driver outside the queues ([`TERMINATE`],
    /// [`LIVENESS`] bits), taken by the driver on its next pass.
    pub(crate) requests: AtomicU8,
    /// The ping interval and pong timeout asked for with the [`LIVENESS`] bit.
    pub(crate) liveness: std::sync::Mutex<Option<Liveness>>,
    /// The frame size limit asked for with the [`FRAME_LIMIT`] bit.
    pub(crate) max_frame_size: AtomicUsize,
    pub(crate) settings: Arc<Settings>,
}

/// A request bit: end the session at once, without a close handshake.
pub(crate) const TERMINATE: u8 = 1;
/// A request bit: new liveness settings wait in `Shared::liveness`.
pub(crate) const LIVENESS: u8 = 2;
/// A request bit: a new frame size limit waits in `Shared::max_frame_size`.
pub(crate) const FRAME_LIMIT: u8 = 4;

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
            route: AtomicU8::new(ROUTE_DRIVER),
            app_waker: AtomicWaker::new(),
            replying: AtomicBool::new(false),
            liveness: std::sync::Mutex::new(None),
            max_frame_size: AtomicUsize::new(settings.max_frame_size),
            settings,
        })
    }

    /// Asks the driver for `bit` and wakes it.
    pub(crate) fn request(&self, bit: u8) {
        self.requests.fetch_or(bit, Ordering::AcqRel);
        self.driver_waker.wake();
    }

    /// Changes the frame size limit of the live session.
    pub(crate) fn change_max_frame_size(&self, bytes: usize) {
        self.max_frame_size.store(bytes, Ordering::Release);
        self.request(FRAME_LIMIT);
    }

    /// Changes the liveness settings the driver runs with (the last change wins).
    pub(crate) fn change_liveness(&self, change: impl FnOnce(&mut Liveness)) {
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

    /// Read readiness wakes `waker` (an application receive that ran the driver's pass and
    /// found nothing) instead of the driver's task, until the receive runs again or stops
    /// waiting.
    pub(crate) fn wait_for_readiness(&self, waker: &std::task::Waker) {
        self.app_waker.register(waker);
        self.route.store(ROUTE_APP, Ordering::Release);
    }

    /// The application's receive runs again: read readiness goes to the driver's task.
    /// `true` if readiness was handed to the receive, which must now act on it (run the pass,
    /// or pass it on with `driver_waker`).
    pub(crate) fn take_route(&self) -> bool {
        self.route.load(Ordering::Acquire) != ROUTE_DRIVER
            && self.route.swap(ROUTE_DRIVER, Ordering::AcqRel) == ROUTE_HANDED
    }

    /// The application's receive stopped waiting (done, or dropped): read readiness goes to
    /// the driver's task again, and readiness already handed over and not acted on is passed
    /// to it.
    pub(crate) fn stop_waiting(&self) {
        if self.take_route() {
            self.driver_waker.wake();
        }
    }

    /// Passes an item on to the application, giving its bytes back to the incoming budget and
    /// noting when it is the session-ending error.
    pub(crate) fn observe(&self, item: Option<Result<Frame>>) -> Option<Result<Frame>> {
        if let Some(item) = &item {
            if item.is_ok() {
                self.replying.store(true, Ordering::Relaxed);
            }
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
    pub(crate) async fn closed_error(&self) -> Error {
        let bound = self.settings.close_timeout + Duration::from_secs(2);
        match tokio::time::timeout(bound, self.wait_outcome()).await {
            Ok(reason) => Error::closed(Some(reason)),
            Err(_) => Error::closed(self.outcome.borrow().clone()),
        }
    }

    pub(crate) async fn wait_outcome(&self) -> CloseReason {
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
