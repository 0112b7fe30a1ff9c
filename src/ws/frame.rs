//! WebSocket frames (RFC 6455, section 5): the [`FrameHeader`] with its encoder and
//! decoder, client-side masking ([`apply_mask`], [`encode_client_frame`]), and the
//! incremental [`Decoder`] for the frames a server sends.
//!
//! The decoder is sans-IO and never copies data payload: server frames are not masked, so
//! [`Event::Data`] borrows the payload from the caller's input. Control frame payloads (at
//! most 125 bytes) are kept inside the decoder, so that a ping can be answered with the
//! same bytes. Every error is final: RFC 6455 says to fail the connection. The decoder
//! never panics, whatever the input.

use super::WsError;
use crate::status::Status;

/// The longest frame header: 2 bytes, an 8-byte extended length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest payload of a control frame (close, ping, pong), section 5.5.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest client control frame: header with masking key plus the largest payload.
pub const MAX_CONTROL_FRAME: usize = 6 + MAX_CONTROL_PAYLOAD;

const FIN: u8 = 0x80;
const RSV_BITS: u8 = 0x70;
const MASK_BIT: u8 = 0x80;

/// A frame's opcode (section 5.2). Reserved opcodes are refused when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Opcode {
    /// 0x0: the next fragment of a message.
    Continuation,
    /// 0x1: a UTF-8 text message. MQTT never uses it.
    Text,
    /// 0x2: a binary message: MQTT bytes.
    Binary,
    /// 0x8: the closing handshake.
    Close,
    /// 0x9: a ping, to be answered with a pong carrying the same payload.
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl Opcode {
    /// The 4-bit value on the wire.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit value, or `None` for the reserved values 0x3-0x7 and 0xB-0xF.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// The header of one frame: everything before the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHeader {
    /// Whether this is the final fragment of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key. Every frame a client sends is masked, no frame a server sends is
    /// (section 5.1).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub len: u64,
}

impl FrameHeader {
    /// The number of bytes [`encode`](Self::encode) writes: 2 to [`MAX_HEADER_LEN`].
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.len < 126 {
            0
        } else if self.len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into the start of `out`, with the shortest length encoding, and
    /// returns the number of bytes written.
    ///
    /// # Errors
    /// * [`WsError::BufferTooSmall`] when `out` is shorter than
    ///   [`encoded_len`](Self::encoded_len); nothing is written.
    /// * [`WsError::ControlFrameTooLong`] or [`WsError::FragmentedControlFrame`] for a
    ///   control frame that section 5.5 forbids, and [`WsError::LengthTooLarge`] for a
    ///   length of 2^63 or more: the encoder never writes a frame a peer must refuse.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WsError> {
        if self.opcode.is_control() {
            if self.len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(WsError::ControlFrameTooLong(self.len));
            }
            if !self.fin {
                return Err(WsError::FragmentedControlFrame);
            }
        }
        if self.len >> 63 != 0 {
            return Err(WsError::LengthTooLarge);
        }
        let needed = self.encoded_len();
        let mut head = [0u8; MAX_HEADER_LEN];
        head[0] = if self.fin { FIN } else { 0 } | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { MASK_BIT } else { 0 };
        let mut n = 2;
        if self.len < 126 {
            head[1] = mask_bit | self.len as u8;
        } else if let Ok(len16) = u16::try_from(self.len) {
            head[1] = mask_bit | 126;
            head[2..4].copy_from_slice(&len16.to_be_bytes());
            n = 4;
        } else {
            head[1] = mask_bit | 127;
            head[2..10].copy_from_slice(&self.len.to_be_bytes());
            n = 10;
        }
        if let (Some(key), Some(dst)) = (self.mask, head.get_mut(n..n + 4)) {
            dst.copy_from_slice(&key);
        }
        match (out.get_mut(..needed), head.get(..needed)) {
            (Some(dst), Some(src)) => {
                dst.copy_from_slice(src);
                Ok(needed)
            }
            _ => Err(WsError::BufferTooSmall { needed }),
        }
    }

    /// Decodes a header from the start of `buf`: `Complete((header, header_len))`, or
    /// `Partial` with the exact number of further bytes the header needs.
    ///
    /// Checks what a single header can break: reserved bits (section 5.2), reserved
    /// opcodes, control frames that are fragmented or longer than 125 bytes (section 5.5),
    /// a 64-bit length with its most significant bit set, and lengths not written in the
    /// fewest bytes. Masking, text frames and the order of fragments are the
    /// [`Decoder`]'s business. Each byte is checked as soon as it is present. Never panics.
    ///
    /// # Errors
    /// The [`WsError`] variant naming the rule that was broken.
    pub fn decode(buf: &[u8]) -> Result<Status<(Self, usize)>, WsError> {
        let Some(&b0) = buf.first() else {
            return Ok(Status::need(2));
        };
        if b0 & RSV_BITS != 0 {
            return Err(WsError::ReservedBits(b0 & RSV_BITS));
        }
        let Some(opcode) = Opcode::from_bits(b0 & 0x0F) else {
            return Err(WsError::ReservedOpcode(b0 & 0x0F));
        };
        let fin = b0 & FIN != 0;
        if opcode.is_control() && !fin {
            return Err(WsError::FragmentedControlFrame);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Status::need(1));
        };
        let len7 = b1 & 0x7F;
        if opcode.is_control() && len7 > MAX_CONTROL_PAYLOAD as u8 {
            // 126 and 127 announce an extended length, which is at least 126.
            return Err(WsError::ControlFrameTooLong(u64::from(len7)));
        }
        let ext_len = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let masked = b1 & MASK_BIT != 0;
        let header_len = 2 + ext_len + if masked { 4 } else { 0 };
        let ext = buf.get(2..2 + ext_len).unwrap_or(&[]);
        if ext.len() < ext_len {
            return Ok(Status::need(header_len - buf.len()));
        }
        let len = match ext_len {
            2 => {
                let len = u64::from(u16::from_be_bytes(ext.try_into().unwrap_or([0; 2])));
                if len < 126 {
                    return Err(WsError::NonMinimalLength);
                }
                len
            }
            8 => {
                let len = u64::from_be_bytes(ext.try_into().unwrap_or([0; 8]));
                if len >> 63 != 0 {
                    return Err(WsError::LengthTooLarge);
                }
                if len <= 0xFFFF {
                    return Err(WsError::NonMinimalLength);
                }
                len
            }
            _ => u64::from(len7),
        };
        let Some(head) = buf.get(..header_len) else {
            return Ok(Status::need(header_len - buf.len()));
        };
        let mask = if masked {
            head.get(header_len - 4..).and_then(|k| k.try_into().ok())
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                opcode,
                mask,
                len,
            },
            header_len,
        )))
    }
}

/// XORs `data` with the masking `key` (section 5.3), `offset` being the position of
/// `data[0]` in the frame's payload, so that a payload can be masked in pieces. Masking
/// twice with the same key and offset gives back the original bytes.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (byte, k) in data.iter_mut().zip(key.iter().cycle().skip(offset % 4)) {
        *byte ^= k;
    }
}

/// Writes a complete masked client frame (header, then `payload` masked with `key`) into
/// the start of `out` and returns its length.
///
/// # Errors
/// As [`FrameHeader::encode`]; [`WsError::BufferTooSmall`] when the whole frame does not
/// fit, with `out` untouched.
pub fn encode_client_frame(
    opcode: Opcode,
    fin: bool,
    payload: &[u8],
    key: [u8; 4],
    out: &mut [u8],
) -> Result<usize, WsError> {
    let header = FrameHeader {
        fin,
        opcode,
        mask: Some(key),
        len: payload.len() as u64,
    };
    let head_len = header.encoded_len();
    let needed = head_len + payload.len();
    if out.len() < needed {
        return Err(WsError::BufferTooSmall { needed });
    }
    header.encode(out)?;
    if let Some(dst) = out.get_mut(head_len..needed) {
        dst.copy_from_slice(payload);
        apply_mask(dst, key, 0);
    }
    Ok(needed)
}

/// What one [`Decoder::decode`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// Payload bytes of a binary message (of a frame or of its continuation frames), in
    /// order. MQTT packets may begin and end anywhere in them.
    Data(&'a [u8]),
    /// A complete ping; its payload is [`Decoder::control_payload`]. Answer with a pong
    /// carrying the same bytes.
    Ping,
    /// A complete pong (payload in [`Decoder::control_payload`]).
    Pong,
    /// A complete close frame: the server starts or answers the closing handshake. Reply
    /// with a close frame (unless this was the answer to the client's), then the stream
    /// has ended; the decoder ignores any further input.
    Close {
        /// The status code, when the frame carries one (section 7.4).
        code: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the header bytes of the next frame.
    Header,
    /// In the payload of a binary or continuation frame.
    Data { remaining: u64 },
    /// In the payload of a control frame.
    Control { opcode: Opcode, remaining: usize },
    /// A close frame was received.
    Closed,
}

/// Incremental decoder for the frames a server sends to a client.
///
/// Feed it bytes with [`decode`](Self::decode) in any pieces; it keeps partial headers and
/// control payloads itself, so every byte handed to it is consumed except after a close
/// frame, and data payload beyond the caller's `limit`.
///
/// Besides [`FrameHeader::decode`]'s checks it refuses masked frames (section 5.1), text
/// frames (MQTT over WebSocket is binary only), a continuation frame without a message to
/// continue, a new message before the last one's final fragment (section 5.4), data frames
/// longer than the configured maximum, and malformed close payloads (section 5.5.1).
#[derive(Debug, Clone)]
pub struct Decoder {
    max_frame_len: u64,
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    state: State,
    /// A binary message has started and its final fragment has not arrived.
    fragmented: bool,
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: usize,
}

impl Decoder {
    /// A decoder that accepts data frames of at most `max_frame_len` payload bytes.
    pub const fn new(max_frame_len: u64) -> Self {
        Self {
            max_frame_len,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            state: State::Header,
            fragmented: false,
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
        }
    }

    /// Consumes bytes from the start of `input` and returns how many it used, with the
    /// event they completed, if any. At most `limit` data payload bytes are consumed and
    /// returned; with `limit == 0` decoding stops in front of payload bytes, which lets a
    /// caller answer pings and close frames without taking data.
    ///
    /// `Ok((n, None))` means that `input` ran out (`n == input.len()`), that decoding
    /// stopped in front of payload because of `limit`, or that the stream is closed. Call
    /// again with the rest of the input as long as it returns an event.
    ///
    /// # Errors
    /// The [`WsError`] naming the broken rule. Every error is final: the connection must be
    /// closed (RFC 6455 calls this "Fail the WebSocket Connection").
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
        limit: usize,
    ) -> Result<(usize, Option<Event<'a>>), WsError> {
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or(&[]);
            match self.state {
                State::Closed => return Ok((used, None)),
                State::Header => {
                    // Decoded before waiting for more, so a bad byte is refused at once.
                    let have = self.head.get(..self.head_len).unwrap_or(&[]);
                    match FrameHeader::decode(have)? {
                        Status::Partial { .. } if rest.is_empty() => return Ok((used, None)),
                        Status::Partial { needed } => {
                            let take = needed.get().min(rest.len());
                            let start = self.head_len;
                            match (self.head.get_mut(start..start + take), rest.get(..take)) {
                                (Some(dst), Some(src)) => dst.copy_from_slice(src),
                                // Cannot happen: a header is at most MAX_HEADER_LEN bytes.
                                _ => return Err(WsError::LengthTooLarge),
                            }
                            self.head_len += take;
                            used += take;
                        }
                        Status::Complete((header, _)) => {
                            self.head_len = 0;
                            if let Some(event) = self.start_frame(header)? {
                                return Ok((used, Some(event)));
                            }
                        }
                    }
                }
                State::Data { remaining } => {
                    if rest.is_empty() || limit == 0 {
                        return Ok((used, None));
                    }
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len())
                        .min(limit);
                    let chunk = rest.get(..n).unwrap_or(&[]);
                    used += n;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::Header
                    } else {
                        State::Data { remaining }
                    };
                    return Ok((used, Some(Event::Data(chunk))));
                }
                State::Control { opcode, remaining } => {
                    if rest.is_empty() {
                        return Ok((used, None));
                    }
                    let take = remaining.min(rest.len());
                    let start = self.control_len;
                    match (self.control.get_mut(start..start + take), rest.get(..take)) {
                        (Some(dst), Some(src)) => dst.copy_from_slice(src),
                        // Cannot happen: the header check keeps control payloads <= 125 bytes.
                        _ => return Err(WsError::ControlFrameTooLong(remaining as u64)),
                    }
                    self.control_len += take;
                    used += take;
                    if take == remaining {
                        return Ok((used, Some(self.finish_control(opcode)?)));
                    }
                    self.state = State::Control {
                        opcode,
                        remaining: remaining - take,
                    };
                }
            }
        }
    }

    /// Applies the stream-level rules to a decoded header and enters its payload. Returns
    /// the event of a control frame with an empty payload.
    fn start_frame(&mut self, header: FrameHeader) -> Result<Option<Event<'static>>, WsError> {
        // Section 5.1: "A server MUST NOT mask any frames that it sends to the client."
        if header.mask.is_some() {
            return Err(WsError::MaskedFrame);
        }
        match header.opcode {
            Opcode::Text => return Err(WsError::TextFrame),
            Opcode::Continuation if !self.fragmented => return Err(WsError::UnexpectedContinuation),
            Opcode::Binary if self.fragmented => return Err(WsError::ExpectedContinuation),
            Opcode::Continuation | Opcode::Binary => {
                if header.len > self.max_frame_len {
                    return Err(WsError::FrameTooLarge {
                        len: header.len,
                        max: self.max_frame_len,
                    });
                }
                self.fragmented = !header.fin;
                self.state = if header.len == 0 {
                    State::Header
                } else {
                    State::Data {
                        remaining: header.len,
                    }
                };
                return Ok(None);
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {}
        }
        self.control_len = 0;
        // FrameHeader::decode has checked len <= 125.
        let remaining = usize::try_from(header.len).unwrap_or(MAX_CONTROL_PAYLOAD);
        if remaining == 0 {
            return self.finish_control(header.opcode).map(Some);
        }
        self.state = State::Control {
            opcode: header.opcode,
            remaining,
        };
        Ok(None)
    }

    /// Completes a control frame whose payload is in `self.control`.
    fn finish_control(&mut self, opcode: Opcode) -> Result<Event<'static>, WsError> {
        self.state = State::Header;
        match opcode {
            Opcode::Ping => Ok(Event::Ping),
            Opcode::Pong => Ok(Event::Pong),
            _ => {
                let payload = self.control_payload();
                let code = match payload {
                    [] => None,
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        // Section 7.4: 1004-1006 and 1015 are reserved, below 1000 unused,
                        // 5000 and up undefined.
                        if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                            return Err(WsError::InvalidCloseCode(code));
                        }
                        if core::str::from_utf8(reason).is_err() {
                            return Err(WsError::InvalidClosePayload);
                        }
                        Some(code)
                    }
                    [_] => return Err(WsError::InvalidClosePayload),
                };
                self.state = State::Closed;
                Ok(Event::Close { code })
            }
        }
    }

    /// The payload of the last complete control frame (ping, pong or close).
    pub fn control_payload(&self) -> &[u8] {
        self.control.get(..self.control_len).unwrap_or(&[])
    }

    /// Whether a close frame has been received.
    pub const fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the decoder stands between frames (no header or payload half read).
    pub const fn is_between_frames(&self) -> bool {
        matches!(self.state, State::Header | State::Closed) && self.head_len == 0
    }

    /// Whether the next input bytes are data payload.
    pub const fn at_data(&self) -> bool {
        matches!(self.state, State::Data { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// A server frame (unmasked) with `payload`.
    fn server_frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let h = FrameHeader {
            fin,
            opcode,
            mask: None,
            len: payload.len() as u64,
        };
        let mut out = std::vec![0xa5; h.encoded_len()];
        assert_eq!(h.encode(&mut out), Ok(out.len()));
        out.extend_from_slice(payload);
        out
    }

    /// Everything `input` produces, fed in the given pieces, with `limit` per call.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Seen {
        data: Vec<u8>,
        controls: Vec<(Opcode, Vec<u8>, Option<u16>)>,
    }

    fn feed(dec: &mut Decoder, pieces: &[&[u8]], limit: usize) -> Result<Seen, WsError> {
        let mut seen = Seen::default();
        for piece in pieces {
            let mut rest = *piece;
            loop {
                let (n, event) = dec.decode(rest, limit)?;
                assert!(n <= rest.len());
                rest = &rest[n..];
                match event {
                    Some(Event::Data(d)) => {
                        assert!(!d.is_empty() && d.len() <= limit);
                        seen.data.extend_from_slice(d);
                    }
                    Some(Event::Ping) => {
                        seen.controls
                            .push((Opcode::Ping, dec.control_payload().to_vec(), None))
                    }
                    Some(Event::Pong) => {
                        seen.controls
                            .push((Opcode::Pong, dec.control_payload().to_vec(), None))
                    }
                    Some(Event::Close { code }) => {
                        seen.controls
                            .push((Opcode::Close, dec.control_payload().to_vec(), code))
                    }
                    None => break,
                }
            }
            if !dec.is_closed() {
                assert!(rest.is_empty(), "unconsumed input while open");
            }
        }
        Ok(seen)
    }

    fn decode_all(input: &[u8]) -> Result<Seen, WsError> {
        feed(&mut Decoder::new(1 << 20), &[input], usize::MAX)
    }

    /// A stream with a fragmented message, control frames between fragments, a 16-bit and
    /// a 64-bit length, and a close.
    fn sample_stream() -> (Vec<u8>, Vec<u8>) {
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Vec::new();
        s.extend(server_frame(false, Opcode::Binary, b"\x10\x0c"));
        s.extend(server_frame(true, Opcode::Ping, b"are you there"));
        s.extend(server_frame(false, Opcode::Continuation, b""));
        s.extend(server_frame(
            true,
            Opcode::Continuation,
            b"\x00\x04MQTT\x04\x02\x00\x3c",
        ));
        s.extend(server_frame(true, Opcode::Pong, b""));
        s.extend(server_frame(true, Opcode::Binary, &[7u8; 300]));
        s.extend(server_frame(true, Opcode::Binary, &big));
        s.extend(server_frame(true, Opcode::Close, b"\x03\xe8bye"));
        let mut data = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c".to_vec();
        data.extend([7u8; 300]);
        data.extend(big);
        (s, data)
    }

    #[test]
    fn rfc6455_examples() {
        // Section 5.7: a masked "Hello" (a text frame, so only the header is checked here).
        let masked = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let Ok(Status::Complete((h, 6))) = FrameHeader::decode(&masked) else {
            panic!()
        };
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.len),
            (true, Opcode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5)
        );
        let mut payload = masked[6..].to_vec();
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, b"Hello");
        // A 256-byte and a 64 KiB unmasked binary frame.
        assert_eq!(
            server_frame(true, Opcode::Binary, &[0; 256])[..4],
            [0x82, 0x7e, 0x01, 0x00]
        );
        assert_eq!(
            server_frame(true, Opcode::Binary, &[0; 65536])[..10],
            [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        // An unmasked ping "Hello".
        assert_eq!(
            decode_all(&[0x89, 0x05, b'H', b'e', b'l', b'l', b'o'])
                .unwrap()
                .controls,
            [(Opcode::Ping, b"Hello".to_vec(), None)]
        );
    }

    #[test]
    fn every_strict_header_prefix_is_partial() {
        for h in [
            FrameHeader {
                fin: true,
                opcode: Opcode::Binary,
                mask: None,
                len: 5,
            },
            FrameHeader {
                fin: false,
                opcode: Opcode::Binary,
                mask: Some([1, 2, 3, 4]),
                len: 300,
            },
            FrameHeader {
                fin: true,
                opcode: Opcode::Continuation,
                mask: Some([9; 4]),
                len: 1 << 40,
            },
        ] {
            let mut buf = [0xa5; MAX_HEADER_LEN];
            let n = h.encode(&mut buf).unwrap();
            assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Status::Complete((h, n))));
            for cut in 0..n {
                let Ok(Status::Partial { needed }) = FrameHeader::decode(&buf[..cut]) else {
                    panic!("prefix {cut} of {h:?}")
                };
                // Exact once the length byte is in.
                if cut >= 2 {
                    assert_eq!(needed.get(), n - cut);
                }
            }
        }
    }

    #[test]
    fn encode_refuses_small_buffer_untouched() {
        let h = FrameHeader {
            fin: true,
            opcode: Opcode::Binary,
            mask: Some([1; 4]),
            len: 70_000,
        };
        let mut buf = [0xa5; 13];
        assert_eq!(h.encode(&mut buf), Err(WsError::BufferTooSmall { needed: 14 }));
        assert_eq!(buf, [0xa5; 13]);
        let mut out = [0xa5; 8];
        assert_eq!(
            encode_client_frame(Opcode::Binary, true, b"abc", [1; 4], &mut out),
            Err(WsError::BufferTooSmall { needed: 9 })
        );
        assert_eq!(out, [0xa5; 8]);
    }

    #[test]
    fn encode_refuses_frames_a_peer_must_reject() {
        let ping = |len, fin| FrameHeader {
            fin,
            opcode: Opcode::Ping,
            mask: None,
            len,
        };
        let mut buf = [0; MAX_HEADER_LEN];
        assert_eq!(
            ping(126, true).encode(&mut buf),
            Err(WsError::ControlFrameTooLong(126))
        );
        assert_eq!(
            ping(3, false).encode(&mut buf),
            Err(WsError::FragmentedControlFrame)
        );
        let huge = FrameHeader {
            fin: true,
            opcode: Opcode::Binary,
            mask: None,
            len: 1 << 63,
        };
        assert_eq!(huge.encode(&mut buf), Err(WsError::LengthTooLarge));
    }

    #[test]
    fn sample_stream_whole() {
        let (stream, data) = sample_stream();
        let seen = decode_all(&stream).unwrap();
        assert_eq!(seen.data, data);
        assert_eq!(
            seen.controls,
            [
                (Opcode::Ping, b"are you there".to_vec(), None),
                (Opcode::Pong, Vec::new(), None),
                (Opcode::Close, b"\x03\xe8bye".to_vec(), Some(1000)),
            ]
        );
    }

    #[test]
    fn frames_split_at_every_byte_position() {
        let (stream, _) = sample_stream();
        let whole = decode_all(&stream).unwrap();
        // The interesting positions are in the headers and control frames at the start and
        // the end; the 70,000-byte payload in the middle is cut at a few places only.
        let positions = (0..400)
            .chain((400..stream.len() - 400).step_by(997))
            .chain(stream.len() - 400..=stream.len());
        for cut in positions {
            let (a, b) = stream.split_at(cut);
            let seen = feed(&mut Decoder::new(1 << 20), &[a, b], usize::MAX).unwrap();
            assert_eq!(seen, whole, "cut at {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time_with_small_limit() {
        let (stream, _) = sample_stream();
        let whole = decode_all(&stream).unwrap();
        let pieces: Vec<&[u8]> = stream[..1000].chunks(1).chain([&stream[1000..]]).collect();
        assert_eq!(feed(&mut Decoder::new(1 << 20), &pieces, 7).unwrap(), whole);
    }

    #[test]
    fn limit_zero_stops_in_front_of_data_but_answers_controls() {
        let mut s = server_frame(true, Opcode::Ping, b"p");
        s.extend(server_frame(true, Opcode::Binary, b"xyz"));
        let mut dec = Decoder::new(100);
        assert_eq!(dec.decode(&s, 0), Ok((3, Some(Event::Ping))));
        assert_eq!(dec.decode(&s[3..], 0), Ok((2, None)));
        assert!(dec.at_data());
        assert_eq!(dec.decode(&s[5..], 0), Ok((0, None)));
        assert_eq!(dec.decode(&s[5..], 10), Ok((3, Some(Event::Data(b"xyz")))));
        assert!(dec.is_between_frames());
    }

    #[test]
    fn input_after_close_is_not_consumed() {
        let mut s = server_frame(true, Opcode::Close, b"");
        s.extend(server_frame(true, Opcode::Binary, b"late"));
        let mut dec = Decoder::new(100);
        assert_eq!(dec.decode(&s, 100), Ok((2, Some(Event::Close { code: None }))));
        assert!(dec.is_closed());
        assert_eq!(dec.decode(&s[2..], 100), Ok((0, None)));
    }

    fn first_error(input: &[u8]) -> WsError {
        feed(&mut Decoder::new(1000), &[input], usize::MAX).unwrap_err()
    }

    #[test]
    fn each_error() {
        assert_eq!(first_error(&[0xc2, 0x00]), WsError::ReservedBits(0x40));
        assert_eq!(first_error(&[0x92, 0x00]), WsError::ReservedBits(0x10));
        assert_eq!(first_error(&[0x83, 0x00]), WsError::ReservedOpcode(0x3));
        assert_eq!(first_error(&[0x8b]), WsError::ReservedOpcode(0xb));
        assert_eq!(first_error(&[0x82, 0x81, 1, 2, 3, 4, 5]), WsError::MaskedFrame);
        assert_eq!(
            first_error(&server_frame(true, Opcode::Text, b"hi")),
            WsError::TextFrame
        );
        assert_eq!(
            first_error(&[0x89, 126, 0, 126]),
            WsError::ControlFrameTooLong(126)
        );
        assert_eq!(first_error(&[0x8a, 127]), WsError::ControlFrameTooLong(127));
        assert_eq!(first_error(&[0x09, 0x00]), WsError::FragmentedControlFrame);
        assert_eq!(
            first_error(&[0x82, 126, 0x03, 0xe9]),
            WsError::FrameTooLarge { len: 1001, max: 1000 }
        );
        assert_eq!(
            first_error(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            WsError::LengthTooLarge
        );
        assert_eq!(first_error(&[0x82, 126, 0, 125]), WsError::NonMinimalLength);
        assert_eq!(
            first_error(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            WsError::NonMinimalLength
        );
        assert_eq!(
            first_error(&server_frame(true, Opcode::Continuation, b"x")),
            WsError::UnexpectedContinuation
        );
        let mut s = server_frame(false, Opcode::Binary, b"a");
        s.extend(server_frame(true, Opcode::Binary, b"b"));
        assert_eq!(first_error(&s), WsError::ExpectedContinuation);
        assert_eq!(
            first_error(&server_frame(true, Opcode::Close, b"\x03")),
            WsError::InvalidClosePayload
        );
        assert_eq!(
            first_error(&server_frame(true, Opcode::Close, b"\x03\xe8\xff")),
            WsError::InvalidClosePayload
        );
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            let frame = server_frame(true, Opcode::Close, &code.to_be_bytes());
            assert_eq!(first_error(&frame), WsError::InvalidCloseCode(code));
        }
        // Every error reads as a sentence.
        assert!(std::format!("{}", WsError::MaskedFrame).starts_with("the server sent a masked frame"));
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let data: Vec<u8> = (0..=255).collect();
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut once = data.clone();
        apply_mask(&mut once, key, 0);
        let mut pieces = data.clone();
        let mut offset = 0;
        for len in [1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41] {
            apply_mask(&mut pieces[offset..offset + len], key, offset);
            offset += len;
        }
        apply_mask(&mut pieces[offset..], key, offset);
        assert_eq!(once, pieces);
        apply_mask(&mut once, key, 0);
        assert_eq!(once, data);
    }

    fn payload_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..130),
            proptest::collection::vec(any::<u8>(), 120..70_000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A client frame decodes to the header it was built from and unmasks to its payload;
        /// the same payload sent unmasked, as a server would, comes out of the decoder in any
        /// split.
        #[test]
        fn client_frame_round_trip(
            payload in payload_strategy(),
            key in any::<[u8; 4]>(),
            fin in any::<bool>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut buf = std::vec![0xa5; payload.len() + MAX_HEADER_LEN];
            let n = encode_client_frame(Opcode::Binary, fin, &payload, key, &mut buf).unwrap();
            let Ok(Status::Complete((h, head))) = FrameHeader::decode(&buf[..n]) else { panic!() };
            prop_assert_eq!(h, FrameHeader { fin, opcode: Opcode::Binary, mask: Some(key), len: payload.len() as u64 });
            let mut body = buf[head..n].to_vec();
            apply_mask(&mut body, key, 0);
            prop_assert_eq!(&body, &payload);

            // As the server would send it: the same frame unmasked, final.
            let frame = server_frame(true, Opcode::Binary, &payload);
            let at = cut.index(frame.len() + 1);
            let (a, b) = frame.split_at(at);
            let seen = feed(&mut Decoder::new(1 << 20), &[a, b], usize::MAX).unwrap();
            prop_assert_eq!(seen.data, payload);
            prop_assert!(seen.controls.is_empty());
        }

        /// Arbitrary bytes never make the decoder panic, and it never claims more input than
        /// it was given.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300), limit in 0usize..64) {
            let mut dec = Decoder::new(200);
            let mut rest = &input[..];
            while let Ok((n, event)) = dec.decode(rest, limit) {
                prop_assert!(n <= rest.len());
                rest = &rest[n..];
                if event.is_none() {
                    break;
                }
            }
        }
    }
}
