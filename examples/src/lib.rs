//! Shared pieces of the typed-ws examples.

pub mod cbor;
pub mod tls;
