//! [`Status`]: the "complete or need more bytes" result of a decode step.
//!
//! Running out of input is not an error in a streaming protocol, so the decoder reports it
//! as `Ok(Status::Partial { .. })` and keeps `Err` for input that can never become valid.

use core::num::NonZeroUsize;

/// Outcome of a decode attempt on a buffer that may hold only part of a packet.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status<T> {
    /// The input held everything needed; here is the result.
    Complete(T),
    /// The input ended early. Nothing seen so far is invalid.
    Partial {
        /// The least number of further bytes required before trying again. Once the fixed
        /// header is in the buffer this is exact: it completes the packet. Before that it is
        /// a lower bound (usually 1).
        needed: NonZeroUsize,
    },
}

impl<T> Status<T> {
    /// `true` for [`Status::Complete`].
    pub const fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// `true` for [`Status::Partial`].
    pub const fn is_partial(&self) -> bool {
        matches!(self, Self::Partial { .. })
    }

    /// The complete value, or `None` when more bytes are needed.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::Partial { .. } => None,
        }
    }

    /// Transforms the complete value, keeping `Partial` as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Self::Complete(t) => Status::Complete(f(t)),
            Self::Partial { needed } => Status::Partial { needed },
        }
    }

    /// `Partial` with `needed` bytes (treating 0 as 1, since "need nothing more" is not partial).
    pub(crate) fn need(needed: usize) -> Self {
        Self::Partial {
            needed: NonZeroUsize::new(needed).unwrap_or(NonZeroUsize::MIN),
        }
    }
}
