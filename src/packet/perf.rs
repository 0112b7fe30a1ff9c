//! The speed-first encoder of the `perf` feature: every packet type gets its own
//! straight-line copy of check, size and write, and lengths are added up per type instead of
//! being counted by a dry run of the writer. Same bytes and same errors as the default
//! (size-first) encoder in `mod.rs`, which the tests run too (`--no-default-features`); on
//! Cortex-M the whole `perf` feature costs 0.9 to 1.7 KB of flash more (`docs/size.md`).

use super::{ConnAck, Connect, Packet, Publish};
use crate::error::EncodeError;
use crate::types::{PacketId, PacketType};
use crate::wire::{self, MAX_REMAINING_LEN, Out, SliceOut};

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

impl Packet<'_> {
    /// The Remaining Length, added up per type.
    pub(super) fn body_len(&self) -> usize {
        match self {
            Self::Connect(c) => c.remaining_len(),
            Self::Publish(p) => p.remaining_len(),
            Self::Subscribe(s) => 2usize.saturating_add(s.topics.encoded_len()),
            Self::SubAck(s) => 2usize.saturating_add(s.codes.encoded_len()),
            Self::Unsubscribe(u) => 2usize.saturating_add(u.topics.encoded_len()),
            Self::ConnAck(_)
            | Self::PubAck(_)
            | Self::PubRec(_)
            | Self::PubRel(_)
            | Self::PubComp(_)
            | Self::UnsubAck(_) => 2,
            Self::PingReq | Self::PingResp | Self::Disconnect => 0,
        }
    }

    /// [`Packet::encode`] with one `match` that picks the packet type once; each arm runs the
    /// same checks in the same order as the default encoder. Fixed-size packets are written in
    /// one store.
    #[inline]
    pub(super) fn encode_fast(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let ack = |t: PacketType, id: &PacketId| {
            let [hi, lo] = id.get().to_be_bytes();
            [header_byte(t), 2, hi, lo]
        };
        match self {
            Self::Connect(c) => encode_parts(
                buf,
                header_byte(PacketType::Connect),
                || c.validate().map(|()| c.remaining_len()),
                |o| c.write(o),
            ),
            Self::ConnAck(c) => encode_parts(
                buf,
                header_byte(PacketType::ConnAck),
                || c.validate().map(|()| 2),
                |o| ConnAck::write(c, o),
            ),
            Self::Publish(p) => encode_parts(
                buf,
                ((PacketType::Publish as u8) << 4) | p.flags(),
                || p.validate().map(|()| p.remaining_len()),
                |o| p.write(o),
            ),
            Self::Subscribe(s) => encode_parts(
                buf,
                header_byte(PacketType::Subscribe),
                || s.validate().map(|()| self.body_len()),
                |o| s.write(o),
            ),
            Self::SubAck(s) => encode_parts(
                buf,
                header_byte(PacketType::SubAck),
                || s.validate().map(|()| self.body_len()),
                |o| s.write(o),
            ),
            Self::Unsubscribe(u) => encode_parts(
                buf,
                header_byte(PacketType::Unsubscribe),
                || u.validate().map(|()| self.body_len()),
                |o| u.write(o),
            ),
            Self::PubAck(id) => put_fixed(buf, ack(PacketType::PubAck, id)),
            Self::PubRec(id) => put_fixed(buf, ack(PacketType::PubRec, id)),
            Self::PubRel(id) => put_fixed(buf, ack(PacketType::PubRel, id)),
            Self::PubComp(id) => put_fixed(buf, ack(PacketType::PubComp, id)),
            Self::UnsubAck(id) => put_fixed(buf, ack(PacketType::UnsubAck, id)),
            Self::PingReq => put_fixed(buf, [header_byte(PacketType::PingReq), 0]),
            Self::PingResp => put_fixed(buf, [header_byte(PacketType::PingResp), 0]),
            Self::Disconnect => put_fixed(buf, [header_byte(PacketType::Disconnect), 0]),
        }
    }
}
