//! The size-first implementation of the codec's hot paths (the default build, what a
//! firmware links): one path for every packet type, so each piece of code exists once in
//! flash. Selected in `packet/mod.rs`; `fast.rs` has the same functions, faster on a host and
//! larger on Cortex-M (`docs/size.md`).
//!
//! * Decoding: the fixed header is read inline (no `Status<FixedHeader>` in between), the
//!   topic name and packet identifier of every type are read at one call site each.
//! * Encoding: the body is counted by running the writer into a sink with no room, then
//!   written by the same writer, so there is no per-type length code.

use super::{
    ConnAck, Connect, Packet, Publish, SubAck, Subscribe, Unsubscribe, check_body_len, check_first_byte,
};
use crate::error::{DecodeError, EncodeError};
use crate::status::Status;
use crate::topic::TopicName;
use crate::types::{Delivery, PacketId, PacketType};
use crate::wire::{self, Reader, SliceOut};

/// Decodes one packet from the start of `buf` (`decode`, or `decode_from_server` with
/// `FROM_SERVER`).
#[inline(always)]
pub(super) fn decode<const FROM_SERVER: bool>(
    buf: &[u8],
) -> Result<Status<(Packet<'_>, usize)>, DecodeError> {
    // (What `peek_fixed_header` does, without its `Status<FixedHeader>` in between.) Every
    // incomplete case leaves the block with the bytes it needs, for one `Partial` below.
    let needed = 'partial: {
        let Some((&first, rest)) = buf.split_first() else {
            break 'partial 2;
        };
        let (packet_type, _) = check_first_byte(first)?;
        let (remaining_len, n) = match wire::decode_remaining_len(rest)? {
            Status::Complete(v) => v,
            Status::Partial { needed } => break 'partial needed.get(),
        };
        let header_len = 1 + n;
        let total = header_len + remaining_len;
        let Some(body) = buf.get(header_len..total) else {
            break 'partial total - buf.len();
        };
        check_body_len(remaining_len, body)?;
        // The body parser is given all of byte 0 rather than its low nibble (it reads only
        // flag bits): the nibble is then not kept alive through the body.
        return Ok(Status::Complete((
            parse_body::<FROM_SERVER>(packet_type, first, body)?,
            total,
        )));
    };
    Ok(Status::need(needed))
}

/// Packet types (bit numbers) whose variable header holds a packet identifier: PUBLISH (at
/// QoS 1 and 2), PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK.
const HAS_ID: u16 = 0x0ff8;

/// Parses the `body` of a packet of type `t` whose length was checked. `flags` is byte 0 of
/// the fixed header or its low nibble: only the flag bits are read. The topic name and the
/// packet identifier are each read at one call site, ahead of the per-type match (same fields
/// in the same order as `fast.rs`, so the same first error). From a server, a client-only
/// type reads nothing and is refused in the match.
#[inline(always)]
pub(super) fn parse_body<'a, const FROM_SERVER: bool>(
    t: PacketType,
    flags: u8,
    body: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    let r = &mut Reader(body);
    // The variable header: a PUBLISH starts with its topic name; then every type that has a
    // packet identifier (PUBLISH only at QoS 1 and 2) reads it, at this one call site.
    let topic = if t == PacketType::Publish {
        Some(r.topic_name()?)
    } else {
        None
    };
    // (A type without one, and a QoS 0 PUBLISH, get a placeholder that nothing uses.)
    // From a server, the client-only SUBSCRIBE and UNSUBSCRIBE read nothing either: like the
    // other client-only types they go straight to the `UnexpectedPacketType` arm below.
    let has_id = if FROM_SERVER {
        HAS_ID & !(1 << 8 | 1 << 10)
    } else {
        HAS_ID
    };
    let id = if (has_id >> (t as u8)) & 1 != 0 && (t != PacketType::Publish || flags & 0x06 != 0) {
        let v = r.u16()?;
        let Some(id) = PacketId::new(v) else {
            return Err(DecodeError::PacketIdZero);
        };
        id
    } else {
        PacketId::MIN
    };
    let packet = match t {
        PacketType::Connect if !FROM_SERVER => Packet::Connect(Connect::parse(r)?),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::parse(r)?),
        PacketType::Publish => {
            // Cannot fail: the topic was read above for a PUBLISH.
            let Some(topic) = topic else {
                return Err(DecodeError::UnexpectedEnd);
            };
            Packet::Publish(publish_from_parts(flags, topic, id, r.rest()))
        }
        PacketType::PubAck => Packet::PubAck(id),
        PacketType::PubRec => Packet::PubRec(id),
        PacketType::PubRel => Packet::PubRel(id),
        PacketType::PubComp => Packet::PubComp(id),
        PacketType::Subscribe if !FROM_SERVER => Packet::Subscribe(Subscribe::parse_after_id(id, r)?),
        PacketType::SubAck => Packet::SubAck(SubAck::parse_after_id(id, r)?),
        PacketType::Unsubscribe if !FROM_SERVER => Packet::Unsubscribe(Unsubscribe::parse_after_id(id, r)?),
        PacketType::UnsubAck => Packet::UnsubAck(id),
        PacketType::PingReq if !FROM_SERVER => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect if !FROM_SERVER => Packet::Disconnect,
        // A client-only type from a server (nothing of its body was read).
        _ => return Err(DecodeError::UnexpectedPacketType(t)),
    };
    // Every field is read; whatever is left over breaks the Remaining Length.
    if !r.0.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(packet)
}

/// Assembles a decoded PUBLISH from checked `flags` (QoS 0 to 2; the low nibble of byte 0, or
/// all of byte 0: only the flag bits are read), its topic, the packet identifier read for
/// QoS 1 and 2 (any placeholder for QoS 0), and the payload.
fn publish_from_parts<'a>(flags: u8, topic: TopicName<'a>, id: PacketId, payload: &'a [u8]) -> Publish<'a> {
    // The QoS bits pick the variant (QoS 3 was refused with the fixed header).
    let delivery = match (flags >> 1) & 3 {
        0 => Delivery::AtMostOnce,
        1 => Delivery::AtLeastOnce(id),
        _ => Delivery::ExactlyOnce(id),
    };
    Publish {
        dup: flags & 0x08 != 0,
        delivery,
        retain: flags & 0x01 != 0,
        topic,
        payload,
    }
}

/// The Remaining Length: the body is written into a sink with no room, which only counts.
pub(super) fn body_len(p: &Packet<'_>) -> usize {
    let mut counter = SliceOut::new(&mut []);
    count_body::<true>(p, &mut counter);
    counter.position()
}

/// Counts the body into `counter`, for every type (`ALL`) or for all but CONNACK and SUBACK
/// (see `Packet::write_body`), by running the writer.
#[inline(always)]
pub(super) fn count_body<const ALL: bool>(p: &Packet<'_>, counter: &mut SliceOut<'_>) {
    let Ok(()) = p.write_body::<_, ALL>(counter);
}

/// `Packet::encode`.
pub(super) fn encode(p: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    encode_as::<true>(p, buf)
}

/// `encode_from_client`: the refusal of what only a server sends is the first arm of the
/// checks' one dispatch on the type.
pub(super) fn encode_from_client(p: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    encode_as::<false>(p, buf)
}

/// Encodes every type (`ALL`) or all but CONNACK and SUBACK (see `Packet::write_body`). One
/// path for every type: check, size, then write.
#[inline(always)]
fn encode_as<const ALL: bool>(p: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let mut counter = SliceOut::new(&mut []);
    let rem = if ALL {
        p.prepare::<true, false>(&mut counter)
    } else {
        p.prepare::<false, true>(&mut counter)
    }?;
    let total = counter.position();
    let Some(buf) = buf.get_mut(..total) else {
        return Err(EncodeError::BufferTooSmall { needed: total });
    };
    let Ok(()) = p.write::<_, ALL>(rem, &mut SliceOut::new(buf));
    Ok(total)
}
