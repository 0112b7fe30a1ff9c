//! [`TcpTransport`]: `std::net::TcpStream` as a client [`Transport`]: an `embedded-io`
//! stream that can wait for data with a time limit and tells the time (feature `std`).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::transport::Transport;

/// How long opening a TCP connection may take before it fails with `TimedOut` (the
/// operating system's own limit is often minutes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection to `addr` within [`CONNECT_TIMEOUT`], with Nagle's algorithm off.
fn open(addr: &SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A TCP connection implementing `embedded_io::{Read, Write, ReadReady}` and the client's
/// [`Transport`]. It remembers the server's address, so the client's `connect` can open a
/// new connection after an error or `disconnect`, as umqtt.simple's `connect` does.
#[derive(Debug)]
pub struct TcpTransport(TcpStream, Option<SocketAddr>);

impl TcpTransport {
    /// Connects to `addr` (for example `"127.0.0.1:1883"`), trying each address it resolves
    /// to for at most [`CONNECT_TIMEOUT`], with Nagle's algorithm off, since MQTT packets are
    /// small and latency-sensitive.
    ///
    /// # Errors
    /// The `std::io::Error` of the connect.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match open(&a) {
                Ok(stream) => return Ok(Self(stream, Some(a))),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing")))
    }

    /// Connects to `host` and `port`, umqtt.simple's `MQTTClient(server=..., port=...)`
    /// (1883 is MQTT's port).
    ///
    /// # Errors
    /// The `std::io::Error` of resolving or connecting.
    pub fn connect_to(host: &str, port: u16) -> io::Result<Self> {
        Self::connect((host, port))
    }

    /// Wraps an already-connected stream.
    pub fn new(stream: TcpStream) -> Self {
        let peer = stream.peer_addr().ok();
        Self(stream, peer)
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
    /// Reads; a read that ends because a socket read timeout passed is reported with kind
    /// `TimedOut` (Unix says `WouldBlock`), which the client treats as a timer tick.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        loop {
            match io::Read::read(&mut self.0, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, e));
                }
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

/// Milliseconds since the first call in this process: a monotonic clock for the client.
pub fn monotonic_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

impl Transport for TcpTransport {
    fn now_ms(&mut self) -> u64 {
        monotonic_ms()
    }

    /// Opens a new connection to the address the first one went to, giving up after
    /// [`CONNECT_TIMEOUT`].
    fn reconnect(&mut self) -> io::Result<bool> {
        let Some(peer) = self.1 else {
            return Ok(false);
        };
        let _ = self.0.shutdown(std::net::Shutdown::Both);
        self.0 = open(&peer)?;
        Ok(true)
    }

    /// Peeks with a socket read timeout of `timeout_ms` (at least 1 ms; 0 peeks without
    /// blocking). The timeout stays set afterwards, so a later `read` cannot block for
    /// longer either.
    fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        if timeout_ms == 0 {
            return embedded_io::ReadReady::read_ready(self);
        }
        self.0
            .set_read_timeout(Some(Duration::from_millis(u64::from(timeout_ms))))?;
        let mut probe = [0u8; 1];
        loop {
            return match self.0.peek(&mut probe) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            };
        }
    }
}
