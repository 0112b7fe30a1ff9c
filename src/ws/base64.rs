//! Standard base64 (RFC 4648, section 4, with `=` padding) encoding, enough for the
//! handshake's `Sec-WebSocket-Key` (16 bytes) and `Sec-WebSocket-Accept` (20 bytes).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the base64 text of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn symbol(six_bits: u32) -> u8 {
    ALPHABET.get((six_bits & 63) as usize).copied().unwrap_or(b'=')
}

/// Encodes `input` into the start of `out` and returns the number of bytes written; writes
/// only as much as fits when `out` is shorter than [`encoded_len`].
pub(crate) fn encode(input: &[u8], out: &mut [u8]) -> usize {
    let mut written = 0;
    for (group, dst) in input.chunks(3).zip(out.chunks_mut(4)) {
        let b0 = group.first().copied().unwrap_or(0);
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let chars = [
            symbol(n >> 18),
            symbol(n >> 12),
            if group.len() > 1 { symbol(n >> 6) } else { b'=' },
            if group.len() > 2 { symbol(n) } else { b'=' },
        ];
        for (d, c) in dst.iter_mut().zip(chars) {
            *d = c;
            written += 1;
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(input: &[u8]) -> std::string::String {
        let mut out = [0u8; 64];
        let n = encode(input, &mut out);
        assert_eq!(n, encoded_len(input.len()));
        std::string::String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648, section 10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(input.as_bytes()), expected);
        }
        assert_eq!(enc(&[0xfb, 0xff, 0xfe]), "+//+");
    }

    #[test]
    fn short_output_is_filled_without_panicking() {
        let mut out = [0u8; 5];
        assert_eq!(encode(b"foobar", &mut out), 5);
        assert_eq!(&out, b"Zm9vY");
    }
}
