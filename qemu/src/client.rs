//! Part 2: a scripted session of the blocking `MqttClient` over the in-memory transport.
//!
//! Each step queues what the broker sends, runs one client call, and then checks the call's
//! result, that the client read exactly the queued bytes, that it wrote exactly the expected
//! bytes (written out by hand below), and that it flushed once per packet.

use umqtt::client::{ClientError, MqttClient};
use umqtt::session::{Phase, ProtocolError};
use umqtt::{Delivery, PacketType, Publish, QoS, Status, TopicError, decode};

use crate::check::{self, check};
use crate::codec::{RAMP, pid};
use crate::stack;
use crate::transport::{LinkError, ScriptTransport};

type Client<'b> = MqttClient<'b, ScriptTransport>;
type Res<T> = Result<T, ClientError<LinkError>>;

// ---------------------------------------------------------------------------------------
// Client -> broker, as the client must write them.
// ---------------------------------------------------------------------------------------

/// Client id "qemu-m3", clean session, keep alive 60 s (the client's default), will
/// "dev/status" = "offline" at QoS 1, retained.
#[rustfmt::skip]
const CONNECT: &[u8] = &[
    0x10,                                // CONNECT
    0x28,                                // remaining length 40 = 10 + (2 + 7) + (2 + 10) + (2 + 7)
    0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name
    0x04,                                // protocol level 4
    0x2e,                                // will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean session 0x02
    0x00, 0x3c,                          // keep alive 60
    0x00, 0x07, b'q', b'e', b'm', b'u', b'-', b'm', b'3', // client id
    0x00, 0x0a, b'd', b'e', b'v', b'/', b's', b't', b'a', b't', b'u', b's', // will topic
    0x00, 0x07, b'o', b'f', b'f', b'l', b'i', b'n', b'e', // will message
];

/// SUBSCRIBE id 1 (the first identifier a session allocates): "umqtt/in/#" at QoS 2.
#[rustfmt::skip]
const SUBSCRIBE: &[u8] = &[
    0x82, 0x0f,                          // SUBSCRIBE, remaining length 15 = 2 + (2 + 10) + 1
    0x00, 0x01,                          // packet id 1
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'#',
    0x02,                                // requested QoS 2
];

/// PUBLISH QoS 0 "umqtt/out" = "zero".
#[rustfmt::skip]
const PUBLISH_QOS0: &[u8] = &[
    0x30, 0x0f,                          // PUBLISH QoS 0, remaining length 15 = (2 + 9) + 4
    0x00, 0x09, b'u', b'm', b'q', b't', b't', b'/', b'o', b'u', b't',
    b'z', b'e', b'r', b'o',
];

/// Head of PUBLISH QoS 0 "umqtt/out" with the 200-byte ramp: larger than the client's
/// 128-byte transmit buffer, so the client writes the head and then the payload.
#[rustfmt::skip]
const PUBLISH_BIG_HEAD: &[u8] = &[
    0x30,                                // PUBLISH QoS 0
    0xd3, 0x01,                          // remaining length 211 = (2 + 9) + 200 = 0x53 + 1 * 128
    0x00, 0x09, b'u', b'm', b'q', b't', b't', b'/', b'o', b'u', b't',
];

/// PUBLISH QoS 1 id 2 "umqtt/out" = "one".
#[rustfmt::skip]
const PUBLISH_QOS1: &[u8] = &[
    0x32, 0x10,                          // PUBLISH QoS 1, remaining length 16 = (2 + 9) + 2 + 3
    0x00, 0x09, b'u', b'm', b'q', b't', b't', b'/', b'o', b'u', b't',
    0x00, 0x02,                          // packet id 2
    b'o', b'n', b'e',
];

/// PUBLISH QoS 2 id 3 "umqtt/out" = "two", then the PUBREL that answers the PUBREC.
#[rustfmt::skip]
const PUBLISH_QOS2_AND_PUBREL: &[u8] = &[
    0x34, 0x10,                          // PUBLISH QoS 2, remaining length 16
    0x00, 0x09, b'u', b'm', b'q', b't', b't', b'/', b'o', b'u', b't',
    0x00, 0x03,                          // packet id 3
    b't', b'w', b'o',
    0x62, 0x02, 0x00, 0x03,              // PUBREL id 3
];

const PUBACK_0102: &[u8] = &[0x40, 0x02, 0x01, 0x02];
const PUBREC_0A0B: &[u8] = &[0x50, 0x02, 0x0a, 0x0b];
const PUBCOMP_0A0B: &[u8] = &[0x70, 0x02, 0x0a, 0x0b];
const PINGREQ: &[u8] = &[0xc0, 0x00];

/// UNSUBSCRIBE id 4 "umqtt/in/#".
#[rustfmt::skip]
const UNSUBSCRIBE: &[u8] = &[
    0xa2, 0x0e,                          // UNSUBSCRIBE, remaining length 14 = 2 + (2 + 10)
    0x00, 0x04,                          // packet id 4
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'#',
];

const DISCONNECT: &[u8] = &[0xe0, 0x00];

// ---------------------------------------------------------------------------------------
// Broker -> client.
// ---------------------------------------------------------------------------------------

const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];
/// SUBACK id 1, granted QoS 2.
const SUBACK: &[u8] = &[0x90, 0x03, 0x00, 0x01, 0x02];
const PUBACK_2: &[u8] = &[0x40, 0x02, 0x00, 0x02];
const PUBREC_3_PUBCOMP_3: &[u8] = &[0x50, 0x02, 0x00, 0x03, 0x70, 0x02, 0x00, 0x03];

/// PUBLISH QoS 0 "umqtt/in/a" = "A0".
#[rustfmt::skip]
const IN_QOS0: &[u8] = &[
    0x30, 0x0e,                          // remaining length 14 = (2 + 10) + 2
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'a',
    b'A', b'0',
];

/// PUBLISH QoS 1 id 0x0102 "umqtt/in/b" = "B1".
#[rustfmt::skip]
const IN_QOS1: &[u8] = &[
    0x32, 0x10,                          // remaining length 16 = (2 + 10) + 2 + 2
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'b',
    0x01, 0x02,
    b'B', b'1',
];

/// PUBLISH QoS 2 id 0x0a0b "umqtt/in/c" = "C2".
#[rustfmt::skip]
const IN_QOS2: &[u8] = &[
    0x34, 0x10,
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'c',
    0x0a, 0x0b,
    b'C', b'2',
];

/// The same QoS 2 message again with DUP set, as after a lost PUBREC: acknowledged again,
/// not delivered again.
#[rustfmt::skip]
const IN_QOS2_DUP: &[u8] = &[
    0x3c, 0x10,                          // DUP 0x08 | QoS 2 0x04
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'i', b'n', b'/', b'c',
    0x0a, 0x0b,
    b'C', b'2',
];

const IN_PUBREL_0A0B: &[u8] = &[0x62, 0x02, 0x0a, 0x0b];
const PINGRESP: &[u8] = &[0xd0, 0x00];
const UNSUBACK_4: &[u8] = &[0xb0, 0x02, 0x00, 0x04];

/// The messages the callback must see, in order: each exactly once.
struct Expected {
    topic: &'static str,
    payload: &'static [u8],
    delivery: Delivery,
}

static MESSAGES: [Expected; 3] = [
    Expected {
        topic: "umqtt/in/a",
        payload: b"A0",
        delivery: Delivery::AtMostOnce,
    },
    Expected {
        topic: "umqtt/in/b",
        payload: b"B1",
        delivery: Delivery::AtLeastOnce(pid(0x0102)),
    },
    Expected {
        topic: "umqtt/in/c",
        payload: b"C2",
        delivery: Delivery::ExactlyOnce(pid(0x0a0b)),
    },
];

/// What the message callback saw.
struct Inbox {
    received: usize,
    verbose: bool,
}

impl Inbox {
    fn receive(&mut self, p: &Publish<'_>) {
        let n = self.received;
        self.received += 1;
        if self.verbose {
            defmt::info!("callback #{=usize}: {}", n + 1, p);
        }
        let ok = MESSAGES.get(n).is_some_and(|e| {
            p.topic.as_str() == e.topic && p.payload == e.payload && p.delivery == e.delivery && !p.retain
        });
        check!(ok, "callback #{=usize}: unexpected message {}", n + 1, p);
    }
}

/// Logs every packet in `bytes` (broker or client traffic of one step).
fn log_packets(step: &str, dir: &str, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match decode(bytes) {
            Ok(Status::Complete((p, n))) => {
                defmt::info!("{=str}: {=str} {}", step, dir, p);
                bytes = bytes.get(n..).unwrap_or(&[]);
            }
            other => {
                defmt::info!("{=str}: {=str} undecodable: {}", step, dir, other);
                return;
            }
        }
    }
}

/// Number of whole packets in `bytes`.
fn count_packets(mut bytes: &[u8]) -> usize {
    let mut n = 0;
    while let Ok(Status::Complete((_, len))) = decode(bytes) {
        bytes = bytes.get(len..).unwrap_or(&[]);
        n += 1;
    }
    n
}

/// The deepest stack one client call of part 2 needed (message callback included).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientStack {
    /// Bytes.
    pub deepest: usize,
    /// The step that needed them.
    pub step: &'static str,
}

/// Per-run settings and findings of the script.
struct Run {
    verbose: bool,
    peak: ClientStack,
}

/// One step of the script: feed `broker`, run `action`, check result, reads and writes.
fn step<'b, R: PartialEq + defmt::Format>(
    client: &mut Client<'b>,
    run: &mut Run,
    name: &'static str,
    broker: &'static [u8],
    want_out: &[&[u8]],
    want: R,
    action: impl FnOnce(&mut Client<'b>) -> R,
) {
    client.transport_mut().feed(broker);
    client.transport_mut().clear();
    let (got, usage) = stack::measure(|| action(client));
    if usage.call > run.peak.deepest {
        run.peak = ClientStack {
            deepest: usage.call,
            step: name,
        };
    }
    check!(
        got == want,
        "{=str}: returned {} but expected {}",
        name,
        got,
        want
    );
    let t = client.transport_mut();
    check!(
        t.unread() == 0,
        "{=str}: {=usize} broker bytes left unread",
        name,
        t.unread()
    );
    check::bytes(name, t.output(), want_out);
    let packets = count_packets(t.output());
    check!(
        t.flushes() == packets,
        "{=str}: {=usize} flushes for {=usize} packets",
        name,
        t.flushes(),
        packets
    );
    if run.verbose {
        defmt::info!("{=str}: returned {}", name, got);
        log_packets(name, "broker ->", broker);
        log_packets(name, "client ->", t.output());
    }
}

/// What `wait_msg`/`check_msg` returned, comparable: `Some(PacketType::Publish)` for a
/// message, `None` for any other packet (or nothing, for `check_msg`).
fn kind(r: Res<Option<Publish<'_>>>) -> Res<Option<PacketType>> {
    r.map(|m| m.map(|_| PacketType::Publish))
}

/// Runs part 2. `verbose` logs the traffic and the messages delivered.
pub fn run(verbose: bool) -> ClientStack {
    let before = check::failures();
    let mut inbox = Inbox { received: 0, verbose };
    let mut on_message = |p: &Publish<'_>| inbox.receive(p);
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 128];
    let mut client: Client<'_> = MqttClient::new(ScriptTransport::new(), "qemu-m3", &mut rx, &mut tx);
    client.set_message_callback(&mut on_message);
    let will = client.set_last_will("dev/status", b"offline", true, QoS::AtLeastOnce);
    check!(will.is_ok(), "set_last_will: {}", will);

    let c = &mut client;
    let v = &mut Run {
        verbose,
        peak: ClientStack::default(),
    };
    step(c, v, "connect", CONNACK, &[CONNECT], Ok(false), |c| {
        c.connect(true)
    });
    step(
        c,
        v,
        "subscribe",
        SUBACK,
        &[SUBSCRIBE],
        Ok(QoS::ExactlyOnce),
        |c| c.subscribe("umqtt/in/#", QoS::ExactlyOnce),
    );
    step(c, v, "publish qos0", &[], &[PUBLISH_QOS0], Ok(()), |c| {
        c.publish("umqtt/out", b"zero", false, QoS::AtMostOnce)
    });
    step(
        c,
        v,
        "publish qos0 200 bytes",
        &[],
        &[PUBLISH_BIG_HEAD, &RAMP],
        Ok(()),
        |c| c.publish("umqtt/out", &RAMP, false, QoS::AtMostOnce),
    );
    step(c, v, "publish qos1", PUBACK_2, &[PUBLISH_QOS1], Ok(()), |c| {
        c.publish("umqtt/out", b"one", false, QoS::AtLeastOnce)
    });
    step(
        c,
        v,
        "publish qos2",
        PUBREC_3_PUBCOMP_3,
        &[PUBLISH_QOS2_AND_PUBREL],
        Ok(()),
        |c| c.publish("umqtt/out", b"two", false, QoS::ExactlyOnce),
    );
    let invalid: Res<()> = Err(ClientError::InvalidTopic(TopicError::WildcardInName));
    step(c, v, "publish to a wildcard", &[], &[], invalid, |c| {
        c.publish("umqtt/+", b"x", false, QoS::AtMostOnce)
    });
    let some_publish: Res<Option<PacketType>> = Ok(Some(PacketType::Publish));
    step(
        c,
        v,
        "incoming qos0 (check_msg)",
        IN_QOS0,
        &[],
        some_publish,
        |c| kind(c.check_msg()),
    );
    let publish = some_publish;
    step(c, v, "incoming qos1", IN_QOS1, &[PUBACK_0102], publish, |c| {
        kind(c.wait_msg())
    });
    step(c, v, "incoming qos2", IN_QOS2, &[PUBREC_0A0B], publish, |c| {
        kind(c.wait_msg())
    });
    step(
        c,
        v,
        "incoming qos2 dup",
        IN_QOS2_DUP,
        &[PUBREC_0A0B],
        // Answered with PUBREC again, but not delivered twice (exactly once).
        Ok(None),
        |c| kind(c.wait_msg()),
    );
    step(
        c,
        v,
        "incoming pubrel",
        IN_PUBREL_0A0B,
        &[PUBCOMP_0A0B],
        Ok(None),
        |c| kind(c.wait_msg()),
    );
    step(c, v, "ping", &[], &[PINGREQ], Ok(()), |c| c.ping());
    step(c, v, "pingresp", PINGRESP, &[], Ok(None), |c| kind(c.wait_msg()));
    step(c, v, "unsubscribe", UNSUBACK_4, &[UNSUBSCRIBE], Ok(()), |c| {
        c.unsubscribe("umqtt/in/#")
    });
    step(c, v, "check_msg, nothing there", &[], &[], Ok(None), |c| {
        kind(c.check_msg())
    });
    step(c, v, "disconnect", &[], &[DISCONNECT], Ok(()), |c| c.disconnect());
    let not_connected: Res<()> = Err(ClientError::Protocol(ProtocolError::NotConnected));
    step(c, v, "publish after disconnect", &[], &[], not_connected, |c| {
        c.publish("umqtt/out", b"late", false, QoS::AtMostOnce)
    });

    let peak = v.peak;
    let s = client.session();
    check!(
        s.phase() == Phase::Disconnected
            && s.inflight() == 0
            && s.incoming_qos2() == 0
            && s.stored_bytes() == 0,
        "session not clean at the end: phase {}, inflight {=usize}, incoming qos2 {=usize}, stored {=usize}",
        s.phase(),
        s.inflight(),
        s.incoming_qos2(),
        s.stored_bytes()
    );
    drop(client);
    check!(
        inbox.received == MESSAGES.len(),
        "callback fired {=usize} times, want {=usize}",
        inbox.received,
        MESSAGES.len()
    );
    if verbose && check::failures() == before {
        defmt::info!(
            "client: scripted session ok (connect, subscribe, qos 0/1/2 out and in, ping, disconnect)"
        );
    }
    peak
}
