//! [`Session`]: the client's MQTT protocol state as a pure state machine (no I/O, no clock).
//!
//! The session decides *what* to send and *what* an incoming packet means; a driver (the
//! blocking [`MqttClient`](crate::client::MqttClient), the async one, or your own) moves the
//! bytes. It keeps the "Session state" of spec section 4.1 on the client side: packet
//! identifiers in use, QoS 1 and QoS 2 messages not yet fully acknowledged (encoded, so they
//! can be re-sent byte for byte after a reconnect), incoming QoS 2 identifiers awaiting
//! PUBREL, and the keep-alive timers. Time is always passed in as `now`, a monotonic
//! millisecond count.
//!
//! The code is split by concern: `connect.rs` (opening, losing and resuming a connection),
//! `outgoing.rs` (identifiers, the re-send store and the commands), `incoming.rs`
//! ([`Session::handle_packet`]), `timers.rs` (keep-alive and response timeouts) and
//! `persist.rs` (the [`Change`]s that let a store carry the session across a reset).
//!
//! # Driving protocol
//!
//! 1. Call [`Session::connect`] and send the CONNECT it returns. Read packets and pass each
//!    to [`Session::handle_packet`] until it yields [`Event::Connected`]. If the session was
//!    resumed (`clean_session = false`), send every item of [`Session::retransmits`] next, in
//!    order, then call [`Session::resend_done`].
//! 2. Commands ([`publish`](Session::publish), [`subscribe`](Session::subscribe),
//!    [`unsubscribe`](Session::unsubscribe), [`ping`](Session::ping),
//!    [`disconnect`](Session::disconnect)) return the packet to send. They record the send
//!    time and what acknowledgement is now expected, so send what they return straight away.
//!    A QoS 1/2 message can also be queued first ([`queue_publish`](Session::queue_publish))
//!    and sent from the store ([`publish_bytes`](Session::publish_bytes)), so that it is
//!    encoded exactly once.
//! 3. For every packet received, call [`Session::handle_packet`]: send
//!    [`Incoming::reply`] if present, and act on [`Incoming::event`].
//! 4. Whenever [`Session::poll_timeout`] passes, call [`Session::handle_timeout`]: it returns
//!    a PINGREQ to send when keep-alive is due, or an error when the server stopped answering.
//! 5. When the connection drops, call [`Session::connection_lost`]. Unacknowledged QoS 1/2
//!    messages stay queued and go out again (with DUP set) after the next
//!    `connect(clean_session = false)`.
//!
//! Every `Err` from [`handle_packet`](Session::handle_packet) or
//! [`handle_timeout`](Session::handle_timeout) means the connection must be closed
//! ([MQTT-4.8.0-1]).

mod connect;
mod error;
mod incoming;
mod outgoing;
mod persist;
mod timers;

pub use error::ProtocolError;
pub use persist::{Change, StoreError};

use heapless::Vec;

use crate::packet::{Entries, Packet, Publish, SubAckReturnCode};
use crate::types::{PacketId, PacketType};

/// Default time allowed for CONNACK and PINGRESP, in milliseconds.
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 30_000;

/// Where the session is in the connection life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// No connection; only [`Session::connect`] is allowed.
    Disconnected,
    /// CONNECT sent, waiting for CONNACK.
    Connecting,
    /// CONNACK accepted.
    Connected,
}

/// What an incoming packet meant to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'p> {
    /// The server accepted the connection.
    Connected {
        /// Whether the server resumed a stored session.
        session_present: bool,
    },
    /// An application message to deliver (already de-duplicated for QoS 2).
    Message(Publish<'p>),
    /// An outgoing QoS 1 (PUBACK) or QoS 2 (PUBCOMP) message is fully acknowledged.
    Published(PacketId),
    /// A SUBSCRIBE was answered; one code per requested filter.
    Subscribed {
        /// The SUBSCRIBE's packet identifier.
        packet_id: PacketId,
        /// The return codes, in request order.
        codes: Entries<'p, SubAckReturnCode>,
    },
    /// An UNSUBSCRIBE was acknowledged.
    Unsubscribed(PacketId),
    /// A PINGRESP arrived.
    Pong,
}

/// Result of [`Session::handle_packet`]: something for the application and/or a packet to
/// send back. MQTT 3.1.1 never needs more than one reply per incoming packet.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Incoming<'p> {
    /// What happened, if it concerns the application.
    pub event: Option<Event<'p>>,
    /// The acknowledgement to send now (PUBACK, PUBREC, PUBREL or PUBCOMP).
    pub reply: Option<Packet<'static>>,
}

/// One packet to send again after a resumed connection (see [`Session::retransmits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Retransmit<'s> {
    /// A stored QoS 1/2 PUBLISH, encoded, to be written as it is (DUP is already set when an
    /// earlier copy may have reached the server).
    Publish(&'s [u8]),
    /// A PUBREL for a QoS 2 message whose PUBREC arrived but whose PUBCOMP did not.
    PubRel(PacketId),
}

/// The acknowledgement an outgoing packet is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// QoS 1 PUBLISH stored at `store[at..at + len]`, waiting for PUBACK.
    PubAck { at: usize, len: usize },
    /// QoS 2 PUBLISH stored at `store[at..at + len]`, waiting for PUBREC.
    PubRec { at: usize, len: usize },
    /// QoS 2 PUBREL sent, waiting for PUBCOMP (the PUBLISH is never re-sent now).
    PubComp,
    /// SUBSCRIBE with `count` filters, waiting for SUBACK.
    SubAck { count: usize },
    /// UNSUBSCRIBE waiting for UNSUBACK.
    UnsubAck,
}

impl Awaiting {
    /// Where the stored PUBLISH is, for the two states that keep one.
    const fn stored(self) -> Option<(usize, usize)> {
        match self {
            Self::PubAck { at, len } | Self::PubRec { at, len } => Some((at, len)),
            _ => None,
        }
    }

    /// Whether this entry is an outgoing QoS 1/2 message (as opposed to a request).
    const fn is_message(self) -> bool {
        matches!(self, Self::PubAck { .. } | Self::PubRec { .. } | Self::PubComp)
    }
}

/// One packet identifier in use by an outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    id: PacketId,
    awaiting: Awaiting,
}

/// The client side of an MQTT session. See the [module docs](self) for how to drive it.
///
/// * `N` bounds the packets awaiting acknowledgement in each direction (outgoing QoS 1/2
///   messages plus SUBSCRIBE/UNSUBSCRIBE; incoming QoS 2 messages awaiting PUBREL).
/// * `S` is the size in bytes of the store that keeps unacknowledged outgoing QoS 1/2
///   PUBLISH packets (encoded) for re-sending after a reconnect: a message whose encoded
///   PUBLISH is larger than `S` cannot be sent at QoS 1 or 2.
#[derive(Debug)]
pub struct Session<const N: usize = 8, const S: usize = 1024> {
    // size: docs/size.md#session-field-order
    last_sent: u64,
    response_timeout_ms: u64,
    keep_alive_ms: u64,
    /// When the request now awaiting its response was sent: the CONNECT while connecting,
    /// an unanswered PINGREQ once connected (the two never overlap).
    waiting_since: Option<u64>,
    phase: Phase,
    clean_session: bool,
    next_id: PacketId,
    pending: Vec<Pending, N>,
    store: Vec<u8, S>,
    incoming_qos2: Vec<PacketId, N>,
    qos2_deferred: bool,
}

impl<const N: usize, const S: usize> Default for Session<N, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const S: usize> Session<N, S> {
    /// A disconnected session with no state.
    pub const fn new() -> Self {
        Self {
            phase: Phase::Disconnected,
            clean_session: true,
            keep_alive_ms: 0,
            response_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            next_id: PacketId::MIN,
            pending: Vec::new(),
            store: Vec::new(),
            incoming_qos2: Vec::new(),
            last_sent: 0,
            waiting_since: None,
            qos2_deferred: false,
        }
    }

    /// Sets how long CONNACK and PINGRESP may take before
    /// [`handle_timeout`](Self::handle_timeout) gives up (default 30 s).
    pub fn set_response_timeout(&mut self, ms: u64) {
        self.response_timeout_ms = ms;
    }

    /// How long CONNACK and PINGRESP may take, in milliseconds.
    pub const fn response_timeout(&self) -> u64 {
        self.response_timeout_ms
    }

    /// The connection phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether a PINGREQ is waiting for its PINGRESP.
    pub fn ping_outstanding(&self) -> bool {
        self.phase == Phase::Connected && self.waiting_since.is_some()
    }

    /// Number of outgoing packets awaiting acknowledgement.
    pub fn inflight(&self) -> usize {
        self.pending.len()
    }

    /// Number of outgoing QoS 1/2 messages not yet fully acknowledged (these survive a
    /// reconnect with `clean_session = false`).
    pub fn unacked_messages(&self) -> usize {
        self.pending.iter().filter(|p| p.awaiting.is_message()).count()
    }

    /// Whether `id` is awaiting an acknowledgement.
    pub fn is_pending(&self, id: PacketId) -> bool {
        self.pending.iter().any(|p| p.id == id)
    }

    /// The acknowledgement the outgoing packet `id` waits for (PUBACK, PUBREC, PUBCOMP,
    /// SUBACK or UNSUBACK), or `None` when `id` is not in use.
    pub fn awaiting(&self, id: PacketId) -> Option<PacketType> {
        Some(match self.find(id)?.1 {
            Awaiting::PubAck { .. } => PacketType::PubAck,
            Awaiting::PubRec { .. } => PacketType::PubRec,
            Awaiting::PubComp => PacketType::PubComp,
            Awaiting::SubAck { .. } => PacketType::SubAck,
            Awaiting::UnsubAck => PacketType::UnsubAck,
        })
    }

    /// The oldest outgoing QoS 1/2 message not yet fully acknowledged.
    pub(crate) fn first_unacked(&self) -> Option<PacketId> {
        self.pending
            .iter()
            .find(|p| p.awaiting.is_message())
            .map(|p| p.id)
    }

    /// Number of incoming QoS 2 messages delivered but not yet released by PUBREL.
    pub fn incoming_qos2(&self) -> usize {
        self.incoming_qos2.len()
    }

    /// Whether an incoming QoS 2 message was left unacknowledged because all `N` slots for
    /// unreleased QoS 2 identifiers were in use. The server sends it again only after a
    /// reconnect, so reconnect (with `clean_session = false`) once
    /// [`incoming_qos2`](Self::incoming_qos2) is back to 0; `RobustClient` does this itself.
    pub fn qos2_deferred(&self) -> bool {
        self.qos2_deferred
    }

    /// Bytes of the re-send store in use.
    pub fn stored_bytes(&self) -> usize {
        self.store.len()
    }

    /// Records that a packet was written at `now` (keep-alive counts from the last send).
    /// Commands and replies call this themselves; call it after sending anything else.
    pub fn mark_sent(&mut self, now: u64) {
        self.last_sent = now;
    }

    /// When a packet was last written (see [`mark_sent`](Self::mark_sent)).
    pub(crate) const fn last_sent(&self) -> u64 {
        self.last_sent
    }

    /// Takes back a [`mark_sent`](Self::mark_sent): the acknowledgement that
    /// [`handle_packet`](Self::handle_packet) counted as sent is sent later, so keep-alive
    /// still counts from `at`.
    pub(crate) fn unmark_sent(&mut self, at: u64) {
        self.last_sent = at;
    }

    /// Whether the incoming QoS 2 message `id` was accepted and awaits its PUBREL.
    pub(crate) fn holds_incoming(&self, id: PacketId) -> bool {
        self.incoming_qos2.contains(&id)
    }

    /// Drops the queued QoS 1/2 message `id` that was never sent (a store could not keep
    /// it). Returns whether there was one.
    pub(crate) fn forget_publish(&mut self, id: PacketId) -> bool {
        match self.find(id) {
            Some((i, Awaiting::PubAck { .. } | Awaiting::PubRec { .. })) => {
                self.remove(i);
                true
            }
            _ => false,
        }
    }

    fn require_connected(&self) -> Result<(), ProtocolError> {
        if self.phase == Phase::Connected {
            Ok(())
        } else {
            Err(ProtocolError::NotConnected)
        }
    }

    fn find(&self, id: PacketId) -> Option<(usize, Awaiting)> {
        let i = self.pending.iter().position(|p| p.id == id)?;
        Some((i, self.pending.get(i)?.awaiting))
    }
}
