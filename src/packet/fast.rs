//! The speed-first implementation of the codec's hot paths (feature `perf`, for hosts and
//! gateways): every packet type gets its own straight-line copy of check, size and write,
//! lengths are added up per type instead of being counted by a dry run of the writer, and
//! each type's body is parsed by its own branch. Same bytes and same errors as `compact.rs`
//! (the default), which the tests run too; on Cortex-M it costs about 2 KB more flash
//! (`docs/size.md`).

use super::{
    ConnAck, Connect, Packet, Publish, SubAck, Subscribe, Unsubscribe, check_body_len, peek_fixed_header,
};
use crate::error::{DecodeError, EncodeError};
use crate::status::Status;
use crate::types::{PacketId, PacketType};
use crate::wire::{self, MAX_REMAINING_LEN, Out, Reader, SliceOut};

/// Decodes one packet from the start of `buf` (`decode`, or `decode_from_server` with
/// `FROM_SERVER`), through `peek_fixed_header` (about 30 instructions fewer per small PUBLISH
/// on a host than the inline form of `compact.rs`, which is smaller on Cortex-M).
#[inline(always)]
pub(super) fn decode<const FROM_SERVER: bool>(
    buf: &[u8],
) -> Result<Status<(Packet<'_>, usize)>, DecodeError> {
    let header = match peek_fixed_header(buf)? {
        Status::Complete(h) => h,
        Status::Partial { needed } => return Ok(Status::Partial { needed }),
    };
    let total = header.packet_len();
    let Some(body) = buf.get(header.header_len..total) else {
        return Ok(Status::need(total - buf.len()));
    };
    check_body_len(header.remaining_len, body)?;
    Ok(Status::Complete((
        parse_body::<FROM_SERVER>(header.packet_type, header.flags, body)?,
        total,
    )))
}

/// Parses the `body` of a packet of type `t` whose length was checked. From a server, the
/// types only a client sends are refused before anything is read.
///
/// Each type reads its own fields. A PUBLISH ends with its payload, so it needs no trailing
/// check and is returned from its own branch, built in place: moving the 96-byte `Packet` out
/// of a temporary was most of the time of decoding a small PUBLISH on a host (callgrind:
/// 400 -> 356 instructions, and 48 -> 27 ns).
#[inline(always)]
pub(super) fn parse_body<'a, const FROM_SERVER: bool>(
    t: PacketType,
    flags: u8,
    body: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    if FROM_SERVER
        && matches!(
            t,
            PacketType::Connect
                | PacketType::Subscribe
                | PacketType::Unsubscribe
                | PacketType::PingReq
                | PacketType::Disconnect
        )
    {
        return Err(DecodeError::UnexpectedPacketType(t));
    }
    let mut r = Reader(body);
    if t == PacketType::Publish {
        return Ok(Packet::Publish(Publish::parse(flags, &mut r)?));
    }
    let packet = match t {
        PacketType::Connect => Packet::Connect(Connect::parse(&mut r)?),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::parse(&mut r)?),
        // (Returned above; kept so the match stays exhaustive.)
        PacketType::Publish => Packet::Publish(Publish::parse(flags, &mut r)?),
        PacketType::PubAck => Packet::PubAck(r.packet_id()?),
        PacketType::PubRec => Packet::PubRec(r.packet_id()?),
        PacketType::PubRel => Packet::PubRel(r.packet_id()?),
        PacketType::PubComp => Packet::PubComp(r.packet_id()?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::parse_after_id(r.packet_id()?, &mut r)?),
        PacketType::SubAck => Packet::SubAck(SubAck::parse_after_id(r.packet_id()?, &mut r)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::parse_after_id(r.packet_id()?, &mut r)?),
        PacketType::UnsubAck => Packet::UnsubAck(r.packet_id()?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect,
    };
    // Every field is read; whatever is left over breaks the Remaining Length.
    if !r.0.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(packet)
}

/// Counts the body into `counter` by adding its length up (`ALL` is for `compact.rs`, whose
/// dry run can leave out the server-only writers).
#[inline(always)]
pub(super) fn count_body<const ALL: bool>(p: &Packet<'_>, counter: &mut SliceOut<'_>) {
    counter.skip(body_len(p));
}

/// `encode_from_client`: refuses what only a server sends, then encodes.
pub(super) fn encode_from_client(p: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    if !p.packet_type().sent_by_client() {
        return Err(EncodeError::ServerOnlyPacket);
    }
    encode(p, buf)
}

/// Encoded length of a SUBSCRIBE, SUBACK or UNSUBSCRIBE list, counted by its writer.
fn entries_len<'a, T: super::subscribe::Entry<'a>>(e: &super::Entries<'a, T>) -> usize {
    let mut counter = SliceOut::new(&mut []);
    let Ok(()) = e.write(&mut counter);
    counter.position()
}

/// Byte 0 of the fixed header of a packet type other than PUBLISH: type and required flags.
const fn header_byte(t: PacketType) -> u8 {
    let flags = match t.required_flags() {
        Some(f) => f,
        None => 0,
    };
    ((t as u8) << 4) | flags
}

/// Writes a whole fixed-size packet at the start of `buf`, or reports how many bytes it needs
/// (leaving `buf` untouched).
#[inline]
fn put_fixed<const N: usize>(buf: &mut [u8], bytes: [u8; N]) -> Result<usize, EncodeError> {
    match buf.first_chunk_mut::<N>() {
        Some(dst) => {
            *dst = bytes;
            Ok(N)
        }
        None => Err(EncodeError::BufferTooSmall { needed: N }),
    }
}

/// Check, size and write for one packet type (`check` returns the Remaining Length). Each call
/// site passes its own closures, so each type gets its own copy.
#[inline(never)]
fn encode_parts(
    buf: &mut [u8],
    first: u8,
    check: impl FnOnce() -> Result<usize, EncodeError>,
    body: impl FnOnce(&mut SliceOut<'_>) -> Result<(), core::convert::Infallible>,
) -> Result<usize, EncodeError> {
    let rem = check()?;
    if rem > MAX_REMAINING_LEN {
        return Err(EncodeError::PacketTooLarge);
    }
    let total = 1 + wire::remaining_len_size(rem) + rem;
    let Some(buf) = buf.get_mut(..total) else {
        return Err(EncodeError::BufferTooSmall { needed: total });
    };
    let mut out = SliceOut::new(buf);
    let Ok(()) = out.put_u8(first);
    let Ok(()) = out.put_remaining_len(rem);
    let Ok(()) = body(&mut out);
    Ok(total)
}

impl Connect<'_> {
    fn remaining_len(&self) -> usize {
        // protocol name (2 + 4) + level + flags + keep alive + client id
        let mut n = 10 + 2 + self.client_id.len();
        if let Some(w) = &self.will {
            n = n
                .saturating_add(4 + w.topic.len())
                .saturating_add(w.message.len());
        }
        if let Some(u) = self.username {
            n = n.saturating_add(2 + u.len());
        }
        if let Some(p) = self.password {
            n = n.saturating_add(2 + p.len());
        }
        n
    }
}

impl Publish<'_> {
    fn remaining_len(&self) -> usize {
        let id = if self.delivery.packet_id().is_some() { 2 } else { 0 };
        (2 + id + self.topic.len()).saturating_add(self.payload.len())
    }
}

/// The Remaining Length, added up per type.
pub(super) fn body_len(p: &Packet<'_>) -> usize {
    match p {
        Packet::Connect(c) => c.remaining_len(),
        Packet::Publish(p) => p.remaining_len(),
        Packet::Subscribe(s) => 2usize.saturating_add(entries_len(&s.topics)),
        Packet::SubAck(s) => 2usize.saturating_add(entries_len(&s.codes)),
        Packet::Unsubscribe(u) => 2usize.saturating_add(entries_len(&u.topics)),
        Packet::ConnAck(_)
        | Packet::PubAck(_)
        | Packet::PubRec(_)
        | Packet::PubRel(_)
        | Packet::PubComp(_)
        | Packet::UnsubAck(_) => 2,
        Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
    }
}

/// `Packet::encode` with one `match` that picks the packet type once; each arm runs the same
/// checks in the same order as `compact.rs`. Fixed-size packets are written in one store.
#[inline]
pub(super) fn encode(p: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let ack = |t: PacketType, id: &PacketId| {
        let [hi, lo] = id.get().to_be_bytes();
        [header_byte(t), 2, hi, lo]
    };
    match p {
        Packet::Connect(c) => encode_parts(
            buf,
            header_byte(PacketType::Connect),
            || c.validate().map(|()| c.remaining_len()),
            |o| c.write(o),
        ),
        Packet::ConnAck(c) => encode_parts(
            buf,
            header_byte(PacketType::ConnAck),
            || c.validate().map(|()| 2),
            |o| ConnAck::write(c, o),
        ),
        Packet::Publish(p) => encode_parts(
            buf,
            ((PacketType::Publish as u8) << 4) | p.flags(),
            || p.validate().map(|()| p.remaining_len()),
            |o| p.write(o),
        ),
        Packet::Subscribe(s) => encode_parts(
            buf,
            header_byte(PacketType::Subscribe),
            || s.validate().map(|()| body_len(p)),
            |o| s.write(o),
        ),
        Packet::SubAck(s) => encode_parts(
            buf,
            header_byte(PacketType::SubAck),
            || s.validate().map(|()| body_len(p)),
            |o| s.write(o),
        ),
        Packet::Unsubscribe(u) => encode_parts(
            buf,
            header_byte(PacketType::Unsubscribe),
            || u.validate().map(|()| body_len(p)),
            |o| u.write(o),
        ),
        Packet::PubAck(id) => put_fixed(buf, ack(PacketType::PubAck, id)),
        Packet::PubRec(id) => put_fixed(buf, ack(PacketType::PubRec, id)),
        Packet::PubRel(id) => put_fixed(buf, ack(PacketType::PubRel, id)),
        Packet::PubComp(id) => put_fixed(buf, ack(PacketType::PubComp, id)),
        Packet::UnsubAck(id) => put_fixed(buf, ack(PacketType::UnsubAck, id)),
        Packet::PingReq => put_fixed(buf, [header_byte(PacketType::PingReq), 0]),
        Packet::PingResp => put_fixed(buf, [header_byte(PacketType::PingResp), 0]),
        Packet::Disconnect => put_fixed(buf, [header_byte(PacketType::Disconnect), 0]),
    }
}
