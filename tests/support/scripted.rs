//! A scripted in-memory transport for driving `MqttClient` in tests without a network.
//!
//! [`ScriptedTransport`] implements `embedded_io::{Read, Write, ReadReady}`. The test pushes
//! the bytes "the broker sends" into an inbound queue (optionally delivered one byte per
//! `read` call, to exercise partial reads) and inspects everything the client wrote in
//! [`ScriptedTransport::written`]. Reading past the end of the script returns `Ok(0)`, i.e.
//! end of stream, so a test that forgets to script an answer fails fast with
//! `ConnectionClosed` instead of hanging.
//!
//! [`packets`] splits captured output back into packets with `umqtt::decode`, and
//! [`encode_vec`] turns a packet into broker bytes.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt;
use std::vec::Vec;

use umqtt::{Packet, Status};

/// The transport's error type; only produced when a test injects a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptError {
    /// An injected read failure.
    Read,
    /// An injected write failure.
    Write,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read => f.write_str("scripted read failure"),
            Self::Write => f.write_str("scripted write failure"),
        }
    }
}

impl std::error::Error for ScriptError {}

impl embedded_io::Error for ScriptError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// An in-memory, fully deterministic byte stream.
#[derive(Debug, Default)]
pub struct ScriptedTransport {
    inbound: VecDeque<u8>,
    /// Deliver at most this many bytes per `read` call (`None`: as many as asked for).
    pub chunk: Option<usize>,
    /// Everything the client wrote, in order.
    pub written: Vec<u8>,
    /// Number of `read` calls made.
    pub reads: usize,
    /// Number of `flush` calls made.
    pub flushes: usize,
    /// Make the next `read` fail with [`ScriptError::Read`].
    pub fail_next_read: bool,
    /// Make the next `write` fail with [`ScriptError::Write`].
    pub fail_next_write: bool,
    /// The transport's clock, in milliseconds: `wait_readable` advances it by the time it
    /// waited in silence.
    pub now: u64,
    /// Once the script is read, stay silent (waits time out) instead of reporting end of
    /// stream.
    pub silent: bool,
}

impl ScriptedTransport {
    /// An empty script: every read is end of stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport whose inbound script is `bytes`.
    pub fn with_inbound(bytes: &[u8]) -> Self {
        let mut t = Self::new();
        t.push(bytes);
        t
    }

    /// Same, delivering the script one byte per `read` call.
    pub fn bytewise(bytes: &[u8]) -> Self {
        let mut t = Self::with_inbound(bytes);
        t.chunk = Some(1);
        t
    }

    /// Appends broker bytes to the inbound script.
    pub fn push(&mut self, bytes: &[u8]) {
        self.inbound.extend(bytes.iter().copied());
    }

    /// Appends the encoding of `packet` to the inbound script.
    pub fn push_packet(&mut self, packet: &Packet<'_>) {
        let bytes = encode_vec(packet);
        self.push(&bytes);
    }

    /// Inbound bytes not read yet.
    pub fn unread(&self) -> usize {
        self.inbound.len()
    }

    /// Takes (and clears) the captured output.
    pub fn take_written(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.written)
    }
}

impl embedded_io::ErrorType for ScriptedTransport {
    type Error = ScriptError;
}

impl embedded_io::Read for ScriptedTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ScriptError> {
        self.reads += 1;
        if core::mem::take(&mut self.fail_next_read) {
            return Err(ScriptError::Read);
        }
        let n = buf
            .len()
            .min(self.inbound.len())
            .min(self.chunk.unwrap_or(usize::MAX));
        for (dst, src) in buf.iter_mut().zip(self.inbound.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for ScriptedTransport {
    fn read_ready(&mut self) -> Result<bool, ScriptError> {
        Ok(!self.inbound.is_empty())
    }
}

impl umqtt::client::Transport for ScriptedTransport {
    fn now_ms(&mut self) -> u64 {
        self.now
    }

    /// Ready while script bytes are left; after that a check (`timeout_ms == 0`) says no, and a
    /// wait finds end of stream unless the transport is `silent`: then it times out and the
    /// clock moves on.
    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, ScriptError> {
        if !self.inbound.is_empty() {
            return Ok(true);
        }
        if timeout_ms == 0 {
            return Ok(false);
        }
        if !self.silent {
            return Ok(true);
        }
        self.now += u64::from(timeout_ms.max(1));
        Ok(false)
    }
}

impl embedded_io::Write for ScriptedTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ScriptError> {
        if core::mem::take(&mut self.fail_next_write) {
            return Err(ScriptError::Write);
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ScriptError> {
        self.flushes += 1;
        Ok(())
    }
}

/// Encodes `packet` into a fresh `Vec`.
pub fn encode_vec(packet: &Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = packet.encode(&mut buf).expect("test packet must encode");
    buf.truncate(n);
    buf
}

/// Splits a captured byte stream into whole packets, panicking on malformed or trailing
/// partial data (the client must only ever write whole, valid packets).
pub fn packets(mut bytes: &[u8]) -> Vec<Packet<'_>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match umqtt::decode(bytes) {
            Ok(Status::Complete((packet, n))) => {
                out.push(packet);
                bytes = &bytes[n..];
            }
            Ok(Status::Partial { needed }) => {
                panic!("captured output ends inside a packet ({needed:?} more bytes needed)")
            }
            Err(e) => panic!("captured output is not a valid packet: {e:?}"),
        }
    }
    out
}

/// Splits a captured byte stream into the raw bytes of each packet.
pub fn packet_bytes(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match umqtt::decode(bytes) {
            Ok(Status::Complete((_, n))) => {
                out.push(&bytes[..n]);
                bytes = &bytes[n..];
            }
            other => panic!("captured output is not a sequence of whole packets: {other:?}"),
        }
    }
    out
}
