//! The MQTT transport over embassy-net: one TCP socket to the broker that waits with a
//! deadline (`wait_read_ready` under `with_timeout`) and reconnects in place, plus the
//! runner's back-off between attempts.

use core::fmt;

use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::{IpAddress, Stack};
use embassy_time::{Duration, Instant, Timer, with_timeout};
use umqtt::client::AsyncTransport;
use umqtt::client::shared::Reconnect;

/// What can go wrong with the broker connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No broker host was configured at build time.
    NoHost,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection could not be opened.
    Connect(ConnectError),
    /// The TCP connection failed.
    Tcp(embassy_net::tcp::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHost => f.write_str("no broker host was set (BROKER_HOST at build time)"),
            Self::Dns => f.write_str("the broker's host name did not resolve"),
            Self::Connect(e) => write!(f, "TCP connect failed: {e:?}"),
            Self::Tcp(e) => write!(f, "TCP connection failed: {e:?}"),
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io_async::Error for Error {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        match self {
            Self::NoHost | Self::Dns => embedded_io_async::ErrorKind::AddrNotAvailable,
            Self::Connect(_) => embedded_io_async::ErrorKind::ConnectionRefused,
            Self::Tcp(_) => embedded_io_async::ErrorKind::ConnectionReset,
        }
    }
}

/// A TCP connection to the broker that can open itself again.
pub struct EspTcp {
    socket: TcpSocket<'static>,
    stack: Stack<'static>,
    host: &'static str,
    port: u16,
}

impl EspTcp {
    /// A socket for `host:port` using `rx`/`tx` as its buffers; not yet connected.
    pub fn new(
        stack: Stack<'static>,
        rx: &'static mut [u8],
        tx: &'static mut [u8],
        host: &'static str,
        port: u16,
    ) -> Self {
        let mut socket = TcpSocket::new(stack, rx, tx);
        socket.set_timeout(Some(Duration::from_secs(60)));
        Self {
            socket,
            stack,
            host,
            port,
        }
    }

    /// Resolves the host and connects, dropping any earlier connection first.
    pub async fn open(&mut self) -> Result<(), Error> {
        if self.host.is_empty() {
            return Err(Error::NoHost);
        }
        self.socket.abort();
        let _ = with_timeout(Duration::from_secs(1), self.socket.flush()).await;
        let address = match self.host.parse::<core::net::Ipv4Addr>() {
            Ok(ip) => IpAddress::Ipv4(ip),
            Err(_) => *self
                .stack
                .dns_query(self.host, DnsQueryType::A)
                .await
                .map_err(|_| Error::Dns)?
                .first()
                .ok_or(Error::Dns)?,
        };
        match with_timeout(Duration::from_secs(10), self.socket.connect((address, self.port))).await {
            Ok(result) => result.map_err(Error::Connect),
            Err(_) => Err(Error::Connect(ConnectError::TimedOut)),
        }
    }
}

impl embedded_io_async::ErrorType for EspTcp {
    type Error = Error;
}

impl embedded_io_async::Read for EspTcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.socket.read(buf).await.map_err(Error::Tcp)
    }
}

impl embedded_io_async::Write for EspTcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.socket.write(buf).await.map_err(Error::Tcp)
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.socket.flush().await.map_err(Error::Tcp)
    }
}

impl AsyncTransport for EspTcp {
    fn now_ms(&mut self) -> u64 {
        Instant::now().as_millis()
    }

    /// Cancel-safe: waiting for readiness consumes nothing.
    async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Error> {
        let wait = Duration::from_millis(u64::from(timeout_ms));
        Ok(with_timeout(wait, self.socket.wait_read_ready()).await.is_ok())
    }

    async fn reconnect(&mut self) -> Result<bool, Error> {
        self.open().await.map(|()| true)
    }
}

/// Waits before each reconnection attempt (1 s more per failed attempt in a row, at most
/// 30 s), then reopens the same socket.
pub struct Backoff;

impl Reconnect<EspTcp> for Backoff {
    async fn reconnect(&mut self, attempt: u32) -> Result<Option<EspTcp>, Error> {
        Timer::after(Duration::from_secs(u64::from(attempt.min(30)))).await;
        Ok(None)
    }
}
