//! [`Driver`]: the one implementation of the client's calls, written once as `async fn`s over
//! an [`AsyncTransport`]: it asks the sans-IO [`Core`] what to send, writes it, and reads
//! into the core until the call's answer arrives, running the timers while it waits.
//!
//! The blocking [`MqttClient`](super::MqttClient) runs the same code: [`Blocking`] turns a
//! blocking [`Transport`] into an `AsyncTransport` whose futures are ready at their first
//! poll, and [`block_on`] polls a call's future once to completion. No executor, no
//! `unsafe`, and no second copy of the logic.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_io::ErrorType;
use embedded_io_async::{Read, Write};

use super::core::{Core, Small, Step};
use super::error::ClientError;
use super::transport::{AsyncTransport, Transport, is_timeout};
use crate::packet::{Packet, Publish};
use crate::session::{Phase, ProtocolError, Retransmit};
use crate::topic::{TopicFilter, TopicName};
use crate::types::{PacketId, QoS};

/// The smallest receive buffer the client accepts: room for any acknowledgement, a
/// PINGRESP and a CONNACK (messages need room for their topic and payload on top).
pub const MIN_RX_BUFFER: usize = 8;

/// Runs a future whose every await is ready at once (the client over [`Blocking`]) to its
/// end.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Polls `first`, then `other`; the output of `first`, or `None` when `other` completed
/// before it. `first` is dropped in that case.
async fn first_of<A: Future, B: Future<Output = ()>>(
    first: A,
    mut other: core::pin::Pin<&mut B>,
) -> Option<A::Output> {
    let mut first = pin!(first);
    core::future::poll_fn(|cx| {
        if let Poll::Ready(out) = first.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        match other.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A blocking [`Transport`] seen as an [`AsyncTransport`]: each future does its blocking
/// work when first polled and is ready then.
pub(crate) struct Blocking<T>(pub(crate) T);

impl<T> Blocking<T> {
    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}

impl<T: ErrorType> ErrorType for Blocking<T> {
    type Error = T::Error;
}

impl<T: embedded_io::Read> Read for Blocking<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, T::Error> {
        self.0.read(buf)
    }
}

impl<T: embedded_io::Write> Write for Blocking<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, T::Error> {
        self.0.write(buf)
    }

    async fn flush(&mut self) -> Result<(), T::Error> {
        self.0.flush()
    }
}

impl<T: Transport> AsyncTransport for Blocking<T> {
    fn now_ms(&mut self) -> u64 {
        self.0.now_ms()
    }

    async fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, T::Error> {
        self.0.wait_readable(timeout_ms)
    }

    async fn reconnect(&mut self) -> Result<bool, T::Error> {
        self.0.reconnect()
    }
}

/// The client: its sans-IO core, the transport, and the clock override.
pub(crate) struct Driver<'b, T, const N: usize, const S: usize> {
    pub(crate) core: Core<'b, N, S>,
    pub(crate) transport: T,
    pub(crate) clock: Option<fn() -> u64>,
    /// A CONNECT has been written on this transport: it carries one MQTT connection at
    /// most, so a new `connect` first opens a new one ([MQTT-3.1.0-2], [MQTT-3.14.4-2]).
    pub(crate) used: bool,
}

/// Writes `head`, then `tail` unless it is empty, and flushes.
async fn write_parts<T: AsyncTransport>(
    t: &mut T,
    head: &[u8],
    tail: &[u8],
) -> Result<(), ClientError<T::Error>> {
    t.write_all(head).await.map_err(ClientError::Io)?;
    if !tail.is_empty() {
        t.write_all(tail).await.map_err(ClientError::Io)?;
    }
    t.flush().await.map_err(ClientError::Io)
}

impl<'b, T: AsyncTransport, const N: usize, const S: usize> Driver<'b, T, N, S> {
    pub(crate) fn new(transport: T, client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self {
            core: Core::new(client_id, rx, tx),
            transport,
            clock: None,
            used: false,
        }
    }

    pub(crate) fn now(&mut self) -> u64 {
        match self.clock {
            Some(clock) => clock(),
            None => self.transport.now_ms(),
        }
    }

    pub(crate) fn replace_transport(&mut self, transport: T) -> T {
        self.core.connection_lost();
        self.used = false;
        core::mem::replace(&mut self.transport, transport)
    }

    /// Starts a call (see [`Core::begin`]): sends the acknowledgement of the message the
    /// previous call handed out, now that the caller has finished with it.
    pub(crate) async fn begin(&mut self, holding: bool) -> Result<(), ClientError<T::Error>> {
        if let Some(ack) = self.core.begin(holding)? {
            self.send_small(ack).await?;
            let now = self.now();
            self.core.session.mark_sent(now);
        }
        Ok(())
    }

    /// Writes a small packet; a failed write ends the connection.
    async fn send_small(&mut self, packet: Small) -> Result<(), ClientError<T::Error>> {
        let result = write_parts(&mut self.transport, packet.bytes(), &[]).await;
        result.map_err(|e| self.core.fail(e))
    }

    /// Runs the timers and reads until one packet has been processed, and returns what it
    /// meant. Without `block`, returns `None` at once when no packet has started to arrive.
    /// Every wait is bounded by the core's next deadline; a read that times out is a tick.
    /// Fails with `NotConnected` without a connection: nothing can arrive, so waiting
    /// would never end.
    async fn next_step(&mut self, block: bool) -> Result<Option<Step>, ClientError<T::Error>> {
        self.next_step_or(block, core::future::pending()).await
    }

    /// [`next_step`](Self::next_step) that also returns `Ok(None)` when `wake` completes
    /// while it waits for data (the shared client's runner wakes up for a new request).
    /// Only the wait is interrupted, never a read or write, so `wait_readable` must be
    /// cancel-safe.
    pub(crate) async fn next_step_or(
        &mut self,
        block: bool,
        wake: impl Future<Output = ()>,
    ) -> Result<Option<Step>, ClientError<T::Error>> {
        let mut wake = pin!(wake);
        loop {
            if self.core.session.phase() == Phase::Disconnected {
                return Err(ProtocolError::NotConnected.into());
            }
            let now = self.now();
            if let Some(ping) = self.core.handle_timeout(now)? {
                self.send_small(ping).await?;
            }
            let idle = !block && !self.core.mid_packet();
            let wait = match (idle, self.core.poll_timeout()) {
                (true, _) => 0,
                (false, Some(t)) => u32::try_from(t.saturating_sub(now)).unwrap_or(u32::MAX),
                (false, None) => u32::MAX,
            };
            let ready = match first_of(self.transport.wait_readable(wait), wake.as_mut()).await {
                Some(ready) => ready,
                None => return Ok(None),
            };
            match ready {
                Ok(true) => {}
                Ok(false) if idle => return Ok(None),
                Ok(false) => continue,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(self.core.fail(ClientError::Io(e))),
            }
            let n = match self.transport.read(self.core.read_buf()).await {
                Ok(0) => return Err(self.core.fail(ClientError::ConnectionClosed)),
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(self.core.fail(ClientError::Io(e))),
            };
            let now = self.now();
            if let Some((step, reply)) = self.core.handle_read(n, now)? {
                if let Some(reply) = reply {
                    self.send_small(reply).await?;
                }
                return Ok(Some(step));
            }
        }
    }

    /// `connect`: opens the session, then re-sends what it still owes the server.
    pub(crate) async fn connect(&mut self, clean_session: bool) -> Result<bool, ClientError<T::Error>> {
        let session_present = self.open_session(clean_session).await?;
        self.resend().await?;
        Ok(session_present)
    }

    /// Sends CONNECT (over a new connection when the transport was used) and waits for the
    /// CONNACK; returns Session Present. Re-sending is left to [`resend`](Self::resend), so
    /// `RobustClient` can subscribe again first when the server lost the session.
    pub(crate) async fn open_session(&mut self, clean_session: bool) -> Result<bool, ClientError<T::Error>> {
        self.begin(true).await?;
        if self.core.session.phase() != Phase::Disconnected {
            return Err(ProtocolError::AlreadyConnected.into());
        }
        if self.core.rx_len() < MIN_RX_BUFFER {
            return Err(ClientError::ReceiveBufferTooSmall {
                len: self.core.rx_len(),
                min: MIN_RX_BUFFER,
            });
        }
        if self.used {
            // umqtt.simple's `connect` opens a new socket; so does this, through the
            // transport.
            match self.transport.reconnect().await {
                Ok(true) => self.used = false,
                Ok(false) => return Err(ClientError::TransportClosed),
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
        let now = self.now();
        let bytes = self.core.start_connect(clean_session, now)?;
        self.used = true;
        let written = write_parts(&mut self.transport, bytes, &[]).await;
        written.map_err(|e| self.core.fail(e))?;
        loop {
            if let Some(Step::Connected(present)) = self.next_step(true).await? {
                return Ok(present);
            }
        }
    }

    /// [MQTT-4.4.0-1] Re-sends what the session still owes the server, in order.
    pub(crate) async fn resend(&mut self) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let now = self.now();
        let mut result = Ok(());
        for item in self.core.session.retransmits() {
            let pubrel;
            let bytes = match item {
                Retransmit::Publish(bytes) => bytes,
                Retransmit::PubRel(id) => {
                    pubrel = Small::encode(&Packet::PubRel(id));
                    pubrel.bytes()
                }
            };
            result = write_parts(&mut self.transport, bytes, &[]).await;
            if result.is_err() {
                break;
            }
        }
        // Marked sent even when a write failed part way: a copy may have reached the
        // server, so the next re-send must carry DUP = 1 ([MQTT-3.3.1-1]).
        self.core.session.resend_done(now);
        result.map_err(|e| self.core.fail(e))
    }

    pub(crate) async fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let packet = self.core.session.disconnect()?;
        self.core.connection_lost();
        self.send_small(Small::encode(&packet)).await
    }

    pub(crate) async fn ping(&mut self) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let now = self.now();
        let packet = self.core.session.ping(now)?;
        self.send_small(Small::encode(&packet)).await
    }

    pub(crate) async fn ping_if_due(&mut self, now_ms: u64) -> Result<bool, ClientError<T::Error>> {
        self.begin(true).await?;
        match self.core.handle_timeout(now_ms)? {
            Some(ping) => self.send_small(ping).await.map(|()| true),
            None => Ok(false),
        }
    }

    pub(crate) async fn publish(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let topic = TopicName::new(topic)?;
        let now = self.now();
        let (id, head, tail) = self.core.start_publish(topic, msg, retain, qos)?;
        let written = write_parts(&mut self.transport, head, tail).await;
        self.core.published(id, now);
        written.map_err(|e| self.core.fail(e))?;
        match id {
            Some(id) => self.until_published(id).await,
            None => Ok(()),
        }
    }

    /// Queues a QoS 1/2 message without sending it (`RobustClient`'s publish): from here on
    /// it survives any failure and goes out with the next re-send.
    pub(crate) async fn queue(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<PacketId, ClientError<T::Error>> {
        self.begin(true).await?;
        let topic = TopicName::new(topic)?;
        self.core.queue_publish(topic, msg, retain, qos)
    }

    /// Sends the queued message `id` if connected; without a connection the next
    /// `connect` re-sends it.
    pub(crate) async fn send_queued(&mut self, id: PacketId) -> Result<(), ClientError<T::Error>> {
        if self.core.session.phase() != Phase::Connected {
            return Ok(());
        }
        let now = self.now();
        let bytes = self.core.session.publish_bytes(id).unwrap_or(&[]);
        let written = write_parts(&mut self.transport, bytes, &[]).await;
        self.core.published(Some(id), now);
        written.map_err(|e| self.core.fail(e))
    }

    /// Waits until the QoS 1/2 message `id` is fully acknowledged, within the response
    /// timeout for each acknowledgement.
    pub(crate) async fn until_published(&mut self, id: PacketId) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let now = self.now();
        self.core.expect_ack(id, now);
        while self.core.session.is_pending(id) {
            self.next_step(true).await?;
        }
        self.core.expect_nothing();
        Ok(())
    }

    pub(crate) async fn wait_acked(&mut self) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        while let Some(id) = self.core.session.first_unacked() {
            let now = self.now();
            self.core.expect_ack(id, now);
            self.next_step(true).await?;
        }
        self.core.expect_nothing();
        Ok(())
    }

    pub(crate) async fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        self.begin(true).await?;
        let filter = TopicFilter::new(topic)?;
        let now = self.now();
        let (id, bytes) = self.core.start_subscribe(filter, qos, now)?;
        let written = write_parts(&mut self.transport, bytes, &[]).await;
        written.map_err(|e| self.core.fail(e))?;
        loop {
            if let Some(Step::Subscribed(answered, granted)) = self.next_step(true).await?
                && answered == id
            {
                return granted.ok_or(ClientError::SubscribeRefused);
            }
        }
    }

    pub(crate) async fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        self.begin(true).await?;
        let filter = TopicFilter::new(topic)?;
        let now = self.now();
        let (id, bytes) = self.core.start_unsubscribe(filter, now)?;
        let written = write_parts(&mut self.transport, bytes, &[]).await;
        written.map_err(|e| self.core.fail(e))?;
        loop {
            if let Some(Step::Unsubscribed(answered)) = self.next_step(true).await?
                && answered == id
            {
                return Ok(());
            }
        }
    }

    /// `wait_msg` (`block`) and `check_msg`.
    pub(crate) async fn next_message(
        &mut self,
        block: bool,
    ) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        self.begin(false).await?;
        if self.core.has_held() {
            return Ok(self.core.pop_held());
        }
        match self.next_step(block).await? {
            Some(Step::Message) => Ok(self.core.handed()),
            Some(Step::Skipped(packet_type, len)) => Err(ClientError::PacketTooLarge { packet_type, len }),
            _ => Ok(None),
        }
    }
}
