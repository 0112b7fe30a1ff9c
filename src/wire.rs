//! Low-level wire primitives shared by the packet codecs: the Remaining Length
//! variable-byte integer, the cursor that reads MQTT integers and strings (field data taken
//! with a `nom` parser), and the output sinks that encoders write to. Nothing here is public
//! API; `nom` types stay inside this crate.

use core::convert::Infallible;

use nom::Parser;
use nom::bytes::complete::take;
use nom::error::{ErrorKind, ParseError};

use crate::error::DecodeError;
use crate::status::Status;
use crate::types::PacketId;

/// Largest Remaining Length a 4-byte variable-byte integer can hold (2.2.3).
pub const MAX_REMAINING_LEN: usize = 268_435_455;

/// Largest string or binary field (1.5.3).
pub const MAX_FIELD_LEN: usize = 65_535;

/// The `nom` error type of the field parser below (`take`): running out of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PErr;

impl ParseError<&[u8]> for PErr {
    fn from_error_kind(_input: &[u8], _kind: ErrorKind) -> Self {
        // Only `complete` primitives are used, whose only failure is running past the end of
        // the body that the Remaining Length delimits.
        Self
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// A cursor over one packet body. The packet parsers pull fields from it in order; each
/// field either comes back validated or the first rule it breaks is returned. Running past
/// the end of the body is [`DecodeError::UnexpectedEnd`].
///
/// The data of a length-prefixed field is taken with a `nom` parser; the integers are read
/// straight from the slice (`nom`'s generic `be_u16` loop and its bounds-checked split cost
/// about 80 bytes more on Cortex-M). The cursor threads the remaining input between fields
/// and keeps every result a small `Result<T, DecodeError>`, which is what keeps the decoder
/// compact on microcontrollers.
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// Runs one `nom` parser and advances past what it consumed.
    #[inline(always)]
    fn run<T>(&mut self, parser: impl Parser<&'a [u8], Output = T, Error = PErr>) -> Result<T, DecodeError> {
        let mut parser = parser;
        match parser.parse_complete(self.0) {
            Ok((rest, v)) => {
                self.0 = rest;
                Ok(v)
            }
            Err(_) => Err(DecodeError::UnexpectedEnd),
        }
    }

    /// One byte. (Not inlined: one copy for its few callers.)
    #[inline(never)]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.0.split_first().ok_or(DecodeError::UnexpectedEnd)?;
        self.0 = rest;
        Ok(b)
    }

    /// A big-endian 16-bit integer (1.5.2).
    #[inline(always)]
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let [hi, lo, ref rest @ ..] = *self.0 else {
            return Err(DecodeError::UnexpectedEnd);
        };
        self.0 = rest;
        Ok(u16::from_be_bytes([hi, lo]))
    }

    /// A non-zero packet identifier ([MQTT-2.3.1-1]).
    pub fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::new(self.u16()?).ok_or(DecodeError::PacketIdZero)
    }

    /// Binary data: a 16-bit length then that many bytes (1.5.3, 3.1.3.3). (Left to the
    /// inliner, which folds it into its one caller in a client.)
    #[inline]
    pub fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()?;
        self.run(take(n))
    }

    /// Everything that is left (a PUBLISH payload).
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.0)
    }

    /// A UTF-8 string (1.5.3): well-formed UTF-8 without surrogates ([MQTT-1.5.3-1]) and
    /// without U+0000 ([MQTT-1.5.3-2]). A BOM is kept as an ordinary character
    /// ([MQTT-1.5.3-3]).
    pub fn string(&mut self) -> Result<&'a str, DecodeError> {
        self.scanned_string(0).map(|(s, _)| s)
    }

    /// A string this decoder has already validated (a list entry read again while
    /// iterating): the U+0000 scan and the topic rules are not repeated, and its text is cut
    /// from `text` as in [`string_in`](Self::string_in) (UTF-8 is checked again only
    /// without it).
    pub fn validated_str(&mut self, text: Option<&'a str>) -> Option<&'a str> {
        let at = field_start(text, self.0);
        let bytes = self.binary().ok()?;
        text_of(bytes, text, at).ok()
    }

    /// A [`string`](Self::string), with what [`scan`] found in it (`also` as for [`scan`]), so
    /// that the topic readers (in `topic`) apply their rules without scanning again. U+0000
    /// is checked before UTF-8: it takes precedence whatever the order of the bytes.
    #[inline(always)]
    pub fn scanned_string(&mut self, also: u32) -> Result<(&'a str, u32), DecodeError> {
        self.string_in(also, None)
    }

    /// A [`scanned_string`](Self::scanned_string) in a payload (CONNECT, SUBSCRIBE,
    /// UNSUBSCRIBE) that was checked as UTF-8 as a whole: `text` is the whole payload as
    /// text, and the reader's input is its end. The field's text is then cut from `text`,
    /// which checks two character boundaries instead of every byte. Without `text`, or when a
    /// cut falls inside a character (the field alone is not UTF-8), the field is validated on
    /// its own, so the errors are the same either way.
    #[inline(always)]
    pub fn string_in(&mut self, also: u32, text: Option<&'a str>) -> Result<(&'a str, u32), DecodeError> {
        let at = field_start(text, self.0);
        let bytes = self.binary()?;
        let found = scan(bytes, also);
        if found & NUL != 0 {
            return Err(DecodeError::NullCharacter);
        }
        Ok((text_of(bytes, text, at)?, found))
    }
}

/// Where the data of the length-prefixed field at the start of `input` begins in `text`, of
/// which `input` is the end (0 without `text`).
#[inline(always)]
fn field_start(text: Option<&str>, input: &[u8]) -> usize {
    text.map_or(0, |t| t.len().saturating_sub(input.len()) + 2)
}

/// `bytes` as text: cut from `text` at `at` when both ends are character boundaries there,
/// otherwise validated.
#[inline(always)]
fn text_of<'a>(bytes: &'a [u8], text: Option<&'a str>, at: usize) -> Result<&'a str, DecodeError> {
    // (The cut must be the very bytes of the field, which one pointer comparison confirms.)
    if let Some(s) = text.and_then(|t| t.get(at..at + bytes.len()))
        && core::ptr::eq(s.as_bytes(), bytes)
    {
        return Ok(s);
    }
    // `core::str::from_utf8` rejects encoded surrogates (ED A0..BF xx) and overlong forms.
    core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
}

/// Runs `parser` over a whole packet body and requires it to consume every byte.
pub fn parse_body<'a, T>(
    body: &'a [u8],
    parser: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader(body);
    let v = parser(&mut r)?;
    if r.0.is_empty() {
        Ok(v)
    } else {
        Err(DecodeError::TrailingBytes)
    }
}

/// [`scan`] flag: the bytes contain 0x00.
pub const NUL: u32 = 1;
/// [`scan`] flag: the bytes contain `+` or `#`.
pub const WILDCARD: u32 = 2;

/// Which of the special bytes a string holds: always [`NUL`], and [`WILDCARD`] when `also`
/// asks for it. One plain loop, shared by every string field and both topic types: the
/// smallest code on a microcontroller. Its two accumulators are bytes (the smallest byte
/// seen, and whether a wildcard was seen), which a host compiler turns into vector
/// instructions (callgrind on x86-64: CONNECT decode 1615 -> 1358 instructions, encode
/// 1242 -> 1065; +20 B on Cortex-M).
/// The flags are a `u32`, a whole register, so no caller narrows them to a byte before
/// testing them.
#[inline(never)]
pub fn scan(bytes: &[u8], also: u32) -> u32 {
    let (mut min, mut wild) = (u8::MAX, 0u8);
    for &b in bytes {
        min = min.min(b);
        wild |= u8::from(b == b'+') | u8::from(b == b'#');
    }
    (u32::from(min == 0) | (u32::from(wild) << 1)) & (NUL | also)
}

/// Whether `bytes` contains a 0x00 byte ([MQTT-1.5.3-2]).
#[inline]
pub fn contains_nul(bytes: &[u8]) -> bool {
    scan(bytes, 0) != 0
}

/// Number of bytes the variable-byte encoding of `n` takes (1 to 4).
pub const fn remaining_len_size(n: usize) -> usize {
    if n < 128 {
        1
    } else if n < 16_384 {
        2
    } else if n < 2_097_152 {
        3
    } else {
        4
    }
}

/// Decodes a Remaining Length from the bytes that follow byte 0 of the fixed header.
///
/// Returns the value and how many bytes it took. Accepts non-minimal encodings (3.1.1 does
/// not forbid them); a continuation bit on the fourth byte is malformed.
#[inline]
pub fn decode_remaining_len(buf: &[u8]) -> Result<Status<(usize, usize)>, DecodeError> {
    // One loop: a one-byte length finishes on its first pass.
    let mut value = 0usize;
    let mut shift = 0;
    for (i, &b) in buf.iter().enumerate() {
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(Status::Complete((value, i + 1)));
        }
        if i == 3 {
            return Err(DecodeError::MalformedRemainingLength);
        }
        shift += 7;
    }
    Ok(Status::need(1))
}

/// Where an encoder writes. Encoders call it only after every check has passed and the
/// packet's length is known, so a failure here can only come from the underlying writer.
pub trait Out {
    /// The sink's error.
    type Error;
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Appends one byte.
    #[inline]
    fn put_u8(&mut self, b: u8) -> Result<(), Self::Error> {
        self.put(&[b])
    }

    /// Appends a big-endian 16-bit integer.
    #[inline]
    fn put_u16(&mut self, v: u16) -> Result<(), Self::Error> {
        self.put(&v.to_be_bytes())
    }

    /// Appends a length-prefixed string or binary field (length checked by the caller).
    #[inline]
    fn put_field(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.put_u16(bytes.len() as u16)?;
        self.put(bytes)
    }
}

/// Writes into a slice that the encoder has already cut to the packet's exact length, so
/// every write fits: each one is a length test and a copy (a store for one or two bytes),
/// with no position to keep. A write that does not fit is skipped, which
/// [`Packet::encode_head`](crate::Packet) uses to leave out a PUBLISH payload; nothing is
/// written past the slice and nothing panics.
pub struct SliceOut<'a>(&'a mut [u8]);

impl<'a> SliceOut<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self(buf)
    }
}

impl Out for SliceOut<'_> {
    type Error = Infallible;

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        let buf = core::mem::take(&mut self.0);
        if let Some((dst, rest)) = buf.split_at_mut_checked(bytes.len()) {
            dst.copy_from_slice(bytes);
            self.0 = rest;
        }
        Ok(())
    }

    #[inline]
    fn put_u8(&mut self, b: u8) -> Result<(), Infallible> {
        if let Some((dst, rest)) = core::mem::take(&mut self.0).split_first_mut() {
            *dst = b;
            self.0 = rest;
        }
        Ok(())
    }

    #[inline]
    fn put_u16(&mut self, v: u16) -> Result<(), Infallible> {
        if let Some((dst, rest)) = core::mem::take(&mut self.0).split_first_chunk_mut::<2>() {
            *dst = v.to_be_bytes();
            self.0 = rest;
        }
        Ok(())
    }
}

/// Writes a Remaining Length (at most [`MAX_REMAINING_LEN`], checked by the caller): seven
/// bits a byte, low first, the top bit set on every byte but the last (2.2.3).
#[inline]
pub fn put_remaining_len<O: Out>(o: &mut O, mut n: usize) -> Result<(), O::Error> {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            return o.put_u8(b);
        }
        o.put_u8(b | 0x80)?;
    }
}

/// Moves `items[from..]` down to start at `to` (`to <= from`), like
/// `items.copy_within(from.., to)` but as a forward element loop: `copy_within` is a
/// `memmove` call, and compiler_builtins' `memmove` alone costs ~1.5 KB of flash on
/// Cortex-M, more than every caller of this function together. The moves it serves (the
/// re-send store, the receive buffer, the pending list) are short and rare.
pub(crate) fn shift_down<T: Copy>(items: &mut [T], from: usize, to: usize) {
    for i in from..items.len() {
        if let Some(&item) = items.get(i)
            && let Some(slot) = items.get_mut(i - (from - to))
        {
            *slot = item;
        }
    }
}

/// Writes through an `embedded_io::Write`.
pub struct WriteOut<'w, W>(pub &'w mut W);

impl<W: embedded_io::Write> Out for WriteOut<'_, W> {
    type Error = W::Error;

    fn put(&mut self, bytes: &[u8]) -> Result<(), W::Error> {
        self.0.write_all(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(n: usize) -> ([u8; 4], usize) {
        let mut b = [0u8; 4];
        let mut o = SliceOut::new(&mut b);
        let Ok(()) = put_remaining_len(&mut o, n);
        let left = o.0.len();
        (b, 4 - left)
    }

    #[test]
    fn remaining_len_boundaries_roundtrip() {
        let cases: [(usize, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for (n, bytes) in cases {
            let (b, len) = enc(n);
            assert_eq!(&b[..len], bytes, "encode {n}");
            assert_eq!(remaining_len_size(n), bytes.len(), "size {n}");
            assert_eq!(
                decode_remaining_len(bytes),
                Ok(Status::Complete((n, bytes.len()))),
                "decode {n}"
            );
            for cut in 0..bytes.len() {
                assert!(decode_remaining_len(&bytes[..cut]).unwrap().is_partial());
            }
        }
    }

    #[test]
    fn fifth_length_byte_is_malformed() {
        assert_eq!(
            decode_remaining_len(&[0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(
            decode_remaining_len(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::MalformedRemainingLength)
        );
    }

    #[test]
    fn non_minimal_length_is_accepted() {
        assert_eq!(decode_remaining_len(&[0x80, 0x00]), Ok(Status::Complete((0, 2))));
    }

    /// What [`scan`] must answer, byte by byte.
    fn scan_reference(bytes: &[u8], also: u32) -> u32 {
        let nul = bytes.contains(&0);
        let wild = bytes.iter().any(|&b| b == b'+' || b == b'#');
        (u32::from(nul) | (u32::from(wild) << 1)) & (NUL | also)
    }

    #[test]
    fn scan_finds_every_special_byte_at_every_position_and_length() {
        // Lengths around the word size and its multiples; the special byte at every position,
        // among neighbours that could hide or fake it (0x01, 0x80, 0xff, '*', ',', '"', '$').
        for len in 0..40 {
            for fill in [0x01u8, 0x80, 0xff, b'a', b'*', b',', b'"', b'$'] {
                let clean = std::vec![fill; len];
                for also in [0, WILDCARD] {
                    assert_eq!(scan(&clean, also), 0, "len {len}, fill {fill:#x}");
                }
                for at in 0..len {
                    for special in [0u8, b'+', b'#'] {
                        let mut v = clean.clone();
                        v[at] = special;
                        for also in [0, WILDCARD] {
                            assert_eq!(
                                scan(&v, also),
                                scan_reference(&v, also),
                                "len {len}, {special:#x} at {at} among {fill:#x}, also {also}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(scan(b"a+\0#", WILDCARD), NUL | WILDCARD);
        assert!(contains_nul(b"abc\0") && !contains_nul(b"abc+#"));
    }
}
