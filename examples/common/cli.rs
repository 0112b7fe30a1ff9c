//! Options shared by the `pub` and `sub` tools, spelled like `mosquitto_pub`/`mosquitto_sub`,
//! and the opening of their transport: TCP, TLS (`--cafile`, mutual with `--cert`/`--key`),
//! MQTT over WebSocket (`--ws`), or WebSocket over TLS (`--ws` with `--cafile`), all from
//! the library (`umqtt::tls`, `umqtt::ws`).

#![allow(dead_code)]

use std::fmt::Display;

use umqtt::client::std_net::TcpTransport;
use umqtt::client::{ClientOptions, MqttClient, Transport};
use umqtt::tls::{TlsOptions, TlsTransport};
use umqtt::ws::{WsOptions, WsTransport};

use crate::args::{self, Args};

/// The connection options every tool takes, with a value.
pub const OPTIONS: &[&str] = &[
    "-h",
    "--host",
    "-p",
    "--port",
    "-i",
    "--id",
    "-u",
    "--username",
    "-P",
    "--pw",
    "-k",
    "--keepalive",
    "-q",
    "--qos",
    "--will-topic",
    "--will-payload",
    "--will-qos",
    "--cafile",
    "--cert",
    "--key",
    "--tls-server-name",
    "--ws-path",
];

/// The connection switches every tool takes.
pub const SWITCHES: &[&str] = &["-c", "--will-retain", "--ws"];

/// The usage lines of the connection options.
pub const USAGE: &str = "\
connection:
  -h host (127.0.0.1)  -p port (1883; 8883 with --cafile; 9001 with --ws)
  -i client-id  -u user  -P password  -k keepalive-seconds (60)  -c (persistent session)
  --will-topic t --will-payload p --will-qos q --will-retain
  --cafile ca.pem [--tls-server-name name] [--cert client.pem --key client.key]
      TLS; the broker's certificate is always verified; --cert/--key for mutual TLS
  --ws [--ws-path /mqtt]  MQTT over WebSocket; over TLS when --cafile is given too";

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
    /// `--cafile` (and `--tls-server-name`, `--cert`, `--key`): TLS
    pub tls: Option<TlsOptions>,
    /// `--ws` (and `--ws-path`): the WebSocket path
    pub ws_path: Option<String>,
}

/// What a tool does once its transport is open; generic, so each transport gets its own
/// client type and nothing is boxed.
pub trait Program {
    /// Runs the tool over `transport`; the error is the message to print.
    fn run<T: Transport>(self, conn: &Conn, transport: T) -> Result<(), String>
    where
        T::Error: Display;
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
        let host = a.get(&["-h", "--host"]).unwrap_or("127.0.0.1").to_owned();
        let tls = a.get(&["--cafile"]).map(|ca| {
            let mut options = TlsOptions::new().ca_file(ca);
            if let Some(name) = a.get(&["--tls-server-name"]) {
                options = options.server_name(name);
            }
            match (a.get(&["--cert"]), a.get(&["--key"])) {
                (Some(cert), Some(key)) => options.client_cert(cert, key),
                (None, None) => options,
                _ => args::fail("--cert and --key go together"),
            }
        });
        if tls.is_none() {
            for needs_tls in ["--tls-server-name", "--cert", "--key"] {
                if a.get(&[needs_tls]).is_some() {
                    args::fail(&format!("{needs_tls} needs --cafile"));
                }
            }
        }
        let ws = a.flag("--ws");
        if !ws && a.get(&["--ws-path"]).is_some() {
            args::fail("--ws-path needs --ws");
        }
        let default_port = match (ws, tls.is_some()) {
            (true, _) => 9001,
            (false, true) => 8883,
            (false, false) => 1883,
        };
        Self {
            host,
            port: a.num(&["-p", "--port"], default_port),
            id: a
                .get(&["-i", "--id"])
                .map_or_else(|| format!("{prefix}-{}", std::process::id()), str::to_owned),
            user: a.get(&["-u", "--username"]).map(str::to_owned),
            password: a.get(&["-P", "--pw"]).map(str::to_owned),
            keep_alive: a.num(&["-k", "--keepalive"], 60),
            will,
            persistent: a.flag("-c"),
            tls,
            ws_path: ws.then(|| a.get(&["--ws-path"]).unwrap_or("/mqtt").to_owned()),
        }
    }

    /// Opens the transport the options ask for and runs `program` over it.
    pub fn open<P: Program>(&self, program: P) -> Result<(), String> {
        let reach = |e: &dyn Display| format!("cannot reach {}:{}: {e}", self.host, self.port);
        let tcp = || TcpTransport::connect_to(&self.host, self.port).map_err(|e| reach(&e));
        let tls = |options: &TlsOptions| {
            TlsTransport::connect(&self.host, self.port, options).map_err(|e| reach(&e))
        };
        // The Host header carries the port unless it is the scheme's default.
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        let host_header = if self.port == default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut ws_buf = vec![0u8; 64 * 1024];
        match (&self.ws_path, &self.tls) {
            (None, None) => program.run(self, tcp()?),
            (None, Some(options)) => program.run(self, tls(options)?),
            (Some(path), None) => {
                let ws = WsTransport::connect(
                    tcp()?,
                    &WsOptions::new(&host_header).path(path),
                    random,
                    &mut ws_buf,
                )
                .map_err(|e| reach(&e))?;
                program.run(self, ws)
            }
            (Some(path), Some(options)) => {
                let wss = WsTransport::connect(
                    tls(options)?,
                    &WsOptions::new(&host_header).path(path),
                    random,
                    &mut ws_buf,
                )
                .map_err(|e| reach(&e))?;
                program.run(self, wss)
            }
        }
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
    pub fn apply_will<'b, T: Transport, const N: usize, const S: usize>(
        &'b self,
        c: &mut MqttClient<'b, T, N, S>,
    ) {
        if let Some((topic, payload, qos, retain)) = &self.will {
            c.set_last_will(topic, payload.as_bytes(), *retain, args::qos(*qos))
                .unwrap_or_else(|e| args::fail(&format!("--will-topic: {e}")));
        }
    }
}

/// Random bytes for the WebSocket masks, from the standard library's randomly keyed
/// hasher (the masks need to be unpredictable to proxies, not cryptographically strong).
fn random(buf: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: std::collections::hash_map::RandomState = std::collections::hash_map::RandomState::new();
    }
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let mut h = STATE.with(BuildHasher::build_hasher);
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
    }
}
