//! umqtt on the metal: runs the codec and a scripted client session on an emulated
//! Cortex-M3 (QEMU `lm3s6965evb`), logs through defmt over semihosting, measures peak stack,
//! and exits through semihosting with status 0 only if every check passed.
//!
//! Run it with `bash scripts/qemu.sh` from the repository root. The lines starting with
//! `RESULT ` are what the script copies into `qemu/results.txt`.

#![no_std]
#![no_main]

mod check;
mod client;
mod codec;
mod persist;
mod stack;
mod transport;

use core::mem::size_of;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::debug;
// Links the defmt global logger (defmt frames on semihosting stdout).
use defmt_semihosting as _;
use umqtt::client::{ClientError, MqttClient};
use umqtt::session::Session;
use umqtt::{Connect, Packet, Publish};

use crate::check::check;
use crate::transport::{LinkError, ScriptTransport};

/// One measured number, in the `RESULT key=value` form the script extracts.
fn result(key: &str, value: usize) {
    defmt::info!("RESULT {=str}={=usize}", key, value);
}

fn report_sizes() {
    // The client with a handle-sized transport (`&mut T`) and its default N = 8, S = 1024.
    result(
        "size_of_mqtt_client",
        size_of::<MqttClient<'static, &'static mut ScriptTransport>>(),
    );
    result("size_of_session_8_1024", size_of::<Session<8, 1024>>());
    result("size_of_packet", size_of::<Packet<'static>>());
    result("size_of_publish", size_of::<Publish<'static>>());
    result("size_of_connect", size_of::<Connect<'static>>());
    result("size_of_client_error", size_of::<ClientError<LinkError>>());
}

/// Checks that a measured run left stack to spare and returns its program-wide peak.
fn spare(what: &str, u: stack::Usage) -> usize {
    check!(
        u.untouched >= 1024,
        "{=str}: only {=usize} bytes of stack left untouched (overflow?)",
        what,
        u.untouched
    );
    u.total
}

#[entry]
fn main() -> ! {
    defmt::info!("umqtt firmware on an emulated Cortex-M3 (lm3s6965evb)");
    // The first boot resets the device half-way through a QoS 2 flow; the second finishes it.
    persist::run();
    report_sizes();
    let (bottom, top) = stack::region();
    result("stack_region_bytes", top - bottom);
    let calibration = stack::calibrate();
    check!(
        (stack::CALIBRATION_BYTES..stack::CALIBRATION_BYTES + 64).contains(&calibration),
        "stack calibration: a {=usize}-byte local array measured as {=usize} bytes",
        stack::CALIBRATION_BYTES,
        calibration
    );
    result("stack_calibration_bytes", calibration);

    // First with logging, which exercises the defmt::Format impls; then quietly, which
    // measures what the library needs without the logger's frames.
    let (_, codec_logging) = stack::measure(|| codec::run(true));
    let (_, client_logging) = stack::measure(|| client::run(true));
    let (codec, codec_phase) = stack::measure(|| codec::run(false));
    let (client, client_phase) = stack::measure(|| client::run(false));

    result("stack_decode_bytes", codec.decode);
    result("stack_encode_bytes", codec.encode);
    result("stack_client_call_bytes", client.deepest);
    defmt::info!("RESULT stack_client_call_deepest={=str}", client.step);
    result("stack_codec_phase_bytes", codec_phase.call);
    result("stack_client_phase_bytes", client_phase.call);
    result("stack_client_phase_logging_bytes", client_logging.call);
    let peak = [
        spare("codec with logging", codec_logging),
        spare("client with logging", client_logging),
        spare("codec", codec_phase),
        spare("client", client_phase),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    result("stack_peak_bytes", peak);

    let (checks, failures) = check::totals();
    if failures == 0 && checks > 0 {
        defmt::info!("PASS: {=u32} checks, 0 failures", checks);
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        defmt::error!("FAIL: {=u32} of {=u32} checks failed", failures, checks);
        debug::exit(debug::EXIT_FAILURE);
    }
    // Only reached if the host ignored the exit request.
    cortex_m::asm::udf()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    debug::exit(debug::EXIT_FAILURE);
    cortex_m::asm::udf()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("hard fault at pc {=u32:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::nop();
    }
}
