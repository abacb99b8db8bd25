//! Per-message deflate and inflate (RFC 7692 section 7.2) over flate2's zlib-rs backend: raw
//! deflate (no zlib header), a sync flush per message with its `00 00 ff ff` tail stripped, and
//! state allocated on first use and dropped after each message with no-context-takeover.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::DeflateError;

/// The tail a sync flush ends with; stripped on send, appended on receive.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// One direction's compressor.
pub(crate) struct Deflater {
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Box<Compress>>,
}

impl Deflater {
    pub(crate) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Deflater {
            level,
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            state: None,
        }
    }

    /// Whether the compressor could be skipped for a message (the peer would not notice):
    /// only without context takeover, since otherwise the window already holds the message.
    pub(crate) fn resets(&self) -> bool {
        self.no_context_takeover
    }

    /// Compresses one whole message, appending to `out` (the tail stripped).
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let (level, bits) = (self.level, self.window_bits);
        let state = self.state.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                flate2::Compression::new(level),
                false,
                bits,
            ))
        });
        let start = out.len();
        let first_in = state.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve((input.len() / 4).max(256));
            }
            let consumed = (state.total_in() - first_in) as usize;
            state
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .map_err(std::io::Error::other)?;
            let consumed = (state.total_in() - first_in) as usize;
            // done once every byte went in and the flush left room in the output
            if consumed == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out.len() >= start + TAIL.len() && out[out.len() - TAIL.len()..] == TAIL {
            out.truncate(out.len() - TAIL.len());
        }
        if self.no_context_takeover {
            self.state = None;
        }
        Ok(())
    }

    /// Bytes of compressor state held now (for tests and measurements).
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }
}

/// One direction's decompressor.
pub(crate) struct Inflater {
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Box<Decompress>>,
    /// The peer ended the deflate stream (BFINAL) inside the current message.
    ended: bool,
}

impl Inflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            // a larger window inflates anything a smaller one produced (8 included)
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            state: None,
            ended: false,
        }
    }

    /// Inflates from `input` into `out`: returns (bytes consumed, bytes produced). Output stops
    /// when `out` is full, so callers bound memory by the size of `out`.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), DeflateError> {
        if self.ended {
            // after a final block the rest of the message is ignored
            return Ok((input.len(), 0));
        }
        let bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let (in0, out0) = (state.total_in(), state.total_out());
        let status = state
            .decompress(input, out, FlushDecompress::Sync)
            .map_err(|e| DeflateError::InvalidData(e.to_string()))?;
        if status == Status::StreamEnd {
            self.ended = true;
        }
        Ok((
            (state.total_in() - in0) as usize,
            (state.total_out() - out0) as usize,
        ))
    }

    /// Whether the current message's deflate stream ended.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Called after the tail of a message went in.
    pub(crate) fn end_message(&mut self) {
        if self.no_context_takeover || self.ended {
            self.state = None;
        }
        self.ended = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(inflater: &mut Inflater, data: &[u8]) -> Vec<u8> {
        let mut input = data.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let mut chunk = [0u8; 100];
            let (used, made) = inflater.inflate(&input[at..], &mut chunk).unwrap();
            at += used;
            out.extend_from_slice(&chunk[..made]);
            if made < chunk.len() && at == input.len() {
                break;
            }
        }
        inflater.end_message();
        out
    }

    #[test]
    fn round_trip_with_and_without_context_takeover() {
        for (bits, reset) in [(9, false), (15, false), (9, true), (15, true)] {
            let mut deflater = Deflater::new(6, bits, reset);
            let mut inflater = Inflater::new(bits, reset);
            let message = br#"{"kind":"say","text":"hello hello hello hello hello"}"#.repeat(40);
            let mut sizes = Vec::new();
            for _ in 0..3 {
                let mut wire = Vec::new();
                deflater.compress(&message, &mut wire).unwrap();
                assert!(!wire.ends_with(&TAIL));
                sizes.push(wire.len());
                assert_eq!(inflate_all(&mut inflater, &wire), message);
            }
            assert_eq!(deflater.is_allocated(), !reset);
            if reset {
                assert_eq!(sizes[0], sizes[2]);
            } else {
                assert!(sizes[1] < sizes[0], "{sizes:?}");
            }
        }
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut inflater = Inflater::new(15, false);
        let mut out = [0u8; 64];
        let err = inflater
            .inflate(&[0xff, 0xff, 0xff, 0xff], &mut out)
            .unwrap_err();
        assert!(matches!(err, DeflateError::InvalidData(_)));
    }
}
