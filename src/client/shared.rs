//! [`Shared`]: one MQTT connection used by many async tasks (feature `shared`).
//!
//! A [`Runner`] owns the transport, the timers and the session, like embassy-net's runner
//! task; any number of tasks publish and subscribe through [`Handle`]s, which are `Copy`
//! references to a [`Shared`] (usually a `static`). Nothing is allocated: requests and
//! received messages are copied into fixed-size queues inside the `Shared`, sized by its
//! const parameters, and the library depends on no executor (only on embassy-sync's
//! mutexes and waker registrations).
//!
//! * [`Handle::publish`] queues the message and returns when it is written (QoS 0) or fully
//!   acknowledged (QoS 1 and 2); [`Handle::try_publish`] queues without waiting and says
//!   [`SharedError::QueueFull`] when there is no room. A QoS 1/2 message, once the runner
//!   took it, sits in the session's re-send store and survives reconnects.
//! * [`Handle::subscribe`] returns a [`Subscription`] with its own inbox: every incoming
//!   message whose topic matches its filter is copied there, and
//!   [`Subscription::next`] hands it out. A full inbox is back-pressure: the runner stops
//!   reading from the server until the task has taken a message (keep-alive pauses too, so
//!   size the inbox for the bursts you expect). No message is dropped; one that matches no
//!   subscription is counted ([`Shared::unrouted`]).
//! * The runner reconnects like [`AsyncRobustClient`](super::AsyncRobustClient): a new
//!   connection through [`Reconnect`] (a new transport, or the same one reopened),
//!   `clean_session = false`, subscriptions renewed when the server kept no session,
//!   unacknowledged messages re-sent.
//!
//! ```ignore
//! static SHARED: Shared<CriticalSectionRawMutex> = Shared::new();
//!
//! #[embassy_executor::task]
//! async fn mqtt(mut runner: Runner<'static, 'static, Tcp, Connector, CriticalSectionRawMutex>) {
//!     let e = runner.run().await; // only a fatal error (for example a refused CONNECT) ends it
//! }
//!
//! #[embassy_executor::task]
//! async fn light(handle: Handle<'static, CriticalSectionRawMutex>) {
//!     let mut sub = handle.subscribe("home/light", QoS::AtLeastOnce).await.unwrap();
//!     let mut buf = [0u8; 256];
//!     loop {
//!         let msg = sub.next(&mut buf).await.unwrap();
//!         // toggle the LED on msg.payload
//!     }
//! }
//! ```

use core::cell::RefCell;
use core::convert::Infallible;
use core::fmt;
use core::future::poll_fn;
use core::task::Poll;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::waitqueue::{MultiWakerRegistration, WakerRegistration};
use embedded_io::ErrorType;
use heapless::{String, Vec};

/// The mutex kinds a [`Shared`] can use (re-exported from embassy-sync):
/// `CriticalSectionRawMutex` when tasks run on several executors or in interrupts,
/// `NoopRawMutex` for one executor on one core.
pub use embassy_sync::blocking_mutex::raw;

use super::core::Step;
use super::driver::Driver;
use super::robust::{AsyncConnector, LogHook, is_connection_failure};
use super::{AsyncMqttClient, AsyncTransport, ClientError};
use crate::EncodeError;
use crate::packet::Publish;
use crate::session::ProtocolError;
use crate::topic::{TopicError, TopicFilter, TopicName};
use crate::types::{PacketId, QoS};

/// The longest topic filter a [`Subscription`] can hold, in bytes.
pub const MAX_FILTER_LEN: usize = 128;

/// Bytes in front of each queued request: kind, flags, sequence number (4), topic length
/// (2), payload length (4).
const REQUEST_HEADER: usize = 12;
/// Bytes in front of each message in an inbox: flags, topic length (2), payload length (4).
pub const MESSAGE_HEADER: usize = 7;
/// Tasks that can wait on a `Shared` at once without being woken spuriously.
const WAITERS: usize = 8;
/// Requests whose task waits for the outcome, at once (a task that would be the 17th
/// waits for room like one facing a full queue; `try_publish` needs no room here).
const OUTCOMES: usize = 16;

const PUBLISH: u8 = 0;
const SUBSCRIBE: u8 = 1;
const UNSUBSCRIBE: u8 = 2;

/// What went wrong with a request made through a [`Handle`] or [`Subscription`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SharedError {
    /// The topic name or filter is not valid.
    InvalidTopic(TopicError),
    /// The filter is longer than [`MAX_FILTER_LEN`].
    FilterTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The request can never fit the request queue.
    RequestTooLarge {
        /// Bytes it needs (its topic and payload plus 12).
        needed: usize,
        /// The queue's size (`BUF`).
        capacity: usize,
    },
    /// [`Handle::try_publish`] found no room in the request queue now.
    QueueFull,
    /// The QoS 1/2 message can never fit the runner's re-send store.
    MessageTooLarge {
        /// Bytes it needs, encoded.
        needed: usize,
        /// The store's size.
        capacity: usize,
    },
    /// Every subscription slot (`SUBS`) is in use.
    NoFreeSlot,
    /// The server refused the subscription (SUBACK return code 0x80).
    SubscribeRefused,
    /// The buffer passed to [`Subscription::next`] is smaller than the message.
    BufferTooSmall {
        /// Bytes the topic and payload need.
        needed: usize,
    },
    /// The message does not fit the subscription's inbox, which must be larger than the
    /// runner's receive buffer (checked by [`Runner::new`]).
    InboxTooSmall {
        /// Bytes an inbox needs.
        needed: usize,
        /// The inbox size (`INBOX`).
        capacity: usize,
    },
    /// The server or the session refused the request for a reason other than the above.
    Protocol(ProtocolError),
    /// The packet could not be encoded.
    Encode(EncodeError),
    /// The runner has ended (a fatal error, such as a refused CONNECT); nothing more is
    /// sent or received.
    Stopped,
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
            Self::FilterTooLong { len } => {
                write!(
                    f,
                    "the topic filter of {len} bytes is longer than {MAX_FILTER_LEN} bytes"
                )
            }
            Self::RequestTooLarge { needed, capacity } => write!(
                f,
                "the request needs {needed} bytes and the request queue holds {capacity}"
            ),
            Self::QueueFull => f.write_str("the request queue is full"),
            Self::MessageTooLarge { needed, capacity } => write!(
                f,
                "a QoS 1/2 message of {needed} bytes (encoded) cannot fit the re-send store of \
                 {capacity} bytes"
            ),
            Self::NoFreeSlot => f.write_str("every subscription slot is in use"),
            Self::SubscribeRefused => f.write_str("subscription refused by the server"),
            Self::BufferTooSmall { needed } => {
                write!(f, "the buffer is smaller than the {needed} bytes of the message")
            }
            Self::InboxTooSmall { needed, capacity } => write!(
                f,
                "a subscription inbox of {capacity} bytes is smaller than the {needed} bytes the \
                 receive buffer can hand it"
            ),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Encode(e) => write!(f, "cannot encode packet: {e}"),
            Self::Stopped => f.write_str("the MQTT runner has stopped"),
        }
    }
}

impl core::error::Error for SharedError {}

/// The result of a request, left by the runner for its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Granted(QoS),
    Failed(SharedError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Subscribing,
    Active,
    Unsubscribing,
    /// The `Subscription` was dropped: the runner unsubscribes and frees the slot.
    Dropped,
}

struct Slot<const INBOX: usize> {
    state: SlotState,
    qos: QoS,
    filter: String<MAX_FILTER_LEN>,
    /// Messages: `[flags, topic length (2), payload length (4), topic, payload]` each.
    inbox: Vec<u8, INBOX>,
    waker: WakerRegistration,
}

impl<const INBOX: usize> Slot<INBOX> {
    const fn new() -> Self {
        Self {
            state: SlotState::Free,
            qos: QoS::AtMostOnce,
            filter: String::new(),
            inbox: Vec::new(),
            waker: WakerRegistration::new(),
        }
    }

    /// Whether incoming messages go to this slot's inbox.
    fn receives(&self) -> bool {
        matches!(
            self.state,
            SlotState::Subscribing | SlotState::Active | SlotState::Unsubscribing
        )
    }

    fn matches(&self, topic: TopicName<'_>) -> bool {
        self.receives() && TopicFilter::new(&self.filter).is_ok_and(|f| f.matches(topic))
    }
}

struct Inner<const BUF: usize, const SUBS: usize, const INBOX: usize> {
    /// Requests: `[kind, flags, seq (4), topic length (2), payload length (4), topic,
    /// payload]` each, in order.
    requests: Vec<u8, BUF>,
    next_seq: u32,
    /// Requests a task waits for. The runner keeps an outcome only for these, so the
    /// outcome table never fills with results nobody collects.
    waiting: Vec<u32, OUTCOMES>,
    /// Outcomes left for their tasks (always of requests in `waiting`).
    outcomes: Vec<(u32, Outcome), OUTCOMES>,
    stopped: bool,
    unrouted: u32,
    runner: WakerRegistration,
    waiters: MultiWakerRegistration<WAITERS>,
    slots: [Slot<INBOX>; SUBS],
}

impl<const BUF: usize, const SUBS: usize, const INBOX: usize> Inner<BUF, SUBS, INBOX> {
    /// No task waits for request `seq` any more: its outcome, if any, is dropped, and a
    /// task waiting for room in the table may go on.
    fn forget(&mut self, seq: u32) {
        if let Some(at) = self.waiting.iter().position(|s| *s == seq) {
            self.waiting.swap_remove(at);
            self.waiters.wake();
        }
        if let Some(at) = self.outcomes.iter().position(|(s, _)| *s == seq) {
            self.outcomes.swap_remove(at);
        }
    }
}

/// The state that [`Handle`]s and the [`Runner`] share: the request queue, the outcomes,
/// and one inbox per subscription. Usually a `static`; `const fn new`.
///
/// * `BUF`: bytes of the request queue; a publish request takes its topic and payload
///   plus 12 bytes.
/// * `SUBS`: subscriptions at once (at most 256), each with a filter of up to
///   [`MAX_FILTER_LEN`] bytes and an inbox.
/// * `INBOX`: bytes of each subscription's inbox; a message takes its topic and payload
///   plus [`MESSAGE_HEADER`] bytes. It must be larger than the runner's receive buffer
///   (checked by [`Runner::new`]).
///
/// RAM: about `BUF + SUBS × (INBOX + MAX_FILTER_LEN + 24) + 200` bytes.
pub struct Shared<M: RawMutex, const BUF: usize = 512, const SUBS: usize = 4, const INBOX: usize = 1024> {
    inner: Mutex<M, RefCell<Inner<BUF, SUBS, INBOX>>>,
}

impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Default
    for Shared<M, BUF, SUBS, INBOX>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Shared<M, BUF, SUBS, INBOX> {
    /// Empty queues, no subscriptions.
    pub const fn new() -> Self {
        const { assert!(SUBS <= 256, "a Shared holds at most 256 subscriptions") };
        Self {
            inner: Mutex::new(RefCell::new(Inner {
                requests: Vec::new(),
                next_seq: 0,
                waiting: Vec::new(),
                outcomes: Vec::new(),
                stopped: false,
                unrouted: 0,
                runner: WakerRegistration::new(),
                waiters: MultiWakerRegistration::new(),
                slots: [const { Slot::new() }; SUBS],
            })),
        }
    }

    /// A handle for a task.
    pub const fn handle(&self) -> Handle<'_, M, BUF, SUBS, INBOX> {
        Handle { shared: self }
    }

    /// Messages received that matched no subscription (for example one still in flight
    /// when its subscription was dropped).
    pub fn unrouted(&self) -> u32 {
        self.with(|i| i.unrouted)
    }

    /// Whether the runner has ended.
    pub fn stopped(&self) -> bool {
        self.with(|i| i.stopped)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner<BUF, SUBS, INBOX>) -> R) -> R {
        self.inner.lock(|cell| f(&mut cell.borrow_mut()))
    }

    /// Waits for the outcome of request `seq` (queued with `wait`); if the future is
    /// dropped first, the outcome is thrown away when it comes.
    async fn outcome(&self, seq: u32) -> Outcome {
        struct Abandon<'a, M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> {
            shared: &'a Shared<M, BUF, SUBS, INBOX>,
            seq: u32,
            done: bool,
        }
        impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Drop
            for Abandon<'_, M, BUF, SUBS, INBOX>
        {
            fn drop(&mut self) {
                if !self.done {
                    let seq = self.seq;
                    self.shared.with(|i| {
                        i.forget(seq);
                    });
                }
            }
        }
        let mut guard = Abandon {
            shared: self,
            seq,
            done: false,
        };
        let outcome = poll_fn(|cx| {
            self.with(|i| {
                if let Some(&(_, outcome)) = i.outcomes.iter().find(|(s, _)| *s == seq) {
                    // Collected: drops it and frees the task's place in `waiting`.
                    i.forget(seq);
                    return Poll::Ready(outcome);
                }
                if i.stopped {
                    return Poll::Ready(Outcome::Failed(SharedError::Stopped));
                }
                i.waiters.register(cx.waker());
                Poll::Pending
            })
        })
        .await;
        guard.done = true;
        outcome
    }
}

/// A task's way to the shared connection: cheap to copy, one per task or one for all.
pub struct Handle<'s, M: RawMutex, const BUF: usize = 512, const SUBS: usize = 4, const INBOX: usize = 1024> {
    shared: &'s Shared<M, BUF, SUBS, INBOX>,
}

impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Clone
    for Handle<'_, M, BUF, SUBS, INBOX>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Copy
    for Handle<'_, M, BUF, SUBS, INBOX>
{
}

impl<'s, M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize>
    Handle<'s, M, BUF, SUBS, INBOX>
{
    /// Publishes `payload` to `topic` and returns once it is written (QoS 0) or fully
    /// acknowledged (QoS 1 and 2), across reconnects. Waits while the request queue is full.
    ///
    /// # Errors
    /// [`SharedError::InvalidTopic`], [`SharedError::RequestTooLarge`] and
    /// [`SharedError::MessageTooLarge`] before anything is sent; [`SharedError::Stopped`].
    pub async fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), SharedError> {
        TopicName::new(topic).map_err(SharedError::InvalidTopic)?;
        let seq = self
            .enqueue(&Record::publish(topic, payload, qos, retain))
            .await?;
        match self.shared.outcome(seq).await {
            Outcome::Failed(e) => Err(e),
            Outcome::Done | Outcome::Granted(_) => Ok(()),
        }
    }

    /// Queues the message without waiting for room or for it to be sent: the caller sees
    /// back-pressure as [`SharedError::QueueFull`]. Its outcome is not reported.
    ///
    /// # Errors
    /// [`SharedError::QueueFull`], [`SharedError::InvalidTopic`],
    /// [`SharedError::RequestTooLarge`], [`SharedError::Stopped`].
    pub fn try_publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), SharedError> {
        TopicName::new(topic).map_err(SharedError::InvalidTopic)?;
        self.try_enqueue(&Record::publish(topic, payload, qos, retain), false)?;
        Ok(())
    }

    /// Subscribes to `filter` and returns the subscription once the server granted it.
    ///
    /// # Errors
    /// [`SharedError::InvalidTopic`], [`SharedError::FilterTooLong`],
    /// [`SharedError::NoFreeSlot`], [`SharedError::SubscribeRefused`],
    /// [`SharedError::Stopped`].
    pub async fn subscribe(
        &self,
        filter: &str,
        qos: QoS,
    ) -> Result<Subscription<'s, M, BUF, SUBS, INBOX>, SharedError> {
        TopicFilter::new(filter).map_err(SharedError::InvalidTopic)?;
        let mut name = String::new();
        name.push_str(filter)
            .map_err(|_| SharedError::FilterTooLong { len: filter.len() })?;
        let index = self.shared.with(|i| {
            if i.stopped {
                return Err(SharedError::Stopped);
            }
            let (index, slot) = i
                .slots
                .iter_mut()
                .enumerate()
                .find(|(_, s)| s.state == SlotState::Free)
                .ok_or(SharedError::NoFreeSlot)?;
            slot.state = SlotState::Subscribing;
            slot.qos = qos;
            slot.filter = name;
            slot.inbox.clear();
            Ok(index)
        })?;
        let mut sub = Subscription {
            shared: self.shared,
            index,
            granted: qos,
        };
        // From here on, dropping `sub` (cancellation) has the runner release the slot.
        let seq = self.enqueue(&Record::slot(SUBSCRIBE, index)).await?;
        match self.shared.outcome(seq).await {
            Outcome::Granted(granted) => {
                sub.granted = granted;
                Ok(sub.keep())
            }
            Outcome::Done => Ok(sub.keep()),
            Outcome::Failed(e) => {
                // The runner released the slot (or has stopped): not ours to touch now.
                core::mem::forget(sub);
                Err(e)
            }
        }
    }

    /// Queues `record` for a task that waits for its outcome, waiting while the queue (or
    /// the table of waiting requests) is full.
    async fn enqueue(&self, record: &Record<'_>) -> Result<u32, SharedError> {
        poll_fn(|cx| match self.try_enqueue(record, true) {
            Err(SharedError::QueueFull) => {
                self.shared.with(|i| i.waiters.register(cx.waker()));
                // Room may have appeared between the check and the registration.
                match self.try_enqueue(record, true) {
                    Err(SharedError::QueueFull) => Poll::Pending,
                    other => Poll::Ready(other),
                }
            }
            other => Poll::Ready(other),
        })
        .await
    }

    /// Queues `record`; `wait`: its task will wait for the outcome.
    fn try_enqueue(&self, record: &Record<'_>, wait: bool) -> Result<u32, SharedError> {
        let needed = record.len();
        if needed > BUF {
            return Err(SharedError::RequestTooLarge {
                needed,
                capacity: BUF,
            });
        }
        self.shared.with(|i| {
            if i.stopped {
                return Err(SharedError::Stopped);
            }
            if BUF - i.requests.len() < needed || (wait && i.waiting.is_full()) {
                return Err(SharedError::QueueFull);
            }
            let seq = i.next_seq;
            i.next_seq = i.next_seq.wrapping_add(1);
            if wait {
                // Cannot fail: checked above.
                let _ = i.waiting.push(seq);
            }
            record.write(seq, &mut i.requests);
            i.runner.wake();
            Ok(seq)
        })
    }
}

/// A request as it is queued.
struct Record<'a> {
    kind: u8,
    flags: u8,
    topic: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Record<'a> {
    fn publish(topic: &'a str, payload: &'a [u8], qos: QoS, retain: bool) -> Self {
        Self {
            kind: PUBLISH,
            flags: qos.as_u8() | (u8::from(retain) << 2),
            topic: topic.as_bytes(),
            payload,
        }
    }

    fn slot(kind: u8, index: usize) -> Self {
        Self {
            kind,
            flags: u8::try_from(index).unwrap_or(u8::MAX),
            topic: &[],
            payload: &[],
        }
    }

    fn len(&self) -> usize {
        REQUEST_HEADER + self.topic.len() + self.payload.len()
    }

    /// Appends the record; the caller checked the room.
    fn write<const BUF: usize>(&self, seq: u32, out: &mut Vec<u8, BUF>) {
        let [s0, s1, s2, s3] = seq.to_be_bytes();
        let [t0, t1] = u16::try_from(self.topic.len()).unwrap_or(u16::MAX).to_be_bytes();
        let [p0, p1, p2, p3] = u32::try_from(self.payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        let header = [self.kind, self.flags, s0, s1, s2, s3, t0, t1, p0, p1, p2, p3];
        let _ = out.extend_from_slice(&header);
        let _ = out.extend_from_slice(self.topic);
        let _ = out.extend_from_slice(self.payload);
    }

    /// The request at the front of `bytes`: the record and its sequence number.
    fn read(bytes: &'a [u8]) -> Option<(Self, u32)> {
        let (&[kind, flags, s0, s1, s2, s3, t0, t1, p0, p1, p2, p3], rest) =
            bytes.split_first_chunk::<REQUEST_HEADER>()?;
        let (topic, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes([t0, t1])))?;
        let payload_len = usize::try_from(u32::from_be_bytes([p0, p1, p2, p3])).ok()?;
        let payload = rest.get(..payload_len)?;
        let record = Self {
            kind,
            flags,
            topic,
            payload,
        };
        Some((record, u32::from_be_bytes([s0, s1, s2, s3])))
    }
}

/// A message handed out by [`Subscription::next`], borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The topic it was published to.
    pub topic: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// The QoS it was delivered with.
    pub qos: QoS,
    /// The retain flag (a retained message sent on subscribing).
    pub retain: bool,
    /// The DUP flag (the server may have sent it before).
    pub dup: bool,
}

/// One subscription and its inbox. Dropping it unsubscribes (the runner does it in the
/// background); [`unsubscribe`](Self::unsubscribe) does it and waits for the UNSUBACK.
pub struct Subscription<
    's,
    M: RawMutex,
    const BUF: usize = 512,
    const SUBS: usize = 4,
    const INBOX: usize = 1024,
> {
    shared: &'s Shared<M, BUF, SUBS, INBOX>,
    index: usize,
    granted: QoS,
}

impl<'s, M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize>
    Subscription<'s, M, BUF, SUBS, INBOX>
{
    /// Marks the slot active (the SUBACK came) and returns the subscription.
    fn keep(self) -> Self {
        self.shared.with(|i| {
            if let Some(slot) = i.slots.get_mut(self.index)
                && slot.state == SlotState::Subscribing
            {
                slot.state = SlotState::Active;
            }
        });
        self
    }

    /// The QoS the server granted.
    pub const fn granted(&self) -> QoS {
        self.granted
    }

    /// The next message for this subscription, copied into `buf` (which must hold its
    /// topic and payload). Waits until one arrives.
    ///
    /// # Errors
    /// [`SharedError::BufferTooSmall`] (the message stays queued),
    /// [`SharedError::Stopped`] once the runner has ended and the inbox is empty.
    pub async fn next<'a>(&mut self, buf: &'a mut [u8]) -> Result<Message<'a>, SharedError> {
        let index = self.index;
        let meta = poll_fn(|cx| {
            self.shared.with(|i| match take(i, index, buf) {
                Ok(Some(meta)) => Poll::Ready(Ok(meta)),
                Ok(None) if i.stopped => Poll::Ready(Err(SharedError::Stopped)),
                Ok(None) => {
                    if let Some(slot) = i.slots.get_mut(index) {
                        slot.waker.register(cx.waker());
                    }
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            })
        })
        .await?;
        Ok(meta.message(buf))
    }

    /// The next message if one is queued, without waiting (`check_msg`).
    ///
    /// # Errors
    /// [`SharedError::BufferTooSmall`] (the message stays queued).
    pub fn try_next<'a>(&mut self, buf: &'a mut [u8]) -> Result<Option<Message<'a>>, SharedError> {
        let index = self.index;
        let meta = self.shared.with(|i| take(i, index, buf))?;
        Ok(meta.map(|m| m.message(buf)))
    }

    /// Unsubscribes and waits for the UNSUBACK; messages still in the inbox are dropped
    /// with it.
    ///
    /// # Errors
    /// [`SharedError::Stopped`].
    pub async fn unsubscribe(self) -> Result<(), SharedError> {
        let shared = self.shared;
        let index = self.index;
        // The slot is released by the runner now, not by `Drop`.
        core::mem::forget(self);
        shared.with(|i| {
            if let Some(slot) = i.slots.get_mut(index) {
                slot.state = SlotState::Unsubscribing;
            }
        });
        let seq = match shared.handle().enqueue(&Record::slot(UNSUBSCRIBE, index)).await {
            Ok(seq) => seq,
            Err(e) => {
                shared.with(|i| release(i, index));
                return Err(e);
            }
        };
        match shared.outcome(seq).await {
            Outcome::Failed(e) => Err(e),
            Outcome::Done | Outcome::Granted(_) => Ok(()),
        }
    }
}

impl<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize> Drop
    for Subscription<'_, M, BUF, SUBS, INBOX>
{
    fn drop(&mut self) {
        let index = self.index;
        self.shared.with(|i| {
            if i.stopped {
                release(i, index);
            } else if let Some(slot) = i.slots.get_mut(index)
                && matches!(slot.state, SlotState::Subscribing | SlotState::Active)
            {
                slot.state = SlotState::Dropped;
                slot.inbox.clear();
                i.runner.wake();
            }
        });
    }
}

/// Frees slot `index` and wakes the runner (it may wait for inbox room).
fn release<const BUF: usize, const SUBS: usize, const INBOX: usize>(
    i: &mut Inner<BUF, SUBS, INBOX>,
    index: usize,
) {
    if let Some(slot) = i.slots.get_mut(index) {
        slot.state = SlotState::Free;
        slot.filter.clear();
        slot.inbox.clear();
    }
    i.runner.wake();
}

/// Where a taken message lies in the caller's buffer.
struct Taken {
    flags: u8,
    topic_len: usize,
    payload_len: usize,
}

impl Taken {
    fn message(self, buf: &[u8]) -> Message<'_> {
        let (topic, rest) = buf.split_at(self.topic_len.min(buf.len()));
        Message {
            topic: core::str::from_utf8(topic).unwrap_or_default(),
            payload: rest.get(..self.payload_len).unwrap_or_default(),
            qos: QoS::from_u8(self.flags & 0b11).unwrap_or(QoS::AtMostOnce),
            retain: self.flags & 0b100 != 0,
            dup: self.flags & 0b1000 != 0,
        }
    }
}

/// Moves the first message of slot `index` into `buf`.
fn take<const BUF: usize, const SUBS: usize, const INBOX: usize>(
    i: &mut Inner<BUF, SUBS, INBOX>,
    index: usize,
    buf: &mut [u8],
) -> Result<Option<Taken>, SharedError> {
    let Some(slot) = i.slots.get_mut(index) else {
        return Ok(None);
    };
    let Some((&[flags, t0, t1, p0, p1, p2, p3], rest)) = slot.inbox.split_first_chunk::<MESSAGE_HEADER>()
    else {
        return Ok(None);
    };
    let topic_len = usize::from(u16::from_be_bytes([t0, t1]));
    let payload_len = usize::try_from(u32::from_be_bytes([p0, p1, p2, p3])).unwrap_or(usize::MAX);
    let needed = topic_len.saturating_add(payload_len);
    let (Some(dst), Some(src)) = (buf.get_mut(..needed), rest.get(..needed)) else {
        return Err(SharedError::BufferTooSmall { needed });
    };
    dst.copy_from_slice(src);
    let total = slot.inbox.len();
    crate::wire::shift_down(&mut slot.inbox, MESSAGE_HEADER + needed, 0);
    slot.inbox.truncate(total - MESSAGE_HEADER - needed);
    i.runner.wake();
    Ok(Some(Taken {
        flags,
        topic_len,
        payload_len,
    }))
}

/// Puts `message` into every inbox whose filter matches, once all of them have room;
/// `false` (with the runner's waker registered) while one has not.
fn deliver<const BUF: usize, const SUBS: usize, const INBOX: usize>(
    i: &mut Inner<BUF, SUBS, INBOX>,
    message: &Publish<'_>,
) -> bool {
    let topic = message.topic.as_str().as_bytes();
    let needed = MESSAGE_HEADER + topic.len() + message.payload.len();
    let mut matched = false;
    for slot in i.slots.iter().filter(|s| s.matches(message.topic)) {
        matched = true;
        if INBOX - slot.inbox.len() < needed {
            return false;
        }
    }
    if !matched {
        i.unrouted = i.unrouted.saturating_add(1);
        return true;
    }
    let flags = message.qos().as_u8() | (u8::from(message.retain) << 2) | (u8::from(message.dup) << 3);
    let [t0, t1] = u16::try_from(topic.len()).unwrap_or(u16::MAX).to_be_bytes();
    let [p0, p1, p2, p3] = u32::try_from(message.payload.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    for slot in i.slots.iter_mut() {
        if slot.matches(message.topic) {
            let _ = slot.inbox.extend_from_slice(&[flags, t0, t1, p0, p1, p2, p3]);
            let _ = slot.inbox.extend_from_slice(topic);
            let _ = slot.inbox.extend_from_slice(message.payload);
            slot.waker.wake();
        }
    }
    true
}

/// How the [`Runner`] gets a connection back after it failed.
#[allow(async_fn_in_trait)]
pub trait Reconnect<T: ErrorType> {
    /// Called before each attempt (`attempt` counts the attempts in a row, from 1): wait
    /// here to back off, then return a new transport, or `None` to reopen the current one
    /// through [`AsyncTransport::reconnect`] (an embassy-net socket connects again in
    /// place).
    ///
    /// # Errors
    /// The transport's error when a new one cannot be opened; the runner tries again.
    async fn reconnect(&mut self, attempt: u32) -> Result<Option<T>, T::Error>;
}

/// A [`Reconnect`] from an [`AsyncConnector`]: every attempt opens a new transport.
#[derive(Debug)]
pub struct Connector<C>(pub C);

impl<T: ErrorType, C: AsyncConnector<T>> Reconnect<T> for Connector<C> {
    async fn reconnect(&mut self, attempt: u32) -> Result<Option<T>, T::Error> {
        self.0.open(attempt).await.map(Some)
    }
}

/// What a request asks of the runner, read from the queue.
#[derive(Clone, Copy)]
enum Work {
    Publish {
        qos: QoS,
        retain: bool,
        topic_len: usize,
        payload_len: usize,
    },
    Subscribe(usize),
    Unsubscribe(usize),
}

/// The task that owns the connection: run [`run`](Self::run) in its own task.
///
/// `N`/`S`: the session's in-flight messages and re-send store (as for
/// [`AsyncMqttClient`]); `BUF`/`SUBS`/`INBOX`: the [`Shared`] it serves. The runner keeps a
/// `BUF`-byte copy of the request it works on.
pub struct Runner<
    's,
    'b,
    T: AsyncTransport,
    C,
    M: RawMutex,
    const N: usize = 8,
    const S: usize = 1024,
    const BUF: usize = 512,
    const SUBS: usize = 4,
    const INBOX: usize = 1024,
> {
    shared: &'s Shared<M, BUF, SUBS, INBOX>,
    driver: Driver<'b, T, N, S>,
    connector: C,
    log: Option<LogHook<'b, T::Error>>,
    work: [u8; BUF],
    /// QoS 1/2 messages sent and not yet acknowledged, with their request's sequence number.
    in_flight: Vec<(PacketId, u32), N>,
    /// The first request waits for an acknowledgement to free room in the session.
    blocked: bool,
}

impl<'s, 'b, T, C, M, const N: usize, const S: usize, const BUF: usize, const SUBS: usize, const INBOX: usize>
    Runner<'s, 'b, T, C, M, N, S, BUF, SUBS, INBOX>
where
    T: AsyncTransport,
    C: Reconnect<T>,
    M: RawMutex,
{
    /// A runner for `shared` that drives `client` (its transport is used for the first
    /// connection) and gets the connection back through `connector` after a failure.
    ///
    /// # Errors
    /// [`SharedError::InboxTooSmall`] when a message that fits the client's receive buffer
    /// would not fit an inbox.
    pub fn new(
        shared: &'s Shared<M, BUF, SUBS, INBOX>,
        client: AsyncMqttClient<'b, T, N, S>,
        connector: C,
    ) -> Result<Self, SharedError> {
        let needed = client.0.core.rx_len() + MESSAGE_HEADER;
        if needed > INBOX {
            return Err(SharedError::InboxTooSmall {
                needed,
                capacity: INBOX,
            });
        }
        Ok(Self {
            shared,
            driver: client.0,
            connector,
            log: None,
            work: [0; BUF],
            in_flight: Vec::new(),
            blocked: false,
        })
    }

    /// Sees every error that leads to a reconnection, and every packet skipped for being
    /// larger than the receive buffer.
    pub fn set_log(&mut self, log: LogHook<'b, T::Error>) {
        self.log = Some(log);
    }

    /// Connects and serves the handles for as long as it can: connection failures are
    /// retried through the connector. Returns only a fatal error (a refused CONNECT, a
    /// protocol violation by the server); every waiting task then gets
    /// [`SharedError::Stopped`].
    pub async fn run(&mut self) -> ClientError<T::Error> {
        let Err(e) = self.serve().await;
        self.shared.with(|i| {
            i.stopped = true;
            i.waiters.wake();
            for slot in &mut i.slots {
                slot.waker.wake();
            }
        });
        e
    }

    async fn serve(&mut self) -> Result<Infallible, ClientError<T::Error>> {
        if let Err(e) = self.connect().await {
            self.retry_or_fail(e)?;
            self.reconnect().await?;
        }
        loop {
            if let Err(e) = self.step().await {
                self.retry_or_fail(e)?;
                self.reconnect().await?;
            }
        }
    }

    /// `Ok` (after logging) for a connection failure, which the caller retries.
    fn retry_or_fail(&mut self, e: ClientError<T::Error>) -> Result<(), ClientError<T::Error>> {
        if !is_connection_failure(&e) {
            return Err(e);
        }
        if let Some(log) = self.log.as_mut() {
            log(&e);
        }
        Ok(())
    }

    /// Opens the session on the current transport, renews the subscriptions if the server
    /// lost it, and re-sends what is unacknowledged.
    async fn connect(&mut self) -> Result<(), ClientError<T::Error>> {
        if !self.driver.open_session(false).await? {
            for index in 0..SUBS {
                let Some((len, qos)) = self.shared.with(|i| {
                    let slot = i.slots.get(index).filter(|s| s.state == SlotState::Active)?;
                    let dst = self.work.get_mut(..slot.filter.len())?;
                    dst.copy_from_slice(slot.filter.as_bytes());
                    Some((slot.filter.len(), slot.qos))
                }) else {
                    continue;
                };
                let filter =
                    core::str::from_utf8(self.work.get(..len).unwrap_or_default()).unwrap_or_default();
                self.driver.subscribe(filter, qos).await?;
            }
        }
        self.driver.resend().await
    }

    /// Opens new transports until a connection is up again.
    async fn reconnect(&mut self) -> Result<(), ClientError<T::Error>> {
        let mut attempt = 0u32;
        loop {
            attempt = attempt.saturating_add(1);
            let result = match self.connector.reconnect(attempt).await {
                Ok(Some(transport)) => {
                    drop(self.driver.replace_transport(transport));
                    self.connect().await
                }
                // `connect` reopens the used transport through `AsyncTransport::reconnect`.
                Ok(None) => self.connect().await,
                Err(e) => Err(ClientError::Io(e)),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) => self.retry_or_fail(e)?,
            }
        }
    }

    /// One unit of work: a dropped subscription, the first request, or one packet in.
    async fn step(&mut self) -> Result<(), ClientError<T::Error>> {
        if let Some(index) = self.dropped_slot() {
            return self.unsubscribe(index, None).await;
        }
        if !self.blocked
            && let Some((work, seq)) = self.first_request()
        {
            return self.serve_request(work, seq).await;
        }
        self.driver.begin(false).await?;
        let shared = self.shared;
        if self.driver.core.has_held() {
            if let Some(message) = self.driver.core.pop_held() {
                hand_over(shared, &message).await;
            }
            return Ok(());
        }
        let blocked = self.blocked;
        let wake = poll_fn(|cx| {
            shared.with(|i| {
                let work = (!blocked && !i.requests.is_empty())
                    || i.slots.iter().any(|s| s.state == SlotState::Dropped);
                if work {
                    Poll::Ready(())
                } else {
                    i.runner.register(cx.waker());
                    Poll::Pending
                }
            })
        });
        match self.driver.next_step_or(true, wake).await? {
            Some(Step::Message) => {
                if let Some(message) = self.driver.core.handed() {
                    hand_over(shared, &message).await;
                }
            }
            Some(Step::Published(id)) => {
                self.blocked = false;
                if let Some(at) = self.in_flight.iter().position(|(i, _)| *i == id) {
                    let (_, seq) = self.in_flight.swap_remove(at);
                    finish(shared, seq, Outcome::Done);
                }
            }
            Some(Step::Skipped(packet_type, len)) => {
                if let Some(log) = self.log.as_mut() {
                    log(&ClientError::PacketTooLarge { packet_type, len });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dropped_slot(&self) -> Option<usize> {
        self.shared
            .with(|i| i.slots.iter().position(|s| s.state == SlotState::Dropped))
    }

    /// Copies the first request into `work`.
    fn first_request(&mut self) -> Option<(Work, u32)> {
        let work = &mut self.work;
        self.shared.with(|i| {
            let (record, seq) = Record::read(&i.requests)?;
            let what = match record.kind {
                PUBLISH => {
                    let (topic, payload) = (record.topic, record.payload);
                    work.get_mut(..topic.len())?.copy_from_slice(topic);
                    work.get_mut(topic.len()..topic.len() + payload.len())?
                        .copy_from_slice(payload);
                    Work::Publish {
                        qos: QoS::from_u8(record.flags & 0b11)?,
                        retain: record.flags & 0b100 != 0,
                        topic_len: topic.len(),
                        payload_len: payload.len(),
                    }
                }
                SUBSCRIBE => Work::Subscribe(usize::from(record.flags)),
                _ => Work::Unsubscribe(usize::from(record.flags)),
            };
            Some((what, seq))
        })
    }

    /// Removes the first request from the queue.
    fn pop_request(&mut self) {
        self.shared.with(|i| {
            if let Some((record, _)) = Record::read(&i.requests) {
                let len = record.len();
                let total = i.requests.len();
                crate::wire::shift_down(&mut i.requests, len, 0);
                i.requests.truncate(total - len);
                i.waiters.wake();
            }
        });
    }

    /// Works on the first request. A connection failure leaves it queued, to be served
    /// again after the reconnection; any other outcome removes it and reports it.
    async fn serve_request(&mut self, work: Work, seq: u32) -> Result<(), ClientError<T::Error>> {
        match work {
            Work::Publish {
                qos,
                retain,
                topic_len,
                payload_len,
            } => {
                let (topic, rest) = self.work.split_at(topic_len.min(BUF));
                let topic = core::str::from_utf8(topic).unwrap_or_default();
                let payload = rest.get(..payload_len).unwrap_or_default();
                if qos == QoS::AtMostOnce {
                    let result = self.driver.publish(topic, payload, retain, qos).await;
                    return self.finish_request(seq, result.map(|()| Outcome::Done)).await;
                }
                match self.driver.queue(topic, payload, retain, qos).await {
                    Ok(id) => {
                        // In the session now: it is re-sent after any reconnection.
                        self.pop_request();
                        let _ = self.in_flight.push((id, seq));
                        self.driver.send_queued(id).await
                    }
                    Err(ClientError::Protocol(
                        ProtocolError::InflightFull | ProtocolError::StoreFull { .. },
                    )) if !self.in_flight.is_empty() => {
                        // Waits for an acknowledgement to make room.
                        self.blocked = true;
                        Ok(())
                    }
                    Err(e) => self.finish_request(seq, Err(e)).await,
                }
            }
            Work::Subscribe(index) => {
                let Some((len, qos)) = self.copy_filter(index) else {
                    return self
                        .finish_request(seq, Ok(Outcome::Failed(SharedError::Stopped)))
                        .await;
                };
                let filter =
                    core::str::from_utf8(self.work.get(..len).unwrap_or_default()).unwrap_or_default();
                let result = self.driver.subscribe(filter, qos).await;
                if result.is_err() && !matches!(&result, Err(e) if is_connection_failure(e)) {
                    self.shared.with(|i| release(i, index));
                } else if result.is_ok() {
                    self.shared.with(|i| {
                        if let Some(slot) = i.slots.get_mut(index)
                            && slot.state == SlotState::Subscribing
                        {
                            slot.state = SlotState::Active;
                        }
                    });
                }
                self.finish_request(seq, result.map(Outcome::Granted)).await
            }
            Work::Unsubscribe(index) => self.unsubscribe(index, Some(seq)).await,
        }
    }

    /// Unsubscribes slot `index` and frees it; reports to request `seq` if there is one.
    async fn unsubscribe(&mut self, index: usize, seq: Option<u32>) -> Result<(), ClientError<T::Error>> {
        let result = match self.copy_filter(index) {
            Some((len, _)) => {
                let filter =
                    core::str::from_utf8(self.work.get(..len).unwrap_or_default()).unwrap_or_default();
                self.driver.unsubscribe(filter).await
            }
            None => Ok(()),
        };
        if !matches!(&result, Err(e) if is_connection_failure(e)) {
            self.shared.with(|i| release(i, index));
        }
        match seq {
            Some(seq) => self.finish_request(seq, result.map(|()| Outcome::Done)).await,
            None => result,
        }
    }

    /// Copies slot `index`'s filter into `work`: its length and QoS.
    fn copy_filter(&mut self, index: usize) -> Option<(usize, QoS)> {
        let work = &mut self.work;
        self.shared.with(|i| {
            let slot = i.slots.get(index).filter(|s| s.state != SlotState::Free)?;
            work.get_mut(..slot.filter.len())?
                .copy_from_slice(slot.filter.as_bytes());
            Some((slot.filter.len(), slot.qos))
        })
    }

    /// Ends request `seq`: a connection failure is handed back (the request stays queued);
    /// anything else is removed from the queue and reported to its task.
    async fn finish_request(
        &mut self,
        seq: u32,
        result: Result<Outcome, ClientError<T::Error>>,
    ) -> Result<(), ClientError<T::Error>> {
        let outcome = match result {
            Ok(outcome) => outcome,
            // The request stays queued; a refused connection ends the runner.
            Err(e @ (ClientError::ConnectionRefused(_) | ClientError::Io(_))) => return Err(e),
            Err(e) if is_connection_failure(&e) => return Err(e),
            Err(e) => Outcome::Failed(shared_error(e)),
        };
        self.pop_request();
        finish(self.shared, seq, outcome);
        Ok(())
    }
}

/// The part of a client error that a task can act on.
fn shared_error<E>(e: ClientError<E>) -> SharedError {
    match e {
        ClientError::MessageTooLarge { needed, capacity } => {
            SharedError::MessageTooLarge { needed, capacity }
        }
        ClientError::InvalidTopic(e) => SharedError::InvalidTopic(e),
        ClientError::SubscribeRefused => SharedError::SubscribeRefused,
        ClientError::Encode(e) => SharedError::Encode(e),
        ClientError::Protocol(e) => SharedError::Protocol(e),
        _ => SharedError::Stopped,
    }
}

/// Hands an incoming message to the matching subscriptions, waiting for inbox room.
async fn hand_over<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize>(
    shared: &Shared<M, BUF, SUBS, INBOX>,
    message: &Publish<'_>,
) {
    poll_fn(|cx| {
        shared.with(|i| {
            if deliver(i, message) {
                Poll::Ready(())
            } else {
                i.runner.register(cx.waker());
                Poll::Pending
            }
        })
    })
    .await;
}

/// Leaves `outcome` for the task waiting on request `seq`, or drops it when no task
/// waits (`try_publish`, or a task that gave up).
fn finish<M: RawMutex, const BUF: usize, const SUBS: usize, const INBOX: usize>(
    shared: &Shared<M, BUF, SUBS, INBOX>,
    seq: u32,
    outcome: Outcome,
) {
    shared.with(|i| {
        if i.waiting.contains(&seq) {
            // Cannot fail: every outcome belongs to a waiting request and this one has
            // none yet, so there are fewer outcomes than waiting requests.
            let _ = i.outcomes.push((seq, outcome));
            i.waiters.wake();
        }
    });
}
