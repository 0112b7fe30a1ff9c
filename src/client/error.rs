//! [`ClientError`]: everything a blocking client call can fail with.

use core::fmt;

use crate::error::{DecodeError, EncodeError, ReadPacketError};
use crate::session::ProtocolError;
use crate::topic::TopicError;
use crate::types::{ConnectReturnCode, PacketType};

/// Why a client call failed. `E` is the transport's error type.
///
/// Errors that leave the connection usable: [`ClientError::InvalidTopic`],
/// [`ClientError::Encode`], [`ClientError::SubscribeRefused`], [`ClientError::PacketTooLarge`],
/// and [`ClientError::Protocol`] refusals of a command (`InflightFull`, `StoreFull`,
/// `NotConnected`, `AlreadyConnected`). After any other error the connection is finished:
/// drop the transport, hand the client a new one with
/// [`replace_transport`](super::MqttClient::replace_transport), and
/// [`connect`](super::MqttClient::connect) again.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError<E> {
    /// The transport failed.
    Io(E),
    /// The transport reached end of stream (the server closed the connection).
    ConnectionClosed,
    /// The server sent a malformed packet.
    Malformed(DecodeError),
    /// An outgoing packet could not be encoded (nothing was sent).
    Encode(EncodeError),
    /// The server broke the protocol, or the session refused the request.
    Protocol(ProtocolError),
    /// The server refused the connection with CONNACK return code 1 to 5.
    ConnectionRefused(ConnectReturnCode),
    /// The server refused a subscription (SUBACK return code 0x80).
    SubscribeRefused,
    /// An incoming packet was larger than the receive buffer. It was read and discarded, so
    /// the stream is still in sync; if it was a QoS 1/2 message it stays unacknowledged.
    PacketTooLarge {
        /// Type of the discarded packet.
        packet_type: PacketType,
        /// Its full length in bytes.
        len: usize,
    },
    /// A topic name or filter argument is invalid (nothing was sent).
    InvalidTopic(TopicError),
}

impl<E> From<ProtocolError> for ClientError<E> {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::ConnectionRefused(c) => Self::ConnectionRefused(c),
            ProtocolError::Encode(e) => Self::Encode(e),
            e => Self::Protocol(e),
        }
    }
}

impl<E> From<EncodeError> for ClientError<E> {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl<E> From<TopicError> for ClientError<E> {
    fn from(e: TopicError) -> Self {
        Self::InvalidTopic(e)
    }
}

impl<E> From<ReadPacketError<E>> for ClientError<E> {
    fn from(e: ReadPacketError<E>) -> Self {
        match e {
            ReadPacketError::Read(e) => Self::Io(e),
            ReadPacketError::Eof { .. } => Self::ConnectionClosed,
            ReadPacketError::Decode(e) => Self::Malformed(e),
            ReadPacketError::TooLarge { packet_type, len } => Self::PacketTooLarge { packet_type, len },
        }
    }
}

impl<E: fmt::Debug> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport error: {e:?}"),
            Self::ConnectionClosed => f.write_str("connection closed by the server"),
            Self::Malformed(e) => write!(f, "malformed packet from the server: {e}"),
            Self::Encode(e) => write!(f, "cannot encode packet: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::ConnectionRefused(c) => write!(f, "connection refused ({}): {c}", c.as_u8()),
            Self::SubscribeRefused => f.write_str("subscription refused by the server"),
            Self::PacketTooLarge { packet_type, len } => {
                write!(
                    f,
                    "incoming {packet_type} of {len} bytes exceeds the receive buffer"
                )
            }
            Self::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for ClientError<E> {}
