//! An in-memory `embedded_io` transport: the broker's bytes come from a script, the
//! client's bytes go to a capture buffer. Reads and writes move at most a few bytes per
//! call, so the client's `read_exact`/`write_all` loops really loop. Time is virtual.

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

/// Capacity of the capture buffer.
pub const OUT_CAP: usize = 512;
/// Most bytes one `read` hands out.
const READ_CHUNK: usize = 5;
/// Most bytes one `write` takes.
const WRITE_CHUNK: usize = 48;

/// The transport's only error: the capture buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum LinkError {
    /// The client wrote more than [`OUT_CAP`] bytes in one step.
    OutputFull,
}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("capture buffer full")
    }
}

impl core::error::Error for LinkError {}

impl embedded_io::Error for LinkError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::OutOfMemory
    }
}

/// Scripted broker on one side, capture buffer on the other.
pub struct ScriptTransport {
    inbound: &'static [u8],
    pos: usize,
    out: [u8; OUT_CAP],
    out_len: usize,
    flushes: usize,
    now_ms: u64,
}

impl ScriptTransport {
    pub const fn new() -> Self {
        Self {
            inbound: &[],
            pos: 0,
            out: [0; OUT_CAP],
            out_len: 0,
            flushes: 0,
            now_ms: 0,
        }
    }

    /// Queues what the broker sends next (replacing anything left unread).
    pub fn feed(&mut self, bytes: &'static [u8]) {
        self.inbound = bytes;
        self.pos = 0;
    }

    /// Broker bytes not read yet.
    pub fn unread(&self) -> usize {
        self.inbound.len() - self.pos
    }

    /// What the client wrote since the last [`clear`](Self::clear).
    pub fn output(&self) -> &[u8] {
        self.out.get(..self.out_len).unwrap_or(&[])
    }

    /// Number of `flush` calls since the last [`clear`](Self::clear).
    pub fn flushes(&self) -> usize {
        self.flushes
    }

    /// Forgets the captured output and flush count.
    pub fn clear(&mut self) {
        self.out_len = 0;
        self.flushes = 0;
    }
}

impl ErrorType for ScriptTransport {
    type Error = LinkError;
}

impl Read for ScriptTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        let rest = self.inbound.get(self.pos..).unwrap_or(&[]);
        // Ok(0) for a non-empty `buf` is end of stream: the script has run out.
        let n = rest.len().min(buf.len()).min(READ_CHUNK);
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}

impl ReadReady for ScriptTransport {
    fn read_ready(&mut self) -> Result<bool, LinkError> {
        Ok(self.unread() > 0)
    }
}

/// The client's view of time and waiting: a virtual clock that moves only when the client
/// waits on a script that has nothing more to say, so runs are deterministic.
impl umqtt::client::Transport for ScriptTransport {
    fn now_ms(&mut self) -> u64 {
        self.now_ms
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, LinkError> {
        if self.unread() > 0 {
            return Ok(true);
        }
        self.now_ms = self.now_ms.saturating_add(u64::from(timeout_ms));
        Ok(false)
    }
}

impl Write for ScriptTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, LinkError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(OUT_CAP - self.out_len).min(WRITE_CHUNK);
        if n == 0 {
            return Err(LinkError::OutputFull);
        }
        if let (Some(dst), Some(src)) = (self.out.get_mut(self.out_len..self.out_len + n), buf.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.out_len += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), LinkError> {
        self.flushes += 1;
        Ok(())
    }
}
