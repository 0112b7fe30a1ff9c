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
