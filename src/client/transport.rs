//! What the client needs from a connection besides bytes: a monotonic clock and a wait for
//! incoming data that gives up after a time limit ([`Transport`], and [`AsyncTransport`]
//! for async transports), plus [`Polled`], which builds both from `ReadReady` and a clock
//! for transports that cannot wait with a time limit themselves.
//!
//! The client never blocks in `read` without first asking [`Transport::wait_readable`] how
//! long it may wait: until the next keep-alive ping, the end of the connect or
//! acknowledgement timeout, or the end of the bound on a packet that has started. That is
//! how `wait_msg` keeps the connection alive while the caller is blocked in it.

use embedded_io::{ErrorKind, Read, ReadReady, Write};

/// A byte stream the client can wait on with a time limit.
///
/// Implemented by [`TcpTransport`](super::std_net::TcpTransport) (feature `std`), by
/// [`Polled`] for anything with `embedded_io::ReadReady`, and by `&mut T`.
///
/// # Contract
/// * [`now_ms`](Self::now_ms) is a monotonic millisecond count; its origin does not matter.
/// * [`wait_readable`](Self::wait_readable) returns `Ok(true)` as soon as a `read` will not
///   block (data or end of stream is waiting) and `Ok(false)` once `timeout_ms` has passed
///   without that; `timeout_ms == 0` only checks.
/// * A `read` that still blocks after `Ok(true)` (a TLS record arriving in pieces) should
///   end with an error whose [`kind`](embedded_io::Error::kind) is
///   [`ErrorKind::TimedOut`] rather than block forever: the client treats that as a tick
///   of its timers, never as a failure.
pub trait Transport: Read + Write {
    /// Milliseconds from a monotonic clock.
    fn now_ms(&mut self) -> u64;

    /// Waits at most `timeout_ms` for incoming data (see the trait docs).
    ///
    /// # Errors
    /// The transport's error; one of kind [`ErrorKind::TimedOut`] counts as `Ok(false)`.
    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error>;

    /// Opens a new connection to the same server in place of the finished one, as
    /// umqtt.simple's `connect` opens a new socket: the client calls it when `connect` is
    /// called again after an error or `disconnect`. Returns `Ok(false)` (the default) when
    /// this transport cannot; the client then asks for a new transport.
    ///
    /// # Errors
    /// The transport's error when opening failed.
    fn reconnect(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn now_ms(&mut self) -> u64 {
        T::now_ms(self)
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error> {
        T::wait_readable(self, timeout_ms)
    }

    fn reconnect(&mut self) -> Result<bool, Self::Error> {
        T::reconnect(self)
    }
}

/// The async twin of [`Transport`], over `embedded-io-async`. (The blocking client runs
/// over it too, through an adapter whose futures are ready at once.)
///
/// With embassy-net, for example: `now_ms` is `embassy_time::Instant::now().as_millis()`
/// and `wait_readable` is
/// `with_timeout(Duration::from_millis(t), socket.wait_read_ready()).await.is_ok()`.
#[allow(async_fn_in_trait)]
pub trait AsyncTransport: embedded_io_async::Read + embedded_io_async::Write {
    /// Milliseconds from a monotonic clock.
    fn now_ms(&mut self) -> u64;

    /// Waits at most `timeout_ms` for incoming data, as [`Transport::wait_readable`].
    ///
    /// It should be cancel-safe (dropping the future loses no data, as with embassy-net's
    /// `wait_read_ready` or tokio's `peek`): the shared client's runner drops this wait when
    /// a task makes a request.
    ///
    /// # Errors
    /// The transport's error; one of kind [`ErrorKind::TimedOut`] counts as `Ok(false)`.
    async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error>;

    /// Opens a new connection in place of the finished one, as [`Transport::reconnect`].
    ///
    /// # Errors
    /// The transport's error when opening failed.
    async fn reconnect(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

impl<T: AsyncTransport + ?Sized> AsyncTransport for &mut T {
    fn now_ms(&mut self) -> u64 {
        T::now_ms(self)
    }

    async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error> {
        T::wait_readable(self, timeout_ms).await
    }

    async fn reconnect(&mut self) -> Result<bool, Self::Error> {
        T::reconnect(self).await
    }
}

/// Whether a transport error only says that time ran out.
pub(crate) fn is_timeout<E: embedded_io::Error>(e: &E) -> bool {
    e.kind() == ErrorKind::TimedOut
}

/// A [`Transport`] made of any `Read + Write + ReadReady` stream, a millisecond clock and an
/// idle step: `wait_readable` asks `read_ready` and runs `idle` (sleep until the next
/// interrupt, poll a network stack, wait a millisecond) until data arrives or the time is
/// up. For bare-metal stacks whose sockets cannot wait with a time limit themselves.
pub struct Polled<T> {
    inner: T,
    clock: fn() -> u64,
    idle: fn(),
}

impl<T> Polled<T> {
    /// Wraps `inner`; `clock` gives monotonic milliseconds, `idle` is run between checks.
    pub fn new(inner: T, clock: fn() -> u64, idle: fn()) -> Self {
        Self { inner, clock, idle }
    }

    /// The wrapped stream.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Gives back the wrapped stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: embedded_io::ErrorType> embedded_io::ErrorType for Polled<T> {
    type Error = T::Error;
}

impl<T: Read> Read for Polled<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, T::Error> {
        self.inner.read(buf)
    }
}

impl<T: Write> Write for Polled<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, T::Error> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> Result<(), T::Error> {
        self.inner.flush()
    }
}

impl<T: ReadReady> ReadReady for Polled<T> {
    fn read_ready(&mut self) -> Result<bool, T::Error> {
        self.inner.read_ready()
    }
}

impl<T: Read + Write + ReadReady> Transport for Polled<T> {
    fn now_ms(&mut self) -> u64 {
        (self.clock)()
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, T::Error> {
        let end = (self.clock)().saturating_add(u64::from(timeout_ms));
        loop {
            if self.inner.read_ready()? {
                return Ok(true);
            }
            if (self.clock)() >= end {
                return Ok(false);
            }
            (self.idle)();
        }
    }
}
