//! The README demo: starts a private mosquitto on a free loopback port (installing Debian's
//! `mosquitto` if it is missing), runs the smart-home device against it, listens with
//! `mosquitto_sub`, switches the light with `mosquitto_pub`, and shows both sides.
//!
//! ```text
//! cargo run --features std --example demo
//! ```

#[path = "common/args.rs"]
mod args;
#[path = "../tests/support/broker.rs"]
mod broker;
#[path = "common/smart_home.rs"]
mod smart_home;

use std::time::{Duration, Instant};

fn main() {
    println!("== starting a private mosquitto broker");
    let broker = broker::Broker::start();
    let port = broker.port();
    let uuid = broker::unique("demo");
    println!("== broker listening on 127.0.0.1:{port}; topic prefix {uuid}");

    let sub = broker::mosquitto_sub(port, &["-v", "-t", &format!("{uuid}/#")]);
    sub.wait_ready();
    println!("== mosquitto_sub is listening on {uuid}/#");

    let cfg = smart_home::Config {
        host: "127.0.0.1".into(),
        port,
        uuid: uuid.clone(),
        count: 5,
    };
    let device = std::thread::spawn(move || smart_home::run(&cfg).map_err(|e| e.to_string()));

    let light = format!("{uuid}/living_room/light");
    let mut printed = 0;
    let started = Instant::now();
    let mut commands = [(1_500, "on"), (3_500, "toggle")].into_iter().peekable();
    while !device.is_finished() {
        if let Some(&(at, cmd)) = commands.peek()
            && started.elapsed() >= Duration::from_millis(at)
        {
            println!("[mosquitto_pub] {light} {cmd}");
            let out = broker::mosquitto_pub(port, &["-q", "1", "-t", &light, "-m", cmd]);
            assert!(out.status.success(), "mosquitto_pub failed: {out:?}");
            commands.next();
        }
        printed = print_new(&sub, printed);
        std::thread::sleep(Duration::from_millis(100));
    }
    let final_state = match device.join() {
        Ok(Ok(state)) => state,
        Ok(Err(e)) => args::fail(&format!("device failed: {e}")),
        Err(_) => args::fail("device thread panicked"),
    };
    std::thread::sleep(Duration::from_millis(300));
    print_new(&sub, printed);

    let seen = sub.lines();
    let statuses = seen
        .iter()
        .filter(|l| l.starts_with(&format!("{light}/status ")))
        .count();
    println!(
        "== mosquitto_sub saw {} messages ({statuses} status updates); final light state: {}",
        seen.len(),
        if final_state { "on" } else { "off" }
    );
    // "on" then "toggle" leaves the light off, and the device published 5 status updates.
    if statuses != 5 || final_state {
        args::fail("demo did not behave as expected");
    }
    println!("== demo finished OK");
}

/// Prints the mosquitto_sub lines not printed yet; returns how many have been printed.
fn print_new(sub: &broker::Sub, printed: usize) -> usize {
    let lines = sub.lines();
    for l in lines.iter().skip(printed) {
        println!("[mosquitto_sub] {l}");
    }
    lines.len().max(printed)
}
