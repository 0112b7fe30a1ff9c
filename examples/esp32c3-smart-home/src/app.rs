//! The smart-home tasks, free of any board: the same code runs in the ESP32-C3 firmware
//! (`main.rs`, over embassy-net) and in umqtt's host test suite
//! (`tests/smart_home_tasks.rs`, over tokio TCP against mosquitto).
//!
//! They port the MicroPython tutorial's program: a command topic switches the living-room
//! light, and the light's state and the temperature are published every second. Here the
//! two halves are separate tasks sharing one MQTT connection through
//! [`umqtt::client::shared`]; the runner task keeps it alive and reconnects.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, Ordering};

use umqtt::QoS;
use umqtt::client::shared::raw::RawMutex;
use umqtt::client::shared::{Handle, SharedError};

/// The topics of one device, all under its id (the tutorial's `<uuid>`).
#[derive(Debug, Clone, Copy)]
pub struct Topics<'a> {
    /// Commands for the light: `on`, `off` or `toggle`.
    pub light: &'a str,
    /// The light's state, `on` or `off`, retained.
    pub light_state: &'a str,
    /// The temperature in degrees Celsius with one decimal, such as `21.5`.
    pub temperature: &'a str,
}

/// The state payload for `on`.
pub fn state(on: bool) -> &'static [u8] {
    if on { b"on" } else { b"off" }
}

/// What a command payload asks for, given the current state; `None` for anything else.
pub fn command(payload: &[u8], now: bool) -> Option<bool> {
    match payload.trim_ascii() {
        b"on" | b"ON" | b"1" => Some(true),
        b"off" | b"OFF" | b"0" => Some(false),
        b"toggle" | b"TOGGLE" => Some(!now),
        _ => None,
    }
}

/// Subscribes to the light's command topic and switches the light with `set_led` for
/// every command, publishing the new state at once (the tutorial's callback). Runs until
/// the shared client stops.
///
/// # Errors
/// The shared client's error: it has stopped, or the server refused the subscription.
pub async fn light_task<M: RawMutex, const B: usize, const S: usize, const I: usize>(
    handle: Handle<'_, M, B, S, I>,
    topics: Topics<'_>,
    light: &AtomicBool,
    mut set_led: impl FnMut(bool),
) -> Result<(), SharedError> {
    let mut commands = handle.subscribe(topics.light, QoS::AtLeastOnce).await?;
    let mut buf = [0u8; 256];
    loop {
        let message = commands.next(&mut buf).await?;
        let Some(on) = command(message.payload, light.load(Ordering::Relaxed)) else {
            continue;
        };
        light.store(on, Ordering::Relaxed);
        set_led(on);
        handle
            .publish(topics.light_state, state(on), QoS::AtLeastOnce, true)
            .await?;
    }
}

/// Publishes the temperature (`read_temperature` gives tenths of a degree) and the light's
/// state every `period_ms`, sleeping with `sleep` in between. Runs until the shared client
/// stops.
///
/// # Errors
/// The shared client's error.
pub async fn status_task<M: RawMutex, const B: usize, const S: usize, const I: usize>(
    handle: Handle<'_, M, B, S, I>,
    topics: Topics<'_>,
    light: &AtomicBool,
    mut read_temperature: impl FnMut() -> i32,
    period_ms: u64,
    mut sleep: impl AsyncFnMut(u64),
) -> Result<(), SharedError> {
    loop {
        let tenths = read_temperature();
        let mut text = heapless::String::<16>::new();
        let sign = if tenths < 0 { "-" } else { "" };
        let _ = write!(
            text,
            "{sign}{}.{}",
            tenths.unsigned_abs() / 10,
            tenths.unsigned_abs() % 10
        );
        handle
            .publish(topics.temperature, text.as_bytes(), QoS::AtMostOnce, false)
            .await?;
        let on = light.load(Ordering::Relaxed);
        handle
            .publish(topics.light_state, state(on), QoS::AtMostOnce, true)
            .await?;
        sleep(period_ms).await;
    }
}

/// A simulated temperature in tenths of a degree: a slow walk between 18.0 and 24.0
/// driven by `tick` (one step per reading).
pub fn simulated_temperature(tick: u32) -> i32 {
    let phase = i32::try_from(tick % 120).unwrap_or(0);
    let triangle = if phase < 60 { phase } else { 120 - phase };
    180 + triangle
}
