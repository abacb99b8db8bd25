//! axum integration (feature `axum`): [`WebSocketUpgrade`], an extractor that turns a route into
//! a typed [`Session`] run with a [`Server`]'s converter, settings, subprotocol negotiation,
//! origin check and pre-upgrade hook — the same checks and answers as the standalone server.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, Version};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tracing::{Instrument, debug, debug_span};
use typed_ws_converters::ContentConverter;

use super::Server;
use super::handshake::{Answer, decide};
use super::hook::UpgradeRequest;
use crate::session::Session;

/// An axum extractor for a WebSocket upgrade; answer the request with
/// [`on_upgrade`](Self::on_upgrade), which runs the [`Server`]'s checks and hands the upgraded
/// connection to your handler as a typed [`Session`].
///
/// The peer address reaches the pre-upgrade hook when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
///
/// # Examples
///
/// ```no_run
/// use axum::{Router, extract::State, response::Response, routing::get};
/// use typed_ws::Session;
/// use typed_ws::server::{Server, WebSocketUpgrade};
///
/// async fn chat(State(server): State<Server>, upgrade: WebSocketUpgrade) -> Response {
///     upgrade.on_upgrade(&server, async |mut session: Session| {
///         while let Some(Ok(frame)) = session.receive().await {
///             let _ = session.send(frame).await;
///         }
///     })
/// }
///
/// # async fn demo() -> std::io::Result<()> {
/// let server = Server::builder().allowed_origins(["http://127.0.0.1:3000"]).build();
/// let app = Router::new().route("/chat", get(chat)).with_state(server);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub struct WebSocketUpgrade {
    request: UpgradeRequest,
    http11: bool,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("upgradable", &self.on_upgrade.is_some())
            .finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Infallible;

    /// Never rejects: a request that is not a valid upgrade is answered by
    /// [`on_upgrade`](WebSocketUpgrade::on_upgrade) with the RFC's HTTP status.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let request = UpgradeRequest {
            method: parts.method.as_str().to_owned(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            peer_addr: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        };
        Ok(WebSocketUpgrade {
            request,
            http11: parts.version == Version::HTTP_11,
            on_upgrade: parts.extensions.remove::<hyper::upgrade::OnUpgrade>(),
        })
    }
}

impl WebSocketUpgrade {
    /// The request as the pre-upgrade hook sees it.
    pub fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// Answers the request: a 101 when it is a valid upgrade that `server`'s checks accept
    /// (subprotocol, origin, pre-upgrade hook), after which `handler` runs in its own task
    /// with the [`Session`]; otherwise the same HTTP answer the standalone server sends (400,
    /// 405, 426, 505, or the hook's refusal). The upgraded connection runs with `server`'s
    /// converter and settings; waiting for hyper to hand it over is bounded by the connect
    /// timeout.
    pub fn on_upgrade<C, F, Fut>(self, server: &Server<C>, handler: F) -> Response
    where
        C: ContentConverter,
        F: FnOnce(Session<C>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let span = debug_span!("typed_ws.accept");
        let _entered = span.enter();
        if let Err(e) = server.inner.settings.check() {
            debug!(error = %format_args!("{e:#}"), "server misconfigured: answered 500");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
        }
        let upgrade = match decide(&self.request, self.http11, &server.inner.policy, false) {
            Ok(upgrade) => upgrade,
            Err(answer) => {
                debug!(status = answer.status, "refused the upgrade");
                return answer_response(answer);
            }
        };
        let Some(on_upgrade) = self.on_upgrade else {
            debug!("the connection cannot be upgraded (not served by hyper over HTTP/1.1)");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this connection cannot be upgraded",
            );
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("connection", HeaderValue::from_static("upgrade"));
        let extra = std::iter::once(("Sec-WebSocket-Accept", upgrade.accept_key.clone()))
            .chain(upgrade.headers());
        for (name, value) in extra {
            match (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "invalid response header");
                }
            }
        }
        let server = server.clone();
        let request = self.request;
        let timeout = server.inner.settings.connect_timeout;
        let task_span = span.clone();
        tokio::spawn(
            async move {
                let upgraded = match tokio::time::timeout(timeout, on_upgrade).await {
                    Ok(Ok(upgraded)) => upgraded,
                    Ok(Err(e)) => {
                        debug!(error = %e, "hyper did not hand over the upgraded connection");
                        return;
                    }
                    Err(_) => {
                        debug!("hyper did not hand over the upgraded connection in time");
                        return;
                    }
                };
                // extension negotiation: `upgrade.extensions` is what was agreed
                let ws = super::handshake::transport(
                    TokioIo::new(upgraded),
                    Vec::new(),
                    &upgrade.extensions,
                    &server.inner.policy,
                    server.inner.settings.websocket_config(),
                )
                .await;
                let handshake = upgrade.handshake(request);
                debug!(path = %crate::request::redact_path(&handshake.path), subprotocol = ?handshake.subprotocol, "accepted");
                match server.start(ws, handshake, tracing::Span::current()) {
                    Ok(session) => handler(session).await,
                    Err(e) => debug!(error = %format_args!("{e:#}"), "session not started"),
                }
            }
            .instrument(task_span),
        );
        response
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The standalone server's answer as an axum response (hyper sets the length and, with
/// `Connection: close`, closes the connection after it).
fn answer_response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert("connection", HeaderValue::from_static("close"));
    response
}
