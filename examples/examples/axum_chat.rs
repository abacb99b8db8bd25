//! An axum app with a typed-ws chat: axum serves an HTML page whose browser WebSocket talks
//! typed JSON to a typed-ws `Session` on the same router, with an origin check and a hook
//! that requires a `room` query parameter.
//!
//! ```text
//! cargo run --example axum_chat             # a typed-ws client joins, says hello, exits
//! cargo run --example axum_chat -- --serve  # keeps serving: open the printed URL in a browser
//! ```

use std::net::SocketAddr;

use tokio::net::TcpListener;
use typed_ws::{Client, CloseReason};
use typed_ws_examples::axum_chat::{Down, Up, app, chat_server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let origins = [
        format!("http://{addr}"),
        format!("http://localhost:{}", addr.port()),
    ];
    let router = app(chat_server(origins));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    println!("chat page: http://{addr}/");

    if std::env::args().any(|a| a == "--serve") {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    // without a room the hook refuses before the upgrade
    let refused = Client::new()
        .web_socket_session(format!("ws://{addr}/chat"))
        .await
        .expect_err("no room");
    println!("without a room: {refused}");

    let mut session = Client::new()
        .web_socket_session(format!("ws://{addr}/chat?room=lobby"))
        .await?;
    session
        .send_serialized(&Up::Join { nick: "ann".into() })
        .await?;
    let welcome: Down = session.receive_deserialized().await?;
    println!("ann <- {welcome:?}");
    session
        .send_serialized(&Up::Say {
            text: "hello from Rust".into(),
        })
        .await?;
    let said: Down = session.receive_deserialized().await?;
    println!("ann <- {said:?}");
    session.close(CloseReason::normal("bye")).await?;
    println!("closed: {}", session.close_reason().await);
    server.abort();
    Ok(())
}
