//! Fault-injection tests of the no-loss guarantees, over an in-process simulated broker.
//!
//! Every test runs many seeds (500 by default; `FAULT_SEEDS=n` and `FAULT_SEED_BASE=b` replay
//! other ranges). A seed decides everything: which messages are published (QoS 1 or 2,
//! some larger than the 64-byte transmit buffer so the payload is written separately), and
//! the faults of every connection ([`Faulty`]: cut after N bytes or strictly inside a packet,
//! on the read or write side, showing as a reset, an abort, a timeout or end of stream;
//! short reads and writes of one byte). The broker ([`SimBroker`]) keeps its state across
//! connections, so each reconnection gets a fresh faulty transport to the same broker.
//!
//! The invariant checked ("no loss"):
//! * a QoS 1/2 `publish` that returned `Ok` has been accepted by the broker when it returns;
//! * a `publish` that returned `Err` left its message accepted by the broker or queued in
//!   the session for re-sending (found in `Session::resend`), and it stays so until it is
//!   accepted;
//! * after a final fault-free reconnection every message is accepted; QoS 2 messages are
//!   accepted exactly once (the broker de-duplicates by packet id until PUBREL); QoS 1
//!   duplicates are allowed and counted;
//! * errors reaching the caller are typed `ClientError`s of the kinds the faults can cause
//!   (transport errors, end of stream, a deadline on a link that went silent), never a
//!   panic, a desynchronised stream (malformed packet, unknown packet id) or a wait for a
//!   packet the broker never sends.
//!
//! Each test prints one summary line: `seeds=500 published=N acked=N lost=0 duplicates=N`.
//! `FAULT_DEBUG=1` makes the RobustClient runs print every publish result.
//!
//! The last section reproduces, deterministically and one at a time, the bugs the random
//! runs found (all fixed since), as regression tests.

// Only the helpers this test needs, so that it does not depend on the rest of `support`.
#[path = "support/faulty.rs"]
mod faulty;
#[path = "support/sim_broker.rs"]
mod sim_broker;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use embedded_io::{ErrorKind, Write};
use faulty::{CutMode, FaultError, FaultPlan, Faulty, SplitMix64, Trigger};
use sim_broker::{SimBroker, SimBrokerTransport, SimError};
use umqtt::client::{ClientError, MqttClient, RobustClient};
use umqtt::session::{Event, Phase, ProtocolError, Session};
use umqtt::{Connect, ConnectReturnCode, Packet, QoS, TopicName};

type Tr = Faulty<SimBrokerTransport>;
type CErr = ClientError<FaultError<SimError>>;
type Client<'b> = MqttClient<'b, Tr, 8, 1024>;

/// Messages published per seed.
const MESSAGES: usize = 20;
/// Faulty connections are cut after at most this many bytes ...
const MAX_CUT_BYTES: u64 = 400;
/// ... or inside one of their first this many packets.
const MAX_CUT_PACKET: u64 = 12;
/// Reconnections allowed per seed before the test calls it a livelock.
const MAX_RECONNECTS: u64 = 5_000;

const CLIENT_ID: &str = "pub";

fn seeds() -> std::ops::Range<u64> {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let base = env("FAULT_SEED_BASE", 0);
    base..base + env("FAULT_SEEDS", 500)
}

#[derive(Debug, Clone)]
struct Msg {
    topic: &'static str,
    payload: Vec<u8>,
    qos: QoS,
}

/// `n` numbered messages, QoS 1 or 2 at random; one in five is padded beyond the transmit
/// buffer.
fn messages(rng: &mut SplitMix64, seed: u64, n: usize) -> Vec<Msg> {
    (0..n)
        .map(|i| {
            let qos = if rng.percent(50) {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let mut payload = format!("{seed}/{i}").into_bytes();
            if rng.percent(20) {
                let len = payload.len() + rng.range(60, 120) as usize;
                payload.resize(len, b'.');
            }
            let topic = if qos == QoS::AtLeastOnce {
                "seq/q1"
            } else {
                "seq/q2"
            };
            Msg { topic, payload, qos }
        })
        .collect()
}

/// Counters summed over all seeds of a property.
#[derive(Debug, Default, Clone)]
struct Tally {
    seeds: u64,
    published: u64,
    acked: u64,
    errors: u64,
    refused: u64,
    lost: u64,
    duplicates: u64,
    duplicates_without_dup: u64,
    qos2_duplicates: u64,
    qos2_suppressed: u64,
    reconnects: u64,
    connections: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.seeds += o.seeds;
        self.published += o.published;
        self.acked += o.acked;
        self.errors += o.errors;
        self.refused += o.refused;
        self.lost += o.lost;
        self.duplicates += o.duplicates;
        self.duplicates_without_dup += o.duplicates_without_dup;
        self.qos2_duplicates += o.qos2_duplicates;
        self.qos2_suppressed += o.qos2_suppressed;
        self.reconnects += o.reconnects;
        self.connections += o.connections;
    }

    /// Takes the broker's duplicate counters.
    fn broker(&mut self, broker: &SimBroker) {
        let s = broker.stats();
        self.duplicates += s.duplicates;
        self.duplicates_without_dup += s.duplicates_without_dup_flag;
        self.qos2_duplicates += s.qos2_duplicates;
        self.qos2_suppressed += s.qos2_resends_suppressed;
        self.connections += s.connections;
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "<non-string panic>".to_owned())
}

/// Runs `f` for every seed (catching panics, so a failing seed is named), prints the
/// summary line and returns the totals and the failures.
fn run_seeds(name: &str, f: impl Fn(u64, &mut Tally) -> Result<(), String>) -> (Tally, Vec<String>) {
    let started = Instant::now();
    let mut total = Tally::default();
    let mut failures = Vec::new();
    for seed in seeds() {
        let mut t = Tally {
            seeds: 1,
            ..Tally::default()
        };
        faulty::forget_silent_waits();
        match catch_unwind(AssertUnwindSafe(|| f(seed, &mut t))) {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failures.push(format!("seed {seed}: {why}")),
            Err(p) => failures.push(format!("seed {seed}: panicked: {}", panic_text(p.as_ref()))),
        }
        total.add(&t);
    }
    println!(
        "{name}: seeds={} published={} acked={} lost={} duplicates={} \
         (qos1 re-sent with DUP={}, without DUP={}; qos2 duplicates={}, qos2 re-sends suppressed={}) \
         errors={} refused={} reconnects={} connections={} failing_seeds={} in {:.2?}",
        total.seeds,
        total.published,
        total.acked,
        total.lost,
        total.duplicates,
        total.duplicates - total.duplicates_without_dup,
        total.duplicates_without_dup,
        total.qos2_duplicates,
        total.qos2_suppressed,
        total.errors,
        total.refused,
        total.reconnects,
        total.connections,
        failures.len(),
        started.elapsed()
    );
    (total, failures)
}

fn assert_no_failures(name: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{name}: {} seed(s) failed (first 20 shown; replay one with FAULT_SEED_BASE=<seed> FAULT_SEEDS=1):\n{}",
        failures.len(),
        failures
            .iter()
            .take(usize::MAX)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Errors the injected faults can legitimately cause. Anything else (a malformed packet,
/// an unknown packet id, a wait for a packet the broker never sends) means the client
/// lost track of the stream.
fn check_error(e: &CErr, t: &mut Tally) -> Result<(), String> {
    match e {
        ClientError::Io(FaultError::Injected(_) | FaultError::Inner(SimError::Closed))
        | ClientError::ConnectionClosed
        | ClientError::ConnectionRefused(ConnectReturnCode::ServerUnavailable) => Ok(()),
        ClientError::Protocol(ProtocolError::InflightFull | ProtocolError::StoreFull { .. }) => {
            t.refused += 1;
            Ok(())
        }
        ClientError::Timeout { .. } if faulty::waited_on_silent_link() => Ok(()),
        ClientError::Timeout { .. } | ClientError::Io(FaultError::Inner(SimError::WouldBlock)) => Err(
            format!("the client waited for a packet the broker never sends: {e}"),
        ),
        other => Err(format!("unexpected error {other:?}")),
    }
}

/// Whether the session still holds `payload` for re-sending.
fn queued<const N: usize, const S: usize>(session: &Session<N, S>, payload: &[u8]) -> bool {
    session
        .resend()
        .any(|p| matches!(p, Packet::Publish(p) if p.payload == payload))
}

fn accepted(broker: &SimBroker, m: &Msg) -> u32 {
    broker.accept_count(CLIENT_ID, m.topic, &m.payload)
}

/// What the final check found.
#[derive(Debug, Default)]
struct Problems {
    /// A message that was reported failed without being queued, or dropped from the queue.
    dropped: Vec<String>,
    /// A QoS 2 message accepted more than once, or a message published again as a new
    /// message (no DUP flag) after it had been accepted.
    twice: Vec<String>,
    /// Anything else.
    other: Vec<String>,
}

impl Problems {
    fn all(&self) -> Vec<String> {
        self.dropped
            .iter()
            .chain(&self.twice)
            .chain(&self.other)
            .cloned()
            .collect()
    }

    fn into_result(self) -> Result<(), String> {
        let all = self.all();
        if all.is_empty() {
            Ok(())
        } else {
            Err(all.join("; "))
        }
    }
}

/// After a final fault-free reconnection: every message accepted, QoS 2 exactly once.
/// Messages in `dropped` were reported lost already and are not counted again.
fn final_problems(broker: &SimBroker, msgs: &[Msg], dropped: &[usize], t: &mut Tally, p: &mut Problems) {
    for (i, m) in msgs.iter().enumerate() {
        let n = accepted(broker, m);
        if n == 0 && !dropped.contains(&i) {
            t.lost += 1;
            p.other
                .push(format!("message {i} ({:?}) was never accepted", m.qos));
        }
        if m.qos == QoS::ExactlyOnce && n > 1 {
            p.twice.push(format!("QoS 2 message {i} accepted {n} times"));
        }
    }
    let stats = broker.stats();
    if stats.duplicates_without_dup_flag > 0 {
        p.twice.push(format!(
            "{} message(s) accepted again from a PUBLISH without DUP (published twice)",
            stats.duplicates_without_dup_flag
        ));
    }
    if stats.stalls > 0 {
        p.other.push(format!("{} reads waited for nothing", stats.stalls));
    }
    if !stats.violations.is_empty() {
        p.other
            .push(format!("protocol violations: {:?}", stats.violations));
    }
    t.broker(broker);
}

fn final_check(broker: &SimBroker, msgs: &[Msg], dropped: &[usize], t: &mut Tally) -> Result<(), String> {
    let mut p = Problems::default();
    final_problems(broker, msgs, dropped, t, &mut p);
    p.into_result()
}

fn faulty(broker: &SimBroker, rng: &mut SplitMix64) -> Tr {
    Faulty::from_seed(broker.connect(), rng.fork(), MAX_CUT_BYTES, MAX_CUT_PACKET)
}

// ---------------------------------------------------------------------------------------------
// The fault injector itself
// ---------------------------------------------------------------------------------------------

fn encoded(p: &Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; p.encoded_len()];
    let n = p.encode(&mut buf).expect("encodable");
    buf.truncate(n);
    buf
}

fn connect_bytes(client_id: &str) -> Vec<u8> {
    encoded(&Packet::Connect(Connect {
        clean_session: false,
        keep_alive: 0,
        client_id,
        will: None,
        username: None,
        password: None,
    }))
}

#[test]
fn faulty_cuts_strictly_inside_the_chosen_packet_and_is_deterministic() {
    let topic = TopicName::new("a/b").unwrap();
    let publish = |i: u16, payload: &'static [u8]| {
        encoded(&Packet::Publish(umqtt::Publish::new(
            topic,
            payload,
            umqtt::Delivery::AtLeastOnce(umqtt::PacketId::new(i).unwrap()),
            false,
        )))
    };
    let mut stream = connect_bytes("cut");
    let p1 = publish(1, b"first");
    let p2 = publish(2, b"second, longer payload");
    stream.extend(&p1);
    stream.extend(&p2);
    for offset in [1usize, 2, 5, 1000] {
        let broker = SimBroker::new();
        let plan = FaultPlan {
            write_cut: Trigger::MidPacket { index: 2, offset },
            short_write_pct: 50,
            seed: 7,
            ..FaultPlan::none()
        };
        let mut t = Faulty::new(broker.connect(), plan);
        let err = t.write_all(&stream).expect_err("the cut must fire");
        assert_eq!(embedded_io::Error::kind(&err), ErrorKind::ConnectionReset);
        let sent = t.stats().bytes_written as usize;
        let start = stream.len() - p2.len();
        assert_eq!(sent, start + offset.clamp(1, p2.len() - 1), "offset {offset}");
        // The broker got CONNECT and the first PUBLISH, and a truncated second one.
        let accepted = broker.accepted();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].payload, b"first");
        assert!(t.is_cut());
        assert!(t.write(b"x").is_err(), "a cut connection stays dead");
        drop(t);
        assert_eq!(broker.stats().truncated_packets, 1);
    }
    // Same seed, same behaviour; the EOF mode shows as end of stream on reads.
    let run = |seed: u64| {
        let broker = SimBroker::new();
        let mut t = Faulty::from_seed(broker.connect(), seed, 60, 4);
        let mut log = Vec::new();
        log.push(format!("{:?}", t.write_all(&stream)));
        let mut buf = [0u8; 3];
        for _ in 0..6 {
            log.push(format!("{:?}", embedded_io::Read::read(&mut t, &mut buf)));
        }
        (log, t.stats(), *t.plan())
    };
    for seed in 0..200 {
        assert_eq!(run(seed), run(seed), "seed {seed}");
    }
    let eof = FaultPlan {
        read_cut: Trigger::AfterBytes(3),
        mode: CutMode::Eof,
        ..FaultPlan::none()
    };
    let broker = SimBroker::new();
    let mut t = Faulty::new(broker.connect(), eof);
    t.write_all(&connect_bytes("eof")).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(embedded_io::Read::read(&mut t, &mut buf).unwrap(), 3);
    assert_eq!(embedded_io::Read::read(&mut t, &mut buf).unwrap(), 0);
    assert_eq!(embedded_io::Read::read(&mut t, &mut buf).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// MqttClient, reconnected by hand
// ---------------------------------------------------------------------------------------------

/// Opens fresh faulty connections until `connect(false)` and `wait_acked` both succeed.
fn recover(
    client: &mut Client<'_>,
    broker: &SimBroker,
    rng: &mut SplitMix64,
    t: &mut Tally,
) -> Result<(), String> {
    for _ in 0..MAX_RECONNECTS {
        t.reconnects += 1;
        drop(client.replace_transport(faulty(broker, rng)));
        match client.connect(false).and_then(|_| client.wait_acked()) {
            Ok(()) => return Ok(()),
            Err(e) => check_error(&e, t)?,
        }
    }
    Err("no progress after many reconnections".to_owned())
}

fn mqtt_client_seed(seed: u64, t: &mut Tally) -> Result<(), String> {
    let mut rng = SplitMix64::new(seed);
    let msgs = messages(&mut rng, seed, MESSAGES);
    let broker = SimBroker::new();
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let mut client: Client<'_> = MqttClient::new(faulty(&broker, &mut rng), CLIENT_ID, &mut rx, &mut tx);
    if let Err(e) = client.connect(false) {
        check_error(&e, t)?;
        recover(&mut client, &broker, &mut rng, t)?;
    }
    for (i, m) in msgs.iter().enumerate() {
        t.published += 1;
        match client.publish(m.topic, &m.payload, false, m.qos) {
            Ok(()) => {
                t.acked += 1;
                if accepted(&broker, m) == 0 {
                    return Err(format!(
                        "publish of message {i} returned Ok, the broker never accepted it"
                    ));
                }
            }
            Err(e) => {
                t.errors += 1;
                check_error(&e, t)?;
                if accepted(&broker, m) == 0 && !queued(client.session(), &m.payload) {
                    t.lost += 1;
                    return Err(format!(
                        "message {i}: publish failed with {e:?}, message neither accepted nor queued"
                    ));
                }
                recover(&mut client, &broker, &mut rng, t)?;
                if accepted(&broker, m) == 0 {
                    t.lost += 1;
                    return Err(format!("message {i} not accepted after reconnect + wait_acked"));
                }
            }
        }
    }
    if client.session().unacked_messages() != 0 {
        return Err("messages still unacknowledged at the end".to_owned());
    }
    final_check(&broker, &msgs, &[], t)
}

#[test]
fn mqtt_client_reconnected_by_hand_loses_nothing() {
    let (_, failures) = run_seeds("mqtt_client", mqtt_client_seed);
    assert_no_failures("mqtt_client", &failures);
}

// ---------------------------------------------------------------------------------------------
// RobustClient
// ---------------------------------------------------------------------------------------------

/// How a RobustClient run is set up.
#[derive(Debug, Clone, Copy)]
struct RobustSetup {
    /// `set_max_attempts`: `None` retries forever, so `publish` should never fail.
    max_attempts: Option<u32>,
    /// Percentage of connector calls that fail (connection refused).
    refuse_pct: u8,
    /// Percentage of publishes before which the broker refuses the next CONNECTs (CONNACK 3).
    connack_refusal_pct: u8,
}

/// What a RobustClient run observed.
#[derive(Debug, Default)]
struct RobustOutcome {
    /// Messages whose `publish` returned `Err` while neither accepted nor queued.
    dropped: Vec<usize>,
    /// Problems found.
    problems: Problems,
}

fn robust_run(seed: u64, setup: RobustSetup, t: &mut Tally) -> Result<RobustOutcome, String> {
    let mut rng = SplitMix64::new(seed);
    let msgs = messages(&mut rng, seed, MESSAGES);
    let broker = SimBroker::new();
    let conn_rng = RefCell::new(SplitMix64::new(rng.fork()));
    let connector_calls = Cell::new(0u64);
    let connector = || {
        connector_calls.set(connector_calls.get() + 1);
        let mut r = conn_rng.borrow_mut();
        if r.percent(setup.refuse_pct) {
            return Err(FaultError::Injected(ErrorKind::ConnectionRefused));
        }
        Ok(faulty(&broker, &mut r))
    };
    let attempts = Cell::new(0u64);
    let mut delay = |_attempt: u32| {
        attempts.set(attempts.get() + 1);
        // Panics are caught per seed and reported with the seed.
        assert!(
            attempts.get() < MAX_RECONNECTS,
            "no progress after many reconnections"
        );
    };
    let logged = RefCell::new(Vec::<CErr>::new());
    let mut log = |e: &CErr| logged.borrow_mut().push(*e);
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let client: Client<'_> = MqttClient::new(faulty(&broker, &mut rng), CLIENT_ID, &mut rx, &mut tx);
    let mut robust = RobustClient::<'_, Tr, _, 8, 1024>::new(client, connector);
    robust.set_delay(&mut delay);
    robust.set_log(&mut log);
    robust.set_max_attempts(setup.max_attempts);

    let mut out = RobustOutcome::default();
    let mut connected = robust.connect().map(drop);
    for _ in 0..MAX_RECONNECTS {
        match connected {
            Ok(()) => break,
            Err(e) => {
                check_error(&e, t)?;
                connected = robust.reconnect().map(drop);
            }
        }
    }
    connected.map_err(|e| format!("could not connect: {e:?}"))?;

    let mut in_doubt: Vec<usize> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        if rng.percent(setup.connack_refusal_pct) {
            broker.refuse_next_connects(rng.range(1, 2) as u32);
        }
        t.published += 1;
        let result = robust.publish(m.topic, &m.payload, false, m.qos);
        if std::env::var_os("FAULT_DEBUG").is_some() {
            eprintln!(
                "message {i} {:?}: {result:?}; accepted {}, queued {}, unacked {}, phase {:?}, log {:?}",
                m.qos,
                accepted(&broker, m),
                queued(robust.client().session(), &m.payload),
                robust.client().session().unacked_messages(),
                robust.client().session().phase(),
                logged.borrow()
            );
            logged.borrow_mut().clear();
        }
        match result {
            Ok(()) => {
                t.acked += 1;
                if accepted(&broker, m) == 0 {
                    out.problems.other.push(format!(
                        "publish of message {i} returned Ok, the broker never accepted it"
                    ));
                }
            }
            Err(e) => {
                t.errors += 1;
                if setup.max_attempts.is_none() && setup.connack_refusal_pct == 0 {
                    out.problems.other.push(format!(
                        "message {i}: publish failed with {e:?} although retries are unlimited"
                    ));
                }
                check_error(&e, t)?;
                if matches!(
                    e,
                    ClientError::Protocol(ProtocolError::InflightFull | ProtocolError::StoreFull { .. })
                ) {
                    // Refused up front: nothing was queued and the caller knows it.
                    out.dropped.push(i);
                } else if accepted(&broker, m) == 0 && !queued(robust.client().session(), &m.payload) {
                    t.lost += 1;
                    out.dropped.push(i);
                    out.problems.dropped.push(format!(
                        "message {i} ({:?}): publish returned {e:?}, message neither accepted nor queued",
                        m.qos
                    ));
                } else {
                    in_doubt.push(i);
                }
            }
        }
        // A message reported failed must stay queued until the broker has it.
        in_doubt.retain(|&j| {
            let m = &msgs[j];
            if accepted(&broker, m) > 0 {
                return false;
            }
            if !queued(robust.client().session(), &m.payload) {
                t.lost += 1;
                out.dropped.push(j);
                out.problems
                    .dropped
                    .push(format!("message {j} was queued after its error, then dropped"));
                return false;
            }
            true
        });
    }
    for e in logged.borrow().iter() {
        // The log also sees the NotConnected of a call made after an earlier failure.
        if *e != ClientError::Protocol(ProtocolError::NotConnected) {
            check_error(e, t)?;
        }
    }
    t.reconnects += connector_calls.get();

    // Drain what is still queued over a fault-free connection.
    broker.refuse_next_connects(0);
    let client = robust.client_mut();
    drop(client.replace_transport(Faulty::new(broker.connect(), FaultPlan::none())));
    client
        .connect(false)
        .and_then(|_| client.wait_acked())
        .map_err(|e| format!("fault-free drain failed: {e:?}"))?;
    final_problems(&broker, &msgs, &out.dropped, t, &mut out.problems);
    Ok(out)
}

fn robust_seed(seed: u64, setup: RobustSetup, t: &mut Tally) -> Result<(), String> {
    robust_run(seed, setup, t)?.problems.into_result()
}

#[test]
fn robust_client_with_unlimited_retries_loses_nothing() {
    let setup = RobustSetup {
        max_attempts: None,
        refuse_pct: 15,
        connack_refusal_pct: 0,
    };
    let (t, failures) = run_seeds("robust_unlimited", |seed, t| robust_seed(seed, setup, t));
    assert_no_failures("robust_unlimited", &failures);
    assert_eq!(
        t.acked, t.published,
        "every publish returns Ok when retries are unlimited"
    );
}

/// The setup of the "gives up" tests: the wrapper gives up after 1 to 3 attempts, a quarter
/// of the connector calls fail, and the broker sometimes refuses with CONNACK 3 (which the
/// wrapper never retries). So `publish` does return errors, and later publishes find the
/// client disconnected with messages of failed calls still queued.
fn give_up_setup(seed: u64) -> RobustSetup {
    RobustSetup {
        max_attempts: Some(1 + (seed % 3) as u32),
        refuse_pct: 25,
        connack_refusal_pct: 5,
    }
}

/// Runs the "gives up" scenario and keeps the problems `pick` selects.
fn give_up(name: &str, pick: fn(&Problems) -> Vec<String>) -> Tally {
    let (t, failures) = run_seeds(name, |seed, t| {
        let out = robust_run(seed, give_up_setup(seed), t)?;
        let picked = pick(&out.problems);
        if picked.is_empty() {
            Ok(())
        } else {
            Err(picked.join("; "))
        }
    });
    assert_no_failures(name, &failures);
    t
}

/// What holds even when the wrapper gives up: only typed errors of the expected kinds, no
/// panic, `Ok` means accepted, a message queued by a failed call stays queued until the
/// broker has it, and everything queued is delivered by the final reconnection.
#[test]
fn robust_client_that_gives_up_returns_typed_errors_and_keeps_queued_messages() {
    let t = give_up("robust_give_up", |p| p.other.clone());
    assert!(t.errors > 0, "the scenario must make publish fail sometimes");
}

/// The wrapper's promise ("a QoS 1/2 message handed to `publish` is either acknowledged or
/// still queued for re-sending: it is never dropped") also when `publish` returns `Err`.
#[test]
fn robust_client_that_gives_up_never_drops_a_message_it_returned_err_for() {
    give_up("robust_give_up_dropped", |p| p.dropped.clone());
}

/// QoS 2 exactly once, and no message published twice as a new message, when earlier
/// calls failed.
#[test]
fn robust_client_that_gives_up_never_publishes_a_message_twice() {
    give_up("robust_give_up_twice", |p| p.twice.clone());
}

// ---------------------------------------------------------------------------------------------
// RobustClient receiving (broker to client), QoS 1 at least once and QoS 2 exactly once
// ---------------------------------------------------------------------------------------------

fn robust_receive_seed(seed: u64, t: &mut Tally) -> Result<(), String> {
    const SUB_ID: &str = "sub";
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    let msgs = messages(&mut rng, seed, MESSAGES);
    let broker = SimBroker::new();
    broker.set_max_inflight(1 + rng.below(8) as usize);
    let conn_rng = RefCell::new(SplitMix64::new(rng.fork()));
    let connector = || Ok(faulty(&broker, &mut conn_rng.borrow_mut()));
    let attempts = Cell::new(0u64);
    let mut delay = |_attempt: u32| {
        attempts.set(attempts.get() + 1);
        assert!(
            attempts.get() < MAX_RECONNECTS,
            "no progress after many reconnections"
        );
    };
    let received = RefCell::new(HashMap::<Vec<u8>, u32>::new());
    let mut on_message = |_topic: &str, payload: &[u8]| {
        *received.borrow_mut().entry(payload.to_vec()).or_default() += 1;
    };
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let mut client: Client<'_> = MqttClient::new(faulty(&broker, &mut rng), SUB_ID, &mut rx, &mut tx);
    client.set_callback(&mut on_message);
    let mut robust = RobustClient::<'_, Tr, _, 8, 1024>::new(client, connector);
    robust.set_delay(&mut delay);
    if let Err(e) = robust.connect() {
        check_error(&e, t)?;
        robust.reconnect().map_err(|e| format!("reconnect: {e:?}"))?;
    }
    let granted = robust
        .subscribe("seq/#", QoS::ExactlyOnce)
        .map_err(|e| format!("subscribe: {e:?}"))?;
    if granted != QoS::ExactlyOnce {
        return Err(format!("granted {granted:?}"));
    }
    let mut next = 0;
    let mut steps = 0u64;
    while next < msgs.len() || broker.outstanding(SUB_ID) > 0 {
        steps += 1;
        if steps > 200_000 {
            return Err(format!(
                "no progress: {} outstanding, next {next}",
                broker.outstanding(SUB_ID)
            ));
        }
        if next < msgs.len() && rng.percent(30) {
            let m = &msgs[next];
            broker.publish(m.topic, &m.payload, m.qos);
            t.published += 1;
            next += 1;
        }
        match robust.check_msg() {
            Ok(_) => {}
            Err(e) => {
                t.errors += 1;
                return Err(format!(
                    "check_msg failed with {e:?} although retries are unlimited"
                ));
            }
        }
    }
    t.reconnects += attempts.get();
    let received = received.borrow();
    let mut problems = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let n = received.get(&m.payload).copied().unwrap_or(0);
        match n {
            0 => {
                t.lost += 1;
                problems.push(format!("message {i} ({:?}) never reached the callback", m.qos));
            }
            1 => t.acked += 1,
            n => {
                t.acked += 1;
                t.duplicates += u64::from(n - 1);
                if m.qos == QoS::ExactlyOnce {
                    t.qos2_duplicates += u64::from(n - 1);
                    problems.push(format!("QoS 2 message {i} reached the callback {n} times"));
                }
            }
        }
    }
    let stats = broker.stats();
    t.connections += stats.connections;
    if stats.stalls > 0 || !stats.violations.is_empty() {
        problems.push(format!(
            "stalls {}, violations {:?}",
            stats.stalls, stats.violations
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn robust_client_receives_qos1_at_least_once_and_qos2_exactly_once() {
    let (_, failures) = run_seeds("robust_receive", robust_receive_seed);
    assert_no_failures("robust_receive", &failures);
}

// ---------------------------------------------------------------------------------------------
// The Session state machine alone, with packets dropped in both directions
// ---------------------------------------------------------------------------------------------

/// Drives a bare `Session` against the simulated broker. Every packet may be dropped in
/// either direction (the connection stays up, so the exchange stalls until the connection
/// is declared lost); `connection_lost` is called at random. The broker also delivers
/// messages to the session, so both directions of QoS 1/2 are exercised.
fn session_seed(seed: u64, t: &mut Tally) -> Result<(), String> {
    const ID: &str = CLIENT_ID;
    let mut rng = SplitMix64::new(seed ^ 0xd5a7);
    let msgs = messages(&mut rng, seed, MESSAGES);
    let incoming = messages(&mut rng, seed + 1_000_000, MESSAGES / 2);
    let broker = SimBroker::new();
    broker.set_max_inflight(1 + rng.below(8) as usize);
    let drop_pct = rng.range(1, 15) as u8;
    let lost_pct = rng.range(1, 8) as u8;
    let mut session: Session<8, 1024> = Session::new();
    let mut conn: Option<SimBrokerTransport> = None;
    let mut rxbuf = [0u8; 512];
    let mut now = 0u64;
    let mut next = 0usize;
    let mut next_in = 0usize;
    let mut handed: Vec<usize> = Vec::new();
    let mut got: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut faults_on = true;
    // Whether a packet was dropped on the current connection.
    let tainted = Cell::new(false);

    let send = |conn: &mut Option<SimBrokerTransport>, p: &Packet<'_>, drop: bool| {
        if drop {
            return;
        }
        if let Some(c) = conn.as_mut() {
            // A write to a connection the broker closed fails; the next read sees EOF.
            let _ = c.write_all(&encoded(p));
        }
    };

    for step in 0..400_000u64 {
        now += 10;
        let done = next == msgs.len() && next_in == incoming.len();
        if done && session.unacked_messages() == 0 && broker.outstanding(ID) == 0 {
            break;
        }
        if done {
            faults_on = false; // Everything handed over: let the exchange settle.
        }
        let drop_now = |rng: &mut SplitMix64| {
            let d = faults_on && rng.percent(drop_pct);
            tainted.set(tainted.get() || d);
            d
        };
        if next_in < incoming.len() && rng.percent(10) {
            let m = &incoming[next_in];
            broker.deliver_to(ID, m.topic, &m.payload, m.qos);
            next_in += 1;
        }
        if session.phase() == Phase::Disconnected || conn.is_none() {
            t.reconnects += 1;
            session.connection_lost();
            conn = Some(broker.connect());
            tainted.set(false);
            let connect = Connect {
                clean_session: false,
                keep_alive: 0,
                client_id: ID,
                will: None,
                username: None,
                password: None,
            };
            let p = session
                .connect(connect, now)
                .map_err(|e| format!("connect: {e:?}"))?;
            let dropped = drop_now(&mut rng);
            send(&mut conn, &p, dropped);
            continue;
        }
        let action = rng.below(100);
        if faults_on && action < u64::from(lost_pct) {
            session.connection_lost();
            conn = None;
            continue;
        }
        if !faults_on && action < 5 && session.phase() == Phase::Connecting {
            // A CONNECT dropped before the faults stopped: start over.
            session.connection_lost();
            conn = None;
            continue;
        }
        if action < 40 && next < msgs.len() && session.phase() == Phase::Connected {
            let m = &msgs[next];
            let topic = TopicName::new(m.topic).expect("valid topic");
            match session.publish(topic, &m.payload, m.qos, false, now) {
                Ok(p) => {
                    handed.push(next);
                    t.published += 1;
                    next += 1;
                    let dropped = drop_now(&mut rng);
                    send(&mut conn, &Packet::Publish(p), dropped);
                }
                Err(ProtocolError::InflightFull | ProtocolError::StoreFull { .. }) => t.refused += 1,
                Err(e) => return Err(format!("publish: {e:?}")),
            }
        } else {
            // Receive one packet, if one is there.
            let Some(c) = conn.as_mut() else { continue };
            if !embedded_io::ReadReady::read_ready(c).unwrap_or(true) {
                if !faults_on && action >= 95 {
                    // Stuck after a dropped packet: reconnect.
                    session.connection_lost();
                    conn = None;
                }
                continue;
            }
            let packet = match umqtt::read_packet(c, &mut rxbuf) {
                Ok(p) => p,
                Err(_) => {
                    session.connection_lost();
                    conn = None;
                    continue;
                }
            };
            if drop_now(&mut rng) {
                continue;
            }
            match session.handle_packet(packet, now) {
                Ok(inc) => {
                    if let Some(Event::Message(p)) = inc.event {
                        *got.entry(p.payload.to_vec()).or_default() += 1;
                    }
                    if let Some(reply) = inc.reply {
                        let dropped = drop_now(&mut rng);
                        send(&mut conn, &reply, dropped);
                    }
                    if let Some(Event::Connected { .. }) = inc.event {
                        let resend: Vec<Vec<u8>> = session.resend().map(|p| encoded(&p)).collect();
                        for bytes in resend {
                            if !drop_now(&mut rng)
                                && let Some(c) = conn.as_mut()
                            {
                                let _ = c.write_all(&bytes);
                            }
                        }
                        session.mark_sent(now);
                    }
                }
                // Dropped packets can make a correct broker's stream look wrong (a PUBLISH
                // before the dropped CONNACK, say): close the connection, as required.
                Err(_) if tainted.get() => {
                    session.connection_lost();
                    conn = None;
                }
                Err(e) => {
                    return Err(format!("session rejected a packet from a correct broker: {e:?}"));
                }
            }
        }
        // The invariant, after every step.
        for &i in &handed {
            let m = &msgs[i];
            if accepted(&broker, m) == 0 && !queued(&session, &m.payload) {
                t.lost += 1;
                return Err(format!("message {i} neither accepted nor queued at step {step}"));
            }
        }
    }
    if session.unacked_messages() != 0 || next < msgs.len() || broker.outstanding(ID) != 0 {
        return Err(format!(
            "did not settle: unacked {}, handed {next}, outstanding {}",
            session.unacked_messages(),
            broker.outstanding(ID)
        ));
    }
    t.acked += handed.len() as u64;
    for (i, m) in incoming.iter().enumerate() {
        match got.get(&m.payload).copied().unwrap_or(0) {
            0 => return Err(format!("incoming message {i} never delivered")),
            1 => {}
            n if m.qos == QoS::ExactlyOnce => {
                return Err(format!("incoming QoS 2 message {i} delivered {n} times"));
            }
            _ => {}
        }
    }
    final_check(&broker, &msgs, &[], t)
}

#[test]
fn session_alone_with_dropped_packets_and_lost_connections_loses_nothing() {
    let (_, failures) = run_seeds("session", session_seed);
    assert_no_failures("session", &failures);
}

// ---------------------------------------------------------------------------------------------
// Targeted scenarios (deterministic reproductions of what the random runs found)
// ---------------------------------------------------------------------------------------------

/// A connection that is cut on its read side inside its packet number `index`.
fn read_cut_in(broker: &SimBroker, index: u64) -> Tr {
    let plan = FaultPlan {
        read_cut: Trigger::MidPacket { index, offset: 1 },
        ..FaultPlan::none()
    };
    Faulty::new(broker.connect(), plan)
}

fn clean(broker: &SimBroker) -> Tr {
    Faulty::new(broker.connect(), FaultPlan::none())
}

/// A message queued by an earlier failed call is re-sent by a reconnection, and the next
/// `publish` reads its PUBACK before failing on its own acknowledgement: the wrapper's
/// "was my message queued?" test (`unacked_messages() > queued_before`) then says no, and
/// the message, already accepted by the broker and queued, is published again under a new
/// packet id. For QoS 2 the broker has to accept it twice.
#[test]
fn robust_publish_does_not_publish_again_when_an_older_ack_arrived_first() {
    let broker = SimBroker::new();
    // Connection 1: CONNACK, then the PUBACK of A is cut.
    // Connection 2: CONNACK, PUBACK of the re-sent A, then the PUBREC of B is cut.
    // Connection 3: clean.
    let plans = RefCell::new(vec![clean(&broker)]);
    let connector = || Ok(plans.borrow_mut().pop().expect("a planned connection"));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let client: Client<'_> = MqttClient::new(read_cut_in(&broker, 1), CLIENT_ID, &mut rx, &mut tx);
    let mut robust = RobustClient::<'_, Tr, _, 8, 1024>::new(client, connector);
    robust.connect().unwrap();
    let a = robust
        .client_mut()
        .publish("seq/q1", b"A", false, QoS::AtLeastOnce);
    assert!(
        matches!(a, Err(ClientError::Io(FaultError::Injected(_)))),
        "{a:?}"
    );
    // The application reconnects by hand; A is re-sent, its PUBACK not read yet.
    drop(robust.client_mut().replace_transport(read_cut_in(&broker, 2)));
    assert!(robust.client_mut().connect(false).unwrap());
    assert_eq!(robust.client().session().unacked_messages(), 1);

    robust.publish("seq/q2", b"B", false, QoS::ExactlyOnce).unwrap();

    assert_eq!(robust.client().session().unacked_messages(), 0);
    assert_eq!(
        broker.accept_count(CLIENT_ID, "seq/q1", b"A"),
        2,
        "A: once, and once re-sent"
    );
    assert_eq!(
        broker.accept_count(CLIENT_ID, "seq/q2", b"B"),
        1,
        "QoS 2 message accepted twice: {:#?}",
        broker.accepted()
    );
}

/// `publish` while disconnected goes through `reconnect()` then `retry(|c| c.publish(..))`;
/// when that publish is queued and sent, and its acknowledgement is then lost, the retry
/// publishes it again.
#[test]
fn robust_publish_while_disconnected_does_not_publish_twice() {
    let broker = SimBroker::new();
    // Connection 2: CONNACK, then the PUBREC of B is cut. Connection 3: clean.
    let plans = RefCell::new(vec![clean(&broker), read_cut_in(&broker, 1)]);
    let connector = || Ok(plans.borrow_mut().pop().expect("a planned connection"));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    // Connection 1: cut at the CONNACK, so the client starts disconnected.
    let client: Client<'_> = MqttClient::new(read_cut_in(&broker, 0), CLIENT_ID, &mut rx, &mut tx);
    let mut robust = RobustClient::<'_, Tr, _, 8, 1024>::new(client, connector);
    assert!(robust.connect().is_err());
    assert_eq!(robust.client().session().phase(), Phase::Disconnected);

    robust.publish("seq/q2", b"B", false, QoS::ExactlyOnce).unwrap();

    assert_eq!(
        broker.accept_count(CLIENT_ID, "seq/q2", b"B"),
        1,
        "QoS 2 message accepted twice: {:#?}",
        broker.accepted()
    );
}

/// The wrapper promises that a QoS 1/2 message handed to `publish` is acknowledged or
/// queued, never dropped. When the client is disconnected and the reconnection fails,
/// `publish` returns the error without the message ever entering the session: the caller
/// cannot tell this error from one after which the message is queued (and must not be
/// published again).
#[test]
fn robust_publish_that_fails_to_reconnect_keeps_the_message_queued() {
    let broker = SimBroker::new();
    let connector = || Err(FaultError::Injected(ErrorKind::ConnectionRefused));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let client: Client<'_> = MqttClient::new(read_cut_in(&broker, 0), CLIENT_ID, &mut rx, &mut tx);
    let mut robust = RobustClient::<'_, Tr, _, 8, 1024>::new(client, connector);
    robust.set_max_attempts(Some(2));
    assert!(robust.connect().is_err());

    let r = robust.publish("seq/q1", b"C", false, QoS::AtLeastOnce);

    assert!(r.is_err());
    assert!(
        queued(robust.client().session(), b"C"),
        "publish returned {r:?} and the message is neither queued nor accepted"
    );
}

/// When the broker lost the session (restart without persistence) the client resumes with
/// Session Present = 0. The QoS 2 ids it still remembers from the old session (delivered,
/// PUBREC sent, PUBREL lost with the connection) belong to nobody any more: the new server
/// session numbers its messages from 1 again, and a new message that reuses such an id must
/// be delivered, not discarded as a duplicate.
#[test]
fn incoming_qos2_ids_are_forgotten_when_the_broker_lost_the_session() {
    const SUB: &str = "sub";
    let broker = SimBroker::new();
    let received = RefCell::new(Vec::<Vec<u8>>::new());
    let mut on_message = |_t: &str, payload: &[u8]| received.borrow_mut().push(payload.to_vec());
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    // Packets read on connection 1: CONNACK, SUBACK, PUBLISH m1, PUBREL (cut).
    let mut client: Client<'_> = MqttClient::new(read_cut_in(&broker, 3), SUB, &mut rx, &mut tx);
    client.set_callback(&mut on_message);
    assert!(!client.connect(false).unwrap());
    assert_eq!(client.subscribe("x", QoS::ExactlyOnce).unwrap(), QoS::ExactlyOnce);
    broker.publish("x", b"m1", QoS::ExactlyOnce);
    client.wait_msg().unwrap(); // m1 delivered, PUBREC sent
    assert!(client.wait_msg().is_err()); // the PUBREL is lost with the connection
    assert_eq!(client.session().incoming_qos2(), 1);

    // The broker restarts without persistence.
    broker.forget_sessions();
    drop(client.replace_transport(clean(&broker)));
    assert!(!client.connect(false).unwrap(), "the broker has no session");
    assert_eq!(client.subscribe("x", QoS::ExactlyOnce).unwrap(), QoS::ExactlyOnce);
    broker.publish("x", b"m2", QoS::ExactlyOnce);
    while broker.outstanding(SUB) > 0 {
        client.wait_msg().unwrap();
    }
    drop(client);
    assert_eq!(
        *received.borrow(),
        [b"m1".to_vec(), b"m2".to_vec()],
        "m2 was acknowledged but never delivered"
    );
}
