//! `mosquitto_pub`-style publisher built on `umqtt`, over TCP, TLS, WebSocket or WebSocket
//! over TLS.
//!
//! ```text
//! cargo run --features tls --example pub -- -t home/light -m on [-q 1] [-r] [-C repeat]
//!     [-h host] [-p port] [-i id] [-u user -P password] [-k keepalive] [-c]
//!     [--will-topic t --will-payload p --will-qos q --will-retain]
//!     [--cafile ca.pem [--tls-server-name name] [--cert client.pem --key client.key]]
//!     [--ws [--ws-path /mqtt]]
//! ```
//! Exits with status 2 and the error in words when anything fails.

#[path = "common/args.rs"]
mod args;
#[path = "common/cli.rs"]
mod cli;

use std::fmt::Display;

use umqtt::client::{MqttClient, Transport};
use umqtt::{Delivery, Packet, PacketId, Publish, QoS, TopicName};

/// Bytes of the re-send store: the largest QoS 1/2 PUBLISH this tool sends.
const STORE: usize = 64 * 1024;

struct Pub<'a> {
    topic: &'a str,
    message: &'a str,
    qos: QoS,
    retain: bool,
    repeat: u32,
}

impl cli::Program for Pub<'_> {
    fn run<T: Transport>(self, conn: &cli::Conn, transport: T) -> Result<(), String>
    where
        T::Error: Display,
    {
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 1024]);
        let mut c = MqttClient::<_, 8, STORE>::new_sized(transport, &conn.id, &mut rx, &mut tx)
            .with_options(conn.options());
        conn.apply_will(&mut c);
        let result = (|| {
            c.connect(!conn.persistent)?;
            for _ in 0..self.repeat {
                c.publish(self.topic, self.message.as_bytes(), self.retain, self.qos)?;
            }
            c.disconnect()
        })();
        result.map_err(|e| e.to_string())
    }
}

fn main() {
    let usage = format!(
        "usage: pub -t topic -m message [-q 0|1|2] [-r] [-C repeat] [options]\n{}",
        cli::USAGE
    );
    let options = [
        cli::OPTIONS,
        &["-t", "--topic", "-m", "--message", "-C", "--repeat"],
    ]
    .concat();
    let a = args::Args::parse(&usage, &[cli::SWITCHES, &["-r"]].concat(), &options);
    let conn = cli::Conn::from_args(&a, "umqtt-pub");
    let topic = a
        .get(&["-t", "--topic"])
        .unwrap_or_else(|| args::fail_usage("-t topic is required", &usage));
    let message = a
        .get(&["-m", "--message"])
        .unwrap_or_else(|| args::fail_usage("-m message is required", &usage));
    let qos_level: u8 = a.num(&["-q", "--qos"], 0);
    let qos = args::qos(qos_level);
    let retain = a.flag("-r");

    // A QoS 1/2 message is kept for re-sending until acknowledged: refuse one that cannot
    // be stored before connecting, with the sizes, rather than after the CONNECT.
    let topic_name = TopicName::new(topic).unwrap_or_else(|e| args::fail(&format!("-t {topic}: {e}")));
    let needed = Packet::Publish(Publish::new(
        topic_name,
        message.as_bytes(),
        Delivery::AtLeastOnce(PacketId::MIN),
        retain,
    ))
    .encoded_len();
    if qos != QoS::AtMostOnce && needed > STORE {
        args::fail(&format!(
            "a QoS {qos_level} message of {needed} bytes (encoded) is larger than this \
             tool's {STORE}-byte re-send store; publish it at QoS 0"
        ));
    }
    let program = Pub {
        topic,
        message,
        qos,
        retain,
        repeat: a.num(&["-C", "--repeat"], 1),
    };
    if let Err(e) = conn.open(program) {
        args::fail(&e);
    }
}
