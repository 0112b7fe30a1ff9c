//! Small value types shared by every packet: [`QoS`], [`PacketId`], [`Delivery`],
//! [`PacketType`] and [`ConnectReturnCode`].
//!
//! Each one is built so that values the specification forbids cannot be represented:
//! a packet identifier is never zero and a QoS is never 3.

use core::fmt;
use core::num::NonZeroU16;

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: delivered at most once, with no acknowledgement. The message may be lost.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: delivered at least once. The sender repeats it until a PUBACK arrives, so the
    /// receiver may see duplicates.
    AtLeastOnce = 1,
    /// QoS 2: delivered exactly once, through the PUBREC / PUBREL / PUBCOMP handshake.
    ExactlyOnce = 2,
}

impl QoS {
    /// Converts the two-bit wire value; 3 (and anything larger) gives `None` ([MQTT-3.3.1-4]).
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value, 0 to 2.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for QoS {
    type Error = u8;
    /// Fails with the offending value when it is not 0, 1 or 2.
    fn try_from(v: u8) -> Result<Self, u8> {
        Self::from_u8(v).ok_or(v)
    }
}

impl From<QoS> for u8 {
    fn from(q: QoS) -> u8 {
        q as u8
    }
}

/// A packet identifier: a 16-bit number that is never zero ([MQTT-2.3.1-1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// Identifier 1, where allocation starts.
    pub const MIN: Self = Self(NonZeroU16::MIN);

    /// Wraps `id`, or `None` when it is zero.
    pub const fn new(id: u16) -> Option<Self> {
        match NonZeroU16::new(id) {
            Some(nz) => Some(Self(nz)),
            None => None,
        }
    }

    /// The numeric value, 1 to 65535.
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The following identifier, wrapping from 65535 back to 1 (never 0).
    pub const fn next(self) -> Self {
        match NonZeroU16::new(self.0.get().wrapping_add(1)) {
            Some(nz) => Self(nz),
            None => Self::MIN,
        }
    }
}

impl From<NonZeroU16> for PacketId {
    fn from(v: NonZeroU16) -> Self {
        Self(v)
    }
}

impl TryFrom<u16> for PacketId {
    type Error = crate::error::DecodeError;
    /// Fails with [`DecodeError::PacketIdZero`](crate::error::DecodeError::PacketIdZero) for 0.
    fn try_from(v: u16) -> Result<Self, Self::Error> {
        Self::new(v).ok_or(crate::error::DecodeError::PacketIdZero)
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The QoS of a PUBLISH together with its packet identifier, which exists only for QoS 1
/// and 2 ([MQTT-2.3.1-5]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delivery {
    /// QoS 0, no packet identifier.
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl Delivery {
    /// Pairs `qos` with `id`; the id is dropped for QoS 0 and required otherwise.
    pub const fn new(qos: QoS, id: Option<PacketId>) -> Option<Self> {
        match (qos, id) {
            (QoS::AtMostOnce, _) => Some(Self::AtMostOnce),
            (QoS::AtLeastOnce, Some(id)) => Some(Self::AtLeastOnce(id)),
            (QoS::ExactlyOnce, Some(id)) => Some(Self::ExactlyOnce(id)),
            _ => None,
        }
    }

    /// The quality of service.
    pub const fn qos(self) -> QoS {
        match self {
            Self::AtMostOnce => QoS::AtMostOnce,
            Self::AtLeastOnce(_) => QoS::AtLeastOnce,
            Self::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, `None` for QoS 0.
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            Self::AtMostOnce => None,
            Self::AtLeastOnce(id) | Self::ExactlyOnce(id) => Some(id),
        }
    }
}

/// The 4-bit control packet type from the first byte of the fixed header (2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum PacketType {
    /// 1, client to server: connection request.
    Connect = 1,
    /// 2, server to client: connection acknowledgement.
    ConnAck = 2,
    /// 3, both ways: application message.
    Publish = 3,
    /// 4, both ways: QoS 1 acknowledgement.
    PubAck = 4,
    /// 5, both ways: QoS 2 step 1.
    PubRec = 5,
    /// 6, both ways: QoS 2 step 2.
    PubRel = 6,
    /// 7, both ways: QoS 2 step 3.
    PubComp = 7,
    /// 8, client to server: subscription request.
    Subscribe = 8,
    /// 9, server to client: subscription acknowledgement.
    SubAck = 9,
    /// 10, client to server: unsubscription request.
    Unsubscribe = 10,
    /// 11, server to client: unsubscription acknowledgement.
    UnsubAck = 11,
    /// 12, client to server: keep-alive ping.
    PingReq = 12,
    /// 13, server to client: ping response.
    PingResp = 13,
    /// 14, client to server: clean disconnect.
    Disconnect = 14,
}

impl PacketType {
    /// Converts the high nibble of byte 0; the reserved values 0 and 15 give `None` (2.2.1).
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            _ => return None,
        })
    }

    /// The flag nibble that every packet of this type must carry, or `None` for PUBLISH,
    /// whose flags are DUP, QoS and RETAIN ([MQTT-2.2.2-1]).
    pub const fn required_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// Whether a client sends packets of this type (2.2.1 table 2.1, "Direction of flow"):
    /// all but CONNACK, SUBACK, UNSUBACK and PINGRESP.
    pub const fn sent_by_client(self) -> bool {
        // Bit n set: type n flows from the client to the server.
        (0b0101_0101_1111_1010_u16 >> self as u8) & 1 != 0
    }

    /// Whether a server sends packets of this type (2.2.1 table 2.1, "Direction of flow"):
    /// all but CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT.
    pub const fn sent_by_server(self) -> bool {
        // Bit n set: type n flows from the server to the client.
        (0b0010_1010_1111_1100_u16 >> self as u8) & 1 != 0
    }

    /// The required flag nibble of type number `t` other than PUBLISH: 0b0010 for PUBREL (6),
    /// SUBSCRIBE (8) and UNSUBSCRIBE (10), 0 for the rest. A bit table, not a match: a few
    /// instructions instead of a jump table on a microcontroller.
    #[inline(always)]
    pub(crate) const fn fixed_flags(t: u8) -> u8 {
        (((1u16 << 6 | 1 << 8 | 1 << 10) >> (t & 0x0f)) as u8 & 1) << 1
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
        })
    }
}

/// The CONNACK return code (3.2.2.3). Values 6 to 255 are reserved and rejected by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ConnectReturnCode {
    /// 0: connection accepted.
    Accepted = 0,
    /// 1: the server does not support protocol level 4.
    UnacceptableProtocolVersion = 1,
    /// 2: the client identifier is well formed but not allowed.
    IdentifierRejected = 2,
    /// 3: the MQTT service is unavailable.
    ServerUnavailable = 3,
    /// 4: the user name or password is malformed or wrong.
    BadUserNameOrPassword = 4,
    /// 5: the client is not authorised to connect.
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    /// Converts the wire value; 6..=255 give `None`.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Accepted,
            1 => Self::UnacceptableProtocolVersion,
            2 => Self::IdentifierRejected,
            3 => Self::ServerUnavailable,
            4 => Self::BadUserNameOrPassword,
            5 => Self::NotAuthorized,
            _ => return None,
        })
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for ConnectReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Accepted => "connection accepted",
            Self::UnacceptableProtocolVersion => "unacceptable protocol version",
            Self::IdentifierRejected => "client identifier rejected",
            Self::ServerUnavailable => "server unavailable",
            Self::BadUserNameOrPassword => "bad user name or password",
            Self::NotAuthorized => "not authorized",
        })
    }
}
