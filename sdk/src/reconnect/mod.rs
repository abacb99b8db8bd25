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
//! while let Some(Ok(frame)) = session.receive().await {
//!     println!("{frame:?}");
//! }
//! println!("gave up or closed: {}", session.close_reason().await);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use typed_ws_converters::ContentConverter;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::frame::CloseReason;
use crate::request::{IntoRequest, Request};
use crate::session::Sender;

mod handle;
mod policy;
mod supervisor;

use handle::{Link, Shared, State};
pub use handle::{ReconnectingSender, ReconnectingSession};
pub use policy::{Backoff, Cause, ReconnectPolicy};
use supervisor::Supervisor;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type RequestFn = Arc<dyn Fn(u32) -> BoxFuture<Result<Request>> + Send + Sync>;
pub(crate) type HookFn<C> = Arc<dyn Fn(Sender<C>) -> BoxFuture<Result<()>> + Send + Sync>;
pub(crate) type ClassifyFn = Arc<dyn Fn(&Cause) -> bool + Send + Sync>;

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
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for bad input; the last connect error when the policy gives up
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
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for bad input.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime: the supervisor is a task spawned with `tokio::spawn` (as are
    /// every session's driver tasks). Call it from async code, or inside `Runtime::enter`.
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
                sink: crate::typed::SinkSlot::default(),
            },
            incoming: incoming_rx,
            events: Some(events_rx),
            events_tx,
            done: false,
        })
    }
}
