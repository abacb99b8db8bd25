//! Frame headers as the deflate layer sees them: parsed from bytes arriving in any split,
//! written back with a new length, RSV1 and mask; and masking.

/// A parsed frame header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) rsv: u8,
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
    /// The header as received.
    pub(crate) raw: [u8; 14],
    pub(crate) raw_len: usize,
}

/// Collects header bytes until a whole header is there.
#[derive(Default)]
pub(crate) struct HeaderAcc {
    buf: [u8; 14],
    have: usize,
}

impl HeaderAcc {
    fn needed(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let ext = match self.buf[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if self.buf[1] & 0x80 != 0 { 4 } else { 0 }
    }

    /// `true` while no byte of the next header has been taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.have == 0
    }

    /// Takes bytes from `data`; returns how many it took and the header once complete.
    pub(crate) fn feed(&mut self, data: &[u8]) -> (usize, Option<Header>) {
        let mut taken = 0;
        loop {
            let needed = self.needed();
            if self.have >= 2 && self.have == needed {
                let header = self.parse();
                self.have = 0;
                return (taken, Some(header));
            }
            let n = (needed - self.have).min(data.len() - taken);
            if n == 0 {
                return (taken, None);
            }
            self.buf[self.have..self.have + n].copy_from_slice(&data[taken..taken + n]);
            self.have += n;
            taken += n;
        }
    }

    fn parse(&self) -> Header {
        let b = &self.buf;
        let (len, mut at) = match b[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 => (
                u64::from_be_bytes([b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9]]),
                10,
            ),
            n => (u64::from(n), 2),
        };
        let mask = (b[1] & 0x80 != 0).then(|| {
            let key = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            at += 4;
            key
        });
        Header {
            fin: b[0] & 0x80 != 0,
            rsv: (b[0] >> 4) & 0x7,
            opcode: b[0] & 0x0f,
            mask,
            len,
            raw: *b,
            raw_len: at,
        }
    }
}

/// Writes a frame header into `out`.
pub(crate) fn put_header(out: &mut Vec<u8>, first: u8, mask: Option<[u8; 4]>, len: usize) {
    out.push(first);
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// XORs `data` with `key`, starting at byte `offset` of the payload.
pub(crate) fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let key = [
        key[shift],
        key[(shift + 1) & 3],
        key[(shift + 2) & 3],
        key[(shift + 3) & 3],
    ];
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u32::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_at_any_offset_matches_bytewise() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        for offset in 0..8u64 {
            let mut fast = data.clone();
            apply_mask(&mut fast, key, offset);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                .collect();
            assert_eq!(fast, slow, "offset {offset}");
        }
    }

    #[test]
    fn headers_parse_across_splits() {
        let mut frame = Vec::new();
        put_header(&mut frame, 0xc1, Some([1, 2, 3, 4]), 70_000);
        for split in 0..frame.len() {
            let mut acc = HeaderAcc::default();
            let (a, none) = acc.feed(&frame[..split]);
            assert!(none.is_none() && a == split);
            let (b, header) = acc.feed(&frame[split..]);
            let header = header.unwrap();
            assert_eq!(a + b, frame.len());
            assert_eq!((header.fin, header.rsv, header.opcode), (true, 0b100, 1));
            assert_eq!((header.len, header.mask), (70_000, Some([1, 2, 3, 4])));
            assert_eq!(&header.raw[..header.raw_len], &frame[..]);
        }
    }
}
