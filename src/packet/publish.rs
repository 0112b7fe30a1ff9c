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

    pub(crate) fn write<O: Out>(&self, o: &mut O) -> Result<(), O::Error> {
        o.put_field(self.topic.as_bytes())?;
        if let Some(id) = self.delivery.packet_id() {
            o.put_u16(id.get())?;
        }
        // Last and in one piece: `Packet::encode_head` relies on both.
        o.put(self.payload)
    }
}
