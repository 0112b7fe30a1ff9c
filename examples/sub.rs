//! `mosquitto_sub`-style subscriber built on `umqtt`.
//!
//! ```text
//! cargo run --features std --example sub -- -h 127.0.0.1 -p 1883 -t 'home/#' [-t more] [-q 1] [-v] [-C count]
//!     [-i id] [-c] [-u user -P password] [-k keepalive]
//!     [--will-topic t --will-payload p --will-qos q --will-retain]
//!     [--cafile ca.pem [--tls-server-name name]]   (TLS; the broker's certificate is always verified)
//! ```
//! Prints each payload (with `-v`, `topic payload`) and exits after `-C` messages.

#[path = "common/args.rs"]
mod args;
#[path = "common/cli.rs"]
mod cli;
#[path = "common/tls.rs"]
mod tls;

use std::io::Write as _;

use umqtt::client::MqttClient;

fn main() {
    let a = args::Args::parse(&["-v", "-c", "--will-retain", "-d"]);
    let conn = cli::Conn::from_args(&a, "umqtt-sub");
    let topics: Vec<String> = std::env::args()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "-t" || w[0] == "--topic")
        .map(|w| w[1].clone())
        .collect();
    if topics.is_empty() {
        args::fail("-t topic is required");
    }
    let qos = args::qos(a.num(&["-q", "--qos"], 0));
    let verbose = a.flag("-v");
    let count: u32 = a.num(&["-C", "--count"], 0);

    let (mut rx, mut tx) = (vec![0u8; 256 * 1024], [0u8; 512]);
    let mut c =
        MqttClient::new(conn.transport(), &conn.id, &mut rx[..], &mut tx).with_options(conn.options());
    conn.apply_will(&mut c);
    let result = (|| {
        c.connect(!conn.persistent)?;
        for t in &topics {
            c.subscribe(t, qos)?;
        }
        // Blocks in wait_msg as umqtt.simple programs do; keep-alive runs meanwhile.
        let mut received = 0;
        while count == 0 || received < count {
            let Some(m) = c.wait_msg()? else { continue };
            let mut out = std::io::stdout().lock();
            if verbose {
                let _ = write!(out, "{} ", m.topic.as_str());
            }
            let _ = out.write_all(m.payload);
            let _ = writeln!(out);
            let _ = out.flush();
            received += 1;
        }
        c.disconnect()
    })();
    if let Err(e) = result {
        args::fail(&e.to_string());
    }
}
