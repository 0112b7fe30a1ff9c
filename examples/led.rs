//! MicroPython's "LED over MQTT" example, line by line: publish `msg 0..4` to
//! `public/topic_0..4`, subscribe to `public/led`, then block in `wait_msg()` and act on
//! `on`, `off`, `toggle` and `quit` (the LED is printed, since a host has none).
//!
//! ```text
//! cargo run --features std --example led -- [-h 127.0.0.1] [-p 1883] [-k 60]
//! mosquitto_pub -t public/led -m toggle
//! ```
//!
//! As in the original, the program spends its life blocked in `wait_msg()`. The client
//! sends PINGREQ every `-k` seconds while it waits and fails (in words, exit status 2) if
//! the broker stops answering; no polling loop is needed to stay connected.

#[path = "common/args.rs"]
mod args;

use umqtt::QoS;
use umqtt::client::{ClientOptions, MqttClient, std_net::TcpTransport};

fn main() {
    let a = args::Args::parse(
        "usage: led [-h host] [-p port] [-k keepalive-seconds]",
        &[],
        &["-h", "--host", "-p", "--port", "-k", "--keepalive"],
    );
    let host = a.get(&["-h", "--host"]).unwrap_or("127.0.0.1");
    let port: u16 = a.num(&["-p", "--port"], 1883);
    let keep_alive: u16 = a.num(&["-k", "--keepalive"], 60);
    if let Err(e) = run(host, port, keep_alive) {
        args::fail(&e.to_string());
    }
}

fn run(host: &str, port: u16, keep_alive: u16) -> Result<(), Box<dyn std::error::Error>> {
    // c = MQTTClient(CLIENT_ID, SERVER, keepalive=...)
    let client_id = format!("led-{}", std::process::id());
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let options = ClientOptions {
        keep_alive,
        ..ClientOptions::default()
    };
    let mut c = MqttClient::new(
        TcpTransport::connect_to(host, port)?,
        &client_id,
        &mut rx,
        &mut tx,
    )
    .with_options(options);
    c.connect(true)?;
    for i in 0..5 {
        // c.publish(b"public/topic_%d" % i, b"msg %d" % i)
        c.publish_str(&format!("public/topic_{i}"), &format!("msg {i}"))?;
    }
    c.subscribe("public/led", QoS::AtMostOnce)?;
    println!("waiting for on/off/toggle/quit on public/led");

    // while True: c.wait_msg()   (sub_cb's body acts on the returned message)
    let mut led = false;
    loop {
        // `None`: the packet was not a message (a PINGRESP, for example).
        let Some(m) = c.wait_msg()? else { continue };
        println!("{} {}", m.topic.as_str(), String::from_utf8_lossy(m.payload));
        match m.payload {
            b"on" => led = true,
            b"off" => led = false,
            b"toggle" => led = !led,
            b"quit" => break,
            _ => continue,
        }
        println!("LED is {}", if led { "ON" } else { "off" });
    }
    c.disconnect()?;
    Ok(())
}
