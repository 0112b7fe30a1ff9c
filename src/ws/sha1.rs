//! A small SHA-1 (FIPS 180-4), used only to compute and check the handshake's
//! `Sec-WebSocket-Accept` value. SHA-1 is not used here for security: RFC 6455 uses it to
//! prove that the server understood the WebSocket handshake.

/// Length of a SHA-1 digest in bytes.
pub(crate) const DIGEST_LEN: usize = 20;

/// Incremental SHA-1 state.
#[derive(Clone)]
pub(crate) struct Sha1 {
    h: [u32; 5],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

impl Sha1 {
    /// The initial state (FIPS 180-4, 5.3.1).
    pub(crate) const fn new() -> Self {
        Self {
            h: [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0],
            block: [0; 64],
            block_len: 0,
            total_len: 0,
        }
    }

    /// Feeds `data`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        for &byte in data {
            if let Some(slot) = self.block.get_mut(self.block_len) {
                *slot = byte;
            }
            self.block_len += 1;
            if self.block_len == 64 {
                compress(&mut self.h, &self.block);
                self.block_len = 0;
            }
        }
    }

    /// Pads, processes the last block(s) and returns the digest.
    pub(crate) fn finish(mut self) -> [u8; DIGEST_LEN] {
        let bit_len = self.total_len.wrapping_mul(8);
        // The padding: one 1 bit, zeros up to 56 bytes into a block, the length in bits.
        self.update_raw(&[0x80]);
        while self.block_len != 56 {
            self.update_raw(&[0]);
        }
        self.update_raw(&bit_len.to_be_bytes());
        let mut out = [0u8; DIGEST_LEN];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.h) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// [`update`](Self::update) without counting the bytes in the message length.
    fn update_raw(&mut self, data: &[u8]) {
        let len = self.total_len;
        self.update(data);
        self.total_len = len;
    }
}

/// Processes one 64-byte block. The message schedule is kept as a window of 16 words that
/// slides by one word a round, so every index is a constant.
fn compress(h: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 16];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes(bytes.try_into().unwrap_or([0; 4]));
    }
    let [mut a, mut b, mut c, mut d, mut e] = *h;
    for round in 0..80 {
        let wt = if round < 16 {
            w[0]
        } else {
            // W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]); the window starts at t-16.
            let next = (w[13] ^ w[8] ^ w[2] ^ w[0]).rotate_left(1);
            w[0] = next;
            next
        };
        w.rotate_left(1);
        let (f, k) = match round {
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(wt);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
        *x = x.wrapping_add(y);
    }
}

/// SHA-1 of the concatenation of `parts`.
pub(crate) fn sha1(parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    let mut s = Sha1::new();
    for part in parts {
        s.update(part);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn hex(d: [u8; 20]) -> std::string::String {
        d.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        // FIPS 180 examples and the empty string.
        assert_eq!(hex(sha1(&[b""])), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(hex(sha1(&[b"abc"])), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(sha1(&[
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            ])),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex(sha1(&[b"The quick brown fox jumps over the lazy dog"])),
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
        );
    }

    #[test]
    fn million_a() {
        let mut s = Sha1::new();
        let chunk = [b'a'; 1000];
        for _ in 0..1000 {
            s.update(&chunk);
        }
        assert_eq!(hex(s.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }

    #[test]
    fn split_input_gives_the_same_digest() {
        let data: Vec<u8> = (0..200u8).collect();
        let whole = sha1(&[&data]);
        for cut in 0..data.len() {
            let (x, y) = data.split_at(cut);
            assert_eq!(sha1(&[x, y]), whole, "cut at {cut}");
        }
        // Lengths around the 55/56/64-byte padding boundaries.
        for len in 50..70 {
            let one = sha1(&[&data[..len]]);
            let mut s = Sha1::new();
            for b in &data[..len] {
                s.update(core::slice::from_ref(b));
            }
            assert_eq!(s.finish(), one, "len {len}");
        }
    }
}
