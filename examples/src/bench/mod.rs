//! The benchmark harness behind `cargo run --release --example bench -p typed-ws-examples`
//! (results and method in `BENCHMARKS.md`): scenarios, the comparators every typed figure is
//! printed next to, and the OS facts they read. Not part of the SDK; public so the bench
//! binary can drive it.
//!
//! Each network scenario runs a server thread and a client thread, each with its own
//! current-thread tokio runtime, pinned with `sched_setaffinity`, over 127.0.0.1.

pub mod alloc;
pub mod codec;
pub mod compress;
pub mod echo;
pub mod fanout;
pub mod idle;
pub mod net;
pub mod others;
pub mod peers;
pub mod report;
pub mod rtt;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod wire;
