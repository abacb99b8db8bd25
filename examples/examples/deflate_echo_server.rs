//! An echo server on `typed_ws::server` with permessage-deflate, for the Autobahn|Testsuite's
//! server role (`wstest -m fuzzingclient`) and for trying compression by hand.
//!
//! ```text
//! cargo run --release --example deflate_echo_server -p typed-ws-examples -- 127.0.0.1:9002
//! ```
//!
//! Listens on the given address (default `127.0.0.1:0`; the address it got is printed first)
//! and echoes every text and binary message of every connection until it is killed. Every
//! message is compressed (threshold one byte); limits are raised to 64 MiB for the 9.x cases;
//! the pinger is off so pings never land in the middle of a case.

use std::time::Duration;

use typed_ws::server::Server;
use typed_ws::{Compression, Frame};

const LIMIT: usize = 64 << 20;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{}", listener.local_addr()?);
    let server = Server::builder()
        .ping_interval(None)
        .max_frame_size(LIMIT)
        .max_message_size(LIMIT)
        .close_timeout(Duration::from_secs(5))
        .compression(Compression::default().threshold(1))
        .build();
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(mut session) = server.accept(tcp).await else {
                return;
            };
            while let Some(Ok(frame)) = session.receive().await {
                let echo = match frame {
                    Frame::Text(_) | Frame::Binary(_) => frame,
                    _ => continue,
                };
                if session.send(echo).await.is_err() {
                    break;
                }
            }
            session.close_reason().await;
        });
    }
}
