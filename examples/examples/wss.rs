//! wss:// with a generated certificate: a TLS loopback server (tokio-rustls in front of
//! typed-ws's accept side) and a client that trusts only that certificate.
//!
//! ```text
//! cargo run --example wss
//! ```

use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason};
use typed_ws_examples::tls::self_signed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tls = self_signed()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("wss://localhost:{}/secure", listener.local_addr()?.port());
    let acceptor = tls.acceptor.clone();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(stream) = acceptor.accept(tcp).await else {
            return;
        };
        let Ok(mut session) = Server::new().accept(stream).await else {
            return;
        };
        while let Ok(text) = session.receive_deserialized::<String>().await {
            let _ = session.send_serialized(&text.to_uppercase()).await;
        }
    });

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
