//! The server side: turns an accepted connection (or, with the `axum` feature, an axum route)
//! into the same typed [`Session`], so both ends of an application share one protocol.
//!
//! A [`Server`] holds the configuration: converter, session settings, subprotocols, the origin
//! check and the pre-upgrade hook. [`Server::serve`] runs the accept loop over a listener
//! (concurrent handshakes, caps, graceful shutdown); [`Server::accept`] upgrades one connection
//! you accepted yourself.
//!
//! ```no_run
//! use typed_ws::server::{Refusal, Server};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let server = Server::builder()
//!     .allowed_origins(["https://app.example.com"])
//!     .before_upgrade(|request| match request.query_param("token") {
//!         Some(token) if token == "secret" => Ok(Default::default()),
//!         _ => Err(Refusal::unauthorized("a token is required")),
//!     })
//!     .build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server
//!     .serve(listener, async |mut session: typed_ws::Session| {
//!         while let Some(Ok(frame)) = session.receive().await {
//!             if session.send(frame).await.is_err() {
//!                 break; // echo until the client leaves
//!             }
//!         }
//!     })
//!     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
//!     .await
//! # }
//! ```
//!
//! Malformed upgrades get the RFC's HTTP answer and the connection is closed: 400 (bad or
//! missing `Sec-WebSocket-Key`, `Connection`, `Host`), 405 (not a GET), 414 (request line over
//! [`max_request_head`](ServerBuilder::max_request_head)), 426 with `Sec-WebSocket-Version: 13`
//! (a plain GET, an unsupported version), 431 (too many headers, head too large), 505 (not
//! HTTP/1.1). No request header, query or token is ever logged.

#[cfg(feature = "axum")]
mod axum;
mod handshake;
mod hook;
mod serve;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{Instrument, debug, debug_span};
use typed_ws_converters::{ContentConverter, ConverterSet};

use crate::error::{Error, ErrorKind, Result};
use crate::handshake::Handshake;
use crate::session::Session;
use crate::settings::{Settings, compression_setter, session_setters};
use crate::{Json, start_session};

#[cfg(feature = "axum")]
pub use self::axum::WebSocketUpgrade;
pub(crate) use self::hook::ConnectionData;
pub use self::hook::{Accepted, Refusal, RefusalBody, UpgradeRequest};
pub use self::serve::Serve;
use handshake::{DEFAULT_MAX_REQUEST_HEAD, DEFAULT_MAX_REQUEST_HEADERS, Policy};

/// Default cap on concurrent sessions of [`Server::serve`].
const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default cap on concurrent handshakes of [`Server::serve`].
const DEFAULT_MAX_HANDSHAKES: usize = 256;

/// Accepts WebSocket upgrades and runs each as a [`Session`] with the same driver as the
/// client: pinger, bounded queues, close handshake.
///
/// `Server` is a cheap [`Clone`] (an `Arc` inside): share it, do not wrap it in another `Arc`.
pub struct Server<C = Json> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    converter: Arc<C>,
    negotiation: Option<Arc<dyn ConverterSet<Converter = C>>>,
    settings: Arc<Settings>,
    policy: Policy,
    max_sessions: usize,
    max_handshakes: usize,
}

impl<C> Clone for Server<C> {
    fn clone(&self) -> Self {
        Server {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Server<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("converter", &self.inner.converter)
            .field("subprotocols", &self.inner.policy.subprotocols)
            .field("allowed_origins", &self.inner.policy.origins)
            .field("before_upgrade", &self.inner.policy.hook.is_some())
            .field("max_sessions", &self.inner.max_sessions)
            .field("max_handshakes", &self.inner.max_handshakes)
            .finish_non_exhaustive()
    }
}

impl Server<Json> {
    /// A server with every default (JSON, pings every 20 s, no subprotocols, any origin).
    pub fn new() -> Self {
        Server::builder().build()
    }

    /// A builder to configure a server.
    pub fn builder() -> ServerBuilder<Json> {
        ServerBuilder {
            converter: Json::default(),
            negotiation: None,
            // a server ends TCP first once the close handshake is over (RFC 6455 7.1.1)
            settings: Settings {
                server: true,
                ..Settings::default()
            },
            policy: Policy {
                max_request_head: DEFAULT_MAX_REQUEST_HEAD,
                max_request_headers: DEFAULT_MAX_REQUEST_HEADERS,
                ..Policy::default()
            },
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
        }
    }
}

impl Default for Server<Json> {
    fn default() -> Self {
        Server::new()
    }
}

/// Configures a [`Server`]; the session setters mean the same as on the client.
#[must_use]
pub struct ServerBuilder<C = Json> {
    converter: C,
    negotiation: Option<Arc<dyn ConverterSet<Converter = C>>>,
    settings: Settings,
    policy: Policy,
    max_sessions: usize,
    max_handshakes: usize,
}

impl<C: fmt::Debug> fmt::Debug for ServerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("converter", &self.converter)
            .field("settings", &self.settings)
            .field("subprotocols", &self.policy.subprotocols)
            .field("allowed_origins", &self.policy.origins)
            .field("before_upgrade", &self.policy.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: ContentConverter> ServerBuilder<C> {
    /// The converter of accepted sessions.
    ///
    /// Default: [`Json`].
    pub fn converter<C2: ContentConverter>(self, converter: C2) -> ServerBuilder<C2> {
        ServerBuilder {
            converter,
            negotiation: None,
            settings: self.settings,
            policy: Policy {
                negotiating: false,
                ..self.policy
            },
            max_sessions: self.max_sessions,
            max_handshakes: self.max_handshakes,
        }
    }

    /// Speaks several converters, one per subprotocol, in order of preference: the first
    /// offer the client also offers is selected and the session uses its converter. A client
    /// that offers none of them is refused with 400 and a body naming the supported ones.
    /// Replaces [`subprotocols`](Self::subprotocols).
    ///
    /// Default: no negotiation.
    pub fn negotiate<S: ConverterSet>(self, offers: S) -> ServerBuilder<S::Converter> {
        ServerBuilder {
            converter: offers.first(),
            policy: Policy {
                subprotocols: offers.names(),
                negotiating: true,
                ..self.policy
            },
            negotiation: Some(Arc::new(offers)),
            settings: self.settings,
            max_sessions: self.max_sessions,
            max_handshakes: self.max_handshakes,
        }
    }

    session_setters!();

    compression_setter!();

    /// The subprotocols this server speaks, in order of preference. The first of these that
    /// the client offers is selected; a client that offers only others is still accepted,
    /// without a subprotocol.
    ///
    /// Default: none.
    pub fn subprotocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.policy
            .subprotocols
            .extend(protocols.into_iter().map(Into::into));
        self
    }

    /// Browser origins allowed to connect, such as `"https://app.example.com"` (scheme, host
    /// and port as the browser sends them in `Origin`; compared ASCII case-insensitively). A
    /// request whose `Origin` is not listed is refused with 403 "origin not allowed" before
    /// the upgrade. A request without `Origin` comes from a non-browser client and is let
    /// through: authenticate those in [`before_upgrade`](Self::before_upgrade). Runs before
    /// the hook. Calling it again adds origins.
    ///
    /// Default: any origin (a browser page on any site can connect).
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = self.policy.origins.get_or_insert_with(Vec::new);
        for origin in origins {
            let origin: String = origin.into();
            if origin.contains(['\r', '\n']) || !origin.contains("://") {
                self.settings.invalid(format!(
                    "allowed_origins: {origin:?} is not an origin like \"https://example.com\""
                ));
            }
            list.push(origin);
        }
        self
    }

    /// The pre-upgrade hook: called for every valid upgrade request (after the RFC checks,
    /// subprotocol selection and the origin check) with the method, path, query, headers
    /// and peer address. `Ok(Accepted)` upgrades, optionally attaching per-connection data
    /// (a user id from a token) that the session reads with
    /// [`Handshake::data`](crate::Handshake::data); `Err(Refusal)` answers with the refusal's
    /// status, headers and body instead of 101 and closes the connection.
    ///
    /// It runs inside the handshake, bounded by [`connect_timeout`](Self::connect_timeout):
    /// keep it quick (no blocking I/O). Calling it again replaces the hook.
    ///
    /// Default: none (every valid upgrade is accepted).
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws::server::{Accepted, Refusal, Server};
    ///
    /// struct UserId(u64);
    ///
    /// let server = Server::builder()
    ///     .before_upgrade(|request| {
    ///         let token = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    ///         match token {
    ///             Some("token-of-7") => Ok(Accepted::new().data(UserId(7))),
    ///             _ => Err(Refusal::unauthorized("bad token").header("WWW-Authenticate", "Bearer")),
    ///         }
    ///     })
    ///     .build();
    /// // in the session handler: session.handshake().data::<UserId>()
    /// # let _ = server;
    /// ```
    pub fn before_upgrade<F>(mut self, hook: F) -> Self
    where
        F: Fn(&UpgradeRequest) -> std::result::Result<Accepted, Refusal> + Send + Sync + 'static,
    {
        self.policy.hook = Some(Arc::new(hook));
        self
    }

    /// The largest upgrade request head (request line and headers) read; a longer request
    /// line is answered with 414, a larger head with 431.
    ///
    /// Default: 16 KiB.
    pub fn max_request_head(mut self, bytes: usize) -> Self {
        if bytes < 64 {
            self.settings
                .invalid("max_request_head must be at least 64 bytes".into());
        }
        self.policy.max_request_head = bytes;
        self
    }

    /// The most request headers read; more are answered with 431.
    ///
    /// Default: 64.
    pub fn max_request_headers(mut self, count: usize) -> Self {
        if count < 8 {
            self.settings
                .invalid("max_request_headers must be at least 8 (an upgrade has 6)".into());
        }
        self.policy.max_request_headers = count;
        self
    }

    /// The most concurrent sessions [`Server::serve`] runs; a client arriving at the cap is
    /// answered 503 with `Retry-After: 1`.
    ///
    /// Default: 10,000.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        if sessions == 0 {
            self.settings
                .invalid("max_sessions must be at least 1".into());
        }
        self.max_sessions = sessions;
        self
    }

    /// The most concurrent handshakes (TLS and upgrade) [`Server::serve`] runs; at the cap it
    /// stops accepting until one finishes (the kernel's backlog holds the rest). Each
    /// handshake is bounded by [`connect_timeout`](Self::connect_timeout).
    ///
    /// Default: 256.
    pub fn max_handshakes(mut self, handshakes: usize) -> Self {
        if handshakes == 0 {
            self.settings
                .invalid("max_handshakes must be at least 1".into());
        }
        self.max_handshakes = handshakes;
        self
    }

    /// The server.
    pub fn build(mut self) -> Server<C> {
        if let Some(negotiation) = &self.negotiation {
            let names = negotiation.names();
            if self.policy.subprotocols.iter().any(|p| !names.contains(p)) {
                self.settings.invalid(
                    "subprotocols() cannot add names to negotiate(): every subprotocol needs a converter; offer them all in negotiate()".into(),
                );
            }
            self.policy.subprotocols = names;
        }
        self.policy.compression = self.settings.compression.clone();
        Server {
            inner: Arc::new(Inner {
                converter: Arc::new(self.converter),
                negotiation: self.negotiation,
                settings: Arc::new(self.settings),
                policy: self.policy,
                max_sessions: self.max_sessions,
                max_handshakes: self.max_handshakes,
            }),
        }
    }
}

impl<C: ContentConverter> Server<C> {
    /// Reads the upgrade request from `stream`, answers 101 and returns the session. A
    /// malformed request, or one the origin check or the pre-upgrade hook refuses, gets an
    /// HTTP answer (see the [module docs](self)) and the connection is closed.
    ///
    /// The hook sees no peer address; use [`accept_from`](Self::accept_from) to give it one.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for a bad server setting (or a bad refusal from the hook: the
    /// client got 500), [`ErrorKind::Handshake`] when the request was refused (the client got
    /// the answer [`Error::response`] holds) or the client left, [`ErrorKind::Timeout`] when no
    /// whole request arrived within the connect timeout.
    pub async fn accept<S>(&self, stream: S) -> Result<Session<C>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.upgrade(stream, None, false).await
    }

    /// [`accept`](Self::accept), telling the pre-upgrade hook the peer's address.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub async fn accept_from<S>(&self, stream: S, peer_addr: SocketAddr) -> Result<Session<C>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.upgrade(stream, Some(peer_addr), false).await
    }

    /// The handshake, then the session. `busy`: answer 503 (the session cap is reached).
    pub(crate) async fn upgrade<S>(
        &self,
        stream: S,
        peer_addr: Option<SocketAddr>,
        busy: bool,
    ) -> Result<Session<C>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let settings = &self.inner.settings;
        settings.check()?;
        let span = debug_span!("typed_ws.accept");
        let (ws, handshake) = handshake::server(
            stream,
            peer_addr,
            &self.inner.policy,
            settings.websocket_config(),
            busy,
            settings.connect_timeout,
            settings.close_timeout,
        )
        .instrument(span.clone())
        .await?;
        span.in_scope(|| debug!(path = %crate::request::redact_path(&handshake.path), subprotocol = ?handshake.subprotocol, "accepted"));
        self.start(ws, handshake, span)
    }

    /// Runs a handshaken socket as a session with this server's converter and settings.
    fn start<S>(
        &self,
        ws: tokio_tungstenite::WebSocketStream<S>,
        handshake: Handshake,
        span: tracing::Span,
    ) -> Result<Session<C>>
    where
        S: AsyncRead + AsyncWrite + crate::deflate::Transport + Unpin + Send + 'static,
    {
        let converter = match &self.inner.negotiation {
            None => Arc::clone(&self.inner.converter),
            Some(negotiation) => handshake
                .subprotocol()
                .and_then(|p| negotiation.select(p))
                .map(Arc::new)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Handshake,
                        "no converter for the selected subprotocol",
                    )
                })?,
        };
        Ok(start_session(
            ws,
            converter,
            Arc::clone(&self.inner.settings),
            false,
            handshake,
            span,
        ))
    }

    /// The server's converter.
    pub fn converter(&self) -> &C {
        &self.inner.converter
    }
}
