//! Part 1: the codec against hand-written byte vectors.
//!
//! Every expected byte below was worked out by hand from the MQTT 3.1.1 specification
//! (sections 2 and 3), field by field, not produced by the encoder. A few are the same
//! packets as in `tests/data/vectors_table.rs` (marked "as in vectors_table"), which the host
//! test suite checks too; the others are new.
//!
//! For each vector: `encoded_len`, `encode` (exact bytes, nothing written past the end),
//! `encode_to` an `embedded_io::Write`, `decode` (exact value and length), re-encoding the
//! decoded value, every strict prefix decoding as `Partial` (with the exact `needed` once the
//! fixed header is in), and decoding the packet followed by another one. Then malformed
//! inputs with their exact `DecodeError` (through `decode` and `read_packet`), and packets
//! the encoder must refuse with their exact `EncodeError`.

use umqtt::{
    ConnAck, Connect, ConnectReturnCode, DecodeError, Delivery, EncodeError, Entries, LastWill, Packet,
    PacketId, PacketType, Publish, QoS, ReadPacketError, Status, SubAck, SubAckReturnCode, Subscribe,
    Subscription, TopicFilter, TopicName, Unsubscribe, decode, read_packet,
};

use crate::check::{self, check};
use crate::stack;

/// A packet identifier known to be non-zero at compile time.
pub const fn pid(n: u16) -> PacketId {
    match PacketId::new(n) {
        Some(id) => id,
        None => panic!("packet identifier 0"),
    }
}

/// A topic name the firmware knows to be valid (a panic here is a firmware bug).
pub fn name(s: &str) -> TopicName<'_> {
    match TopicName::new(s) {
        Ok(t) => t,
        Err(_) => panic!("invalid topic name in the firmware"),
    }
}

/// A topic filter the firmware knows to be valid.
pub fn filter(s: &str) -> TopicFilter<'_> {
    match TopicFilter::new(s) {
        Ok(f) => f,
        Err(_) => panic!("invalid topic filter in the firmware"),
    }
}

/// Bytes 0, 1, 2, ... so that a shifted or cut payload shows.
pub const fn ramp<const N: usize>() -> [u8; N] {
    let mut a = [0u8; N];
    let mut i = 0;
    while i < N {
        a[i] = i as u8;
        i += 1;
    }
    a
}

/// A 200-byte counting payload, shared with the client script.
pub static RAMP: [u8; 200] = ramp::<200>();

// ---------------------------------------------------------------------------------------
// Expected bytes, one packet per constant.
// ---------------------------------------------------------------------------------------

/// CONNECT, clean session, keep alive 60 s, client id "umqtt" (as in vectors_table).
#[rustfmt::skip]
const CONNECT_MINIMAL: &[u8] = &[
    0x10,                                // CONNECT, flags 0000
    0x11,                                // remaining length 17 = 10 + (2 + 5)
    0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name
    0x04,                                // protocol level 4
    0x02,                                // flags: clean session
    0x00, 0x3c,                          // keep alive 60
    0x00, 0x05, b'u', b'm', b'q', b't', b't', // client id
];

/// CONNECT with every field: persistent session, keep alive 300 s, client id "m3", will
/// "m3/st" = "bye" at QoS 2 retained, user "u", binary password 00 01.
#[rustfmt::skip]
const CONNECT_FULL: &[u8] = &[
    0x10,                                // CONNECT, flags 0000
    0x21,                                // remaining length 33 = 10 + 4 + 7 + 5 + 3 + 4
    0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name
    0x04,                                // protocol level 4
    0xf4,                                // user 0x80 | password 0x40 | will retain 0x20 | will QoS 2 0x10 | will 0x04
    0x01, 0x2c,                          // keep alive 300
    0x00, 0x02, b'm', b'3',              // client id "m3"
    0x00, 0x05, b'm', b'3', b'/', b's', b't', // will topic "m3/st"
    0x00, 0x03, b'b', b'y', b'e',        // will message "bye"
    0x00, 0x01, b'u',                    // user name "u"
    0x00, 0x02, 0x00, 0x01,              // password 00 01
];

/// CONNACK, session present, accepted.
const CONNACK_SESSION_PRESENT: &[u8] = &[0x20, 0x02, 0x01, 0x00];

/// CONNACK, refused with code 5 (not authorized).
const CONNACK_NOT_AUTHORIZED: &[u8] = &[0x20, 0x02, 0x00, 0x05];

/// PUBLISH QoS 0 to "a/b", payload "hi" (as in vectors_table).
#[rustfmt::skip]
const PUBLISH_QOS0: &[u8] = &[
    0x30,                                // PUBLISH, DUP 0, QoS 0, RETAIN 0
    0x07,                                // remaining length 7 = (2 + 3) + 2
    0x00, 0x03, b'a', b'/', b'b',        // topic
    b'h', b'i',                          // payload
];

/// PUBLISH QoS 1, DUP, RETAIN to "sensor/t", id 0x1234, payload "21.5".
#[rustfmt::skip]
const PUBLISH_QOS1_DUP_RETAIN: &[u8] = &[
    0x3b,                                // PUBLISH, DUP 0x08 | QoS 1 0x02 | RETAIN 0x01
    0x10,                                // remaining length 16 = (2 + 8) + 2 + 4
    0x00, 0x08, b's', b'e', b'n', b's', b'o', b'r', b'/', b't', // topic
    0x12, 0x34,                          // packet id 0x1234
    b'2', b'1', b'.', b'5',              // payload
];

/// PUBLISH QoS 2 to "q", id 65535, binary payload 00 ff.
#[rustfmt::skip]
const PUBLISH_QOS2_BINARY: &[u8] = &[
    0x34,                                // PUBLISH, QoS 2 (0x04)
    0x07,                                // remaining length 7 = (2 + 1) + 2 + 2
    0x00, 0x01, b'q',                    // topic
    0xff, 0xff,                          // packet id 65535
    0x00, 0xff,                          // payload
];

/// PUBLISH QoS 0 to "t" with 125 payload bytes: Remaining Length 128 takes two bytes.
static PUBLISH_REM_128: [u8; 131] = {
    let mut a = [0u8; 131];
    a[0] = 0x30; // PUBLISH, QoS 0
    a[1] = 0x80; // remaining length 128: low 7 bits 0, continuation bit set
    a[2] = 0x01; //   ... then 1 * 128
    a[3] = 0x00; // topic length 1
    a[4] = 0x01;
    a[5] = b't'; // topic "t"
    let mut i = 0;
    while i < 125 {
        a[6 + i] = i as u8; // payload 00 01 02 ... 7c
        i += 1;
    }
    a
};

/// PUBACK id 1 (as in vectors_table). With feature `sabotage` the expected id is wrong on
/// purpose, so the run must fail.
#[cfg(not(feature = "sabotage"))]
const PUBACK: &[u8] = &[0x40, 0x02, 0x00, 0x01];
#[cfg(feature = "sabotage")]
const PUBACK: &[u8] = &[0x40, 0x02, 0x00, 0x02];

/// PUBREC id 0x1234 (as in vectors_table).
const PUBREC: &[u8] = &[0x50, 0x02, 0x12, 0x34];

/// PUBREL id 65535: flags 0010 are mandatory (as in vectors_table).
const PUBREL: &[u8] = &[0x62, 0x02, 0xff, 0xff];

/// PUBCOMP id 128 (as in vectors_table).
const PUBCOMP: &[u8] = &[0x70, 0x02, 0x00, 0x80];

/// SUBSCRIBE id 10: "home/+/temp" at QoS 1, "alerts/#" at QoS 2.
#[rustfmt::skip]
const SUBSCRIBE: &[u8] = &[
    0x82,                                // SUBSCRIBE, flags 0010
    0x1b,                                // remaining length 27 = 2 + (2 + 11 + 1) + (2 + 8 + 1)
    0x00, 0x0a,                          // packet id 10
    0x00, 0x0b, b'h', b'o', b'm', b'e', b'/', b'+', b'/', b't', b'e', b'm', b'p', // filter
    0x01,                                // requested QoS 1
    0x00, 0x08, b'a', b'l', b'e', b'r', b't', b's', b'/', b'#', // filter
    0x02,                                // requested QoS 2
];

/// SUBACK id 10: granted QoS 1, then failure.
const SUBACK: &[u8] = &[0x90, 0x04, 0x00, 0x0a, 0x01, 0x80];

/// UNSUBSCRIBE id 11: "home/+/temp", "alerts/#".
#[rustfmt::skip]
const UNSUBSCRIBE: &[u8] = &[
    0xa2,                                // UNSUBSCRIBE, flags 0010
    0x19,                                // remaining length 25 = 2 + (2 + 11) + (2 + 8)
    0x00, 0x0b,                          // packet id 11
    0x00, 0x0b, b'h', b'o', b'm', b'e', b'/', b'+', b'/', b't', b'e', b'm', b'p',
    0x00, 0x08, b'a', b'l', b'e', b'r', b't', b's', b'/', b'#',
];

/// UNSUBACK id 11.
const UNSUBACK: &[u8] = &[0xb0, 0x02, 0x00, 0x0b];

const PINGREQ: &[u8] = &[0xc0, 0x00];
const PINGRESP: &[u8] = &[0xd0, 0x00];
const DISCONNECT: &[u8] = &[0xe0, 0x00];

/// One vector: exact wire bytes and the value they stand for.
struct Vector<'a> {
    name: &'static str,
    bytes: &'static [u8],
    packet: Packet<'a>,
}

/// The list entries the SUBSCRIBE, SUBACK and UNSUBSCRIBE vectors point to.
struct Lists<'a> {
    subscriptions: [Subscription<'a>; 2],
    filters: [TopicFilter<'a>; 2],
    codes: [SubAckReturnCode; 2],
}

impl Lists<'static> {
    fn new() -> Self {
        Self {
            subscriptions: [
                Subscription {
                    filter: filter("home/+/temp"),
                    qos: QoS::AtLeastOnce,
                },
                Subscription {
                    filter: filter("alerts/#"),
                    qos: QoS::ExactlyOnce,
                },
            ],
            filters: [filter("home/+/temp"), filter("alerts/#")],
            codes: [
                SubAckReturnCode::Success(QoS::AtLeastOnce),
                SubAckReturnCode::Failure,
            ],
        }
    }
}

fn publish<'a>(delivery: Delivery, dup: bool, retain: bool, topic: &'a str, payload: &'a [u8]) -> Packet<'a> {
    Packet::Publish(Publish {
        dup,
        delivery,
        retain,
        topic: name(topic),
        payload,
    })
}

/// Vector number `i`, built on demand so that only one is alive at a time.
fn vector<'a>(i: usize, lists: &'a Lists<'a>) -> Option<Vector<'a>> {
    let v = |name, bytes, packet| Some(Vector { name, bytes, packet });
    match i {
        0 => v(
            "connect_minimal",
            CONNECT_MINIMAL,
            Packet::Connect(Connect {
                clean_session: true,
                keep_alive: 60,
                client_id: "umqtt",
                will: None,
                username: None,
                password: None,
            }),
        ),
        1 => v(
            "connect_full",
            CONNECT_FULL,
            Packet::Connect(Connect {
                clean_session: false,
                keep_alive: 300,
                client_id: "m3",
                will: Some(LastWill {
                    topic: name("m3/st"),
                    message: b"bye",
                    qos: QoS::ExactlyOnce,
                    retain: true,
                }),
                username: Some("u"),
                password: Some(&[0x00, 0x01]),
            }),
        ),
        2 => v(
            "connack_session_present",
            CONNACK_SESSION_PRESENT,
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: ConnectReturnCode::Accepted,
            }),
        ),
        3 => v(
            "connack_not_authorized",
            CONNACK_NOT_AUTHORIZED,
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: ConnectReturnCode::NotAuthorized,
            }),
        ),
        4 => v(
            "publish_qos0",
            PUBLISH_QOS0,
            publish(Delivery::AtMostOnce, false, false, "a/b", b"hi"),
        ),
        5 => v(
            "publish_qos1_dup_retain",
            PUBLISH_QOS1_DUP_RETAIN,
            publish(
                Delivery::AtLeastOnce(pid(0x1234)),
                true,
                true,
                "sensor/t",
                b"21.5",
            ),
        ),
        6 => v(
            "publish_qos2_binary",
            PUBLISH_QOS2_BINARY,
            publish(
                Delivery::ExactlyOnce(pid(65535)),
                false,
                false,
                "q",
                &[0x00, 0xff],
            ),
        ),
        7 => v(
            "publish_remaining_length_128",
            &PUBLISH_REM_128,
            publish(Delivery::AtMostOnce, false, false, "t", &RAMP[..125]),
        ),
        8 => v("puback", PUBACK, Packet::PubAck(pid(1))),
        9 => v("pubrec", PUBREC, Packet::PubRec(pid(0x1234))),
        10 => v("pubrel", PUBREL, Packet::PubRel(pid(65535))),
        11 => v("pubcomp", PUBCOMP, Packet::PubComp(pid(128))),
        12 => v(
            "subscribe",
            SUBSCRIBE,
            Packet::Subscribe(Subscribe {
                packet_id: pid(10),
                topics: Entries::new(&lists.subscriptions),
            }),
        ),
        13 => v(
            "suback",
            SUBACK,
            Packet::SubAck(SubAck {
                packet_id: pid(10),
                codes: Entries::new(&lists.codes),
            }),
        ),
        14 => v(
            "unsubscribe",
            UNSUBSCRIBE,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(11),
                topics: Entries::new(&lists.filters),
            }),
        ),
        15 => v("unsuback", UNSUBACK, Packet::UnsubAck(pid(11))),
        16 => v("pingreq", PINGREQ, Packet::PingReq),
        17 => v("pingresp", PINGRESP, Packet::PingResp),
        18 => v("disconnect", DISCONNECT, Packet::Disconnect),
        _ => None,
    }
}

/// Fixed-header length of a well-formed packet, counted by hand: byte 0 plus the Remaining
/// Length bytes (all but the last have the continuation bit).
fn header_len(bytes: &[u8]) -> usize {
    let mut n = 1;
    for b in bytes.iter().skip(1).take(4) {
        n += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    n
}

/// Filler for output buffers, to see whether the encoder wrote past the packet.
const FILL: u8 = 0xa5;

/// Deepest stack, in bytes, that one library call of part 1 needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodecStack {
    /// `decode`, over every vector and malformed input.
    pub decode: usize,
    /// `Packet::encode`, over every vector and refused packet.
    pub encode: usize,
}

fn round_trip(v: &Vector<'_>, verbose: bool, peak: &mut CodecStack) {
    let name = v.name;
    let want = v.bytes;
    let len = want.len();

    check!(
        v.packet.encoded_len() == len,
        "{=str}: encoded_len {=usize}, want {=usize}",
        name,
        v.packet.encoded_len(),
        len
    );

    // encode into a slice: exact bytes, nothing past the end.
    let mut buf = [FILL; 160];
    let (encoded, usage) = stack::measure(|| v.packet.encode(&mut buf));
    peak.encode = peak.encode.max(usage.call);
    match encoded {
        Ok(n) => {
            check!(
                n == len,
                "{=str}: encode wrote {=usize}, want {=usize}",
                name,
                n,
                len
            );
            check::bytes(name, buf.get(..n).unwrap_or(&[]), &[want]);
            check!(
                buf.get(n..).is_some_and(|rest| rest.iter().all(|&b| b == FILL)),
                "{=str}: encode wrote past the packet",
                name
            );
        }
        Err(e) => {
            check!(false, "{=str}: encode failed: {}", name, e);
        }
    }

    // encode_to an embedded_io::Write (a byte slice).
    let mut out = [FILL; 160];
    let mut w: &mut [u8] = &mut out;
    match v.packet.encode_to(&mut w) {
        Ok(n) => {
            check!(n == len, "{=str}: encode_to wrote {=usize}", name, n);
            check::bytes(name, out.get(..n).unwrap_or(&[]), &[want]);
        }
        Err(_) => {
            check!(false, "{=str}: encode_to failed", name);
        }
    }

    // decode: exact value and length; the decoded value encodes back to the same bytes.
    let (decoded, usage) = stack::measure(|| decode(want));
    peak.decode = peak.decode.max(usage.call);
    match decoded {
        Ok(Status::Complete((packet, n))) => {
            if verbose {
                defmt::info!("decoded {=str}: {}", name, packet);
            }
            check!(
                packet == v.packet,
                "{=str}: decoded {} but expected {}",
                name,
                packet,
                v.packet
            );
            check!(n == len, "{=str}: decode consumed {=usize}", name, n);
            let mut again = [FILL; 160];
            let n2 = packet.encode(&mut again).unwrap_or(0);
            check::bytes(name, again.get(..n2).unwrap_or(&[]), &[want]);
        }
        other => {
            check!(false, "{=str}: decode gave {}", name, other);
        }
    }

    // Every strict prefix is Partial, never an error; `needed` is exact after the header.
    let hl = header_len(want);
    for cut in 0..len {
        let prefix = want.get(..cut).unwrap_or(&[]);
        let ok = match decode(prefix) {
            Ok(Status::Partial { needed }) => cut < hl || needed.get() == len - cut,
            _ => false,
        };
        check!(
            ok,
            "{=str}: prefix of {=usize} bytes not reported as Partial",
            name,
            cut
        );
    }

    // The packet followed by the next one in the same buffer: exactly `len` consumed.
    let mut stream = [0u8; 160];
    if let Some(dst) = stream.get_mut(..len) {
        dst.copy_from_slice(want);
    }
    if let Some(dst) = stream.get_mut(len..len + 2) {
        dst.copy_from_slice(PINGRESP);
    }
    let both = stream.get(..len + 2).unwrap_or(&[]);
    let first_ok = matches!(decode(both), Ok(Status::Complete((p, n))) if n == len && p == v.packet);
    let second_ok = matches!(
        decode(both.get(len..).unwrap_or(&[])),
        Ok(Status::Complete((Packet::PingResp, 2)))
    );
    check!(
        first_ok && second_ok,
        "{=str}: decoding it from a stream failed",
        name
    );
}

/// Malformed packets and the exact error the decoder must name.
#[rustfmt::skip]
static MALFORMED: &[(&str, &[u8], DecodeError)] = &[
    ("reserved type 0", &[0x00, 0x00], DecodeError::ReservedPacketType(0)),
    ("reserved type 15", &[0xf0, 0x00], DecodeError::ReservedPacketType(15)),
    ("pubrel flags 0000", &[0x60, 0x02, 0x00, 0x01],
        DecodeError::InvalidFlags { packet_type: PacketType::PubRel, flags: 0 }),
    ("subscribe flags 0000", &[0x80, 0x00],
        DecodeError::InvalidFlags { packet_type: PacketType::Subscribe, flags: 0 }),
    ("publish qos 3, byte 0 alone", &[0x36], DecodeError::InvalidQos),
    ("publish dup at qos 0", &[0x38, 0x05, 0x00, 0x03, b'a', b'/', b'b'], DecodeError::DupWithQos0),
    ("remaining length of 5 bytes", &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
        DecodeError::MalformedRemainingLength),
    ("packet id 0", &[0x40, 0x02, 0x00, 0x00], DecodeError::PacketIdZero),
    ("puback one byte too long", &[0x40, 0x03, 0x00, 0x01, 0x00], DecodeError::TrailingBytes),
    ("puback one byte too short", &[0x40, 0x01, 0x00], DecodeError::UnexpectedEnd),
    ("pingreq with a body", &[0xc0, 0x01, 0x00], DecodeError::TrailingBytes),
    ("topic runs past the end", &[0x30, 0x05, 0x00, 0x09, b'a', b'b', b'c'], DecodeError::UnexpectedEnd),
    ("topic not utf-8", &[0x30, 0x04, 0x00, 0x02, 0xc3, 0x28], DecodeError::InvalidUtf8),
    ("topic with nul", &[0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'], DecodeError::NullCharacter),
    ("wildcard in topic name", &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'], DecodeError::WildcardInTopicName),
    ("empty topic name", &[0x30, 0x02, 0x00, 0x00], DecodeError::EmptyTopic),
    ("protocol name MQIsdp",
        &[0x10, 0x0f, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3c, 0x00, 0x01, b'x'],
        DecodeError::InvalidProtocolName),
    ("protocol level 3",
        &[0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x03, 0x02, 0x00, 0x3c, 0x00, 0x01, b'x'],
        DecodeError::UnsupportedProtocolLevel(3)),
    ("connect reserved flag",
        &[0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x03, 0x00, 0x3c, 0x00, 0x01, b'x'],
        DecodeError::ReservedConnectFlag),
    ("will qos without will",
        &[0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x0a, 0x00, 0x3c, 0x00, 0x01, b'x'],
        DecodeError::WillFlagsWithoutWill),
    ("password without user name",
        &[0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x42, 0x00, 0x3c, 0x00, 0x01, b'x'],
        DecodeError::PasswordWithoutUserName),
    ("connack reserved flags", &[0x20, 0x02, 0x02, 0x00], DecodeError::ReservedConnAckFlags(2)),
    ("connack return code 6", &[0x20, 0x02, 0x00, 0x06], DecodeError::InvalidConnectReturnCode(6)),
    ("session present on refusal", &[0x20, 0x02, 0x01, 0x05], DecodeError::SessionPresentOnRefusal),
    ("subscribe without filters", &[0x82, 0x02, 0x00, 0x01], DecodeError::EmptyPayload(PacketType::Subscribe)),
    ("subscribe qos 3", &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], DecodeError::InvalidRequestedQos(3)),
    ("filter with # inside", &[0x82, 0x0a, 0x00, 0x01, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00],
        DecodeError::InvalidTopicFilter),
    ("suback code 3", &[0x90, 0x03, 0x00, 0x01, 0x03], DecodeError::InvalidSubAckCode(3)),
    ("unsubscribe without filters", &[0xa2, 0x02, 0x00, 0x01], DecodeError::EmptyPayload(PacketType::Unsubscribe)),
];

fn malformed(verbose: bool, peak: &mut CodecStack) {
    let mut rx = [0u8; 32];
    for &(name, bytes, want) in MALFORMED {
        let (got, usage) = stack::measure(|| decode(bytes));
        peak.decode = peak.decode.max(usage.call);
        if verbose {
            defmt::info!("malformed {=str}: {}", name, got);
        }
        check!(
            got == Err(want),
            "{=str}: decode gave {} but expected Err({})",
            name,
            got,
            want
        );
        // The same bytes through the embedded-io reader.
        let mut reader: &[u8] = bytes;
        let read = match read_packet(&mut reader, &mut rx) {
            Err(ReadPacketError::Decode(e)) => Some(e),
            _ => None,
        };
        check!(read == Some(want), "{=str}: read_packet gave {}", name, read);
    }
}

/// Packets the encoder must refuse, with the buffer left untouched.
fn refused(verbose: bool, peak: &mut CodecStack) {
    let empty_subs: [Subscription<'_>; 0] = [];
    let connect = Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: "umqtt",
        will: None,
        username: None,
        password: None,
    };
    let cases: [(&str, Packet<'_>, usize, EncodeError); 8] = [
        (
            "connect into 10 bytes",
            Packet::Connect(connect),
            10,
            EncodeError::BufferTooSmall { needed: 19 },
        ),
        (
            "pingreq into 1 byte",
            Packet::PingReq,
            1,
            EncodeError::BufferTooSmall { needed: 2 },
        ),
        (
            "dup at qos 0",
            publish(Delivery::AtMostOnce, true, false, "a/b", b"hi"),
            64,
            EncodeError::DupWithQos0,
        ),
        (
            "password without user name",
            Packet::Connect(Connect {
                password: Some(b"pw"),
                ..connect
            }),
            64,
            EncodeError::PasswordWithoutUserName,
        ),
        (
            "empty client id, persistent session",
            Packet::Connect(Connect {
                client_id: "",
                clean_session: false,
                ..connect
            }),
            64,
            EncodeError::EmptyClientIdWithoutCleanSession,
        ),
        (
            "client id with nul",
            Packet::Connect(Connect {
                client_id: "a\0b",
                ..connect
            }),
            64,
            EncodeError::NullCharacter,
        ),
        (
            "subscribe without filters",
            Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                topics: Entries::new(&empty_subs),
            }),
            64,
            EncodeError::EmptyPayload,
        ),
        (
            "session present on refusal",
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: ConnectReturnCode::ServerUnavailable,
            }),
            64,
            EncodeError::SessionPresentOnRefusal,
        ),
    ];
    for (name, packet, size, want) in cases {
        let mut buf = [FILL; 64];
        let (got, usage) = stack::measure(|| packet.encode(buf.get_mut(..size).unwrap_or(&mut [])));
        peak.encode = peak.encode.max(usage.call);
        if verbose {
            defmt::info!("refused {=str}: {}", name, got);
        }
        check!(
            got == Err(want),
            "{=str}: encode gave {} but expected Err({})",
            name,
            got,
            want
        );
        check!(
            buf.iter().all(|&b| b == FILL),
            "{=str}: refused encode wrote bytes",
            name
        );
    }
}

/// Runs part 1. `verbose` logs every decoded packet (exercising the `defmt::Format` impls).
pub fn run(verbose: bool) -> CodecStack {
    let before = check::failures();
    let mut peak = CodecStack::default();
    let lists = Lists::new();
    let mut types: u16 = 0;
    let mut count = 0;
    while let Some(v) = vector(count, &lists) {
        round_trip(&v, verbose, &mut peak);
        types |= 1 << (v.packet.packet_type() as u8);
        count += 1;
    }
    // Bits 1 to 14: one per control packet type.
    check!(
        types == 0x7ffe,
        "codec: packet types covered {=u16:#06x}, want 0x7ffe",
        types
    );
    malformed(verbose, &mut peak);
    refused(verbose, &mut peak);
    if verbose && check::failures() == before {
        defmt::info!(
            "codec: {=usize} vectors over all 14 packet types, {=usize} malformed, 8 refused: ok",
            count,
            MALFORMED.len()
        );
    }
    peak
}
