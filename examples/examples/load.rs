//! Load and ordering check: 1,000 concurrent sessions × 1,000 typed messages each, echoed by
//! typed-ws's own server accept side and by a Node `ws` server. Every session checks that it
//! got every message back, once, in order; the run reports time and peak RSS and fails (exit
//! code 1) on any loss, reordering, error or a peak RSS over the bound.
//!
//! ```text
//! cargo run --release --example load -- [--sessions N] [--messages N] [--node PATH_TO_NODE_MODULES]
//! ```
//!
//! `scripts/test` runs it with the defaults and the Node peer it installs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use typed_ws::server::Server;
use typed_ws::{Client, CloseReason};

/// One typed message of the load.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Tick {
    session: u32,
    seq: u32,
    note: String,
}

/// The bound on peak RSS for the whole run (client and in-process server together).
///
/// Measured without compression, as against the Node `ws` server (which declines
/// permessage-deflate by default): what is checked is the driver, its queues and ordering.
/// With compression at its defaults the same run peaks at about 519 MiB: each session that has
/// sent a compressed message keeps ~250 KiB of zlib state (context takeover; see the README's
/// "Compression" and `tests/tests/deflate.rs` `memory_per_session`).
const MAX_PEAK_RSS_MIB: u64 = 512;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Runs `sessions` clients against `url`, each sending `messages` ticks and checking the echoes.
async fn run(url: &str, sessions: u32, messages: u32) -> Result<(), String> {
    // all sessions connect at once: the single-threaded Node server accepts the last ones while
    // it echoes the first ones' messages (about 9 s here), so the 10 s default would fail the
    // check on the peer's pace; the check is about losses, order and memory
    let client = Client::builder()
        .ping_interval(None)
        .compression(typed_ws::Compression::disabled())
        .connect_timeout(Duration::from_secs(60))
        .build();
    let mut tasks = tokio::task::JoinSet::new();
    for session in 0..sessions {
        let client = client.clone();
        let url = url.to_owned();
        tasks.spawn(async move {
            let connected = client.web_socket_session(url.as_str()).await;
            let (tx, mut rx) = connected
                .map_err(|e| format!("session {session}: connect: {e:#}"))?
                .split();
            let sender = tokio::spawn(async move {
                for seq in 0..messages {
                    let tick = Tick {
                        session,
                        seq,
                        note: "load".into(),
                    };
                    tx.send_serialized(&tick)
                        .await
                        .map_err(|e| format!("session {session}: send {seq}: {e:#}"))?;
                }
                Ok::<_, String>(tx)
            });
            for seq in 0..messages {
                let tick: Tick = rx
                    .receive_deserialized()
                    .await
                    .map_err(|e| format!("session {session}: receive {seq}: {e:#}"))?;
                if tick.session != session || tick.seq != seq {
                    return Err(format!(
                        "session {session}: expected seq {seq}, got {tick:?} (lost or reordered)"
                    ));
                }
            }
            let tx = sender.await.map_err(|e| e.to_string())??;
            tx.close(CloseReason::normal("done"))
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} sessions failed, first: {}",
            failures.len(),
            failures[0]
        ))
    }
}

async fn typed_ws_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/load", listener.local_addr()?);
    let server = Server::builder()
        .ping_interval(None)
        .compression(typed_ws::Compression::disabled())
        .build();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let server = server.clone();
            tokio::spawn(async move {
                let Ok(mut session) = server.accept(tcp).await else {
                    return;
                };
                while let Some(Ok(frame)) = session.receive().await {
                    if session.send(frame).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(url)
}

const NODE_ECHO: &str = "const {WebSocketServer}=require('ws');\
const s=new WebSocketServer({host:'127.0.0.1',port:0,backlog:2048});\
s.on('listening',()=>console.log(s.address().port));\
s.on('connection',c=>{c.on('error',()=>{});c.on('message',(d,b)=>c.send(d,{binary:b}))});";

fn report(name: &str, sessions: u32, messages: u32, took: Duration) {
    let total = u64::from(sessions) * u64::from(messages);
    println!(
        "{name}: {sessions} sessions x {messages} messages = {total} echoed in order, none lost, {:.2} s ({:.0} msg/s), peak RSS {} MiB",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        rss_kib("VmHWM:") / 1024
    );
}

#[tokio::main]
async fn main() {
    let mut sessions = 1000;
    let mut messages = 1000;
    let mut node_modules = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sessions" => sessions = args.next().and_then(|v| v.parse().ok()).unwrap_or(sessions),
            "--messages" => messages = args.next().and_then(|v| v.parse().ok()).unwrap_or(messages),
            "--node" => node_modules = args.next(),
            other => {
                eprintln!("unknown argument {other}; see the file's docs");
                std::process::exit(2);
            }
        }
    }
    let mut failed = false;

    let url = typed_ws_server().await.expect("bind loopback");
    let start = Instant::now();
    match tokio::time::timeout(Duration::from_secs(300), run(&url, sessions, messages)).await {
        Ok(Ok(())) => report("typed-ws server", sessions, messages, start.elapsed()),
        Ok(Err(e)) => {
            eprintln!("typed-ws server: FAILED: {e}");
            failed = true;
        }
        Err(_) => {
            eprintln!("typed-ws server: FAILED: timed out after 300 s");
            failed = true;
        }
    }

    if let Some(node_modules) = node_modules {
        let mut child = Command::new("node")
            .args(["-e", NODE_ECHO])
            .env("NODE_PATH", &node_modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            eprintln!("node ws: FAILED: the server printed no port");
            failed = true;
        } else {
            let url = format!("ws://127.0.0.1:{}/load", line.trim());
            let start = Instant::now();
            match tokio::time::timeout(Duration::from_secs(300), run(&url, sessions, messages))
                .await
            {
                Ok(Ok(())) => report("node ws server", sessions, messages, start.elapsed()),
                Ok(Err(e)) => {
                    eprintln!("node ws server: FAILED: {e}");
                    failed = true;
                }
                Err(_) => {
                    eprintln!("node ws server: FAILED: timed out after 300 s");
                    failed = true;
                }
            }
        }
        let _ = child.kill().await;
    }

    let peak = rss_kib("VmHWM:") / 1024;
    if peak > MAX_PEAK_RSS_MIB {
        eprintln!("FAILED: peak RSS {peak} MiB is over the {MAX_PEAK_RSS_MIB} MiB bound");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
