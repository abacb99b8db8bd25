//! `Server::serve`: the accept loop over a real loopback listener — handshakes never block
//! each other, the caps hold, and a graceful shutdown closes every session with 1001.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use typed_ws::server::Server;
use typed_ws::{Client, CloseCode, CloseReason, Frame, Session};
use typed_ws_tests::support::{echo, within};

/// A running `serve`, stopped by sending on `stop`.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        within("serve to return after the shutdown signal", &mut self.task)
            .await
            .expect("serve task")
            .expect("serve result");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run<F, Fut>(server: Server, handler: F) -> Running
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(
        server
            .serve(listener, handler)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

async fn echo_once(session: &mut Session, text: &str) {
    session.send_text(text).await.expect("send");
    let got = within("echo", session.receive()).await;
    assert!(
        matches!(&got, Some(Ok(Frame::Text(t))) if t == text),
        "{got:?}"
    );
}

#[tokio::test]
async fn an_idle_connection_does_not_hold_up_other_clients() {
    // a long connect timeout: if the idle socket blocked the loop, the test would time out
    let server = Server::builder()
        .connect_timeout(Duration::from_secs(600))
        .build();
    let running = run(server, echo).await;
    let _idle = within("idle connect", TcpStream::connect(running.addr))
        .await
        .expect("connect");
    let mut sessions = Vec::new();
    for i in 0..3 {
        let mut session = within("client", Client::new().web_socket_session(running.url("/")))
            .await
            .expect("upgrade while an idle socket waits");
        echo_once(&mut session, &format!("hello {i}")).await;
        sessions.push(session);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_closes_every_session_with_1001_and_returns() {
    let running = run(Server::new(), echo).await;
    let mut sessions = Vec::new();
    for i in 0..3 {
        let mut session = within("client", Client::new().web_socket_session(running.url("/")))
            .await
            .expect("upgrade");
        echo_once(&mut session, &format!("hello {i}")).await;
        sessions.push(session);
    }
    running.shutdown().await;
    for mut session in sessions {
        assert!(within("end of stream", session.receive()).await.is_none());
        let reason = within("close reason", session.close_reason()).await;
        assert_eq!(
            reason,
            CloseReason::new(CloseCode::GOING_AWAY, "going away")
        );
    }
}

#[tokio::test]
async fn shutdown_is_bounded_by_close_timeout_when_a_handler_never_returns() {
    let server = Server::builder()
        .close_timeout(Duration::from_millis(200))
        .build();
    let running = run(server, async |session: Session| {
        // holds the session and never looks at it again
        let _kept = session;
        std::future::pending::<()>().await;
    })
    .await;
    let mut session = within("client", Client::new().web_socket_session(running.url("/")))
        .await
        .expect("upgrade");
    running.shutdown().await;
    assert!(within("end of stream", session.receive()).await.is_none());
    assert_eq!(
        within("close reason", session.close_reason()).await.code,
        CloseCode::GOING_AWAY
    );
}

#[tokio::test]
async fn a_client_over_max_sessions_gets_503() {
    let server = Server::builder().max_sessions(1).build();
    let running = run(server, echo).await;
    let mut first = within("first", Client::new().web_socket_session(running.url("/")))
        .await
        .expect("first upgrade");
    echo_once(&mut first, "one").await;
    let error = within("second", Client::new().web_socket_session(running.url("/")))
        .await
        .expect_err("over the cap");
    assert_eq!(error.status(), Some(503), "{error}");
    echo_once(&mut first, "first still served").await;
    running.shutdown().await;
}

#[tokio::test]
async fn at_max_handshakes_the_loop_waits_for_a_slot() {
    let server = Server::builder()
        .max_handshakes(1)
        .connect_timeout(Duration::from_secs(1))
        .build();
    let running = run(server, echo).await;
    // takes the only handshake slot and says nothing: dropped at the connect timeout
    let idle = within("idle connect", TcpStream::connect(running.addr))
        .await
        .expect("connect");
    let mut session = within(
        "a client waiting for the slot",
        Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .web_socket_session(running.url("/")),
    )
    .await
    .expect("upgrade once the idle socket is dropped");
    // the server dropped the idle socket before it took this client's handshake: its FIN is
    // already queued (a direct, non-blocking read, not tokio's cached readiness)
    let idle = idle.into_std().expect("std socket");
    idle.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut &idle, &mut byte);
    assert!(
        matches!(read, Ok(0)),
        "the second client was served while the first held the only handshake slot: {read:?}"
    );
    echo_once(&mut session, "got the slot").await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_does_not_leave_its_session_open() {
    let running = run(Server::new(), async |session: Session| {
        let _session = session;
        panic!("handler bug (expected by the test)");
    })
    .await;
    let mut session = within("client", Client::new().web_socket_session(running.url("/")))
        .await
        .expect("upgrade");
    // the session ends (the handler's drop closes it) instead of staying open until shutdown
    assert!(
        within("the session to end", session.receive())
            .await
            .is_none()
    );
    let more = within(
        "client after a panic",
        Client::new().web_socket_session(running.url("/")),
    )
    .await;
    assert!(
        more.is_ok(),
        "the loop keeps serving after a handler panicked"
    );
    running.shutdown().await;
}
