//! Byte-exact test vectors for all 14 MQTT 3.1.1 control packets.
//!
//! The table lives in `tests/data/vectors_table.rs` (hand-computed bytes, commented field by
//! field). For every vector this file checks, in one helper ([`check_vector`]):
//!
//! * (a) `decode` gives exactly the expected packet and consumes every byte;
//! * (b) `encode` into a `0xa5`-poisoned buffer writes exactly the vector, returns its length,
//!   and leaves the byte after it alone;
//! * (c) `encoded_len` equals the vector length;
//! * (d) `encode` into a buffer one byte short fails with `BufferTooSmall { needed: len }` and
//!   writes nothing;
//! * (e) `encode_to` an `embedded_io::Write` (a `Vec<u8>` and an exact `&mut [u8]`) writes the
//!   same bytes;
//! * (f) `read_packet` over the bytes gives the same packet; with a body buffer that is too small
//!   it reports `TooLarge` and leaves the reader at the start of the next packet.

#[path = "data/vectors_table.rs"]
mod table;

use umqtt::{
    DecodeError, Delivery, EncodeError, EncodeToError, Packet, PacketType, Publish, ReadPacketError, Status,
    decode, encode, read_packet,
};

use table::{Vector, header_len, hex, pid, topic, vectors};

const POISON: u8 = 0xa5;

/// Runs checks (a) to (f) of the module docs on one vector.
fn check_vector(v: &Vector<'_>) {
    let name = v.name;
    let bytes = &v.bytes[..];
    let len = bytes.len();
    let wire = hex(bytes);

    // (a) decode: exact packet, every byte consumed.
    assert_eq!(
        decode(bytes),
        Ok(Status::Complete((v.packet, len))),
        "{name}: decode of [{wire}]"
    );
    // The method form agrees with the free function.
    assert_eq!(Packet::decode(bytes), decode(bytes), "{name}: Packet::decode");
    assert_eq!(
        v.packet.packet_type() as u8,
        bytes[0] >> 4,
        "{name}: packet_type() vs the high nibble of byte 0"
    );

    // (b) encode into a poisoned buffer with one spare byte.
    let mut buf = vec![POISON; len + 1];
    let n = v.packet.encode(&mut buf);
    assert_eq!(n, Ok(len), "{name}: encode length; expected [{wire}]");
    assert!(
        buf[..len] == *bytes,
        "{name}: encode wrote\n  [{}]\nexpected\n  [{wire}]",
        hex(&buf[..len])
    );
    assert_eq!(
        buf[len], POISON,
        "{name}: encode wrote past the end of the packet"
    );
    // The free function is the same encoder.
    let mut buf2 = vec![POISON; len];
    assert_eq!(encode(&v.packet, &mut buf2), Ok(len), "{name}: umqtt::encode");
    assert!(buf2 == bytes, "{name}: umqtt::encode wrote [{}]", hex(&buf2));

    // (c) encoded_len.
    assert_eq!(v.packet.encoded_len(), len, "{name}: encoded_len for [{wire}]");

    // (d) one byte short: BufferTooSmall with the full length, nothing written.
    let mut short = vec![POISON; len - 1];
    assert_eq!(
        v.packet.encode(&mut short),
        Err(EncodeError::BufferTooSmall { needed: len }),
        "{name}: encode into {} bytes",
        len - 1
    );
    assert!(
        short.iter().all(|&b| b == POISON),
        "{name}: a refused encode touched the buffer: [{}]",
        hex(&short)
    );
    // An empty buffer is refused the same way.
    assert_eq!(
        v.packet.encode(&mut []),
        Err(EncodeError::BufferTooSmall { needed: len }),
        "{name}: encode into an empty buffer"
    );

    // (e) encode_to an embedded_io::Write: a growing Vec and an exactly sized slice.
    let mut out: Vec<u8> = Vec::new();
    assert_eq!(
        v.packet.encode_to(&mut out),
        Ok(len),
        "{name}: encode_to(Vec) length"
    );
    assert!(out == bytes, "{name}: encode_to(Vec) wrote [{}]", hex(&out));
    let mut exact = vec![POISON; len];
    {
        let mut w: &mut [u8] = &mut exact;
        assert_eq!(
            v.packet.encode_to(&mut w),
            Ok(len),
            "{name}: encode_to(&mut [u8]) length"
        );
        assert!(
            w.is_empty(),
            "{name}: encode_to left {} bytes of the slice unwritten",
            w.len()
        );
    }
    assert!(
        exact == bytes,
        "{name}: encode_to(&mut [u8]) wrote [{}]",
        hex(&exact)
    );

    // (f) read_packet from a `&[u8]` reader with a body buffer of exactly the Remaining Length.
    let rem = len - header_len(bytes);
    let mut reader: &[u8] = bytes;
    let mut body = vec![0u8; rem];
    assert_eq!(
        read_packet(&mut reader, &mut body),
        Ok(v.packet),
        "{name}: read_packet of [{wire}]"
    );
    assert!(
        reader.is_empty(),
        "{name}: read_packet left {} bytes unread",
        reader.len()
    );

    // (f) too small a body buffer: TooLarge, and the reader stays aligned on the next packet.
    if rem > 0 {
        let stream = [bytes, &[0xd0, 0x00][..]].concat(); // this packet, then PINGRESP
        for small in [rem - 1, 0] {
            let mut reader: &[u8] = &stream;
            let mut body = vec![0u8; small];
            assert_eq!(
                read_packet(&mut reader, &mut body),
                Err(ReadPacketError::TooLarge {
                    packet_type: v.packet.packet_type(),
                    len,
                }),
                "{name}: read_packet with a {small}-byte body buffer (remaining length {rem})"
            );
            assert_eq!(
                read_packet(&mut reader, &mut body),
                Ok(Packet::PingResp),
                "{name}: the packet after a TooLarge one must be read intact"
            );
            assert!(reader.is_empty(), "{name}: bytes left after PINGRESP");
        }
    }
}

/// Runs [`check_vector`] on every table entry of `packet_type`, requiring at least `min` of them.
fn check_type(packet_type: PacketType, min: usize) {
    let all = vectors();
    let selected: Vec<_> = all
        .iter()
        .filter(|v| v.packet.packet_type() == packet_type)
        .collect();
    assert!(
        selected.len() >= min,
        "{packet_type}: only {} vectors in the table, want at least {min}",
        selected.len()
    );
    for v in selected {
        check_vector(v);
    }
}

#[test]
fn connect_vectors() {
    // minimal, will QoS 1 retained, user + password, empty client id, all fields
    check_type(PacketType::Connect, 5);
}

#[test]
fn connack_vectors() {
    // accepted with and without session present, refusal codes 1 to 5
    check_type(PacketType::ConnAck, 7);
}

#[test]
fn publish_vectors() {
    check_type(PacketType::Publish, 14);
}

#[test]
fn puback_vectors() {
    check_type(PacketType::PubAck, 1);
}

#[test]
fn pubrec_vectors() {
    check_type(PacketType::PubRec, 1);
}

#[test]
fn pubrel_vectors() {
    check_type(PacketType::PubRel, 1);
}

#[test]
fn pubcomp_vectors() {
    check_type(PacketType::PubComp, 1);
}

#[test]
fn subscribe_vectors() {
    check_type(PacketType::Subscribe, 2);
}

#[test]
fn suback_vectors() {
    check_type(PacketType::SubAck, 2);
}

#[test]
fn unsubscribe_vectors() {
    check_type(PacketType::Unsubscribe, 2);
}

#[test]
fn unsuback_vectors() {
    check_type(PacketType::UnsubAck, 1);
}

#[test]
fn pingreq_vectors() {
    check_type(PacketType::PingReq, 1);
}

#[test]
fn pingresp_vectors() {
    check_type(PacketType::PingResp, 1);
}

#[test]
fn disconnect_vectors() {
    check_type(PacketType::Disconnect, 1);
}

#[test]
fn table_covers_all_14_packet_types_with_unique_names() {
    let all = vectors();
    let mut types: Vec<u8> = all.iter().map(|v| v.packet.packet_type() as u8).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        (1..=14).collect::<Vec<u8>>(),
        "packet types present in the table"
    );
    let mut names: Vec<&str> = all.iter().map(|v| v.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "vector names must be unique");
}

#[test]
fn fixed_header_first_bytes_match_the_spec_table() {
    // 2.2.1 / 2.2.2: first bytes of the non-PUBLISH packets, and PUBLISH flag combinations.
    let expected: &[(&str, u8)] = &[
        ("connect_minimal", 0x10),
        ("connack_accepted", 0x20),
        ("publish_qos0", 0x30),
        ("publish_qos0_retain", 0x31),
        ("publish_qos1", 0x32),
        ("publish_qos2", 0x34),
        ("publish_qos1_dup", 0x3a),
        ("publish_qos2_dup_retain", 0x3d),
        ("puback", 0x40),
        ("pubrec", 0x50),
        ("pubrel", 0x62),
        ("pubcomp", 0x70),
        ("subscribe_one_filter", 0x82),
        ("suback_all_codes", 0x90),
        ("unsubscribe_one_filter", 0xa2),
        ("unsuback", 0xb0),
        ("pingreq", 0xc0),
        ("pingresp", 0xd0),
        ("disconnect", 0xe0),
    ];
    let all = vectors();
    for &(name, first) in expected {
        let v = all
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no vector {name}"));
        let mut buf = [0u8; 64];
        let n = v
            .packet
            .encode(&mut buf)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(n >= 2, "{name}: encoded {n} bytes");
        assert_eq!(
            buf[0], first,
            "{name}: first byte {:#04x}, want {first:#04x}",
            buf[0]
        );
    }
}

#[test]
fn two_packets_back_to_back_decode_in_sequence() {
    let all = vectors();
    for pair in all.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let stream = [&a.bytes[..], &b.bytes[..]].concat();
        let ctx = format!("{} then {}: [{}]", a.name, b.name, hex(&stream));
        let Ok(Status::Complete((first, used))) = decode(&stream) else {
            panic!("{ctx}: first decode {:?}", decode(&stream));
        };
        assert_eq!((first, used), (a.packet, a.bytes.len()), "{ctx}: first packet");
        assert_eq!(
            decode(&stream[used..]),
            Ok(Status::Complete((b.packet, b.bytes.len()))),
            "{ctx}: second packet"
        );
    }
}

#[test]
fn whole_table_as_one_stream_decodes_and_reads_in_sequence() {
    let all = vectors();
    let stream: Vec<u8> = all.iter().flat_map(|v| v.bytes.iter().copied()).collect();

    // decode, advancing by the consumed count
    let mut at = 0;
    for v in &all {
        match decode(&stream[at..]) {
            Ok(Status::Complete((p, used))) => {
                assert_eq!((p, used), (v.packet, v.bytes.len()), "{} at offset {at}", v.name);
                at += used;
            }
            other => panic!("{} at offset {at}: {other:?}", v.name),
        }
    }
    assert_eq!(at, stream.len());
    assert!(matches!(decode(&stream[at..]), Ok(Status::Partial { .. })));

    // read_packet over the same stream
    let mut reader: &[u8] = &stream;
    let mut body = vec![0u8; 256];
    for v in &all {
        assert_eq!(
            read_packet(&mut reader, &mut body),
            Ok(v.packet),
            "read_packet: {}",
            v.name
        );
    }
    assert_eq!(
        read_packet(&mut reader, &mut body),
        Err(ReadPacketError::Eof { mid_packet: false }),
        "clean end of stream between packets"
    );
}

#[test]
fn decoded_packets_re_encode_to_the_same_bytes() {
    // The decoder's zero-copy views (for example SUBSCRIBE entries kept as wire bytes) must
    // encode exactly like the hand-built values.
    for v in vectors() {
        let Ok(Status::Complete((p, _))) = decode(&v.bytes) else {
            panic!("{}: decode failed", v.name);
        };
        let mut buf = vec![POISON; v.bytes.len()];
        assert_eq!(p.encode(&mut buf), Ok(v.bytes.len()), "{}", v.name);
        assert!(buf == v.bytes, "{}: re-encoded [{}]", v.name, hex(&buf));
        assert_eq!(p.encoded_len(), v.bytes.len(), "{}", v.name);
    }
}

#[test]
fn encode_to_a_full_slice_reports_the_write_error() {
    // The packet itself is valid, so the error comes from the writer, not the encoder.
    let p = Packet::PubAck(pid(1));
    let mut space = [POISON; 3];
    let mut w: &mut [u8] = &mut space;
    assert_eq!(
        p.encode_to(&mut w),
        Err(EncodeToError::Write(embedded_io::SliceWriteError::Full))
    );
}

#[test]
fn mqtt_1_5_3_3_bom_is_preserved_in_strings() {
    // [MQTT-1.5.3-3] EF BB BF is U+FEFF wherever it appears and must not be skipped or stripped.
    #[rustfmt::skip]
    let publish: &[u8] = &[
        0x30, 0x0a, // PUBLISH QoS 0, remaining length 10
        0x00, 0x07, 0xef, 0xbb, 0xbf, b'a', 0xef, 0xbb, 0xbf, // topic "\u{feff}a\u{feff}"
        b'x', // payload "x"
    ];
    let Ok(Status::Complete((Packet::Publish(p), 12))) = decode(publish) else {
        panic!("PUBLISH [{}] did not decode: {:?}", hex(publish), decode(publish));
    };
    assert_eq!(
        p.topic.as_bytes(),
        &publish[4..11],
        "topic bytes must be kept as sent"
    );
    assert_eq!(p.topic.as_str(), "\u{feff}a\u{feff}");
    assert_eq!(p.topic.chars().next(), Some('\u{feff}'));
    assert_eq!(p.payload, b"x");

    // The same in CONNECT (client id, user name) and SUBSCRIBE / UNSUBSCRIBE filters.
    #[rustfmt::skip]
    let connect: &[u8] = &[
        0x10, 0x15, // CONNECT, remaining length 21 = 10 + (2 + 4) + (2 + 3)
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // "MQTT" level 4
        0x82, // connect flags: user name, clean session
        0x00, 0x00, // keep alive 0
        0x00, 0x04, 0xef, 0xbb, 0xbf, b'c', // client id "\u{feff}c"
        0x00, 0x03, 0xef, 0xbb, 0xbf, // user name "\u{feff}"
    ];
    let Ok(Status::Complete((Packet::Connect(c), 23))) = decode(connect) else {
        panic!("CONNECT [{}]: {:?}", hex(connect), decode(connect));
    };
    assert_eq!(c.client_id, "\u{feff}c");
    assert_eq!(c.username, Some("\u{feff}"));

    #[rustfmt::skip]
    let subscribe: &[u8] = &[
        0x82, 0x08, // SUBSCRIBE, remaining length 8
        0x00, 0x01, // packet id 1
        0x00, 0x03, 0xef, 0xbb, 0xbf, // filter "\u{feff}"
        0x00, // QoS 0
    ];
    let Ok(Status::Complete((Packet::Subscribe(s), 10))) = decode(subscribe) else {
        panic!("SUBSCRIBE [{}]: {:?}", hex(subscribe), decode(subscribe));
    };
    assert_eq!(s.topics.first().map(|e| e.filter.as_str()), Some("\u{feff}"));

    #[rustfmt::skip]
    let unsubscribe: &[u8] = &[
        0xa2, 0x07, // UNSUBSCRIBE, remaining length 7
        0x00, 0x01, // packet id 1
        0x00, 0x03, 0xef, 0xbb, 0xbf, // filter "\u{feff}"
    ];
    let Ok(Status::Complete((Packet::Unsubscribe(u), 9))) = decode(unsubscribe) else {
        panic!("UNSUBSCRIBE [{}]: {:?}", hex(unsubscribe), decode(unsubscribe));
    };
    assert_eq!(u.topics.first().map(|f| f.as_str()), Some("\u{feff}"));

    // The decoder gives the BOM no special treatment: a truncated one is just invalid UTF-8.
    #[rustfmt::skip]
    let truncated: &[u8] = &[
        0x30, 0x06, // PUBLISH QoS 0, remaining length 6
        0x00, 0x04, b'a', b'b', 0xef, 0xbb, // topic "ab" + the first two bytes of a BOM
    ];
    assert_eq!(
        decode(truncated),
        Err(DecodeError::InvalidUtf8),
        "[{}]",
        hex(truncated)
    );

    // And the encoder writes the BOM through unchanged.
    let packet = Packet::Publish(Publish::new(
        topic("\u{feff}a\u{feff}"),
        b"x",
        Delivery::AtMostOnce,
        false,
    ));
    let mut buf = [POISON; 12];
    assert_eq!(packet.encode(&mut buf), Ok(12));
    assert_eq!(&buf[..], publish);
}

/// PUBLISH QoS 1, topic "big", packet id 1, with `payload`; bytes built from the spec layout.
fn big_publish_bytes(rem_len_bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + payload.len());
    bytes.push(0x32); // fixed header: PUBLISH, QoS 1
    bytes.extend_from_slice(rem_len_bytes); // remaining length, worked out by hand below
    bytes.extend_from_slice(&[0x00, 0x03, b'b', b'i', b'g']); // topic name "big"
    bytes.extend_from_slice(&[0x00, 0x01]); // packet id 1
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn remaining_length_three_and_four_byte_boundaries() {
    // Remaining Length = 2 + 3 (topic) + 2 (packet id) + payload = 7 + payload.
    // 2,097,151 = 0x1f_ffff: 7-bit groups 127, 127, 127 -> ff ff 7f (largest 3-byte value).
    // 2,097,152 = 1 << 21:   7-bit groups 0, 0, 0, 1 -> 80 80 80 01 (smallest 4-byte value).
    let payload: Vec<u8> = (0..2_097_145u32).map(|i| (i % 251) as u8).collect();
    let cases: [(&str, &[u8], usize); 2] = [
        ("publish_remaining_length_2097151", &[0xff, 0xff, 0x7f], 2_097_144),
        (
            "publish_remaining_length_2097152",
            &[0x80, 0x80, 0x80, 0x01],
            2_097_145,
        ),
    ];
    for (name, vbi, payload_len) in cases {
        let payload = &payload[..payload_len];
        let v = Vector {
            name,
            bytes: big_publish_bytes(vbi, payload),
            packet: Packet::Publish(Publish::new(
                topic("big"),
                payload,
                Delivery::AtLeastOnce(pid(1)),
                false,
            )),
        };
        assert_eq!(v.bytes.len(), 1 + vbi.len() + 7 + payload_len);
        assert_eq!(header_len(&v.bytes), 1 + vbi.len(), "{name}");
        check_vector(&v);
    }
}

#[test]
fn non_minimal_remaining_length_is_accepted_but_never_emitted() {
    // 2.2.3: 3.1.1 does not forbid a non-minimal Remaining Length; this crate accepts it and
    // always writes the minimal form.
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x40, // PUBACK
        0x82, 0x00, // remaining length 2, padded to two bytes (2 | 0x80, 0)
        0x00, 0x05, // packet id 5
    ];
    assert_eq!(decode(bytes), Ok(Status::Complete((Packet::PubAck(pid(5)), 5))));
    let mut buf = [POISON; 5];
    assert_eq!(Packet::PubAck(pid(5)).encode(&mut buf), Ok(4));
    assert_eq!(buf, [0x40, 0x02, 0x00, 0x05, POISON]);
}
