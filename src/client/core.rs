//! [`Core`]: everything the blocking and the async client do that is not a read or a
//! write. It is sans-IO like the [`Session`] under it (time is passed in, bytes are handed
//! over): it frames the incoming byte stream into the receive buffer, feeds each packet to
//! the session, runs the callback, holds messages that arrive while a call waits for its
//! own acknowledgement, encodes every outgoing packet with the codec, and keeps the
//! deadlines of the call in progress. The two clients around it only move bytes.

use heapless::Vec;

use super::error::{Awaited, ClientError};
use super::store::{self, Persistence, SessionStore};
use super::{Callback, ClientOptions};
use crate::error::{DecodeError, EncodeError};
use crate::packet::{
    Connect, Entries, LastWill, Packet, Publish, SubAckReturnCode, Subscribe, Subscription, Unsubscribe,
};
use crate::packet::{decode_from_server, peek_fixed_header};
use crate::session::{Change, Event, Phase, ProtocolError, Session, StoreError};
use crate::status::Status;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{Delivery, PacketId, PacketType, QoS};

/// A small packet encoded by the codec (PINGREQ, DISCONNECT, an acknowledgement).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Small {
    buf: [u8; 4],
    len: usize,
}

impl Small {
    /// Encodes one of the packets of at most four bytes a client sends.
    pub(crate) fn encode(packet: &Packet<'_>) -> Self {
        let mut buf = [0u8; 4];
        // These packets always fit in four bytes and pass every encoder check.
        let len = packet.encode_for_send(&mut buf).map_or(0, |(n, _)| n);
        Self { buf, len }
    }

    /// The encoded bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The acknowledgement of an incoming message, as the packet it answers asks for.
    fn ack(delivery: Delivery) -> Option<Self> {
        match delivery {
            Delivery::AtMostOnce => None,
            Delivery::AtLeastOnce(id) => Some(Self::encode(&Packet::PubAck(id))),
            Delivery::ExactlyOnce(id) => Some(Self::encode(&Packet::PubRec(id))),
        }
    }

    /// The packet identifier of a PUBREC.
    fn pubrec_id(&self) -> Option<PacketId> {
        match self.bytes() {
            [0x50, 2, hi, lo] => PacketId::new(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

/// A PUBLISH to write: its packet identifier (QoS 1/2), the encoded bytes, and the payload
/// still to write after them when it did not fit in the transmit buffer.
pub(crate) type Outgoing<'m> = (Option<PacketId>, &'m [u8], &'m [u8]);

/// What one processed packet meant to the call that is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A message to hand to the caller of `wait_msg`/`check_msg` (see [`Core::message`]).
    Message,
    /// A message went to the callback, or was held for a later `wait_msg`.
    Delivered,
    /// CONNACK accepted, with Session Present.
    Connected(bool),
    /// The QoS 1/2 message is fully acknowledged.
    Published(PacketId),
    /// SUBACK, with the first return code: the granted QoS, or `None` for a refusal.
    Subscribed(PacketId, Option<QoS>),
    /// UNSUBACK.
    Unsubscribed(PacketId),
    /// PINGRESP.
    Pong,
    /// Nothing the application sees (a PUBREL, PUBREC, a repeated QoS 2 message).
    Quiet,
    /// A packet larger than the space in the receive buffer was skipped.
    Skipped(PacketType, usize),
}

/// Where the message handed to the caller lies, to be dropped at the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handed {
    None,
    /// The first held message, `len` bytes at the front of `rx`.
    Front(usize),
    /// The packet just read, right behind the held messages.
    Frame,
}

/// The blocking and async clients' shared state: the session, the buffers, the options,
/// the incoming packet being read and the deadline of the call in progress.
pub(crate) struct Core<'b, const N: usize, const S: usize> {
    pub(crate) session: Session<N, S>,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    client_id: &'b str,
    pub(crate) options: ClientOptions<'b>,
    pub(crate) will: Option<LastWill<'b>>,
    pub(crate) callback: Option<Callback<'b>>,
    /// `rx[..held]`: whole messages that arrived while a call waited for something else.
    held: usize,
    /// Bytes of the packet being read, at `rx[held..held + have]`.
    have: usize,
    /// Its full length, once its fixed header is in.
    total: Option<usize>,
    /// Bytes still to skip of a packet that did not fit, and its type and length.
    discard: usize,
    skipping: Option<(PacketType, usize)>,
    /// When the first byte of the packet being read (or skipped) arrived.
    started: u64,
    /// What the call in progress waits for, and until when.
    expect: Option<(Awaited, u64)>,
    handed: Handed,
    /// Whether the call in progress waits for something other than a message, so that
    /// messages arriving meanwhile are held (without a callback) for a later `wait_msg`.
    holding: bool,
    skipped: u32,
    scratch: [u8; 8],
    /// Where the session is kept across resets, if anywhere.
    persistence: Option<Persistence<'b, N, S>>,
    /// The acknowledgement of the message handed to the caller, sent when the caller
    /// comes back (it has then finished with the message).
    owed: Option<Small>,
    /// Incoming QoS 2 messages handed out or held but not yet acknowledged: a repeat of
    /// one is not answered either.
    taken_qos2: Vec<PacketId, N>,
}

impl<'b, const N: usize, const S: usize> Core<'b, N, S> {
    pub(crate) fn new(client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self {
            session: Session::new(),
            rx,
            tx,
            client_id,
            options: ClientOptions::default(),
            will: None,
            callback: None,
            held: 0,
            have: 0,
            total: None,
            discard: 0,
            skipping: None,
            started: 0,
            expect: None,
            handed: Handed::None,
            holding: false,
            skipped: 0,
            scratch: [0; 8],
            persistence: None,
            owed: None,
            taken_qos2: Vec::new(),
        }
    }

    /// Keeps the session in `store` from now on, first restoring what it holds.
    pub(crate) fn set_store(&mut self, store: &'b mut dyn SessionStore) -> Result<(), StoreError> {
        store::restore(store, &mut self.session)?;
        self.persistence = Some(Persistence::new(store));
        Ok(())
    }

    /// Writes a change the session already holds to the store, if there is one; a store
    /// failure ends the connection.
    fn persist<E>(&mut self, change: Change<'_>) -> Result<(), ClientError<E>> {
        store::persist(&mut self.persistence, &self.session, change).map_err(|e| self.fail(e.into()))
    }

    /// Length of the receive buffer.
    pub(crate) fn rx_len(&self) -> usize {
        self.rx.len()
    }

    /// Queues a QoS 1/2 message in the session's re-send store without sending it.
    pub(crate) fn queue_publish<E>(
        &mut self,
        topic: TopicName<'_>,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<PacketId, ClientError<E>> {
        if qos != QoS::AtMostOnce {
            self.check_storable(topic, msg, retain)?;
        }
        let id = self.session.queue_publish(topic, msg, qos, retain)?;
        let stored = self.session.publish_bytes(id).unwrap_or(&[]);
        let result = store::persist(&mut self.persistence, &self.session, Change::Queued(stored));
        if let Err(e) = result {
            // Not accepted: nothing of it may be sent.
            self.session.forget_publish(id);
            return Err(self.fail(e.into()));
        }
        Ok(id)
    }

    /// Packets skipped so far because they did not fit in the receive buffer.
    pub(crate) const fn skipped(&self) -> u32 {
        self.skipped
    }

    /// Messages held for `wait_msg`/`check_msg`.
    pub(crate) fn held_messages(&self) -> usize {
        let mut rest = self.rx.get(..self.held).unwrap_or(&[]);
        let mut count = 0;
        while let Ok(Status::Complete(h)) = peek_fixed_header(rest) {
            count += 1;
            rest = rest.get(h.packet_len()..).unwrap_or(&[]);
        }
        count
    }

    /// Starts a call: drops the message handed out by the previous one and returns its
    /// acknowledgement to send, if connected (the caller has finished with the message; an
    /// incoming QoS 2 message is recorded in the store first). `holding`: the call waits
    /// for something other than a message (see [`Core::held_messages`]).
    pub(crate) fn begin<E>(&mut self, holding: bool) -> Result<Option<Small>, ClientError<E>> {
        self.holding = holding;
        self.drop_handed();
        let Some(ack) = self.owed.take() else {
            return Ok(None);
        };
        if let Some(id) = ack.pubrec_id() {
            if let Some(at) = self.taken_qos2.iter().position(|&x| x == id) {
                self.taken_qos2.swap_remove(at);
            }
            if self.session.holds_incoming(id) {
                self.persist(Change::Received(id))?;
            }
        }
        // Every call begins here, so the connection the message came on is still the
        // current one unless it was lost (`connect` then begins while disconnected).
        Ok((self.session.phase() == Phase::Connected).then_some(ack))
    }

    fn drop_handed(&mut self) {
        match core::mem::replace(&mut self.handed, Handed::None) {
            Handed::None => {}
            Handed::Frame => self.end_frame(),
            Handed::Front(len) => {
                let end = self.held + self.have;
                if let Some(live) = self.rx.get_mut(..end) {
                    crate::wire::shift_down(live, len, 0);
                }
                self.held -= len;
            }
        }
    }

    /// The connection is gone: the session keeps its QoS 1/2 state, the packet being read
    /// is abandoned, the held messages stay deliverable.
    pub(crate) fn connection_lost(&mut self) {
        self.session.connection_lost();
        self.have = 0;
        self.total = None;
        self.discard = 0;
        self.expect = None;
    }

    /// Ends the connection because of `e` and returns it.
    pub(crate) fn fail<E>(&mut self, e: ClientError<E>) -> ClientError<E> {
        if e.ends_connection() {
            self.connection_lost();
        }
        e
    }

    // --- outgoing -------------------------------------------------------------------------

    /// Encodes CONNECT into the transmit buffer and starts the connect timeout.
    pub(crate) fn start_connect<E>(
        &mut self,
        clean_session: bool,
        now: u64,
    ) -> Result<&[u8], ClientError<E>> {
        let connect = Connect {
            clean_session,
            keep_alive: self.options.keep_alive,
            client_id: self.client_id,
            will: self.will,
            username: self.options.user,
            password: self.options.password,
        };
        // Encoded first, so a CONNECT that does not fit changes nothing.
        let n = encode_into(self.tx, &Packet::Connect(connect))?;
        if clean_session && let Some(p) = self.persistence.as_mut() {
            p.store.clear()?;
        }
        self.session.set_response_timeout(self.options.connect_timeout_ms);
        self.session.connect(connect, now)?;
        self.expect = Some((
            Awaited::ConnAck,
            now.saturating_add(self.options.connect_timeout_ms),
        ));
        Ok(self.tx.get(..n).unwrap_or(&[]))
    }

    /// Prepares a PUBLISH. QoS 0 is encoded into the transmit buffer (a payload that does
    /// not fit is returned to be written after it); QoS 1 and 2 are encoded once, into the
    /// session's re-send store, and sent from there. Nothing is recorded when this fails.
    pub(crate) fn start_publish<'m, E>(
        &'m mut self,
        topic: TopicName<'m>,
        msg: &'m [u8],
        retain: bool,
        qos: QoS,
    ) -> Result<Outgoing<'m>, ClientError<E>> {
        if self.session.phase() != Phase::Connected {
            return Err(ProtocolError::NotConnected.into());
        }
        if qos == QoS::AtMostOnce {
            let packet = Packet::Publish(Publish::new(topic, msg, Delivery::AtMostOnce, retain));
            let (n, tail) = packet.encode_for_send(self.tx)?;
            // What is left to write is the payload, when it did not fit behind the head.
            let tail = if tail.is_empty() { &[][..] } else { msg };
            return Ok((None, self.tx.get(..n).unwrap_or(&[]), tail));
        }
        let id = self.queue_publish(topic, msg, retain, qos)?;
        Ok((Some(id), self.session.publish_bytes(id).unwrap_or(&[]), &[]))
    }

    /// Refuses a QoS 1/2 message that could never fit in the re-send store, with the size
    /// it needs (a store that is only full for now says `StoreFull`).
    fn check_storable<E>(
        &self,
        topic: TopicName<'_>,
        msg: &[u8],
        retain: bool,
    ) -> Result<(), ClientError<E>> {
        let probe = Publish::new(topic, msg, Delivery::AtLeastOnce(PacketId::MIN), retain);
        let needed = Packet::Publish(probe).encoded_len();
        if needed > self.session.store_capacity() {
            return Err(ClientError::MessageTooLarge {
                needed,
                capacity: self.session.store_capacity(),
            });
        }
        Ok(())
    }

    /// Records that the PUBLISH was written (or that writing it was attempted) at `now`, and
    /// starts waiting for its acknowledgement.
    pub(crate) fn published(&mut self, id: Option<PacketId>, now: u64) {
        self.session.mark_sent(now);
        if let Some(id) = id {
            self.session.mark_publish_sent(id);
            self.expect = None;
            self.expect_ack(id, now);
        }
    }

    /// Starts the deadline for the next acknowledgement of the QoS 1/2 message `id`, unless
    /// one already runs for it (a re-sent message waited for again after a reconnect gets
    /// a fresh one from `now`).
    pub(crate) fn expect_ack(&mut self, id: PacketId, now: u64) {
        if let Some((Awaited::PubAck(w) | Awaited::PubRec(w) | Awaited::PubComp(w), _)) = self.expect
            && w == id
        {
            return;
        }
        let awaited = match self.session.awaiting(id) {
            Some(PacketType::PubAck) => Awaited::PubAck(id),
            Some(PacketType::PubRec) => Awaited::PubRec(id),
            Some(PacketType::PubComp) => Awaited::PubComp(id),
            _ => return,
        };
        self.expect_reply(awaited, now);
    }

    /// Encodes a SUBSCRIBE for one filter into the transmit buffer.
    pub(crate) fn start_subscribe<E>(
        &mut self,
        filter: TopicFilter<'_>,
        qos: QoS,
        now: u64,
    ) -> Result<(PacketId, &[u8]), ClientError<E>> {
        let topics = [Subscription { filter, qos }];
        // Checked with a placeholder identifier first, so a refusal records nothing.
        let probe = Packet::Subscribe(Subscribe {
            packet_id: PacketId::MIN,
            topics: Entries::new(&topics),
        });
        encode_into(self.tx, &probe)?;
        let packet = self.session.subscribe(&topics, now)?;
        let id = request_id(&packet);
        let n = encode_into(self.tx, &packet)?;
        self.expect_reply(Awaited::SubAck(id), now);
        Ok((id, self.tx.get(..n).unwrap_or(&[])))
    }

    /// Encodes an UNSUBSCRIBE for one filter into the transmit buffer.
    pub(crate) fn start_unsubscribe<E>(
        &mut self,
        filter: TopicFilter<'_>,
        now: u64,
    ) -> Result<(PacketId, &[u8]), ClientError<E>> {
        let topics = [filter];
        let probe = Packet::Unsubscribe(Unsubscribe {
            packet_id: PacketId::MIN,
            topics: Entries::new(&topics),
        });
        encode_into(self.tx, &probe)?;
        let packet = self.session.unsubscribe(&topics, now)?;
        let id = request_id(&packet);
        let n = encode_into(self.tx, &packet)?;
        self.expect_reply(Awaited::UnsubAck(id), now);
        Ok((id, self.tx.get(..n).unwrap_or(&[])))
    }

    /// Sets the connect and response timeouts, in force at once.
    pub(crate) fn set_response_timeout(&mut self, ms: u64) {
        self.options.connect_timeout_ms = ms;
        self.options.response_timeout_ms = ms;
        let session_timeout = match self.session.phase() {
            Phase::Connected => self.ping_timeout(),
            _ => ms,
        };
        self.session.set_response_timeout(session_timeout);
    }

    /// How long a PINGRESP may take: the response timeout, but at most half the keep-alive
    /// interval, so that a dead server is noticed within 1.5 times keep-alive (the bound the
    /// spec gives a server for a silent client, [MQTT-3.1.2-24]).
    fn ping_timeout(&self) -> u64 {
        let half_keep_alive = u64::from(self.options.keep_alive) * 500;
        match half_keep_alive {
            0 => self.options.response_timeout_ms,
            half => half.min(self.options.response_timeout_ms),
        }
    }

    fn expect_reply(&mut self, awaited: Awaited, now: u64) {
        self.expect = Some((awaited, now.saturating_add(self.options.response_timeout_ms)));
    }

    /// Stops waiting (the call in progress returns).
    pub(crate) fn expect_nothing(&mut self) {
        self.expect = None;
    }

    // --- time -----------------------------------------------------------------------------

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work to do.
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        let packet_end = (self.have > 0 || self.discard > 0)
            .then(|| self.started.saturating_add(self.options.packet_timeout_ms));
        [
            self.session.poll_timeout(),
            packet_end,
            self.expect.map(|(_, t)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer at `now`: returns a PINGREQ to send when keep-alive is due, or the
    /// error of a deadline that passed (which ends the connection).
    pub(crate) fn handle_timeout<E>(&mut self, now: u64) -> Result<Option<Small>, ClientError<E>> {
        let packet_end = self.started.saturating_add(self.options.packet_timeout_ms);
        if (self.have > 0 || self.discard > 0) && now >= packet_end {
            let awaited = Awaited::PacketEnd {
                received: if self.discard > 0 { 0 } else { self.have },
                length: self.total.or((self.discard > 0).then_some(self.discard)),
            };
            return Err(self.fail(ClientError::Timeout {
                awaited,
                after_ms: self.options.packet_timeout_ms,
            }));
        }
        if let Some((awaited, deadline)) = self.expect
            && now >= deadline
        {
            let after_ms = match awaited {
                Awaited::ConnAck => self.options.connect_timeout_ms,
                _ => self.options.response_timeout_ms,
            };
            return Err(self.fail(ClientError::Timeout { awaited, after_ms }));
        }
        match self.session.handle_timeout(now) {
            Ok(ping) => Ok(ping.as_ref().map(Small::encode)),
            Err(e) => {
                let awaited = match e {
                    ProtocolError::ConnAckTimeout => Awaited::ConnAck,
                    _ => Awaited::PingResp,
                };
                let after_ms = self.session.response_timeout();
                Err(self.fail(ClientError::Timeout { awaited, after_ms }))
            }
        }
    }

    // --- incoming -------------------------------------------------------------------------

    /// Whether part of a packet has arrived (the rest must follow within the packet
    /// timeout).
    pub(crate) fn mid_packet(&self) -> bool {
        self.have > 0 || self.discard > 0
    }

    /// Where the transport should read into next: never past the packet being read.
    pub(crate) fn read_buf(&mut self) -> &mut [u8] {
        let start = self.held + self.have;
        if self.discard > 0 {
            let room = self.rx.len() - self.held;
            return if room >= self.scratch.len() {
                let end = self.held + room.min(self.discard);
                self.rx.get_mut(self.held..end).unwrap_or(&mut [])
            } else {
                let end = self.scratch.len().min(self.discard);
                self.scratch.get_mut(..end).unwrap_or(&mut [])
            };
        }
        let want = match self.total {
            Some(total) => total - self.have,
            // The fixed header: ask for exactly as many bytes as it still needs.
            None => match peek_fixed_header(self.rx.get(self.held..start).unwrap_or(&[])) {
                Ok(Status::Partial { needed }) => needed.get(),
                _ => 1,
            },
        };
        self.rx.get_mut(start..start + want).unwrap_or(&mut [])
    }

    /// Takes `n` bytes just read into [`read_buf`](Self::read_buf) at `now`. Once a packet
    /// is complete it is processed: returns what it meant and the acknowledgement to send.
    ///
    /// # Errors
    /// A malformed packet or a protocol violation; the connection is then over.
    pub(crate) fn handle_read<E>(
        &mut self,
        n: usize,
        now: u64,
    ) -> Result<Option<(Step, Option<Small>)>, ClientError<E>> {
        if n == 0 {
            return Ok(None);
        }
        if self.discard > 0 {
            self.discard = self.discard.saturating_sub(n);
            return Ok(match (self.discard, self.skipping) {
                (0, Some((t, len))) => {
                    self.skipping = None;
                    Some((Step::Skipped(t, len), None))
                }
                _ => None,
            });
        }
        if self.have == 0 {
            self.started = now;
        }
        self.have += n;
        let total = match self.total {
            Some(total) => total,
            None => {
                let header = self.rx.get(self.held..self.held + self.have).unwrap_or(&[]);
                let header = match peek_fixed_header(header) {
                    Ok(Status::Complete(h)) => h,
                    Ok(Status::Partial { .. }) => return Ok(None),
                    Err(e) => return Err(self.fail(ClientError::Malformed(e))),
                };
                let total = header.packet_len();
                if total > self.room_for(header.packet_type) {
                    // Skipped before the session sees it, so a QoS 1/2 message stays
                    // unacknowledged (the server still owns it), and the stream stays
                    // framed.
                    self.discard = total - self.have;
                    self.have = 0;
                    self.skipping = Some((header.packet_type, total));
                    self.skipped = self.skipped.saturating_add(1);
                    return Ok(None);
                }
                self.total = Some(total);
                total
            }
        };
        if self.have < total {
            return Ok(None);
        }
        self.process(now).map(Some)
    }

    /// The largest packet of type `t` that can be taken now. A message that would be held
    /// leaves room behind it for the acknowledgement the call is waiting for.
    fn room_for(&self, t: PacketType) -> usize {
        let room = self.rx.len() - self.held;
        if t == PacketType::Publish && self.holding && self.callback.is_none() {
            room.saturating_sub(MIN_RX)
        } else {
            room
        }
    }

    /// Processes the complete packet at `rx[held..held + have]`.
    fn process<E>(&mut self, now: u64) -> Result<(Step, Option<Small>), ClientError<E>> {
        let frame = self.rx.get(self.held..self.held + self.have).unwrap_or(&[]);
        let sent_before = self.session.last_sent();
        let (step, mut reply, change) = match judge(&mut self.session, &mut self.callback, frame, now) {
            Ok(judged) => judged,
            Err(e) => return Err(self.fail(e)),
        };
        if matches!(step, Step::Message) && self.callback.is_none() {
            // Without a callback the caller takes the message now or later: it is
            // acknowledged once the caller has finished with it, at its next call (see
            // `begin` and `pop_held`), so a reset in between loses nothing. Nothing is sent
            // now. (A callback has finished with it when it returns.)
            self.session.unmark_sent(sent_before);
            if let Some(Change::Received(id)) = change {
                // At most N: the session holds every such id.
                let _ = self.taken_qos2.push(id);
            }
            self.owed = if self.holding { None } else { reply };
            reply = None;
        } else if let Some(id) = reply.as_ref().and_then(Small::pubrec_id)
            && matches!(step, Step::Quiet)
            && self.taken_qos2.contains(&id)
        {
            // A repeat of a message the caller has not finished with: answered with it.
            reply = None;
        } else if let Some(change) = change {
            // Written before the reply that depends on it goes out.
            self.persist(change)?;
        }
        if let Step::Connected(_) = step {
            self.session.set_response_timeout(self.ping_timeout());
        }
        match (step, self.expect) {
            (Step::Connected(_), Some((Awaited::ConnAck, _))) => self.expect = None,
            (Step::Published(id), Some((Awaited::PubAck(w) | Awaited::PubComp(w), _)))
            | (Step::Subscribed(id, _), Some((Awaited::SubAck(w), _)))
            | (Step::Unsubscribed(id), Some((Awaited::UnsubAck(w), _)))
                if id == w =>
            {
                self.expect = None;
            }
            (Step::Quiet, Some((Awaited::PubRec(w), _))) if reply_is(&reply, &Packet::PubRel(w)) => {
                // The PUBREC arrived; now the PUBCOMP has its own response time.
                self.expect_reply(Awaited::PubComp(w), now);
            }
            _ => {}
        }
        Ok((self.settle(step), reply))
    }

    /// Decides what happens to the packet just processed: a message is handed to the
    /// caller of `wait_msg`, or held while another call waits; anything else is done with.
    fn settle(&mut self, step: Step) -> Step {
        if !matches!(step, Step::Message) {
            self.end_frame();
            return step;
        }
        if !self.holding {
            self.handed = Handed::Frame;
            return Step::Message;
        }
        if self.callback.is_none() {
            // Keep it whole for a later `wait_msg`/`check_msg`.
            self.held += self.have;
            self.have = 0;
            self.total = None;
        } else {
            self.end_frame();
        }
        Step::Delivered
    }

    fn end_frame(&mut self) {
        self.have = 0;
        self.total = None;
    }

    /// Whether messages are held for the caller.
    pub(crate) fn has_held(&self) -> bool {
        self.held > 0
    }

    /// Hands out the first held message: it is dropped at the next call.
    pub(crate) fn pop_held(&mut self) -> Option<Publish<'_>> {
        let Ok(Status::Complete((Packet::Publish(p), len))) = decode_from_server(self.rx.get(..self.held)?)
        else {
            return None;
        };
        self.handed = Handed::Front(len);
        self.owed = Small::ack(p.delivery);
        deliver(&mut self.callback, &p);
        Some(p)
    }

    /// The message handed to the caller by the call that just returned, if any.
    pub(crate) fn handed(&self) -> Option<Publish<'_>> {
        match self.handed {
            Handed::None => None,
            Handed::Frame => self.message(),
            Handed::Front(len) => match decode_from_server(self.rx.get(..len)?) {
                Ok(Status::Complete((Packet::Publish(p), _))) => Some(p),
                _ => None,
            },
        }
    }

    /// The message of the last [`Step::Message`].
    fn message(&self) -> Option<Publish<'_>> {
        let frame = self.rx.get(self.held..self.held + self.have)?;
        match decode_from_server(frame) {
            Ok(Status::Complete((Packet::Publish(p), _))) => Some(p),
            _ => None,
        }
    }
}

/// Room kept free behind held messages: enough for any acknowledgement or PINGRESP.
const MIN_RX: usize = 8;

/// Whether `reply` is the encoding of `packet`.
fn reply_is(reply: &Option<Small>, packet: &Packet<'_>) -> bool {
    reply.is_some_and(|r| r.bytes() == Small::encode(packet).bytes())
}

/// Decodes one complete packet from the server, lets the session judge it and runs the
/// callback on a message. Returns what it meant, the acknowledgement to send, and the
/// change of the session that a store must keep.
fn judge<E, const N: usize, const S: usize>(
    session: &mut Session<N, S>,
    callback: &mut Option<Callback<'_>>,
    frame: &[u8],
    now: u64,
) -> Result<(Step, Option<Small>, Option<Change<'static>>), ClientError<E>> {
    let packet = match decode_from_server(frame) {
        Ok(Status::Complete((packet, _))) => packet,
        Ok(Status::Partial { .. }) => return Err(ClientError::Malformed(DecodeError::UnexpectedEnd)),
        Err(DecodeError::UnexpectedPacketType(t)) => return Err(ProtocolError::UnexpectedPacket(t).into()),
        Err(e) => return Err(ClientError::Malformed(e)),
    };
    // Judged before the session changes.
    let change = match packet {
        Packet::PubAck(id) | Packet::PubComp(id) => Some(Change::Completed(id)),
        Packet::PubRec(id) if session.awaiting(id) == Some(PacketType::PubRec) => Some(Change::Released(id)),
        Packet::PubRel(id) if session.holds_incoming(id) => Some(Change::Freed(id)),
        Packet::Publish(Publish {
            delivery: Delivery::ExactlyOnce(id),
            ..
        }) if !session.holds_incoming(id) => Some(Change::Received(id)),
        _ => None,
    };
    let incoming = session.handle_packet(packet, now)?;
    let reply = incoming.reply.as_ref().map(Small::encode);
    // Only for what the session took (a QoS 2 message it had no room for is not taken).
    let change = match (change, &incoming.event) {
        (Some(Change::Received(_)), None) => None,
        (change, _) => change,
    };
    let step = match incoming.event {
        None => Step::Quiet,
        Some(Event::Message(p)) => {
            deliver(callback, &p);
            Step::Message
        }
        Some(Event::Connected { session_present }) => Step::Connected(session_present),
        Some(Event::Published(id)) => Step::Published(id),
        Some(Event::Subscribed { packet_id, codes }) => {
            let granted = match codes.first() {
                Some(SubAckReturnCode::Success(q)) => Some(q),
                _ => None,
            };
            Step::Subscribed(packet_id, granted)
        }
        Some(Event::Unsubscribed(id)) => Step::Unsubscribed(id),
        Some(Event::Pong) => Step::Pong,
    };
    Ok((step, reply, change))
}

/// Hands a message to the callback, if there is one.
fn deliver(callback: &mut Option<Callback<'_>>, p: &Publish<'_>) {
    match callback {
        Some(Callback::Simple(cb)) => cb(p.topic.as_str(), p.payload),
        Some(Callback::Full(cb)) => cb(p),
        None => {}
    }
}

/// The identifier the session gave a SUBSCRIBE or UNSUBSCRIBE.
fn request_id(packet: &Packet<'_>) -> PacketId {
    match packet {
        Packet::Subscribe(s) => s.packet_id,
        Packet::Unsubscribe(u) => u.packet_id,
        _ => PacketId::MIN,
    }
}

/// Encodes `packet` (all of it) into `tx`.
fn encode_into(tx: &mut [u8], packet: &Packet<'_>) -> Result<usize, EncodeError> {
    let (n, tail) = packet.encode_for_send(tx)?;
    if tail.is_empty() {
        Ok(n)
    } else {
        Err(EncodeError::BufferTooSmall {
            needed: n + tail.len(),
        })
    }
}
