//! The speed-first encoder (feature `perf`, for hosts and gateways): every packet type gets
//! its own straight-line copy of check, size and write, lengths are added up per type instead
//! of being counted by a dry run of the writer, and fixed-size packets are one store. Same
//! bytes and same errors as `compact.rs` (the default), which the tests run too; on Cortex-M
//! it costs about 1.3 KB more flash (`docs/size.md`).
//!
//! (There is one decoder for both builds, in `mod.rs`: a per-type decoder here measured no
//! faster than it once the string scan was vectorised, 530 against 523 instructions for a
//! small PUBLISH, so it was removed.)

use super::{ConnAck, Connect, Packet, Publish};
use crate::error::EncodeError;
use crate::types::{PacketId, PacketType};
use crate::wire::{self, MAX_REMAINING_LEN, Out, SliceOut};

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
