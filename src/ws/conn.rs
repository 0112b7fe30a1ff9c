//! The sans-IO core shared by the blocking and the async WebSocket transport: the receive
//! buffer, the frame decoder, the control frame waiting to be sent, and the closing state.
//! The transports call [`Core::step`] and do what it asks (send, read more); they contain
//! no WebSocket rule themselves.

use super::frame::{
    self, Decoder, Event, FrameHeader, MAX_CONTROL_FRAME, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, Opcode,
};
use super::handshake::Handshake;
use super::{WsError, WsOptions};
use crate::status::Status;

/// Size of the stack buffer through which outgoing data is masked.
pub(crate) const SCRATCH_LEN: usize = 256;

/// What the transport must do next to serve a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `n` payload bytes were copied to the caller's buffer.
    Data(usize),
    /// Write [`Core::pending`] to the stream, then call [`Core::sent`].
    Send,
    /// Read from the stream into [`Core::input_space`], then call [`Core::filled`].
    NeedInput,
    /// The stream has ended (close handshake done, or end of stream between frames).
    Closed,
}

/// State of one WebSocket connection, without I/O.
pub(crate) struct Core<'b, R> {
    buf: &'b mut [u8],
    /// Received bytes not yet decoded are `buf[start..end]`.
    start: usize,
    end: usize,
    dec: Decoder,
    random: R,
    pending: [u8; MAX_CONTROL_FRAME],
    pending_len: usize,
    close_received: bool,
    close_sent: bool,
    eof: bool,
    failed: Option<WsError>,
}

impl<'b, R: FnMut(&mut [u8])> Core<'b, R> {
    pub(crate) fn new(buf: &'b mut [u8], random: R, max_frame_len: u64) -> Self {
        Self {
            buf,
            start: 0,
            end: 0,
            dec: Decoder::new(max_frame_len),
            random,
            pending: [0; MAX_CONTROL_FRAME],
            pending_len: 0,
            close_received: false,
            close_sent: false,
            eof: false,
            failed: None,
        }
    }

    /// Forgets the connection (buffered bytes, decoder, close state, a failure), keeping the
    /// buffer and the random source, before a handshake on a new connection.
    pub(crate) fn reset(&mut self, max_frame_len: u64) {
        self.start = 0;
        self.end = 0;
        self.dec = Decoder::new(max_frame_len);
        self.pending_len = 0;
        self.close_received = false;
        self.close_sent = false;
        self.eof = false;
        self.failed = None;
    }

    /// Writes the Upgrade request into the buffer; send `request_bytes(n)` next.
    pub(crate) fn request(&mut self, options: &WsOptions<'_>) -> Result<(Handshake, usize), WsError> {
        let mut nonce = [0u8; 16];
        (self.random)(&mut nonce);
        let hs = Handshake::new(nonce);
        let n = hs.write_request(options.host, options.path, self.buf)?;
        Ok((hs, n))
    }

    /// The first `n` bytes of the buffer (the request just written).
    pub(crate) fn request_bytes(&self, n: usize) -> &[u8] {
        self.buf.get(..n).unwrap_or(&[])
    }

    /// Where to read the next bytes of the HTTP response.
    pub(crate) fn response_space(&mut self) -> Result<&mut [u8], WsError> {
        let limit = self.buf.len();
        match self.buf.get_mut(self.end..) {
            Some(space) if !space.is_empty() => Ok(space),
            _ => Err(WsError::ResponseTooLarge { limit }),
        }
    }

    /// Accounts for `n` response bytes read; `true` once the handshake is complete. Bytes
    /// after the response stay in the buffer as the first frame bytes.
    pub(crate) fn response_filled(&mut self, hs: &Handshake, n: usize) -> Result<bool, WsError> {
        if n == 0 {
            return Err(WsError::ClosedDuringHandshake);
        }
        self.end = (self.end + n).min(self.buf.len());
        match hs.check_response(self.buf.get(..self.end).unwrap_or(&[]))? {
            Status::Complete(len) => {
                self.start = len;
                Ok(true)
            }
            Status::Partial { .. } => Ok(false),
        }
    }

    /// Decodes buffered bytes into `out` (data), or says what the transport must do. With
    /// an empty `out`, it answers pings and closes but stops in front of data.
    pub(crate) fn step(&mut self, out: &mut [u8]) -> Result<Step, WsError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.pending_len > 0 {
            return Ok(Step::Send);
        }
        loop {
            if self.close_received || self.eof {
                return Ok(Step::Closed);
            }
            let input = self.buf.get(self.start..self.end).unwrap_or(&[]);
            if input.is_empty() {
                return Ok(Step::NeedInput);
            }
            let (used, event) = match self.dec.decode(input, out.len()) {
                Ok(r) => r,
                Err(e) => {
                    self.failed = Some(e);
                    return Err(e);
                }
            };
            self.start += used;
            match event {
                Some(Event::Data(payload)) => {
                    let n = payload.len();
                    if let Some(dst) = out.get_mut(..n) {
                        dst.copy_from_slice(payload);
                    }
                    return Ok(Step::Data(n));
                }
                Some(Event::Ping) => {
                    // Section 5.5.2: answer with a pong carrying the ping's payload.
                    self.queue(Opcode::Pong, None);
                    return Ok(Step::Send);
                }
                Some(Event::Pong) => {}
                Some(Event::Close { code }) => {
                    self.close_received = true;
                    if self.close_sent {
                        return Ok(Step::Closed);
                    }
                    // Section 5.5.1: reply with a close frame, echoing the status code.
                    self.queue(Opcode::Close, Some(code));
                    return Ok(Step::Send);
                }
                None if used == 0 => return Ok(Step::NeedInput),
                None => {}
            }
        }
    }

    /// Masks a control frame into `pending`: a pong with the last ping's payload, or a
    /// close frame with `close` as status code.
    fn queue(&mut self, opcode: Opcode, close: Option<Option<u16>>) {
        let mut key = [0u8; 4];
        (self.random)(&mut key);
        let code_bytes;
        let payload: &[u8] = match close {
            None => self.dec.control_payload(),
            Some(Some(code)) => {
                code_bytes = code.to_be_bytes();
                &code_bytes
            }
            Some(None) => &[],
        };
        // Fits: at most 125 payload bytes, and `pending` holds the largest control frame.
        self.pending_len =
            frame::encode_client_frame(opcode, true, payload, key, &mut self.pending).unwrap_or(0);
        if opcode == Opcode::Close {
            self.close_sent = true;
        }
    }

    /// Queues the client's own close frame (status 1000, normal closure) unless one was
    /// sent already.
    pub(crate) fn queue_close(&mut self) {
        if !self.close_sent && self.failed.is_none() && !self.eof {
            self.queue(Opcode::Close, Some(Some(1000)));
        }
    }

    /// The control frame to send.
    pub(crate) fn pending(&self) -> &[u8] {
        self.pending.get(..self.pending_len).unwrap_or(&[])
    }

    /// The pending control frame has been written.
    pub(crate) fn sent(&mut self) {
        self.pending_len = 0;
    }

    /// Where to read more bytes from the stream (the whole buffer once all is decoded).
    pub(crate) fn input_space(&mut self) -> &mut [u8] {
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
        self.buf.get_mut(self.end..).unwrap_or(&mut [])
    }

    /// Accounts for `n` bytes read into [`input_space`](Self::input_space); `n == 0` is end
    /// of stream, which is an error inside a frame.
    pub(crate) fn filled(&mut self, n: usize) -> Result<(), WsError> {
        if n == 0 {
            if !self.dec.is_between_frames() {
                self.failed = Some(WsError::TruncatedFrame);
                return Err(WsError::TruncatedFrame);
            }
            self.eof = true;
        }
        self.end = (self.end + n).min(self.buf.len());
        Ok(())
    }

    /// Whether data payload bytes are waiting in the buffer, or the stream has ended:
    /// either way a read returns at once.
    pub(crate) fn readable(&self) -> bool {
        (self.dec.at_data() && self.start < self.end) || self.close_received || self.eof
    }

    /// Starts a data frame of `len` bytes; its bytes come from
    /// [`FrameWriter::next_chunk`].
    pub(crate) fn begin_frame(&mut self, len: usize) -> Result<FrameWriter, WsError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.close_sent || self.close_received {
            return Err(WsError::Closed);
        }
        let mut key = [0u8; 4];
        (self.random)(&mut key);
        let header = FrameHeader {
            fin: true,
            opcode: Opcode::Binary,
            mask: Some(key),
            len: len as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head)?;
        Ok(FrameWriter {
            key,
            head,
            head_len,
            offset: 0,
            started: false,
        })
    }
}

/// Produces the bytes of one masked data frame in pieces of at most [`SCRATCH_LEN`].
pub(crate) struct FrameWriter {
    key: [u8; 4],
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    offset: usize,
    started: bool,
}

impl FrameWriter {
    /// The next piece of the frame carrying `data` (the same slice every call), or `None`
    /// when all of it has been produced. The first piece starts with the header.
    pub(crate) fn next_chunk<'s>(
        &mut self,
        data: &[u8],
        scratch: &'s mut [u8; SCRATCH_LEN],
    ) -> Option<&'s [u8]> {
        let mut n = 0;
        if !self.started {
            self.started = true;
            let head = self.head.get(..self.head_len).unwrap_or(&[]);
            if let Some(dst) = scratch.get_mut(..head.len()) {
                dst.copy_from_slice(head);
            }
            n = head.len();
        } else if self.offset >= data.len() {
            return None;
        }
        let rest = data.get(self.offset..).unwrap_or(&[]);
        let take = rest.len().min(SCRATCH_LEN - n);
        if let (Some(dst), Some(src)) = (scratch.get_mut(n..n + take), rest.get(..take)) {
            dst.copy_from_slice(src);
            frame::apply_mask(dst, self.key, self.offset);
        }
        self.offset += take;
        scratch.get(..n + take)
    }
}

// The control frame buffer must hold the largest control frame.
const _: () = assert!(MAX_CONTROL_FRAME >= MAX_HEADER_LEN - 8 + MAX_CONTROL_PAYLOAD);
