//! Scenario (f): permessage-deflate. One-way typed streaming to a typed-ws server, with and
//! without compression, from a typed-ws client, a Python `websockets` client and a Node `ws`
//! client. Bytes on the wire are counted at the TCP level: the server's socket is wrapped in a
//! counter of the bytes it reads, so every figure is measured, not computed from frame sizes.
//!
//! The sender keeps one value and changes its id per send (id 0 ends the stream); the server
//! decodes every message. Rate: messages per second at the server, from the first message to
//! the end marker. CPU per message: the sender's (thread CPU clock in Rust, the process's
//! user + system in the peers) and the server thread's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use typed_ws::{CloseReason, Compression};

use super::net::{self, Pinning};
use super::peers::{PeerClient, script_command};
use super::stats::Measured;
use super::sys::CpuTime;
use super::wire::{Payload, Wire};

/// The Python sender: the peer benchmark's dataclass (and a batch of 85 for Big), one value
/// kept and its id changed per send, `json.dumps(asdict(v), separators=(",", ":"))`, `await
/// ws.send` (which waits for the transport to drain). argv: url, small|big, 0|1 (compression:
/// `None` or the library's default), seconds.
pub const PYTHON_STREAM: &str = r#"
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

@dataclass
class Batch:
    seq: int
    source: str
    items: list

def make(i):
    return Trade(i, 1767225600000000 + i, "trade", "BTC-USD", 64123.25 + (i % 8) * 0.5,
                 0.5 + (i % 4) * 0.125, "buy" if i % 2 == 0 else "sell", [True, False])

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

async def main(url, payload, compress, dur):
    big = payload == "big"
    value = Batch(1, "exchange-feed-eu-west", [make(100000 + k) for k in range(85)]) if big else make(1)
    def set_id(i):
        if big:
            value.seq = i
        else:
            value.id = i
    kw = {} if compress == "1" else {"compression": None}
    async with connect(url, max_size=None, **kw) as ws:
        c0 = cpu()
        t0 = time.perf_counter()
        sent = 0
        while time.perf_counter() - t0 < dur:
            for _ in range(64):
                sent += 1
                set_id(sent)
                await ws.send(json.dumps(asdict(value), separators=(",", ":")))
        set_id(0)
        await ws.send(json.dumps(asdict(value), separators=(",", ":")))
        c = cpu() - c0
        print(json.dumps({"n": sent, "wall": time.perf_counter() - t0, "user": c, "sys": 0.0}), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
"#;

/// The Node sender: an object literal kept and its id changed per send, `ws.send(JSON.stringify(v))`
/// in batches of 64, yielding to the event loop between batches and pausing while more than
/// 1 MiB is buffered (`bufferedAmount`). argv: url, small|big, 0|1 (`perMessageDeflate`), seconds.
pub const NODE_STREAM: &str = r#"
const WebSocket = require('ws');
const [url, payload, compress, dur] = [process.argv[2], process.argv[3], process.argv[4] === '1', +process.argv[5]];
function make(i) {
  return { id: i, ts: 1767225600000000 + i, kind: 'trade', symbol: 'BTC-USD',
           price: 64123.25 + (i % 8) * 0.5, qty: 0.5 + (i % 4) * 0.125,
           side: i % 2 === 0 ? 'buy' : 'sell', flags: [true, false] };
}
const big = payload === 'big';
const value = big ? { seq: 1, source: 'exchange-feed-eu-west', items: Array.from({ length: 85 }, (_, k) => make(100000 + k)) } : make(1);
const setId = (i) => { if (big) value.seq = i; else value.id = i; };
const ws = new WebSocket(url, { perMessageDeflate: compress });
let sent = 0, t0 = 0, c0 = null;
function pump() {
  if (performance.now() - t0 >= dur * 1000) {
    setId(0);
    ws.send(JSON.stringify(value), () => {
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ n: sent, wall: (performance.now() - t0) / 1000, user: c.user / 1e6, sys: c.system / 1e6 }));
      ws.close();
    });
    return;
  }
  if (ws.bufferedAmount > (1 << 20)) { setTimeout(pump, 0); return; }
  for (let k = 0; k < 64; k++) { sent++; setId(sent); ws.send(JSON.stringify(value)); }
  setImmediate(pump);
}
ws.on('open', () => { t0 = performance.now(); c0 = process.cpuUsage(); pump(); });
ws.on('error', (e) => { console.error(String(e)); process.exit(1); });
"#;

/// Who sends the stream, and whether compression is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateRow {
    /// The sender: [`PeerClient::Sdk`], [`PeerClient::Python`] or [`PeerClient::Node`].
    pub sender: PeerClient,
    /// Compression offered by the sender and accepted by the server (its defaults), or off on
    /// both.
    pub compressed: bool,
}

impl DeflateRow {
    /// Short row name.
    pub fn name(self) -> String {
        let sender = match self.sender {
            PeerClient::Sdk => "typed-ws",
            PeerClient::Python => "Python websockets",
            PeerClient::Node => "Node ws",
            PeerClient::Tt => "tt",
        };
        let how = match (self.compressed, self.sender) {
            (false, _) => "no compression",
            (true, PeerClient::Node) => "perMessageDeflate: true",
            (true, _) => "default compression",
        };
        format!("{sender}, {how}")
    }
}

/// A stream of bytes that counts what is read from it.
#[derive(Debug)]
pub struct Counting<S> {
    inner: S,
    read: Arc<AtomicU64>,
}

impl<S> Counting<S> {
    /// Wraps `inner`; the counter is shared with the caller.
    pub fn new(inner: S) -> (Self, Arc<AtomicU64>) {
        let read = Arc::new(AtomicU64::new(0));
        (
            Counting {
                inner,
                read: Arc::clone(&read),
            },
            read,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let got = buf.filled().len() - before;
        this.read.fetch_add(got as u64, Ordering::Relaxed);
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// One run's outcome: the measurement, the bytes read by the server per message (frames
/// only: the handshake is excluded) and the extension the server agreed to (empty if none).
#[derive(Debug)]
pub struct DeflateRun {
    /// Messages, window, sender and server CPU.
    pub measured: Measured,
    /// Bytes on the wire per message, client to server.
    pub wire_bytes: f64,
    /// The agreed `Sec-WebSocket-Extensions`, or empty.
    pub extension: String,
}

/// What the server saw: messages (end marker included), first-message and end times, its CPU,
/// bytes read after the handshake, the agreed extension.
struct Served {
    n: u64,
    first: Instant,
    end: Instant,
    cpu: CpuTime,
    bytes: u64,
    extension: String,
}

#[derive(Deserialize)]
struct PeerLine {
    n: u64,
    user: f64,
    sys: f64,
}

/// Runs one stream of `P` with codec `W` for `dur` (split pinning: server on cpu1). `None`
/// (with a note on stderr) when an external peer failed.
pub fn run<W: Wire, P: Payload>(
    row: DeflateRow,
    scripts: &Path,
    dur: Duration,
) -> Option<DeflateRun> {
    let pinning = Pinning::Split;
    let server_compression = if row.compressed {
        Compression::default()
    } else {
        Compression::disabled()
    };
    let server = net::server(pinning.server_cpu(), move |listener| async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let (tcp, read) = Counting::new(tcp);
        let server = net::sdk_server_with(W::Converter::default(), server_compression);
        let mut session = server.accept(tcp).await.expect("SDK accept");
        let extension = session
            .handshake()
            .compression()
            .map(|c| c.extension().to_owned())
            .unwrap_or_default();
        let bytes0 = read.load(Ordering::Relaxed);
        let cpu0 = CpuTime::now();
        let mut first = None;
        let mut n = 0;
        loop {
            let value: P = session.receive_deserialized().await.expect("typed stream");
            first.get_or_insert_with(Instant::now);
            n += 1;
            if value.id() == 0 {
                break;
            }
        }
        let served = Served {
            n,
            first: first.unwrap_or_else(Instant::now),
            end: Instant::now(),
            cpu: CpuTime::now().since(cpu0),
            bytes: read.load(Ordering::Relaxed) - bytes0,
            extension,
        };
        while session.receive().await.is_some() {}
        served
    });
    let addr = server.addr;
    let (sent, sender_cpu) = match row.sender {
        PeerClient::Sdk => net::client(pinning.client_cpu(), move || async move {
            let compression = if row.compressed {
                Compression::default()
            } else {
                Compression::disabled()
            };
            let client = net::sdk_client_with(W::Converter::default(), compression);
            let session = net::sdk_connect(&client, addr).await;
            let mut value = P::make(1);
            let mut sent = 0u64;
            let cpu0 = CpuTime::now();
            let t0 = Instant::now();
            while t0.elapsed() < dur {
                for _ in 0..64 {
                    sent += 1;
                    value.set_id(sent);
                    session.send_serialized(&value).await.expect("SDK send");
                }
            }
            value.set_id(0);
            session.send_serialized(&value).await.expect("SDK send");
            session.flush().await.expect("SDK flush");
            let cpu = CpuTime::now().since(cpu0);
            let _ = session.close(CloseReason::normal("")).await;
            (sent, cpu)
        })
        .join()
        .expect("client thread"),
        PeerClient::Python | PeerClient::Node => {
            let script = scripts.join(if row.sender == PeerClient::Python {
                "peer_stream.py"
            } else {
                "peer_stream.js"
            });
            let line = match peer_stream(row, &script, addr, P::NAME, dur) {
                Ok(line) => line,
                Err(note) => {
                    eprintln!("{} failed: {note}", row.name());
                    // the server waits for a connection: unblock it, then give up
                    drop(std::net::TcpStream::connect(addr));
                    let _ = server.handle.join();
                    return None;
                }
            };
            (
                line.n,
                CpuTime {
                    ns: ((line.user + line.sys) * 1e9) as u64,
                    user_ticks: (line.user * 100.0) as u64,
                    sys_ticks: (line.sys * 100.0) as u64,
                },
            )
        }
        PeerClient::Tt => unreachable!("no hand-written deflate sender"),
    };
    let served = server.join();
    assert_eq!(served.n, sent + 1, "every message sent was received");
    Some(DeflateRun {
        measured: Measured {
            n: served.n,
            wall: served.end - served.first,
            client: sender_cpu,
            server: served.cpu,
            latencies: Vec::new(),
        },
        wire_bytes: served.bytes as f64 / served.n as f64,
        extension: served.extension,
    })
}

fn peer_stream(
    row: DeflateRow,
    script: &Path,
    addr: std::net::SocketAddr,
    payload: &str,
    dur: Duration,
) -> Result<PeerLine, String> {
    let mut child = script_command(row.sender, script)?
        .arg(net::url(addr))
        .arg(payload)
        .arg(if row.compressed { "1" } else { "0" })
        .arg(dur.as_secs_f64().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut result = None;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Ok(parsed) = serde_json::from_str::<PeerLine>(&line) {
            result = Some(parsed);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    result.ok_or_else(|| {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
        }
        format!("{status}: {}", err.trim())
    })
}
