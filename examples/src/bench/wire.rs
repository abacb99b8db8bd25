//! The benchmark payloads (a ~120 B and a ~10 KB struct) and the two wire codecs, each in the
//! SDK's form (a converter) and in the hand-written form a tokio-tungstenite user writes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;
use typed_ws::{ContentConverter, Json, MessagePack};

/// Which side of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeSide {
    /// A buy.
    Buy,
    /// A sell.
    Sell,
}

/// The small struct: 130 B as JSON, 97 B as named MessagePack (the peer benchmark's `Trade`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Small {
    /// Sequence number; the echo is checked against it.
    pub id: u64,
    /// Microseconds since the epoch (exact as a JavaScript double).
    pub ts: u64,
    /// Always "trade".
    pub kind: String,
    /// The instrument.
    pub symbol: String,
    /// Price.
    pub price: f64,
    /// Quantity.
    pub qty: f64,
    /// Buy or sell.
    pub side: TradeSide,
    /// Two flags.
    pub flags: Vec<bool>,
}

/// The big struct: a batch of 85 [`Small`]s, about 10.5 KB as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Big {
    /// Sequence number; the echo is checked against it.
    pub seq: u64,
    /// Where the batch comes from.
    pub source: String,
    /// The trades.
    pub items: Vec<Small>,
}

/// The id that ends a typed stream.
pub const SENTINEL: u64 = u64::MAX;

/// A benchmark payload: built once, its id changed per send, checked on receipt.
pub trait Payload: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// "small" or "big".
    const NAME: &'static str;
    /// The payload with id `i`.
    fn make(i: u64) -> Self;
    /// Its id.
    fn id(&self) -> u64;
    /// Changes its id (one field per send, as a caller-owned struct would).
    fn set_id(&mut self, id: u64);
}

impl Payload for Small {
    const NAME: &'static str = "small";

    fn make(i: u64) -> Self {
        Small {
            id: i,
            ts: 1_767_225_600_000_000 + i,
            kind: "trade".into(),
            symbol: "BTC-USD".into(),
            price: 64123.25 + (i % 8) as f64 * 0.5,
            qty: 0.5 + (i % 4) as f64 * 0.125,
            side: if i.is_multiple_of(2) {
                TradeSide::Buy
            } else {
                TradeSide::Sell
            },
            flags: vec![true, false],
        }
    }

    fn id(&self) -> u64 {
        self.id
    }

    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
}

impl Payload for Big {
    const NAME: &'static str = "big";

    fn make(i: u64) -> Self {
        Big {
            seq: i,
            source: "exchange-feed-eu-west".into(),
            items: (0..85).map(|k| Small::make(100_000 + k)).collect(),
        }
    }

    fn id(&self) -> u64 {
        self.seq
    }

    fn set_id(&mut self, id: u64) {
        self.seq = id;
    }
}

/// A wire codec: the SDK converter and the hand-written serde calls that produce the same
/// bytes in the same frame type.
pub trait Wire: Send + Sync + 'static {
    /// The SDK converter.
    type Converter: ContentConverter + Default + Clone + std::fmt::Debug;
    /// What the plain codec produces (`String` for JSON, `Vec<u8>` for MessagePack).
    type Encoded: AsRef<[u8]> + Into<Vec<u8>> + Into<tokio_websockets::Payload> + Send + 'static;
    /// "json" or "msgpack".
    const NAME: &'static str;
    /// `true` when messages travel as Text frames.
    const TEXT: bool;

    /// The plain codec's encode (`serde_json::to_string`, `rmp_serde::to_vec_named`).
    fn encode<T: Serialize>(value: &T) -> Self::Encoded;
    /// The plain codec's decode (`serde_json::from_str`, `rmp_serde::from_slice`).
    fn decode<T: DeserializeOwned>(encoded: &Self::Encoded) -> Option<T>;
    /// Decodes received bytes (`serde_json::from_slice`, `rmp_serde::from_slice`).
    fn decode_slice<T: DeserializeOwned>(bytes: &[u8]) -> Option<T>;
    /// Decodes a received text (`serde_json::from_str`; MessagePack: its bytes).
    fn decode_text<T: DeserializeOwned>(text: &str) -> Option<T>;
    /// The encoded value as a tungstenite message (no copy).
    fn message(encoded: Self::Encoded) -> Message;
    /// Decodes a received tungstenite message the way a hand-written client does.
    fn decode_message<T: DeserializeOwned>(message: &Message) -> Option<T>;
    /// An empty data frame of this codec's frame type (the raw streams' end marker).
    fn empty() -> Message;
}

/// JSON in Text frames.
#[derive(Clone, Copy, Debug)]
pub struct JsonWire;

impl Wire for JsonWire {
    type Converter = Json;
    type Encoded = String;
    const NAME: &'static str = "json";
    const TEXT: bool = true;

    fn encode<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("the payload encodes as JSON")
    }

    fn decode<T: DeserializeOwned>(encoded: &String) -> Option<T> {
        serde_json::from_str(encoded).ok()
    }

    fn decode_slice<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
        serde_json::from_slice(bytes).ok()
    }

    fn decode_text<T: DeserializeOwned>(text: &str) -> Option<T> {
        serde_json::from_str(text).ok()
    }

    fn message(encoded: String) -> Message {
        Message::text(encoded)
    }

    fn decode_message<T: DeserializeOwned>(message: &Message) -> Option<T> {
        match message {
            Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
            _ => None,
        }
    }

    fn empty() -> Message {
        Message::text("")
    }
}

/// Named (map) MessagePack in Binary frames.
#[derive(Clone, Copy, Debug)]
pub struct MsgPackWire;

impl Wire for MsgPackWire {
    type Converter = MessagePack;
    type Encoded = Vec<u8>;
    const NAME: &'static str = "msgpack";
    const TEXT: bool = false;

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(value).expect("the payload encodes as MessagePack")
    }

    fn decode<T: DeserializeOwned>(encoded: &Vec<u8>) -> Option<T> {
        rmp_serde::from_slice(encoded).ok()
    }

    fn decode_slice<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
        rmp_serde::from_slice(bytes).ok()
    }

    fn decode_text<T: DeserializeOwned>(text: &str) -> Option<T> {
        rmp_serde::from_slice(text.as_bytes()).ok()
    }

    fn message(encoded: Vec<u8>) -> Message {
        Message::binary(encoded)
    }

    fn decode_message<T: DeserializeOwned>(message: &Message) -> Option<T> {
        match message {
            Message::Binary(bytes) => rmp_serde::from_slice(bytes).ok(),
            _ => None,
        }
    }

    fn empty() -> Message {
        Message::binary(Vec::new())
    }
}

/// The encoded size of payload `P` with codec `W`.
pub fn wire_len<W: Wire, P: Payload>() -> usize {
    W::encode(&P::make(100_000)).as_ref().len()
}

/// The size on the wire of a WebSocket frame carrying `payload` bytes: header (2, 4 or 10
/// bytes) plus the 4-byte mask when the client sends it.
pub fn frame_len(payload: usize, masked: bool) -> usize {
    let header = if payload < 126 {
        2
    } else if payload <= 0xffff {
        4
    } else {
        10
    };
    header + if masked { 4 } else { 0 } + payload
}
