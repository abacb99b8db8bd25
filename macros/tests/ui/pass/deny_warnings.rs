//! A documented public protocol in a crate that denies every warning: the derive must not add
//! any (missing docs, unused items, naming lints, unused qualifications, ...).
#![deny(warnings, missing_docs, unused_qualifications, unused_results, unreachable_pub)]
#![deny(rust_2018_idioms, unused_lifetimes, single_use_lifetimes, trivial_casts)]

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use typed_ws_converters::{Frame, Json, Message};
use typed_ws_macros::Message;

/// Someone says something.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Say {
    /// What was said.
    pub text: String,
}

/// The chat protocol.
#[derive(Message, Debug, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", rename_all = "snake_case")]
pub enum Chat {
    /// A message.
    Say(Say),
    /// A move.
    Move {
        /// Column.
        x: i32,
        /// Row.
        y: i32,
    },
    /// Two values.
    Pair(u8, String),
    /// Keepalive.
    Ping,
    /// A file.
    #[message(binary)]
    Upload(Bytes),
    /// Raw text.
    #[message(text)]
    Raw(String),
    /// Anything else.
    #[message(other)]
    Unknown {
        /// The unknown tag.
        tag: String,
        /// The frame as received.
        frame: Frame,
    },
}

/// Internal tagging, no raw variants.
#[derive(Message, Debug, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive", tag = "kind")]
pub enum Internal {
    /// A message.
    Say(Say),
    /// Keepalive.
    Ping,
}

/// Only raw variants.
#[derive(Message, Debug, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive")]
pub enum RawOnly {
    /// Bytes.
    #[message(binary)]
    Bytes(Vec<u8>),
}

fn main() {
    let frame = Chat::from(Say { text: "hi".into() }).encode(&Json::default()).unwrap();
    assert_eq!(Chat::decode(&Json::default(), &frame).unwrap(), Chat::Say(Say { text: "hi".into() }));
    let frame = Internal::Ping.encode(&Json::default()).unwrap();
    assert_eq!(Internal::decode(&Json::default(), &frame).unwrap(), Internal::Ping);
    assert_eq!(RawOnly::from(vec![1]).tag(), "Bytes");
    assert_eq!(Chat::TAGS.len(), 4);
}

/// Only a field-less struct variant: the shadows borrow nothing.
#[derive(Message, Debug, PartialEq)]
#[message(crate = "::typed_ws_converters::__derive")]
pub enum Empty {
    /// Nothing inside.
    Nothing {},
}
