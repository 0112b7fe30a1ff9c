//! [`TcpTransport`]: `std::net::TcpStream` as an `embedded-io` transport, with the
//! `ReadReady` that [`check_msg`](super::MqttClient::check_msg) needs (feature `std`).

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A TCP connection implementing `embedded_io::{Read, Write, ReadReady}`.
#[derive(Debug)]
pub struct TcpTransport(TcpStream);

impl TcpTransport {
    /// Connects to `addr` (for example `"127.0.0.1:1883"`) with Nagle's algorithm off, since
    /// MQTT packets are small and latency-sensitive.
    ///
    /// # Errors
    /// The `std::io::Error` of the connect.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self(stream))
    }

    /// Wraps an already-connected stream.
    pub fn new(stream: TcpStream) -> Self {
        Self(stream)
    }

    /// Sets a read timeout, so a blocking read cannot hang forever on a dead link.
    ///
    /// # Errors
    /// The `std::io::Error` of `set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.0
    }

    /// Closes both directions of the connection.
    ///
    /// # Errors
    /// The `std::io::Error` of `shutdown`.
    pub fn shutdown(&self) -> io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Both)
    }

    /// Gives back the stream.
    pub fn into_inner(self) -> TcpStream {
        self.0
    }
}

impl embedded_io::ErrorType for TcpTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TcpTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        loop {
            match io::Read::read(&mut self.0, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl embedded_io::Write for TcpTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        io::Write::write(&mut self.0, buf)
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        io::Write::flush(&mut self.0)
    }
}

impl embedded_io::ReadReady for TcpTransport {
    /// Peeks without blocking: ready when a byte (or end of stream) is waiting.
    fn read_ready(&mut self) -> Result<bool, io::Error> {
        self.0.set_nonblocking(true)?;
        let mut probe = [0u8; 1];
        let r = self.0.peek(&mut probe);
        self.0.set_nonblocking(false)?;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}
