//! The test support itself: a server handler's failed assertion must fail the test that
//! started the server, whether the test ends with `Guard::finish` or by dropping the guard.

use tokio::io::AsyncReadExt;
use typed_ws_tests::support::{tcp_server, within};

/// A server whose handler fails an assertion on the first byte it reads.
async fn asserting_server() -> typed_ws_tests::support::Guard {
    tcp_server(|mut tcp| async move {
        let mut byte = [0u8; 1];
        let _ = tcp.read(&mut byte).await;
        assert_eq!(byte[0], b'y', "the handler's own assertion");
    })
    .await
}

async fn send_to(server: &typed_ws_tests::support::Guard, byte: u8) {
    use tokio::io::AsyncWriteExt;
    let mut tcp = within("connect", tokio::net::TcpStream::connect(server.addr))
        .await
        .unwrap();
    tcp.write_all(&[byte]).await.unwrap();
    // the handler returns (or panics) and drops its end: we read end of stream
    let mut rest = Vec::new();
    within("the handler to end", tcp.read_to_end(&mut rest))
        .await
        .unwrap();
}

#[tokio::test]
#[should_panic(expected = "the handler's own assertion")]
async fn a_failed_assertion_in_a_handler_fails_finish() {
    let server = asserting_server().await;
    send_to(&server, b'n').await;
    server.finish().await;
}

#[tokio::test]
#[should_panic(expected = "the handler's own assertion")]
async fn a_failed_assertion_in_a_handler_fails_the_guard_drop() {
    let server = asserting_server().await;
    send_to(&server, b'n').await;
    server.handler_panicked().await;
    drop(server);
}

#[tokio::test]
async fn handlers_that_pass_let_finish_return() {
    let server = asserting_server().await;
    send_to(&server, b'y').await;
    send_to(&server, b'y').await;
    server.finish().await;
}
