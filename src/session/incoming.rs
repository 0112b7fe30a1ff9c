//! What the server sends: [`Session::handle_packet`] judges one incoming packet, names the
//! event for the application and the acknowledgement to send back.

use super::{Awaiting, Event, Incoming, Phase, ProtocolError, Session};
use crate::packet::{Packet, Publish};
use crate::types::{ConnectReturnCode, Delivery, PacketId};

impl<const N: usize, const S: usize> Session<N, S> {
    /// Processes one packet from the server at `now`.
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
        let incoming = self.judge(packet)?;
        // Every acknowledgement the session asks for is sent straight away.
        if incoming.reply.is_some() {
            self.mark_sent(now);
        }
        Ok(incoming)
    }

    /// [`handle_packet`](Self::handle_packet) without the send time.
    fn judge<'p>(&mut self, packet: Packet<'p>) -> Result<Incoming<'p>, ProtocolError> {
        let ptype = packet.packet_type();
        let unexpected = Err(ProtocolError::UnexpectedPacket(ptype));
        if self.phase == Phase::Connecting {
            let Packet::ConnAck(ack) = packet else {
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
            return Ok(event(Event::Connected {
                session_present: ack.session_present,
            }));
        }
        if self.phase != Phase::Connected {
            return unexpected;
        }
        // Every acknowledgement goes through one look-up of its packet identifier.
        let id = match packet {
            Packet::Publish(p) => return Ok(self.handle_publish(p)),
            Packet::PubRel(id) => {
                // [MQTT-4.3.3-2] release the id; answer PUBCOMP even if it is unknown (the
                // PUBCOMP may have been lost before a reconnect).
                self.free_incoming(id);
                return Ok(reply(Packet::PubComp(id)));
            }
            Packet::PingResp => {
                self.waiting_since = None;
                return Ok(event(Event::Pong));
            }
            Packet::PubAck(id) | Packet::PubRec(id) | Packet::PubComp(id) | Packet::UnsubAck(id) => id,
            Packet::SubAck(ack) => ack.packet_id,
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
            (Packet::PubAck(_), Awaiting::PubAck { .. }) | (Packet::PubComp(_), Awaiting::PubComp) => {
                Event::Published(id)
            }
            (Packet::PubRec(_), Awaiting::PubRec { at, len }) => {
                // [MQTT-4.3.3-1] from now on only PUBREL is sent for this id.
                self.enter_pubrel_stage(i, at, len);
                return Ok(reply(Packet::PubRel(id)));
            }
            // A repeated PUBREC (after a re-send) gets the PUBREL again.
            (Packet::PubRec(_), Awaiting::PubComp) => return Ok(reply(Packet::PubRel(id))),
            (Packet::SubAck(ack), Awaiting::SubAck { count }) => {
                if ack.codes.len() != count {
                    return Err(ProtocolError::SubAckCountMismatch {
                        expected: count,
                        received: ack.codes.len(),
                    });
                }
                Event::Subscribed {
                    packet_id: id,
                    codes: ack.codes,
                }
            }
            (Packet::UnsubAck(_), Awaiting::UnsubAck) => Event::Unsubscribed(id),
            _ => return unknown,
        };
        self.remove(i);
        Ok(event(done))
    }

    /// [MQTT-3.3.4-1], [MQTT-4.3.2-2], [MQTT-4.3.3-2], [MQTT-4.5.0-2]: acknowledge per QoS,
    /// whether or not the application wants the message; deliver a QoS 2 message once.
    fn handle_publish<'p>(&mut self, p: Publish<'p>) -> Incoming<'p> {
        let ack = match p.delivery {
            Delivery::AtMostOnce => None,
            Delivery::AtLeastOnce(id) => Some(Packet::PubAck(id)),
            Delivery::ExactlyOnce(id) => {
                let first = !self.incoming_qos2.contains(&id);
                if first && self.incoming_qos2.push(id).is_err() {
                    // No room to remember the id: neither deliver nor acknowledge. The server
                    // keeps the message and sends it again after the next reconnect, once
                    // PUBRELs have freed the table ([`Session::qos2_deferred`]).
                    self.qos2_deferred = true;
                    return Incoming {
                        event: None,
                        reply: None,
                    };
                }
                if !first {
                    return reply(Packet::PubRec(id));
                }
                Some(Packet::PubRec(id))
            }
        };
        Incoming {
            event: Some(Event::Message(p)),
            reply: ack,
        }
    }
}

impl<const N: usize, const S: usize> Session<N, S> {
    /// The PUBREC of the QoS 2 message at `pending[i]` (stored at `store[at..at + len]`)
    /// arrived: its PUBLISH is dropped, and only PUBREL is sent for it from now on.
    pub(super) fn enter_pubrel_stage(&mut self, i: usize, at: usize, len: usize) {
        if let Some(p) = self.pending.get_mut(i) {
            p.awaiting = Awaiting::PubComp;
        }
        self.release(at, len);
    }

    /// The incoming QoS 2 message `id` is released (PUBREL): its identifier may start a new
    /// message. The order of the identifiers does not matter.
    pub(super) fn free_incoming(&mut self, id: PacketId) {
        if let Some(i) = self.incoming_qos2.iter().position(|&x| x == id) {
            self.incoming_qos2.swap_remove(i);
        }
    }
}

const fn event(event: Event<'_>) -> Incoming<'_> {
    Incoming {
        event: Some(event),
        reply: None,
    }
}

const fn reply<'p>(reply: Packet<'static>) -> Incoming<'p> {
    Incoming {
        event: None,
        reply: Some(reply),
    }
}
