//! A raw session (Ktor's `webSocketRawSession`): no pinger, and Ping, Pong and Close frames are
//! visible in `receive`.
//!
//! ```text
//! cargo run --example raw_session
//! ```

use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Frame};

#[tokio::main]
async fn main() -> typed_ws::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/raw", listener.local_addr()?);
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut session) = Server::new().accept(tcp).await else {
            return;
        };
        // echo one text frame, then close with an application code
        if let Some(Ok(frame)) = session.receive().await {
            let _ = session.send(frame).await;
        }
        let _ = session
            .close(CloseReason::new(4001u16, "raw demo over"))
            .await;
    });

    let mut raw = Client::new().web_socket_raw_session(url).await?;
    raw.send(Frame::Ping(b"are you there".to_vec().into()))
        .await?;
    raw.send_text("hello raw").await?;
    while let Some(frame) = raw.receive().await {
        match frame? {
            Frame::Pong(payload) => println!("pong: {:?}", String::from_utf8_lossy(&payload)),
            Frame::Close(reason) => println!("close frame: {reason:?}"),
            other => println!("data: {other:?}"),
        }
    }
    println!("ended: {}", raw.close_reason().await);
    Ok(())
}
