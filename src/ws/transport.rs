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
    /// Kept for [`Transport::reconnect`], which repeats the handshake.
    options: WsOptions<'b>,
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

/// Waits for the handshake response on `t` until `timeout_ms` after `start`.
fn wait_until<T: Transport>(
    t: &mut T,
    start: u64,
    timeout_ms: u32,
) -> Result<bool, TransportError<T::Error>> {
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
        options: &WsOptions<'b>,
        random: R,
        buf: &'b mut [u8],
    ) -> Result<Self, TransportError<T::Error>>
    where
        T: Transport,
    {
        let mut this = Self::new(inner, options, random, buf);
        this.bounded_handshake()?;
        Ok(this)
    }

    /// [`connect`](Self::connect) for a stream that cannot wait with a time limit: the
    /// handshake blocks in `read` until the server answers or the stream fails.
    ///
    /// # Errors
    /// As [`connect`](Self::connect), without the timeout.
    pub fn connect_unbounded(
        inner: T,
        options: &WsOptions<'b>,
        random: R,
        buf: &'b mut [u8],
    ) -> Result<Self, TransportError<T::Error>> {
        let mut this = Self::new(inner, options, random, buf);
        this.handshake(|_| Ok(true))?;
        Ok(this)
    }

    fn new(inner: T, options: &WsOptions<'b>, random: R, buf: &'b mut [u8]) -> Self {
        Self {
            inner,
            core: Core::new(buf, random, options.max_frame_len),
            options: *options,
        }
    }

    /// The handshake within [`handshake_timeout_ms`](WsOptions::handshake_timeout_ms).
    fn bounded_handshake(&mut self) -> Result<(), TransportError<T::Error>>
    where
        T: Transport,
    {
        let start = self.inner.now_ms();
        let timeout_ms = self.options.handshake_timeout_ms;
        self.handshake(|t| wait_until(t, start, timeout_ms))
    }

    /// Sends the Upgrade request and reads until the response is complete; `wait` runs
    /// before each read and says whether data is there.
    fn handshake(
        &mut self,
        mut wait: impl FnMut(&mut T) -> Result<bool, TransportError<T::Error>>,
    ) -> Result<(), TransportError<T::Error>> {
        let (hs, n) = self.core.request(&self.options)?;
        write_all(&mut self.inner, self.core.request_bytes(n))?;
        self.inner.flush().map_err(TransportError::Io)?;
        loop {
            if !wait(&mut self.inner)? {
                continue;
            }
            let space = self.core.response_space()?;
            let n = match self.inner.read(space) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(TransportError::Io(e)),
            };
            if self.core.response_filled(&hs, n)? {
                return Ok(());
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

    /// Reconnects the stream underneath ([`Transport::reconnect`] of `T`: a new TCP or TLS
    /// connection) and opens the WebSocket on it again with the same options, within the
    /// handshake timeout. `Ok(false)` when the stream cannot reconnect.
    fn reconnect(&mut self) -> Result<bool, Self::Error> {
        if !self.inner.reconnect().map_err(TransportError::Io)? {
            return Ok(false);
        }
        self.core.reset(self.options.max_frame_len);
        self.bounded_handshake()?;
        Ok(true)
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
    ///
    /// `wait_readable` answers pings while it waits; dropped in the middle of writing a
    /// pong (the shared client's runner drops the wait when a task makes a request) it
    /// leaves a partial frame, and the server will close the connection, which the
    /// runner then reopens. Nothing else is lost.
    pub struct AsyncWsTransport<'b, T, R> {
        inner: T,
        core: Core<'b, R>,
        /// Kept for [`AsyncTransport::reconnect`], which repeats the handshake.
        options: WsOptions<'b>,
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
            options: &WsOptions<'b>,
            random: R,
            buf: &'b mut [u8],
        ) -> Result<Self, TransportError<T::Error>> {
            let mut this = Self {
                inner,
                core: Core::new(buf, random, options.max_frame_len),
                options: *options,
            };
            this.handshake().await?;
            Ok(this)
        }

        /// Sends the Upgrade request and reads the response, within the handshake timeout.
        async fn handshake(&mut self) -> Result<(), TransportError<T::Error>> {
            let (hs, n) = self.core.request(&self.options)?;
            write_all(&mut self.inner, self.core.request_bytes(n)).await?;
            self.inner.flush().await.map_err(TransportError::Io)?;
            let timeout_ms = self.options.handshake_timeout_ms;
            let start = self.inner.now_ms();
            loop {
                let elapsed = self.inner.now_ms().saturating_sub(start);
                let left = u64::from(timeout_ms).saturating_sub(elapsed);
                if left == 0 {
                    return Err(WsError::NoResponse { timeout_ms }.into());
                }
                match self
                    .inner
                    .wait_readable(u32::try_from(left).unwrap_or(u32::MAX))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) if is_timeout(&e) => continue,
                    Err(e) => return Err(TransportError::Io(e)),
                }
                let space = self.core.response_space()?;
                let n = match self.inner.read(space).await {
                    Ok(n) => n,
                    Err(e) if is_timeout(&e) => continue,
                    Err(e) => return Err(TransportError::Io(e)),
                };
                if self.core.response_filled(&hs, n)? {
                    return Ok(());
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

        /// Reconnects the stream underneath and opens the WebSocket on it again, as
        /// [`WsTransport`'s `reconnect`](super::WsTransport).
        async fn reconnect(&mut self) -> Result<bool, Self::Error> {
            if !self.inner.reconnect().await.map_err(TransportError::Io)? {
                return Ok(false);
            }
            self.core.reset(self.options.max_frame_len);
            self.handshake().await?;
            Ok(true)
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

#[cfg(test)]
mod tests {
    use super::super::frame::{FrameHeader, Opcode, apply_mask};
    use super::super::handshake::Handshake;
    use super::*;
    use crate::status::Status;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A stream that hands out scripted chunks, records what is written, and has a fake
    /// clock. With no chunk left it is silent (reads time out) or at end of stream.
    #[derive(Default)]
    struct Script {
        chunks: VecDeque<Vec<u8>>,
        written: Vec<u8>,
        clock: u64,
        eof: bool,
    }

    impl Script {
        fn new(chunks: impl IntoIterator<Item = Vec<u8>>, eof: bool) -> Self {
            Self {
                chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
                eof,
                ..Self::default()
            }
        }
    }

    impl ErrorType for Script {
        type Error = ErrorKind;
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let Some(mut chunk) = self.chunks.pop_front() else {
                return if self.eof { Ok(0) } else { Err(ErrorKind::TimedOut) };
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.chunks.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    impl ReadReady for Script {
        fn read_ready(&mut self) -> Result<bool, ErrorKind> {
            Ok(!self.chunks.is_empty() || self.eof)
        }
    }

    impl Transport for Script {
        fn now_ms(&mut self) -> u64 {
            self.clock
        }

        fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, ErrorKind> {
            if !self.chunks.is_empty() || self.eof {
                return Ok(true);
            }
            self.clock += u64::from(timeout_ms);
            Ok(false)
        }
    }

    /// Random bytes 0, 1, 2, ...: the nonce is 0..16, then the masks follow.
    fn counter() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
    }

    fn accept() -> std::string::String {
        let nonce: [u8; 16] = core::array::from_fn(|i| i as u8);
        Handshake::new(nonce).expected_accept().into()
    }

    fn response() -> Vec<u8> {
        std::format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            accept()
        )
        .into_bytes()
    }

    fn frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let h = FrameHeader {
            fin,
            opcode,
            mask: None,
            len: payload.len() as u64,
        };
        let mut out = std::vec![0; h.encoded_len()];
        h.encode(&mut out).unwrap();
        out.extend_from_slice(payload);
        out
    }

    /// The client frames in `bytes` (after the request), unmasked.
    fn client_frames(mut bytes: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let Ok(Status::Complete((h, n))) = FrameHeader::decode(bytes) else {
                panic!("bad client frame")
            };
            let key = h.mask.expect("client frames are masked");
            let end = n + h.len as usize;
            let mut payload = bytes[n..end].to_vec();
            apply_mask(&mut payload, key, 0);
            frames.push((h.opcode, payload));
            bytes = &bytes[end..];
        }
        frames
    }

    /// The frames written after the handshake request.
    fn written_frames(s: &Script) -> Vec<(Opcode, Vec<u8>)> {
        let end = s.written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        client_frames(&s.written[end..])
    }

    fn server_stream() -> (Vec<u8>, Vec<u8>) {
        let mut s = frame(false, Opcode::Binary, b"\x20\x02");
        s.extend(frame(true, Opcode::Ping, b"hb"));
        s.extend(frame(true, Opcode::Continuation, b"\x00\x00"));
        s.extend(frame(true, Opcode::Binary, &[0x30; 700]));
        s.extend(frame(true, Opcode::Close, b"\x03\xe8"));
        let mut data = b"\x20\x02\x00\x00".to_vec();
        data.extend([0x30; 700]);
        (s, data)
    }

    fn read_to_end<T: Read>(t: &mut T, chunk: usize) -> Result<Vec<u8>, T::Error> {
        let mut all = Vec::new();
        let mut buf = std::vec![0; chunk];
        loop {
            match t.read(&mut buf)? {
                0 => return Ok(all),
                n => all.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn handshake_then_frames_split_at_every_position() {
        let mut all = response();
        let (frames, data) = server_stream();
        all.extend(&frames);
        for cut in 0..=all.len() {
            let (a, b) = all.split_at(cut);
            let script = Script::new([a.to_vec(), b.to_vec()], true);
            let mut buf = [0u8; 256];
            let mut ws = WsTransport::connect(script, &WsOptions::new("h:1"), counter(), &mut buf)
                .unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(read_to_end(&mut ws, 100).unwrap(), data, "cut {cut}");
            assert_eq!(
                written_frames(ws.inner_mut()),
                [
                    (Opcode::Pong, b"hb".to_vec()),
                    (Opcode::Close, b"\x03\xe8".to_vec())
                ],
                "cut {cut}"
            );
            // Nothing can be sent after the close handshake.
            assert_eq!(ws.write(b"x"), Err(TransportError::Ws(WsError::Closed)));
        }
    }

    #[test]
    fn request_is_sent_first() {
        let script = Script::new([response()], true);
        let mut buf = [0u8; 512];
        let opts = WsOptions::new("broker:8080").path("/ws");
        let mut ws = WsTransport::connect(script, &opts, counter(), &mut buf).unwrap();
        let written = std::string::String::from_utf8(ws.inner_mut().written.clone()).unwrap();
        assert!(
            written.starts_with("GET /ws HTTP/1.1\r\nHost: broker:8080\r\n"),
            "{written}"
        );
        assert!(written.contains("Sec-WebSocket-Protocol: mqtt\r\n"));
    }

    #[test]
    fn writes_are_masked_binary_frames() {
        let script = Script::new([response()], false);
        let mut buf = [0u8; 512];
        let mut ws = WsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf).unwrap();
        let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        assert_eq!(ws.write(b"\xc0\x00"), Ok(2));
        assert_eq!(ws.write(&big), Ok(1000));
        assert_eq!(ws.write(b""), Ok(0));
        ws.close().unwrap();
        assert_eq!(
            written_frames(ws.inner_mut()),
            [
                (Opcode::Binary, b"\xc0\x00".to_vec()),
                (Opcode::Binary, big),
                (Opcode::Close, b"\x03\xe8".to_vec()),
            ]
        );
        assert_eq!(ws.write(b"x"), Err(TransportError::Ws(WsError::Closed)));
    }

    #[test]
    fn silent_server_times_out_naming_the_missing_response() {
        let script = Script::new([], false);
        let mut buf = [0u8; 512];
        let opts = WsOptions::new("h").handshake_timeout_ms(1500);
        let err = WsTransport::connect(script, &opts, counter(), &mut buf).unwrap_err();
        assert_eq!(err, TransportError::Ws(WsError::NoResponse { timeout_ms: 1500 }));
        assert_eq!(
            std::format!("{err}"),
            "WebSocket: no HTTP 101 response from the server within 1500 ms"
        );
        // A partial response is no better.
        let script = Script::new([b"HTTP/1.1 101 Switching".to_vec()], false);
        let err = WsTransport::connect(script, &opts, counter(), &mut buf).unwrap_err();
        assert_eq!(err, TransportError::Ws(WsError::NoResponse { timeout_ms: 1500 }));
    }

    #[test]
    fn handshake_failures() {
        let mut buf = [0u8; 512];
        let connect = |chunks: Vec<Vec<u8>>, buf: &mut [u8]| {
            WsTransport::connect(Script::new(chunks, true), &WsOptions::new("h"), counter(), buf)
                .map(drop)
                .unwrap_err()
        };
        assert_eq!(
            connect(std::vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()], &mut buf),
            TransportError::Ws(WsError::UnexpectedStatus(400))
        );
        assert_eq!(
            connect(std::vec![b"HTTP/1.1 101 OK\r\n".to_vec()], &mut buf),
            TransportError::Ws(WsError::ClosedDuringHandshake)
        );
        let bad = std::string::String::from_utf8(response())
            .unwrap()
            .replace(&accept(), "x");
        assert_eq!(
            connect(std::vec![bad.into_bytes()], &mut buf),
            TransportError::Ws(WsError::AcceptMismatch)
        );
        let mut long = response();
        long.splice(
            20..20,
            std::format!("X-Padding: {}\r\n", "x".repeat(300)).into_bytes(),
        );
        assert_eq!(
            connect(std::vec![long], &mut buf[..256]),
            TransportError::Ws(WsError::ResponseTooLarge { limit: 256 })
        );
        assert_eq!(
            connect(std::vec![], &mut buf[..100]),
            TransportError::Ws(WsError::BufferTooSmall { needed: 174 })
        );
    }

    #[test]
    fn wait_readable_counts_payload_not_control_frames() {
        let mut first = response();
        first.extend(frame(true, Opcode::Ping, b"1"));
        let script = Script::new([first, frame(true, Opcode::Binary, b"abc")], false);
        let mut buf = [0u8; 512];
        let mut ws = WsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf).unwrap();
        // The ping is answered during the wait; the data frame makes it ready.
        assert_eq!(ws.wait_readable(1000), Ok(true));
        assert_eq!(written_frames(ws.inner_mut()), [(Opcode::Pong, b"1".to_vec())]);
        let mut two = [0u8; 2];
        assert_eq!(ws.read(&mut two), Ok(2));
        // One payload byte still buffered: ready at once, without touching the clock.
        let clock = ws.now_ms();
        assert_eq!(ws.wait_readable(0), Ok(true));
        assert_eq!(ws.read_ready(), Ok(true));
        assert_eq!(ws.read(&mut two), Ok(1));
        assert_eq!(ws.now_ms(), clock);
        // Nothing more: not ready, and a read times out without losing state.
        assert_eq!(ws.wait_readable(500), Ok(false));
        assert_eq!(ws.now_ms(), clock + 500);
        assert_eq!(ws.read_ready(), Ok(false));
        assert_eq!(ws.read(&mut two), Err(TransportError::Io(ErrorKind::TimedOut)));
    }

    #[test]
    fn end_of_stream_inside_a_frame_is_an_error() {
        let mut first = response();
        first.extend(&frame(true, Opcode::Binary, b"abcdef")[..4]);
        let script = Script::new([first], true);
        let mut buf = [0u8; 512];
        let mut ws = WsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf).unwrap();
        let mut out = [0u8; 10];
        assert_eq!(ws.read(&mut out), Ok(2));
        assert_eq!(
            ws.read(&mut out),
            Err(TransportError::Ws(WsError::TruncatedFrame))
        );
        // Every error is final.
        assert_eq!(
            ws.read(&mut out),
            Err(TransportError::Ws(WsError::TruncatedFrame))
        );
        // Between frames it is a plain end of stream.
        let script = Script::new([response()], true);
        let mut ws = WsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf).unwrap();
        assert_eq!(ws.read(&mut out), Ok(0));
    }

    #[test]
    fn protocol_error_from_the_server_is_reported_and_final() {
        let mut first = response();
        first.extend(frame(true, Opcode::Text, b"{}"));
        let script = Script::new([first], false);
        let mut buf = [0u8; 512];
        let mut ws = WsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf).unwrap();
        let mut out = [0u8; 10];
        let err = ws.read(&mut out).unwrap_err();
        assert_eq!(err, TransportError::Ws(WsError::TextFrame));
        assert_eq!(embedded_io::Error::kind(&err), ErrorKind::InvalidData);
        assert_eq!(ws.write(b"x"), Err(TransportError::Ws(WsError::TextFrame)));
    }

    #[cfg(feature = "async")]
    mod asynchronous {
        use super::*;
        use crate::client::AsyncTransport;
        use crate::ws::AsyncWsTransport;

        impl embedded_io_async::Read for Script {
            async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
                Read::read(self, buf)
            }
        }

        impl embedded_io_async::Write for Script {
            async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
                Write::write(self, buf)
            }

            async fn flush(&mut self) -> Result<(), ErrorKind> {
                Ok(())
            }
        }

        impl AsyncTransport for Script {
            fn now_ms(&mut self) -> u64 {
                self.clock
            }

            async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, ErrorKind> {
                Transport::wait_readable(self, timeout_ms)
            }
        }

        /// Runs a future that never waits (everything here is scripted).
        fn block_on<F: core::future::Future>(f: F) -> F::Output {
            let mut f = core::pin::pin!(f);
            let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
            match f.as_mut().poll(&mut cx) {
                core::task::Poll::Ready(v) => v,
                core::task::Poll::Pending => panic!("scripted future is pending"),
            }
        }

        #[test]
        fn async_twin_behaves_the_same() {
            block_on(async {
                let mut all = response();
                let (frames, data) = server_stream();
                all.extend(&frames);
                for cut in (0..=all.len()).step_by(7) {
                    let (a, b) = all.split_at(cut);
                    let script = Script::new([a.to_vec(), b.to_vec()], true);
                    let mut buf = [0u8; 256];
                    let mut ws = AsyncWsTransport::connect(script, &WsOptions::new("h"), counter(), &mut buf)
                        .await
                        .unwrap();
                    assert_eq!(ws.wait_readable(10).await, Ok(true));
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 64];
                    loop {
                        match embedded_io_async::Read::read(&mut ws, &mut chunk).await.unwrap() {
                            0 => break,
                            n => got.extend_from_slice(&chunk[..n]),
                        }
                    }
                    assert_eq!(got, data, "cut {cut}");
                    assert_eq!(
                        written_frames(ws.inner_mut()),
                        [
                            (Opcode::Pong, b"hb".to_vec()),
                            (Opcode::Close, b"\x03\xe8".to_vec())
                        ]
                    );
                }
                let opts = WsOptions::new("h").handshake_timeout_ms(20);
                let mut buf = [0u8; 256];
                let err = AsyncWsTransport::connect(Script::new([], false), &opts, counter(), &mut buf)
                    .await
                    .unwrap_err();
                assert_eq!(err, TransportError::Ws(WsError::NoResponse { timeout_ms: 20 }));
                let script = Script::new([response()], false);
                let mut ws = AsyncWsTransport::connect(script, &opts, counter(), &mut buf)
                    .await
                    .unwrap();
                assert_eq!(embedded_io_async::Write::write(&mut ws, b"\xe0\x00").await, Ok(2));
                ws.close().await.unwrap();
                assert_eq!(
                    written_frames(ws.inner_mut()),
                    [
                        (Opcode::Binary, b"\xe0\x00".to_vec()),
                        (Opcode::Close, b"\x03\xe8".to_vec())
                    ]
                );
            });
        }
    }
}
