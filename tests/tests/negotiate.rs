//! Converters negotiated by subprotocol, against typed-ws's own server and a Python
//! `websockets` server selecting each subprotocol.

use serde::{Deserialize, Serialize};
use typed_ws::server::Server;
use typed_ws::{Client, ContentConverter, ErrorKind, Frame, Json, MessagePack, Offer};
use typed_ws_tests::support::{echo_server, peer, spawn_peer, within, ws_server};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Count {
    name: String,
    n: u32,
}

fn negotiating_client() -> Client<typed_ws::Chosen<Json, MessagePack>> {
    Client::builder()
        .negotiate(Offer::new("v1.json", Json::default()).or("v1.msgpack", MessagePack::default()))
        .build()
}

#[tokio::test]
async fn server_preference_picks_the_converter_on_both_ends() {
    let server = ws_server(
        Server::builder()
            .negotiate(
                Offer::new("v1.msgpack", MessagePack::default()).or("v1.json", Json::default()),
            )
            .build(),
        |mut session| async move {
            // the server's converter follows its own selection: MessagePack
            while let Ok(mut count) = session.receive_deserialized::<Count>().await {
                count.n += 1;
                let _ = session.send_serialized(&count).await;
            }
        },
    )
    .await;
    let mut session = within(
        "connect",
        negotiating_client().web_socket_session(server.url("/")),
    )
    .await
    .unwrap();
    assert_eq!(session.handshake().subprotocol(), Some("v1.msgpack"));
    assert_eq!(session.converter().name(), "messagepack");
    session
        .send_serialized(&Count {
            name: "a".into(),
            n: 1,
        })
        .await
        .unwrap();
    let frame = within("reply", session.receive()).await.unwrap().unwrap();
    assert!(matches!(frame, Frame::Binary(_)), "{frame:?}");
    let back: Count = session.converter().deserialize(&frame).unwrap();
    assert_eq!(
        back,
        Count {
            name: "a".into(),
            n: 2
        }
    );
}

#[tokio::test]
async fn a_json_only_server_gets_json() {
    let server = echo_server(
        Server::builder()
            .negotiate(Offer::new("v1.json", Json::default()))
            .build(),
    )
    .await;
    let mut session = within(
        "connect",
        negotiating_client().web_socket_session(server.url("/")),
    )
    .await
    .unwrap();
    assert_eq!(session.handshake().subprotocol(), Some("v1.json"));
    session
        .send_serialized(&Count {
            name: "j".into(),
            n: 5,
        })
        .await
        .unwrap();
    let frame = within("echo", session.receive()).await.unwrap().unwrap();
    assert_eq!(frame, Frame::Text(r#"{"name":"j","n":5}"#.into()));
}

#[tokio::test]
async fn no_common_subprotocol_is_a_handshake_error_naming_the_offers() {
    let server = echo_server(
        Server::builder()
            .negotiate(Offer::new("v2.cbor", Json::default()))
            .build(),
    )
    .await;
    let err = within(
        "connect",
        negotiating_client().web_socket_session(server.url("/")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
    assert_eq!(err.status(), Some(400));
    let body = err
        .response()
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&body).contains("v2.cbor"),
        "{body:?}"
    );

    // a server that ignores subprotocols selects none: no converter can be chosen
    let plain = echo_server(Server::new()).await;
    let err = within(
        "connect",
        negotiating_client().web_socket_session(plain.url("/")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
    assert!(err.to_string().contains("selected no subprotocol"), "{err}");
    assert!(err.to_string().contains("v1.msgpack"), "{err}");
}

#[tokio::test]
async fn requests_may_not_also_set_subprotocols() {
    let request = typed_ws::Request::builder().port(1).subprotocols(["x"]);
    let err = negotiating_client()
        .web_socket_session(request)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

const PYTHON_SERVER: &str = r#"
import asyncio, json, sys, msgpack
from websockets.asyncio.server import serve

async def handler(ws):
    async for message in ws:
        if ws.subprotocol == "v1.json":
            value = json.loads(message); value["n"] += 1; await ws.send(json.dumps(value))
        else:
            value = msgpack.unpackb(message); value["n"] += 1; await ws.send(msgpack.packb(value))

async def main():
    async with serve(handler, "127.0.0.1", 0, subprotocols=[sys.argv[1]]) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().create_future()

asyncio.run(main())
"#;

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn python_websockets_server_selects_each_subprotocol() {
    for (subprotocol, binary) in [("v1.json", false), ("v1.msgpack", true)] {
        let (_child, port) =
            spawn_peer(&peer("py/bin/python"), &["-c", PYTHON_SERVER, subprotocol]);
        let url = format!("ws://127.0.0.1:{port}/");
        let mut session = within("connect", negotiating_client().web_socket_session(url))
            .await
            .unwrap();
        assert_eq!(session.handshake().subprotocol(), Some(subprotocol));
        session
            .send_serialized(&Count {
                name: "py".into(),
                n: 41,
            })
            .await
            .unwrap();
        let frame = within("reply", session.receive()).await.unwrap().unwrap();
        assert_eq!(
            matches!(frame, Frame::Binary(_)),
            binary,
            "{subprotocol}: {frame:?}"
        );
        let back: Count = session.converter().deserialize(&frame).unwrap();
        assert_eq!(
            back,
            Count {
                name: "py".into(),
                n: 42
            }
        );
    }
}
