//! [`MqttClient`]: a blocking MQTT 3.1.1 client over an `embedded-io` transport, with the
//! method names of MicroPython's `umqtt.simple`; and, with feature `async`,
//! `AsyncMqttClient`, the same client over `embedded-io-async` with the same methods as
//! `async fn`s (no executor dependency; works with embassy or tokio).
//!
//! The client holds no protocol logic of its own: it asks the [`Session`] state machine what
//! to send, moves bytes through the transport, and feeds what arrives back to the session.
//! It allocates nothing; the caller lends a receive and a transmit buffer.
//!
//! # For firmware authors porting from umqtt.simple
//!
//! | MicroPython (`umqtt.simple`)               | Rust (`umqtt::client`)                                   |
//! |--------------------------------------------|----------------------------------------------------------|
//! | `c = MQTTClient(id, server, port, user, password, keepalive)` | `MqttClient::new(tcp, id, &mut rx, &mut tx).with_options(opts)` (open the socket yourself) |
//! | `c.set_callback(sub_cb)`                   | `c.set_callback(&mut sub_cb)` with `sub_cb: FnMut(&str, &[u8])` |
//! | `c.set_last_will(topic, msg, retain, qos)` | `c.set_last_will(topic, msg, retain, qos)?`                |
//! | `c.connect(clean_session=True)`            | `c.connect(true)?` (returns `session_present`)            |
//! | `c.publish(topic, msg, retain, qos)`       | `c.publish(topic, msg, retain, qos)?` (QoS 2 works too)   |
//! | `c.subscribe(topic, qos)`                  | `c.subscribe(topic, qos)?` (returns the granted QoS)      |
//! | `c.wait_msg()`                             | `c.wait_msg()?`                                          |
//! | `c.check_msg()`                            | `c.check_msg()?` (transport must implement `ReadReady`)   |
//! | `c.ping()`                                 | `c.ping()?`, or `c.ping_if_due(now_ms)?` for keep-alive   |
//! | `c.disconnect()`                           | `c.disconnect()?`                                        |
//!
//! Differences that fix umqtt's known problems: QoS 2 is supported in both directions;
//! keep-alive is scheduled (default 60 s, since mosquitto 2 refuses 0) by
//! [`ping_if_due`](MqttClient::ping_if_due) or automatically when a clock is set with
//! [`set_clock`](MqttClient::set_clock); packet identifiers wrap and skip ids in use; every
//! failure is a typed [`ClientError`] instead of an `assert`; a packet larger than the
//! receive buffer is skipped without desynchronising the stream.
//!
//! # For transport implementors
//!
//! The transport is any `embedded_io::Read + embedded_io::Write` (a TCP socket, a TLS
//! stream, a UART modem). `read` must block until at least one byte is available and return
//! `Ok(0)` only at end of stream; `write` may write partially (the client uses `write_all`).
//! The client calls `flush` after every packet. [`check_msg`](MqttClient::check_msg) also needs
//! `embedded_io::ReadReady`, so that it can return at once when nothing has arrived. Pass the
//! transport by value (or `&mut T`, which implements the traits too); get it back with
//! [`into_inner`](MqttClient::into_inner).

mod error;
mod robust;
#[cfg(feature = "std")]
pub mod std_net;
pub mod transport;

pub use error::ClientError;
pub use robust::{LogHook, RobustClient};
#[cfg(feature = "async")]
pub use transport::AsyncTransport;
pub use transport::{Polled, Transport};

use embedded_io::ReadReady;

use crate::error::EncodeError;
use crate::packet::{
    Connect, Entries, LastWill, Packet, Publish, SubAckReturnCode, Subscribe, Subscription, Unsubscribe,
    decode_body_from_server,
};
use crate::session::{Ack, Await, Phase, ProtocolError, Session, Verdict};
use crate::topic::{TopicFilter, TopicName};
use crate::types::{Delivery, PacketId, PacketType, QoS};

/// The detail byte of a SUBACK whose first code refuses the subscription.
const REFUSED: u8 = 0x80;

/// PINGREQ, as sent.
const PINGREQ: [u8; 2] = [0xc0, 0];
/// DISCONNECT, as sent.
const DISCONNECT: [u8; 2] = [0xe0, 0];

/// Default keep-alive interval in seconds (mosquitto 2.0.12 and later refuse 0 by default).
pub const DEFAULT_KEEP_ALIVE: u16 = 60;

/// Connection options: the `user`, `password` and `keepalive` arguments of umqtt's
/// `MQTTClient(...)` constructor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientOptions<'b> {
    /// User name, if the broker wants one.
    pub user: Option<&'b str>,
    /// Password (needs `user`).
    pub password: Option<&'b [u8]>,
    /// Keep-alive interval in seconds; 0 disables keep-alive.
    pub keep_alive: u16,
}

impl Default for ClientOptions<'_> {
    fn default() -> Self {
        Self {
            user: None,
            password: None,
            keep_alive: DEFAULT_KEEP_ALIVE,
        }
    }
}

/// The message callback: umqtt's two-argument form, or one that sees the whole PUBLISH
/// (QoS, retain, DUP).
enum Callback<'b> {
    Simple(&'b mut dyn FnMut(&str, &[u8])),
    Full(&'b mut dyn FnMut(&Publish<'_>)),
}

/// What one processed packet meant, without borrowing the receive buffer: the session's
/// verdict, and a detail byte (Session Present for a CONNACK, the first return code for a
/// SUBACK: the granted QoS or 0x80).
type Outcome = (Verdict, u8);

/// Lets the session judge one incoming packet and hands a message to the callback.
/// Returns what happened and the acknowledgement to send. Any error means the connection
/// must be closed ([MQTT-4.8.0-1]); `process_one` tells the session.
fn dispatch<const N: usize, const S: usize>(
    session: &mut Session<N, S>,
    callback: &mut Option<Callback<'_>>,
    packet: &Packet<'_>,
    now: u64,
) -> Result<(Outcome, Option<Ack>), ProtocolError> {
    // The session's verdict refers to `packet`, so the message is never copied.
    let (verdict, reply) = session.judge_at(packet, now)?;
    let detail = match (verdict, packet) {
        (Verdict::Message, Packet::Publish(publish)) => {
            match callback {
                Some(Callback::Simple(cb)) => cb(publish.topic.as_str(), publish.payload),
                Some(Callback::Full(cb)) => cb(publish),
                None => {}
            }
            0
        }
        (_, Packet::ConnAck(ack)) => u8::from(ack.session_present),
        (_, Packet::SubAck(ack)) => match ack.codes.first() {
            Some(SubAckReturnCode::Success(granted)) => granted.as_u8(),
            _ => REFUSED,
        },
        _ => 0,
    };
    Ok(((verdict, detail), reply))
}

/// Generates a client type: once blocking over `embedded_io`, once async over
/// `embedded_io_async`, from one body so the two cannot drift apart. `[$($aw)*]` is empty
/// or `.await`.
macro_rules! client {
    (
        $(#[$meta:meta])*
        $Client:ident, $Read:path, $Write:path, $read_frame:path, [$($asyncness:tt)*], [$($aw:tt)*]
    ) => {
        $(#[$meta])*
        pub struct $Client<'b, T, const N: usize = 8, const S: usize = 1024> {
            transport: T,
            rx: &'b mut [u8],
            tx: &'b mut [u8],
            session: Session<N, S>,
            client_id: &'b str,
            options: ClientOptions<'b>,
            will: Option<LastWill<'b>>,
            callback: Option<Callback<'b>>,
            clock: Option<fn() -> u64>,
            last_now: u64,
            /// A CONNECT has been written on this transport: it carries one MQTT connection
            /// at most, and a new `connect` needs a new transport ([MQTT-3.1.0-2],
            /// [MQTT-3.14.4-2]).
            used: bool,
        }

        impl<'b, T: $Read + $Write, const N: usize, const S: usize> $Client<'b, T, N, S> {
            /// A client for `client_id` over an already-open `transport`, using `rx` for
            /// incoming packets (its size bounds the largest packet accepted) and `tx` for
            /// outgoing ones (a PUBLISH whose payload does not fit is written in two parts).
            pub fn new(transport: T, client_id: &'b str, rx: &'b mut [u8], tx: &'b mut [u8]) -> Self {
                Self {
                    transport,
                    rx,
                    tx,
                    session: Session::new(),
                    client_id,
                    options: ClientOptions::default(),
                    will: None,
                    callback: None,
                    clock: None,
                    last_now: 0,
                    used: false,
                }
            }

            /// Sets user name, password and keep-alive.
            #[must_use]
            pub fn with_options(mut self, options: ClientOptions<'b>) -> Self {
                self.options = options;
                self
            }

            /// Gives the client a monotonic millisecond clock, so that `wait_msg`,
            /// `check_msg` and the waits inside `publish`/`subscribe` send keep-alive pings on
            /// their own and detect a silent server.
            pub fn set_clock(&mut self, clock: fn() -> u64) {
                self.clock = Some(clock);
            }

            /// Sets the callback that receives every incoming message as `(topic, payload)`.
            pub fn set_callback(&mut self, callback: &'b mut dyn FnMut(&str, &[u8])) {
                self.callback = Some(Callback::Simple(callback));
            }

            /// Sets a callback that receives the whole PUBLISH (topic, payload, QoS, retain,
            /// DUP).
            pub fn set_message_callback(&mut self, callback: &'b mut dyn FnMut(&Publish<'_>)) {
                self.callback = Some(Callback::Full(callback));
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
                self.will = Some(LastWill {
                    topic: TopicName::new(topic)?,
                    message: msg,
                    qos,
                    retain,
                });
                Ok(())
            }

            /// The protocol state machine (read-only).
            pub fn session(&self) -> &Session<N, S> {
                &self.session
            }

            /// Sets how long CONNACK and PINGRESP may take (default 30 s).
            pub fn set_response_timeout(&mut self, ms: u64) {
                self.session.set_response_timeout(ms);
            }

            /// The transport.
            pub fn transport_mut(&mut self) -> &mut T {
                &mut self.transport
            }

            /// Swaps in a new transport after the old connection failed, returning the old
            /// one. Call `connect` next; with `clean_session = false` the unacknowledged
            /// QoS 1/2 messages are re-sent.
            pub fn replace_transport(&mut self, transport: T) -> T {
                self.session.connection_lost();
                self.used = false;
                core::mem::replace(&mut self.transport, transport)
            }

            /// Gives the transport back.
            pub fn into_inner(self) -> T {
                self.transport
            }

            #[inline(never)]
            fn now(&mut self) -> u64 {
                if let Some(clock) = self.clock {
                    self.last_now = clock();
                }
                self.last_now
            }

            /// Opens the MQTT session: sends CONNECT and waits for CONNACK. Returns the
            /// server's Session Present flag. A transport carries one connection: after
            /// `disconnect` or a failure, give the client a new one with `replace_transport`
            /// first (this returns [`ClientError::ConnectionClosed`] otherwise). With `clean_session = false`, unacknowledged
            /// QoS 1/2 messages from the previous connection are re-sent (DUP set) right
            /// after, in their original order.
            ///
            /// # Errors
            /// [`ClientError::ConnectionRefused`] with the CONNACK code, transport and
            /// protocol errors.
            pub $($asyncness)* fn connect(&mut self, clean_session: bool) -> Result<bool, ClientError<T::Error>> {
                if self.used {
                    // One CONNECT per network connection: after DISCONNECT or a failure the
                    // connection is finished, and a live one is already connected.
                    return Err(if self.session.phase() == Phase::Disconnected {
                        ClientError::ConnectionClosed
                    } else {
                        ProtocolError::AlreadyConnected.into()
                    });
                }
                let now = self.now();
                let connect = Connect {
                    clean_session,
                    keep_alive: self.options.keep_alive,
                    client_id: self.client_id,
                    will: self.will,
                    username: self.options.user,
                    password: self.options.password,
                };
                let packet = Packet::Connect(connect);
                self.check_fits(&packet)?;
                // The session hands back this same CONNECT; sending `packet` saves a copy.
                // `check_fits` ran the encoder's checks, so the session need not repeat them.
                self.session.start_connect(&connect, now)?;
                self.used = true;
                let session_present = self.exchange(&packet, Some(Verdict::Connected))$($aw)*? != 0;
                // [MQTT-4.4.0-1] re-send what the session still owes the server.
                let now = self.now();
                // A clean session has nothing to re-send or mark (`Session::connect` dropped
                // it all); skipping the loops lets firmware that only connects clean leave
                // them out.
                if clean_session {
                    self.session.mark_sent(now);
                    return Ok(session_present);
                }
                let Self { transport, tx, session, .. } = self;
                let mut result = Ok(());
                for packet in session.resend() {
                    result = Self::send_packet(transport, tx, &packet)$($aw)*;
                    if result.is_err() {
                        break;
                    }
                }
                // Marked sent even when a write failed part way: a copy may have reached
                // the server, so the next re-send must carry DUP = 1 ([MQTT-3.3.1-1]).
                self.session.resend_done(now);
                if result.is_err() {
                    self.session.connection_lost();
                }
                result.map(|()| session_present)
            }

            /// Sends DISCONNECT. The session stays usable for a later `connect`; close the
            /// transport afterwards ([MQTT-3.14.4-1]).
            ///
            /// # Errors
            /// Transport errors, or [`ClientError::Protocol`] when not connected.
            pub $($asyncness)* fn disconnect(&mut self) -> Result<(), ClientError<T::Error>> {
                self.session.disconnect()?;
                self.send_bytes(&DISCONNECT)$($aw)*
            }

            /// Sends a PINGREQ; the PINGRESP is consumed by the next `wait_msg`/`check_msg`.
            ///
            /// # Errors
            /// Transport errors, or [`ClientError::Protocol`] when not connected.
            pub $($asyncness)* fn ping(&mut self) -> Result<(), ClientError<T::Error>> {
                let now = self.now();
                self.session.ping(now)?;
                self.send_bytes(&PINGREQ)$($aw)*
            }

            /// Runs the keep-alive timer at `now_ms`: sends a PINGREQ if nothing was sent
            /// for a keep-alive interval, and returns whether it did.
            ///
            /// # Errors
            /// [`ClientError::Protocol`] with `PingTimeout` when an earlier PINGREQ went
            /// unanswered for the response timeout; transport errors.
            pub $($asyncness)* fn ping_if_due(&mut self, now_ms: u64) -> Result<bool, ClientError<T::Error>> {
                if self.clock.is_none() {
                    self.last_now = now_ms;
                }
                let due = self.session.run_timers(now_ms);
                let sent = matches!(due, Ok(true));
                self.act_on_timeout(due)$($aw)*.map(|()| sent)
            }

            /// `ping_if_due` at the clock's time, when there is a clock.
            $($asyncness)* fn run_timers(&mut self) -> Result<(), ClientError<T::Error>> {
                if self.clock.is_none() {
                    return Ok(());
                }
                let now = self.now();
                let due = self.session.run_timers(now);
                self.act_on_timeout(due)$($aw)*
            }

            /// Sends the PINGREQ the timers asked for, or ends the connection when the
            /// server stopped answering.
            $($asyncness)* fn act_on_timeout(
                &mut self,
                due: Result<bool, ProtocolError>,
            ) -> Result<(), ClientError<T::Error>> {
                match due {
                    Ok(true) => self.send_bytes(&PINGREQ)$($aw)*,
                    Ok(false) => Ok(()),
                    Err(e) => {
                        self.session.connection_lost();
                        Err(e.into())
                    }
                }
            }

            /// Publishes `msg` to `topic`. For QoS 1 and 2 it returns once the server has
            /// acknowledged the message (PUBACK, or PUBREC/PUBREL/PUBCOMP); messages that
            /// arrive meanwhile go to the callback.
            ///
            /// # Errors
            /// [`ClientError::InvalidTopic`], [`ClientError::Protocol`] (`InflightFull`,
            /// `StoreFull`, `NotConnected`), [`ClientError::Encode`], transport errors.
            pub $($asyncness)* fn publish(
                &mut self,
                topic: &str,
                msg: &[u8],
                retain: bool,
                qos: QoS,
            ) -> Result<(), ClientError<T::Error>> {
                let topic = TopicName::new(topic)?;
                // Refuse before the session records anything ([`ClientError::Encode`] means
                // nothing was sent and nothing is pending).
                let head = self.check_publish_fits(topic, msg, qos, retain)?;
                let now = self.now();
                // The head and the payload are the whole packet the session stores.
                let publish = self.session.publish_len(topic, msg, qos, retain, now, head + msg.len())?;
                let want = publish.delivery.packet_id().map(Verdict::Published);
                self.exchange(&Packet::Publish(publish), want)$($aw)*.map(|_| ())
            }

            /// Processes incoming packets until every outgoing QoS 1/2 message is fully
            /// acknowledged; for example after a reconnect re-sent them. Returns at once when
            /// nothing is pending.
            ///
            /// # Errors
            /// As `wait_msg`.
            pub $($asyncness)* fn wait_acked(&mut self) -> Result<(), ClientError<T::Error>> {
                while self.session.unacked_messages() > 0 {
                    self.next_outcome()$($aw)*?;
                }
                Ok(())
            }

            /// Processes incoming packets until the QoS 1/2 message `id` is fully
            /// acknowledged (PUBACK, or PUBCOMP); returns at once if it is not pending.
            ///
            /// # Errors
            /// As `wait_msg`.
            pub $($asyncness)* fn wait_published(&mut self, id: PacketId) -> Result<(), ClientError<T::Error>> {
                while self.session.is_pending(id) {
                    self.next_outcome()$($aw)*?;
                }
                Ok(())
            }

            /// Sends the queued PUBLISH `id` (see `Session::queue_publish`). It is marked as
            /// sent first, so that if the write fails part way, a re-send carries DUP = 1.
            #[allow(dead_code)]
            $($asyncness)* fn send_queued(&mut self, id: PacketId) -> Result<(), ClientError<T::Error>> {
                let now = self.now();
                self.session.mark_publish_sent(id);
                self.session.mark_sent(now);
                let Self { transport, tx, session, .. } = self;
                let Some(packet) = session.queued_publish(id) else {
                    return Ok(());
                };
                let result = Self::send_packet(transport, tx, &packet)$($aw)*;
                if result.is_err() {
                    self.session.connection_lost();
                }
                result
            }

            /// Subscribes to `topic` (a filter; wildcards allowed) and returns the QoS the
            /// server granted.
            ///
            /// # Errors
            /// [`ClientError::SubscribeRefused`] when the server answers 0x80;
            /// [`ClientError::InvalidTopic`], protocol and transport errors.
            pub $($asyncness)* fn subscribe(&mut self, topic: &str, qos: QoS) -> Result<QoS, ClientError<T::Error>> {
                let topics = [Subscription {
                    filter: TopicFilter::new(topic)?,
                    qos,
                }];
                self.check_fits(&Packet::Subscribe(Subscribe { packet_id: PacketId::MIN, topics: Entries::new(&topics) }))?;
                let now = self.now();
                let packet_id = self.session.start_request(topics.len(), Await::SubAck { count: 1 }, now)?;
                let packet = Packet::Subscribe(Subscribe { packet_id, topics: Entries::new(&topics) });
                let code = self.exchange(&packet, Some(Verdict::Subscribed(packet_id)))$($aw)*?;
                QoS::from_u8(code).ok_or(ClientError::SubscribeRefused)
            }

            /// Removes the subscription for `topic` and waits for the UNSUBACK.
            ///
            /// # Errors
            /// [`ClientError::InvalidTopic`], protocol and transport errors.
            pub $($asyncness)* fn unsubscribe(&mut self, topic: &str) -> Result<(), ClientError<T::Error>> {
                let topics = [TopicFilter::new(topic)?];
                self.check_fits(&Packet::Unsubscribe(Unsubscribe { packet_id: PacketId::MIN, topics: Entries::new(&topics) }))?;
                let now = self.now();
                let packet_id = self.session.start_request(topics.len(), Await::UnsubAck, now)?;
                let packet = Packet::Unsubscribe(Unsubscribe { packet_id, topics: Entries::new(&topics) });
                self.exchange(&packet, Some(Verdict::Unsubscribed(packet_id)))$($aw)*.map(|_| ())
            }

            /// Waits for one packet and processes it: a message goes to the callback (and is
            /// acknowledged per its QoS), anything else updates the session. Returns the type
            /// of the packet processed.
            ///
            /// # Errors
            /// Transport, malformed-packet and protocol errors.
            pub $($asyncness)* fn wait_msg(&mut self) -> Result<PacketType, ClientError<T::Error>> {
                Ok(self.next_outcome()$($aw)*?.0)
            }

            /// Sends `packet`, then, when `want` is set, processes incoming packets until one
            /// gets that verdict; returns its detail byte (see [`Outcome`]).
            $($asyncness)* fn exchange(&mut self, packet: &Packet<'_>, want: Option<Verdict>) -> Result<u8, ClientError<T::Error>> {
                self.send(packet)$($aw)*?;
                if let Some(want) = want {
                    loop {
                        let (verdict, detail) = self.next_outcome()$($aw)*?.1;
                        if verdict == want {
                            return Ok(detail);
                        }
                    }
                }
                Ok(0)
            }

            /// Runs the timers, then processes one packet: `wait_msg`, and the wait step of
            /// `connect`, `publish`, `subscribe`, `unsubscribe` and `wait_acked` (one body
            /// for all of them).
            $($asyncness)* fn next_outcome(&mut self) -> Result<(PacketType, Outcome), ClientError<T::Error>> {
                self.run_timers()$($aw)*?;
                self.process_one()$($aw)*
            }

            /// Reads one packet, lets the session judge it, runs the callback, then sends
            /// the acknowledgement ([MQTT-4.3.2-2]: acknowledge once the message is owned).
            /// Every error but a skipped oversized packet ends the connection
            /// ([MQTT-4.8.0-1]).
            #[inline(never)]
            $($asyncness)* fn process_one(&mut self) -> Result<(PacketType, Outcome), ClientError<T::Error>> {
                let result = self.receive()$($aw)*;
                if let Err(e) = &result
                    && !matches!(e, ClientError::PacketTooLarge { .. })
                {
                    self.session.connection_lost();
                }
                result
            }

            /// `process_one` without ending the connection on errors.
            $($asyncness)* fn receive(&mut self) -> Result<(PacketType, Outcome), ClientError<T::Error>> {
                let now = self.now();
                let Self { transport, rx, session, callback, .. } = self;
                // Only the packets a server sends are parsed; the others are protocol errors.
                let frame: Result<_, ClientError<T::Error>> = $read_frame(transport, rx)$($aw)*;
                let (header, body) = frame?;
                let packet = match decode_body_from_server(&header, body) {
                    Ok(Some(p)) => p,
                    Ok(None) => return Err(ProtocolError::UnexpectedPacket(header.packet_type).into()),
                    Err(e) => return Err(ClientError::Malformed(e)),
                };
                let ptype = packet.packet_type();
                let (outcome, reply) = dispatch(session, callback, &packet, now)?;
                if let Some(reply) = reply {
                    Self::write_parts(transport, &reply.bytes(), &[])$($aw)*?;
                }
                Ok((ptype, outcome))
            }

            /// [`check_fits`](Self::check_fits) for the PUBLISH of `msg` to `topic`, with the
            /// packet identifier it will carry at QoS 1 and 2.
            fn check_publish_fits(&self, topic: TopicName<'_>, msg: &[u8], qos: QoS, retain: bool) -> Result<usize, ClientError<T::Error>> {
                let delivery = Delivery::new(qos, Some(PacketId::MIN)).unwrap_or(Delivery::AtMostOnce);
                self.check_fits(&Packet::Publish(Publish::new(topic, msg, delivery, retain)))
            }

            /// Checks that `packet` can be sent from `tx` (everything but a PUBLISH payload
            /// must fit) before the session is asked to record it.
            /// Returns the length of that part.
            fn check_fits(&self, packet: &Packet<'_>) -> Result<usize, ClientError<T::Error>> {
                let head = packet.head_len()?;
                if head > self.tx.len() {
                    return Err(EncodeError::BufferTooSmall { needed: head }.into());
                }
                Ok(head)
            }

            /// Sends `packet`; a failed write ends the connection for the session.
            $($asyncness)* fn send(&mut self, packet: &Packet<'_>) -> Result<(), ClientError<T::Error>> {
                let result = Self::send_packet(&mut self.transport, self.tx, packet)$($aw)*;
                if let Err(ClientError::Io(_)) = result {
                    self.session.connection_lost();
                }
                result
            }

            /// Sends `bytes`, a whole packet; a failed write ends the connection for the
            /// session.
            $($asyncness)* fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), ClientError<T::Error>> {
                let result = Self::write_parts(&mut self.transport, bytes, &[])$($aw)*;
                if result.is_err() {
                    self.session.connection_lost();
                }
                result
            }

            $($asyncness)* fn send_packet(
                transport: &mut T,
                tx: &mut [u8],
                packet: &Packet<'_>,
            ) -> Result<(), ClientError<T::Error>> {
                let (n, tail) = crate::io::encode_for_send(tx, packet)?;
                Self::write_parts(transport, tx.get(..n).unwrap_or(&[]), tail)$($aw)*
            }

            /// Writes `head`, then `tail` unless it is empty, and flushes.
            $($asyncness)* fn write_parts(transport: &mut T, head: &[u8], tail: &[u8]) -> Result<(), ClientError<T::Error>> {
                transport.write_all(head)$($aw)*.map_err(ClientError::Io)?;
                if !tail.is_empty() {
                    transport.write_all(tail)$($aw)*.map_err(ClientError::Io)?;
                }
                transport.flush()$($aw)*.map_err(ClientError::Io)
            }
        }

        impl<T: $Read + $Write + ReadReady, const N: usize, const S: usize> $Client<'_, T, N, S> {
            /// Processes one packet if one has arrived, otherwise returns `Ok(None)` at once
            /// (after running the keep-alive timer when a clock is set). umqtt's `check_msg`.
            ///
            /// # Errors
            /// As `wait_msg`.
            pub $($asyncness)* fn check_msg(&mut self) -> Result<Option<PacketType>, ClientError<T::Error>> {
                self.run_timers()$($aw)*?;
                if !self.transport.read_ready().map_err(ClientError::Io)? {
                    return Ok(None);
                }
                Ok(Some(self.process_one()$($aw)*?.0))
            }
        }
    };
}

client!(
    /// A blocking MQTT client shaped like MicroPython's `umqtt.simple.MQTTClient`.
    ///
    /// `N` and `S` size the [`Session`]: how many packets may await acknowledgement, and how
    /// many bytes of unacknowledged QoS 1/2 messages are kept for re-sending.
    ///
    /// ```no_run
    /// # #[cfg(feature = "std")] {
    /// use umqtt::client::{MqttClient, std_net::TcpTransport};
    /// use umqtt::QoS;
    ///
    /// let tcp = TcpTransport::connect("127.0.0.1:1883")?;
    /// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    /// let mut client: MqttClient<_> = MqttClient::new(tcp, "esp32-livingroom", &mut rx, &mut tx);
    /// let mut on_message = |topic: &str, msg: &[u8]| println!("{topic}: {msg:?}");
    /// client.set_callback(&mut on_message);
    /// client.connect(true)?;
    /// client.subscribe("home/living_room/light", QoS::AtLeastOnce)?;
    /// client.publish("home/living_room/status", b"on", false, QoS::AtLeastOnce)?;
    /// client.wait_msg()?;
    /// client.disconnect()?;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "MQTTClient")]
    MqttClient,
    embedded_io::Read,
    embedded_io::Write,
    crate::io::read_frame,
    [],
    []
);

/// The umqtt spelling, for line-by-line ports.
pub type MQTTClient<'b, T, const N: usize = 8, const S: usize = 1024> = MqttClient<'b, T, N, S>;

#[cfg(feature = "async")]
client!(
    /// The async twin of [`MqttClient`] over `embedded-io-async`: the same methods as
    /// `async fn`s, driving the same [`Session`]. No executor is assumed (embassy, tokio,
    /// or a hand-rolled `block_on` all work). `check_msg` needs the transport to also
    /// implement the non-blocking `embedded_io::ReadReady`.
    AsyncMqttClient,
    embedded_io_async::Read,
    embedded_io_async::Write,
    crate::io::read_frame_async,
    [async],
    [.await]
);
