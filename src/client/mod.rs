//! The MQTT client: [`MqttClient`] (blocking, over `embedded-io`) and [`AsyncMqttClient`]
//! (over `embedded-io-async`, no executor dependency: embassy, tokio or a hand-rolled
//! `block_on`), both with the method names of MicroPython's `umqtt.simple`, and
//! [`RobustClient`]/[`AsyncRobustClient`], which reconnect like `umqtt.robust`. With
//! feature `shared`, `shared` lets many async tasks use one connection through handles.
//!
//! Layers, from the bytes up: the [`Session`] state machine (pure,
//! no I/O); `core.rs`, the sans-IO part of the client (framing into the receive buffer,
//! held messages, deadlines, encoding every outgoing packet with the codec); `driver.rs`, the
//! one implementation of every call as `async fn`s that move bytes between the core and
//! the transport. The blocking client runs that same code over an adapter whose futures are
//! ready at once, so the two clients cannot drift apart. The client allocates nothing; the
//! caller lends a receive and a transmit buffer.
//!
//! # For firmware authors porting from umqtt.simple
//!
//! | MicroPython (`umqtt.simple`)               | Rust (`umqtt::client`)                                   |
//! |--------------------------------------------|----------------------------------------------------------|
//! | `c = MQTTClient(id, server, port, user, password, keepalive)` | `MqttClient::new(TcpTransport::connect_to(server, port)?, id, &mut rx, &mut tx).with_options(ClientOptions { user, password, keep_alive, ..Default::default() })` |
//! | `c.set_callback(sub_cb)`                   | `c.set_callback(&mut sub_cb)` with `sub_cb: FnMut(&str, &[u8])`, or no callback: `wait_msg` returns the message |
//! | `c.set_last_will(topic, msg, retain, qos)` | `c.set_last_will(topic, msg, retain, qos)?`                |
//! | `c.connect(clean_session=True)`            | `c.connect(true)?` (returns `session_present`); again after an error or `disconnect` to reconnect |
//! | `c.publish(topic, msg, retain, qos)`       | `c.publish(topic, msg, retain, qos)?` (QoS 2 works too), or `c.publish_str(topic, msg)?` |
//! | `c.subscribe(topic, qos)`                  | `c.subscribe(topic, qos)?` (returns the granted QoS)      |
//! | `c.wait_msg()`                             | `c.wait_msg()?` (returns `Some(message)` for a PUBLISH)    |
//! | `c.check_msg()`                            | `c.check_msg()?`                                         |
//! | `c.ping()`                                 | `c.ping()?` (rarely needed: keep-alive runs by itself)    |
//! | `c.disconnect()`                           | `c.disconnect()?`                                        |
//!
//! # Timers
//!
//! Every call that waits (`connect`, `publish` at QoS 1/2, `subscribe`, `unsubscribe`,
//! `wait_msg`, `check_msg`, `wait_acked`) runs the timers while it waits, with no polling by
//! the caller: it sends PINGREQ when nothing was sent for the keep-alive interval and fails
//! with [`ClientError::Timeout`] when
//! * no CONNACK arrives within [`ClientOptions::connect_timeout_ms`],
//! * no PINGRESP, PUBACK, PUBREC, PUBCOMP, SUBACK or UNSUBACK arrives within
//!   [`ClientOptions::response_timeout_ms`] (the connection is then closed: a QoS 1/2
//!   message stays queued and is re-sent on the next `connect(false)`),
//! * a packet that has started to arrive is not complete within
//!   [`ClientOptions::packet_timeout_ms`].
//!
//! `wait_msg` blocks until one packet has been processed (as umqtt.simple's does), sending
//! pings meanwhile; `check_msg` returns at once when nothing has arrived. Time comes from
//! the transport ([`Transport::now_ms`]) unless [`MqttClient::set_clock`] gives another clock.
//!
//! # Messages
//!
//! `wait_msg` and `check_msg` return the message (topic, payload, QoS, retain, DUP)
//! borrowed from the receive buffer; the callback, if one is set, sees it first. A message
//! that arrives while another call waits for its acknowledgement goes to the callback, or,
//! without one, is held in the receive buffer and returned by the next `wait_msg` or
//! `check_msg`. A packet that does not fit is skipped, unacknowledged, and counted
//! ([`MqttClient::skipped_packets`]); it never fails a call that is waiting for something
//! else, and `wait_msg` reports its own as [`ClientError::PacketTooLarge`].
//!
//! A QoS 1/2 message is acknowledged once the application has finished with it: right
//! after the callback returns, or, without a callback, at the application's next call to
//! the client (any call; `disconnect` too). A reset while the application handles a
//! message therefore brings it again instead of losing it.
//!
//! # Surviving a reset
//!
//! [`set_store`](MqttClient::set_store) gives the client a [`store::SessionStore`]: every
//! change of the session that a reset must not lose is written there before the packet
//! that depends on it is sent, and a new client restores it before its first
//! `connect(false)`. See [`store`] for what is written when.
//!
//! # Buffers
//!
//! * `rx` bounds the largest incoming packet (at least [`MIN_RX_BUFFER`] bytes); held
//!   messages share it.
//! * `tx` must hold every outgoing packet but a PUBLISH payload at QoS 0 (written after
//!   its head): the CONNECT with client id, will and credentials, a SUBSCRIBE with its filter.
//! * `S` (the session's re-send store) must hold the whole encoded PUBLISH of any QoS 1/2
//!   message; a larger one is refused before anything is sent, with the size it needs.
//!
//! # For transport implementors
//!
//! The transport is a [`Transport`] (blocking) or an [`AsyncTransport`]: an `embedded-io`
//! byte stream that can also wait for data with a time limit and tell the time. `write` may
//! write partially (the client uses `write_all`); the client calls `flush` after every
//! packet. [`Polled`] builds a `Transport` from any `ReadReady` stream and a clock. Pass the
//! transport by value (or `&mut T`); get it back with [`into_inner`](MqttClient::into_inner).

mod core;
mod driver;
mod error;
#[cfg(feature = "std")]
pub mod file_store;
#[cfg(feature = "nor-flash")]
pub mod nor_store;
mod robust;
#[cfg(feature = "shared")]
pub mod shared;
#[cfg(feature = "std")]
pub mod std_net;
pub mod store;
pub mod transport;

pub use driver::MIN_RX_BUFFER;
pub use error::{Awaited, ClientError};
pub use robust::{AsyncConnector, AsyncRobustClient, LogHook, RobustClient};
pub use transport::{AsyncTransport, Polled, Transport};

use self::driver::{Blocking, Driver, block_on};
use crate::packet::{LastWill, Publish};
use crate::session::{DEFAULT_RESPONSE_TIMEOUT_MS, Session};
use crate::topic::TopicName;
use crate::types::{PacketId, QoS};

/// Default keep-alive interval in seconds (mosquitto 2.0.12 and later refuse 0 by default).
pub const DEFAULT_KEEP_ALIVE: u16 = 60;

/// Connection options: the `user`, `password` and `keepalive` arguments of umqtt's
/// `MQTTClient(...)` constructor, and the client's deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientOptions<'b> {
    /// User name, if the broker wants one.
    pub user: Option<&'b str>,
    /// Password (needs `user`).
    pub password: Option<&'b [u8]>,
    /// Keep-alive interval in seconds; 0 disables keep-alive.
    pub keep_alive: u16,
    /// How long `connect` waits for CONNACK, in milliseconds (default 30 s).
    pub connect_timeout_ms: u64,
    /// How long the server may take to answer a PINGREQ, PUBLISH, SUBSCRIBE or
    /// UNSUBSCRIBE, in milliseconds (default 30 s).
    pub response_timeout_ms: u64,
    /// How long a packet may take to arrive once its first byte has, in milliseconds
    /// (default 30 s).
    pub packet_timeout_ms: u64,
}

impl Default for ClientOptions<'_> {
    fn default() -> Self {
        Self {
            user: None,
            password: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
            connect_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            response_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
            packet_timeout_ms: DEFAULT_RESPONSE_TIMEOUT_MS,
        }
    }
}

/// The message callback: umqtt's two-argument form, or one that sees the whole PUBLISH
/// (QoS, retain, DUP).
enum Callback<'b> {
    Simple(&'b mut dyn FnMut(&str, &[u8])),
    Full(&'b mut dyn FnMut(&Publish<'_>)),
}

/// A blocking MQTT client shaped like MicroPython's `umqtt.simple.MQTTClient`.
///
/// `N` and `S` size the [`Session`]: how many packets may await acknowledgement, and how
/// many bytes of unacknowledged QoS 1/2 messages are kept for re-sending. See the
/// [module docs](self) for timers, messages and buffer sizes.
///
/// ```no_run
/// # #[cfg(feature = "std")] {
/// use umqtt::client::{MqttClient, std_net::TcpTransport};
/// use umqtt::QoS;
///
/// let tcp = TcpTransport::connect_to("127.0.0.1", 1883)?;
/// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
/// let mut client = MqttClient::new(tcp, "esp32-livingroom", &mut rx, &mut tx);
/// client.connect(true)?;
/// client.subscribe("home/living_room/light", QoS::AtLeastOnce)?;
/// client.publish("home/living_room/status", b"on", false, QoS::AtLeastOnce)?;
/// loop {
///     if let Some(msg) = client.wait_msg()? {
///         println!("{}: {:?}", msg.topic, msg.payload);
///         break;
///     }
/// }
/// client.disconnect()?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "MQTTClient")]
pub struct MqttClient<'b, T, const N: usize = 8, const S: usize = 1024>(Driver<'b, Blocking<T>, N, S>);

/// The umqtt spelling, for line-by-line ports.
pub type MQTTClient<'b, T, const N: usize = 8, const S: usize = 1024> = MqttClient<'b, T, N, S>;

/// The async twin of [`MqttClient`] over an [`AsyncTransport`]: the same methods as
/// `async fn`s, the same code underneath.
pub struct AsyncMqttClient<'b, T, const N: usize = 8, const S: usize = 1024>(Driver<'b, T, N, S>);

impl<'b, T: Transport> MqttClient<'b, T> {
    /// A client for `client_id` over an open `transport`, using `rx` for incoming packets
    /// and `tx` for outgoing ones (see the [module docs](self) for their sizes), with the
    /// default session sizes (8 packets in flight, a 1 KiB re-send store).
    pub fn new(transport: T, client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self::new_sized(transport, client_id, rx, tx)
    }
}

impl<'b, T: AsyncTransport> AsyncMqttClient<'b, T> {
    /// As [`MqttClient::new`].
    pub fn new(transport: T, client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
        Self::new_sized(transport, client_id, rx, tx)
    }
}

/// The methods that do no I/O, the same for both clients.
macro_rules! settings {
    ($Client:ident, $Bound:path, $wrap:expr, $as_mut:expr, $into:expr) => {
        impl<'b, T: $Bound, const N: usize, const S: usize> $Client<'b, T, N, S> {
            /// [`new`](Self::new) with the session sizes `N` and `S` of the type, for
            /// example `MqttClient::<_, 4, 4096>::new_sized(..)`.
            pub fn new_sized(transport: T, client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
                Self(Driver::new($wrap(transport), client_id, rx, tx))
            }

            /// Sets user name, password, keep-alive and the timeouts.
            #[must_use]
            pub fn with_options(mut self, options: ClientOptions<'b>) -> Self {
                self.0.core.options = options;
                self
            }

            /// The options in force.
            pub fn options(&self) -> &ClientOptions<'b> {
                &self.0.core.options
            }

            /// Replaces the transport's clock with `clock` (monotonic milliseconds).
            pub fn set_clock(&mut self, clock: fn() -> u64) {
                self.0.clock = Some(clock);
            }

            /// Sets the callback that receives every incoming message as `(topic, payload)`.
            pub fn set_callback(&mut self, callback: &'b mut dyn FnMut(&str, &[u8])) {
                self.0.core.callback = Some(Callback::Simple(callback));
            }

            /// Sets a callback that receives the whole PUBLISH (topic, payload, QoS,
            /// retain, DUP).
            pub fn set_message_callback(&mut self, callback: &'b mut dyn FnMut(&Publish<'_>)) {
                self.0.core.callback = Some(Callback::Full(callback));
            }

            /// Sets the will message for the next `connect`.
            ///
            /// # Errors
            /// [`ClientError::InvalidTopic`] if `topic` is not a valid topic name.
            pub fn set_last_will(
                &mut self,
                topic: &'b str,
                msg: &'b [u8],
                retain: bool,
                qos: QoS,
            ) -> Result<(), ClientError<T::Error>> {
                self.0.core.will = Some(LastWill {
                    topic: TopicName::new(topic)?,
                    message: msg,
                    qos,
                    retain,
                });
                Ok(())
            }

            /// Keeps the session in `store` so that it survives a reset, restoring first
            /// whatever the store holds: unacknowledged QoS 1/2 messages (re-sent with DUP
            /// set, in order, by the next `connect(false)`), QoS 2 flows in their PUBREL
            /// stage, and the identifiers of incoming QoS 2 messages awaiting PUBREL (never
            /// delivered twice). Call it once, before the first `connect`; from then on
            /// every change is written before the packet that depends on it is sent (see
            /// [`store`](crate::client::store)). `connect(true)` empties the store.
            ///
            /// # Errors
            /// [`ClientError::Store`] when the store cannot be read or its records do not
            /// fit this client's `N` and `S`; the client then keeps no store.
            pub fn set_store(
                &mut self,
                store: &'b mut dyn store::SessionStore,
            ) -> Result<(), ClientError<T::Error>> {
                Ok(self.0.core.set_store(store)?)
            }

            /// The protocol state machine (read-only).
            pub fn session(&self) -> &Session<N, S> {
                &self.0.core.session
            }

            /// Sets how long the server may take to answer (CONNACK, PINGRESP and every
            /// acknowledgement), in milliseconds.
            pub fn set_response_timeout(&mut self, ms: u64) {
                self.0.core.set_response_timeout(ms);
            }

            /// Packets skipped because they did not fit in the receive buffer.
            pub fn skipped_packets(&self) -> u32 {
                self.0.core.skipped()
            }

            /// Messages held in the receive buffer for the next `wait_msg`/`check_msg`.
            pub fn held_messages(&self) -> usize {
                self.0.core.held_messages()
            }

            /// The transport.
            pub fn transport_mut(&mut self) -> &mut T {
                $as_mut(&mut self.0.transport)
            }

            /// Swaps in a new transport after the old connection failed, returning the old
            /// one. Call `connect` next; with `clean_session = false` the unacknowledged
            /// QoS 1/2 messages are re-sent.
            pub fn replace_transport(&mut self, transport: T) -> T {
                $into(self.0.replace_transport($wrap(transport)))
            }

            /// Gives the transport back.
            pub fn into_inner(self) -> T {
                $into(self.0.transport)
            }
        }
    };
}

settings!(
    MqttClient,
    Transport,
    Blocking,
    Blocking::get_mut,
    Blocking::into_inner
);
settings!(
    AsyncMqttClient,
    AsyncTransport,
    ::core::convert::identity,
    same::<T>,
    ::core::convert::identity
);

/// The async client's transport is its own.
fn same<T>(t: &mut T) -> &mut T {
    t
}

impl<'b, T: Transport, const N: usize, const S: usize> MqttClient<'b, T, N, S> {
    /// Opens the MQTT session: sends CONNECT and waits for CONNACK (at most
    /// [`ClientOptions::connect_timeout_ms`]); returns the server's Session Present flag.
    /// Called again after an error or [`disconnect`](Self::disconnect), it first opens a
    /// new connection through [`Transport::reconnect`], like umqtt.simple's `connect`. With
    /// `clean_session = false`, unacknowledged QoS 1/2 messages from the previous connection
    /// are re-sent (DUP set) right after, in their original order.
    ///
    /// # Errors
    /// [`ClientError::ConnectionRefused`] with the CONNACK code, [`ClientError::Timeout`]
    /// naming the missing CONNACK, [`ClientError::TransportClosed`] when the transport
    /// cannot reopen, transport and protocol errors.
    pub fn connect(&mut self, clean_session: bool) -> Result<bool, ClientError<T::Error>> {
        block_on(self.0.connect(clean_session))
    }

    /// Sends DISCONNECT; the next `connect` opens a new connection ([MQTT-3.14.4-1]).
    ///
    /// # Errors
    /// Transport errors, or [`ClientError::Protocol`] when not connected.
    pub fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.disconnect())
    }

    /// Sends a PINGREQ now; its PINGRESP is read by a later call. Keep-alive pings are sent
    /// without this.
    ///
    /// # Errors
    /// Transport errors, or [`ClientError::Protocol`] when not connected.
    pub fn ping(&mut self) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.ping())
    }

    /// Runs the timers at `now_ms` without reading: sends a PINGREQ if one is due and
    /// returns whether it did.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when an answer is overdue; transport errors.
    pub fn ping_if_due(&mut self, now_ms: u64) -> Result<bool, ClientError<T::Error>> {
        block_on(self.0.ping_if_due(now_ms))
    }

    /// Publishes `msg` to `topic`. For QoS 1 and 2 it returns once the server has
    /// acknowledged the message (PUBACK, or PUBREC/PUBREL/PUBCOMP); messages that arrive
    /// meanwhile go to the callback or are held for `wait_msg`.
    ///
    /// # Errors
    /// [`ClientError::InvalidTopic`], [`ClientError::MessageTooLarge`],
    /// [`ClientError::Protocol`] (`InflightFull`, `StoreFull`, `NotConnected`),
    /// [`ClientError::Encode`] (nothing was sent for these); [`ClientError::Timeout`] naming
    /// the missing acknowledgement, transport errors (the message stays queued for the
    /// next `connect(false)`: do not publish it again).
    pub fn publish(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.publish(topic, msg, retain, qos))
    }

    /// `publish(topic, msg, false, QoS::AtMostOnce)` for text: umqtt.simple's
    /// `publish(topic, msg)` with its defaults.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub fn publish_str(&mut self, topic: &str, msg: &str) -> Result<(), ClientError<T::Error>> {
        self.publish(topic, msg.as_bytes(), false, QoS::AtMostOnce)
    }

    /// Subscribes to `topic` (a filter; wildcards allowed) and returns the QoS the server
    /// granted.
    ///
    /// # Errors
    /// [`ClientError::SubscribeRefused`] when the server answers 0x80;
    /// [`ClientError::InvalidTopic`], [`ClientError::Timeout`], protocol and transport
    /// errors.
    pub fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        block_on(self.0.subscribe(topic, qos))
    }

    /// Removes the subscription for `topic` and waits for the UNSUBACK.
    ///
    /// # Errors
    /// [`ClientError::InvalidTopic`], [`ClientError::Timeout`], protocol and transport
    /// errors.
    pub fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.unsubscribe(topic))
    }

    /// Waits for one packet and processes it, sending keep-alive pings while it waits.
    /// Returns the message for a PUBLISH (after the callback, if any, has seen it), `None`
    /// for any other packet. A message held while another call waited is returned first.
    ///
    /// # Errors
    /// [`ClientError::PacketTooLarge`] for a packet skipped for lack of room (the
    /// connection is still usable); transport, timeout, malformed-packet and protocol
    /// errors.
    pub fn wait_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        block_on(self.0.next_message(true))
    }

    /// As [`wait_msg`](Self::wait_msg), but returns `Ok(None)` at once when no packet has
    /// started to arrive (after running the timers). umqtt's `check_msg`.
    ///
    /// # Errors
    /// As [`wait_msg`](Self::wait_msg).
    pub fn check_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        block_on(self.0.next_message(false))
    }

    /// Processes incoming packets until every outgoing QoS 1/2 message is fully
    /// acknowledged, for example after a reconnect re-sent them.
    ///
    /// # Errors
    /// As [`wait_msg`](Self::wait_msg).
    pub fn wait_acked(&mut self) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.wait_acked())
    }

    /// Processes incoming packets until the QoS 1/2 message `id` is fully acknowledged;
    /// returns at once if it is not pending.
    ///
    /// # Errors
    /// As [`wait_msg`](Self::wait_msg).
    pub fn wait_published(&mut self, id: PacketId) -> Result<(), ClientError<T::Error>> {
        block_on(self.0.until_published(id))
    }
}

impl<'b, T: AsyncTransport, const N: usize, const S: usize> AsyncMqttClient<'b, T, N, S> {
    /// As [`MqttClient::connect`].
    ///
    /// # Errors
    /// As [`MqttClient::connect`].
    pub async fn connect(&mut self, clean_session: bool) -> Result<bool, ClientError<T::Error>> {
        self.0.connect(clean_session).await
    }

    /// As [`MqttClient::disconnect`].
    ///
    /// # Errors
    /// As [`MqttClient::disconnect`].
    pub async fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        self.0.disconnect().await
    }

    /// As [`MqttClient::ping`].
    ///
    /// # Errors
    /// As [`MqttClient::ping`].
    pub async fn ping(&mut self) -> Result<(), ClientError<T::Error>> {
        self.0.ping().await
    }

    /// As [`MqttClient::publish`].
    ///
    /// # Errors
    /// As [`MqttClient::publish`].
    pub async fn publish(
        &mut self,
        topic: &str,
        msg: &[u8],
        retain: bool,
        qos: QoS,
    ) -> Result<(), ClientError<T::Error>> {
        self.0.publish(topic, msg, retain, qos).await
    }

    /// As [`MqttClient::subscribe`].
    ///
    /// # Errors
    /// As [`MqttClient::subscribe`].
    pub async fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
        self.0.subscribe(topic, qos).await
    }

    /// As [`MqttClient::unsubscribe`].
    ///
    /// # Errors
    /// As [`MqttClient::unsubscribe`].
    pub async fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
        self.0.unsubscribe(topic).await
    }

    /// As [`MqttClient::wait_msg`].
    ///
    /// # Errors
    /// As [`MqttClient::wait_msg`].
    pub async fn wait_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        self.0.next_message(true).await
    }

    /// As [`MqttClient::check_msg`].
    ///
    /// # Errors
    /// As [`MqttClient::check_msg`].
    pub async fn check_msg(&mut self) -> Result<Option<Publish<'_>>, ClientError<T::Error>> {
        self.0.next_message(false).await
    }

    /// As [`MqttClient::wait_acked`].
    ///
    /// # Errors
    /// As [`MqttClient::wait_acked`].
    pub async fn wait_acked(&mut self) -> Result<(), ClientError<T::Error>> {
        self.0.wait_acked().await
    }
}
