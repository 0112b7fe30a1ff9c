//! The ESP32-C3 firmware's tasks (`examples/esp32c3-smart-home/src/app.rs`, compiled here
//! unchanged) run on the host against the suite's mosquitto: the same light and status
//! tasks, the same shared client, over tokio TCP instead of embassy-net.
//!
//! What is pinned down: commands switch the LED and the new state is published at once
//! (retained), the status task publishes temperature and state every period, and after a
//! broker restart both tasks carry on over the reconnected runner.
//!
//! Not packaged (the firmware crate is not part of the published crate).

#![cfg(all(feature = "shared", feature = "std"))]

mod support;

#[path = "../examples/esp32c3-smart-home/src/app.rs"]
mod app;

use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use support::broker::{self, Broker, Sub, unique};
use support::tokio_tcp::{TokioTcp, within};
use umqtt::client::shared::raw::NoopRawMutex;
use umqtt::client::shared::{Reconnect, Runner, Shared};
use umqtt::client::{AsyncMqttClient, ClientOptions};

struct Backoff;

impl Reconnect<TokioTcp> for Backoff {
    async fn reconnect(&mut self, attempt: u32) -> std::io::Result<Option<TokioTcp>> {
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
        Ok(None)
    }
}

async fn lines_matching(sub: &Sub, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
    for _ in 0..200 {
        let lines: Vec<String> = sub.lines().into_iter().filter(|l| pred(l)).collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} matching lines in 10 s: {:?}", sub.lines());
}

async fn command(port: u16, topic: &str, payload: &str) {
    let (topic, payload) = (topic.to_owned(), payload.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        broker::mosquitto_pub(port, &["-t", &topic, "-m", &payload, "-q", "1"])
    })
    .await
    .expect("mosquitto_pub thread");
    assert!(out.status.success(), "{out:?}");
}

/// Waits until the LED has been set `n` times.
async fn led_changes(leds: &RefCell<Vec<bool>>, n: usize) -> Vec<bool> {
    for _ in 0..200 {
        if leds.borrow().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    leds.borrow().clone()
}

#[tokio::test(flavor = "current_thread")]
async fn the_firmware_tasks_switch_the_light_and_report_across_a_broker_restart() {
    let broker = Broker::start();
    let port = broker.port();
    let device = unique("dev");
    let light = format!("{device}/living_room/light");
    let light_state = format!("{device}/living_room/light/state");
    let temperature = format!("{device}/living_room/temperature");
    let topics = app::Topics {
        light: &light,
        light_state: &light_state,
        temperature: &temperature,
    };
    let watcher = broker::mosquitto_sub(port, &["-t", &format!("{device}/#"), "-v", "-q", "1"]);
    watcher.wait_ready();

    let shared: Shared<NoopRawMutex> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(broker.addr()).await;
    let options = ClientOptions {
        keep_alive: 5,
        ..ClientOptions::default()
    };
    let client = AsyncMqttClient::new(tcp, &device, &mut rx, &mut tx).with_options(options);
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let on = AtomicBool::new(false);
    let leds = RefCell::new(Vec::new());
    let mut tick = 0;
    let light_task = app::light_task(shared.handle(), topics, &on, |state| {
        leds.borrow_mut().push(state)
    });
    let status_task = app::status_task(
        shared.handle(),
        topics,
        &on,
        || {
            tick += 1;
            app::simulated_temperature(tick)
        },
        200,
        async |ms| tokio::time::sleep(Duration::from_millis(ms)).await,
    );

    let test = async {
        // The status task reports the light off and a temperature.
        let first = lines_matching(&watcher, 1, |l| l.starts_with(&temperature)).await;
        assert_eq!(first[0], format!("{temperature} 18.1"));
        lines_matching(&watcher, 1, |l| l == format!("{light_state} off")).await;
        // Let the light task's subscription get through before commanding it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        command(port, &light, "on").await;
        assert_eq!(led_changes(&leds, 1).await, [true]);
        lines_matching(&watcher, 1, |l| l == format!("{light_state} on")).await;
        command(port, &light, "toggle").await;
        assert_eq!(led_changes(&leds, 2).await, [true, false]);

        // Broker restart: the runner reconnects and subscribes again; both tasks go on.
        let broker = tokio::task::spawn_blocking(move || {
            let mut broker = broker;
            broker.restart();
            broker
        })
        .await
        .expect("restart thread");
        let everything = format!("{device}/#");
        let watcher = tokio::task::spawn_blocking(move || {
            let sub = broker::mosquitto_sub(port, &["-t", &everything, "-v", "-q", "1"]);
            sub.wait_ready();
            sub
        })
        .await
        .expect("mosquitto_sub thread");
        lines_matching(&watcher, 2, |l| l.starts_with(&temperature)).await;
        // Commands reach the light task again once it has subscribed anew; retry until so.
        for _ in 0..20 {
            command(port, &light, "on").await;
            if leds.borrow().len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(led_changes(&leds, 3).await[2], "the LED is on again");
        lines_matching(&watcher, 1, |l| l == format!("{light_state} on")).await;
        broker
    };
    let broker = tokio::select! {
        b = within(60, test) => b,
        e = runner.run() => panic!("the runner ended: {e}"),
        r = light_task => panic!("the light task ended: {r:?}"),
        r = status_task => panic!("the status task ended: {r:?}"),
    };
    let log = broker.log();
    assert!(!log.contains("exceeded timeout"), "{log}");
}
