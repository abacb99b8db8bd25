//! The client side of the HTTP upgrade, written here rather than in tungstenite so that no
//! request line, header or token is ever logged, and every check is ours to report.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::deflate::{self, Codec};
use crate::error::{Error, ErrorKind, HandshakeResponse, Result};
use crate::handshake::Handshake;
use crate::request::Request;
use crate::settings::Settings;

/// The most bytes of response head (and of a refusal's body) read.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 96;

/// Sends the upgrade request, reads and checks the response, and returns the WebSocket.
///
/// `deflate` wraps the stream in the deflate layer, given the codec when permessage-deflate was
/// agreed and the bytes read past the response head (the layer hands them on first).
pub(crate) async fn client<S, T>(
    mut stream: S,
    request: &Request,
    settings: &Settings,
    deflate: impl FnOnce(S, Option<Box<Codec>>, Vec<u8>) -> T,
) -> Result<(WebSocketStream<T>, Handshake)>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let config: WebSocketConfig = settings.websocket_config();
    let key = generate_key();
    let offer = deflate::client_offer(&settings.compression);
    let head = request_head(request, &key, offer.as_deref());
    stream.write_all(head.as_bytes()).await.map_err(io_error)?;
    stream.flush().await.map_err(io_error)?;

    let mut buf = Vec::with_capacity(1024);
    let (status, headers, head_len) = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(io_error)?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Handshake,
                "server closed the connection before answering the upgrade",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                break (response.code.unwrap_or(0), headers, len);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Err(Error::new(
                    ErrorKind::Handshake,
                    "upgrade response head is over 64 KiB",
                ));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::new(
                    ErrorKind::Handshake,
                    format!("upgrade response has more than {MAX_HEADERS} headers"),
                ));
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Handshake,
                    "server answered the upgrade with something that is not HTTP",
                )
                .with_source(e));
            }
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };

    if status != 101 {
        let mut body = buf.split_off(head_len);
        let wanted = header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_HEAD);
        while body.len() < wanted {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        body.truncate(MAX_HEAD);
        let reason = http_reason(status);
        return Err(Error::new(
            ErrorKind::Handshake,
            format!("server refused the WebSocket upgrade with {status} {reason}"),
        )
        .with_response(HandshakeResponse {
            status,
            headers,
            body: (!body.is_empty()).then_some(body),
        }));
    }

    let refuse = |message: String| Err(Error::new(ErrorKind::Handshake, message));
    if !header("upgrade").is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket")) {
        return refuse("upgrade response lacks `Upgrade: websocket`".into());
    }
    if !header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        return refuse("upgrade response lacks `Connection: Upgrade`".into());
    }
    let expected = derive_accept_key(key.as_bytes());
    if header("sec-websocket-accept").map(str::trim) != Some(expected.as_str()) {
        return refuse(
            "server sent a wrong Sec-WebSocket-Accept: it is not a WebSocket server, or a proxy altered the upgrade"
                .into(),
        );
    }
    let extensions: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "sec-websocket-extensions")
        .map(|(_, v)| v.as_str())
        .collect();
    let compression = deflate::accept_client(&extensions, &settings.compression)?;
    let subprotocol = header("sec-websocket-protocol").map(|v| v.trim().to_owned());
    if let Some(selected) = &subprotocol
        && !request.subprotocols().iter().any(|p| p == selected)
    {
        return refuse(format!(
            "server selected subprotocol {selected:?}, which was not offered (offered: {:?})",
            request.subprotocols()
        ));
    }

    let leftover = buf.split_off(head_len);
    let codec = compression.as_ref().map(|negotiated| {
        Codec::new(
            deflate::Role::Client,
            negotiated,
            &settings.compression,
            settings.max_frame_size,
            settings.max_message_size,
        )
    });
    let stream = deflate(stream, codec, leftover);
    // the frame limit is the layer's (it can change on a live session), not tungstenite's
    let config = config.max_frame_size(None);
    let ws = WebSocketStream::from_raw_socket(stream, Role::Client, Some(config)).await;
    Ok((
        ws,
        Handshake {
            status,
            headers,
            subprotocol,
            path: request.path_and_query(),
            data: Default::default(),
            compression,
        },
    ))
}

fn request_head(request: &Request, key: &str, extensions: Option<&str>) -> String {
    let port = request.port();
    let host = if port == request.scheme().default_port() {
        request.host_for_url()
    } else {
        format!("{}:{port}", request.host_for_url())
    };
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n",
        request.path_and_query()
    );
    if !request.subprotocols().is_empty() {
        head.push_str("Sec-WebSocket-Protocol: ");
        head.push_str(&request.subprotocols().join(", "));
        head.push_str("\r\n");
    }
    if let Some(offer) = extensions {
        head.push_str("Sec-WebSocket-Extensions: ");
        head.push_str(offer);
        head.push_str("\r\n");
    }
    for (name, value) in request.headers() {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Handshake, "connection failed during the upgrade").with_source(e)
}

fn http_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}
