//! Torn writes: [`NorFlashStore`] on a simulated NOR flash that loses power part way
//! through a program or an erase, at every byte of every operation.
//!
//! The flash keeps NOR's rules: programming only clears bits, each word is programmed at
//! most once between two erases (a second time fails the test), erasing sets whole
//! sectors to `0xFF`, and every operation must be aligned. When the power goes, the
//! bytes before the cut are done, the byte at the cut is half done (some of its bits
//! changed, not all) and the rest are untouched; every later operation fails.
//!
//! A script of store calls, shaped like the client's use (records appended, a
//! compaction when `append` reports `Full`, clears that fill a bank with markers until
//! one compacts), runs once to count the steps, then once per step with the power cut
//! there. After each cut the store is opened again on the same flash and must replay
//! exactly the records from before or from after the interrupted call; then the rest of
//! the script runs on it and every replay must match, also after one more reopening.

#![cfg(feature = "nor-flash")]

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash, check_erase, check_read, check_write,
};
use umqtt::client::nor_store::NorFlashStore;
use umqtt::client::store::{RecordSink, Records, SessionStore, StoreError};

/// NOR flash in RAM that can lose power at step `cut` (one step per byte programmed or
/// erased). `R`, `W`, `E`: read, write and erase sizes.
struct Torn<const R: usize, const W: usize, const E: usize> {
    bytes: Vec<u8>,
    /// Per word: programmed since the last erase.
    programmed: Vec<bool>,
    steps: usize,
    cut: Option<usize>,
    dead: bool,
    erases: usize,
}

impl<const R: usize, const W: usize, const E: usize> Torn<R, W, E> {
    fn new(len: usize, cut: Option<usize>) -> Self {
        Self {
            bytes: vec![0xFF; len],
            programmed: vec![false; len / W],
            steps: 0,
            cut,
            dead: false,
            erases: 0,
        }
    }

    /// Whether the power goes now, at the next step.
    fn cut_now(&mut self) -> bool {
        if self.cut == Some(self.steps) {
            self.dead = true;
        }
        self.steps += 1;
        self.dead
    }

    /// The power is back (and will not go again).
    fn revive(&mut self) {
        self.dead = false;
        self.cut = None;
    }
}

impl<const R: usize, const W: usize, const E: usize> ErrorType for Torn<R, W, E> {
    type Error = NorFlashErrorKind;
}

impl<const R: usize, const W: usize, const E: usize> ReadNorFlash for Torn<R, W, E> {
    const READ_SIZE: usize = R;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.dead {
            return Err(NorFlashErrorKind::Other);
        }
        check_read(self, offset, bytes.len())?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl<const R: usize, const W: usize, const E: usize> NorFlash for Torn<R, W, E> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if self.dead {
            return Err(NorFlashErrorKind::Other);
        }
        check_erase(self, from, to)?;
        for at in from as usize..to as usize {
            if self.cut_now() {
                // Half erased: some bits of this byte went back to 1.
                self.bytes[at] |= 0x0F;
                return Err(NorFlashErrorKind::Other);
            }
            self.bytes[at] = 0xFF;
            if (at + 1) % W == 0 {
                self.programmed[at / W] = false;
            }
        }
        self.erases += (to - from) as usize / E;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if self.dead {
            return Err(NorFlashErrorKind::Other);
        }
        check_write(self, offset, bytes.len())?;
        let at = offset as usize;
        for word in at / W..(at + bytes.len()) / W {
            assert!(!self.programmed[word], "word at {} programmed twice", word * W);
            self.programmed[word] = true;
        }
        for (i, &b) in bytes.iter().enumerate() {
            if self.cut_now() {
                // Half programmed: only some of the bits that should clear did.
                self.bytes[at + i] &= b | 0xF0;
                return Err(NorFlashErrorKind::Other);
            }
            self.bytes[at + i] &= b;
        }
        Ok(())
    }
}

type Rec = Vec<u8>;

struct List<'a>(&'a [Rec]);

impl Records for List<'_> {
    fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError> {
        self.0.iter().try_for_each(|r| {
            let (head, tail) = r.split_at(r.len().min(3));
            f(head, tail)
        })
    }
}

/// A store call of the script.
#[derive(Debug, Clone)]
enum Op {
    /// `append`, and `replace` with the compacted records when it reports `Full` (what
    /// the client does).
    Put(Rec),
    Clear,
    /// A `Put` of an acknowledgement that fills the rest of the bank exactly when it is
    /// short enough (so that the next clear finds no room for its marker), else one of 20
    /// bytes.
    Fill,
}

/// Turns [`Op::Fill`] into the `Put` it stands for in the store's state.
fn resolve<const R: usize, const W: usize, const E: usize, const BUF: usize>(
    op: &Op,
    store: &NorFlashStore<&mut Torn<R, W, E>, BUF>,
) -> Op {
    let Op::Fill = op else {
        return op.clone();
    };
    let unit = (1..=R * W).find(|n| n % R == 0 && n % W == 0).unwrap_or(1);
    let header = 8usize.next_multiple_of(unit);
    let room = store.capacity() - store.used();
    let len = room.saturating_sub(header).clamp(2, 20);
    let mut ack = done(99);
    ack.resize(len, 0x5A);
    Op::Put(ack)
}

/// `Q<id>...` is a queued message, `D<id>` its acknowledgement: compaction keeps the
/// queued messages not acknowledged since.
fn compacted(records: &[Rec]) -> Vec<Rec> {
    records
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            r[0] == b'Q'
                && !records[i + 1..]
                    .iter()
                    .any(|later| later[0] == b'D' && later[1] == r[1])
        })
        .map(|(_, r)| r.clone())
        .collect()
}

fn queued(id: u8, len: usize) -> Rec {
    let mut r = vec![b'Q', id];
    r.extend((0..len).map(|i| id.wrapping_mul(31).wrapping_add(i as u8)));
    r
}

fn done(id: u8) -> Rec {
    vec![b'D', id]
}

/// The script: messages queued and acknowledged, clears when nothing is left, a run of
/// acknowledgements that fills the bank with clear markers, and a backlog that makes
/// `append` report `Full`. `big` scales the record lengths to the bank.
fn script(big: usize) -> Vec<Op> {
    let mut ops = vec![
        Op::Put(queued(1, big)),
        Op::Put(queued(2, big / 2)),
        Op::Put(done(1)),
        Op::Put(done(2)),
        Op::Clear,
        Op::Clear,
    ];
    for id in 3..9u8 {
        ops.push(Op::Put(queued(id, 1 + (id as usize * 5) % big)));
        ops.push(Op::Put(done(id)));
        ops.push(Op::Clear);
    }
    for id in 9..15u8 {
        ops.push(Op::Put(queued(id, big / 3 + id as usize % 4)));
        if id % 2 == 0 {
            ops.push(Op::Put(done(id)));
        }
    }
    ops.push(Op::Put(queued(15, big)));
    ops.push(Op::Clear);
    for id in 16..20u8 {
        ops.push(Op::Put(queued(id, big / 2 + id as usize)));
    }
    ops.push(Op::Put(done(17)));
    // Acknowledgements of assorted lengths, each followed by a clear: the markers fill
    // the bank until one finds no room and compacts.
    ops.push(Op::Clear);
    for k in 0..24u8 {
        let mut ack = done(100 + k);
        ack.extend(std::iter::repeat_n(k, usize::from(k % 7)));
        ops.push(Op::Put(ack));
        ops.push(Op::Clear);
    }
    for _ in 0..24 {
        ops.push(Op::Fill);
        ops.push(Op::Clear);
    }
    ops.push(Op::Put(queued(20, big)));
    ops
}

/// Runs `op` on `store`; returns the call's result and the records it leaves.
fn apply<S: SessionStore>(store: &mut S, op: &Op, model: &[Rec]) -> (Result<(), StoreError>, Vec<Rec>) {
    match op {
        Op::Put(record) => {
            let mut after = model.to_vec();
            after.push(record.clone());
            let (head, tail) = record.split_at(record.len().min(3));
            match store.append(head, tail) {
                Err(StoreError::Full) => {
                    let snapshot = compacted(&after);
                    (store.replace(&List(&snapshot)), snapshot)
                }
                result => (result, after),
            }
        }
        Op::Clear => (store.clear(), Vec::new()),
        Op::Fill => unreachable!("resolved before"),
    }
}

fn records<S: SessionStore>(store: &mut S) -> Vec<Rec> {
    let mut out = Vec::new();
    store
        .replay(&mut |r| {
            out.push(r.to_vec());
            Ok(())
        })
        .expect("replay");
    out
}

/// What one run did before the power went.
struct Stop {
    /// Index of the interrupted call; `None` when the first `open` was cut.
    op: Option<usize>,
    before: Vec<Rec>,
    after: Vec<Rec>,
}

/// What the uncut run went through, so the test knows it covered what it claims.
#[derive(Debug, Default)]
struct Coverage {
    steps: usize,
    compactions_by_replace: usize,
    compactions_by_clear: usize,
    skipped_clears: usize,
}

struct Geometry {
    region: u32,
    offset: u32,
    flash_len: usize,
    big: usize,
}

/// Runs `ops` on a fresh flash with the power cut at step `cut`.
fn run_until_cut<const R: usize, const W: usize, const E: usize, const BUF: usize>(
    g: &Geometry,
    ops: &[Op],
    cut: Option<usize>,
    coverage: &mut Coverage,
) -> (Torn<R, W, E>, Option<Stop>) {
    let mut flash = Torn::<R, W, E>::new(g.flash_len, cut);
    let stop = match drive::<R, W, E, BUF>(&mut flash, g, ops, coverage) {
        Ok(stop) => stop,
        // The power went while the first `open` formatted the flash.
        Err(_) if flash.dead => Some(Stop {
            op: None,
            before: Vec::new(),
            after: Vec::new(),
        }),
        Err(e) => panic!("open failed with {e:?} on a live flash"),
    };
    (flash, stop)
}

fn drive<const R: usize, const W: usize, const E: usize, const BUF: usize>(
    flash: &mut Torn<R, W, E>,
    g: &Geometry,
    ops: &[Op],
    coverage: &mut Coverage,
) -> Result<Option<Stop>, StoreError> {
    let mut store = NorFlashStore::<_, BUF>::open(flash, g.offset, g.region)?;
    let mut model = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let generation = store.generation();
        let steps = store.get_ref().steps;
        let op = &resolve(op, &store);
        let (result, after) = apply(&mut store, op, &model);
        if store.get_ref().dead {
            return Ok(Some(Stop {
                op: Some(i),
                before: model,
                after,
            }));
        }
        result.unwrap_or_else(|e| panic!("op {i} {op:?} failed: {e:?}"));
        match op {
            Op::Put(_) if store.generation() != generation => coverage.compactions_by_replace += 1,
            Op::Clear if store.generation() != generation => coverage.compactions_by_clear += 1,
            Op::Clear if store.get_ref().steps == steps => coverage.skipped_clears += 1,
            _ => {}
        }
        model = after;
        assert_eq!(records(&mut store), model, "uncut run, after op {i} {op:?}");
    }
    coverage.steps = store.get_ref().steps;
    Ok(None)
}

/// Every cut point of the script on one flash geometry.
fn every_cut<const R: usize, const W: usize, const E: usize, const BUF: usize>(g: Geometry) -> Coverage {
    let ops = script(g.big);
    let mut coverage = Coverage::default();
    let (flash, stop) = run_until_cut::<R, W, E, BUF>(&g, &ops, None, &mut coverage);
    assert!(stop.is_none());
    assert!(flash.erases > 0);
    let mut ignore = Coverage::default();
    for cut in 0..coverage.steps {
        let (mut flash, stop) = run_until_cut::<R, W, E, BUF>(&g, &ops, Some(cut), &mut ignore);
        let stop = stop.unwrap_or_else(|| panic!("the power was cut at step {cut} but nothing failed"));
        flash.revive();
        let mut store = NorFlashStore::<_, BUF>::open(&mut flash, g.offset, g.region)
            .unwrap_or_else(|e| panic!("cut at {cut}: reopening failed: {e:?}"));
        let got = records(&mut store);
        assert!(
            got == stop.before || got == stop.after,
            "cut at step {cut} in op {:?}: replayed {got:?}, expected {:?} or {:?}",
            stop.op.map(|i| &ops[i]),
            stop.before,
            stop.after
        );
        // The store keeps working: the interrupted call is made again, then the rest of
        // the script, checked at every call.
        let mut model = got;
        let rest = stop.op.unwrap_or(0);
        for (i, op) in ops.iter().enumerate().skip(rest) {
            let op = &resolve(op, &store);
            let (result, after) = apply(&mut store, op, &model);
            result.unwrap_or_else(|e| panic!("cut at {cut}, then op {i} {op:?} failed: {e:?}"));
            model = after;
            assert_eq!(records(&mut store), model, "cut at {cut}, then op {i} {op:?}");
        }
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, BUF>::open(flash, g.offset, g.region).expect("reopen");
        assert_eq!(
            records(&mut store),
            model,
            "cut at {cut}, after the rest and a reopening"
        );
    }
    coverage
}

fn assert_covered(coverage: &Coverage) {
    assert!(coverage.steps > 1000, "{coverage:?}");
    assert!(coverage.compactions_by_replace >= 2, "{coverage:?}");
    assert!(coverage.compactions_by_clear >= 1, "{coverage:?}");
    assert!(coverage.skipped_clears >= 1, "{coverage:?}");
}

/// Byte-writable flash, banks of two 128-byte sectors, the region not at the flash's start.
#[test]
fn power_loss_torn_write_at_every_byte_with_byte_writes() {
    let coverage = every_cut::<1, 1, 128, 64>(Geometry {
        region: 512,
        offset: 256,
        flash_len: 1024,
        big: 30,
    });
    assert_covered(&coverage);
}

/// 4-byte words (nRF, ESP32), one 256-byte sector per bank.
#[test]
fn power_loss_torn_write_at_every_byte_with_word_writes() {
    let coverage = every_cut::<4, 4, 256, 64>(Geometry {
        region: 512,
        offset: 0,
        flash_len: 512,
        big: 30,
    });
    assert_covered(&coverage);
}

/// 16-byte reads and 32-byte writes (STM32H7-like), banks of two 256-byte sectors.
#[test]
fn power_loss_torn_write_at_every_byte_with_wide_writes() {
    let coverage = every_cut::<16, 32, 256, 96>(Geometry {
        region: 1024,
        offset: 0,
        flash_len: 1024,
        big: 60,
    });
    assert_covered(&coverage);
}

/// A second cut while `open` repairs what the first left: for every first cut that
/// makes `open` compact, every step of that compaction is cut too.
#[test]
fn power_loss_torn_write_during_recovery() {
    type F = Torn<1, 4, 256>;
    let g = Geometry {
        region: 512,
        offset: 0,
        flash_len: 512,
        big: 30,
    };
    let ops = script(g.big);
    let mut coverage = Coverage::default();
    run_until_cut::<1, 4, 256, 64>(&g, &ops, None, &mut coverage);
    let mut repairs = 0;
    for cut in 0..coverage.steps {
        let (mut flash, stop) = run_until_cut::<1, 4, 256, 64>(&g, &ops, Some(cut), &mut Coverage::default());
        let stop = stop.expect("cut");
        flash.revive();
        // How many steps the repairing open takes, on a copy.
        let mut probe: F = Torn::new(g.flash_len, None);
        probe.bytes.clone_from(&flash.bytes);
        probe.programmed.clone_from(&flash.programmed);
        let store = NorFlashStore::<_, 64>::open(probe, g.offset, g.region).expect("open");
        let repair = store.into_inner().steps;
        if repair == 0 {
            continue;
        }
        repairs += 1;
        for second in 0..repair {
            let mut copy: F = Torn::new(g.flash_len, Some(second));
            copy.bytes.clone_from(&flash.bytes);
            copy.programmed.clone_from(&flash.programmed);
            let opened = NorFlashStore::<_, 64>::open(&mut copy, g.offset, g.region).map(|_| ());
            assert!(copy.dead, "cut {cut}, second cut {second} did not happen");
            assert_eq!(opened, Err(StoreError::Io), "cut {cut}, second cut {second}");
            copy.revive();
            let mut store = NorFlashStore::<_, 64>::open(copy, g.offset, g.region).expect("third open");
            let got = records(&mut store);
            assert!(
                got == stop.before || got == stop.after,
                "cut at {cut}, then at {second} of the repair: replayed {got:?}"
            );
            store.append(b"Q", b"\x63tail").expect("append after two cuts");
            let mut expected = got;
            expected.push(b"Q\x63tail".to_vec());
            assert_eq!(records(&mut store), expected);
        }
    }
    assert!(repairs > 100, "only {repairs} cuts needed a repair");
}

#[cfg(feature = "std")]
#[path = "support/broker.rs"]
mod broker;

/// End to end: a real [`umqtt::client::MqttClient`] with its session in a
/// [`NorFlashStore`], publishing to the suite's mosquitto, with the flash losing power at
/// every step of the publish's store writes; a second life reopens the store on the same
/// flash, restores, reconnects and finishes. An independent subscriber counts deliveries.
#[cfg(feature = "std")]
mod end_to_end {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::broker::{Broker, mosquitto_sub, unique};
    use umqtt::QoS;
    use umqtt::client::MqttClient;
    use umqtt::client::nor_store::NorFlashStore;
    use umqtt::client::std_net::TcpTransport;

    use super::{Torn, records};

    type Flash = Torn<1, 4, 256>;
    /// The client's default re-send store is 1 KiB: its longest record is 1027 bytes.
    const BUF: usize = 1027;
    const REGION: u32 = 2048;

    fn tcp(broker: &Broker) -> TcpTransport {
        let t = TcpTransport::connect(broker.addr()).expect("connect");
        t.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        t
    }

    /// The first life: connects and publishes `payload`, with the flash losing power
    /// `cut` steps after it was formatted. Returns whether `publish` succeeded and how
    /// many flash steps the client's writes took.
    fn first_life(
        broker: &Broker,
        flash: &mut Flash,
        id: &str,
        topic: &str,
        qos: QoS,
        payload: &str,
        cut: Option<usize>,
    ) -> (bool, usize) {
        // A formatted flash; the power goes `cut` steps after that.
        NorFlashStore::<_, BUF>::open(&mut *flash, 0, REGION).expect("format");
        flash.cut = cut.map(|n| flash.steps + n);
        let mut store = NorFlashStore::<_, BUF>::open(&mut *flash, 0, REGION).expect("open");
        let base = store.get_ref().steps;
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let mut c: MqttClient<_> = MqttClient::new(tcp(broker), id, &mut rx, &mut tx);
        c.set_store(&mut store).expect("restore");
        c.connect(false).expect("connect");
        let ok = c.publish(topic, payload.as_bytes(), false, qos).is_ok();
        drop(c);
        let steps = store.get_ref().steps - base;
        assert!(ok || store.get_ref().dead, "publish failed on a live flash");
        (ok, steps)
    }

    /// The second life: reopens the store, restores, reconnects, waits for every
    /// acknowledgement. Returns how many messages the restore brought back.
    fn second_life(broker: &Broker, flash: &mut Flash, id: &str) -> usize {
        flash.revive();
        let mut store = NorFlashStore::<_, BUF>::open(&mut *flash, 0, REGION).expect("reopen");
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let mut c: MqttClient<_> = MqttClient::new(tcp(broker), id, &mut rx, &mut tx);
        c.set_store(&mut store).expect("restore");
        let restored = c.session().unacked_messages();
        c.connect(false).expect("second connect");
        c.wait_acked().expect("wait_acked");
        c.disconnect().expect("disconnect");
        drop(c);
        assert!(
            records(&mut store).is_empty(),
            "a settled session leaves no record"
        );
        restored
    }

    fn publish_with_every_cut(qos: QoS) {
        let broker = Broker::start();
        let topic = unique("torn/pub");
        let watcher = mosquitto_sub(broker.port(), &["-t", &topic, "-q", "2"]);
        watcher.wait_ready();
        // How many flash steps one publish takes, uncut.
        let id = unique("torn");
        let mut flash = Flash::new(REGION as usize, None);
        let (ok, steps) = first_life(&broker, &mut flash, &id, &topic, qos, "uncut", None);
        assert!(ok && steps > 20, "{steps} steps");
        let mut outcomes = Vec::new();
        for cut in 0..steps {
            let id = unique("torn");
            let payload = format!("cut{cut}");
            let mut flash = Flash::new(REGION as usize, None);
            let (ok, _) = first_life(&broker, &mut flash, &id, &topic, qos, &payload, Some(cut));
            assert!(!ok || flash.dead, "cut {cut}: the power did not go");
            let restored = second_life(&broker, &mut flash, &id);
            outcomes.push((payload, ok, restored));
        }
        let expected = outcomes
            .iter()
            .filter(|(_, ok, restored)| *ok || *restored > 0)
            .count()
            + 1;
        let _ = watcher.wait_lines(expected, Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(500));
        let mut got: HashMap<String, usize> = HashMap::new();
        for line in watcher.lines() {
            *got.entry(line).or_default() += 1;
        }
        assert_eq!(got.get("uncut"), Some(&1));
        let mut failed = 0;
        for (payload, ok, restored) in &outcomes {
            let n = got.get(payload).copied().unwrap_or(0);
            failed += usize::from(!ok);
            let must_arrive = *ok || *restored > 0;
            match qos {
                QoS::ExactlyOnce if must_arrive => {
                    assert_eq!(n, 1, "{payload}: ok {ok}, restored {restored}")
                }
                QoS::ExactlyOnce => assert!(n <= 1, "{payload}: delivered {n} times"),
                _ if must_arrive => assert!((1..=2).contains(&n), "{payload}: delivered {n} times"),
                _ => assert!(n <= 2, "{payload}: delivered {n} times"),
            }
        }
        assert!(failed > 10, "only {failed} publishes were cut");
    }

    #[test]
    fn power_loss_torn_write_qos1_publish_through_the_client() {
        publish_with_every_cut(QoS::AtLeastOnce);
    }

    #[test]
    fn power_loss_torn_write_qos2_publish_through_the_client() {
        publish_with_every_cut(QoS::ExactlyOnce);
    }
}
