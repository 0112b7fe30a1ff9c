//! The client state machine `umqtt::session::Session`, driven after a CONNECT by arbitrary
//! broker bytes, well-formed server packets, client commands and the passing of time.
//!
//! A small reference model written from the spec (section 4 and the `Session` docs) runs
//! alongside, and after every step the session must agree with it exactly: the result of
//! every command, `handle_packet` and `handle_timeout` (events, replies, errors), the phase,
//! the in-flight table, the re-send store, `poll_timeout`, and what `resend` yields after a
//! resumed session. On top of that, properties that do not depend on the model:
//!
//! * nothing panics, and every packet the session hands out encodes and decodes back;
//! * packet identifiers in flight are unique and never 0 ([MQTT-2.3.1-2]);
//! * an incoming QoS 2 message is delivered once until its PUBREL ([MQTT-4.3.3-2]), and
//!   never silently dropped: with no slot for its id it is neither delivered nor
//!   acknowledged (`qos2_deferred`); after a CONNACK with Session Present 0 no id is held;
//! * a re-sent PUBLISH carries DUP exactly when it was handed out before ([MQTT-3.3.1-1]);
//! * a failed command leaves the session unchanged;
//! * driven by `poll_timeout`/`handle_timeout`, the client never stays silent for longer
//!   than Keep Alive while connected ([MQTT-3.1.2-23]).
//!
//! Every error from `handle_packet`/`handle_timeout`, and every malformed packet, closes the
//! connection (`connection_lost`), as a driver must ([MQTT-4.8.0-1]).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use umqtt::session::{Event, Incoming, Phase, ProtocolError, Session};
use umqtt::{
    ConnAck, Connect, ConnectReturnCode, Delivery, EncodeError, Entries, Packet, PacketId, Publish, QoS,
    Status, SubAck, SubAckReturnCode, Subscription, TopicFilter, TopicName, decode,
};

/// In-flight limit in each direction; small so that the limits are reached.
const N: usize = 4;
/// Re-send store size in bytes; small so that `StoreFull` is reached.
const S: usize = 160;

const TOPICS: [&str; 4] = ["a/b", "$SYS/uptime", "home/kitchen/light", "t"];
const FILTERS: [&str; 4] = ["a/#", "+", "$SYS/#", "home/+/light"];
static PAYLOAD: [u8; 96] = [0x5a; 96];

fn topic(i: u8) -> TopicName<'static> {
    TopicName::new(TOPICS[usize::from(i) % TOPICS.len()]).expect("valid topic")
}

fn payload(len: u8) -> &'static [u8] {
    &PAYLOAD[..usize::from(len) % (PAYLOAD.len() + 1)]
}

fn qos(b: u8) -> QoS {
    match b % 3 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// A packet identifier as a server might send it: mostly the few the client allocates
/// first, sometimes the top of the range.
fn server_id(b: u8) -> PacketId {
    let id = if b < 240 {
        1 + u16::from(b % 8)
    } else {
        u16::MAX - u16::from(b - 240)
    };
    PacketId::new(id).expect("non-zero")
}

#[derive(Debug, Arbitrary)]
enum ServerPacket {
    ConnAck {
        session_present: bool,
        code: u8,
    },
    PubAck(u8),
    PubRec(u8),
    PubRel(u8),
    PubComp(u8),
    SubAck {
        id: u8,
        codes: Vec<u8>,
    },
    UnsubAck(u8),
    PingResp,
    Publish {
        topic: u8,
        len: u8,
        qos: u8,
        id: u8,
        dup: bool,
        retain: bool,
    },
    /// A packet only a client may send: CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT.
    ClientOnly(u8),
}

#[derive(Debug, Arbitrary)]
enum Step<'a> {
    /// Bytes from the broker, appended to the receive buffer.
    Raw(&'a [u8]),
    /// A well-formed server packet, encoded and appended to the receive buffer.
    Server(ServerPacket),
    Publish {
        topic: u8,
        len: u8,
        qos: u8,
        retain: bool,
    },
    Subscribe {
        first: u8,
        count: u8,
        qos: u8,
    },
    Unsubscribe {
        first: u8,
        count: u8,
    },
    Ping,
    Disconnect,
    ConnectionLost,
    Connect {
        clean_session: bool,
        keep_alive: u8,
    },
    /// Let time pass (milliseconds), running every timer that falls due on the way.
    Advance(u16),
    /// `queue_publish`: store a QoS 1/2 message in any phase, to be sent later.
    Queue {
        topic: u8,
        len: u8,
        qos: u8,
        retain: bool,
    },
    /// Send the n-th in-flight id's queued PUBLISH (if it is one) when connected.
    SendQueued(u8),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    clean_session: bool,
    keep_alive: u8,
    response_timeout_ms: u16,
    steps: Vec<Step<'a>>,
}

fn client_only_bytes(b: u8) -> &'static [u8] {
    match b % 5 {
        0 => &[
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
        ],
        1 => &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        2 => &[0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
        3 => &[0xc0, 0x00],
        _ => &[0xe0, 0x00],
    }
}

/// What an outgoing packet in flight waits for (the model's copy of the session's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    PubAck(Publish<'static>),
    PubRec(Publish<'static>),
    PubComp,
    SubAck(usize),
    UnsubAck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    id: PacketId,
    awaiting: Awaiting,
    /// Handed to the driver at least once, so a re-send carries DUP ([MQTT-3.3.1-1]).
    sent: bool,
}

/// The reference model: what the session must do, from the spec and the `Session` docs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    phase: Phase,
    clean_session: bool,
    keep_alive_ms: u64,
    response_timeout_ms: u64,
    next_id: PacketId,
    pending: Vec<Pending>,
    incoming_qos2: Vec<PacketId>,
    qos2_deferred: bool,
    last_sent: u64,
    connect_sent: u64,
    ping_sent: Option<u64>,
}

fn event(e: Event<'_>) -> Incoming<'_> {
    Incoming {
        event: Some(e),
        reply: None,
    }
}

fn reply<'p>(p: Packet<'static>) -> Incoming<'p> {
    Incoming {
        event: None,
        reply: Some(p),
    }
}

impl Model {
    fn new(response_timeout_ms: u64) -> Self {
        Self {
            phase: Phase::Disconnected,
            clean_session: true,
            keep_alive_ms: 0,
            response_timeout_ms,
            next_id: PacketId::MIN,
            pending: Vec::new(),
            incoming_qos2: Vec::new(),
            qos2_deferred: false,
            last_sent: 0,
            connect_sent: 0,
            ping_sent: None,
        }
    }

    fn stored_bytes(&self) -> usize {
        self.pending
            .iter()
            .map(|p| match p.awaiting {
                Awaiting::PubAck(publish) | Awaiting::PubRec(publish) => {
                    Packet::Publish(publish).encoded_len()
                }
                _ => 0,
            })
            .sum()
    }

    fn unacked_messages(&self) -> usize {
        let is_message = |p: &&Pending| {
            matches!(
                p.awaiting,
                Awaiting::PubAck(_) | Awaiting::PubRec(_) | Awaiting::PubComp
            )
        };
        self.pending.iter().filter(is_message).count()
    }

    fn position(&self, id: PacketId) -> Option<usize> {
        self.pending.iter().position(|p| p.id == id)
    }

    fn require_connected(&self) -> Result<(), ProtocolError> {
        if self.phase == Phase::Connected {
            Ok(())
        } else {
            Err(ProtocolError::NotConnected)
        }
    }

    fn allocate(&mut self) -> Result<PacketId, ProtocolError> {
        if self.pending.len() == N {
            return Err(ProtocolError::InflightFull);
        }
        loop {
            let id = self.next_id;
            self.next_id = PacketId::new(id.get().wrapping_add(1)).unwrap_or(PacketId::MIN);
            if self.position(id).is_none() {
                return Ok(id);
            }
        }
    }

    fn connect(&mut self, clean_session: bool, keep_alive: u16, now: u64) -> Result<(), ProtocolError> {
        if self.phase != Phase::Disconnected {
            return Err(ProtocolError::AlreadyConnected);
        }
        if clean_session {
            self.pending.clear();
            self.incoming_qos2.clear();
        }
        self.clean_session = clean_session;
        self.keep_alive_ms = u64::from(keep_alive) * 1000;
        self.phase = Phase::Connecting;
        self.connect_sent = now;
        self.ping_sent = None;
        self.last_sent = now;
        Ok(())
    }

    /// `Session::queue_publish`: any phase, QoS 1/2 only, stored but not yet sent.
    fn queue(&mut self, publish: Publish<'static>) -> Result<PacketId, ProtocolError> {
        if publish.qos() == QoS::AtMostOnce {
            return Err(ProtocolError::NotQueueable);
        }
        let probe = Publish::new(
            publish.topic,
            publish.payload,
            Delivery::AtLeastOnce(PacketId::MIN),
            false,
        );
        let needed = Packet::Publish(probe).encoded_len();
        if needed > S - self.stored_bytes() {
            return Err(ProtocolError::StoreFull { needed });
        }
        let id = self.allocate()?;
        let mut publish = publish;
        publish.delivery = Delivery::new(publish.qos(), Some(id)).expect("QoS 1 or 2");
        let awaiting = if publish.qos() == QoS::AtLeastOnce {
            Awaiting::PubAck(publish)
        } else {
            Awaiting::PubRec(publish)
        };
        self.pending.push(Pending {
            id,
            awaiting,
            sent: false,
        });
        Ok(id)
    }

    fn mark_publish_sent(&mut self, id: PacketId) {
        if let Some(i) = self.position(id) {
            self.pending[i].sent = true;
        }
    }

    /// `Session::queued_publish`: the stored PUBLISH, DUP set if it was sent before.
    fn queued_publish(&self, id: PacketId) -> Option<Packet<'static>> {
        let p = self.pending[self.position(id)?];
        match p.awaiting {
            Awaiting::PubAck(mut publish) | Awaiting::PubRec(mut publish) => {
                publish.dup = p.sent;
                Some(Packet::Publish(publish))
            }
            _ => None,
        }
    }

    fn publish(&mut self, publish: Publish<'static>, now: u64) -> Result<Publish<'static>, ProtocolError> {
        self.require_connected()?;
        let mut publish = publish;
        if publish.qos() != QoS::AtMostOnce {
            let id = self.queue(publish)?;
            self.mark_publish_sent(id);
            publish.delivery = Delivery::new(publish.qos(), Some(id)).expect("QoS 1 or 2");
        }
        self.last_sent = now;
        Ok(publish)
    }

    fn resend_done(&mut self, now: u64) {
        for p in &mut self.pending {
            p.sent = true;
        }
        self.last_sent = now;
    }

    fn request(&mut self, count: usize, awaiting: Awaiting, now: u64) -> Result<PacketId, ProtocolError> {
        self.require_connected()?;
        if count == 0 {
            return Err(ProtocolError::Encode(EncodeError::EmptyPayload));
        }
        let id = self.allocate()?;
        self.pending.push(Pending {
            id,
            awaiting,
            sent: true,
        });
        self.last_sent = now;
        Ok(id)
    }

    fn ping(&mut self, now: u64) -> Result<(), ProtocolError> {
        self.require_connected()?;
        self.ping_sent.get_or_insert(now);
        self.last_sent = now;
        Ok(())
    }

    fn connection_lost(&mut self) {
        self.phase = Phase::Disconnected;
        self.ping_sent = None;
        self.pending
            .retain(|p| !matches!(p.awaiting, Awaiting::SubAck(_) | Awaiting::UnsubAck));
    }

    fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Disconnected => None,
            Phase::Connecting => Some(self.connect_sent.saturating_add(self.response_timeout_ms)),
            Phase::Connected => {
                let ping =
                    (self.keep_alive_ms > 0).then(|| self.last_sent.saturating_add(self.keep_alive_ms));
                let pong = self.ping_sent.map(|t| t.saturating_add(self.response_timeout_ms));
                match (ping, pong) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    fn handle_timeout(&mut self, now: u64) -> Result<Option<Packet<'static>>, ProtocolError> {
        match self.phase {
            Phase::Disconnected => Ok(None),
            Phase::Connecting if now >= self.connect_sent.saturating_add(self.response_timeout_ms) => {
                Err(ProtocolError::ConnAckTimeout)
            }
            Phase::Connecting => Ok(None),
            Phase::Connected => {
                if self
                    .ping_sent
                    .is_some_and(|t| now >= t.saturating_add(self.response_timeout_ms))
                {
                    return Err(ProtocolError::PingTimeout);
                }
                if self.keep_alive_ms > 0 && now >= self.last_sent.saturating_add(self.keep_alive_ms) {
                    self.ping(now)?;
                    return Ok(Some(Packet::PingReq));
                }
                Ok(None)
            }
        }
    }

    fn handle_packet<'p>(&mut self, packet: Packet<'p>, now: u64) -> Result<Incoming<'p>, ProtocolError> {
        let ty = packet.packet_type();
        let unexpected = Err(ProtocolError::UnexpectedPacket(ty));
        match self.phase {
            Phase::Disconnected => unexpected,
            Phase::Connecting => match packet {
                Packet::ConnAck(ack) if ack.code != ConnectReturnCode::Accepted => {
                    self.connection_lost();
                    Err(ProtocolError::ConnectionRefused(ack.code))
                }
                // [MQTT-3.2.2-1]
                Packet::ConnAck(ack) if ack.session_present && self.clean_session => {
                    Err(ProtocolError::SessionPresentOnCleanSession)
                }
                Packet::ConnAck(ack) => {
                    if !ack.session_present {
                        // No session on the server: none of its QoS 2 ids awaits a PUBREL.
                        self.incoming_qos2.clear();
                    }
                    self.qos2_deferred = false;
                    self.phase = Phase::Connected;
                    Ok(event(Event::Connected {
                        session_present: ack.session_present,
                    }))
                }
                _ => unexpected,
            },
            Phase::Connected => self.handle_connected(packet, now),
        }
    }

    fn handle_connected<'p>(&mut self, packet: Packet<'p>, now: u64) -> Result<Incoming<'p>, ProtocolError> {
        let ty = packet.packet_type();
        let unknown = |id| Err(ProtocolError::UnknownPacketId(ty, id));
        let found = |m: &Self, id| m.position(id).map(|i| (i, m.pending[i].awaiting));
        match packet {
            Packet::Publish(p) => match p.delivery {
                Delivery::AtMostOnce => Ok(event(Event::Message(p))),
                Delivery::AtLeastOnce(id) => {
                    self.last_sent = now;
                    Ok(Incoming {
                        event: Some(Event::Message(p)),
                        reply: Some(Packet::PubAck(id)),
                    })
                }
                Delivery::ExactlyOnce(id) => {
                    let first = !self.incoming_qos2.contains(&id);
                    if first {
                        if self.incoming_qos2.len() == N {
                            // No slot to remember the id: neither delivered nor acknowledged;
                            // the server sends it again after a reconnect.
                            self.qos2_deferred = true;
                            return Ok(Incoming {
                                event: None,
                                reply: None,
                            });
                        }
                        self.incoming_qos2.push(id);
                    }
                    self.last_sent = now;
                    Ok(Incoming {
                        event: first.then_some(Event::Message(p)),
                        reply: Some(Packet::PubRec(id)),
                    })
                }
            },
            Packet::PubAck(id) => match found(self, id) {
                Some((i, Awaiting::PubAck(_))) => {
                    self.pending.remove(i);
                    Ok(event(Event::Published(id)))
                }
                _ => unknown(id),
            },
            Packet::PubRec(id) => match found(self, id) {
                Some((i, Awaiting::PubRec(_))) => {
                    self.pending[i].awaiting = Awaiting::PubComp;
                    self.last_sent = now;
                    Ok(reply(Packet::PubRel(id)))
                }
                Some((_, Awaiting::PubComp)) => {
                    self.last_sent = now;
                    Ok(reply(Packet::PubRel(id)))
                }
                _ => unknown(id),
            },
            Packet::PubComp(id) => match found(self, id) {
                Some((i, Awaiting::PubComp)) => {
                    self.pending.remove(i);
                    Ok(event(Event::Published(id)))
                }
                _ => unknown(id),
            },
            Packet::PubRel(id) => {
                self.incoming_qos2.retain(|&x| x != id);
                self.last_sent = now;
                Ok(reply(Packet::PubComp(id)))
            }
            Packet::SubAck(ack) => match found(self, ack.packet_id) {
                Some((_, Awaiting::SubAck(count))) if count != ack.codes.len() => {
                    Err(ProtocolError::SubAckCountMismatch {
                        expected: count,
                        received: ack.codes.len(),
                    })
                }
                Some((i, Awaiting::SubAck(_))) => {
                    self.pending.remove(i);
                    Ok(event(Event::Subscribed {
                        packet_id: ack.packet_id,
                        codes: ack.codes,
                    }))
                }
                _ => unknown(ack.packet_id),
            },
            Packet::UnsubAck(id) => match found(self, id) {
                Some((i, Awaiting::UnsubAck)) => {
                    self.pending.remove(i);
                    Ok(event(Event::Unsubscribed(id)))
                }
                _ => unknown(id),
            },
            Packet::PingResp => {
                self.ping_sent = None;
                Ok(event(Event::Pong))
            }
            _ => Err(ProtocolError::UnexpectedPacket(ty)),
        }
    }

    /// What `Session::resend` must yield: in-flight QoS 1/2 PUBLISHes (DUP set if sent
    /// before, [MQTT-3.3.1-1]), and a PUBREL for each QoS 2 message past PUBREC, in their
    /// original order ([MQTT-4.6.0-1]).
    fn resend(&self) -> Vec<Packet<'static>> {
        self.pending
            .iter()
            .filter_map(|p| match p.awaiting {
                Awaiting::PubAck(_) | Awaiting::PubRec(_) => self.queued_publish(p.id),
                Awaiting::PubComp => Some(Packet::PubRel(p.id)),
                Awaiting::SubAck(_) | Awaiting::UnsubAck => None,
            })
            .collect()
    }
}

/// A packet the client sends: it must encode, and decode back to itself.
fn send(packet: &Packet<'_>) {
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = packet
        .encode(&mut buf)
        .unwrap_or_else(|e| panic!("session handed out {packet:?}, which does not encode: {e:?}"));
    assert_eq!(decode(&buf[..n]), Ok(Status::Complete((*packet, n))));
}

struct Driver {
    session: Session<N, S>,
    model: Model,
    now: u64,
    rx: Vec<u8>,
    /// When the driver last wrote a packet (its own record, independent of the session).
    last_write: u64,
    /// Incoming QoS 2 ids delivered to the application and not yet released.
    delivered_qos2: Vec<PacketId>,
}

impl Driver {
    fn wrote(&mut self, packet: &Packet<'_>) {
        send(packet);
        self.last_write = self.now;
    }

    /// Compares every observable of the session with the model.
    fn check_state(&self) {
        let s = &self.session;
        let m = &self.model;
        assert_eq!(s.phase(), m.phase, "phase");
        assert_eq!(s.inflight(), m.pending.len(), "inflight: model {:?}", m.pending);
        assert!(s.inflight() <= N);
        assert_eq!(s.unacked_messages(), m.unacked_messages(), "unacked_messages");
        assert_eq!(s.incoming_qos2(), m.incoming_qos2.len(), "incoming_qos2");
        assert_eq!(s.qos2_deferred(), m.qos2_deferred, "qos2_deferred");
        assert!(s.incoming_qos2() <= N);
        assert_eq!(s.stored_bytes(), m.stored_bytes(), "stored_bytes");
        assert!(s.stored_bytes() <= S);
        for (i, p) in m.pending.iter().enumerate() {
            assert!(s.is_pending(p.id), "id {} not pending", p.id);
            assert!(
                m.pending[..i].iter().all(|q| q.id != p.id),
                "id {} in flight twice",
                p.id
            );
        }
        assert_eq!(s.poll_timeout(), m.poll_timeout(), "poll_timeout");
        // [MQTT-3.1.2-23] never silent for longer than Keep Alive while connected.
        if m.phase == Phase::Connected && m.keep_alive_ms > 0 {
            assert!(
                self.now <= self.last_write + m.keep_alive_ms,
                "silent from {} to {} with keep-alive {} ms",
                self.last_write,
                self.now,
                m.keep_alive_ms
            );
        }
    }

    fn close(&mut self) {
        self.session.connection_lost();
        self.model.connection_lost();
        self.rx.clear();
    }

    /// A command result: equal to the model's, and a failed command changes nothing.
    fn command<T: PartialEq + core::fmt::Debug>(
        &mut self,
        before: &Model,
        got: Result<T, ProtocolError>,
        want: Result<T, ProtocolError>,
    ) -> Option<T> {
        assert_eq!(got, want, "command result");
        match got {
            Ok(v) => Some(v),
            Err(_) => {
                assert_eq!(&self.model, before, "model changed by a failed command");
                None
            }
        }
    }

    fn connect(&mut self, clean_session: bool, keep_alive: u8) {
        let before = self.model.clone();
        let connect = Connect {
            clean_session,
            keep_alive: u16::from(keep_alive),
            client_id: "fuzz",
            will: None,
            username: None,
            password: None,
        };
        let got = self.session.connect(connect, self.now);
        let want = self
            .model
            .connect(clean_session, u16::from(keep_alive), self.now)
            .map(|()| Packet::Connect(connect));
        if let Some(p) = self.command(&before, got, want) {
            if clean_session {
                self.delivered_qos2.clear();
            }
            self.rx.clear();
            self.wrote(&p);
        }
    }

    fn publish(&mut self, topic_i: u8, len: u8, q: u8, retain: bool) {
        let before = self.model.clone();
        let (t, body, q) = (topic(topic_i), payload(len), qos(q));
        let got = self.session.publish(t, body, q, retain, self.now);
        let template = Publish::new(
            t,
            body,
            Delivery::new(q, Some(PacketId::MIN)).expect("id"),
            retain,
        );
        let want = self.model.publish(template, self.now);
        if let Some(p) = self.command(&before, got, want) {
            self.wrote(&Packet::Publish(p));
        }
    }

    fn queue(&mut self, topic_i: u8, len: u8, q: u8, retain: bool) {
        let before = self.model.clone();
        let (t, body, q) = (topic(topic_i), payload(len), qos(q));
        let got = self.session.queue_publish(t, body, q, retain);
        let delivery = Delivery::new(q, Some(PacketId::MIN)).expect("id given");
        let want = self.model.queue(Publish::new(t, body, delivery, retain));
        self.command(&before, got, want);
    }

    fn send_queued(&mut self, n: u8) {
        let ids: Vec<PacketId> = self.model.pending.iter().map(|p| p.id).collect();
        let id = ids
            .get(usize::from(n) % ids.len().max(1))
            .copied()
            .unwrap_or(PacketId::MIN);
        let want = self.model.queued_publish(id);
        let got = self.session.queued_publish(id);
        assert_eq!(got, want, "queued_publish({id})");
        let Some(packet) = got else { return };
        if self.model.phase != Phase::Connected {
            return;
        }
        send(&packet);
        self.last_write = self.now;
        self.session.mark_publish_sent(id);
        self.session.mark_sent(self.now);
        self.model.mark_publish_sent(id);
        self.model.last_sent = self.now;
    }

    fn subscribe(&mut self, first: u8, count: u8, q: u8) {
        let before = self.model.clone();
        let subs: Vec<Subscription<'static>> = (0..count % 4)
            .map(|i| Subscription {
                filter: TopicFilter::new(FILTERS[usize::from(first.wrapping_add(i)) % FILTERS.len()])
                    .expect("valid filter"),
                qos: qos(q.wrapping_add(i)),
            })
            .collect();
        let got = self.session.subscribe(&subs, self.now);
        let want = self
            .model
            .request(subs.len(), Awaiting::SubAck(subs.len()), self.now)
            .map(|packet_id| {
                Packet::Subscribe(umqtt::Subscribe {
                    packet_id,
                    topics: Entries::new(&subs),
                })
            });
        if let Some(p) = self.command(&before, got, want) {
            self.wrote(&p);
        }
    }

    fn unsubscribe(&mut self, first: u8, count: u8) {
        let before = self.model.clone();
        let filters: Vec<TopicFilter<'static>> = (0..count % 4)
            .map(|i| {
                TopicFilter::new(FILTERS[usize::from(first.wrapping_add(i)) % FILTERS.len()]).expect("valid")
            })
            .collect();
        let got = self.session.unsubscribe(&filters, self.now);
        let want = self
            .model
            .request(filters.len(), Awaiting::UnsubAck, self.now)
            .map(|packet_id| {
                Packet::Unsubscribe(umqtt::Unsubscribe {
                    packet_id,
                    topics: Entries::new(&filters),
                })
            });
        if let Some(p) = self.command(&before, got, want) {
            self.wrote(&p);
        }
    }

    fn ping(&mut self) {
        let before = self.model.clone();
        let got = self.session.ping(self.now);
        let want = self.model.ping(self.now).map(|()| Packet::PingReq);
        if let Some(p) = self.command(&before, got, want) {
            self.wrote(&p);
        }
    }

    fn disconnect(&mut self) {
        let before = self.model.clone();
        let got = self.session.disconnect();
        let want = self.model.require_connected().map(|()| Packet::Disconnect);
        if let Some(p) = self.command(&before, got, want) {
            self.model.connection_lost();
            self.wrote(&p);
            self.rx.clear();
        }
    }

    /// Appends broker bytes and processes every complete packet in the receive buffer.
    fn receive(&mut self, bytes: &[u8]) {
        self.rx.extend_from_slice(bytes);
        loop {
            let rx = std::mem::take(&mut self.rx);
            let consumed = match decode(&rx) {
                Ok(Status::Complete((packet, n))) => {
                    let open = self.handle(packet);
                    if !open {
                        return; // `close` emptied the buffer
                    }
                    n
                }
                Ok(Status::Partial { .. }) => {
                    self.rx = rx;
                    return;
                }
                Err(_) => {
                    // A malformed packet closes the connection ([MQTT-4.8.0-1]).
                    self.close();
                    return;
                }
            };
            self.rx = rx[consumed..].to_vec();
        }
    }

    /// Feeds one packet to the session; returns whether the connection stays open.
    fn handle(&mut self, packet: Packet<'_>) -> bool {
        let got = self.session.handle_packet(packet, self.now);
        let want = self.model.handle_packet(packet, self.now);
        assert_eq!(got, want, "handle_packet({packet:?})");
        let incoming = match got {
            Ok(incoming) => incoming,
            Err(_) => {
                self.close();
                return false;
            }
        };
        if let Some(r) = incoming.reply {
            self.wrote(&r);
        }
        match (packet, incoming.event) {
            (Packet::Publish(p), event) => {
                if let Delivery::ExactlyOnce(id) = p.delivery {
                    if incoming.reply.is_none() {
                        // Deferred: no slot for its id, so neither delivered nor acknowledged.
                        assert!(
                            event.is_none() && self.session.qos2_deferred(),
                            "QoS 2 id {id} dropped"
                        );
                        return true;
                    }
                    // Delivered once until PUBREL ([MQTT-4.3.3-2]).
                    let seen = self.delivered_qos2.contains(&id);
                    assert_eq!(event.is_some(), !seen, "QoS 2 id {id} delivery");
                    if !seen {
                        self.delivered_qos2.push(id);
                    }
                } else {
                    assert_eq!(event, Some(Event::Message(p)));
                }
            }
            (Packet::PubRel(id), _) => self.delivered_qos2.retain(|&x| x != id),
            (_, Some(Event::Connected { session_present })) => {
                if !session_present {
                    // A server without a session sends only new messages.
                    self.delivered_qos2.clear();
                }
                if !self.model.clean_session {
                    self.check_resend();
                }
            }
            _ => {}
        }
        true
    }

    /// After a resumed session: `resend` yields exactly the model's list, all encodable.
    fn check_resend(&mut self) {
        let got: Vec<Packet<'_>> = self.session.resend().collect();
        assert_eq!(got, self.model.resend(), "resend");
        assert_eq!(
            got.iter()
                .filter(|p| matches!(p, Packet::Publish(_) | Packet::PubRel(_)))
                .count(),
            self.session.unacked_messages()
        );
        let any = !got.is_empty();
        for p in &got {
            send(p);
        }
        if any {
            self.session.resend_done(self.now);
            self.model.resend_done(self.now);
            self.last_write = self.now;
        }
    }

    /// Runs the timers: every instant `poll_timeout` names up to `now + ms`, then `now + ms`.
    fn advance(&mut self, ms: u16) {
        let target = self.now + u64::from(ms);
        loop {
            let due = self.session.poll_timeout();
            let at = match due {
                Some(t) if t <= target => t.max(self.now),
                _ => target,
            };
            self.now = at;
            let got = self.session.handle_timeout(at);
            let want = self.model.handle_timeout(at);
            assert_eq!(got, want, "handle_timeout({at})");
            // poll_timeout promised work at `due`: it must happen then, and not before.
            let work_due = due.is_some_and(|t| t <= at);
            assert_eq!(
                got != Ok(None),
                work_due,
                "poll_timeout {due:?} vs handle_timeout({at}) = {got:?}"
            );
            match got {
                Ok(Some(p)) => self.wrote(&p),
                Ok(None) => {}
                Err(_) => self.close(),
            }
            self.check_state();
            if at == target && !matches!(self.session.poll_timeout(), Some(t) if t <= target) {
                return;
            }
        }
    }

    fn server(&mut self, p: &ServerPacket) {
        let codes: Vec<SubAckReturnCode>;
        let packet = match *p {
            ServerPacket::ConnAck {
                session_present,
                code,
            } => {
                let code = ConnectReturnCode::from_u8(code % 6).expect("0..=5");
                if session_present && code != ConnectReturnCode::Accepted {
                    return; // not encodable; the decode target covers the raw form
                }
                Packet::ConnAck(ConnAck {
                    session_present,
                    code,
                })
            }
            ServerPacket::PubAck(id) => Packet::PubAck(server_id(id)),
            ServerPacket::PubRec(id) => Packet::PubRec(server_id(id)),
            ServerPacket::PubRel(id) => Packet::PubRel(server_id(id)),
            ServerPacket::PubComp(id) => Packet::PubComp(server_id(id)),
            ServerPacket::UnsubAck(id) => Packet::UnsubAck(server_id(id)),
            ServerPacket::PingResp => Packet::PingResp,
            ServerPacket::SubAck { id, codes: ref raw } => {
                if raw.is_empty() {
                    return;
                }
                codes = raw
                    .iter()
                    .map(|&b| match b % 4 {
                        3 => SubAckReturnCode::Failure,
                        q => SubAckReturnCode::Success(qos(q)),
                    })
                    .collect();
                Packet::SubAck(SubAck {
                    packet_id: server_id(id),
                    codes: Entries::new(&codes),
                })
            }
            ServerPacket::Publish {
                topic: t,
                len,
                qos: q,
                id,
                dup,
                retain,
            } => {
                let q = qos(q);
                let delivery = Delivery::new(q, Some(server_id(id))).expect("id");
                let mut publish = Publish::new(topic(t), payload(len), delivery, retain);
                publish.dup = dup && q != QoS::AtMostOnce;
                Packet::Publish(publish)
            }
            ServerPacket::ClientOnly(b) => {
                self.receive(client_only_bytes(b));
                return;
            }
        };
        let mut buf = vec![0u8; packet.encoded_len()];
        let n = packet.encode(&mut buf).expect("server packet encodes");
        self.receive(&buf[..n]);
    }

    fn step(&mut self, step: &Step<'_>) {
        match *step {
            Step::Raw(bytes) => self.receive(bytes),
            Step::Server(ref p) => self.server(p),
            Step::Publish {
                topic,
                len,
                qos,
                retain,
            } => self.publish(topic, len, qos, retain),
            Step::Subscribe { first, count, qos } => self.subscribe(first, count, qos),
            Step::Unsubscribe { first, count } => self.unsubscribe(first, count),
            Step::Ping => self.ping(),
            Step::Disconnect => self.disconnect(),
            Step::ConnectionLost => self.close(),
            Step::Connect {
                clean_session,
                keep_alive,
            } => self.connect(clean_session, keep_alive),
            Step::Advance(ms) => self.advance(ms),
            Step::Queue {
                topic,
                len,
                qos,
                retain,
            } => self.queue(topic, len, qos, retain),
            Step::SendQueued(n) => self.send_queued(n),
        }
        if self.model.phase != Phase::Connected {
            // Keep-alive silence is measured per connection.
            self.last_write = self.now;
        }
        self.check_state();
    }
}

fuzz_target!(|input: Input<'_>| {
    let response_timeout_ms = u64::from(input.response_timeout_ms);
    let mut session = Session::<N, S>::new();
    session.set_response_timeout(response_timeout_ms);
    let mut driver = Driver {
        session,
        model: Model::new(response_timeout_ms),
        now: 0,
        rx: Vec::new(),
        last_write: 0,
        delivered_qos2: Vec::new(),
    };
    driver.check_state();
    driver.connect(input.clean_session, input.keep_alive);
    driver.check_state();
    for step in &input.steps {
        driver.step(step);
    }
});
