//! Framing over `embedded-io`: read exactly one packet from an [`embedded_io::Read`] (or,
//! with feature `async`, an `embedded_io_async::Read`).

use crate::error::ReadPacketError;
use crate::packet::{FixedHeader, Packet, decode_body, peek_fixed_header};
use crate::status::Status;

/// Generates the blocking and the async framing functions from one body, so the two cannot
/// drift apart. `$($aw)*` is empty for the blocking version and `.await` for the async one.
macro_rules! framing {
    ($header:ident, $header_as:ident, $frame:ident, $packet:ident, $Read:path, [$($asyncness:tt)*], [$($aw:tt)*]) => {
        /// Reads the fixed header of the next packet (2 to 5 bytes, never more).
        ///
        /// # Errors
        /// As the packet reader, except `TooLarge`.
        pub $($asyncness)* fn $header<R: $Read>(r: &mut R) -> Result<FixedHeader, ReadPacketError<R::Error>> {
            $header_as(r)$($aw)*
        }

        /// The header reader with its errors converted to `X` where they arise (a client
        /// builds its own error type at once instead of converting one afterwards).
        $($asyncness)* fn $header_as<R: $Read, X: From<ReadPacketError<R::Error>>>(r: &mut R) -> Result<FixedHeader, X> {
            let mut hdr = [0u8; 5];
            let mut have = 0;
            loop {
                // Ask for exactly as many bytes as the header still needs (at least one).
                let needed = match peek_fixed_header(hdr.get(..have).unwrap_or(&[])).map_err(|e| ReadPacketError::Decode(e))? {
                    Status::Complete(h) => return Ok(h),
                    Status::Partial { needed } => needed.get(),
                };
                // Byte 0 is read on its own, so that a stream ending right after it is
                // reported as ending inside a packet, and a bad byte 0 is seen at once.
                let end = if have == 0 { 1 } else { (have + needed).min(hdr.len()) };
                let dst = hdr.get_mut(have..end).unwrap_or(&mut []);
                r.read_exact(dst)$($aw)*.map_err(|e| X::from(eof(e, have > 0)))?;
                have = end;
            }
        }

        /// Reads one whole packet into `buf` and decodes it.
        ///
        /// Reads the fixed header (at most 5 bytes), then exactly the Remaining Length into
        /// `buf`, so it never reads past the end of the packet. `buf` holds the body only: it
        /// must be as long as the largest Remaining Length you accept.
        ///
        /// # Errors
        /// * [`ReadPacketError::Eof`] when the stream ends (`mid_packet` says whether cleanly);
        /// * [`ReadPacketError::Read`] when the reader fails;
        /// * [`ReadPacketError::Decode`] for a malformed packet (close the connection);
        /// * [`ReadPacketError::TooLarge`] when the body is longer than `buf`. The body is
        ///   read and discarded first, so the stream stays aligned on packet boundaries.
        pub $($asyncness)* fn $packet<'b, R: $Read>(
            r: &mut R,
            buf: &'b mut [u8],
        ) -> Result<Packet<'b>, ReadPacketError<R::Error>> {
            let (header, body) = $frame::<R, ReadPacketError<R::Error>>(r, buf)$($aw)*?;
            Ok(decode_body(&header, body)?)
        }

        /// Reads one whole packet's fixed header and body (into `buf`) without decoding
        /// the body; the framing half of the packet reader.
        pub(crate) $($asyncness)* fn $frame<'b, R: $Read, X: From<ReadPacketError<R::Error>>>(
            r: &mut R,
            buf: &'b mut [u8],
        ) -> Result<(FixedHeader, &'b [u8]), X> {
            let header = $header_as::<R, X>(r)$($aw)*?;
            let rem = header.remaining_len;
            if rem > buf.len() {
                let mut scratch = [0u8; 16];
                let mut left = rem;
                while left > 0 {
                    let sink = if buf.len() > scratch.len() { &mut *buf } else { &mut scratch[..] };
                    let dst = sink.get_mut(..left.min(sink.len())).unwrap_or(&mut []);
                    r.read_exact(dst)$($aw)*.map_err(|e| X::from(eof(e, true)))?;
                    left -= dst.len();
                }
                return Err(X::from(ReadPacketError::TooLarge {
                    packet_type: header.packet_type,
                    len: header.packet_len(),
                }));
            }
            let body = buf.get_mut(..rem).unwrap_or(&mut []);
            r.read_exact(body)$($aw)*.map_err(|e| X::from(eof(e, true)))?;
            Ok((header, body))
        }
    };
}

fn eof<E>(e: embedded_io::ReadExactError<E>, mid_packet: bool) -> ReadPacketError<E> {
    match e {
        embedded_io::ReadExactError::UnexpectedEof => ReadPacketError::Eof { mid_packet },
        embedded_io::ReadExactError::Other(e) => ReadPacketError::Read(e),
    }
}

framing!(
    read_fixed_header,
    read_fixed_header_as,
    read_frame,
    read_packet,
    embedded_io::Read,
    [],
    []
);

#[cfg(feature = "async")]
framing!(
    read_fixed_header_async,
    read_fixed_header_as_async,
    read_frame_async,
    read_packet_async,
    embedded_io_async::Read,
    [async],
    [.await]
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PacketId;

    #[test]
    fn reads_packets_in_sequence() {
        let mut wire: &[u8] = &[0x40, 0x02, 0x00, 0x07, 0xd0, 0x00];
        let mut buf = [0u8; 16];
        assert_eq!(
            read_packet(&mut wire, &mut buf),
            Ok(Packet::PubAck(PacketId::new(7).unwrap()))
        );
        assert_eq!(read_packet(&mut wire, &mut buf), Ok(Packet::PingResp));
        assert_eq!(
            read_packet(&mut wire, &mut buf),
            Err(ReadPacketError::Eof { mid_packet: false })
        );
    }

    #[test]
    fn oversized_packet_is_skipped_even_with_an_empty_buffer() {
        let mut wire: &[u8] = &[0x30, 0x05, 0x00, 0x01, b'a', b'x', b'y', 0xd0, 0x00];
        let mut empty = [0u8; 0];
        assert_eq!(
            read_packet(&mut wire, &mut empty),
            Err(ReadPacketError::TooLarge {
                packet_type: crate::types::PacketType::Publish,
                len: 7
            })
        );
        assert_eq!(read_packet(&mut wire, &mut empty), Ok(Packet::PingResp));
    }

    #[test]
    fn eof_inside_a_packet_is_reported_as_such() {
        let mut wire: &[u8] = &[0x40, 0x02, 0x00];
        let mut buf = [0u8; 16];
        assert_eq!(
            read_packet(&mut wire, &mut buf),
            Err(ReadPacketError::Eof { mid_packet: true })
        );
    }
}
