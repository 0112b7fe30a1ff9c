//! tokio's `TcpStream` as the async client's [`AsyncTransport`], for the async tests:
//! `embedded-io-adapters` moves the bytes, `peek` under `tokio::time::timeout` is the
//! bounded wait, and `reconnect` dials the remembered address again (so `connect()` after
//! an error opens a new connection, as with the host `TcpTransport`).

// Each test binary compiles every support module; only the async ones use this.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::TcpStream;
use umqtt::client::AsyncTransport;

/// A tokio TCP connection that can reopen itself.
pub struct TokioTcp {
    stream: FromTokio<TcpStream>,
    addr: SocketAddr,
}

impl TokioTcp {
    /// Connects to `addr`, panicking (the test's failure) when it cannot.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr).await.expect("connect to the broker")
    }

    /// Connects to `addr`, within 10 s.
    pub async fn try_connect(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            stream: FromTokio::new(open(addr).await?),
            addr,
        })
    }
}

async fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TCP connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

impl embedded_io_async::ErrorType for TokioTcp {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for TokioTcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.stream.read(buf).await
    }
}

impl embedded_io_async::Write for TokioTcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        self.stream.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), std::io::Error> {
        self.stream.flush().await
    }
}

impl AsyncTransport for TokioTcp {
    fn now_ms(&mut self) -> u64 {
        umqtt::client::std_net::monotonic_ms()
    }

    async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, std::io::Error> {
        let wait = Duration::from_millis(u64::from(timeout_ms));
        // `peek`, not `readable()`: tokio's readiness stays set after a read that did not
        // drain the socket to `WouldBlock`, so `readable()` can report data that is not
        // there and the read after it would block past the deadline.
        let mut probe = [0u8; 1];
        match tokio::time::timeout(wait, self.stream.inner().peek(&mut probe)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(false),
        }
    }

    async fn reconnect(&mut self) -> Result<bool, std::io::Error> {
        self.stream = FromTokio::new(open(self.addr).await?);
        Ok(true)
    }
}

/// Runs `fut` with a deadline so a broken test fails instead of hanging.
pub async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("timed out")
}
