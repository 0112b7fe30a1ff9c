//! Framing over `embedded-io`: read exactly one packet from an [`embedded_io::Read`].

use embedded_io::{Read, ReadExactError};

use crate::error::ReadPacketError;
use crate::packet::{FixedHeader, Packet, decode_body, peek_fixed_header};
use crate::status::Status;

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], mid_packet: bool) -> Result<(), ReadPacketError<R::Error>> {
    r.read_exact(buf).map_err(|e| match e {
        ReadExactError::UnexpectedEof => ReadPacketError::Eof { mid_packet },
        ReadExactError::Other(e) => ReadPacketError::Read(e),
    })
}

/// Reads the fixed header of the next packet (2 to 5 bytes, never more).
///
/// # Errors
/// As [`read_packet`], except `TooLarge`.
pub fn read_fixed_header<R: Read>(r: &mut R) -> Result<FixedHeader, ReadPacketError<R::Error>> {
    let mut hdr = [0u8; 5];
    let mut have = 0;
    loop {
        // Ask for at least one more byte, and exactly as many as the header still needs.
        let needed = match peek_fixed_header(hdr.get(..have).unwrap_or(&[]))? {
            Status::Complete(h) => return Ok(h),
            Status::Partial { needed } => needed.get(),
        };
        let end = (have + needed).min(hdr.len());
        let dst = hdr.get_mut(have..end).unwrap_or(&mut []);
        read_exact(r, dst, have > 0)?;
        have = end;
    }
}

/// Reads one whole packet into `buf` and decodes it.
///
/// Reads the fixed header byte by byte (at most 5 bytes), then exactly the Remaining
/// Length into `buf`, so it never reads past the end of the packet. `buf` holds the body
/// only: it must be at least as long as the largest Remaining Length you accept.
///
/// # Errors
/// * [`ReadPacketError::Eof`] when the stream ends (`mid_packet` says whether cleanly);
/// * [`ReadPacketError::Read`] when the reader fails;
/// * [`ReadPacketError::Decode`] for a malformed packet (close the connection);
/// * [`ReadPacketError::TooLarge`] when the body is longer than `buf`. The body is read and
///   discarded first, so the stream stays aligned on packet boundaries.
///
/// ```
/// use umqtt::{read_packet, Packet, PacketId};
/// let mut wire: &[u8] = &[0x40, 0x02, 0x00, 0x07, 0xd0, 0x00];
/// let mut buf = [0u8; 16];
/// assert_eq!(read_packet(&mut wire, &mut buf)?, Packet::PubAck(PacketId::new(7).unwrap()));
/// assert_eq!(read_packet(&mut wire, &mut buf)?, Packet::PingResp);
/// # Ok::<(), umqtt::ReadPacketError<core::convert::Infallible>>(())
/// ```
pub fn read_packet<'b, R: Read>(
    r: &mut R,
    buf: &'b mut [u8],
) -> Result<Packet<'b>, ReadPacketError<R::Error>> {
    let header = read_fixed_header(r)?;
    let rem = header.remaining_len;
    if rem > buf.len() {
        let mut left = rem;
        while left > 0 {
            let chunk = left.min(buf.len()).max(1);
            let mut one = [0u8; 1];
            let dst = if buf.is_empty() {
                &mut one[..]
            } else {
                buf.get_mut(..chunk).unwrap_or(&mut [])
            };
            read_exact(r, dst, true)?;
            left -= dst.len();
        }
        return Err(ReadPacketError::TooLarge {
            packet_type: header.packet_type,
            len: header.packet_len(),
        });
    }
    let body = buf.get_mut(..rem).unwrap_or(&mut []);
    read_exact(r, body, true)?;
    Ok(decode_body(&header, body)?)
}
