//! The harness every size-measurement binary shares.
//!
//! Everything here is either generic (instantiated only by the variants that use it, so the
//! empty baseline does not pay for it) or a few bytes. Inputs come from statics through
//! volatile reads and outputs leave through volatile writes or `black_box`, so the optimiser
//! can neither constant-fold a job nor delete it.
//!
//! On the host (`target_os` other than `none`) the same code builds with `std`, so every job
//! can be run once to check that it really completes (`cargo run -p <variant>`).
#![no_std]

use core::future::Future;
use core::hint::black_box;
use core::pin::pin;
use core::ptr::{read_volatile, write_volatile};
use core::task::{Context, Poll, Waker};

#[cfg(target_os = "none")]
pub use cortex_m_rt::entry;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

static mut RESULT: u32 = 0;

/// Publishes a result where the optimiser cannot see it being dropped.
#[inline(never)]
pub fn emit(v: u32) {
    // SAFETY: single-threaded firmware; a plain volatile store to our own static.
    unsafe { write_volatile(&raw mut RESULT, v) }
}

/// Makes `x` opaque to the optimiser (its value, and for references where they point).
#[inline(always)]
pub fn opaque<T>(x: T) -> T {
    black_box(x)
}

/// Copies `src` into the start of `dst` byte by byte with volatile reads, so the bytes a
/// decoder sees are unknown at compile time. Returns the number of bytes copied.
#[inline(never)]
pub fn load(src: &'static [u8], dst: &mut [u8]) -> usize {
    let n = src.len().min(dst.len());
    let p = src.as_ptr();
    for (i, d) in dst.iter_mut().take(n).enumerate() {
        // SAFETY: i < n <= src.len().
        *d = unsafe { read_volatile(p.add(i)) };
    }
    n
}

/// Folds a job's outcome into one word: the job's value, or `0xdead_0000 | step`.
pub fn outcome(r: Result<u32, u32>) -> u32 {
    match r {
        Ok(v) => v,
        Err(step) => 0xdead_0000 | step,
    }
}

/// Polls a future to completion with a no-op waker (the scripted transports never pend).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A transport that plays back what a broker would send from a static script (read with
/// volatile loads) and swallows everything written (through `black_box`). Implements the
/// blocking `embedded-io` and the async `embedded-io-async` traits.
pub struct ScriptIo {
    rx: &'static [u8],
    pos: usize,
    /// Bytes written so far, so that writes are observable.
    pub written: usize,
}

impl ScriptIo {
    /// A transport that will return the bytes of `rx`, then end of stream.
    pub fn new(rx: &'static [u8]) -> Self {
        Self {
            rx: opaque(rx),
            pos: 0,
            written: 0,
        }
    }

    #[inline(never)]
    fn read_bytes(&mut self, buf: &mut [u8]) -> usize {
        let left = self.rx.get(self.pos..).unwrap_or(&[]);
        let n = left.len().min(buf.len());
        let p = left.as_ptr();
        for (i, d) in buf.iter_mut().take(n).enumerate() {
            // SAFETY: i < n <= left.len().
            *d = unsafe { read_volatile(p.add(i)) };
        }
        self.pos += n;
        n
    }

    #[inline(never)]
    fn write_bytes(&mut self, buf: &[u8]) -> usize {
        black_box(buf);
        self.written += buf.len();
        buf.len()
    }
}

impl embedded_io::ErrorType for ScriptIo {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for ScriptIo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.read_bytes(buf))
    }
}

impl embedded_io::ReadReady for ScriptIo {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.pos < self.rx.len())
    }
}

/// The client's clock and bounded wait: the script is all there is, so data (or its end)
/// is always ready at once and the clock stands still.
#[cfg(feature = "umqtt")]
impl umqtt::client::Transport for ScriptIo {
    fn now_ms(&mut self) -> u64 {
        0
    }

    fn wait_readable(&mut self, _timeout_ms: u32) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

impl embedded_io::Write for ScriptIo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.write_bytes(buf))
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io_async::Read for ScriptIo {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(self.read_bytes(buf))
    }
}

impl embedded_io_async::Write for ScriptIo {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(self.write_bytes(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The `main` of every variant: on the target a cortex-m-rt entry that runs the job once,
/// publishes the outcome and parks; on the host a `fn main` that runs it and fails loudly
/// if the job did not complete.
#[macro_export]
macro_rules! firmware {
    ($job:path) => {
        #[cfg(target_os = "none")]
        #[$crate::entry]
        fn main() -> ! {
            $crate::emit($crate::outcome($job()));
            loop {
                core::hint::spin_loop();
            }
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            extern crate std;
            match $job() {
                Ok(v) => std::println!("{}: ok ({v:#x})", env!("CARGO_PKG_NAME")),
                Err(step) => {
                    std::eprintln!("{}: FAILED at step {step}", env!("CARGO_PKG_NAME"));
                    std::process::exit(1);
                }
            }
        }
    };
}

/// A zero-sized transport, for measuring a client's own footprint without its transport.
/// Reads report end of stream, writes are accepted and dropped.
pub struct NoIo;

impl embedded_io::ErrorType for NoIo {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for NoIo {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

impl embedded_io::Write for NoIo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io_async::Read for NoIo {
    async fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

impl embedded_io_async::Write for NoIo {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
