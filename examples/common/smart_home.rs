//! The ESP32 "smart home" MicroPython tutorial, ported line by line to `umqtt`.
//!
//! The MicroPython original subscribes to `<uuid>/living_room/light`, prints what arrives,
//! switches the light on `on`/`off`/`toggle`, and publishes the light status every second.

#![allow(dead_code)]

use std::time::Duration;

use umqtt::QoS;
use umqtt::client::{ClientOptions, MqttClient, std_net::TcpTransport};

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

/// The tutorial's `sub_cb`: switches `light_on` on a command, as the MicroPython callback
/// does with its global.
fn on_command(light_on: &mut bool, topic: &str, msg: &[u8]) {
    println!("[device] received {topic}: {}", String::from_utf8_lossy(msg));
    match msg {
        b"on" => *light_on = true,
        b"off" => *light_on = false,
        b"toggle" => *light_on = !*light_on,
        _ => println!("[device] ignoring unknown command"),
    }
}

/// Runs the tutorial loop; returns the final light state.
pub fn run(cfg: &Config) -> Result<bool, Box<dyn std::error::Error>> {
    let light_topic = format!("{}/living_room/light", cfg.uuid);
    let status_topic = format!("{}/living_room/light/status", cfg.uuid);
    let client_id = format!("smart-home-{}", std::process::id());

    // client = MQTTClient(CLIENT_ID, SERVER, keepalive=60)
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let tcp = TcpTransport::connect_to(&cfg.host, cfg.port)?;
    let mut client = MqttClient::new(tcp, &client_id, &mut rx, &mut tx).with_options(ClientOptions {
        keep_alive: 60,
        ..ClientOptions::default()
    });

    // client.connect(); client.subscribe(TOPIC)
    client.connect(true)?;
    let granted = client.subscribe(&light_topic, QoS::AtLeastOnce)?;
    println!(
        "[device] connected to {}:{}, subscribed to {light_topic} (granted {granted:?})",
        cfg.host, cfg.port
    );

    // while True: client.check_msg(); client.publish(status, ...); time.sleep(1)
    // No callback and no Cell: check_msg returns each message and the loop acts on it.
    let mut light_on = false;
    let mut sent = 0;
    while cfg.count == 0 || sent < cfg.count {
        let step = (|| {
            while let Some(m) = client.check_msg()? {
                on_command(&mut light_on, m.topic.as_str(), m.payload);
            }
            let status = if light_on { "on" } else { "off" };
            client.publish(&status_topic, status.as_bytes(), false, QoS::AtLeastOnce)?;
            println!("[device] published {status_topic}: {status}");
            Ok::<_, umqtt::client::ClientError<std::io::Error>>(())
        })();
        match step {
            Ok(()) => sent += 1,
            // except OSError: restart_and_reconnect(): `connect` opens a new connection to
            // the same broker, the subscription is made again, the QoS 1 status goes on.
            Err(e) if e.ends_connection() => {
                println!("[device] {e}; reconnecting");
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                    let again = client.connect(true);
                    match again.and_then(|_| client.subscribe(&light_topic, QoS::AtLeastOnce)) {
                        Ok(_) => break,
                        Err(e) => println!("[device] reconnect failed: {e}"),
                    }
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    client.disconnect()?;
    Ok(light_on)
}
