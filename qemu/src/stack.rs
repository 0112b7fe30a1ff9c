//! Stack high-water mark: paint the unused stack with a pattern, run something, then find
//! the lowest word that no longer holds the pattern.
//!
//! cortex-m-rt places the stack at the top of RAM (`_stack_start`, growing down) with
//! `_stack_end` just above `.bss`/`.uninit`. Painting starts at `_stack_end` and stops at the
//! current stack pointer, in one `asm!` block that itself touches no stack, so nothing live
//! is overwritten. No interrupts are enabled in this firmware, so nothing else writes below
//! the stack pointer meanwhile.
//!
//! Measurements nest: an inner [`measure`] repaints the stack, so before doing so it folds
//! the deepest point reached so far into [`LOW_WATER`], from which the enclosing measurement
//! takes it back.

use core::arch::asm;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The paint: an odd-looking word that neither code addresses nor small integers produce.
const PAINT: u32 = 0x5ac3_3ca5;

unsafe extern "C" {
    /// Top of the stack (initial SP), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Lowest address the stack may use, from cortex-m-rt's `link.x`.
    static _stack_end: u32;
}

/// Lowest stack address reached inside the innermost running measurement, as far as
/// nested measurements have reported it (`usize::MAX`: nothing reported).
static LOW_WATER: AtomicUsize = AtomicUsize::new(usize::MAX);

/// `(lowest, highest)` address of the stack region.
pub fn region() -> (usize, usize) {
    (
        (&raw const _stack_end) as usize,
        (&raw const _stack_start) as usize,
    )
}

/// Paints the free stack, from `_stack_end` up to the stack pointer, and returns the stack
/// pointer. Always inlined so that the caller's own frame stays above what is painted.
#[inline(always)]
fn paint() -> usize {
    let (bottom, _) = region();
    let sp: usize;
    // SAFETY: writes only words in [_stack_end, sp): the free part of the stack, which holds
    // no live data (no interrupt handler runs; the asm uses registers only).
    unsafe {
        asm!(
            "mov {sp}, sp",
            "2:",
            "cmp {p}, {sp}",
            "bhs 3f",
            "str {pat}, [{p}], #4",
            "b 2b",
            "3:",
            sp = out(reg) sp,
            p = inout(reg) bottom => _,
            pat = in(reg) PAINT,
            options(nostack),
        );
    }
    sp
}

/// The lowest stack address written since the last paint.
fn lowest_used() -> usize {
    let (bottom, top) = region();
    let mut p = bottom;
    // SAFETY: reads aligned words inside the stack region.
    while p < top && unsafe { ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    p
}

/// Stack used by one measured call.
#[derive(Debug, Clone, Copy, Default, defmt::Format)]
pub struct Usage {
    /// Bytes below the stack pointer of [`measure`]: the measured call's own peak stack.
    pub call: usize,
    /// Bytes from the top of the stack down to the deepest point: the whole program's peak
    /// while the call ran (this firmware's `main` and harness frames included).
    pub total: usize,
    /// Bytes of stack that were never touched (0 means the stack probably overflowed).
    pub untouched: usize,
}

/// Runs `f` on a freshly painted stack; returns its result and how deep it went.
#[inline(never)]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    // Keep what an enclosing measurement has seen so far: painting erases it.
    let outer = LOW_WATER.swap(usize::MAX, Ordering::Relaxed).min(lowest_used());
    let sp = paint();
    let r = below(f);
    let low = lowest_used().min(LOW_WATER.load(Ordering::Relaxed));
    LOW_WATER.store(outer.min(low), Ordering::Relaxed);
    let (bottom, top) = region();
    let usage = Usage {
        call: sp.saturating_sub(low),
        total: top - low,
        untouched: low - bottom,
    };
    (r, usage)
}

/// Calls `f` in a frame of its own, below the painted stack pointer, so that nothing `f`
/// needs can be folded into the (unmeasured) frame of [`measure`].
#[inline(never)]
fn below<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Bytes of stack [`calibrate`] puts to use on purpose.
pub const CALIBRATION_BYTES: usize = 1024;

/// Measures a call that fills a [`CALIBRATION_BYTES`] local array, to show that the method
/// sees stack use: the result must be at least that and only a little more.
pub fn calibrate() -> usize {
    #[inline(never)]
    fn fill() -> u8 {
        let mut a = [0u8; CALIBRATION_BYTES];
        for (i, b) in core::hint::black_box(&mut a).iter_mut().enumerate() {
            *b = i as u8 | 1;
        }
        core::hint::black_box(&a).iter().fold(0, |x, &b| x ^ b)
    }
    measure(fill).1.call
}
