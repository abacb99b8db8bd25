//! Per-message deflate and inflate (RFC 7692 section 7.2) over flate2's zlib-rs backend: raw
//! deflate (no zlib header), a sync flush per message with its `00 00 ff ff` tail stripped, and
//! state allocated on first use and dropped after each message with no-context-takeover.
//!
//! With context takeover the zlib state can also be released between messages (an idle
//! session): each direction keeps its LZ77 window, the last `2^window_bits` bytes of
//! uncompressed data, and the next message rebuilds the state with that window as a preset
//! dictionary. The peer cannot tell: its window holds the same bytes, and a back-reference
//! never reaches further than the window. zlib-rs's state is about 300 KiB whatever the window
//! bits (a fixed 128 KiB hash table and 112 KiB of buffers), the window at most 32 KiB.

use std::collections::VecDeque;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::DeflateError;

/// The tail a sync flush ends with; stripped on send, appended on receive.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The last bytes of uncompressed data of one direction, up to the window size: what the
/// peer's LZ77 window holds, kept so released zlib state can be rebuilt.
struct History {
    window: usize,
    bytes: VecDeque<u8>,
}

impl History {
    fn new(window_bits: u8) -> Self {
        History {
            window: 1 << window_bits,
            bytes: VecDeque::new(),
        }
    }

    fn push(&mut self, data: &[u8]) {
        if self.bytes.capacity() < self.window {
            // once, to the window: it never grows past it
            self.bytes.reserve_exact(self.window - self.bytes.len());
        }
        let data = &data[data.len().saturating_sub(self.window)..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.window);
        self.bytes.drain(..excess);
        self.bytes.extend(data);
    }

    /// The window as one slice, for a preset dictionary.
    fn as_dictionary(&mut self) -> &[u8] {
        self.bytes.make_contiguous()
    }

    fn clear(&mut self) {
        self.bytes = VecDeque::new();
    }
}

/// One direction's compressor.
pub(crate) struct Deflater {
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Box<Compress>>,
    /// What the peer's window holds, kept only where the state may be released (context
    /// takeover and an idle release configured): it costs a copy of every message.
    history: Option<History>,
}

impl Deflater {
    /// `releasable`: the state may be released when idle, so the window is kept.
    pub(crate) fn new(
        level: u32,
        window_bits: u8,
        no_context_takeover: bool,
        releasable: bool,
    ) -> Self {
        let window_bits = window_bits.clamp(9, 15);
        Deflater {
            level,
            window_bits,
            no_context_takeover,
            state: None,
            history: (releasable && !no_context_takeover).then(|| History::new(window_bits)),
        }
    }

    /// Whether the compressor could be skipped for a message (the peer would not notice):
    /// only without context takeover, since otherwise the window already holds the message.
    pub(crate) fn resets(&self) -> bool {
        self.no_context_takeover
    }

    /// Compresses one whole message, appending to `out` (the tail stripped).
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let state = match &mut self.state {
            Some(state) => state,
            None => {
                let mut state = Box::new(Compress::new_with_window_bits(
                    flate2::Compression::new(self.level),
                    false,
                    self.window_bits,
                ));
                if let Some(history) = self.history.as_mut().filter(|h| !h.bytes.is_empty()) {
                    // released while idle: the peer's window is the dictionary
                    state
                        .set_dictionary(history.as_dictionary())
                        .map_err(std::io::Error::other)?;
                }
                self.state.insert(state)
            }
        };
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
        } else if let Some(history) = &mut self.history {
            history.push(input);
        }
        Ok(())
    }

    /// Whether zlib state is allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Frees the zlib state when the next message can rebuild it from the window (kept only
    /// when `releasable`); otherwise keeps it.
    pub(crate) fn release(&mut self) {
        if self.history.is_some() {
            self.state = None;
        }
    }
}

/// One direction's decompressor.
pub(crate) struct Inflater {
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Box<Decompress>>,
    /// The peer ended the deflate stream (BFINAL) inside the current message.
    ended: bool,
    /// What the peer's compressor may refer back to, kept as the deflater's is.
    history: Option<History>,
}

impl Inflater {
    /// `releasable`: the state may be released when idle, so the window is kept.
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool, releasable: bool) -> Self {
        // a larger window inflates anything a smaller one produced (8 included)
        let window_bits = window_bits.clamp(9, 15);
        Inflater {
            window_bits,
            no_context_takeover,
            state: None,
            ended: false,
            history: (releasable && !no_context_takeover).then(|| History::new(window_bits)),
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
        let state = match &mut self.state {
            Some(state) => state,
            None => {
                let mut state = Box::new(Decompress::new_with_window_bits(false, self.window_bits));
                if let Some(history) = self.history.as_mut().filter(|h| !h.bytes.is_empty()) {
                    // released while idle: the window the peer's next message may refer to
                    state
                        .set_dictionary(history.as_dictionary())
                        .map_err(|e| DeflateError::InvalidData(e.to_string()))?;
                }
                self.state.insert(state)
            }
        };
        let (in0, out0) = (state.total_in(), state.total_out());
        let status = state
            .decompress(input, out, FlushDecompress::Sync)
            .map_err(|e| DeflateError::InvalidData(e.to_string()))?;
        if status == Status::StreamEnd {
            self.ended = true;
        }
        let (used, made) = (
            (state.total_in() - in0) as usize,
            (state.total_out() - out0) as usize,
        );
        if let Some(history) = &mut self.history {
            history.push(&out[..made]);
        }
        Ok((used, made))
    }

    /// Whether the current message's deflate stream ended.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Called after the tail of a message went in.
    pub(crate) fn end_message(&mut self) {
        if self.no_context_takeover || self.ended {
            self.state = None;
            // a final block ends the stream: the next message starts with an empty window
            if let Some(history) = &mut self.history {
                history.clear();
            }
        }
        self.ended = false;
    }

    /// Whether zlib state is allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Frees the zlib state between messages when the next message can rebuild it from the
    /// window (kept only when `releasable`); otherwise keeps it.
    pub(crate) fn release(&mut self) {
        if self.history.is_some() {
            self.state = None;
        }
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
            let mut deflater = Deflater::new(6, bits, reset, false);
            let mut inflater = Inflater::new(bits, reset, false);
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
    fn state_released_between_messages_keeps_the_window() {
        for bits in [9, 12, 15] {
            let message = br#"{"kind":"say","text":"released and rebuilt from its window"}"#;
            // reference: one long-lived compressor
            let mut kept = Deflater::new(1, bits, false, false);
            let mut reference = Vec::new();
            for _ in 0..3 {
                let mut wire = Vec::new();
                kept.compress(message, &mut wire).unwrap();
                reference.push(wire.len());
            }
            // both ends release their zlib state after every message
            let mut deflater = Deflater::new(1, bits, false, true);
            let mut inflater = Inflater::new(bits, false, true);
            let mut sizes = Vec::new();
            for _ in 0..3 {
                let mut wire = Vec::new();
                deflater.compress(message, &mut wire).unwrap();
                sizes.push(wire.len());
                assert_eq!(inflate_all(&mut inflater, &wire), message);
                assert!(deflater.is_allocated() && inflater.is_allocated());
                deflater.release();
                inflater.release();
                assert!(!deflater.is_allocated() && !inflater.is_allocated());
            }
            // later messages refer back into the window, as without releasing
            assert!(sizes[1] * 2 < sizes[0], "{bits} bits: {sizes:?}");
            assert!(
                sizes[2] <= reference[2] + 2,
                "{bits} bits: {sizes:?} vs {reference:?}"
            );
            // a peer that never released inflates the released side's messages too
            let mut other = Inflater::new(bits, false, false);
            let mut deflater = Deflater::new(1, bits, false, true);
            for round in 0..3 {
                let mut wire = Vec::new();
                let text = format!("{round} {}", String::from_utf8_lossy(message));
                deflater.compress(text.as_bytes(), &mut wire).unwrap();
                assert_eq!(inflate_all(&mut other, &wire), text.as_bytes());
                deflater.release();
            }
        }
    }

    #[test]
    fn state_without_a_kept_window_is_not_released() {
        let message = br#"{"kind":"say","text":"kept for the session's life"}"#;
        let mut deflater = Deflater::new(1, 15, false, false);
        let mut inflater = Inflater::new(15, false, false);
        let mut sizes = Vec::new();
        for _ in 0..2 {
            let mut wire = Vec::new();
            deflater.compress(message, &mut wire).unwrap();
            sizes.push(wire.len());
            assert_eq!(inflate_all(&mut inflater, &wire), message);
            // nothing to rebuild from: releasing would break the peer's back-references
            deflater.release();
            inflater.release();
            assert!(deflater.is_allocated() && inflater.is_allocated());
        }
        assert!(sizes[1] * 2 < sizes[0], "{sizes:?}");
        assert!(deflater.history.is_none() && inflater.history.is_none());
    }

    #[test]
    fn history_keeps_the_last_window_of_bytes() {
        let mut history = History::new(9);
        history.push(&[1; 300]);
        history.push(&[2; 300]);
        let window = history.as_dictionary().to_vec();
        assert_eq!(window.len(), 512);
        assert_eq!(&window[..212], &[1; 212][..]);
        assert_eq!(&window[212..], &[2; 300][..]);
        history.push(&(0..=255).cycle().take(2000).collect::<Vec<u8>>());
        let window = history.as_dictionary().to_vec();
        assert_eq!(window.len(), 512);
        assert_eq!(window[511], (1999 % 256) as u8);
        assert!(history.bytes.capacity() < 1024);
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut inflater = Inflater::new(15, false, false);
        let mut out = [0u8; 64];
        let err = inflater
            .inflate(&[0xff, 0xff, 0xff, 0xff], &mut out)
            .unwrap_err();
        assert!(matches!(err, DeflateError::InvalidData(_)));
    }
}
