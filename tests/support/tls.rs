//! TLS fixtures for the integration tests: a throw-away PKI generated with rcgen (a CA, a
//! server certificate signed by it, and an unrelated second CA), and a mosquitto broker
//! with an extra TLS listener using it.
//!
//! A hand-written rustls adapter (`rustls_adapter.rs`, re-exported here as [`transport`])
//! shows that any TLS stream implementing `embedded-io` carries the client; the library's
//! own `umqtt::tls::TlsTransport` is tested in `tests/tls_lib_mosquitto.rs`.
//!
//! ```ignore
//! let tb = tls::TlsBroker::start();             // or TlsBroker::with_password(user, pw)
//! let t = tb.transport("localhost");            // trusts tb.pki.ca, lazy handshake
//! let mut c = MqttClient::new(t, "id", &mut rx, &mut tx);
//! c.connect(true)?;
//! ```

#![allow(dead_code)]

#[path = "rustls_adapter.rs"]
pub mod transport;

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::broker::{self, Broker, BrokerConfig};
#[allow(unused_imports)] // Not every test binary that includes `support` uses them.
pub use transport::{TlsTransport, Transport, client_config_from_pem, connect_tls};

/// Read timeout of every TLS client socket made here: a broken test fails after this long
/// instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The names the server certificate is valid for.
pub const SERVER_DNS_NAME: &str = "localhost";
/// The IP address the server certificate is valid for.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A CA, a server certificate and key signed by it (for `localhost` and `127.0.0.1`), and a
/// second, unrelated CA; all PEM files in a private temp directory deleted on drop.
#[derive(Debug)]
pub struct Pki {
    dir: PathBuf,
    /// The CA certificate that signed the server certificate.
    pub ca: PathBuf,
    /// The server certificate (signed by [`Pki::ca`]).
    pub cert: PathBuf,
    /// The server's private key (PKCS#8, ECDSA P-256).
    pub key: PathBuf,
    /// A CA certificate that signed nothing the broker presents.
    pub other_ca: PathBuf,
    /// A client certificate (CN `umqtt-client`) signed by [`Pki::ca`], for mutual TLS.
    pub client_cert: PathBuf,
    /// The client certificate's private key (PKCS#8, ECDSA P-256).
    pub client_key: PathBuf,
    /// A client certificate and key signed by [`Pki::other_ca`], which the broker does
    /// not trust.
    pub untrusted_client_cert: PathBuf,
    /// The key of [`Pki::untrusted_client_cert`].
    pub untrusted_client_key: PathBuf,
}

impl Pki {
    /// Generates the files in a fresh temp directory.
    pub fn generate() -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "umqtt-tls-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let pki = Pki {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            other_ca: dir.join("other-ca.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            untrusted_client_cert: dir.join("untrusted-client.pem"),
            untrusted_client_key: dir.join("untrusted-client.key"),
            dir,
        };

        let (ca_params, ca_key) = new_ca("umqtt test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params =
            CertificateParams::new(vec![SERVER_DNS_NAME.to_owned()]).expect("server certificate params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(SERVER_IP)));
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_DNS_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("sign the server certificate");

        let (other_params, other_key) = new_ca("umqtt untrusted CA");
        let other_cert = other_params
            .self_signed(&other_key)
            .expect("self-sign the other CA");
        let other_issuer = Issuer::new(other_params, other_key);
        let (client_cert, client_key) = client_certificate(&issuer);
        let (untrusted_cert, untrusted_key) = client_certificate(&other_issuer);
        write(&pki.client_cert, &client_cert);
        write(&pki.client_key, &client_key);
        write(&pki.untrusted_client_cert, &untrusted_cert);
        write(&pki.untrusted_client_key, &untrusted_key);

        write(&pki.ca, &ca_cert.pem());
        write(&pki.cert, &server_cert.pem());
        write(&pki.key, &server_key.serialize_pem());
        write(&pki.other_ca, &other_cert.pem());
        pki
    }

    /// The temp directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A client certificate (PEM) and its key (PEM) signed by `issuer`.
fn client_certificate(issuer: &Issuer<'_, KeyPair>) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("client certificate params");
    params.distinguished_name.push(DnType::CommonName, "umqtt-client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("client key");
    let cert = params
        .signed_by(&key, issuer)
        .expect("sign the client certificate");
    (cert.pem(), key.serialize_pem())
}

fn new_ca(name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, KeyPair::generate().expect("CA key"))
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A free loopback port, found by binding port 0 and releasing it.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"))
}

/// A mosquitto broker with, besides the harness' plain listener(s), a TLS listener on
/// `127.0.0.1:`[`TlsBroker::tls_port`] presenting [`Pki::cert`].
///
/// Fields drop in order: the broker is stopped before the PKI files are deleted.
#[derive(Debug)]
pub struct TlsBroker {
    /// The broker (its plain anonymous listener is [`Broker::port`]).
    pub broker: Broker,
    /// The TLS listener's port.
    pub tls_port: u16,
    /// The certificates and keys in use.
    pub pki: Pki,
}

impl TlsBroker {
    /// A broker whose TLS listener accepts anonymous clients.
    pub fn start() -> TlsBroker {
        TlsBroker::start_inner(None)
    }

    /// A broker whose TLS listener accepts only `user`/`password` (`allow_anonymous false`
    /// and a password file for this listener; the harness' password listener, on
    /// [`Broker::auth_port`], has the same single user).
    pub fn with_password(user: &str, password: &str) -> TlsBroker {
        TlsBroker::start_inner(Some((user, password)))
    }

    fn start_inner(auth: Option<(&str, &str)>) -> TlsBroker {
        let pki = Pki::generate();
        let tls_port = free_port();
        let mut cfg = BrokerConfig::new()
            .extra(format!("listener {tls_port} 127.0.0.1"))
            .extra(format!("cafile {}", pki.ca.display()))
            .extra(format!("certfile {}", pki.cert.display()))
            .extra(format!("keyfile {}", pki.key.display()));
        if let Some((user, password)) = auth {
            let passwd = pki.dir().join("passwd");
            broker::make_password_file(&passwd, user, password);
            // `.password()` makes the harness write `per_listener_settings true` before the
            // listeners, without which mosquitto 2 applies allow_anonymous and
            // password_file to every listener alike.
            cfg = cfg
                .extra("allow_anonymous false")
                .extra(format!("password_file {}", passwd.display()))
                .password(user, password);
        }
        let broker = Broker::start_with(cfg);
        let tb = TlsBroker {
            broker,
            tls_port,
            pki,
        };
        tb.wait_tls_listener();
        tb
    }

    /// mosquitto logs "running" only once every listener is open, and the harness waits
    /// for that; this also covers the harness' fallback of trusting its own ports.
    fn wait_tls_listener(&self) {
        let deadline = Instant::now() + broker::READY_TIMEOUT;
        while TcpStream::connect_timeout(&self.tls_addr(), Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "TLS listener on port {} never opened\n--- log ---\n{}",
                self.tls_port,
                self.broker.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The TLS listener's address.
    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.tls_port))
    }

    /// A TLS transport to the TLS listener that trusts `cafile` and expects the
    /// certificate to be valid for `server_name`. The handshake runs on first use.
    pub fn transport_with(&self, cafile: &Path, server_name: &str) -> TlsTransport {
        let config = client_config_from_pem(cafile)
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", cafile.display()));
        let t = TlsTransport::connect(self.tls_addr(), server_name, config)
            .unwrap_or_else(|e| panic!("TCP connect to {}: {e}", self.tls_addr()));
        t.set_read_timeout(Some(IO_TIMEOUT)).expect("set read timeout");
        t
    }

    /// [`TlsBroker::transport_with`] trusting the right CA.
    pub fn transport(&self, server_name: &str) -> TlsTransport {
        self.transport_with(&self.pki.ca, server_name)
    }
}
