//! The MQTT 3.1.1 control packets and their codec: [`Packet`], [`decode`], [`Packet::encode`].
//!
//! # Decoding contract
//!
//! [`decode`] takes whatever bytes have arrived and returns
//!
//! * `Ok(Status::Complete((packet, consumed)))`: `buf[..consumed]` is exactly one packet
//!   (`consumed` = fixed header + Remaining Length); the next packet, if any, starts at
//!   `buf[consumed..]`. Strings, topics and payloads in `packet` borrow from `buf`.
//! * `Ok(Status::Partial { needed })`: no invalid byte has been seen and the packet is not
//!   complete yet. Once the fixed header is present `needed` is exact.
//! * `Err(DecodeError)`: the bytes can never become a valid packet. The specification
//!   requires closing the connection ([MQTT-4.8.0-1]).
//!
//! Byte 0 is checked as soon as it is present (reserved types, flag bits, QoS 3), so a bad
//! first byte is reported without waiting for the rest. The body is validated only when the
//! whole packet is present, and is parsed against exactly the Remaining Length: a field that
//! runs past it is [`DecodeError::UnexpectedEnd`], leftover bytes are
//! [`DecodeError::TrailingBytes`]. Decoding never panics and never reads outside `buf`.
//!
//! # Encoding contract
//!
//! [`Packet::encode`] checks everything first (field lengths, spec rules, total size,
//! buffer size) and either writes the whole packet and returns its length, or returns an
//! error with the buffer untouched. [`Packet::encoded_len`] gives the size to reserve.
//! The encoder always writes the minimal Remaining Length encoding.
//!
//! ```
//! use umqtt::{Delivery, Packet, Publish, Status, TopicName, decode};
//!
//! let topic = TopicName::new("home/living_room/light")?;
//! let packet = Packet::Publish(Publish::new(topic, b"1", Delivery::AtMostOnce, false));
//! let mut buf = [0u8; 64];
//! let n = packet.encode(&mut buf)?;
//! assert_eq!(&buf[..4], &[0x30, 25, 0x00, 22]);
//! assert_eq!(decode(&buf[..n])?, Status::Complete((packet, n)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connack;
mod connect;
mod publish;
mod subscribe;

pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub use publish::Publish;
pub use subscribe::{
    Entries, EntriesIter, Entry, SubAck, SubAckReturnCode, Subscribe, Subscription, Unsubscribe,
};

use crate::error::{DecodeError, EncodeError, EncodeToError};
use crate::status::Status;
use crate::topic::TopicName;
use crate::types::{Delivery, PacketId, PacketType};
use crate::wire::{self, MAX_REMAINING_LEN, Out, Reader, SliceOut, WriteOut};

/// Any MQTT 3.1.1 control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Packet<'a> {
    /// CONNECT (3.1).
    Connect(Connect<'a>),
    /// CONNACK (3.2).
    ConnAck(ConnAck),
    /// PUBLISH (3.3).
    Publish(Publish<'a>),
    /// PUBACK (3.4): QoS 1 acknowledgement.
    PubAck(PacketId),
    /// PUBREC (3.5): QoS 2, publish received.
    PubRec(PacketId),
    /// PUBREL (3.6): QoS 2, publish released.
    PubRel(PacketId),
    /// PUBCOMP (3.7): QoS 2, publish complete.
    PubComp(PacketId),
    /// SUBSCRIBE (3.8).
    Subscribe(Subscribe<'a>),
    /// SUBACK (3.9).
    SubAck(SubAck<'a>),
    /// UNSUBSCRIBE (3.10).
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK (3.11).
    UnsubAck(PacketId),
    /// PINGREQ (3.12).
    PingReq,
    /// PINGRESP (3.13).
    PingResp,
    /// DISCONNECT (3.14).
    Disconnect,
}

/// The fixed header of a packet (2.2): type, flags and Remaining Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedHeader {
    /// The control packet type.
    pub packet_type: PacketType,
    /// The low nibble of byte 0 (already checked against the type's rules).
    pub flags: u8,
    /// Length of the fixed header itself: 2 to 5 bytes.
    pub header_len: usize,
    /// The Remaining Length: bytes of variable header plus payload.
    pub remaining_len: usize,
}

impl FixedHeader {
    /// Length of the whole packet: header plus Remaining Length.
    pub const fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Checks byte 0 of the fixed header: packet type and flags (2.2.1, 2.2.2).
fn check_first_byte(b: u8) -> Result<(PacketType, u8), DecodeError> {
    let flags = b & 0x0f;
    let Some(packet_type) = PacketType::from_u8(b >> 4) else {
        return Err(DecodeError::ReservedPacketType(b >> 4));
    };
    let required = (packet_type != PacketType::Publish).then(|| PacketType::fixed_flags(b >> 4));
    if let Some(required) = required {
        if flags != required {
            return Err(DecodeError::InvalidFlags { packet_type, flags });
        }
    } else {
        let qos = (flags >> 1) & 0x03;
        if qos == 3 {
            // [MQTT-3.3.1-4]
            return Err(DecodeError::InvalidQos);
        } else if qos == 0 && flags & 0x08 != 0 {
            // [MQTT-3.3.1-2]
            return Err(DecodeError::DupWithQos0);
        }
    }
    Ok((packet_type, flags))
}

/// Reads the fixed header from the start of `buf` without decoding the body.
///
/// Use it to learn how large the next packet is before reading or buffering it.
///
/// # Errors
/// [`DecodeError::ReservedPacketType`], [`DecodeError::InvalidFlags`],
/// [`DecodeError::InvalidQos`], [`DecodeError::DupWithQos0`] for a bad byte 0, and
/// [`DecodeError::MalformedRemainingLength`] for a 5-byte length.
///
/// ```
/// use umqtt::{peek_fixed_header, PacketType, Status};
/// let Status::Complete(h) = peek_fixed_header(&[0x30, 0x80, 0x01])? else { unreachable!() };
/// assert_eq!((h.packet_type, h.header_len, h.remaining_len), (PacketType::Publish, 3, 128));
/// # Ok::<(), umqtt::DecodeError>(())
/// ```
pub fn peek_fixed_header(buf: &[u8]) -> Result<Status<FixedHeader>, DecodeError> {
    let Some((&first, rest)) = buf.split_first() else {
        return Ok(Status::need(2));
    };
    let (packet_type, flags) = check_first_byte(first)?;
    Ok(
        wire::decode_remaining_len(rest)?.map(|(remaining_len, n)| FixedHeader {
            packet_type,
            flags,
            header_len: 1 + n,
            remaining_len,
        }),
    )
}

/// Decodes one packet from the start of `buf`. See the [module docs](self) for the contract.
///
/// # Errors
/// A [`DecodeError`] naming the first rule the bytes break.
pub fn decode(buf: &[u8]) -> Result<Status<(Packet<'_>, usize)>, DecodeError> {
    decode_as::<false>(buf)
}

/// Decodes a packet body whose fixed header has already been read and checked.
///
/// `body` must be exactly `header.remaining_len` bytes long; otherwise the result is
/// [`DecodeError::UnexpectedEnd`] or [`DecodeError::TrailingBytes`].
///
/// # Errors
/// A [`DecodeError`] naming the first rule the body breaks.
pub fn decode_body<'a>(header: &FixedHeader, body: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    check_body_len(header.remaining_len, body)?;
    parse_body::<false>(header.packet_type, header.flags, body)
}

/// [`decode`] for a client: decodes only the packets a server sends (CONNACK, PUBLISH,
/// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP).
///
/// A packet only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT) is
/// [`DecodeError::UnexpectedPacketType`] and its body is not parsed, so a firmware that
/// decodes with this function does not carry those parsers: on Cortex-M it is about 1 KB
/// smaller than one that calls [`decode`].
///
/// # Errors
/// As [`decode`], plus [`DecodeError::UnexpectedPacketType`].
pub fn decode_from_server(buf: &[u8]) -> Result<Status<(Packet<'_>, usize)>, DecodeError> {
    decode_as::<true>(buf)
}

/// Checks that a body is exactly as long as the Remaining Length says.
#[inline(always)]
fn check_body_len(remaining_len: usize, body: &[u8]) -> Result<(), DecodeError> {
    if body.len() != remaining_len {
        return Err(if body.len() < remaining_len {
            DecodeError::UnexpectedEnd
        } else {
            DecodeError::TrailingBytes
        });
    }
    Ok(())
}

/// Decodes one packet from the start of `buf` ([`decode`], or [`decode_from_server`] with
/// `FROM_SERVER`).
#[inline(always)]
fn decode_as<const FROM_SERVER: bool>(buf: &[u8]) -> Result<Status<(Packet<'_>, usize)>, DecodeError> {
    // (What `peek_fixed_header` does, without its `Status<FixedHeader>` in between.) Every
    // incomplete case leaves the block with the bytes it needs, for one `Partial` below.
    let needed = 'partial: {
        let Some((&first, rest)) = buf.split_first() else {
            break 'partial 2;
        };
        let (packet_type, _) = check_first_byte(first)?;
        let (remaining_len, n) = match wire::decode_remaining_len(rest)? {
            Status::Complete(v) => v,
            Status::Partial { needed } => break 'partial needed.get(),
        };
        let header_len = 1 + n;
        let total = header_len + remaining_len;
        let Some(body) = buf.get(header_len..total) else {
            break 'partial total - buf.len();
        };
        check_body_len(remaining_len, body)?;
        // The body parser is given all of byte 0 rather than its low nibble (it reads only
        // flag bits): the nibble is then not kept alive through the body.
        return Ok(Status::Complete((
            parse_body::<FROM_SERVER>(packet_type, first, body)?,
            total,
        )));
    };
    Ok(Status::need(needed))
}

/// Packet types (bit numbers) whose variable header holds a packet identifier: PUBLISH (at
/// QoS 1 and 2), PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK.
const HAS_ID: u16 = 0x0ff8;

/// Parses the `body` of a packet of type `t` whose length was checked. `flags` is byte 0 of
/// the fixed header or its low nibble: only the flag bits are read. The topic name and the
/// packet identifier are each read at one call site, ahead of the per-type match . From a server, a client-only
/// type reads nothing and is refused in the match.
#[inline(always)]
fn parse_body<'a, const FROM_SERVER: bool>(
    t: PacketType,
    flags: u8,
    body: &'a [u8],
) -> Result<Packet<'a>, DecodeError> {
    let r = &mut Reader(body);
    // The variable header: a PUBLISH starts with its topic name; then every type that has a
    // packet identifier (PUBLISH only at QoS 1 and 2) reads it, at this one call site.
    let topic = if t == PacketType::Publish {
        Some(r.topic_name()?)
    } else {
        None
    };
    // (A type without one, and a QoS 0 PUBLISH, get a placeholder that nothing uses.)
    // From a server, the client-only SUBSCRIBE and UNSUBSCRIBE read nothing either: like the
    // other client-only types they go straight to the `UnexpectedPacketType` arm below.
    let has_id = if FROM_SERVER {
        HAS_ID & !(1 << 8 | 1 << 10)
    } else {
        HAS_ID
    };
    let id = if (has_id >> (t as u8)) & 1 != 0 && (t != PacketType::Publish || flags & 0x06 != 0) {
        let v = r.u16()?;
        let Some(id) = PacketId::new(v) else {
            return Err(DecodeError::PacketIdZero);
        };
        id
    } else {
        PacketId::MIN
    };
    let packet = match t {
        PacketType::Connect if !FROM_SERVER => Packet::Connect(Connect::parse(r)?),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::parse(r)?),
        PacketType::Publish => {
            // Cannot fail: the topic was read above for a PUBLISH.
            let Some(topic) = topic else {
                return Err(DecodeError::UnexpectedEnd);
            };
            Packet::Publish(publish_from_parts(flags, topic, id, r.rest()))
        }
        PacketType::PubAck => Packet::PubAck(id),
        PacketType::PubRec => Packet::PubRec(id),
        PacketType::PubRel => Packet::PubRel(id),
        PacketType::PubComp => Packet::PubComp(id),
        PacketType::Subscribe if !FROM_SERVER => Packet::Subscribe(Subscribe::parse_after_id(id, r)?),
        PacketType::SubAck => Packet::SubAck(SubAck::parse_after_id(id, r)?),
        PacketType::Unsubscribe if !FROM_SERVER => Packet::Unsubscribe(Unsubscribe::parse_after_id(id, r)?),
        PacketType::UnsubAck => Packet::UnsubAck(id),
        PacketType::PingReq if !FROM_SERVER => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect if !FROM_SERVER => Packet::Disconnect,
        // A client-only type from a server (nothing of its body was read).
        _ => return Err(DecodeError::UnexpectedPacketType(t)),
    };
    // Every field is read; whatever is left over breaks the Remaining Length.
    if !r.0.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(packet)
}

/// Assembles a decoded PUBLISH from checked `flags` (QoS 0 to 2; the low nibble of byte 0, or
/// all of byte 0: only the flag bits are read), its topic, the packet identifier read for
/// QoS 1 and 2 (any placeholder for QoS 0), and the payload.
fn publish_from_parts<'a>(flags: u8, topic: TopicName<'a>, id: PacketId, payload: &'a [u8]) -> Publish<'a> {
    // The QoS bits pick the variant (QoS 3 was refused with the fixed header).
    let delivery = match (flags >> 1) & 3 {
        0 => Delivery::AtMostOnce,
        1 => Delivery::AtLeastOnce(id),
        _ => Delivery::ExactlyOnce(id),
    };
    Publish {
        dup: flags & 0x08 != 0,
        delivery,
        retain: flags & 0x01 != 0,
        topic,
        payload,
    }
}

/// Encodes `packet` into `buf`; the free-function form of [`Packet::encode`].
///
/// # Errors
/// See [`Packet::encode`].
pub fn encode(packet: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    packet.encode(buf)
}

/// [`encode`] for a client: encodes only the packets a client sends (CONNECT, PUBLISH,
/// PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT); the
/// counterpart of [`decode_from_server`].
///
/// A packet only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP) is refused with
/// [`EncodeError::ServerOnlyPacket`] and nothing is written, so a firmware that encodes
/// with this function does not carry the CONNACK and SUBACK writers (about 50 B of flash on
/// Cortex-M). Every other packet gives the same bytes, or the same error, as [`encode`].
///
/// # Errors
/// As [`Packet::encode`], plus [`EncodeError::ServerOnlyPacket`].
pub fn encode_from_client(packet: &Packet<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    packet.encode_as::<false, true>(buf)
}

impl<'a> Packet<'a> {
    /// Decodes one packet from the start of `buf`; same as [`decode`].
    ///
    /// # Errors
    /// See [`decode`].
    pub fn decode(buf: &'a [u8]) -> Result<Status<(Self, usize)>, DecodeError> {
        decode(buf)
    }

    /// The packet type.
    pub const fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect => PacketType::Disconnect,
        }
    }

    /// Every check the encoder makes before writing; returns byte 0 of the fixed header and
    /// the Remaining Length. With `ALL = false`, CONNACK and SUBACK are not handled (see
    /// [`write_body`](Self::write_body)). With `CLIENT` ([`encode_from_client`]) the packets
    /// only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP) are refused first, with
    /// [`EncodeError::ServerOnlyPacket`].
    ///
    /// One `match` checks and sizes each type, so the type is dispatched on once before
    /// writing; the lengths are added up, not counted by a dry run of the writer.
    #[inline]
    fn head<const ALL: bool, const CLIENT: bool>(&self) -> Result<(u8, usize), EncodeError> {
        use PacketType as T;
        // Byte 0 of each type: its number and its required flags (a PUBLISH adds its own).
        const fn b0(t: T) -> u8 {
            ((t as u8) << 4) | T::fixed_flags(t as u8)
        }
        let (first, rem) = match self {
            Self::ConnAck(_) | Self::SubAck(_) | Self::UnsubAck(_) | Self::PingResp if CLIENT => {
                return Err(EncodeError::ServerOnlyPacket);
            }
            Self::Connect(c) => (b0(T::Connect), c.check()?),
            Self::Publish(p) => {
                p.validate()?;
                (b0(T::Publish) | p.flags(), p.body_len())
            }
            Self::Subscribe(s) => {
                s.validate()?;
                (b0(T::Subscribe), s.body_len())
            }
            Self::Unsubscribe(u) => {
                u.validate()?;
                (b0(T::Unsubscribe), u.body_len())
            }
            Self::ConnAck(c) if ALL => {
                c.validate()?;
                (b0(T::ConnAck), 2)
            }
            Self::SubAck(s) if ALL => {
                s.validate()?;
                (b0(T::SubAck), s.body_len())
            }
            Self::PubAck(_) => (b0(T::PubAck), 2),
            Self::PubRec(_) => (b0(T::PubRec), 2),
            Self::PubRel(_) => (b0(T::PubRel), 2),
            Self::PubComp(_) => (b0(T::PubComp), 2),
            Self::UnsubAck(_) => (b0(T::UnsubAck), 2),
            Self::PingReq => (b0(T::PingReq), 0),
            Self::PingResp => (b0(T::PingResp), 0),
            Self::Disconnect => (b0(T::Disconnect), 0),
            // (CONNACK and SUBACK arrive here only without `ALL`, whose callers never
            // encode them: `write_body` writes nothing for them then.)
            Self::ConnAck(_) => (b0(T::ConnAck), 0),
            Self::SubAck(_) => (b0(T::SubAck), 0),
        };
        if rem > MAX_REMAINING_LEN {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok((first, rem))
    }

    /// The Remaining Length, unchecked (saturating at `usize::MAX`).
    fn body_len(&self) -> usize {
        match self {
            Self::Connect(c) => c.body_len(),
            Self::Publish(p) => p.body_len(),
            Self::Subscribe(s) => s.body_len(),
            Self::SubAck(s) => s.body_len(),
            Self::Unsubscribe(u) => u.body_len(),
            Self::ConnAck(_)
            | Self::PubAck(_)
            | Self::PubRec(_)
            | Self::PubRel(_)
            | Self::PubComp(_)
            | Self::UnsubAck(_) => 2,
            Self::PingReq | Self::PingResp | Self::Disconnect => 0,
        }
    }

    /// Writes the fixed header (byte 0 `first`, a Remaining Length `rem` of at most
    /// [`MAX_REMAINING_LEN`]), then the body.
    #[inline]
    fn write<O: Out, const ALL: bool>(&self, (first, rem): (u8, usize), o: &mut O) -> Result<(), O::Error> {
        o.put_u8(first)?;
        wire::put_remaining_len(o, rem)?;
        self.write_body::<O, ALL>(o)
    }

    /// Writes the variable header and payload. With `ALL = false` the two types only a server
    /// sends with a body, CONNACK and SUBACK, write nothing: a client never encodes them, so
    /// its firmware does not carry their writers.
    #[inline]
    fn write_body<O: Out, const ALL: bool>(&self, o: &mut O) -> Result<(), O::Error> {
        match self {
            Self::Connect(c) => c.write(o),
            Self::Publish(p) => p.write(o),
            Self::Subscribe(s) => s.write(o),
            Self::Unsubscribe(u) => u.write(o),
            Self::PubAck(id)
            | Self::PubRec(id)
            | Self::PubRel(id)
            | Self::PubComp(id)
            | Self::UnsubAck(id) => o.put_u16(id.get()),
            Self::PingReq | Self::PingResp | Self::Disconnect => Ok(()),
            Self::ConnAck(c) if ALL => c.write(o),
            Self::SubAck(s) if ALL => s.write(o),
            Self::ConnAck(_) | Self::SubAck(_) => Ok(()),
        }
    }

    /// Check, size, then write into exactly the packet's bytes of `buf`: the one encoder
    /// behind [`encode`](Self::encode) and [`encode_from_client`] (see [`head`](Self::head)
    /// for `ALL` and `CLIENT`).
    #[inline(always)]
    fn encode_as<const ALL: bool, const CLIENT: bool>(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let head = self.head::<ALL, CLIENT>()?;
        let total = 1 + wire::remaining_len_size(head.1) + head.1;
        let Some(buf) = buf.get_mut(..total) else {
            return Err(EncodeError::BufferTooSmall { needed: total });
        };
        let Ok(()) = self.write::<_, ALL>(head, &mut SliceOut::new(buf));
        Ok(total)
    }

    /// Number of bytes [`encode`](Self::encode) writes for this packet.
    ///
    /// Meaningful only for packets the encoder accepts; for a packet over the size limit it
    /// still returns the (unencodable) length, saturating at `usize::MAX`.
    pub fn encoded_len(&self) -> usize {
        let rem = self.body_len();
        rem.saturating_add(1 + wire::remaining_len_size(rem))
    }

    /// Encodes the packet at the start of `buf` and returns the number of bytes written.
    ///
    /// All-or-nothing: on error nothing has been written to `buf`.
    ///
    /// # Errors
    /// * [`EncodeError::BufferTooSmall`] with the full length needed;
    /// * [`EncodeError::PacketTooLarge`] when the Remaining Length would exceed 268,435,455;
    /// * the spec rule the packet breaks (for example [`EncodeError::DupWithQos0`],
    ///   [`EncodeError::PasswordWithoutUserName`], [`EncodeError::FieldTooLong`]).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.encode_as::<true, false>(buf)
    }

    /// The PUBLISH payload (empty for other packets).
    fn tail(&self) -> &[u8] {
        match self {
            Self::Publish(p) => p.payload,
            _ => &[],
        }
    }

    /// Encodes everything but a PUBLISH payload into `buf` and returns its length together
    /// with the payload, which the caller writes next. For other packets the payload part is
    /// empty. Lets a client send a message larger than its transmit buffer without copying.
    /// Only for the packets a client sends: the CONNACK and SUBACK writers are left out (see
    /// [`write_body`](Self::write_body)).
    pub(crate) fn encode_head<'s>(&'s self, buf: &mut [u8]) -> Result<(usize, &'s [u8]), EncodeError> {
        debug_assert!(
            self.packet_type().sent_by_client(),
            "encode_head is for what a client sends"
        );
        let (first, rem) = self.head::<false, false>()?;
        let tail = self.tail();
        let head = 1 + wire::remaining_len_size(rem) + rem - tail.len();
        if buf.len() < head {
            return Err(EncodeError::BufferTooSmall { needed: head });
        }
        // The payload is the last field and is written in one piece, so in a sink of exactly
        // `head` bytes it does not fit and is skipped: everything before it is written.
        let Ok(()) = self.write::<_, false>(
            (first, rem),
            &mut SliceOut::new(buf.get_mut(..head).unwrap_or_default()),
        );
        Ok((head, tail))
    }

    /// Encodes the packet for sending from `tx`: the whole packet when it fits, otherwise
    /// everything but the PUBLISH payload, which is returned to be written right after it.
    /// Returns the bytes used in `tx` and the part still to write.
    pub(crate) fn encode_for_send<'s>(&'s self, tx: &mut [u8]) -> Result<(usize, &'s [u8]), EncodeError> {
        let (n, tail) = self.encode_head(tx)?;
        match tx.get_mut(n..n + tail.len()) {
            Some(dst) => {
                dst.copy_from_slice(tail);
                Ok((n + tail.len(), &[]))
            }
            None => Ok((n, tail)),
        }
    }

    /// Encodes the packet straight into an `embedded_io::Write`, field by field, and returns
    /// the number of bytes written. Wrap unbuffered transports in a buffer first, or encode
    /// into a slice and write that.
    ///
    /// # Errors
    /// [`EncodeToError::Encode`] if the packet is refused (nothing was written), or
    /// [`EncodeToError::Write`] if the writer failed part way.
    pub fn encode_to<W: embedded_io::Write>(&self, w: &mut W) -> Result<usize, EncodeToError<W::Error>> {
        let head = self.head::<true, false>()?;
        self.write::<_, true>(head, &mut WriteOut(w))
            .map_err(EncodeToError::Write)?;
        Ok(1 + wire::remaining_len_size(head.1) + head.1)
    }
}

impl<'a> From<Publish<'a>> for Packet<'a> {
    fn from(p: Publish<'a>) -> Self {
        Self::Publish(p)
    }
}

impl<'a> From<Connect<'a>> for Packet<'a> {
    fn from(c: Connect<'a>) -> Self {
        Self::Connect(c)
    }
}

impl<'a> From<Subscribe<'a>> for Packet<'a> {
    fn from(s: Subscribe<'a>) -> Self {
        Self::Subscribe(s)
    }
}

impl<'a> From<Unsubscribe<'a>> for Packet<'a> {
    fn from(u: Unsubscribe<'a>) -> Self {
        Self::Unsubscribe(u)
    }
}

impl From<ConnAck> for Packet<'_> {
    fn from(c: ConnAck) -> Self {
        Self::ConnAck(c)
    }
}

impl<'a> From<SubAck<'a>> for Packet<'a> {
    fn from(s: SubAck<'a>) -> Self {
        Self::SubAck(s)
    }
}

/// Helpers of the parse/emit tests at the bottom of each packet file.
#[cfg(test)]
pub(crate) mod test_util {
    use super::{Packet, decode};
    use crate::status::Status;
    use crate::wire::{SliceOut, put_remaining_len, remaining_len_size};
    use std::vec::Vec;

    /// Byte 0 and the Remaining Length `rem`, for tests that build a long packet by hand.
    pub(crate) fn fixed_header(first: u8, rem: usize) -> Vec<u8> {
        let mut bytes = std::vec![first; 1 + remaining_len_size(rem)];
        let Ok(()) = put_remaining_len(&mut SliceOut::new(&mut bytes[1..]), rem);
        bytes
    }

    /// Encodes `p` into a buffer poisoned with 0xa5 and four bytes longer than needed; checks
    /// that the length matches `encoded_len` and that nothing past it was written.
    pub(crate) fn emit(p: &Packet<'_>) -> Vec<u8> {
        let len = p.encoded_len();
        let mut buf = std::vec![0xa5u8; len + 4];
        let n = p.encode(&mut buf).expect("the packet encodes");
        assert_eq!(n, len, "encode and encoded_len disagree for {p:?}");
        assert_eq!(&buf[n..], &[0xa5; 4], "wrote past the packet: {p:?}");
        buf.truncate(n);
        buf
    }

    /// Decodes `bytes`, which must be exactly one packet.
    pub(crate) fn parse(bytes: &[u8]) -> Packet<'_> {
        match decode(bytes) {
            Ok(Status::Complete((p, n))) => {
                assert_eq!(n, bytes.len(), "consumed");
                p
            }
            other => panic!("{bytes:02x?} did not decode: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{emit, parse};
    use super::*;
    use crate::error::EncodeError;

    fn id(v: u16) -> PacketId {
        PacketId::new(v).unwrap()
    }

    /// Every packet without a payload, with its exact bytes: the one encoder writes each of
    /// them, and the decoder reads them back.
    #[test]
    fn fixed_size_packets_parse_and_emit() {
        let cases: [(Packet<'static>, &[u8]); 8] = [
            (Packet::PubAck(id(0x1234)), &[0x40, 0x02, 0x12, 0x34]),
            (Packet::PubRec(id(7)), &[0x50, 0x02, 0x00, 0x07]),
            // PUBREL has the required flags 0b0010.
            (Packet::PubRel(id(7)), &[0x62, 0x02, 0x00, 0x07]),
            (Packet::PubComp(id(7)), &[0x70, 0x02, 0x00, 0x07]),
            (Packet::UnsubAck(id(0xfffe)), &[0xb0, 0x02, 0xff, 0xfe]),
            (Packet::PingReq, &[0xc0, 0x00]),
            (Packet::PingResp, &[0xd0, 0x00]),
            (Packet::Disconnect, &[0xe0, 0x00]),
        ];
        for (packet, bytes) in cases {
            assert_eq!(emit(&packet), bytes, "{packet:?}");
            assert_eq!(parse(bytes), packet);
            assert_eq!(packet.encoded_len(), bytes.len());
        }
    }

    #[test]
    fn fixed_size_packets_refuse_a_body_of_the_wrong_length() {
        assert_eq!(
            decode(&[0x40, 0x03, 0x00, 0x07, 0x00]),
            Err(DecodeError::TrailingBytes)
        );
        assert_eq!(decode(&[0x40, 0x01, 0x00]), Err(DecodeError::UnexpectedEnd));
        assert_eq!(decode(&[0xc0, 0x01, 0x00]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode(&[0x40, 0x02, 0x00, 0x00]), Err(DecodeError::PacketIdZero));
        // PUBREL without its required flag bit.
        assert!(matches!(
            decode(&[0x60, 0x02, 0x00, 0x07]),
            Err(DecodeError::InvalidFlags { .. })
        ));
    }

    #[test]
    fn a_buffer_too_small_is_left_untouched() {
        let mut buf = [0xa5u8; 3];
        assert_eq!(
            Packet::PubAck(id(1)).encode(&mut buf),
            Err(EncodeError::BufferTooSmall { needed: 4 })
        );
        assert_eq!(buf, [0xa5; 3]);
        assert_eq!(
            encode_from_client(&Packet::PingResp, &mut [0u8; 8]),
            Err(EncodeError::ServerOnlyPacket)
        );
        assert_eq!(encode_from_client(&Packet::PingReq, &mut buf), Ok(2));
        assert_eq!(&buf[..2], &[0xc0, 0x00]);
    }
}
