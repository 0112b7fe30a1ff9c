//! TLS on the host: [`TlsTransport`], a rustls client connection over a `TcpStream` that
//! implements `embedded_io::{Read, Write, ReadReady}`, so that `MqttClient` runs over it
//! unchanged.
//!
//! The broker's certificate is always verified: against the CA certificate(s) of a PEM
//! file (`--cafile`), and for the host name given (the `-h` host or `--tls-server-name`).
//! There is deliberately no way to switch verification off.
//!
//! rustls runs with its `ring` crypto provider, handed to the config explicitly (the
//! default `aws-lc-rs` provider needs cmake and nasm to build).
//!
//! [`Transport`] lets one client type run over either plain TCP or TLS, chosen at run time
//! (`MqttClient<'_, Transport>`).
//!
//! The tests use it (through `tests/support/tls.rs`) to show that a TLS stream written
//! outside the library carries the client just as well; programs use `umqtt::tls`.

#![allow(dead_code)]

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use umqtt::client::std_net::TcpTransport;

/// Reads every certificate of the PEM file `cafile` into a root store.
///
/// # Errors
/// `NotFound`/`PermissionDenied`/... when the file cannot be read, `InvalidData` when it is
/// not PEM or holds no usable certificate.
pub fn load_ca(cafile: &Path) -> io::Result<RootCertStore> {
    let what = cafile.display();
    // Open it first, so that a missing file is reported with its io::ErrorKind.
    std::fs::metadata(cafile).map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))?;
    let certs = CertificateDer::pem_file_iter(cafile)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: no usable CA certificate ({ignored} unparsable)"),
        ));
    }
    Ok(roots)
}

/// A rustls client configuration (ring provider, TLS 1.2 and 1.3, no client certificate)
/// that trusts exactly `roots`.
///
/// # Errors
/// `InvalidInput` if the provider supports none of the protocol versions (cannot happen
/// with the features this crate enables).
pub fn client_config(roots: RootCertStore) -> io::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// [`client_config`] trusting the CA certificate(s) in the PEM file `cafile`.
///
/// # Errors
/// See [`load_ca`].
pub fn client_config_from_pem(cafile: &Path) -> io::Result<Arc<ClientConfig>> {
    client_config(load_ca(cafile)?)
}

/// Parses a server name for verification: a DNS name, or an IP address (checked against
/// the certificate's IP address entries).
///
/// # Errors
/// `InvalidInput` if `name` is neither.
pub fn server_name(name: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(name.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid TLS server name {name:?}: {e}"),
        )
    })
}

/// Turns a rustls error into the `io::Error` that rustls' own stream would report.
fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A TLS client connection over TCP implementing `embedded_io::{Read, Write, ReadReady}`
/// with `std::io::Error` as its error type.
///
/// The handshake runs lazily on the first read or write (so with `MqttClient` inside
/// `connect`, and a certificate problem surfaces as `ClientError::Io`), or eagerly with
/// [`TlsTransport::handshake`]. A verification failure is an `io::Error` of kind
/// `InvalidData` wrapping the `rustls::Error`, e.g. "invalid peer certificate: UnknownIssuer".
///
/// A peer that closes the TCP connection without a TLS close_notify is reported as end of
/// stream (`Ok(0)`, so `ClientError::ConnectionClosed`), as over plain TCP. Brokers commonly
/// do that, and MQTT's own framing detects a message cut short.
pub struct TlsTransport {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

impl TlsTransport {
    /// Opens a TCP connection to `addr` (Nagle off) and prepares a TLS session that
    /// verifies the server's certificate for `server_name` against `config`'s roots. No
    /// TLS byte is exchanged yet (see [`TlsTransport::handshake`]).
    ///
    /// # Errors
    /// `InvalidInput` for an invalid server name, else the `io::Error` of the connect.
    pub fn connect(
        addr: impl ToSocketAddrs,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> io::Result<Self> {
        let name = self::server_name(server_name)?;
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nodelay(true)?;
        Self::new(tcp, name, config)
    }

    /// Wraps an already-connected stream.
    ///
    /// # Errors
    /// `InvalidInput` if rustls refuses the configuration.
    pub fn new(
        tcp: TcpStream,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> io::Result<Self> {
        let conn = ClientConnection::new(config, server_name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Self {
            stream: StreamOwned::new(conn, tcp),
        })
    }

    /// Runs the TLS handshake to completion (certificate and host name verification
    /// included). Does nothing if it already ran.
    ///
    /// # Errors
    /// `InvalidData` wrapping the `rustls::Error` when verification fails or the peer
    /// misbehaves, `UnexpectedEof` when the peer hangs up, or the socket's error (e.g.
    /// `WouldBlock`/`TimedOut` after a read timeout).
    pub fn handshake(&mut self) -> io::Result<()> {
        let StreamOwned { conn, sock } = &mut self.stream;
        while conn.is_handshaking() {
            conn.complete_io(sock)?;
        }
        // Send what is left (e.g. the client Finished of a TLS 1.2 handshake).
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        Ok(())
    }

    /// Sets a read timeout on the socket, so a blocking read cannot hang forever on a dead
    /// link (it then fails with `WouldBlock`/`TimedOut`).
    ///
    /// # Errors
    /// The `std::io::Error` of `set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.sock.set_read_timeout(timeout)
    }

    /// The underlying TCP stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream.sock
    }

    /// The rustls connection state (negotiated protocol version, cipher suite, peer
    /// certificates).
    pub fn connection(&self) -> &ClientConnection {
        &self.stream.conn
    }

    /// Sends a TLS close_notify and closes both directions of the TCP connection.
    ///
    /// # Errors
    /// The `std::io::Error` of writing the alert or of `shutdown`.
    pub fn shutdown(&mut self) -> io::Result<()> {
        let StreamOwned { conn, sock } = &mut self.stream;
        conn.send_close_notify();
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        sock.shutdown(std::net::Shutdown::Both)
    }

    /// Gives back the rustls connection and the TCP stream.
    pub fn into_parts(self) -> (ClientConnection, TcpStream) {
        self.stream.into_parts()
    }
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("sock", &self.stream.sock)
            .field("handshaking", &self.stream.conn.is_handshaking())
            .field("protocol", &self.stream.conn.protocol_version())
            .finish()
    }
}

impl embedded_io::ErrorType for TlsTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TlsTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        loop {
            match io::Read::read(&mut self.stream, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The socket's read timeout passed: a tick of the client's timers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, e));
                }
                // TCP closed without close_notify once the session is up: end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !self.stream.conn.is_handshaking() => {
                    return Ok(0);
                }
                r => return r,
            }
        }
    }
}

impl embedded_io::Write for TlsTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        loop {
            match io::Write::write(&mut self.stream, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        io::Write::flush(&mut self.stream)
    }
}

impl embedded_io::ReadReady for TlsTransport {
    /// Ready when decrypted bytes are waiting, or the peer has closed (so that `read`
    /// returns at once).
    ///
    /// Readiness of the socket alone is not enough: TLS 1.3 servers send records that carry
    /// no application data (session tickets, key updates) after the handshake, and a `read`
    /// on those alone would block. So the bytes the socket has are pulled in without
    /// blocking and decrypted here, and any TLS reply they call for is sent.
    fn read_ready(&mut self) -> Result<bool, io::Error> {
        let StreamOwned { conn, sock } = &mut self.stream;
        sock.set_nonblocking(true)?;
        let ready = pull_available(conn, sock);
        sock.set_nonblocking(false)?;
        // Send what processing queued: a key update reply, or the alert for an error.
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        ready
    }
}

impl umqtt::client::Transport for TlsTransport {
    fn now_ms(&mut self) -> u64 {
        umqtt::client::std_net::monotonic_ms()
    }

    /// Ready when decrypted bytes (or the end) are waiting; otherwise waits on the socket,
    /// with its read timeout, for more TLS records, until `timeout_ms` has passed.
    fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        let end = self.now_ms() + u64::from(timeout_ms);
        loop {
            if embedded_io::ReadReady::read_ready(self)? {
                return Ok(true);
            }
            let left = end.saturating_sub(self.now_ms());
            if left == 0 {
                return Ok(false);
            }
            let sock = &self.stream.sock;
            sock.set_read_timeout(Some(Duration::from_millis(left)))?;
            match sock.peek(&mut [0u8; 1]) {
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Feeds `conn` whatever the non-blocking `sock` has until plaintext is available, the peer
/// has closed, or the socket would block.
fn pull_available(conn: &mut ClientConnection, sock: &mut TcpStream) -> io::Result<bool> {
    loop {
        let state = conn.process_new_packets().map_err(tls_error)?;
        if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
            return Ok(true);
        }
        match conn.read_tls(sock) {
            // End of stream: `read` reports it at once.
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Connects to `host:port` over TLS and completes the handshake, trusting the CA
/// certificate(s) in the PEM file `cafile` and checking the broker's certificate for
/// `server_name`, or for `host` when that is `None`. What the `--cafile` and
/// `--tls-server-name` options of the `pub`/`sub` examples use.
///
/// # Errors
/// A message-carrying `io::Error` when the CA file cannot be used, the host cannot be
/// reached, or verification fails ("invalid peer certificate: UnknownIssuer", "certificate
/// not valid for name ...").
pub fn connect_tls(
    host: &str,
    port: u16,
    cafile: &Path,
    server_name: Option<&str>,
) -> io::Result<TlsTransport> {
    let config = client_config_from_pem(cafile)?;
    let name = server_name.unwrap_or(host);
    let mut tls = TlsTransport::connect((host, port), name, config)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot reach {host}:{port}: {e}")))?;
    tls.handshake().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("TLS handshake with {host}:{port} (as {name:?}) failed: {e}"),
        )
    })?;
    Ok(tls)
}

/// Plain TCP or TLS, chosen at run time, as one `embedded-io` transport (the TLS variant is
/// boxed: a rustls connection is much larger than a socket).
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Tcp(TcpTransport),
    /// TLS over TCP.
    Tls(Box<TlsTransport>),
}

impl Transport {
    /// Sets the read timeout of the underlying socket.
    ///
    /// # Errors
    /// The `std::io::Error` of `set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(t) => t.set_read_timeout(timeout),
            Self::Tls(t) => t.set_read_timeout(timeout),
        }
    }
}

impl From<TcpTransport> for Transport {
    fn from(t: TcpTransport) -> Self {
        Self::Tcp(t)
    }
}

impl From<TlsTransport> for Transport {
    fn from(t: TlsTransport) -> Self {
        Self::Tls(Box::new(t))
    }
}

impl embedded_io::ErrorType for Transport {
    type Error = io::Error;
}

impl embedded_io::Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        match self {
            Self::Tcp(t) => t.read(buf),
            Self::Tls(t) => t.read(buf),
        }
    }
}

impl embedded_io::Write for Transport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        match self {
            Self::Tcp(t) => t.write(buf),
            Self::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        match self {
            Self::Tcp(t) => t.flush(),
            Self::Tls(t) => t.flush(),
        }
    }
}

impl embedded_io::ReadReady for Transport {
    fn read_ready(&mut self) -> Result<bool, io::Error> {
        match self {
            Self::Tcp(t) => t.read_ready(),
            Self::Tls(t) => t.read_ready(),
        }
    }
}

impl umqtt::client::Transport for Transport {
    fn now_ms(&mut self) -> u64 {
        umqtt::client::std_net::monotonic_ms()
    }

    fn wait_readable(&mut self, timeout_ms: u32) -> io::Result<bool> {
        match self {
            Self::Tcp(t) => t.wait_readable(timeout_ms),
            Self::Tls(t) => t.wait_readable(timeout_ms),
        }
    }
}
