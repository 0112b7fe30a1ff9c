//! The I/O shells around the sans-IO core: [`WsTransport`] over a blocking
//! `embedded-io` stream and [`AsyncWsTransport`] over an `embedded-io-async` one (feature
//! `async`). Both only move bytes between the stream and [`Core`].

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

use super::conn::{Core, SCRATCH_LEN, Step};
use super::{TransportError, WsError, WsOptions};
use crate::client::Transport;

/// MQTT over WebSocket on a blocking `embedded-io` stream `T` (plain TCP, or TLS for
/// `wss`).
///
/// Each `write` sends one masked binary frame (so write whole packets where you can);
/// `read` returns payload bytes of the server's binary frames as one stream, answering
/// pings and close frames on the way. `R` fills a buffer with random bytes: the handshake
/// key and every frame's masking key come from it (RFC 6455 asks for a strong source of
/// entropy, such as a hardware RNG).
///
/// The buffer lent to [`connect`](Self::connect) holds the handshake (about 200 bytes plus
/// host and path each way), then received bytes; 512 bytes to a few KiB are typical.
pub struct WsTransport<'b, T, R> {
    inner: T,
    core: Core<'b, R>,
}

impl<T, R> core::fmt::Debug for WsTransport<'_, T, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WsTransport").finish_non_exhaustive()
    }
}

/// Writes all of `bytes`, refusing a stream that accepts nothing instead of looping.
fn write_all<T: Write>(inner: &mut T, mut bytes: &[u8]) -> Result<(), TransportError<T::Error>> {
    while !bytes.is_empty() {
        match inner.write(bytes).map_err(TransportError::Io)? {
            0 => return Err(WsError::WriteZero.into()),
            n => bytes = bytes.get(n..).unwrap_or(&[]),
        }
    }
    Ok(())
}

fn is_timeout<E: embedded_io::Error>(e: &E) -> bool {
    e.kind() == ErrorKind::TimedOut
}

impl<'b, T: Read + Write, R: FnMut(&mut [u8])> WsTransport<'b, T, R> {
    /// Opens the WebSocket on `inner` (already connected): sends the Upgrade request and
    /// checks the server's `101` response, giving up after
    /// [`handshake_timeout_ms`](WsOptions::handshake_timeout_ms).
    ///
    /// # Errors
    /// [`TransportError::Io`] when the stream fails, [`TransportError::Ws`] with
    /// [`WsError::NoResponse`] when no complete response arrives in time, or the
    /// [`WsError`] saying what is wrong with the response.
    pub fn connect(
        inner: T,
        options: &WsOptions<'_>,
        random: R,
        buf: &'b mut [u8],
    ) -> Result<Self, TransportError<T::Error>>
    where
        T: Transport,
    {
        let timeout_ms = options.handshake_timeout_ms;
        Self::open(inner, options, random, buf, |t| {
            let start = t.now_ms();
            Ok(move |t: &mut T| {
                let elapsed = t.now_ms().saturating_sub(start);
                let left = u64::from(timeout_ms).saturating_sub(elapsed);
                if left == 0 {
                    return Err(WsError::NoResponse { timeout_ms }.into());
                }
                match t.wait_readable(u32::try_from(left).unwrap_or(u32::MAX)) {
                    Ok(ready) => Ok(ready),
                    Err(e) if is_timeout(&e) => Ok(false),
                    Err(e) => Err(TransportError::Io(e)),
                }
            })
        })
    }

    /// [`connect`](Self::connect) for a stream that cannot wait with a time limit: the
    /// handshake blocks in `read` until the server answers or the stream fails.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), without the timeout.
    pub fn connect_unbounded(
        inner: T,
        options: &WsOptions<'_>,
        random: R,
        buf: &'b mut [u8],
    ) -> Result<Self, TransportError<T::Error>> {
        Self::open(inner, options, random, buf, |_| Ok(|_: &mut T| Ok(true)))
    }

    /// The handshake; `start_wait` starts the clock and returns the wait before each read.
    fn open<W>(
        inner: T,
        options: &WsOptions<'_>,
        random: R,
        buf: &'b mut [u8],
        start_wait: impl FnOnce(&mut T) -> Result<W, TransportError<T::Error>>,
    ) -> Result<Self, TransportError<T::Error>>
    where
        W: FnMut(&mut T) -> Result<bool, TransportError<T::Error>>,
    {
        let mut this = Self {
            inner,
            core: Core::new(buf, random, options.max_frame_len),
        };
        let (hs, n) = this.core.request(options)?;
        write_all(&mut this.inner, this.core.request_bytes(n))?;
        this.inner.flush().map_err(TransportError::Io)?;
        let mut wait = start_wait(&mut this.inner)?;
        loop {
            if !wait(&mut this.inner)? {
                continue;
            }
            let space = this.core.response_space()?;
            let n = match this.inner.read(space) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(TransportError::Io(e)),
            };
            if this.core.response_filled(&hs, n)? {
                return Ok(this);
            }
        }
    }

    /// Writes the pending control frame (a pong or a close).
    fn send_pending(&mut self) -> Result<(), TransportError<T::Error>> {
        write_all(&mut self.inner, self.core.pending())?;
        self.core.sent();
        self.inner.flush().map_err(TransportError::Io)
    }

    /// Answers buffered control frames; `true` when a read would return at once.
    fn pump(&mut self) -> Result<bool, TransportError<T::Error>> {
        loop {
            match self.core.step(&mut [])? {
                Step::Send => self.send_pending()?,
                Step::Data(_) | Step::Closed => return Ok(true),
                Step::NeedInput => return Ok(self.core.readable()),
            }
        }
    }

    /// Reads once from the stream into the receive buffer.
    fn fill(&mut self) -> Result<(), TransportError<T::Error>> {
        let n = self
            .inner
            .read(self.core.input_space())
            .map_err(TransportError::Io)?;
        Ok(self.core.filled(n)?)
    }

    /// Starts the closing handshake: sends a close frame (status 1000, normal closure).
    /// Reads then return the data the server still sends, and end of stream once its close
    /// frame arrives.
    ///
    /// # Errors
    /// The stream's error.
    pub fn close(&mut self) -> Result<(), TransportError<T::Error>> {
        self.core.queue_close();
        if !self.core.pending().is_empty() {
            self.send_pending()?;
        }
        Ok(())
    }

    /// The stream underneath.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Gives back the stream underneath (bytes already received are dropped).
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: ErrorType, R> ErrorType for WsTransport<'_, T, R> {
    type Error = TransportError<T::Error>;
}

impl<T: Read + Write, R: FnMut(&mut [u8])> Read for WsTransport<'_, T, R> {
    /// Reads payload bytes, answering pings and close frames on the way; `Ok(0)` once the
    /// server has closed. An error of kind `TimedOut` from the stream is passed on and
    /// loses nothing: the next read continues where this one stopped.
    fn read(&mut self, out: &mut [u8]) -> Result<usize, Self::Error> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.core.step(out)? {
                Step::Data(n) => return Ok(n),
                Step::Send => self.send_pending()?,
                Step::Closed => return Ok(0),
                Step::NeedInput => self.fill()?,
            }
        }
    }
}

impl<T: Read + Write, R: FnMut(&mut [u8])> Write for WsTransport<'_, T, R> {
    /// Sends all of `data` as one binary frame.
    fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut frame = self.core.begin_frame(data.len())?;
        let mut scratch = [0u8; SCRATCH_LEN];
        while let Some(chunk) = frame.next_chunk(data, &mut scratch) {
            write_all(&mut self.inner, chunk)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().map_err(TransportError::Io)
    }
}

impl<T: Read + Write + ReadReady, R: FnMut(&mut [u8])> ReadReady for WsTransport<'_, T, R> {
    /// Ready when payload bytes are buffered or the stream has ended. Bytes the stream has
    /// are taken in and control frames among them answered, so that a ping alone does not
    /// count as ready.
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        loop {
            if self.pump()? {
                return Ok(true);
            }
            if !self.inner.read_ready().map_err(TransportError::Io)? {
                return Ok(false);
            }
            self.fill()?;
        }
    }
}

impl<T: Transport, R: FnMut(&mut [u8])> Transport for WsTransport<'_, T, R> {
    fn now_ms(&mut self) -> u64 {
        self.inner.now_ms()
    }

    /// `Ok(true)` at once when payload bytes are buffered; otherwise waits on the stream,
    /// taking in what arrives and answering control frames, until payload or end of stream
    /// is there or `timeout_ms` has passed.
    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error> {
        let start = self.inner.now_ms();
        loop {
            if self.pump()? {
                return Ok(true);
            }
            let elapsed = self.inner.now_ms().saturating_sub(start);
            let left = u64::from(timeout_ms).saturating_sub(elapsed);
            match self.inner.wait_readable(u32::try_from(left).unwrap_or(u32::MAX)) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) if is_timeout(&e) => return Ok(false),
                Err(e) => return Err(TransportError::Io(e)),
            }
            match self.fill() {
                Ok(()) => {}
                Err(TransportError::Io(e)) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
            if left == 0 && !self.core.readable() {
                return Ok(false);
            }
        }
    }
}

#[cfg(feature = "async")]
pub use self::nonblocking::AsyncWsTransport;

#[cfg(feature = "async")]
mod nonblocking {
    use embedded_io::ErrorType;
    use embedded_io_async::{Read, Write};

    use super::super::conn::{Core, SCRATCH_LEN, Step};
    use super::super::{TransportError, WsError, WsOptions};
    use super::is_timeout;
    use crate::client::AsyncTransport;

    /// The async twin of [`WsTransport`](super::WsTransport), over `embedded-io-async`
    /// (feature `async`). Same behaviour, same sans-IO core.
    pub struct AsyncWsTransport<'b, T, R> {
        inner: T,
        core: Core<'b, R>,
    }

    impl<T, R> core::fmt::Debug for AsyncWsTransport<'_, T, R> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("AsyncWsTransport").finish_non_exhaustive()
        }
    }

    async fn write_all<T: Write>(inner: &mut T, mut bytes: &[u8]) -> Result<(), TransportError<T::Error>> {
        while !bytes.is_empty() {
            match inner.write(bytes).await.map_err(TransportError::Io)? {
                0 => return Err(WsError::WriteZero.into()),
                n => bytes = bytes.get(n..).unwrap_or(&[]),
            }
        }
        Ok(())
    }

    impl<'b, T: AsyncTransport, R: FnMut(&mut [u8])> AsyncWsTransport<'b, T, R> {
        /// Opens the WebSocket on `inner`, as
        /// [`WsTransport::connect`](super::WsTransport::connect).
        ///
        /// # Errors
        /// As [`WsTransport::connect`](super::WsTransport::connect).
        pub async fn connect(
            inner: T,
            options: &WsOptions<'_>,
            random: R,
            buf: &'b mut [u8],
        ) -> Result<Self, TransportError<T::Error>> {
            let mut this = Self {
                inner,
                core: Core::new(buf, random, options.max_frame_len),
            };
            let (hs, n) = this.core.request(options)?;
            write_all(&mut this.inner, this.core.request_bytes(n)).await?;
            this.inner.flush().await.map_err(TransportError::Io)?;
            let timeout_ms = options.handshake_timeout_ms;
            let start = this.inner.now_ms();
            loop {
                let elapsed = this.inner.now_ms().saturating_sub(start);
                let left = u64::from(timeout_ms).saturating_sub(elapsed);
                if left == 0 {
                    return Err(WsError::NoResponse { timeout_ms }.into());
                }
                match this
                    .inner
                    .wait_readable(u32::try_from(left).unwrap_or(u32::MAX))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) if is_timeout(&e) => continue,
                    Err(e) => return Err(TransportError::Io(e)),
                }
                let space = this.core.response_space()?;
                let n = match this.inner.read(space).await {
                    Ok(n) => n,
                    Err(e) if is_timeout(&e) => continue,
                    Err(e) => return Err(TransportError::Io(e)),
                };
                if this.core.response_filled(&hs, n)? {
                    return Ok(this);
                }
            }
        }
    }

    impl<'b, T: Read + Write, R: FnMut(&mut [u8])> AsyncWsTransport<'b, T, R> {
        async fn send_pending(&mut self) -> Result<(), TransportError<T::Error>> {
            write_all(&mut self.inner, self.core.pending()).await?;
            self.core.sent();
            self.inner.flush().await.map_err(TransportError::Io)
        }

        async fn pump(&mut self) -> Result<bool, TransportError<T::Error>> {
            loop {
                match self.core.step(&mut [])? {
                    Step::Send => self.send_pending().await?,
                    Step::Data(_) | Step::Closed => return Ok(true),
                    Step::NeedInput => return Ok(self.core.readable()),
                }
            }
        }

        async fn fill(&mut self) -> Result<(), TransportError<T::Error>> {
            let n = self
                .inner
                .read(self.core.input_space())
                .await
                .map_err(TransportError::Io)?;
            Ok(self.core.filled(n)?)
        }

        /// Starts the closing handshake, as [`WsTransport::close`](super::WsTransport::close).
        ///
        /// # Errors
        /// The stream's error.
        pub async fn close(&mut self) -> Result<(), TransportError<T::Error>> {
            self.core.queue_close();
            if !self.core.pending().is_empty() {
                self.send_pending().await?;
            }
            Ok(())
        }

        /// The stream underneath.
        pub fn inner_mut(&mut self) -> &mut T {
            &mut self.inner
        }

        /// Gives back the stream underneath (bytes already received are dropped).
        pub fn into_inner(self) -> T {
            self.inner
        }
    }

    impl<T: ErrorType, R> ErrorType for AsyncWsTransport<'_, T, R> {
        type Error = TransportError<T::Error>;
    }

    impl<T: Read + Write, R: FnMut(&mut [u8])> Read for AsyncWsTransport<'_, T, R> {
        async fn read(&mut self, out: &mut [u8]) -> Result<usize, Self::Error> {
            if out.is_empty() {
                return Ok(0);
            }
            loop {
                match self.core.step(out)? {
                    Step::Data(n) => return Ok(n),
                    Step::Send => self.send_pending().await?,
                    Step::Closed => return Ok(0),
                    Step::NeedInput => self.fill().await?,
                }
            }
        }
    }

    impl<T: Read + Write, R: FnMut(&mut [u8])> Write for AsyncWsTransport<'_, T, R> {
        async fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error> {
            if data.is_empty() {
                return Ok(0);
            }
            let mut frame = self.core.begin_frame(data.len())?;
            let mut scratch = [0u8; SCRATCH_LEN];
            while let Some(chunk) = frame.next_chunk(data, &mut scratch) {
                write_all(&mut self.inner, chunk).await?;
            }
            Ok(data.len())
        }

        async fn flush(&mut self) -> Result<(), Self::Error> {
            self.inner.flush().await.map_err(TransportError::Io)
        }
    }

    impl<T: AsyncTransport, R: FnMut(&mut [u8])> AsyncTransport for AsyncWsTransport<'_, T, R> {
        fn now_ms(&mut self) -> u64 {
            self.inner.now_ms()
        }

        async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error> {
            let start = self.inner.now_ms();
            loop {
                if self.pump().await? {
                    return Ok(true);
                }
                let elapsed = self.inner.now_ms().saturating_sub(start);
                let left = u64::from(timeout_ms).saturating_sub(elapsed);
                match self
                    .inner
                    .wait_readable(u32::try_from(left).unwrap_or(u32::MAX))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return Ok(false),
                    Err(e) if is_timeout(&e) => return Ok(false),
                    Err(e) => return Err(TransportError::Io(e)),
                }
                match self.fill().await {
                    Ok(()) => {}
                    Err(TransportError::Io(e)) if is_timeout(&e) => {}
                    Err(e) => return Err(e),
                }
                if left == 0 && !self.core.readable() {
                    return Ok(false);
                }
            }
        }
    }
}
