//! [`ProtocolError`]: the session's verdicts on what the server did or what the caller asked.

use core::fmt;

use crate::error::EncodeError;
use crate::types::{ConnectReturnCode, PacketId, PacketType};

/// A protocol-level failure. When it comes from [`handle_packet`] or [`handle_timeout`] the
/// connection must be closed ([MQTT-4.8.0-1]); when it comes from a command, nothing was
/// sent and the session is unchanged.
///
/// [`handle_packet`]: super::Session::handle_packet
/// [`handle_timeout`]: super::Session::handle_timeout
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProtocolError {
    /// A command other than `connect` while not connected.
    NotConnected,
    /// `connect` while a connection is open or being opened ([MQTT-3.1.0-2]).
    AlreadyConnected,
    /// All `N` slots for unacknowledged packets are in use.
    InflightFull,
    /// The re-send store has no room for this QoS 1/2 message.
    StoreFull {
        /// Encoded size of the message.
        needed: usize,
    },
    /// The packet could not be encoded.
    Encode(EncodeError),
    /// The server refused the connection with this CONNACK code ([MQTT-3.2.2-5]).
    ConnectionRefused(ConnectReturnCode),
    /// The server sent a packet that is not allowed now ([MQTT-3.2.0-1]) or never sent to
    /// a client.
    UnexpectedPacket(PacketType),
    /// An acknowledgement for an identifier that is not awaiting one.
    UnknownPacketId(PacketType, PacketId),
    /// A SUBACK whose number of return codes differs from the filters requested.
    SubAckCountMismatch {
        /// Filters in the SUBSCRIBE.
        expected: usize,
        /// Codes in the SUBACK.
        received: usize,
    },
    /// Session Present on a clean-session CONNACK ([MQTT-3.2.2-1]).
    SessionPresentOnCleanSession,
    /// Only QoS 1/2 messages can be queued for later sending.
    NotQueueable,
    /// No CONNACK within the response timeout.
    ConnAckTimeout,
    /// No PINGRESP within the response timeout.
    PingTimeout,
}

impl ProtocolError {
    /// Whether the connection must be closed after this error: true for what the server
    /// did and for timeouts, false for a command the session refused (nothing was sent).
    pub const fn ends_connection(&self) -> bool {
        !matches!(
            self,
            Self::NotConnected
                | Self::AlreadyConnected
                | Self::InflightFull
                | Self::StoreFull { .. }
                | Self::Encode(_)
                | Self::NotQueueable
        )
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected => f.write_str("not connected"),
            Self::AlreadyConnected => f.write_str("already connected"),
            Self::InflightFull => f.write_str("too many packets awaiting acknowledgement"),
            Self::StoreFull { needed } => write!(f, "re-send store full ({needed} bytes needed)"),
            Self::Encode(e) => write!(f, "cannot encode: {e}"),
            Self::ConnectionRefused(c) => write!(f, "connection refused: {c}"),
            Self::UnexpectedPacket(t) => write!(f, "unexpected {t}"),
            Self::UnknownPacketId(t, id) => write!(f, "{t} for unknown packet id {id}"),
            Self::SubAckCountMismatch { expected, received } => {
                write!(f, "SUBACK has {received} codes for {expected} filters")
            }
            Self::SessionPresentOnCleanSession => f.write_str("session present on a clean session"),
            Self::NotQueueable => f.write_str("only QoS 1/2 messages can be queued"),
            Self::ConnAckTimeout => f.write_str("no CONNACK within the response timeout"),
            Self::PingTimeout => f.write_str("no PINGRESP within the response timeout"),
        }
    }
}

impl core::error::Error for ProtocolError {}

impl From<EncodeError> for ProtocolError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}
