//! One test per codec-level statement of the MQTT 3.1.1 checklist
//! (`/work/shared/spec/mqtt-3.1.1-checklist.md`, section A rows marked `codec` or
//! `codec+client`, and the unnumbered codec rules of section C).
//!
//! Test names start with the statement id (`mqtt_3_3_1_4_...` for [MQTT-3.3.1-4]) or, for the
//! unnumbered rules, with the spec section (`sec_2_2_3_...`). Each malformed input is checked
//! against the *exact* `DecodeError`, both through `umqtt::decode` and through `read_packet`
//! (what the client uses), and each refused packet against the exact `EncodeError`, with the
//! output buffer left untouched.

#[path = "data/vectors_table.rs"]
mod table;

use umqtt::{
    ConnAck, Connect, ConnectReturnCode, DecodeError, Delivery, EncodeError, EncodeToError, Entries,
    LastWill, Packet, PacketId, PacketType, Publish, QoS, ReadPacketError, Status, SubAck, SubAckReturnCode,
    Subscribe, Subscription, TopicError, TopicFilter, TopicName, Unsubscribe, decode, decode_from_server,
    encode_from_client, peek_fixed_header, read_packet, topic_matches,
};

use table::{filter, hex, pid, topic};

const POISON: u8 = 0xa5;

// ---------------------------------------------------------------------------------------------
// Builders. They follow the spec layout directly and share no code with the crate under test.
// ---------------------------------------------------------------------------------------------

/// Remaining Length as a variable-byte integer (2.2.3): 7 bits per byte, low group first,
/// 0x80 on every byte but the last.
fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// Byte 0, the Remaining Length of `body`, then `body`.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    [&[first][..], &vbi(body.len()), body].concat()
}

/// A string or binary field: 2-byte big-endian length, then the bytes (1.5.3).
fn field(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).expect("test field longer than 65535 bytes");
    [&len.to_be_bytes()[..], bytes].concat()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// CONNECT with protocol name `name`, level `level`, connect flags `flags`, keep alive 60 s,
/// followed by `payload` (already encoded fields).
fn connect_raw(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    frame(0x10, &cat(&[&field(name), &[level, flags, 0x00, 0x3c], payload]))
}

/// A CONNECT with the right protocol name and level.
fn connect(flags: u8, payload: &[u8]) -> Vec<u8> {
    connect_raw(b"MQTT", 4, flags, payload)
}

/// PUBLISH with first byte `first`, topic bytes `topic`, then `rest` (packet id and payload).
fn publish(first: u8, topic: &[u8], rest: &[u8]) -> Vec<u8> {
    frame(first, &cat(&[&field(topic), rest]))
}

/// SUBSCRIBE with packet id 1 and the given (filter, requested QoS byte) entries.
fn subscribe(entries: &[(&[u8], u8)]) -> Vec<u8> {
    let mut body = vec![0x00, 0x01];
    for (f, q) in entries {
        body.extend(field(f));
        body.push(*q);
    }
    frame(0x82, &body)
}

/// UNSUBSCRIBE with packet id 1 and the given filters.
fn unsubscribe(filters: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![0x00, 0x01];
    for f in filters {
        body.extend(field(f));
    }
    frame(0xa2, &body)
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// `bytes` must be rejected with exactly `want`, by `decode` and by `read_packet`.
#[track_caller]
fn assert_malformed(bytes: &[u8], want: DecodeError) {
    assert_eq!(decode(bytes), Err(want), "decode [{}]", hex(bytes));
    // The client-side decoder reports the same error, except that it does not parse the body
    // of a packet only a client sends.
    let from_server = match peek_fixed_header(bytes) {
        Ok(Status::Complete(h)) if is_client_only(h.packet_type) => {
            DecodeError::UnexpectedPacketType(h.packet_type)
        }
        _ => want,
    };
    assert_eq!(
        decode_from_server(bytes),
        Err(from_server),
        "decode_from_server [{}]",
        hex(bytes)
    );
    let mut reader: &[u8] = bytes;
    let mut body = vec![0u8; bytes.len()];
    assert_eq!(
        read_packet(&mut reader, &mut body),
        Err(ReadPacketError::Decode(want)),
        "read_packet [{}]",
        hex(bytes)
    );
}

/// `bytes` must decode to one complete packet that uses every byte; returns it.
#[track_caller]
fn assert_valid(bytes: &[u8]) -> Packet<'_> {
    let packet = match decode(bytes) {
        Ok(Status::Complete((p, used))) if used == bytes.len() => p,
        other => panic!("[{}] should be one valid packet, got {other:?}", hex(bytes)),
    };
    let t = packet.packet_type();
    let from_server = if is_client_only(t) {
        Err(DecodeError::UnexpectedPacketType(t))
    } else {
        Ok(Status::Complete((packet, bytes.len())))
    };
    assert_eq!(
        decode_from_server(bytes),
        from_server,
        "decode_from_server [{}]",
        hex(bytes)
    );
    packet
}

/// The packet types only a client sends (2.2.1 table 2.1, "Direction of flow").
fn is_client_only(t: PacketType) -> bool {
    matches!(
        t,
        PacketType::Connect
            | PacketType::Subscribe
            | PacketType::Unsubscribe
            | PacketType::PingReq
            | PacketType::Disconnect
    )
}

/// The packet types only a server sends (2.2.1 table 2.1, "Direction of flow").
fn is_server_only(t: PacketType) -> bool {
    matches!(
        t,
        PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck | PacketType::PingResp
    )
}

/// The encoder must refuse `packet` with exactly `want` and write nothing, through `encode`,
/// `encode_to` and (for a packet a client sends) `encode_from_client`.
#[track_caller]
fn assert_refused(packet: &Packet<'_>, want: EncodeError) {
    let size = packet.encoded_len().saturating_add(1).min(1 << 20);
    let mut buf = vec![POISON; size];
    assert_eq!(packet.encode(&mut buf), Err(want), "encode {packet:?}");
    assert!(
        buf.iter().all(|&b| b == POISON),
        "a refused encode wrote into the buffer"
    );
    if !is_server_only(packet.packet_type()) {
        assert_eq!(
            encode_from_client(packet, &mut buf),
            Err(want),
            "encode_from_client"
        );
        assert!(
            buf.iter().all(|&b| b == POISON),
            "a refused encode_from_client wrote into the buffer"
        );
    }
    let mut out: Vec<u8> = Vec::new();
    assert_eq!(
        packet.encode_to(&mut out),
        Err(EncodeToError::Encode(want)),
        "encode_to"
    );
    assert!(out.is_empty(), "a refused encode_to wrote {} bytes", out.len());
}

/// Encodes a packet the encoder must accept; `encode_from_client` writes the same bytes for a
/// packet a client sends.
#[track_caller]
fn encoded(packet: &Packet<'_>) -> Vec<u8> {
    let mut buf = vec![POISON; packet.encoded_len()];
    match packet.encode(&mut buf) {
        Ok(n) if n == buf.len() => {}
        other => panic!("encode {packet:?}: {other:?}"),
    }
    if !is_server_only(packet.packet_type()) {
        let mut again = vec![POISON; buf.len()];
        assert_eq!(encode_from_client(packet, &mut again), Ok(buf.len()));
        assert_eq!(again, buf, "encode_from_client differs from encode");
    }
    buf
}

fn minimal_connect(client_id: &str) -> Connect<'_> {
    Connect {
        clean_session: true,
        keep_alive: 60,
        client_id,
        will: None,
        username: None,
        password: None,
    }
}

/// Strings that are not well-formed UTF-8 ([MQTT-1.5.3-1]).
const BAD_UTF8: &[&[u8]] = &[
    &[0xff],                   // never valid in UTF-8
    &[b'a', 0x80],             // lone continuation byte
    &[0xc3],                   // truncated 2-byte sequence
    &[0xe2, 0x82],             // truncated 3-byte sequence
    &[0xc0, 0x80],             // overlong encoding of U+0000
    &[0xc1, 0xbf],             // overlong encoding of U+007F
    &[0xe0, 0x80, 0xaf],       // overlong encoding of '/'
    &[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    &[0xed, 0xa0, 0x80],       // U+D800, a surrogate
    &[0xed, 0xbf, 0xbf],       // U+DFFF, a surrogate
];

// ---------------------------------------------------------------------------------------------
// 1.5.3 UTF-8 encoded strings
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_1_5_3_1_invalid_utf8_in_publish_topic_is_malformed() {
    for bad in BAD_UTF8 {
        assert_malformed(&publish(0x30, bad, b"payload"), DecodeError::InvalidUtf8);
    }
}

#[test]
fn mqtt_1_5_3_1_encoded_surrogate_is_malformed_in_every_string_field() {
    let surrogate: &[u8] = &[0xed, 0xa0, 0x80]; // U+D800 encoded as if it were a character
    let id = field(b"id");
    let cases = [
        ("PUBLISH topic", publish(0x30, surrogate, b"")),
        ("client id", connect(0x02, &field(surrogate))),
        (
            "will topic",
            connect(0x06, &cat(&[&id, &field(surrogate), &field(b"m")])),
        ),
        ("user name", connect(0x82, &cat(&[&id, &field(surrogate)]))),
        ("SUBSCRIBE filter", subscribe(&[(surrogate, 0)])),
        ("UNSUBSCRIBE filter", unsubscribe(&[b"ok", surrogate])),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::InvalidUtf8),
            "{what}: [{}]",
            hex(&bytes)
        );
        assert_malformed(&bytes, DecodeError::InvalidUtf8);
    }
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_in_every_string_field_is_malformed() {
    let id = field(b"id");
    for bad in BAD_UTF8 {
        assert_malformed(&connect(0x02, &field(bad)), DecodeError::InvalidUtf8);
        assert_malformed(
            &connect(0x06, &cat(&[&id, &field(bad), &field(b"m")])),
            DecodeError::InvalidUtf8,
        );
        assert_malformed(
            &connect(0x82, &cat(&[&id, &field(bad)])),
            DecodeError::InvalidUtf8,
        );
        assert_malformed(&subscribe(&[(b"a", 0), (bad, 1)]), DecodeError::InvalidUtf8);
        assert_malformed(&unsubscribe(&[bad]), DecodeError::InvalidUtf8);
    }
}

#[test]
fn mqtt_1_5_3_2_null_character_is_malformed_in_every_string_field() {
    let id = field(b"id");
    let cases = [
        ("PUBLISH topic", publish(0x30, b"a\0b", b"")),
        ("client id", connect(0x02, &field(b"dev\0"))),
        (
            "will topic",
            connect(0x06, &cat(&[&id, &field(b"\0"), &field(b"m")])),
        ),
        ("user name", connect(0x82, &cat(&[&id, &field(b"al\0ce")]))),
        ("SUBSCRIBE filter", subscribe(&[(b"a/\0/#", 1)])),
        ("UNSUBSCRIBE filter", unsubscribe(&[b"\0"])),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::NullCharacter),
            "{what}: [{}]",
            hex(&bytes)
        );
        assert_malformed(&bytes, DecodeError::NullCharacter);
    }
}

#[test]
fn mqtt_1_5_3_2_encoder_refuses_null_character_in_client_id_and_user_name() {
    assert_refused(
        &Packet::Connect(minimal_connect("dev\0ice")),
        EncodeError::NullCharacter,
    );
    let mut c = minimal_connect("dev");
    c.username = Some("\0");
    assert_refused(&Packet::Connect(c), EncodeError::NullCharacter);
    // Topic names and filters cannot even be built with U+0000 ([MQTT-4.7.3-2]).
    assert_eq!(TopicName::new("a\0"), Err(TopicError::NullCharacter));
    assert_eq!(TopicFilter::new("a/\0"), Err(TopicError::NullCharacter));
}

// [MQTT-1.5.3-3] (BOM kept as U+FEFF) is proved in tests/vectors.rs::mqtt_1_5_3_3_bom_is_preserved_in_strings.

// ---------------------------------------------------------------------------------------------
// 2.2.2 Flags
// ---------------------------------------------------------------------------------------------

/// Every wrong flag nibble on a valid packet of `packet_type` must be `InvalidFlags`, from the
/// whole packet and from byte 0 alone; the required nibble must decode.
#[track_caller]
fn check_flag_nibbles(valid: &[u8], packet_type: PacketType, required: u8) {
    assert_eq!(valid[0], ((packet_type as u8) << 4) | required, "vector's byte 0");
    assert_valid(valid);
    for flags in 0..16u8 {
        if flags == required {
            continue;
        }
        let mut bytes = valid.to_vec();
        bytes[0] = ((packet_type as u8) << 4) | flags;
        let want = DecodeError::InvalidFlags { packet_type, flags };
        assert_malformed(&bytes, want);
        assert_eq!(decode(&bytes[..1]), Err(want), "byte 0 alone: {:#04x}", bytes[0]);
        assert_eq!(
            peek_fixed_header(&bytes[..1]),
            Err(want),
            "peek byte 0: {:#04x}",
            bytes[0]
        );
    }
    // The encoder writes the required nibble.
    let packet = assert_valid(valid);
    assert_eq!(
        encoded(&packet)[0] & 0x0f,
        required,
        "{packet_type}: encoded flags"
    );
}

macro_rules! flag_tests {
    ($($name:ident: $valid:expr, $packet_type:ident, $required:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_flag_nibbles($valid, PacketType::$packet_type, $required);
            }
        )*
    };
}

flag_tests! {
    mqtt_2_2_2_1_reserved_flags_connect_must_be_0000: table::CONNECT_MINIMAL, Connect, 0b0000;
    mqtt_2_2_2_1_reserved_flags_connack_must_be_0000: table::CONNACK_ACCEPTED, ConnAck, 0b0000;
    mqtt_2_2_2_1_reserved_flags_puback_must_be_0000: table::PUBACK, PubAck, 0b0000;
    mqtt_2_2_2_1_reserved_flags_pubrec_must_be_0000: table::PUBREC, PubRec, 0b0000;
    mqtt_2_2_2_1_reserved_flags_pubcomp_must_be_0000: table::PUBCOMP, PubComp, 0b0000;
    mqtt_2_2_2_1_reserved_flags_suback_must_be_0000: table::SUBACK_ALL_CODES, SubAck, 0b0000;
    mqtt_2_2_2_1_reserved_flags_unsuback_must_be_0000: table::UNSUBACK, UnsubAck, 0b0000;
    mqtt_2_2_2_1_reserved_flags_pingreq_must_be_0000: table::PINGREQ, PingReq, 0b0000;
    mqtt_2_2_2_1_reserved_flags_pingresp_must_be_0000: table::PINGRESP, PingResp, 0b0000;
    mqtt_3_6_1_1_pubrel_flags_must_be_0010: table::PUBREL, PubRel, 0b0010;
    mqtt_3_8_1_1_subscribe_flags_must_be_0010: table::SUBSCRIBE_ONE, Subscribe, 0b0010;
    mqtt_3_10_1_1_unsubscribe_flags_must_be_0010: table::UNSUBSCRIBE_ONE, Unsubscribe, 0b0010;
    mqtt_3_14_1_1_disconnect_flags_must_be_0000: table::DISCONNECT, Disconnect, 0b0000;
}

#[test]
fn mqtt_2_2_2_1_publish_flags_are_dup_qos_retain() {
    // PUBLISH has no reserved bits: every nibble is DUP | QoS(2) | RETAIN. The illegal ones are
    // QoS 3 ([MQTT-3.3.1-4]) and DUP at QoS 0 ([MQTT-3.3.1-2]).
    for flags in 0..16u8 {
        let first = 0x30 | flags;
        let (dup, qos, retain) = (flags & 0x08 != 0, (flags >> 1) & 0x03, flags & 0x01 != 0);
        let rest: &[u8] = if qos > 0 { &[0x00, 0x09, b'p'] } else { b"p" };
        let bytes = publish(first, b"t", rest);
        match (qos, dup) {
            (3, _) => assert_malformed(&bytes, DecodeError::InvalidQos),
            (0, true) => assert_malformed(&bytes, DecodeError::DupWithQos0),
            _ => {
                let Packet::Publish(p) = assert_valid(&bytes) else {
                    panic!("{first:#04x}: not a PUBLISH");
                };
                assert_eq!(
                    (p.dup, p.qos().as_u8(), p.retain),
                    (dup, qos, retain),
                    "{first:#04x}"
                );
                assert_eq!(
                    p.delivery.packet_id(),
                    if qos > 0 { PacketId::new(9) } else { None }
                );
                assert_eq!(p.payload, b"p");
                assert_eq!(encoded(&Packet::Publish(p)), bytes, "{first:#04x}: re-encode");
            }
        }
    }
}

#[test]
fn mqtt_2_2_2_2_wrong_flags_are_reported_from_the_first_byte() {
    // codec+client: the decoder reports the bad byte 0 at once (so the client can close the
    // connection without waiting for the rest), and read_packet surfaces it as Decode.
    for (first, packet_type, flags) in [
        (0x60, PacketType::PubRel, 0b0000),
        (0x80, PacketType::Subscribe, 0b0000),
        (0xa0, PacketType::Unsubscribe, 0b0000),
        (0x41, PacketType::PubAck, 0b0001),
        (0xcf, PacketType::PingReq, 0b1111),
    ] {
        let want = DecodeError::InvalidFlags { packet_type, flags };
        assert_eq!(decode(&[first]), Err(want), "{first:#04x}");
        assert_malformed(&[first, 0x02, 0x00, 0x01], want);
    }
}

// ---------------------------------------------------------------------------------------------
// 2.3.1 Packet Identifier
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_2_3_1_1_packet_id_zero_in_publish_qos1_and_qos2_is_malformed() {
    assert_malformed(
        &publish(0x32, b"a/b", &[0x00, 0x00, b'x']),
        DecodeError::PacketIdZero,
    );
    assert_malformed(&publish(0x34, b"a/b", &[0x00, 0x00]), DecodeError::PacketIdZero);
    assert_malformed(&publish(0x3b, b"a/b", &[0x00, 0x00]), DecodeError::PacketIdZero);
}

#[test]
fn mqtt_2_3_1_1_packet_id_zero_in_acknowledgements_is_malformed() {
    for first in [0x40, 0x50, 0x62, 0x70, 0xb0] {
        assert_malformed(&[first, 0x02, 0x00, 0x00], DecodeError::PacketIdZero);
    }
    assert_malformed(&[0x90, 0x03, 0x00, 0x00, 0x00], DecodeError::PacketIdZero); // SUBACK
}

#[test]
fn mqtt_2_3_1_1_packet_id_zero_in_subscribe_and_unsubscribe_is_malformed() {
    #[rustfmt::skip]
    let subscribe: &[u8] = &[
        0x82, 0x06, // SUBSCRIBE, remaining length 6
        0x00, 0x00, // packet id 0
        0x00, 0x01, b'#', // filter "#"
        0x00, // QoS 0
    ];
    // remaining length above is 2 + 3 + 1 = 6
    assert_malformed(subscribe, DecodeError::PacketIdZero);
    #[rustfmt::skip]
    let unsubscribe: &[u8] = &[
        0xa2, 0x05, // UNSUBSCRIBE, remaining length 5
        0x00, 0x00, // packet id 0
        0x00, 0x01, b'#', // filter "#"
    ];
    assert_malformed(unsubscribe, DecodeError::PacketIdZero);
}

#[test]
fn mqtt_2_3_1_1_packet_id_zero_cannot_be_constructed() {
    assert_eq!(PacketId::new(0), None);
    assert_eq!(PacketId::try_from(0u16), Err(DecodeError::PacketIdZero));
    assert_eq!(
        PacketId::new(65535).map(PacketId::next),
        PacketId::new(1),
        "wraps to 1, not 0"
    );
    assert_eq!(
        Delivery::new(QoS::AtLeastOnce, None),
        None,
        "QoS 1 needs a packet id"
    );
    assert_eq!(
        Delivery::new(QoS::ExactlyOnce, None),
        None,
        "QoS 2 needs a packet id"
    );
}

#[test]
fn mqtt_2_3_1_5_qos0_publish_has_no_packet_id() {
    // Two bytes after the topic of a QoS 0 PUBLISH are payload, not a packet id.
    let bytes = publish(0x30, b"a/b", &[0x00, 0x0a]);
    let Packet::Publish(p) = assert_valid(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.delivery, Delivery::AtMostOnce);
    assert_eq!(p.delivery.packet_id(), None);
    assert_eq!(p.payload, &[0x00, 0x0a]);
    // Even a zero "packet id" is just payload at QoS 0.
    assert_valid(&publish(0x30, b"a/b", &[0x00, 0x00]));
    // The encoder writes no packet id field at QoS 0, and drops an id offered with QoS 0.
    let p = Publish::new(topic("a/b"), b"", Delivery::AtMostOnce, false);
    assert_eq!(
        encoded(&Packet::Publish(p)),
        [0x30, 0x05, 0x00, 0x03, b'a', b'/', b'b']
    );
    assert_eq!(
        Delivery::new(QoS::AtMostOnce, PacketId::new(5)),
        Some(Delivery::AtMostOnce)
    );
}

// ---------------------------------------------------------------------------------------------
// 3.1 CONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_1_2_1_protocol_name_other_than_mqtt_is_malformed() {
    let id = field(b"id");
    // MQTT 3.1 ("MQIsdp", level 3), wrong case, truncated, padded, empty.
    assert_malformed(
        &connect_raw(b"MQIsdp", 3, 0x02, &id),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(
        &connect_raw(b"MQIsdp", 4, 0x02, &id),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(
        &connect_raw(b"mqtt", 4, 0x02, &id),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(
        &connect_raw(b"MQT", 4, 0x02, &id),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(
        &connect_raw(b"MQTTT", 4, 0x02, &id),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(&connect_raw(b"", 4, 0x02, &id), DecodeError::InvalidProtocolName);
}

#[test]
fn mqtt_3_1_2_1_encoder_always_writes_protocol_name_mqtt() {
    let mut c = minimal_connect("x");
    c.username = Some("u");
    c.password = Some(b"p");
    for packet in [Packet::Connect(minimal_connect("x")), Packet::Connect(c)] {
        let bytes = encoded(&packet);
        assert_eq!(
            &bytes[2..8],
            &[0x00, 0x04, b'M', b'Q', b'T', b'T'],
            "[{}]",
            hex(&bytes)
        );
    }
}

#[test]
fn mqtt_3_1_2_2_protocol_level_other_than_4_is_rejected() {
    let id = field(b"id");
    for level in [0, 1, 2, 3, 5, 6, 0x84, 0xff] {
        assert_malformed(
            &connect_raw(b"MQTT", level, 0x02, &id),
            DecodeError::UnsupportedProtocolLevel(level),
        );
    }
    // The encoder always writes level 4.
    let bytes = encoded(&Packet::Connect(minimal_connect("x")));
    assert_eq!(bytes[8], 0x04, "[{}]", hex(&bytes));
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    let id = field(b"id");
    assert_malformed(&connect(0x01, &id), DecodeError::ReservedConnectFlag);
    assert_malformed(&connect(0x03, &id), DecodeError::ReservedConnectFlag);
    assert_malformed(&connect(0xff, &id), DecodeError::ReservedConnectFlag);
    // Every flag byte the encoder can produce has bit 0 clear.
    let will = LastWill {
        topic: topic("w"),
        message: b"m",
        qos: QoS::ExactlyOnce,
        retain: true,
    };
    let c = Connect {
        clean_session: true,
        keep_alive: 1,
        client_id: "c",
        will: Some(will),
        username: Some("u"),
        password: Some(b"p"),
    };
    assert_eq!(encoded(&Packet::Connect(c))[9], 0xf6); // 1111 0110: bit 0 clear
}

#[test]
fn mqtt_3_1_2_9_will_flag_requires_will_topic_and_message() {
    let id = field(b"id");
    // Will Flag set but the payload stops after the client id, or after the will topic.
    assert_malformed(&connect(0x06, &id), DecodeError::UnexpectedEnd);
    assert_malformed(
        &connect(0x06, &cat(&[&id, &field(b"w")])),
        DecodeError::UnexpectedEnd,
    );
    assert_malformed(
        &connect(0x06, &cat(&[&id, &field(b"w"), &[0x00]])),
        DecodeError::UnexpectedEnd,
    );
    // With both fields present the will is decoded.
    let bytes = connect(0x06, &cat(&[&id, &field(b"w"), &field(b"bye")]));
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(
        c.will,
        Some(LastWill {
            topic: topic("w"),
            message: b"bye",
            qos: QoS::AtMostOnce,
            retain: false
        })
    );
}

#[test]
fn mqtt_3_1_2_11_will_qos_and_retain_without_will_flag_are_malformed() {
    let id = field(b"id");
    assert_malformed(&connect(0x0a, &id), DecodeError::WillFlagsWithoutWill); // will QoS 1
    assert_malformed(&connect(0x12, &id), DecodeError::WillFlagsWithoutWill); // will QoS 2
    assert_malformed(&connect(0x22, &id), DecodeError::WillFlagsWithoutWill); // will retain
    assert_malformed(&connect(0x3a, &id), DecodeError::WillFlagsWithoutWill); // all of them
    // ...and no Will Topic / Will Message fields may follow when the flag is 0.
    assert_malformed(
        &connect(0x02, &cat(&[&id, &field(b"w"), &field(b"m")])),
        DecodeError::TrailingBytes,
    );
}

#[test]
fn mqtt_3_1_2_13_will_qos_must_be_0_without_will_flag() {
    let id = field(b"id");
    for flags in [0x08, 0x10, 0x18, 0x0a, 0x12, 0x1a] {
        assert_malformed(&connect(flags, &id), DecodeError::WillFlagsWithoutWill);
    }
    // Without a will the encoder leaves bits 3-5 clear.
    assert_eq!(encoded(&Packet::Connect(minimal_connect("x")))[9] & 0x38, 0);
}

#[test]
fn mqtt_3_1_2_14_will_qos_3_is_malformed() {
    let payload = cat(&[&field(b"id"), &field(b"w"), &field(b"m")]);
    assert_malformed(&connect(0x1e, &payload), DecodeError::InvalidWillQos); // QoS 3, will, clean
    assert_malformed(&connect(0x3c, &payload), DecodeError::InvalidWillQos); // QoS 3, retain, will
    for (flags, qos) in [
        (0x06, QoS::AtMostOnce),
        (0x0e, QoS::AtLeastOnce),
        (0x16, QoS::ExactlyOnce),
    ] {
        let bytes = connect(flags, &payload);
        let Packet::Connect(c) = assert_valid(&bytes) else {
            panic!("not a CONNECT")
        };
        assert_eq!(c.will.map(|w| w.qos), Some(qos), "flags {flags:#04x}");
    }
    assert_eq!(QoS::from_u8(3), None, "will QoS 3 cannot be represented");
}

#[test]
fn mqtt_3_1_2_15_will_retain_must_be_0_without_will_flag() {
    assert_malformed(&connect(0x20, &field(b"id")), DecodeError::WillFlagsWithoutWill);
    assert_malformed(&connect(0x22, &field(b"id")), DecodeError::WillFlagsWithoutWill);
    assert_eq!(encoded(&Packet::Connect(minimal_connect("x")))[9] & 0x20, 0);
}

#[test]
fn mqtt_3_1_2_18_no_user_name_field_without_user_name_flag() {
    // Flag 0 but a user name field follows: those bytes are left over.
    assert_malformed(
        &connect(0x02, &cat(&[&field(b"id"), &field(b"alice")])),
        DecodeError::TrailingBytes,
    );
    let bytes = encoded(&Packet::Connect(minimal_connect("x")));
    assert_eq!(bytes[9] & 0x80, 0, "user name flag");
    assert_eq!(bytes.len(), 2 + 10 + 3, "no user name field written");
}

#[test]
fn mqtt_3_1_2_19_user_name_flag_requires_user_name() {
    assert_malformed(&connect(0x82, &field(b"id")), DecodeError::UnexpectedEnd);
    assert_malformed(
        &connect(0x82, &cat(&[&field(b"id"), &[0x00]])),
        DecodeError::UnexpectedEnd,
    );
    let bytes = connect(0x82, &cat(&[&field(b"id"), &field(b"alice")]));
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.username, Some("alice"));
    let mut c = minimal_connect("x");
    c.username = Some("alice");
    let bytes = encoded(&Packet::Connect(c));
    assert_eq!(bytes[9], 0x82, "user name flag");
    assert!(bytes.ends_with(&field(b"alice")), "[{}]", hex(&bytes));
}

#[test]
fn mqtt_3_1_2_20_no_password_field_without_password_flag() {
    assert_malformed(
        &connect(0x82, &cat(&[&field(b"id"), &field(b"alice"), &field(b"pw")])),
        DecodeError::TrailingBytes,
    );
    let mut c = minimal_connect("x");
    c.username = Some("alice");
    let bytes = encoded(&Packet::Connect(c));
    assert_eq!(bytes[9] & 0x40, 0, "password flag");
    assert!(bytes.ends_with(&field(b"alice")), "nothing after the user name");
}

#[test]
fn mqtt_3_1_2_21_password_flag_requires_password() {
    let head = cat(&[&field(b"id"), &field(b"alice")]);
    assert_malformed(&connect(0xc2, &head), DecodeError::UnexpectedEnd);
    assert_malformed(
        &connect(0xc2, &cat(&[&head, &[0x00, 0x03, b'p']])),
        DecodeError::UnexpectedEnd,
    );
    let bytes = connect(0xc2, &cat(&[&head, &field(b"pw")]));
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.password, Some(&b"pw"[..]));
}

#[test]
fn mqtt_3_1_2_22_password_without_user_name_is_malformed() {
    assert_malformed(
        &connect(0x42, &cat(&[&field(b"id"), &field(b"pw")])),
        DecodeError::PasswordWithoutUserName,
    );
    let mut c = minimal_connect("id");
    c.password = Some(b"pw");
    assert_refused(&Packet::Connect(c), EncodeError::PasswordWithoutUserName);
}

#[test]
fn mqtt_3_1_3_1_payload_fields_in_fixed_order() {
    // Client Identifier, Will Topic, Will Message, User Name, Password: distinct contents so a
    // field read from the wrong position would show.
    let payload = cat(&[
        &field(b"client"),
        &field(b"will/topic"),
        &field(b"will-message"),
        &field(b"user"),
        &field(b"password"),
    ]);
    let bytes = connect(0xce, &payload); // user, password, will QoS 1, will, clean
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.client_id, "client");
    let will = c.will.expect("will");
    assert_eq!(
        (will.topic.as_str(), will.message),
        ("will/topic", &b"will-message"[..])
    );
    assert_eq!(c.username, Some("user"));
    assert_eq!(c.password, Some(&b"password"[..]));
    assert_eq!(
        encoded(&Packet::Connect(c)),
        bytes,
        "the encoder writes the same order"
    );
}

#[test]
fn mqtt_3_1_3_3_client_id_is_always_present_and_first() {
    // Variable header only (remaining length 10): the client id field is missing.
    assert_malformed(&connect(0x02, &[]), DecodeError::UnexpectedEnd);
    // Half a length prefix.
    assert_malformed(&connect(0x02, &[0x00]), DecodeError::UnexpectedEnd);
    // A length that runs past the end.
    assert_malformed(&connect(0x02, &[0x00, 0x05, b'a']), DecodeError::UnexpectedEnd);
    // Zero-length is allowed.
    let empty_id = connect(0x02, &field(b""));
    let Packet::Connect(c) = assert_valid(&empty_id) else {
        panic!()
    };
    assert_eq!(c.client_id, "");
}

#[test]
fn mqtt_3_1_3_4_client_id_must_be_a_valid_utf8_string() {
    for bad in BAD_UTF8 {
        assert_malformed(&connect(0x02, &field(bad)), DecodeError::InvalidUtf8);
    }
    assert_malformed(&connect(0x02, &field(b"\0")), DecodeError::NullCharacter);
    // Encoder: longest allowed, one too long, and U+0000.
    let longest = "c".repeat(65_535);
    let bytes = encoded(&Packet::Connect(minimal_connect(&longest)));
    assert_eq!(
        &bytes[14..16],
        &[0xff, 0xff],
        "65535-byte client id length prefix"
    );
    assert_eq!(assert_valid(&bytes), Packet::Connect(minimal_connect(&longest)));
    let too_long = "c".repeat(65_536);
    assert_refused(
        &Packet::Connect(minimal_connect(&too_long)),
        EncodeError::FieldTooLong,
    );
    assert_refused(
        &Packet::Connect(minimal_connect("a\0")),
        EncodeError::NullCharacter,
    );
}

#[test]
fn mqtt_3_1_3_7_empty_client_id_requires_clean_session() {
    let mut c = minimal_connect("");
    c.clean_session = false;
    assert_refused(&Packet::Connect(c), EncodeError::EmptyClientIdWithoutCleanSession);
    // With clean session it is fine.
    assert_eq!(encoded(&Packet::Connect(minimal_connect(""))).len(), 14);
    // The decoder still accepts it: the packet is well formed, and the server is the one that
    // must answer CONNACK 0x02 ([MQTT-3.1.3-8]).
    let persistent = connect(0x00, &field(b""));
    let Packet::Connect(d) = assert_valid(&persistent) else {
        panic!()
    };
    assert_eq!((d.client_id, d.clean_session), ("", false));
}

#[test]
fn mqtt_3_1_3_10_will_topic_must_be_a_valid_topic_name() {
    let id = field(b"id");
    let will = |t: &[u8]| connect(0x06, &cat(&[&id, &field(t), &field(b"m")]));
    assert_malformed(&will(b"a/+"), DecodeError::WildcardInTopicName);
    assert_malformed(&will(b"#"), DecodeError::WildcardInTopicName);
    assert_malformed(&will(b""), DecodeError::EmptyTopic);
    assert_malformed(&will(b"w\0"), DecodeError::NullCharacter);
    for bad in BAD_UTF8 {
        assert_malformed(&will(bad), DecodeError::InvalidUtf8);
    }
    // The will message is binary data with its own 65535-byte limit.
    let message = vec![0u8; 65_536];
    let mut c = minimal_connect("id");
    c.will = Some(LastWill {
        topic: topic("w"),
        message: &message,
        qos: QoS::AtMostOnce,
        retain: false,
    });
    assert_refused(&Packet::Connect(c), EncodeError::FieldTooLong);
    c.will = Some(LastWill {
        topic: topic("w"),
        message: &message[..65_535],
        qos: QoS::AtMostOnce,
        retain: false,
    });
    assert_eq!(assert_valid(&encoded(&Packet::Connect(c))), Packet::Connect(c));
}

#[test]
fn mqtt_3_1_3_11_user_name_must_be_a_valid_utf8_string() {
    let id = field(b"id");
    for bad in BAD_UTF8 {
        assert_malformed(
            &connect(0x82, &cat(&[&id, &field(bad)])),
            DecodeError::InvalidUtf8,
        );
    }
    assert_malformed(
        &connect(0x82, &cat(&[&id, &field(b"\0")])),
        DecodeError::NullCharacter,
    );
    let long = "u".repeat(65_536);
    let mut c = minimal_connect("id");
    c.username = Some(&long);
    assert_refused(&Packet::Connect(c), EncodeError::FieldTooLong);
    c.username = Some("us\0er");
    assert_refused(&Packet::Connect(c), EncodeError::NullCharacter);
    // The password is binary, but has the same 65535-byte limit (3.1.3.5).
    let password = vec![0xffu8; 65_536];
    c.username = Some("user");
    c.password = Some(&password);
    assert_refused(&Packet::Connect(c), EncodeError::FieldTooLong);
}

// ---------------------------------------------------------------------------------------------
// 3.2 CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_2_2_4_session_present_on_refusal_is_malformed() {
    for code in 1..=5u8 {
        assert_malformed(&[0x20, 0x02, 0x01, code], DecodeError::SessionPresentOnRefusal);
    }
    for code in [
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::ServerUnavailable,
        ConnectReturnCode::BadUserNameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ] {
        assert_refused(
            &Packet::ConnAck(ConnAck {
                session_present: true,
                code,
            }),
            EncodeError::SessionPresentOnRefusal,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3.3 PUBLISH
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_3_1_2_dup_with_qos0_is_malformed() {
    assert_malformed(&publish(0x38, b"a", b"x"), DecodeError::DupWithQos0);
    assert_malformed(&publish(0x39, b"a", b"x"), DecodeError::DupWithQos0);
    assert_eq!(
        decode(&[0x38]),
        Err(DecodeError::DupWithQos0),
        "from byte 0 alone"
    );
    let p = Publish {
        dup: true,
        delivery: Delivery::AtMostOnce,
        retain: false,
        topic: topic("a"),
        payload: b"x",
    };
    assert_refused(&Packet::Publish(p), EncodeError::DupWithQos0);
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    for first in [0x36, 0x37, 0x3e, 0x3f] {
        assert_malformed(&publish(first, b"a", &[0x00, 0x01]), DecodeError::InvalidQos);
        assert_eq!(
            decode(&[first]),
            Err(DecodeError::InvalidQos),
            "{first:#04x} alone"
        );
    }
    assert_eq!(QoS::from_u8(3), None);
    assert_eq!(QoS::try_from(3u8), Err(3));
}

#[test]
fn mqtt_3_3_2_1_topic_name_is_the_first_field_and_a_utf8_string() {
    // A body too short for the length prefix, and a topic length that runs past the end.
    assert_malformed(&[0x30, 0x01, 0x00], DecodeError::UnexpectedEnd);
    assert_malformed(&[0x30, 0x00], DecodeError::UnexpectedEnd);
    assert_malformed(&[0x30, 0x04, 0x00, 0x05, b'a', b'b'], DecodeError::UnexpectedEnd);
    for bad in BAD_UTF8 {
        assert_malformed(&publish(0x32, bad, &[0x00, 0x01]), DecodeError::InvalidUtf8);
    }
}

#[test]
fn mqtt_3_3_2_2_wildcard_in_publish_topic_is_malformed() {
    for t in [
        &b"+"[..],
        b"#",
        b"a/+",
        b"a/#",
        b"+/b",
        b"a+b",
        b"a#",
        b"sport/tennis/#",
    ] {
        assert_malformed(&publish(0x30, t, b"x"), DecodeError::WildcardInTopicName);
        assert_malformed(&publish(0x32, t, &[0x00, 0x01]), DecodeError::WildcardInTopicName);
    }
}

// ---------------------------------------------------------------------------------------------
// 3.8 - 3.11 SUBSCRIBE, SUBACK, UNSUBSCRIBE
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_8_3_1_subscribe_filters_are_utf8_strings() {
    for bad in BAD_UTF8 {
        assert_malformed(&subscribe(&[(bad, 0)]), DecodeError::InvalidUtf8);
    }
    assert_malformed(&subscribe(&[(b"a/\0", 0)]), DecodeError::NullCharacter);
    // A filter length that runs past the remaining length.
    assert_malformed(
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x09, b'a'],
        DecodeError::UnexpectedEnd,
    );
}

#[test]
fn mqtt_3_8_3_3_subscribe_without_filters_is_malformed() {
    assert_malformed(
        &[0x82, 0x02, 0x00, 0x01],
        DecodeError::EmptyPayload(PacketType::Subscribe),
    );
    let s = Subscribe {
        packet_id: pid(1),
        topics: Entries::new(&[]),
    };
    assert_refused(&Packet::Subscribe(s), EncodeError::EmptyPayload);
}

#[test]
fn mqtt_3_8_3_4_requested_qos_reserved_bits_and_qos_3_are_malformed() {
    // Every byte other than 0, 1, 2: QoS 3 and all patterns with bits 7..2 set (0x04..0xff).
    for b in 3..=255u8 {
        assert_malformed(&subscribe(&[(b"a", b)]), DecodeError::InvalidRequestedQos(b));
        assert_malformed(
            &subscribe(&[(b"a", 1), (b"b", b)]),
            DecodeError::InvalidRequestedQos(b),
        );
    }
    for b in 0..=2u8 {
        assert_valid(&subscribe(&[(b"a", b)]));
    }
}

#[test]
fn mqtt_3_9_3_2_suback_return_codes_other_than_0_1_2_0x80_are_malformed() {
    for code in 0..=255u8 {
        let bytes = [0x90, 0x03, 0x00, 0x01, code];
        match code {
            0x00 | 0x01 | 0x02 | 0x80 => {
                assert_valid(&bytes);
            }
            _ => assert_malformed(&bytes, DecodeError::InvalidSubAckCode(code)),
        }
    }
    assert_malformed(
        &[0x90, 0x04, 0x00, 0x01, 0x00, 0x03],
        DecodeError::InvalidSubAckCode(0x03),
    );
    assert_malformed(
        &[0x90, 0x04, 0x00, 0x01, 0x81, 0x00],
        DecodeError::InvalidSubAckCode(0x81),
    );
    assert_eq!(SubAckReturnCode::from_u8(0x03), None);
    assert_eq!(SubAckReturnCode::from_u8(0x81), None);
    // An empty SUBACK payload answers no filter at all (3.9.3: one code per filter).
    assert_malformed(
        &[0x90, 0x02, 0x00, 0x01],
        DecodeError::EmptyPayload(PacketType::SubAck),
    );
    let s = SubAck {
        packet_id: pid(1),
        codes: Entries::new(&[]),
    };
    assert_refused(&Packet::SubAck(s), EncodeError::EmptyPayload);
}

#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_are_utf8_strings_back_to_back() {
    for bad in BAD_UTF8 {
        assert_malformed(&unsubscribe(&[b"a", bad]), DecodeError::InvalidUtf8);
    }
    assert_malformed(&unsubscribe(&[b"\0"]), DecodeError::NullCharacter);
    // A second filter cut short by the remaining length.
    #[rustfmt::skip]
    let cut: &[u8] = &[
        0xa2, 0x05, // UNSUBSCRIBE, remaining length 5 = 2 + (2 + 1)
        0x00, 0x01, // packet id 1
        0x00, 0x01, b'a', // filter "a"
    ];
    assert_valid(cut);
    let mut longer = cut.to_vec();
    longer[1] = 0x06;
    longer.push(0x00); // half of a second length prefix
    assert_malformed(&longer, DecodeError::UnexpectedEnd);
    // Filters are packed with no separator: "a", "b/c" decode as two entries.
    let bytes = unsubscribe(&[b"a", b"b/c"]);
    let Packet::Unsubscribe(u) = assert_valid(&bytes) else {
        panic!()
    };
    let got: Vec<&str> = u.topics.iter().map(|f| f.as_str()).collect();
    assert_eq!(got, ["a", "b/c"]);
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_without_filters_is_malformed() {
    assert_malformed(
        &[0xa2, 0x02, 0x00, 0x01],
        DecodeError::EmptyPayload(PacketType::Unsubscribe),
    );
    let u = Unsubscribe {
        packet_id: pid(1),
        topics: Entries::new(&[]),
    };
    assert_refused(&Packet::Unsubscribe(u), EncodeError::EmptyPayload);
}

// ---------------------------------------------------------------------------------------------
// 4.3 QoS 0 sender, 4.7 Topic names and filters, 7 Conformance
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_4_3_1_1_qos0_publish_is_sent_with_qos_0_and_dup_0() {
    let p = Publish::new(topic("t"), b"x", Delivery::AtMostOnce, false);
    assert!(!p.dup);
    assert_eq!(encoded(&Packet::Publish(p))[0], 0x30);
    let p = Publish::new(topic("t"), b"x", Delivery::AtMostOnce, true);
    assert_eq!(encoded(&Packet::Publish(p))[0], 0x31, "retain only");
    let dup = Publish { dup: true, ..p };
    assert_refused(&Packet::Publish(dup), EncodeError::DupWithQos0);
}

#[test]
fn mqtt_4_7_1_1_wildcards_only_in_topic_filters() {
    for s in ["+", "#", "a/+", "a/#", "+/+/b"] {
        assert_eq!(TopicName::new(s), Err(TopicError::WildcardInName), "{s}");
        assert!(TopicFilter::new(s).is_ok(), "{s} is a valid filter");
        // Rejected as a PUBLISH topic, accepted as a SUBSCRIBE / UNSUBSCRIBE filter.
        assert_malformed(
            &publish(0x30, s.as_bytes(), b""),
            DecodeError::WildcardInTopicName,
        );
        assert_valid(&subscribe(&[(s.as_bytes(), 0)]));
        assert_valid(&unsubscribe(&[s.as_bytes()]));
    }
}

/// Filters with `#` somewhere other than a whole last level ([MQTT-4.7.1-2]).
const BAD_HASH: &[&str] = &["a#", "#a", "a/#/b", "#/", "#/a", "##", "a/b#", "a/#/", "/#/"];
/// Filters with `+` sharing a level ([MQTT-4.7.1-3]).
const BAD_PLUS: &[&str] = &["a+", "+a", "a/+b", "a/b+/c", "++", "+/++", "a/+/b+"];

#[test]
fn mqtt_4_7_1_2_misplaced_hash_in_filter_is_malformed() {
    for f in BAD_HASH {
        assert_eq!(TopicFilter::new(f), Err(TopicError::MisplacedWildcard), "{f}");
        assert_malformed(&subscribe(&[(f.as_bytes(), 0)]), DecodeError::InvalidTopicFilter);
        assert_malformed(&unsubscribe(&[f.as_bytes()]), DecodeError::InvalidTopicFilter);
    }
    for f in ["#", "a/#", "/#", "+/#", "a/b/c/#", "$SYS/#"] {
        assert!(TopicFilter::new(f).is_ok(), "{f}");
        assert_valid(&subscribe(&[(f.as_bytes(), 2)]));
        assert_valid(&unsubscribe(&[f.as_bytes()]));
    }
}

#[test]
fn mqtt_4_7_1_3_plus_must_fill_a_whole_level() {
    for f in BAD_PLUS {
        assert_eq!(TopicFilter::new(f), Err(TopicError::MisplacedWildcard), "{f}");
        assert_malformed(&subscribe(&[(f.as_bytes(), 1)]), DecodeError::InvalidTopicFilter);
        assert_malformed(&unsubscribe(&[f.as_bytes()]), DecodeError::InvalidTopicFilter);
    }
    for f in ["+", "+/+", "/+", "+/", "a/+/b", "+/tennis/#", "sport/+/player1"] {
        assert!(TopicFilter::new(f).is_ok(), "{f}");
        assert_valid(&subscribe(&[(f.as_bytes(), 0)]));
        assert_valid(&unsubscribe(&[f.as_bytes()]));
    }
}

#[test]
fn mqtt_4_7_3_1_empty_topic_is_malformed() {
    assert_malformed(&[0x30, 0x02, 0x00, 0x00], DecodeError::EmptyTopic); // PUBLISH topic ""
    assert_malformed(&publish(0x32, b"", &[0x00, 0x01]), DecodeError::EmptyTopic);
    assert_malformed(
        &connect(0x06, &cat(&[&field(b"id"), &field(b""), &field(b"m")])),
        DecodeError::EmptyTopic,
    );
    assert_malformed(&subscribe(&[(b"", 0)]), DecodeError::EmptyTopic);
    assert_malformed(&unsubscribe(&[b""]), DecodeError::EmptyTopic);
    assert_eq!(TopicName::new(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::new(""), Err(TopicError::Empty));
}

#[test]
fn mqtt_4_7_3_2_null_character_in_topic_is_malformed() {
    assert_malformed(&publish(0x30, b"\0", b""), DecodeError::NullCharacter);
    assert_malformed(&subscribe(&[(b"a/\0/#", 0)]), DecodeError::NullCharacter);
    assert_malformed(&unsubscribe(&[b"+/\0"]), DecodeError::NullCharacter);
    assert_eq!(TopicName::new("a/\0"), Err(TopicError::NullCharacter));
    assert_eq!(TopicFilter::new("\0/#"), Err(TopicError::NullCharacter));
}

#[test]
fn mqtt_4_7_3_3_topics_are_at_most_65535_bytes() {
    let longest = "t".repeat(65_535);
    let too_long = "t".repeat(65_536);
    assert_eq!(TopicName::new(&too_long), Err(TopicError::TooLong));
    assert_eq!(TopicFilter::new(&too_long), Err(TopicError::TooLong));
    let name = TopicName::new(&longest).expect("65535 bytes is allowed");
    assert!(TopicFilter::new(&longest).is_ok());
    // A 65535-byte topic encodes with length prefix ff ff and decodes back.
    let p = Packet::Publish(Publish::new(name, b"", Delivery::AtMostOnce, false));
    let bytes = encoded(&p);
    assert_eq!(
        &bytes[..6],
        &[0x30, 0x81, 0x80, 0x04, 0xff, 0xff],
        "rem 65537 = 01 + 0*128 + 4*16384"
    );
    assert_eq!(assert_valid(&bytes), p);
}

#[test]
fn mqtt_7_0_0_2_no_extensions_outside_the_spec() {
    // No MQTT 5 (level 5, AUTH = type 15) and no MQTT 3.1 ("MQIsdp") is accepted.
    assert_malformed(
        &connect_raw(b"MQTT", 5, 0x02, &field(b"id")),
        DecodeError::UnsupportedProtocolLevel(5),
    );
    assert_malformed(
        &connect_raw(b"MQIsdp", 3, 0x02, &field(b"id")),
        DecodeError::InvalidProtocolName,
    );
    assert_malformed(&[0xf0, 0x00], DecodeError::ReservedPacketType(15));
    // An MQTT 5 style CONNACK with a properties length byte is just too long for 3.1.1.
    assert_malformed(&[0x20, 0x03, 0x00, 0x00, 0x00], DecodeError::TrailingBytes);
}

// ---------------------------------------------------------------------------------------------
// Section C: unnumbered codec rules
// ---------------------------------------------------------------------------------------------

#[test]
fn sec_1_5_2_integers_are_big_endian() {
    assert_eq!(encoded(&Packet::PubAck(pid(0x1234))), [0x40, 0x02, 0x12, 0x34]);
    assert_eq!(assert_valid(&[0x70, 0x02, 0x01, 0x00]), Packet::PubComp(pid(256)));
    // keep alive 0x0102 = 258 s
    let bytes = frame(
        0x10,
        &cat(&[&field(b"MQTT"), &[0x04, 0x02, 0x01, 0x02], &field(b"k")]),
    );
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!()
    };
    assert_eq!(c.keep_alive, 258);
}

#[test]
fn sec_1_5_3_strings_have_a_2_byte_length_and_at_most_65535_bytes() {
    // The length prefix counts bytes: "é" is 2 bytes.
    let bytes = publish(0x30, "\u{e9}".as_bytes(), b"");
    assert_eq!(&bytes[2..6], &[0x00, 0x02, 0xc3, 0xa9]);
    assert_valid(&bytes);
    // 65535 is the largest length a prefix can express; 65536 cannot be encoded.
    let id = "x".repeat(65_535);
    let c = minimal_connect(&id);
    assert_eq!(assert_valid(&encoded(&Packet::Connect(c))), Packet::Connect(c));
    let id = "x".repeat(65_536);
    assert_refused(&Packet::Connect(minimal_connect(&id)), EncodeError::FieldTooLong);
}

#[test]
fn sec_1_5_3_control_and_non_characters_are_accepted_by_default() {
    // SHOULD NOT, MAY close: the codec does not reject these by default.
    let t = "a\u{1}b\u{1f}c\u{7f}d\u{85}e\u{9f}f\u{fffe}\u{ffff}";
    let bytes = publish(0x30, t.as_bytes(), b"");
    let Packet::Publish(p) = assert_valid(&bytes) else {
        panic!()
    };
    assert_eq!(p.topic.as_str(), t);
    assert!(TopicName::new(t).is_ok());
}

#[test]
fn sec_2_2_1_reserved_packet_types_0_and_15_are_malformed() {
    for flags in 0..16u8 {
        for t in [0u8, 15] {
            let first = (t << 4) | flags;
            assert_malformed(&[first, 0x00], DecodeError::ReservedPacketType(t));
            assert_eq!(
                decode(&[first]),
                Err(DecodeError::ReservedPacketType(t)),
                "{first:#04x}"
            );
        }
    }
    assert_eq!(PacketType::from_u8(0), None);
    assert_eq!(PacketType::from_u8(15), None);
}

#[test]
fn sec_2_2_3_fifth_remaining_length_byte_is_malformed() {
    assert_malformed(
        &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
        DecodeError::MalformedRemainingLength,
    );
    assert_malformed(
        &[0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
        DecodeError::MalformedRemainingLength,
    );
    assert_malformed(
        &[0xc0, 0x80, 0x80, 0x80, 0x80, 0x00],
        DecodeError::MalformedRemainingLength,
    );
    // Reported as soon as the fourth length byte has its continuation bit (5 bytes in).
    assert_eq!(
        decode(&[0x30, 0x80, 0x80, 0x80, 0x80]),
        Err(DecodeError::MalformedRemainingLength)
    );
    assert_eq!(
        peek_fixed_header(&[0x30, 0xff, 0xff, 0xff, 0x80]),
        Err(DecodeError::MalformedRemainingLength)
    );
}

#[test]
fn sec_2_2_3_largest_remaining_length_is_268435455() {
    let Ok(Status::Complete(h)) = peek_fixed_header(&[0x30, 0xff, 0xff, 0xff, 0x7f]) else {
        panic!("ff ff ff 7f is a valid Remaining Length");
    };
    assert_eq!((h.header_len, h.remaining_len), (5, 268_435_455));
    assert_eq!(h.packet_len(), 268_435_460);
    // decode waits for the whole body, and says exactly how much.
    let Ok(Status::Partial { needed }) = decode(&[0x30, 0xff, 0xff, 0xff, 0x7f]) else {
        panic!()
    };
    assert_eq!(needed.get(), 268_435_455);
}

#[test]
fn sec_2_2_3_packet_too_large_to_encode() {
    const MAX: usize = 268_435_455;
    // Remaining Length = 2 + 1 (topic "t") + payload. One allocation, shared by both halves.
    let big = vec![0u8; MAX - 3 + 1];
    let over = Packet::Publish(Publish::new(topic("t"), &big, Delivery::AtMostOnce, false));
    // encoded_len still reports the (unencodable) size; encode refuses before looking at the
    // buffer size, so even an empty or short buffer gives PacketTooLarge, untouched.
    assert_eq!(over.encoded_len(), 1 + 4 + MAX + 1);
    assert_eq!(over.encode(&mut []), Err(EncodeError::PacketTooLarge));
    let mut small = [POISON; 16];
    assert_eq!(over.encode(&mut small), Err(EncodeError::PacketTooLarge));
    assert_eq!(small, [POISON; 16]);
    let mut sink: Vec<u8> = Vec::new();
    assert_eq!(
        over.encode_to(&mut sink),
        Err(EncodeToError::Encode(EncodeError::PacketTooLarge))
    );
    assert!(sink.is_empty());
    // One byte less is exactly the limit: it passes the size check and only the buffer is short.
    let limit = Packet::Publish(Publish::new(topic("t"), &big[1..], Delivery::AtMostOnce, false));
    assert_eq!(limit.encoded_len(), 1 + 4 + MAX);
    assert_eq!(
        limit.encode(&mut small),
        Err(EncodeError::BufferTooSmall { needed: 1 + 4 + MAX })
    );
    assert_eq!(small, [POISON; 16]);
}

#[test]
fn sec_2_2_3_remaining_length_counts_variable_header_and_payload() {
    // Too short: a field runs past the Remaining Length even though more bytes follow in the
    // buffer (they belong to the next packet).
    let short = [0x30, 0x03, 0x00, 0x03, b'a', b'b', b'c'];
    assert_eq!(
        decode(&short),
        Err(DecodeError::UnexpectedEnd),
        "[{}]",
        hex(&short)
    );
    // Too long: bytes left after the last CONNECT field.
    let connect_trailing = connect(0x02, &cat(&[&field(b"id"), &[0x00]]));
    assert_malformed(&connect_trailing, DecodeError::TrailingBytes);
    let connect_all_trailing = connect(
        0xc6,
        &cat(&[
            &field(b"id"),
            &field(b"w"),
            &field(b"m"),
            &field(b"u"),
            &field(b"p"),
            b"!",
        ]),
    );
    assert_malformed(&connect_all_trailing, DecodeError::TrailingBytes);
    // SUBSCRIBE: trailing half entry (filter without its QoS byte).
    assert_malformed(
        &frame(0x82, &cat(&[&[0x00, 0x01], &field(b"a"), &[0x00], &field(b"b")])),
        DecodeError::UnexpectedEnd,
    );
    // The fixed header is not counted: PINGREQ has Remaining Length 0 and is 2 bytes long.
    let Ok(Status::Complete(h)) = peek_fixed_header(&[0xc0, 0x00]) else {
        panic!()
    };
    assert_eq!((h.header_len, h.remaining_len), (2, 0));
}

#[test]
fn sec_3_1_2_1_connect_variable_header_starts_00_04_mqtt_04() {
    let bytes = encoded(&Packet::Connect(minimal_connect("abc")));
    assert_eq!(
        &bytes[2..9],
        &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04],
        "[{}]",
        hex(&bytes)
    );
}

#[test]
fn sec_3_1_3_3_will_message_and_password_are_binary_not_utf8() {
    let not_utf8: &[u8] = &[0xff, 0x00, 0xed, 0xa0, 0x80, 0xc0, 0x80];
    let payload = cat(&[
        &field(b"id"),
        &field(b"w"),
        &field(not_utf8),
        &field(b"u"),
        &field(not_utf8),
    ]);
    let bytes = connect(0xc6, &payload);
    let Packet::Connect(c) = assert_valid(&bytes) else {
        panic!()
    };
    assert_eq!(c.will.map(|w| w.message), Some(not_utf8));
    assert_eq!(c.password, Some(not_utf8));
    assert_eq!(encoded(&Packet::Connect(c)), bytes);
}

#[test]
fn sec_3_2_2_1_connack_remaining_length_2_and_reserved_flags() {
    for flags in 2..=255u8 {
        assert_malformed(
            &[0x20, 0x02, flags, 0x00],
            DecodeError::ReservedConnAckFlags(flags),
        );
    }
    assert_malformed(&[0x20, 0x00], DecodeError::UnexpectedEnd);
    assert_malformed(&[0x20, 0x01, 0x00], DecodeError::UnexpectedEnd);
    assert_malformed(&[0x20, 0x03, 0x00, 0x00, 0x00], DecodeError::TrailingBytes);
}

#[test]
fn sec_3_2_2_3_connack_return_codes_6_to_255_are_malformed() {
    for code in 6..=255u8 {
        assert_malformed(
            &[0x20, 0x02, 0x00, code],
            DecodeError::InvalidConnectReturnCode(code),
        );
        assert_eq!(ConnectReturnCode::from_u8(code), None);
    }
    for code in 0..=5u8 {
        let Packet::ConnAck(c) = assert_valid(&[0x20, 0x02, 0x00, code]) else {
            panic!()
        };
        assert_eq!(c.code.as_u8(), code);
    }
}

#[test]
fn sec_3_3_2_2_packet_id_only_when_qos_above_0_and_empty_payload_is_valid() {
    // QoS 1 and 2 need the 2-byte packet id after the topic.
    assert_malformed(&publish(0x32, b"a", b""), DecodeError::UnexpectedEnd);
    assert_malformed(&publish(0x34, b"a", &[0x01]), DecodeError::UnexpectedEnd);
    // Payload length = Remaining Length - variable header; zero is fine at every QoS.
    for (first, rest) in [
        (0x30, &[][..]),
        (0x32, &[0x00, 0x01][..]),
        (0x34, &[0x00, 0x01][..]),
    ] {
        let bytes = publish(first, b"a", rest);
        let Packet::Publish(p) = assert_valid(&bytes) else {
            panic!()
        };
        assert!(p.payload.is_empty(), "{first:#04x}");
    }
}

#[test]
fn sec_3_4_fixed_length_acks_have_remaining_length_exactly_2() {
    // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK.
    for first in [0x40, 0x50, 0x62, 0x70, 0xb0] {
        assert_malformed(&[first, 0x00], DecodeError::UnexpectedEnd);
        assert_malformed(&[first, 0x01, 0x00], DecodeError::UnexpectedEnd);
        assert_malformed(&[first, 0x03, 0x00, 0x01, 0x00], DecodeError::TrailingBytes);
        assert_valid(&[first, 0x02, 0x00, 0x01]);
    }
}

#[test]
fn sec_3_8_3_subscribe_payload_is_filter_and_qos_pairs() {
    // A filter without its requested-QoS byte.
    assert_malformed(
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        DecodeError::UnexpectedEnd,
    );
    let bytes = subscribe(&[(b"a", 0), (b"b/+", 2)]);
    let Packet::Subscribe(s) = assert_valid(&bytes) else {
        panic!()
    };
    let got: Vec<(&str, QoS)> = s.topics.iter().map(|e| (e.filter.as_str(), e.qos)).collect();
    assert_eq!(got, [("a", QoS::AtMostOnce), ("b/+", QoS::ExactlyOnce)]);
    let entries = [
        Subscription {
            filter: filter("a"),
            qos: QoS::AtMostOnce,
        },
        Subscription {
            filter: filter("b/+"),
            qos: QoS::ExactlyOnce,
        },
    ];
    let built = Subscribe {
        packet_id: pid(1),
        topics: Entries::new(&entries),
    };
    assert_eq!(encoded(&Packet::Subscribe(built)), bytes);
}

#[test]
fn sec_3_9_3_suback_payload_is_one_code_per_filter() {
    let Packet::SubAck(s) = assert_valid(&[0x90, 0x05, 0x00, 0x09, 0x02, 0x80, 0x00]) else {
        panic!()
    };
    assert_eq!(s.packet_id, pid(9));
    let codes: Vec<u8> = s.codes.iter().map(SubAckReturnCode::as_u8).collect();
    assert_eq!(codes, [0x02, 0x80, 0x00]);
    assert_eq!(s.codes.len(), 3);
}

#[test]
fn sec_3_12_pingreq_pingresp_disconnect_have_remaining_length_0() {
    for first in [0xc0, 0xd0, 0xe0] {
        assert_malformed(&[first, 0x01, 0x00], DecodeError::TrailingBytes);
        assert_malformed(&[first, 0x02, 0x00, 0x00], DecodeError::TrailingBytes);
        assert_valid(&[first, 0x00]);
    }
}

#[test]
fn sec_4_7_1_1_levels_separators_case_and_spaces() {
    for ok in [
        "/", "//", "a//b", "/a", "a/", " ", "a b/c d", "$SYS/x", "\u{feff}",
    ] {
        assert!(TopicName::new(ok).is_ok(), "{ok:?} is a valid topic name");
        assert!(TopicFilter::new(ok).is_ok(), "{ok:?} is a valid topic filter");
    }
    // Leading or trailing '/' and case make distinct topics.
    assert!(!topic_matches("a/b", "/a/b"));
    assert!(!topic_matches("a/b", "a/b/"));
    assert!(!topic_matches("a/b", "A/b"));
    assert!(topic_matches("+/+", "/finance"));
    assert!(topic_matches("a b/+", "a b/c d"));
    assert!(filter("sport/+").matches(topic("sport/")));
    assert!(!filter("sport/+").matches(topic("sport")));
}

// ---------------------------------------------------------------------------------------------
// Topic validation types
// ---------------------------------------------------------------------------------------------

#[test]
fn topic_name_new_rejects_what_the_spec_forbids() {
    let too_long = "n".repeat(65_536);
    let cases: [(&str, TopicError); 8] = [
        ("", TopicError::Empty),
        ("+", TopicError::WildcardInName),
        ("#", TopicError::WildcardInName),
        ("a/+/b", TopicError::WildcardInName),
        ("a/b#", TopicError::WildcardInName),
        ("a\0b", TopicError::NullCharacter),
        ("\0", TopicError::NullCharacter),
        (&too_long, TopicError::TooLong),
    ];
    for (s, want) in cases {
        assert_eq!(TopicName::new(s), Err(want), "{:?}", &s[..s.len().min(16)]);
        assert_eq!(TopicName::try_from(s), Err(want));
    }
    let ok = TopicName::new("home/kitchen").expect("valid");
    assert_eq!(ok.as_str(), "home/kitchen");
    assert_eq!(ok, "home/kitchen");
}

#[test]
fn topic_filter_new_rejects_what_the_spec_forbids() {
    let too_long = "f".repeat(65_536);
    assert_eq!(TopicFilter::new(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::new(&too_long), Err(TopicError::TooLong));
    assert_eq!(TopicFilter::new("a/\0"), Err(TopicError::NullCharacter));
    for f in BAD_HASH.iter().chain(BAD_PLUS) {
        assert_eq!(TopicFilter::new(f), Err(TopicError::MisplacedWildcard), "{f}");
        assert_eq!(
            TopicFilter::try_from(*f),
            Err(TopicError::MisplacedWildcard),
            "{f}"
        );
    }
    let ok = TopicFilter::new("home/+/temp/#").expect("valid");
    assert!(ok.matches(topic("home/kitchen/temp/c")));
    assert!(!ok.matches(topic("home/kitchen/light")));
}

#[test]
fn sec_2_2_1_direction_of_flow_of_every_packet_type() {
    for n in 1..=14 {
        let t = PacketType::from_u8(n).expect("types 1 to 14 exist");
        assert_eq!(t.sent_by_client(), !is_server_only(t), "{t} sent by a client");
        assert_eq!(t.sent_by_server(), !is_client_only(t), "{t} sent by a server");
        // PUBLISH and the four acknowledgements of the QoS flows go both ways; nothing else.
        let both = matches!(
            t,
            PacketType::Publish
                | PacketType::PubAck
                | PacketType::PubRec
                | PacketType::PubRel
                | PacketType::PubComp
        );
        assert_eq!(t.sent_by_client() && t.sent_by_server(), both, "{t} both ways");
    }
}

#[test]
fn sec_2_2_1_encode_from_client_refuses_what_only_a_server_sends() {
    let codes = [SubAckReturnCode::Success(QoS::AtLeastOnce)];
    let server_only = [
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: ConnectReturnCode::Accepted,
        }),
        Packet::SubAck(SubAck {
            packet_id: pid(7),
            codes: Entries::new(&codes),
        }),
        Packet::UnsubAck(pid(7)),
        Packet::PingResp,
    ];
    for packet in server_only {
        // `encode` writes it (a server may), the client's encoder refuses it untouched.
        assert_eq!(encoded(&packet)[0] >> 4, packet.packet_type() as u8);
        let mut buf = [POISON; 16];
        assert_eq!(
            encode_from_client(&packet, &mut buf),
            Err(EncodeError::ServerOnlyPacket),
            "{packet:?}"
        );
        assert_eq!(buf, [POISON; 16], "{packet:?}");
    }
    // Everything a client sends gives the bytes `encode` gives (`encoded` compares them).
    let subs = [Subscription {
        filter: filter("a/#"),
        qos: QoS::AtMostOnce,
    }];
    let filters = [filter("a/+")];
    let client = [
        Packet::Connect(minimal_connect("c")),
        Packet::Publish(Publish::new(
            topic("t"),
            b"x",
            Delivery::AtLeastOnce(pid(3)),
            true,
        )),
        Packet::PubAck(pid(3)),
        Packet::PubRec(pid(3)),
        Packet::PubRel(pid(3)),
        Packet::PubComp(pid(3)),
        Packet::Subscribe(Subscribe {
            packet_id: pid(4),
            topics: Entries::new(&subs),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(5),
            topics: Entries::new(&filters),
        }),
        Packet::PingReq,
        Packet::Disconnect,
    ];
    for packet in client {
        assert!(packet.packet_type().sent_by_client());
        let bytes = encoded(&packet);
        assert_eq!(decode(&bytes), Ok(Status::Complete((packet, bytes.len()))));
    }
}

#[test]
fn sec_2_2_1_decode_from_server_refuses_what_only_a_client_sends() {
    // Table 2.1's direction of flow: a server never sends these five.
    let client_only: [(&[u8], PacketType); 5] = [
        (
            &[0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0],
            PacketType::Connect,
        ),
        (&[0x82, 0x06, 0, 1, 0, 1, b'a', 0], PacketType::Subscribe),
        (&[0xa2, 0x05, 0, 1, 0, 1, b'a'], PacketType::Unsubscribe),
        (&[0xc0, 0x00], PacketType::PingReq),
        (&[0xe0, 0x00], PacketType::Disconnect),
    ];
    for (bytes, t) in client_only {
        assert!(matches!(decode(bytes), Ok(Status::Complete((p, _))) if p.packet_type() == t));
        assert_eq!(
            decode_from_server(bytes),
            Err(DecodeError::UnexpectedPacketType(t)),
            "{t}"
        );
        // Still only once the whole packet is in: a prefix is partial, as for `decode`.
        assert_eq!(
            decode_from_server(&bytes[..bytes.len() - 1]),
            decode(&bytes[..bytes.len() - 1])
        );
    }
    // Everything a server sends decodes exactly as with `decode`.
    let from_server: [&[u8]; 9] = [
        &[0x20, 0x02, 0x01, 0x00],
        &[0x30, 0x04, 0, 1, b't', b'x'],
        &[0x40, 0x02, 0, 7],
        &[0x50, 0x02, 0, 7],
        &[0x62, 0x02, 0, 7],
        &[0x70, 0x02, 0, 7],
        &[0x90, 0x04, 0, 7, 0x01, 0x80],
        &[0xb0, 0x02, 0, 7],
        &[0xd0, 0x00],
    ];
    for bytes in from_server {
        let Ok(Status::Complete((p, n))) = decode_from_server(bytes) else {
            panic!("[{}] should decode", hex(bytes));
        };
        assert_eq!((p, n), (assert_valid(bytes), bytes.len()));
    }
}
