//! The typed-ws benchmark harness: every typed figure next to the raw TCP floor, hand-written
//! tokio-tungstenite + serde and the codec alone, from the same run, as medians (min–max) of
//! interleaved repetitions. Results and method: `BENCHMARKS.md`.
//!
//! ```sh
//! cargo run --release --example bench -p typed-ws-examples -- [--quick] [--scenario NAME] [--reps N]
//! ```
//!
//! Scenarios (`--scenario` takes a comma list, or may be repeated): `codec`, `rtt`, `stream`,
//! `echo`, `broadcast`, `idle`, `peers`, `alloc`; default: all. `--quick` runs about a minute,
//! the full run about five.
//!
//! The binary's global allocator counts allocations per thread (`allocation-counter`); every
//! comparator pays the same few ns per allocation for it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use typed_ws_examples::bench::alloc;
use typed_ws_examples::bench::codec;
use typed_ws_examples::bench::compress::{self, DeflateRow};
use typed_ws_examples::bench::echo;
use typed_ws_examples::bench::fanout::{self, FanoutImpl};
use typed_ws_examples::bench::idle::{self, IdleImpl, IdleReport};
use typed_ws_examples::bench::net::Pinning;
use typed_ws_examples::bench::peers::{self, EchoServer, PeerClient};
use typed_ws_examples::bench::report::{
    self, DEFLATE_PEERS, DEFLATE_SDK, ECHOES, FANOUT_SIZES, FANOUTS, IDLE_DEFLATE_CONNECTIONS,
    IDLES, PEERS, RTT_BIG, RTT_SMALL, RTT_SPLIT, Results, STREAMS, codec_key, deflate_key,
    echo_key, fanout_key, peer_key, rtt_key, stream_key,
};
use typed_ws_examples::bench::rtt::{self, RttImpl};
use typed_ws_examples::bench::stream;
use typed_ws_examples::bench::sys::{self, Machine};
use typed_ws_examples::bench::wire::{Big, JsonWire, MsgPackWire, Payload, Small, Wire};

/// Allocations made by the calling thread while `f` runs.
fn count_allocs(f: &mut dyn FnMut()) -> u64 {
    allocation_counter::measure(f).count_total
}

const SCENARIOS: [&str; 9] = [
    "codec",
    "rtt",
    "stream",
    "echo",
    "broadcast",
    "idle",
    "peers",
    "deflate",
    "alloc",
];

/// Durations and sizes of one run.
struct Config {
    quick: bool,
    reps: usize,
    warm: Duration,
    rtt: Duration,
    stream: Duration,
    echo_warm: Duration,
    echo: Duration,
    fanout: Duration,
    codec: Duration,
    peers_warm: Duration,
    peers: Duration,
    idle_sessions: usize,
    idle_reps: usize,
    scenarios: Vec<String>,
    /// Only runs whose key contains this (for profiling one configuration).
    filter: Option<String>,
}

impl Config {
    fn new(quick: bool) -> Config {
        let ms = Duration::from_millis;
        if quick {
            Config {
                quick,
                reps: 2,
                warm: ms(50),
                rtt: ms(200),
                stream: ms(200),
                echo_warm: ms(100),
                echo: ms(250),
                fanout: ms(200),
                codec: ms(30),
                peers_warm: ms(200),
                peers: ms(400),
                idle_sessions: 10_000,
                idle_reps: 1,
                scenarios: Vec::new(),
                filter: None,
            }
        } else {
            Config {
                quick,
                reps: 5,
                warm: ms(100),
                rtt: ms(500),
                stream: ms(500),
                echo_warm: ms(200),
                echo: ms(600),
                fanout: ms(500),
                codec: ms(100),
                peers_warm: ms(300),
                peers: ms(1000),
                idle_sessions: 10_000,
                idle_reps: 3,
                scenarios: Vec::new(),
                filter: None,
            }
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == scenario)
    }

    fn keeps(&self, key: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| key.contains(f.as_str()))
    }
}

/// Runs `items` in order on even repetitions and in reverse on odd ones (ABAB… / …BABA), so no
/// comparator always runs first.
fn interleave<T: Copy>(rep: usize, items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    if rep % 2 == 1 {
        v.reverse();
    }
    v
}

fn codec_rep<W: Wire, P: Payload>(res: &mut Results, rep: usize, cfg: &Config) {
    let (plain, sdk) = (codec_key::<W, P>("plain"), codec_key::<W, P>("sdk"));
    if cfg.keeps(&plain) {
        res.add_codec(plain, rep, codec::plain::<W, P>(cfg.codec));
    }
    if cfg.keeps(&sdk) {
        res.add_codec(sdk, rep, codec::converter::<W, P>(cfg.codec));
    }
}

fn rtt_rep<W: Wire, P: Payload>(
    res: &mut Results,
    rep: usize,
    pinning: Pinning,
    imps: &[RttImpl],
    cfg: &Config,
) {
    for imp in interleave(rep, imps) {
        let key = rtt_key::<W, P>(pinning, imp);
        if cfg.keeps(&key) {
            res.add(
                key,
                rep,
                rtt::run::<W, P>(imp, pinning, cfg.warm, cfg.rtt).run(),
            );
        }
    }
}

fn stream_rep<W: Wire, P: Payload>(res: &mut Results, rep: usize, cfg: &Config) {
    for imp in interleave(rep, &STREAMS) {
        let key = stream_key::<W, P>(imp);
        if cfg.keeps(&key) {
            res.add(
                key,
                rep,
                stream::run::<W, P>(imp, Pinning::Split, cfg.stream).run(),
            );
        }
    }
}

fn fanout_rep<W: Wire>(
    res: &mut Results,
    rep: usize,
    sessions: usize,
    imps: &[FanoutImpl],
    cfg: &Config,
) {
    for imp in interleave(rep, imps) {
        let key = fanout_key::<W>(sessions, imp);
        if cfg.keeps(&key) {
            res.add(
                key,
                rep,
                fanout::run::<W>(imp, sessions, Pinning::Split, cfg.fanout).run(),
            );
        }
    }
}

fn deflate_rep<W: Wire, P: Payload>(
    res: &mut Results,
    rep: usize,
    rows: &[DeflateRow],
    scripts: &std::path::Path,
    cfg: &Config,
) {
    for row in interleave(rep, rows) {
        let key = deflate_key::<W, P>(row);
        if !cfg.keeps(&key) {
            continue;
        }
        if let Some(r) = compress::run::<W, P>(row, scripts, cfg.stream) {
            res.add_deflate(key, rep, r.measured.run(), r.wire_bytes, &r.extension);
        }
    }
}

fn scripts_dir() -> PathBuf {
    std::env::temp_dir().join(format!("typed-ws-bench-{}", std::process::id()))
}

fn results_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("bench/last-run.jsonl")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut quick = false;
    let mut reps = None;
    let mut scenarios = Vec::new();
    let mut cfg_filter = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--reps" => {
                reps = Some(
                    args.next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .expect("--reps takes a positive number"),
                );
            }
            "--scenario" => {
                let names = args.next().expect("--scenario takes a name");
                for name in names.split(',') {
                    assert!(
                        SCENARIOS.contains(&name),
                        "unknown scenario `{name}`, expected one of {}",
                        SCENARIOS.join(", ")
                    );
                    scenarios.push(name.to_owned());
                }
            }
            "--filter" => cfg_filter = Some(args.next().expect("--filter takes a substring")),
            "--child" => {
                // internal: `--child idle IMP N` runs the idle-sessions scenario in this process
                let what = args.next().unwrap_or_default();
                assert_eq!(what, "idle", "unknown child scenario");
                let imp = args
                    .next()
                    .and_then(|a| IdleImpl::parse(&a))
                    .expect("idle child: sdk, sdk:BYTES, deflate:BITS or tt");
                let n = args
                    .next()
                    .and_then(|a| a.parse().ok())
                    .expect("idle child: a session count");
                let report = idle::child(imp, n);
                println!(
                    "IDLE {}",
                    serde_json::to_string(&report).expect("report encodes")
                );
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--scenario NAME[,NAME…]] [--reps N] [--filter KEY-PART]\nscenarios: {}",
                    SCENARIOS.join(", ")
                );
                return;
            }
            other => panic!("unknown argument `{other}` (try --help)"),
        }
    }
    let mut cfg = Config::new(quick);
    if let Some(reps) = reps {
        cfg.reps = reps;
    }
    cfg.scenarios = scenarios;
    cfg.filter = cfg_filter;
    let started = Instant::now();
    let machine = Machine::read();
    let load_before = sys::loadavg();
    eprintln!(
        "bench: {} reps{}, load {load_before}",
        cfg.reps,
        if cfg.quick { " (quick)" } else { "" }
    );
    let mut res = Results::default();
    let scripts = scripts_dir();
    let peers_ok: Vec<(PeerClient, Result<(), String>)> =
        if cfg.wants("peers") || cfg.wants("deflate") {
            let _ = peers::write_scripts(&scripts);
            PEERS
                .iter()
                .map(|&p| {
                    let ok = match p {
                        PeerClient::Python | PeerClient::Node => peers::check(p, &scripts),
                        _ => Ok(()),
                    };
                    (p, ok)
                })
                .collect()
        } else {
            Vec::new()
        };

    // warm-up: code paths, page cache, CPU frequency; not recorded
    let _ = rtt::run::<JsonWire, Small>(RttImpl::Sdk, Pinning::Same, cfg.warm, cfg.warm);
    let _ = rtt::run::<JsonWire, Small>(RttImpl::Tt, Pinning::Same, cfg.warm, cfg.warm);

    let mut loads = vec![sys::load1()];
    for rep in 0..cfg.reps {
        let rep_start = Instant::now();
        if cfg.wants("codec") || cfg.wants("rtt") || cfg.wants("stream") {
            codec_rep::<JsonWire, Small>(&mut res, rep, &cfg);
            codec_rep::<MsgPackWire, Small>(&mut res, rep, &cfg);
            codec_rep::<JsonWire, Big>(&mut res, rep, &cfg);
            codec_rep::<MsgPackWire, Big>(&mut res, rep, &cfg);
        }
        if cfg.wants("rtt") {
            rtt_rep::<JsonWire, Small>(&mut res, rep, Pinning::Same, &RTT_SMALL, &cfg);
            rtt_rep::<MsgPackWire, Small>(&mut res, rep, Pinning::Same, &RTT_SMALL, &cfg);
            rtt_rep::<JsonWire, Small>(&mut res, rep, Pinning::Split, &RTT_SPLIT, &cfg);
            rtt_rep::<JsonWire, Big>(&mut res, rep, Pinning::Same, &RTT_BIG, &cfg);
            rtt_rep::<MsgPackWire, Big>(&mut res, rep, Pinning::Same, &RTT_BIG, &cfg);
        }
        if cfg.wants("stream") {
            stream_rep::<JsonWire, Small>(&mut res, rep, &cfg);
            stream_rep::<MsgPackWire, Small>(&mut res, rep, &cfg);
            stream_rep::<JsonWire, Big>(&mut res, rep, &cfg);
            stream_rep::<MsgPackWire, Big>(&mut res, rep, &cfg);
        }
        if cfg.wants("echo") {
            for imp in interleave(rep, &ECHOES) {
                let key = echo_key(imp);
                if cfg.keeps(&key) {
                    let run = echo::run(imp, 100, 20, Pinning::Split, cfg.echo_warm, cfg.echo);
                    res.add(key, rep, run.run());
                }
            }
        }
        if cfg.wants("broadcast") {
            for sessions in FANOUT_SIZES {
                fanout_rep::<JsonWire>(&mut res, rep, sessions, &FANOUTS, &cfg);
                fanout_rep::<MsgPackWire>(&mut res, rep, sessions, &[FanoutImpl::Sdk], &cfg);
            }
        }
        if cfg.wants("peers") {
            let server = EchoServer::start(1);
            let runnable: Vec<PeerClient> = peers_ok
                .iter()
                .filter(|(_, ok)| ok.is_ok())
                .map(|(peer, _)| *peer)
                .collect();
            for peer in interleave(rep, &runnable) {
                let key = peer_key(peer);
                if !cfg.keeps(&key) {
                    continue;
                }
                if let Some(m) = peers::run(peer, &server, &scripts, cfg.peers_warm, cfg.peers) {
                    res.add(key, rep, m.run());
                }
            }
        }
        if cfg.wants("deflate") {
            let peers: Vec<DeflateRow> = DEFLATE_PEERS
                .iter()
                .filter(|r| peers_ok.iter().any(|(p, ok)| *p == r.sender && ok.is_ok()))
                .copied()
                .collect();
            let json: Vec<DeflateRow> = DEFLATE_SDK.iter().chain(&peers).copied().collect();
            deflate_rep::<JsonWire, Small>(&mut res, rep, &json, &scripts, &cfg);
            deflate_rep::<JsonWire, Big>(&mut res, rep, &json, &scripts, &cfg);
            deflate_rep::<MsgPackWire, Small>(&mut res, rep, &DEFLATE_SDK, &scripts, &cfg);
            deflate_rep::<MsgPackWire, Big>(&mut res, rep, &DEFLATE_SDK, &scripts, &cfg);
        }
        loads.push(sys::load1());
        eprintln!(
            "bench: rep {}/{} in {:.1} s (load {})",
            rep + 1,
            cfg.reps,
            rep_start.elapsed().as_secs_f64(),
            sys::loadavg()
        );
    }

    let mut idle_reports: BTreeMap<String, Vec<IdleReport>> = BTreeMap::new();
    if cfg.wants("idle") {
        let exe = std::env::current_exe().expect("the bench binary's path");
        for rep in 0..cfg.idle_reps {
            for imp in interleave(rep, &IDLES) {
                if !cfg.keeps(&format!("idle/{}", imp.name())) {
                    continue;
                }
                let connections = if imp.fewer() {
                    cfg.idle_sessions.min(IDLE_DEFLATE_CONNECTIONS)
                } else {
                    cfg.idle_sessions
                };
                if let Some(report) = idle::in_child(&exe, imp, connections) {
                    idle_reports.entry(imp.name()).or_default().push(report);
                }
            }
        }
        eprintln!("bench: idle sessions done (load {})", sys::loadavg());
    }

    let allocs = cfg
        .wants("alloc")
        .then(|| alloc::measure_allocs(count_allocs));

    let _ = std::fs::remove_dir_all(&scripts);
    let mut out = String::new();
    let run = format!(
        "{} repetitions{}, windows: rtt {:?}, stream {:?}, echo {:?}, broadcast {:?}, peers {:?}",
        cfg.reps,
        if cfg.quick { " (--quick)" } else { "" },
        cfg.rtt,
        cfg.stream,
        cfg.echo,
        cfg.fanout,
        cfg.peers
    );
    report::report_header(&mut out, &run, &machine, &load_before, &loads);
    if cfg.wants("rtt") {
        report::report_rtt(&mut out, &res);
    }
    if cfg.wants("stream") {
        report::report_stream(&mut out, &res);
    }
    if cfg.wants("codec") || cfg.wants("rtt") || cfg.wants("stream") {
        report::report_codec(&mut out, &res);
    }
    if cfg.wants("echo") {
        report::report_echo(&mut out, &res);
    }
    if cfg.wants("broadcast") {
        report::report_fanout(&mut out, &res);
    }
    if cfg.wants("idle") {
        report::report_idle(&mut out, &idle_reports, cfg.idle_sessions);
    }
    if cfg.wants("peers") {
        report::report_peers(&mut out, &res, &peers_ok);
    }
    if cfg.wants("deflate") {
        report::report_deflate(&mut out, &res);
    }
    if let Some(allocs) = &allocs {
        report::report_allocs(&mut out, allocs);
    }
    report::report_targets(&mut out, &res, &idle_reports, allocs.as_ref());
    let _ = writeln!(
        out,
        "\nFinished in {:.0} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        sys::loadavg()
    );
    print!("{out}");
    let path = results_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if std::fs::write(&path, &res.jsonl).is_ok() {
        eprintln!("bench: every run as JSON lines in {}", path.display());
    }
}
