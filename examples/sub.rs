//! `mosquitto_sub`-style subscriber built on `umqtt`, over TCP, TLS, WebSocket or WebSocket
//! over TLS.
//!
//! ```text
//! cargo run --features tls --example sub -- -t 'home/#' [-t more] [-q 1] [-v] [-C count]
//!     [-h host] [-p port] [-i id] [-u user -P password] [-k keepalive] [-c]
//!     [--will-topic t --will-payload p --will-qos q --will-retain]
//!     [--cafile ca.pem [--tls-server-name name] [--cert client.pem --key client.key]]
//!     [--ws [--ws-path /mqtt]]
//! ```
//! Prints each payload (with `-v`, `topic payload`) and exits after `-C` messages; exits
//! with status 2 and the error in words when anything fails.

#[path = "common/args.rs"]
mod args;
#[path = "common/cli.rs"]
mod cli;

use std::fmt::Display;
use std::io::Write as _;

use umqtt::QoS;
use umqtt::client::{MqttClient, Transport};

struct Sub<'a> {
    topics: Vec<&'a str>,
    qos: QoS,
    verbose: bool,
    count: u32,
}

impl cli::Program for Sub<'_> {
    fn run<T: Transport>(self, conn: &cli::Conn, transport: T) -> Result<(), String>
    where
        T::Error: Display,
    {
        let (mut rx, mut tx) = (vec![0u8; 256 * 1024], [0u8; 512]);
        let mut c = MqttClient::new(transport, &conn.id, &mut rx[..], &mut tx).with_options(conn.options());
        conn.apply_will(&mut c);
        let result = (|| {
            c.connect(!conn.persistent)?;
            for t in &self.topics {
                c.subscribe(t, self.qos)?;
            }
            // Blocks in wait_msg as umqtt.simple programs do; keep-alive runs meanwhile.
            let mut received = 0;
            while self.count == 0 || received < self.count {
                let Some(m) = c.wait_msg()? else { continue };
                let mut out = std::io::stdout().lock();
                if self.verbose {
                    let _ = write!(out, "{} ", m.topic.as_str());
                }
                let _ = out.write_all(m.payload);
                let _ = writeln!(out);
                let _ = out.flush();
                received += 1;
            }
            c.disconnect()
        })();
        result.map_err(|e| e.to_string())
    }
}

fn main() {
    let usage = format!(
        "usage: sub -t filter [-t filter ...] [-q 0|1|2] [-v] [-C count] [options]\n{}",
        cli::USAGE
    );
    let options = [cli::OPTIONS, &["-t", "--topic", "-C", "--count"]].concat();
    let a = args::Args::parse(&usage, &[cli::SWITCHES, &["-v"]].concat(), &options);
    let conn = cli::Conn::from_args(&a, "umqtt-sub");
    let topics = a.all(&["-t", "--topic"]);
    if topics.is_empty() {
        args::fail_usage("-t topic is required", &usage);
    }
    let program = Sub {
        topics,
        qos: args::qos(a.num(&["-q", "--qos"], 0)),
        verbose: a.flag("-v"),
        count: a.num(&["-C", "--count"], 0),
    };
    if let Err(e) = conn.open(program) {
        args::fail(&e);
    }
}
