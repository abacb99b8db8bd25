//! Reconnecting sessions: reconnect as a policy, lifecycle events, hooks, and an explicit
//! outbox policy while disconnected.
//!
//! ```no_run
//! use std::time::Duration;
//! use typed_ws::{Backoff, Client, Outbox};
//!
//! # async fn demo() -> typed_ws::Result<()> {
//! let client = Client::new();
//! let mut session = client
//!     .reconnecting("ws://127.0.0.1:8080/feed")
//!     .policy(Backoff::exponential(Duration::from_millis(200), Duration::from_secs(30)).max_attempts(20))
//!     .outbox(Outbox::Buffer { max_messages: 1000 })
//!     .on_connect(|sender| async move { sender.send_text("subscribe ticks").await })
//!     .connect()
//!     .await?;
//! while let Some(frame) = session.receive().await {
//!     println!("{frame:?}");
//! }
//! println!("gave up or closed: {}", session.close_reason().await);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::debug;
use typed_ws_converters::{ContentConverter, Message};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::{CloseCode, CloseReason, Frame};
use crate::request::{IntoRequest, Request};
use crate::session::Sender;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type RequestFn = Arc<dyn Fn(u32) -> BoxFuture<Result<Request>> + Send + Sync>;
type HookFn<C> = Arc<dyn Fn(Sender<C>) -> BoxFuture<Result<()>> + Send + Sync>;
type ClassifyFn = Arc<dyn Fn(&Cause) -> bool + Send + Sync>;

/// Why a connection ended or could not be made.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Cause {
    /// A live session ended with this reason (1006 lost, 1011 ping timeout, the peer's code…).
    Closed(CloseReason),
    /// A connection attempt failed.
    ConnectFailed {
        /// The error's kind.
        kind: ErrorKind,
        /// The HTTP status, for a refused upgrade.
        status: Option<u16>,
        /// The error's text.
        message: String,
    },
}

impl Cause {
    /// The default classification: reconnect after 1006 (lost), 1011 (ping timeout, internal
    /// error), 1012 (restart), 1013 (try again later), and after connect failures that can be
    /// transient (refused, timeout, I/O, a 5xx upgrade response) — never after a normal
    /// close (1000) by either side, nor after bad configuration or a 4xx refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            Cause::Closed(reason) => matches!(
                reason.code,
                CloseCode::ABNORMAL
                    | CloseCode::INTERNAL_ERROR
                    | CloseCode::SERVICE_RESTART
                    | CloseCode::TRY_AGAIN_LATER
            ),
            Cause::ConnectFailed { kind, status, .. } => match kind {
                ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io => true,
                ErrorKind::Handshake => status.is_none_or(|s| s >= 500),
                _ => false,
            },
        }
    }

    fn from_error(error: &Error) -> Self {
        Cause::ConnectFailed {
            kind: error.kind(),
            status: error.status(),
            // the whole chain: the cause (refused, reset...) is only in `source()`
            message: format!("{error:#}"),
        }
    }

    fn into_reason(self) -> CloseReason {
        match self {
            Cause::Closed(reason) => reason,
            Cause::ConnectFailed { message, .. } => CloseReason::new(CloseCode::ABNORMAL, message),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Closed(reason) => write!(f, "closed: {reason}"),
            Cause::ConnectFailed { message, .. } => write!(f, "connect failed: {message}"),
        }
    }
}

/// A lifecycle event of a reconnecting session.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A connection attempt starts: `attempt` 0 is the first connection, n ≥ 1 the n-th retry
    /// since the connection was last live.
    Connecting {
        /// The attempt number.
        attempt: u32,
    },
    /// The connection is up, the `on_connect` hook ran and the outbox was replayed.
    Connected {
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// The connection ended or failed; the next attempt starts after `delay`.
    Reconnecting {
        /// The attempt about to be made.
        attempt: u32,
        /// The backoff before it.
        delay: Duration,
        /// Why.
        cause: Cause,
    },
    /// The session is over for good: closed by the user, closed normally, or given up.
    Closed {
        /// The final reason.
        reason: CloseReason,
    },
}

/// Decides how long to wait before each reconnect attempt, and whether to reconnect at all.
pub trait ReconnectPolicy: Send + Sync + 'static {
    /// The delay before retry `attempt` (1 for the first retry after a connection ended or
    /// the first connection failed), or `None` to give up. `elapsed` is the time since the
    /// connection was last live (or since the start).
    fn next_delay(&self, attempt: u32, elapsed: Duration) -> Option<Duration>;

    /// Whether `cause` warrants a reconnect. Default: [`Cause::is_transient`].
    fn should_reconnect(&self, cause: &Cause) -> bool {
        cause.is_transient()
    }
}

/// Exponential backoff with full jitter: retry *n* waits a uniformly random time in
/// `[0, min(max, initial × multiplier^(n-1))]`, in whole milliseconds (tokio's timer
/// resolution).
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: bool,
    max_attempts: Option<u32>,
    max_elapsed: Option<Duration>,
    rng: AtomicU64,
}

impl Clone for Backoff {
    fn clone(&self) -> Self {
        Backoff {
            rng: AtomicU64::new(self.rng.load(Ordering::Relaxed)),
            ..*self
        }
    }
}

impl Backoff {
    /// Exponential backoff from `initial` up to `max`, doubling, with full jitter, retrying
    /// forever.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        let seed = {
            use std::hash::{BuildHasher, Hasher};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            // a per-process random key (std's hasher seed) and a counter: every policy gets
            // its own jitter, so sessions that lost the same server do not retry in lockstep
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            hasher.finish()
        };
        Backoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: true,
            max_attempts: None,
            max_elapsed: None,
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// Gives up after `attempts` retries in a row without a live connection.
    ///
    /// Default: unlimited.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Gives up once this much time has passed since the last successful connection.
    ///
    /// Default: unlimited.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// The growth factor per attempt.
    ///
    /// Default: 2.0.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier.max(1.0);
        self
    }

    /// Turns jitter off: attempt *n* waits exactly the capped exponential delay.
    ///
    /// Default: full jitter.
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Seeds the jitter's random numbers, for reproducible delays.
    ///
    /// Default: seeded from the clock and the process.
    #[must_use]
    pub fn seed(self, seed: u64) -> Self {
        self.rng.store(seed | 1, Ordering::Relaxed);
        self
    }

    /// The capped exponential delay for `attempt`, before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let nanos = (self.initial.as_nanos() as f64 * exp).min(self.max.as_nanos() as f64);
        Duration::from_nanos(nanos as u64)
    }

    fn random(&self) -> f64 {
        // xorshift64*: plenty for jitter
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl ReconnectPolicy for Backoff {
    fn next_delay(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        if self.max_elapsed.is_some_and(|max| elapsed >= max) {
            return None;
        }
        let ceiling = self.ceiling(attempt);
        let delay = if self.jitter {
            ceiling.mul_f64(self.random())
        } else {
            ceiling
        };
        // whole milliseconds: tokio's timers cannot wait for less
        Some(Duration::from_millis(delay.as_millis() as u64))
    }
}

/// What happens to messages sent while the session is disconnected. Chosen explicitly; there
/// is no unbounded buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    /// `send` fails with a `Closed` error while disconnected.
    Fail,
    /// `send` succeeds and the message is discarded while disconnected.
    Drop,
    /// Up to `max_messages` are kept and sent, once and in order, right after the next
    /// connection's `on_connect` hook; past that, `send` fails. Frames a lost connection had
    /// accepted but not yet written are kept too, ahead of them (they may exceed
    /// `max_messages` by at most the channel capacity).
    Buffer {
        /// The most messages kept.
        max_messages: usize,
    },
}

/// Configures a reconnecting session; see [`Client::reconnecting`].
#[must_use]
pub struct ReconnectBuilder<C> {
    client: Client<C>,
    request: Result<RequestFn>,
    policy: Arc<dyn ReconnectPolicy>,
    classify: Option<ClassifyFn>,
    outbox: Outbox,
    on_connect: Option<HookFn<C>>,
}

impl<C> fmt::Debug for ReconnectBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectBuilder")
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectBuilder<C> {
    pub(crate) fn new(client: Client<C>, request: impl IntoRequest) -> Self {
        let request = request.into_request().map(|request| {
            let f: RequestFn = Arc::new(move |_| {
                let request = request.clone();
                Box::pin(async move { Ok(request) })
            });
            f
        });
        ReconnectBuilder {
            client,
            request,
            policy: Arc::new(Backoff::exponential(
                Duration::from_millis(100),
                Duration::from_secs(30),
            )),
            classify: None,
            outbox: Outbox::Fail,
            on_connect: None,
        }
    }

    /// The backoff and give-up policy.
    ///
    /// Default: `Backoff::exponential(100 ms, 30 s)` with full jitter, retrying forever.
    pub fn policy(mut self, policy: impl ReconnectPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Overrides which endings trigger a reconnect.
    ///
    /// Default: the policy's `should_reconnect` ([`Cause::is_transient`]).
    pub fn reconnect_when(
        mut self,
        classify: impl Fn(&Cause) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.classify = Some(Arc::new(classify));
        self
    }

    /// What happens to messages sent while disconnected.
    ///
    /// Default: [`Outbox::Fail`].
    pub fn outbox(mut self, outbox: Outbox) -> Self {
        self.outbox = outbox;
        self
    }

    /// Makes the request anew before every attempt (0 for the first connection, n for the
    /// n-th retry), e.g. to put a fresh token in a header.
    ///
    /// Default: the request given to [`Client::reconnecting`], every time.
    pub fn request_with<F, Fut>(mut self, make: F) -> Self
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Request>> + Send + 'static,
    {
        self.request = Ok(Arc::new(move |attempt| Box::pin(make(attempt))));
        self
    }

    /// Runs after every successful connection, before buffered messages are replayed and
    /// before new messages flow: re-send subscriptions here. An error closes that connection
    /// (1011) and counts as a failed attempt.
    ///
    /// Default: none.
    pub fn on_connect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Sender<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.on_connect = Some(Arc::new(move |sender| Box::pin(hook(sender))));
        self
    }

    /// Starts the session and waits for its first connection (retrying per the policy).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for bad input; the last connect error when the policy gives up
    /// before a first connection.
    pub async fn connect(self) -> Result<ReconnectingSession<C>> {
        let (first_tx, first_rx) = oneshot::channel();
        let session = self.spawn(Some(first_tx))?;
        match first_rx.await {
            Ok(Ok(())) => Ok(session),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::closed(None)),
        }
    }

    /// Starts the session without waiting: connection attempts run in the background, as the
    /// [`events`](ReconnectingSession::events) show, and sends follow the [`Outbox`] policy
    /// until the first connection is up.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for bad input.
    pub fn start(self) -> Result<ReconnectingSession<C>> {
        self.spawn(None)
    }

    fn spawn(self, first: Option<oneshot::Sender<Result<()>>>) -> Result<ReconnectingSession<C>> {
        let request = self.request?;
        let capacity = self.client.settings().channel_capacity;
        if let Outbox::Buffer { max_messages: 0 } = self.outbox {
            return Err(Error::config(
                "Outbox::Buffer needs max_messages of at least 1",
            ));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                link: Link::Down,
                buffer: VecDeque::new(),
            }),
            outbox: self.outbox,
            converter: Mutex::new(Arc::clone(self.client.converter_arc())),
            outcome: watch::Sender::new(None),
        });
        let (events_tx, events_rx) = broadcast::channel(256);
        let (incoming_tx, incoming_rx) = mpsc::channel(capacity);
        // only the handles hold the control sender: when the last one is dropped, the
        // supervisor sees the channel close and ends the session
        let (control_tx, control_rx) = mpsc::channel(1);
        let supervisor = Supervisor {
            client: self.client,
            request,
            policy: self.policy,
            classify: self.classify,
            on_connect: self.on_connect,
            shared: Arc::clone(&shared),
            events: events_tx.clone(),
            incoming: incoming_tx,
            control: control_rx,
            first,
        };
        tokio::spawn(supervisor.run());
        Ok(ReconnectingSession {
            sender: ReconnectingSender {
                shared,
                control: control_tx,
            },
            incoming: incoming_rx,
            events: Some(events_rx),
            events_tx,
        })
    }
}

enum Link<C> {
    Up(Sender<C>),
    Down,
    Closed(CloseReason),
}

struct State<C> {
    link: Link<C>,
    buffer: VecDeque<Frame>,
}

struct Shared<C> {
    state: Mutex<State<C>>,
    outbox: Outbox,
    converter: Mutex<Arc<C>>,
    outcome: watch::Sender<Option<CloseReason>>,
}

impl<C> Shared<C> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<C>> {
        // a panic while holding this lock cannot leave the state half-changed: recover it
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn converter(&self) -> Arc<C> {
        Arc::clone(&self.converter.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A session that reconnects per its policy. Receive from it like a [`crate::Session`]; send
/// through it or through cloned [`ReconnectingSender`]s, which keep working across
/// reconnects.
pub struct ReconnectingSession<C = crate::Json> {
    sender: ReconnectingSender<C>,
    incoming: mpsc::Receiver<Frame>,
    events: Option<broadcast::Receiver<Event>>,
    events_tx: broadcast::Sender<Event>,
}

impl<C> fmt::Debug for ReconnectingSession<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingSession")
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectingSession<C> {
    /// A sender that keeps working across reconnects (cheap to clone).
    pub fn sender(&self) -> ReconnectingSender<C> {
        self.sender.clone()
    }

    /// Sends a frame; while disconnected, the [`Outbox`] policy applies.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send(&self, frame: Frame) -> Result<()> {
        self.sender.send(frame).await
    }

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.sender.send_text(text).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// See [`ReconnectingSender::send`].
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.sender.send_binary(bytes).await
    }

    /// Serializes and sends `value`.
    ///
    /// # Errors
    ///
    /// An encode error, else see [`ReconnectingSender::send`].
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.sender.send_serialized(value).await
    }

    /// Sends one message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// An encode error, else see [`ReconnectingSender::send`].
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        self.sender.send_message(message).await
    }

    /// The next data frame from whichever connection is live; `None` once the session is
    /// closed for good.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn receive(&mut self) -> Option<Frame> {
        self.incoming.recv().await
    }

    /// The next data frame, deserialized with the current connection's converter.
    ///
    /// # Errors
    ///
    /// `Decode` (frame kept, the session goes on) or `Closed` once over.
    pub async fn receive_deserialized<T: DeserializeOwned>(&mut self) -> Result<T> {
        let frame = self.next_frame().await?;
        self.sender
            .shared
            .converter()
            .deserialize(&frame)
            .map_err(|e| Error::decode(e, frame))
    }

    /// The next message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// As [`receive_deserialized`](Self::receive_deserialized).
    pub async fn receive_message<M: Message>(&mut self) -> Result<M> {
        let frame = self.next_frame().await?;
        M::decode(&*self.sender.shared.converter(), &frame).map_err(|e| Error::decode(e, frame))
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        match self.incoming.recv().await {
            Some(frame) => Ok(frame),
            None => Err(Error::closed(self.sender.shared.outcome.borrow().clone())),
        }
    }

    /// The lifecycle events, from the session's start (the first call) or from now (later
    /// calls). Events are kept for a slow reader up to 256; older ones are skipped.
    pub fn events(&mut self) -> Pin<Box<dyn Stream<Item = Event> + Send + 'static>> {
        let rx = self
            .events
            .take()
            .unwrap_or_else(|| self.events_tx.subscribe());
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(event) => return Some((event, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }))
    }

    /// Closes the current connection with `reason` and stops reconnecting.
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        self.sender.close(reason).await
    }

    /// The final reason, once the session is over for good; waits until then.
    pub async fn close_reason(&self) -> CloseReason {
        self.sender.close_reason().await
    }
}

/// The sending handle of a [`ReconnectingSession`]: cheap to clone, valid across reconnects.
pub struct ReconnectingSender<C = crate::Json> {
    shared: Arc<Shared<C>>,
    control: mpsc::Sender<CloseReason>,
}

impl<C> Clone for ReconnectingSender<C> {
    fn clone(&self) -> Self {
        ReconnectingSender {
            shared: Arc::clone(&self.shared),
            control: self.control.clone(),
        }
    }
}

impl<C> fmt::Debug for ReconnectingSender<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingSender").finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ReconnectingSender<C> {
    /// Sends a data frame on the live connection; while disconnected, applies the
    /// [`Outbox`] policy. With [`Outbox::Buffer`], frames the connection accepted but had not
    /// written when it died are replayed too; frames already written to a socket that then
    /// died are lost with it (there are no acknowledgements).
    ///
    /// # Errors
    ///
    /// `Closed` once the session is over, or while disconnected with [`Outbox::Fail`], or
    /// when the [`Outbox::Buffer`] is full.
    pub async fn send(&self, frame: Frame) -> Result<()> {
        let mut frame = frame;
        loop {
            let live = {
                let mut state = self.shared.lock();
                match &state.link {
                    Link::Up(sender) => sender.clone(),
                    Link::Closed(reason) => return Err(Error::closed(Some(reason.clone()))),
                    Link::Down => return self.while_down(&mut state, frame),
                }
            };
            match live.send_or_return(frame).await {
                Ok(()) => return Ok(()),
                // the connection died under us: mark it down unless the supervisor already
                // replaced it, then apply the outbox policy to this frame
                Err(returned) => {
                    frame = returned;
                    let mut state = self.shared.lock();
                    if let Link::Up(current) = &state.link
                        && current.is_closed()
                    {
                        state.link = Link::Down;
                    }
                }
            }
        }
    }

    fn while_down(&self, state: &mut State<C>, frame: Frame) -> Result<()> {
        match self.shared.outbox {
            Outbox::Fail => Err(Error::new(
                ErrorKind::Closed,
                "disconnected and reconnecting; the outbox policy is Fail (choose Outbox::Buffer to keep messages)",
            )),
            Outbox::Drop => Ok(()),
            Outbox::Buffer { max_messages } if state.buffer.len() < max_messages => {
                state.buffer.push_back(frame);
                Ok(())
            }
            Outbox::Buffer { max_messages } => Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "disconnected and the outbox is full ({max_messages} messages, max_messages)"
                ),
            )),
        }
    }

    /// Sends a Text frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.send(Frame::Text(text.into())).await
    }

    /// Sends a Binary frame.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_binary(&self, bytes: impl Into<Bytes>) -> Result<()> {
        self.send(Frame::Binary(bytes.into())).await
    }

    /// Serializes and sends `value` with the current connection's converter.
    ///
    /// # Errors
    ///
    /// An encode error, else as [`send`](Self::send).
    pub async fn send_serialized<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let frame = self
            .shared
            .converter()
            .serialize(value)
            .map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Sends one message of a [`Message`] protocol.
    ///
    /// # Errors
    ///
    /// An encode error, else as [`send`](Self::send).
    pub async fn send_message<M: Message>(&self, message: impl Into<M>) -> Result<()> {
        let frame = message
            .into()
            .encode(&*self.shared.converter())
            .map_err(Error::encode)?;
        self.send(frame).await
    }

    /// Closes the session for good; see [`ReconnectingSession::close`].
    ///
    /// # Errors
    ///
    /// None today.
    pub async fn close(&self, reason: CloseReason) -> Result<()> {
        // a full queue means a close is already asked for; a closed one, that it is over
        let _ = self.control.try_send(reason);
        self.close_reason().await;
        Ok(())
    }

    /// The final reason, once the session is over for good; waits until then.
    pub async fn close_reason(&self) -> CloseReason {
        let mut rx = self.shared.outcome.subscribe();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                return CloseReason::new(CloseCode::ABNORMAL, "reconnecting session stopped");
            }
        }
    }
}

struct Supervisor<C> {
    client: Client<C>,
    request: RequestFn,
    policy: Arc<dyn ReconnectPolicy>,
    classify: Option<ClassifyFn>,
    on_connect: Option<HookFn<C>>,
    shared: Arc<Shared<C>>,
    events: broadcast::Sender<Event>,
    incoming: mpsc::Sender<Frame>,
    control: mpsc::Receiver<CloseReason>,
    first: Option<oneshot::Sender<Result<()>>>,
}

/// How one connection's life ended.
enum End {
    /// Reconnect (policy permitting) because of this.
    Retry(Cause, Option<Error>),
    /// The user closed the session with this reason.
    User(CloseReason),
}

impl<C: ContentConverter> Supervisor<C> {
    fn emit(&self, event: Event) {
        debug!(?event, "reconnecting session");
        let _ = self.events.send(event);
    }

    fn finish(&mut self, reason: CloseReason, error: Option<Error>) {
        self.shared.lock().link = Link::Closed(reason.clone());
        if let Some(first) = self.first.take() {
            let _ = first.send(Err(
                error.unwrap_or_else(|| Error::closed(Some(reason.clone())))
            ));
        }
        self.emit(Event::Closed {
            reason: reason.clone(),
        });
        self.shared.outcome.send_replace(Some(reason));
    }

    async fn run(mut self) {
        // 0: the first connection; n >= 1: the n-th retry since the last live connection
        let mut attempt: u32 = 0;
        let mut since = Instant::now();
        loop {
            self.emit(Event::Connecting { attempt });
            let (cause, error) = match self.connection(attempt, &mut since).await {
                End::User(reason) => return self.finish(reason, None),
                End::Retry(cause, error) => (cause, error),
            };
            let retry = match &self.classify {
                Some(classify) => classify(&cause),
                None => self.policy.should_reconnect(&cause),
            };
            if !retry {
                return self.finish(cause.into_reason(), error);
            }
            if matches!(cause, Cause::Closed(_)) {
                // the connection was live until now: a new streak of retries starts, and the
                // policy's elapsed time counts from this loss
                attempt = 0;
                since = Instant::now();
            }
            attempt += 1;
            let Some(delay) = self.policy.next_delay(attempt, since.elapsed()) else {
                return self.finish(cause.into_reason(), error);
            };
            self.emit(Event::Reconnecting {
                attempt,
                delay,
                cause,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                reason = self.control.recv() => {
                    return self.finish(reason.unwrap_or_else(|| CloseReason::normal("")), None);
                }
            }
        }
    }

    /// One connection: connect, hook, replay, pump until it ends.
    async fn connection(&mut self, attempt: u32, since: &mut Instant) -> End {
        let connect = async {
            let request = (self.request)(attempt).await?;
            self.client.web_socket_session(request).await
        };
        let session = tokio::select! {
            result = connect => result,
            reason = self.control.recv() => return End::User(reason.unwrap_or_else(|| CloseReason::normal(""))),
        };
        let session = match session {
            Ok(session) => session,
            Err(e) => {
                let cause = Cause::from_error(&e);
                return End::Retry(cause, Some(e));
            }
        };
        let (sender, mut receiver) = session.split();
        if let Some(hook) = &self.on_connect {
            let hook = hook(sender.clone());
            let result = tokio::select! {
                result = hook => result,
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            };
            if let Err(e) = result {
                if sender.is_closed() {
                    // the connection ended under the hook: classify its real ending
                    let reason = receiver.close_reason().await;
                    return End::Retry(Cause::Closed(reason), Some(e));
                }
                let _ = sender
                    .close(CloseReason::internal_error("on_connect hook failed"))
                    .await;
                let cause = Cause::from_error(&e);
                return End::Retry(cause, Some(e));
            }
        }
        if let Ok(mut converter) = self.shared.converter.lock() {
            *converter = sender.converter_arc();
        }
        // replay the outbox in order; new sends keep queueing behind it until it is empty
        loop {
            let next = {
                let mut state = self.shared.lock();
                match state.buffer.pop_front() {
                    Some(frame) => frame,
                    None => {
                        state.link = Link::Up(sender.clone());
                        break;
                    }
                }
            };
            let sent = tokio::select! {
                sent = sender.send_or_return(next) => sent,
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            };
            if let Err(frame) = sent {
                self.shared.lock().buffer.push_front(frame);
                let reason = receiver.close_reason().await;
                self.keep_unsent(&sender);
                return End::Retry(Cause::Closed(reason), None);
            }
        }
        *since = Instant::now();
        self.emit(Event::Connected { attempt });
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        loop {
            tokio::select! {
                item = receiver.receive() => match item {
                    Some(Ok(frame)) => {
                        tokio::select! {
                            sent = self.incoming.send(frame) => if sent.is_err() {
                                // nobody reads any more: keep the connection for the senders
                            },
                            reason = self.control.recv() => {
                                return self.user_close(&sender, reason).await;
                            }
                        }
                    }
                    Some(Err(_)) => {}
                    None => break,
                },
                reason = self.control.recv() => return self.user_close(&sender, reason).await,
            }
        }
        {
            let mut state = self.shared.lock();
            if matches!(state.link, Link::Up(_)) {
                state.link = Link::Down;
            }
        }
        let reason = receiver.close_reason().await;
        self.keep_unsent(&sender);
        End::Retry(Cause::Closed(reason), None)
    }

    /// With [`Outbox::Buffer`], frames the dead connection accepted but never wrote go back to
    /// the front of the outbox, in order, ahead of what was sent after the link went down.
    fn keep_unsent(&self, sender: &Sender<C>) {
        let unsent = sender.take_unsent();
        if unsent.is_empty() || !matches!(self.shared.outbox, Outbox::Buffer { .. }) {
            return;
        }
        debug!(
            frames = unsent.len(),
            "keeping frames the lost connection never wrote"
        );
        let mut state = self.shared.lock();
        for frame in unsent.into_iter().rev() {
            state.buffer.push_front(frame);
        }
    }

    async fn user_close(&mut self, sender: &Sender<C>, reason: Option<CloseReason>) -> End {
        let reason = reason.unwrap_or_else(|| CloseReason::normal(""));
        self.shared.lock().link = Link::Closed(reason.clone());
        let _ = sender.close(reason.clone()).await;
        End::User(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_capped_exponential() {
        let policy =
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2)).seed(42);
        for attempt in 1..20 {
            let delay = policy.next_delay(attempt, Duration::ZERO).unwrap();
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
            assert!(
                delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
        }
        let a: Vec<_> = (1..6)
            .map(|n| policy.clone().seed(9).next_delay(n, Duration::ZERO))
            .collect();
        let b: Vec<_> = (1..6)
            .map(|n| policy.clone().seed(9).next_delay(n, Duration::ZERO))
            .collect();
        assert_eq!(a, b, "same seed, same delays");
        let distinct: std::collections::HashSet<_> = (0..50)
            .map(|_| policy.next_delay(5, Duration::ZERO))
            .collect();
        assert!(distinct.len() > 40, "jitter varies");
    }

    #[test]
    fn limits_give_up() {
        let policy = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1))
            .without_jitter()
            .max_attempts(3)
            .max_elapsed(Duration::from_secs(60));
        assert_eq!(
            policy.next_delay(1, Duration::ZERO),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            policy.next_delay(3, Duration::ZERO),
            Some(Duration::from_millis(40))
        );
        assert_eq!(policy.next_delay(4, Duration::ZERO), None);
        assert_eq!(policy.next_delay(2, Duration::from_secs(60)), None);
    }

    #[test]
    fn default_classification() {
        let closed = |code: u16| Cause::Closed(CloseReason::new(code, ""));
        assert!(closed(1006).is_transient());
        assert!(closed(1011).is_transient());
        assert!(closed(1012).is_transient());
        assert!(closed(1013).is_transient());
        assert!(!closed(1000).is_transient());
        assert!(!closed(1001).is_transient());
        assert!(!closed(4000).is_transient());
        let failed = |kind, status| Cause::ConnectFailed {
            kind,
            status,
            message: String::new(),
        };
        assert!(failed(ErrorKind::Connect, None).is_transient());
        assert!(failed(ErrorKind::Timeout, None).is_transient());
        assert!(failed(ErrorKind::Handshake, Some(503)).is_transient());
        assert!(!failed(ErrorKind::Handshake, Some(403)).is_transient());
        assert!(!failed(ErrorKind::Config, None).is_transient());
    }
}
