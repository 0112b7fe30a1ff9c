//! Session stores: where a client keeps the session state that must survive a device
//! reset (see [`Change`]). [`SessionStore`] is the seam; [`RamStore`] keeps the records in
//! memory (for tests, or RAM that survives a warm reset),
//! [`FileStore`](super::file_store::FileStore) (feature `std`) in a crash-safe file, and
//! `nor_store::NorFlashStore` (feature `nor-flash`) on any `embedded-storage` NOR flash.
//!
//! # How the client uses a store
//!
//! With a store set, the client writes a record before every packet whose effect a reset
//! must not lose, and only then sends the packet:
//!
//! | record ([`Change`]) | written | before sending |
//! |---|---|---|
//! | `Queued` | a QoS 1/2 message is published | the PUBLISH |
//! | `Released` | the PUBREC of an outgoing QoS 2 message arrived | the PUBREL |
//! | `Completed` | PUBACK or PUBCOMP arrived | - |
//! | `Received` | an incoming QoS 2 message was taken by the application | the PUBREC |
//! | `Freed` | the PUBREL of an incoming QoS 2 message arrived | the PUBCOMP |
//!
//! A store that reports [`StoreError::Full`] is compacted: its records are replaced by
//! the session's [`snapshot`](crate::session::Session::snapshot). When the session holds
//! nothing that must survive, the store is cleared. `connect(clean_session = true)` clears
//! it too; `set_store` restores the session from it.
//!
//! The subscriptions are not part of the client's session (the server keeps them);
//! `RobustClient::set_subscription_store` keeps the ones it renews in a store of their own,
//! as `[QoS, topic filter]` records, rewritten only when a subscription changes.

pub use crate::session::StoreError;
use crate::session::{Change, Session};

/// A medium that keeps the session's records across a reset, in the order written.
///
/// Each call must be atomic with respect to a reset: after a reset at any instant,
/// [`replay`](Self::replay) yields the records of some prefix of the calls that were made,
/// with the interrupted call either wholly done or not at all.
pub trait SessionStore {
    /// Appends one record, the concatenation of `head` and `tail`.
    ///
    /// # Errors
    /// [`StoreError::Full`] when it does not fit (the client then compacts with
    /// [`replace`](Self::replace)), [`StoreError::Io`] when the medium fails.
    fn append(&mut self, head: &[u8], tail: &[u8]) -> Result<(), StoreError>;

    /// Calls `f` with every record, oldest first. A record that a reset cut off while it
    /// was being written is not a record.
    ///
    /// # Errors
    /// [`StoreError::Io`], or the first error `f` returns.
    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError>;

    /// Replaces every record with those of `records`, atomically.
    ///
    /// # Errors
    /// [`StoreError::Full`] when even those do not fit, [`StoreError::Io`].
    fn replace(&mut self, records: &dyn Records) -> Result<(), StoreError>;

    /// Drops every record.
    ///
    /// # Errors
    /// [`StoreError::Io`].
    fn clear(&mut self) -> Result<(), StoreError>;
}

/// Takes one record as a head and a tail (see [`SessionStore::append`]).
pub type RecordSink<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// A list of records to write at once (a session's snapshot), for
/// [`SessionStore::replace`].
pub trait Records {
    /// Calls `f` with each record as a head and a tail (see [`SessionStore::append`]),
    /// oldest first, stopping at the first error.
    ///
    /// # Errors
    /// The first error `f` returns.
    fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError>;
}

impl<const N: usize, const S: usize> Records for Session<N, S> {
    fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError> {
        let mut result = Ok(());
        self.snapshot(|change| {
            if result.is_ok() {
                result = f(&change.header(), change.tail());
            }
        });
        result
    }
}

/// A client's store and the function that writes to it. Both are set together by
/// `set_store`, so a firmware that never calls it links none of the writing code (the
/// record encoding, compaction): a client without a store costs a pointer and a branch.
pub(crate) struct Persistence<'b, const N: usize, const S: usize> {
    pub(crate) store: &'b mut dyn SessionStore,
    write: fn(&mut dyn SessionStore, &Session<N, S>, Change<'_>) -> Result<(), StoreError>,
}

impl<'b, const N: usize, const S: usize> Persistence<'b, N, S> {
    pub(crate) fn new(store: &'b mut dyn SessionStore) -> Self {
        Self { store, write }
    }
}

/// Writes `change` (which `session` already holds) to the store, if there is one.
pub(crate) fn persist<const N: usize, const S: usize>(
    persistence: &mut Option<Persistence<'_, N, S>>,
    session: &Session<N, S>,
    change: Change<'_>,
) -> Result<(), StoreError> {
    match persistence {
        Some(p) => (p.write)(p.store, session, change),
        None => Ok(()),
    }
}

/// Writes `change` to `store`: clears the store instead when the session holds nothing
/// that must survive, and compacts it when it is full (the snapshot already holds the
/// change).
fn write<const N: usize, const S: usize>(
    store: &mut dyn SessionStore,
    session: &Session<N, S>,
    change: Change<'_>,
) -> Result<(), StoreError> {
    if session.is_settled() {
        return store.clear();
    }
    match store.append(&change.header(), change.tail()) {
        Err(StoreError::Full) => store.replace(session),
        result => result,
    }
}

/// Rebuilds `session` from the records in `store`.
pub(crate) fn restore<const N: usize, const S: usize>(
    store: &mut dyn SessionStore,
    session: &mut Session<N, S>,
) -> Result<(), StoreError> {
    store.replay(&mut |record| session.restore(Change::parse(record)?))
}

/// A store in RAM: `CAP` bytes of records, each prefixed with its length (2 bytes). It
/// survives what RAM survives: a simulated reset in a test, or a warm reset that keeps a
/// `.uninit` section. An append or a clear cut by a reset is atomic (a record cut short is
/// not replayed, and cut off), but a compaction ([`replace`](SessionStore::replace),
/// rare: only when the store is full) is not: where resets are real, prefer
/// `NorFlashStore` or a store of your own.
#[derive(Debug, Clone)]
pub struct RamStore<const CAP: usize> {
    bytes: heapless::Vec<u8, CAP>,
}

impl<const CAP: usize> Default for RamStore<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> RamStore<CAP> {
    /// An empty store.
    pub const fn new() -> Self {
        Self {
            bytes: heapless::Vec::new(),
        }
    }

    /// Bytes in use (records and their length prefixes).
    pub fn used(&self) -> usize {
        self.bytes.len()
    }

    fn push(bytes: &mut heapless::Vec<u8, CAP>, head: &[u8], tail: &[u8]) -> Result<(), StoreError> {
        let len = head.len() + tail.len();
        let prefix = u16::try_from(len).map_err(|_| StoreError::Full)?;
        if CAP - bytes.len() < 2 + len {
            return Err(StoreError::Full);
        }
        // Cannot fail: the room was checked above.
        let _ = bytes.extend_from_slice(&prefix.to_be_bytes());
        let _ = bytes.extend_from_slice(head);
        let _ = bytes.extend_from_slice(tail);
        Ok(())
    }
}

impl<const CAP: usize> SessionStore for RamStore<CAP> {
    fn append(&mut self, head: &[u8], tail: &[u8]) -> Result<(), StoreError> {
        Self::push(&mut self.bytes, head, tail)
    }

    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut rest = self.bytes.as_slice();
        let mut whole = 0;
        while let Some((&[hi, lo], tail)) = rest.split_first_chunk::<2>() {
            // A record cut short by a reset is not a record.
            let Some((record, tail)) = tail.split_at_checked(usize::from(u16::from_be_bytes([hi, lo])))
            else {
                break;
            };
            f(record)?;
            whole += 2 + record.len();
            rest = tail;
        }
        self.bytes.truncate(whole);
        Ok(())
    }

    fn replace(&mut self, records: &dyn Records) -> Result<(), StoreError> {
        // Sized first, so that records that do not fit leave the old ones in place.
        let mut needed = 0;
        records.each(&mut |head, tail| {
            needed += 2 + head.len() + tail.len();
            Ok(())
        })?;
        if needed > CAP {
            return Err(StoreError::Full);
        }
        self.bytes.clear();
        records.each(&mut |head, tail| Self::push(&mut self.bytes, head, tail))
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.bytes.clear();
        Ok(())
    }
}

/// What the unit tests of the stores share, and `RamStore`'s own.
#[cfg(test)]
pub(crate) mod tests {
    use super::{RamStore, RecordSink, Records, SessionStore, StoreError};
    use std::vec::Vec;

    /// Records given as a list, each written as one part.
    pub(crate) struct List<'a>(pub(crate) &'a [&'a [u8]]);

    impl Records for List<'_> {
        fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError> {
            self.0.iter().try_for_each(|r| f(r, &[]))
        }
    }

    #[test]
    fn ram_store_drops_a_record_cut_short_and_replaces_only_what_fits() {
        let mut store = RamStore::<16>::new();
        store.append(b"A", b"bc").unwrap();
        store.append(b"D", b"ef").unwrap();
        // A reset while the second append was under way: its length and one byte made it.
        store.bytes.truncate(store.bytes.len() - 2);
        assert_eq!(records(&mut store), [b"Abc".to_vec()]);
        assert_eq!(store.used(), 5, "the torn tail is cut off");
        store.append(b"G", b"").unwrap();
        assert_eq!(records(&mut store), [b"Abc".to_vec(), b"G".to_vec()]);
        assert_eq!(store.replace(&List(&[&[0; 15]])), Err(StoreError::Full));
        assert_eq!(records(&mut store), [b"Abc".to_vec(), b"G".to_vec()], "unchanged");
        store.replace(&List(&[b"X", b"YZ"])).unwrap();
        assert_eq!(records(&mut store), [b"X".to_vec(), b"YZ".to_vec()]);
    }

    /// Every record `store` replays, copied.
    pub(crate) fn records(store: &mut dyn SessionStore) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        store
            .replay(&mut |r| {
                out.push(r.to_vec());
                Ok(())
            })
            .expect("replay");
        out
    }
}
