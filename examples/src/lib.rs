//! Shared pieces of the typed-ws examples.

pub mod bench;
pub mod cbor;
pub mod tls;
