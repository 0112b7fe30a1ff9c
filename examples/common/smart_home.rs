//! The ESP32 "smart home" MicroPython tutorial, ported line by line to `umqtt`.
//!
//! The MicroPython original subscribes to `<uuid>/living_room/light`, prints what arrives,
//! switches the light on `on`/`off`/`toggle`, and publishes the light status every second.

#![allow(dead_code)]

use std::cell::Cell;
use std::time::Duration;

use umqtt::QoS;
use umqtt::client::{ClientError, ClientOptions, MqttClient, std_net::TcpTransport};

/// Settings of one run.
pub struct Config {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Topic prefix (the tutorial's UUID).
    pub uuid: String,
    /// How many status messages to publish before disconnecting (0: forever).
    pub count: u32,
}

/// Runs the tutorial loop; returns the final light state.
pub fn run(cfg: &Config) -> Result<bool, Box<dyn std::error::Error>> {
    let light_topic = format!("{}/living_room/light", cfg.uuid);
    let status_topic = format!("{}/living_room/light/status", cfg.uuid);
    let client_id = format!("smart-home-{}", std::process::id());

    // client = MQTTClient(CLIENT_ID, SERVER, keepalive=60)
    let tcp = TcpTransport::connect((cfg.host.as_str(), cfg.port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(90)))?;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let mut client: MqttClient<_> =
        MqttClient::new(tcp, &client_id, &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 60,
            ..ClientOptions::default()
        });
    client.set_clock(crate::args::clock_ms);

    // def sub_cb(topic, msg): ...
    // A Cell, so the callback can switch the light while the loop below reads it.
    let light_on = Cell::new(false);
    let mut on_message = |topic: &str, msg: &[u8]| {
        println!("[device] received {topic}: {}", String::from_utf8_lossy(msg));
        match msg {
            b"on" => light_on.set(true),
            b"off" => light_on.set(false),
            b"toggle" => light_on.set(!light_on.get()),
            _ => println!("[device] ignoring unknown command"),
        }
    };
    client.set_callback(&mut on_message);

    // client.connect(); client.subscribe(TOPIC)
    client.connect(true)?;
    let granted = client.subscribe(&light_topic, QoS::AtLeastOnce)?;
    println!(
        "[device] connected to {}:{}, subscribed to {light_topic} (granted {granted:?})",
        cfg.host, cfg.port
    );

    // while True: client.check_msg(); client.publish(status, ...); time.sleep(1)
    let mut sent = 0;
    let mut state = false;
    while cfg.count == 0 || sent < cfg.count {
        for _ in 0..10 {
            while client.check_msg()?.is_some() {}
            std::thread::sleep(Duration::from_millis(100));
        }
        state = light_on.get();
        let status: &[u8] = if state { b"on" } else { b"off" };
        match client.publish(&status_topic, status, false, QoS::AtLeastOnce) {
            Ok(()) => println!(
                "[device] published {status_topic}: {}",
                String::from_utf8_lossy(status)
            ),
            Err(ClientError::Io(e)) => return Err(e.into()),
            Err(e) => return Err(format!("{e}").into()),
        }
        sent += 1;
    }
    client.disconnect()?;
    Ok(state)
}
