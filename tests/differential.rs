//! Differential tests against two peer codecs: `mqttbytes` 0.6 (its `v4` module) and `mqttrs` 0.4.
//!
//! **Agreement on valid packets.** For proptest-generated valid packets of every type both
//! peers support (CONNECT, CONNACK, PUBLISH at QoS 0/1/2, PUBACK, PUBREC, PUBREL, PUBCOMP,
//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT), 256 cases per
//! property:
//! * our bytes decode in each peer to the same fields;
//! * each peer's bytes decode in umqtt to the same fields;
//! * all three encoders produce the same bytes (each writes the minimal Remaining Length and the
//!   fields in spec order, so the encoding is canonical).
//!
//! Fields are compared through [`M`], a neutral owned description of a packet: each crate's
//! packet is converted to an `M` field by field and the `M`s are compared.
//!
//! The generators stay inside what both peers can represent: mqttbytes stores the password as
//! a `String` (so passwords are UTF-8 here) and drops an empty user name or password (so both
//! are non-empty when present). Everything else covers the spec's range: any non-NUL character
//! in strings (multi-byte, control characters, non-BMP), topic levels with `+`/`#` in filters,
//! payloads long enough for 1-, 2- and 3-byte Remaining Lengths.
//!
//! **Documented differences.** Where a peer accepts or produces something the specification
//! forbids, a named test below shows it, cites the statement id of
//! `shared/spec/mqtt-3.1.1-checklist.md`, and asserts both behaviours: what the peer does, and
//! the exact [`DecodeError`] / [`EncodeError`] umqtt returns. A few tests record agreement on
//! a rule (all three reject) so that the list of checked rules is complete in one place.

use bytes::BytesMut;
use mqttbytes::v4 as mb;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use umqtt::{
    ConnAck, Connect, ConnectReturnCode, DecodeError, Delivery, EncodeError, Entries, LastWill, Packet,
    PacketId, PacketType, Publish, QoS, Status, SubAck, SubAckReturnCode, Subscribe, Subscription,
    TopicFilter, TopicName, Unsubscribe,
};

// ---------------------------------------------------------------------------------------------
// The neutral description

/// A last will, owned.
#[derive(Debug, Clone, PartialEq)]
struct MWill {
    topic: String,
    message: Vec<u8>,
    qos: u8,
    retain: bool,
}

/// A packet, owned, with plain field types every crate converts to and from.
#[derive(Debug, Clone, PartialEq)]
enum M {
    Connect {
        clean_session: bool,
        keep_alive: u16,
        client_id: String,
        will: Option<MWill>,
        username: Option<String>,
        password: Option<Vec<u8>>,
    },
    ConnAck {
        session_present: bool,
        code: u8,
    },
    /// `pid` is 0 at QoS 0.
    Publish {
        dup: bool,
        qos: u8,
        retain: bool,
        topic: String,
        pid: u16,
        payload: Vec<u8>,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe {
        pid: u16,
        filters: Vec<(String, u8)>,
    },
    SubAck {
        pid: u16,
        codes: Vec<u8>,
    },
    Unsubscribe {
        pid: u16,
        filters: Vec<String>,
    },
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
}

// ---------------------------------------------------------------------------------------------
// umqtt <-> M

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("generated packet ids are non-zero")
}

fn qos(v: u8) -> QoS {
    QoS::from_u8(v).expect("generated QoS is 0..=2")
}

/// Encodes `m` with umqtt.
fn ours_encode(m: &M) -> Vec<u8> {
    let subs: Vec<Subscription<'_>>;
    let codes: Vec<SubAckReturnCode>;
    let filters: Vec<TopicFilter<'_>>;
    let packet = match m {
        M::Connect {
            clean_session,
            keep_alive,
            client_id,
            will,
            username,
            password,
        } => Packet::Connect(Connect {
            clean_session: *clean_session,
            keep_alive: *keep_alive,
            client_id,
            will: will.as_ref().map(|w| LastWill {
                topic: TopicName::new(&w.topic).expect("valid will topic"),
                message: &w.message,
                qos: qos(w.qos),
                retain: w.retain,
            }),
            username: username.as_deref(),
            password: password.as_deref(),
        }),
        M::ConnAck {
            session_present,
            code,
        } => Packet::ConnAck(ConnAck {
            session_present: *session_present,
            code: ConnectReturnCode::from_u8(*code).expect("valid return code"),
        }),
        M::Publish {
            dup,
            qos: q,
            retain,
            topic,
            pid: id,
            payload,
        } => {
            let delivery = Delivery::new(qos(*q), PacketId::new(*id)).expect("valid delivery");
            let mut p = Publish::new(
                TopicName::new(topic).expect("valid topic"),
                payload,
                delivery,
                *retain,
            );
            p.dup = *dup;
            Packet::Publish(p)
        }
        M::PubAck(id) => Packet::PubAck(pid(*id)),
        M::PubRec(id) => Packet::PubRec(pid(*id)),
        M::PubRel(id) => Packet::PubRel(pid(*id)),
        M::PubComp(id) => Packet::PubComp(pid(*id)),
        M::Subscribe { pid: id, filters: f } => {
            subs = f
                .iter()
                .map(|(f, q)| Subscription {
                    filter: TopicFilter::new(f).expect("valid filter"),
                    qos: qos(*q),
                })
                .collect();
            Packet::Subscribe(Subscribe {
                packet_id: pid(*id),
                topics: Entries::new(&subs),
            })
        }
        M::SubAck { pid: id, codes: c } => {
            codes = c
                .iter()
                .map(|c| SubAckReturnCode::from_u8(*c).expect("valid code"))
                .collect();
            Packet::SubAck(SubAck {
                packet_id: pid(*id),
                codes: Entries::new(&codes),
            })
        }
        M::Unsubscribe { pid: id, filters: f } => {
            filters = f
                .iter()
                .map(|f| TopicFilter::new(f).expect("valid filter"))
                .collect();
            Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(*id),
                topics: Entries::new(&filters),
            })
        }
        M::UnsubAck(id) => Packet::UnsubAck(pid(*id)),
        M::PingReq => Packet::PingReq,
        M::PingResp => Packet::PingResp,
        M::Disconnect => Packet::Disconnect,
    };
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = packet.encode(&mut buf).expect("umqtt encodes a valid packet");
    assert_eq!(n, buf.len());
    buf
}

fn from_ours(p: &Packet<'_>) -> M {
    match p {
        Packet::Connect(c) => M::Connect {
            clean_session: c.clean_session,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_owned(),
            will: c.will.map(|w| MWill {
                topic: w.topic.as_str().to_owned(),
                message: w.message.to_vec(),
                qos: w.qos.as_u8(),
                retain: w.retain,
            }),
            username: c.username.map(str::to_owned),
            password: c.password.map(<[u8]>::to_vec),
        },
        Packet::ConnAck(c) => M::ConnAck {
            session_present: c.session_present,
            code: c.code.as_u8(),
        },
        Packet::Publish(p) => M::Publish {
            dup: p.dup,
            qos: p.qos().as_u8(),
            retain: p.retain,
            topic: p.topic.as_str().to_owned(),
            pid: p.delivery.packet_id().map_or(0, PacketId::get),
            payload: p.payload.to_vec(),
        },
        Packet::PubAck(id) => M::PubAck(id.get()),
        Packet::PubRec(id) => M::PubRec(id.get()),
        Packet::PubRel(id) => M::PubRel(id.get()),
        Packet::PubComp(id) => M::PubComp(id.get()),
        Packet::Subscribe(s) => M::Subscribe {
            pid: s.packet_id.get(),
            filters: s
                .topics
                .iter()
                .map(|s| (s.filter.as_str().to_owned(), s.qos.as_u8()))
                .collect(),
        },
        Packet::SubAck(s) => M::SubAck {
            pid: s.packet_id.get(),
            codes: s.codes.iter().map(SubAckReturnCode::as_u8).collect(),
        },
        Packet::Unsubscribe(u) => M::Unsubscribe {
            pid: u.packet_id.get(),
            filters: u.topics.iter().map(|f| f.as_str().to_owned()).collect(),
        },
        Packet::UnsubAck(id) => M::UnsubAck(id.get()),
        Packet::PingReq => M::PingReq,
        Packet::PingResp => M::PingResp,
        Packet::Disconnect => M::Disconnect,
    }
}

/// Decodes one whole packet with umqtt; the packet must use every byte.
fn ours_decode(bytes: &[u8]) -> Result<M, DecodeError> {
    match umqtt::decode(bytes)? {
        Status::Complete((p, n)) => {
            assert_eq!(n, bytes.len(), "umqtt consumed {n} of {} bytes", bytes.len());
            Ok(from_ours(&p))
        }
        Status::Partial { needed } => panic!("umqtt wants {needed} more bytes for a whole packet"),
    }
}

fn ours_err(bytes: &[u8]) -> DecodeError {
    match umqtt::decode(bytes) {
        Err(e) => e,
        Ok(s) => panic!("umqtt accepted {bytes:02x?}: {s:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// mqttbytes <-> M

fn mb_qos(q: u8) -> mqttbytes::QoS {
    mqttbytes::qos(q).expect("QoS 0..=2")
}

fn mb_return_code(code: u8) -> mb::ConnectReturnCode {
    match code {
        0 => mb::ConnectReturnCode::Success,
        1 => mb::ConnectReturnCode::RefusedProtocolVersion,
        2 => mb::ConnectReturnCode::BadClientId,
        3 => mb::ConnectReturnCode::ServiceUnavailable,
        4 => mb::ConnectReturnCode::BadUserNamePassword,
        5 => mb::ConnectReturnCode::NotAuthorized,
        _ => panic!("return code {code}"),
    }
}

fn mb_sub_code(c: u8) -> mb::SubscribeReasonCode {
    match c {
        0x80 => mb::SubscribeReasonCode::Failure,
        q => mb::SubscribeReasonCode::Success(mb_qos(q)),
    }
}

/// Encodes `m` with mqttbytes (v4 has no `Packet::write`: each type writes itself).
fn mb_encode(m: &M) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let r = match m.clone() {
        M::Connect {
            clean_session,
            keep_alive,
            client_id,
            will,
            username,
            password,
        } => {
            let mut c = mb::Connect::new(client_id);
            c.clean_session = clean_session;
            c.keep_alive = keep_alive;
            c.last_will = will.map(|w| mb::LastWill::new(w.topic, w.message, mb_qos(w.qos), w.retain));
            c.login = username.map(|u| mb::Login {
                username: u,
                password: password
                    .map(|p| String::from_utf8(p).expect("UTF-8 password"))
                    .unwrap_or_default(),
            });
            c.write(&mut buf)
        }
        M::ConnAck {
            session_present,
            code,
        } => mb::ConnAck::new(mb_return_code(code), session_present).write(&mut buf),
        M::Publish {
            dup,
            qos,
            retain,
            topic,
            pid,
            payload,
        } => {
            let mut p = mb::Publish::new(topic, mb_qos(qos), payload);
            p.dup = dup;
            p.retain = retain;
            p.pkid = pid;
            p.write(&mut buf)
        }
        M::PubAck(id) => mb::PubAck::new(id).write(&mut buf),
        M::PubRec(id) => mb::PubRec::new(id).write(&mut buf),
        M::PubRel(id) => mb::PubRel::new(id).write(&mut buf),
        M::PubComp(id) => mb::PubComp::new(id).write(&mut buf),
        M::Subscribe { pid, filters } => {
            let mut s = mb::Subscribe::new_many(
                filters
                    .into_iter()
                    .map(|(f, q)| mb::SubscribeFilter::new(f, mb_qos(q))),
            );
            s.pkid = pid;
            s.write(&mut buf)
        }
        M::SubAck { pid, codes } => {
            mb::SubAck::new(pid, codes.into_iter().map(mb_sub_code).collect()).write(&mut buf)
        }
        M::Unsubscribe { pid, filters } => mb::Unsubscribe {
            pkid: pid,
            topics: filters,
        }
        .write(&mut buf),
        M::UnsubAck(id) => mb::UnsubAck::new(id).write(&mut buf),
        M::PingReq => mb::PingReq.write(&mut buf),
        M::PingResp => mb::PingResp.write(&mut buf),
        M::Disconnect => mb::Disconnect.write(&mut buf),
    };
    r.expect("mqttbytes encodes a valid packet");
    buf.to_vec()
}

fn from_mb(p: mb::Packet) -> M {
    let q = |q: mqttbytes::QoS| q as u8;
    match p {
        mb::Packet::Connect(c) => {
            assert_eq!(c.protocol, mqttbytes::Protocol::V4);
            let (username, password) = match c.login {
                None => (None, None),
                // mqttbytes keeps an absent user name or password as an empty string.
                Some(l) => (
                    Some(l.username).filter(|u| !u.is_empty()),
                    Some(l.password.into_bytes()).filter(|p| !p.is_empty()),
                ),
            };
            M::Connect {
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: c.client_id,
                will: c.last_will.map(|w| MWill {
                    topic: w.topic,
                    message: w.message.to_vec(),
                    qos: q(w.qos),
                    retain: w.retain,
                }),
                username,
                password,
            }
        }
        mb::Packet::ConnAck(c) => M::ConnAck {
            session_present: c.session_present,
            code: c.code as u8,
        },
        mb::Packet::Publish(p) => M::Publish {
            dup: p.dup,
            qos: q(p.qos),
            retain: p.retain,
            topic: p.topic,
            pid: p.pkid,
            payload: p.payload.to_vec(),
        },
        mb::Packet::PubAck(a) => M::PubAck(a.pkid),
        mb::Packet::PubRec(a) => M::PubRec(a.pkid),
        mb::Packet::PubRel(a) => M::PubRel(a.pkid),
        mb::Packet::PubComp(a) => M::PubComp(a.pkid),
        mb::Packet::Subscribe(s) => M::Subscribe {
            pid: s.pkid,
            filters: s.filters.into_iter().map(|f| (f.path, q(f.qos))).collect(),
        },
        mb::Packet::SubAck(s) => M::SubAck {
            pid: s.pkid,
            codes: s
                .return_codes
                .into_iter()
                .map(|c| match c {
                    mb::SubscribeReasonCode::Success(qos) => q(qos),
                    mb::SubscribeReasonCode::Failure => 0x80,
                })
                .collect(),
        },
        mb::Packet::Unsubscribe(u) => M::Unsubscribe {
            pid: u.pkid,
            filters: u.topics,
        },
        mb::Packet::UnsubAck(a) => M::UnsubAck(a.pkid),
        mb::Packet::PingReq => M::PingReq,
        mb::Packet::PingResp => M::PingResp,
        mb::Packet::Disconnect => M::Disconnect,
    }
}

/// Runs `mqttbytes::v4::read` on exactly `bytes`.
fn mb_read(bytes: &[u8]) -> Result<mb::Packet, mqttbytes::Error> {
    let mut buf = BytesMut::from(bytes);
    let r = mb::read(&mut buf, usize::MAX);
    if r.is_ok() {
        assert!(buf.is_empty(), "mqttbytes left {} bytes", buf.len());
    }
    r
}

// ---------------------------------------------------------------------------------------------
// mqttrs <-> M

fn rs_pid(v: u16) -> mqttrs::Pid {
    mqttrs::Pid::try_from(v).expect("non-zero packet id")
}

fn rs_qos(q: u8) -> mqttrs::QoS {
    match q {
        0 => mqttrs::QoS::AtMostOnce,
        1 => mqttrs::QoS::AtLeastOnce,
        2 => mqttrs::QoS::ExactlyOnce,
        _ => panic!("QoS {q}"),
    }
}

fn rs_qos_u8(q: mqttrs::QoS) -> u8 {
    match q {
        mqttrs::QoS::AtMostOnce => 0,
        mqttrs::QoS::AtLeastOnce => 1,
        mqttrs::QoS::ExactlyOnce => 2,
    }
}

fn rs_return_code(code: u8) -> mqttrs::ConnectReturnCode {
    use mqttrs::ConnectReturnCode as C;
    match code {
        0 => C::Accepted,
        1 => C::RefusedProtocolVersion,
        2 => C::RefusedIdentifierRejected,
        3 => C::ServerUnavailable,
        4 => C::BadUsernamePassword,
        5 => C::NotAuthorized,
        _ => panic!("return code {code}"),
    }
}

fn rs_return_code_u8(code: mqttrs::ConnectReturnCode) -> u8 {
    use mqttrs::ConnectReturnCode as C;
    match code {
        C::Accepted => 0,
        C::RefusedProtocolVersion => 1,
        C::RefusedIdentifierRejected => 2,
        C::ServerUnavailable => 3,
        C::BadUsernamePassword => 4,
        C::NotAuthorized => 5,
    }
}

/// Encodes `m` with `mqttrs::encode_slice`.
fn rs_encode(m: &M) -> Vec<u8> {
    use mqttrs::Packet as P;
    let packet = match m {
        M::Connect {
            clean_session,
            keep_alive,
            client_id,
            will,
            username,
            password,
        } => P::Connect(mqttrs::Connect {
            protocol: mqttrs::Protocol::MQTT311,
            keep_alive: *keep_alive,
            client_id,
            clean_session: *clean_session,
            last_will: will.as_ref().map(|w| mqttrs::LastWill {
                topic: &w.topic,
                message: &w.message,
                qos: rs_qos(w.qos),
                retain: w.retain,
            }),
            username: username.as_deref(),
            password: password.as_deref(),
        }),
        M::ConnAck {
            session_present,
            code,
        } => P::Connack(mqttrs::Connack {
            session_present: *session_present,
            code: rs_return_code(*code),
        }),
        M::Publish {
            dup,
            qos,
            retain,
            topic,
            pid,
            payload,
        } => P::Publish(mqttrs::Publish {
            dup: *dup,
            qospid: match qos {
                0 => mqttrs::QosPid::AtMostOnce,
                1 => mqttrs::QosPid::AtLeastOnce(rs_pid(*pid)),
                _ => mqttrs::QosPid::ExactlyOnce(rs_pid(*pid)),
            },
            retain: *retain,
            topic_name: topic,
            payload,
        }),
        M::PubAck(id) => P::Puback(rs_pid(*id)),
        M::PubRec(id) => P::Pubrec(rs_pid(*id)),
        M::PubRel(id) => P::Pubrel(rs_pid(*id)),
        M::PubComp(id) => P::Pubcomp(rs_pid(*id)),
        M::Subscribe { pid, filters } => P::Subscribe(mqttrs::Subscribe::new(
            rs_pid(*pid),
            filters
                .iter()
                .map(|(f, q)| mqttrs::SubscribeTopic {
                    topic_path: f.clone(),
                    qos: rs_qos(*q),
                })
                .collect(),
        )),
        M::SubAck { pid, codes } => P::Suback(mqttrs::Suback::new(
            rs_pid(*pid),
            codes
                .iter()
                .map(|c| match c {
                    0x80 => mqttrs::SubscribeReturnCodes::Failure,
                    q => mqttrs::SubscribeReturnCodes::Success(rs_qos(*q)),
                })
                .collect(),
        )),
        M::Unsubscribe { pid, filters } => {
            P::Unsubscribe(mqttrs::Unsubscribe::new(rs_pid(*pid), filters.clone()))
        }
        M::UnsubAck(id) => P::Unsuback(rs_pid(*id)),
        M::PingReq => P::Pingreq,
        M::PingResp => P::Pingresp,
        M::Disconnect => P::Disconnect,
    };
    let mut buf = vec![0u8; 70_000];
    let n = mqttrs::encode_slice(&packet, &mut buf).expect("mqttrs encodes a valid packet");
    buf.truncate(n);
    buf
}

fn from_rs(p: &mqttrs::Packet<'_>) -> M {
    use mqttrs::Packet as P;
    match p {
        P::Connect(c) => {
            assert_eq!(c.protocol, mqttrs::Protocol::MQTT311);
            M::Connect {
                clean_session: c.clean_session,
                keep_alive: c.keep_alive,
                client_id: c.client_id.to_owned(),
                will: c.last_will.as_ref().map(|w| MWill {
                    topic: w.topic.to_owned(),
                    message: w.message.to_vec(),
                    qos: rs_qos_u8(w.qos),
                    retain: w.retain,
                }),
                username: c.username.map(str::to_owned),
                password: c.password.map(<[u8]>::to_vec),
            }
        }
        P::Connack(c) => M::ConnAck {
            session_present: c.session_present,
            code: rs_return_code_u8(c.code),
        },
        P::Publish(p) => M::Publish {
            dup: p.dup,
            qos: rs_qos_u8(p.qospid.qos()),
            retain: p.retain,
            topic: p.topic_name.to_owned(),
            pid: p.qospid.pid().map_or(0, mqttrs::Pid::get),
            payload: p.payload.to_vec(),
        },
        P::Puback(id) => M::PubAck(id.get()),
        P::Pubrec(id) => M::PubRec(id.get()),
        P::Pubrel(id) => M::PubRel(id.get()),
        P::Pubcomp(id) => M::PubComp(id.get()),
        P::Subscribe(s) => M::Subscribe {
            pid: s.pid.get(),
            filters: s
                .topics
                .iter()
                .map(|t| (t.topic_path.clone(), rs_qos_u8(t.qos)))
                .collect(),
        },
        P::Suback(s) => M::SubAck {
            pid: s.pid.get(),
            codes: s
                .return_codes
                .iter()
                .map(|c| match c {
                    mqttrs::SubscribeReturnCodes::Success(q) => rs_qos_u8(*q),
                    mqttrs::SubscribeReturnCodes::Failure => 0x80,
                })
                .collect(),
        },
        P::Unsubscribe(u) => M::Unsubscribe {
            pid: u.pid.get(),
            filters: u.topics.clone(),
        },
        P::Unsuback(id) => M::UnsubAck(id.get()),
        P::Pingreq => M::PingReq,
        P::Pingresp => M::PingResp,
        P::Disconnect => M::Disconnect,
    }
}

/// What both peers decode `bytes` to, each named for assertion messages; both must accept it.
fn peers_accept(bytes: &[u8]) -> [(&'static str, M); 2] {
    [
        ("mqttbytes", from_mb(mb_read(bytes).unwrap())),
        ("mqttrs", from_rs(&rs_read(bytes).unwrap())),
    ]
}

/// Runs `mqttrs::decode_slice` on exactly `bytes`; `Ok(None)` ("incomplete") is a failure here.
fn rs_read(bytes: &[u8]) -> Result<mqttrs::Packet<'_>, mqttrs::Error> {
    match mqttrs::decode_slice(bytes)? {
        Some(p) => Ok(p),
        None => panic!("mqttrs says {bytes:02x?} is incomplete"),
    }
}

// ---------------------------------------------------------------------------------------------
// The agreement property

fn check_agreement(m: &M) -> Result<(), TestCaseError> {
    let ours = ours_encode(m);
    prop_assert_eq!(&ours_decode(&ours).expect("umqtt decodes its own bytes"), m);

    // Our bytes, decoded by each peer.
    let by_mb = mb_read(&ours).map_err(|e| TestCaseError::fail(format!("mqttbytes rejects ours: {e:?}")))?;
    prop_assert_eq!(&from_mb(by_mb), m, "mqttbytes decoding of umqtt bytes");
    let by_rs = rs_read(&ours).map_err(|e| TestCaseError::fail(format!("mqttrs rejects ours: {e:?}")))?;
    prop_assert_eq!(&from_rs(&by_rs), m, "mqttrs decoding of umqtt bytes");

    // Each peer's bytes, decoded by umqtt; and the encodings are identical.
    let mb_bytes = mb_encode(m);
    prop_assert_eq!(
        &ours_decode(&mb_bytes)
            .map_err(|e| TestCaseError::fail(format!("umqtt rejects mqttbytes: {e:?}")))?,
        m,
        "umqtt decoding of mqttbytes bytes"
    );
    prop_assert_eq!(&mb_bytes, &ours, "mqttbytes and umqtt encode differently");
    let rs_bytes = rs_encode(m);
    prop_assert_eq!(
        &ours_decode(&rs_bytes).map_err(|e| TestCaseError::fail(format!("umqtt rejects mqttrs: {e:?}")))?,
        m,
        "umqtt decoding of mqttrs bytes"
    );
    prop_assert_eq!(&rs_bytes, &ours, "mqttrs and umqtt encode differently");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generators of valid packets

/// Any character but U+0000 ([MQTT-1.5.3-2]); biased towards ASCII, with multi-byte,
/// control and non-BMP characters mixed in.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => proptest::char::range(' ', '~'),
        1 => any::<char>().prop_filter("no U+0000", |c| *c != '\0'),
    ]
}

fn string(max_chars: usize) -> impl Strategy<Value = String> {
    vec(any_char(), 0..=max_chars).prop_map(String::from_iter)
}

fn non_empty_string(max_chars: usize) -> impl Strategy<Value = String> {
    vec(any_char(), 1..=max_chars).prop_map(String::from_iter)
}

/// One topic level without wildcards (may be empty: "a//b" has an empty level).
fn plain_level() -> impl Strategy<Value = String> {
    vec(
        any_char().prop_filter("no wildcard", |c| *c != '+' && *c != '#' && *c != '/'),
        0..8,
    )
    .prop_map(String::from_iter)
}

/// A valid topic name: non-empty, no wildcards ([MQTT-4.7.1-1], [MQTT-4.7.3-1]).
fn topic_name() -> impl Strategy<Value = String> {
    vec(plain_level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("non-empty", |t| !t.is_empty())
}

/// A valid topic filter: levels that are plain or `+`, optionally ending in `#`.
fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof![4 => plain_level(), 1 => Just("+".to_owned())];
    (vec(level, 1..5), any::<bool>())
        .prop_map(|(levels, hash)| {
            let mut f = levels.join("/");
            if hash {
                if !f.is_empty() || levels.len() > 1 {
                    f.push('/');
                }
                f.push('#');
            }
            f
        })
        .prop_filter("non-empty", |f| !f.is_empty())
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn qos_value() -> impl Strategy<Value = u8> {
    0..=2u8
}

/// Payload sizes that give 1-, 2- and 3-byte Remaining Lengths.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..120),
        3 => vec(any::<u8>(), 120..1000),
        1 => vec(any::<u8>(), 16_380..17_000),
    ]
}

fn connect() -> impl Strategy<Value = M> {
    let will = (topic_name(), vec(any::<u8>(), 0..64), qos_value(), any::<bool>()).prop_map(
        |(topic, message, qos, retain)| MWill {
            topic,
            message,
            qos,
            retain,
        },
    );
    let login = prop::option::of((
        non_empty_string(20),
        prop::option::of(non_empty_string(20).prop_map(String::into_bytes)),
    ));
    (
        any::<bool>(),
        any::<u16>(),
        string(40),
        prop::option::of(will),
        login,
    )
        .prop_map(|(clean, keep_alive, client_id, will, login)| {
            let (username, password) = match login {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            M::Connect {
                // [MQTT-3.1.3-7] an empty client id needs a clean session.
                clean_session: clean || client_id.is_empty(),
                keep_alive,
                client_id,
                will,
                username,
                password,
            }
        })
}

fn connack() -> impl Strategy<Value = M> {
    (any::<bool>(), 0..=5u8).prop_map(|(sp, code)| M::ConnAck {
        // [MQTT-3.2.2-4] Session Present only on acceptance.
        session_present: sp && code == 0,
        code,
    })
}

fn publish(qos: u8) -> impl Strategy<Value = M> {
    (any::<bool>(), any::<bool>(), topic_name(), packet_id(), payload()).prop_map(
        move |(dup, retain, topic, pid, payload)| M::Publish {
            // [MQTT-3.3.1-2] DUP is 0 at QoS 0; [MQTT-2.3.1-5] no packet id at QoS 0.
            dup: dup && qos > 0,
            qos,
            retain,
            topic,
            pid: if qos == 0 { 0 } else { pid },
            payload,
        },
    )
}

fn subscribe() -> impl Strategy<Value = M> {
    (packet_id(), vec((topic_filter(), qos_value()), 1..6))
        .prop_map(|(pid, filters)| M::Subscribe { pid, filters })
}

fn suback() -> impl Strategy<Value = M> {
    let code = prop_oneof![Just(0u8), Just(1), Just(2), Just(0x80)];
    (packet_id(), vec(code, 1..8)).prop_map(|(pid, codes)| M::SubAck { pid, codes })
}

fn unsubscribe() -> impl Strategy<Value = M> {
    (packet_id(), vec(topic_filter(), 1..6)).prop_map(|(pid, filters)| M::Unsubscribe { pid, filters })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn connect_agrees(m in connect()) {
        check_agreement(&m)?;
    }

    #[test]
    fn connack_agrees(m in connack()) {
        check_agreement(&m)?;
    }

    #[test]
    fn publish_qos0_agrees(m in publish(0)) {
        check_agreement(&m)?;
    }

    #[test]
    fn publish_qos1_agrees(m in publish(1)) {
        check_agreement(&m)?;
    }

    #[test]
    fn publish_qos2_agrees(m in publish(2)) {
        check_agreement(&m)?;
    }

    #[test]
    fn puback_agrees(id in packet_id()) {
        check_agreement(&M::PubAck(id))?;
    }

    #[test]
    fn pubrec_agrees(id in packet_id()) {
        check_agreement(&M::PubRec(id))?;
    }

    #[test]
    fn pubrel_agrees(id in packet_id()) {
        check_agreement(&M::PubRel(id))?;
    }

    #[test]
    fn pubcomp_agrees(id in packet_id()) {
        check_agreement(&M::PubComp(id))?;
    }

    #[test]
    fn subscribe_agrees(m in subscribe()) {
        check_agreement(&m)?;
    }

    #[test]
    fn suback_agrees(m in suback()) {
        check_agreement(&m)?;
    }

    #[test]
    fn unsubscribe_agrees(m in unsubscribe()) {
        check_agreement(&m)?;
    }

    #[test]
    fn unsuback_agrees(id in packet_id()) {
        check_agreement(&M::UnsubAck(id))?;
    }
}

#[test]
fn pingreq_pingresp_disconnect_agree() {
    for m in [M::PingReq, M::PingResp, M::Disconnect] {
        check_agreement(&m).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Documented differences: what each peer does with what the spec forbids, and what we do

/// A CONNECT with `flags`, keep-alive 60, then `payload` (already length-prefixed fields).
fn connect_bytes(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0, 60]);
    body.extend_from_slice(payload);
    framed(0x10, &body)
}

/// `first` byte, a one-byte Remaining Length, then `body`.
fn framed(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128);
    let mut v = vec![first, body.len() as u8];
    v.extend_from_slice(body);
    v
}

/// A length-prefixed field.
fn field(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

fn mb_write(f: impl FnOnce(&mut BytesMut) -> Result<usize, mqttbytes::Error>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    f(&mut buf).expect("mqttbytes writes it");
    buf.to_vec()
}

fn rs_write(p: &mqttrs::Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = mqttrs::encode_slice(p, &mut buf).expect("mqttrs writes it");
    buf.truncate(n);
    buf
}

/// [MQTT-2.3.1-1]: packet identifiers are non-zero. mqttbytes decodes and encodes packet id 0
/// in acknowledgements, SUBSCRIBE and UNSUBSCRIBE; mqttrs cannot represent it (`Pid` is
/// `NonZeroU16`) and rejects it; umqtt rejects it (and `PacketId` cannot hold it either).
#[test]
fn packet_id_zero_mqttbytes_accepts_and_produces_it() {
    let puback = [0x40, 0x02, 0x00, 0x00];
    let subscribe = framed(0x82, &[0, 0, 0, 1, b'a', 0]);
    let unsubscribe = framed(0xa2, &[0, 0, 0, 1, b'a']);
    for (what, bytes) in [
        ("PUBACK", &puback[..]),
        ("PUBREC", &[0x50, 2, 0, 0]),
        ("PUBREL", &[0x62, 2, 0, 0]),
        ("PUBCOMP", &[0x70, 2, 0, 0]),
        ("UNSUBACK", &[0xb0, 2, 0, 0]),
        ("SUBSCRIBE", &subscribe),
        ("UNSUBSCRIBE", &unsubscribe),
    ] {
        let decoded = mb_read(bytes).unwrap_or_else(|e| panic!("mqttbytes rejects {what}: {e:?}"));
        let pid = match from_mb(decoded) {
            M::PubAck(id) | M::PubRec(id) | M::PubRel(id) | M::PubComp(id) | M::UnsubAck(id) => id,
            M::Subscribe { pid, .. } | M::Unsubscribe { pid, .. } => pid,
            other => panic!("{other:?}"),
        };
        assert_eq!(pid, 0, "{what}");
        assert_eq!(
            mqttrs::decode_slice(bytes),
            Err(mqttrs::Error::InvalidPid),
            "{what}"
        );
        assert_eq!(ours_err(bytes), DecodeError::PacketIdZero, "{what}");
    }
    // mqttbytes also writes it.
    assert_eq!(mb_write(|b| mb::PubAck::new(0).write(b)), puback);
    assert_eq!(PacketId::new(0), None);

    // A QoS 1 PUBLISH with packet id 0: all three reject it.
    let publish = framed(0x32, &[0, 1, b'a', 0, 0, b'x']);
    assert_eq!(mb_read(&publish).unwrap_err(), mqttbytes::Error::PacketIdZero);
    assert_eq!(mqttrs::decode_slice(&publish), Err(mqttrs::Error::InvalidPid));
    assert_eq!(ours_err(&publish), DecodeError::PacketIdZero);
}

/// [MQTT-3.3.1-4] (PUBLISH QoS 3) and [MQTT-3.1.2-14] (will QoS 3): all three reject QoS 3.
#[test]
fn qos_3_is_rejected_by_all() {
    let publish = framed(0x36, &[0, 1, b'a', 0, 1, b'x']);
    assert_eq!(mb_read(&publish).unwrap_err(), mqttbytes::Error::InvalidQoS(3));
    assert_eq!(mqttrs::decode_slice(&publish), Err(mqttrs::Error::InvalidQos(3)));
    assert_eq!(ours_err(&publish), DecodeError::InvalidQos);

    let payload = [field(b"c"), field(b"t"), field(b"m")].concat();
    let connect = connect_bytes(b"MQTT", 4, 0x02 | 0x04 | 0x18, &payload);
    assert_eq!(mb_read(&connect).unwrap_err(), mqttbytes::Error::InvalidQoS(3));
    assert_eq!(mqttrs::decode_slice(&connect), Err(mqttrs::Error::InvalidQos(3)));
    assert_eq!(ours_err(&connect), DecodeError::InvalidWillQos);
}

/// [MQTT-3.3.1-2]: DUP must be 0 on a QoS 0 PUBLISH. Both peers decode such a packet and both
/// write one when asked; umqtt rejects it in both directions.
#[test]
fn dup_on_qos0_peers_accept_and_produce_it() {
    let bytes = framed(0x38, &[0, 1, b'a', b'p', b'a', b'y']);
    for (peer, p) in peers_accept(&bytes) {
        let M::Publish { dup, qos, .. } = p else {
            panic!("{peer}: {p:?}")
        };
        assert!(dup && qos == 0, "{peer}");
    }
    assert_eq!(ours_err(&bytes), DecodeError::DupWithQos0);

    let mut p = mb::Publish::new("a", mqttbytes::QoS::AtMostOnce, b"pay".to_vec());
    p.dup = true;
    assert_eq!(mb_write(|b| p.write(b)), bytes);
    let p = mqttrs::Publish {
        dup: true,
        qospid: mqttrs::QosPid::AtMostOnce,
        retain: false,
        topic_name: "a",
        payload: b"pay",
    };
    assert_eq!(rs_write(&p.into()), bytes);

    let mut ours = Publish::new(TopicName::new("a").unwrap(), b"pay", Delivery::AtMostOnce, false);
    ours.dup = true;
    let mut buf = [0u8; 16];
    assert_eq!(
        Packet::Publish(ours).encode(&mut buf),
        Err(EncodeError::DupWithQos0)
    );
}

/// [MQTT-3.3.2-2] / [MQTT-4.7.1-1]: a PUBLISH topic name has no wildcards. Both peers decode and
/// write `a/+` and `a/#`; umqtt rejects them, and `TopicName` cannot hold them.
#[test]
fn wildcards_in_publish_topic_peers_accept_and_produce_them() {
    for topic in ["a/+", "a/#", "+", "#"] {
        let bytes = framed(0x30, &[field(topic.as_bytes()), b"x".to_vec()].concat());
        for (peer, p) in peers_accept(&bytes) {
            let M::Publish { topic: t, .. } = p else {
                panic!("{peer}: {p:?}")
            };
            assert_eq!(t, topic, "{peer}");
        }
        assert_eq!(ours_err(&bytes), DecodeError::WildcardInTopicName, "{topic}");

        let p = mb::Publish::new(topic, mqttbytes::QoS::AtMostOnce, b"x".to_vec());
        assert_eq!(mb_write(|b| p.write(b)), bytes);
        let p = mqttrs::Publish {
            dup: false,
            qospid: mqttrs::QosPid::AtMostOnce,
            retain: false,
            topic_name: topic,
            payload: b"x",
        };
        assert_eq!(rs_write(&p.into()), bytes);
        assert!(TopicName::new(topic).is_err());
    }
}

/// [MQTT-3.8.3-3] / [MQTT-3.10.3-2]: SUBSCRIBE and UNSUBSCRIBE carry at least one filter. Both
/// peers decode and write empty ones; umqtt rejects them in both directions.
#[test]
fn empty_subscribe_and_unsubscribe_peers_accept_and_produce_them() {
    let subscribe = [0x82, 0x02, 0x00, 0x07];
    let unsubscribe = [0xa2, 0x02, 0x00, 0x07];
    assert_eq!(
        from_mb(mb_read(&subscribe).unwrap()),
        M::Subscribe {
            pid: 7,
            filters: vec![]
        }
    );
    assert_eq!(
        from_rs(&rs_read(&subscribe).unwrap()),
        M::Subscribe {
            pid: 7,
            filters: vec![]
        }
    );
    assert_eq!(
        ours_err(&subscribe),
        DecodeError::EmptyPayload(PacketType::Subscribe)
    );
    assert_eq!(
        from_mb(mb_read(&unsubscribe).unwrap()),
        M::Unsubscribe {
            pid: 7,
            filters: vec![]
        }
    );
    assert_eq!(
        from_rs(&rs_read(&unsubscribe).unwrap()),
        M::Unsubscribe {
            pid: 7,
            filters: vec![]
        }
    );
    assert_eq!(
        ours_err(&unsubscribe),
        DecodeError::EmptyPayload(PacketType::Unsubscribe)
    );

    let mut s = mb::Subscribe::empty_subscribe();
    s.pkid = 7;
    assert_eq!(mb_write(|b| s.write(b)), subscribe);
    let u = mb::Unsubscribe {
        pkid: 7,
        topics: vec![],
    };
    assert_eq!(mb_write(|b| u.write(b)), unsubscribe);
    assert_eq!(
        rs_write(&mqttrs::Subscribe::new(rs_pid(7), vec![]).into()),
        subscribe
    );
    assert_eq!(
        rs_write(&mqttrs::Unsubscribe::new(rs_pid(7), vec![]).into()),
        unsubscribe
    );

    let mut buf = [0u8; 16];
    let none: &[Subscription<'_>] = &[];
    let s = Packet::Subscribe(Subscribe {
        packet_id: pid(7),
        topics: Entries::new(none),
    });
    assert_eq!(s.encode(&mut buf), Err(EncodeError::EmptyPayload));
    let none: &[TopicFilter<'_>] = &[];
    let u = Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(7),
        topics: Entries::new(none),
    });
    assert_eq!(u.encode(&mut buf), Err(EncodeError::EmptyPayload));
}

/// [MQTT-3.8.4-5] / 3.9.3: a SUBACK has one return code per requested filter, so at least one.
/// mqttbytes rejects an empty SUBACK, mqttrs decodes and writes one, umqtt rejects it.
#[test]
fn empty_suback_mqttrs_accepts_and_produces_it() {
    let bytes = [0x90, 0x02, 0x00, 0x07];
    assert_eq!(mb_read(&bytes).unwrap_err(), mqttbytes::Error::MalformedPacket);
    assert_eq!(
        from_rs(&rs_read(&bytes).unwrap()),
        M::SubAck {
            pid: 7,
            codes: vec![]
        }
    );
    assert_eq!(rs_write(&mqttrs::Suback::new(rs_pid(7), vec![]).into()), bytes);
    assert_eq!(ours_err(&bytes), DecodeError::EmptyPayload(PacketType::SubAck));
}

/// [MQTT-3.9.3-2]: SUBACK return codes are 0x00, 0x01, 0x02 or 0x80. All three reject others.
#[test]
fn bad_suback_codes_are_rejected_by_all() {
    for code in [0x03u8, 0x7f, 0x81, 0xff] {
        let bytes = [0x90, 0x03, 0x00, 0x07, code];
        assert_eq!(
            mb_read(&bytes).unwrap_err(),
            mqttbytes::Error::InvalidSubscribeReasonCode(code)
        );
        assert_eq!(mqttrs::decode_slice(&bytes), Err(mqttrs::Error::InvalidQos(code)));
        assert_eq!(ours_err(&bytes), DecodeError::InvalidSubAckCode(code));
    }
}

/// [MQTT-2.2.2-1] with [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1]: the
/// reserved flag bits of byte 0 must carry exactly the listed values. mqttbytes never looks at
/// them and decodes every case below; mqttrs and umqtt reject them all.
#[test]
fn reserved_header_flags_mqttbytes_ignores_them() {
    let cases: [(&str, Vec<u8>, PacketType, u8); 8] = [
        ("PUBREL with 0000", vec![0x60, 2, 0, 1], PacketType::PubRel, 0),
        ("PUBACK with 0001", vec![0x41, 2, 0, 1], PacketType::PubAck, 1),
        (
            "SUBSCRIBE with 0000",
            framed(0x80, &[0, 1, 0, 1, b'a', 0]),
            PacketType::Subscribe,
            0,
        ),
        (
            "UNSUBSCRIBE with 0000",
            framed(0xa0, &[0, 1, 0, 1, b'a']),
            PacketType::Unsubscribe,
            0,
        ),
        ("CONNACK with 1000", vec![0x28, 2, 0, 0], PacketType::ConnAck, 8),
        ("SUBACK with 0010", vec![0x92, 3, 0, 1, 0], PacketType::SubAck, 2),
        ("PINGREQ with 0001", vec![0xc1, 0], PacketType::PingReq, 1),
        ("DISCONNECT with 0100", vec![0xe4, 0], PacketType::Disconnect, 4),
    ];
    for (what, bytes, packet_type, flags) in cases {
        assert!(mb_read(&bytes).is_ok(), "mqttbytes should accept {what}");
        assert_eq!(
            mqttrs::decode_slice(&bytes),
            Err(mqttrs::Error::InvalidHeader),
            "{what}"
        );
        assert_eq!(
            ours_err(&bytes),
            DecodeError::InvalidFlags { packet_type, flags },
            "{what}"
        );
    }
    // 2.2.1: packet types 0 and 15 are reserved; all three reject them.
    for first in [0x00u8, 0xf0] {
        let bytes = [first, 0];
        assert_eq!(
            mb_read(&bytes).unwrap_err(),
            mqttbytes::Error::InvalidPacketType(first >> 4)
        );
        assert_eq!(mqttrs::decode_slice(&bytes), Err(mqttrs::Error::InvalidHeader));
        assert_eq!(ours_err(&bytes), DecodeError::ReservedPacketType(first >> 4));
    }
}

/// [MQTT-3.1.2-3]: the reserved CONNECT flag (bit 0) must be 0. Both peers ignore it.
#[test]
fn reserved_connect_flag_peers_ignore_it() {
    let bytes = connect_bytes(b"MQTT", 4, 0x03, &field(b"client"));
    for (peer, p) in peers_accept(&bytes) {
        let M::Connect { client_id, .. } = p else {
            panic!("{peer}: {p:?}")
        };
        assert_eq!(client_id, "client", "{peer}");
    }
    assert_eq!(ours_err(&bytes), DecodeError::ReservedConnectFlag);
}

/// [MQTT-3.1.2-22]: a password needs a user name. Both peers decode a CONNECT with only the
/// password flag, and both write one; umqtt rejects it in both directions.
#[test]
fn password_without_user_name_peers_accept_and_produce_it() {
    let bytes = connect_bytes(b"MQTT", 4, 0x42, &[field(b"c"), field(b"pw")].concat());
    let expected = M::Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: "c".into(),
        will: None,
        username: None,
        password: Some(b"pw".to_vec()),
    };
    assert_eq!(from_mb(mb_read(&bytes).unwrap()), expected);
    assert_eq!(from_rs(&rs_read(&bytes).unwrap()), expected);
    assert_eq!(ours_err(&bytes), DecodeError::PasswordWithoutUserName);

    let mut c = mb::Connect::new("c");
    c.keep_alive = 60;
    c.login = Some(mb::Login::new("", "pw"));
    assert_eq!(mb_write(|b| c.write(b)), bytes);
    let c = mqttrs::Connect {
        protocol: mqttrs::Protocol::MQTT311,
        keep_alive: 60,
        client_id: "c",
        clean_session: true,
        last_will: None,
        username: None,
        password: Some(b"pw"),
    };
    assert_eq!(rs_write(&c.into()), bytes);

    let ours = Packet::Connect(Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: "c",
        will: None,
        username: None,
        password: Some(b"pw"),
    });
    assert_eq!(
        ours.encode(&mut [0u8; 64]),
        Err(EncodeError::PasswordWithoutUserName)
    );
}

/// [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]: without the Will Flag, Will QoS and Will
/// Retain are 0. mqttbytes rejects it, mqttrs ignores the bits, umqtt rejects it.
#[test]
fn will_flags_without_will_mqttrs_ignores_them() {
    for flags in [0x02 | 0x20, 0x02 | 0x08, 0x02 | 0x10] {
        let bytes = connect_bytes(b"MQTT", 4, flags, &field(b"c"));
        assert_eq!(
            mb_read(&bytes).unwrap_err(),
            mqttbytes::Error::IncorrectPacketFormat
        );
        let M::Connect { will, .. } = from_rs(&rs_read(&bytes).unwrap()) else {
            panic!()
        };
        assert_eq!(will, None, "flags {flags:#04x}");
        assert_eq!(
            ours_err(&bytes),
            DecodeError::WillFlagsWithoutWill,
            "flags {flags:#04x}"
        );
    }
}

/// [MQTT-3.2.2-4]: a refusing CONNACK has Session Present 0. Both peers decode and write one
/// with it set; umqtt rejects it in both directions.
#[test]
fn session_present_on_refusal_peers_accept_and_produce_it() {
    let bytes = [0x20, 0x02, 0x01, 0x05];
    let expected = M::ConnAck {
        session_present: true,
        code: 5,
    };
    assert_eq!(from_mb(mb_read(&bytes).unwrap()), expected);
    assert_eq!(from_rs(&rs_read(&bytes).unwrap()), expected);
    assert_eq!(ours_err(&bytes), DecodeError::SessionPresentOnRefusal);

    assert_eq!(
        mb_write(|b| mb::ConnAck::new(mb::ConnectReturnCode::NotAuthorized, true).write(b)),
        bytes
    );
    let c = mqttrs::Connack {
        session_present: true,
        code: mqttrs::ConnectReturnCode::NotAuthorized,
    };
    assert_eq!(rs_write(&c.into()), bytes);
    let ours = Packet::ConnAck(ConnAck {
        session_present: true,
        code: ConnectReturnCode::NotAuthorized,
    });
    assert_eq!(
        ours.encode(&mut [0u8; 4]),
        Err(EncodeError::SessionPresentOnRefusal)
    );
}

/// 3.2.2.1 (no statement id; checklist section C): CONNACK acknowledge-flag bits 7..1 are
/// reserved and must be 0. Both peers ignore them; umqtt rejects them.
#[test]
fn connack_reserved_flags_peers_ignore_them() {
    let bytes = [0x20, 0x02, 0x02, 0x00];
    let expected = M::ConnAck {
        session_present: false,
        code: 0,
    };
    assert_eq!(from_mb(mb_read(&bytes).unwrap()), expected);
    assert_eq!(from_rs(&rs_read(&bytes).unwrap()), expected);
    assert_eq!(ours_err(&bytes), DecodeError::ReservedConnAckFlags(0x02));
}

/// [MQTT-1.5.3-2] / [MQTT-4.7.3-2]: strings and topics contain no U+0000. Both peers decode
/// it in a topic name and in a client identifier; umqtt rejects both.
#[test]
fn null_character_peers_accept_it() {
    let publish = framed(0x30, &[field(b"a\0b"), b"x".to_vec()].concat());
    for (peer, p) in peers_accept(&publish) {
        let M::Publish { topic, .. } = p else {
            panic!("{peer}: {p:?}")
        };
        assert_eq!(topic, "a\0b", "{peer}");
    }
    assert_eq!(ours_err(&publish), DecodeError::NullCharacter);

    let connect = connect_bytes(b"MQTT", 4, 0x02, &field(b"cl\0ent"));
    for (peer, p) in peers_accept(&connect) {
        let M::Connect { client_id, .. } = p else {
            panic!("{peer}: {p:?}")
        };
        assert_eq!(client_id, "cl\0ent", "{peer}");
    }
    assert_eq!(ours_err(&connect), DecodeError::NullCharacter);
}

/// [MQTT-1.5.3-1]: strings are well-formed UTF-8 without encoded surrogates. All three reject
/// an encoded surrogate (ED A0 80) and a lone continuation byte.
#[test]
fn ill_formed_utf8_is_rejected_by_all() {
    for bad in [&[0xed, 0xa0, 0x80][..], &[b'a', 0x80]] {
        let bytes = framed(0x30, &[field(bad), b"x".to_vec()].concat());
        assert_eq!(mb_read(&bytes).unwrap_err(), mqttbytes::Error::TopicNotUtf8);
        assert!(matches!(
            mqttrs::decode_slice(&bytes),
            Err(mqttrs::Error::InvalidString(_))
        ));
        assert_eq!(ours_err(&bytes), DecodeError::InvalidUtf8);
    }
}

/// [MQTT-3.8.3-4]: the upper six bits of a SUBSCRIBE Requested QoS byte are 0 and the QoS is
/// 0..=2. mqttbytes masks the byte and takes 0x41 as QoS 1; mqttrs and umqtt reject it. QoS 3
/// is rejected by all three.
#[test]
fn requested_qos_reserved_bits_mqttbytes_masks_them() {
    let bytes = framed(0x82, &[0, 1, 0, 1, b'a', 0x41]);
    assert_eq!(
        from_mb(mb_read(&bytes).unwrap()),
        M::Subscribe {
            pid: 1,
            filters: vec![("a".into(), 1)]
        }
    );
    assert_eq!(mqttrs::decode_slice(&bytes), Err(mqttrs::Error::InvalidQos(0x41)));
    assert_eq!(ours_err(&bytes), DecodeError::InvalidRequestedQos(0x41));

    let bytes = framed(0x82, &[0, 1, 0, 1, b'a', 0x03]);
    assert_eq!(mb_read(&bytes).unwrap_err(), mqttbytes::Error::InvalidQoS(3));
    assert_eq!(mqttrs::decode_slice(&bytes), Err(mqttrs::Error::InvalidQos(3)));
    assert_eq!(ours_err(&bytes), DecodeError::InvalidRequestedQos(3));
}

/// [MQTT-4.7.1-2] / [MQTT-4.7.1-3]: `#` is a whole, last level and `+` a whole level. Neither
/// peer checks topic filters; umqtt rejects misplaced wildcards in SUBSCRIBE and UNSUBSCRIBE.
#[test]
fn misplaced_wildcards_in_filters_peers_accept_them() {
    for filter in ["a/#/b", "a#", "a+", "+a/b", "a/b#", "#/"] {
        let subscribe = framed(0x82, &[&[0, 1][..], &field(filter.as_bytes()), &[1]].concat());
        let expected = M::Subscribe {
            pid: 1,
            filters: vec![(filter.into(), 1)],
        };
        assert_eq!(from_mb(mb_read(&subscribe).unwrap()), expected, "{filter}");
        assert_eq!(from_rs(&rs_read(&subscribe).unwrap()), expected, "{filter}");
        assert_eq!(ours_err(&subscribe), DecodeError::InvalidTopicFilter, "{filter}");

        let unsubscribe = framed(0xa2, &[&[0, 1][..], &field(filter.as_bytes())].concat());
        let expected = M::Unsubscribe {
            pid: 1,
            filters: vec![filter.into()],
        };
        assert_eq!(from_mb(mb_read(&unsubscribe).unwrap()), expected, "{filter}");
        assert_eq!(from_rs(&rs_read(&unsubscribe).unwrap()), expected, "{filter}");
        assert_eq!(
            ours_err(&unsubscribe),
            DecodeError::InvalidTopicFilter,
            "{filter}"
        );
        assert!(TopicFilter::new(filter).is_err());
    }
}

/// [MQTT-4.7.3-1]: topic names and filters are at least one character long. Both peers accept
/// an empty PUBLISH topic and an empty SUBSCRIBE filter; umqtt rejects both.
#[test]
fn empty_topic_peers_accept_it() {
    let publish = framed(0x30, &[0, 0, b'x']);
    for (peer, p) in peers_accept(&publish) {
        let M::Publish { topic, .. } = p else {
            panic!("{peer}: {p:?}")
        };
        assert_eq!(topic, "", "{peer}");
    }
    assert_eq!(ours_err(&publish), DecodeError::EmptyTopic);

    let subscribe = framed(0x82, &[0, 1, 0, 0, 0]);
    let expected = M::Subscribe {
        pid: 1,
        filters: vec![(String::new(), 0)],
    };
    assert_eq!(from_mb(mb_read(&subscribe).unwrap()), expected);
    assert_eq!(from_rs(&rs_read(&subscribe).unwrap()), expected);
    assert_eq!(ours_err(&subscribe), DecodeError::EmptyTopic);
}

/// 3.4-3.7, 3.11, 3.12-3.14 (checklist section C): the acknowledgements have a Remaining
/// Length of exactly 2, PINGREQ/PINGRESP/DISCONNECT of 0. Both peers skip extra bytes in
/// PUBACK and PINGREQ (mqttbytes checks UNSUBACK's length, mqttrs does not); umqtt reports
/// them as [`DecodeError::TrailingBytes`].
#[test]
fn trailing_bytes_in_fixed_size_packets_peers_skip_them() {
    let puback = [0x40, 0x03, 0x00, 0x01, 0xff];
    assert_eq!(from_mb(mb_read(&puback).unwrap()), M::PubAck(1));
    assert_eq!(from_rs(&rs_read(&puback).unwrap()), M::PubAck(1));
    assert_eq!(ours_err(&puback), DecodeError::TrailingBytes);

    let pingreq = [0xc0, 0x01, 0xff];
    assert_eq!(from_mb(mb_read(&pingreq).unwrap()), M::PingReq);
    assert_eq!(from_rs(&rs_read(&pingreq).unwrap()), M::PingReq);
    assert_eq!(ours_err(&pingreq), DecodeError::TrailingBytes);

    let unsuback = [0xb0, 0x03, 0x00, 0x01, 0xff];
    assert_eq!(
        mb_read(&unsuback).unwrap_err(),
        mqttbytes::Error::PayloadSizeIncorrect
    );
    assert_eq!(from_rs(&rs_read(&unsuback).unwrap()), M::UnsubAck(1));
    assert_eq!(ours_err(&unsuback), DecodeError::TrailingBytes);
}

/// [MQTT-3.1.2-1] / [MQTT-3.1.2-2]: a 3.1.1 CONNECT names protocol `MQTT` at level 4.
/// `mqttbytes::v4::read` also takes level 5 (and reports `Protocol::V5`); mqttrs also takes the
/// MQTT 3.1 name `MQIsdp` at level 3. umqtt, a 3.1.1-only codec, rejects both.
#[test]
fn other_protocol_levels_peers_accept_some() {
    let level5 = connect_bytes(b"MQTT", 5, 0x02, &field(b"c"));
    let Ok(mb::Packet::Connect(c)) = mb_read(&level5) else {
        panic!("mqttbytes rejects level 5")
    };
    assert_eq!(c.protocol, mqttbytes::Protocol::V5);
    assert_eq!(
        mqttrs::decode_slice(&level5),
        Err(mqttrs::Error::InvalidProtocol("MQTT".into(), 5))
    );
    assert_eq!(ours_err(&level5), DecodeError::UnsupportedProtocolLevel(5));

    let mqisdp = connect_bytes(b"MQIsdp", 3, 0x02, &field(b"c"));
    assert_eq!(mb_read(&mqisdp).unwrap_err(), mqttbytes::Error::InvalidProtocol);
    let Ok(Some(mqttrs::Packet::Connect(c))) = mqttrs::decode_slice(&mqisdp) else {
        panic!("mqttrs rejects MQIsdp")
    };
    assert_eq!(c.protocol, mqttrs::Protocol::MQIsdp);
    assert_eq!(ours_err(&mqisdp), DecodeError::InvalidProtocolName);
}

/// 3.1.3.5: the password is binary data, not a UTF-8 string. mqttbytes stores it as a `String`
/// and rejects a CONNECT whose password is not UTF-8; mqttrs and umqtt accept it.
#[test]
fn binary_password_mqttbytes_rejects_it() {
    let password = [0xff, 0x00, 0xfe];
    let bytes = connect_bytes(
        b"MQTT",
        4,
        0xc2,
        &[field(b"c"), field(b"u"), field(&password)].concat(),
    );
    let expected = M::Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: "c".into(),
        will: None,
        username: Some("u".into()),
        password: Some(password.to_vec()),
    };
    assert_eq!(mb_read(&bytes).unwrap_err(), mqttbytes::Error::TopicNotUtf8);
    assert_eq!(from_rs(&rs_read(&bytes).unwrap()), expected);
    assert_eq!(ours_decode(&bytes), Ok(expected));
}

/// Robustness (section 2.2.3 / 3.4: a PUBACK body is 2 bytes): on a PUBACK whose Remaining
/// Length is shorter than its packet identifier, mqttrs indexes past the end of the input and
/// panics. mqttbytes returns an error; umqtt returns [`DecodeError::UnexpectedEnd`].
#[test]
fn truncated_ack_mqttrs_panics() {
    for bytes in [&[0x40, 0x00][..], &[0x40, 0x01, 0x00]] {
        let r = std::panic::catch_unwind(|| mqttrs::decode_slice(bytes).map(|p| p.is_some()));
        assert!(r.is_err(), "mqttrs no longer panics on {bytes:02x?}");
        assert!(mb_read(bytes).is_err());
        assert_eq!(ours_err(bytes), DecodeError::UnexpectedEnd, "{bytes:02x?}");
    }
}
