//! What the client sends: packet identifiers, the re-send store of QoS 1/2 messages, and
//! the commands ([`Session::publish`], [`Session::subscribe`], [`Session::unsubscribe`],
//! [`Session::ping`], [`Session::disconnect`]).

use super::connect::decode_stored;
use super::{Awaiting, Pending, ProtocolError, Session};
use crate::error::EncodeError;
use crate::packet::{Entries, Packet, Publish, Subscribe, Subscription, Unsubscribe};
use crate::topic::{TopicFilter, TopicName};
use crate::types::{Delivery, PacketId, QoS};

/// The DUP flag in byte 0 of a PUBLISH ([MQTT-3.3.1-1]).
pub(super) const DUP: u8 = 0x08;

impl<const N: usize, const S: usize> Session<N, S> {
    /// Allocates a packet identifier not currently in use ([MQTT-2.3.1-2]; wrapping from
    /// 65535 to 1) and records it as awaiting `awaiting`.
    fn add_pending(&mut self, awaiting: Awaiting) -> Result<PacketId, ProtocolError> {
        if self.pending.is_full() {
            return Err(ProtocolError::InflightFull);
        }
        // At most N identifiers are in use, so this finds a free one within N + 1 tries.
        loop {
            let id = self.next_id;
            self.next_id = id.next();
            if !self.is_pending(id) {
                // Cannot fail: the table has room.
                let _ = self.pending.push(Pending { id, awaiting });
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
        self.require_connected()?;
        let delivery = match qos {
            QoS::AtMostOnce => Delivery::AtMostOnce,
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                let id = self.queue_publish(topic, payload, qos, retain)?;
                // The caller sends the packet returned here; any later copy is a re-send.
                self.mark_publish_sent(id);
                Delivery::new(qos, Some(id)).unwrap_or(Delivery::AtMostOnce)
            }
        };
        self.mark_sent(now);
        Ok(Publish::new(topic, payload, delivery, retain))
    }

    /// Queues a QoS 1/2 PUBLISH without sending it, in any phase: it allocates a packet
    /// identifier and stores the encoded packet, which
    /// [`publish_bytes`](Self::publish_bytes) and [`retransmits`](Self::retransmits) hand
    /// out (with DUP = 0 until [`mark_publish_sent`](Self::mark_publish_sent) is called).
    /// This is how a client encodes a message exactly once, and how a reconnecting client
    /// accepts a message while the connection is down without ever losing it.
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
        if qos == QoS::AtMostOnce {
            return Err(ProtocolError::NotQueueable);
        }
        // The identifier changes bytes, never the length.
        let probe = Publish::new(topic, payload, Delivery::AtLeastOnce(PacketId::MIN), retain);
        let len = Packet::Publish(probe).encoded_len();
        // Check the store before taking an id, so a refusal leaves the session as it was.
        if len > S - self.store.len() {
            return Err(ProtocolError::StoreFull { needed: len });
        }
        let at = self.store.len();
        let awaiting = match qos {
            QoS::AtLeastOnce => Awaiting::PubAck { at, len },
            _ => Awaiting::PubRec { at, len },
        };
        let id = self.add_pending(awaiting)?;
        let delivery = Delivery::new(qos, Some(id)).unwrap_or(Delivery::AtMostOnce);
        // Cannot fail: the capacity was checked above.
        let _ = self.store.resize(at + len, 0);
        let dst = self.store.get_mut(at..).unwrap_or(&mut []);
        // `dst` holds exactly `len` bytes, so the payload always fits behind the head.
        let packet = Packet::Publish(Publish::new(topic, payload, delivery, retain));
        if let Err(e) = packet.encode_for_send(dst) {
            // Undo: the entry just added is the last one.
            self.store.truncate(at);
            self.pending.pop();
            return Err(ProtocolError::Encode(e));
        }
        Ok(id)
    }

    /// The largest QoS 1/2 PUBLISH (encoded) the store could ever hold: `S`.
    pub const fn store_capacity(&self) -> usize {
        S
    }

    /// Records that the queued PUBLISH `id` has been written to the connection (or that a
    /// write was attempted), so that any later copy carries DUP = 1: the flag is set in the
    /// stored bytes.
    pub fn mark_publish_sent(&mut self, id: PacketId) {
        if let Some((_, awaiting)) = self.find(id)
            && let Some((at, _)) = awaiting.stored()
            && let Some(byte0) = self.store.get_mut(at)
        {
            *byte0 |= DUP;
        }
    }

    /// The stored bytes of the queued PUBLISH `id`, as they are to be sent now (DUP set if
    /// it was sent before), or `None` when `id` is not a PUBLISH awaiting PUBACK or PUBREC.
    pub fn publish_bytes(&self, id: PacketId) -> Option<&[u8]> {
        let (at, len) = self.find(id)?.1.stored()?;
        self.store.get(at..at + len)
    }

    /// [`publish_bytes`](Self::publish_bytes) decoded into a packet.
    pub fn queued_publish(&self, id: PacketId) -> Option<Packet<'_>> {
        decode_stored(self.publish_bytes(id)?).map(Packet::Publish)
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
        let packet_id = self.request(count, Awaiting::SubAck { count }, now)?;
        Ok(Packet::Subscribe(Subscribe {
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
        let packet_id = self.request(topics.len(), Awaiting::UnsubAck, now)?;
        Ok(Packet::Unsubscribe(Unsubscribe {
            packet_id,
            topics: Entries::new(topics),
        }))
    }

    /// The common part of SUBSCRIBE and UNSUBSCRIBE: checks, allocates an identifier and
    /// records the acknowledgement expected for a request with `entries` entries.
    fn request(&mut self, entries: usize, awaiting: Awaiting, now: u64) -> Result<PacketId, ProtocolError> {
        self.require_connected()?;
        if entries == 0 {
            return Err(ProtocolError::Encode(EncodeError::EmptyPayload));
        }
        let id = self.add_pending(awaiting)?;
        self.mark_sent(now);
        Ok(id)
    }

    /// Forgets the SUBSCRIBE or UNSUBSCRIBE `id` that was never sent (its packet could
    /// not be written into the driver's buffer). Returns whether there was one.
    pub fn cancel_request(&mut self, id: PacketId) -> bool {
        match self.find(id) {
            Some((i, Awaiting::SubAck { .. } | Awaiting::UnsubAck)) => {
                self.remove(i);
                true
            }
            _ => false,
        }
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

    /// Removes the pending entry at `index`, releasing its stored bytes.
    pub(super) fn remove(&mut self, index: usize) {
        let Some(&entry) = self.pending.get(index) else {
            return;
        };
        // Not `Vec::remove`: that is a `memmove` call (see `shift_down`).
        crate::wire::shift_down(&mut self.pending, index + 1, index);
        self.pending.pop();
        if let Some((at, len)) = entry.awaiting.stored() {
            self.release(at, len);
        }
    }

    /// Drops `store[at..at + len]` and shifts the later entries down.
    pub(super) fn release(&mut self, at: usize, len: usize) {
        let total = self.store.len();
        crate::wire::shift_down(&mut self.store, at + len, at);
        self.store.truncate(total - len);
        for p in self.pending.iter_mut() {
            if let Awaiting::PubAck { at: a, .. } | Awaiting::PubRec { at: a, .. } = &mut p.awaiting
                && *a > at
            {
                *a -= len;
            }
        }
    }
}
