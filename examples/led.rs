//! MicroPython's "LED over MQTT" example: publish `msg 0..4` to `public/topic_0..4`, then
//! subscribe to `public/led` and act on `on`, `off`, `toggle` and `quit` (the LED is
//! printed, since a host has none).
//!
//! ```text
//! cargo run --features std --example led -- -h 127.0.0.1 -p 1883
//! mosquitto_pub -t public/led -m toggle
//! ```

#[path = "common/args.rs"]
mod args;

use std::cell::Cell;

use umqtt::QoS;
use umqtt::client::{MqttClient, std_net::TcpTransport};

fn main() {
    let a = args::Args::parse(&[]);
    let host = a.get(&["-h", "--host"]).unwrap_or("127.0.0.1");
    let port: u16 = a.num(&["-p", "--port"], 1883);
    if let Err(e) = run(host, port) {
        args::fail(&e.to_string());
    }
}

fn run(host: &str, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let tcp = TcpTransport::connect((host, port))?;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
    let client_id = format!("led-{}", std::process::id());
    let mut c: MqttClient<_> = MqttClient::new(tcp, &client_id, &mut rx, &mut tx);
    c.set_clock(args::clock_ms);

    let led = Cell::new(false);
    let quit = Cell::new(false);
    let mut sub_cb = |topic: &str, msg: &[u8]| {
        println!("{topic} {}", String::from_utf8_lossy(msg));
        match msg {
            b"on" => led.set(true),
            b"off" => led.set(false),
            b"toggle" => led.set(!led.get()),
            b"quit" => quit.set(true),
            _ => return,
        }
        println!("LED is {}", if led.get() { "ON" } else { "off" });
    };
    c.set_callback(&mut sub_cb);
    c.connect(true)?;
    for i in 0..5 {
        let msg = format!("msg {i}");
        c.publish(
            &format!("public/topic_{i}"),
            msg.as_bytes(),
            false,
            QoS::AtMostOnce,
        )?;
    }
    c.subscribe("public/led", QoS::AtMostOnce)?;
    println!("waiting for on/off/toggle/quit on public/led");
    // MicroPython's version blocks in `c.wait_msg()`; polling with check_msg lets the
    // clock-driven keep-alive run while no message arrives.
    while !quit.get() {
        if c.check_msg()?.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    c.disconnect()?;
    Ok(())
}
