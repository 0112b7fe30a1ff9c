//! [`Faulty`]: a fault-injecting wrapper around any `embedded_io` transport, for
//! robustness tests of the client.
//!
//! Everything is decided by a [`FaultPlan`], which [`FaultPlan::from_seed`] draws from a
//! small self-contained PRNG ([`SplitMix64`]), so a failing seed replays exactly:
//!
//! * **cut after N bytes**: the read or write side lets exactly N bytes through, then the
//!   connection is dead;
//! * **cut mid-packet**: the stream is framed (fixed header + Remaining Length) as it passes,
//!   and the cut lands strictly inside packet number `index` of that direction, `offset`
//!   bytes into it (clamped to `1..len`), so the peer sees a truncated packet;
//! * **short reads / writes**: with a given percentage, a call moves a single byte;
//! * how a cut shows: an error of kind `ConnectionReset`, `ConnectionAborted` or `TimedOut`,
//!   or end of stream (`Ok(0)` from `read`; `write` may not return `Ok(0)`, so it fails
//!   with `BrokenPipe` instead).
//!
//! Once a cut fired, every later call fails the same way (reads keep returning the EOF or
//! the error), like a dead socket. The inner transport is never touched again after that.

#![allow(dead_code)]

use core::fmt;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

/// SplitMix64: a tiny, well-mixed, deterministic PRNG (no `rand` crate needed).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant for tests.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// `true` with probability `pct` percent.
    pub fn percent(&mut self, pct: u8) -> bool {
        self.below(100) < u64::from(pct)
    }

    /// Derives an independent seed (for sub-generators, e.g. one per reconnection).
    pub fn fork(&mut self) -> u64 {
        self.next_u64()
    }
}

/// Where a cut happens in one direction of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// This direction never fails.
    Never,
    /// Exactly this many bytes pass, then the connection is dead (0: the first call fails).
    AfterBytes(u64),
    /// The cut lands inside packet number `index` (0-based, counted in this direction),
    /// after `offset` of its bytes (clamped to `1..len`, so strictly mid-packet).
    MidPacket {
        /// Which packet.
        index: u64,
        /// How far into it.
        offset: usize,
    },
}

/// How a cut shows to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutMode {
    /// An error of kind `ConnectionReset`.
    Reset,
    /// An error of kind `ConnectionAborted`.
    Aborted,
    /// An error of kind `TimedOut` (a read timeout on a silent link).
    TimedOut,
    /// End of stream: `read` returns `Ok(0)`; `write` fails with `BrokenPipe`.
    Eof,
}

/// The faults of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    /// Cut on the read side (server to client).
    pub read_cut: Trigger,
    /// Cut on the write side (client to server).
    pub write_cut: Trigger,
    /// How the cut shows.
    pub mode: CutMode,
    /// Percentage of reads shortened to one byte.
    pub short_read_pct: u8,
    /// Percentage of writes shortened to one byte.
    pub short_write_pct: u8,
    /// Seed for the per-call decisions (short reads/writes).
    pub seed: u64,
}

impl FaultPlan {
    /// No faults at all: a transparent wrapper.
    pub const fn none() -> Self {
        Self {
            read_cut: Trigger::Never,
            write_cut: Trigger::Never,
            mode: CutMode::Reset,
            short_read_pct: 0,
            short_write_pct: 0,
            seed: 0,
        }
    }

    /// Only short reads and writes (each with `pct` percent), never a cut.
    pub const fn short_only(pct: u8, seed: u64) -> Self {
        Self {
            read_cut: Trigger::Never,
            write_cut: Trigger::Never,
            mode: CutMode::Reset,
            short_read_pct: pct,
            short_write_pct: pct,
            seed,
        }
    }

    /// A random plan for a chatty test connection: about a quarter of the connections are
    /// fault-free (so that progress is always possible), the others are cut, on one side
    /// or both, after up to `max_bytes` bytes or inside one of the first `max_packets`
    /// packets.
    pub fn from_seed(seed: u64, max_bytes: u64, max_packets: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let trigger = |rng: &mut SplitMix64| match rng.below(3) {
            0 => Trigger::AfterBytes(rng.below(max_bytes + 1)),
            1 => Trigger::MidPacket {
                index: rng.below(max_packets.max(1)),
                offset: rng.range(1, 40) as usize,
            },
            _ => Trigger::Never,
        };
        let (read_cut, write_cut) = match rng.below(8) {
            0 | 1 => (Trigger::Never, Trigger::Never),
            2 | 3 => (trigger(&mut rng), Trigger::Never),
            4 | 5 => (Trigger::Never, trigger(&mut rng)),
            _ => (trigger(&mut rng), trigger(&mut rng)),
        };
        let mode = match rng.below(4) {
            0 => CutMode::Reset,
            1 => CutMode::Aborted,
            2 => CutMode::TimedOut,
            _ => CutMode::Eof,
        };
        let short = |rng: &mut SplitMix64| if rng.percent(50) { rng.below(101) as u8 } else { 0 };
        let short_read_pct = short(&mut rng);
        let short_write_pct = short(&mut rng);
        Self {
            read_cut,
            write_cut,
            mode,
            short_read_pct,
            short_write_pct,
            seed: rng.fork(),
        }
    }

    /// Whether this plan can ever cut the connection.
    pub fn cuts(&self) -> bool {
        self.read_cut != Trigger::Never || self.write_cut != Trigger::Never
    }
}

/// The error of a [`Faulty`] transport: an injected fault, or the inner transport's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError<E> {
    /// An injected fault of this kind.
    Injected(ErrorKind),
    /// The wrapped transport failed (or, from a connector, could not connect).
    Inner(E),
}

impl<E: fmt::Debug> fmt::Display for FaultError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Injected(kind) => write!(f, "injected fault: {kind:?}"),
            Self::Inner(e) => write!(f, "transport error: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FaultError<E> {}

impl<E: embedded_io::Error> embedded_io::Error for FaultError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Injected(kind) => *kind,
            Self::Inner(e) => e.kind(),
        }
    }
}

/// Follows MQTT framing (fixed header + Remaining Length) over a byte stream.
#[derive(Debug, Clone, Default)]
struct Framer {
    /// Index of the packet the next byte belongs to.
    index: u64,
    /// Bytes of the current packet seen so far.
    pos: usize,
    /// The fixed header bytes seen so far (at most 5).
    hdr: [u8; 5],
    /// Total length of the current packet, once its fixed header is complete.
    len: Option<usize>,
    /// The stream is not valid MQTT (stop following it).
    lost: bool,
}

impl Framer {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.lost {
                return;
            }
            if self.len.is_none() {
                if let Some(slot) = self.hdr.get_mut(self.pos) {
                    *slot = b;
                }
                self.pos += 1;
                match umqtt::peek_fixed_header(self.hdr.get(..self.pos).unwrap_or(&[])) {
                    Ok(umqtt::Status::Complete(h)) => self.len = Some(h.packet_len()),
                    Ok(umqtt::Status::Partial { .. }) => {}
                    Err(_) => self.lost = true,
                }
            } else {
                self.pos += 1;
            }
            if self.len == Some(self.pos) {
                self.index += 1;
                self.pos = 0;
                self.len = None;
            }
        }
    }
}

/// One direction of a [`Faulty`] transport.
#[derive(Debug, Clone)]
struct Side {
    trigger: Trigger,
    short_pct: u8,
    passed: u64,
    framer: Framer,
    dead: bool,
}

impl Side {
    fn new(trigger: Trigger, short_pct: u8) -> Self {
        Self {
            trigger,
            short_pct,
            passed: 0,
            framer: Framer::default(),
            dead: false,
        }
    }

    /// How many bytes may pass now before the cut (`None`: no limit). `Some(0)` means the
    /// cut fires now.
    fn allowance(&self) -> Option<usize> {
        if self.dead {
            return Some(0);
        }
        match self.trigger {
            Trigger::Never => None,
            Trigger::AfterBytes(n) => {
                Some(usize::try_from(n.saturating_sub(self.passed)).unwrap_or(usize::MAX))
            }
            Trigger::MidPacket { index, offset } => {
                let f = &self.framer;
                if f.lost {
                    return Some(0);
                }
                if f.index > index {
                    return Some(0);
                }
                if f.index < index {
                    // Move up to the end of the current packet, or byte by byte through
                    // an incomplete fixed header.
                    return Some(f.len.map_or(1, |len| len - f.pos));
                }
                match f.len {
                    None if f.pos >= offset.max(1) => Some(0),
                    None => Some(1),
                    Some(len) => {
                        let cut = offset.clamp(1, len - 1);
                        Some(cut.saturating_sub(f.pos))
                    }
                }
            }
        }
    }

    /// Limits a transfer of `want` bytes; `None` means the cut fires now.
    fn limit(&mut self, want: usize, rng: &mut SplitMix64) -> Option<usize> {
        if want == 0 {
            return Some(0);
        }
        let mut n = want;
        if let Some(allow) = self.allowance() {
            if allow == 0 {
                self.dead = true;
                return None;
            }
            n = n.min(allow);
        }
        if self.short_pct > 0 && rng.percent(self.short_pct) {
            n = 1;
        }
        Some(n)
    }

    fn passed(&mut self, bytes: &[u8]) {
        self.passed += bytes.len() as u64;
        if matches!(self.trigger, Trigger::MidPacket { .. }) {
            self.framer.feed(bytes);
        }
    }
}

/// Counters of one [`Faulty`] transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Bytes delivered to the caller.
    pub bytes_read: u64,
    /// Bytes handed to the inner transport.
    pub bytes_written: u64,
    /// Reads that were shortened to one byte.
    pub short_reads: u64,
    /// Writes that were shortened to one byte.
    pub short_writes: u64,
    /// Whether a cut fired.
    pub cut: bool,
}

std::thread_local! {
    /// Whether a [`Faulty`] of this thread made its user wait on a link cut by timing
    /// out since the last [`forget_silent_waits`] (see [`waited_on_silent_link`]).
    static SILENT_WAIT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Whether a [`Faulty`] of this thread was waited on after it was cut with
/// [`CutMode::TimedOut`] since the last [`forget_silent_waits`]: a client deadline (no
/// CONNACK, no PUBACK, ...) firing then is the fault's doing, while one firing in a run
/// whose links never went silent means the client waited for a packet the broker never
/// sends. Runs call [`forget_silent_waits`] at their start; the flag is per run, not per
/// link, because a reconnecting wrapper opens new links before it reports the error of
/// the old one.
pub fn waited_on_silent_link() -> bool {
    SILENT_WAIT.with(core::cell::Cell::get)
}

/// Starts a new run for [`waited_on_silent_link`].
pub fn forget_silent_waits() {
    SILENT_WAIT.with(|w| w.set(false));
}

/// A transport that injects the faults of a [`FaultPlan`] into `T`.
#[derive(Debug)]
pub struct Faulty<T> {
    inner: T,
    plan: FaultPlan,
    rng: SplitMix64,
    read: Side,
    write: Side,
    stats: FaultStats,
    /// Time spent waiting on a link that was cut by timing out: nothing ever arrives on
    /// it, so each wait lasts its whole timeout (added to the inner clock).
    waited: u64,
}

impl<T> Faulty<T> {
    /// Wraps `inner` with the faults of `plan`.
    pub fn new(inner: T, plan: FaultPlan) -> Self {
        Self {
            waited: 0,
            inner,
            rng: SplitMix64::new(plan.seed),
            read: Side::new(plan.read_cut, plan.short_read_pct),
            write: Side::new(plan.write_cut, plan.short_write_pct),
            plan,
            stats: FaultStats::default(),
        }
    }

    /// Wraps `inner` with the random plan of `seed` (see [`FaultPlan::from_seed`]).
    pub fn from_seed(inner: T, seed: u64, max_bytes: u64, max_packets: u64) -> Self {
        Self::new(inner, FaultPlan::from_seed(seed, max_bytes, max_packets))
    }

    /// The plan in force.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// What happened so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// Whether a cut fired (the connection is dead).
    pub fn is_cut(&self) -> bool {
        self.read.dead || self.write.dead
    }

    /// Kills the connection now, as if the cable was pulled.
    pub fn cut_now(&mut self) {
        self.read.dead = true;
        self.write.dead = true;
        self.stats.cut = true;
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped transport, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Gives the wrapped transport back.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Marks the connection dead and returns the error a failing call reports.
    fn fail<E>(&mut self, writing: bool) -> FaultError<E> {
        // A dead connection is dead in both directions.
        self.read.dead = true;
        self.write.dead = true;
        self.stats.cut = true;
        FaultError::Injected(match self.plan.mode {
            CutMode::Reset => ErrorKind::ConnectionReset,
            CutMode::Aborted => ErrorKind::ConnectionAborted,
            CutMode::TimedOut => ErrorKind::TimedOut,
            CutMode::Eof if writing => ErrorKind::BrokenPipe,
            CutMode::Eof => ErrorKind::ConnectionReset,
        })
    }

    /// What a read on a dead connection returns.
    fn dead_read<E>(&mut self) -> Result<usize, FaultError<E>> {
        let e = self.fail(false);
        if self.plan.mode == CutMode::Eof {
            Ok(0)
        } else {
            Err(e)
        }
    }
}

impl<T: ErrorType> ErrorType for Faulty<T> {
    type Error = FaultError<T::Error>;
}

impl<T: Read> Read for Faulty<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.is_cut() {
            return self.dead_read();
        }
        let Some(n) = self.read.limit(buf.len(), &mut self.rng) else {
            return self.dead_read();
        };
        if n == 1 && buf.len() > 1 {
            self.stats.short_reads += 1;
        }
        let dst = buf.get_mut(..n).unwrap_or_default();
        let got = self.inner.read(dst).map_err(FaultError::Inner)?;
        self.read.passed(dst.get(..got).unwrap_or_default());
        self.stats.bytes_read += got as u64;
        Ok(got)
    }
}

impl<T: Write> Write for Faulty<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.is_cut() {
            return Err(self.fail(true));
        }
        let Some(n) = self.write.limit(buf.len(), &mut self.rng) else {
            return Err(self.fail(true));
        };
        if n == 1 && buf.len() > 1 {
            self.stats.short_writes += 1;
        }
        let src = buf.get(..n).unwrap_or_default();
        let put = self.inner.write(src).map_err(FaultError::Inner)?;
        self.write.passed(src.get(..put).unwrap_or_default());
        self.stats.bytes_written += put as u64;
        Ok(put)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        if self.is_cut() {
            return Err(self.fail(true));
        }
        self.inner.flush().map_err(FaultError::Inner)
    }
}

impl<T: umqtt::client::Transport> umqtt::client::Transport for Faulty<T> {
    fn now_ms(&mut self) -> u64 {
        self.inner.now_ms() + self.waited
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> Result<bool, Self::Error> {
        if self.is_cut() && self.plan.mode == CutMode::TimedOut {
            self.waited += u64::from(timeout_ms.max(1));
            SILENT_WAIT.with(|w| w.set(true));
            return Ok(false);
        }
        if self.is_cut() {
            // The next read returns the EOF or the error at once.
            return Ok(true);
        }
        self.inner.wait_readable(timeout_ms).map_err(FaultError::Inner)
    }
}

impl<T: Read + ReadReady> ReadReady for Faulty<T> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        if self.is_cut() {
            // The next read returns the EOF or the error at once.
            return Ok(true);
        }
        self.inner.read_ready().map_err(FaultError::Inner)
    }
}
