//! PUBLISH (3.3).

use crate::error::{DecodeError, EncodeError};
use crate::topic::TopicName;
use crate::types::{Delivery, QoS};
use crate::wire::{Out, Reader};

/// A PUBLISH packet: an application message, in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Publish<'a> {
    /// This is a re-delivery of an earlier attempt (3.3.1.1); never set at QoS 0.
    pub dup: bool,
    /// QoS and, for QoS 1 and 2, the packet identifier.
    pub delivery: Delivery,
    /// Retained message flag (3.3.1.3).
    pub retain: bool,
    /// Destination topic.
    pub topic: TopicName<'a>,
    /// Application payload; may be empty.
    pub payload: &'a [u8],
}

impl<'a> Publish<'a> {
    /// A first-attempt (DUP = 0) message.
    pub const fn new(topic: TopicName<'a>, payload: &'a [u8], delivery: Delivery, retain: bool) -> Self {
        Self {
            dup: false,
            delivery,
            retain,
            topic,
            payload,
        }
    }

    /// The QoS of the message.
    pub const fn qos(&self) -> QoS {
        self.delivery.qos()
    }

    /// The fixed-header flag nibble: DUP, QoS, RETAIN.
    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.delivery.qos().as_u8() << 1) | u8::from(self.retain)
    }

    /// Parses the body; `flags` (the low nibble of byte 0, or all of byte 0: only the flag
    /// bits are read) were checked by the fixed-header parser (QoS 3, DUP at QoS 0).
    pub(crate) fn parse(flags: u8, r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let topic = r.topic_name()?;
        let delivery = if flags & 0x06 == 0 {
            Delivery::AtMostOnce
        } else {
            let id = r.packet_id()?;
            if flags & 0x02 != 0 {
                Delivery::AtLeastOnce(id)
            } else {
                Delivery::ExactlyOnce(id)
            }
        };
        Ok(Self {
            dup: flags & 0x08 != 0,
            delivery,
            retain: flags & 0x01 != 0,
            topic,
            payload: r.rest(),
        })
    }

    pub(crate) fn validate(&self) -> Result<(), EncodeError> {
        // DUP set at QoS 0, in one comparison: the flag (0 or 1) above the QoS (0 to 2).
        if u8::from(self.dup) > self.qos().as_u8() {
            return Err(EncodeError::DupWithQos0);
        }
        Ok(())
    }

    /// The Remaining Length: topic, packet identifier (QoS 1 and 2), payload. (Cannot
    /// overflow: the topic is at most 65,535 bytes and the payload is a slice in memory.)
    pub(crate) fn body_len(&self) -> usize {
        let id = if self.delivery.packet_id().is_some() { 2 } else { 0 };
        2 + id + self.topic.len() + self.payload.len()
    }

    pub(crate) fn write<O: Out>(&self, o: &mut O) -> Result<(), O::Error> {
        o.put_field(self.topic.as_bytes())?;
        if let Some(id) = self.delivery.packet_id() {
            o.put_u16(id.get())?;
        }
        // Last and in one piece: `Packet::encode_head` relies on both.
        o.put(self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{emit, parse};
    use crate::packet::{Packet, decode};
    use crate::types::PacketId;

    static PACKET_BYTES: [u8; 11] = [
        0x32, 9, // PUBLISH, QoS 1, Remaining Length 9
        0x00, 0x03, b'a', b'/', b'b', // topic name
        0x00, 0x0a, // packet identifier 10
        b'h', b'i', // payload
    ];

    #[test]
    fn test_parse_and_emit() {
        let topic = TopicName::new("a/b").unwrap();
        let id = PacketId::new(10).unwrap();
        let packet = Packet::Publish(Publish::new(topic, b"hi", Delivery::AtLeastOnce(id), false));
        assert_eq!(parse(&PACKET_BYTES), packet);
        assert_eq!(emit(&packet), PACKET_BYTES);
    }

    #[test]
    fn retained_qos0_with_an_empty_payload() {
        let bytes = [0x31, 0x05, 0x00, 0x03, b'a', b'/', b'b'];
        let topic = TopicName::new("a/b").unwrap();
        let packet = Packet::Publish(Publish::new(topic, b"", Delivery::AtMostOnce, true));
        assert_eq!(emit(&packet), bytes);
        assert_eq!(parse(&bytes), packet);
    }

    #[test]
    fn dup_at_qos0_and_wildcard_topics_are_refused() {
        // [MQTT-3.3.1-2]
        assert_eq!(
            decode(&[0x38, 0x05, 0, 3, b'a', b'/', b'b']),
            Err(DecodeError::DupWithQos0)
        );
        let mut p = Publish::new(TopicName::new("a").unwrap(), b"", Delivery::AtMostOnce, false);
        p.dup = true;
        assert_eq!(
            Packet::Publish(p).encode(&mut [0; 16]),
            Err(EncodeError::DupWithQos0)
        );
        // [MQTT-3.3.2-2]
        assert_eq!(
            decode(&[0x30, 0x05, 0, 3, b'a', b'/', b'+']),
            Err(DecodeError::WildcardInTopicName)
        );
    }
}
