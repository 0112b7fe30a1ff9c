//! [`RobustClient`]: a reconnecting wrapper around [`MqttClient`], in the spirit of
//! MicroPython's `umqtt.robust`.
//!
//! When the connection fails, the wrapper opens a new transport with the caller's connector,
//! reconnects with `clean_session = false` so the broker resumes the session, re-subscribes
//! if the broker reports that it kept no session, and lets the session re-send every QoS 1/2
//! message that was not acknowledged (with DUP set, in order). `publish`, `subscribe`,
//! `wait_msg` and `check_msg` retry across reconnects, so a QoS 1/2 message handed to
//! `publish` is either acknowledged or still queued for re-sending: it is never dropped.

use embedded_io::{ErrorType, Read, ReadReady, Write};
use heapless::Vec;

use super::{ClientError, MqttClient};
use crate::session::{Phase, ProtocolError};
use crate::topic::TopicName;
use crate::types::{PacketType, QoS};

/// The log hook: sees every error that leads to a reconnection attempt.
pub type LogHook<'b, E> = &'b mut dyn FnMut(&ClientError<E>);

/// What the wrapper does with an error: retry after reconnecting, or hand it to the caller.
fn is_connection_failure<E>(e: &ClientError<E>) -> bool {
    match e {
        ClientError::Io(_) | ClientError::ConnectionClosed | ClientError::Malformed(_) => true,
        ClientError::Protocol(p) => !matches!(
            p,
            ProtocolError::InflightFull | ProtocolError::StoreFull { .. } | ProtocolError::Encode(_)
        ),
        _ => false,
    }
}

/// A reconnecting MQTT client. `C` opens a fresh transport; `SUBS` is the number of bytes
/// kept to remember subscriptions (each takes its topic length plus 3).
pub struct RobustClient<'b, T, C, const N: usize = 8, const S: usize = 1024, const SUBS: usize = 256>
where
    T: ErrorType,
{
    client: MqttClient<'b, T, N, S>,
    connector: C,
    delay: Option<&'b mut dyn FnMut(u32)>,
    log: Option<LogHook<'b, T::Error>>,
    max_attempts: Option<u32>,
    subscriptions: Vec<u8, SUBS>,
}

impl<'b, T, C, const N: usize, const S: usize, const SUBS: usize> RobustClient<'b, T, C, N, S, SUBS>
where
    T: Read + Write,
    C: FnMut() -> Result<T, T::Error>,
{
    /// Wraps `client`; `connector` is called to open a new transport after a failure.
    pub fn new(client: MqttClient<'b, T, N, S>, connector: C) -> Self {
        Self {
            client,
            connector,
            delay: None,
            log: None,
            max_attempts: None,
            subscriptions: Vec::new(),
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
    pub fn set_log(&mut self, log: &'b mut dyn FnMut(&ClientError<T::Error>)) {
        self.log = Some(log);
    }

    /// Gives up after `attempts` failed reconnection attempts in a row (default: never).
    pub fn set_max_attempts(&mut self, attempts: Option<u32>) {
        self.max_attempts = attempts;
    }

    /// The wrapped client.
    pub fn client(&self) -> &MqttClient<'b, T, N, S> {
        &self.client
    }

    /// The wrapped client, for calls the wrapper does not retry.
    pub fn client_mut(&mut self) -> &mut MqttClient<'b, T, N, S> {
        &mut self.client
    }

    fn log(&mut self, e: &ClientError<T::Error>) {
        if let Some(log) = self.log.as_mut() {
            log(e);
        }
    }

    /// Connects for the first time over the transport the client was built with, with
    /// `clean_session = false` so that the session survives reconnects. Returns Session
    /// Present.
    ///
    /// # Errors
    /// The error of the first attempt; use [`reconnect`](Self::reconnect) to retry.
    pub fn connect(&mut self) -> Result<bool, ClientError<T::Error>> {
        let session_present = self.client.connect(false)?;
        if !session_present {
            self.resubscribe()?;
        }
        Ok(session_present)
    }

    /// Opens a new transport and resumes the session, retrying with the back-off hook until
    /// it succeeds (or `max_attempts` is reached). Re-subscribes when the broker kept no
    /// session; unacknowledged QoS 1/2 messages are re-sent by the client's `connect`.
    ///
    /// # Errors
    /// [`ClientError::ConnectionRefused`] at once (retrying cannot fix credentials), or the
    /// last error once `max_attempts` attempts have failed.
    pub fn reconnect(&mut self) -> Result<bool, ClientError<T::Error>> {
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            if let Some(delay) = self.delay.as_mut() {
                delay(attempt);
            }
            let result = match (self.connector)() {
                Ok(transport) => {
                    drop(self.client.replace_transport(transport));
                    self.connect()
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
    fn retry<R>(
        &mut self,
        mut op: impl FnMut(&mut MqttClient<'b, T, N, S>) -> Result<R, ClientError<T::Error>>,
    ) -> Result<R, ClientError<T::Error>> {
        loop {
            match op(&mut self.client) {
                Err(e) if is_connection_failure(&e) => {
                    self.log(&e);
                    self.reconnect()?;
                }
                r => return r,
            }
        }
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
        if qos == QoS::AtMostOnce {
            return self.retry(|c| c.publish(topic, msg, retain, qos));
        }
        let name = TopicName::new(topic)?;
        self.client.check_publish_fits(name, msg, qos, retain)?;
        let id = self.client.session.queue_publish(name, msg, qos, retain)?;
        // From here on the message is queued: sent now if connected, else by the reconnect.
        let sent = if self.client.session.phase() == Phase::Connected {
            self.client.send_queued(id)
        } else {
            Err(ProtocolError::NotConnected.into())
        };
        if let Err(e) = sent {
            if !is_connection_failure(&e) {
                return Err(e);
            }
            self.log(&e);
            self.reconnect()?;
        }
        self.retry(|c| c.wait_published(id))
    }

    /// Subscribes like [`MqttClient::subscribe`], across reconnects, and remembers the
    /// subscription so it can be renewed if the broker loses the session.
    ///
    /// # Errors
    /// [`ClientError::Protocol`] with `StoreFull` when `SUBS` bytes cannot hold the topic,
    /// and the errors of [`MqttClient::subscribe`] that reconnecting cannot fix.
    pub fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        let granted = self.retry(|c| c.subscribe(topic, qos))?;
        self.remember(topic, qos)?;
        Ok(granted)
    }

    /// Unsubscribes like [`MqttClient::unsubscribe`], across reconnects, and forgets the
    /// subscription.
    ///
    /// # Errors
    /// The errors of [`MqttClient::unsubscribe`] that reconnecting cannot fix.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        self.retry(|c| c.unsubscribe(topic))?;
        self.forget(topic);
        Ok(())
    }

    /// Waits for one packet like [`MqttClient::wait_msg`], reconnecting on failure.
    ///
    /// # Errors
    /// Errors that reconnecting cannot fix.
    pub fn wait_msg(&mut self) -> Result<PacketType, ClientError<T::Error>> {
        let t = self.retry(|c| c.wait_msg())?;
        self.resync_deferred()?;
        Ok(t)
    }

    /// An incoming QoS 2 message was left unacknowledged for lack of room and the room is
    /// free again: reconnect so the server sends it again. DISCONNECT first, so the broker
    /// does not publish the will.
    fn resync_deferred(&mut self) -> Result<(), ClientError<T::Error>> {
        let session = &self.client.session;
        if session.qos2_deferred() && session.incoming_qos2() == 0 {
            let _ = self.client.disconnect();
            self.reconnect()?;
        }
        Ok(())
    }

    /// Sends DISCONNECT (not retried: a dead connection is as good as disconnected).
    ///
    /// # Errors
    /// The error of [`MqttClient::disconnect`].
    pub fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        self.client.disconnect()
    }

    fn remember(&mut self, topic: &str, qos: QoS) -> Result<(), ClientError<T::Error>> {
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

    fn forget(&mut self, topic: &str) {
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
            self.subscriptions.copy_within(at + len..total, at);
            self.subscriptions.truncate(total - len);
        }
    }

    /// Renews every remembered subscription (the broker reported no stored session).
    fn resubscribe(&mut self) -> Result<(), ClientError<T::Error>> {
        // Moved out while the client is borrowed mutably, and put back whatever happens.
        let subs = core::mem::take(&mut self.subscriptions);
        let result =
            subscriptions(&subs).try_for_each(|(topic, qos)| self.client.subscribe(topic, qos).map(drop));
        self.subscriptions = subs;
        result
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

impl<'b, T, C, const N: usize, const S: usize, const SUBS: usize> RobustClient<'b, T, C, N, S, SUBS>
where
    T: Read + Write + ReadReady,
    C: FnMut() -> Result<T, T::Error>,
{
    /// Processes a packet if one has arrived, like [`MqttClient::check_msg`], reconnecting
    /// on failure.
    ///
    /// # Errors
    /// Errors that reconnecting cannot fix.
    pub fn check_msg(&mut self) -> Result<Option<PacketType>, ClientError<T::Error>> {
        let t = self.retry(|c| c.check_msg())?;
        self.resync_deferred()?;
        Ok(t)
    }
}
