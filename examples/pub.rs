//! `mosquitto_pub`-style publisher built on `umqtt`.
//!
//! ```text
//! cargo run --features std --example pub -- -h 127.0.0.1 -p 1883 -t home/light -m on -q 1 [-r]
//!     [-i id] [-u user -P password] [-k keepalive] [-C repeat]
//!     [--will-topic t --will-payload p --will-qos q --will-retain]
//!     [--cafile ca.pem [--tls-server-name name]]   (TLS; the broker's certificate is always verified)
//! ```

#[path = "common/args.rs"]
mod args;
#[path = "common/cli.rs"]
mod cli;
#[path = "common/tls.rs"]
mod tls;

use umqtt::client::MqttClient;
use umqtt::{Delivery, Packet, PacketId, Publish, QoS, TopicName};

/// Bytes of the re-send store: the largest QoS 1/2 PUBLISH this tool sends.
const STORE: usize = 64 * 1024;

fn main() {
    let a = args::Args::parse(&["-r", "-c", "--will-retain", "-d"]);
    let conn = cli::Conn::from_args(&a, "umqtt-pub");
    let topic = a
        .get(&["-t", "--topic"])
        .unwrap_or_else(|| args::fail("-t topic is required"));
    let message = a
        .get(&["-m", "--message"])
        .unwrap_or_else(|| args::fail("-m message is required"));
    let qos_level: u8 = a.num(&["-q", "--qos"], 0);
    let qos = args::qos(qos_level);
    let retain = a.flag("-r");
    let repeat: u32 = a.num(&["-C", "--repeat"], 1);

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
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 1024]);
    let mut c = MqttClient::<_, 8, STORE>::new_sized(conn.transport(), &conn.id, &mut rx, &mut tx)
        .with_options(conn.options());
    conn.apply_will(&mut c);
    let result = (|| {
        c.connect(!conn.persistent)?;
        for _ in 0..repeat {
            c.publish(topic, message.as_bytes(), retain, qos)?;
        }
        c.disconnect()
    })();
    if let Err(e) = result {
        args::fail(&e.to_string());
    }
}
