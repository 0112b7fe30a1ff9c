//! Low-level wire primitives shared by the packet codecs: the Remaining Length
//! variable-byte integer, `nom` parsers for MQTT integers and strings, and the output sinks
//! that encoders write to. Nothing here is public API; `nom` types stay inside this crate.

use core::convert::Infallible;

use nom::error::{ErrorKind, ParseError};
use nom::{Err, IResult};

use crate::error::{DecodeError, EncodeError};
use crate::status::Status;
use crate::types::PacketId;

/// Largest Remaining Length a 4-byte variable-byte integer can hold (2.2.3).
pub const MAX_REMAINING_LEN: usize = 268_435_455;

/// Largest string or binary field (1.5.3).
pub const MAX_FIELD_LEN: usize = 65_535;

/// The `nom` error type of our body parsers: always one of our own variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PErr(pub DecodeError);

impl ParseError<&[u8]> for PErr {
    fn from_error_kind(_input: &[u8], _kind: ErrorKind) -> Self {
        // The body parsers only use `complete` primitives, whose only failure is running
        // past the end of the body that the Remaining Length delimits.
        Self(DecodeError::UnexpectedEnd)
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Result of a body parser.
pub type PResult<'a, T> = IResult<&'a [u8], T, PErr>;

/// A fatal parse failure with our own error.
pub fn fail<T>(e: DecodeError) -> Result<T, Err<PErr>> {
    Err(Err::Failure(PErr(e)))
}

/// Maps a `nom` failure to the public error.
pub fn to_decode_error(e: Err<PErr>) -> DecodeError {
    match e {
        Err::Error(PErr(e)) | Err::Failure(PErr(e)) => e,
        Err::Incomplete(_) => DecodeError::UnexpectedEnd,
    }
}

/// Runs `parser` over a whole packet body and requires it to consume every byte.
pub fn parse_body<'a, T>(
    body: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, DecodeError> {
    match parser(body) {
        Ok(([], v)) => Ok(v),
        Ok(_) => Err(DecodeError::TrailingBytes),
        Err(e) => Err(to_decode_error(e)),
    }
}

/// The error every body parser reports when a field runs past the end of the body.
#[inline]
fn unexpected_end<T>() -> Result<T, Err<PErr>> {
    Err(Err::Error(PErr(DecodeError::UnexpectedEnd)))
}

/// One byte.
#[inline]
pub fn u8(i: &[u8]) -> PResult<'_, u8> {
    match i.split_first() {
        Some((&b, rest)) => Ok((rest, b)),
        None => unexpected_end(),
    }
}

/// A big-endian 16-bit integer (1.5.2).
#[inline]
pub fn u16(i: &[u8]) -> PResult<'_, u16> {
    match i.split_first_chunk::<2>() {
        Some((b, rest)) => Ok((rest, u16::from_be_bytes(*b))),
        None => unexpected_end(),
    }
}

/// A non-zero packet identifier ([MQTT-2.3.1-1]).
#[inline]
pub fn packet_id(i: &[u8]) -> PResult<'_, PacketId> {
    let (i, v) = u16(i)?;
    match PacketId::new(v) {
        Some(id) => Ok((i, id)),
        None => fail(DecodeError::PacketIdZero),
    }
}

/// Binary data: a 16-bit length then that many bytes (1.5.3, 3.1.3.3).
#[inline]
pub fn binary(i: &[u8]) -> PResult<'_, &[u8]> {
    let (i, len) = u16(i)?;
    match i.split_at_checked(usize::from(len)) {
        Some((bytes, rest)) => Ok((rest, bytes)),
        None => unexpected_end(),
    }
}

/// A UTF-8 string (1.5.3): well-formed UTF-8 without surrogates ([MQTT-1.5.3-1]) and without
/// U+0000 ([MQTT-1.5.3-2]). A BOM is kept as an ordinary character ([MQTT-1.5.3-3]).
#[inline]
pub fn string(i: &[u8]) -> PResult<'_, &str> {
    let (i, bytes) = binary(i)?;
    if contains_nul(bytes) {
        return fail(DecodeError::NullCharacter);
    }
    // `core::str::from_utf8` rejects encoded surrogates (ED A0..BF xx) and overlong forms.
    match core::str::from_utf8(bytes) {
        Ok(s) => Ok((i, s)),
        Err(_) => fail(DecodeError::InvalidUtf8),
    }
}

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Non-zero exactly when some byte of `w` is zero. (The classic SWAR test: its only false
/// positives are in bytes above a real zero byte, so as a yes/no answer it is exact.)
#[inline(always)]
const fn has_zero_byte(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGHS
}

/// Whether `bytes` contains a 0x00 byte, eight bytes at a time.
///
/// This sits on every string the decoder reads and every string the encoder checks, so it
/// avoids a byte loop: whole words first, then the tail as one more word, read either
/// overlapping the bytes before it (re-checking a byte is harmless for a yes/no question) or,
/// for inputs shorter than a word, padded with non-zero bytes.
#[inline]
pub fn contains_nul(bytes: &[u8]) -> bool {
    let (words, tail) = bytes.as_chunks::<8>();
    let mut acc = 0;
    for w in words {
        acc |= has_zero_byte(u64::from_ne_bytes(*w));
    }
    if !tail.is_empty() {
        let last = match bytes.last_chunk::<8>() {
            Some(w) => *w,
            None => {
                let mut w = [0xff; 8];
                for (d, s) in w.iter_mut().zip(tail) {
                    *d = *s;
                }
                w
            }
        };
        acc |= has_zero_byte(u64::from_ne_bytes(last));
    }
    acc != 0
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
    // Fast path: most packets are shorter than 128 bytes, so their length is one byte.
    if let Some(&b) = buf.first()
        && b & 0x80 == 0
    {
        return Ok(Status::Complete((usize::from(b), 1)));
    }
    let mut value: u32 = 0;
    for (i, &b) in buf.iter().take(4).enumerate() {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let v = usize::try_from(value).map_err(|_| DecodeError::MalformedRemainingLength)?;
            return Ok(Status::Complete((v, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::MalformedRemainingLength)
    } else {
        Ok(Status::need(1))
    }
}

/// Where an encoder writes. Encoders call it only after every check has passed, so a
/// failure here can only come from the underlying writer.
pub trait Out {
    /// The sink's error.
    type Error;
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;

    /// Appends one byte.
    fn put_u8(&mut self, b: u8) -> Result<(), Self::Error> {
        self.put(&[b])
    }

    /// Appends a big-endian 16-bit integer.
    fn put_u16(&mut self, v: u16) -> Result<(), Self::Error> {
        self.put(&v.to_be_bytes())
    }

    /// Appends a length-prefixed string or binary field (length checked by the caller).
    fn put_field(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        self.put_u16(bytes.len() as u16)?;
        self.put(bytes)
    }

    /// Appends a Remaining Length (at most [`MAX_REMAINING_LEN`], checked by the caller).
    fn put_remaining_len(&mut self, mut n: usize) -> Result<(), Self::Error> {
        if n < 128 {
            return self.put_u8(n as u8);
        }
        let mut tmp = [0u8; 4];
        let mut len = 0;
        for slot in tmp.iter_mut() {
            let mut b = (n & 0x7f) as u8;
            n >>= 7;
            if n > 0 {
                b |= 0x80;
            }
            *slot = b;
            len += 1;
            if n == 0 {
                break;
            }
        }
        self.put(tmp.get(..len).unwrap_or(&tmp))
    }
}

/// Writes a whole fixed-size packet at the start of `buf`, or reports how many bytes it needs
/// (leaving `buf` untouched).
#[inline]
pub fn put_fixed<const N: usize>(buf: &mut [u8], bytes: [u8; N]) -> Result<usize, EncodeError> {
    match buf.first_chunk_mut::<N>() {
        Some(dst) => {
            *dst = bytes;
            Ok(N)
        }
        None => Err(EncodeError::BufferTooSmall { needed: N }),
    }
}

/// Writes into a slice that the caller has already checked is long enough.
pub struct SliceOut<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceOut<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    #[cfg(test)]
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Out for SliceOut<'_> {
    type Error = Infallible;

    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        debug_assert!(end <= self.buf.len(), "encoder wrote past its checked length");
        self.pos = end;
        Ok(())
    }

    #[inline]
    fn put_u8(&mut self, b: u8) -> Result<(), Infallible> {
        if let Some(dst) = self.buf.get_mut(self.pos) {
            *dst = b;
        }
        self.pos += 1;
        Ok(())
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
        let Ok(()) = o.put_remaining_len(n);
        let p = o.position();
        (b, p)
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
}
