//! [`Session`]: the client's MQTT protocol state as a pure state machine (no I/O, no clock).
//!
//! The session decides *what* to send and *what* an incoming packet means; a driver (the
//! blocking [`MqttClient`](crate::client::MqttClient), or an async one) moves the bytes. It
//! keeps the "Session state" of spec section 4.1 on the client side: packet identifiers in
//! use, QoS 1 and QoS 2 messages not yet fully acknowledged (with their bytes, so they can be
//! re-sent after a reconnect), incoming QoS 2 identifiers awaiting PUBREL, and the keep-alive
//! timers. Time is always passed in as `now`, a monotonic millisecond count.
//!
//! # Driving protocol
//!
//! 1. Call [`Session::connect`] and send the CONNECT it returns. Read packets and pass each
//!    to [`Session::handle_packet`] until it yields [`Event::Connected`]. If the session was
//!    resumed (`clean_session = false`), send every packet of [`Session::resend`] next, in
//!    order, then call [`Session::mark_sent`].
//! 2. Commands ([`publish`](Session::publish), [`subscribe`](Session::subscribe),
//!    [`unsubscribe`](Session::unsubscribe), [`ping`](Session::ping),
//!    [`disconnect`](Session::disconnect)) return the packet to send. They record the send
//!    time and what acknowledgement is now expected, so send what they return straight away.
//! 3. For every packet received, call [`Session::handle_packet`]: send
//!    [`Incoming::reply`] if present, and act on [`Incoming::event`].
//! 4. Whenever [`Session::poll_timeout`] passes, call [`Session::handle_timeout`]: it returns
//!    a PINGREQ to send when keep-alive is due, or an error when the server stopped answering.
//! 5. When the connection drops, call [`Session::connection_lost`]. Unacknowledged QoS 1/2
//!    messages stay queued and go out again (with DUP set) after the next
//!    `connect(clean_session = false)`.
//!
//! Every `Err` from the session means the connection must be closed ([MQTT-4.8.0-1]).

mod error;

pub use error::ProtocolError;

use heapless::Vec;

use crate::packet::{Connect, Entries, Packet, Publish, SubAckReturnCode, Subscription};
use crate::status::Status;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ConnectReturnCode, Delivery, PacketId, QoS};

/// Default time allowed for CONNACK and PINGRESP, in milliseconds.
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 30_000;

/// Where the session is in the connection life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// No connection; only [`Session::connect`] is allowed.
    Disconnected,
    /// CONNECT sent, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted.
    Connected,
}

/// What an incoming packet meant to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'p> {
    /// The server accepted the connection.
    Connected {
        /// Whether the server resumed a stored session.
        session_present: bool,
    },
    /// An application message to deliver (already de-duplicated for QoS 2).
    Message(Publish<'p>),
    /// An outgoing QoS 1 (PUBACK) or QoS 2 (PUBCOMP) message is fully acknowledged.
    Published(PacketId),
    /// A SUBSCRIBE was answered; one code per requested filter.
    Subscribed {
        /// The SUBSCRIBE's packet identifier.
        packet_id: PacketId,
        /// The return codes, in request order.
        codes: Entries<'p, SubAckReturnCode>,
    },
    /// An UNSUBSCRIBE was acknowledged.
    Unsubscribed(PacketId),
    /// A PINGRESP arrived.
    Pong,
}

/// Result of [`Session::handle_packet`]: something for the application and/or a packet to
/// send back. MQTT 3.1.1 never needs more than one reply per incoming packet.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Incoming<'p> {
    /// What happened, if it concerns the application.
    pub event: Option<Event<'p>>,
    /// The acknowledgement to send now (PUBACK, PUBREC, PUBREL or PUBCOMP).
    pub reply: Option<Packet<'static>>,
}

/// What an incoming packet meant, without borrowing it (see [`Session::judge_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Deliver the PUBLISH.
    Message,
    /// [`Event::Connected`] (the driver reads Session Present from the CONNACK itself).
    Connected,
    /// [`Event::Published`].
    Published(PacketId),
    /// [`Event::Subscribed`] (the driver reads the return codes from the SUBACK itself).
    Subscribed(PacketId),
    /// [`Event::Unsubscribed`].
    Unsubscribed(PacketId),
    /// [`Event::Pong`].
    Pong,
    /// Nothing for the application.
    Quiet,
}

/// An acknowledgement the session asks to send: PUBACK, PUBREC, PUBREL or PUBCOMP, all
/// four bytes long. Smaller than a [`Packet`], and written without the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The first byte: packet type and flags (0x40, 0x50, 0x62 or 0x70).
    byte0: u8,
    id: PacketId,
}

impl Ack {
    const fn new(byte0: u8, id: PacketId) -> Self {
        Self { byte0, id }
    }

    /// The encoded packet.
    pub(crate) const fn bytes(self) -> [u8; 4] {
        let [hi, lo] = self.id.get().to_be_bytes();
        [self.byte0, 2, hi, lo]
    }

    /// The same acknowledgement as a [`Packet`].
    const fn packet(self) -> Packet<'static> {
        match self.byte0 {
            0x40 => Packet::PubAck(self.id),
            0x50 => Packet::PubRec(self.id),
            0x62 => Packet::PubRel(self.id),
            _ => Packet::PubComp(self.id),
        }
    }
}

/// The acknowledgement an outgoing packet is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Await {
    /// QoS 1 PUBLISH stored at `store[at..at + len]`, waiting for PUBACK.
    PubAck { at: usize, len: usize },
    /// QoS 2 PUBLISH stored at `store[at..at + len]`, waiting for PUBREC.
    PubRec { at: usize, len: usize },
    /// QoS 2 PUBREL sent, waiting for PUBCOMP (the PUBLISH is never re-sent now).
    PubComp,
    /// SUBSCRIBE with `count` filters, waiting for SUBACK.
    SubAck { count: usize },
    /// UNSUBSCRIBE waiting for UNSUBACK.
    UnsubAck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    id: PacketId,
    awaiting: Await,
    /// Whether the packet has been handed to the driver at least once: a re-sent PUBLISH
    /// carries DUP = 1 only if an earlier copy may have reached the server ([MQTT-3.3.1-1],
    /// [MQTT-4.3.2-1]).
    sent: bool,
}

/// The client side of an MQTT session. See the [module docs](self) for how to drive it.
///
/// * `N` bounds the packets awaiting acknowledgement in each direction (outgoing QoS 1/2
///   messages plus SUBSCRIBE/UNSUBSCRIBE; incoming QoS 2 messages awaiting PUBREL).
/// * `S` is the size in bytes of the store that keeps unacknowledged outgoing QoS 1/2
///   PUBLISH packets (encoded) for re-sending after a reconnect.
#[derive(Debug)]
pub struct Session<const N: usize = 8, const S: usize = 1024> {
    // The declaration order keeps the non-zero `response_timeout_ms` between the fields
    // `new` zeroes, so that no run of zeroes is long enough to become a `memclr` call
    // (about 170 bytes of flash on Cortex-M when nothing else needs that variant).
    last_sent: u64,
    response_timeout_ms: u64,
    keep_alive_ms: u64,
    /// When the request now awaiting its response was sent: the CONNECT while connecting,
    /// an unanswered PINGREQ once connected (the two never overlap).
    waiting_since: Option<u64>,
    phase: Phase,
    clean_session: bool,
    next_id: PacketId,
    pending: Vec<Pending, N>,
    store: Vec<u8, S>,
    incoming_qos2: Vec<PacketId, N>,
    qos2_deferred: bool,
}

impl<const N: usize, const S: usize> Default for Session<N, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const S: usize> Session<N, S> {
    /// A disconnected session with no state.
    pub const fn new() -> Self {
        Self {
            phase: Phase::Disconnected,
            clean_session: true,
            keep_alive_ms: 0,
            response_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            next_id: PacketId::MIN,
            pending: Vec::new(),
            store: Vec::new(),
            incoming_qos2: Vec::new(),
            last_sent: 0,
            waiting_since: None,
            qos2_deferred: false,
        }
    }

    /// Sets how long CONNACK and PINGRESP may take before
    /// [`handle_timeout`](Self::handle_timeout) gives up (default 30 s).
    pub fn set_response_timeout(&mut self, ms: u64) {
        self.response_timeout_ms = ms;
    }

    /// The connection phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// Number of outgoing packets awaiting acknowledgement.
    pub fn inflight(&self) -> usize {
        self.pending.len()
    }

    /// Number of outgoing QoS 1/2 messages not yet fully acknowledged (these survive a
    /// reconnect with `clean_session = false`).
    pub fn unacked_messages(&self) -> usize {
        self.pending
            .iter()
            .filter(|p| {
                matches!(
                    p.awaiting,
                    Await::PubAck { .. } | Await::PubRec { .. } | Await::PubComp
                )
            })
            .count()
    }

    /// Whether `id` is awaiting an acknowledgement.
    pub fn is_pending(&self, id: PacketId) -> bool {
        self.pending.iter().any(|p| p.id == id)
    }

    /// Number of incoming QoS 2 messages delivered but not yet released by PUBREL.
    pub fn incoming_qos2(&self) -> usize {
        self.incoming_qos2.len()
    }

    /// Whether an incoming QoS 2 message was left unacknowledged because all `N` slots for
    /// unreleased QoS 2 identifiers were in use. The server sends it again only after a
    /// reconnect, so reconnect (with `clean_session = false`) once
    /// [`incoming_qos2`](Self::incoming_qos2) is back to 0; `RobustClient` does this itself.
    pub fn qos2_deferred(&self) -> bool {
        self.qos2_deferred
    }

    /// Bytes of the re-send store in use.
    pub fn stored_bytes(&self) -> usize {
        self.store.len()
    }

    /// Records that a packet was written at `now` (keep-alive counts from the last send).
    /// Commands and replies call this themselves; call it after sending [`resend`](Self::resend).
    pub fn mark_sent(&mut self, now: u64) {
        self.last_sent = now;
    }

    /// Starts a connection: returns the CONNECT to send first ([MQTT-3.1.0-1]).
    ///
    /// With `clean_session` set, all stored state is dropped ([MQTT-3.1.2-6]); without it,
    /// unacknowledged messages are kept for [`resend`](Self::resend) ([MQTT-3.1.2-4]).
    ///
    /// # Errors
    /// [`ProtocolError::AlreadyConnected`] unless the session is disconnected
    /// ([MQTT-3.1.0-2]: one CONNECT per connection); [`ProtocolError::Encode`] for a CONNECT
    /// the encoder refuses (for example an empty client id without clean session). Either
    /// way the session is unchanged.
    pub fn connect<'p>(&mut self, connect: Connect<'p>, now: u64) -> Result<Packet<'p>, ProtocolError> {
        if self.phase != Phase::Disconnected {
            return Err(ProtocolError::AlreadyConnected);
        }
        // A CONNECT the encoder would refuse changes nothing.
        connect.validate()?;
        self.start_connect(&connect, now)?;
        Ok(Packet::Connect(connect))
    }

    /// [`connect`](Self::connect) for a driver that has already run the encoder's checks on
    /// `connect`.
    pub(crate) fn start_connect(&mut self, connect: &Connect<'_>, now: u64) -> Result<(), ProtocolError> {
        if self.phase != Phase::Disconnected {
            return Err(ProtocolError::AlreadyConnected);
        }
        if connect.clean_session {
            self.pending.clear();
            self.store.clear();
            self.incoming_qos2.clear();
        }
        self.clean_session = connect.clean_session;
        self.keep_alive_ms = u64::from(connect.keep_alive) * 1000;
        self.phase = Phase::Connecting;
        self.waiting_since = Some(now);
        self.mark_sent(now);
        Ok(())
    }

    fn require_connected(&self) -> Result<(), ProtocolError> {
        if self.phase == Phase::Connected {
            Ok(())
        } else {
            Err(ProtocolError::NotConnected)
        }
    }

    /// Allocates a packet identifier not currently in use ([MQTT-2.3.1-2]; wrapping from
    /// 65535 to 1) and records it as awaiting `awaiting`.
    fn add_pending(&mut self, awaiting: Await, sent: bool) -> Result<PacketId, ProtocolError> {
        if self.pending.is_full() {
            return Err(ProtocolError::InflightFull);
        }
        // At most N identifiers are in use, so this finds a free one within N + 1 tries.
        loop {
            let id = self.next_id;
            self.next_id = id.next();
            if !self.is_pending(id) {
                // Cannot fail: the table has room.
                let _ = self.pending.push(Pending { id, awaiting, sent });
                return Ok(id);
            }
        }
    }

    /// Builds a PUBLISH. For QoS 1 and 2 it allocates a packet identifier and stores the
    /// encoded packet until it is acknowledged, so nothing is sent that could not be re-sent.
    ///
    /// # Errors
    /// [`ProtocolError::NotConnected`]; for QoS 1/2 [`ProtocolError::InflightFull`] or
    /// [`ProtocolError::StoreFull`] before anything is sent, or
    /// [`ProtocolError::Encode`] if the packet cannot be encoded (for example a payload that
    /// makes it larger than 268,435,455 bytes).
    pub fn publish<'p>(
        &mut self,
        topic: TopicName<'p>,
        payload: &'p [u8],
        qos: QoS,
        retain: bool,
        now: u64,
    ) -> Result<Publish<'p>, ProtocolError> {
        let len = Self::stored_len(topic, payload, retain);
        self.publish_len(topic, payload, qos, retain, now, len)
    }

    /// [`publish`](Self::publish) for a driver that knows `len`, the encoded length of the
    /// PUBLISH with a packet identifier.
    pub(crate) fn publish_len<'p>(
        &mut self,
        topic: TopicName<'p>,
        payload: &'p [u8],
        qos: QoS,
        retain: bool,
        now: u64,
        len: usize,
    ) -> Result<Publish<'p>, ProtocolError> {
        self.require_connected()?;
        let delivery = match qos {
            QoS::AtMostOnce => Delivery::AtMostOnce,
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                let id = self.queue(topic, payload, qos, retain, true, len)?;
                Delivery::new(qos, Some(id)).unwrap_or(Delivery::AtMostOnce)
            }
        };
        self.mark_sent(now);
        Ok(Publish::new(topic, payload, delivery, retain))
    }

    /// Queues a QoS 1/2 PUBLISH without sending it, in any phase: it allocates a packet
    /// identifier and stores the encoded packet, which [`resend`](Self::resend) and
    /// [`queued_publish`](Self::queued_publish) hand out (with DUP = 0 until
    /// [`mark_publish_sent`](Self::mark_publish_sent) is called). This is how a reconnecting
    /// client accepts a message while the connection is down without ever losing it.
    ///
    /// # Errors
    /// [`ProtocolError::NotQueueable`] for QoS 0 (nothing acknowledges it, so it is never
    /// stored), [`ProtocolError::InflightFull`], [`ProtocolError::StoreFull`] or
    /// [`ProtocolError::Encode`]; the session is then unchanged.
    pub fn queue_publish(
        &mut self,
        topic: TopicName<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<PacketId, ProtocolError> {
        let len = Self::stored_len(topic, payload, retain);
        self.queue(topic, payload, qos, retain, false, len)
    }

    /// The encoded length of a QoS 1/2 PUBLISH (the identifier changes bytes, never the
    /// length).
    fn stored_len(topic: TopicName<'_>, payload: &[u8], retain: bool) -> usize {
        let probe = Publish::new(topic, payload, Delivery::AtLeastOnce(PacketId::MIN), retain);
        Packet::Publish(probe).encoded_len()
    }

    /// [`queue_publish`](Self::queue_publish), recording at once whether the message is
    /// being sent now; `len` is its [`stored_len`](Self::stored_len).
    fn queue(
        &mut self,
        topic: TopicName<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        sent: bool,
        len: usize,
    ) -> Result<PacketId, ProtocolError> {
        if qos == QoS::AtMostOnce {
            return Err(ProtocolError::NotQueueable);
        }
        // Check the store before taking an id, so a refusal leaves the session as it was.
        if len > S - self.store.len() {
            return Err(ProtocolError::StoreFull { needed: len });
        }
        let at = self.store.len();
        let awaiting = match qos {
            QoS::AtLeastOnce => Await::PubAck { at, len },
            _ => Await::PubRec { at, len },
        };
        let id = self.add_pending(awaiting, sent)?;
        let delivery = Delivery::new(qos, Some(id)).unwrap_or(Delivery::AtMostOnce);
        // Cannot fail: the capacity was checked above.
        let _ = self.store.resize(at + len, 0);
        let dst = self.store.get_mut(at..).unwrap_or(&mut []);
        // The sending encoder, so that a client carries one PUBLISH encoder. `dst` holds
        // exactly `len` bytes, so the payload always fits behind the head.
        let packet = Packet::Publish(Publish::new(topic, payload, delivery, retain));
        if let Err(e) = crate::io::encode_for_send(dst, &packet) {
            // Undo: the entry just added is the last one.
            self.store.truncate(at);
            self.pending.pop();
            return Err(ProtocolError::Encode(e));
        }
        Ok(id)
    }

    /// Records that the queued PUBLISH `id` has been written to the connection, so that a
    /// later re-send carries DUP = 1.
    pub fn mark_publish_sent(&mut self, id: PacketId) {
        if let Some(p) = self.pending.iter_mut().find(|p| p.id == id) {
            p.sent = true;
        }
    }

    /// The queued PUBLISH `id` as it is to be sent now (DUP set if it was sent before), or
    /// `None` when `id` is not a PUBLISH awaiting PUBACK or PUBREC.
    pub fn queued_publish(&self, id: PacketId) -> Option<Packet<'_>> {
        let p = self.pending.iter().find(|p| p.id == id)?;
        self.stored_publish(p)
    }

    /// Decodes a stored PUBLISH and sets DUP when an earlier copy may have been sent.
    fn stored_publish(&self, p: &Pending) -> Option<Packet<'_>> {
        let (Await::PubAck { at, len } | Await::PubRec { at, len }) = p.awaiting else {
            return None;
        };
        let bytes = self.store.get(at..at + len)?;
        // The store holds only PUBLISH packets this session encoded: parse just that kind
        // (the general decoder would pull every packet parser into a client).
        let Ok(Status::Complete(header)) = crate::packet::peek_fixed_header(bytes) else {
            return None;
        };
        let body = bytes.get(header.header_len..)?;
        let mut publish = crate::wire::parse_body(body, |i| Publish::parse(header.flags, i)).ok()?;
        publish.dup = p.sent;
        Some(Packet::Publish(publish))
    }

    /// Builds a SUBSCRIBE for `topics` and records the SUBACK it expects.
    ///
    /// # Errors
    /// [`ProtocolError::NotConnected`], [`ProtocolError::InflightFull`], or
    /// [`ProtocolError::Encode`] with `EmptyPayload` for an empty list ([MQTT-3.8.3-3]).
    pub fn subscribe<'p>(
        &mut self,
        topics: &'p [Subscription<'p>],
        now: u64,
    ) -> Result<Packet<'p>, ProtocolError> {
        let count = topics.len();
        let packet_id = self.start_request(count, Await::SubAck { count }, now)?;
        Ok(Packet::Subscribe(crate::packet::Subscribe {
            packet_id,
            topics: Entries::new(topics),
        }))
    }

    /// Builds an UNSUBSCRIBE for `topics` and records the UNSUBACK it expects.
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe) ([MQTT-3.10.3-2] for an empty list).
    pub fn unsubscribe<'p>(
        &mut self,
        topics: &'p [TopicFilter<'p>],
        now: u64,
    ) -> Result<Packet<'p>, ProtocolError> {
        let packet_id = self.start_request(topics.len(), Await::UnsubAck, now)?;
        Ok(Packet::Unsubscribe(crate::packet::Unsubscribe {
            packet_id,
            topics: Entries::new(topics),
        }))
    }

    /// The common part of SUBSCRIBE and UNSUBSCRIBE: checks, allocates an identifier and
    /// records the acknowledgement expected for a request with `entries` entries.
    pub(crate) fn start_request(
        &mut self,
        entries: usize,
        awaiting: Await,
        now: u64,
    ) -> Result<PacketId, ProtocolError> {
        self.require_connected()?;
        if entries == 0 {
            return Err(ProtocolError::Encode(crate::EncodeError::EmptyPayload));
        }
        let id = self.add_pending(awaiting, true)?;
        self.mark_sent(now);
        Ok(id)
    }

    /// Builds a PINGREQ and starts waiting for its PINGRESP.
    ///
    /// # Errors
    /// [`ProtocolError::NotConnected`].
    pub fn ping(&mut self, now: u64) -> Result<Packet<'static>, ProtocolError> {
        self.require_connected()?;
        if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
        self.mark_sent(now);
        Ok(Packet::PingReq)
    }

    /// Builds a DISCONNECT; afterwards nothing more may be sent on this connection
    /// ([MQTT-3.14.4-2]) and the driver closes it ([MQTT-3.14.4-1]).
    ///
    /// # Errors
    /// [`ProtocolError::NotConnected`].
    pub fn disconnect(&mut self) -> Result<Packet<'static>, ProtocolError> {
        self.require_connected()?;
        self.connection_lost();
        Ok(Packet::Disconnect)
    }

    /// Tells the session the network connection is gone. Pending SUBSCRIBE/UNSUBSCRIBE
    /// requests are dropped (they are not re-sent); QoS 1/2 state is kept for a
    /// `clean_session = false` reconnect.
    pub fn connection_lost(&mut self) {
        self.phase = Phase::Disconnected;
        self.waiting_since = None;
        // `remove` keeps the order (re-sending needs it); smaller than heapless' `retain`.
        let mut i = 0;
        while let Some(p) = self.pending.get(i) {
            if matches!(p.awaiting, Await::SubAck { .. } | Await::UnsubAck) {
                self.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Packets to re-send after a resumed connection, in their original order
    /// ([MQTT-4.4.0-1], [MQTT-4.6.0-1]): each unacknowledged QoS 1/2 PUBLISH (DUP set if it
    /// was sent before, [MQTT-3.3.1-1]), and a PUBREL for each QoS 2 message that already got
    /// its PUBREC. Call [`resend_done`](Self::resend_done) once they are written.
    pub fn resend(&self) -> impl Iterator<Item = Packet<'_>> + '_ {
        self.pending.iter().filter_map(|p| match p.awaiting {
            Await::PubAck { .. } | Await::PubRec { .. } => self.stored_publish(p),
            Await::PubComp => Some(Packet::PubRel(p.id)),
            Await::SubAck { .. } | Await::UnsubAck => None,
        })
    }

    /// Records that every packet of [`resend`](Self::resend) was written at `now`.
    pub fn resend_done(&mut self, now: u64) {
        for p in self.pending.iter_mut() {
            p.sent = true;
        }
        self.mark_sent(now);
    }

    /// Removes the pending entry at `index`, releasing its stored bytes.
    fn remove(&mut self, index: usize) {
        let Some(entry) = self.pending.get(index).copied() else {
            return;
        };
        // Shift the later entries down one by one: `Vec::remove` is a `memmove` call, and
        // compiler_builtins' memmove is ~1.5 KB of flash on Cortex-M.
        for i in index + 1..self.pending.len() {
            if let Some(&next) = self.pending.get(i)
                && let Some(slot) = self.pending.get_mut(i - 1)
            {
                *slot = next;
            }
        }
        self.pending.pop();
        if let Await::PubAck { at, len } | Await::PubRec { at, len } = entry.awaiting {
            self.release(at, len);
        }
    }

    /// Drops `store[at..at + len]` and shifts the later entries down.
    fn release(&mut self, at: usize, len: usize) {
        let total = self.store.len();
        // A forward byte copy, not `copy_within` (a `memmove` call; see `remove`).
        for i in at + len..total {
            if let Some(&b) = self.store.get(i)
                && let Some(d) = self.store.get_mut(i - len)
            {
                *d = b;
            }
        }
        self.store.truncate(total - len);
        for p in self.pending.iter_mut() {
            if let Await::PubAck { at: a, .. } | Await::PubRec { at: a, .. } = &mut p.awaiting
                && *a > at
            {
                *a -= len;
            }
        }
    }

    fn find(&self, id: PacketId) -> Option<(usize, Await)> {
        self.pending
            .iter()
            .position(|p| p.id == id)
            .and_then(|i| Some((i, self.pending.get(i)?.awaiting)))
    }

    /// Processes one packet from the server.
    ///
    /// # Errors
    /// Every error means the connection must be closed:
    /// * [`ProtocolError::ConnectionRefused`] for a CONNACK with a non-zero code
    ///   ([MQTT-3.2.2-5]);
    /// * [`ProtocolError::UnexpectedPacket`] for anything before CONNACK ([MQTT-3.2.0-1]),
    ///   a second CONNACK, or a packet only a client sends;
    /// * [`ProtocolError::UnknownPacketId`] for an acknowledgement nobody is waiting for
    ///   ([MQTT-2.3.1-6], [MQTT-2.3.1-7]);
    /// * [`ProtocolError::SubAckCountMismatch`], [`ProtocolError::SessionPresentOnCleanSession`].
    ///
    /// An incoming QoS 2 message that finds all `N` identifier slots in use is not an error:
    /// it is left unacknowledged for the server to send again ([`Session::qos2_deferred`]).
    pub fn handle_packet<'p>(&mut self, packet: Packet<'p>, now: u64) -> Result<Incoming<'p>, ProtocolError> {
        let (verdict, reply) = self.judge_at(&packet, now)?;
        let event = match (verdict, packet) {
            (Verdict::Message, Packet::Publish(p)) => Some(Event::Message(p)),
            (Verdict::Subscribed(packet_id), Packet::SubAck(ack)) => Some(Event::Subscribed {
                packet_id,
                codes: ack.codes,
            }),
            (Verdict::Connected, Packet::ConnAck(ack)) => Some(Event::Connected {
                session_present: ack.session_present,
            }),
            (Verdict::Published(id), _) => Some(Event::Published(id)),
            (Verdict::Unsubscribed(id), _) => Some(Event::Unsubscribed(id)),
            (Verdict::Pong, _) => Some(Event::Pong),
            _ => None,
        };
        Ok(Incoming {
            event,
            reply: reply.map(Ack::packet),
        })
    }

    /// [`handle_packet`](Self::handle_packet) for a driver that keeps the packet: what it
    /// meant (a message or the SUBACK codes are read from `packet` itself, so nothing is
    /// copied) and the acknowledgement to send now.
    pub(crate) fn judge_at(
        &mut self,
        packet: &Packet<'_>,
        now: u64,
    ) -> Result<(Verdict, Option<Ack>), ProtocolError> {
        let judged = self.judge(packet)?;
        // Every acknowledgement the session asks for is sent straight away.
        if judged.1.is_some() {
            self.mark_sent(now);
        }
        Ok(judged)
    }

    /// [`handle_packet`](Self::handle_packet) without the send time. Kept out of line: a
    /// driver inlining it into its receive path grows by about 100 bytes on Cortex-M.
    #[inline(never)]
    fn judge(&mut self, packet: &Packet<'_>) -> Result<(Verdict, Option<Ack>), ProtocolError> {
        let ptype = packet.packet_type();
        let unexpected = Err(ProtocolError::UnexpectedPacket(ptype));
        if self.phase == Phase::Connecting {
            let Packet::ConnAck(ack) = *packet else {
                return unexpected;
            };
            if ack.code != ConnectReturnCode::Accepted {
                self.connection_lost();
                return Err(ProtocolError::ConnectionRefused(ack.code));
            }
            if ack.session_present && self.clean_session {
                // [MQTT-3.2.2-1]
                return Err(ProtocolError::SessionPresentOnCleanSession);
            }
            if !ack.session_present {
                // The server kept no session: the QoS 2 ids it has not released belong to a
                // session that no longer exists, and its new session may reuse them.
                self.incoming_qos2.clear();
            }
            self.qos2_deferred = false;
            self.phase = Phase::Connected;
            // The CONNECT is answered; no PINGREQ is out yet.
            self.waiting_since = None;
            return Ok((Verdict::Connected, None));
        }
        if self.phase != Phase::Connected {
            return unexpected;
        }
        // Every acknowledgement goes through one look-up of its packet identifier.
        let id = match *packet {
            Packet::Publish(ref p) => return Ok(self.handle_publish(p)),
            Packet::PubRel(id) => {
                // [MQTT-4.3.3-2] release the id; answer PUBCOMP even if it is unknown (the
                // PUBCOMP may have been lost before a reconnect).
                // The ids are distinct and their order does not matter: the last one takes
                // the place of the released one.
                if let Some(i) = self.incoming_qos2.iter().position(|&x| x == id)
                    && let Some(last) = self.incoming_qos2.pop()
                    && let Some(slot) = self.incoming_qos2.get_mut(i)
                {
                    *slot = last;
                }
                return Ok((Verdict::Quiet, Some(Ack::new(0x70, id))));
            }
            Packet::PingResp => {
                self.waiting_since = None;
                return Ok((Verdict::Pong, None));
            }
            Packet::PubAck(id) | Packet::PubRec(id) | Packet::PubComp(id) | Packet::UnsubAck(id) => id,
            Packet::SubAck(ref ack) => ack.packet_id,
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::Disconnect => return unexpected,
        };
        let unknown = Err(ProtocolError::UnknownPacketId(ptype, id));
        let Some((i, awaiting)) = self.find(id) else {
            return unknown;
        };
        let done = match (packet, awaiting) {
            (Packet::PubAck(_), Await::PubAck { .. }) | (Packet::PubComp(_), Await::PubComp) => {
                Verdict::Published(id)
            }
            (Packet::PubRec(_), Await::PubRec { at, len }) => {
                // [MQTT-4.3.3-1] from now on only PUBREL is sent for this id.
                if let Some(p) = self.pending.get_mut(i) {
                    p.awaiting = Await::PubComp;
                }
                self.release(at, len);
                return Ok((Verdict::Quiet, Some(Ack::new(0x62, id))));
            }
            // A repeated PUBREC (after a resend) gets the PUBREL again.
            (Packet::PubRec(_), Await::PubComp) => return Ok((Verdict::Quiet, Some(Ack::new(0x62, id)))),
            (Packet::SubAck(ack), Await::SubAck { count }) => {
                if ack.codes.len() != count {
                    return Err(ProtocolError::SubAckCountMismatch {
                        expected: count,
                        received: ack.codes.len(),
                    });
                }
                Verdict::Subscribed(id)
            }
            (Packet::UnsubAck(_), Await::UnsubAck) => Verdict::Unsubscribed(id),
            _ => return unknown,
        };
        self.remove(i);
        Ok((done, None))
    }

    /// [MQTT-3.3.4-1], [MQTT-4.3.2-2], [MQTT-4.3.3-2], [MQTT-4.5.0-2]: acknowledge per QoS,
    /// whether or not the application wants the message; deliver a QoS 2 message once.
    fn handle_publish(&mut self, p: &Publish<'_>) -> (Verdict, Option<Ack>) {
        match p.delivery {
            Delivery::AtMostOnce => (Verdict::Message, None),
            Delivery::AtLeastOnce(id) => (Verdict::Message, Some(Ack::new(0x40, id))),
            Delivery::ExactlyOnce(id) => {
                let first = !self.incoming_qos2.contains(&id);
                if first && self.incoming_qos2.push(id).is_err() {
                    // No room to remember the id: neither deliver nor acknowledge. The server
                    // keeps the message and sends it again after the next reconnect, once
                    // PUBRELs have freed the table ([`Session::qos2_deferred`]).
                    self.qos2_deferred = true;
                    return (Verdict::Quiet, None);
                }
                let verdict = if first { Verdict::Message } else { Verdict::Quiet };
                (verdict, Some(Ack::new(0x50, id)))
            }
        }
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do,
    /// or `None` when no timer runs.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Disconnected => None,
            Phase::Connecting => self
                .waiting_since
                .map(|t| t.saturating_add(self.response_timeout_ms)),
            Phase::Connected => {
                let ping = self.keep_alive_deadline();
                let pong = self
                    .waiting_since
                    .map(|t| t.saturating_add(self.response_timeout_ms));
                match (ping, pong) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    /// When the next PINGREQ is due: a keep-alive interval after the last send. It keeps
    /// running while an earlier PINGREQ is unanswered, so the client is never silent for
    /// longer than Keep Alive even when the response timeout is longer ([MQTT-3.1.2-23]).
    fn keep_alive_deadline(&self) -> Option<u64> {
        (self.keep_alive_ms > 0).then(|| self.last_sent.saturating_add(self.keep_alive_ms))
    }

    /// Runs the timers at `now`.
    ///
    /// Returns a PINGREQ to send when nothing has been sent for a keep-alive interval
    /// ([MQTT-3.1.2-23]).
    ///
    /// # Errors
    /// [`ProtocolError::ConnAckTimeout`] or [`ProtocolError::PingTimeout`] when the server
    /// has not answered within the response timeout: close the connection.
    pub fn handle_timeout(&mut self, now: u64) -> Result<Option<Packet<'static>>, ProtocolError> {
        Ok(self.run_timers(now)?.then_some(Packet::PingReq))
    }

    /// [`handle_timeout`](Self::handle_timeout) for a driver that sends the PINGREQ itself:
    /// returns whether one is due (and recorded as sent).
    pub(crate) fn run_timers(&mut self, now: u64) -> Result<bool, ProtocolError> {
        // The response timer: CONNACK while connecting, PINGRESP once connected.
        if self.phase == Phase::Disconnected {
            return Ok(false);
        }
        if self
            .waiting_since
            .is_some_and(|t| now >= t.saturating_add(self.response_timeout_ms))
        {
            return Err(if self.phase == Phase::Connecting {
                ProtocolError::ConnAckTimeout
            } else {
                ProtocolError::PingTimeout
            });
        }
        if self.phase == Phase::Connected && self.keep_alive_deadline().is_some_and(|due| now >= due) {
            self.ping(now)?;
            return Ok(true);
        }
        Ok(false)
    }
}
