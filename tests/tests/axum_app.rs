//! The axum integration: the example chat app (`typed_ws_examples::axum_chat`) served by
//! `axum::serve` on a loopback port, driven by typed-ws's client, raw HTTP requests and (with
//! the peers installed) headless Chromium loading the app's page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use typed_ws::{Client, CloseReason};
use typed_ws_examples::axum_chat::{Down, Up, app, chat_server};
use typed_ws_tests::support::within;

/// The app on 127.0.0.1:0, allowing its own origin; aborted on drop.
struct App {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app(chat_server([format!("http://{addr}")]));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, service).await;
    });
    App { addr, task }
}

/// Sends `request` and reads the whole answer (the server closes after a refusal).
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut tcp = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    within("write", tcp.write_all(request.as_bytes()))
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = within("the answer", tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_typed_ws_client_chats_through_the_axum_route() {
    let app = start().await;
    let mut session = within(
        "upgrade",
        Client::new().web_socket_session(format!("ws://{}/chat?room=lobby", app.addr)),
    )
    .await
    .expect("upgrade through axum");
    session
        .send_serialized(&Up::Join { nick: "ann".into() })
        .await
        .expect("send");
    let welcome: Down = within("welcome", session.receive_deserialized())
        .await
        .expect("welcome");
    assert_eq!(
        welcome,
        Down::Welcome {
            nick: "ann@lobby".into(),
            members: 1
        }
    );
    session
        .send_serialized(&Up::Say { text: "hi".into() })
        .await
        .expect("send");
    let said: Down = within("said", session.receive_deserialized())
        .await
        .expect("said");
    assert_eq!(
        said,
        Down::Said {
            nick: "ann@lobby".into(),
            text: "hi".into()
        }
    );
    within("close", session.close(CloseReason::normal("bye")))
        .await
        .expect("close");
    assert_eq!(
        within("reason", session.close_reason()).await.code,
        typed_ws::CloseCode::NORMAL
    );
}

#[tokio::test]
async fn the_axum_route_answers_like_the_standalone_server() {
    let app = start().await;
    let addr = app.addr;
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    // the hook's refusal
    let answer = raw(
        addr,
        &format!("GET /chat HTTP/1.1\r\nHost: x\r\n{upgrade}Sec-WebSocket-Version: 13\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.ends_with("say which room: /chat?room=NAME"),
        "{answer}"
    );
    // a foreign origin
    let answer = raw(addr, &format!("GET /chat?room=a HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n{upgrade}Sec-WebSocket-Version: 13\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(answer.ends_with("origin not allowed"), "{answer}");
    // version 8: 426 with the version we speak
    let answer = raw(
        addr,
        &format!(
            "GET /chat?room=a HTTP/1.1\r\nHost: x\r\n{upgrade}Sec-WebSocket-Version: 8\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13\r\n"),
        "{answer}"
    );
    // a plain GET
    let answer = raw(addr, "GET /chat?room=a HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    // no key
    let answer = raw(addr, "GET /chat?room=a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(!answer.contains(" 101 "), "{answer}");
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Count {
    n: u32,
}

#[tokio::test]
async fn an_axum_route_negotiates_converters_and_tells_the_hook_the_peer_address() {
    use axum::extract::State;
    use axum::response::Response;
    use axum::routing::get;
    use typed_ws::server::{Accepted, Server, WebSocketUpgrade};
    use typed_ws::{Chosen, ContentConverter, Frame, Json, MessagePack, Offer, Session};

    #[derive(Debug)]
    struct Peer(SocketAddr);

    type Negotiated = Chosen<MessagePack, Json>;
    async fn count(
        State(server): State<Server<Negotiated>>,
        upgrade: WebSocketUpgrade,
    ) -> Response {
        upgrade.on_upgrade(&server, async |mut session: Session<Negotiated>| {
            let peer = session.handshake().data::<Peer>().map(|p| p.0);
            let _ = session.send_text(format!("peer {peer:?}")).await;
            while let Ok(count) = session.receive_deserialized::<Count>().await {
                let _ = session.send_serialized(&Count { n: count.n + 1 }).await;
            }
        })
    }

    let server = Server::builder()
        .negotiate(Offer::new("v1.msgpack", MessagePack::default()).or("v1.json", Json::default()))
        .before_upgrade(|request| match request.peer_addr() {
            Some(addr) => Ok(Accepted::new().data(Peer(addr))),
            None => Err(typed_ws::server::Refusal::new(500).body("no peer address")),
        })
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = axum::Router::new()
        .route("/count", get(count))
        .with_state(server);
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let _app = App { addr, task };

    // a client offering only JSON gets JSON (Text frames) from the same route
    let request = typed_ws::Request::builder()
        .host("127.0.0.1")
        .port(addr.port())
        .path("/count")
        .subprotocols(["v1.json"]);
    let mut session = within("upgrade", Client::new().web_socket_session(request))
        .await
        .expect("upgrade");
    assert_eq!(session.handshake().subprotocol(), Some("v1.json"));
    let greeting = within("greeting", session.receive()).await;
    let Some(Ok(Frame::Text(greeting))) = greeting else {
        panic!("{greeting:?}");
    };
    assert!(
        session_local_port(&greeting).is_some_and(|port| port != 0),
        "the hook saw no peer address: {greeting}"
    );
    session
        .send_serialized(&Count { n: 1 })
        .await
        .expect("send");
    let frame = within("reply", session.receive()).await;
    let Some(Ok(frame @ Frame::Text(_))) = frame else {
        panic!("JSON answers come as Text frames: {frame:?}");
    };
    assert_eq!(
        Json::default().deserialize::<Count>(&frame).expect("json"),
        Count { n: 2 }
    );

    // a client offering MessagePack first gets MessagePack (Binary frames)
    let client = Client::builder()
        .negotiate(Offer::new("v1.msgpack", MessagePack::default()).or("v1.json", Json::default()))
        .build();
    let mut session = within(
        "upgrade",
        client.web_socket_session(format!("ws://{addr}/count")),
    )
    .await
    .expect("upgrade");
    assert_eq!(session.handshake().subprotocol(), Some("v1.msgpack"));
    let _greeting = within("greeting", session.receive()).await;
    session
        .send_serialized(&Count { n: 41 })
        .await
        .expect("send");
    let frame = within("reply", session.receive()).await;
    let Some(Ok(frame @ Frame::Binary(_))) = frame else {
        panic!("MessagePack answers come as Binary frames: {frame:?}");
    };
    assert_eq!(
        MessagePack::default()
            .deserialize::<Count>(&frame)
            .expect("msgpack"),
        Count { n: 42 }
    );

    // a client offering neither is refused with 400 naming what the server speaks
    let error = within(
        "refused",
        Client::new().web_socket_session(format!("ws://{addr}/count")),
    )
    .await
    .expect_err("no common subprotocol");
    assert_eq!(error.status(), Some(400), "{error}");
}

/// The port in "peer Some(127.0.0.1:PORT)".
fn session_local_port(greeting: &str) -> Option<u16> {
    greeting
        .strip_prefix("peer Some(127.0.0.1:")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

/// The scratch profile of a Chromium run, removed on drop.
struct Profile(PathBuf);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A DevTools protocol connection (typed-ws's own client on Chromium's debugging socket).
struct DevTools {
    session: typed_ws::Session,
    next_id: u64,
}

impl DevTools {
    /// Sends `method` and returns its result (events arriving meanwhile are dropped).
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.session
            .send_serialized(&message)
            .await
            .expect("send to devtools");
        loop {
            let reply: Value = self
                .session
                .receive_deserialized()
                .await
                .unwrap_or_else(|e| panic!("devtools closed waiting for {method}: {e}"));
            if reply["id"] == json!(id) {
                assert!(reply.get("error").is_none(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Opens `url` in a new tab and returns what the page wrote into `#result` once it is no
    /// longer "running".
    async fn verdict(&mut self, url: &str) -> String {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let page = attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        self.call(Some(&page), "Page.enable", json!({})).await;
        self.call(Some(&page), "Page.navigate", json!({ "url": url }))
            .await;
        self.event(&page, "Page.loadEventFired").await;
        // the page writes its verdict into #result; wait for it inside the page
        let waited = self
            .call(
                Some(&page),
                "Runtime.evaluate",
                json!({
                    "expression": "new Promise((resolve) => { const poll = () => { \
                        const t = document.getElementById('result').textContent; \
                        if (t !== 'running') resolve(t); else setTimeout(poll, 20); }; poll(); })",
                    "awaitPromise": true,
                    "returnByValue": true,
                }),
            )
            .await;
        waited["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for event `method` of `session`.
    async fn event(&mut self, session: &str, method: &str) -> Value {
        loop {
            let event: Value = self
                .session
                .receive_deserialized()
                .await
                .unwrap_or_else(|e| panic!("devtools closed waiting for {method}: {e}"));
            if event["method"] == json!(method) && event["sessionId"] == json!(session) {
                return event;
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs peers: run scripts/test"]
async fn headless_chromium_chats_with_typed_json() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromium is missing: run scripts/test, which installs it with scripts/peers");
    let app = start().await;
    let other = start().await;
    let profile = Profile(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-profile-{}", std::process::id())),
    );
    std::fs::create_dir_all(&profile.0).expect("profile dir");
    let mut child = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    // chromium's cold start on a busy machine is slower than the default wait
    let bound = Duration::from_secs(60);
    let outcome = tokio::time::timeout(bound, async {
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .expect("read chromium's stderr")
                .expect("chromium exited before opening its debugging port");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                break url.trim().to_owned();
            }
        };
        // keep draining stderr so chromium never blocks on a full pipe
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let session = Client::builder()
            .max_message_size(64 << 20)
            .build()
            .web_socket_session(url)
            .await
            .expect("connect to devtools");
        let mut devtools = DevTools {
            session,
            next_id: 0,
        };
        let same_origin = devtools.verdict(&format!("http://{}/", app.addr)).await;
        // the same page from another origin (a second server), connecting to the first app:
        // its origin check refuses the browser before the 101
        let cross_origin = devtools
            .verdict(&format!("http://{}/?ws={}", other.addr, app.addr))
            .await;
        let _ = devtools.call(None, "Browser.close", json!({})).await;
        (same_origin, cross_origin)
    })
    .await;
    // killed by PID whatever happened, then reaped
    let _ = child.kill().await;
    let (result, cross_origin) =
        outcome.unwrap_or_else(|_| panic!("chromium gave no verdict within {bound:?}"));
    assert!(
        cross_origin.starts_with("FAIL"),
        "a page from another origin must be refused, it reported {cross_origin:?}"
    );
    let json = result
        .strip_prefix("PASS ")
        .unwrap_or_else(|| panic!("the page reported {result:?}"));
    #[derive(serde::Deserialize)]
    struct Verdict {
        extensions: String,
        big: usize,
        seen: Vec<Down>,
    }
    let Verdict {
        extensions,
        big,
        seen,
    } = serde_json::from_str(json).expect("typed JSON from the page");
    // the browser negotiated compression with the defaults, and a 1 MiB message made the trip
    assert!(
        extensions.starts_with("permessage-deflate"),
        "the browser's ws.extensions: {extensions:?}"
    );
    assert_eq!(big, 1 << 20, "the 1 MiB message came back whole");
    assert_eq!(
        seen,
        vec![
            Down::Welcome {
                nick: "chromium@lobby".into(),
                members: 1
            },
            Down::Said {
                nick: "chromium@lobby".into(),
                text: "hello from the browser".into()
            }
        ]
    );
}
