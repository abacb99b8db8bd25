//! Protocol-typed handles over real loopback sessions: a derive protocol and plain serde types,
//! client and server, split halves, `Stream` and `Sink`, a reconnecting session; and, at
//! compile time, the surface every handle shares.

use std::sync::Arc;

use futures_util::stream::FusedStream;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{
    Client, CloseReason, ErrorKind, Frame, Json, MessagePack, Receiver, ReconnectingSender,
    ReconnectingSession, Sender, Session, TypedReceiver, TypedSender, TypedSession,
};
use typed_ws_tests::support::{echo_server, within, ws_server};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Say {
    text: String,
}

#[derive(typed_ws::Message, Debug, PartialEq, Clone)]
#[message(rename_all = "snake_case")]
enum Chat {
    Say(Say),
    Count(u32),
    Ping,
}

/// Plain serde types, one per direction.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Ask {
    n: u32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Answer {
    n: u32,
    squared: u64,
}

/// A server whose handler speaks `Chat` through a typed session: it answers a `Say` with the
/// count of messages seen so far and echoes everything else.
async fn chat_server<C: typed_ws::ContentConverter + Clone>(
    converter: C,
) -> typed_ws_tests::support::Guard {
    ws_server(
        Server::builder().converter(converter).build(),
        |session: Session<C>| async move {
            let mut chat: TypedSession<Chat, Chat, Session<C>> = session.typed();
            let mut seen = 0;
            loop {
                match chat.receive().await {
                    Ok(Chat::Say(_)) => {
                        seen += 1;
                        if chat.send(Chat::Count(seen)).await.is_err() {
                            break;
                        }
                    }
                    Ok(other) => {
                        seen += 1;
                        if chat.send(other).await.is_err() {
                            break;
                        }
                    }
                    Err(e) if e.is_decode() => {}
                    Err(_) => break,
                }
            }
        },
    )
    .await
}

async fn derive_protocol_round_trip<C: typed_ws::ContentConverter + Clone>(converter: C) {
    let server = chat_server(converter.clone()).await;
    let client = Client::builder().converter(converter).build();
    let session = within("connect", client.web_socket_session(server.url("/chat")))
        .await
        .unwrap();
    let mut chat: TypedSession<Chat, Chat, Session<C>> = session.typed();
    // a payload goes in through the generated From<Say> for Chat: nothing to annotate
    chat.send(Say { text: "hi".into() }).await.unwrap();
    assert_eq!(
        within("count", chat.receive()).await.unwrap(),
        Chat::Count(1)
    );
    chat.send(Chat::Ping).await.unwrap();
    assert_eq!(within("ping", chat.receive()).await.unwrap(), Chat::Ping);
    // the typed session is a Stream of Result<Chat>
    chat.send(Chat::Count(7)).await.unwrap();
    let next = within("stream", chat.next()).await.unwrap().unwrap();
    assert_eq!(next, Chat::Count(7));
    chat.close(CloseReason::normal("done")).await.unwrap();
    assert_eq!(chat.close_reason().await.code.0, 1000);
    // once the session ended, the stream ends and says so
    assert!(within("end", chat.next()).await.is_none());
    assert!(chat.is_terminated());
    let after = chat.receive().await.unwrap_err();
    assert_eq!(after.kind(), ErrorKind::Closed);
}

#[tokio::test]
async fn a_derive_protocol_needs_no_turbofish_over_json() {
    derive_protocol_round_trip(Json::default()).await;
}

#[tokio::test]
async fn a_derive_protocol_needs_no_turbofish_over_messagepack() {
    derive_protocol_round_trip(MessagePack::default()).await;
}

#[tokio::test]
async fn plain_serde_types_one_per_direction() {
    let server = ws_server(Server::new(), |session: Session| async move {
        let mut typed: TypedSession<Answer, Ask> = session.typed();
        while let Ok(Ask { n }) = typed.receive().await {
            if n == 0 {
                // not an Answer: the client's typed receive reports it and goes on
                let _ = typed
                    .get_ref()
                    .send_text("zero is not worth squaring")
                    .await;
                continue;
            }
            let squared = u64::from(n) * u64::from(n);
            if typed.send(Answer { n, squared }).await.is_err() {
                break;
            }
        }
    })
    .await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let mut typed: TypedSession<Ask, Answer> = session.typed();
    typed.send(Ask { n: 12 }).await.unwrap();
    assert_eq!(
        within("answer", typed.receive()).await.unwrap(),
        Answer {
            n: 12,
            squared: 144
        }
    );
    // a frame that is not an Answer is a Decode error that keeps the frame; the session goes on
    typed.send(Ask { n: 0 }).await.unwrap();
    let wrong = within("decode error", typed.receive()).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Decode);
    assert!(wrong.frame().is_some());
    typed.send(Ask { n: 3 }).await.unwrap();
    assert_eq!(
        within("answer after error", typed.receive()).await.unwrap(),
        Answer { n: 3, squared: 9 }
    );
}

#[tokio::test]
async fn split_halves_send_from_many_tasks_and_stream_in_order() {
    let server = chat_server(Json::default()).await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let chat: TypedSession<Chat> = session.typed();
    let (sender, mut receiver): (TypedSender<Chat>, TypedReceiver<Chat>) = chat.split();
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let sender = sender.clone();
            tokio::spawn(async move {
                for i in 0..25u32 {
                    sender.send(Chat::Count(task * 1000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        within("senders", task).await.unwrap();
    }
    let got: Vec<u32> = within(
        "100 echoes",
        (&mut receiver)
            .take(100)
            .map(|item| match item.unwrap() {
                Chat::Count(n) => n,
                other => panic!("unexpected {other:?}"),
            })
            .collect(),
    )
    .await;
    // each sender's messages keep their order
    for task in 0..4u32 {
        let mine: Vec<u32> = got.iter().copied().filter(|n| n / 1000 == task).collect();
        assert_eq!(mine, (0..25).map(|i| task * 1000 + i).collect::<Vec<_>>());
    }
    sender.close(CloseReason::normal("bye")).await.unwrap();
    assert_eq!(receiver.close_reason().await.code.0, 1000);
}

#[tokio::test]
async fn typed_sender_is_a_sink_and_closing_it_closes_the_session() {
    let server = chat_server(Json::default()).await;
    let session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    let (mut sender, receiver) = session.typed::<Chat, Chat>().split();
    let mut receiver = receiver;
    let items = futures_util::stream::iter((0..50u32).map(|n| Ok(Chat::Count(n))));
    within("send_all", sender.send_all(&mut Box::pin(items)))
        .await
        .unwrap();
    let got: Vec<Chat> = within(
        "echoes",
        (&mut receiver).take(50).map(|item| item.unwrap()).collect(),
    )
    .await;
    assert_eq!(got, (0..50).map(Chat::Count).collect::<Vec<_>>());
    within("sink close", SinkExt::close(&mut sender))
        .await
        .unwrap();
    let reason = within("close reason", receiver.close_reason()).await;
    assert_eq!(reason.code.0, 1000);
}

#[tokio::test]
async fn sessions_and_senders_are_sinks_of_frames() {
    let server = echo_server(Server::new()).await;
    let mut session = within("connect", Client::new().web_socket_session(server.url("/")))
        .await
        .unwrap();
    // feed only starts the send; flush finishes it (then "a" is queued before "b")
    within("feed", session.feed(Frame::Text("a".into())))
        .await
        .unwrap();
    within("flush", SinkExt::flush(&mut session)).await.unwrap();
    let mut sender = session.sender();
    within(
        "sender send",
        SinkExt::send(&mut sender, Frame::Text("b".into())),
    )
    .await
    .unwrap();
    let texts: Vec<String> = within(
        "echoes",
        (&mut session)
            .take(2)
            .map(|item| item.unwrap().read_text().unwrap().to_owned())
            .collect(),
    )
    .await;
    assert_eq!(texts, ["a", "b"]);
    within("close", SinkExt::close(&mut session)).await.unwrap();
    assert_eq!(session.close_reason().await.code.0, 1000);
    assert!(within("end", session.next()).await.is_none());
    assert!(session.is_terminated());
}

#[tokio::test]
async fn a_reconnecting_session_is_typed_the_same_way() {
    let server = chat_server(Json::default()).await;
    let session: ReconnectingSession = within(
        "connect",
        Client::new().reconnecting(server.url("/")).connect(),
    )
    .await
    .unwrap();
    let mut chat: TypedSession<Chat, Chat, ReconnectingSession> = session.typed();
    chat.send(Say { text: "x".into() }).await.unwrap();
    assert_eq!(
        within("count", chat.receive()).await.unwrap(),
        Chat::Count(1)
    );
    let sender: TypedSender<Chat, ReconnectingSender> = chat.sender();
    sender.send(Chat::Ping).await.unwrap();
    assert_eq!(
        within("ping", chat.next()).await.unwrap().unwrap(),
        Chat::Ping
    );
    chat.close(CloseReason::normal("over")).await.unwrap();
    assert!(within("end", chat.next()).await.is_none());
    assert!(chat.is_terminated());
    assert_eq!(chat.close_reason().await.code.0, 1000);
}

#[tokio::test]
async fn reconnecting_handles_have_the_session_surface() {
    let server = echo_server(Server::new()).await;
    let mut session: ReconnectingSession = within(
        "connect",
        Client::new().reconnecting(server.url("/")).connect(),
    )
    .await
    .unwrap();
    let sender = session.sender();
    sender
        .send_serialized(&Say { text: "s".into() })
        .await
        .unwrap();
    sender.flush().await.unwrap();
    let echoed: Say = within("echo", session.receive_deserialized())
        .await
        .unwrap();
    assert_eq!(echoed.text, "s");
    session.send_message::<Chat>(Chat::Ping).await.unwrap();
    let got: Vec<Chat> = within(
        "message stream",
        session
            .message_stream::<Chat>()
            .take(1)
            .map(|item| item.unwrap())
            .collect(),
    )
    .await;
    assert_eq!(got, [Chat::Ping]);
    assert!(!session.is_closed());
    assert!(session.try_close_reason().is_none());
    let _converter: Arc<Json> = session.converter();
    session.close(CloseReason::normal("end")).await.unwrap();
    assert!(sender.is_closed());
    assert_eq!(sender.try_close_reason().map(|r| r.code.0), Some(1000));
    assert_eq!(
        within("queue end", session.receive()).await.map(|_| ()),
        None
    );
    let err = sender.send_text("late").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
}

// ---- compile-time surface: these functions are never called; they must compile ----

fn shared<T: Send + Sync + Unpin + 'static>() {}
fn cloneable<T: Clone>() {}
fn frame_stream<T: Stream<Item = typed_ws::Result<Frame>> + FusedStream>() {}
fn frame_sink<T: Sink<Frame, Error = typed_ws::Error>>() {}

/// Every sending handle has the same sending methods, with the same argument and result types.
macro_rules! sending_surface {
    ($handle:expr) => {{
        let handle = $handle;
        let _surface = async {
            let _: typed_ws::Result<()> = handle.send(Frame::Text("t".into())).await;
            let _: typed_ws::Result<()> = handle.send_text("t").await;
            let _: typed_ws::Result<()> = handle.send_binary(vec![1u8]).await;
            let _: typed_ws::Result<()> = handle.send_serialized(&Say { text: "t".into() }).await;
            let _: typed_ws::Result<()> = handle.send_message::<Chat>(Chat::Ping).await;
            let _: typed_ws::Result<()> = handle.flush().await;
            let _: typed_ws::Result<()> = handle.close(CloseReason::normal("")).await;
            let _: CloseReason = handle.close_reason().await;
            let _: Option<CloseReason> = handle.try_close_reason();
            let _: bool = handle.is_closed();
            let _: Arc<Json> = handle.converter();
            let _: TypedSender<Chat, _> = handle.typed_sender::<Chat>();
        };
    }};
}

/// Every receiving handle has the same receiving methods.
macro_rules! receiving_surface {
    ($handle:expr) => {{
        let mut handle = $handle;
        let _surface = async move {
            let _: Option<typed_ws::Result<Frame>> = handle.receive().await;
            let _: typed_ws::Result<Say> = handle.receive_deserialized().await;
            let _: typed_ws::Result<Chat> = handle.receive_message().await;
            let _ = handle.messages::<Say>().next().await;
            let _ = handle.message_stream::<Chat>().next().await;
            let _: usize = handle.queued();
            let _: CloseReason = handle.close_reason().await;
            let _: Option<CloseReason> = handle.try_close_reason();
            let _: bool = handle.is_closed();
            let _: Arc<Json> = handle.converter();
            let _: TypedReceiver<Chat, _> = handle.typed_receiver::<Chat>();
        };
    }};
}

#[allow(dead_code)]
fn the_shared_surface_compiles(
    session: Session,
    sender: Sender,
    receiver: Receiver,
    reconnecting: ReconnectingSession,
    reconnecting_sender: ReconnectingSender,
) {
    shared::<Session>();
    shared::<Sender>();
    shared::<Receiver>();
    shared::<ReconnectingSession>();
    shared::<ReconnectingSender>();
    shared::<TypedSession<Chat>>();
    shared::<TypedSender<Chat>>();
    shared::<TypedReceiver<Chat>>();
    shared::<TypedSession<Chat, Chat, ReconnectingSession>>();
    shared::<typed_ws::Error>();
    cloneable::<Sender>();
    cloneable::<ReconnectingSender>();
    cloneable::<TypedSender<Chat>>();
    cloneable::<TypedSender<Chat, ReconnectingSender>>();
    frame_stream::<Session>();
    frame_stream::<Receiver>();
    frame_stream::<ReconnectingSession>();
    frame_sink::<Session>();
    frame_sink::<Sender>();
    frame_sink::<ReconnectingSession>();
    frame_sink::<ReconnectingSender>();
    fn typed_stream<T: Stream<Item = typed_ws::Result<Chat>> + FusedStream>() {}
    fn typed_sink<T: Sink<Chat, Error = typed_ws::Error>>() {}
    typed_stream::<TypedSession<Chat>>();
    typed_stream::<TypedReceiver<Chat>>();
    typed_stream::<TypedSession<Chat, Chat, ReconnectingSession>>();
    typed_sink::<TypedSession<Chat>>();
    typed_sink::<TypedSender<Chat>>();
    typed_sink::<TypedSender<Chat, ReconnectingSender>>();

    sending_surface!(&session);
    sending_surface!(&sender);
    sending_surface!(&reconnecting);
    sending_surface!(&reconnecting_sender);
    receiving_surface!(session);
    receiving_surface!(receiver);
    receiving_surface!(reconnecting);
}
