//! Authorization headers and query tokens never appear in tracing output, at any level.

use typed_ws::server::Server;
use typed_ws::{Client, CloseReason, Request};
use typed_ws_tests::support::{LogCapture, echo_server, within};

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let capture = LogCapture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = echo_server(Server::new()).await;
    let request = Request::builder()
        .host("127.0.0.1")
        .port(server.addr.port())
        .path("/chat")
        .header("Authorization", "Bearer SECRET-HEADER-TOKEN")
        .query("token", "SECRET-QUERY-TOKEN");
    let mut session = within("connect", Client::new().web_socket_session(request))
        .await
        .unwrap();
    session.send_text("hello").await.unwrap();
    within("echo", session.receive()).await.unwrap().unwrap();
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .unwrap();

    // a refused connection with a token in the URL: its error path must not log it either
    let url = format!(
        "ws://127.0.0.1:{}/x?token=SECRET-QUERY-TOKEN",
        server.addr.port() ^ 1
    );
    let _ = Client::new().web_socket_session(url).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("session open"),
        "the capture saw nothing:\n{logs}"
    );
    assert!(
        logs.contains("token=<redacted>"),
        "url not in the span:\n{logs}"
    );
    assert!(
        !logs.contains("SECRET"),
        "a secret leaked into the logs:\n{logs}"
    );
}
