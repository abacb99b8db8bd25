//! Derive macros for [typed-ws](https://docs.rs/typed-ws): `#[derive(Message)]` turns an enum
//! into a typed message protocol.
//!
//! Use it through `typed_ws` (feature `macros`, on by default), which re-exports the derive next
//! to the `Message` trait it implements, the way serde re-exports its derives:
//!
//! ```
//! # extern crate typed_ws_converters as typed_ws;
//! # use typed_ws_macros::Message;
//! use typed_ws::{Json, Message};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Say { text: String }
//!
//! #[derive(Message, Debug, PartialEq)]
//! # #[message(crate = "::typed_ws_converters::__derive")]
//! enum Chat {
//!     Say(Say),
//!     Leave,
//! }
//!
//! # fn main() {
//! let frame = Chat::from(Say { text: "hi".into() }).encode(&Json::default()).unwrap();
//! assert_eq!(frame.read_text(), Some(r#"{"type":"Say","data":{"text":"hi"}}"#));
//! assert_eq!(Chat::decode(&Json::default(), &frame).unwrap(), Chat::Say(Say { text: "hi".into() }));
//! # }
//! ```
//!
//! See [`Message`](derive@Message) for the attributes, the wire shapes and the decode rules.
//! The generated code names only `::typed_ws::__private`, so a crate using the derive needs
//! `typed_ws` (not this crate, and not serde) as a dependency.

mod ast;
mod case;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;

/// Implements `typed_ws::Message` for an enum: one variant per message of the protocol.
///
/// ```
/// # extern crate typed_ws_converters as typed_ws;
/// # use typed_ws_macros::Message;
/// use typed_ws::{Bytes, Frame, Json, Message};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Join { room: String }
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Say { text: String }
///
/// #[derive(Message, Debug, PartialEq)]
/// # #[message(crate = "::typed_ws_converters::__derive")]
/// #[message(rename_all = "snake_case")]
/// enum Chat {
///     Join(Join),                        // {"type":"join","data":{"room":"rust"}}
///     Say(Say),                          // {"type":"say","data":{"text":"hi"}}
///     Move { x: i32, y: i32 },           // {"type":"move","data":{"x":1,"y":2}}
///     Ping,                              // {"type":"ping"}
///     #[message(binary)]
///     Upload(Bytes),                     // a Binary frame holding the bytes as they are
///     #[message(other)]
///     Unknown { tag: String, frame: Frame },
/// }
///
/// # fn main() {
/// let json = Json::default();
/// let frame = Chat::Move { x: 1, y: 2 }.encode(&json).unwrap();
/// assert_eq!(frame.read_text(), Some(r#"{"type":"move","data":{"x":1,"y":2}}"#));
/// assert_eq!(Chat::decode(&json, &frame).unwrap(), Chat::Move { x: 1, y: 2 });
/// assert_eq!(Chat::TAGS, ["join", "say", "move", "ping"]);
///
/// let unknown = Frame::Text(r#"{"type":"leave"}"#.into());
/// let Chat::Unknown { tag, .. } = Chat::decode(&json, &unknown).unwrap() else { panic!() };
/// assert_eq!(tag, "leave");
/// # }
/// ```
///
/// With typed-ws sessions, `session.send_message(Say { .. })` sends through the generated
/// `From<Say> for Chat`, and `let event: Chat = session.receive_message().await?` decodes.
///
/// # Wire shapes
///
/// Every variant without a frame-layer attribute is an **envelope** message: a map holding the
/// variant's tag, serialized by the session's converter. The layout is chosen per enum:
///
/// | enum attribute | `Say(Say { text })` | `Move { x, y }` | `Ping` |
/// |---|---|---|---|
/// | none: adjacent, `type` / `data` | `{"type":"say","data":{"text":"hi"}}` | `{"type":"move","data":{"x":1,"y":2}}` | `{"type":"ping"}` |
/// | `tag = "op", content = "d"` | `{"op":"say","d":{"text":"hi"}}` | `{"op":"move","d":{"x":1,"y":2}}` | `{"op":"ping"}` |
/// | `content = "d"` (tag stays `type`) | `{"type":"say","d":{"text":"hi"}}` | `{"type":"move","d":{"x":1,"y":2}}` | `{"type":"ping"}` |
/// | `tag = "type"` alone: internal | `{"type":"say","text":"hi"}` | `{"type":"move","x":1,"y":2}` | `{"type":"ping"}` |
///
/// - Adjacent tagging also carries tuple variants (`Pair(A, B)` → `{"type":"pair","data":[a,b]}`)
///   and any payload type (`Count(u32)` → `{"type":"count","data":3}`).
/// - Internal tagging puts the tag inside the payload, so it needs struct-like payloads: unit
///   variants, struct variants, and newtype variants whose payload serializes as a struct or a
///   map. Tuple variants, struct fields named like the tag, and newtypes of obviously non-map
///   types (tuples, arrays, strings, numbers, `bool`, `Vec`/sets, `Bytes`, `Option`) are compile
///   errors; other non-map payloads fail at run time with an encode error.
/// - MessagePack writes the same envelope as a map with string keys
///   (`{"type": "say", "data": {"text": "hi"}}`). With `MessagePack::compact`, payload structs
///   are arrays but the envelope stays a map (`{"type": "say", "data": ["hi"]}`), so the tag is
///   always found by name; struct variants read both forms. Decoding also accepts the
///   positional envelope `["say", {...}]` that serde reads.
///
/// # Tags
///
/// A variant's tag is its name **as written** (`Say` → `"Say"`, as serde does), unless the enum
/// has `#[message(rename_all = "…")]` or the variant has `#[message(rename = "…")]`, which wins.
/// `rename_all` takes `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`, `"camelCase"`,
/// `"snake_case"`, `"SCREAMING_SNAKE_CASE"`, `"kebab-case"` and `"SCREAMING-KEBAB-CASE"`, with
/// serde's results (`VeryTasty` → `very_tasty`, `veryTasty`, `very-tasty`, …). Two variants with
/// the same tag are a compile error, including clashes that only appear after `rename_all`.
///
/// `Message::TAGS` lists the envelope tags in declaration order; binary, text and other variants
/// are not in it. `tag()` returns the variant's tag; for binary, text and other variants, which
/// have none on the wire, it returns the name the variant would have (after renaming).
///
/// # Frame-layer variants
///
/// | variant attribute | accepted shape | encode | decode |
/// |---|---|---|---|
/// | `#[message(binary)]` | `Upload(Bytes)` or `Upload(Vec<u8>)` | a Binary frame with the bytes as they are, no converter | see the rules below |
/// | `#[message(text)]` | `Raw(String)` or `Raw(Utf8Bytes)` | a Text frame with the text as it is, no converter (`Utf8Bytes`: no copy either way) | see the rules below |
/// | `#[message(other)]` | `Unknown { tag: String, frame: Frame }` or `Unknown(Frame)` | the held frame, unchanged (forwarding works) | an envelope with an unknown tag |
///
/// Each may appear at most once per enum.
///
/// # Decode rules
///
/// 1. A frame the converter does not read (`!converter.is_applicable(frame)`, e.g. a Binary frame
///    for JSON, a Text frame for MessagePack) goes to the `binary` / `text` variant of its kind;
///    without one it is a `WrongFrame` error (always so for Ping, Pong and Close frames). In an
///    enum without envelope variants, every Text / Binary frame goes to the `text` / `binary`
///    variant when there is one.
/// 2. A frame the converter reads is decoded as an envelope: one deserialize on the happy path.
/// 3. When that fails, the tag alone is read:
///    - an unknown tag goes to the `other` variant; without one it is a `Decode` error such as
///      ``unknown message tag `leave`, expected one of `join`, `say`, `move`, `ping` ``;
///    - a known tag means the payload is wrong: the converter's `Decode` error is returned;
///    - no tag field at all, or not a map (`hello`, `[1, 2]`, bytes that are not MessagePack,
///      …), goes to the `binary` / `text` variant of the frame's kind, else the converter's
///      `Decode` error.
///
/// So with JSON and a `text` variant, any Text frame that is not a tagged envelope arrives as
/// raw text, and a raw text that happens to be a valid envelope decodes as that message.
///
/// # `From` impls
///
/// `From<Payload> for Enum` is generated for every newtype variant (envelope, `binary` or
/// `text`) whose payload type is written differently from every other newtype variant's. When two
/// variants hold the same type (`A(Say)` and `B(Say)`, or `Text(String)` next to a
/// `#[message(text)] Raw(String)`), neither gets one: construct the variant explicitly. Types are
/// compared as written, so do not name one type two ways (`Say` and `crate::Say`).
///
/// # Attributes
///
/// | on | attribute | meaning |
/// |---|---|---|
/// | enum | `tag = "k"` | the tag key; without `content`, internal tagging |
/// | enum | `content = "k"` | the content key (adjacent tagging). Default: `"data"` |
/// | enum | `rename_all = "rule"` | how variant names become tags. Default: as written |
/// | enum | `crate = "path"` | the path generated code names. Default: `::typed_ws::__private` |
/// | variant | `rename = "t"` | this variant's tag |
/// | variant | `binary`, `text`, `other` | frame-layer variants, above |
///
/// Generic enums are not supported: a protocol is one concrete type. Payload types must
/// implement serde's `Serialize` and `Deserialize` (`DeserializeOwned`); the error for one that
/// does not points at the payload.
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Parse, check, expand; every error of the first two phases is reported at once.
fn derive(input: &syn::DeriveInput) -> Result<proc_macro2::TokenStream, syn::Error> {
    let cx = ctxt::Ctxt::default();
    let parsed = ast::parse(&cx, input);
    if let Some(parsed) = &parsed {
        check::check(&cx, parsed);
    }
    cx.check()?;
    Ok(parsed
        .map(|parsed| expand::expand(&parsed))
        .unwrap_or_default())
}
