//! No payload of the application's reaches the logs at any level: typed-ws logs frame kinds
//! and lengths only, and the filter the crate docs give for the transport (tungstenite logs
//! whole frames through the `log` crate at TRACE) keeps the transport's lines out.

use typed_ws::server::Server;
use typed_ws::{Client, CloseReason};
use typed_ws_tests::support::{LogCapture, echo_server, within};

#[tokio::test]
async fn payloads_never_reach_the_logs_with_the_documented_filter() {
    let capture = LogCapture::default();
    let writer = capture.clone();
    // the filter of the crate docs ("Logging"), everything else at TRACE; `try_init` also
    // routes the `log` crate's records (tungstenite's) into tracing
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,tungstenite=info,tokio_tungstenite=info",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber of this test binary");

    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    session.send_text("PAYLOAD-SECRET-TEXT").await.unwrap();
    session
        .send_binary(b"PAYLOAD-SECRET-BINARY".to_vec())
        .await
        .unwrap();
    within("echo", session.receive()).await.unwrap().unwrap();
    within("echo", session.receive()).await.unwrap().unwrap();
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("received") && logs.contains("len=19"),
        "TRACE was not captured:\n{logs}"
    );
    assert!(
        !logs.contains("PAYLOAD-SECRET") && !logs.contains("SECRET-BINARY"),
        "a payload leaked into the logs:\n{logs}"
    );
}
