//! CONNECT (3.1) and its last-will payload.

use crate::error::{DecodeError, EncodeError};
use crate::topic::TopicName;
use crate::types::QoS;
use crate::wire::{self, MAX_FIELD_LEN, Out, Reader};

const PROTOCOL_NAME: &[u8; 4] = b"MQTT";
const PROTOCOL_LEVEL: u8 = 4;
/// The start of every CONNECT variable header: the length-prefixed protocol name, then the
/// protocol level (3.1.2.1, 3.1.2.2).
const PROTOCOL_HEAD: &[u8; 7] = &[0, 4, b'M', b'Q', b'T', b'T', PROTOCOL_LEVEL];

/// The will message the server publishes if the client vanishes without DISCONNECT (3.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LastWill<'a> {
    /// Topic the will is published to ([MQTT-3.1.3-10]).
    pub topic: TopicName<'a>,
    /// Will payload: binary, 0 to 65,535 bytes.
    pub message: &'a [u8],
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is published as a retained message.
    pub retain: bool,
}

/// A CONNECT packet: the first packet a client sends ([MQTT-3.1.0-1]).
///
/// Always encoded with protocol name `MQTT` and level 4; the decoder rejects anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Connect<'a> {
    /// Discard any previous session and start a new one (3.1.2.4).
    pub clean_session: bool,
    /// Keep-alive interval in seconds; 0 disables keep-alive (3.1.2.10).
    pub keep_alive: u16,
    /// Client identifier; may be empty only with `clean_session` ([MQTT-3.1.3-7]).
    pub client_id: &'a str,
    /// Optional will message.
    pub will: Option<LastWill<'a>>,
    /// Optional user name.
    pub username: Option<&'a str>,
    /// Optional password (binary); requires a user name ([MQTT-3.1.2-22]).
    pub password: Option<&'a [u8]>,
}

impl<'a> Connect<'a> {
    pub(crate) fn parse(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        if r.binary()? != PROTOCOL_NAME {
            return Err(DecodeError::InvalidProtocolName);
        }
        let level = r.u8()?;
        if level != PROTOCOL_LEVEL {
            return Err(DecodeError::UnsupportedProtocolLevel(level));
        }
        let flags = r.u8()?;
        if flags & 0x01 != 0 {
            return Err(DecodeError::ReservedConnectFlag);
        }
        let has_will = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        if !has_will && (will_qos != 0 || will_retain) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        let Some(will_qos) = QoS::from_u8(will_qos) else {
            return Err(DecodeError::InvalidWillQos);
        };
        if has_password && !has_username {
            return Err(DecodeError::PasswordWithoutUserName);
        }
        let keep_alive = r.u16()?;
        // The payload's strings are cut from it when it is UTF-8 as a whole (it is when every
        // field, the will message and password too, is ASCII and shorter than 128 bytes),
        // instead of each being validated on its own (see `Reader::string_in`; callgrind, the
        // bench's CONNECT: 1358 -> 1259 instructions).
        let text = core::str::from_utf8(r.0).ok();
        // [MQTT-3.1.3-1] payload order: client id, will topic, will message, user name, password.
        let (client_id, _) = r.string_in(0, text)?;
        let will = if has_will {
            Some(LastWill {
                topic: r.topic_name_in(text)?,
                message: r.binary()?,
                qos: will_qos,
                retain: will_retain,
            })
        } else {
            None
        };
        let username = if has_username {
            Some(r.string_in(0, text)?.0)
        } else {
            None
        };
        let password = if has_password { Some(r.binary()?) } else { None };
        Ok(Self {
            clean_session: flags & 0x02 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
        })
    }

    /// Every rule an encoder checks, and the Remaining Length: the 10-byte variable header,
    /// then each field with its 2-byte length (no sum can overflow once each field is known
    /// to be at most 65,535 bytes).
    pub(crate) fn check(&self) -> Result<usize, EncodeError> {
        let mut n = 12 + check_str(self.client_id)?;
        // An empty identifier without a clean session: both zero in one test (one ORR of two
        // registers on Cortex-M).
        let no_id_to_resume = self.client_id.len() | usize::from(self.clean_session) == 0;
        if no_id_to_resume {
            return Err(EncodeError::EmptyClientIdWithoutCleanSession);
        }
        if let Some(w) = &self.will {
            // (The topic is a `TopicName`, at most 65,535 bytes by construction.)
            n += 4 + w.topic.len() + check_len(w.message.len())?;
        }
        // A password needs a user name. Judged before the user name's own checks: only a
        // missing user name breaks this rule and only a present one can break those, so the
        // first error is the same.
        if self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::PasswordWithoutUserName);
        }
        if let Some(u) = self.username {
            n += 2 + check_str(u)?;
        }
        if let Some(p) = self.password {
            n += 2 + check_len(p.len())?;
        }
        Ok(n)
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.clean_session {
            f |= 0x02;
        }
        if let Some(w) = &self.will {
            f |= 0x04 | (w.qos.as_u8() << 3);
            if w.retain {
                f |= 0x20;
            }
        }
        if self.password.is_some() {
            f |= 0x40;
        }
        if self.username.is_some() {
            f |= 0x80;
        }
        f
    }

    /// The Remaining Length without the checks, for [`Packet::encoded_len`](crate::Packet),
    /// saturating (a field that long is refused by [`check`](Self::check) anyway).
    pub(crate) fn body_len(&self) -> usize {
        let mut n = 12 + self.client_id.len();
        if let Some(w) = &self.will {
            n = n
                .saturating_add(4 + w.topic.len())
                .saturating_add(w.message.len());
        }
        if let Some(u) = self.username {
            n = n.saturating_add(2 + u.len());
        }
        if let Some(p) = self.password {
            n = n.saturating_add(2 + p.len());
        }
        n
    }

    pub(crate) fn write<O: Out>(&self, o: &mut O) -> Result<(), O::Error> {
        // The 10-byte variable header: the constant protocol name and level in one write
        // straight from flash, then flags and keep alive.
        o.put(PROTOCOL_HEAD)?;
        o.put_u8(self.flags())?;
        o.put_u16(self.keep_alive)?;
        o.put_field(self.client_id.as_bytes())?;
        if let Some(w) = &self.will {
            o.put_field(w.topic.as_bytes())?;
            o.put_field(w.message)?;
        }
        if let Some(u) = self.username {
            o.put_field(u.as_bytes())?;
        }
        if let Some(p) = self.password {
            o.put_field(p)?;
        }
        Ok(())
    }
}

/// Length rule for every string and binary field (1.5.3); returns the length.
pub(crate) fn check_len(len: usize) -> Result<usize, EncodeError> {
    if len > MAX_FIELD_LEN {
        Err(EncodeError::FieldTooLong)
    } else {
        Ok(len)
    }
}

/// String rules an encoder must check for a plain `&str` ([MQTT-1.5.3-2] and 1.5.3 length);
/// returns the length.
pub(crate) fn check_str(s: &str) -> Result<usize, EncodeError> {
    let len = check_len(s.len())?;
    if wire::contains_nul(s.as_bytes()) {
        return Err(EncodeError::NullCharacter);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::test_util::{emit, fixed_header, parse};
    use crate::packet::{Packet, decode};

    static PACKET_BYTES: [u8; 32] = [
        0x10, 30, // CONNECT, Remaining Length 30
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level 4
        0xee, // user name, password, will retain, will QoS 1, will, clean session
        0x00, 0x3c, // keep alive 60 s
        0x00, 0x02, b'c', b'1', // client identifier
        0x00, 0x03, b'w', b'/', b't', // will topic
        0x00, 0x03, b'b', b'y', b'e', // will message
        0x00, 0x01, b'u', // user name
        0x00, 0x01, b'p', // password
    ];

    fn packet() -> Connect<'static> {
        Connect {
            clean_session: true,
            keep_alive: 60,
            client_id: "c1",
            will: Some(LastWill {
                topic: TopicName::new("w/t").unwrap(),
                message: b"bye",
                qos: QoS::AtLeastOnce,
                retain: true,
            }),
            username: Some("u"),
            password: Some(b"p"),
        }
    }

    #[test]
    fn test_parse_and_emit() {
        assert_eq!(parse(&PACKET_BYTES), Packet::Connect(packet()));
        assert_eq!(emit(&Packet::Connect(packet())), PACKET_BYTES);
    }

    #[test]
    fn minimal_connect_parse_and_emit() {
        let bytes = [
            0x10, 12, // CONNECT
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // protocol
            0x02, // clean session only
            0x00, 0x00, // no keep alive
            0x00, 0x00, // empty client identifier
        ];
        let c = Connect {
            clean_session: true,
            keep_alive: 0,
            client_id: "",
            will: None,
            username: None,
            password: None,
        };
        assert_eq!(emit(&Packet::Connect(c)), bytes);
        assert_eq!(parse(&bytes), Packet::Connect(c));
    }

    /// The strings are cut from the payload when it is UTF-8 as a whole, and validated one by
    /// one when it is not (a binary password): the same packet either way, and a client id
    /// that is not UTF-8 by itself is refused even inside a payload that is.
    #[test]
    fn strings_are_the_same_whether_the_payload_is_utf8_as_a_whole_or_not() {
        for password in [&b"secret"[..], &[0xff, 0xfe, 0x00]] {
            let mut c = packet();
            c.password = Some(password);
            let bytes = emit(&Packet::Connect(c));
            assert_eq!(
                core::str::from_utf8(&bytes[12..]).is_ok(),
                password == b"secret",
                "{password:?}"
            );
            assert_eq!(parse(&bytes), Packet::Connect(c));
        }

        // Client id "a" + 0xc3, then a will topic of 0xa941 bytes: the length's first byte
        // completes the client id's "é", so the payload is UTF-8 as a whole, the id is not.
        let topic_len = 0xa941usize;
        let rem = 10 + 4 + 2 + topic_len + 2;
        let mut bytes = fixed_header(0x10, rem);
        bytes.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x06, 0, 60]);
        bytes.extend_from_slice(&[0x00, 0x02, b'a', 0xc3, 0xa9, 0x41]);
        bytes.resize(bytes.len() + topic_len, b'x');
        bytes.extend_from_slice(&[0x00, 0x00]); // empty will message
        assert!(core::str::from_utf8(&bytes[14..]).is_ok());
        assert_eq!(decode(&bytes), Err(DecodeError::InvalidUtf8));
        bytes[17] = b'b';
        let Packet::Connect(c) = parse(&bytes) else {
            panic!("not a CONNECT")
        };
        assert_eq!(
            (c.client_id, c.will.map(|w| w.topic.len())),
            ("ab", Some(topic_len))
        );
    }

    #[test]
    fn encoder_refuses_what_the_spec_forbids() {
        let mut c = packet();
        c.username = None;
        // [MQTT-3.1.2-22]
        assert_eq!(
            Packet::Connect(c).encode(&mut [0; 64]),
            Err(EncodeError::PasswordWithoutUserName)
        );
        let mut c = packet();
        c.client_id = "";
        c.clean_session = false;
        // [MQTT-3.1.3-7]
        assert_eq!(
            Packet::Connect(c).encode(&mut [0; 64]),
            Err(EncodeError::EmptyClientIdWithoutCleanSession)
        );
    }

    #[test]
    fn decoder_refuses_a_bad_header() {
        let mut level3 = PACKET_BYTES;
        level3[8] = 3;
        assert_eq!(decode(&level3), Err(DecodeError::UnsupportedProtocolLevel(3)));
        let mut reserved = PACKET_BYTES;
        reserved[9] |= 0x01;
        // [MQTT-3.1.2-3]
        assert_eq!(decode(&reserved), Err(DecodeError::ReservedConnectFlag));
        let mut name = PACKET_BYTES;
        name[5] = b't';
        assert_eq!(decode(&name), Err(DecodeError::InvalidProtocolName));
    }
}
