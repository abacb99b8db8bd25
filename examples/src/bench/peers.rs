//! Peers in the same run: a Python `websockets` client and a Node `ws` client doing the typed
//! JSON echo (round trip, the 120 B struct) against the same typed-ws server as the Rust
//! clients. The peers are those `scripts/peers` installs into `target/peers/`; a missing one is
//! skipped with a note.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use typed_ws::Json;

use super::net::{self, ServerThread};
use super::rtt;
use super::stats::Measured;
use super::sys::CpuTime;
use super::wire::{JsonWire, Small};

/// The Python client: a dataclass, `json.dumps(asdict(t), separators=(",", ":"))` out and
/// `Trade(**json.loads(s))` back, on asyncio.
pub const PYTHON_CLIENT: &str = r#"
import asyncio, json, resource, sys, time
from dataclasses import dataclass, asdict
from websockets.asyncio.client import connect

@dataclass
class Trade:
    id: int
    ts: int
    kind: str
    symbol: str
    price: float
    qty: float
    side: str
    flags: list

def make(i):
    return Trade(i, 1767225600000000 + i, "trade", "BTC-USD", 64123.25 + (i % 8) * 0.5,
                 0.5 + (i % 4) * 0.125, "buy" if i % 2 == 0 else "sell", [True, False])

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime

async def main(url, warm, dur):
    async with connect(url, compression=None, max_size=None) as ws:
        i = 0
        async def rt():
            nonlocal i
            i += 1
            await ws.send(json.dumps(asdict(make(i)), separators=(",", ":")))
            back = Trade(**json.loads(await ws.recv()))
            assert back.id == i
        end = time.perf_counter() + warm
        while time.perf_counter() < end:
            await rt()
        print("go", flush=True)
        u0, s0 = cpu()
        t0 = time.perf_counter()
        n = 0
        while True:
            await rt()
            n += 1
            if time.perf_counter() - t0 >= dur:
                break
        wall = time.perf_counter() - t0
        u1, s1 = cpu()
        print(json.dumps({"n": n, "wall": wall, "user": u1 - u0, "sys": s1 - s0}), flush=True)

asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
"#;

/// The Node client: an object literal, `JSON.stringify` out and `JSON.parse(buf.toString())`
/// back; the next send is issued from the `message` handler.
pub const NODE_CLIENT: &str = r#"
const WebSocket = require('ws');
const [url, warm, dur] = [process.argv[2], +process.argv[3], +process.argv[4]];
function make(i) {
  return { id: i, ts: 1767225600000000 + i, kind: 'trade', symbol: 'BTC-USD',
           price: 64123.25 + (i % 8) * 0.5, qty: 0.5 + (i % 4) * 0.125,
           side: i % 2 === 0 ? 'buy' : 'sell', flags: [true, false] };
}
const ws = new WebSocket(url, { perMessageDeflate: false });
let i = 0, timed = false, n = 0, t0 = 0, c0 = null, warmEnd = 0;
function send() { i++; ws.send(JSON.stringify(make(i))); }
ws.on('open', () => { warmEnd = performance.now() + warm * 1000; send(); });
ws.on('message', (data) => {
  const back = JSON.parse(data.toString());
  if (back.id !== i) throw new Error('echo out of order');
  const now = performance.now();
  if (!timed) {
    if (now >= warmEnd) { timed = true; console.log('go'); t0 = performance.now(); c0 = process.cpuUsage(); }
    send();
    return;
  }
  n++;
  if (now - t0 >= dur * 1000) {
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ n, wall: (now - t0) / 1000, user: c.user / 1e6, sys: c.system / 1e6 }));
    ws.close();
    return;
  }
  send();
});
ws.on('error', (e) => { console.error(String(e)); process.exit(1); });
"#;

/// A client of the peer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClient {
    /// Python `websockets` (asyncio), typed with a dataclass.
    Python,
    /// Node `ws`, no native addons.
    Node,
    /// The typed-ws client.
    Sdk,
    /// Hand-written tokio-tungstenite + serde_json (tungstenite defaults).
    Tt,
}

impl PeerClient {
    /// Short row name.
    pub fn name(self) -> &'static str {
        match self {
            PeerClient::Python => "Python websockets (asyncio, dataclass)",
            PeerClient::Node => "Node ws",
            PeerClient::Sdk => "typed-ws client",
            PeerClient::Tt => "tt send (hand-written)",
        }
    }
}

/// Where the peers are: `$TYPED_WS_PEERS`, else `target/peers` of the workspace.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("TYPED_WS_PEERS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers"),
        PathBuf::from,
    )
}

/// The command that runs an external peer's round-trip script, or why it cannot run.
fn command(peer: PeerClient, scripts: &Path) -> Result<Command, String> {
    let script = match peer {
        PeerClient::Python => "peer_client.py",
        _ => "peer_client.js",
    };
    script_command(peer, &scripts.join(script))
}

/// The command that runs `script` with an external peer's interpreter (pinned to cpu0 with
/// `taskset` when there is one), or why it cannot run.
pub fn script_command(peer: PeerClient, script: &Path) -> Result<Command, String> {
    let peers = peers_dir();
    let (program, script, env) = match peer {
        PeerClient::Python => {
            let python = peers.join("py/bin/python");
            if !python.exists() {
                return Err(format!("no {} (run scripts/peers)", python.display()));
            }
            let ok = Command::new(&python)
                .args(["-c", "import websockets.asyncio.client"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !ok {
                return Err("websockets is not importable in target/peers/py".into());
            }
            (python, script.to_path_buf(), None)
        }
        PeerClient::Node => {
            let modules = peers.join("node/node_modules");
            if !modules.join("ws").exists() {
                return Err(format!("no {}/ws (run scripts/peers)", modules.display()));
            }
            if Command::new("node").arg("--version").output().is_err() {
                return Err("no node on PATH".into());
            }
            (PathBuf::from("node"), script.to_path_buf(), Some(modules))
        }
        _ => return Err("not an external peer".into()),
    };
    // pinned like the in-process clients; without taskset the peer runs unpinned
    let mut cmd = if Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("0").arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.arg(script);
    if let Some(modules) = env {
        cmd.env("NODE_PATH", modules)
            .env("WS_NO_BUFFER_UTIL", "1")
            .env("WS_NO_UTF_8_VALIDATE", "1");
    }
    Ok(cmd)
}

/// Writes the peer scripts into `dir`.
pub fn write_scripts(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("peer_client.py"), PYTHON_CLIENT)?;
    std::fs::write(dir.join("peer_client.js"), NODE_CLIENT)?;
    std::fs::write(dir.join("peer_stream.py"), super::compress::PYTHON_STREAM)?;
    std::fs::write(dir.join("peer_stream.js"), super::compress::NODE_STREAM)
}

/// Checks which external peers can run; the `Err` is the note to print for a missing one.
pub fn check(peer: PeerClient, scripts: &Path) -> Result<(), String> {
    command(peer, scripts).map(|_| ())
}

/// A typed-ws JSON echo server (server thread, `cpu`) taking any number of connections, one
/// after another, until dropped.
#[derive(Debug)]
pub struct EchoServer {
    thread: Option<ServerThread<()>>,
    stop: Option<oneshot::Sender<()>>,
}

impl EchoServer {
    /// Starts the server.
    pub fn start(cpu: usize) -> EchoServer {
        let (stop, mut stop_rx) = oneshot::channel::<()>();
        let thread = net::server(cpu, move |listener| async move {
            let server = net::sdk_server(Json::default());
            let mut tasks = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { break };
                        let server = server.clone();
                        tasks.spawn(async move {
                            let session = net::sdk_accept(&server, tcp).await;
                            rtt::sdk_echo::<Json, Small>(session).await;
                        });
                    }
                    _ = &mut stop_rx => break,
                }
            }
            tasks.abort_all();
        });
        EchoServer {
            thread: Some(thread),
            stop: Some(stop),
        }
    }

    fn thread(&self) -> &ServerThread<()> {
        self.thread.as_ref().expect("server running")
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join();
        }
    }
}

#[derive(Deserialize)]
struct PeerLine {
    n: u64,
    wall: f64,
    user: f64,
    sys: f64,
}

/// Runs one client of the peer table against `server`: `warm` untimed, then `dur` timed.
/// `None` (with a note on stderr) when an external peer failed.
pub fn run(
    peer: PeerClient,
    server: &EchoServer,
    scripts: &Path,
    warm: Duration,
    dur: Duration,
) -> Option<Measured> {
    let thread = server.thread();
    let (addr, probe) = (thread.addr, thread.probe.clone());
    match peer {
        PeerClient::Sdk => Some(
            net::client(0, move || async move {
                rtt::sdk_client::<Json, Small>(addr, &probe, warm, dur).await
            })
            .join()
            .expect("client thread"),
        ),
        PeerClient::Tt => Some(
            net::client(0, move || async move {
                rtt::tt_client::<JsonWire, Small>(addr, None, &probe, warm, dur).await
            })
            .join()
            .expect("client thread"),
        ),
        PeerClient::Python | PeerClient::Node => {
            let mut cmd = command(peer, scripts).ok()?;
            let mut child = cmd
                .arg(net::url(addr))
                .arg(warm.as_secs_f64().to_string())
                .arg(dur.as_secs_f64().to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .ok()?;
            let stdout = child.stdout.take()?;
            let mut server0 = CpuTime::default();
            let mut result = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "go" {
                    server0 = probe.sample_blocking();
                } else if let Ok(parsed) = serde_json::from_str::<PeerLine>(&line) {
                    let server = probe.sample_blocking().since(server0);
                    result = Some((parsed, server));
                }
            }
            let status = child.wait().ok()?;
            let Some((line, server)) = result else {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                eprintln!("{} failed ({status}): {}", peer.name(), err.trim());
                return None;
            };
            Some(Measured {
                n: line.n,
                wall: Duration::from_secs_f64(line.wall),
                client: CpuTime {
                    ns: ((line.user + line.sys) * 1e9) as u64,
                    user_ticks: (line.user * 100.0) as u64,
                    sys_ticks: (line.sys * 100.0) as u64,
                },
                server,
                latencies: Vec::new(),
            })
        }
    }
}
