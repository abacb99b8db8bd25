//! The bench's report: the record of every run, the tables (markdown), the targets and the
//! allocation rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::alloc::Allocs;
use super::codec::CodecCost;
use super::compress::DeflateRow;
use super::echo::EchoImpl;
use super::fanout::FanoutImpl;
use super::idle::{IdleImpl, IdleReport};
use super::net::Pinning;
use super::peers::PeerClient;
use super::rtt::RttImpl;
use super::stats::{Run, Stat, ns, num, rate, ratio};
use super::stream::StreamImpl;
use super::sys::Machine;
use super::wire::{Big, JsonWire, MsgPackWire, Payload, Small, Wire, wire_len};

/// Every run of the session, by key, with its repetition.
#[derive(Debug, Default)]
pub struct Results {
    /// Network runs by key: `(repetition, run)`.
    pub runs: BTreeMap<String, Vec<(usize, Run)>>,
    /// Codec hot loops by key: `(repetition, cost)`.
    pub codec: BTreeMap<String, Vec<(usize, CodecCost)>>,
    /// Bytes on the wire per message by key (compression scenario): `(repetition, bytes)`.
    pub wire: BTreeMap<String, Vec<(usize, f64)>>,
    /// The extension a compression-scenario key negotiated (empty: none).
    pub extensions: BTreeMap<String, String>,
    /// Every record as a JSON line.
    pub jsonl: String,
}

impl Results {
    /// Records a network run.
    pub fn add(&mut self, key: String, rep: usize, run: Run) {
        let _ = writeln!(
            self.jsonl,
            "{{\"key\":{:?},\"rep\":{rep},\"run\":{}}}",
            key,
            serde_json::to_string(&run).unwrap_or_default()
        );
        self.runs.entry(key).or_default().push((rep, run));
    }

    /// Records a compression-scenario run: the run, its bytes per message on the wire and the
    /// extension it negotiated.
    pub fn add_deflate(&mut self, key: String, rep: usize, run: Run, wire: f64, extension: &str) {
        let _ = writeln!(
            self.jsonl,
            "{{\"key\":{:?},\"rep\":{rep},\"wire_bytes\":{wire},\"extension\":{:?}}}",
            key, extension
        );
        self.wire.entry(key.clone()).or_default().push((rep, wire));
        self.extensions.insert(key.clone(), extension.to_owned());
        self.add(key, rep, run);
    }

    /// Median (min–max) of the bytes per message of `key`.
    pub fn wire_stat(&self, key: &str) -> Option<Stat> {
        let values: Vec<f64> = self.wire.get(key)?.iter().map(|(_, b)| *b).collect();
        Stat::of(&values)
    }

    /// Median (min–max) over repetitions of bytes per message of `a` ÷ those of `b`.
    pub fn wire_ratio(&self, a: &str, b: &str) -> Option<Stat> {
        let bs: BTreeMap<usize, f64> = self.wire.get(b)?.iter().copied().collect();
        let values: Vec<f64> = self
            .wire
            .get(a)?
            .iter()
            .filter_map(|(rep, x)| bs.get(rep).map(|y| x / y))
            .collect();
        Stat::of(&values)
    }

    /// Records a codec hot loop.
    pub fn add_codec(&mut self, key: String, rep: usize, cost: CodecCost) {
        let _ = writeln!(
            self.jsonl,
            "{{\"key\":{:?},\"rep\":{rep},\"encode_ns\":{},\"decode_ns\":{}}}",
            key, cost.encode_ns, cost.decode_ns
        );
        self.codec.entry(key).or_default().push((rep, cost));
    }

    /// Median (min–max) of `f` over the repetitions of `key`.
    pub fn stat(&self, key: &str, f: impl Fn(&Run) -> f64) -> Option<Stat> {
        let values: Vec<f64> = self.runs.get(key)?.iter().map(|(_, r)| f(r)).collect();
        Stat::of(&values)
    }

    /// Median (min–max) of `f` over the repetitions of codec key `key`.
    pub fn codec_stat(&self, key: &str, f: impl Fn(&CodecCost) -> f64) -> Option<Stat> {
        let values: Vec<f64> = self.codec.get(key)?.iter().map(|(_, c)| f(c)).collect();
        Stat::of(&values)
    }

    /// The median (min–max) over repetitions of `f(run a, run b)` for runs of the same rep.
    pub fn paired(&self, a: &str, b: &str, f: impl Fn(&Run, &Run) -> f64) -> Option<Stat> {
        let bs: BTreeMap<usize, Run> = self.runs.get(b)?.iter().copied().collect();
        let values: Vec<f64> = self
            .runs
            .get(a)?
            .iter()
            .filter_map(|(rep, ra)| bs.get(rep).map(|rb| f(ra, rb)))
            .collect();
        Stat::of(&values)
    }

    /// Per repetition: (CPU of `typed` − CPU of `raw`) ÷ codec encode+decode.
    pub fn extra_over_codec(&self, typed: &str, raw: &str, codec: &str) -> Option<Stat> {
        let raws: BTreeMap<usize, Run> = self.runs.get(raw)?.iter().copied().collect();
        let codecs: BTreeMap<usize, CodecCost> = self.codec.get(codec)?.iter().copied().collect();
        let values: Vec<f64> = self
            .runs
            .get(typed)?
            .iter()
            .filter_map(|(rep, t)| {
                let r = raws.get(rep)?;
                let c = codecs.get(rep)?;
                Some((t.cpu_ns - r.cpu_ns) / c.both())
            })
            .collect();
        Stat::of(&values)
    }
}

fn show(stat: Option<Stat>, f: impl Fn(f64) -> String) -> String {
    stat.map_or_else(|| "–".into(), |s| s.show(f))
}

fn show_med(stat: Option<Stat>, f: impl Fn(f64) -> String) -> String {
    stat.map_or_else(|| "–".into(), |s| f(s.med))
}

fn table(out: &mut String, head: &[&str]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// The key of a codec hot loop (`which`: "plain" or "sdk").
pub fn codec_key<W: Wire, P: Payload>(which: &str) -> String {
    format!("codec/{}/{}/{which}", P::NAME, W::NAME)
}

/// The key of a round-trip run.
pub fn rtt_key<W: Wire, P: Payload>(pinning: Pinning, imp: RttImpl) -> String {
    format!(
        "rtt/{}/{}/{}/{}",
        pinning.name(),
        P::NAME,
        W::NAME,
        imp.name()
    )
}

/// The key of a streaming run.
pub fn stream_key<W: Wire, P: Payload>(imp: StreamImpl) -> String {
    format!("stream/{}/{}/{}", P::NAME, W::NAME, imp.name())
}

/// The key of a fan-in echo run.
pub fn echo_key(imp: EchoImpl) -> String {
    format!("echo/{}", imp.name())
}

/// The key of a broadcast run.
pub fn fanout_key<W: Wire>(sessions: usize, imp: FanoutImpl) -> String {
    format!("broadcast/{sessions}/{}/{}", W::NAME, imp.name())
}

/// The key of a compression-scenario run.
pub fn deflate_key<W: Wire, P: Payload>(row: DeflateRow) -> String {
    format!("deflate/{}/{}/{}", P::NAME, W::NAME, row.name())
}

/// The key of a peer-table run.
pub fn peer_key(peer: PeerClient) -> String {
    format!("peers/{}", peer.name())
}

/// Round-trip comparators for the small struct.
pub const RTT_SMALL: [RttImpl; 7] = [
    RttImpl::Tcp,
    RttImpl::Tt,
    RttImpl::TtSdkBuffers,
    RttImpl::Fws,
    RttImpl::Tws,
    RttImpl::Sdk,
    RttImpl::SdkSpawned,
];
/// Round-trip comparators for the big struct.
pub const RTT_BIG: [RttImpl; 6] = [
    RttImpl::Tcp,
    RttImpl::Tt,
    RttImpl::TtSdkBuffers,
    RttImpl::Fws,
    RttImpl::Tws,
    RttImpl::Sdk,
];
/// Round-trip comparators with split pinning.
pub const RTT_SPLIT: [RttImpl; 6] = [
    RttImpl::Tcp,
    RttImpl::Tt,
    RttImpl::TtSdkBuffers,
    RttImpl::Fws,
    RttImpl::Tws,
    RttImpl::Sdk,
];
/// Streaming comparators.
pub const STREAMS: [StreamImpl; 8] = [
    StreamImpl::TcpPerWrite,
    StreamImpl::TcpBatched,
    StreamImpl::TtRawFeed,
    StreamImpl::TtSend,
    StreamImpl::TtFeed,
    StreamImpl::Fws,
    StreamImpl::TwsFeed,
    StreamImpl::Sdk,
];
/// Fan-in echo comparators.
pub const ECHOES: [EchoImpl; 7] = [
    EchoImpl::TokioTcp,
    EchoImpl::TtDefaults,
    EchoImpl::TtReadBuffer32k,
    EchoImpl::Fws,
    EchoImpl::Tws,
    EchoImpl::Sdk,
    EchoImpl::SdkReadBuffer(16 * 1024),
];
/// Broadcast servers.
pub const FANOUTS: [FanoutImpl; 6] = [
    FanoutImpl::TokioTcp,
    FanoutImpl::TtSend,
    FanoutImpl::TtFeed,
    FanoutImpl::Fws,
    FanoutImpl::TwsFeed,
    FanoutImpl::Sdk,
];
/// Compression-scenario senders for every codec (typed-ws on both ends).
pub const DEFLATE_SDK: [DeflateRow; 2] = [
    DeflateRow {
        sender: PeerClient::Sdk,
        compressed: false,
    },
    DeflateRow {
        sender: PeerClient::Sdk,
        compressed: true,
    },
];
/// Compression-scenario peer senders (JSON only).
pub const DEFLATE_PEERS: [DeflateRow; 4] = [
    DeflateRow {
        sender: PeerClient::Python,
        compressed: false,
    },
    DeflateRow {
        sender: PeerClient::Python,
        compressed: true,
    },
    DeflateRow {
        sender: PeerClient::Node,
        compressed: false,
    },
    DeflateRow {
        sender: PeerClient::Node,
        compressed: true,
    },
];
/// Broadcast fan-outs.
pub const FANOUT_SIZES: [usize; 2] = [100, 1000];
/// The peer table's clients.
pub const PEERS: [PeerClient; 4] = [
    PeerClient::Python,
    PeerClient::Node,
    PeerClient::Tt,
    PeerClient::Sdk,
];
/// Idle-session stacks.
pub const IDLES: [IdleImpl; 11] = [
    IdleImpl::Tt,
    IdleImpl::Fws,
    IdleImpl::Tws,
    IdleImpl::Sdk,
    IdleImpl::SdkReadBuffer(16 * 1024),
    IdleImpl::SdkFew,
    IdleImpl::SdkDeflate(9),
    IdleImpl::SdkDeflate(12),
    IdleImpl::SdkDeflate(15),
    IdleImpl::SdkDeflateReset(15),
    IdleImpl::SdkDeflateMapped(15),
];
/// Connections for the idle rows with deflate negotiated: each session's compressor and
/// decompressor (allocated by the echo) are a few hundred KiB, so 10,000 connections would
/// take several GiB on a machine shared with builds.
pub const IDLE_DEFLATE_CONNECTIONS: usize = 2_000;

/// The report's title and the run's description (`run`: repetitions and windows).
pub fn report_header(
    out: &mut String,
    run: &str,
    machine: &Machine,
    load_before: &str,
    loads: &[f64],
) {
    let load = Stat::of(loads).unwrap_or_default();
    let _ = writeln!(out, "# typed-ws bench\n");
    let _ = writeln!(
        out,
        "Machine: {} CPUs, {}, {} MiB, Linux {}. Load average at the start: {load_before}; \
         1-min load between repetitions: median {:.2} (max {:.2}).",
        machine.nproc, machine.cpu_model, machine.mem_mib, machine.kernel, load.med, load.max
    );
    let _ = writeln!(out, "Run: {run}.");
    let _ = writeln!(
        out,
        "Figures: median (min–max) over repetitions; ratios are medians of per-repetition \
         ratios. CPU = user + system time of both threads (thread CPU clocks) per operation."
    );
    let _ = writeln!(
        out,
        "Wire sizes: Small {} B JSON / {} B MessagePack, Big {} B JSON / {} B MessagePack.",
        wire_len::<JsonWire, Small>(),
        wire_len::<MsgPackWire, Small>(),
        wire_len::<JsonWire, Big>(),
        wire_len::<MsgPackWire, Big>()
    );
}

/// Scenario (a)'s table.
pub fn report_rtt(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## (a) Round trip, 1 connection, typed echo\n\nOne message in flight; the server \
         decodes and re-encodes. `same`: both threads on cpu0 (pure CPU cost, the rate is \
         1 / CPU); `split`: server on cpu1 (cross-CPU wake-ups). For one message in flight \
         `feed`+`flush` is the same I/O as `send`, so the hand-written row is `send`.\n"
    );
    table(
        out,
        &[
            "case",
            "implementation",
            "RT/s",
            "CPU/RT (both sides)",
            "p50 / p99 µs",
            "SDK ÷ this (RT/s)",
            "this CPU ÷ SDK CPU",
        ],
    );
    let groups: [(&str, String, &[RttImpl]); 5] = [
        ("Small JSON, same", "same/small/json".into(), &RTT_SMALL),
        (
            "Small MsgPack, same",
            "same/small/msgpack".into(),
            &RTT_SMALL,
        ),
        ("Small JSON, split", "split/small/json".into(), &RTT_SPLIT),
        ("Big JSON, same", "same/big/json".into(), &RTT_BIG),
        ("Big MsgPack, same", "same/big/msgpack".into(), &RTT_BIG),
    ];
    for (label, prefix, imps) in groups {
        let sdk = format!("rtt/{prefix}/{}", RttImpl::Sdk.name());
        for imp in imps {
            let key = format!("rtt/{prefix}/{}", imp.name());
            if !res.runs.contains_key(&key) {
                continue;
            }
            let (speed, cpu) = if *imp == RttImpl::Sdk {
                ("".into(), "".into())
            } else {
                (
                    show(res.paired(&sdk, &key, |s, t| s.rate / t.rate), ratio),
                    show(res.paired(&sdk, &key, |s, t| t.cpu_ns / s.cpu_ns), ratio),
                )
            };
            row(
                out,
                &[
                    label.into(),
                    imp.name().into(),
                    show(res.stat(&key, |r| r.rate), rate),
                    show(res.stat(&key, |r| r.cpu_ns), ns),
                    format!(
                        "{} / {}",
                        show_med(res.stat(&key, |r| r.p50_us), |v| num(v, 1)),
                        show_med(res.stat(&key, |r| r.p99_us), |v| num(v, 1))
                    ),
                    speed,
                    cpu,
                ],
            );
        }
    }
}

/// Scenario (b)'s table.
pub fn report_stream(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## (b) One-way streaming, 1 connection (split pinning)\n\nThe receiver decodes every \
         typed message; raw rows only count frames. Rate: messages delivered per second. The \
         SDK row is a plain `send_serialized` loop and one `flush` at the end. \"extra ÷ codec\" \
         = (CPU of the typed row − CPU of raw frames) ÷ codec encode+decode, per repetition.\n"
    );
    table(
        out,
        &[
            "case",
            "implementation",
            "msg/s",
            "CPU/msg (both)",
            "sender / receiver CPU",
            "SDK ÷ this (msg/s)",
            "extra ÷ codec",
        ],
    );
    for (payload, codec_name) in [
        ("small", "json"),
        ("small", "msgpack"),
        ("big", "json"),
        ("big", "msgpack"),
    ] {
        let prefix = format!("stream/{payload}/{codec_name}");
        let sdk = format!("{prefix}/{}", StreamImpl::Sdk.name());
        let raw = format!("{prefix}/{}", StreamImpl::TtRawFeed.name());
        let codec = format!("codec/{payload}/{codec_name}/plain");
        for imp in STREAMS {
            let key = format!("{prefix}/{}", imp.name());
            if !res.runs.contains_key(&key) {
                continue;
            }
            let speed = if imp == StreamImpl::Sdk {
                String::new()
            } else {
                show(res.paired(&sdk, &key, |s, t| s.rate / t.rate), ratio)
            };
            let extra = if matches!(
                imp,
                StreamImpl::Sdk
                    | StreamImpl::TtFeed
                    | StreamImpl::TtSend
                    | StreamImpl::Fws
                    | StreamImpl::TwsFeed
            ) {
                show(res.extra_over_codec(&key, &raw, &codec), |v| num(v, 2))
            } else {
                String::new()
            };
            row(
                out,
                &[
                    format!("{payload} {codec_name}"),
                    imp.name().into(),
                    show(res.stat(&key, |r| r.rate), rate),
                    show(res.stat(&key, |r| r.cpu_ns), ns),
                    format!(
                        "{} / {}",
                        show_med(res.stat(&key, |r| r.client_ns), ns),
                        show_med(res.stat(&key, |r| r.server_ns), ns)
                    ),
                    speed,
                    extra,
                ],
            );
        }
        row(
            out,
            &[
                format!("{payload} {codec_name}"),
                "codec only (encode + decode)".into(),
                show(res.codec_stat(&codec, |c| 1e9 / c.both()), rate),
                show(res.codec_stat(&codec, CodecCost::both), ns),
                String::new(),
                String::new(),
                String::new(),
            ],
        );
    }
}

/// The codec table.
pub fn report_codec(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## Codec alone (hot loop, cpu0, CPU ns per call)\n\nplain: `serde_json::to_string` / \
         `from_str`, `rmp_serde::to_vec_named` / `from_slice`. SDK converter: `serialize` / \
         `deserialize` (JSON adds the non-finite-float check and a UTF-8 check; MessagePack adds \
         a structure scan).\n"
    );
    table(
        out,
        &[
            "case",
            "plain encode",
            "plain decode",
            "SDK encode",
            "SDK decode",
            "SDK ÷ plain (enc+dec)",
        ],
    );
    for (payload, codec_name) in [
        ("small", "json"),
        ("small", "msgpack"),
        ("big", "json"),
        ("big", "msgpack"),
    ] {
        let plain = format!("codec/{payload}/{codec_name}/plain");
        let sdk = format!("codec/{payload}/{codec_name}/sdk");
        if !res.codec.contains_key(&plain) {
            continue;
        }
        let ratio_stat = {
            let ps: BTreeMap<usize, CodecCost> = res
                .codec
                .get(&plain)
                .into_iter()
                .flatten()
                .copied()
                .collect();
            let values: Vec<f64> = res
                .codec
                .get(&sdk)
                .into_iter()
                .flatten()
                .filter_map(|(rep, s)| ps.get(rep).map(|p| s.both() / p.both()))
                .collect();
            Stat::of(&values)
        };
        row(
            out,
            &[
                format!("{payload} {codec_name}"),
                show(res.codec_stat(&plain, |c| c.encode_ns), ns),
                show(res.codec_stat(&plain, |c| c.decode_ns), ns),
                show(res.codec_stat(&sdk, |c| c.encode_ns), ns),
                show(res.codec_stat(&sdk, |c| c.decode_ns), ns),
                show(ratio_stat, ratio),
            ],
        );
    }
}

/// Scenario (c)'s table.
pub fn report_echo(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## (c) 100 connections × 20 B echo (load_test shape, split pinning)\n\nEach \
         connection keeps one binary message in flight; both ends run the same stack.\n"
    );
    table(
        out,
        &[
            "implementation",
            "echo/s",
            "CPU/echo (both)",
            "client / server CPU",
            "SDK defaults ÷ this (echo/s)",
            "this CPU ÷ SDK CPU",
        ],
    );
    let sdk = echo_key(EchoImpl::Sdk);
    for imp in ECHOES {
        let key = echo_key(imp);
        if !res.runs.contains_key(&key) {
            continue;
        }
        let (speed, cpu) = if imp == EchoImpl::Sdk {
            (String::new(), String::new())
        } else {
            (
                show(res.paired(&sdk, &key, |s, t| s.rate / t.rate), ratio),
                show(res.paired(&sdk, &key, |s, t| t.cpu_ns / s.cpu_ns), ratio),
            )
        };
        row(
            out,
            &[
                imp.name(),
                show(res.stat(&key, |r| r.rate), rate),
                show(res.stat(&key, |r| r.cpu_ns), ns),
                format!(
                    "{} / {}",
                    show_med(res.stat(&key, |r| r.client_ns), ns),
                    show_med(res.stat(&key, |r| r.server_ns), ns)
                ),
                speed,
                cpu,
            ],
        );
    }
}

/// Scenario (d)'s table.
pub fn report_fanout(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## (d) Broadcast of one typed Small value (split pinning)\n\nThe server serializes \
         once per round and sends a clone to every session; tokio-tungstenite clients (the same \
         for every server) count receipts. Server CPU per delivery is what the servers differ \
         in.\n"
    );
    table(
        out,
        &[
            "sessions",
            "server",
            "deliveries/s",
            "server CPU/delivery",
            "client CPU/delivery",
            "SDK JSON ÷ this (deliveries/s)",
            "this server CPU ÷ SDK JSON's",
        ],
    );
    for sessions in FANOUT_SIZES {
        let sdk = fanout_key::<JsonWire>(sessions, FanoutImpl::Sdk);
        let mut keys: Vec<(String, String)> = FANOUTS
            .iter()
            .map(|&imp| {
                (
                    format!("{} (JSON)", imp.name()),
                    fanout_key::<JsonWire>(sessions, imp),
                )
            })
            .collect();
        keys.push((
            format!("{} (MessagePack)", FanoutImpl::Sdk.name()),
            fanout_key::<MsgPackWire>(sessions, FanoutImpl::Sdk),
        ));
        for (name, key) in keys {
            if !res.runs.contains_key(&key) {
                continue;
            }
            let (speed, cpu) = if key == sdk {
                (String::new(), String::new())
            } else {
                (
                    show(res.paired(&sdk, &key, |s, t| s.rate / t.rate), ratio),
                    show(
                        res.paired(&sdk, &key, |s, t| t.server_ns / s.server_ns),
                        ratio,
                    ),
                )
            };
            row(
                out,
                &[
                    sessions.to_string(),
                    name,
                    show(res.stat(&key, |r| r.rate), rate),
                    show(res.stat(&key, |r| r.server_ns), ns),
                    show_med(res.stat(&key, |r| r.client_ns), ns),
                    speed,
                    cpu,
                ],
            );
        }
    }
}

/// Scenario (e)'s table.
pub fn report_idle(out: &mut String, reports: &BTreeMap<String, Vec<IdleReport>>, wanted: usize) {
    let nofile = reports
        .values()
        .flatten()
        .map(|r| r.nofile)
        .min()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\n## (e) Idle sessions: {wanted} connections asked, client and server ends in one \
         process\n\nRSS growth from before connecting (`VmRSS`), divided by connections; a \
         connection is two sessions (one per end), so per session is half. Each end has a task \
         awaiting its next message. A child process per measurement; open-files limit {nofile} \
         (two descriptors per connection).\n"
    );
    table(
        out,
        &[
            "implementation",
            "connections",
            "KiB per session, idle",
            "KiB per connection, idle",
            "KiB per session after one echo",
            "KiB per session idle again (1.5 s after)",
            "connect time",
        ],
    );
    for imp in IDLES {
        let Some(list) = reports.get(&imp.name()) else {
            continue;
        };
        let per: Vec<f64> = list.iter().map(IdleReport::idle_per_connection).collect();
        let echo: Vec<f64> = list.iter().map(IdleReport::echo_per_connection).collect();
        let again: Vec<f64> = list
            .iter()
            .map(IdleReport::idle_again_per_connection)
            .collect();
        let secs: Vec<f64> = list.iter().map(|r| r.connect_secs).collect();
        let conns = list.iter().map(|r| r.connections).min().unwrap_or(0);
        row(
            out,
            &[
                imp.name(),
                conns.to_string(),
                show(Stat::of(&per).map(|s| half(&s)), |v| num(v, 1)),
                show(Stat::of(&per), |v| num(v, 1)),
                show(Stat::of(&echo).map(|s| half(&s)), |v| num(v, 1)),
                show(Stat::of(&again).map(|s| half(&s)), |v| num(v, 1)),
                show_med(Stat::of(&secs), |v| format!("{v:.2} s")),
            ],
        );
    }
}

fn half(s: &Stat) -> Stat {
    Stat {
        med: s.med / 2.0,
        min: s.min / 2.0,
        max: s.max / 2.0,
    }
}

/// The peer table.
pub fn report_peers(
    out: &mut String,
    res: &Results,
    peers_ok: &[(PeerClient, Result<(), String>)],
) {
    let _ = writeln!(
        out,
        "\n## Peers: typed JSON echo, round trip, Small, against the same typed-ws server\n\n\
         Server on cpu1, each client pinned to cpu0 (external peers with `taskset -c 0`). \
         Client CPU from the client itself (`getrusage` in Python, `process.cpuUsage()` in \
         Node, thread CPU clock in Rust); server CPU sampled over the client's timed window.\n"
    );
    table(
        out,
        &[
            "client",
            "RT/s",
            "client CPU/RT",
            "server CPU/RT",
            "typed-ws ÷ this (RT/s)",
            "this client CPU ÷ typed-ws client CPU",
        ],
    );
    let sdk = peer_key(PeerClient::Sdk);
    for (peer, ok) in peers_ok {
        let key = peer_key(*peer);
        if let Err(note) = ok {
            row(
                out,
                &[
                    peer.name().into(),
                    format!("skipped: {note}"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            );
            continue;
        }
        if !res.runs.contains_key(&key) {
            continue;
        }
        let (speed, cpu) = if *peer == PeerClient::Sdk {
            (String::new(), String::new())
        } else {
            (
                show(res.paired(&sdk, &key, |s, t| s.rate / t.rate), ratio),
                show(
                    res.paired(&sdk, &key, |s, t| t.client_ns / s.client_ns),
                    ratio,
                ),
            )
        };
        row(
            out,
            &[
                peer.name().into(),
                show(res.stat(&key, |r| r.rate), rate),
                show(res.stat(&key, |r| r.client_ns), ns),
                show_med(res.stat(&key, |r| r.server_ns), ns),
                speed,
                cpu,
            ],
        );
    }
}

/// The allocation table.
pub fn report_allocs(out: &mut String, allocs: &Allocs) {
    let _ = writeln!(
        out,
        "\n## Allocations (counted on the thread doing the work; the session's driver runs \
         there too)\n"
    );
    table(out, &["operation", "allocations per call"]);
    for (name, per) in &allocs.rows {
        row(out, &[name.clone(), num(*per, 2)]);
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The targets, met or missed.
pub fn report_targets(
    out: &mut String,
    res: &Results,
    idle: &BTreeMap<String, Vec<IdleReport>>,
    allocs: Option<&Allocs>,
) {
    let _ = writeln!(
        out,
        "\n## Targets (same run, medians of per-repetition ratios)\n"
    );
    let rtt_sdk = |pin: &str, c: &str| format!("rtt/{pin}/small/{c}/{}", RttImpl::Sdk.name());
    let rtt_tt = |pin: &str, c: &str| format!("rtt/{pin}/small/{c}/{}", RttImpl::Tt.name());
    for (pin, c) in [("same", "json"), ("same", "msgpack"), ("split", "json")] {
        if let Some(s) = res.paired(&rtt_sdk(pin, c), &rtt_tt(pin, c), |a, b| a.rate / b.rate) {
            let _ = writeln!(
                out,
                "- Small {c} round trip ({pin}), SDK ÷ hand-written tt: {} (target ≥ 0.97×): {}",
                s.show(ratio),
                verdict(s.med >= 0.97)
            );
        }
    }
    for (p, c) in [
        ("small", "json"),
        ("small", "msgpack"),
        ("big", "json"),
        ("big", "msgpack"),
    ] {
        let sdk = format!("stream/{p}/{c}/{}", StreamImpl::Sdk.name());
        let send = format!("stream/{p}/{c}/{}", StreamImpl::TtSend.name());
        let raw = format!("stream/{p}/{c}/{}", StreamImpl::TtRawFeed.name());
        let codec = format!("codec/{p}/{c}/plain");
        if let Some(s) = res.paired(&sdk, &send, |a, b| a.rate / b.rate) {
            let _ = writeln!(
                out,
                "- {p} {c} stream, SDK send_serialized loop ÷ tt send per message: {} (target ≥ 10×): {}",
                s.show(ratio),
                verdict(s.med >= 10.0)
            );
        }
        if let Some(s) = res.extra_over_codec(&sdk, &raw, &codec) {
            let _ = writeln!(
                out,
                "- {p} {c} stream, SDK CPU beyond raw frames ÷ codec cost: {} (target ≤ 1.10): {}",
                s.show(|v| num(v, 2)),
                verdict(s.med <= 1.10)
            );
        }
    }
    if let Some(s) = res.paired(
        &echo_key(EchoImpl::Sdk),
        &echo_key(EchoImpl::TtDefaults),
        |a, b| a.rate / b.rate,
    ) {
        let _ = writeln!(
            out,
            "- 100 × 20 B echo, SDK defaults ÷ tt defaults: {} (target ≥ 1.5×): {}",
            s.show(ratio),
            verdict(s.med >= 1.5)
        );
    }
    if let Some(list) = idle.get(&IdleImpl::Sdk.name()) {
        let per: Vec<f64> = list.iter().map(|r| r.idle_per_connection() / 2.0).collect();
        if let Some(s) = Stat::of(&per) {
            let conns = list.iter().map(|r| r.connections).min().unwrap_or(0);
            let _ = writeln!(
                out,
                "- idle RSS per session at {conns} connections (SDK defaults): {} KiB (target ≤ 32 KiB): {}",
                s.show(|v| num(v, 1)),
                verdict(s.med <= 32.0)
            );
        }
    }
    comparator_targets(out, res);
    deflate_targets(out, res, idle);
    if let Some(a) = allocs {
        let _ = writeln!(
            out,
            "- SDK-side allocations per typed send (JSON Small, beyond the codec's): {:.2} \
             (target ≤ 1; fractions are queue blocks amortised over many sends): {}",
            a.sdk_side_per_send,
            verdict(a.sdk_side_per_send.round() <= 1.0)
        );
    }
}

/// Scenario (f)'s table: compression.
pub fn report_deflate(out: &mut String, res: &Results) {
    let _ = writeln!(
        out,
        "\n## (f) Compression: one-way typed stream to a typed-ws server, with and without \
         permessage-deflate (split pinning)\n\nBytes on the wire: read by the server's socket \
         (a counting wrapper under the session), handshake excluded, per message. Sender CPU: \
         the typed-ws client thread, or the whole peer process (`getrusage` / \
         `process.cpuUsage()`, pinned to cpu0). Server CPU: the typed-ws server thread, which \
         decodes every message. \"÷ off\" compares with the same sender without compression, \
         per repetition. Peers send JSON only.\n"
    );
    table(
        out,
        &[
            "case",
            "sender",
            "negotiated",
            "bytes on the wire / msg",
            "÷ off",
            "msg/s",
            "sender CPU/msg",
            "server CPU/msg",
        ],
    );
    for (payload, codec_name) in [
        ("small", "json"),
        ("big", "json"),
        ("small", "msgpack"),
        ("big", "msgpack"),
    ] {
        let rows: Vec<DeflateRow> = if codec_name == "json" {
            DEFLATE_SDK.iter().chain(&DEFLATE_PEERS).copied().collect()
        } else {
            DEFLATE_SDK.to_vec()
        };
        for r in rows {
            let key = format!("deflate/{payload}/{codec_name}/{}", r.name());
            if !res.runs.contains_key(&key) {
                continue;
            }
            let off = format!(
                "deflate/{payload}/{codec_name}/{}",
                DeflateRow {
                    compressed: false,
                    ..r
                }
                .name()
            );
            let shrink = if r.compressed {
                show(res.wire_ratio(&key, &off), |v| num(v, 3))
            } else {
                String::new()
            };
            let ext = res.extensions.get(&key).cloned().unwrap_or_default();
            row(
                out,
                &[
                    format!("{payload} {codec_name}"),
                    r.name(),
                    if ext.is_empty() {
                        "none".into()
                    } else {
                        format!("`{ext}`")
                    },
                    show(res.wire_stat(&key), |v| num(v, 1)),
                    shrink,
                    show(res.stat(&key, |x| x.rate), rate),
                    show(res.stat(&key, |x| x.client_ns), ns),
                    show(res.stat(&key, |x| x.server_ns), ns),
                ],
            );
        }
    }
}

/// The compression targets (issue 11 item 8) and the streaming CPU targets against the peers
/// (issue 14).
fn deflate_targets(out: &mut String, res: &Results, idle: &BTreeMap<String, Vec<IdleReport>>) {
    let key = |p: &str, c: &str, sender: PeerClient, compressed: bool| {
        format!(
            "deflate/{p}/{c}/{}",
            DeflateRow { sender, compressed }.name()
        )
    };
    if let Some(s) = res.wire_ratio(
        &key("big", "json", PeerClient::Sdk, true),
        &key("big", "json", PeerClient::Sdk, false),
    ) {
        let _ = writeln!(
            out,
            "- Big JSON on the wire, deflate ÷ uncompressed (typed-ws both ends): {} (target ≤ 0.25): {}",
            s.show(|v| num(v, 3)),
            verdict(s.med <= 0.25)
        );
    }
    for p in ["small", "big"] {
        if let Some(s) = res.paired(
            &key(p, "json", PeerClient::Sdk, true),
            &key(p, "json", PeerClient::Node, true),
            |a, b| a.client_ns / b.client_ns,
        ) {
            let _ = writeln!(
                out,
                "- {p} JSON sender CPU per compressed message, typed-ws ÷ Node ws: {} (target ≤ 0.5×): {}",
                s.show(ratio),
                verdict(s.med <= 0.5)
            );
        }
        for (peer, limit, label) in [
            (PeerClient::Node, 1.0 / 8.0, "1/8"),
            (PeerClient::Python, 1.0 / 30.0, "1/30"),
        ] {
            if let Some(s) = res.paired(
                &key(p, "json", PeerClient::Sdk, false),
                &key(p, "json", peer, false),
                |a, b| a.client_ns / b.client_ns,
            ) {
                let _ = writeln!(
                    out,
                    "- {p} JSON typed streaming, sender CPU per message typed-ws ÷ {}: {} (target ≤ {label}): {}",
                    DeflateRow {
                        sender: peer,
                        compressed: false
                    }
                    .name(),
                    s.show(|v| num(v, 3)),
                    verdict(s.med <= limit)
                );
            }
        }
    }
    for imp in [9u8, 12, 15]
        .map(IdleImpl::SdkDeflate)
        .into_iter()
        .chain([IdleImpl::SdkDeflateMapped(15)])
    {
        if let Some(list) = idle.get(&imp.name()) {
            let idle_per: Vec<f64> = list.iter().map(|r| r.idle_per_connection() / 2.0).collect();
            let echo_per: Vec<f64> = list.iter().map(|r| r.echo_per_connection() / 2.0).collect();
            let again_per: Vec<f64> = list
                .iter()
                .map(|r| r.idle_again_per_connection() / 2.0)
                .collect();
            if let (Some(i), Some(e), Some(a)) = (
                Stat::of(&idle_per),
                Stat::of(&echo_per),
                Stat::of(&again_per),
            ) {
                let _ = writeln!(
                    out,
                    "- idle session, {}: {} KiB before any \
                     message ({}), {} KiB just after one compressed echo (busy), {} KiB idle again \
                     1.5 s after it ({}) (target ≤ 64 KiB)",
                    imp.name(),
                    num(i.med, 1),
                    verdict(i.med <= 64.0),
                    num(e.med, 1),
                    num(a.med, 1),
                    verdict(a.med <= 64.0)
                );
            }
        }
    }
}

/// Issue 14's targets against the hand-written comparators and the peers.
fn comparator_targets(out: &mut String, res: &Results) {
    let rtt = |prefix: &str, imp: RttImpl| format!("rtt/{prefix}/{}", imp.name());
    for prefix in [
        "same/small/json",
        "same/small/msgpack",
        "split/small/json",
        "same/big/json",
        "same/big/msgpack",
    ] {
        let sdk = rtt(prefix, RttImpl::Sdk);
        if let Some(s) = res.paired(&sdk, &rtt(prefix, RttImpl::TtSdkBuffers), |a, b| {
            a.rate / b.rate
        }) {
            let _ = writeln!(
                out,
                "- {prefix} round trip, SDK ÷ tt with the SDK's buffers: {} (target ≥ 1.0×): {}",
                s.show(ratio),
                verdict(s.med >= 1.0)
            );
        }
        let fastest = |a: &Run, f: &Run, t: &Run| a.rate / f.rate.max(t.rate);
        if let Some(s) = paired3(
            res,
            &sdk,
            &rtt(prefix, RttImpl::Fws),
            &rtt(prefix, RttImpl::Tws),
            fastest,
        ) {
            let _ = writeln!(
                out,
                "- {prefix} round trip, SDK ÷ the faster of fastwebsockets / tokio-websockets: {} (target ≥ 0.9×): {}",
                s.show(ratio),
                verdict(s.med >= 0.9)
            );
        }
    }
    for (p, c) in [
        ("small", "json"),
        ("small", "msgpack"),
        ("big", "json"),
        ("big", "msgpack"),
    ] {
        let key = |imp: StreamImpl| format!("stream/{p}/{c}/{}", imp.name());
        let sdk = key(StreamImpl::Sdk);
        if let Some(s) = res.paired(&sdk, &key(StreamImpl::TtFeed), |a, b| a.rate / b.rate) {
            let _ = writeln!(
                out,
                "- {p} {c} stream, SDK ÷ tt feed+flush/64: {} (target ≥ 1.0×): {}",
                s.show(ratio),
                verdict(s.med >= 1.0)
            );
        }
        if let Some(s) = paired3(
            res,
            &sdk,
            &key(StreamImpl::Fws),
            &key(StreamImpl::TwsFeed),
            |a, f, t| a.rate / f.rate.max(t.rate),
        ) {
            let _ = writeln!(
                out,
                "- {p} {c} stream, SDK ÷ the faster of fastwebsockets / tokio-websockets: {} (target ≥ 0.9×): {}",
                s.show(ratio),
                verdict(s.med >= 0.9)
            );
        }
    }
    if let Some(s) = res.paired(
        &peer_key(PeerClient::Sdk),
        &peer_key(PeerClient::Node),
        |a, b| a.client_ns / b.client_ns,
    ) {
        let _ = writeln!(
            out,
            "- client CPU per round trip, typed-ws ÷ Node ws: {} (target ≤ 0.6×): {}",
            s.show(ratio),
            verdict(s.med <= 0.6)
        );
    }
}

/// The median (min–max) over repetitions of `f(a, b, c)` for runs of the same repetition.
fn paired3(
    res: &Results,
    a: &str,
    b: &str,
    c: &str,
    f: impl Fn(&Run, &Run, &Run) -> f64,
) -> Option<Stat> {
    let bs: BTreeMap<usize, Run> = res.runs.get(b)?.iter().copied().collect();
    let cs: BTreeMap<usize, Run> = res.runs.get(c)?.iter().copied().collect();
    let values: Vec<f64> = res
        .runs
        .get(a)?
        .iter()
        .filter_map(|(rep, ra)| Some(f(ra, bs.get(rep)?, cs.get(rep)?)))
        .collect();
    Stat::of(&values)
}
