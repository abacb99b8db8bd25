//! Content converters and frame types for [typed-ws](https://docs.rs/typed-ws).
//!
//! This crate knows nothing about sockets. It defines the [`Frame`] layer every part of
//! typed-ws shares ([`Frame`], [`CloseReason`], [`CloseCode`]), the [`ContentConverter`] trait
//! that turns typed values into frames and back, and the two built-in converters:
//!
//! | converter | frames | format |
//! |---|---|---|
//! | [`Json`] | Text | serde_json; NaN/∞ refused |
//! | [`MessagePack`] | Binary | rmp-serde; structs as named maps (or [`MessagePack::compact`]) |
//!
//! ```
//! use typed_ws_converters::{ContentConverter, Frame, Json};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Say { text: String }
//!
//! let json = Json::default();
//! let frame = json.serialize(&Say { text: "hi".into() }).unwrap();
//! assert_eq!(frame, Frame::Text(r#"{"text":"hi"}"#.into()));
//! assert_eq!(json.deserialize::<Say>(&frame).unwrap(), Say { text: "hi".into() });
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[doc(hidden)]
#[path = "derive_support.rs"]
pub mod __derive;
mod converter;
mod finite;
mod frame;
mod json;
mod message;
mod msgpack;
mod utf8;

pub use converter::{ContentConverter, ConvertError, ConvertErrorKind};
pub use frame::{CloseCode, CloseReason, Frame, FrameKind, MAX_CLOSE_REASON_BYTES, truncate_utf8};
pub use json::Json;
pub use message::{FromFrame, Message, ToFrame};
pub use msgpack::MessagePack;
pub use utf8::{InvalidUtf8, Utf8Bytes};

/// typed-ws's driver moves text between [`Utf8Bytes`] and tungstenite's type through these,
/// without a copy. Not public API.
#[doc(hidden)]
pub use utf8::tungstenite_text as __tungstenite;

/// Re-exported so that custom converters and derived code name one `bytes` version.
pub use bytes::Bytes;
mod negotiate;
pub use negotiate::{Chosen, ConverterSet, Offer, Offers};
