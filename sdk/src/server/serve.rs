//! [`Server::serve`]: the accept loop, with handshakes in their own tasks, caps on concurrent
//! handshakes and sessions, and a graceful shutdown.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::debug;
use typed_ws_converters::{CloseCode, CloseReason, ContentConverter};

use super::Server;
use crate::session::{Sender, Session};

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The accept loop [`Server::serve`] returns: configure it, then `.await` it.
///
/// Every accepted connection gets its own task: the handshake (TLS, when configured, then the
/// upgrade, each bounded by the connect timeout) and then the handler, so no client holds up
/// another. At most [`max_handshakes`](super::ServerBuilder::max_handshakes) handshakes run at
/// once (then the loop stops accepting until one ends) and at most
/// [`max_sessions`](super::ServerBuilder::max_sessions) sessions (a client arriving at the cap
/// is answered 503).
///
/// Awaiting it runs until the shutdown signal fires (or forever, without one) and returns
/// `Ok(())` after the graceful shutdown; it never returns for a single failed connection.
/// A session is tracked (and closed with 1001 at shutdown) while its handler runs: keep the
/// handler running for the session's life, as a read loop does.
///
/// # Errors
///
/// An [`io::Error`] wrapping the [`ErrorKind::Config`](crate::ErrorKind::Config) error when a
/// server setting is invalid; nothing is accepted then.
#[must_use = "a Serve does nothing until awaited"]
pub struct Serve<C, F> {
    server: Server<C>,
    listener: TcpListener,
    handler: F,
    shutdown: Option<Signal>,
    #[cfg(feature = "rustls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl<C, F> fmt::Debug for Serve<C, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener.local_addr().ok())
            .field("graceful_shutdown", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> Server<C> {
    /// Runs the accept loop over `listener`: each connection is upgraded in its own task and,
    /// once upgraded, handed to `handler` as a [`Session`]. See [`Serve`] for the limits and
    /// [`Serve::with_graceful_shutdown`] for stopping.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use typed_ws::server::Server;
    ///
    /// # async fn demo() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// Server::new()
    ///     .serve(listener, async |mut session: typed_ws::Session| {
    ///         while let Some(Ok(frame)) = session.receive().await {
    ///             let _ = session.send(frame).await;
    ///         }
    ///     })
    ///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
    ///     .await
    /// # }
    /// ```
    pub fn serve<F, Fut>(&self, listener: TcpListener, handler: F) -> Serve<C, F>
    where
        F: Fn(Session<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Serve {
            server: self.clone(),
            listener,
            handler,
            shutdown: None,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl<C, F, Fut> Serve<C, F>
where
    C: ContentConverter,
    F: Fn(Session<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Stops when `signal` completes: the loop stops accepting, handshakes in progress are
    /// dropped, every session is sent Close 1001 "going away", and the loop waits for the
    /// handlers to return, at most the server's
    /// [`close_timeout`](super::ServerBuilder::close_timeout) (then aborts them) before
    /// returning.
    ///
    /// Default: no signal (runs forever).
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Serves `wss://`: every connection is a TLS handshake (rustls, with `config`) before
    /// the upgrade.
    ///
    /// Default: plain `ws://`.
    #[cfg(feature = "rustls")]
    pub fn rustls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }

    async fn run(self) -> io::Result<()> {
        let Serve {
            server,
            listener,
            handler,
            shutdown,
            #[cfg(feature = "rustls")]
            tls,
        } = self;
        server.inner.settings.check().map_err(io::Error::other)?;
        let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        let handler = Arc::new(handler);
        let handshakes = Arc::new(Semaphore::new(server.inner.max_handshakes));
        let sessions = Arc::new(Semaphore::new(server.inner.max_sessions));
        let registry: Arc<Registry<C>> = Arc::new(Registry::default());
        let (stopping_tx, stopping) = watch::channel(false);
        let mut tasks = JoinSet::new();
        debug!(addr = ?listener.local_addr().ok(), "serving");

        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&handshakes).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                () = &mut shutdown => break,
            };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(e) => {
                        // out of file descriptors or similar: back off instead of spinning
                        debug!(error = %e, "accept failed; retrying shortly");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                            () = &mut shutdown => break,
                        }
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                () = &mut shutdown => break,
            };
            let connection = Connection {
                server: server.clone(),
                handler: Arc::clone(&handler),
                registry: Arc::clone(&registry),
                session_permit: Arc::clone(&sessions).try_acquire_owned().ok(),
                stopping: stopping.clone(),
                peer,
            };
            #[cfg(feature = "rustls")]
            let tls = tls.clone();
            tasks.spawn(async move {
                let _handshake_permit = permit;
                #[cfg(feature = "rustls")]
                if let Some(acceptor) = tls {
                    let timeout = connection.server.inner.settings.connect_timeout;
                    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => connection.run(stream, _handshake_permit).await,
                        Ok(Err(e)) => debug!(error = %e, "tls handshake failed"),
                        Err(_) => debug!("tls handshake timed out"),
                    }
                    return;
                }
                connection.run(tcp, _handshake_permit).await;
            });
        }

        drop(listener);
        let close_timeout = server.inner.settings.close_timeout;
        debug!(sessions = registry.len(), "shutting down");
        let _ = stopping_tx.send(true);
        let senders = registry.stop();
        let drained = async {
            let mut closes = JoinSet::new();
            for sender in senders {
                closes.spawn(async move {
                    let _ = sender.close(going_away()).await;
                });
            }
            while closes.join_next().await.is_some() {}
            while tasks.join_next().await.is_some() {}
        };
        if tokio::time::timeout(close_timeout, drained).await.is_err() {
            debug!("handlers still running after the close timeout: aborted");
        }
        tasks.shutdown().await;
        debug!("stopped");
        Ok(())
    }
}

impl<C, F, Fut> IntoFuture for Serve<C, F>
where
    C: ContentConverter,
    F: Fn(Session<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

fn going_away() -> CloseReason {
    CloseReason::new(CloseCode::GOING_AWAY, "going away")
}

/// Errors of one connection that `accept` reports; the listener is fine.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The senders of live sessions, to close them at shutdown.
struct Registry<C> {
    state: Mutex<RegistryState<C>>,
}

struct RegistryState<C> {
    next: u64,
    stopped: bool,
    senders: HashMap<u64, Sender<C>>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            state: Mutex::new(RegistryState {
                next: 0,
                stopped: false,
                senders: HashMap::new(),
            }),
        }
    }
}

impl<C> Registry<C> {
    /// Registers a session; `None` once the server is stopping.
    fn insert(&self, sender: Sender<C>) -> Option<u64> {
        let mut state = self.state.lock().ok()?;
        if state.stopped {
            return None;
        }
        let id = state.next;
        state.next += 1;
        state.senders.insert(id, sender);
        Some(id)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.senders.remove(&id);
        }
    }

    fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.senders.len())
    }

    /// Marks the server stopping and takes every live session's sender.
    fn stop(&self) -> Vec<Sender<C>> {
        match self.state.lock() {
            Ok(mut state) => {
                state.stopped = true;
                state.senders.drain().map(|(_, s)| s).collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// Removes a session from the registry when dropped.
struct Registered<C> {
    registry: Arc<Registry<C>>,
    id: u64,
}

impl<C> Drop for Registered<C> {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// One accepted connection's task state.
struct Connection<C, F> {
    server: Server<C>,
    handler: Arc<F>,
    registry: Arc<Registry<C>>,
    /// `None`: the server is at `max_sessions`, the client is answered 503.
    session_permit: Option<tokio::sync::OwnedSemaphorePermit>,
    stopping: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl<C, F, Fut> Connection<C, F>
where
    C: ContentConverter,
    F: Fn(Session<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    async fn run<S>(mut self, stream: S, handshake_permit: tokio::sync::OwnedSemaphorePermit)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let busy = self.session_permit.is_none();
        let upgrade = self.server.upgrade(stream, Some(self.peer), busy);
        let session = tokio::select! {
            result = upgrade => result,
            _ = self.stopping.wait_for(|stopping| *stopping) => return,
        };
        drop(handshake_permit);
        let session = match session {
            Ok(session) => session,
            Err(e) => {
                debug!(error = %format_args!("{e:#}"), "upgrade failed");
                return;
            }
        };
        let Some(id) = self.registry.insert(session.sender()) else {
            let _ = session.sender().close(going_away()).await;
            return;
        };
        // unregistered when the handler returns or panics: the registry's sender must not keep
        // a session alive that its handler has let go of
        let _registered = Registered {
            registry: Arc::clone(&self.registry),
            id,
        };
        (self.handler)(session).await;
    }
}
