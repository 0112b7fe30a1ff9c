//! The broker setup documents' paho-mqtt (Python) client, ported: TLS with a CA file and a
//! user name and password, or MQTT over WebSockets when `USE_WS` is set; subscribe when
//! connected, print every message, and keep going forever (paho's `loop_forever`, which
//! reconnects after a lost connection: here `connect()` again).
//!
//! ```text
//! cargo run --features tls --example paho -- -h localhost --cafile ca.pem -u user -P secret -t 'home/#'
//! USE_WS=1 cargo run --features tls --example paho -- -h localhost -t 'home/#'   # ws://localhost:9001/mqtt
//! ```
//! The Python original switches with a `USE_WS = True/False` line; here the environment
//! variable `USE_WS=1` (or `--ws`) does. `-C n` exits after n messages.

#[path = "common/args.rs"]
mod args;
#[path = "common/cli.rs"]
mod cli;

use std::fmt::Display;
use std::time::Duration;

use umqtt::QoS;
use umqtt::client::{ClientError, MqttClient, Transport};

struct Paho<'a> {
    topic: &'a str,
    count: u32,
}

impl cli::Program for Paho<'_> {
    /// Connects, subscribes and prints messages; a lost connection is opened again by
    /// `connect()` (a new TCP connection, TLS and WebSocket handshake, through the
    /// transport) after a second. Returns once `-C` messages have come.
    fn run<T: Transport>(self, conn: &cli::Conn, transport: T) -> Result<(), String>
    where
        T::Error: Display,
    {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 512]);
        let mut client = MqttClient::new(transport, &conn.id, &mut rx, &mut tx).with_options(conn.options());
        let mut received = 0;
        loop {
            // client.connect(host, port, 60); def on_connect(...): client.subscribe(topic)
            let connected = client
                .connect(true)
                .and_then(|_| client.subscribe(self.topic, QoS::AtLeastOnce));
            match connected {
                Ok(_) => println!("connected, subscribed to {}", self.topic),
                Err(e) if e.ends_connection() && !matches!(e, ClientError::ConnectionRefused(_)) => {
                    eprintln!("connect failed: {e}; again in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            }
            // client.loop_forever(); def on_message(client, userdata, msg): print(...)
            loop {
                match client.wait_msg() {
                    Ok(Some(m)) => {
                        println!("{} {}", m.topic.as_str(), String::from_utf8_lossy(m.payload));
                        received += 1;
                        if self.count != 0 && received >= self.count {
                            return client.disconnect().map_err(|e| e.to_string());
                        }
                    }
                    Ok(None) => {}
                    Err(e) if e.ends_connection() => {
                        eprintln!("connection lost: {e}; reconnecting in 1 s");
                        std::thread::sleep(Duration::from_secs(1));
                        break;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
}

fn main() {
    let usage = format!("usage: paho [-t filter] [-C count] [options]\n{}", cli::USAGE);
    let options = [cli::OPTIONS, &["-t", "--topic", "-C", "--count"]].concat();
    let a = args::Args::parse(&usage, cli::SWITCHES, &options);
    let mut conn = cli::Conn::from_args(&a, "umqtt-paho");
    // USE_WS = True
    if std::env::var("USE_WS").is_ok_and(|v| v == "1") && conn.ws_path.is_none() {
        conn.ws_path = Some("/mqtt".to_owned());
        if a.get(&["-p", "--port"]).is_none() {
            conn.port = 9001;
        }
    }
    let topic = a.get(&["-t", "--topic"]).unwrap_or("#");
    let count = a.num(&["-C", "--count"], 0);
    // A first connection that cannot be opened at all is an error; later ones are retried.
    if let Err(e) = conn.open(Paho { topic, count }) {
        args::fail(&e);
    }
}
