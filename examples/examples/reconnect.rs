//! A reconnecting typed client surviving a server restart.
//!
//! ```text
//! cargo run --example reconnect
//! ```
//!
//! The server runs on its own runtime; "killing" it shuts that runtime down, so every
//! connection drops without a close frame (1006), exactly like a crashed process. The client
//! keeps sending through a buffered outbox while the server is down, re-subscribes in its
//! `on_connect` hook when it is back, and the buffered messages arrive once, in order.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{Backoff, Client, CloseReason, Outbox};

/// A price update the client publishes.
#[derive(Serialize, Deserialize, Debug)]
struct Quote {
    symbol: String,
    cents: u64,
}

/// A server running on a thread and runtime of its own; `kill` drops that runtime with every
/// connection in it.
struct TestServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    fn start(addr: SocketAddr, generation: u32) -> std::io::Result<TestServer> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(addr).await {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tokio::spawn(async move {
                    let server = Server::new();
                    while let Ok((tcp, _)) = listener.accept().await {
                        let server = server.clone();
                        tokio::spawn(async move {
                            let Ok(mut session) = server.accept(tcp).await else {
                                return;
                            };
                            while let Some(Ok(frame)) = session.receive().await {
                                println!(
                                    "  server #{generation} got {}",
                                    frame.read_text().unwrap_or("<binary>")
                                );
                            }
                        });
                    }
                });
                let _ = stopped.await;
            });
            // dropping the runtime drops every task and socket: no close frames are sent
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| std::io::Error::other("server did not start"))??;
        Ok(TestServer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn kill(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[tokio::main]
async fn main() -> typed_ws::Result<()> {
    let addr: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let server = TestServer::start(addr, 1)?;

    let client = Client::builder()
        .ping_interval(Duration::from_secs(1))
        .build();
    let mut session = client
        .reconnecting(format!("ws://{addr}/quotes"))
        .policy(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(2),
        ))
        .outbox(Outbox::Buffer { max_messages: 100 })
        .on_connect(|sender| async move { sender.send_text("subscribe quotes").await })
        .connect()
        .await?;
    let mut events = session.events();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            println!("  event: {event:?}");
        }
    });
    let sender = session.sender();

    sender
        .send_serialized(&Quote {
            symbol: "RUST".into(),
            cents: 100,
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    println!("killing the server");
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for cents in [101, 102, 103] {
        // buffered while the server is down
        sender
            .send_serialized(&Quote {
                symbol: "RUST".into(),
                cents,
            })
            .await?;
    }

    println!("restarting the server");
    let server = TestServer::start(addr, 2)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    sender
        .send_serialized(&Quote {
            symbol: "RUST".into(),
            cents: 104,
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    session.close(CloseReason::normal("done")).await?;
    println!("closed: {}", session.close_reason().await);
    server.kill();
    Ok(())
}
