//! [`ClientError`]: everything a client call can fail with, and [`Awaited`], what did not
//! arrive in time.

use core::fmt;

use crate::error::{DecodeError, EncodeError, ReadPacketError};
use crate::session::{ProtocolError, StoreError};
use crate::topic::TopicError;
use crate::types::{ConnectReturnCode, PacketId, PacketType};

/// What a client was waiting for when its deadline passed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Awaited {
    /// The CONNACK answering CONNECT (the connect timeout).
    ConnAck,
    /// The PINGRESP answering a keep-alive PINGREQ.
    PingResp,
    /// The PUBACK for a QoS 1 message.
    PubAck(PacketId),
    /// The PUBREC for a QoS 2 message.
    PubRec(PacketId),
    /// The PUBCOMP for a QoS 2 message whose PUBREC arrived.
    PubComp(PacketId),
    /// The SUBACK for a SUBSCRIBE.
    SubAck(PacketId),
    /// The UNSUBACK for an UNSUBSCRIBE.
    UnsubAck(PacketId),
    /// The rest of a packet whose first bytes arrived.
    PacketEnd {
        /// Bytes of it received.
        received: usize,
        /// Its length, when the fixed header was complete.
        length: Option<usize>,
    },
}

impl fmt::Display for Awaited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnAck => f.write_str("no CONNACK from the server"),
            Self::PingResp => f.write_str("no PINGRESP from the server"),
            Self::PubAck(id) => write!(f, "no PUBACK for the QoS 1 message with packet id {id}"),
            Self::PubRec(id) => write!(f, "no PUBREC for the QoS 2 message with packet id {id}"),
            Self::PubComp(id) => write!(f, "no PUBCOMP for the QoS 2 message with packet id {id}"),
            Self::SubAck(id) => write!(f, "no SUBACK for the SUBSCRIBE with packet id {id}"),
            Self::UnsubAck(id) => write!(f, "no UNSUBACK for the UNSUBSCRIBE with packet id {id}"),
            Self::PacketEnd {
                received,
                length: Some(length),
            } => write!(
                f,
                "an incoming packet stopped after {received} of its {length} bytes"
            ),
            Self::PacketEnd {
                received,
                length: None,
            } => {
                write!(
                    f,
                    "an incoming packet stopped after {received} bytes of its header"
                )
            }
        }
    }
}

/// Why a client call failed. `E` is the transport's error type.
///
/// [`ends_connection`](Self::ends_connection) says which errors closed the connection (the
/// session keeps every unacknowledged QoS 1/2 message for the next `connect`); after the
/// others the connection is still usable.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientError<E> {
    /// The transport failed.
    Io(E),
    /// The transport reached end of stream (the server closed the connection).
    ConnectionClosed,
    /// The connection is finished and this transport cannot open a new one: give the
    /// client a new transport with `replace_transport`, then `connect` again.
    TransportClosed,
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
    /// Something the call waited for did not arrive in time; the connection is closed.
    Timeout {
        /// What did not arrive.
        awaited: Awaited,
        /// How long it was waited for, in milliseconds.
        after_ms: u64,
    },
    /// An incoming packet was larger than the room in the receive buffer. It was read and
    /// discarded, so the stream is still in sync; a QoS 1/2 message stays unacknowledged,
    /// so the server still owns it and sends it again after a reconnect.
    PacketTooLarge {
        /// Type of the discarded packet.
        packet_type: PacketType,
        /// Its full length in bytes.
        len: usize,
    },
    /// A QoS 1/2 message whose encoded PUBLISH is larger than the whole re-send store
    /// (nothing was sent): raise the client's `S`, or publish it at QoS 0.
    MessageTooLarge {
        /// Bytes the encoded PUBLISH needs.
        needed: usize,
        /// Bytes of the store (`S`).
        capacity: usize,
    },
    /// A topic name or filter argument is invalid (nothing was sent).
    InvalidTopic(TopicError),
    /// The session store (see [`set_store`](super::MqttClient::set_store)) could not be
    /// written or read. The client closes the connection rather than send a packet whose
    /// state a reset would lose; a message being published was not accepted.
    Store(StoreError),
    /// The receive buffer is too small to run a connection (nothing was sent).
    ReceiveBufferTooSmall {
        /// Its length.
        len: usize,
        /// The smallest length accepted.
        min: usize,
    },
}

impl<E> ClientError<E> {
    /// Whether the connection is over after this error. The others refuse a command
    /// (nothing was sent) or report a skipped packet, and leave the connection usable.
    pub fn ends_connection(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::ConnectionClosed
            | Self::TransportClosed
            | Self::Malformed(_)
            | Self::ConnectionRefused(_)
            | Self::Timeout { .. }
            | Self::Store(_) => true,
            Self::Protocol(p) => p.ends_connection(),
            Self::Encode(_)
            | Self::SubscribeRefused
            | Self::PacketTooLarge { .. }
            | Self::MessageTooLarge { .. }
            | Self::InvalidTopic(_)
            | Self::ReceiveBufferTooSmall { .. } => false,
        }
    }
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

impl<E> From<StoreError> for ClientError<E> {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
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

/// `?` on the host transport's `std::io::Error` (for example from
/// [`TcpTransport::connect`](super::std_net::TcpTransport::connect)) in a function that
/// returns `ClientError<std::io::Error>`.
#[cfg(feature = "std")]
impl From<std::io::Error> for ClientError<std::io::Error> {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl<E: fmt::Display> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::ConnectionClosed => f.write_str("connection closed by the server"),
            Self::TransportClosed => f.write_str(
                "the connection is finished and the transport cannot reopen it; \
                 give the client a new transport with replace_transport",
            ),
            Self::Malformed(e) => write!(f, "malformed packet from the server: {e}"),
            Self::Encode(e) => write!(f, "cannot encode packet: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::ConnectionRefused(c) => write!(f, "connection refused ({}): {c}", c.as_u8()),
            Self::SubscribeRefused => f.write_str("subscription refused by the server"),
            Self::Timeout { awaited, after_ms } => write!(f, "{awaited} within {after_ms} ms"),
            Self::PacketTooLarge { packet_type, len } => {
                write!(
                    f,
                    "incoming {packet_type} of {len} bytes exceeds the receive buffer"
                )
            }
            Self::MessageTooLarge { needed, capacity } => write!(
                f,
                "a QoS 1/2 message of {needed} bytes (encoded) cannot fit the re-send store of \
                 {capacity} bytes"
            ),
            Self::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
            Self::Store(e) => write!(f, "session store: {e}"),
            Self::ReceiveBufferTooSmall { len, min } => {
                write!(
                    f,
                    "the receive buffer of {len} bytes is smaller than the minimum of {min}"
                )
            }
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ClientError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Malformed(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::InvalidTopic(e) => Some(e),
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}
