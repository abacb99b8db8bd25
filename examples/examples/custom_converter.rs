//! A custom converter: CBOR (via ciborium) in Binary frames, end to end through a loopback
//! server. The converter itself is `typed_ws_examples::cbor::Cbor`; implementing
//! `ContentConverter` and passing it to `.converter(..)` is the whole recipe.
//!
//! ```text
//! cargo run --example custom_converter
//! ```

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Frame};
use typed_ws_examples::cbor::Cbor;

/// A sensor reading.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
    #[serde(with = "serde_bytes")]
    raw: Vec<u8>,
}

#[tokio::main]
async fn main() -> typed_ws::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/cbor", listener.local_addr()?);
    let server = Server::builder().converter(Cbor).build();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut session) = server.accept(tcp).await else {
            return;
        };
        while let Ok(mut reading) = session.receive_deserialized::<Reading>().await {
            reading.celsius = reading.celsius * 9.0 / 5.0 + 32.0;
            reading.sensor.push_str(" (°F)");
            if session.send_serialized(&reading).await.is_err() {
                break;
            }
        }
    });

    let client = Client::builder().converter(Cbor).build();
    let mut session = client.web_socket_session(url).await?;
    let reading = Reading {
        sensor: "greenhouse".into(),
        celsius: 21.5,
        raw: vec![0x15, 0x80],
    };
    session.send_serialized(&reading).await?;
    let frame = session
        .receive()
        .await
        .ok_or_else(|| std::io::Error::other("no reply"))??;
    assert!(
        matches!(frame, Frame::Binary(_)),
        "CBOR travels in Binary frames"
    );
    println!("{} bytes of CBOR on the wire", frame.len());
    let back: Reading = typed_ws::ContentConverter::deserialize(&*session.converter(), &frame)?;
    println!("server converted it: {back:?}");
    session.close(CloseReason::normal("done")).await?;
    Ok(())
}
