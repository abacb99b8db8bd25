//! Server accept: turns an accepted connection into the same typed [`Session`], so both ends of
//! an application share one protocol.
//!
//! ```no_run
//! use typed_ws::server::Server;
//!
//! # async fn demo() -> typed_ws::Result<()> {
//! let server = Server::builder().subprotocols(["v1.json"]).build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut session = server.accept(tcp).await?;
//! while let Some(frame) = session.receive().await {
//!     session.send(frame?).await?; // echo
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response as HttpResponse,
};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tracing::{Instrument, debug, debug_span};
use typed_ws_converters::{ContentConverter, ConverterSet};

use crate::client::header_pairs;
use crate::error::{Error, ErrorKind, Result};
use crate::session::{Handshake, Session};
use crate::settings::{Settings, compression_setter, session_setters};
use crate::{Json, start_session};

/// Accepts WebSocket upgrades on connections your listener accepted (TCP, TLS, anything
/// `AsyncRead + AsyncWrite`) and runs each as a [`Session`] with the same driver as the
/// client: pinger, bounded queues, close handshake.
///
/// `Server` is a cheap [`Clone`] (an `Arc` inside).
pub struct Server<C = Json> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    converter: Arc<C>,
    negotiation: Option<Arc<dyn ConverterSet<Converter = C>>>,
    settings: Arc<Settings>,
    subprotocols: Vec<String>,
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
            .field("subprotocols", &self.inner.subprotocols)
            .finish_non_exhaustive()
    }
}

impl Server<Json> {
    /// A server with every default (JSON, pings every 20 s, no subprotocols).
    pub fn new() -> Self {
        Server::builder().build()
    }

    /// A builder to configure a server.
    pub fn builder() -> ServerBuilder<Json> {
        ServerBuilder {
            converter: Json::default(),
            negotiation: None,
            settings: Settings::default(),
            subprotocols: Vec::new(),
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
    subprotocols: Vec<String>,
}

impl<C: fmt::Debug> fmt::Debug for ServerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("converter", &self.converter)
            .field("settings", &self.settings)
            .field("subprotocols", &self.subprotocols)
            .finish()
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
            subprotocols: self.subprotocols,
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
            subprotocols: offers.names(),
            negotiation: Some(Arc::new(offers)),
            settings: self.settings,
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
        self.subprotocols
            .extend(protocols.into_iter().map(Into::into));
        self
    }

    /// The server.
    pub fn build(mut self) -> Server<C> {
        if let Some(negotiation) = &self.negotiation {
            let names = negotiation.names();
            if self.subprotocols.iter().any(|p| !names.contains(p)) {
                self.settings.invalid(
                    "subprotocols() cannot add names to negotiate(): every subprotocol needs a converter; offer them all in negotiate()".into(),
                );
            }
            self.subprotocols = names;
        }
        Server {
            inner: Arc::new(Inner {
                converter: Arc::new(self.converter),
                negotiation: self.negotiation,
                settings: Arc::new(self.settings),
                subprotocols: self.subprotocols,
            }),
        }
    }
}

impl<C: ContentConverter> Server<C> {
    /// Reads the upgrade request from `stream`, answers 101 and returns the session.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for a bad server setting, [`ErrorKind::Handshake`] when the
    /// request is not a valid WebSocket upgrade (the client got a 400),
    /// [`ErrorKind::Timeout`] past the connect timeout.
    pub async fn accept<S>(&self, stream: S) -> Result<Session<C>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let settings = &self.inner.settings;
        settings.check()?;
        let span = debug_span!("typed_ws.accept");
        let selected: Arc<Mutex<Option<Handshake>>> = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&selected);
        let ours = self.inner.subprotocols.clone();
        let negotiating = self.inner.negotiation.is_some();
        let compression = settings.compression.clone(); // permessage-deflate
        // the callback's shape (and its large error type) is tungstenite's
        #[allow(clippy::result_large_err)]
        let callback = move |request: &HttpRequest, mut response: HttpResponse| {
            let offered: Vec<String> = request
                .headers()
                .get_all("sec-websocket-protocol")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            let subprotocol = ours.iter().find(|p| offered.contains(p)).cloned();
            if subprotocol.is_none() && negotiating {
                let mut refused = ErrorResponse::new(Some(format!(
                    "no supported subprotocol; this server speaks: {}",
                    ours.join(", ")
                )));
                *refused.status_mut() = StatusCode::BAD_REQUEST;
                return Err(refused);
            }
            if let Some(protocol) = &subprotocol {
                match HeaderValue::from_str(protocol) {
                    Ok(value) => {
                        response
                            .headers_mut()
                            .insert("sec-websocket-protocol", value);
                    }
                    Err(_) => {
                        let mut refused = ErrorResponse::new(Some("invalid subprotocol".into()));
                        *refused.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                        return Err(refused);
                    }
                }
            }
            // permessage-deflate: the first acceptable offer, or 400 naming a bad parameter
            let offers: Vec<&str> = request
                .headers()
                .get_all("sec-websocket-extensions")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            let deflate = match crate::deflate::negotiate_server(&offers, &compression) {
                Ok(deflate) => deflate,
                Err(e) => {
                    let mut refused = ErrorResponse::new(Some(e.to_string()));
                    *refused.status_mut() = StatusCode::BAD_REQUEST;
                    return Err(refused);
                }
            };
            let deflate = deflate.and_then(|(negotiated, answer)| {
                let value = HeaderValue::from_str(&answer).ok()?;
                response
                    .headers_mut()
                    .insert("sec-websocket-extensions", value);
                Some(negotiated)
            });
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(Handshake {
                    status: 101,
                    headers: header_pairs(request.headers()),
                    subprotocol,
                    path,
                    compression: deflate,
                });
            }
            Ok(response)
        };
        // the deflate layer passes bytes through until the handshake agreed on compression
        let stream = crate::deflate::DeflateStream::passive(stream);
        let accept = tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            callback,
            Some(settings.websocket_config()),
        )
        .instrument(span.clone());
        let mut ws = tokio::time::timeout(settings.connect_timeout, accept)
            .await
            .map_err(|_| {
                Error::timeout("waiting for the upgrade request", settings.connect_timeout)
            })?
            .map_err(|e| {
                Error::new(
                    ErrorKind::Handshake,
                    format!("invalid upgrade request: {e}"),
                )
                .with_source(e)
            })?;
        let handshake = selected
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or(Handshake {
                status: 101,
                headers: Vec::new(),
                subprotocol: None,
                path: "/".into(),
                compression: None,
            });
        if let Some(negotiated) = &handshake.compression {
            ws.get_mut().activate(crate::deflate::Codec::new(
                crate::deflate::Role::Server,
                negotiated,
                &settings.compression,
                settings.max_frame_size,
                settings.max_message_size,
            ));
        }
        span.in_scope(|| debug!(path = %crate::request::redact_path(&handshake.path), subprotocol = ?handshake.subprotocol, "accepted"));
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
            Arc::clone(settings),
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
