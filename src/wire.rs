//! Low-level wire primitives shared by the packet codecs: the Remaining Length
//! variable-byte integer, `nom` parsers for MQTT integers and strings, and the output sinks
//! that encoders write to. Nothing here is public API; `nom` types stay inside this crate.

use core::convert::Infallible;

use nom::error::{ErrorKind, ParseError};
use nom::multi::length_data;
use nom::number::complete::{be_u8, be_u16};
use nom::{Err, IResult, Parser};

use crate::error::{DecodeError, EncodeError};
use crate::status::Status;
use crate::topic::{TopicError, TopicFilter, TopicName};
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

/// One byte.
#[inline]
pub fn u8(i: &[u8]) -> PResult<'_, u8> {
    be_u8(i)
}

/// A big-endian 16-bit integer (1.5.2).
#[inline]
pub fn u16(i: &[u8]) -> PResult<'_, u16> {
    be_u16(i)
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
    length_data(be_u16).parse_complete(i)
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

/// A topic name (3.3.2.1, 3.1.3.2): the same checks, errors and error precedence as
/// [`string`] followed by [`TopicName::new`].
#[inline]
pub fn topic_name(i: &[u8]) -> PResult<'_, TopicName<'_>> {
    topic_string(i, TopicName::new)
}

/// A topic filter (3.8.3, 3.10.3): the same checks, errors and error precedence as [`string`]
/// followed by [`TopicFilter::new`].
#[inline]
pub fn topic_filter(i: &[u8]) -> PResult<'_, TopicFilter<'_>> {
    topic_string(i, TopicFilter::new)
}

/// A string validated by `new`. The topic constructors already reject U+0000, so on the success
/// path the bytes are scanned once by `from_utf8` and once by `new`; only when something is
/// wrong is U+0000 looked for, because it takes precedence over every other error (as in
/// [`string`], which checks it first).
#[inline(always)]
fn topic_string<'a, T>(i: &'a [u8], new: impl FnOnce(&'a str) -> Result<T, TopicError>) -> PResult<'a, T> {
    let (i, bytes) = binary(i)?;
    let r = match core::str::from_utf8(bytes) {
        Ok(s) => new(s).map_err(DecodeError::from),
        Err(_) => Err(DecodeError::InvalidUtf8),
    };
    match r {
        Ok(t) => Ok((i, t)),
        Err(_) if contains_nul(bytes) => fail(DecodeError::NullCharacter),
        Err(e) => fail(e),
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

/// Whether `bytes` contains a 0x00 byte ([MQTT-1.5.3-2]).
#[inline]
pub fn contains_nul(bytes: &[u8]) -> bool {
    any_word(bytes, has_zero_byte)
}

/// Whether `bytes` contains 0x00, `+` or `#`: the bytes a topic name must not contain and a
/// topic filter may contain only in certain places.
#[inline]
pub fn contains_nul_or_wildcard(bytes: &[u8]) -> bool {
    const PLUS: u64 = u64::from_ne_bytes([b'+'; 8]);
    const HASH: u64 = u64::from_ne_bytes([b'#'; 8]);
    any_word(bytes, |w| {
        has_zero_byte(w) | has_zero_byte(w ^ PLUS) | has_zero_byte(w ^ HASH)
    })
}

/// Whether `test` is non-zero for some 8-byte word of `bytes`, where `test` asks a yes/no
/// question about each byte of a word (as [`has_zero_byte`] does).
///
/// This sits under every string the decoder reads and every string the encoder checks, so it
/// avoids a byte loop: whole words first, then the tail as one more word, read either
/// overlapping the bytes before it (asking about a byte twice is harmless) or, for inputs
/// shorter than a word, padded with 0xFF bytes (`test` must answer no for 0xFF).
#[inline(always)]
fn any_word(bytes: &[u8], test: impl Fn(u64) -> u64) -> bool {
    let (words, tail) = bytes.as_chunks::<8>();
    let mut acc = 0;
    for w in words {
        acc |= test(u64::from_ne_bytes(*w));
    }
    if !tail.is_empty() {
        let last = match bytes.last_chunk::<8>() {
            Some(w) => *w,
            // Shorter than a word: shift the bytes into a word of 0xFF (no `memcpy` call).
            None => tail
                .iter()
                .fold(u64::MAX, |w, &b| (w << 8) | u64::from(b))
                .to_ne_bytes(),
        };
        acc |= test(u64::from_ne_bytes(last));
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

    /// Appends a Remaining Length (at most [`MAX_REMAINING_LEN`], checked by the caller).
    #[inline]
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
            copy(dst, bytes);
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

/// `dst.copy_from_slice(src)` for slices of equal length. Topics, client identifiers and small
/// payloads are short, and for them a call to `memcpy` costs more than the copy: up to 32 bytes
/// are moved with at most two overlapping fixed-size loads and stores instead.
#[inline(always)]
fn copy(dst: &mut [u8], src: &[u8]) {
    #[inline(always)]
    fn head_tail<const N: usize>(dst: &mut [u8], src: &[u8]) {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<N>(), src.last_chunk::<N>()) {
            *d = *s;
        }
    }
    match src.len() {
        0 => {}
        // First, middle and last byte cover every length from 1 to 3.
        n @ 1..=3 => {
            for i in [0, n / 2, n - 1] {
                if let (Some(d), Some(s)) = (dst.get_mut(i), src.get(i)) {
                    *d = *s;
                }
            }
        }
        4..=7 => head_tail::<4>(dst, src),
        8..=15 => head_tail::<8>(dst, src),
        16..=32 => head_tail::<16>(dst, src),
        _ => dst.copy_from_slice(src),
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

    #[test]
    fn contains_nul_finds_a_zero_at_every_position_and_length() {
        for len in 0..40 {
            let clean = std::vec![0xffu8; len];
            assert!(!contains_nul(&clean), "len {len}");
            assert!(!contains_nul(&std::vec![b'a'; len]), "len {len}");
            for at in 0..len {
                let mut v = clean.clone();
                v[at] = 0;
                assert!(contains_nul(&v), "len {len}, zero at {at}");
                // 0x01 and 0x80 bytes next to it must not hide or fake a zero.
                let mut w = std::vec![0x80u8; len];
                w[at] = 0x01;
                assert!(!contains_nul(&w), "len {len}, 0x01 at {at}");
                w[at] = 0;
                assert!(contains_nul(&w), "len {len}, zero at {at} among 0x80");
            }
        }
    }

    #[test]
    fn copy_matches_copy_from_slice_for_every_length() {
        for len in 0..80 {
            let src: std::vec::Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let mut dst = std::vec![0xa5u8; len + 2];
            copy(&mut dst[1..=len], &src);
            assert_eq!(&dst[1..=len], &src[..], "len {len}");
            assert_eq!((dst[0], dst[len + 1]), (0xa5, 0xa5), "len {len} wrote outside");
        }
    }

    fn with_len(bytes: &[u8]) -> std::vec::Vec<u8> {
        let mut v = (bytes.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn topic_errors_keep_the_precedence_of_string_then_constructor() {
        // U+0000 first, then UTF-8, then the topic rules, whatever the order of the bytes.
        let cases: [(&[u8], DecodeError, Option<DecodeError>); 7] = [
            (
                b"a/+\0",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"\0\xff",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"a\xff#",
                DecodeError::InvalidUtf8,
                Some(DecodeError::InvalidUtf8),
            ),
            (b"", DecodeError::EmptyTopic, Some(DecodeError::EmptyTopic)),
            (b"a/+", DecodeError::WildcardInTopicName, None),
            (
                b"a#/\0",
                DecodeError::NullCharacter,
                Some(DecodeError::NullCharacter),
            ),
            (
                b"a#/b",
                DecodeError::WildcardInTopicName,
                Some(DecodeError::InvalidTopicFilter),
            ),
        ];
        for (bytes, name_err, filter_err) in cases {
            let input = with_len(bytes);
            assert_eq!(topic_name(&input), fail(name_err), "name {bytes:?}");
            if let Some(e) = filter_err {
                assert_eq!(topic_filter(&input), fail(e), "filter {bytes:?}");
            }
        }
        let input = with_len(b"a/+/#");
        assert_eq!(topic_filter(&input).map(|(_, f)| f.as_str()), Ok("a/+/#"));
        assert_eq!(topic_name(&with_len(b"a/b")).map(|(_, t)| t.as_str()), Ok("a/b"));
    }
}
