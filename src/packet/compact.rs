//! The size-first encoder (the default build, what a firmware links): one path for every
//! packet type, so each piece of code exists once in flash. Selected in `packet/mod.rs`;
//! `fast.rs` has the same functions, faster on a host and larger on Cortex-M
//! (`docs/size.md`).
//!
//! The body is counted by running the writer into a sink with no room, then written by the
//! same writer, so there is no per-type length code.

use super::Packet;
use crate::error::EncodeError;
use crate::wire::SliceOut;

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
