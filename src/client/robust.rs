//! [`RobustClient`] and [`AsyncRobustClient`]: clients that reconnect by themselves, in the
//! spirit of MicroPython's `umqtt.robust`.
//!
//! When the connection fails, the wrapper opens a new transport with the caller's connector,
//! reconnects with `clean_session = false` so the broker resumes the session, re-subscribes
//! if the broker reports that it kept no session, and lets the session re-send every QoS 1/2
//! message that was not acknowledged (with DUP set, in order). `publish`, `subscribe`,
//! `wait_msg` and `check_msg` retry across reconnects, so a QoS 1/2 message handed to
//! `publish` is either acknowledged or still queued for re-sending: it is never dropped.
//!
//! The logic is written once ([`Robust`], async) and runs under both wrappers, like the
//! plain clients (see `driver.rs`).

use embedded_io::ErrorType;
use heapless::Vec;

use super::driver::{Blocking, Driver, block_on};
use super::store::{RecordSink, Records, SessionStore, StoreError};
use super::{AsyncMqttClient, AsyncTransport, ClientError, MqttClient, Transport};
use crate::packet::Publish;
use crate::session::ProtocolError;
use crate::types::QoS;

/// The log hook: sees every error that leads to a reconnection attempt.
pub type LogHook<'b, E> = &'b mut dyn FnMut(&ClientError<E>);

/// Opens a new transport for [`AsyncRobustClient`].
#[allow(async_fn_in_trait)]
pub trait AsyncConnector<T: ErrorType> {
    /// Opens a transport to the server. `attempt` counts the attempts in a row, from 1:
    /// wait before opening to back off (umqtt.robust's `delay(i)`).
    ///
    /// # Errors
    /// The transport's error when the server cannot be reached.
    async fn open(&mut self, attempt: u32) -> Result<T, T::Error>;
}

/// What the wrapper does with an error: reconnect and retry when the connection ended or a
/// call found the client disconnected after an earlier failure; hand it to the caller
/// otherwise (a refused connection is not retried: retrying cannot fix credentials).
pub(crate) fn is_connection_failure<E>(e: &ClientError<E>) -> bool {
    (e.ends_connection() && !matches!(e, ClientError::ConnectionRefused(_)))
        || matches!(e, ClientError::Protocol(ProtocolError::NotConnected))
}

/// The reconnecting logic, shared by both wrappers: the retry policy and the remembered
/// subscriptions. `SUBS` bytes hold the subscriptions (each takes its topic length plus 3).
pub(crate) struct Robust<'b, E, const SUBS: usize> {
    log: Option<LogHook<'b, E>>,
    max_attempts: Option<u32>,
    subscriptions: Vec<u8, SUBS>,
    /// Where the subscriptions are kept across resets, if anywhere.
    subscription_store: Option<&'b mut dyn SessionStore>,
}

/// The remembered subscriptions as store records: `[qos, topic...]` each.
struct SubscriptionRecords<'a>(&'a [u8]);

impl Records for SubscriptionRecords<'_> {
    fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError> {
        subscriptions(self.0).try_for_each(|(topic, qos)| f(&[qos.as_u8()], topic.as_bytes()))
    }
}

impl<'b, E, const SUBS: usize> Robust<'b, E, SUBS> {
    const fn new() -> Self {
        Self {
            log: None,
            max_attempts: None,
            subscriptions: Vec::new(),
            subscription_store: None,
        }
    }

    /// Restores the subscriptions from `store` and keeps them there from now on.
    fn set_subscription_store(&mut self, store: &'b mut dyn SessionStore) -> Result<(), ClientError<E>> {
        let mut restored = Ok(());
        store.replay(&mut |record| {
            let (&qos, topic) = record.split_first().ok_or(StoreError::Corrupt)?;
            let qos = QoS::from_u8(qos).ok_or(StoreError::Corrupt)?;
            let topic = core::str::from_utf8(topic).map_err(|_| StoreError::Corrupt)?;
            if restored.is_ok() {
                restored = self.remember(topic, qos);
            }
            Ok(())
        })?;
        restored?;
        self.subscription_store = Some(store);
        Ok(())
    }

    /// Writes the remembered subscriptions to their store, if there is one.
    fn save_subscriptions(&mut self) -> Result<(), ClientError<E>> {
        match self.subscription_store.as_mut() {
            Some(store) => Ok(store.replace(&SubscriptionRecords(&self.subscriptions))?),
            None => Ok(()),
        }
    }

    fn log(&mut self, e: &ClientError<E>) {
        if let Some(log) = self.log.as_mut() {
            log(e);
        }
    }

    async fn connect<T, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
    ) -> Result<bool, ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
    {
        let session_present = d.open_session(false).await?;
        if !session_present {
            // Subscribed again before the queued messages go out, so a message to one of
            // our own topics is not routed while the server has no subscription for it.
            self.resubscribe(d).await?;
        }
        d.resend().await?;
        Ok(session_present)
    }

    async fn reconnect<T, C, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
        connector: &mut C,
    ) -> Result<bool, ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let result = match connector.open(attempt).await {
                Ok(transport) => {
                    drop(d.replace_transport(transport));
                    self.connect(d).await
                }
                Err(e) => Err(ClientError::Io(e)),
            };
            match result {
                Ok(sp) => return Ok(sp),
                Err(e) if is_connection_failure(&e) => {
                    self.log(&e);
                    if self.max_attempts.is_some_and(|max| attempt >= max) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `op`, reconnecting and retrying while it fails with a connection failure.
    async fn retry<'d, T, C, R, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'d, T, N, S>,
        connector: &mut C,
        mut op: impl AsyncFnMut(&mut Driver<'d, T, N, S>) -> Result<R, ClientError<E>>,
    ) -> Result<R, ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        loop {
            match op(d).await {
                Err(e) if is_connection_failure(&e) => {
                    self.log(&e);
                    self.reconnect(d, connector).await?;
                }
                r => return r,
            }
        }
    }

    async fn publish<T, C, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
        connector: &mut C,
        (topic, msg, retain, qos): (&str, &[u8], bool, QoS),
    ) -> Result<(), ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        if qos == QoS::AtMostOnce {
            return self
                .retry(d, connector, async |d| d.publish(topic, msg, retain, qos).await)
                .await;
        }
        // Queued first: from here on the message survives any failure. It is sent now if
        // connected; after a failure the reconnection re-sends it with the rest of the
        // session, so only the first attempt sends it by hand.
        let id = d.queue(topic, msg, retain, qos).await?;
        let mut first = true;
        self.retry(d, connector, async |d| {
            if core::mem::take(&mut first) {
                d.send_queued(id).await?;
            }
            d.until_published(id).await
        })
        .await
    }

    async fn subscribe<T, C, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
        connector: &mut C,
        topic: &str,
        qos: QoS,
    ) -> Result<QoS, ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        let granted = self
            .retry(d, connector, async |d| d.subscribe(topic, qos).await)
            .await?;
        let known = subscriptions(&self.subscriptions).any(|(t, q)| t == topic && q == qos);
        if !known {
            self.remember(topic, qos)?;
            self.save_subscriptions()?;
        }
        Ok(granted)
    }

    async fn unsubscribe<T, C, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
        connector: &mut C,
        topic: &str,
    ) -> Result<(), ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        self.retry(d, connector, async |d| d.unsubscribe(topic).await)
            .await?;
        if self.forget(topic) {
            // Rewritten only when it changed: on flash, a rewrite can cost an erase.
            self.save_subscriptions()?;
        }
        Ok(())
    }

    /// `wait_msg` (`block`) and `check_msg` across reconnects; returns whether a message
    /// was handed out (read it with `Core::handed`).
    async fn next_message<T, C, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
        connector: &mut C,
        block: bool,
    ) -> Result<bool, ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
        C: AsyncConnector<T>,
    {
        let got = self
            .retry(d, connector, async |d| {
                d.next_message(block).await.map(|m| m.is_some())
            })
            .await?;
        // An incoming QoS 2 message was left unacknowledged for lack of room and the room
        // is free again: reconnect so the server sends it again. DISCONNECT first, so the
        // broker does not publish the will.
        let session = &d.core.session;
        if !got && session.qos2_deferred() && session.incoming_qos2() == 0 {
            let _ = d.disconnect().await;
            self.reconnect(d, connector).await?;
        }
        Ok(got)
    }

    fn remember(&mut self, topic: &str, qos: QoS) -> Result<(), ClientError<E>> {
        self.forget(topic);
        let needed = 3 + topic.len();
        let len = u16::try_from(topic.len()).map_err(|_| crate::EncodeError::FieldTooLong)?;
        if SUBS - self.subscriptions.len() < needed {
            return Err(ProtocolError::StoreFull { needed }.into());
        }
        let [hi, lo] = len.to_be_bytes();
        // Cannot fail: the capacity was checked above.
        let _ = self.subscriptions.extend_from_slice(&[qos.as_u8(), hi, lo]);
        let _ = self.subscriptions.extend_from_slice(topic.as_bytes());
        Ok(())
    }

    /// Drops `topic` from the remembered subscriptions; returns whether it was there.
    fn forget(&mut self, topic: &str) -> bool {
        let mut at = 0;
        let mut found = None;
        for (t, _) in subscriptions(&self.subscriptions) {
            if t == topic {
                found = Some((at, 3 + t.len()));
                break;
            }
            at += 3 + t.len();
        }
        if let Some((at, len)) = found {
            let total = self.subscriptions.len();
            crate::wire::shift_down(&mut self.subscriptions, at + len, at);
            self.subscriptions.truncate(total - len);
        }
        found.is_some()
    }

    /// Renews every remembered subscription (the broker reported no stored session).
    async fn resubscribe<T, const N: usize, const S: usize>(
        &mut self,
        d: &mut Driver<'_, T, N, S>,
    ) -> Result<(), ClientError<E>>
    where
        T: AsyncTransport<Error = E>,
    {
        for (topic, qos) in subscriptions(&self.subscriptions) {
            d.subscribe(topic, qos).await?;
        }
        Ok(())
    }
}

/// Parses the subscription store: entries of `[qos, len_hi, len_lo, topic...]`.
fn subscriptions(mut rest: &[u8]) -> impl Iterator<Item = (&str, QoS)> {
    core::iter::from_fn(move || {
        let (&[qos, hi, lo], tail) = rest.split_first_chunk::<3>()?;
        let (topic, tail) = tail.split_at_checked(usize::from(u16::from_be_bytes([hi, lo])))?;
        rest = tail;
        Some((core::str::from_utf8(topic).ok()?, QoS::from_u8(qos)?))
    })
}

/// The blocking connector: the caller's closure, after the back-off hook.
struct Opener<'a, C> {
    open: &'a mut C,
    delay: Option<&'a mut dyn FnMut(u32)>,
}

impl<T: Transport, C: FnMut() -> Result<T, T::Error>> AsyncConnector<Blocking<T>> for Opener<'_, C> {
    async fn open(&mut self, attempt: u32) -> Result<Blocking<T>, T::Error> {
        if let Some(delay) = self.delay.as_mut() {
            delay(attempt);
        }
        (self.open)().map(Blocking)
    }
}

/// A reconnecting blocking MQTT client. `C` opens a fresh transport; `SUBS` is the number of
/// bytes kept to remember subscriptions (each takes its topic length plus 3).
pub struct RobustClient<'b, T, C, const N: usize = 8, const S: usize = 1024, const SUBS: usize = 256>
where
    T: ErrorType,
{
    client: MqttClient<'b, T, N, S>,
    connector: C,
    delay: Option<&'b mut dyn FnMut(u32)>,
    state: Robust<'b, T::Error, SUBS>,
}

impl<'b, T, C, const N: usize, const S: usize, const SUBS: usize> RobustClient<'b, T, C, N, S, SUBS>
where
    T: Transport,
    C: FnMut() -> Result<T, T::Error>,
{
    /// Wraps `client`; `connector` is called to open a new transport after a failure.
    pub fn new(client: MqttClient<'b, T, N, S>, connector: C) -> Self {
        Self {
            client,
            connector,
            delay: None,
            state: Robust::new(),
        }
    }

    /// Sets the back-off hook, called with the attempt number (1, 2, ...) before each
    /// reconnection attempt; umqtt.robust's `delay(i)`. Without one, attempts follow each
    /// other immediately.
    pub fn set_delay(&mut self, delay: &'b mut dyn FnMut(u32)) {
        self.delay = Some(delay);
    }

    /// Sets the log hook, called with every error that triggers a reconnection or a failed
    /// attempt; umqtt.robust's `log()`.
    pub fn set_log(&mut self, log: LogHook<'b, T::Error>) {
        self.state.log = Some(log);
    }

    /// Gives up after `attempts` failed reconnection attempts in a row (default: never).
    pub fn set_max_attempts(&mut self, attempts: Option<u32>) {
        self.state.max_attempts = attempts;
    }

    /// Keeps the remembered subscriptions in `store` (a store of their own, not the
    /// session's: see [`MqttClient::set_store`]), first restoring what it holds, so that
    /// after a reset they are renewed if the broker lost the session. The store is
    /// rewritten only when a subscription changes.
    ///
    /// # Errors
    /// [`ClientError::Store`] when the store cannot be read or holds a record that is not a
    /// subscription; [`ClientError::Protocol`] with `StoreFull` when `SUBS` bytes cannot
    /// hold them.
    pub fn set_subscription_store(
        &mut self,
        store: &'b mut dyn SessionStore,
    ) -> Result<(), ClientError<T::Error>> {
        self.state.set_subscription_store(store)
    }

    /// The remembered subscriptions, as `(topic filter, QoS)`.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&str, QoS)> + '_ {
        subscriptions(&self.state.subscriptions)
    }

    /// The wrapped client.
    pub fn client(&self) -> &MqttClient<'b, T, N, S> {
        &self.client
    }

    /// The wrapped client, for calls the wrapper does not retry.
    pub fn client_mut(&mut self) -> &mut MqttClient<'b, T, N, S> {
        &mut self.client
    }

    /// Splits `self` into the driver and a connector for one call.
    fn parts(
        &mut self,
    ) -> (
        &mut Robust<'b, T::Error, SUBS>,
        &mut Driver<'b, Blocking<T>, N, S>,
        Opener<'_, C>,
    ) {
        let opener = Opener {
            open: &mut self.connector,
            delay: match &mut self.delay {
                Some(d) => Some(&mut **d),
                None => None,
            },
        };
        (&mut self.state, &mut self.client.0, opener)
    }

    /// Connects for the first time over the transport the client was built with, with
    /// `clean_session = false` so that the session survives reconnects. Returns Session
    /// Present.
    ///
    /// # Errors
    /// The error of the first attempt; use [`reconnect`](Self::reconnect) to retry.
    pub fn connect(&mut self) -> Result<bool, ClientError<T::Error>> {
        let (state, d, _) = self.parts();
        block_on(state.connect(d))
    }

    /// Opens a new transport and resumes the session, retrying with the back-off hook until
    /// it succeeds (or `max_attempts` is reached). Re-subscribes when the broker kept no
    /// session; unacknowledged QoS 1/2 messages are re-sent by the client's `connect`.
    ///
    /// # Errors
    /// [`ClientError::ConnectionRefused`] at once (retrying cannot fix credentials), or the
    /// last error once `max_attempts` attempts have failed.
    pub fn reconnect(&mut self) -> Result<bool, ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.reconnect(d, &mut opener))
    }

    /// Publishes like [`MqttClient::publish`], across reconnects.
    ///
    /// A QoS 1/2 message is first queued in the session (so it survives any failure from
    /// then on), then sent if connected, and the call returns once it is acknowledged,
    /// reconnecting as often as needed. It is never published twice as a new message: after
    /// a reconnect the session re-sends it with its original packet identifier (DUP set if an
    /// earlier copy may have arrived). If this returns an error after queuing (reconnecting
    /// gave up), the message is still queued and goes out on the next successful
    /// [`reconnect`](Self::reconnect): do not publish it again. QoS 0 messages are retried
    /// like umqtt.robust does, and may be lost.
    ///
    /// # Errors
    /// Errors that reconnecting cannot fix (invalid topic, store full, refused connection),
    /// or the last error once `max_attempts` reconnection attempts have failed.
    pub fn publish(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<(), ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.publish(d, &mut opener, (topic, msg, retain, qos)))
    }

    /// Subscribes like [`MqttClient::subscribe`], across reconnects, and remembers the
    /// subscription so it can be renewed if the broker loses the session.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] with `StoreFull` when `SUBS` bytes cannot hold the topic,
    /// and the errors of [`MqttClient::subscribe`] that reconnecting cannot fix.
    pub fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.subscribe(d, &mut opener, topic, qos))
    }

    /// Unsubscribes like [`MqttClient::unsubscribe`], across reconnects, and forgets the
    /// subscription.
    ///
    /// # Errors
    /// The errors of [`MqttClient::unsubscribe`] that reconnecting cannot fix.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.unsubscribe(d, &mut opener, topic))
    }

    /// Waits for one packet like [`MqttClient::wait_msg`], reconnecting on failure.
    ///
    /// # Errors
    /// Errors that reconnecting cannot fix.
    pub fn wait_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.next_message(d, &mut opener, true))?;
        Ok(self.client.0.core.handed())
    }

    /// Processes a packet if one has arrived, like [`MqttClient::check_msg`], reconnecting
    /// on failure.
    ///
    /// # Errors
    /// Errors that reconnecting cannot fix.
    pub fn check_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        let (state, d, mut opener) = self.parts();
        block_on(state.next_message(d, &mut opener, false))?;
        Ok(self.client.0.core.handed())
    }

    /// Sends DISCONNECT (not retried: a dead connection is as good as disconnected).
    ///
    /// # Errors
    /// The error of [`MqttClient::disconnect`].
    pub fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        self.client.disconnect()
    }
}

/// The async twin of [`RobustClient`]: `C` opens a fresh transport (and does the back-off).
pub struct AsyncRobustClient<'b, T, C, const N: usize = 8, const S: usize = 1024, const SUBS: usize = 256>
where
    T: ErrorType,
{
    client: AsyncMqttClient<'b, T, N, S>,
    connector: C,
    state: Robust<'b, T::Error, SUBS>,
}

impl<'b, T, C, const N: usize, const S: usize, const SUBS: usize> AsyncRobustClient<'b, T, C, N, S, SUBS>
where
    T: AsyncTransport,
    C: AsyncConnector<T>,
{
    /// Wraps `client`; `connector` opens a new transport after a failure.
    pub fn new(client: AsyncMqttClient<'b, T, N, S>, connector: C) -> Self {
        Self {
            client,
            connector,
            state: Robust::new(),
        }
    }

    /// As [`RobustClient::set_log`].
    pub fn set_log(&mut self, log: LogHook<'b, T::Error>) {
        self.state.log = Some(log);
    }

    /// As [`RobustClient::set_max_attempts`].
    pub fn set_max_attempts(&mut self, attempts: Option<u32>) {
        self.state.max_attempts = attempts;
    }

    /// As [`RobustClient::set_subscription_store`].
    ///
    /// # Errors
    /// As [`RobustClient::set_subscription_store`].
    pub fn set_subscription_store(
        &mut self,
        store: &'b mut dyn SessionStore,
    ) -> Result<(), ClientError<T::Error>> {
        self.state.set_subscription_store(store)
    }

    /// As [`RobustClient::subscriptions`].
    pub fn subscriptions(&self) -> impl Iterator<Item = (&str, QoS)> + '_ {
        subscriptions(&self.state.subscriptions)
    }

    /// The wrapped client.
    pub fn client(&self) -> &AsyncMqttClient<'b, T, N, S> {
        &self.client
    }

    /// The wrapped client, for calls the wrapper does not retry.
    pub fn client_mut(&mut self) -> &mut AsyncMqttClient<'b, T, N, S> {
        &mut self.client
    }

    /// As [`RobustClient::connect`].
    ///
    /// # Errors
    /// As [`RobustClient::connect`].
    pub async fn connect(&mut self) -> Result<bool, ClientError<T::Error>> {
        self.state.connect(&mut self.client.0).await
    }

    /// As [`RobustClient::reconnect`].
    ///
    /// # Errors
    /// As [`RobustClient::reconnect`].
    pub async fn reconnect(&mut self) -> Result<bool, ClientError<T::Error>> {
        self.state
            .reconnect(&mut self.client.0, &mut self.connector)
            .await
    }

    /// As [`RobustClient::publish`].
    ///
    /// # Errors
    /// As [`RobustClient::publish`].
    pub async fn publish(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<(), ClientError<T::Error>> {
        let args = (topic, msg, retain, qos);
        self.state
            .publish(&mut self.client.0, &mut self.connector, args)
            .await
    }

    /// As [`RobustClient::subscribe`].
    ///
    /// # Errors
    /// As [`RobustClient::subscribe`].
    pub async fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        self.state
            .subscribe(&mut self.client.0, &mut self.connector, topic, qos)
            .await
    }

    /// As [`RobustClient::unsubscribe`].
    ///
    /// # Errors
    /// As [`RobustClient::unsubscribe`].
    pub async fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        self.state
            .unsubscribe(&mut self.client.0, &mut self.connector, topic)
            .await
    }

    /// As [`RobustClient::wait_msg`].
    ///
    /// # Errors
    /// As [`RobustClient::wait_msg`].
    pub async fn wait_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        self.state
            .next_message(&mut self.client.0, &mut self.connector, true)
            .await?;
        Ok(self.client.0.core.handed())
    }

    /// As [`RobustClient::check_msg`].
    ///
    /// # Errors
    /// As [`RobustClient::check_msg`].
    pub async fn check_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        self.state
            .next_message(&mut self.client.0, &mut self.connector, false)
            .await?;
        Ok(self.client.0.core.handed())
    }

    /// As [`RobustClient::disconnect`].
    ///
    /// # Errors
    /// As [`RobustClient::disconnect`].
    pub async fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        self.client.disconnect().await
    }
}
