//! Codec errors: [`DecodeError`] for bytes that can never form a valid packet,
//! [`EncodeError`] for packets the encoder refuses to write, and [`EncodeToError`] /
//! [`ReadPacketError`] for the `embedded-io` entry points.
//!
//! Every `DecodeError` is final: the MQTT specification says the receiver of a malformed
//! packet closes the network connection ([MQTT-4.8.0-1]). Running out of input is never a
//! `DecodeError`; it is [`Status::Partial`](crate::status::Status::Partial).

use core::fmt;

use crate::types::PacketType;

/// Why a byte sequence is not a valid MQTT 3.1.1 control packet.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The packet type nibble is 0 or 15, both reserved (2.2.1).
    ReservedPacketType(u8),
    /// The flag nibble differs from the value the packet type requires
    /// ([MQTT-2.2.2-1], [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1]).
    InvalidFlags {
        /// The packet type read from the high nibble.
        packet_type: PacketType,
        /// The low nibble that was received.
        flags: u8,
    },
    /// The Remaining Length has a continuation bit set on its fourth byte (2.2.3).
    MalformedRemainingLength,
    /// A PUBLISH has both QoS bits set ([MQTT-3.3.1-4]).
    InvalidQos,
    /// A QoS 0 PUBLISH has the DUP flag set ([MQTT-3.3.1-2]).
    DupWithQos0,
    /// A packet identifier is 0 ([MQTT-2.3.1-1]).
    PacketIdZero,
    /// A string is not well-formed UTF-8, or encodes a surrogate ([MQTT-1.5.3-1]).
    InvalidUtf8,
    /// A string contains U+0000 ([MQTT-1.5.3-2], [MQTT-4.7.3-2]).
    NullCharacter,
    /// A topic name or topic filter is empty ([MQTT-4.7.3-1]).
    EmptyTopic,
    /// A PUBLISH or will topic name contains `+` or `#` ([MQTT-3.3.2-2], [MQTT-4.7.1-1]).
    WildcardInTopicName,
    /// A topic filter places `#` or `+` where the spec forbids it ([MQTT-4.7.1-2], [MQTT-4.7.1-3]).
    InvalidTopicFilter,
    /// A field runs past the end given by the Remaining Length (the packet is shorter than its
    /// content says).
    UnexpectedEnd,
    /// Bytes are left over after the last field (the packet is longer than its content says).
    TrailingBytes,
    /// The CONNECT protocol name is not `MQTT` ([MQTT-3.1.2-1]).
    InvalidProtocolName,
    /// The CONNECT protocol level is not 4 ([MQTT-3.1.2-2]).
    UnsupportedProtocolLevel(u8),
    /// The reserved bit 0 of the CONNECT flags is set ([MQTT-3.1.2-3]).
    ReservedConnectFlag,
    /// Will QoS or Will Retain is set although the Will Flag is 0
    /// ([MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]).
    WillFlagsWithoutWill,
    /// The Will QoS is 3 ([MQTT-3.1.2-14]).
    InvalidWillQos,
    /// The Password Flag is set without the User Name Flag ([MQTT-3.1.2-22]).
    PasswordWithoutUserName,
    /// Reserved bits 7..1 of the CONNACK acknowledge flags are set (3.2.2.1).
    ReservedConnAckFlags(u8),
    /// The CONNACK return code is a reserved value, 6 to 255 (3.2.2.3).
    InvalidConnectReturnCode(u8),
    /// A refusing CONNACK has Session Present set ([MQTT-3.2.2-4]).
    SessionPresentOnRefusal,
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK carries no entries ([MQTT-3.8.3-3], [MQTT-3.10.3-2]).
    EmptyPayload(PacketType),
    /// A SUBSCRIBE requested-QoS byte has reserved bits set or QoS 3 ([MQTT-3.8.3-4]).
    InvalidRequestedQos(u8),
    /// A SUBACK return code is not 0x00, 0x01, 0x02 or 0x80 ([MQTT-3.9.3-2]).
    InvalidSubAckCode(u8),
    /// A packet of a type the sender's side never sends, such as CONNECT arriving at a client.
    /// Only [`decode_from_server`](crate::packet::decode_from_server) reports it.
    UnexpectedPacketType(PacketType),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedPacketType(t) => write!(f, "reserved packet type {t}"),
            Self::InvalidFlags { packet_type, flags } => {
                write!(f, "invalid fixed header flags {flags:#06b} for {packet_type}")
            }
            Self::MalformedRemainingLength => f.write_str("remaining length longer than 4 bytes"),
            Self::InvalidQos => f.write_str("PUBLISH with QoS 3"),
            Self::DupWithQos0 => f.write_str("DUP flag set on a QoS 0 PUBLISH"),
            Self::PacketIdZero => f.write_str("packet identifier 0"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::NullCharacter => f.write_str("string contains U+0000"),
            Self::EmptyTopic => f.write_str("empty topic"),
            Self::WildcardInTopicName => f.write_str("wildcard in topic name"),
            Self::InvalidTopicFilter => f.write_str("misplaced wildcard in topic filter"),
            Self::UnexpectedEnd => f.write_str("field runs past the remaining length"),
            Self::TrailingBytes => f.write_str("bytes left over after the last field"),
            Self::InvalidProtocolName => f.write_str("protocol name is not MQTT"),
            Self::UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            Self::ReservedConnectFlag => f.write_str("reserved CONNECT flag set"),
            Self::WillFlagsWithoutWill => f.write_str("will QoS or retain set without a will"),
            Self::InvalidWillQos => f.write_str("will QoS 3"),
            Self::PasswordWithoutUserName => f.write_str("password without user name"),
            Self::ReservedConnAckFlags(b) => write!(f, "reserved CONNACK flags {b:#04x}"),
            Self::InvalidConnectReturnCode(c) => write!(f, "reserved CONNACK return code {c}"),
            Self::SessionPresentOnRefusal => f.write_str("session present on a refused CONNACK"),
            Self::EmptyPayload(t) => write!(f, "{t} without entries"),
            Self::InvalidRequestedQos(b) => write!(f, "invalid requested QoS byte {b:#04x}"),
            Self::InvalidSubAckCode(c) => write!(f, "invalid SUBACK return code {c:#04x}"),
            Self::UnexpectedPacketType(t) => write!(f, "{t} from the wrong side"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why the encoder refused to write a packet. The output buffer is left untouched.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is shorter than the encoded packet.
    BufferTooSmall {
        /// The full encoded length of the packet.
        needed: usize,
    },
    /// The Remaining Length would exceed 268,435,455 (2.2.3).
    PacketTooLarge,
    /// A string or binary field is longer than 65,535 bytes (1.5.3).
    FieldTooLong,
    /// A string contains U+0000 ([MQTT-1.5.3-2]).
    NullCharacter,
    /// A QoS 0 PUBLISH with DUP set ([MQTT-3.3.1-2]).
    DupWithQos0,
    /// A password without a user name ([MQTT-3.1.2-22]).
    PasswordWithoutUserName,
    /// An empty client identifier requires a clean session ([MQTT-3.1.3-7]).
    EmptyClientIdWithoutCleanSession,
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK with no entries ([MQTT-3.8.3-3], [MQTT-3.10.3-2]).
    EmptyPayload,
    /// A refusing CONNACK with Session Present set ([MQTT-3.2.2-4]).
    SessionPresentOnRefusal,
    /// A packet only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP) given to the client's
    /// encoder. Only [`encode_from_client`](crate::packet::encode_from_client) reports it. (No payload:
    /// the caller holds the packet, and a payload-free variant keeps `Result<(), EncodeError>`
    /// in two registers.)
    ServerOnlyPacket,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => write!(f, "output buffer too small, {needed} bytes needed"),
            Self::PacketTooLarge => f.write_str("remaining length above 268435455"),
            Self::FieldTooLong => f.write_str("field longer than 65535 bytes"),
            Self::NullCharacter => f.write_str("string contains U+0000"),
            Self::DupWithQos0 => f.write_str("DUP flag on a QoS 0 PUBLISH"),
            Self::PasswordWithoutUserName => f.write_str("password without user name"),
            Self::EmptyClientIdWithoutCleanSession => {
                f.write_str("empty client identifier without clean session")
            }
            Self::EmptyPayload => f.write_str("packet needs at least one entry"),
            Self::SessionPresentOnRefusal => f.write_str("session present on a refused CONNACK"),
            Self::ServerOnlyPacket => f.write_str("packet type only a server sends"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Error of [`Packet::encode_to`](crate::packet::Packet::encode_to): the packet was refused before
/// anything was written, or the writer failed part way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeToError<E> {
    /// The packet is invalid; nothing was written.
    Encode(EncodeError),
    /// The writer failed; part of the packet may have been written.
    Write(E),
}

impl<E> From<EncodeError> for EncodeToError<E> {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl<E: fmt::Debug> fmt::Display for EncodeToError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "encode: {e}"),
            Self::Write(e) => write!(f, "write: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for EncodeToError<E> {}

/// Error of [`read_packet`](crate::read_packet): reading one whole packet from an
/// `embedded_io::Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReadPacketError<E> {
    /// The reader failed.
    Read(E),
    /// The reader reached end of stream: cleanly between packets when `mid_packet` is false.
    Eof {
        /// Whether part of a packet had already been read.
        mid_packet: bool,
    },
    /// The packet is malformed; the connection must be closed.
    Decode(DecodeError),
    /// The packet does not fit in the caller's buffer. Its bytes were read and discarded,
    /// so the stream is still positioned at the start of the next packet.
    TooLarge {
        /// The packet type of the discarded packet.
        packet_type: PacketType,
        /// The full length of the discarded packet (fixed header included).
        len: usize,
    },
}

impl<E> From<DecodeError> for ReadPacketError<E> {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl<E: fmt::Debug> fmt::Display for ReadPacketError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "read: {e:?}"),
            Self::Eof { mid_packet: false } => f.write_str("connection closed"),
            Self::Eof { mid_packet: true } => f.write_str("connection closed inside a packet"),
            Self::Decode(e) => write!(f, "malformed packet: {e}"),
            Self::TooLarge { packet_type, len } => {
                write!(f, "{packet_type} of {len} bytes does not fit the receive buffer")
            }
        }
    }
}

impl<E: fmt::Debug> core::error::Error for ReadPacketError<E> {}
