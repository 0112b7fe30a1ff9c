//! Hand-computed MQTT 3.1.1 packet vectors shared by `tests/vectors.rs` and `tests/partial.rs`.
//!
//! Every byte below was worked out from the specification (sections 2 and 3), not produced by
//! the encoder under test. Each array is laid out field by field with a comment naming the
//! field, so a reviewer can check it against the spec figures.
//!
//! This file lives under `tests/data/` so Cargo does not build it as a test target of its own;
//! the test files include it with `#[path = "data/vectors_table.rs"] mod table;`.

// Each including test target uses a different subset of the helpers.
#![allow(dead_code)]

use std::fmt::Write as _;

use umqtt::{
    ConnAck, Connect, ConnectReturnCode, Delivery, Entries, LastWill, Packet, PacketId, Publish, QoS, SubAck,
    SubAckReturnCode, Subscribe, Subscription, TopicFilter, TopicName, Unsubscribe,
};

/// One test vector: the exact wire bytes and the packet value they stand for.
pub struct Vector<'a> {
    /// A unique, descriptive name used in failure messages.
    pub name: &'a str,
    /// The complete packet on the wire: fixed header, variable header, payload.
    pub bytes: Vec<u8>,
    /// The value `decode(bytes)` must return and `encode` must turn back into `bytes`.
    pub packet: Packet<'a>,
}

/// Lower-case hex, space separated; long inputs are abbreviated (head ... tail) with their length.
pub fn hex(bytes: &[u8]) -> String {
    fn put(out: &mut String, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{b:02x}");
        }
    }
    let mut out = String::new();
    if bytes.len() <= 64 {
        put(&mut out, bytes);
    } else {
        put(&mut out, &bytes[..32]);
        out.push_str(" ... ");
        put(&mut out, &bytes[bytes.len() - 8..]);
        let _ = write!(out, " ({} bytes)", bytes.len());
    }
    out
}

/// Length of the fixed header of a complete, well-formed packet: byte 0 plus the Remaining
/// Length bytes (each with the continuation bit 0x80 except the last). Computed independently
/// of the crate under test.
pub fn header_len(bytes: &[u8]) -> usize {
    let vbi = bytes[1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("Remaining Length has no last byte");
    1 + vbi + 1
}

/// Payload bytes 0, 1, 2, ... (mod 256), so a shifted or truncated payload shows up.
pub const fn counting<const N: usize>() -> [u8; N] {
    let mut a = [0u8; N];
    let mut i = 0;
    while i < N {
        a[i] = i as u8;
        i += 1;
    }
    a
}

pub static PAYLOAD_124: [u8; 124] = counting::<124>();
pub static PAYLOAD_125: [u8; 125] = counting::<125>();
pub static PAYLOAD_200: [u8; 200] = counting::<200>();

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("test packet id must be non-zero")
}

pub fn topic(s: &str) -> TopicName<'_> {
    TopicName::new(s).expect("test topic name must be valid")
}

pub fn filter(s: &str) -> TopicFilter<'_> {
    TopicFilter::new(s).expect("test topic filter must be valid")
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    v.leak()
}

fn vector(name: &'static str, bytes: &[u8], packet: Packet<'static>) -> Vector<'static> {
    Vector {
        name,
        bytes: bytes.to_vec(),
        packet,
    }
}

fn with_payload(name: &'static str, head: &[u8], payload: &[u8], packet: Packet<'static>) -> Vector<'static> {
    Vector {
        name,
        bytes: [head, payload].concat(),
        packet,
    }
}

fn publish(
    dup: bool,
    delivery: Delivery,
    retain: bool,
    name: &'static str,
    payload: &'static [u8],
) -> Packet<'static> {
    Packet::Publish(Publish {
        dup,
        delivery,
        retain,
        topic: topic(name),
        payload,
    })
}

fn connack(session_present: bool, code: ConnectReturnCode) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present,
        code,
    })
}

// ---------------------------------------------------------------------------------------------
// CONNECT (3.1)
// ---------------------------------------------------------------------------------------------

/// Clean session, keep alive 60 s, client id "umqtt", nothing else.
#[rustfmt::skip]
pub const CONNECT_MINIMAL: &[u8] = &[
    0x10, // fixed header: type 1 (CONNECT), flags 0000
    0x11, // remaining length 17 = 10 (variable header) + 2 + 5 (client id)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4 (3.1.1)
    0x02, // connect flags: clean session
    0x00, 0x3c, // keep alive 60 s
    0x00, 0x05, b'u', b'm', b'q', b't', b't', // client id "umqtt"
];

/// Will on "dev/status" = "offline", QoS 1, retained; client id "dev1"; keep alive 30 s.
#[rustfmt::skip]
pub const CONNECT_WILL_QOS1_RETAINED: &[u8] = &[
    0x10, // fixed header: CONNECT, flags 0000
    0x25, // remaining length 37 = 10 + (2 + 4) + (2 + 10) + (2 + 7)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4
    0x2e, // connect flags: will retain 0x20 | will QoS 1 (01 << 3) 0x08 | will flag 0x04 | clean session 0x02
    0x00, 0x1e, // keep alive 30 s
    0x00, 0x04, b'd', b'e', b'v', b'1', // client id "dev1"
    0x00, 0x0a, b'd', b'e', b'v', b'/', b's', b't', b'a', b't', b'u', b's', // will topic "dev/status"
    0x00, 0x07, b'o', b'f', b'f', b'l', b'i', b'n', b'e', // will message "offline"
];

/// User name "alice", binary password 00 ff 'p' 'w' (not UTF-8: passwords are binary data),
/// persistent session (clean session 0), keep alive 300 s, client id "c".
#[rustfmt::skip]
pub const CONNECT_USER_PASSWORD: &[u8] = &[
    0x10, // fixed header: CONNECT, flags 0000
    0x1a, // remaining length 26 = 10 + (2 + 1) + (2 + 5) + (2 + 4)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4
    0xc0, // connect flags: user name 0x80 | password 0x40 (clean session 0)
    0x01, 0x2c, // keep alive 300 s (big-endian)
    0x00, 0x01, b'c', // client id "c"
    0x00, 0x05, b'a', b'l', b'i', b'c', b'e', // user name "alice"
    0x00, 0x04, 0x00, 0xff, b'p', b'w', // password (binary): 00 ff 'p' 'w'
];

/// Zero-length client id, which requires clean session ([MQTT-3.1.3-7]); keep alive 0 (off).
#[rustfmt::skip]
pub const CONNECT_EMPTY_CLIENT_ID: &[u8] = &[
    0x10, // fixed header: CONNECT, flags 0000
    0x0c, // remaining length 12 = 10 + 2 (empty client id)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4
    0x02, // connect flags: clean session
    0x00, 0x00, // keep alive 0: disabled
    0x00, 0x00, // client id "" (length 0)
];

/// Every payload field, in the order of [MQTT-3.1.3-1]: client id "full", will topic "w",
/// empty will message, QoS 2 not retained, empty user name, password "pw"; keep alive 65535 s.
#[rustfmt::skip]
pub const CONNECT_ALL_FIELDS: &[u8] = &[
    0x10, // fixed header: CONNECT, flags 0000
    0x1b, // remaining length 27 = 10 + (2 + 4) + (2 + 1) + (2 + 0) + (2 + 0) + (2 + 2)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4
    0xd4, // connect flags: user name 0x80 | password 0x40 | will QoS 2 (10 << 3) 0x10 | will flag 0x04
    0xff, 0xff, // keep alive 65535 s
    0x00, 0x04, b'f', b'u', b'l', b'l', // client id "full"
    0x00, 0x01, b'w', // will topic "w"
    0x00, 0x00, // will message: empty
    0x00, 0x00, // user name: "" (present but empty)
    0x00, 0x02, b'p', b'w', // password "pw"
];

// ---------------------------------------------------------------------------------------------
// CONNACK (3.2): 20 02 <acknowledge flags> <return code>
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
pub const CONNACK_ACCEPTED_SESSION_PRESENT: &[u8] = &[
    0x20, // fixed header: type 2 (CONNACK), flags 0000
    0x02, // remaining length 2
    0x01, // acknowledge flags: session present
    0x00, // return code 0: accepted
];

#[rustfmt::skip]
pub const CONNACK_ACCEPTED: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: no session present
    0x00, // return code 0: accepted
];

#[rustfmt::skip]
pub const CONNACK_REFUSED_PROTOCOL_VERSION: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: 0 (must be 0 on refusal, [MQTT-3.2.2-4])
    0x01, // return code 1: unacceptable protocol version
];

#[rustfmt::skip]
pub const CONNACK_REFUSED_IDENTIFIER: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: 0
    0x02, // return code 2: identifier rejected
];

#[rustfmt::skip]
pub const CONNACK_REFUSED_SERVER_UNAVAILABLE: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: 0
    0x03, // return code 3: server unavailable
];

#[rustfmt::skip]
pub const CONNACK_REFUSED_BAD_CREDENTIALS: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: 0
    0x04, // return code 4: bad user name or password
];

#[rustfmt::skip]
pub const CONNACK_REFUSED_NOT_AUTHORIZED: &[u8] = &[
    0x20, 0x02, // CONNACK, remaining length 2
    0x00, // acknowledge flags: 0
    0x05, // return code 5: not authorized
];

// ---------------------------------------------------------------------------------------------
// PUBLISH (3.3): byte 0 = 0011 DUP QoS(2) RETAIN
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
pub const PUBLISH_QOS0: &[u8] = &[
    0x30, // fixed header: type 3 (PUBLISH), DUP 0, QoS 0, RETAIN 0
    0x07, // remaining length 7 = (2 + 3) topic + 2 payload; no packet id at QoS 0
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_QOS1: &[u8] = &[
    0x32, // fixed header: PUBLISH, DUP 0, QoS 1 (01 << 1), RETAIN 0
    0x09, // remaining length 9 = (2 + 3) + 2 (packet id) + 2
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0x00, 0x0a, // packet id 10
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_QOS2: &[u8] = &[
    0x34, // fixed header: PUBLISH, DUP 0, QoS 2 (10 << 1), RETAIN 0
    0x09, // remaining length 9
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0xbe, 0xef, // packet id 0xbeef = 48879 (big-endian)
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_QOS0_RETAIN: &[u8] = &[
    0x31, // fixed header: PUBLISH, DUP 0, QoS 0, RETAIN 1
    0x07, // remaining length 7
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_QOS1_DUP: &[u8] = &[
    0x3a, // fixed header: PUBLISH, DUP 1 (0x08), QoS 1 (0x02), RETAIN 0
    0x09, // remaining length 9
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0x00, 0x0a, // packet id 10
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_QOS2_DUP_RETAIN: &[u8] = &[
    0x3d, // fixed header: PUBLISH, DUP 1 (0x08), QoS 2 (0x04), RETAIN 1 (0x01)
    0x09, // remaining length 9
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0xbe, 0xef, // packet id 0xbeef
    b'h', b'i', // payload "hi"
];

#[rustfmt::skip]
pub const PUBLISH_EMPTY_PAYLOAD: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x05, // remaining length 5 = (2 + 3) topic; zero-length payload is valid (3.3.3)
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
];

#[rustfmt::skip]
pub const PUBLISH_QOS1_RETAIN_EMPTY_PAYLOAD: &[u8] = &[
    0x33, // fixed header: PUBLISH, DUP 0, QoS 1, RETAIN 1 (clears a retained message)
    0x07, // remaining length 7 = (2 + 3) + 2 (packet id)
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0x00, 0x01, // packet id 1
];

/// Largest packet with a one-byte Remaining Length (127); followed by PAYLOAD_124.
#[rustfmt::skip]
pub const PUBLISH_REM_127_HEAD: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x7f, // remaining length 127 = (2 + 1) + 124: one byte, continuation bit clear
    0x00, 0x01, b't', // topic name "t"
];

/// Smallest packet with a two-byte Remaining Length (128); followed by PAYLOAD_125.
#[rustfmt::skip]
pub const PUBLISH_REM_128_HEAD: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x80, 0x01, // remaining length 128 = 0 + 1 * 128: 0x80 (low 7 bits 0, continue), 0x01
    0x00, 0x01, b't', // topic name "t"
];

/// 200-byte payload: Remaining Length 203 needs two bytes; followed by PAYLOAD_200.
#[rustfmt::skip]
pub const PUBLISH_PAYLOAD_200_HEAD: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0xcb, 0x01, // remaining length 203 = 75 + 1 * 128: (75 | 0x80) = 0xcb, then 0x01
    0x00, 0x01, b't', // topic name "t"
];

/// Topic starting with a UTF-8 BOM (EF BB BF = U+FEFF), which must be kept ([MQTT-1.5.3-3]).
#[rustfmt::skip]
pub const PUBLISH_BOM_TOPIC: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x06, // remaining length 6 = 2 + 4
    0x00, 0x04, 0xef, 0xbb, 0xbf, b'a', // topic name "\u{feff}a"
];

/// Multi-byte UTF-8 topic "café" (é = C3 A9): the length prefix counts bytes, not characters.
#[rustfmt::skip]
pub const PUBLISH_UTF8_TOPIC: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x07, // remaining length 7 = 2 + 5
    0x00, 0x05, b'c', b'a', b'f', 0xc3, 0xa9, // topic name "café" (5 bytes, 4 characters)
];

/// A payload is opaque binary: zero bytes and non-UTF-8 bytes are fine.
#[rustfmt::skip]
pub const PUBLISH_BINARY_PAYLOAD: &[u8] = &[
    0x30, // fixed header: PUBLISH, QoS 0
    0x07, // remaining length 7 = (2 + 1) + 4
    0x00, 0x01, b't', // topic name "t"
    0x00, 0xff, 0x00, 0xfe, // payload: 00 ff 00 fe
];

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK (3.4 - 3.7, 3.11): remaining length 2, packet id
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
pub const PUBACK: &[u8] = &[
    0x40, // fixed header: type 4 (PUBACK), flags 0000
    0x02, // remaining length 2
    0x00, 0x01, // packet id 1
];

#[rustfmt::skip]
pub const PUBREC: &[u8] = &[
    0x50, // fixed header: type 5 (PUBREC), flags 0000
    0x02, // remaining length 2
    0x12, 0x34, // packet id 0x1234 = 4660 (MSB first)
];

#[rustfmt::skip]
pub const PUBREL: &[u8] = &[
    0x62, // fixed header: type 6 (PUBREL), flags 0010 ([MQTT-3.6.1-1])
    0x02, // remaining length 2
    0xff, 0xff, // packet id 65535
];

#[rustfmt::skip]
pub const PUBCOMP: &[u8] = &[
    0x70, // fixed header: type 7 (PUBCOMP), flags 0000
    0x02, // remaining length 2
    0x00, 0x80, // packet id 128
];

#[rustfmt::skip]
pub const UNSUBACK: &[u8] = &[
    0xb0, // fixed header: type 11 (UNSUBACK), flags 0000
    0x02, // remaining length 2
    0x00, 0x07, // packet id 7
];

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE (3.8), SUBACK (3.9), UNSUBSCRIBE (3.10)
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
pub const SUBSCRIBE_ONE: &[u8] = &[
    0x82, // fixed header: type 8 (SUBSCRIBE), flags 0010 ([MQTT-3.8.1-1])
    0x08, // remaining length 8 = 2 (packet id) + (2 + 3) + 1
    0x00, 0x01, // packet id 1
    0x00, 0x03, b'a', b'/', b'+', // topic filter "a/+"
    0x01, // requested QoS 1
];

#[rustfmt::skip]
pub const SUBSCRIBE_THREE: &[u8] = &[
    0x82, // fixed header: SUBSCRIBE, flags 0010
    0x17, // remaining length 23 = 2 + (2 + 1 + 1) + (2 + 5 + 1) + (2 + 6 + 1)
    0x01, 0x02, // packet id 0x0102 = 258
    0x00, 0x01, b'#', // topic filter "#"
    0x00, // requested QoS 0
    0x00, 0x05, b's', b'/', b'+', b'/', b't', // topic filter "s/+/t"
    0x01, // requested QoS 1
    0x00, 0x06, b'$', b'S', b'Y', b'S', b'/', b'#', // topic filter "$SYS/#"
    0x02, // requested QoS 2
];

#[rustfmt::skip]
pub const SUBACK_ALL_CODES: &[u8] = &[
    0x90, // fixed header: type 9 (SUBACK), flags 0000
    0x06, // remaining length 6 = 2 (packet id) + 4 return codes
    0x00, 0x01, // packet id 1
    0x00, // success, maximum QoS 0
    0x01, // success, maximum QoS 1
    0x02, // success, maximum QoS 2
    0x80, // failure
];

#[rustfmt::skip]
pub const SUBACK_FAILURE: &[u8] = &[
    0x90, // fixed header: SUBACK, flags 0000
    0x03, // remaining length 3 = 2 + 1
    0x00, 0x02, // packet id 2
    0x80, // failure
];

#[rustfmt::skip]
pub const UNSUBSCRIBE_ONE: &[u8] = &[
    0xa2, // fixed header: type 10 (UNSUBSCRIBE), flags 0010 ([MQTT-3.10.1-1])
    0x07, // remaining length 7 = 2 + (2 + 3)
    0x00, 0x01, // packet id 1
    0x00, 0x03, b'a', b'/', b'#', // topic filter "a/#"
];

#[rustfmt::skip]
pub const UNSUBSCRIBE_TWO: &[u8] = &[
    0xa2, // fixed header: UNSUBSCRIBE, flags 0010
    0x0a, // remaining length 10 = 2 + (2 + 3) + (2 + 1)
    0x00, 0x07, // packet id 7
    0x00, 0x03, b'a', b'/', b'+', // topic filter "a/+"
    0x00, 0x01, b'b', // topic filter "b"
];

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT (3.12 - 3.14): remaining length 0
// ---------------------------------------------------------------------------------------------

pub const PINGREQ: &[u8] = &[
    0xc0, // fixed header: type 12 (PINGREQ), flags 0000
    0x00, // remaining length 0
];

pub const PINGRESP: &[u8] = &[
    0xd0, // fixed header: type 13 (PINGRESP), flags 0000
    0x00, // remaining length 0
];

pub const DISCONNECT: &[u8] = &[
    0xe0, // fixed header: type 14 (DISCONNECT), flags 0000 ([MQTT-3.14.1-1])
    0x00, // remaining length 0
];

/// The whole table: several vectors per packet type, every one of the 14 types present.
pub fn vectors() -> Vec<Vector<'static>> {
    use ConnectReturnCode as Rc;
    use Delivery::{AtLeastOnce, AtMostOnce, ExactlyOnce};
    use SubAckReturnCode::{Failure, Success};

    vec![
        // CONNECT
        vector(
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
        vector(
            "connect_will_qos1_retained",
            CONNECT_WILL_QOS1_RETAINED,
            Packet::Connect(Connect {
                clean_session: true,
                keep_alive: 30,
                client_id: "dev1",
                will: Some(LastWill {
                    topic: topic("dev/status"),
                    message: b"offline",
                    qos: QoS::AtLeastOnce,
                    retain: true,
                }),
                username: None,
                password: None,
            }),
        ),
        vector(
            "connect_user_password",
            CONNECT_USER_PASSWORD,
            Packet::Connect(Connect {
                clean_session: false,
                keep_alive: 300,
                client_id: "c",
                will: None,
                username: Some("alice"),
                password: Some(&[0x00, 0xff, b'p', b'w']),
            }),
        ),
        vector(
            "connect_empty_client_id",
            CONNECT_EMPTY_CLIENT_ID,
            Packet::Connect(Connect {
                clean_session: true,
                keep_alive: 0,
                client_id: "",
                will: None,
                username: None,
                password: None,
            }),
        ),
        vector(
            "connect_all_fields",
            CONNECT_ALL_FIELDS,
            Packet::Connect(Connect {
                clean_session: false,
                keep_alive: 65535,
                client_id: "full",
                will: Some(LastWill {
                    topic: topic("w"),
                    message: b"",
                    qos: QoS::ExactlyOnce,
                    retain: false,
                }),
                username: Some(""),
                password: Some(b"pw"),
            }),
        ),
        // CONNACK
        vector(
            "connack_accepted_session_present",
            CONNACK_ACCEPTED_SESSION_PRESENT,
            connack(true, Rc::Accepted),
        ),
        vector("connack_accepted", CONNACK_ACCEPTED, connack(false, Rc::Accepted)),
        vector(
            "connack_refused_1_protocol_version",
            CONNACK_REFUSED_PROTOCOL_VERSION,
            connack(false, Rc::UnacceptableProtocolVersion),
        ),
        vector(
            "connack_refused_2_identifier",
            CONNACK_REFUSED_IDENTIFIER,
            connack(false, Rc::IdentifierRejected),
        ),
        vector(
            "connack_refused_3_server_unavailable",
            CONNACK_REFUSED_SERVER_UNAVAILABLE,
            connack(false, Rc::ServerUnavailable),
        ),
        vector(
            "connack_refused_4_bad_credentials",
            CONNACK_REFUSED_BAD_CREDENTIALS,
            connack(false, Rc::BadUserNameOrPassword),
        ),
        vector(
            "connack_refused_5_not_authorized",
            CONNACK_REFUSED_NOT_AUTHORIZED,
            connack(false, Rc::NotAuthorized),
        ),
        // PUBLISH
        vector(
            "publish_qos0",
            PUBLISH_QOS0,
            publish(false, AtMostOnce, false, "a/b", b"hi"),
        ),
        vector(
            "publish_qos1",
            PUBLISH_QOS1,
            publish(false, AtLeastOnce(pid(10)), false, "a/b", b"hi"),
        ),
        vector(
            "publish_qos2",
            PUBLISH_QOS2,
            publish(false, ExactlyOnce(pid(0xbeef)), false, "a/b", b"hi"),
        ),
        vector(
            "publish_qos0_retain",
            PUBLISH_QOS0_RETAIN,
            publish(false, AtMostOnce, true, "a/b", b"hi"),
        ),
        vector(
            "publish_qos1_dup",
            PUBLISH_QOS1_DUP,
            publish(true, AtLeastOnce(pid(10)), false, "a/b", b"hi"),
        ),
        vector(
            "publish_qos2_dup_retain",
            PUBLISH_QOS2_DUP_RETAIN,
            publish(true, ExactlyOnce(pid(0xbeef)), true, "a/b", b"hi"),
        ),
        vector(
            "publish_empty_payload",
            PUBLISH_EMPTY_PAYLOAD,
            publish(false, AtMostOnce, false, "a/b", b""),
        ),
        vector(
            "publish_qos1_retain_empty_payload",
            PUBLISH_QOS1_RETAIN_EMPTY_PAYLOAD,
            publish(false, AtLeastOnce(pid(1)), true, "a/b", b""),
        ),
        with_payload(
            "publish_remaining_length_127",
            PUBLISH_REM_127_HEAD,
            &PAYLOAD_124,
            publish(false, AtMostOnce, false, "t", &PAYLOAD_124),
        ),
        with_payload(
            "publish_remaining_length_128",
            PUBLISH_REM_128_HEAD,
            &PAYLOAD_125,
            publish(false, AtMostOnce, false, "t", &PAYLOAD_125),
        ),
        with_payload(
            "publish_payload_200",
            PUBLISH_PAYLOAD_200_HEAD,
            &PAYLOAD_200,
            publish(false, AtMostOnce, false, "t", &PAYLOAD_200),
        ),
        vector(
            "publish_bom_topic",
            PUBLISH_BOM_TOPIC,
            publish(false, AtMostOnce, false, "\u{feff}a", b""),
        ),
        vector(
            "publish_utf8_topic",
            PUBLISH_UTF8_TOPIC,
            publish(false, AtMostOnce, false, "caf\u{e9}", b""),
        ),
        vector(
            "publish_binary_payload",
            PUBLISH_BINARY_PAYLOAD,
            publish(false, AtMostOnce, false, "t", &[0x00, 0xff, 0x00, 0xfe]),
        ),
        // Two-byte acknowledgements
        vector("puback", PUBACK, Packet::PubAck(pid(1))),
        vector("pubrec", PUBREC, Packet::PubRec(pid(0x1234))),
        vector("pubrel", PUBREL, Packet::PubRel(pid(65535))),
        vector("pubcomp", PUBCOMP, Packet::PubComp(pid(128))),
        vector("unsuback", UNSUBACK, Packet::UnsubAck(pid(7))),
        // SUBSCRIBE
        vector(
            "subscribe_one_filter",
            SUBSCRIBE_ONE,
            Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                topics: Entries::new(leak(vec![Subscription {
                    filter: filter("a/+"),
                    qos: QoS::AtLeastOnce,
                }])),
            }),
        ),
        vector(
            "subscribe_three_filters",
            SUBSCRIBE_THREE,
            Packet::Subscribe(Subscribe {
                packet_id: pid(0x0102),
                topics: Entries::new(leak(vec![
                    Subscription {
                        filter: filter("#"),
                        qos: QoS::AtMostOnce,
                    },
                    Subscription {
                        filter: filter("s/+/t"),
                        qos: QoS::AtLeastOnce,
                    },
                    Subscription {
                        filter: filter("$SYS/#"),
                        qos: QoS::ExactlyOnce,
                    },
                ])),
            }),
        ),
        // SUBACK
        vector(
            "suback_all_codes",
            SUBACK_ALL_CODES,
            Packet::SubAck(SubAck {
                packet_id: pid(1),
                codes: Entries::new(&[
                    Success(QoS::AtMostOnce),
                    Success(QoS::AtLeastOnce),
                    Success(QoS::ExactlyOnce),
                    Failure,
                ]),
            }),
        ),
        vector(
            "suback_failure",
            SUBACK_FAILURE,
            Packet::SubAck(SubAck {
                packet_id: pid(2),
                codes: Entries::new(&[Failure]),
            }),
        ),
        // UNSUBSCRIBE
        vector(
            "unsubscribe_one_filter",
            UNSUBSCRIBE_ONE,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(1),
                topics: Entries::new(leak(vec![filter("a/#")])),
            }),
        ),
        vector(
            "unsubscribe_two_filters",
            UNSUBSCRIBE_TWO,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(7),
                topics: Entries::new(leak(vec![filter("a/+"), filter("b")])),
            }),
        ),
        // Empty packets
        vector("pingreq", PINGREQ, Packet::PingReq),
        vector("pingresp", PINGRESP, Packet::PingResp),
        vector("disconnect", DISCONNECT, Packet::Disconnect),
    ]
}
