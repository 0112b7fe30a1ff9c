//! TLS on a host (feature `tls`): [`TlsTransport`], a rustls client connection over a
//! [`TcpTransport`] that is an `embedded-io` stream and a [`client::Transport`], configured
//! with [`TlsOptions`] (trusted CAs, server name, optional client certificate for mutual
//! TLS); failures are [`TlsError`]s that say what went wrong in words.
//!
//! The server's certificate is always verified, against the CA certificates of a PEM file
//! or against the Mozilla root store built in through the `webpki-roots` crate, and for the
//! server name. There is no way to switch verification off. rustls runs with its `ring`
//! provider, TLS 1.2 and 1.3.
//!
//! ```no_run
//! use umqtt::tls::{TlsOptions, TlsTransport};
//!
//! let options = TlsOptions::new().ca_file("ca.pem").client_cert("client.pem", "client.key");
//! let tls = TlsTransport::connect("broker.example", 8883, &options)?;
//! // `tls` is an embedded-io stream and a `client::Transport`; for `wss`, put a
//! // `ws::WsTransport` on top of it.
//! # drop(tls);
//! # Ok::<(), umqtt::tls::TlsError>(())
//! ```
//!
//! [`client::Transport`]: crate::client::Transport

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, ClientConnection, RootCertStore};

use crate::client::std_net::{TcpTransport, monotonic_ms};
use crate::client::transport::Transport;

/// Default [`TlsOptions::handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which certificate authorities the server's certificate may lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// The Mozilla root store of the `webpki-roots` crate.
    BuiltIn,
    /// Every certificate in a PEM file.
    File(PathBuf),
}

/// How to set up a TLS connection: trusted CAs, the name to verify, and an optional client
/// certificate. Build it with the chained setters from [`TlsOptions::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    roots: Roots,
    server_name: Option<String>,
    client_cert: Option<(PathBuf, PathBuf)>,
    handshake_timeout: Duration,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsOptions {
    /// Trusts the built-in Mozilla roots (public brokers), verifies the host name given to
    /// [`TlsTransport::connect`], sends no client certificate.
    pub fn new() -> Self {
        Self {
            roots: Roots::BuiltIn,
            server_name: None,
            client_cert: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Trusts exactly the CA certificates in the PEM file `path` (`--cafile`) instead of
    /// the built-in roots.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots = Roots::File(path.into());
        self
    }

    /// Verifies the certificate for `name` (a DNS name or an IP address) instead of the host
    /// connected to.
    #[must_use]
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Presents the certificate chain in the PEM file `cert` with the private key in the
    /// PEM file `key` (PKCS#8, PKCS#1 or SEC1) when the server asks for one (mutual TLS).
    #[must_use]
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// How long the TCP connection and the handshake may take.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration these options describe.
    ///
    /// # Errors
    /// [`TlsError::ReadPem`] when a file cannot be read or parsed,
    /// [`TlsError::NoCaCertificate`] when the CA file holds no usable certificate, and
    /// [`TlsError::ClientKey`] when rustls refuses the client certificate and key.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let roots = match &self.roots {
            Roots::BuiltIn => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Roots::File(path) => load_roots(path)?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Tls)?
            .with_root_certificates(roots);
        let config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::ReadPem {
                    path: key.clone(),
                    source,
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::ClientKey)?
            }
        };
        Ok(Arc::new(config))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::ReadPem {
            path: path.to_path_buf(),
            source,
        })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(read_certs(path)?);
    if added == 0 {
        return Err(TlsError::NoCaCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// Why a TLS connection could not be set up or failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum TlsError {
    /// The TCP connection could not be opened.
    Connect {
        /// `host:port`.
        addr: String,
        /// The socket error.
        source: io::Error,
    },
    /// A PEM file (CA, client certificate or key) could not be read or parsed.
    ReadPem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// The CA file holds no certificate rustls can use.
    NoCaCertificate {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the client certificate and key (for example a key that does not
    /// match the certificate, or of an unsupported type).
    ClientKey(rustls::Error),
    /// The server name is neither a DNS name nor an IP address.
    InvalidServerName(String),
    /// The server's certificate does not lead to a trusted CA.
    UnknownIssuer,
    /// The server's certificate is not valid for the name checked.
    NotValidForName {
        /// The name checked.
        name: String,
    },
    /// The server's certificate has expired (or the clock is wrong).
    Expired,
    /// The server's certificate was refused for another reason.
    BadCertificate(rustls::Error),
    /// The server requires a client certificate and none was configured.
    ClientCertificateRequired,
    /// The server refused the client certificate (the alert it sent).
    ClientCertificateRefused(AlertDescription),
    /// Any other TLS failure (protocol error, alert from the server, ...).
    Tls(rustls::Error),
    /// The connection failed during the handshake.
    Io(io::Error),
    /// The handshake did not finish within the timeout.
    Timeout(Duration),
    /// The server closed the connection during the handshake.
    Closed,
}

impl TlsError {
    /// Puts a rustls error into words; `name` is the server name being verified.
    fn from_rustls(e: rustls::Error, name: &str) -> Self {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(CertificateError::UnknownIssuer) => Self::UnknownIssuer,
            E::InvalidCertificate(CertificateError::NotValidForName)
            | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
                Self::NotValidForName {
                    name: name.to_string(),
                }
            }
            E::InvalidCertificate(CertificateError::Expired)
            | E::InvalidCertificate(CertificateError::ExpiredContext { .. }) => Self::Expired,
            E::InvalidCertificate(_) => Self::BadCertificate(e),
            E::AlertReceived(AlertDescription::CertificateRequired) => Self::ClientCertificateRequired,
            E::AlertReceived(
                alert @ (AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateExpired),
            ) => Self::ClientCertificateRefused(alert),
            e => Self::Tls(e),
        }
    }

    /// This error as an `io::Error` (kind `InvalidData` for TLS failures), for the
    /// `embedded-io` methods of [`TlsTransport`].
    fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            Self::Closed => io::Error::new(io::ErrorKind::UnexpectedEof, self),
            Self::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, self),
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { addr, source } => write!(f, "cannot reach {addr}: {source}"),
            Self::ReadPem { path, source } => write!(f, "cannot use {}: {source}", path.display()),
            Self::NoCaCertificate { path } => {
                write!(f, "{} holds no usable CA certificate", path.display())
            }
            Self::ClientKey(e) => write!(f, "the client certificate and key cannot be used: {e}"),
            Self::InvalidServerName(name) => {
                write!(f, "{name:?} is neither a DNS name nor an IP address")
            }
            Self::UnknownIssuer => f.write_str("the server's certificate is not signed by a trusted CA"),
            Self::NotValidForName { name } => write!(f, "certificate not valid for name {name:?}"),
            Self::Expired => f.write_str("the server's certificate has expired"),
            Self::BadCertificate(e) => write!(f, "the server's certificate was refused: {e}"),
            Self::ClientCertificateRequired => f.write_str("the server requires a client certificate"),
            Self::ClientCertificateRefused(alert) => {
                write!(f, "the server refused the client certificate ({alert:?})")
            }
            Self::Tls(e) => write!(f, "TLS failed: {e}"),
            Self::Io(e) => write!(f, "the connection failed during the TLS handshake: {e}"),
            Self::Timeout(t) => write!(f, "the TLS handshake did not finish within {t:?}"),
            Self::Closed => f.write_str("the server closed the connection during the TLS handshake"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source, .. } | Self::Io(source) => Some(source),
            Self::ReadPem { source, .. } => Some(source),
            Self::ClientKey(e) | Self::BadCertificate(e) | Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

/// A TLS client connection over TCP: `embedded_io::{Read, Write, ReadReady}` with
/// `std::io::Error` as error type, and a [`Transport`].
///
/// A TLS failure after the handshake (for example a TLS 1.3 server refusing the client
/// certificate, which it says only after the handshake) is an `io::Error` of kind
/// `InvalidData` wrapping a [`TlsError`]. A read that ends because the socket's read
/// timeout passed has kind `TimedOut`. A server closing TCP without a TLS close_notify
/// is end of stream, as over plain TCP.
///
/// The client's `connect` after an error or `disconnect` reopens the TCP connection to
/// the same address and runs a new handshake with the same configuration
/// ([`Transport::reconnect`]), so umqtt.simple's reconnect-by-`connect()` works over TLS.
pub struct TlsTransport {
    tcp: TcpTransport,
    conn: ClientConnection,
    name: String,
    config: Arc<ClientConfig>,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("tcp", &self.tcp)
            .field("server_name", &self.name)
            .field("handshaking", &self.conn.is_handshaking())
            .field("protocol", &self.conn.protocol_version())
            .finish()
    }
}

impl TlsTransport {
    /// Connects to `host:port` over TCP and completes the TLS handshake, verifying the
    /// server's certificate for [`TlsOptions::server_name`] or else for `host`.
    ///
    /// # Errors
    /// The configuration errors of [`TlsOptions::client_config`], [`TlsError::Connect`],
    /// and the handshake errors of [`handshake`](Self::handshake).
    pub fn connect(host: &str, port: u16, options: &TlsOptions) -> Result<Self, TlsError> {
        let config = options.client_config()?;
        let addr = std::format!("{host}:{port}");
        let tcp = TcpTransport::connect((host, port)).map_err(|source| TlsError::Connect {
            addr: addr.clone(),
            source,
        })?;
        let name = options.server_name.as_deref().unwrap_or(host);
        let mut tls = Self::new(tcp, config, name)?;
        tls.handshake_timeout = options.handshake_timeout;
        tls.handshake_within(options.handshake_timeout)?;
        Ok(tls)
    }

    /// Prepares a TLS session over `tcp` that verifies the certificate for `server_name`
    /// with `config`. No byte is exchanged yet: the handshake runs on first use or with
    /// [`handshake`](Self::handshake).
    ///
    /// # Errors
    /// [`TlsError::InvalidServerName`], or [`TlsError::Tls`] if rustls refuses the
    /// configuration.
    pub fn new(tcp: TcpTransport, config: Arc<ClientConfig>, server_name: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsError::InvalidServerName(server_name.to_string()))?;
        let conn = ClientConnection::new(config.clone(), name).map_err(TlsError::Tls)?;
        Ok(Self {
            tcp,
            conn,
            name: server_name.to_string(),
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// Runs the handshake to completion, certificate verification included; does nothing
    /// once it has run. Blocks as long as the socket's read timeout allows.
    ///
    /// # Errors
    /// [`TlsError::UnknownIssuer`], [`TlsError::NotValidForName`], [`TlsError::Expired`],
    /// [`TlsError::BadCertificate`], [`TlsError::ClientCertificateRequired`],
    /// [`TlsError::ClientCertificateRefused`] or [`TlsError::Tls`] when TLS fails,
    /// [`TlsError::Closed`] when the server hangs up, [`TlsError::Timeout`] when the read
    /// timeout passes, [`TlsError::Io`] when the socket fails.
    pub fn handshake(&mut self) -> Result<(), TlsError> {
        let mut sock = self.tcp.get_ref();
        while self.conn.is_handshaking() {
            if let Err(e) = self.conn.complete_io(&mut sock) {
                return Err(self.handshake_error(e));
            }
        }
        while self.conn.wants_write() {
            if let Err(e) = self.conn.write_tls(&mut sock) {
                return Err(self.handshake_error(e));
            }
        }
        Ok(())
    }

    /// [`handshake`](Self::handshake) with the socket's read timeout set to `timeout`
    /// for its duration.
    fn handshake_within(&mut self, timeout: Duration) -> Result<(), TlsError> {
        let timeout = timeout.max(Duration::from_millis(1));
        self.tcp.set_read_timeout(Some(timeout)).map_err(TlsError::Io)?;
        let result = self.handshake().map_err(|e| {
            if let TlsError::Timeout(_) = e {
                TlsError::Timeout(timeout)
            } else {
                e
            }
        });
        self.tcp.set_read_timeout(None).map_err(TlsError::Io)?;
        result
    }

    fn handshake_error(&self, e: io::Error) -> TlsError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TlsError::Timeout(Duration::ZERO),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => TlsError::Closed,
            _ => self.wrap(e),
        }
    }

    /// The `TlsError` inside an `io::Error` from rustls, or the `io::Error` itself.
    fn wrap(&self, e: io::Error) -> TlsError {
        let is_tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
        if !is_tls {
            return TlsError::Io(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<rustls::Error>()) {
            Some(Ok(tls)) => TlsError::from_rustls(*tls, &self.name),
            _ => TlsError::Io(io::Error::other("TLS error")),
        }
    }

    /// The TCP connection underneath (for `set_read_timeout`, addresses, ...).
    pub fn tcp(&self) -> &TcpTransport {
        &self.tcp
    }

    /// The rustls connection state (negotiated version, cipher suite, peer certificates).
    pub fn connection(&self) -> &ClientConnection {
        &self.conn
    }

    /// Sends a TLS close_notify and closes both directions of the TCP connection.
    ///
    /// # Errors
    /// The `std::io::Error` of writing the alert or of `shutdown`.
    pub fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        let mut sock = self.tcp.get_ref();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut sock)?;
        }
        self.tcp.shutdown()
    }

    /// Gives back the TCP connection and the rustls state.
    pub fn into_parts(self) -> (TcpTransport, ClientConnection) {
        (self.tcp, self.conn)
    }

    /// Feeds rustls whatever the socket has without blocking; `true` when plaintext or the
    /// end of the stream is waiting, so that a read returns at once.
    fn pull_available(&mut self) -> io::Result<bool> {
        let mut sock = self.tcp.get_ref();
        sock.set_nonblocking(true)?;
        let ready = loop {
            let state = match self.conn.process_new_packets() {
                Ok(state) => state,
                Err(e) => break Err(TlsError::from_rustls(e, &self.name).into_io()),
            };
            if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
                break Ok(true);
            }
            match self.conn.read_tls(&mut sock) {
                Ok(0) => break Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        sock.set_nonblocking(false)?;
        // Send what processing queued: a key update reply, or the alert for an error.
        while self.conn.wants_write() {
            self.conn.write_tls(&mut sock)?;
        }
        ready
    }
}

impl embedded_io::ErrorType for TlsTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TlsTransport {
    /// Reads plaintext; `Ok(0)` at the end of the stream. A socket read timeout gives an
    /// error of kind `TimedOut`; a TLS failure one of kind `InvalidData` wrapping a
    /// [`TlsError`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut sock = self.tcp.get_ref();
        loop {
            let mut stream = rustls::Stream::new(&mut self.conn, &mut sock);
            let result = io::Read::read(&mut stream, buf);
            let handshaking = self.conn.is_handshaking();
            return match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // TCP closed without close_notify once the session is up: end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !handshaking => Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    Err(io::Error::new(io::ErrorKind::TimedOut, e))
                }
                Err(e) => Err(self.wrap(e).into_io()),
                ok => ok,
            };
        }
    }
}

impl embedded_io::Write for TlsTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut sock = self.tcp.get_ref();
        loop {
            let mut stream = rustls::Stream::new(&mut self.conn, &mut sock);
            return match io::Write::write(&mut stream, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(self.wrap(e).into_io()),
                ok => ok,
            };
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut sock = self.tcp.get_ref();
        let mut stream = rustls::Stream::new(&mut self.conn, &mut sock);
        io::Write::flush(&mut stream).map_err(|e| self.wrap(e).into_io())
    }
}

impl embedded_io::ReadReady for TlsTransport {
    /// Ready when decrypted bytes are waiting or the peer has closed. Records that carry no
    /// data (TLS 1.3 session tickets, key updates) are taken in and do not count.
    fn read_ready(&mut self) -> io::Result<bool> {
        self.pull_available()
    }
}

impl Transport for TlsTransport {
    fn now_ms(&mut self) -> u64 {
        monotonic_ms()
    }

    /// Opens a new TCP connection to the same address and completes a new handshake with
    /// the same configuration and server name, within the handshake timeout. A TLS failure
    /// is an `io::Error` of kind `InvalidData` wrapping the [`TlsError`].
    fn reconnect(&mut self) -> io::Result<bool> {
        if !self.tcp.reconnect()? {
            return Ok(false);
        }
        let name = ServerName::try_from(self.name.clone())
            .map_err(|_| TlsError::InvalidServerName(self.name.clone()).into_io())?;
        self.conn =
            ClientConnection::new(self.config.clone(), name).map_err(|e| TlsError::Tls(e).into_io())?;
        self.handshake_within(self.handshake_timeout)
            .map_err(TlsError::into_io)?;
        Ok(true)
    }

    /// Waits on the socket and decrypts what arrives until plaintext is there, or the
    /// time is up. The socket keeps the last read timeout (as with
    /// [`TcpTransport`]), so a later `read` cannot block for longer.
    fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        let start = monotonic_ms();
        loop {
            if self.pull_available()? {
                return Ok(true);
            }
            let left = u64::from(timeout_ms).saturating_sub(monotonic_ms().saturating_sub(start));
            if left == 0 || !self.tcp.wait_readable(u32::try_from(left).unwrap_or(u32::MAX))? {
                return Ok(false);
            }
        }
    }
}
