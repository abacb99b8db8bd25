//! wss:// with a generated certificate: a TLS loopback server (`Server::serve` with a rustls
//! config) and a client that trusts only that certificate.
//!
//! ```text
//! cargo run --example wss
//! ```

use std::future::IntoFuture;

use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Session};
use typed_ws_examples::tls::self_signed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tls = self_signed()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("wss://localhost:{}/secure", listener.local_addr()?.port());
    let serve = Server::new()
        .serve(listener, async |mut session: Session| {
            while let Ok(text) = session.receive_deserialized::<String>().await {
                let _ = session.send_serialized(&text.to_uppercase()).await;
            }
        })
        .rustls(std::sync::Arc::clone(tls.acceptor.config()));
    tokio::spawn(serve.into_future());

    let client = Client::builder()
        .tls_built_in_roots(false)
        .add_root_certificate_pem(&tls.cert_pem)
        .build();
    let mut session = client.web_socket_session(url).await?;
    session.send_serialized("secret handshake").await?;
    let reply: String = session.receive_deserialized().await?;
    println!("over TLS: {reply}");
    session.close(CloseReason::normal("done")).await?;
    println!("closed: {}", session.close_reason().await);
    Ok(())
}
