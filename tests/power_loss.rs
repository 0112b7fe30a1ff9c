//! Power loss at every step of the QoS 1 and QoS 2 flows, in both directions, against the
//! suite's mosquitto with persistent sessions.
//!
//! Every write the client makes after it is connected, to the transport or to its session
//! store, is one step. For each step the flow is run again with the power cut just
//! before that write (it does not happen) or just after it; from then on every read and
//! write fails, as on a dead device. Then everything but the store (a [`RamStore`] standing
//! for flash) is dropped, a new client restores from the store, connects with
//! `clean_session = false` and finishes. An independent `mosquitto_sub` counts what the
//! server delivered; the receiving application counts what it got.
//!
//! What must hold, at every step:
//! * the writes come in the order "store, then the packet that depends on it";
//! * publishing: a message is lost only when the power went before its first store write
//!   (`publish` had not accepted it); otherwise QoS 1 arrives at least once and QoS 2
//!   exactly once;
//! * receiving: nothing is lost; the application gets a message again only when the power
//!   went before the client recorded that the application had finished with it (its next
//!   call's first write), never after.

#![cfg(feature = "std")]

#[path = "support/broker.rs"]
mod broker;
#[path = "support/tokio_tcp.rs"]
mod tokio_tcp;

use std::cell::{Cell, RefCell};
use std::io;
use std::time::{Duration, Instant};

use broker::{Broker, Sub, mosquitto_pub, mosquitto_sub, unique};
use embedded_io::{ErrorType, Read, Write};
use umqtt::QoS;
use umqtt::client::std_net::TcpTransport;
use umqtt::client::store::{RamStore, Records, SessionStore, StoreError};
use umqtt::client::{AsyncMqttClient, AsyncTransport, MqttClient, RobustClient, Transport};

/// Where the power goes: before or after write number `at` (counted from 0 once armed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    at: usize,
    after: bool,
}

/// The device's power: counts the writes and fails everything once it is gone.
struct Power {
    cut: Option<Cut>,
    armed: Cell<bool>,
    count: Cell<usize>,
    dead: Cell<bool>,
    writes: RefCell<Vec<&'static str>>,
}

impl Power {
    fn new(cut: Option<Cut>) -> Self {
        Self {
            cut,
            armed: Cell::new(false),
            count: Cell::new(0),
            dead: Cell::new(false),
            writes: RefCell::default(),
        }
    }

    /// Asks to make a write of kind `what`: `false` when the power is (now) gone.
    fn before(&self, what: &'static str) -> bool {
        if self.dead.get() {
            return false;
        }
        if !self.armed.get() {
            return true;
        }
        let n = self.count.get();
        self.count.set(n + 1);
        self.writes.borrow_mut().push(what);
        if self.cut == Some(Cut { at: n, after: false }) {
            self.dead.set(true);
            return false;
        }
        true
    }

    /// The write asked for last is done.
    fn after(&self) {
        if self.armed.get()
            && self.cut
                == Some(Cut {
                    at: self.count.get() - 1,
                    after: true,
                })
        {
            self.dead.set(true);
        }
    }

    fn lost() -> io::Error {
        io::Error::other("power lost")
    }
}

/// The device's network: a TCP transport that dies with the power.
struct Net<'p> {
    tcp: TcpTransport,
    power: &'p Power,
}

impl ErrorType for Net<'_> {
    type Error = io::Error;
}

impl Read for Net<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.read(buf)
    }
}

impl Write for Net<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.power.before("net") {
            return Err(Power::lost());
        }
        let n = self.tcp.write(buf)?;
        self.power.after();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.flush()
    }
}

impl Transport for Net<'_> {
    fn now_ms(&mut self) -> u64 {
        self.tcp.now_ms()
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.wait_readable(timeout_ms)
    }
}

/// The async device's network: the same over tokio.
struct AsyncNet<'p> {
    tcp: tokio_tcp::TokioTcp,
    power: &'p Power,
}

impl ErrorType for AsyncNet<'_> {
    type Error = io::Error;
}

impl embedded_io_async::Read for AsyncNet<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.read(buf).await
    }
}

impl embedded_io_async::Write for AsyncNet<'_> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.power.before("net") {
            return Err(Power::lost());
        }
        let n = self.tcp.write(buf).await?;
        self.power.after();
        Ok(n)
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.flush().await
    }
}

impl AsyncTransport for AsyncNet<'_> {
    fn now_ms(&mut self) -> u64 {
        self.tcp.now_ms()
    }

    async fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        if self.power.dead.get() {
            return Err(Power::lost());
        }
        self.tcp.wait_readable(timeout_ms).await
    }
}

/// Which client runs the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Blocking,
    Robust,
    Async,
}

/// The device publishes one message with `flavor`'s client over `power`, with its session
/// in `store`: first `publish` (first life), or `connect` and `wait_acked` (second life).
fn device_publish(
    flavor: Flavor,
    broker: &Broker,
    power: &Power,
    store: &mut dyn SessionStore,
    (id, topic, qos): (&str, &str, QoS),
    first_life: bool,
) {
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    match flavor {
        Flavor::Blocking | Flavor::Robust => {
            let net = Net {
                tcp: tcp(broker),
                power,
            };
            let mut c: MqttClient<_> = MqttClient::new(net, id, &mut rx, &mut tx);
            c.set_store(store).expect("restore");
            if flavor == Flavor::Robust {
                // Reconnects until the power is gone.
                let connector = || match power.dead.get() {
                    true => Err(Power::lost()),
                    false => Ok(Net {
                        tcp: tcp(broker),
                        power,
                    }),
                };
                let mut r: RobustClient<_, _> = RobustClient::new(c, connector);
                r.set_max_attempts(Some(3));
                r.connect().expect("connect");
                if first_life {
                    power.armed.set(true);
                    let result = r.publish(topic, b"m", false, qos);
                    assert!(result.is_ok() || power.dead.get(), "{result:?}");
                } else {
                    r.client_mut().wait_acked().expect("wait_acked");
                    r.disconnect().expect("disconnect");
                }
                return;
            }
            c.connect(false).expect("connect");
            if first_life {
                power.armed.set(true);
                // A publish that failed was cut by the power (one that succeeded may have
                // been cut after its last write).
                let result = c.publish(topic, b"m", false, qos);
                assert!(result.is_ok() || power.dead.get(), "{result:?}");
            } else {
                c.wait_acked().expect("wait_acked");
                assert_eq!(c.session().unacked_messages(), 0);
                c.disconnect().expect("disconnect");
            }
        }
        Flavor::Async => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let net = AsyncNet {
                    tcp: tokio_tcp::TokioTcp::connect(broker.addr()).await,
                    power,
                };
                let mut c: AsyncMqttClient<_> = AsyncMqttClient::new(net, id, &mut rx, &mut tx);
                c.set_store(store).expect("restore");
                c.connect(false).await.expect("connect");
                if first_life {
                    power.armed.set(true);
                    let result = c.publish(topic, b"m", false, qos).await;
                    assert!(result.is_ok() || power.dead.get(), "{result:?}");
                } else {
                    c.wait_acked().await.expect("wait_acked");
                    c.disconnect().await.expect("disconnect");
                }
            });
        }
    }
}

/// The device's flash: the store survives, the writes to it die with the power.
struct Flash<'a, 'p> {
    store: &'a mut RamStore<4096>,
    power: &'p Power,
}

impl Flash<'_, '_> {
    fn write<R>(
        &mut self,
        op: impl FnOnce(&mut RamStore<4096>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        if !self.power.before("store") {
            return Err(StoreError::Io);
        }
        let r = op(self.store)?;
        self.power.after();
        Ok(r)
    }
}

impl SessionStore for Flash<'_, '_> {
    fn append(&mut self, head: &[u8], tail: &[u8]) -> Result<(), StoreError> {
        self.write(|s| s.append(head, tail))
    }

    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.store.replay(f)
    }

    fn replace(&mut self, records: &dyn Records) -> Result<(), StoreError> {
        self.write(|s| s.replace(records))
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.write(|s| s.clear())
    }
}

fn tcp(broker: &Broker) -> TcpTransport {
    let t = TcpTransport::connect(broker.addr()).expect("connect");
    t.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    t
}

/// Lines `sub` prints within `wait` (it waits for at least `min` of them, then a little
/// longer in case a duplicate follows).
fn settle(sub: &Sub, min: usize, wait: Duration) -> Vec<String> {
    let _ = sub.wait_lines(min, wait);
    std::thread::sleep(Duration::from_millis(300));
    sub.lines()
}

/// One publishing run: the first life publishes one message with the power cut at `cut`,
/// the second restores and finishes. Returns the writes of the first life and how many
/// times the subscriber got the message.
fn publish_run(broker: &Broker, flavor: Flavor, qos: QoS, cut: Option<Cut>) -> (Vec<&'static str>, usize) {
    let id = unique("pl-pub");
    let topic = unique("pl/pub");
    let watcher = mosquitto_sub(broker.port(), &["-t", &topic, "-q", "2"]);
    watcher.wait_ready();
    let mut flash = RamStore::<4096>::new();
    let job = (id.as_str(), topic.as_str(), qos);
    let power = Power::new(cut);
    let mut store = Flash {
        store: &mut flash,
        power: &power,
    };
    device_publish(flavor, broker, &power, &mut store, job, true);
    let writes = power.writes.take();
    let power = Power::new(None);
    let mut store = Flash {
        store: &mut flash,
        power: &power,
    };
    device_publish(flavor, broker, &power, &mut store, job, false);
    assert_eq!(flash.used(), 0, "a settled session leaves an empty store");
    let got = settle(&watcher, 1, Duration::from_secs(2));
    assert!(got.iter().all(|l| l == "m"), "{got:?}");
    (writes, got.len())
}

/// One receiving run: an outside client publishes one message to the device, whose first
/// life takes it with `wait_msg` and then finishes the flow with `check_msg` calls, with
/// the power cut at `cut`; the second life restores and drains. Returns the first life's
/// writes and how many times the application got the message in each life.
fn receive_run(broker: &Broker, qos: QoS, cut: Option<Cut>) -> (Vec<&'static str>, usize, usize) {
    let id = unique("pl-sub");
    let topic = unique("pl/sub");
    let qos_arg = qos.as_u8().to_string();
    let mut flash = RamStore::<4096>::new();
    let (writes, first) = {
        let power = Power::new(cut);
        let mut store = Flash {
            store: &mut flash,
            power: &power,
        };
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let net = Net {
            tcp: tcp(broker),
            power: &power,
        };
        let mut c: MqttClient<_> = MqttClient::new(net, &id, &mut rx, &mut tx);
        c.set_store(&mut store).expect("empty store");
        c.connect(false).expect("first connect");
        c.subscribe(&topic, qos).expect("subscribe");
        let out = mosquitto_pub(broker.port(), &["-t", &topic, "-m", "m", "-q", &qos_arg]);
        assert!(out.status.success(), "{out:?}");
        power.armed.set(true);
        let m = c.wait_msg().expect("wait_msg").expect("a message");
        assert_eq!((m.topic.as_str(), m.payload), (topic.as_str(), &b"m"[..]));
        // The application has finished with it: the next calls acknowledge it and take
        // the rest of the flow.
        let started = Instant::now();
        while !power.dead.get() && started.elapsed() < Duration::from_secs(5) {
            let got = c.check_msg().map(|m| m.map(|m| m.payload.to_vec()));
            match got {
                Ok(None) if c.session().incoming_qos2() == 0 && !power.writes.borrow().is_empty() => break,
                Ok(None) => {}
                Ok(Some(m)) => panic!("a second message: {m:?}"),
                Err(e) => assert!(power.dead.get(), "{e}"),
            }
        }
        (power.writes.take(), 1)
    };
    let power = Power::new(None);
    let mut store = Flash {
        store: &mut flash,
        power: &power,
    };
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let net = Net {
        tcp: tcp(broker),
        power: &power,
    };
    let mut c: MqttClient<_> = MqttClient::new(net, &id, &mut rx, &mut tx);
    c.set_store(&mut store).expect("restore");
    assert!(
        c.connect(false).expect("second connect"),
        "the server kept the session"
    );
    let mut again = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        if let Some(m) = c.check_msg().expect("check_msg") {
            assert_eq!(m.payload, b"m");
            again += 1;
        }
    }
    // Acknowledges the last one, if any, and lets the flow end.
    while c.session().incoming_qos2() > 0 && started.elapsed() < Duration::from_secs(5) {
        c.check_msg().expect("check_msg");
    }
    assert_eq!(c.session().incoming_qos2(), 0);
    c.disconnect().expect("disconnect");
    drop(c);
    assert_eq!(flash.used(), 0, "a settled session leaves an empty store");
    (writes, first, again)
}

/// Every cut for a flow of `steps` writes: before and after each.
fn cuts(steps: usize) -> impl Iterator<Item = Cut> {
    (0..steps).flat_map(|at| [Cut { at, after: false }, Cut { at, after: true }])
}

/// Publishes at QoS 1 with the power cut at every step: stored, sent, and the store
/// emptied once PUBACK arrived.
fn qos1_publish(flavor: Flavor) {
    let broker = Broker::start();
    let (writes, got) = publish_run(&broker, flavor, QoS::AtLeastOnce, None);
    assert_eq!(writes, ["store", "net", "store"]);
    assert_eq!(got, 1);
    for cut in cuts(writes.len()) {
        let (_, got) = publish_run(&broker, flavor, QoS::AtLeastOnce, Some(cut));
        if cut == (Cut { at: 0, after: false }) {
            assert_eq!(got, 0, "{cut:?}: publish had not accepted it");
        } else {
            assert!((1..=2).contains(&got), "{cut:?}: delivered {got} times");
        }
    }
}

/// Publishes at QoS 2 with the power cut at every step: PUBLISH stored then sent, PUBREC
/// recorded before the PUBREL, the store emptied at PUBCOMP.
fn qos2_publish(flavor: Flavor) {
    let broker = Broker::start();
    let (writes, got) = publish_run(&broker, flavor, QoS::ExactlyOnce, None);
    assert_eq!(writes, ["store", "net", "store", "net", "store"]);
    assert_eq!(got, 1);
    for cut in cuts(writes.len()) {
        let (_, got) = publish_run(&broker, flavor, QoS::ExactlyOnce, Some(cut));
        let want = usize::from(cut != (Cut { at: 0, after: false }));
        assert_eq!(got, want, "{cut:?}");
    }
}

#[test]
fn power_loss_qos1_publish_at_every_step() {
    qos1_publish(Flavor::Blocking);
}

#[test]
fn power_loss_qos2_publish_at_every_step() {
    qos2_publish(Flavor::Blocking);
}

#[test]
fn power_loss_qos1_publish_through_robust_client_at_every_step() {
    qos1_publish(Flavor::Robust);
}

#[test]
fn power_loss_qos2_publish_through_robust_client_at_every_step() {
    qos2_publish(Flavor::Robust);
}

#[test]
fn power_loss_qos2_publish_async_at_every_step() {
    qos2_publish(Flavor::Async);
}

#[test]
fn power_loss_qos1_receive_at_every_step() {
    let broker = Broker::start();
    let (writes, first, again) = receive_run(&broker, QoS::AtLeastOnce, None);
    // Nothing to store for QoS 1: the PUBACK goes out once the application is done.
    assert_eq!(writes, ["net"]);
    assert_eq!((first, again), (1, 0));
    for cut in cuts(writes.len()) {
        let (_, first, again) = receive_run(&broker, QoS::AtLeastOnce, Some(cut));
        // Without the PUBACK the server sends it again: not lost.
        let want = usize::from(!cut.after);
        assert_eq!((first, again), (1, want), "{cut:?}");
    }
}

#[test]
fn power_loss_qos2_receive_at_every_step() {
    let broker = Broker::start();
    let (writes, first, again) = receive_run(&broker, QoS::ExactlyOnce, None);
    // Recorded before the PUBREC; emptied at PUBREL before the PUBCOMP.
    assert_eq!(writes, ["store", "net", "store", "net"]);
    assert_eq!((first, again), (1, 0));
    for cut in cuts(writes.len()) {
        let (_, first, again) = receive_run(&broker, QoS::ExactlyOnce, Some(cut));
        // Only a cut before the first write (the application's "done") brings it again.
        let want = usize::from(cut == (Cut { at: 0, after: false }));
        assert_eq!((first, again), (1, want), "{cut:?}");
    }
}

/// A `RobustClient` keeps its subscriptions in a store of their own: after a device reset
/// and a broker restart that lost every session, the new client restores them, renews them
/// when the broker answers Session Present = 0, and receives on them with no `subscribe`
/// call by the application.
#[test]
fn power_loss_robust_client_renews_its_stored_subscriptions() {
    let mut broker = Broker::start();
    let id = unique("pl-subs");
    let topic = unique("pl/subs");
    let mut subscription_flash = RamStore::<512>::new();
    {
        let power = Power::new(None);
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let net = Net {
            tcp: tcp(&broker),
            power: &power,
        };
        let c: MqttClient<_> = MqttClient::new(net, &id, &mut rx, &mut tx);
        let connector = || Err(io::Error::other("no reconnect in this life"));
        let mut r: RobustClient<_, _> = RobustClient::new(c, connector);
        r.set_subscription_store(&mut subscription_flash)
            .expect("empty store");
        r.connect().expect("connect");
        r.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe");
        r.subscribe("pl/other", QoS::AtMostOnce).expect("subscribe");
        r.unsubscribe("pl/other").expect("unsubscribe");
        // The power goes: no DISCONNECT.
    }
    // Without persistence the broker forgets every session.
    broker.restart();
    let power = Power::new(None);
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let net = Net {
        tcp: tcp(&broker),
        power: &power,
    };
    let c: MqttClient<_> = MqttClient::new(net, &id, &mut rx, &mut tx);
    let connector = || Err(io::Error::other("no reconnect in this life"));
    let mut r: RobustClient<_, _> = RobustClient::new(c, connector);
    r.set_subscription_store(&mut subscription_flash)
        .expect("restore");
    let restored: Vec<(String, QoS)> = r.subscriptions().map(|(t, q)| (t.to_owned(), q)).collect();
    assert_eq!(restored, [(topic.clone(), QoS::AtLeastOnce)]);
    assert!(!r.connect().expect("connect"), "the broker lost the session");
    let out = mosquitto_pub(broker.port(), &["-t", &topic, "-m", "after", "-q", "1"]);
    assert!(out.status.success(), "{out:?}");
    let started = Instant::now();
    let mut got = None;
    while got.is_none() && started.elapsed() < Duration::from_secs(5) {
        if let Some(m) = r.check_msg().expect("check_msg") {
            got = Some((m.topic.as_str().to_owned(), m.payload.to_vec()));
        }
    }
    assert_eq!(got, Some((topic, b"after".to_vec())));
}
