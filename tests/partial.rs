//! Incomplete input is a status, not an error (style guide 8.3).
//!
//! Every strict prefix of every vector in `tests/data/vectors_table.rs` must decode to
//! `Ok(Status::Partial { needed })`, where `needed` is exact (`len - k`) once the fixed header
//! is complete and a lower bound in `1..=len - k` before that. A bad byte 0 is reported from
//! the one-byte prefix rather than as `Partial`. The `read_packet` entry point is checked over
//! fragmented readers and truncated streams.

#[path = "data/vectors_table.rs"]
mod table;

use std::convert::Infallible;

use umqtt::{
    DecodeError, Delivery, FixedHeader, Packet, PacketType, Publish, ReadPacketError, Status, decode,
    peek_fixed_header, read_packet,
};

use table::{Vector, header_len, hex, pid, topic, vectors};

/// Checks every strict prefix of `v` (see the module docs) and the complete packet.
fn check_prefixes(v: &Vector<'_>) {
    let bytes = &v.bytes[..];
    let len = bytes.len();
    let hlen = header_len(bytes);
    let name = v.name;
    for k in 0..len {
        let prefix = &bytes[..k];
        let shown = || format!("{name}: prefix of {k}/{len} bytes [{}]", hex(prefix));
        let needed = match decode(prefix) {
            Ok(Status::Partial { needed }) => needed.get(),
            other => panic!("{}: expected Partial, got {other:?}", shown()),
        };
        if k >= hlen {
            assert_eq!(
                needed,
                len - k,
                "{}: needed must be exact once the fixed header is in",
                shown()
            );
        } else {
            assert!(
                (1..=len - k).contains(&needed),
                "{}: needed {needed} must be a lower bound in 1..={}",
                shown(),
                len - k
            );
        }
        // The framing-only entry point agrees.
        match peek_fixed_header(prefix) {
            Ok(Status::Partial { needed }) if k < hlen => {
                assert!(
                    (1..=hlen - k).contains(&needed.get()),
                    "{}: peek needed {needed}",
                    shown()
                );
            }
            Ok(Status::Complete(FixedHeader {
                packet_type,
                header_len,
                remaining_len,
                ..
            })) if k >= hlen => {
                assert_eq!(
                    (packet_type, header_len, remaining_len),
                    (v.packet.packet_type(), hlen, len - hlen),
                    "{}: peek_fixed_header",
                    shown()
                );
            }
            other => panic!("{}: peek_fixed_header gave {other:?}", shown()),
        }
    }
    assert_eq!(
        decode(bytes),
        Ok(Status::Complete((v.packet, len))),
        "{name}: whole packet"
    );
}

#[test]
fn every_strict_prefix_of_every_vector_is_partial() {
    let all = vectors();
    assert!(all.len() >= 40, "the shared table has {} vectors", all.len());
    for v in &all {
        check_prefixes(v);
    }
}

#[test]
fn every_strict_prefix_of_a_4_byte_remaining_length_packet_is_partial() {
    // PUBLISH QoS 0, topic "t", Remaining Length 2,097,152 = 80 80 80 01 (smallest 4-byte value).
    let payload = vec![0x5au8; 2_097_152 - 3];
    let mut bytes = vec![0x30, 0x80, 0x80, 0x80, 0x01, 0x00, 0x01, b't'];
    bytes.extend_from_slice(&payload);
    let v = Vector {
        name: "publish_remaining_length_2097152",
        bytes,
        packet: Packet::Publish(Publish::new(topic("t"), &payload, Delivery::AtMostOnce, false)),
    };
    assert_eq!(header_len(&v.bytes), 5);
    check_prefixes(&v);
}

#[test]
fn feeding_exactly_the_needed_bytes_completes_without_overshoot() {
    // A reader that always reads exactly `needed` more bytes reaches Complete, never reads past
    // the packet, and needs at most one call per fixed-header byte plus one for the body.
    for v in vectors() {
        let (bytes, len) = (&v.bytes[..], v.bytes.len());
        let mut have = 0;
        let mut calls = 0;
        loop {
            calls += 1;
            match decode(&bytes[..have]) {
                Ok(Status::Complete((p, used))) => {
                    assert_eq!((p, used), (v.packet, len), "{}", v.name);
                    break;
                }
                Ok(Status::Partial { needed }) => {
                    have += needed.get();
                    assert!(
                        have <= len,
                        "{}: needed overshoots the packet at {have}/{len}",
                        v.name
                    );
                }
                Err(e) => panic!("{}: {e:?} at {have} bytes", v.name),
            }
        }
        assert!(calls <= header_len(bytes) + 1, "{}: {calls} decode calls", v.name);
    }
}

/// What byte 0 alone must give, from the tables of 2.2.1 / 2.2.2 and [MQTT-3.3.1-2/4].
fn first_byte_verdict(b: u8) -> Result<(), DecodeError> {
    let (t, flags) = (b >> 4, b & 0x0f);
    let Some(packet_type) = PacketType::from_u8(t) else {
        return Err(DecodeError::ReservedPacketType(t));
    };
    match t {
        3 => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                Err(DecodeError::InvalidQos)
            } else if qos == 0 && flags & 0b1000 != 0 {
                Err(DecodeError::DupWithQos0)
            } else {
                Ok(())
            }
        }
        6 | 8 | 10 if flags == 0b0010 => Ok(()),
        1 | 2 | 4 | 5 | 7 | 9 | 11..=14 if flags == 0 => Ok(()),
        _ => Err(DecodeError::InvalidFlags { packet_type, flags }),
    }
}

#[test]
fn bad_first_byte_is_reported_from_a_one_byte_prefix() {
    assert_eq!(decode(&[0x00]), Err(DecodeError::ReservedPacketType(0)));
    assert_eq!(decode(&[0xf0]), Err(DecodeError::ReservedPacketType(15)));
    assert_eq!(decode(&[0x36]), Err(DecodeError::InvalidQos));
    assert_eq!(decode(&[0x38]), Err(DecodeError::DupWithQos0));
    assert_eq!(
        decode(&[0x60]),
        Err(DecodeError::InvalidFlags {
            packet_type: PacketType::PubRel,
            flags: 0
        })
    );
    let mut valid = 0;
    for b in 0..=255u8 {
        match first_byte_verdict(b) {
            Err(e) => {
                assert_eq!(decode(&[b]), Err(e), "byte 0 = {b:#04x}");
                assert_eq!(peek_fixed_header(&[b]), Err(e), "peek, byte 0 = {b:#04x}");
                // The error does not depend on what follows.
                assert_eq!(decode(&[b, 0x00]), Err(e), "[{b:02x} 00]");
                assert_eq!(decode(&[b, 0xff, 0xff]), Err(e), "[{b:02x} ff ff]");
            }
            Ok(()) => {
                valid += 1;
                assert!(
                    matches!(decode(&[b]), Ok(Status::Partial { .. })),
                    "byte 0 = {b:#04x} is valid and must give Partial, got {:?}",
                    decode(&[b])
                );
            }
        }
    }
    // 13 fixed first bytes + 16 PUBLISH nibbles - 4 (QoS 3) - 2 (DUP at QoS 0).
    assert_eq!(valid, 13 + 10);
}

#[test]
fn empty_input_is_partial() {
    let Ok(Status::Partial { needed }) = decode(&[]) else {
        panic!("empty input: {:?}", decode(&[]));
    };
    // Every packet is at least 2 bytes, so asking for 1 or 2 is a valid lower bound.
    assert!((1..=2).contains(&needed.get()), "needed {needed}");
    assert!(matches!(peek_fixed_header(&[]), Ok(Status::Partial { .. })));
}

#[test]
fn remaining_length_errors_are_reported_before_the_body_arrives() {
    // Four continuation bytes: malformed as soon as the fourth length byte is seen.
    assert_eq!(
        decode(&[0x30, 0xff, 0xff, 0xff]),
        Ok(Status::Partial {
            needed: 1.try_into().unwrap()
        })
    );
    assert_eq!(
        decode(&[0x30, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::MalformedRemainingLength)
    );
    // A partially received Remaining Length is Partial, at every length.
    for k in 1..=4 {
        let prefix = &[0x30, 0x80, 0x80, 0x80, 0x01][..k];
        assert!(
            matches!(decode(prefix), Ok(Status::Partial { .. })),
            "[{}]: {:?}",
            hex(prefix),
            decode(prefix)
        );
    }
}

#[test]
fn body_errors_are_reported_only_once_the_packet_is_complete() {
    // The body is validated only when the whole frame is present (packet/mod.rs contract):
    // every strict prefix of these malformed packets is Partial, the whole one is an error.
    #[rustfmt::skip]
    let cases: [(&str, &[u8], DecodeError); 4] = [
        ("wildcard topic", &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'], DecodeError::WildcardInTopicName),
        ("packet id 0", &[0x40, 0x02, 0x00, 0x00], DecodeError::PacketIdZero),
        ("SUBACK code 0x03", &[0x90, 0x03, 0x00, 0x01, 0x03], DecodeError::InvalidSubAckCode(3)),
        ("CONNECT level 5", &[
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x00, 0x00, 0x00,
        ], DecodeError::UnsupportedProtocolLevel(5)),
    ];
    for (what, bytes, want) in cases {
        for k in 0..bytes.len() {
            assert!(
                matches!(decode(&bytes[..k]), Ok(Status::Partial { .. })),
                "{what}: prefix [{}] gave {:?}",
                hex(&bytes[..k]),
                decode(&bytes[..k])
            );
        }
        assert_eq!(decode(bytes), Err(want), "{what}: [{}]", hex(bytes));
    }
}

/// An `embedded_io::Read` that hands out at most `chunk` bytes per `read` call, like a socket
/// delivering a packet in fragments. Uses the trait's default `read_exact`.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl embedded_io::ErrorType for Trickle<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn read_packet_over_fragmented_readers_reads_each_packet_and_nothing_more() {
    let all = vectors();
    let stream: Vec<u8> = all.iter().flat_map(|v| v.bytes.iter().copied()).collect();
    for chunk in [1, 2, 3, 7, 64] {
        let mut reader = Trickle { data: &stream, chunk };
        let mut body = vec![0u8; 256];
        let mut offset = 0;
        for v in &all {
            assert_eq!(
                read_packet(&mut reader, &mut body),
                Ok(v.packet),
                "{} in {chunk}-byte fragments",
                v.name
            );
            offset += v.bytes.len();
            // read_packet never reads past the end of the packet.
            assert_eq!(
                stream.len() - reader.data.len(),
                offset,
                "{}: bytes consumed",
                v.name
            );
        }
        assert_eq!(
            read_packet(&mut reader, &mut body),
            Err(ReadPacketError::Eof { mid_packet: false }),
            "clean end of stream, {chunk}-byte fragments"
        );
    }
}

/// `read_packet` on the first `k` bytes of `bytes`, through both reader kinds.
fn read_truncated(bytes: &[u8], k: usize) -> [Result<(), ReadPacketError<Infallible>>; 2] {
    let mut body = vec![0u8; bytes.len()];
    let mut slice: &[u8] = &bytes[..k];
    let a = read_packet(&mut slice, &mut body).map(|_| ());
    let mut trickle = Trickle {
        data: &bytes[..k],
        chunk: 1,
    };
    let b = read_packet(&mut trickle, &mut body).map(|_| ());
    [a, b]
}

#[test]
fn read_packet_reports_eof_inside_a_packet_as_mid_packet() {
    for v in vectors() {
        let bytes = &v.bytes[..];
        assert_eq!(
            read_truncated(bytes, 0),
            [const { Err(ReadPacketError::Eof { mid_packet: false }) }; 2],
            "{}: empty stream is a clean end",
            v.name
        );
        // From 2 bytes on (the 1-byte case has its own test below).
        for k in 2..bytes.len() {
            assert_eq!(
                read_truncated(bytes, k),
                [const { Err(ReadPacketError::Eof { mid_packet: true }) }; 2],
                "{}: stream cut after {k} of {} bytes [{}]",
                v.name,
                bytes.len(),
                hex(&bytes[..k])
            );
        }
    }
}

#[test]
fn read_packet_reports_eof_after_only_the_first_byte_as_mid_packet() {
    // ReadPacketError::Eof docs: "cleanly between packets when mid_packet is false". A stream
    // that ends after byte 0 of a packet has ended inside that packet.
    for v in vectors() {
        assert_eq!(
            read_truncated(&v.bytes, 1),
            [const { Err(ReadPacketError::Eof { mid_packet: true }) }; 2],
            "{}: stream cut after byte 0 [{:02x}]",
            v.name,
            v.bytes[0]
        );
    }
}

#[test]
fn read_packet_too_large_then_next_packet_over_a_fragmented_reader() {
    // SUBSCRIBE with three filters (remaining length 23) into a 4-byte body buffer, delivered
    // one byte at a time: discarded, then the PUBACK after it is read intact.
    let stream = [table::SUBSCRIBE_THREE, table::PUBACK].concat();
    let mut reader = Trickle {
        data: &stream,
        chunk: 1,
    };
    let mut body = [0u8; 4];
    assert_eq!(
        read_packet(&mut reader, &mut body),
        Err(ReadPacketError::TooLarge {
            packet_type: PacketType::Subscribe,
            len: table::SUBSCRIBE_THREE.len()
        })
    );
    assert_eq!(read_packet(&mut reader, &mut body), Ok(Packet::PubAck(pid(1))));
    assert!(reader.data.is_empty());
}
