//! The server side of the HTTP upgrade, written here rather than in tungstenite: the request
//! head is bounded (bytes, header count, time), a malformed upgrade gets the RFC's HTTP answer
//! (400, 405, 414, 426, 431, 505) before the connection is closed, and no request line, header
//! or token is ever logged.
//!
//! [`decide`] holds every check and the policy (subprotocols, origins, the pre-upgrade hook,
//! extension negotiation); the standalone handshake ([`server`]) and the axum extractor both
//! call it, so both answer the same requests the same way.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::debug;

use super::hook::{ConnectionData, Hook, Refusal, UpgradeRequest, check_origin};
use crate::error::{Error, ErrorKind, HandshakeResponse, Result};
use crate::handshake::Handshake;

/// Default bound on the request head (request line and headers), in bytes.
pub(crate) const DEFAULT_MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Default bound on the number of request headers.
pub(crate) const DEFAULT_MAX_REQUEST_HEADERS: usize = 64;

/// What the server accepts and how it decides: everything but the session settings.
#[derive(Clone, Default)]
pub(crate) struct Policy {
    /// The subprotocols spoken, in order of preference.
    pub(crate) subprotocols: Vec<String>,
    /// A client offering none of `subprotocols` is refused (converter negotiation).
    pub(crate) negotiating: bool,
    /// `Origin` values allowed (`allowed_origins`); `None`: any.
    pub(crate) origins: Option<Vec<String>>,
    /// The pre-upgrade hook.
    pub(crate) hook: Option<Hook>,
    pub(crate) max_request_head: usize,
    pub(crate) max_request_headers: usize,
    /// permessage-deflate: what this server accepts (the session settings' `compression`).
    pub(crate) compression: crate::Compression,
}

/// A non-101 answer: the HTTP response sent, then the connection is closed.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// A server-side mistake (a bad refusal from the hook): reported as a config error.
    pub(crate) mistake: Option<String>,
}

impl Answer {
    /// A malformed-request answer with a short plain-text body saying what is wrong.
    fn plain(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
            mistake: None,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn from_refusal(refusal: Refusal) -> Answer {
        match refusal.error {
            Some(mistake) => Answer {
                mistake: Some(mistake),
                ..Answer::plain(500, "internal server error")
            },
            None => Answer {
                status: refusal.status,
                headers: refusal.headers,
                body: refusal.body,
                mistake: None,
            },
        }
    }

    /// The response head and body, as sent.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        let mut connection = Vec::new();
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("connection") {
                connection.push(value.as_str());
            } else if !name.eq_ignore_ascii_case("content-length") {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(value);
                out.push_str("\r\n");
            }
        }
        connection.push("close");
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: {}\r\n\r\n",
            self.body.len(),
            connection.join(", ")
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The error the accept call returns after sending this answer. It names the status and
    /// what was wrong, never a header value.
    pub(crate) fn into_error(self) -> Error {
        let response = HandshakeResponse {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: (!self.body.is_empty()).then(|| self.body.clone()),
        };
        let error = match self.mistake {
            Some(mistake) => Error::config(mistake),
            None => Error::new(
                ErrorKind::Handshake,
                format!(
                    "refused the upgrade with {} {}: {}",
                    self.status,
                    reason_phrase(self.status),
                    String::from_utf8_lossy(&self.body)
                ),
            ),
        };
        error.with_response(response)
    }
}

/// A request that passed every check: what the 101 says and what the session gets.
#[derive(Debug)]
pub(crate) struct Upgrade {
    pub(crate) accept_key: String,
    pub(crate) subprotocol: Option<String>,
    pub(crate) extensions: Extensions,
    pub(crate) data: ConnectionData,
}

impl Upgrade {
    /// The 101 response head.
    pub(crate) fn response(&self) -> String {
        let mut head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            self.accept_key
        );
        for (name, value) in self.headers() {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(&value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head
    }

    /// The 101's headers beyond Upgrade, Connection and Sec-WebSocket-Accept.
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(protocol) = &self.subprotocol {
            headers.push(("Sec-WebSocket-Protocol", protocol.clone()));
        }
        if let Some(extensions) = &self.extensions.response {
            headers.push(("Sec-WebSocket-Extensions", extensions.clone()));
        }
        headers
    }

    /// What the session reports of its handshake.
    pub(crate) fn handshake(self, request: UpgradeRequest) -> Handshake {
        Handshake {
            status: 101,
            headers: request.headers,
            subprotocol: self.subprotocol,
            path: request.target,
            data: self.data,
            compression: self.extensions.compression,
        }
    }
}

// extension negotiation ---------------------------------------------------------------------
//
// The one seam for WebSocket extensions (permessage-deflate). `negotiate_extensions` receives
// every `Sec-WebSocket-Extensions` value the client sent, in order; what it returns decides the
// 101's `Sec-WebSocket-Extensions` header (`response`) and travels with the upgraded stream
// (see `server` below and the axum extractor), which `transport` wraps in the deflate layer
// when permessage-deflate was agreed. Other extensions are declined (RFC 6455 §9.1).

/// The extensions agreed for one connection.
#[derive(Debug, Default)]
pub(crate) struct Extensions {
    /// The 101's `Sec-WebSocket-Extensions` value; `None` declines every offer.
    pub(crate) response: Option<String>,
    /// permessage-deflate, when agreed.
    pub(crate) compression: Option<crate::NegotiatedCompression>,
}

/// Chooses among the client's extension offers (`Sec-WebSocket-Extensions` values): the first
/// acceptable permessage-deflate offer, or a 400 naming an invalid parameter.
pub(crate) fn negotiate_extensions(
    offers: &[&str],
    policy: &Policy,
) -> std::result::Result<Extensions, Answer> {
    match crate::deflate::negotiate_server(offers, &policy.compression) {
        Ok(Some((negotiated, response))) => Ok(Extensions {
            response: Some(response),
            compression: Some(negotiated),
        }),
        Ok(None) => Ok(Extensions::default()),
        Err(error) => Err(Answer::plain(400, &error.to_string())),
    }
}

/// The upgraded connection under the session: the deflate layer, with the codec when
/// permessage-deflate was agreed, else passing bytes through; either way it takes the bytes
/// read past the request head (which may already be frames) and enforces the frame size
/// limit.
pub(crate) async fn transport<S>(
    stream: S,
    leftover: Vec<u8>,
    extensions: &Extensions,
    policy: &Policy,
    config: WebSocketConfig,
) -> WebSocketStream<crate::deflate::DeflateStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use crate::deflate::{Codec, DeflateStream, Role as DeflateRole};
    let max_frame_size = config.max_frame_size.unwrap_or(usize::MAX);
    // the frame limit is the layer's (it can change on a live session), not tungstenite's
    let config = config.max_frame_size(None);
    let codec = extensions.compression.as_ref().map(|negotiated| {
        Codec::new(
            DeflateRole::Server,
            negotiated,
            &policy.compression,
            max_frame_size,
            config.max_message_size.unwrap_or(usize::MAX),
        )
    });
    let transport = DeflateStream::new(stream, codec, max_frame_size, leftover);
    WebSocketStream::from_raw_socket(transport, Role::Server, Some(config)).await
}

// -------------------------------------------------------------------------------------------

/// Every check of an upgrade request, in the order the answers are chosen, then the policy:
/// subprotocol, origin, the pre-upgrade hook, extensions. `http11`: the request is HTTP/1.1
/// (`false`: older). `busy`: the server is at its session cap and answers 503.
pub(crate) fn decide(
    request: &UpgradeRequest,
    http11: bool,
    policy: &Policy,
    busy: bool,
) -> std::result::Result<Upgrade, Answer> {
    if !http11 {
        return Err(Answer::plain(505, "a WebSocket upgrade needs HTTP/1.1"));
    }
    if request.method != "GET" {
        return Err(Answer::plain(405, "a WebSocket upgrade is a GET").header("Allow", "GET"));
    }
    if request.header_all("host").count() != 1 {
        return Err(Answer::plain(
            400,
            "an HTTP/1.1 request needs one Host header",
        ));
    }
    if !request
        .tokens("upgrade")
        .any(|t| t.eq_ignore_ascii_case("websocket"))
    {
        return Err(Answer::plain(
            426,
            "this resource is a WebSocket endpoint: send an upgrade",
        )
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Version", "13"));
    }
    if !request
        .tokens("connection")
        .any(|t| t.eq_ignore_ascii_case("upgrade"))
    {
        return Err(Answer::plain(400, "missing `Connection: Upgrade`"));
    }
    let versions: Vec<&str> = request.header_all("sec-websocket-version").collect();
    match versions.as_slice() {
        [version] if version.trim() == "13" => {}
        [] => {
            return Err(Answer::plain(400, "missing Sec-WebSocket-Version")
                .header("Sec-WebSocket-Version", "13"));
        }
        _ => {
            return Err(Answer::plain(426, "unsupported Sec-WebSocket-Version")
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Version", "13"));
        }
    }
    let keys: Vec<&str> = request.header_all("sec-websocket-key").collect();
    let key = match keys.as_slice() {
        [key] => key.trim(),
        [] => return Err(Answer::plain(400, "missing Sec-WebSocket-Key")),
        _ => return Err(Answer::plain(400, "more than one Sec-WebSocket-Key")),
    };
    let valid_key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|nonce| nonce.len() == 16);
    if !valid_key {
        return Err(Answer::plain(400, "invalid Sec-WebSocket-Key"));
    }
    if busy {
        return Err(
            Answer::plain(503, "server is at its session limit; retry later")
                .header("Retry-After", "1"),
        );
    }

    let offered: Vec<&str> = request.tokens("sec-websocket-protocol").collect();
    let subprotocol = policy
        .subprotocols
        .iter()
        .find(|p| offered.contains(&p.as_str()))
        .cloned();
    if subprotocol.is_none() && policy.negotiating {
        return Err(Answer::plain(
            400,
            &format!(
                "no supported subprotocol; this server speaks: {}",
                policy.subprotocols.join(", ")
            ),
        ));
    }
    if let Some(origins) = &policy.origins {
        check_origin(origins, request).map_err(Answer::from_refusal)?;
    }
    let data = match &policy.hook {
        Some(hook) => hook(request).map_err(Answer::from_refusal)?.data,
        None => ConnectionData::default(),
    };
    let offers: Vec<&str> = request.header_all("sec-websocket-extensions").collect();
    let extensions = negotiate_extensions(&offers, policy)?;
    Ok(Upgrade {
        accept_key: derive_accept_key(key.as_bytes()),
        subprotocol,
        extensions,
        data,
    })
}

/// Why the head could not be read: an answer to send, or nothing to say (the peer left).
enum HeadError {
    Answer(Answer),
    Gone(Error),
}

/// Reads the request head: at most `policy.max_request_head` bytes and
/// `policy.max_request_headers` headers. Returns the request, whether it is HTTP/1.1, and the
/// bytes read past the head.
async fn read_head<S>(
    stream: &mut S,
    peer_addr: Option<SocketAddr>,
    policy: &Policy,
) -> std::result::Result<(UpgradeRequest, bool, Vec<u8>), HeadError>
where
    S: AsyncRead + Unpin,
{
    let max_head = policy.max_request_head.max(64);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| {
            HeadError::Gone(
                Error::new(
                    ErrorKind::Handshake,
                    "connection failed before the upgrade request was read",
                )
                .with_source(e),
            )
        })?;
        if n == 0 {
            return Err(HeadError::Gone(Error::new(
                ErrorKind::Handshake,
                "client closed the connection before sending a whole upgrade request",
            )));
        }
        let searched_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        let complete = buf[searched_from..].windows(4).any(|w| w == b"\r\n\r\n");
        let mut slots = vec![httparse::EMPTY_HEADER; policy.max_request_headers.max(1)];
        let mut request = httparse::Request::new(&mut slots);
        let parsed = request.parse(&buf);
        match parsed {
            Ok(httparse::Status::Complete(len)) if len <= max_head => {
                let http11 = request.version == Some(1);
                let request = UpgradeRequest {
                    method: request.method.unwrap_or_default().to_owned(),
                    target: request.path.unwrap_or("/").to_owned(),
                    headers: request
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    peer_addr,
                };
                return Ok((request, http11, buf.split_off(len)));
            }
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) if buf.len() <= max_head && !complete => continue,
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HeadError::Answer(Answer::plain(
                    431,
                    "too many request headers",
                )));
            }
            Err(httparse::Error::Version) => {
                return Err(HeadError::Answer(Answer::plain(
                    505,
                    "a WebSocket upgrade needs HTTP/1.1",
                )));
            }
            Err(_) => {
                return Err(HeadError::Answer(Answer::plain(
                    400,
                    "malformed HTTP request",
                )));
            }
        }
        // over the size bound
        let line_ended = buf.windows(2).any(|w| w == b"\r\n");
        return Err(HeadError::Answer(if line_ended {
            Answer::plain(431, "request head is too large")
        } else {
            Answer::plain(414, "request line is too long")
        }));
    }
}

/// Sends `answer`, closes our side and waits (bounded) for the client to close its side, so
/// that the answer is not lost to a reset.
async fn send_answer<S>(stream: &mut S, answer: &Answer, linger: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = async {
        stream.write_all(&answer.to_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await
    };
    if !matches!(tokio::time::timeout(linger, sent).await, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(linger, drain).await;
}

/// Reads the upgrade request from `stream`, answers it and, on a 101, returns the WebSocket.
/// Reading the request and answering it are bounded by `timeout` (the connect timeout);
/// after a refusal, `linger` bounds the wait for the client to close its side.
pub(crate) async fn server<S>(
    mut stream: S,
    peer_addr: Option<SocketAddr>,
    policy: &Policy,
    config: WebSocketConfig,
    busy: bool,
    timeout: Duration,
    linger: Duration,
) -> Result<(WebSocketStream<crate::deflate::DeflateStream<S>>, Handshake)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || Error::timeout("waiting for the upgrade request", timeout);
    let head = tokio::time::timeout_at(deadline, read_head(&mut stream, peer_addr, policy))
        .await
        .map_err(|_| {
            debug!("no whole upgrade request within the connect timeout");
            timed_out()
        })?;
    let answer = match head {
        Ok((request, http11, leftover)) => match decide(&request, http11, policy, busy) {
            Ok(upgrade) => {
                let response = upgrade.response();
                let sent = async {
                    stream.write_all(response.as_bytes()).await?;
                    stream.flush().await
                };
                tokio::time::timeout_at(deadline, sent)
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Handshake,
                            "connection failed while answering the upgrade",
                        )
                        .with_source(e)
                    })?;
                // extension negotiation: `upgrade.extensions` is what was agreed
                let ws = transport(stream, leftover, &upgrade.extensions, policy, config).await;
                return Ok((ws, upgrade.handshake(request)));
            }
            Err(answer) => answer,
        },
        Err(HeadError::Answer(answer)) => answer,
        Err(HeadError::Gone(error)) => {
            debug!("upgrade request not received: the client left");
            return Err(error);
        }
    };
    debug!(status = answer.status, "refused the upgrade");
    send_answer(&mut stream, &answer, linger).await;
    Err(answer.into_error())
}

/// The standard reason phrase of the statuses this module sends (and common refusals).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ if status < 500 => "Client Error",
        _ => "Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Accepted, Refusal};

    fn request(lines: &[(&str, &str)]) -> UpgradeRequest {
        UpgradeRequest {
            method: "GET".into(),
            target: "/chat?token=x".into(),
            headers: lines
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            peer_addr: None,
        }
    }

    fn valid() -> UpgradeRequest {
        request(&[
            ("host", "example.com"),
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "v2, v1"),
            ("origin", "https://App.example.com/"),
        ])
    }

    #[test]
    fn the_rfc_sample_is_accepted_with_its_accept_key() {
        let policy = Policy {
            subprotocols: vec!["v1".into()],
            ..Policy::default()
        };
        let upgrade = decide(&valid(), true, &policy, false).expect("valid upgrade");
        assert_eq!(upgrade.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(upgrade.subprotocol.as_deref(), Some("v1"));
        let response = upgrade.response();
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(response.contains("Sec-WebSocket-Protocol: v1\r\n"));
        assert!(
            !response.contains("Sec-WebSocket-Extensions"),
            "no extension is agreed yet"
        );
    }

    #[test]
    fn origins_compare_without_case_or_trailing_slash_and_a_missing_origin_passes() {
        let mut policy = Policy {
            origins: Some(vec!["https://app.example.com".into()]),
            ..Policy::default()
        };
        assert!(decide(&valid(), true, &policy, false).is_ok());
        policy.origins = Some(vec!["https://other.example.com".into()]);
        let refused = decide(&valid(), true, &policy, false).expect_err("foreign origin");
        assert_eq!(
            (refused.status, refused.body.as_slice()),
            (403, &b"origin not allowed"[..])
        );
        let mut no_origin = valid();
        no_origin.headers.retain(|(n, _)| n != "origin");
        assert!(decide(&no_origin, true, &policy, false).is_ok());
    }

    #[test]
    fn the_hook_sees_the_request_and_its_refusal_is_sent_as_is() {
        let policy = Policy {
            hook: Some(std::sync::Arc::new(
                |request: &UpgradeRequest| match request.query_param("token").as_deref() {
                    Some("good") => Ok(Accepted::new().data(7u32)),
                    _ => Err(Refusal::new(401)
                        .header("WWW-Authenticate", "Bearer")
                        .body("no")),
                },
            )),
            ..Policy::default()
        };
        let refused = decide(&valid(), true, &policy, false).expect_err("bad token");
        assert_eq!(refused.status, 401);
        let bytes = String::from_utf8(refused.to_bytes()).expect("utf-8");
        assert!(
            bytes.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
            "{bytes}"
        );
        assert!(bytes.contains("WWW-Authenticate: Bearer\r\n"), "{bytes}");
        assert!(
            bytes.contains("Content-Length: 2\r\nConnection: close\r\n\r\nno"),
            "{bytes}"
        );
        let mut good = valid();
        good.target = "/chat?token=good".into();
        let upgrade = decide(&good, true, &policy, false).expect("good token");
        assert_eq!(upgrade.data.get::<u32>(), Some(&7));
    }

    #[test]
    fn a_bad_refusal_becomes_a_500_and_a_config_error() {
        for refusal in [
            Refusal::new(200),
            Refusal::new(403).header("X-Bad", "a\r\nInjected: yes"),
            Refusal::new(403).header("Bad Name", "v"),
        ] {
            assert_eq!(refusal.status(), 500);
            let answer = Answer::from_refusal(refusal);
            assert_eq!(answer.status, 500);
            assert!(!String::from_utf8_lossy(&answer.to_bytes()).contains("Injected"));
            assert!(answer.into_error().kind() == ErrorKind::Config);
        }
    }

    #[test]
    fn answers_merge_connection_tokens_and_keep_426_headers() {
        let mut plain = valid();
        plain.headers.retain(|(n, _)| n != "upgrade");
        let answer = decide(&plain, true, &Policy::default(), false).expect_err("not an upgrade");
        let bytes = String::from_utf8(answer.to_bytes()).expect("utf-8");
        assert!(
            bytes.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{bytes}"
        );
        assert!(bytes.contains("Connection: Upgrade, close\r\n"), "{bytes}");
        assert!(bytes.contains("Sec-WebSocket-Version: 13\r\n"), "{bytes}");
        assert_eq!(bytes.matches("Connection:").count(), 1, "{bytes}");
    }
}
