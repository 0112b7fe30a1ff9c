//! Publishes one message over TLS, verifying the broker's certificate against a CA file and
//! its host name (rustls with the ring provider; see `examples/common/tls.rs`).
//!
//! ```text
//! cargo run --features std --example tls_pub -- -h localhost -p 8883 -t home/light -m on \
//!     --cafile ca.pem [--tls-server-name broker.example] [-q 1] [-r] [-i id] [-u user -P password]
//! ```
//!
//! The certificate must be valid for `--tls-server-name`, or else for `-h` (a DNS name, or
//! an IP address matched against the certificate's IP address entries). There is no
//! option to skip verification.

#[path = "common/args.rs"]
mod args;
#[path = "common/tls.rs"]
mod tls;

use std::path::Path;
use std::time::Duration;

use umqtt::client::{ClientOptions, MqttClient};

fn main() {
    let a = args::Args::parse(&["-r"]);
    let host = a.get(&["-h", "--host"]).unwrap_or("localhost");
    let port: u16 = a.num(&["-p", "--port"], 8883);
    let topic = a
        .get(&["-t", "--topic"])
        .unwrap_or_else(|| args::fail("-t topic is required"));
    let message = a
        .get(&["-m", "--message"])
        .unwrap_or_else(|| args::fail("-m message is required"));
    let cafile = a
        .get(&["--cafile"])
        .unwrap_or_else(|| args::fail("--cafile <CA certificate PEM> is required"));
    let server_name = a.get(&["--tls-server-name"]);
    let qos = args::qos(a.num(&["-q", "--qos"], 0));
    let retain = a.flag("-r");
    let id = a
        .get(&["-i", "--id"])
        .map_or_else(|| format!("umqtt-tls-pub-{}", std::process::id()), str::to_owned);
    let options = ClientOptions {
        user: a.get(&["-u", "--username"]),
        password: a.get(&["-P", "--pw"]).map(str::as_bytes),
        ..ClientOptions::default()
    };

    let transport = tls::connect_tls(host, port, Path::new(cafile), server_name)
        .unwrap_or_else(|e| args::fail(&e.to_string()));
    let _ = transport.set_read_timeout(Some(Duration::from_secs(30)));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 1024]);
    let mut c: MqttClient<_> = MqttClient::new(transport, &id, &mut rx, &mut tx).with_options(options);
    let result = (|| {
        c.connect(true)?;
        c.publish(topic, message.as_bytes(), retain, qos)?;
        c.disconnect()
    })();
    if let Err(e) = result {
        args::fail(&e.to_string());
    }
}
