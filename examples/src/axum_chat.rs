//! The axum chat app of `examples/axum_chat.rs`: axum serves an HTML page whose browser
//! WebSocket talks typed JSON to a typed-ws session on the same router (`/chat`), with the
//! server's origin check and pre-upgrade hook. Shared with the headless-Chromium test.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use typed_ws::server::{Accepted, Refusal, Server, WebSocketUpgrade};
use typed_ws::{Session, TypedSender, TypedSession};

/// A member's sending half, fixed to what the server sends.
type Member = TypedSender<Down>;

/// What a client says (JSON, tagged by `type`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Up {
    /// Enter the room.
    Join {
        /// The nickname.
        nick: String,
    },
    /// Say something to everyone.
    Say {
        /// The line.
        text: String,
    },
}

/// What the server says.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Down {
    /// The answer to `join`: how many are in the room.
    Welcome {
        /// The nickname, as the server recorded it.
        nick: String,
        /// Members, this one included.
        members: usize,
    },
    /// Someone said something.
    Said {
        /// Who.
        nick: String,
        /// What.
        text: String,
    },
}

/// The room the name in the `room` query parameter asked for (the hook's per-connection data).
#[derive(Debug, Clone)]
pub struct Room(pub String);

#[derive(Clone)]
struct AppState {
    server: Server,
    members: Arc<Mutex<Vec<Member>>>,
}

/// The chat server: JSON, browsers only from `origins`, and a `room` query parameter required
/// (refused with 400 otherwise).
pub fn chat_server<I, S>(origins: I) -> Server
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Server::builder()
        .allowed_origins(origins)
        .before_upgrade(|request| match request.query_param("room") {
            Some(room) if !room.is_empty() => Ok(Accepted::new().data(Room(room))),
            _ => Err(Refusal::new(400).body("say which room: /chat?room=NAME")),
        })
        .build()
}

/// The router: the page at `/`, the WebSocket at `/chat`.
pub fn app(server: Server) -> Router {
    let state = AppState {
        server,
        members: Arc::default(),
    };
    Router::new()
        .route("/", get(page))
        .route("/chat", get(chat))
        .with_state(state)
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn chat(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let members = Arc::clone(&state.members);
    upgrade.on_upgrade(&state.server, async move |session: Session| {
        room(session, members).await;
    })
}

/// One member's session: `join` is answered with `welcome`, `say` is broadcast as `said`.
async fn room(session: Session, members: Arc<Mutex<Vec<Member>>>) {
    let room_name = session
        .handshake()
        .data::<Room>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let session: TypedSession<Down, Up> = session.typed();
    let (tx, mut rx) = session.split();
    let mut nick = String::from("anonymous");
    while let Ok(up) = rx.receive().await {
        match up {
            Up::Join { nick: name } => {
                nick = format!("{name}@{room_name}");
                let count = members
                    .lock()
                    .map(|mut m| {
                        m.retain(|s| !s.get_ref().is_closed());
                        m.push(tx.clone());
                        m.len()
                    })
                    .unwrap_or(0);
                let welcome = Down::Welcome {
                    nick: nick.clone(),
                    members: count,
                };
                if tx.send(welcome).await.is_err() {
                    break;
                }
            }
            Up::Say { text } => {
                let everyone: Vec<Member> = members.lock().map(|m| m.clone()).unwrap_or_default();
                let said = Down::Said {
                    nick: nick.clone(),
                    text,
                };
                for member in everyone {
                    let _ = member.send(said.clone()).await;
                }
            }
        }
    }
}

/// The page: joins room "lobby" as "chromium", says hello, then says 1 MiB, and writes what came
/// back and the negotiated extensions into `#result` (`PASS {...}` or `FAIL …`). `?ws=HOST:PORT` points it at another server's `/chat`
/// (a cross-origin connection, which that server's origin check refuses).
pub const PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>typed-ws axum chat</title></head>
<body>
<h1>typed-ws axum chat</h1>
<pre id="result">running</pre>
<script>
const result = document.getElementById('result');
const done = (text) => { result.textContent = text; };
try {
  const host = new URLSearchParams(location.search).get('ws') || location.host;
  const ws = new WebSocket(`ws://${host}/chat?room=lobby`);
  const seen = [];
  ws.onopen = () => ws.send(JSON.stringify({ type: 'join', nick: 'chromium' }));
  ws.onmessage = (event) => {
    if (typeof event.data !== 'string') { done('FAIL binary frame'); return; }
    const message = JSON.parse(event.data);
    if (message.type === 'welcome') {
      seen.push(message);
      ws.send(JSON.stringify({ type: 'say', text: 'hello from the browser' }));
    } else if (message.type === 'said' && message.text === 'hello from the browser') {
      seen.push(message);
      // then a 1 MiB message, which permessage-deflate carries in a few KiB
      ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(1 << 20) }));
    } else if (message.type === 'said') {
      done('PASS ' + JSON.stringify({ extensions: ws.extensions, big: message.text.length, seen }));
      ws.close(1000, 'bye');
    }
  };
  ws.onerror = () => done('FAIL websocket error');
  ws.onclose = (event) => { if (!result.textContent.startsWith('PASS')) done('FAIL closed ' + event.code); };
} catch (e) {
  done('FAIL ' + e);
}
</script>
</body>
</html>
"#;
