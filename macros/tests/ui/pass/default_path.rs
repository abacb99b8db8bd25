//! The default path, `::typed_ws::__private`, exactly as the `typed-ws` crate provides it
//! (`pub use typed_ws_converters::__derive::*;`), simulated with `extern crate self`.

extern crate self as typed_ws;

#[doc(hidden)]
pub mod __private {
    pub use typed_ws_converters::__derive::*;
}

use typed_ws_converters::{Json, Message};
use typed_ws_macros::Message;

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Say {
    text: String,
}

#[derive(Message, Debug, PartialEq)]
enum Chat {
    Say(Say),
    Move { x: i32 },
    #[message(text)]
    Raw(String),
}

fn main() {
    let frame = Chat::from(Say { text: "hi".into() }).encode(&Json::default()).unwrap();
    assert_eq!(frame.read_text(), Some(r#"{"type":"Say","data":{"text":"hi"}}"#));
    assert_eq!(Chat::decode(&Json::default(), &frame).unwrap(), Chat::Say(Say { text: "hi".into() }));
    assert_eq!(Chat::Move { x: 1 }.tag(), "Move");
    assert_eq!(Chat::from(String::from("r")).tag(), "Raw");
}
