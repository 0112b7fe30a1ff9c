//! Invariant checks shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the stable corpus
//! replay (`tests/fuzz_corpus.rs`, which pulls this file in with `#[path]`).
//!
//! Only `std`, `umqtt` and `embedded_io` are used, so the file compiles in both crates. Every
//! check panics through `assert!` when an invariant is broken: that is how libFuzzer and
//! `cargo test` notice. None of them panics for input that is merely malformed; the codec must
//! reject that with a `DecodeError`.

use std::convert::Infallible;

use umqtt::_internal::{MAX_REMAINING_LEN, decode_remaining_len, remaining_len_size};
use umqtt::{
    DecodeError, EncodeError, EncodeToError, FixedHeader, Packet, PacketType, ReadPacketError, Status,
    TopicFilter, TopicName, decode, decode_body, peek_fixed_header, read_packet,
};

/// Filler for output buffers, so a byte the encoder wrote (or forgot to write) shows up.
pub const POISON: u8 = 0xa5;

/// Whether `buf` still holds only [`POISON`] (compared in blocks, which is much cheaper than a
/// byte loop under coverage instrumentation).
pub fn untouched(buf: &[u8]) -> bool {
    const BLOCK: [u8; 64] = [POISON; 64];
    buf.chunks(BLOCK.len()).all(|c| c == &BLOCK[..c.len()])
}

/// What `decode` made of an input, after every invariant was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A whole packet of this type, `consumed` bytes long.
    Complete {
        /// Type of the decoded packet.
        packet_type: PacketType,
        /// Bytes consumed: fixed header plus Remaining Length.
        consumed: usize,
    },
    /// Not enough bytes yet.
    Partial {
        /// `needed` as reported by `decode`.
        needed: usize,
    },
    /// The bytes can never form a packet.
    Error(DecodeError),
}

/// Errors that only the fixed header (byte 0 and the Remaining Length) can produce.
fn is_header_error(e: DecodeError) -> bool {
    matches!(
        e,
        DecodeError::ReservedPacketType(_)
            | DecodeError::InvalidFlags { .. }
            | DecodeError::InvalidQos
            | DecodeError::DupWithQos0
            | DecodeError::MalformedRemainingLength
    )
}

/// Decodes `data` as a whole buffer and checks the decode contract of `umqtt::packet`:
///
/// * `decode` agrees with `peek_fixed_header` (same error, same `Partial`, same frame length);
/// * on `Complete((p, n))`: `n == header_len + remaining_len <= data.len()`, bytes after the
///   frame make no difference, `decode_body` gives the same answer, and `p` re-encodes to the
///   same body (to the same bytes when the Remaining Length was minimal) and decodes back to `p`;
/// * on `Partial { needed }`: `needed` is exact once the fixed header is present;
/// * every strict prefix of a frame is `Partial`, with a `needed` that never overshoots the frame;
/// * a body-level `DecodeError` never names a fixed-header rule, and vice versa.
pub fn check_decode(data: &[u8]) -> Outcome {
    let result = decode(data);
    check_from_server(data, &result);
    match peek_fixed_header(data) {
        Err(e) => {
            assert_eq!(result, Err(e), "decode disagrees with peek_fixed_header");
            assert!(
                is_header_error(e),
                "peek_fixed_header returned a body error {e:?}"
            );
            check_header_error_prefixes(data, e);
            Outcome::Error(e)
        }
        Ok(Status::Partial { needed }) => {
            assert_eq!(
                result,
                Ok(Status::Partial { needed }),
                "decode disagrees with peek_fixed_header"
            );
            // Byte 0 plus at most three Remaining Length bytes with the continuation bit.
            assert!(
                data.len() < 5,
                "fixed header still partial after {} bytes",
                data.len()
            );
            if let Some((_, len_bytes)) = data.split_first() {
                assert!(
                    len_bytes.iter().all(|b| b & 0x80 != 0),
                    "partial header with a final length byte"
                );
            }
            Outcome::Partial { needed: needed.get() }
        }
        Ok(Status::Complete(header)) => check_framed(data, &header, result),
    }
}

/// `decode_from_server` says what `decode` says, except that a complete packet of a type only
/// a client sends is `UnexpectedPacketType`, whether or not its body is valid.
fn check_from_server(data: &[u8], result: &Result<Status<(umqtt::Packet<'_>, usize)>, DecodeError>) {
    let want = match (peek_fixed_header(data), result) {
        (Ok(Status::Complete(h)), Ok(Status::Complete(_)) | Err(_))
            if matches!(
                h.packet_type,
                PacketType::Connect
                    | PacketType::Subscribe
                    | PacketType::Unsubscribe
                    | PacketType::PingReq
                    | PacketType::Disconnect
            ) =>
        {
            Err(DecodeError::UnexpectedPacketType(h.packet_type))
        }
        _ => *result,
    };
    assert_eq!(
        umqtt::decode_from_server(data),
        want,
        "decode_from_server disagrees with decode"
    );
}

/// A bad fixed header is reported as soon as the offending byte is present, and never earlier.
fn check_header_error_prefixes(data: &[u8], e: DecodeError) {
    let byte0_error = !matches!(e, DecodeError::MalformedRemainingLength);
    // A byte-0 error needs 1 byte to be seen; a 5-byte Remaining Length needs 5.
    let seen_at = if byte0_error { 1 } else { 5 };
    assert!(
        data.len() >= seen_at,
        "{e:?} reported after only {} bytes",
        data.len()
    );
    for k in 0..seen_at {
        assert!(
            matches!(decode(&data[..k]), Ok(Status::Partial { .. })),
            "prefix of {k} bytes should be Partial before {e:?} can be seen"
        );
    }
    assert_eq!(
        decode(&data[..seen_at]),
        Err(e),
        "error not reported as soon as it is visible"
    );
}

fn check_framed(
    data: &[u8],
    header: &FixedHeader,
    result: Result<Status<(Packet<'_>, usize)>, DecodeError>,
) -> Outcome {
    let hl = header.header_len;
    let rem = header.remaining_len;
    assert!((2..=5).contains(&hl), "header_len {hl}");
    assert!(
        hl <= data.len(),
        "header_len {hl} beyond the {} input bytes",
        data.len()
    );
    assert!(rem <= MAX_REMAINING_LEN, "remaining_len {rem} above the maximum");
    assert_eq!(data[0] >> 4, header.packet_type as u8, "packet type nibble");
    assert_eq!(data[0] & 0x0f, header.flags, "flag nibble");
    assert_eq!(
        decode_remaining_len(&data[1..]),
        Ok(Status::Complete((rem, hl - 1))),
        "peek_fixed_header disagrees with the Remaining Length decoder"
    );
    let total = hl.checked_add(rem).expect("frame length overflows usize");
    assert_eq!(header.packet_len(), total, "FixedHeader::packet_len");

    check_frame_prefixes(data, hl, total);

    if data.len() < total {
        let needed = total - data.len();
        assert_eq!(
            result.map(|s| s.map(|_| ())),
            Ok(Status::Partial {
                needed: needed.try_into().expect("needed > 0")
            }),
            "incomplete frame: needed must be exact once the fixed header is in"
        );
        return Outcome::Partial { needed };
    }

    let frame = &data[..total];
    let body = &data[hl..total];
    // Bytes after the frame (the next packet) make no difference.
    assert_eq!(
        decode(frame),
        result,
        "trailing bytes after the frame changed the result"
    );
    // The two-phase API gives the same answer, and checks the body length it is handed.
    let from_body = decode_body(header, body);
    assert_eq!(
        from_body.map(|p| (p, total)),
        result.map(|s| s.complete().expect("complete"))
    );
    if data.len() > total {
        assert_eq!(
            decode_body(header, &data[hl..=total]),
            Err(DecodeError::TrailingBytes)
        );
    }
    if rem > 0 {
        assert_eq!(
            decode_body(header, &data[hl..total - 1]),
            Err(DecodeError::UnexpectedEnd)
        );
    }

    match result {
        Ok(Status::Complete((packet, consumed))) => {
            assert_eq!(consumed, total, "consumed != header_len + remaining_len");
            assert!(consumed <= data.len());
            assert_eq!(
                packet.packet_type(),
                header.packet_type,
                "decoded packet has another type"
            );
            check_packet_fields(&packet);
            check_reencode(frame, header, &packet);
            Outcome::Complete {
                packet_type: packet.packet_type(),
                consumed,
            }
        }
        Err(e) => {
            assert!(!is_header_error(e), "body produced fixed-header error {e:?}");
            Outcome::Error(e)
        }
        Ok(Status::Partial { needed }) => panic!("Partial {{ needed: {needed} }} for a whole frame"),
    }
}

/// Every strict prefix of a frame is `Partial`; `needed` is exact once the header is in and a
/// lower bound (never overshooting the frame) before. Prefixes inside the header are all
/// checked; past it every prefix takes the same path, so long bodies are sampled.
fn check_frame_prefixes(data: &[u8], header_len: usize, total: usize) {
    let end = data.len().min(total);
    let sampled = (0..end).filter(|&k| k <= header_len + 64 || k + 64 >= end || k % 61 == 0);
    for k in sampled {
        let needed = match decode(&data[..k]) {
            Ok(Status::Partial { needed }) => needed.get(),
            other => panic!("prefix of {k} bytes of a {total}-byte frame gave {other:?}"),
        };
        if k >= header_len {
            assert_eq!(needed, total - k, "prefix of {k} bytes: needed not exact");
        } else {
            assert!(
                k + needed <= total,
                "prefix of {k} bytes: needed {needed} overshoots {total}"
            );
        }
    }
}

/// Field-level invariants the types are meant to guarantee for decoded packets.
fn check_packet_fields(packet: &Packet<'_>) {
    match packet {
        Packet::Connect(c) => {
            assert!(!c.client_id.contains('\0'));
            assert!(
                c.password.is_none() || c.username.is_some(),
                "password without user name"
            );
            assert!(c.username.is_none_or(|u| !u.contains('\0')));
            if let Some(w) = &c.will {
                assert!(
                    TopicName::new(w.topic.as_str()).is_ok(),
                    "invalid will topic {:?}",
                    w.topic
                );
            }
        }
        Packet::ConnAck(c) => {
            assert!(!c.session_present || c.code == umqtt::ConnectReturnCode::Accepted);
        }
        Packet::Publish(p) => {
            assert!(
                TopicName::new(p.topic.as_str()).is_ok(),
                "invalid topic {:?}",
                p.topic
            );
            assert!(!(p.dup && p.qos() == umqtt::QoS::AtMostOnce), "DUP at QoS 0");
        }
        Packet::Subscribe(s) => {
            assert!(!s.topics.is_empty());
            assert_eq!(s.topics.iter().count(), s.topics.len());
            for sub in s.topics {
                assert!(
                    TopicFilter::new(sub.filter.as_str()).is_ok(),
                    "invalid filter {:?}",
                    sub.filter
                );
            }
        }
        Packet::Unsubscribe(u) => {
            assert!(!u.topics.is_empty());
            assert_eq!(u.topics.iter().count(), u.topics.len());
            for f in u.topics {
                assert!(TopicFilter::new(f.as_str()).is_ok(), "invalid filter {f:?}");
            }
        }
        Packet::SubAck(s) => {
            assert!(!s.codes.is_empty());
            assert_eq!(s.codes.iter().count(), s.codes.len());
        }
        _ => {}
    }
}

/// A CONNECT with an empty client id and Clean Session 0 is well formed (the server must answer
/// it with return code 0x02, [MQTT-3.1.3-8]) but a client must never send it ([MQTT-3.1.3-7]),
/// so the encoder refuses it. That is the one packet the decoder accepts and the encoder refuses.
fn encoder_may_refuse(packet: &Packet<'_>, e: EncodeError) -> bool {
    matches!(
        (packet, e),
        (Packet::Connect(c), EncodeError::EmptyClientIdWithoutCleanSession)
            if c.client_id.is_empty() && !c.clean_session
    )
}

/// Re-encodes a decoded packet: same byte 0, same body, minimal Remaining Length; decodes back
/// to the same packet; `encode_to` writes the same bytes; short buffers are left untouched.
fn check_reencode(frame: &[u8], header: &FixedHeader, packet: &Packet<'_>) {
    let rem = header.remaining_len;
    let len = packet.encoded_len();
    assert_eq!(
        len,
        1 + remaining_len_size(rem) + rem,
        "encoded_len of a decoded packet"
    );
    let mut buf = vec![POISON; len];
    match packet.encode(&mut buf) {
        Ok(written) => {
            assert_eq!(written, len, "encode wrote a length other than encoded_len");
            assert_eq!(buf[0], frame[0], "re-encoded byte 0 differs");
            assert_eq!(
                &buf[len - rem..],
                &frame[header.header_len..],
                "re-encoded body differs"
            );
            if header.header_len == 1 + remaining_len_size(rem) {
                assert_eq!(&buf[..], frame, "minimal input did not re-encode byte for byte");
            }
            assert_eq!(
                decode(&buf),
                Ok(Status::Complete((*packet, len))),
                "re-encoding decodes differently"
            );
            check_encode_to(packet, Ok(&buf));
            check_short_buffers(packet, len, EncodeError::BufferTooSmall { needed: len });
        }
        Err(e) => {
            assert!(
                encoder_may_refuse(packet, e),
                "encoder refused decoded packet {packet:?}: {e:?}"
            );
            assert!(untouched(&buf), "refused encode wrote to the buffer");
            check_encode_to(packet, Err(e));
        }
    }
}

/// `encode_to` agrees with `encode`: same bytes, or the same refusal with nothing written. So
/// does `encode_from_client` for a packet a client sends; it refuses the others untouched.
fn check_encode_to(packet: &Packet<'_>, expected: Result<&[u8], EncodeError>) {
    check_encode_from_client(packet, expected);
    let mut out: Vec<u8> = Vec::new();
    let got = packet.encode_to(&mut out);
    match expected {
        Ok(bytes) => {
            assert_eq!(got, Ok(bytes.len()), "encode_to length");
            assert_eq!(out, bytes, "encode_to bytes differ from encode");
        }
        Err(e) => {
            assert_eq!(
                got,
                Err(EncodeToError::<Infallible>::Encode(e)),
                "encode_to error"
            );
            assert!(out.is_empty(), "refused encode_to wrote {} bytes", out.len());
        }
    }
}

/// `encode_from_client` gives `expected` (what `encode` gave) for a packet a client sends, and
/// `ServerOnlyPacket` for the others; a refusal writes nothing.
fn check_encode_from_client(packet: &Packet<'_>, expected: Result<&[u8], EncodeError>) {
    let expected = if packet.packet_type().sent_by_client() {
        expected
    } else {
        Err(EncodeError::ServerOnlyPacket)
    };
    let size = expected.map_or(packet.encoded_len().saturating_add(1).min(1 << 20), <[u8]>::len);
    let mut buf = vec![POISON; size];
    match (umqtt::encode_from_client(packet, &mut buf), expected) {
        (Ok(n), Ok(bytes)) => assert_eq!(
            (n, &buf[..]),
            (bytes.len(), bytes),
            "encode_from_client differs from encode"
        ),
        (got, want) => {
            assert_eq!(got, want.map(<[u8]>::len), "encode_from_client result");
            assert!(untouched(&buf), "refused encode_from_client wrote to the buffer");
        }
    }
}

/// Buffers shorter than `len` get `expected` (the first failing check) and stay untouched.
fn check_short_buffers(packet: &Packet<'_>, len: usize, expected: EncodeError) {
    let mut sizes = [0, 1, len / 2, len.saturating_sub(1)];
    sizes.sort_unstable();
    let mut last = None;
    for size in sizes {
        if size >= len || last == Some(size) {
            continue;
        }
        last = Some(size);
        let mut buf = vec![POISON; size];
        assert_eq!(
            packet.encode(&mut buf),
            Err(expected),
            "{size}-byte buffer for {len} bytes"
        );
        assert_eq!(
            umqtt::encode(packet, &mut buf),
            Err(expected),
            "free fn, {size}-byte buffer"
        );
        if packet.packet_type().sent_by_client() {
            assert_eq!(
                umqtt::encode_from_client(packet, &mut buf),
                Err(expected),
                "encode_from_client, {size}-byte buffer"
            );
        }
        assert!(untouched(&buf), "encode wrote into a {size}-byte buffer");
    }
}

/// Round trip of a packet built by the caller: `encode` into an exact-size buffer gives
/// `encoded_len` bytes that decode to the same packet (with every `check_decode` invariant,
/// also with a following packet in the buffer); `encode_to` writes the same bytes; shorter
/// buffers give `BufferTooSmall { needed }` untouched. Returns the encoding.
pub fn check_roundtrip(packet: &Packet<'_>) -> Vec<u8> {
    let len = packet.encoded_len();
    let mut buf = vec![POISON; len];
    assert_eq!(
        packet.encode(&mut buf),
        Ok(len),
        "encode into an exact-size buffer"
    );
    assert_eq!(
        decode(&buf),
        Ok(Status::Complete((*packet, len))),
        "decode(encode(p)) != p"
    );
    assert_eq!(
        check_decode(&buf),
        Outcome::Complete {
            packet_type: packet.packet_type(),
            consumed: len
        }
    );
    check_encode_to(packet, Ok(&buf));
    check_short_buffers(packet, len, EncodeError::BufferTooSmall { needed: len });

    // A larger buffer: the same bytes, and nothing written past them.
    let mut big = vec![POISON; len + 3];
    assert_eq!(packet.encode(&mut big), Ok(len));
    assert_eq!(&big[..len], &buf[..]);
    assert!(untouched(&big[len..]), "encode wrote past encoded_len");
    // Followed by a PINGRESP: the packet still decodes alone, and the next one follows.
    big[len..].copy_from_slice(&[0xd0, 0x00, POISON]);
    assert_eq!(decode(&big), Ok(Status::Complete((*packet, len))));
    assert_eq!(decode(&big[len..]), Ok(Status::Complete((Packet::PingResp, 2))));
    buf
}

/// A packet the encoder must refuse: the error is one of `allowed` (the spec rules the packet
/// breaks), for any buffer size (rules are checked before the size), with nothing written.
pub fn check_refused(packet: &Packet<'_>, allowed: &[EncodeError]) {
    let len = packet.encoded_len();
    for size in [0, len / 2, len, len + 8] {
        let mut buf = vec![POISON; size];
        match packet.encode(&mut buf) {
            Err(e) if allowed.contains(&e) => {}
            other => panic!("expected one of {allowed:?} for {packet:?} ({size}-byte buffer), got {other:?}"),
        }
        assert!(untouched(&buf), "refused encode wrote to the buffer");
    }
    let mut out: Vec<u8> = Vec::new();
    match packet.encode_to(&mut out) {
        Err(EncodeToError::Encode(e)) if allowed.contains(&e) => {}
        other => panic!("expected one of {allowed:?} from encode_to, got {other:?}"),
    }
    assert!(out.is_empty(), "refused encode_to wrote {} bytes", out.len());
}

/// An `embedded_io::Read` that hands out the input in short, pseudo-random chunks (never 0
/// bytes before the end), the way a TCP socket may.
pub struct ShortReads<'a> {
    data: &'a [u8],
    pos: usize,
    state: u32,
    max_chunk: usize,
}

impl<'a> ShortReads<'a> {
    /// Chunk sizes are drawn from `seed`: bits 0-1 pick the largest chunk (1, 2, 7 or 64
    /// bytes), the whole byte seeds the generator.
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        Self {
            data,
            pos: 0,
            state: u32::from(seed).wrapping_mul(0x9e37_79b9) | 1,
            max_chunk: [1, 2, 7, 64][usize::from(seed & 3)],
        }
    }

    /// Bytes handed out so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn next_chunk(&mut self) -> usize {
        // Numerical Recipes LCG; the high bits are the usable ones.
        self.state = self.state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        1 + (self.state >> 16) as usize % self.max_chunk
    }
}

impl embedded_io::ErrorType for ShortReads<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for ShortReads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.len()).min(self.next_chunk());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// The chunking seed the decode target uses: the first byte, mixed with the last one because
/// byte 0 of a useful input is almost always one of a few valid type/flag bytes.
pub fn fragment_seed(data: &[u8]) -> u8 {
    let first = data.first().copied().unwrap_or(0);
    let last = data.last().copied().unwrap_or(0);
    first ^ last.rotate_left(4)
}

/// Feeds `data` in short reads through `umqtt::read_packet`, packet after packet, and checks
/// that each result matches decoding the same bytes as a whole buffer: the same packet, or the
/// same error, or end of stream exactly when `decode` says `Partial`; and that `read_packet`
/// consumed exactly one frame. `rx_len` is the receive buffer size (small values exercise
/// `TooLarge`, which must skip the frame and keep the stream aligned).
pub fn check_fragmented(data: &[u8], seed: u8, rx_len: usize) {
    let mut reader = ShortReads::new(data, seed);
    let mut rx = vec![0u8; rx_len];
    let mut offset = 0;
    loop {
        let rest = &data[offset..];
        let header = peek_fixed_header(rest);
        let whole = decode(rest);
        let got = read_packet(&mut reader, &mut rx);
        let consumed = reader.position() - offset;
        match (whole, header) {
            (Ok(Status::Complete((packet, n))), Ok(Status::Complete(h))) => {
                if h.remaining_len > rx_len {
                    let expected = ReadPacketError::TooLarge {
                        packet_type: h.packet_type,
                        len: n,
                    };
                    assert_eq!(got, Err(expected), "at offset {offset}");
                } else {
                    assert_eq!(got, Ok(packet), "at offset {offset}");
                }
                assert_eq!(
                    consumed, n,
                    "read_packet consumed {consumed} bytes of a {n}-byte frame"
                );
                offset += n;
            }
            (Ok(Status::Partial { .. }), _) => {
                // The stream ends inside (or before) a packet.
                let expected = ReadPacketError::Eof {
                    mid_packet: !rest.is_empty(),
                };
                assert_eq!(
                    got,
                    Err(expected),
                    "at offset {offset}, {} bytes left",
                    rest.len()
                );
                assert_eq!(consumed, rest.len());
                return;
            }
            (Err(e), Err(_)) => {
                // A bad fixed header: reported once visible, after at most 5 bytes.
                assert_eq!(got, Err(ReadPacketError::Decode(e)), "at offset {offset}");
                assert!(consumed <= 5, "read {consumed} bytes for a bad fixed header");
                return;
            }
            (Err(e), Ok(Status::Complete(h))) => {
                // A bad body: read whole (or skipped when too large), then reported.
                let expected = if h.remaining_len > rx_len {
                    ReadPacketError::TooLarge {
                        packet_type: h.packet_type,
                        len: h.packet_len(),
                    }
                } else {
                    ReadPacketError::Decode(e)
                };
                assert_eq!(got, Err(expected), "at offset {offset}");
                assert_eq!(consumed, h.packet_len());
                return;
            }
            (whole, header) => panic!("decode {whole:?} and peek_fixed_header {header:?} disagree"),
        }
    }
}
