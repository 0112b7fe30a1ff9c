//! Options shared by the `pub` and `sub` tools, spelled like `mosquitto_pub`/`mosquitto_sub`.

#![allow(dead_code)]

use umqtt::client::{ClientOptions, MqttClient, std_net::TcpTransport};

use crate::args::{self, Args};
use crate::tls::{self, Transport};

/// Connection settings read from the command line.
pub struct Conn {
    /// `-h`
    pub host: String,
    /// `-p`
    pub port: u16,
    /// `-i`
    pub id: String,
    /// `-u`
    pub user: Option<String>,
    /// `-P`
    pub password: Option<String>,
    /// `-k`
    pub keep_alive: u16,
    /// `--will-topic`, `--will-payload`, `--will-qos`, `--will-retain`
    pub will: Option<(String, String, u8, bool)>,
    /// `-c`: keep a persistent session (clean_session = false)
    pub persistent: bool,
    /// `--cafile`: connect over TLS, trusting the CA certificate(s) in this PEM file
    pub cafile: Option<String>,
    /// `--tls-server-name`: the name the broker's certificate must carry (default: `-h`)
    pub tls_server_name: Option<String>,
}

impl Conn {
    /// Reads the connection options; `prefix` names the default client id.
    pub fn from_args(a: &Args, prefix: &str) -> Self {
        let will = a.get(&["--will-topic"]).map(|t| {
            (
                t.to_owned(),
                a.get(&["--will-payload"]).unwrap_or("").to_owned(),
                a.num(&["--will-qos"], 0),
                a.flag("--will-retain"),
            )
        });
        let cafile = a.get(&["--cafile"]).map(str::to_owned);
        let tls_server_name = a.get(&["--tls-server-name"]).map(str::to_owned);
        if tls_server_name.is_some() && cafile.is_none() {
            args::fail("--tls-server-name needs --cafile");
        }
        Self {
            host: a.get(&["-h", "--host"]).unwrap_or("127.0.0.1").to_owned(),
            port: a.num(&["-p", "--port"], if cafile.is_some() { 8883 } else { 1883 }),
            id: a
                .get(&["-i", "--id"])
                .map_or_else(|| format!("{prefix}-{}", std::process::id()), str::to_owned),
            user: a.get(&["-u", "--username"]).map(str::to_owned),
            password: a.get(&["-P", "--pw"]).map(str::to_owned),
            keep_alive: a.num(&["-k", "--keepalive"], 60),
            will,
            persistent: a.flag("-c"),
            cafile,
            tls_server_name,
        }
    }

    /// Opens the TCP connection.
    pub fn tcp(&self) -> TcpTransport {
        TcpTransport::connect_to(&self.host, self.port)
            .unwrap_or_else(|e| args::fail(&format!("cannot reach {}:{}: {e}", self.host, self.port)))
    }

    /// Opens the connection: TLS (verifying the broker) with `--cafile`, else plain TCP.
    pub fn transport(&self) -> Transport {
        let Some(cafile) = &self.cafile else {
            return Transport::from(self.tcp());
        };
        let t = tls::connect_tls(
            &self.host,
            self.port,
            std::path::Path::new(cafile),
            self.tls_server_name.as_deref(),
        )
        .unwrap_or_else(|e| args::fail(&e.to_string()));
        Transport::from(t)
    }

    /// The client options.
    pub fn options(&self) -> ClientOptions<'_> {
        ClientOptions {
            user: self.user.as_deref(),
            password: self.password.as_deref().map(str::as_bytes),
            keep_alive: self.keep_alive,
            ..ClientOptions::default()
        }
    }

    /// Applies the will, if any.
    pub fn apply_will<'b, const N: usize, const S: usize>(&'b self, c: &mut MqttClient<'b, Transport, N, S>) {
        if let Some((topic, payload, qos, retain)) = &self.will {
            c.set_last_will(topic, payload.as_bytes(), *retain, args::qos(*qos))
                .unwrap_or_else(|e| args::fail(&format!("--will-topic: {e}")));
        }
    }
}
