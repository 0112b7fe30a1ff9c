//! Opening, losing and resuming a connection: [`Session::connect`],
//! [`Session::connection_lost`] and the re-send after a resumed session.

use super::{Awaiting, Phase, ProtocolError, Retransmit, Session};
use crate::packet::{Connect, Packet, Publish};
use crate::status::Status;

impl<const N: usize, const S: usize> Session<N, S> {
    /// Starts a connection: returns the CONNECT to send first ([MQTT-3.1.0-1]).
    ///
    /// With `clean_session` set, all stored state is dropped ([MQTT-3.1.2-6]); without it,
    /// unacknowledged messages are kept for [`retransmits`](Self::retransmits)
    /// ([MQTT-3.1.2-4]).
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
        connect.check()?;
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
        Ok(Packet::Connect(connect))
    }

    /// Tells the session the network connection is gone. Pending SUBSCRIBE/UNSUBSCRIBE
    /// requests are dropped (they are not re-sent); QoS 1/2 state is kept for a
    /// `clean_session = false` reconnect.
    pub fn connection_lost(&mut self) {
        self.phase = Phase::Disconnected;
        self.waiting_since = None;
        // `remove` keeps the order, which re-sending needs.
        let mut i = 0;
        while let Some(p) = self.pending.get(i) {
            if p.awaiting.is_message() {
                i += 1;
            } else {
                self.remove(i);
            }
        }
    }

    /// What to send again after a resumed connection, in the original order
    /// ([MQTT-4.4.0-1], [MQTT-4.6.0-1]): each unacknowledged QoS 1/2 PUBLISH as its stored
    /// bytes (DUP set if it was sent before, [MQTT-3.3.1-1]), and a PUBREL for each QoS 2
    /// message that already got its PUBREC. Call [`resend_done`](Self::resend_done) once
    /// they are written.
    pub fn retransmits(&self) -> impl Iterator<Item = Retransmit<'_>> + '_ {
        self.pending.iter().filter_map(|p| match p.awaiting {
            Awaiting::PubAck { at, len } | Awaiting::PubRec { at, len } => {
                self.store.get(at..at + len).map(Retransmit::Publish)
            }
            Awaiting::PubComp => Some(Retransmit::PubRel(p.id)),
            Awaiting::SubAck { .. } | Awaiting::UnsubAck => None,
        })
    }

    /// [`retransmits`](Self::retransmits) as packets, for a driver that encodes what it
    /// sends: the stored PUBLISH packets decoded again.
    pub fn resend(&self) -> impl Iterator<Item = Packet<'_>> + '_ {
        self.retransmits().filter_map(|r| match r {
            Retransmit::Publish(bytes) => decode_stored(bytes).map(Packet::Publish),
            Retransmit::PubRel(id) => Some(Packet::PubRel(id)),
        })
    }

    /// Records that every packet of [`retransmits`](Self::retransmits) was written at `now`
    /// (or that writing them was attempted: a copy may have reached the server), so any
    /// later re-send carries DUP = 1.
    pub fn resend_done(&mut self, now: u64) {
        for i in 0..self.pending.len() {
            if let Some(p) = self.pending.get(i).copied() {
                self.mark_publish_sent(p.id);
            }
        }
        self.mark_sent(now);
    }
}

/// Decodes a PUBLISH this session encoded into its store.
pub(super) fn decode_stored(bytes: &[u8]) -> Option<Publish<'_>> {
    // Only the PUBLISH parser: the general decoder would pull every packet parser into a
    // firmware that only re-sends.
    let Ok(Status::Complete(header)) = crate::packet::peek_fixed_header(bytes) else {
        return None;
    };
    let body = bytes.get(header.header_len..)?;
    crate::wire::parse_body(body, |i| Publish::parse(header.flags, i)).ok()
}
