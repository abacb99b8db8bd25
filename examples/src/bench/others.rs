//! The other Rust WebSocket crates as hand-written comparators: fastwebsockets and
//! tokio-websockets, each with serde, written the way their READMEs and examples use them.
//!
//! - fastwebsockets: `WebSocket::after_handshake` over the `TcpStream` wrapped in a
//!   `FragmentCollector` (its README's server loop); `write_frame` per message (it writes each
//!   frame to the socket: there is no feed/flush batching); `serde_json::from_slice` on the
//!   frame's payload, which the crate has already checked is UTF-8 for Text frames. Its own
//!   handshake helpers need hyper (the `upgrade` feature); here a minimal HTTP/1.1 upgrade is
//!   done by hand before the timed part, as its `after_handshake` docs allow.
//! - tokio-websockets: `ClientBuilder::connect_on` / `ServerBuilder::accept` on the
//!   `TcpStream`, `Sink`/`Stream` of `Message`, `Message::as_text` + `serde_json::from_str`.
//!   Its default config (8 KiB flush threshold, read buffer grown by tokio-util) is kept: it
//!   has no read-buffer setting.

use std::net::SocketAddr;

use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::net;
use super::wire::Wire;

/// A fastwebsockets connection that collects fragments (its README's receive loop).
pub type Fws = FragmentCollector<TcpStream>;
/// A tokio-websockets connection.
pub type Tws = tokio_websockets::WebSocketStream<TcpStream>;

/// Reads an HTTP head byte by byte up to the blank line (the handshake is not timed, and this
/// never reads past it).
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tcp.read_u8().await.expect("an HTTP head");
        head.push(byte);
        assert!(head.len() < 16 * 1024, "HTTP head too long");
    }
    String::from_utf8(head).expect("an ASCII HTTP head")
}

/// Connects a fastwebsockets client (`TCP_NODELAY`).
pub async fn fws_connect(addr: SocketAddr) -> Fws {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
    FragmentCollector::new(WebSocket::after_handshake(tcp, Role::Client))
}

/// Accepts a fastwebsockets server connection.
pub async fn fws_accept(mut tcp: TcpStream) -> Fws {
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let head = read_head(&mut tcp).await;
    let key = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .expect("Sec-WebSocket-Key");
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    tcp.write_all(answer.as_bytes()).await.expect("write");
    FragmentCollector::new(WebSocket::after_handshake(tcp, Role::Server))
}

/// Connects a tokio-websockets client (`TCP_NODELAY`).
pub async fn tws_connect(addr: SocketAddr) -> Tws {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (ws, _) = tokio_websockets::ClientBuilder::new()
        .uri(&net::url(addr))
        .expect("a URI")
        .connect_on(tcp)
        .await
        .expect("tokio-websockets handshake");
    ws
}

/// Accepts a tokio-websockets server connection.
pub async fn tws_accept(tcp: TcpStream) -> Tws {
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    let (_, ws) = tokio_websockets::ServerBuilder::new()
        .accept(tcp)
        .await
        .expect("tokio-websockets accept");
    ws
}

/// A typed value as a fastwebsockets frame (the encoded bytes moved in, no copy).
pub fn fws_frame<W: Wire>(encoded: W::Encoded) -> Frame<'static> {
    let bytes: Vec<u8> = encoded.into();
    if W::TEXT {
        Frame::text(Payload::Owned(bytes))
    } else {
        Frame::binary(Payload::Owned(bytes))
    }
}

/// Decodes a fastwebsockets data frame of this codec's kind (`None` for other frames).
pub fn fws_decode<W: Wire, T: serde::de::DeserializeOwned>(frame: &Frame<'_>) -> Option<T> {
    let kind = if W::TEXT {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    (frame.opcode == kind)
        .then(|| W::decode_slice(&frame.payload))
        .flatten()
}

/// A typed value as a tokio-websockets message (the encoded bytes moved in, no copy).
pub fn tws_message<W: Wire>(encoded: W::Encoded) -> tokio_websockets::Message {
    if W::TEXT {
        tokio_websockets::Message::text(encoded)
    } else {
        tokio_websockets::Message::binary(encoded)
    }
}

/// Decodes a tokio-websockets data message of this codec's kind (`None` for other messages).
pub fn tws_decode<W: Wire, T: serde::de::DeserializeOwned>(
    message: &tokio_websockets::Message,
) -> Option<T> {
    if W::TEXT {
        W::decode_text(message.as_text()?)
    } else if message.is_binary() {
        W::decode_slice(message.as_payload())
    } else {
        None
    }
}
