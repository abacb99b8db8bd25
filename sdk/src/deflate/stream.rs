//! `DeflateStream`: the byte-level permessage-deflate layer between tungstenite and the socket.
//!
//! Read side: the peer's frames are parsed from the raw bytes. Frames that are not part of a
//! compressed message pass through byte for byte (tungstenite judges them: RSV bits on a control
//! or continuation frame, RSV2/RSV3, bad opcodes all fail there with 1002). A data frame with
//! RSV1, and the continuation frames of its message, are unmasked and inflated in bounded chunks
//! and handed to tungstenite as plain frames (RSV1 cleared; masked with a zero key in the server
//! role, where tungstenite requires masked client frames). A message inflating past
//! `max_message_size` is stopped at the limit: the inflated size is never allocated.
//!
//! Write side: the frames tungstenite writes are parsed; a whole data message at or above the
//! threshold is compressed (RSV1 set, length recomputed, re-masked with a fresh random key in the
//! client role); everything else passes through unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::codec::{Deflater, Inflater, TAIL};
use super::frame::{Header, HeaderAcc, apply_mask, put_header};
use super::{Compression, DeflateError, NegotiatedCompression};

/// The largest plain frame made from inflated data (fits the 16-bit length form).
const OUT_CHUNK: usize = 32 * 1024;
/// The least output room an inflate call starts with.
const MIN_INFLATE_ROOM: usize = 1024;
/// Compressed output waiting for the socket before `poll_write` applies backpressure.
const HIGH_WATER: usize = 128 * 1024;

/// Which end of the connection this layer runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

enum ReadState {
    Header,
    /// Copy this many payload bytes through.
    Pass(u64),
    /// Inflate this many payload bytes of a compressed frame.
    Inflate {
        left: u64,
        mask: Option<[u8; 4]>,
        offset: u64,
        fin: bool,
        /// How much of the `00 00 ff ff` tail went in (after the payload of a final frame).
        tail: usize,
    },
}

enum WriteState {
    Header,
    Pass(u64),
    /// Gather a data frame's payload to compress it whole.
    Collect {
        header: Header,
        left: u64,
    },
}

/// The negotiated codec of a session, both directions.
pub(crate) struct Codec {
    role: Role,
    max_frame_size: usize,
    max_message_size: usize,
    threshold: usize,
    deflater: Deflater,
    inflater: Inflater,
    // read side
    rd_header: HeaderAcc,
    rd_state: ReadState,
    /// Raw bytes read from the socket (copied out of the caller's buffer they were read into).
    rd_in: Vec<u8>,
    rd_in_pos: usize,
    rd_out: Vec<u8>,
    rd_out_pos: usize,
    /// Inside a compressed message: its opcode for the first plain frame, 0 once one went out.
    rd_message: Option<u8>,
    /// Bytes inflated so far in the current message.
    rd_total: usize,
    /// Where the plain frame under construction starts in `rd_out` (its header reserved).
    rd_frame: Option<usize>,
    rd_eof: bool,
    /// `rd_in` is unmasked up to here.
    rd_unmasked: usize,
    /// A violation waiting until the frames before it were read; then raw bytes pass through.
    rd_error: Option<DeflateError>,
    rd_failed: bool,
    // write side
    wr_header: HeaderAcc,
    wr_state: WriteState,
    /// Inside a fragmented message tungstenite writes (passed through uncompressed).
    wr_fragmented: bool,
    wr_payload: Vec<u8>,
    wr_out: Vec<u8>,
    wr_out_pos: usize,
    /// How long the session may be idle before its zlib state and buffers are released.
    idle_release: Option<std::time::Duration>,
    /// Counts reads and writes: unchanged over `idle_release` means idle.
    activity: u64,
}

impl Codec {
    /// The codec for a session that negotiated `negotiated` with local `config`.
    pub(crate) fn new(
        role: Role,
        negotiated: &NegotiatedCompression,
        config: &Compression,
        max_frame_size: usize,
        max_message_size: usize,
    ) -> Box<Self> {
        let p = &negotiated.params;
        let (ours, theirs, our_reset, their_reset) = match role {
            Role::Client => (
                p.client_max_window_bits,
                p.server_max_window_bits,
                p.client_no_context_takeover || config.client_no_context_takeover,
                p.server_no_context_takeover,
            ),
            Role::Server => (
                p.server_max_window_bits,
                p.client_max_window_bits,
                p.server_no_context_takeover,
                p.client_no_context_takeover,
            ),
        };
        let releasable = config.idle_release.is_some();
        Box::new(Codec {
            role,
            max_frame_size,
            max_message_size,
            threshold: config.threshold.max(1),
            deflater: Deflater::new(config.level, ours.unwrap_or(15), our_reset, releasable),
            inflater: Inflater::new(theirs.unwrap_or(15), their_reset, releasable),
            rd_header: HeaderAcc::default(),
            rd_state: ReadState::Header,
            rd_in: Vec::new(),
            rd_in_pos: 0,
            rd_out: Vec::new(),
            rd_out_pos: 0,
            rd_message: None,
            rd_total: 0,
            rd_frame: None,
            rd_eof: false,
            rd_unmasked: 0,
            rd_error: None,
            rd_failed: false,
            wr_header: HeaderAcc::default(),
            wr_state: WriteState::Header,
            wr_fragmented: false,
            wr_payload: Vec::new(),
            wr_out: Vec::new(),
            wr_out_pos: 0,
            idle_release: config.idle_release,
            activity: 0,
        })
    }

    /// Whether anything idle could be released: zlib state or an emptied buffer.
    fn holds_memory(&self) -> bool {
        self.deflater.is_allocated()
            || self.inflater.is_allocated()
            || self.rd_in.capacity() > 0
            || self.rd_out.capacity() > 0
            || self.wr_payload.capacity() > 0
            || self.wr_out.capacity() > 0
    }

    /// Releases the zlib state of both directions (their windows stay, see `codec`) and the
    /// buffers that hold nothing, for an idle session; what is in use (a message half read or
    /// half written) stays. Returns whether zlib state was freed.
    fn release_idle(&mut self) -> bool {
        let mut freed = self.deflater.is_allocated();
        self.deflater.release();
        let between_messages = self.rd_message.is_none()
            && matches!(self.rd_state, ReadState::Header)
            && self.rd_header.is_empty();
        if between_messages && self.inflater.is_allocated() {
            self.inflater.release();
            freed = true;
        }
        if self.rd_in_pos == self.rd_in.len() {
            self.rd_in = Vec::new();
            self.rd_in_pos = 0;
            self.rd_unmasked = 0;
        }
        if self.rd_out_pos == self.rd_out.len() && self.rd_frame.is_none() {
            self.rd_out = Vec::new();
            self.rd_out_pos = 0;
        }
        if matches!(self.wr_state, WriteState::Header) {
            self.wr_payload = Vec::new();
        }
        if self.wr_out_pos == self.wr_out.len() {
            self.wr_out = Vec::new();
            self.wr_out_pos = 0;
        }
        freed
    }

    // ---- read side ----

    /// The header size reserved for a plain frame made from inflated data.
    fn reserved(&self) -> usize {
        if self.role == Role::Server { 8 } else { 4 }
    }

    /// Whether enough plain bytes wait for tungstenite to stop inflating for now.
    fn stalled(&self) -> bool {
        self.ready() - self.rd_out_pos >= 4 * OUT_CHUNK
    }

    /// Parses and converts what `rd_in` holds, appending to `rd_out`, until the input runs out
    /// or enough output waits. Returns whether anything moved.
    fn process_read(&mut self) -> Result<bool, DeflateError> {
        let mut progress = false;
        loop {
            if self.stalled() {
                return Ok(progress);
            }
            let avail = self.rd_in.len() - self.rd_in_pos;
            match self.rd_state {
                ReadState::Header => {
                    if avail == 0 {
                        return Ok(progress);
                    }
                    let (taken, header) = self.rd_header.feed(&self.rd_in[self.rd_in_pos..]);
                    self.rd_in_pos += taken;
                    progress = true;
                    if let Some(header) = header {
                        self.on_read_header(header)?;
                    }
                }
                ReadState::Pass(left) => {
                    if avail == 0 {
                        return Ok(progress);
                    }
                    let n = left.min(avail as u64) as usize;
                    self.rd_out
                        .extend_from_slice(&self.rd_in[self.rd_in_pos..self.rd_in_pos + n]);
                    self.rd_in_pos += n;
                    progress = true;
                    self.rd_state = if n as u64 == left {
                        ReadState::Header
                    } else {
                        ReadState::Pass(left - n as u64)
                    };
                }
                ReadState::Inflate {
                    left,
                    mask,
                    offset,
                    fin,
                    tail,
                } if left > 0 => {
                    if avail == 0 {
                        return Ok(progress);
                    }
                    let n = left.min(avail as u64) as usize;
                    let (from, to) = (self.rd_in_pos, self.rd_in_pos + n);
                    if let Some(key) = mask
                        && self.rd_unmasked < to
                    {
                        let s = self.rd_unmasked.max(from);
                        apply_mask(&mut self.rd_in[s..to], key, offset + (s - from) as u64);
                        self.rd_unmasked = to;
                    }
                    let input = std::mem::take(&mut self.rd_in);
                    let result = self.inflate(&input[from..to]);
                    self.rd_in = input;
                    let used = result?;
                    progress = true;
                    self.rd_in_pos += used;
                    self.rd_state = ReadState::Inflate {
                        left: left - used as u64,
                        mask,
                        offset: offset + used as u64,
                        fin,
                        tail,
                    };
                }
                ReadState::Inflate {
                    fin, tail, mask, ..
                } => {
                    progress = true;
                    if fin && tail < TAIL.len() {
                        let used = self.inflate(&TAIL[tail..])?;
                        self.rd_state = ReadState::Inflate {
                            left: 0,
                            mask,
                            offset: 0,
                            fin,
                            tail: tail + used,
                        };
                        continue;
                    }
                    // what zlib still holds comes out before the frame ends
                    self.inflate(&[])?;
                    if self.stalled() {
                        continue;
                    }
                    self.end_read_frame(fin);
                    self.rd_state = ReadState::Header;
                }
            }
        }
    }

    fn on_read_header(&mut self, header: Header) -> Result<(), DeflateError> {
        let compressed = match header.opcode {
            1 | 2 => header.rsv == 0b100 && self.rd_message.is_none(),
            0 => header.rsv == 0 && self.rd_message.is_some(),
            _ => false,
        };
        if header.len > self.max_frame_size as u64 {
            return Err(DeflateError::FrameTooBig {
                size: header.len,
                max: self.max_frame_size,
            });
        }
        if !compressed {
            self.rd_out.extend_from_slice(&header.raw[..header.raw_len]);
            self.rd_state = ReadState::Pass(header.len);
            return Ok(());
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => {
                return Err(DeflateError::Protocol(
                    "received an unmasked frame from the client".into(),
                ));
            }
            (Role::Client, true) => {
                return Err(DeflateError::Protocol(
                    "received a masked frame from the server".into(),
                ));
            }
            _ => {}
        }
        if header.opcode != 0 {
            self.rd_message = Some(header.opcode);
            self.rd_total = 0;
        }
        self.rd_state = ReadState::Inflate {
            left: header.len,
            mask: header.mask,
            offset: 0,
            fin: header.fin,
            tail: 0,
        };
        Ok(())
    }

    /// Inflates `input` into plain frames of at most `OUT_CHUNK` bytes in `rd_out`; returns
    /// the input bytes used, which is less than all when enough output waits (see `stalled`).
    fn inflate(&mut self, input: &[u8]) -> Result<usize, DeflateError> {
        let chunk = OUT_CHUNK.min(self.max_frame_size).max(1);
        let mut used_total = 0;
        // Output room is zero-filled before each call (no `unsafe`, so no inflating into
        // uninitialised memory): start from a guess for this input and grow it only while the
        // inflater fills it, so a small message does not zero a whole chunk.
        let mut want = (input.len().saturating_mul(4)).max(MIN_INFLATE_ROOM);
        loop {
            let start = match self.rd_frame {
                Some(start) => start,
                None => {
                    let start = self.rd_out.len();
                    self.rd_out.resize(start + self.reserved(), 0);
                    self.rd_frame = Some(start);
                    start
                }
            };
            let filled = self.rd_out.len() - start - self.reserved();
            let room = chunk - filled;
            if room == 0 {
                self.finish_frame(false);
                if self.stalled() {
                    return Ok(used_total);
                }
                continue;
            }
            let room = room.min(want);
            let at = self.rd_out.len();
            self.rd_out.resize(at + room, 0);
            let result = self
                .inflater
                .inflate(&input[used_total..], &mut self.rd_out[at..]);
            let (used, made) = match result {
                Ok(r) => r,
                Err(e) => {
                    self.rd_out.truncate(at);
                    return Err(e);
                }
            };
            self.rd_out.truncate(at + made);
            self.rd_total += made;
            if self.rd_total > self.max_message_size {
                return Err(DeflateError::TooBig {
                    size: self.rd_total,
                    max: self.max_message_size,
                });
            }
            used_total += used;
            if made == room {
                want = want.saturating_mul(4);
                continue;
            }
            if used_total == input.len() || self.inflater.ended() {
                return Ok(input.len());
            }
            if used == 0 && made == 0 {
                return Err(DeflateError::InvalidData("inflate made no progress".into()));
            }
        }
    }

    /// The end of a compressed wire frame: its plain frame goes out (with the message's FIN).
    fn end_read_frame(&mut self, fin: bool) {
        if fin {
            self.inflater.end_message();
        }
        if self.rd_frame.is_none() {
            let start = self.rd_out.len();
            self.rd_out.resize(start + self.reserved(), 0);
            self.rd_frame = Some(start);
        }
        self.finish_frame(fin);
        if fin {
            self.rd_message = None;
        }
    }

    /// Writes the header of the plain frame under construction.
    fn finish_frame(&mut self, fin: bool) {
        let Some(start) = self.rd_frame.take() else {
            return;
        };
        let reserved = self.reserved();
        let len = self.rd_out.len() - start - reserved;
        let opcode = self.rd_message.replace(0).unwrap_or(0);
        let mask = (self.role == Role::Server).then_some([0u8; 4]);
        let mut header = Vec::with_capacity(reserved);
        put_header(&mut header, if fin { 0x80 } else { 0 } | opcode, mask, len);
        // the reserved space fits the 16-bit form; a short frame's header is 2 bytes shorter
        let spare = reserved - header.len();
        self.rd_out[start + spare..start + reserved].copy_from_slice(&header);
        if spare > 0 {
            self.rd_out.drain(start..start + spare);
        }
    }

    /// Bytes ready for tungstenite: everything before a frame under construction.
    fn ready(&self) -> usize {
        self.rd_frame.unwrap_or(self.rd_out.len())
    }

    // ---- write side ----

    /// Parses what tungstenite writes, compressing data messages into `wr_out`.
    fn process_write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match &mut self.wr_state {
                WriteState::Header => {
                    let (taken, header) = self.wr_header.feed(data);
                    data = &data[taken..];
                    if let Some(header) = header {
                        self.on_write_header(header)?;
                    }
                }
                WriteState::Pass(left) => {
                    let n = (*left).min(data.len() as u64) as usize;
                    self.wr_out.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        self.wr_state = WriteState::Header;
                    }
                }
                WriteState::Collect { left, .. } => {
                    let n = (*left).min(data.len() as u64) as usize;
                    self.wr_payload.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    *left -= n as u64;
                    if *left == 0
                        && let WriteState::Collect { header, .. } =
                            std::mem::replace(&mut self.wr_state, WriteState::Header)
                    {
                        self.compress(header)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_write_header(&mut self, header: Header) -> io::Result<()> {
        let data = matches!(header.opcode, 1 | 2);
        if data && !header.fin {
            self.wr_fragmented = true;
        } else if header.opcode == 0 && header.fin {
            self.wr_fragmented = false;
        }
        let compress = data
            && header.fin
            && header.rsv == 0
            && !self.wr_fragmented
            && header.len >= self.threshold as u64;
        if compress {
            self.wr_payload.clear();
            self.wr_payload.reserve(header.len as usize);
            self.wr_state = WriteState::Collect {
                header,
                left: header.len,
            };
        } else {
            self.wr_out.extend_from_slice(&header.raw[..header.raw_len]);
            self.wr_state = if header.len == 0 {
                WriteState::Header
            } else {
                WriteState::Pass(header.len)
            };
        }
        Ok(())
    }

    fn compress(&mut self, header: Header) -> io::Result<()> {
        let mut payload = std::mem::take(&mut self.wr_payload);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        let mut compressed = Vec::with_capacity(payload.len() / 2 + 64);
        self.deflater.compress(&payload, &mut compressed)?;
        let (first, body) = if self.deflater.resets() && compressed.len() >= payload.len() {
            // incompressible, and the peer's window does not depend on it: send it plain
            (header.raw[0], &mut payload)
        } else {
            (header.raw[0] | 0x40, &mut compressed)
        };
        let mask = header.mask.map(|_| rand::random::<[u8; 4]>());
        put_header(&mut self.wr_out, first, mask, body.len());
        if let Some(key) = mask {
            apply_mask(body, key, 0);
        }
        self.wr_out.extend_from_slice(body);
        // keep a small buffer for the next message, not the largest one ever sent
        payload.clear();
        if payload.capacity() <= 64 * 1024 {
            self.wr_payload = payload;
        }
        Ok(())
    }
}

/// The transport under every session: `inner` plus the permessage-deflate codec, or `inner`
/// alone when no extension was agreed, with bytes passing straight through and only the frame
/// headers read, for the frame size limit. The limit is enforced here rather than by
/// tungstenite (whose configuration is fixed once the stream is built), so a live session can
/// change it.
pub(crate) struct DeflateStream<S> {
    inner: S,
    codec: Option<Box<Codec>>,
    pass: PassThrough,
}

/// The pass-through side's frame scan.
struct PassThrough {
    /// The largest frame payload accepted.
    limit: usize,
    header: HeaderAcc,
    /// Payload bytes of the current frame still to pass.
    skip: u64,
    /// Bytes read past the upgrade head, handed out first.
    leftover: Vec<u8>,
    leftover_pos: usize,
    /// A frame over the limit, reported on the next read (the frames before it go first).
    error: Option<DeflateError>,
    /// After the error: bytes pass unscanned (the driver discards them).
    failed: bool,
}

impl PassThrough {
    /// Scans received bytes; returns the offset of the first byte not to hand on (the start of
    /// a frame over the limit) with the error stored.
    fn scan(&mut self, data: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < data.len() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - at) as u64);
                at += n as usize;
                self.skip -= n;
                continue;
            }
            let start = self.header.is_empty().then_some(at);
            let (taken, header) = self.header.feed(&data[at..]);
            at += taken;
            let Some(header) = header else {
                break;
            };
            if header.len > self.limit as u64 {
                self.error = Some(DeflateError::FrameTooBig {
                    size: header.len,
                    max: self.limit,
                });
                self.failed = true;
                return Some(start.unwrap_or(0));
            }
            self.skip = header.len;
        }
        None
    }
}

/// What the driver controls of the transport under a live session.
pub(crate) trait Transport {
    /// Changes the largest frame payload accepted from now on.
    fn set_max_frame_size(&mut self, bytes: usize);

    /// When memory could be released if the session stays idle: how long it must be idle, and
    /// an activity count that any read or write changes. `None`: nothing to release.
    fn idle_release(&self) -> Option<(std::time::Duration, u64)>;

    /// Releases what an idle session does not need (see `Codec::release_idle`); returns
    /// whether that included zlib state.
    fn release_idle(&mut self) -> bool;
}

impl<S> Transport for DeflateStream<S> {
    fn set_max_frame_size(&mut self, bytes: usize) {
        self.pass.limit = bytes;
        if let Some(codec) = self.codec.as_mut() {
            codec.max_frame_size = bytes;
        }
    }

    fn idle_release(&self) -> Option<(std::time::Duration, u64)> {
        let codec = self.codec.as_ref()?;
        let after = codec.idle_release?;
        codec.holds_memory().then_some((after, codec.activity))
    }

    fn release_idle(&mut self) -> bool {
        self.codec
            .as_mut()
            .is_some_and(|codec| codec.release_idle())
    }
}

impl<S> DeflateStream<S> {
    /// The layer under a session: compressing and inflating with `codec` when permessage-deflate
    /// was agreed, else passing bytes through; either way checking frame sizes against
    /// `max_frame_size` and handing on `leftover` (bytes read past the upgrade head) first.
    pub(crate) fn new(
        inner: S,
        codec: Option<Box<Codec>>,
        max_frame_size: usize,
        leftover: Vec<u8>,
    ) -> Self {
        let (codec, leftover) = match codec {
            // already frames of the session: the codec parses them as if just read
            Some(mut codec) => {
                codec.rd_in = leftover;
                (Some(codec), Vec::new())
            }
            None => (None, leftover),
        };
        DeflateStream {
            inner,
            codec,
            pass: PassThrough {
                limit: max_frame_size,
                header: HeaderAcc::default(),
                skip: 0,
                leftover,
                leftover_pos: 0,
                error: None,
                failed: false,
            },
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> DeflateStream<S> {
    /// Writes queued output to the socket until it is all written or the socket is full.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(codec) = self.codec.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while codec.wr_out_pos < codec.wr_out.len() {
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &codec.wr_out[codec.wr_out_pos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            codec.wr_out_pos += n;
        }
        codec.wr_out.clear();
        codec.wr_out_pos = 0;
        if codec.wr_out.capacity() > 4 * HIGH_WATER {
            codec.wr_out = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for DeflateStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(codec) = this.codec.as_mut() else {
            return poll_pass_through(&mut this.inner, &mut this.pass, cx, buf);
        };
        codec.activity = codec.activity.wrapping_add(1);
        loop {
            let ready = codec.ready();
            if codec.rd_out_pos < ready {
                let n = (ready - codec.rd_out_pos).min(buf.remaining());
                buf.put_slice(&codec.rd_out[codec.rd_out_pos..codec.rd_out_pos + n]);
                codec.rd_out_pos += n;
                if codec.rd_out_pos == codec.rd_out.len() {
                    codec.rd_out.clear();
                    codec.rd_out_pos = 0;
                    if codec.rd_out.capacity() > 2 * OUT_CHUNK {
                        codec.rd_out = Vec::new();
                    }
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(error) = codec.rd_error.take() {
                codec.rd_failed = true;
                return Poll::Ready(Err(error.into_io()));
            }
            if codec.rd_failed {
                // after a violation: raw bytes, for the driver to discard
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            match codec.process_read() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    codec.rd_error = Some(error);
                    // the frames complete before the violation go first
                    if let Some(start) = codec.rd_frame.take() {
                        codec.rd_out.truncate(start);
                    }
                    continue;
                }
            }
            if codec.rd_in_pos < codec.rd_in.len() {
                // defensive: input left, nothing moved
                codec.rd_error = Some(DeflateError::InvalidData("frame parser stuck".into()));
                continue;
            }
            if codec.rd_eof {
                return Poll::Ready(Ok(()));
            }
            codec.rd_in.clear();
            codec.rd_in_pos = 0;
            codec.rd_unmasked = 0;
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // The socket's bytes go into the caller's buffer (tungstenite's read chunk, already
            // initialised: no `unsafe` here, so no reads into uninitialised memory) and are
            // taken from there, so this layer holds no read buffer of its own while idle.
            let mut raw = ReadBuf::new(buf.initialize_unfilled());
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut raw);
            let n = raw.filled().len();
            codec.rd_in.extend_from_slice(raw.filled());
            ready!(polled)?;
            if n == 0 {
                codec.rd_eof = true;
            }
        }
    }
}

/// A read with no extension agreed: the bytes as they come (leftover first), frame headers
/// checked against the limit.
fn poll_pass_through<S: AsyncRead + Unpin>(
    inner: &mut S,
    pass: &mut PassThrough,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if let Some(error) = pass.error.take() {
        return Poll::Ready(Err(error.into_io()));
    }
    let before = buf.filled().len();
    if pass.leftover_pos < pass.leftover.len() {
        let n = (pass.leftover.len() - pass.leftover_pos).min(buf.remaining());
        buf.put_slice(&pass.leftover[pass.leftover_pos..pass.leftover_pos + n]);
        pass.leftover_pos += n;
        if pass.leftover_pos == pass.leftover.len() {
            pass.leftover = Vec::new();
            pass.leftover_pos = 0;
        }
    } else {
        ready!(Pin::new(inner).poll_read(cx, buf))?;
    }
    if pass.failed {
        return Poll::Ready(Ok(()));
    }
    if let Some(cut) = pass.scan(&buf.filled()[before..]) {
        buf.set_filled(before + cut);
        if cut == 0
            && let Some(error) = pass.error.take()
        {
            return Poll::Ready(Err(error.into_io()));
        }
    }
    Poll::Ready(Ok(()))
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for DeflateStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(codec) = this.codec.as_mut() else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        if codec.wr_out.len() - codec.wr_out_pos >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        let Some(codec) = this.codec.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        codec.activity = codec.activity.wrapping_add(1);
        codec.process_write(buf)?;
        // write through, as the socket would: tungstenite treats written bytes as sent (the
        // server role drops the socket right after writing its close reply, without a flush)
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
