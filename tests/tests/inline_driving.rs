//! The driver's work done on the application's task: a receive that waits runs the driver's
//! pass itself and takes the socket's read readiness, and a reply is written at once. What
//! must hold: pings are answered and frames keep their order whether the application's task
//! or the driver's does the work, and readiness handed to a receive that is then dropped is not
//! lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use typed_ws::{Client, Frame, Session};
use typed_ws_tests::support::within;

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

/// A typed-ws client session (no pinger) and the hand-written tokio-tungstenite peer it is
/// connected to.
async fn connected() -> (Session, WebSocketStream<TcpStream>) {
    let (listener, url) = listener().await;
    let (peer_tx, peer_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = peer_tx.send(ws);
    });
    let client = Client::builder().ping_interval(None).build();
    let session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    (session, within("accept", peer_rx).await.unwrap())
}

/// Counts its wake-ups; never polls anything.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The peer's next message, which must be a pong (bounded wait).
async fn next_pong(ws: &mut WebSocketStream<TcpStream>) -> Vec<u8> {
    within("pong", async {
        match ws.next().await {
            Some(Ok(Message::Pong(payload))) => payload.to_vec(),
            Some(Ok(other)) => panic!("expected a pong, got {other:?}"),
            other => panic!("connection ended before the pong: {other:?}"),
        }
    })
    .await
}

#[tokio::test]
async fn readiness_handed_to_a_receive_that_is_dropped_goes_back_to_the_driver() {
    let (mut session, mut peer) = connected().await;
    // a first frame, so the driver has run and the receive below takes the inline path
    peer.send(Message::text("first")).await.unwrap();
    assert_eq!(
        within("first", session.receive()).await.unwrap().unwrap(),
        Frame::Text("first".into())
    );

    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    {
        let mut receive = Box::pin(session.receive());
        let polled = receive.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(polled.is_pending(), "nothing was sent yet");
        // the ping's arrival wakes the waiting receive, which is never polled again
        peer.send(Message::Ping(b"are you there".to_vec().into()))
            .await
            .unwrap();
        within("the receive is woken", async {
            while counter.0.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        // dropped here: the readiness it took goes back to the driver's task
    }
    assert_eq!(next_pong(&mut peer).await, b"are you there");
    // and the session still reads
    peer.send(Message::text("after")).await.unwrap();
    assert_eq!(
        within("after", session.receive()).await.unwrap().unwrap(),
        Frame::Text("after".into())
    );
}

#[tokio::test]
async fn a_waiting_receive_answers_pings_and_then_returns_the_data() {
    let (mut session, mut peer) = connected().await;
    let receiving = tokio::spawn(async move {
        let frame = session.receive().await;
        (session, frame)
    });
    for round in 0..20u8 {
        peer.send(Message::Ping(vec![round].into())).await.unwrap();
        assert_eq!(next_pong(&mut peer).await, [round]);
    }
    peer.send(Message::text("data")).await.unwrap();
    let (_session, frame) = within("the receive ends", receiving).await.unwrap();
    assert_eq!(frame.unwrap().unwrap(), Frame::Text("data".into()));
}

#[tokio::test]
async fn replies_written_at_once_stay_behind_the_frames_queued_before_them() {
    const ROUNDS: u32 = 300;
    let (listener, url) = listener().await;
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let (mut write, mut read) = ws.split();
        // every question at once, so each is already there when the client has just queued
        // frames and receives it
        for round in 0..ROUNDS {
            write
                .feed(Message::text(format!("ask {round}")))
                .await
                .unwrap();
        }
        write.flush().await.unwrap();
        let mut seen = Vec::new();
        loop {
            match within("frame", read.next()).await {
                Some(Ok(Message::Text(text))) if text.as_str() == "end" => return seen,
                Some(Ok(Message::Text(text))) => seen.push(text.as_str().to_owned()),
                other => panic!("after {} frames: {other:?}", seen.len()),
            }
        }
    });
    let client = Client::builder().ping_interval(None).build();
    let mut session = within("connect", client.web_socket_session(url))
        .await
        .unwrap();
    let mut expected = Vec::new();
    for round in 0..ROUNDS {
        // 0, 1 or 2 frames queued before the question is taken: with none (and the queue
        // drained by the flush before), the reply is written at once
        for part in 0..round % 3 {
            let text = format!("{round}.{part}");
            session.send_text(text.clone()).await.unwrap();
            expected.push(text);
        }
        let asked = within("ask", session.receive()).await.unwrap().unwrap();
        assert_eq!(asked, Frame::Text(format!("ask {round}").into()));
        let reply = format!("{round}.reply");
        session.send_text(reply.clone()).await.unwrap();
        expected.push(reply);
        if round % 3 == 2 {
            within("flush", session.flush()).await.unwrap();
        }
    }
    session.send_text("end").await.unwrap();
    let seen = within("peer", peer).await.unwrap();
    assert_eq!(seen, expected);
}
