//! The codec alone: encode and decode hot loops, for the plain serde calls and for the SDK's
//! converters (which add a non-finite-float check for JSON and a structure scan for
//! MessagePack). Runs on a thread pinned to cpu0.

use std::hint::black_box;
use std::time::Duration;

use typed_ws::ContentConverter;

use super::net;
use super::sys::CpuTime;
use super::wire::{Payload, Wire};

/// CPU ns per call.
#[derive(Clone, Copy, Debug, Default)]
pub struct CodecCost {
    /// One encode.
    pub encode_ns: f64,
    /// One decode.
    pub decode_ns: f64,
}

impl CodecCost {
    /// Encode + decode.
    pub fn both(&self) -> f64 {
        self.encode_ns + self.decode_ns
    }
}

/// Runs `step` in chunks of 64 until `budget` of CPU time is used; CPU ns per call.
fn per_call(budget: Duration, mut step: impl FnMut(u64)) -> f64 {
    let budget = budget.as_nanos() as u64;
    let cpu0 = CpuTime::now();
    let mut calls = 0u64;
    loop {
        for _ in 0..64 {
            step(calls);
            calls += 1;
        }
        let used = CpuTime::now().since(cpu0).ns;
        if used >= budget {
            return used as f64 / calls as f64;
        }
    }
}

/// The plain codec (`serde_json::to_string`/`from_str`, `rmp_serde::to_vec_named`/`from_slice`).
pub fn plain<W: Wire, P: Payload>(budget: Duration) -> CodecCost {
    net::blocking(0, move || {
        let mut value = P::make(1);
        let encode_ns = per_call(budget, |i| {
            value.set_id(i);
            black_box(W::encode(black_box(&value)));
        });
        let encoded = W::encode(&value);
        let decode_ns = per_call(budget, |_| {
            black_box(W::decode::<P>(black_box(&encoded)));
        });
        CodecCost {
            encode_ns,
            decode_ns,
        }
    })
    .join()
    .expect("codec thread")
}

/// The SDK converter's `serialize` / `deserialize`.
pub fn converter<W: Wire, P: Payload>(budget: Duration) -> CodecCost {
    net::blocking(0, move || {
        let converter = W::Converter::default();
        let mut value = P::make(1);
        let encode_ns = per_call(budget, |i| {
            value.set_id(i);
            black_box(converter.serialize(black_box(&value)).expect("encode"));
        });
        let frame = converter.serialize(&value).expect("encode");
        let decode_ns = per_call(budget, |_| {
            black_box(
                converter
                    .deserialize::<P>(black_box(&frame))
                    .expect("decode"),
            );
        });
        CodecCost {
            encode_ns,
            decode_ns,
        }
    })
    .join()
    .expect("codec thread")
}
