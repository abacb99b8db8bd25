//! The client: configuration ("the plugin") and every connection form.

use std::fmt;
use std::sync::Arc;

use tokio::net::TcpStream;
use tracing::{Instrument, debug, debug_span};
use typed_ws_converters::{ContentConverter, ConverterSet};

use crate::error::{Deferred, Error, ErrorKind, Result};
use crate::frame::CloseReason;
use crate::handshake::Handshake;
use crate::proxy::Proxy;
use crate::request::{IntoRequest, Request, Scheme};
use crate::session::Session;
use crate::settings::{Settings, compression_setter, session_setters};
use crate::stream::MaybeTls;
use crate::tls::{Connector, TlsSettings, pem_to_der};
use crate::{Json, start_session};

/// A WebSocket client: the configuration shared by every session it opens, and the connection
/// functions of Ktor's client (`web_socket`, `web_socket_session`, `ws`, `wss`, raw sessions).
///
/// `Client` is a cheap [`Clone`] (an `Arc` inside): share it, don't wrap it in another `Arc`.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use typed_ws::{Client, MessagePack};
///
/// # async fn demo() -> typed_ws::Result<()> {
/// let client = Client::builder()
///     .converter(MessagePack::default())
///     .ping_interval(Duration::from_secs(20))
///     .build();
/// client
///     .web_socket("ws://127.0.0.1:8080/echo", async |session| {
///         session.send_serialized(&("hello", 1)).await?;
///         let reply: (String, u32) = session.receive_deserialized().await?;
///         println!("{reply:?}");
///         Ok::<_, typed_ws::Error>(())
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub struct Client<C = Json> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    converter: Arc<C>,
    negotiation: Option<Arc<dyn ConverterSet<Converter = C>>>,
    settings: Arc<Settings>,
    tls: std::result::Result<Connector, Deferred>,
    proxy: ProxyChoice,
}

/// Where the client's connections go first.
#[derive(Clone, Debug, Default)]
enum ProxyChoice {
    /// Straight to the server.
    #[default]
    Direct,
    /// Through this proxy.
    Fixed(Proxy),
    /// As `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` say at connect time.
    FromEnv,
}

impl<C> Clone for Client<C> {
    fn clone(&self) -> Self {
        Client {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("converter", &self.inner.converter)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Client<Json> {
    /// A client with every default: JSON, pings every 20 s.
    pub fn new() -> Self {
        Client::builder().build()
    }

    /// A builder to configure a client (Ktor's `install(WebSockets) { … }`).
    pub fn builder() -> ClientBuilder<Json> {
        ClientBuilder {
            converter: Json::default(),
            negotiation: None,
            settings: Settings::default(),
            tls: TlsSettings::default(),
            proxy: ProxyChoice::Direct,
        }
    }
}

impl Default for Client<Json> {
    fn default() -> Self {
        Client::new()
    }
}

/// Configures a [`Client`]. Bad input is remembered and reported once, by the first connection
/// call, never by a panic mid-chain.
#[must_use]
pub struct ClientBuilder<C = Json> {
    converter: C,
    negotiation: Option<Arc<dyn ConverterSet<Converter = C>>>,
    settings: Settings,
    tls: TlsSettings,
    proxy: ProxyChoice,
}

impl<C: fmt::Debug> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("converter", &self.converter)
            .field("negotiated", &self.negotiation.is_some())
            .field("settings", &self.settings)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl<C: ContentConverter> ClientBuilder<C> {
    /// The converter for `send_serialized`/`receive_deserialized` and typed messages.
    ///
    /// Default: [`Json`].
    pub fn converter<C2: ContentConverter>(self, converter: C2) -> ClientBuilder<C2> {
        ClientBuilder {
            converter,
            negotiation: None,
            settings: self.settings,
            tls: self.tls,
            proxy: self.proxy,
        }
    }

    /// Offers several converters by subprotocol name and uses, in each session, the one the
    /// server selects: `Offer::new("v1.json", Json::default()).or("v1.msgpack",
    /// MessagePack::default())`. The session's converter is a [`Chosen`](crate::Chosen) enum,
    /// so dispatch stays static. A server that selects none of them is a handshake error.
    /// The offers are sent as `Sec-WebSocket-Protocol`; requests must not set subprotocols of
    /// their own.
    ///
    /// Default: no negotiation (the one converter set with [`converter`](Self::converter)).
    pub fn negotiate<S: ConverterSet>(self, offers: S) -> ClientBuilder<S::Converter> {
        ClientBuilder {
            converter: offers.first(),
            negotiation: Some(Arc::new(offers)),
            settings: self.settings,
            tls: self.tls,
            proxy: self.proxy,
        }
    }

    session_setters!();

    compression_setter!();

    /// Connects through a proxy: `http://[user:pass@]host:port` (HTTP CONNECT, basic auth) or
    /// `socks5://[user:pass@]host:port` (`socks5h://` lets the proxy resolve names), for ws and
    /// wss alike. Credentials are never logged.
    ///
    /// Default: no proxy.
    pub fn proxy(mut self, url: &str) -> Self {
        match Proxy::parse(url) {
            Ok(proxy) => self.proxy = ProxyChoice::Fixed(proxy),
            Err(e) => self.settings.invalid_error(e),
        }
        self
    }

    /// Takes the proxy from `HTTPS_PROXY` (wss) / `HTTP_PROXY` (ws) / `ALL_PROXY`, skipping
    /// hosts listed in `NO_PROXY`, read at each connect.
    ///
    /// Default: `false` (the environment is ignored unless you opt in).
    pub fn proxy_from_env(mut self, enabled: bool) -> Self {
        if enabled {
            self.proxy = ProxyChoice::FromEnv;
        } else if matches!(self.proxy, ProxyChoice::FromEnv) {
            self.proxy = ProxyChoice::Direct;
        }
        self
    }

    /// Trusts an extra root certificate (DER) for `wss://`, on top of the webpki roots.
    ///
    /// Default: the webpki roots only.
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_roots_der.push(der.into());
        self
    }

    /// Trusts the root certificates in a PEM file's text for `wss://`.
    ///
    /// Default: the webpki roots only.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        match pem_to_der(pem.as_ref()) {
            Ok(ders) => self.tls.extra_roots_der.extend(ders),
            Err(e) => self
                .settings
                .invalid(format!("invalid root certificate PEM: {e}")),
        }
        self
    }

    /// Whether the built-in webpki roots are trusted besides those added with
    /// `add_root_certificate_*`; `false` trusts only the added ones.
    ///
    /// Default: `true`.
    pub fn tls_built_in_roots(mut self, enabled: bool) -> Self {
        self.tls.only_extra_roots = !enabled;
        self
    }

    /// A complete rustls client configuration for `wss://` (client certificates, custom
    /// verifiers, ALPN…); it replaces the root settings above.
    ///
    /// Default: rustls with the ring provider, TLS 1.2 and 1.3, webpki roots.
    #[cfg(feature = "rustls")]
    pub fn rustls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls.rustls = Some(config);
        self
    }

    /// Uses the platform's TLS (native-tls) with this connector for `wss://`.
    ///
    /// Default: rustls when that feature is on.
    #[cfg(feature = "native-tls")]
    pub fn native_tls_connector(
        mut self,
        connector: tokio_native_tls::native_tls::TlsConnector,
    ) -> Self {
        self.tls.native = Some(connector);
        self
    }

    /// The client.
    pub fn build(self) -> Client<C> {
        let tls = self.tls.connector().map_err(Deferred::new);
        Client {
            inner: Arc::new(Inner {
                converter: Arc::new(self.converter),
                negotiation: self.negotiation,
                settings: Arc::new(self.settings),
                tls,
                proxy: self.proxy,
            }),
        }
    }
}

impl<C: ContentConverter> Client<C> {
    /// Opens a session, runs `handler` with it, then closes it: 1000 when the handler returns
    /// `Ok`, 1011 with the error's text when it returns `Err` (and returns that error). The
    /// text is the error's `{:#}`: a `typed_ws::Error` (or an `anyhow::Error`) with its causes.
    /// Ktor's `webSocket { … }`.
    ///
    /// # Errors
    ///
    /// A connection error (see [`web_socket_session`](Client::web_socket_session)), or the
    /// handler's error.
    pub async fn web_socket<R, F, T, E>(&self, request: R, handler: F) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        scoped(self.web_socket_session(request).await?, handler).await
    }

    /// Alias of [`web_socket`](Client::web_socket) (Ktor's `ws`).
    ///
    /// # Errors
    ///
    /// As [`web_socket`](Client::web_socket).
    pub async fn ws<R, F, T, E>(&self, request: R, handler: F) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        self.web_socket(request, handler).await
    }

    /// As [`web_socket`](Client::web_socket), over TLS whatever the request's scheme (a `ws`
    /// request without a port goes to 443). Ktor's `wss`.
    ///
    /// # Errors
    ///
    /// As [`web_socket`](Client::web_socket); [`ErrorKind::Tls`] when no TLS support is
    /// compiled in.
    pub async fn wss<R, F, T, E>(&self, request: R, handler: F) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        let request = force_tls(request.into_request()?);
        self.web_socket(request, handler).await
    }

    /// As [`web_socket`](Client::web_socket) with a raw session (see
    /// [`web_socket_raw_session`](Client::web_socket_raw_session)): no pinger, and Ping, Pong
    /// and Close frames reach the handler. Closed the same way when the handler returns.
    /// Ktor's `webSocketRaw`.
    ///
    /// # Errors
    ///
    /// As [`web_socket`](Client::web_socket).
    pub async fn web_socket_raw<R, F, T, E>(
        &self,
        request: R,
        handler: F,
    ) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        scoped(self.web_socket_raw_session(request).await?, handler).await
    }

    /// Alias of [`web_socket_raw`](Client::web_socket_raw) (Ktor's `wsRaw`).
    ///
    /// # Errors
    ///
    /// As [`web_socket`](Client::web_socket).
    pub async fn ws_raw<R, F, T, E>(&self, request: R, handler: F) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        self.web_socket_raw(request, handler).await
    }

    /// As [`web_socket_raw`](Client::web_socket_raw), over TLS whatever the request's scheme
    /// (Ktor's `wssRaw`).
    ///
    /// # Errors
    ///
    /// As [`wss`](Client::wss).
    pub async fn wss_raw<R, F, T, E>(&self, request: R, handler: F) -> std::result::Result<T, E>
    where
        R: IntoRequest,
        F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        let request = force_tls(request.into_request()?);
        self.web_socket_raw(request, handler).await
    }

    /// Opens a session and hands it over; the caller closes it (or drops it, which sends 1000).
    /// Ktor's `webSocketSession`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for bad input, [`ErrorKind::Connect`] when TCP fails,
    /// [`ErrorKind::Tls`], [`ErrorKind::Handshake`] for a refused upgrade (status and headers
    /// in [`Error::response`]), [`ErrorKind::Timeout`] past the connect timeout.
    pub async fn web_socket_session(&self, request: impl IntoRequest) -> Result<Session<C>> {
        self.open(request.into_request()?, false).await
    }

    /// A raw session (Ktor's `webSocketRawSession`): no pinger, and Ping, Pong and Close
    /// frames are returned by `receive`. Pings are still answered and a peer's close is still
    /// echoed, as RFC 6455 requires.
    ///
    /// # Errors
    ///
    /// As [`web_socket_session`](Client::web_socket_session).
    pub async fn web_socket_raw_session(&self, request: impl IntoRequest) -> Result<Session<C>> {
        self.open(request.into_request()?, true).await
    }

    /// The client's converter.
    pub fn converter(&self) -> &C {
        &self.inner.converter
    }

    /// A session that reconnects after abnormal endings, per a [`ReconnectPolicy`]
    /// (exponential backoff with full jitter by default), with lifecycle events, an
    /// `on_connect` hook and an explicit [`Outbox`](crate::Outbox) policy. Finish with
    /// [`connect`](crate::ReconnectBuilder::connect).
    ///
    /// [`ReconnectPolicy`]: crate::ReconnectPolicy
    pub fn reconnecting(&self, request: impl IntoRequest) -> crate::ReconnectBuilder<C> {
        crate::ReconnectBuilder::new(self.clone(), request)
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn converter_arc(&self) -> &Arc<C> {
        &self.inner.converter
    }

    async fn open(&self, mut request: Request, raw: bool) -> Result<Session<C>> {
        let settings = &self.inner.settings;
        settings.check()?;
        if let Some(negotiation) = &self.inner.negotiation {
            if !request.subprotocols().is_empty() {
                return Err(Error::config(
                    "this client negotiates its converter, which sets the subprotocols; remove subprotocols() from the request",
                ));
            }
            request.set_subprotocols(negotiation.names());
        }
        let timeout = request
            .connect_timeout()
            .unwrap_or(settings.connect_timeout);
        let span = debug_span!("typed_ws.session", url = %request.redacted(), raw);
        let connect = self.connect(&request).instrument(span.clone());
        let (ws, handshake) = tokio::time::timeout(timeout, connect).await.map_err(|_| {
            Error::timeout(&format!("connecting to {}", request.redacted()), timeout)
        })??;
        let converter = match &self.inner.negotiation {
            None => Arc::clone(&self.inner.converter),
            Some(negotiation) => {
                let selected = handshake.subprotocol().and_then(|p| negotiation.select(p));
                match selected {
                    Some(converter) => Arc::new(converter),
                    None => {
                        return Err(Error::new(
                            ErrorKind::Handshake,
                            format!(
                                "server selected no subprotocol, so no converter; offered {:?}",
                                negotiation.names()
                            ),
                        ));
                    }
                }
            }
        };
        Ok(start_session(
            ws,
            converter,
            Arc::clone(settings),
            raw,
            handshake,
            span,
        ))
    }

    async fn connect(
        &self,
        request: &Request,
    ) -> Result<(tokio_tungstenite::WebSocketStream<MaybeTls>, Handshake)> {
        let settings = &self.inner.settings;
        let host = request.host();
        let port = request.port();
        if matches!(request.scheme(), Scheme::Wss) {
            // a bad TLS setting (an invalid root) is the caller's: report it before connecting
            self.inner.tls.as_ref().map_err(Deferred::error)?;
        }
        let proxy = match &self.inner.proxy {
            ProxyChoice::Direct => None,
            ProxyChoice::Fixed(proxy) => Some(proxy.clone()),
            ProxyChoice::FromEnv => Proxy::from_env(request.scheme(), host)?,
        };
        let tcp = match proxy {
            Some(proxy) => {
                debug!(?proxy, "connecting through proxy");
                proxy.connect(host, port).await?
            }
            None => {
                debug!("connecting");
                let tcp = TcpStream::connect((host, port)).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Connect,
                        format!("could not connect to {}:{port}", request.host_for_url()),
                    )
                    .with_source(e)
                })?;
                let _ = tcp.set_nodelay(true);
                tcp
            }
        };
        let stream = match request.scheme() {
            Scheme::Ws => MaybeTls::Plain(tcp),
            Scheme::Wss => self.tls_handshake(tcp, host).await?,
        };
        let (ws, handshake) =
            crate::upgrade::client(stream, request, settings, |stream, codec, leftover| {
                MaybeTls::Deflate(Box::new(crate::deflate::DeflateStream::new(
                    stream,
                    codec,
                    settings.max_frame_size,
                    leftover,
                )))
            })
            .await?;
        debug!(subprotocol = ?handshake.subprotocol(), "upgraded");
        Ok((ws, handshake))
    }

    async fn tls_handshake(&self, tcp: TcpStream, host: &str) -> Result<MaybeTls> {
        let connector = self.inner.tls.as_ref().map_err(Deferred::error)?;
        match connector {
            #[cfg(feature = "rustls")]
            Connector::Rustls(connector) => {
                let name =
                    rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
                        Error::new(
                            ErrorKind::Config,
                            format!("invalid TLS server name {host:?}"),
                        )
                        .with_source(e)
                    })?;
                let tls = connector.connect(name, tcp).await.map_err(|e| {
                    Error::new(ErrorKind::Tls, format!("TLS handshake with {host} failed"))
                        .with_source(e)
                })?;
                Ok(MaybeTls::Rustls(Box::new(tls)))
            }
            #[cfg(feature = "native-tls")]
            Connector::Native(connector) => {
                let tls = connector.connect(host, tcp).await.map_err(|e| {
                    Error::new(ErrorKind::Tls, format!("TLS handshake with {host} failed"))
                        .with_source(e)
                })?;
                Ok(MaybeTls::Native(Box::new(tls)))
            }
            Connector::None => {
                let _ = (tcp, host);
                Err(Error::new(
                    ErrorKind::Tls,
                    "wss:// needs TLS support: enable the `rustls` (default) or `native-tls` feature of typed-ws",
                ))
            }
        }
    }
}

/// Runs a scoped block's `handler` with `session`, then closes it: 1000 when the handler
/// returns `Ok`, 1011 with the error's text when it returns `Err`.
async fn scoped<C, F, T, E>(mut session: Session<C>, handler: F) -> std::result::Result<T, E>
where
    C: ContentConverter,
    F: AsyncFnOnce(&mut Session<C>) -> std::result::Result<T, E>,
    E: From<Error> + fmt::Display,
{
    let result = handler(&mut session).await;
    let reason = match &result {
        Ok(_) => CloseReason::normal(""),
        // `{:#}`: our errors keep their cause in `source()`, and the peer should see it
        Err(e) => CloseReason::internal_error(format!("{e:#}")),
    };
    session.close(reason).await?;
    result
}

fn force_tls(mut request: Request) -> Request {
    request.force_wss();
    request
}

#[cfg(all(test, not(any(feature = "rustls", feature = "native-tls"))))]
mod no_tls_tests {
    use super::*;

    /// Built by `scripts/test` with `--no-default-features`: wss must say which feature to turn on.
    #[tokio::test]
    async fn wss_without_tls_support_names_the_feature() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accept = tokio::spawn(async move { listener.accept().await.map(|(tcp, _)| tcp) });
        let url = format!("wss://127.0.0.1:{port}/");
        let err = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            Client::new().web_socket_session(url),
        )
        .await
        .unwrap()
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        assert!(err.to_string().contains("`rustls`"), "{err}");
        drop(accept);
    }
}
