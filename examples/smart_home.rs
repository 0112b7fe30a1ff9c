//! The classic ESP32 "smart home" MicroPython example, on the host over TCP.
//!
//! ```text
//! cargo run --features std --example smart_home -- -h 127.0.0.1 -p 1883 --uuid 0b9a... [-C 10]
//! ```
//! Then switch the light from another terminal:
//! `mosquitto_pub -t <uuid>/living_room/light -m toggle`.

#[path = "common/args.rs"]
mod args;
#[path = "common/smart_home.rs"]
mod smart_home;

fn main() {
    let a = args::Args::parse(
        "usage: smart_home [-h host] [-p port] [--uuid prefix] [-C status-count]",
        &[],
        &["-h", "--host", "-p", "--port", "--uuid", "-C", "--count"],
    );
    let cfg = smart_home::Config {
        host: a.get(&["-h", "--host"]).unwrap_or("127.0.0.1").to_owned(),
        port: a.num(&["-p", "--port"], 1883),
        uuid: a
            .get(&["--uuid"])
            .unwrap_or("3c5e9a6e-2b1f-4a8e-9d0c-7f4b2a1e6d55")
            .to_owned(),
        count: a.num(&["-C", "--count"], 0),
    };
    if let Err(e) = smart_home::run(&cfg) {
        args::fail(&e.to_string());
    }
}
