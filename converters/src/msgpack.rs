//! The MessagePack converter: Binary frames through rmp-serde.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::converter::{ContentConverter, ConvertError};
use crate::frame::Frame;

/// MessagePack through rmp-serde, sent as **Binary** frames.
///
/// By default structs are written as **maps with field names** (`rmp_serde::to_vec_named`), which
/// Python `msgpack`, Node `@msgpack/msgpack` and every other ecosystem decode to a dictionary and
/// which survives adding and reordering fields. [`MessagePack::compact`] writes structs as
/// positional arrays instead: smaller and about 1.7× faster to encode, but both ends must agree
/// on the field order. Decoding accepts either shape.
///
/// Byte fields are written as msgpack `bin` only when they are marked
/// `#[serde(with = "serde_bytes")]` (or are `serde_bytes::ByteBuf`/`bytes::Bytes`); a plain
/// `Vec<u8>` is an array of integers, as serde describes it.
///
/// A frame must hold exactly one value: bytes after it are a decode error, and so is nesting
/// deeper than [`MessagePack::MAX_DEPTH`] arrays and maps (hostile input cannot overflow the
/// stack).
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{ContentConverter, Frame, MessagePack};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Point { x: i32, y: i32 }
///
/// let frame = MessagePack::default().serialize(&Point { x: 1, y: 2 }).unwrap();
/// // fixmap of 2: "x" => 1, "y" => 2
/// assert_eq!(frame, Frame::Binary(vec![0x82, 0xa1, b'x', 1, 0xa1, b'y', 2].into()));
/// let back: Point = MessagePack::default().deserialize(&frame).unwrap();
/// assert_eq!(back, Point { x: 1, y: 2 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessagePack {
    compact: bool,
}

impl MessagePack {
    /// The deepest nesting of arrays and maps a frame may have (serde_json's limit too).
    pub const MAX_DEPTH: usize = 128;

    /// The default: structs as maps with field names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Structs as positional arrays (`rmp_serde::to_vec`): smaller and faster, but not
    /// self-describing. Both ends must use the same field order.
    ///
    /// serde cannot read some enum shapes back from arrays: struct variants of
    /// `#[serde(untagged)]` enums, and unit and struct variants of adjacently tagged
    /// (`#[serde(tag = "..", content = "..")]`) enums, are decode errors in this mode.
    pub fn compact() -> Self {
        MessagePack { compact: true }
    }

    /// `true` when structs are written as arrays.
    pub fn is_compact(&self) -> bool {
        self.compact
    }
}

impl ContentConverter for MessagePack {
    fn name(&self) -> &'static str {
        "messagepack"
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Frame, ConvertError> {
        let encoded = if self.compact {
            rmp_serde::to_vec(value)
        } else {
            rmp_serde::to_vec_named(value)
        };
        encoded
            .map(|bytes| Frame::Binary(bytes.into()))
            .map_err(|e| ConvertError::encode(self.name(), e))
    }

    fn deserialize<T: DeserializeOwned>(&self, frame: &Frame) -> Result<T, ConvertError> {
        match frame {
            Frame::Binary(bytes) => {
                let error = |e: Box<dyn std::error::Error + Send + Sync>| {
                    ConvertError::decode(self.name(), frame.kind(), e)
                };
                // rmp-serde neither refuses trailing bytes nor bounds the recursion through enum
                // variants; one cheap pass over the markers (payloads are skipped) does both.
                match scan(bytes) {
                    Scan::TooDeep => {
                        return Err(error(
                            format!(
                                "nested deeper than {} arrays and maps",
                                MessagePack::MAX_DEPTH
                            )
                            .into(),
                        ));
                    }
                    Scan::Complete(len) if len < bytes.len() => {
                        return Err(error(
                            format!(
                                "{} unexpected bytes after the MessagePack value",
                                bytes.len() - len
                            )
                            .into(),
                        ));
                    }
                    // never handed to rmp-serde: a truncated array32 or map32 would make it
                    // build the whole declared container (16M nils: 0.5 GiB) before failing
                    Scan::Invalid(at) => {
                        return Err(error(
                            format!(
                                "not a complete MessagePack value: truncated, or reserved marker 0xc1, at byte {at}"
                            )
                            .into(),
                        ));
                    }
                    Scan::Complete(_) => {}
                }
                rmp_serde::from_slice(bytes).map_err(|e| error(Box::new(e)))
            }
            other => Err(ConvertError::wrong_frame(self.name(), other.kind())),
        }
    }

    fn is_applicable(&self, frame: &Frame) -> bool {
        matches!(frame, Frame::Binary(_))
    }
}

/// What [`scan`] found at the start of a payload.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// One complete value of this many bytes, nested at most `MAX_DEPTH` deep.
    Complete(usize),
    /// Arrays and maps nested deeper than `MAX_DEPTH`.
    TooDeep,
    /// A reserved marker or a truncated value, found at this byte offset.
    Invalid(usize),
}

/// Walks the markers of the first MessagePack value in `bytes` without recursion or
/// allocation, skipping string, binary and extension payloads by their length.
fn scan(bytes: &[u8]) -> Scan {
    const MAX: usize = MessagePack::MAX_DEPTH;
    // Items still to read at each open level; `remaining` is the innermost level's.
    let mut stack = [0u64; MAX];
    let mut depth = 0;
    let mut remaining: u64 = 1;
    let mut pos = 0usize;

    // Reads a big-endian length of `n` bytes at `pos`.
    let read_len = |pos: &mut usize, n: usize| -> Option<u64> {
        let field = bytes.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(field.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    };
    loop {
        while remaining == 0 {
            if depth == 0 {
                return Scan::Complete(pos);
            }
            depth -= 1;
            remaining = stack[depth];
        }
        remaining -= 1;
        let Some(&marker) = bytes.get(pos) else {
            return Scan::Invalid(pos);
        };
        // The common case: a value whose size its marker fixes.
        let fixed = match marker {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => 1,
            0xa0..=0xbf => 1 + usize::from(marker & 0x1f),
            0xcc | 0xd0 => 2,
            0xcd | 0xd1 | 0xd4 => 3,
            0xd5 => 4,
            0xca | 0xce | 0xd2 => 5,
            0xd6 => 6,
            0xcb | 0xcf | 0xd3 => 9,
            0xd7 => 10,
            0xd8 => 18,
            _ => 0,
        };
        if fixed > 0 {
            if pos + fixed > bytes.len() {
                return Scan::Invalid(pos);
            }
            pos += fixed;
            continue;
        }
        let start = pos;
        pos += 1;
        // (items of a container to open, bytes to skip)
        let (items, skip): (Option<u64>, Option<u64>) = match marker {
            0x80..=0x8f => (Some(2 * u64::from(marker & 0x0f)), None),
            0x90..=0x9f => (Some(u64::from(marker & 0x0f)), None),
            0xc4 | 0xd9 => (None, read_len(&mut pos, 1)),
            0xc5 | 0xda => (None, read_len(&mut pos, 2)),
            0xc6 | 0xdb => (None, read_len(&mut pos, 4)),
            0xc7 => (None, read_len(&mut pos, 1).map(|n| n + 1)),
            0xc8 => (None, read_len(&mut pos, 2).map(|n| n + 1)),
            0xc9 => (None, read_len(&mut pos, 4).map(|n| n + 1)),
            0xdc => (read_len(&mut pos, 2), None),
            0xdd => (read_len(&mut pos, 4), None),
            0xde => (read_len(&mut pos, 2).map(|n| 2 * n), None),
            0xdf => (read_len(&mut pos, 4).map(|n| 2 * n), None),
            // 0xc1 is reserved; every other marker has a fixed size.
            _ => return Scan::Invalid(start),
        };
        let container = matches!(marker, 0x80..=0x9f | 0xdc..=0xdf);
        if container {
            // every item takes at least one byte: a count beyond what is left is truncated
            let left = (bytes.len() - pos.min(bytes.len())) as u64;
            let Some(items) = items.filter(|&items| items <= left) else {
                return Scan::Invalid(start);
            };
            if depth == MAX {
                return Scan::TooDeep;
            }
            if items > 0 {
                stack[depth] = remaining;
                depth += 1;
                remaining = items;
            }
        } else {
            match skip
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| pos.checked_add(n))
            {
                Some(end) if end <= bytes.len() => pos = end,
                _ => return Scan::Invalid(start),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MessagePack, Scan, scan};
    use crate::{ContentConverter, ConvertErrorKind, Frame};

    fn enc<T: serde::Serialize>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(value).unwrap()
    }

    #[test]
    fn scan_measures_one_value() {
        let value = (
            vec![Some(1u64), None, Some(u64::MAX)],
            "s".repeat(300),
            serde_bytes::ByteBuf::from(vec![7; 70_000]),
            std::collections::BTreeMap::from([(1i8, -1.5f64), (-100, 2.0)]),
            (f32::NAN, -33i64, i64::MIN, true),
        );
        let bytes = enc(&value);
        assert_eq!(scan(&bytes), Scan::Complete(bytes.len()));
        for len in 0..bytes.len() {
            assert!(
                matches!(scan(&bytes[..len]), Scan::Invalid(_)),
                "prefix of {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0xc0);
        assert_eq!(scan(&longer), Scan::Complete(bytes.len()));
        // ext types
        assert_eq!(scan(&[0xd4, 1, 2]), Scan::Complete(3));
        assert_eq!(scan(&[0xc7, 2, 9, 1, 2]), Scan::Complete(5));
        assert_eq!(scan(&[0xc1]), Scan::Invalid(0));
        assert_eq!(
            scan(&[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Scan::Invalid(1)
        );
    }

    #[test]
    fn a_truncated_array32_is_refused_before_decoding() {
        // declares 16M items and carries 64 KiB of nils: rmp-serde would build the whole
        // 16M-element container before noticing (0.5 GiB); the scan refuses it by its count
        let mut bytes = vec![0xdd, 0x00, 0xff, 0xff, 0xff];
        bytes.extend(std::iter::repeat_n(0xc0, 64 * 1024));
        let err = MessagePack::default()
            .deserialize::<Vec<()>>(&Frame::Binary(bytes.into()))
            .unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
        // the cause is the source: `{:#}` prints the chain
        assert!(
            format!("{err:#}").contains("not a complete MessagePack value: truncated"),
            "{err:#}"
        );
    }

    #[test]
    fn scan_bounds_depth() {
        let mut ok = vec![0x91u8; MessagePack::MAX_DEPTH];
        ok.push(0x90);
        assert_eq!(scan(&ok), Scan::TooDeep);
        ok.pop();
        ok.push(0x00);
        assert_eq!(scan(&ok), Scan::Complete(ok.len()));
        assert_eq!(scan(&[0x81; 1000]), Scan::TooDeep);
    }

    #[test]
    fn trailing_bytes_and_deep_nesting_are_decode_errors() {
        let c = MessagePack::default();
        let mut bytes = enc(&vec![1u8, 2]);
        bytes.push(0);
        let err = c
            .deserialize::<Vec<u8>>(&Frame::Binary(bytes.into()))
            .unwrap_err();
        assert_eq!(err.kind(), ConvertErrorKind::Decode);
        assert_eq!(
            err.to_string(),
            "messagepack converter could not decode a binary frame"
        );
        assert_eq!(
            format!("{err:#}"),
            "messagepack converter could not decode a binary frame: 1 unexpected bytes after the MessagePack value"
        );

        #[derive(serde::Deserialize, Debug)]
        enum Tree {
            Leaf,
            Node(Box<Tree>),
        }
        let mut deep = b"\x81\xa4Node".repeat(100_000);
        deep.extend_from_slice(b"\xa4Leaf");
        let err = c
            .deserialize::<Tree>(&Frame::Binary(deep.into()))
            .unwrap_err();
        assert!(
            format!("{err:#}").ends_with("nested deeper than 128 arrays and maps"),
            "{err:#}"
        );
        let shallow = b"\x81\xa4Node\x81\xa4Node\xa4Leaf".to_vec();
        let tree = c.deserialize::<Tree>(&Frame::Binary(shallow.into()));
        assert!(
            matches!(&tree, Ok(Tree::Node(inner)) if matches!(**inner, Tree::Node(_))),
            "{tree:?}"
        );
    }
}
