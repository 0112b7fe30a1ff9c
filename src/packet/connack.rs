//! CONNACK (3.2).

use crate::error::{DecodeError, EncodeError};
use crate::types::ConnectReturnCode;
use crate::wire::{Out, Reader};

/// A CONNACK packet: the server's answer to CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnAck {
    /// Whether the server resumed a stored session (3.2.2.2).
    pub session_present: bool,
    /// Accepted, or why not.
    pub code: ConnectReturnCode,
}

impl ConnAck {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // Both bytes straight from the body; the flags are judged before a missing code.
        let (flags, code) = match *r.0 {
            [flags, ..] if flags & 0xfe != 0 => return Err(DecodeError::ReservedConnAckFlags(flags)),
            [flags, code, ref rest @ ..] => {
                r.0 = rest;
                (flags, code)
            }
            _ => return Err(DecodeError::UnexpectedEnd),
        };
        let Some(code) = ConnectReturnCode::from_u8(code) else {
            return Err(DecodeError::InvalidConnectReturnCode(code));
        };
        let session_present = flags & 0x01 != 0;
        if session_present && code != ConnectReturnCode::Accepted {
            return Err(DecodeError::SessionPresentOnRefusal);
        }
        Ok(Self {
            session_present,
            code,
        })
    }

    pub(crate) fn validate(&self) -> Result<(), EncodeError> {
        if self.session_present && self.code != ConnectReturnCode::Accepted {
            return Err(EncodeError::SessionPresentOnRefusal);
        }
        Ok(())
    }

    pub(crate) fn write<O: Out>(&self, o: &mut O) -> Result<(), O::Error> {
        o.put(&[u8::from(self.session_present), self.code.as_u8()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Packet;
    use crate::packet::test_util::{emit, parse};

    static PACKET_BYTES: [u8; 4] = [
        0x20, 0x02, // CONNACK, Remaining Length 2
        0x01, // session present
        0x00, // accepted
    ];

    #[test]
    fn test_parse_and_emit() {
        let packet = Packet::ConnAck(ConnAck {
            session_present: true,
            code: ConnectReturnCode::Accepted,
        });
        assert_eq!(parse(&PACKET_BYTES), packet);
        assert_eq!(emit(&packet), PACKET_BYTES);
    }

    #[test]
    fn session_present_with_a_refusal_is_refused_both_ways() {
        // [MQTT-3.2.2-4]
        let bytes = [0x20, 0x02, 0x01, 0x05];
        assert_eq!(
            crate::packet::decode(&bytes),
            Err(DecodeError::SessionPresentOnRefusal)
        );
        let packet = Packet::ConnAck(ConnAck {
            session_present: true,
            code: ConnectReturnCode::NotAuthorized,
        });
        assert_eq!(
            packet.encode(&mut [0; 8]),
            Err(EncodeError::SessionPresentOnRefusal)
        );
    }

    #[test]
    fn reserved_flags_and_unknown_codes_are_refused() {
        // [MQTT-3.2.2-1]: the flags are judged before the code.
        assert_eq!(
            crate::packet::decode(&[0x20, 0x02, 0x02, 0x09]),
            Err(DecodeError::ReservedConnAckFlags(0x02))
        );
        assert_eq!(
            crate::packet::decode(&[0x20, 0x02, 0x00, 0x06]),
            Err(DecodeError::InvalidConnectReturnCode(6))
        );
    }
}
