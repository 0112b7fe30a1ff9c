//! Property tests for the codec contract written in `src/packet/mod.rs`.
//!
//! Valid packets of all 14 kinds are generated as owned descriptions ([`Desc`]) and turned
//! into borrowed [`Packet`]s inside each test. For them we check: encode then decode gives the
//! packet back, every strict prefix is `Partial` with an exact `needed`, a short output buffer
//! is refused and left untouched, packets decode back in sequence from one buffer, and the
//! `embedded-io` entry points (`encode_to`, `read_packet`) agree with the slice ones.
//!
//! Arbitrary and structure-biased byte strings check that the decoder never panics and that
//! every outcome (`Complete`, `Partial`, `Err`) obeys the contract. `topic_matches` is checked
//! against the spec rules (4.7) and a declarative reference model.

use std::convert::Infallible;
use std::num::NonZeroUsize;

use embedded_io::{ErrorType, Read, SliceWriteError};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use umqtt::{
    ConnAck, Connect, ConnectReturnCode, DecodeError, Delivery, EncodeError, EncodeToError, Entries,
    FixedHeader, LastWill, Packet, PacketId, Publish, QoS, ReadPacketError, Status, SubAck, SubAckReturnCode,
    Subscribe, Subscription, TopicFilter, TopicName, Unsubscribe, decode, decode_body, peek_fixed_header,
    read_packet, topic_matches,
};

// ---------------------------------------------------------------------------------------------
// Owned descriptions of valid packets
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct WillDesc {
    topic: String,
    message: Vec<u8>,
    qos: QoS,
    retain: bool,
}

#[derive(Debug, Clone)]
struct ConnectDesc {
    clean_session: bool,
    keep_alive: u16,
    client_id: String,
    will: Option<WillDesc>,
    username: Option<String>,
    password: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct PublishDesc {
    dup: bool,
    delivery: Delivery,
    retain: bool,
    topic: String,
    payload: Vec<u8>,
}

/// An owned, always valid packet. [`Desc::packet`] borrows it as a [`Packet`].
#[derive(Debug, Clone)]
enum Desc {
    Connect(ConnectDesc),
    ConnAck(ConnAck),
    Publish(PublishDesc),
    PubAck(PacketId),
    PubRec(PacketId),
    PubRel(PacketId),
    PubComp(PacketId),
    Subscribe {
        packet_id: PacketId,
        topics: Vec<(String, QoS)>,
    },
    SubAck {
        packet_id: PacketId,
        codes: Vec<SubAckReturnCode>,
    },
    Unsubscribe {
        packet_id: PacketId,
        topics: Vec<String>,
    },
    UnsubAck(PacketId),
    PingReq,
    PingResp,
    Disconnect,
}

/// The entry slices that `Entries::new` borrows, built from a [`Desc`].
#[derive(Default)]
struct Lists<'a> {
    subscriptions: Vec<Subscription<'a>>,
    filters: Vec<TopicFilter<'a>>,
}

fn name(s: &str) -> TopicName<'_> {
    TopicName::new(s).expect("the strategy yields valid topic names")
}

fn filter(s: &str) -> TopicFilter<'_> {
    TopicFilter::new(s).expect("the strategy yields valid topic filters")
}

impl Desc {
    fn lists(&self) -> Lists<'_> {
        match self {
            Self::Subscribe { topics, .. } => Lists {
                subscriptions: topics
                    .iter()
                    .map(|(f, qos)| Subscription {
                        filter: filter(f),
                        qos: *qos,
                    })
                    .collect(),
                ..Lists::default()
            },
            Self::Unsubscribe { topics, .. } => Lists {
                filters: topics.iter().map(|f| filter(f)).collect(),
                ..Lists::default()
            },
            _ => Lists::default(),
        }
    }

    fn packet<'a>(&'a self, lists: &'a Lists<'a>) -> Packet<'a> {
        match self {
            Self::Connect(c) => Packet::Connect(Connect {
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: &c.client_id,
                will: c.will.as_ref().map(|w| LastWill {
                    topic: name(&w.topic),
                    message: &w.message,
                    qos: w.qos,
                    retain: w.retain,
                }),
                username: c.username.as_deref(),
                password: c.password.as_deref(),
            }),
            Self::ConnAck(c) => Packet::ConnAck(*c),
            Self::Publish(p) => Packet::Publish(Publish {
                dup: p.dup,
                delivery: p.delivery,
                retain: p.retain,
                topic: name(&p.topic),
                payload: &p.payload,
            }),
            Self::PubAck(id) => Packet::PubAck(*id),
            Self::PubRec(id) => Packet::PubRec(*id),
            Self::PubRel(id) => Packet::PubRel(*id),
            Self::PubComp(id) => Packet::PubComp(*id),
            Self::Subscribe { packet_id, .. } => Packet::Subscribe(Subscribe {
                packet_id: *packet_id,
                topics: Entries::new(&lists.subscriptions),
            }),
            Self::SubAck { packet_id, codes } => Packet::SubAck(SubAck {
                packet_id: *packet_id,
                codes: Entries::new(codes),
            }),
            Self::Unsubscribe { packet_id, .. } => Packet::Unsubscribe(Unsubscribe {
                packet_id: *packet_id,
                topics: Entries::new(&lists.filters),
            }),
            Self::UnsubAck(id) => Packet::UnsubAck(*id),
            Self::PingReq => Packet::PingReq,
            Self::PingResp => Packet::PingResp,
            Self::Disconnect => Packet::Disconnect,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies for valid packets
// ---------------------------------------------------------------------------------------------

/// Characters of topic levels: ASCII, spaces, `$`, multi-byte UTF-8 (2, 3 and 4 bytes), a BOM
/// ([MQTT-1.5.3-3] keeps it) and control characters, which are allowed (only U+0000 is not).
const LEVEL_CHARS: &[char] = &[
    'a', 'b', 'z', 'A', '0', '9', ' ', '$', '_', '-', '.', 'é', 'ß', 'Ω', '日', '本', '😀', '\u{feff}',
    '\u{7f}', '\u{1}',
];

/// One level of a topic name: possibly empty, never containing `/`, `+`, `#` or U+0000.
fn name_level() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(select(LEVEL_CHARS), 0..6).prop_map(|cs| cs.into_iter().collect::<String>()),
        1 => "[^\\x00+#/]{0,10}",
    ]
}

/// Valid topic names: 1 to 5 levels joined by `/`, sometimes under `$SYS/`.
fn topic_name() -> impl Strategy<Value = String> {
    let plain = || vec(name_level(), 1..6).prop_map(|levels| levels.join("/"));
    prop_oneof![
        6 => plain(),
        1 => plain().prop_map(|s| format!("$SYS/{s}")),
        1 => Just("/".to_string()),
    ]
    .prop_filter("topic names are not empty", |s| !s.is_empty())
}

/// Valid topic filters: levels that are names or `+`, optionally ending with `#`.
fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![3 => name_level(), 1 => Just("+".to_string())];
    (vec(level, 0..6), any::<bool>())
        .prop_map(|(mut levels, hash)| {
            if hash || levels.is_empty() {
                levels.push("#".to_string());
            }
            levels.join("/")
        })
        .prop_filter("topic filters are not empty", |s| !s.is_empty())
}

fn packet_id() -> impl Strategy<Value = PacketId> {
    prop_oneof![Just(1u16), Just(u16::MAX), Just(256), 1..=u16::MAX]
        .prop_map(|v| PacketId::new(v).expect("non-zero"))
}

fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

/// Large byte strings filled from a seed (xorshift): generating tens of thousands of bytes
/// one proptest value at a time would dominate the run time, and their content is not what
/// these tests vary.
fn large(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (len, any::<u64>()).prop_map(|(n, seed)| {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    })
}

/// Payloads: mostly 0..300 bytes, sometimes about 20,000 (a 3-byte Remaining Length).
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => vec(any::<u8>(), 0..300),
        1 => large(20_000..20_050),
    ]
}

/// Binary fields (will message, password): short, sometimes large, rarely the 65,535 maximum.
fn binary() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        24 => vec(any::<u8>(), 0..64),
        2 => large(20_000..20_050),
        1 => large(65_535..65_536),
    ]
}

fn client_id() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        4 => "[0-9a-zA-Z]{1,23}",
        2 => "[^\\x00]{1,30}",
    ]
}

fn will() -> impl Strategy<Value = WillDesc> {
    (topic_name(), binary(), qos(), any::<bool>()).prop_map(|(topic, message, qos, retain)| WillDesc {
        topic,
        message,
        qos,
        retain,
    })
}

fn connect() -> impl Strategy<Value = ConnectDesc> {
    (
        client_id(),
        any::<bool>(),
        any::<u16>(),
        proptest::option::of(will()),
        proptest::option::of("[^\\x00]{0,30}"),
        proptest::option::of(binary()),
    )
        .prop_map(
            |(client_id, clean, keep_alive, will, username, password)| ConnectDesc {
                // [MQTT-3.1.3-7] an empty client id requires a clean session.
                clean_session: clean || client_id.is_empty(),
                keep_alive,
                client_id,
                will,
                // [MQTT-3.1.2-22] no password without a user name.
                password: if username.is_some() { password } else { None },
                username,
            },
        )
}

fn connack() -> impl Strategy<Value = ConnAck> {
    const CODES: [ConnectReturnCode; 6] = [
        ConnectReturnCode::Accepted,
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::ServerUnavailable,
        ConnectReturnCode::BadUserNameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ];
    (any::<bool>(), select(&CODES[..])).prop_map(|(session_present, code)| ConnAck {
        // [MQTT-3.2.2-4] a refusal never has Session Present.
        session_present: session_present && code == ConnectReturnCode::Accepted,
        code,
    })
}

fn publish() -> impl Strategy<Value = PublishDesc> {
    (
        topic_name(),
        payload(),
        qos(),
        packet_id(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(topic, payload, qos, id, dup, retain)| {
            let delivery = Delivery::new(qos, Some(id)).expect("an id is given");
            PublishDesc {
                // [MQTT-3.3.1-2] DUP only at QoS 1 and 2.
                dup: dup && qos != QoS::AtMostOnce,
                delivery,
                retain,
                topic,
                payload,
            }
        })
}

fn suback_code() -> impl Strategy<Value = SubAckReturnCode> {
    prop_oneof![
        3 => qos().prop_map(SubAckReturnCode::Success),
        1 => Just(SubAckReturnCode::Failure),
    ]
}

/// Every valid packet of the 14 kinds.
fn desc() -> impl Strategy<Value = Desc> {
    prop_oneof![
        3 => connect().prop_map(Desc::Connect),
        1 => connack().prop_map(Desc::ConnAck),
        4 => publish().prop_map(Desc::Publish),
        3 => (0..5u8, packet_id()).prop_map(|(kind, id)| match kind {
            0 => Desc::PubAck(id),
            1 => Desc::PubRec(id),
            2 => Desc::PubRel(id),
            3 => Desc::PubComp(id),
            _ => Desc::UnsubAck(id),
        }),
        2 => (packet_id(), vec((topic_filter(), qos()), 1..=8))
            .prop_map(|(packet_id, topics)| Desc::Subscribe { packet_id, topics }),
        2 => (packet_id(), vec(suback_code(), 1..=8))
            .prop_map(|(packet_id, codes)| Desc::SubAck { packet_id, codes }),
        2 => (packet_id(), vec(topic_filter(), 1..=8))
            .prop_map(|(packet_id, topics)| Desc::Unsubscribe { packet_id, topics }),
        1 => select(&[Desc::PingReq, Desc::PingResp, Desc::Disconnect][..]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Encodes into an exactly sized buffer, checking the length agrees with `encoded_len`.
fn encode_vec(p: &Packet<'_>) -> Result<Vec<u8>, TestCaseError> {
    let len = p.encoded_len();
    let mut buf = vec![0xa5; len];
    prop_assert_eq!(p.encode(&mut buf), Ok(len), "encode of {:?}", p);
    Ok(buf)
}

/// Size of the minimal variable-byte encoding of `n` (2.2.3), computed independently.
fn vbi_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// The fixed header length of a well-formed encoding: byte 0 plus the length bytes.
fn header_len_of(enc: &[u8]) -> usize {
    2 + enc[1..].iter().take_while(|b| *b & 0x80 != 0).count()
}

/// Writes `n` as a variable-byte integer in exactly `size` bytes (non-minimal when `size`
/// exceeds [`vbi_len`]); 3.1.1 does not forbid such encodings.
fn vbi(n: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| {
            let b = ((n >> (7 * i)) & 0x7f) as u8;
            if i + 1 < size { b | 0x80 } else { b }
        })
        .collect()
}

fn partial(needed: usize) -> Status<(Packet<'static>, usize)> {
    Status::Partial {
        needed: NonZeroUsize::new(needed).expect("needed is never 0"),
    }
}

/// A reader that hands out one byte per `read` call, to exercise `read_exact` loops.
struct Trickle<'a>(&'a [u8]);

impl ErrorType for Trickle<'_> {
    type Error = Infallible;
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(dst)) => {
                *dst = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies for arbitrary and structure-biased bytes
// ---------------------------------------------------------------------------------------------

/// A valid byte 0 for any of the 14 types, any PUBLISH flag nibble, or any byte at all.
fn first_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        6 => (1u8..=14).prop_map(|t| (t << 4) | if matches!(t, 6 | 8 | 10) { 0b0010 } else { 0 }),
        3 => (0u8..16).prop_map(|flags| 0x30 | flags),
        1 => any::<u8>(),
    ]
}

fn length_prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(bytes);
    v
}

/// Pieces that body parsers look for: strings (valid, with wildcards, with U+0000, not
/// UTF-8), topic filters, packet ids, QoS and return-code bytes, and raw bytes.
fn body_chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..6),
        2 => "[a/+#$\\x00é ]{0,8}".prop_map(|s| length_prefixed(s.as_bytes())),
        2 => topic_filter().prop_map(|s| length_prefixed(s.as_bytes())),
        1 => vec(any::<u8>(), 0..4).prop_map(|b| length_prefixed(&b)),
        2 => any::<u16>().prop_map(|v| v.to_be_bytes().to_vec()),
        2 => select(&[0u8, 1, 2, 3, 4, 5, 6, 0x80, 0x81, 0xff][..]).prop_map(|b| vec![b]),
    ]
}

/// A body shaped like a CONNECT: a correct (or nearly correct) protocol name and level,
/// arbitrary flags and keep-alive, then string-like chunks.
fn connect_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            8 => Just(b"\x00\x04MQTT\x04".to_vec()),
            1 => Just(b"\x00\x04MQTT\x03".to_vec()),
            1 => Just(b"\x00\x06MQIsdp\x03".to_vec()),
        ],
        any::<u8>(),
        any::<u16>(),
        vec(body_chunk(), 0..6),
    )
        .prop_map(|(head, flags, keep_alive, chunks)| {
            let mut body = head;
            body.push(flags);
            body.extend_from_slice(&keep_alive.to_be_bytes());
            body.extend(chunks.concat());
            body
        })
}

/// A frame whose header is mostly right so that the body parsers are reached: a valid
/// byte 0, a Remaining Length close to the body length (sometimes non-minimal), and a few
/// trailing bytes.
fn biased_frame() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        3 => (first_byte(), vec(body_chunk(), 0..6).prop_map(|c| c.concat())),
        1 => (Just(0x10u8), connect_body()),
    ];
    (
        body,
        prop_oneof![6 => Just(0i32), 1 => -3i32..=3],
        prop_oneof![4 => Just(0usize), 1 => 1usize..=3],
        vec(any::<u8>(), 0..4),
    )
        .prop_map(|((first, body), delta, extra_len_bytes, trailing)| {
            let rem = usize::try_from(body.len() as i32 + delta).unwrap_or(0);
            let size = (vbi_len(rem) + extra_len_bytes).min(4);
            let mut frame = vec![first];
            frame.extend(vbi(rem, size));
            frame.extend(body);
            frame.extend(trailing);
            frame
        })
}

/// A valid encoding with a few bytes overwritten, then cut short or extended.
fn mutated_encoding() -> impl Strategy<Value = Vec<u8>> {
    (
        desc(),
        vec((any::<Index>(), any::<u8>()), 1..4),
        any::<Index>(),
        0u8..4,
    )
        .prop_map(|(d, edits, cut, mode)| {
            let lists = d.lists();
            let p = d.packet(&lists);
            let mut bytes = vec![0; p.encoded_len()];
            p.encode(&mut bytes).expect("valid packet");
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            match mode {
                0 => bytes.truncate(cut.index(bytes.len() + 1)),
                1 => bytes.extend_from_slice(&[0x30, 0x00]),
                _ => {}
            }
            bytes
        })
}

/// A valid encoding re-framed with a non-minimal Remaining Length (one to three bytes longer
/// than needed, at most four in all), sometimes cut short.
fn reframed_encoding() -> impl Strategy<Value = Vec<u8>> {
    (desc(), 1usize..=3, any::<Index>(), any::<bool>()).prop_map(|(d, extra, cut, truncate)| {
        let lists = d.lists();
        let p = d.packet(&lists);
        let mut enc = vec![0; p.encoded_len()];
        p.encode(&mut enc).expect("valid packet");
        let header_len = header_len_of(&enc);
        let rem = enc.len() - header_len;
        let mut frame = vec![enc[0]];
        frame.extend(vbi(rem, (vbi_len(rem) + extra).min(4)));
        frame.extend_from_slice(&enc[header_len..]);
        if truncate {
            frame.truncate(cut.index(frame.len() + 1));
        }
        frame
    })
}

/// A CONNECT whose payload follows its (random) flags, so that most frames are complete and
/// many are valid: empty client ids with and without Clean Session, wills with bad topics,
/// passwords without user names, reserved bits.
fn raw_connect() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        proptest::bool::weighted(0.9),
        any::<u16>(),
        prop_oneof![Just(String::new()), "[a-z]{1,5}"],
        prop_oneof![topic_name(), "[a/+#$]{0,5}"],
        vec(any::<u8>(), 0..5),
        "[^\\x00]{0,5}",
        vec(any::<u8>(), 0..5),
    )
        .prop_map(
            |(flags, clear_reserved, keep_alive, id, will_topic, will_message, user, pass)| {
                let flags = if clear_reserved { flags & !1 } else { flags };
                let mut body = b"\x00\x04MQTT\x04".to_vec();
                body.push(flags);
                body.extend_from_slice(&keep_alive.to_be_bytes());
                body.extend(length_prefixed(id.as_bytes()));
                if flags & 0x04 != 0 {
                    body.extend(length_prefixed(will_topic.as_bytes()));
                    body.extend(length_prefixed(&will_message));
                }
                if flags & 0x80 != 0 {
                    body.extend(length_prefixed(user.as_bytes()));
                }
                if flags & 0x40 != 0 {
                    body.extend(length_prefixed(&pass));
                }
                let mut frame = vec![0x10];
                frame.extend(vbi(body.len(), vbi_len(body.len())));
                frame.extend(body);
                frame
            },
        )
}

/// A two-byte body after any valid byte 0, from bytes that matter to CONNACK (flags, return
/// codes) and to packet identifiers (zero or not).
fn two_byte_body() -> impl Strategy<Value = Vec<u8>> {
    let interesting = || select(&[0u8, 1, 2, 3, 5, 6, 0x80, 0xfe, 0xff][..]);
    let first = prop_oneof![1 => Just(0x20u8), 2 => first_byte()];
    (first, interesting(), interesting()).prop_map(|(first, a, b)| vec![first, 2, a, b])
}

/// SUBSCRIBE, UNSUBSCRIBE or SUBACK with a packet id and entries made of filters with
/// wildcards in legal and illegal places and requested-QoS bytes, some invalid.
fn raw_list() -> impl Strategy<Value = Vec<u8>> {
    let entry = ("[a/+#]{0,6}", select(&[0u8, 1, 2, 3, 0x80][..]));
    (select(&[0x82u8, 0xa2, 0x90][..]), any::<u16>(), vec(entry, 0..4)).prop_map(|(first, id, entries)| {
        let mut body = id.to_be_bytes().to_vec();
        for (f, qos) in entries {
            match first {
                0x82 => {
                    body.extend(length_prefixed(f.as_bytes()));
                    body.push(qos);
                }
                0xa2 => body.extend(length_prefixed(f.as_bytes())),
                _ => body.push(qos),
            }
        }
        let mut frame = vec![first];
        frame.extend(vbi(body.len(), vbi_len(body.len())));
        frame.extend(body);
        frame
    })
}

/// A valid byte 0 followed by four or five length bytes with the continuation bit set: a
/// Remaining Length longer than four bytes (2.2.3).
fn overlong_length() -> impl Strategy<Value = Vec<u8>> {
    (first_byte(), vec(0x80u8..=0xff, 4..6), vec(any::<u8>(), 0..4))
        .prop_map(|(first, len, rest)| [vec![first], len, rest].concat())
}

/// Every byte string the arbitrary-input property is run on.
fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => vec(any::<u8>(), 0..512),
        3 => biased_frame(),
        2 => mutated_encoding(),
        1 => reframed_encoding(),
        1 => raw_connect(),
        1 => two_byte_body(),
        1 => raw_list(),
        1 => overlong_length(),
    ]
}

// ---------------------------------------------------------------------------------------------
// The decoding contract on arbitrary input
// ---------------------------------------------------------------------------------------------

/// Re-encodes a packet decoded from `frame` (whose fixed header is `h`).
///
/// The encoder always writes the minimal Remaining Length, while 3.1.1 lets a sender use a
/// longer one (2.2.3 only caps it at four bytes), and the decoder accepts it. So the
/// re-encoding equals the frame byte for byte only when the frame's length was minimal;
/// otherwise it differs exactly in the length bytes and decodes to the same packet.
///
/// One more asymmetry is deliberate: the decoder accepts a CONNECT with an empty client id
/// and Clean Session 0 (a server must answer it with CONNACK 0x02, [MQTT-3.1.3-8], so it has
/// to be able to read it), while the encoder refuses to send one ([MQTT-3.1.3-7]).
fn check_reencode(p: &Packet<'_>, frame: &[u8], h: &FixedHeader) -> Result<(), TestCaseError> {
    let mut out = vec![0xa5; frame.len() + 8];
    let m = match p.encode(&mut out) {
        Ok(m) => m,
        Err(EncodeError::EmptyClientIdWithoutCleanSession) => {
            prop_assert!(
                matches!(p, Packet::Connect(c) if c.client_id.is_empty() && !c.clean_session),
                "EmptyClientIdWithoutCleanSession for {:?}",
                p
            );
            return Ok(());
        }
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "decoded {p:?} but re-encoding fails: {e:?}"
            )));
        }
    };
    prop_assert_eq!(m, p.encoded_len());
    prop_assert!(
        out[m..].iter().all(|&b| b == 0xa5),
        "encode wrote past its length"
    );
    let minimal = 1 + vbi_len(h.remaining_len);
    if h.header_len == minimal {
        prop_assert_eq!(&out[..m], frame);
    } else {
        prop_assert!(h.header_len > minimal);
        prop_assert_eq!(m, frame.len() - (h.header_len - minimal));
        prop_assert_eq!(out[0], frame[0]);
        prop_assert_eq!(&out[minimal..m], &frame[h.header_len..]);
        prop_assert_eq!(decode(&out[..m]), Ok(Status::Complete((*p, m))));
    }
    Ok(())
}

/// Checks everything the decoding contract promises about `input`; `garbage` is appended to
/// check that results do not depend on bytes after the frame.
fn check_decode_contract(input: &[u8], garbage: &[u8]) -> Result<(), TestCaseError> {
    let result = decode(input);
    let extended = [input, garbage].concat();
    let header = peek_fixed_header(input);
    // The prefix length at which the result stops being `Partial`.
    let decided_at = match (&result, &header) {
        (Ok(Status::Complete((p, n))), Ok(Status::Complete(h))) => {
            prop_assert!(*n <= input.len());
            prop_assert_eq!(*n, h.packet_len());
            prop_assert_eq!(h.header_len, header_len_of(input));
            prop_assert_eq!(p.packet_type(), h.packet_type);
            check_lists(p)?;
            // The frame alone, and the frame followed by anything, decode the same.
            prop_assert_eq!(decode(&input[..*n]), Ok(Status::Complete((*p, *n))));
            prop_assert_eq!(decode(&extended), Ok(Status::Complete((*p, *n))));
            check_reencode(p, &input[..*n], h)?;
            Some(*n)
        }
        (Ok(Status::Complete(_)), other) => {
            return Err(TestCaseError::fail(format!(
                "Complete but peek_fixed_header gives {other:?}"
            )));
        }
        (Ok(Status::Partial { needed }), Ok(Status::Complete(h))) => {
            // The fixed header is in: `needed` is exact.
            prop_assert!(input.len() < h.packet_len());
            prop_assert_eq!(input.len() + needed.get(), h.packet_len());
            None
        }
        (Ok(Status::Partial { needed }), Ok(Status::Partial { .. })) => {
            // The fixed header is not in yet: byte 0 (if any) is valid, every length byte so
            // far has its continuation bit, and `needed` does not overshoot the shortest
            // frame those bytes could start (2 bytes, or one more length byte).
            prop_assert!(input.len() < 5);
            prop_assert!(input.iter().skip(1).all(|b| b & 0x80 != 0));
            let bound = if input.is_empty() { 2 } else { 1 };
            prop_assert!(needed.get() <= bound, "needed {} for {:?}", needed, input);
            None
        }
        (Ok(Status::Partial { .. }), Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "Partial but peek_fixed_header gives {e:?}"
            )));
        }
        (Err(e), _) => {
            // Errors depend only on the frame's bytes. This holds for every error, not only
            // for complete frames: the decoder reports an error either in the fixed header
            // (byte 0, or a fifth length byte) as soon as those bytes are present, or in the
            // body only once the whole frame is present (before that it says `Partial`). In
            // both cases appending bytes cannot change what was already seen.
            prop_assert_eq!(decode(&extended), Err(*e));
            match header {
                Err(he) => {
                    prop_assert_eq!(he, *e);
                    Some(if he == DecodeError::MalformedRemainingLength {
                        5
                    } else {
                        1
                    })
                }
                Ok(Status::Complete(h)) => {
                    prop_assert!(
                        h.packet_len() <= input.len(),
                        "a body error before the frame is complete"
                    );
                    prop_assert_eq!(decode_body(&h, &input[h.header_len..h.packet_len()]), Err(*e));
                    Some(h.packet_len())
                }
                Ok(Status::Partial { .. }) => {
                    return Err(TestCaseError::fail(format!(
                        "error {e:?} although the fixed header is incomplete"
                    )));
                }
            }
        }
    };
    // Every shorter prefix is `Partial` (no invalid byte seen yet), and the first prefix that
    // is not gives the final result.
    let end = decided_at.unwrap_or(input.len() + 1);
    for k in 0..end.min(input.len() + 1) {
        match decode(&input[..k]) {
            Ok(Status::Partial { needed }) => {
                if let Ok(Status::Complete(h)) = peek_fixed_header(&input[..k]) {
                    prop_assert_eq!(k + needed.get(), h.packet_len(), "prefix {}", k);
                }
            }
            other => {
                return Err(TestCaseError::fail(format!(
                    "prefix of {k} bytes gives {other:?}, expected Partial"
                )));
            }
        }
    }
    if let Some(d) = decided_at {
        prop_assert_eq!(decode(&input[..d]), result, "prefix of {} bytes", d);
    }
    Ok(())
}

/// Decoded lists are never empty ([MQTT-3.8.3-3], [MQTT-3.9.3-1], [MQTT-3.10.3-2]), and
/// `Entries::len` agrees with iteration.
fn check_lists(p: &Packet<'_>) -> Result<(), TestCaseError> {
    let (counted, reported) = match p {
        Packet::Subscribe(s) => (s.topics.iter().count(), s.topics.len()),
        Packet::SubAck(s) => (s.codes.iter().count(), s.codes.len()),
        Packet::Unsubscribe(u) => (u.topics.iter().count(), u.topics.len()),
        _ => return Ok(()),
    };
    prop_assert!(counted > 0, "decoded an empty list in {:?}", p);
    prop_assert_eq!(
        counted,
        reported,
        "Entries::len disagrees with iteration in {:?}",
        p
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Topic matching reference model
// ---------------------------------------------------------------------------------------------

/// Section 4.7, stated declaratively: without `#` the filter has as many levels as the name
/// and each is `+` or equal; with a final `#` the name has at least the levels before it
/// (the parent level itself matches, 4.7.1.2) and those match the same way. A filter starting
/// with a wildcard never matches a name starting with `$` ([MQTT-4.7.2-1]).
fn reference_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    let level_ok = |(fl, nl): (&&str, &&str)| *fl == "+" || fl == nl;
    match f.split_last() {
        Some((&"#", before)) => n.len() >= before.len() && before.iter().zip(&n).all(level_ok),
        _ => f.len() == n.len() && f.iter().zip(&n).all(level_ok),
    }
}

fn small_name() -> impl Strategy<Value = String> {
    vec(select(&["a", "b", "", "$", "$a"][..]), 1..5)
        .prop_map(|l| l.join("/"))
        .prop_filter("non-empty", |s| !s.is_empty())
}

fn small_filter() -> impl Strategy<Value = String> {
    (vec(select(&["a", "b", "", "$", "+"][..]), 0..5), any::<bool>())
        .prop_map(|(mut l, hash)| {
            if hash || l.is_empty() {
                l.push("#");
            }
            l.join("/")
        })
        .prop_filter("non-empty", |s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) `decode(encode(p)) == Complete((p, len))`, with `len == encoded_len()`, a minimal
    /// fixed header, and nothing written past `len`.
    #[test]
    fn encode_then_decode_gives_the_packet_back(d in desc()) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let len = p.encoded_len();
        let mut buf = vec![0xa5; len + 16];
        prop_assert_eq!(p.encode(&mut buf), Ok(len));
        prop_assert_eq!(umqtt::encode(&p, &mut buf), Ok(len));
        prop_assert!(buf[len..].iter().all(|&b| b == 0xa5), "encode wrote past its length");
        let enc = &buf[..len];
        prop_assert_eq!(decode(enc), Ok(Status::Complete((p, len))));
        prop_assert_eq!(Packet::decode(enc), Ok(Status::Complete((p, len))));
        let Ok(Status::Complete(h)) = peek_fixed_header(enc) else {
            return Err(TestCaseError::fail("no fixed header"));
        };
        prop_assert_eq!(h.packet_type, p.packet_type());
        prop_assert_eq!(h.header_len, 1 + vbi_len(h.remaining_len), "Remaining Length not minimal");
        prop_assert_eq!(h.packet_len(), len);
    }

    /// (b) Every strict prefix is `Partial`; once the fixed header is in, `needed` completes
    /// the packet exactly, and before that it never overshoots.
    #[test]
    fn every_strict_prefix_is_partial_with_exact_needed(d in desc()) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let enc = encode_vec(&p)?;
        let len = enc.len();
        let header_len = header_len_of(&enc);
        for k in 0..len {
            let got = decode(&enc[..k]);
            match got {
                Ok(Status::Partial { needed }) if k >= header_len => {
                    prop_assert_eq!(needed.get(), len - k, "prefix of {} bytes", k);
                }
                Ok(Status::Partial { needed }) => {
                    prop_assert!(k + needed.get() <= len, "prefix of {} bytes overshoots: {}", k, needed);
                }
                other => {
                    return Err(TestCaseError::fail(format!("prefix of {k}/{len} bytes gives {other:?}")));
                }
            }
        }
    }

    /// (c) A buffer shorter than `encoded_len` gives `BufferTooSmall { needed: len }` and is
    /// left byte for byte untouched.
    #[test]
    fn short_buffer_is_refused_and_untouched(d in desc(), picks in vec(any::<Index>(), 8)) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let len = p.encoded_len();
        let shorts: Vec<usize> = if len <= 512 {
            (0..len).collect()
        } else {
            let mut s = vec![0, 1, 2, 3, 4, 5, len / 2, len - 2, len - 1];
            s.extend(picks.iter().map(|i| i.index(len)));
            s
        };
        let mut buf = vec![0xa5; len];
        for short in shorts {
            let want = Err(umqtt::EncodeError::BufferTooSmall { needed: len });
            prop_assert_eq!(p.encode(&mut buf[..short]), want, "buffer of {}", short);
            prop_assert_eq!(umqtt::encode(&p, &mut buf[..short]), want, "buffer of {}", short);
            prop_assert!(buf[..short].iter().all(|&b| b == 0xa5), "buffer of {} was written to", short);
        }
    }

    /// (d) Two or three packets concatenated decode back in order, using the consumed count.
    #[test]
    fn concatenated_packets_decode_in_sequence(ds in vec(desc(), 2..=3)) {
        let lists: Vec<Lists<'_>> = ds.iter().map(Desc::lists).collect();
        let packets: Vec<Packet<'_>> = ds.iter().zip(&lists).map(|(d, l)| d.packet(l)).collect();
        let mut stream = Vec::new();
        for p in &packets {
            stream.extend(encode_vec(p)?);
        }
        let mut at = 0;
        for (i, p) in packets.iter().enumerate() {
            let Ok(Status::Complete((got, n))) = decode(&stream[at..]) else {
                return Err(TestCaseError::fail(format!("packet {i} at {at} did not decode")));
            };
            prop_assert_eq!(got, *p, "packet {}", i);
            prop_assert_eq!(n, p.encoded_len(), "packet {}", i);
            at += n;
        }
        prop_assert_eq!(at, stream.len());
        prop_assert_eq!(decode(&stream[at..]), Ok(partial(2)));
    }

    /// (e) `encode_to` writes the same bytes as `encode`, into a `Vec<u8>` and into a
    /// `&mut [u8]`; a slice writer one byte short fails with the writer's error.
    #[test]
    fn encode_to_writes_the_same_bytes(d in desc()) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let enc = encode_vec(&p)?;
        let len = enc.len();

        let mut v: Vec<u8> = Vec::new();
        prop_assert_eq!(p.encode_to(&mut v), Ok(len));
        prop_assert_eq!(&v, &enc);

        let mut out = vec![0xa5; len + 4];
        let mut w: &mut [u8] = &mut out;
        prop_assert_eq!(p.encode_to(&mut w), Ok(len));
        prop_assert_eq!(w.len(), 4);
        prop_assert_eq!(&out[..len], &enc[..]);

        let mut short = vec![0xa5; len - 1];
        let mut w: &mut [u8] = &mut short;
        prop_assert_eq!(p.encode_to(&mut w), Err(EncodeToError::Write(SliceWriteError::Full)));
    }

    /// (f) `read_packet` over a `&[u8]` (and over a one-byte-per-read reader) returns the same
    /// packet, reads nothing past it, and with a body buffer one byte too small reports
    /// `TooLarge` while staying aligned on the next packet.
    #[test]
    fn read_packet_returns_the_same_packet(d in desc(), next in desc()) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let next_lists = next.lists();
        let q = next.packet(&next_lists);
        let enc = encode_vec(&p)?;
        let enc_next = encode_vec(&q)?;
        let stream = [&enc[..], &enc_next[..]].concat();
        let rem = enc.len() - header_len_of(&enc);
        let mut body = vec![0u8; rem.max(enc_next.len())];

        let mut reader: &[u8] = &stream;
        prop_assert_eq!(read_packet(&mut reader, &mut body[..rem]), Ok(p));
        prop_assert_eq!(reader, &enc_next[..], "read_packet read past the packet");
        prop_assert_eq!(read_packet(&mut reader, &mut body), Ok(q));
        prop_assert!(reader.is_empty());
        prop_assert_eq!(
            read_packet(&mut reader, &mut body),
            Err::<Packet<'_>, _>(ReadPacketError::Eof { mid_packet: false })
        );

        let mut trickle = Trickle(&stream);
        prop_assert_eq!(read_packet(&mut trickle, &mut body[..rem]), Ok(p));
        prop_assert_eq!(trickle.0, &enc_next[..], "read_packet read past the packet");

        if rem > 0 {
            for small in [0, rem - 1] {
                let mut reader: &[u8] = &stream;
                prop_assert_eq!(
                    read_packet(&mut reader, &mut body[..small]),
                    Err(ReadPacketError::TooLarge { packet_type: p.packet_type(), len: enc.len() }),
                    "body buffer of {}", small
                );
                prop_assert_eq!(reader, &enc_next[..], "not aligned after TooLarge");
                prop_assert_eq!(read_packet(&mut reader, &mut body), Ok(q));
            }
        }
    }

    /// (f) A stream that ends inside a packet gives `Eof { mid_packet: true }`, and only an
    /// empty stream gives `Eof { mid_packet: false }` (the error docs: "cleanly between
    /// packets when `mid_packet` is false").
    #[test]
    fn read_packet_reports_eof_inside_a_packet(d in desc(), cut in any::<Index>()) {
        let lists = d.lists();
        let p = d.packet(&lists);
        let enc = encode_vec(&p)?;
        let mut body = vec![0u8; enc.len()];
        let header_len = header_len_of(&enc);
        let mut cuts = vec![0, 1, header_len - 1, header_len, enc.len() - 1, cut.index(enc.len())];
        cuts.retain(|&k| k < enc.len());
        cuts.sort_unstable();
        cuts.dedup();
        for k in cuts {
            let want = Err(ReadPacketError::Eof { mid_packet: k > 0 });
            let mut reader: &[u8] = &enc[..k];
            prop_assert_eq!(read_packet(&mut reader, &mut body), want, "slice reader, {} bytes", k);
            let mut trickle = Trickle(&enc[..k]);
            prop_assert_eq!(read_packet(&mut trickle, &mut body), want, "trickle reader, {} bytes", k);
        }
    }

    /// (g) Arbitrary and structure-biased bytes never panic, and every outcome obeys the
    /// decoding contract (see `check_decode_contract`).
    #[test]
    fn arbitrary_bytes_obey_the_decode_contract(input in any_input(), garbage in vec(any::<u8>(), 1..8)) {
        check_decode_contract(&input, &garbage)?;
    }

    /// (h) A topic name matches itself used as a filter (equal strings match, `$` or not).
    #[test]
    fn topic_name_matches_itself(n in topic_name()) {
        prop_assert!(topic_matches(&n, &n));
        prop_assert!(filter(&n).matches(name(&n)));
    }

    /// (h) `#` matches exactly the names that do not start with `$` ([MQTT-4.7.2-1]).
    #[test]
    fn hash_matches_every_name_not_starting_with_dollar(n in topic_name()) {
        prop_assert_eq!(topic_matches("#", &n), !n.starts_with('$'));
    }

    /// (h) Replacing any one level of a name by `+` still matches, except the first level of a
    /// `$` name ([MQTT-4.7.2-1]).
    #[test]
    fn plus_in_place_of_any_level_matches(n in topic_name(), at in any::<Index>()) {
        let mut levels: Vec<&str> = n.split('/').collect();
        let i = at.index(levels.len());
        levels[i] = "+";
        let f = levels.join("/");
        prop_assert!(TopicFilter::new(&f).is_ok(), "{} is not a valid filter", f);
        let want = !(i == 0 && n.starts_with('$'));
        prop_assert_eq!(topic_matches(&f, &n), want, "{} vs {}", f, n);
    }

    /// (h) `#` in place of any suffix of levels matches, including the parent level itself
    /// (`a/b/#` matches `a/b`, 4.7.1.2), except a bare `#` against a `$` name.
    #[test]
    fn hash_in_place_of_any_suffix_matches(n in topic_name(), at in any::<Index>()) {
        let levels: Vec<&str> = n.split('/').collect();
        let i = at.index(levels.len() + 1);
        let f = if i == 0 { "#".to_string() } else { format!("{}/#", levels[..i].join("/")) };
        prop_assert!(TopicFilter::new(&f).is_ok(), "{} is not a valid filter", f);
        let want = !(i == 0 && n.starts_with('$'));
        prop_assert_eq!(topic_matches(&f, &n), want, "{} vs {}", f, n);
    }

    /// (h) `topic_matches` agrees with the declarative reference model on small alphabets
    /// (where matches are frequent), and with `TopicFilter::matches`.
    #[test]
    fn matching_agrees_with_reference_model(f in small_filter(), n in small_name()) {
        let want = reference_matches(&f, &n);
        prop_assert_eq!(topic_matches(&f, &n), want, "{} vs {}", f, n);
        prop_assert_eq!(filter(&f).matches(name(&n)), want, "{} vs {}", f, n);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed checks that complement the properties
// ---------------------------------------------------------------------------------------------

/// The packet strategy reaches all 14 kinds and 1-, 2- and 3-byte Remaining Lengths.
#[test]
fn strategy_covers_every_kind_and_length_size() {
    let mut runner = TestRunner::deterministic();
    let strategy = desc();
    let mut kinds = std::collections::HashSet::new();
    let mut header_lens = std::collections::HashSet::new();
    for _ in 0..2000 {
        let d = strategy.new_tree(&mut runner).expect("strategy").current();
        let lists = d.lists();
        let p = d.packet(&lists);
        kinds.insert(p.packet_type() as u8);
        let mut buf = vec![0; p.encoded_len()];
        p.encode(&mut buf).expect("valid packet");
        header_lens.insert(header_len_of(&buf));
    }
    assert_eq!(kinds.len(), 14, "kinds seen: {kinds:?}");
    assert!(
        [2, 3, 4].iter().all(|l| header_lens.contains(l)),
        "header lengths seen: {header_lens:?}"
    );
}

/// A 4-byte Remaining Length round-trips, and one above 268,435,455 is refused.
#[test]
fn four_byte_remaining_length_and_size_limit() {
    let topic = name("big");
    let payload = vec![0x5a; 2_097_152];
    let p = Packet::Publish(Publish::new(topic, &payload, Delivery::AtMostOnce, false));
    let len = p.encoded_len();
    let mut buf = vec![0; len];
    assert_eq!(p.encode(&mut buf), Ok(len));
    assert_eq!(header_len_of(&buf), 5);
    assert_eq!(decode(&buf), Ok(Status::Complete((p, len))));
    assert_eq!(decode(&buf[..5]), Ok(partial(len - 5)));
    assert_eq!(decode(&buf[..4]), Ok(partial(1)));

    // `vec![0; n]` is allocated zeroed and never touched, so this costs no real memory.
    let huge = vec![0u8; 268_435_455];
    let p = Packet::Publish(Publish::new(topic, &huge, Delivery::AtMostOnce, false));
    assert_eq!(p.encode(&mut []), Err(EncodeError::PacketTooLarge));
    let mut sink: Vec<u8> = Vec::new();
    assert_eq!(
        p.encode_to(&mut sink),
        Err(EncodeToError::Encode(EncodeError::PacketTooLarge))
    );
    assert!(sink.is_empty());
}

/// A stream that ends after the first byte of a packet did not end "cleanly between
/// packets", so `read_packet` must say `mid_packet: true` (see `ReadPacketError::Eof`).
#[test]
fn read_packet_eof_after_the_first_byte_is_mid_packet() {
    let mut body = [0u8; 8];
    // Byte 0 of a PINGREQ, then end of stream.
    let mut reader: &[u8] = &[0xc0];
    let got = read_packet(&mut reader, &mut body);
    assert_eq!(got, Err(ReadPacketError::Eof { mid_packet: true }));
    let mut trickle = Trickle(&[0xc0]);
    let got = read_packet(&mut trickle, &mut body);
    assert_eq!(got, Err(ReadPacketError::Eof { mid_packet: true }));
}
