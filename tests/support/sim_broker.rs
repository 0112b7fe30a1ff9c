//! [`SimBroker`]: a small, single-threaded, deterministic MQTT 3.1.1 broker simulation built
//! on umqtt's own codec, exposed as an in-memory transport ([`SimBrokerTransport`]).
//!
//! Bytes the client writes are fed to the broker at once; the broker's answers are queued
//! for the client's next reads. Nothing blocks: a read with nothing queued on an open
//! connection returns [`SimError::WouldBlock`] (kind `TimedOut`) and is counted in
//! [`SimStats::stalls`], since in these tests it means the client waits for something the
//! broker will never send.
//!
//! The broker state lives behind an `Rc<RefCell<..>>` shared by the [`SimBroker`] handle and
//! every connection, so it survives a connection being dropped or replaced: a client can
//! reconnect through a new transport and resume its session. It implements:
//!
//! * CONNECT / CONNACK, with Session Present for a `clean_session = false` client that has a
//!   stored session, session takeover (a second connection with the same client id closes
//!   the first), and clean sessions discarded when their connection ends;
//! * PUBLISH from the client at QoS 0/1/2 (PUBACK; PUBREC, then PUBCOMP for PUBREL). QoS 2
//!   receiver de-duplication stores the packet id from the PUBLISH until its PUBREL
//!   ("method B" of spec section 4.3.3), so a re-sent QoS 2 PUBLISH is acknowledged but not
//!   accepted twice;
//! * every accepted message is recorded ([`Accepted`]), and accepting the same
//!   (client, topic, payload) again is counted as a duplicate ([`SimStats::duplicates`]);
//! * SUBSCRIBE (SUBACK granting the requested QoS), UNSUBSCRIBE, PINGREQ, DISCONNECT;
//! * delivery to clients (routing accepted messages to matching subscriptions, or
//!   [`SimBroker::publish`] from "outside"), at QoS 0/1/2, with at most
//!   [`SimBroker::set_max_inflight`] unacknowledged messages per client and re-sending
//!   (DUP set, then PUBREL) when a session is resumed.
//!
//! Anything a correct client must not do (a packet before CONNECT, a malformed packet, an
//! acknowledgement for an unknown id, ...) is recorded in [`SimStats::violations`].

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};
use umqtt::{
    ConnAck, ConnectReturnCode, Delivery, Entries, Packet, PacketId, Publish, QoS, Status, SubAck,
    SubAckReturnCode, TopicName, decode, topic_matches,
};

/// A message the broker accepted from a client (or from [`SimBroker::publish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The publishing client ("" for [`SimBroker::publish`]).
    pub client_id: String,
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS of the PUBLISH.
    pub qos: QoS,
    /// Its packet identifier (QoS 1/2).
    pub packet_id: Option<u16>,
    /// The DUP flag of the PUBLISH that was accepted.
    pub dup: bool,
    /// Which connection carried it.
    pub connection: u64,
}

/// A message the broker finished delivering to a client (PUBACK or PUBCOMP received, or a
/// QoS 0 message written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The receiving client.
    pub client_id: String,
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS of the delivery.
    pub qos: QoS,
}

/// Counters kept by the broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Connections opened.
    pub connections: u64,
    /// CONNECT packets accepted.
    pub connects: u64,
    /// CONNACKs sent with Session Present set.
    pub sessions_resumed: u64,
    /// Sessions taken over by a new connection with the same client id.
    pub takeovers: u64,
    /// Messages accepted.
    pub accepted: u64,
    /// Accepted messages whose (client, topic, payload) had been accepted before.
    pub duplicates: u64,
    /// ... of those, how many arrived without the DUP flag (the client published the message
    /// again as a new message instead of re-sending it).
    pub duplicates_without_dup_flag: u64,
    /// Duplicates that were QoS 2 messages (must stay 0: exactly once).
    pub qos2_duplicates: u64,
    /// Re-sent QoS 2 PUBLISHes recognised by their packet id and not accepted again.
    pub qos2_resends_suppressed: u64,
    /// PUBRELs for an id not awaiting one (answered with PUBCOMP anyway).
    pub unknown_pubrels: u64,
    /// Packets received from clients, of any type.
    pub packets_in: u64,
    /// Packets sent to clients.
    pub packets_out: u64,
    /// Reads that found nothing to read on an open connection.
    pub stalls: u64,
    /// Partial packets discarded when their connection closed.
    pub truncated_packets: u64,
    /// Protocol violations by clients.
    pub violations: Vec<String>,
}

/// The error of a [`SimBrokerTransport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    /// The broker closed this connection (takeover, violation, DISCONNECT).
    Closed,
    /// Nothing to read and the connection is open: a real read would block forever.
    WouldBlock,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("connection closed by the simulated broker"),
            Self::WouldBlock => f.write_str("read would block forever"),
        }
    }
}

impl std::error::Error for SimError {}

impl embedded_io::Error for SimError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Closed => ErrorKind::BrokenPipe,
            Self::WouldBlock => ErrorKind::TimedOut,
        }
    }
}

/// Where an outgoing (broker to client) QoS 1/2 message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// Not sent yet (inflight window full, or client offline).
    Queued,
    /// QoS 1 sent, waiting for PUBACK.
    AwaitAck,
    /// QoS 2 sent, waiting for PUBREC.
    AwaitRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitComp,
}

#[derive(Debug, Clone)]
struct Outgoing {
    id: u16,
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    state: OutState,
}

#[derive(Debug, Clone, Default)]
struct ClientSession {
    clean: bool,
    /// Incoming QoS 2 ids accepted and awaiting PUBREL.
    awaiting_rel: BTreeSet<u16>,
    subscriptions: Vec<(String, QoS)>,
    outgoing: VecDeque<Outgoing>,
    last_id: u16,
    /// The connection the session is bound to.
    conn: Option<u64>,
}

impl ClientSession {
    fn allocate_id(&mut self) -> u16 {
        loop {
            self.last_id = if self.last_id == u16::MAX {
                1
            } else {
                self.last_id + 1
            };
            let id = self.last_id;
            if !self
                .outgoing
                .iter()
                .any(|o| o.id == id && o.state != OutState::Queued)
            {
                return id;
            }
        }
    }
}

#[derive(Debug, Default)]
struct Conn {
    inbuf: Vec<u8>,
    out: VecDeque<u8>,
    open: bool,
    client_id: Option<String>,
}

#[derive(Debug)]
struct State {
    sessions: HashMap<String, ClientSession>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    accepted: Vec<Accepted>,
    accept_counts: HashMap<(String, String, Vec<u8>), u32>,
    delivered: Vec<Delivered>,
    stats: SimStats,
    max_inflight: usize,
    refuse: u32,
    /// Simulated time, in milliseconds.
    now_ms: u64,
}

/// A handle on the simulated broker; clones share the same broker.
#[derive(Debug, Clone)]
pub struct SimBroker {
    state: Rc<RefCell<State>>,
}

impl Default for SimBroker {
    fn default() -> Self {
        Self::new()
    }
}

impl SimBroker {
    /// A broker with no sessions and an inflight window of 8 per client.
    pub fn new() -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                sessions: HashMap::new(),
                conns: BTreeMap::new(),
                next_conn: 1,
                accepted: Vec::new(),
                accept_counts: HashMap::new(),
                delivered: Vec::new(),
                stats: SimStats::default(),
                max_inflight: 8,
                refuse: 0,
                now_ms: 0,
            })),
        }
    }

    /// Opens a new connection to the broker.
    pub fn connect(&self) -> SimBrokerTransport {
        let mut st = self.state.borrow_mut();
        let id = st.next_conn;
        st.next_conn += 1;
        st.stats.connections += 1;
        st.conns.insert(
            id,
            Conn {
                open: true,
                ..Conn::default()
            },
        );
        SimBrokerTransport {
            state: Rc::clone(&self.state),
            conn: id,
        }
    }

    /// Sets how many QoS 1/2 messages may await acknowledgement per client.
    pub fn set_max_inflight(&self, n: usize) {
        self.state.borrow_mut().max_inflight = n.max(1);
    }

    /// Answers the next `n` CONNECTs with return code 3 (server unavailable).
    pub fn refuse_next_connects(&self, n: u32) {
        self.state.borrow_mut().refuse = n;
    }

    /// Forgets every stored session (as a broker restarted without persistence would).
    pub fn forget_sessions(&self) {
        let mut st = self.state.borrow_mut();
        st.sessions.clear();
        for conn in st.conns.values_mut() {
            conn.open = false;
        }
    }

    /// A copy of the counters.
    pub fn stats(&self) -> SimStats {
        self.state.borrow().stats.clone()
    }

    /// Every message accepted so far, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.state.borrow().accepted.clone()
    }

    /// How many times (client, topic, payload) was accepted.
    pub fn accept_count(&self, client_id: &str, topic: &str, payload: &[u8]) -> u32 {
        let st = self.state.borrow();
        st.accept_counts
            .get(&(client_id.to_owned(), topic.to_owned(), payload.to_vec()))
            .copied()
            .unwrap_or(0)
    }

    /// Every completed delivery to clients, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.state.borrow().delivered.clone()
    }

    /// Whether a session is stored for `client_id`.
    pub fn has_session(&self, client_id: &str) -> bool {
        self.state.borrow().sessions.contains_key(client_id)
    }

    /// The incoming QoS 2 ids of `client_id` awaiting PUBREL.
    pub fn awaiting_pubrel(&self, client_id: &str) -> Vec<u16> {
        let st = self.state.borrow();
        st.sessions
            .get(client_id)
            .map(|s| s.awaiting_rel.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Messages for `client_id` not yet fully delivered (queued or inflight).
    pub fn outstanding(&self, client_id: &str) -> usize {
        let st = self.state.borrow();
        st.sessions.get(client_id).map_or(0, |s| s.outgoing.len())
    }

    /// Whether `client_id` is connected (CONNECT accepted, connection open).
    pub fn is_connected(&self, client_id: &str) -> bool {
        let st = self.state.borrow();
        st.sessions
            .get(client_id)
            .and_then(|s| s.conn)
            .and_then(|c| st.conns.get(&c))
            .is_some_and(|c| c.open)
    }

    /// Publishes a message "from outside" to every matching subscription.
    pub fn publish(&self, topic: &str, payload: &[u8], qos: QoS) {
        let mut st = self.state.borrow_mut();
        st.stats.accepted += 1;
        st.accepted.push(Accepted {
            client_id: String::new(),
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos,
            packet_id: None,
            dup: false,
            connection: 0,
        });
        st.route(topic, payload, qos);
    }

    /// Queues a message straight into the session of `client_id` (created, as a persistent
    /// session, if missing), bypassing subscriptions.
    pub fn deliver_to(&self, client_id: &str, topic: &str, payload: &[u8], qos: QoS) {
        let mut st = self.state.borrow_mut();
        st.sessions.entry(client_id.to_owned()).or_default();
        st.enqueue(client_id, topic, payload, qos);
        st.pump(client_id);
    }
}

impl State {
    fn violation(&mut self, conn: u64, what: String) {
        self.stats.violations.push(format!("connection {conn}: {what}"));
    }

    fn send(&mut self, conn: u64, packet: &Packet<'_>) {
        let mut buf = vec![0u8; packet.encoded_len()];
        let n = packet
            .encode(&mut buf)
            .expect("the simulated broker encodes valid packets");
        if let Some(c) = self.conns.get_mut(&conn)
            && c.open
        {
            c.out.extend(buf.iter().take(n));
            self.stats.packets_out += 1;
        }
    }

    fn close(&mut self, conn: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.open {
            return;
        }
        c.open = false;
        if !c.inbuf.is_empty() {
            self.stats.truncated_packets += 1;
            c.inbuf.clear();
        }
        let Some(client_id) = c.client_id.clone() else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client_id) else {
            return;
        };
        if s.conn == Some(conn) {
            s.conn = None;
            if s.clean {
                self.sessions.remove(&client_id);
            }
        }
    }

    /// Feeds bytes written by the client on `conn`.
    fn receive(&mut self, conn: u64, bytes: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.inbuf.extend_from_slice(bytes);
        let buf = std::mem::take(&mut c.inbuf);
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match decode(rest) {
                Ok(Status::Complete((packet, n))) => {
                    at += n;
                    self.stats.packets_in += 1;
                    self.handle(conn, packet);
                    if !self.conns.get(&conn).is_some_and(|c| c.open) {
                        return;
                    }
                }
                Ok(Status::Partial { .. }) => break,
                Err(e) => {
                    self.violation(conn, format!("malformed packet: {e}"));
                    self.close(conn);
                    return;
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.inbuf = buf.get(at..).unwrap_or_default().to_vec();
        }
    }

    fn handle(&mut self, conn: u64, packet: Packet<'_>) {
        let client_id = self.conns.get(&conn).and_then(|c| c.client_id.clone());
        let Some(client_id) = client_id else {
            if let Packet::Connect(c) = packet {
                self.handle_connect(conn, c.client_id, c.clean_session);
            } else {
                self.violation(conn, format!("{} before CONNECT", packet.packet_type()));
                self.close(conn);
            }
            return;
        };
        match packet {
            Packet::Publish(p) => self.handle_publish(conn, &client_id, &p),
            Packet::PubRel(id) => {
                let known = self
                    .sessions
                    .get_mut(&client_id)
                    .is_some_and(|s| s.awaiting_rel.remove(&id.get()));
                if !known {
                    self.stats.unknown_pubrels += 1;
                }
                self.send(conn, &Packet::PubComp(id));
            }
            Packet::PubAck(id) => self.handle_ack(conn, &client_id, id.get(), OutState::AwaitAck),
            Packet::PubRec(id) => self.handle_ack(conn, &client_id, id.get(), OutState::AwaitRec),
            Packet::PubComp(id) => self.handle_ack(conn, &client_id, id.get(), OutState::AwaitComp),
            Packet::Subscribe(sub) => {
                let mut codes = Vec::new();
                if let Some(s) = self.sessions.get_mut(&client_id) {
                    for t in sub.topics.iter() {
                        let filter = t.filter.as_str().to_owned();
                        s.subscriptions.retain(|(f, _)| *f != filter);
                        s.subscriptions.push((filter, t.qos));
                        codes.push(SubAckReturnCode::Success(t.qos));
                    }
                }
                let ack = SubAck {
                    packet_id: sub.packet_id,
                    codes: Entries::new(&codes),
                };
                self.send(conn, &Packet::SubAck(ack));
            }
            Packet::Unsubscribe(unsub) => {
                if let Some(s) = self.sessions.get_mut(&client_id) {
                    for t in unsub.topics.iter() {
                        s.subscriptions.retain(|(f, _)| f != t.as_str());
                    }
                }
                self.send(conn, &Packet::UnsubAck(unsub.packet_id));
            }
            Packet::PingReq => self.send(conn, &Packet::PingResp),
            Packet::Disconnect => self.close(conn),
            Packet::Connect(_) => {
                self.violation(conn, "second CONNECT".to_owned());
                self.close(conn);
            }
            other => {
                self.violation(conn, format!("{} from a client", other.packet_type()));
                self.close(conn);
            }
        }
    }

    fn handle_connect(&mut self, conn: u64, client_id: &str, clean: bool) {
        if self.refuse > 0 {
            self.refuse -= 1;
            let ack = ConnAck {
                session_present: false,
                code: ConnectReturnCode::ServerUnavailable,
            };
            self.send(conn, &Packet::ConnAck(ack));
            self.close(conn);
            return;
        }
        if client_id.is_empty() && !clean {
            let ack = ConnAck {
                session_present: false,
                code: ConnectReturnCode::IdentifierRejected,
            };
            self.send(conn, &Packet::ConnAck(ack));
            self.close(conn);
            return;
        }
        let client_id = if client_id.is_empty() {
            format!("auto-{conn}")
        } else {
            client_id.to_owned()
        };
        // Session takeover: the old connection of this client is closed.
        if let Some(old) = self.sessions.get(&client_id).and_then(|s| s.conn)
            && old != conn
        {
            self.stats.takeovers += 1;
            self.close(old);
        }
        if clean {
            self.sessions.remove(&client_id);
        }
        let session_present = !clean && self.sessions.contains_key(&client_id);
        let session = self.sessions.entry(client_id.clone()).or_default();
        session.clean = clean;
        session.conn = Some(conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.client_id = Some(client_id.clone());
        }
        self.stats.connects += 1;
        if session_present {
            self.stats.sessions_resumed += 1;
        }
        self.send(
            conn,
            &Packet::ConnAck(ConnAck {
                session_present,
                code: ConnectReturnCode::Accepted,
            }),
        );
        // Re-send what is inflight, in order ([MQTT-4.4.0-1]), then whatever is queued.
        let resend: Vec<Outgoing> = self
            .sessions
            .get(&client_id)
            .map(|s| {
                s.outgoing
                    .iter()
                    .filter(|o| o.state != OutState::Queued)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for o in resend {
            let id = PacketId::new(o.id).expect("outgoing ids are non-zero");
            match o.state {
                OutState::AwaitAck | OutState::AwaitRec => {
                    let topic = TopicName::new(&o.topic).expect("routed topics are valid");
                    let delivery = if o.qos == QoS::AtLeastOnce {
                        Delivery::AtLeastOnce(id)
                    } else {
                        Delivery::ExactlyOnce(id)
                    };
                    let mut p = Publish::new(topic, &o.payload, delivery, false);
                    p.dup = true;
                    self.send(conn, &Packet::Publish(p));
                }
                OutState::AwaitComp => self.send(conn, &Packet::PubRel(id)),
                OutState::Queued => {}
            }
        }
        self.pump(&client_id);
    }

    fn handle_publish(&mut self, conn: u64, client_id: &str, p: &Publish<'_>) {
        let topic = p.topic.as_str();
        match p.delivery {
            Delivery::AtMostOnce => self.accept(conn, client_id, p),
            Delivery::AtLeastOnce(id) => {
                self.accept(conn, client_id, p);
                self.send(conn, &Packet::PubAck(id));
            }
            Delivery::ExactlyOnce(id) => {
                let fresh = self
                    .sessions
                    .get_mut(client_id)
                    .is_some_and(|s| s.awaiting_rel.insert(id.get()));
                if fresh {
                    self.accept(conn, client_id, p);
                } else {
                    self.stats.qos2_resends_suppressed += 1;
                    if !p.dup {
                        self.violation(
                            conn,
                            format!(
                                "QoS 2 PUBLISH id {id} on {topic} reuses an id awaiting PUBREL without DUP"
                            ),
                        );
                    }
                }
                self.send(conn, &Packet::PubRec(id));
            }
        }
    }

    fn accept(&mut self, conn: u64, client_id: &str, p: &Publish<'_>) {
        let topic = p.topic.as_str().to_owned();
        let key = (client_id.to_owned(), topic.clone(), p.payload.to_vec());
        let count = self.accept_counts.entry(key).or_insert(0);
        *count += 1;
        if *count > 1 {
            self.stats.duplicates += 1;
            if !p.dup {
                self.stats.duplicates_without_dup_flag += 1;
            }
            if p.qos() == QoS::ExactlyOnce {
                self.stats.qos2_duplicates += 1;
            }
        }
        self.stats.accepted += 1;
        self.accepted.push(Accepted {
            client_id: client_id.to_owned(),
            topic: topic.clone(),
            payload: p.payload.to_vec(),
            qos: p.qos(),
            packet_id: p.delivery.packet_id().map(PacketId::get),
            dup: p.dup,
            connection: conn,
        });
        self.route(&topic, p.payload, p.qos());
    }

    /// Queues a copy for every session with a matching subscription, at the lower QoS.
    fn route(&mut self, topic: &str, payload: &[u8], qos: QoS) {
        let mut targets = Vec::new();
        for (id, s) in &self.sessions {
            let granted = s
                .subscriptions
                .iter()
                .filter(|(f, _)| topic_matches(f, topic))
                .map(|(_, q)| *q)
                .max_by_key(|q| q.as_u8());
            if let Some(g) = granted {
                targets.push((id.clone(), if g.as_u8() < qos.as_u8() { g } else { qos }));
            }
        }
        targets.sort();
        for (id, q) in targets {
            self.enqueue(&id, topic, payload, q);
            self.pump(&id);
        }
    }

    fn enqueue(&mut self, client_id: &str, topic: &str, payload: &[u8], qos: QoS) {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        if qos == QoS::AtMostOnce && s.conn.is_none() {
            return; // QoS 0 is not queued for offline clients.
        }
        s.outgoing.push_back(Outgoing {
            id: 0,
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos,
            state: OutState::Queued,
        });
    }

    /// Sends queued messages to `client_id` while its inflight window has room.
    fn pump(&mut self, client_id: &str) {
        let max = self.max_inflight;
        loop {
            let Some(s) = self.sessions.get_mut(client_id) else {
                return;
            };
            let Some(conn) = s.conn else {
                return;
            };
            let inflight = s.outgoing.iter().filter(|o| o.state != OutState::Queued).count();
            let Some(pos) = s.outgoing.iter().position(|o| o.state == OutState::Queued) else {
                return;
            };
            let qos = s.outgoing.get(pos).map_or(QoS::AtMostOnce, |o| o.qos);
            if qos != QoS::AtMostOnce && inflight >= max {
                return;
            }
            let id = if qos == QoS::AtMostOnce {
                0
            } else {
                s.allocate_id()
            };
            let Some(o) = s.outgoing.get_mut(pos) else {
                return;
            };
            o.id = id;
            o.state = match qos {
                QoS::AtMostOnce => OutState::Queued,
                QoS::AtLeastOnce => OutState::AwaitAck,
                QoS::ExactlyOnce => OutState::AwaitRec,
            };
            let o = o.clone();
            if qos == QoS::AtMostOnce {
                s.outgoing.remove(pos);
                self.delivered.push(Delivered {
                    client_id: client_id.to_owned(),
                    topic: o.topic.clone(),
                    payload: o.payload.clone(),
                    qos,
                });
            }
            let topic = TopicName::new(&o.topic).expect("routed topics are valid");
            let delivery = match (qos, PacketId::new(id)) {
                (QoS::AtLeastOnce, Some(id)) => Delivery::AtLeastOnce(id),
                (QoS::ExactlyOnce, Some(id)) => Delivery::ExactlyOnce(id),
                _ => Delivery::AtMostOnce,
            };
            self.send(
                conn,
                &Packet::Publish(Publish::new(topic, &o.payload, delivery, false)),
            );
        }
    }

    /// PUBACK, PUBREC or PUBCOMP from the client for an outgoing message in state `expect`.
    fn handle_ack(&mut self, conn: u64, client_id: &str, id: u16, expect: OutState) {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        let pos = s
            .outgoing
            .iter()
            .position(|o| o.id == id && o.state != OutState::Queued);
        let Some((pos, state)) = pos.and_then(|p| Some((p, s.outgoing.get(p)?.state))) else {
            self.violation(conn, format!("{expect:?} acknowledgement for unknown id {id}"));
            return;
        };
        let pid = PacketId::new(id).expect("outgoing ids are non-zero");
        match (expect, state) {
            (OutState::AwaitAck, OutState::AwaitAck) | (OutState::AwaitComp, OutState::AwaitComp) => {
                if let Some(o) = s.outgoing.remove(pos) {
                    self.delivered.push(Delivered {
                        client_id: client_id.to_owned(),
                        topic: o.topic,
                        payload: o.payload,
                        qos: o.qos,
                    });
                }
                self.pump(client_id);
            }
            (OutState::AwaitRec, OutState::AwaitRec | OutState::AwaitComp) => {
                if let Some(o) = s.outgoing.get_mut(pos) {
                    o.state = OutState::AwaitComp;
                }
                self.send(conn, &Packet::PubRel(pid));
            }
            _ => self.violation(
                conn,
                format!("{expect:?} acknowledgement for id {id} in state {state:?}"),
            ),
        }
    }
}

/// One connection to a [`SimBroker`]; dropping it closes the connection.
#[derive(Debug)]
pub struct SimBrokerTransport {
    state: Rc<RefCell<State>>,
    conn: u64,
}

impl SimBrokerTransport {
    /// The connection number.
    pub fn id(&self) -> u64 {
        self.conn
    }

    /// Whether the broker still considers the connection open.
    pub fn is_open(&self) -> bool {
        self.state.borrow().conns.get(&self.conn).is_some_and(|c| c.open)
    }

    /// Closes the connection from the broker's side (the client reads what is queued, then
    /// end of stream).
    pub fn close_by_broker(&self) {
        self.state.borrow_mut().close(self.conn);
    }

    /// Bytes queued for the client's reads.
    pub fn pending_bytes(&self) -> usize {
        self.state
            .borrow()
            .conns
            .get(&self.conn)
            .map_or(0, |c| c.out.len())
    }
}

impl Drop for SimBrokerTransport {
    fn drop(&mut self) {
        let mut st = self.state.borrow_mut();
        st.close(self.conn);
        st.conns.remove(&self.conn);
    }
}

impl ErrorType for SimBrokerTransport {
    type Error = SimError;
}

impl Read for SimBrokerTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, SimError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut st = self.state.borrow_mut();
        let Some(c) = st.conns.get_mut(&self.conn) else {
            return Ok(0);
        };
        if c.out.is_empty() {
            if !c.open {
                return Ok(0);
            }
            st.stats.stalls += 1;
            return Err(SimError::WouldBlock);
        }
        let n = buf.len().min(c.out.len());
        for (dst, src) in buf.iter_mut().zip(c.out.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for SimBrokerTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, SimError> {
        let mut st = self.state.borrow_mut();
        if !st.conns.get(&self.conn).is_some_and(|c| c.open) {
            return Err(SimError::Closed);
        }
        st.receive(self.conn, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), SimError> {
        Ok(())
    }
}

impl umqtt::client::Transport for SimBrokerTransport {
    /// The simulation's clock: it moves only while the client waits in silence.
    fn now_ms(&mut self) -> u64 {
        self.state.borrow().now_ms
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, SimError> {
        if self.read_ready()? {
            return Ok(true);
        }
        if timeout_ms == 0 {
            // A poll (`check_msg`) finding nothing is not a wait.
            return Ok(false);
        }
        let mut st = self.state.borrow_mut();
        st.now_ms += u64::from(timeout_ms.max(1));
        st.stats.stalls += 1;
        Ok(false)
    }
}

impl ReadReady for SimBrokerTransport {
    fn read_ready(&mut self) -> Result<bool, SimError> {
        let st = self.state.borrow();
        Ok(st
            .conns
            .get(&self.conn)
            .is_none_or(|c| !c.open || !c.out.is_empty()))
    }
}
