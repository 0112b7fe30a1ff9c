//! What of the session must outlive a device reset, as a sequence of [`Change`]s: the
//! session names each change as it happens (a driver writes it to a store before it sends
//! the packet that depends on it), lists its whole state as changes for compaction
//! ([`Session::snapshot`]), and is rebuilt by applying the changes again in order
//! ([`Session::restore`]). Each change has a small byte form ([`Change::header`],
//! [`Change::parse`]) so any medium that stores byte records can keep it.

use core::fmt;

use super::connect::decode_stored;
use super::outgoing::DUP;
use super::{Awaiting, Pending, Session};
use crate::types::{Delivery, PacketId};

/// One change of the session state that must survive a reset, in the order it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Change<'a> {
    /// A QoS 1/2 PUBLISH was queued: its encoded bytes (they carry its packet identifier).
    /// Written before the packet is first sent.
    Queued(&'a [u8]),
    /// The PUBREC of the outgoing QoS 2 message arrived: from now on only PUBREL is sent
    /// for it. Written before the PUBREL.
    Released(PacketId),
    /// The outgoing message is fully acknowledged (PUBACK or PUBCOMP): its identifier is
    /// free.
    Completed(PacketId),
    /// The incoming QoS 2 message was accepted: a repeat of it must not be delivered again.
    /// Written before the PUBREC.
    Received(PacketId),
    /// The PUBREL of the incoming QoS 2 message arrived: its identifier is free again.
    /// Written before the PUBCOMP.
    Freed(PacketId),
}

const QUEUED: u8 = b'P';
const RELEASED: u8 = b'R';
const COMPLETED: u8 = b'D';
const RECEIVED: u8 = b'I';
const FREED: u8 = b'F';

impl<'a> Change<'a> {
    /// The byte form's head: a tag byte and the packet identifier; for [`Change::Queued`]
    /// the stored PUBLISH follows it (see [`tail`](Self::tail)).
    pub fn header(&self) -> [u8; 3] {
        let (tag, id) = match *self {
            Self::Queued(bytes) => (QUEUED, stored_id(bytes).map_or(0, PacketId::get)),
            Self::Released(id) => (RELEASED, id.get()),
            Self::Completed(id) => (COMPLETED, id.get()),
            Self::Received(id) => (RECEIVED, id.get()),
            Self::Freed(id) => (FREED, id.get()),
        };
        let [hi, lo] = id.to_be_bytes();
        [tag, hi, lo]
    }

    /// The bytes that follow the [`header`](Self::header): the PUBLISH of a
    /// [`Change::Queued`], nothing otherwise.
    pub const fn tail(&self) -> &'a [u8] {
        match *self {
            Self::Queued(bytes) => bytes,
            _ => &[],
        }
    }

    /// Reads a change back from its byte form (header, then tail).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an unknown tag, a zero identifier, a missing or
    /// malformed PUBLISH, or bytes after a change that has none.
    pub fn parse(record: &'a [u8]) -> Result<Self, StoreError> {
        let (&[tag, hi, lo], tail) = record.split_first_chunk::<3>().ok_or(StoreError::Corrupt)?;
        let id = PacketId::new(u16::from_be_bytes([hi, lo])).ok_or(StoreError::Corrupt)?;
        let change = match tag {
            QUEUED => {
                if stored_id(tail) != Some(id) {
                    return Err(StoreError::Corrupt);
                }
                return Ok(Self::Queued(tail));
            }
            RELEASED => Self::Released(id),
            COMPLETED => Self::Completed(id),
            RECEIVED => Self::Received(id),
            FREED => Self::Freed(id),
            _ => return Err(StoreError::Corrupt),
        };
        if tail.is_empty() {
            Ok(change)
        } else {
            Err(StoreError::Corrupt)
        }
    }
}

/// The packet identifier of a stored QoS 1/2 PUBLISH, or `None` when the bytes are not one.
fn stored_id(bytes: &[u8]) -> Option<PacketId> {
    decode_stored(bytes)?.delivery.packet_id()
}

/// Why session state could not be written to or read from a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// The store has no room for the record, even after compaction.
    Full,
    /// The storage medium reported an error (a file or flash operation failed).
    Io,
    /// A stored record passed its checksum but does not make sense for the session (an
    /// unknown tag, a malformed PUBLISH, an identifier used twice).
    Corrupt,
    /// The stored session needs more than this session's limits (`N` identifiers in each
    /// direction, `S` bytes of re-send store): `needed` bytes or identifiers.
    TooSmall {
        /// Bytes of re-send store, or identifiers, that restoring would need.
        needed: usize,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the session store is full"),
            Self::Io => f.write_str("the session store's medium failed"),
            Self::Corrupt => f.write_str("the session store holds a record that makes no sense"),
            Self::TooSmall { needed } => write!(
                f,
                "the stored session does not fit this client's session limits ({needed} needed)"
            ),
        }
    }
}

impl core::error::Error for StoreError {}

impl<const N: usize, const S: usize> Session<N, S> {
    /// Applies one stored change to a disconnected session, rebuilding what a reset lost.
    /// Apply every change in the order it was written, before the first
    /// `connect(clean_session = false)`. A restored PUBLISH carries DUP = 1: it may have
    /// reached the server before the reset.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the change contradicts the state so far (an identifier
    /// queued twice); [`StoreError::TooSmall`] when the state needs more than `N` or `S`.
    pub fn restore(&mut self, change: Change<'_>) -> Result<(), StoreError> {
        match change {
            Change::Queued(bytes) => {
                let publish = decode_stored(bytes).ok_or(StoreError::Corrupt)?;
                let (at, len) = (self.store.len(), bytes.len());
                let (id, awaiting) = match publish.delivery {
                    Delivery::AtMostOnce => return Err(StoreError::Corrupt),
                    Delivery::AtLeastOnce(id) => (id, Awaiting::PubAck { at, len }),
                    Delivery::ExactlyOnce(id) => (id, Awaiting::PubRec { at, len }),
                };
                if self.is_pending(id) {
                    return Err(StoreError::Corrupt);
                }
                if len > S - at {
                    return Err(StoreError::TooSmall { needed: at + len });
                }
                self.push_restored(id, awaiting)?;
                // Cannot fail: the room was checked above.
                let _ = self.store.extend_from_slice(bytes);
                if let Some(byte0) = self.store.get_mut(at) {
                    *byte0 |= DUP;
                }
                self.next_id = id.next();
            }
            Change::Released(id) => match self.find(id) {
                Some((i, Awaiting::PubRec { at, len })) => self.enter_pubrel_stage(i, at, len),
                Some((_, Awaiting::PubComp)) => {}
                Some(_) => return Err(StoreError::Corrupt),
                // Compacted away: the PUBLISH is no longer stored, only the PUBREL stage.
                None => self.push_restored(id, Awaiting::PubComp)?,
            },
            Change::Completed(id) => {
                if let Some((i, _)) = self.find(id) {
                    self.remove(i);
                }
            }
            Change::Received(id) => {
                if !self.incoming_qos2.contains(&id) {
                    self.incoming_qos2
                        .push(id)
                        .map_err(|_| StoreError::TooSmall { needed: N + 1 })?;
                }
            }
            Change::Freed(id) => self.free_incoming(id),
        }
        // A restored session is a session to resume, not to clean.
        self.clean_session = false;
        Ok(())
    }

    fn push_restored(&mut self, id: PacketId, awaiting: Awaiting) -> Result<(), StoreError> {
        self.pending
            .push(Pending { id, awaiting })
            .map_err(|_| StoreError::TooSmall { needed: N + 1 })
    }

    /// The whole state that must survive a reset, as the shortest list of changes that
    /// rebuilds it: a store compacts itself by replacing its records with these. Outgoing
    /// messages come in re-send order.
    pub fn snapshot(&self, mut f: impl FnMut(Change<'_>)) {
        for p in &self.pending {
            match p.awaiting {
                Awaiting::PubAck { at, len } | Awaiting::PubRec { at, len } => {
                    if let Some(bytes) = self.store.get(at..at + len) {
                        f(Change::Queued(bytes));
                    }
                }
                Awaiting::PubComp => f(Change::Released(p.id)),
                Awaiting::SubAck { .. } | Awaiting::UnsubAck => {}
            }
        }
        for &id in &self.incoming_qos2 {
            f(Change::Received(id));
        }
    }

    /// Whether nothing needs to survive a reset: no outgoing QoS 1/2 message awaits an
    /// acknowledgement and no incoming QoS 2 message awaits its PUBREL.
    pub fn is_settled(&self) -> bool {
        self.unacked_messages() == 0 && self.incoming_qos2.is_empty()
    }
}
