//! Shared pieces of the typed-ws examples.

pub mod axum_chat;
pub mod bench;
pub mod cbor;
pub mod tls;
