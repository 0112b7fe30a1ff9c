//! The smart-home tutorial on an ESP32-C3: Wi-Fi (esp-radio), DHCP, DNS and TCP
//! (embassy-net), and one MQTT connection shared by two tasks through umqtt's
//! [`shared`](umqtt::client::shared) client:
//!
//! * `light`: subscribes to `<device>/living_room/light` and switches the LED (`on`,
//!   `off`, `toggle`), publishing the new state at once;
//! * `status`: publishes the light's state and a simulated temperature every second;
//! * `mqtt`: the runner; keep-alive, and reconnection after a Wi-Fi or broker loss.
//!
//! Settings come from the environment at build time: `SSID`, `PASSWORD`, `BROKER_HOST`
//! (a name or an IPv4 address), `BROKER_PORT` (1883), `MQTT_USER`, `MQTT_PASSWORD`,
//! `DEVICE_ID` (`esp32c3`). See README.md for flashing.

#![no_std]
#![no_main]

mod app;
mod net;

use core::sync::atomic::AtomicBool;

use embassy_executor::Spawner;
use embassy_net::{Runner as NetRunner, StackResources};
use embassy_time::{Duration, Timer};
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Level, Output, OutputConfig};
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{Config, Interface, Password, Ssid, WifiController};
use static_cell::StaticCell;
use umqtt::client::shared::raw::CriticalSectionRawMutex;
use umqtt::client::shared::{Handle, Runner, Shared};
use umqtt::client::{AsyncMqttClient, ClientOptions};
use {esp_alloc as _, esp_backtrace as _};

use net::{Backoff, EspTcp};

esp_bootloader_esp_idf::esp_app_desc!();

/// A build-time setting, or its default.
macro_rules! setting {
    ($name:literal, $default:literal) => {
        match option_env!($name) {
            Some(value) => value,
            None => $default,
        }
    };
}

const SSID: &str = setting!("SSID", "");
const PASSWORD: &str = setting!("PASSWORD", "");
const BROKER_HOST: &str = setting!("BROKER_HOST", "");
const BROKER_PORT: &str = setting!("BROKER_PORT", "1883");
const MQTT_USER: &str = setting!("MQTT_USER", "");
const MQTT_PASSWORD: &str = setting!("MQTT_PASSWORD", "");
const DEVICE_ID: &str = setting!("DEVICE_ID", "esp32c3");

type Mutex = CriticalSectionRawMutex;
type Mqtt = Runner<'static, 'static, EspTcp, Backoff, Mutex>;

/// The connection the tasks share (default sizes: 512-byte request queue, four
/// subscriptions with 1 KiB inboxes).
static SHARED: Shared<Mutex> = Shared::new();
static LIGHT: AtomicBool = AtomicBool::new(false);

static NET: StaticCell<StackResources<3>> = StaticCell::new();
static TCP_RX: StaticCell<[u8; 1536]> = StaticCell::new();
static TCP_TX: StaticCell<[u8; 1536]> = StaticCell::new();
static MQTT_RX: StaticCell<[u8; 512]> = StaticCell::new();
static MQTT_TX: StaticCell<[u8; 512]> = StaticCell::new();
static TOPICS: StaticCell<Topics> = StaticCell::new();
static LOG: StaticCell<fn(&umqtt::client::ClientError<net::Error>)> = StaticCell::new();

/// The device's topics, built once from `DEVICE_ID`.
struct Topics {
    light: heapless::String<96>,
    light_state: heapless::String<96>,
    temperature: heapless::String<96>,
}

impl Topics {
    fn app(&'static self) -> app::Topics<'static> {
        app::Topics {
            light: &self.light,
            light_state: &self.light_state,
            temperature: &self.temperature,
        }
    }
}

fn topic(suffix: &str) -> heapless::String<96> {
    let mut s = heapless::String::new();
    let _ = s.push_str(DEVICE_ID);
    let _ = s.push_str(suffix);
    s
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // esp-radio's Wi-Fi driver allocates; umqtt does not.
    esp_alloc::heap_allocator!(size: 72 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    // Many ESP32-C3 boards have a plain LED on GPIO8 (active low on some).
    let led = Output::new(peripherals.GPIO8, Level::Low, OutputConfig::default());

    let station = StationConfig::default()
        .with_ssid(Ssid::try_from(SSID).unwrap_or_default())
        .with_authentication(esp_radio::wifi::AuthenticationMethodConfig::Wpa2Personal(
            Password::try_from(PASSWORD).unwrap_or_default(),
        ));
    let mut wifi = match WifiController::new(peripherals.WIFI, Default::default()) {
        Ok(wifi) => wifi,
        Err(e) => halt("Wi-Fi failed to start", &e),
    };
    if let Err(e) = wifi.set_config(&Config::Station(station)) {
        halt("Wi-Fi configuration refused", &e);
    }
    let rng = Rng::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    let (stack, net_runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        NET.init(StackResources::new()),
        seed,
    );
    spawner.spawn(wifi_task(wifi).unwrap());
    spawner.spawn(net_task(net_runner).unwrap());

    println!("waiting for an address from DHCP");
    stack.wait_config_up().await;
    println!("network up: {:?}", stack.config_v4().map(|c| c.address));

    let port = BROKER_PORT.parse().unwrap_or(1883);
    let mut tcp = EspTcp::new(
        stack,
        TCP_RX.init([0; 1536]),
        TCP_TX.init([0; 1536]),
        BROKER_HOST,
        port,
    );
    let mut attempt = 0;
    while let Err(e) = tcp.open().await {
        attempt += 1;
        println!(
            "broker {BROKER_HOST}:{port} not reachable ({e}); again in {} s",
            attempt.min(30)
        );
        Timer::after(Duration::from_secs(attempt.min(30))).await;
    }
    let options = ClientOptions {
        keep_alive: 30,
        user: (!MQTT_USER.is_empty()).then_some(MQTT_USER),
        password: (!MQTT_PASSWORD.is_empty()).then_some(MQTT_PASSWORD.as_bytes()),
        ..ClientOptions::default()
    };
    let client = AsyncMqttClient::new(tcp, DEVICE_ID, MQTT_RX.init([0; 512]), MQTT_TX.init([0; 512]))
        .with_options(options);
    let mut runner: Mqtt = match Runner::new(&SHARED, client, Backoff) {
        Ok(runner) => runner,
        Err(e) => halt("MQTT buffers", &e),
    };
    let log = LOG.init(|e| println!("MQTT connection lost: {e}; reconnecting"));
    runner.set_log(log);
    spawner.spawn(mqtt_task(runner).unwrap());

    let topics = TOPICS.init(Topics {
        light: topic("/living_room/light"),
        light_state: topic("/living_room/light/state"),
        temperature: topic("/living_room/temperature"),
    });
    spawner.spawn(light_task(SHARED.handle(), topics.app(), led).unwrap());
    spawner.spawn(status_task(SHARED.handle(), topics.app()).unwrap());
    loop {
        Timer::after(Duration::from_secs(3600)).await;
    }
}

fn halt(what: &str, e: &dyn core::fmt::Debug) -> ! {
    println!("{what}: {e:?}");
    loop {
        core::hint::spin_loop();
    }
}

/// Keeps the station associated: connects, waits for a disconnection, connects again.
#[embassy_executor::task]
async fn wifi_task(mut wifi: WifiController<'static>) {
    loop {
        match wifi.connect_async().await {
            Ok(_) => {
                println!("Wi-Fi connected to {SSID}");
                let _ = wifi.wait_for_disconnect_async().await;
                println!("Wi-Fi disconnected");
            }
            Err(e) => println!("Wi-Fi connection failed: {e:?}"),
        }
        Timer::after(Duration::from_secs(5)).await;
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: NetRunner<'static, Interface>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn mqtt_task(mut runner: Mqtt) {
    let e = runner.run().await;
    println!("MQTT stopped: {e}");
}

#[embassy_executor::task]
async fn light_task(handle: Handle<'static, Mutex>, topics: app::Topics<'static>, mut led: Output<'static>) {
    let result = app::light_task(handle, topics, &LIGHT, |on| led.set_level(Level::from(on))).await;
    println!("light task ended: {result:?}");
}

#[embassy_executor::task]
async fn status_task(handle: Handle<'static, Mutex>, topics: app::Topics<'static>) {
    let mut tick = 0;
    let result = app::status_task(
        handle,
        topics,
        &LIGHT,
        || {
            tick += 1;
            app::simulated_temperature(tick)
        },
        1000,
        async |ms| Timer::after(Duration::from_millis(ms)).await,
    )
    .await;
    println!("status task ended: {result:?}");
}
