//! Golden vectors for cross-language MessagePack: the exact bytes `MessagePack::default()`
//! writes for a known struct, and (with the peers installed by `scripts/peers`) proof that
//! Python `msgpack` and Node `@msgpack/msgpack` read them as a map with a binary `blob`, and that
//! what they write back decodes to the same struct.
//!
//! The peer tests are `#[ignore]`d in a plain `cargo test`; `scripts/test` runs them with
//! `--include-ignored`. A missing peer fails them with a message saying to run `scripts/test`.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use typed_ws_converters::{ContentConverter, Frame, MessagePack};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Golden {
    id: u32,
    name: String,
    tags: Vec<String>,
    ok: bool,
    ratio: f64,
    nothing: Option<u32>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
}

fn golden() -> Golden {
    Golden {
        id: 300,
        name: "héllo".into(),
        tags: vec!["x".into(), "yz".into()],
        ok: true,
        ratio: 0.5,
        nothing: None,
        blob: vec![0, 1, 2, 255],
    }
}

/// What a peer must see, as JSON (with `blob` as a list of byte values).
fn expected_json() -> serde_json::Value {
    serde_json::json!({
        "id": 300,
        "name": "héllo",
        "tags": ["x", "yz"],
        "ok": true,
        "ratio": 0.5,
        "nothing": null,
        "blob": [0, 1, 2, 255],
    })
}

/// `MessagePack::default().serialize(&golden())`, field by field.
#[rustfmt::skip]
const GOLDEN_HEX: &str = concat!(
    "87",                                   // fixmap, 7 entries
    "a26964",         "cd012c",             // "id": uint16 300
    "a46e616d65",     "a668c3a96c6c6f",     // "name": "héllo" (6 UTF-8 bytes)
    "a474616773",     "92a178a2797a",       // "tags": ["x", "yz"]
    "a26f6b",         "c3",                 // "ok": true
    "a5726174696f",   "cb3fe0000000000000", // "ratio": float64 0.5
    "a76e6f7468696e67", "c0",               // "nothing": nil
    "a4626c6f62",     "c404000102ff",       // "blob": bin8 [0, 1, 2, 255]
);

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Vec<u8> {
    let hex = hex.trim();
    assert!(hex.len().is_multiple_of(2), "odd-length hex: {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{hex:?}: {e}")))
        .collect()
}

#[test]
fn rust_writes_the_golden_bytes() {
    let frame = MessagePack::default().serialize(&golden()).unwrap();
    assert_eq!(to_hex(&frame.read_bytes()), GOLDEN_HEX);
}

#[test]
fn rust_reads_the_golden_bytes_in_both_modes() {
    let frame = Frame::Binary(from_hex(GOLDEN_HEX).into());
    for c in [MessagePack::default(), MessagePack::compact()] {
        assert_eq!(c.deserialize::<Golden>(&frame).unwrap(), golden());
    }
}

// ---------------------------------------------------------------------------------------------
// Peers

/// How long a peer process may run before it is killed and the test fails.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Decodes argv[1] (hex), checks it against argv[2] (expected JSON), prints what it saw as JSON,
/// then its own re-encoding as hex.
const PYTHON_PEER: &str = r#"
import json, sys
import msgpack
data = bytes.fromhex(sys.argv[1])
expected = json.loads(sys.argv[2])
obj = msgpack.unpackb(data, raw=False)
if not isinstance(obj, dict):
    sys.exit("expected a dict, got %s: %r" % (type(obj).__name__, obj))
if not isinstance(obj.get("blob"), bytes):
    sys.exit("expected blob to be bytes, got %s: %r" % (type(obj.get("blob")).__name__, obj.get("blob")))
seen = dict(obj)
seen["blob"] = list(obj["blob"])
if seen != expected:
    sys.exit("decoded %r, expected %r" % (seen, expected))
print(json.dumps(seen))
print(msgpack.packb(obj, use_bin_type=True).hex())
"#;

const NODE_PEER: &str = r#"
const { decode, encode } = require("@msgpack/msgpack");
const { isDeepStrictEqual, inspect } = require("node:util");
const [hex, expectedJson] = process.argv.slice(1);
const expected = JSON.parse(expectedJson);
const fail = (msg) => { console.error(msg); process.exit(1); };
const obj = decode(Buffer.from(hex, "hex"));
if (obj === null || typeof obj !== "object" || Object.getPrototypeOf(obj) !== Object.prototype) {
  fail(`expected a plain object, got ${inspect(obj)}`);
}
if (!(obj.blob instanceof Uint8Array)) fail(`expected blob to be a Uint8Array, got ${inspect(obj.blob)}`);
const seen = { ...obj, blob: Array.from(obj.blob) };
if (!isDeepStrictEqual(seen, expected)) fail(`decoded ${inspect(seen)}, expected ${inspect(expected)}`);
console.log(JSON.stringify(seen));
console.log(Buffer.from(encode(obj)).toString("hex"));
"#;

/// The peers directory: `$TYPED_WS_PEERS`, else `target/peers` of this workspace.
fn peers_dir() -> PathBuf {
    std::env::var_os("TYPED_WS_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/peers"))
}

/// Fails the test (never skips it) when a peer install is missing.
fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} not found at {}: run scripts/test (it installs the peers with scripts/peers), or \
         point TYPED_WS_PEERS at an existing peers directory",
        path.display()
    );
    path
}

/// Runs `command` with a bounded wait; returns its stdout, failing on a non-zero exit.
fn run(mut command: Command, what: &str) -> String {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({command:?}): {e}; run scripts/test"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + PEER_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("waiting for the peer") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {PEER_TIMEOUT:?}; killed it");
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    assert!(
        status.success(),
        "{what} failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// Checks a peer's output: the JSON of what it decoded, then its re-encoding, which must decode
/// to the golden struct.
fn check_peer_output(stdout: &str, what: &str) {
    let mut lines = stdout.lines();
    let seen: serde_json::Value = serde_json::from_str(lines.next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}):\n{stdout}"));
    assert_eq!(
        seen,
        expected_json(),
        "{what} decoded the golden bytes differently"
    );
    let reencoded = from_hex(lines.next().unwrap_or_default());
    assert!(
        !reencoded.is_empty(),
        "{what} printed no re-encoding:\n{stdout}"
    );
    let frame = Frame::Binary(reencoded.into());
    for c in [MessagePack::default(), MessagePack::compact()] {
        let back: Golden = c
            .deserialize(&frame)
            .unwrap_or_else(|e| panic!("{what}'s re-encoding does not decode: {e}\n{stdout}"));
        assert_eq!(back, golden(), "{what}'s re-encoding");
    }
}

#[test]
#[ignore = "needs peers: run scripts/test"]
fn python_msgpack_reads_and_writes_the_golden_bytes() {
    let peers = peers_dir();
    require(peers.join("py/.done"), "the Python peer install");
    let python = require(peers.join("py/bin/python"), "the Python peer (venv)");
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg(PYTHON_PEER)
        .arg(GOLDEN_HEX)
        .arg(expected_json().to_string());
    let stdout = run(command, "python msgpack peer");
    check_peer_output(&stdout, "python msgpack");
}

#[test]
#[ignore = "needs peers: run scripts/test"]
fn node_msgpack_reads_and_writes_the_golden_bytes() {
    let peers = peers_dir();
    require(peers.join("node/.done"), "the Node peer install");
    let modules = require(
        peers.join("node/node_modules"),
        "the Node peer's node_modules",
    );
    require(
        modules.join("@msgpack/msgpack/package.json"),
        "@msgpack/msgpack",
    );
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", &modules)
        .current_dir(peers.join("node"))
        .arg("-e")
        .arg(NODE_PEER)
        .arg(GOLDEN_HEX)
        .arg(expected_json().to_string());
    let stdout = run(command, "node @msgpack/msgpack peer");
    check_peer_output(&stdout, "node @msgpack/msgpack");
}
