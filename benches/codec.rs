//! Codec benchmarks: umqtt against the peer crates `mqttbytes` (its `v4` module) and `mqttrs`,
//! on identical bytes, in the same criterion group so every ratio comes from one run.
//!
//! Each workload has a `<name>/decode` and a `<name>/encode` group holding the functions
//! `umqtt`, `mqttbytes` and `mqttrs`. The streams (`stream_mixed_1MiB`, `stream_publish_1KiB`)
//! are decoded packet by packet until the buffer is empty, next to a `memcpy` of the same bytes
//! as a baseline; `stream_mixed_1MiB/decode_packets` reports packets per second.
//!
//! How the comparison is kept fair:
//! * Every packet is built once, outside the timed section, for all three crates; only the
//!   decode or encode call (plus a cheap field read) is timed.
//! * Setup asserts that all three crates encode the workload to the same bytes, so the decoders
//!   are fed identical input.
//! * Decoders must produce the packet: the result is passed through `black_box` and one field
//!   (payload length, client id length, number of filters, packet id) is read from it.
//! * Each crate decodes from its natural input type. umqtt and mqttrs take `&[u8]` and have no
//!   state. `mqttbytes::v4::read` takes `&mut BytesMut` and consumes it, so it gets a fresh
//!   `BytesMut` per iteration from `iter_batched`, whose setup (the copy) and whose dropping of
//!   the outputs happen outside the timed section; the routine returns the consumed buffer too,
//!   so freeing it is not timed either. The batched loop adds well under a nanosecond per
//!   iteration, against the crate's own allocations that cost tens of nanoseconds.
//! * Encoders write into a buffer allocated once: umqtt into `&mut [u8]`, mqttrs with
//!   `encode_slice` into `&mut [u8]`, mqttbytes into a `BytesMut` with enough capacity that is
//!   `clear()`ed at the start of each iteration (clearing keeps the allocation).
//! * `decode_slice` in mqttrs does not say how many bytes a packet used, so on streams the
//!   mqttrs loop reads the frame length from the fixed header itself (`frame_len` below), which
//!   is what any mqttrs user has to do.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use mqttbytes::v4 as mb;
use umqtt::{
    Connect, Delivery, Entries, LastWill, Packet, PacketId, Publish, QoS, Status, Subscribe, Subscription,
    TopicFilter, TopicName,
};

/// Upper bound handed to `mqttbytes::v4::read` (it rejects larger packets).
const MB_MAX: usize = 1 << 28;

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

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
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

fn pid_rs(v: u16) -> mqttrs::Pid {
    mqttrs::Pid::try_from(v).expect("non-zero packet id")
}

/// A packet as an mqttbytes value; v4 has no `Packet::write`, so each type writes itself.
enum MbPacket {
    Publish(mb::Publish),
    Connect(mb::Connect),
    Subscribe(mb::Subscribe),
    PubAck(mb::PubAck),
    PingReq,
}

impl MbPacket {
    fn write(&self, buf: &mut BytesMut) -> Result<usize, mqttbytes::Error> {
        match self {
            Self::Publish(p) => p.write(buf),
            Self::Connect(p) => p.write(buf),
            Self::Subscribe(p) => p.write(buf),
            Self::PubAck(p) => p.write(buf),
            Self::PingReq => mb::PingReq.write(buf),
        }
    }
}

/// Builds one workload in all three crates: `build(ours, mqttbytes, mqttrs)`.
///
/// The umqtt packet borrows from `payload`, the mqttrs packet too; mqttbytes owns its data.
struct Workload<'a> {
    name: &'static str,
    ours: Packet<'a>,
    mb: MbPacket,
    rs: mqttrs::Packet<'a>,
}

fn publish<'a>(name: &'static str, payload: &'a [u8], delivery: Delivery) -> Workload<'a> {
    let topic = TopicName::new(TOPIC).expect("valid topic");
    let ours = Packet::Publish(Publish::new(topic, payload, delivery, false));
    let (mb_qos, mb_pid, rs_qospid) = match delivery {
        Delivery::AtMostOnce => (mqttbytes::QoS::AtMostOnce, 0, mqttrs::QosPid::AtMostOnce),
        Delivery::AtLeastOnce(id) => (
            mqttbytes::QoS::AtLeastOnce,
            id.get(),
            mqttrs::QosPid::AtLeastOnce(pid_rs(id.get())),
        ),
        Delivery::ExactlyOnce(id) => (
            mqttbytes::QoS::ExactlyOnce,
            id.get(),
            mqttrs::QosPid::ExactlyOnce(pid_rs(id.get())),
        ),
    };
    let mut mbp = mb::Publish::new(TOPIC, mb_qos, payload.to_vec());
    mbp.pkid = mb_pid;
    let rs = mqttrs::Packet::Publish(mqttrs::Publish {
        dup: false,
        qospid: rs_qospid,
        retain: false,
        topic_name: TOPIC,
        payload,
    });
    Workload {
        name,
        ours,
        mb: MbPacket::Publish(mbp),
        rs,
    }
}

fn connect() -> Workload<'static> {
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
    Workload {
        name: "connect",
        ours,
        mb: MbPacket::Connect(mbc),
        rs,
    }
}

fn subscribe<'a>(subs: &'a [Subscription<'static>]) -> Workload<'a> {
    let ours = Packet::Subscribe(Subscribe {
        packet_id: pid(7),
        topics: Entries::new(subs),
    });
    let mut mbs = mb::Subscribe::new_many(
        FILTERS
            .iter()
            .map(|(f, q)| mb::SubscribeFilter::new((*f).to_owned(), qos_mb(*q))),
    );
    mbs.pkid = 7;
    let rs = mqttrs::Packet::Subscribe(mqttrs::Subscribe::new(
        pid_rs(7),
        FILTERS
            .iter()
            .map(|(f, q)| mqttrs::SubscribeTopic {
                topic_path: (*f).to_owned(),
                qos: qos_rs(*q),
            })
            .collect(),
    ));
    Workload {
        name: "subscribe_4_filters",
        ours,
        mb: MbPacket::Subscribe(mbs),
        rs,
    }
}

fn subscriptions() -> Vec<Subscription<'static>> {
    FILTERS
        .iter()
        .map(|(f, q)| Subscription {
            filter: TopicFilter::new(f).expect("valid filter"),
            qos: *q,
        })
        .collect()
}

fn puback() -> Workload<'static> {
    Workload {
        name: "puback",
        ours: Packet::PubAck(pid(PID)),
        mb: MbPacket::PubAck(mb::PubAck::new(PID)),
        rs: mqttrs::Packet::Puback(pid_rs(PID)),
    }
}

fn pingreq() -> Workload<'static> {
    Workload {
        name: "pingreq",
        ours: Packet::PingReq,
        mb: MbPacket::PingReq,
        rs: mqttrs::Packet::Pingreq,
    }
}

/// Encodes `w` with all three crates, checks they agree byte for byte, returns the bytes.
fn canonical_bytes(w: &Workload<'_>) -> Vec<u8> {
    let mut ours = vec![0u8; w.ours.encoded_len()];
    let n = w.ours.encode(&mut ours).expect("umqtt encodes");
    assert_eq!(n, ours.len());
    let mut mbb = BytesMut::new();
    w.mb.write(&mut mbb).expect("mqttbytes encodes");
    assert_eq!(&mbb[..], &ours[..], "{}: mqttbytes bytes differ", w.name);
    let mut rsb = vec![0u8; ours.len() + 16];
    let n = mqttrs::encode_slice(&w.rs, &mut rsb).expect("mqttrs encodes");
    assert_eq!(&rsb[..n], &ours[..], "{}: mqttrs bytes differ", w.name);
    ours
}

/// A cheap, type-dependent field read so the decoded packet cannot be optimised away.
fn touch_ours(p: &Packet<'_>) -> usize {
    match p {
        Packet::Publish(p) => p.payload.len() + p.topic.len(),
        Packet::Connect(c) => c.client_id.len() + usize::from(c.keep_alive),
        Packet::Subscribe(s) => s.topics.len() + usize::from(s.packet_id.get()),
        Packet::SubAck(s) => s.codes.len(),
        Packet::Unsubscribe(u) => u.topics.len(),
        Packet::PubAck(id) | Packet::PubRec(id) | Packet::PubRel(id) | Packet::PubComp(id) => {
            usize::from(id.get())
        }
        Packet::UnsubAck(id) => usize::from(id.get()),
        Packet::ConnAck(c) => usize::from(c.session_present),
        Packet::PingReq => 1,
        Packet::PingResp => 2,
        Packet::Disconnect => 3,
    }
}

fn touch_mb(p: &mb::Packet) -> usize {
    match p {
        mb::Packet::Publish(p) => p.payload.len() + p.topic.len(),
        mb::Packet::Connect(c) => c.client_id.len() + usize::from(c.keep_alive),
        mb::Packet::Subscribe(s) => s.filters.len() + usize::from(s.pkid),
        mb::Packet::SubAck(s) => s.return_codes.len(),
        mb::Packet::Unsubscribe(u) => u.topics.len(),
        mb::Packet::PubAck(a) => usize::from(a.pkid),
        mb::Packet::PubRec(a) => usize::from(a.pkid),
        mb::Packet::PubRel(a) => usize::from(a.pkid),
        mb::Packet::PubComp(a) => usize::from(a.pkid),
        mb::Packet::UnsubAck(a) => usize::from(a.pkid),
        mb::Packet::ConnAck(c) => usize::from(c.session_present),
        mb::Packet::PingReq => 1,
        mb::Packet::PingResp => 2,
        mb::Packet::Disconnect => 3,
    }
}

fn touch_rs(p: &mqttrs::Packet<'_>) -> usize {
    use mqttrs::Packet as P;
    match p {
        P::Publish(p) => p.payload.len() + p.topic_name.len(),
        P::Connect(c) => c.client_id.len() + usize::from(c.keep_alive),
        P::Subscribe(s) => s.topics.len() + usize::from(s.pid.get()),
        P::Suback(s) => s.return_codes.len(),
        P::Unsubscribe(u) => u.topics.len(),
        P::Puback(id) | P::Pubrec(id) | P::Pubrel(id) | P::Pubcomp(id) | P::Unsuback(id) => {
            usize::from(id.get())
        }
        P::Connack(c) => usize::from(c.session_present),
        P::Pingreq => 1,
        P::Pingresp => 2,
        P::Disconnect => 3,
    }
}

fn decode_ours(buf: &[u8]) -> usize {
    match umqtt::decode(buf) {
        Ok(Status::Complete((p, n))) => touch_ours(black_box(&p)) + n,
        _ => unreachable!("umqtt failed to decode benchmark input"),
    }
}

fn decode_rs(buf: &[u8]) -> usize {
    match mqttrs::decode_slice(buf) {
        Ok(Some(p)) => touch_rs(black_box(&p)),
        _ => unreachable!("mqttrs failed to decode benchmark input"),
    }
}

fn decode_mb(buf: &mut BytesMut) -> usize {
    match mb::read(buf, MB_MAX) {
        Ok(p) => touch_mb(black_box(&p)),
        Err(e) => unreachable!("mqttbytes failed to decode benchmark input: {e:?}"),
    }
}

/// Length of the packet at the start of `buf`, for the mqttrs stream loop (see module docs).
fn frame_len(buf: &[u8]) -> usize {
    let mut len = 0usize;
    for (i, &b) in buf.iter().skip(1).take(4).enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return 2 + i + len;
        }
    }
    unreachable!("bad frame in benchmark stream")
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

fn bench_workload(c: &mut Criterion, w: &Workload<'_>) {
    let bytes = canonical_bytes(w);
    let len = bytes.len() as u64;

    let mut g = c.benchmark_group(format!("{}/decode", w.name));
    g.throughput(Throughput::Bytes(len));
    g.bench_function("umqtt", |b| b.iter(|| decode_ours(black_box(&bytes))));
    g.bench_function("mqttbytes", |b| {
        b.iter_batched(
            || BytesMut::from(&bytes[..]),
            |mut buf| {
                let r = decode_mb(&mut buf);
                (r, buf)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("mqttrs", |b| b.iter(|| decode_rs(black_box(&bytes))));
    g.finish();

    let mut g = c.benchmark_group(format!("{}/encode", w.name));
    g.throughput(Throughput::Bytes(len));
    let mut out = vec![0u8; bytes.len() + 64];
    g.bench_function("umqtt", |b| {
        b.iter(|| {
            black_box(&w.ours)
                .encode(black_box(&mut out[..]))
                .expect("encodes")
        })
    });
    let mut mbb = BytesMut::with_capacity(bytes.len() + 64);
    g.bench_function("mqttbytes", |b| {
        b.iter(|| {
            mbb.clear();
            black_box(&w.mb).write(black_box(&mut mbb)).expect("encodes")
        })
    });
    g.bench_function("mqttrs", |b| {
        b.iter(|| mqttrs::encode_slice(black_box(&w.rs), black_box(&mut out[..])).expect("encodes"))
    });
    g.finish();
}

/// Appends the encodings of `packets` to `out`, round-robin, while the total stays within `limit`.
fn fill_stream(packets: &[Vec<u8>], limit: usize) -> (Vec<u8>, u64) {
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

fn decode_stream_ours(mut buf: &[u8]) -> usize {
    let mut acc = 0;
    while !buf.is_empty() {
        match umqtt::decode(buf) {
            Ok(Status::Complete((p, n))) => {
                acc += touch_ours(black_box(&p));
                buf = &buf[n..];
            }
            _ => unreachable!("umqtt failed on the stream"),
        }
    }
    acc
}

fn decode_stream_rs(mut buf: &[u8]) -> usize {
    let mut acc = 0;
    while !buf.is_empty() {
        match mqttrs::decode_slice(buf) {
            Ok(Some(p)) => {
                acc += touch_rs(black_box(&p));
                buf = &buf[frame_len(buf)..];
            }
            _ => unreachable!("mqttrs failed on the stream"),
        }
    }
    acc
}

fn decode_stream_mb(buf: &mut BytesMut) -> usize {
    let mut acc = 0;
    while !buf.is_empty() {
        acc += decode_mb(buf);
    }
    acc
}

fn bench_stream(c: &mut Criterion, group: &str, stream: &[u8], packets: Option<u64>) {
    let mut g = c.benchmark_group(group);
    match packets {
        Some(n) => g.throughput(Throughput::Elements(n)),
        None => g.throughput(Throughput::Bytes(stream.len() as u64)),
    };
    g.bench_function("umqtt", |b| b.iter(|| decode_stream_ours(black_box(stream))));
    g.bench_function("mqttbytes", |b| {
        b.iter_batched(
            || BytesMut::from(stream),
            |mut buf| {
                let r = decode_stream_mb(&mut buf);
                (r, buf)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("mqttrs", |b| b.iter(|| decode_stream_rs(black_box(stream))));
    if packets.is_none() {
        let mut dst = vec![0u8; stream.len()];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(stream));
                black_box(&mut dst);
            })
        });
    }
    g.finish();
}

/// The single-packet workloads, on payloads of 1 B, 64 B, 1 KiB and 16 KiB.
fn workloads<'a>(
    small: &'a [u8],
    p64: &'a [u8],
    p1k: &'a [u8],
    p16k: &'a [u8],
    subs: &'a [Subscription<'static>],
) -> [Workload<'a>; 8] {
    [
        publish("publish_qos0_1B", small, Delivery::AtMostOnce),
        publish("publish_qos1_64B", p64, Delivery::AtLeastOnce(pid(PID))),
        publish("publish_qos0_1KiB", p1k, Delivery::AtMostOnce),
        publish("publish_qos0_16KiB", p16k, Delivery::AtMostOnce),
        connect(),
        subscribe(subs),
        pingreq(),
        puback(),
    ]
}

fn benches(c: &mut Criterion) {
    let small = b"1";
    let p64 = [0x5au8; 64];
    let p1k = [0xa5u8; 1024];
    let p16k = vec![0x3cu8; 16 * 1024];
    let subs = subscriptions();

    let workloads = workloads(small, &p64, &p1k, &p16k, &subs);
    for w in &workloads {
        bench_workload(c, w);
    }

    // A client's traffic, both directions: many small PUBLISHes, their acks, keep-alive,
    // subscription management.
    let topic2 = "sensors/garden/soil_moisture";
    let p200 = [0x11u8; 200];
    let mixed_packets: Vec<Packet<'_>> = vec![
        workloads[0].ours,
        workloads[1].ours,
        Packet::PubAck(pid(PID)),
        Packet::Publish(Publish::new(
            TopicName::new(topic2).expect("valid topic"),
            &p200,
            Delivery::AtMostOnce,
            false,
        )),
        workloads[0].ours,
        Packet::Publish(Publish::new(
            TopicName::new(topic2).expect("valid topic"),
            b"23.5",
            Delivery::ExactlyOnce(pid(9)),
            true,
        )),
        Packet::PubRec(pid(9)),
        Packet::PubRel(pid(9)),
        Packet::PubComp(pid(9)),
        Packet::PingReq,
        Packet::PingResp,
        workloads[5].ours,
        Packet::SubAck(umqtt::SubAck {
            packet_id: pid(7),
            codes: Entries::new(&[
                umqtt::SubAckReturnCode::Success(QoS::AtLeastOnce),
                umqtt::SubAckReturnCode::Success(QoS::AtMostOnce),
                umqtt::SubAckReturnCode::Success(QoS::AtLeastOnce),
                umqtt::SubAckReturnCode::Failure,
            ]),
        }),
        workloads[1].ours,
        Packet::PubAck(pid(PID)),
        Packet::ConnAck(umqtt::ConnAck {
            session_present: false,
            code: umqtt::ConnectReturnCode::Accepted,
        }),
    ];
    let encoded: Vec<Vec<u8>> = mixed_packets
        .iter()
        .map(|p| {
            let mut v = vec![0u8; p.encoded_len()];
            p.encode(&mut v).expect("encodes");
            v
        })
        .collect();
    let (mixed, n_mixed) = fill_stream(&encoded, 1 << 20);
    bench_stream(c, "stream_mixed_1MiB/decode", &mixed, None);
    bench_stream(c, "stream_mixed_1MiB/decode_packets", &mixed, Some(n_mixed));

    let one_k = canonical_bytes(&workloads[2]);
    let (kib_stream, _) = fill_stream(&[one_k], 1 << 20);
    bench_stream(c, "stream_publish_1KiB/decode", &kib_stream, None);
}

criterion_group! {
    name = codec;
    config = config();
    targets = benches
}

/// Instruction-count mode for `scripts/icount.sh`: with `ICOUNT=<workload>/<decode|encode>/<crate>`
/// and `ICOUNT_N=<n>` set, runs that one operation `n` times on the same workload and exits,
/// so `valgrind --tool=callgrind` can count the instructions of `n` runs (the script takes
/// the difference of two `n` to cancel the setup). Otherwise this is the criterion bench.
fn icount(spec: &str, n: usize) {
    let p64 = [0x5au8; 64];
    let p1k = [0xa5u8; 1024];
    let p16k = vec![0x3cu8; 16 * 1024];
    let subs = subscriptions();
    let workloads = workloads(b"1", &p64, &p1k, &p16k, &subs);
    let mut parts = spec.split('/');
    let (Some(name), Some(op), Some(krate)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("ICOUNT must be <workload>/<decode|encode>/<umqtt|mqttrs|mqttbytes>, got {spec}");
    };
    let w = workloads
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("unknown workload {name}"));
    let bytes = canonical_bytes(w);
    let mut out = vec![0u8; bytes.len() + 64];
    let mut mbb = BytesMut::with_capacity(bytes.len() + 64);
    let mut acc = 0usize;
    for _ in 0..n {
        acc += match (op, krate) {
            ("decode", "umqtt") => decode_ours(black_box(&bytes)),
            ("decode", "mqttrs") => decode_rs(black_box(&bytes)),
            ("decode", "mqttbytes") => decode_mb(&mut BytesMut::from(&bytes[..])),
            ("encode", "umqtt") => black_box(&w.ours)
                .encode(black_box(&mut out[..]))
                .expect("encodes"),
            ("encode", "mqttrs") => {
                mqttrs::encode_slice(black_box(&w.rs), black_box(&mut out[..])).expect("encodes")
            }
            ("encode", "mqttbytes") => {
                mbb.clear();
                black_box(&w.mb).write(black_box(&mut mbb)).expect("encodes")
            }
            _ => panic!("unknown operation {op}/{krate}"),
        };
    }
    println!("{acc}");
}

fn main() {
    if let Ok(spec) = std::env::var("ICOUNT") {
        let n = std::env::var("ICOUNT_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        icount(&spec, n);
        return;
    }
    codec();
    Criterion::default().configure_from_args().final_summary();
}
