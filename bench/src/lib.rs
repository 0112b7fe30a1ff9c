//! The workloads of umqtt's codec benchmarks, built in umqtt and in each peer codec:
//! `mqttbytes` 0.6 (its `v4` module), `mqttrs` 0.4 (no `std`, as a firmware uses it),
//! `mqtt-protocol` 0.12 and `mqtt-format` 0.4 (its `v3` module).
//!
//! Both `benches/codec.rs` (criterion and the callgrind mode of `scripts/icount.sh`) and
//! `tests/agree.rs` use it, so what is timed is what the tests check:
//!
//! * [`Workload::canonical_bytes`] encodes a workload with every crate and asserts that all of
//!   them write the same bytes; the decoders are fed those bytes.
//! * Every `decode_*` function reads every field of the decoded packet the way an
//!   application would: the topic and payload of a PUBLISH, every string of a CONNECT, every
//!   filter and QoS of a SUBSCRIBE (iterating the list, which for umqtt and mqtt-format parses
//!   it again), every return code of a SUBACK. It returns a sum of lengths and values, which
//!   the tests compare between crates, so a decoder that skips a field is caught.
//! * Every `encode_*` function writes into a buffer allocated once, in the form each crate
//!   takes: a `&mut [u8]` for umqtt, mqttrs and mqtt-protocol (through `io::Write`), a cleared
//!   `BytesMut` for mqttbytes, a `futures::io::Cursor` polled once for mqtt-format (its writer
//!   is async; the cursor never waits).
//! * [`Crate::Memcpy`] copies the packet's bytes: the floor for any encoder.

use std::hint::black_box;

use bytes::BytesMut;
use futures::FutureExt;
use mqtt::{Decodable, Encodable};
use mqtt_format::v3 as mf;
use mqttbytes::v4 as mb;
use umqtt::{
    Connect, Delivery, Entries, LastWill, Packet, PacketId, Publish, QoS, Status, Subscribe, Subscription,
    TopicFilter, TopicName,
};

/// Upper bound handed to `mqttbytes::v4::read` (it rejects larger packets).
pub const MB_MAX: usize = 1 << 28;

const TOPIC: &str = "home/living_room/light";
const CLIENT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const USER: &str = "smart_home_user";
const PASS: &str = "s3cr3t-p4ssw0rd";
const WILL_TOPIC: &str = "home/devices/3f2504e0/status";
const WILL_MSG: &[u8] = b"offline";
const FILTERS: [(&str, QoS); 4] = [
    ("home/+/light", QoS::AtLeastOnce),
    ("home/living_room/#", QoS::AtMostOnce),
    ("sensors/+/temperature", QoS::AtLeastOnce),
    ("$SYS/broker/uptime", QoS::AtMostOnce),
];
const PID: u16 = 42;
const SUB_PID: u16 = 7;

/// One codec under test, or the `memcpy` floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crate {
    /// This crate.
    Umqtt,
    /// `mqttbytes` 0.6, `v4`.
    Mqttbytes,
    /// `mqttrs` 0.4 without `std`.
    Mqttrs,
    /// `mqtt-protocol` 0.12.
    MqttProtocol,
    /// `mqtt-format` 0.4, `v3`.
    MqttFormat,
    /// A copy of the packet's bytes (encode rows only).
    Memcpy,
}

impl Crate {
    /// umqtt and the peers, in table order.
    pub const CODECS: [Self; 5] = [
        Self::Umqtt,
        Self::Mqttbytes,
        Self::Mqttrs,
        Self::MqttProtocol,
        Self::MqttFormat,
    ];

    /// The name used in benchmark ids and tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Umqtt => "umqtt",
            Self::Mqttbytes => "mqttbytes",
            Self::Mqttrs => "mqttrs",
            Self::MqttProtocol => "mqtt-protocol",
            Self::MqttFormat => "mqtt-format",
            Self::Memcpy => "memcpy",
        }
    }

    /// Whether this crate decodes `bytes` (one packet or a stream of them) correctly.
    ///
    /// mqtt-format 0.4 reads a Remaining Length of two or more bytes wrongly (its fixed-header
    /// parser stops before the last length byte), so it cannot decode any packet of 128 bytes
    /// or more; `tests/agree.rs` checks that this is still so. Its decode rows are left out
    /// for such workloads.
    pub fn decodes(self, bytes: &[u8]) -> bool {
        if self != Self::MqttFormat {
            return self != Self::Memcpy;
        }
        let mut rest = bytes;
        while let [_, len, ..] = rest {
            if len & 0x80 != 0 {
                return false;
            }
            rest = &rest[(2 + usize::from(*len)).min(rest.len())..];
        }
        true
    }

    /// The crate named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::CODECS
            .into_iter()
            .chain([Self::Memcpy])
            .find(|c| c.name() == name)
    }
}

/// A packet as an mqttbytes value (v4 has no `Packet::write`: each type writes itself).
pub enum MbPacket {
    /// PUBLISH.
    Publish(mb::Publish),
    /// CONNECT.
    Connect(mb::Connect),
    /// SUBSCRIBE.
    Subscribe(mb::Subscribe),
    /// PUBACK.
    PubAck(mb::PubAck),
    /// PINGREQ.
    PingReq,
}

impl MbPacket {
    fn write(&self, buf: &mut BytesMut) -> usize {
        match self {
            Self::Publish(p) => p.write(buf),
            Self::Connect(p) => p.write(buf),
            Self::Subscribe(p) => p.write(buf),
            Self::PubAck(p) => p.write(buf),
            Self::PingReq => mb::PingReq.write(buf),
        }
        .expect("mqttbytes encodes")
    }
}

/// A packet as an mqtt-protocol value: the borrowing `PublishPacketRef` for PUBLISH (no
/// copy of topic or payload, like umqtt), the owned packet types otherwise.
pub enum MpPacket<'a> {
    /// PUBLISH.
    Publish(mqtt::packet::PublishPacketRef<'a>),
    /// Any other packet.
    Other(mqtt::packet::VariablePacket),
}

impl MpPacket<'_> {
    fn write(&self, mut out: &mut [u8]) -> usize {
        let before = out.len();
        match self {
            Self::Publish(p) => p.encode(&mut out),
            Self::Other(p) => p.encode(&mut out),
        }
        .expect("mqtt-protocol encodes");
        before - out.len()
    }
}

/// One workload, built in every crate. The borrowing crates borrow the payload.
pub struct Workload<'a> {
    /// Benchmark group name.
    pub name: &'static str,
    /// umqtt's packet.
    pub ours: Packet<'a>,
    /// mqttbytes' packet.
    pub mb: MbPacket,
    /// mqttrs' packet.
    pub rs: mqttrs::Packet<'a>,
    /// mqtt-protocol's packet.
    pub mp: MpPacket<'a>,
    /// mqtt-format's packet.
    pub mf: mf::packet::MPacket<'a>,
}

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

fn pid_rs(v: u16) -> mqttrs::Pid {
    mqttrs::Pid::try_from(v).expect("non-zero packet id")
}

fn qos_mb(q: QoS) -> mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

fn qos_rs(q: QoS) -> mqttrs::QoS {
    match q {
        QoS::AtMostOnce => mqttrs::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttrs::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttrs::QoS::ExactlyOnce,
    }
}

fn qos_mp(q: QoS) -> mqtt::QualityOfService {
    match q {
        QoS::AtMostOnce => mqtt::QualityOfService::Level0,
        QoS::AtLeastOnce => mqtt::QualityOfService::Level1,
        QoS::ExactlyOnce => mqtt::QualityOfService::Level2,
    }
}

fn qos_mf(q: QoS) -> mf::qos::MQualityOfService {
    match q {
        QoS::AtMostOnce => mf::qos::MQualityOfService::AtMostOnce,
        QoS::AtLeastOnce => mf::qos::MQualityOfService::AtLeastOnce,
        QoS::ExactlyOnce => mf::qos::MQualityOfService::ExactlyOnce,
    }
}

fn mstr(value: &str) -> mf::strings::MString<'_> {
    mf::strings::MString { value }
}

fn mp_topic(s: &str) -> &mqtt::TopicNameRef {
    mqtt::TopicNameRef::new(s).expect("valid topic")
}

/// A PUBLISH of `payload` to one topic, at `qos` (packet id 42 at QoS 1 and 2).
pub fn publish<'a>(name: &'static str, payload: &'a [u8], qos: QoS) -> Workload<'a> {
    let delivery = match qos {
        QoS::AtMostOnce => Delivery::AtMostOnce,
        QoS::AtLeastOnce => Delivery::AtLeastOnce(pid(PID)),
        QoS::ExactlyOnce => Delivery::ExactlyOnce(pid(PID)),
    };
    let id = delivery.packet_id().map(PacketId::get);
    let topic = TopicName::new(TOPIC).expect("valid topic");
    let ours = Packet::Publish(Publish::new(topic, payload, delivery, false));

    let mut mbp = mb::Publish::new(TOPIC, qos_mb(qos), payload.to_vec());
    mbp.pkid = id.unwrap_or(0);

    let rs_qospid = match qos {
        QoS::AtMostOnce => mqttrs::QosPid::AtMostOnce,
        QoS::AtLeastOnce => mqttrs::QosPid::AtLeastOnce(pid_rs(PID)),
        QoS::ExactlyOnce => mqttrs::QosPid::ExactlyOnce(pid_rs(PID)),
    };
    let rs = mqttrs::Packet::Publish(mqttrs::Publish {
        dup: false,
        qospid: rs_qospid,
        retain: false,
        topic_name: TOPIC,
        payload,
    });

    let mp_qos = match qos {
        QoS::AtMostOnce => mqtt::packet::QoSWithPacketIdentifier::Level0,
        QoS::AtLeastOnce => mqtt::packet::QoSWithPacketIdentifier::Level1(PID),
        QoS::ExactlyOnce => mqtt::packet::QoSWithPacketIdentifier::Level2(PID),
    };
    let mp = MpPacket::Publish(mqtt::packet::PublishPacketRef::new(
        mp_topic(TOPIC),
        mp_qos,
        payload,
    ));

    let mf = mf::packet::MPacket::Publish(mf::packet::MPublish {
        dup: false,
        qos: qos_mf(qos),
        retain: false,
        topic_name: mstr(TOPIC),
        id: id.map(mf::identifier::MPacketIdentifier),
        payload,
    });
    Workload {
        name,
        ours,
        mb: MbPacket::Publish(mbp),
        rs,
        mp,
        mf,
    }
}

/// A CONNECT with will, user name and password: every optional field present.
pub fn connect() -> Workload<'static> {
    let ours = Packet::Connect(Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: CLIENT_ID,
        will: Some(LastWill {
            topic: TopicName::new(WILL_TOPIC).expect("valid topic"),
            message: WILL_MSG,
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
        username: Some(USER),
        password: Some(PASS.as_bytes()),
    });

    let mut mbc = mb::Connect::new(CLIENT_ID);
    mbc.keep_alive = 60;
    mbc.clean_session = true;
    mbc.last_will = Some(mb::LastWill::new(
        WILL_TOPIC,
        WILL_MSG,
        mqttbytes::QoS::AtLeastOnce,
        true,
    ));
    mbc.set_login(USER, PASS);

    let rs = mqttrs::Packet::Connect(mqttrs::Connect {
        protocol: mqttrs::Protocol::MQTT311,
        keep_alive: 60,
        client_id: CLIENT_ID,
        clean_session: true,
        last_will: Some(mqttrs::LastWill {
            topic: WILL_TOPIC,
            message: WILL_MSG,
            qos: mqttrs::QoS::AtLeastOnce,
            retain: true,
        }),
        username: Some(USER),
        password: Some(PASS.as_bytes()),
    });

    let mut mpc = mqtt::packet::ConnectPacket::new(CLIENT_ID);
    mpc.set_keep_alive(60);
    mpc.set_clean_session(true);
    mpc.set_will(Some((
        mqtt::TopicName::new(WILL_TOPIC).expect("valid topic"),
        WILL_MSG.to_vec(),
    )));
    mpc.set_will_qos(1);
    mpc.set_will_retain(true);
    mpc.set_user_name(Some(USER.to_owned()));
    mpc.set_password(Some(PASS.to_owned()));

    let mf = mf::packet::MPacket::Connect(mf::packet::MConnect {
        protocol_name: mstr("MQTT"),
        protocol_level: 4,
        clean_session: true,
        will: Some(mf::will::MLastWill {
            topic: mstr(WILL_TOPIC),
            payload: WILL_MSG,
            qos: mf::qos::MQualityOfService::AtLeastOnce,
            retain: true,
        }),
        username: Some(mstr(USER)),
        password: Some(PASS.as_bytes()),
        keep_alive: 60,
        client_id: mstr(CLIENT_ID),
    });
    Workload {
        name: "connect",
        ours,
        mb: MbPacket::Connect(mbc),
        rs,
        mp: MpPacket::Other(mpc.into()),
        mf,
    }
}

/// umqtt's subscription list for [`subscribe`].
pub fn subscriptions() -> Vec<Subscription<'static>> {
    FILTERS
        .iter()
        .map(|(f, q)| Subscription {
            filter: TopicFilter::new(f).expect("valid filter"),
            qos: *q,
        })
        .collect()
}

/// The SUBSCRIBE payload as bytes: mqtt-format's encoder takes the filter list already
/// encoded (`MSubscriptionRequests { count, data }`) and copies it, so its SUBSCRIBE encode
/// row does not include encoding the filters.
pub fn subscribe_payload() -> Vec<u8> {
    let mut v = Vec::new();
    for (f, q) in FILTERS {
        v.extend_from_slice(&(f.len() as u16).to_be_bytes());
        v.extend_from_slice(f.as_bytes());
        v.push(q.as_u8());
    }
    v
}

/// A SUBSCRIBE with four filters. `subs` comes from [`subscriptions`], `payload` from
/// [`subscribe_payload`].
pub fn subscribe<'a>(subs: &'a [Subscription<'static>], payload: &'a [u8]) -> Workload<'a> {
    let ours = Packet::Subscribe(Subscribe {
        packet_id: pid(SUB_PID),
        topics: Entries::new(subs),
    });

    let mut mbs = mb::Subscribe::new_many(
        FILTERS
            .iter()
            .map(|(f, q)| mb::SubscribeFilter::new((*f).to_owned(), qos_mb(*q))),
    );
    mbs.pkid = SUB_PID;

    let mut topics = heapless07::Vec::new();
    for (f, q) in FILTERS {
        let topic = mqttrs::SubscribeTopic {
            topic_path: heapless07::String::from(f),
            qos: qos_rs(q),
        };
        topics.push(topic).expect("mqttrs holds 5 filters");
    }
    let rs = mqttrs::Packet::Subscribe(mqttrs::Subscribe::new(pid_rs(SUB_PID), topics));

    let mp = mqtt::packet::SubscribePacket::new(
        SUB_PID,
        FILTERS
            .iter()
            .map(|(f, q)| (mqtt::TopicFilter::new(*f).expect("valid filter"), qos_mp(*q)))
            .collect(),
    );

    let mf = mf::packet::MPacket::Subscribe(mf::packet::MSubscribe {
        id: mf::identifier::MPacketIdentifier(SUB_PID),
        subscriptions: mf::subscription_request::MSubscriptionRequests {
            count: FILTERS.len(),
            data: payload,
        },
    });
    Workload {
        name: "subscribe_4_filters",
        ours,
        mb: MbPacket::Subscribe(mbs),
        rs,
        mp: MpPacket::Other(mp.into()),
        mf,
    }
}

/// A PUBACK.
pub fn puback() -> Workload<'static> {
    Workload {
        name: "puback",
        ours: Packet::PubAck(pid(PID)),
        mb: MbPacket::PubAck(mb::PubAck::new(PID)),
        rs: mqttrs::Packet::Puback(pid_rs(PID)),
        mp: MpPacket::Other(mqtt::packet::PubackPacket::new(PID).into()),
        mf: mf::packet::MPacket::Puback(mf::packet::MPuback {
            id: mf::identifier::MPacketIdentifier(PID),
        }),
    }
}

/// A PINGREQ.
pub fn pingreq() -> Workload<'static> {
    Workload {
        name: "pingreq",
        ours: Packet::PingReq,
        mb: MbPacket::PingReq,
        rs: mqttrs::Packet::Pingreq,
        mp: MpPacket::Other(mqtt::packet::PingreqPacket::new().into()),
        mf: mf::packet::MPacket::Pingreq(mf::packet::MPingreq),
    }
}

/// The data the workloads borrow.
pub struct Inputs {
    p1: [u8; 1],
    p64: [u8; 64],
    p1k: Vec<u8>,
    p16k: Vec<u8>,
    subs: Vec<Subscription<'static>>,
    sub_payload: Vec<u8>,
}

impl Default for Inputs {
    fn default() -> Self {
        Self::new()
    }
}

impl Inputs {
    /// Payloads of 1 B, 64 B, 1 KiB and 16 KiB, and the SUBSCRIBE filters.
    pub fn new() -> Self {
        Self {
            p1: *b"1",
            p64: [0x5a; 64],
            p1k: vec![0xa5; 1024],
            p16k: vec![0x3c; 16 * 1024],
            subs: subscriptions(),
            sub_payload: subscribe_payload(),
        }
    }

    /// The single-packet workloads, in table order.
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        vec![
            publish("publish_qos0_1B", &self.p1, QoS::AtMostOnce),
            publish("publish_qos1_64B", &self.p64, QoS::AtLeastOnce),
            publish("publish_qos0_1KiB", &self.p1k, QoS::AtMostOnce),
            publish("publish_qos0_16KiB", &self.p16k, QoS::AtMostOnce),
            connect(),
            subscribe(&self.subs, &self.sub_payload),
            pingreq(),
            puback(),
        ]
    }
}

impl Workload<'_> {
    /// Encodes the workload with every crate, asserts that they all wrote the same bytes,
    /// and returns those bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut ours = vec![0xa5; self.ours.encoded_len()];
        let n = self.ours.encode(&mut ours).expect("umqtt encodes");
        assert_eq!(n, ours.len(), "{}: umqtt's encoded_len", self.name);
        let mut out = vec![0xa5u8; n + 64];
        let mut mbb = BytesMut::new();
        for c in Crate::CODECS {
            let m = self.encode(c, &mut out, &mut mbb);
            let written = if c == Crate::Mqttbytes {
                &mbb[..]
            } else {
                &out[..m]
            };
            assert_eq!(
                written,
                &ours[..],
                "{}: {} writes other bytes",
                self.name,
                c.name()
            );
        }
        ours
    }

    /// Encodes with `krate` into `out` (or, for mqttbytes, into `mbb`, cleared first) and
    /// returns the length. [`Crate::Memcpy`] is not an encoder: see [`memcpy`].
    pub fn encode(&self, krate: Crate, out: &mut [u8], mbb: &mut BytesMut) -> usize {
        match krate {
            Crate::Umqtt => self.ours.encode(out).expect("umqtt encodes"),
            Crate::Mqttbytes => {
                mbb.clear();
                self.mb.write(mbb)
            }
            Crate::Mqttrs => mqttrs::encode_slice(&self.rs, out).expect("mqttrs encodes"),
            Crate::MqttProtocol => self.mp.write(out),
            Crate::MqttFormat => encode_mf(&self.mf, out),
            Crate::Memcpy => unreachable!("memcpy copies given bytes: see `memcpy`"),
        }
    }
}

/// The encode floor: copies `src` into the start of `out`.
#[inline]
pub fn memcpy(src: &[u8], out: &mut [u8]) -> usize {
    out[..src.len()].copy_from_slice(src);
    src.len()
}

/// Encodes with mqtt-format: its writer is async; a cursor over a slice never waits, so one
/// poll finishes it.
pub fn encode_mf(p: &mf::packet::MPacket<'_>, out: &mut [u8]) -> usize {
    let mut cursor = futures::io::Cursor::new(out);
    p.write_to(std::pin::Pin::new(&mut cursor))
        .now_or_never()
        .expect("a slice cursor never waits")
        .expect("mqtt-format encodes");
    cursor.position() as usize
}

// --- decoding: every field, as an application reads it ---------------------------------------

fn s(v: &str) -> usize {
    // The length and the first byte: the string is really there.
    v.len() + usize::from(v.as_bytes().first().copied().unwrap_or(0))
}

fn b(v: &[u8]) -> usize {
    v.len() + usize::from(v.first().copied().unwrap_or(0))
}

/// Reads every field of a umqtt packet.
pub fn read_ours(p: &Packet<'_>) -> usize {
    match p {
        Packet::Publish(p) => {
            s(p.topic.as_str())
                + b(p.payload)
                + usize::from(p.qos().as_u8())
                + p.delivery.packet_id().map_or(0, |id| usize::from(id.get()))
                + usize::from(p.retain)
                + usize::from(p.dup)
        }
        Packet::Connect(c) => {
            s(c.client_id)
                + usize::from(c.keep_alive)
                + usize::from(c.clean_session)
                + c.will.as_ref().map_or(0, |w| {
                    s(w.topic.as_str()) + b(w.message) + usize::from(w.qos.as_u8()) + usize::from(w.retain)
                })
                + c.username.map_or(0, s)
                + c.password.map_or(0, b)
        }
        Packet::Subscribe(sub) => {
            usize::from(sub.packet_id.get())
                + sub
                    .topics
                    .iter()
                    .map(|t| s(t.filter.as_str()) + usize::from(t.qos.as_u8()))
                    .sum::<usize>()
        }
        Packet::SubAck(a) => {
            usize::from(a.packet_id.get()) + a.codes.iter().map(|c| usize::from(c.as_u8())).sum::<usize>()
        }
        Packet::Unsubscribe(u) => {
            usize::from(u.packet_id.get()) + u.topics.iter().map(|t| s(t.as_str())).sum::<usize>()
        }
        Packet::PubAck(id)
        | Packet::PubRec(id)
        | Packet::PubRel(id)
        | Packet::PubComp(id)
        | Packet::UnsubAck(id) => usize::from(id.get()),
        Packet::ConnAck(c) => usize::from(c.session_present) + usize::from(c.code as u8),
        Packet::PingReq | Packet::PingResp | Packet::Disconnect => 1,
    }
}

/// Reads every field of an mqttbytes packet.
pub fn read_mb(p: &mb::Packet) -> usize {
    match p {
        mb::Packet::Publish(p) => {
            s(&p.topic)
                + b(&p.payload)
                + p.qos as usize
                + usize::from(p.pkid)
                + usize::from(p.retain)
                + usize::from(p.dup)
        }
        mb::Packet::Connect(c) => {
            s(&c.client_id)
                + usize::from(c.keep_alive)
                + usize::from(c.clean_session)
                + c.last_will.as_ref().map_or(0, |w| {
                    s(&w.topic) + b(&w.message) + w.qos as usize + usize::from(w.retain)
                })
                + c.login.as_ref().map_or(0, |l| s(&l.username) + s(&l.password))
        }
        mb::Packet::Subscribe(sub) => {
            usize::from(sub.pkid)
                + sub
                    .filters
                    .iter()
                    .map(|f| s(&f.path) + f.qos as usize)
                    .sum::<usize>()
        }
        mb::Packet::SubAck(a) => {
            usize::from(a.pkid)
                + a.return_codes
                    .iter()
                    .map(|c| match c {
                        mb::SubscribeReasonCode::Success(q) => *q as usize,
                        mb::SubscribeReasonCode::Failure => 0x80,
                    })
                    .sum::<usize>()
        }
        mb::Packet::Unsubscribe(u) => usize::from(u.pkid) + u.topics.iter().map(|t| s(t)).sum::<usize>(),
        mb::Packet::PubAck(a) => usize::from(a.pkid),
        mb::Packet::PubRec(a) => usize::from(a.pkid),
        mb::Packet::PubRel(a) => usize::from(a.pkid),
        mb::Packet::PubComp(a) => usize::from(a.pkid),
        mb::Packet::UnsubAck(a) => usize::from(a.pkid),
        mb::Packet::ConnAck(c) => usize::from(c.session_present) + c.code as usize,
        mb::Packet::PingReq | mb::Packet::PingResp | mb::Packet::Disconnect => 1,
    }
}

fn qospid_rs(q: &mqttrs::QosPid) -> usize {
    match q {
        mqttrs::QosPid::AtMostOnce => 0,
        mqttrs::QosPid::AtLeastOnce(id) => 1 + usize::from(id.get()),
        mqttrs::QosPid::ExactlyOnce(id) => 2 + usize::from(id.get()),
    }
}

/// Reads every field of an mqttrs packet.
pub fn read_rs(p: &mqttrs::Packet<'_>) -> usize {
    use mqttrs::Packet as P;
    match p {
        P::Publish(p) => {
            s(p.topic_name) + b(p.payload) + qospid_rs(&p.qospid) + usize::from(p.retain) + usize::from(p.dup)
        }
        P::Connect(c) => {
            s(c.client_id)
                + usize::from(c.keep_alive)
                + usize::from(c.clean_session)
                + c.last_will.as_ref().map_or(0, |w| {
                    s(w.topic) + b(w.message) + w.qos as usize + usize::from(w.retain)
                })
                + c.username.map_or(0, s)
                + c.password.map_or(0, b)
        }
        P::Subscribe(sub) => {
            usize::from(sub.pid.get())
                + sub
                    .topics
                    .iter()
                    .map(|t| s(&t.topic_path) + t.qos as usize)
                    .sum::<usize>()
        }
        P::Suback(a) => {
            usize::from(a.pid.get())
                + a.return_codes
                    .iter()
                    .map(|c| match c {
                        mqttrs::SubscribeReturnCodes::Success(q) => *q as usize,
                        mqttrs::SubscribeReturnCodes::Failure => 0x80,
                    })
                    .sum::<usize>()
        }
        P::Unsubscribe(u) => usize::from(u.pid.get()) + u.topics.iter().map(|t| s(t)).sum::<usize>(),
        P::Puback(id) | P::Pubrec(id) | P::Pubrel(id) | P::Pubcomp(id) | P::Unsuback(id) => {
            usize::from(id.get())
        }
        P::Connack(c) => usize::from(c.session_present) + c.code as usize,
        P::Pingreq | P::Pingresp | P::Disconnect => 1,
    }
}

/// Reads every field of an mqtt-protocol packet.
pub fn read_mp(p: &mqtt::packet::VariablePacket) -> usize {
    use mqtt::packet::VariablePacket as V;
    match p {
        V::PublishPacket(p) => {
            let (qos, id) = p.qos().split();
            s(p.topic_name())
                + b(p.payload())
                + qos as usize
                + usize::from(id.unwrap_or(0))
                + usize::from(p.retain())
                + usize::from(p.dup())
        }
        V::ConnectPacket(c) => {
            s(c.client_identifier())
                + usize::from(c.keep_alive())
                + usize::from(c.clean_session())
                + c.will().map_or(0, |(t, m)| {
                    s(t) + b(m) + usize::from(c.will_qos()) + usize::from(c.will_retain())
                })
                + c.user_name().map_or(0, s)
                + c.password().map_or(0, s)
        }
        V::SubscribePacket(sub) => {
            usize::from(sub.packet_identifier())
                + sub
                    .subscribes()
                    .iter()
                    .map(|(f, q)| s(f) + *q as usize)
                    .sum::<usize>()
        }
        V::SubackPacket(a) => {
            usize::from(a.packet_identifier())
                + a.subscribes()
                    .iter()
                    .map(|c| match c {
                        mqtt::packet::suback::SubscribeReturnCode::MaximumQoSLevel0 => 0,
                        mqtt::packet::suback::SubscribeReturnCode::MaximumQoSLevel1 => 1,
                        mqtt::packet::suback::SubscribeReturnCode::MaximumQoSLevel2 => 2,
                        mqtt::packet::suback::SubscribeReturnCode::Failure => 0x80,
                    })
                    .sum::<usize>()
        }
        V::UnsubscribePacket(u) => {
            usize::from(u.packet_identifier()) + u.subscribes().iter().map(|t| s(t)).sum::<usize>()
        }
        V::PubackPacket(a) => usize::from(a.packet_identifier()),
        V::PubrecPacket(a) => usize::from(a.packet_identifier()),
        V::PubrelPacket(a) => usize::from(a.packet_identifier()),
        V::PubcompPacket(a) => usize::from(a.packet_identifier()),
        V::UnsubackPacket(a) => usize::from(a.packet_identifier()),
        V::ConnackPacket(c) => {
            usize::from(c.connack_flags().session_present) + usize::from(c.connect_return_code().to_u8())
        }
        V::PingreqPacket(_) | V::PingrespPacket(_) | V::DisconnectPacket(_) => 1,
    }
}

/// Reads every field of an mqtt-format packet.
pub fn read_mf(p: &mf::packet::MPacket<'_>) -> usize {
    use mf::packet::MPacket as M;
    match p {
        M::Publish(p) => {
            s(p.topic_name.value)
                + b(p.payload)
                + usize::from(p.qos.to_byte())
                + p.id.map_or(0, |id| usize::from(id.0))
                + usize::from(p.retain)
                + usize::from(p.dup)
        }
        M::Connect(c) => {
            s(c.client_id.value)
                + usize::from(c.keep_alive)
                + usize::from(c.clean_session)
                + c.will.as_ref().map_or(0, |w| {
                    s(w.topic.value) + b(w.payload) + usize::from(w.qos.to_byte()) + usize::from(w.retain)
                })
                + c.username.map_or(0, |u| s(u.value))
                + c.password.map_or(0, b)
        }
        M::Subscribe(sub) => {
            usize::from(sub.id.0)
                + sub
                    .subscriptions
                    .into_iter()
                    .map(|r| s(r.topic.value) + usize::from(r.qos.to_byte()))
                    .sum::<usize>()
        }
        M::Suback(a) => {
            usize::from(a.id.0)
                + a.subscription_acks
                    .acks
                    .iter()
                    .map(|c| *c as usize)
                    .sum::<usize>()
        }
        M::Unsubscribe(u) => {
            usize::from(u.id.0)
                + u.unsubscriptions
                    .into_iter()
                    .map(|r| s(r.topic.value))
                    .sum::<usize>()
        }
        M::Puback(a) => usize::from(a.id.0),
        M::Pubrec(a) => usize::from(a.id.0),
        M::Pubrel(a) => usize::from(a.id.0),
        M::Pubcomp(a) => usize::from(a.id.0),
        M::Unsuback(a) => usize::from(a.id.0),
        M::Connack(c) => usize::from(c.session_present) + c.connect_return_code as usize,
        M::Pingreq(_) | M::Pingresp(_) | M::Disconnect(_) => 1,
    }
}

/// Decodes the packet at the start of `buf` with umqtt; returns the field sum and its length.
#[inline]
pub fn decode_ours(buf: &[u8]) -> (usize, usize) {
    match umqtt::decode(buf) {
        Ok(Status::Complete((p, n))) => (read_ours(black_box(&p)), n),
        other => panic!("umqtt failed to decode benchmark input: {other:?}"),
    }
}

/// Decodes one packet from the front of `buf` with mqttbytes (which consumes it).
#[inline]
pub fn decode_mb(buf: &mut BytesMut) -> usize {
    match mb::read(buf, MB_MAX) {
        Ok(p) => read_mb(black_box(&p)),
        Err(e) => panic!("mqttbytes failed to decode benchmark input: {e:?}"),
    }
}

/// Decodes the packet at the start of `buf` with mqttrs; returns the field sum and its
/// length. `decode_slice` does not say how many bytes it used, so the length is read from
/// the fixed header, as any mqttrs user on a byte stream has to.
#[inline]
pub fn decode_rs(buf: &[u8]) -> (usize, usize) {
    match mqttrs::decode_slice(buf) {
        Ok(Some(p)) => (read_rs(black_box(&p)), frame_len(buf)),
        other => panic!("mqttrs failed to decode benchmark input: {other:?}"),
    }
}

/// Decodes one packet from the front of `buf` with mqtt-protocol (which advances it).
#[inline]
pub fn decode_mp(buf: &mut &[u8]) -> usize {
    match mqtt::packet::VariablePacket::decode(buf) {
        Ok(p) => read_mp(black_box(&p)),
        Err(e) => panic!("mqtt-protocol failed to decode benchmark input: {e:?}"),
    }
}

/// Decodes the packet at the start of `buf` with mqtt-format; returns the field sum and the
/// rest of `buf`.
#[inline]
pub fn decode_mf(buf: &[u8]) -> (usize, &[u8]) {
    match mf::packet::mpacket(buf) {
        Ok((rest, p)) => (read_mf(black_box(&p)), rest),
        Err(e) => panic!("mqtt-format failed to decode benchmark input: {e:?}"),
    }
}

/// Length of the packet at the start of `buf`, from its fixed header.
fn frame_len(buf: &[u8]) -> usize {
    let mut len = 0usize;
    for (i, &b) in buf.iter().skip(1).take(4).enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return 2 + i + len;
        }
    }
    panic!("bad frame in benchmark input")
}

/// Decodes the packet at the start of `bytes` once with `krate` and returns the field sum.
/// mqttbytes is given a fresh `BytesMut` (it consumes its input); callers that time it keep
/// that copy out of the timed part (see `benches/codec.rs`).
pub fn decode_one(krate: Crate, bytes: &[u8]) -> usize {
    match krate {
        Crate::Umqtt => decode_ours(bytes).0,
        Crate::Mqttbytes => decode_mb(&mut BytesMut::from(bytes)),
        Crate::Mqttrs => decode_rs(bytes).0,
        Crate::MqttProtocol => decode_mp(&mut &bytes[..]),
        Crate::MqttFormat => decode_mf(bytes).0,
        Crate::Memcpy => unreachable!("memcpy is an encode reference"),
    }
}

/// Decodes a whole stream packet by packet with `krate`; returns the sum of the field sums.
pub fn decode_stream(krate: Crate, stream: &[u8], mbb: &mut BytesMut) -> usize {
    let mut acc = 0;
    match krate {
        Crate::Umqtt => {
            let mut buf = stream;
            while !buf.is_empty() {
                let (v, n) = decode_ours(buf);
                acc += v;
                buf = &buf[n..];
            }
        }
        Crate::Mqttbytes => {
            while !mbb.is_empty() {
                acc += decode_mb(mbb);
            }
        }
        Crate::Mqttrs => {
            let mut buf = stream;
            while !buf.is_empty() {
                let (v, n) = decode_rs(buf);
                acc += v;
                buf = &buf[n..];
            }
        }
        Crate::MqttProtocol => {
            let mut buf = stream;
            while !buf.is_empty() {
                acc += decode_mp(&mut buf);
            }
        }
        Crate::MqttFormat => {
            let mut buf = stream;
            while !buf.is_empty() {
                let (v, rest) = decode_mf(buf);
                acc += v;
                buf = rest;
            }
        }
        Crate::Memcpy => unreachable!("memcpy is an encode reference"),
    }
    acc
}

/// Appends `packets` to a buffer, round-robin, while the total stays within `limit`; returns
/// the buffer and the number of packets in it.
pub fn fill_stream(packets: &[Vec<u8>], limit: usize) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(limit);
    let mut count = 0u64;
    'fill: loop {
        for p in packets {
            if out.len() + p.len() > limit {
                break 'fill;
            }
            out.extend_from_slice(p);
            count += 1;
        }
    }
    (out, count)
}

/// A client's traffic in both directions, 1 MiB of it: small PUBLISHes at every QoS, their
/// acknowledgements, keep-alive, SUBSCRIBE and SUBACK, CONNACK. Returns the stream and its
/// number of packets.
pub fn mixed_stream() -> (Vec<u8>, u64) {
    let inputs = Inputs::new();
    let w = inputs.workloads();
    let topic2 = TopicName::new("sensors/garden/soil_moisture").expect("valid topic");
    let p200 = [0x11u8; 200];
    let codes = [
        umqtt::SubAckReturnCode::Success(QoS::AtLeastOnce),
        umqtt::SubAckReturnCode::Success(QoS::AtMostOnce),
        umqtt::SubAckReturnCode::Success(QoS::AtLeastOnce),
        umqtt::SubAckReturnCode::Failure,
    ];
    let packets: Vec<Packet<'_>> = vec![
        w[0].ours,
        w[1].ours,
        Packet::PubAck(pid(PID)),
        Packet::Publish(Publish::new(topic2, &p200, Delivery::AtMostOnce, false)),
        w[0].ours,
        Packet::Publish(Publish::new(topic2, b"23.5", Delivery::ExactlyOnce(pid(9)), true)),
        Packet::PubRec(pid(9)),
        Packet::PubRel(pid(9)),
        Packet::PubComp(pid(9)),
        Packet::PingReq,
        Packet::PingResp,
        w[5].ours,
        Packet::SubAck(umqtt::SubAck {
            packet_id: pid(SUB_PID),
            codes: Entries::new(&codes),
        }),
        w[1].ours,
        Packet::PubAck(pid(PID)),
        Packet::ConnAck(umqtt::ConnAck {
            session_present: false,
            code: umqtt::ConnectReturnCode::Accepted,
        }),
    ];
    let encoded: Vec<Vec<u8>> = packets
        .iter()
        .map(|p| {
            let mut v = vec![0u8; p.encoded_len()];
            p.encode(&mut v).expect("encodes");
            v
        })
        .collect();
    fill_stream(&encoded, 1 << 20)
}

/// 1 MiB of 1 KiB QoS 0 PUBLISHes.
pub fn publish_1k_stream() -> (Vec<u8>, u64) {
    let inputs = Inputs::new();
    let bytes = inputs.workloads()[2].canonical_bytes();
    fill_stream(&[bytes], 1 << 20)
}
