//! Compile-checked sketch: umqtt's blocking [`MqttClient`] over embedded-tls' blocking
//! [`TlsConnection`] on bare metal (`no_std`, no allocator), with the broker's certificate
//! verified against a CA certificate and the host name.
//!
//! embedded-tls 0.19 implements `embedded_io` 0.7 `Read + Write` (and, in its async
//! flavour, `embedded_io_async` 0.7), the same versions umqtt uses, so a `TlsConnection`
//! carries the client's bytes as it is; [`TlsTransport`] adds the clock the client's
//! timers need. What the firmware supplies:
//! * the socket under it: anything `embedded_io::{Read, Write}` (an embassy-net or smoltcp
//!   TCP socket, a modem's AT-command socket);
//! * a cryptographically secure RNG (`rand_core` 0.6 `CryptoRng + RngCore`, e.g. the MCU's
//!   TRNG);
//! * the CA certificate in DER, e.g. `include_bytes!("ca.der")`;
//! * a monotonic millisecond clock (`fn() -> u64`, e.g. from a SysTick counter).
//!
//! Build it with
//! `cargo build --manifest-path examples/embedded_tls/Cargo.toml --target thumbv7em-none-eabihf`.

#![no_std]

use embedded_io::{Read, Write};
use embedded_tls::CryptoRngCore;
use embedded_tls::blocking::{
    Aes128GcmSha256, Certificate, CryptoProvider, NoClock, TlsConfig, TlsConnection, TlsContext, TlsError,
    TlsVerifier,
};
use embedded_tls::pki::CertVerifier;
use umqtt::QoS;
use umqtt::client::{ClientError, ClientOptions, MqttClient, Transport};

/// The cipher suite offered (TLS 1.3 only: embedded-tls implements no TLS 1.2).
pub type Suite = Aes128GcmSha256;

/// Room for the server's certificate chain, kept between the Certificate and the
/// CertificateVerify handshake messages.
pub const CERT_SIZE: usize = 4096;

/// Size of the TLS record read buffer: the largest record a server may send (16 KiB of
/// plaintext plus overhead). A broker configured for smaller records (max fragment length)
/// allows less.
pub const TLS_READ_BUF: usize = 16_640;

/// Size of the TLS record write buffer (MQTT packets larger than this go out in several
/// records).
pub const TLS_WRITE_BUF: usize = 4096;

/// A crypto provider that verifies the server: the chain must lead to `ca` (ECDSA P-256
/// signatures) and the certificate must name the server name given in [`TlsConfig`].
///
/// With [`NoClock`] the validity period is not checked, since a device without a
/// trustworthy clock cannot; give `CertVerifier` a `TlsClock` backed by an RTC or SNTP to
/// check it. (embedded-tls' `UnsecureProvider` has no verifier at all: the handshake then
/// succeeds with any certificate.)
pub struct VerifyingProvider<'a, R> {
    rng: R,
    verifier: CertVerifier<'a, Suite, NoClock, CERT_SIZE>,
}

impl<'a, R: CryptoRngCore> VerifyingProvider<'a, R> {
    /// Trusts the DER-encoded CA certificate `ca_der`.
    pub fn new(rng: R, ca_der: &'a [u8]) -> Self {
        Self {
            rng,
            verifier: CertVerifier::new(Certificate::X509(ca_der)),
        }
    }
}

impl<R: CryptoRngCore> CryptoProvider for VerifyingProvider<'_, R> {
    type CipherSuite = Suite;
    // No client certificate is sent, so nothing is ever signed.
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// The buffers a TLS MQTT session needs: about 22 KB, in a `static` or on the stack.
pub struct Buffers {
    /// TLS record read buffer.
    pub tls_read: [u8; TLS_READ_BUF],
    /// TLS record write buffer.
    pub tls_write: [u8; TLS_WRITE_BUF],
    /// MQTT receive buffer (bounds the largest incoming packet).
    pub mqtt_rx: [u8; 1024],
    /// MQTT transmit buffer.
    pub mqtt_tx: [u8; 512],
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            tls_read: [0; TLS_READ_BUF],
            tls_write: [0; TLS_WRITE_BUF],
            mqtt_rx: [0; 1024],
            mqtt_tx: [0; 512],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Why [`publish_once`] failed.
#[derive(Debug)]
pub enum Error {
    /// The TLS handshake failed (`TlsError::InvalidCertificate` for an untrusted chain or
    /// a wrong host name, `TlsError::InvalidSignature` for a bad CertificateVerify, ...).
    Handshake(TlsError),
    /// An MQTT call failed; transport errors are `ClientError::Io(TlsError)`.
    Mqtt(ClientError<TlsError>),
}

impl From<ClientError<TlsError>> for Error {
    fn from(e: ClientError<TlsError>) -> Self {
        Self::Mqtt(e)
    }
}

/// The TLS connection type.
pub type Tls<'a, S> = TlsConnection<'a, S, Suite>;

/// embedded-tls' blocking connection as the client's [`Transport`]: the bytes go through
/// the TLS connection; the time comes from the firmware's millisecond clock.
///
/// The blocking `TlsConnection` cannot say whether a record is waiting, so
/// `wait_readable` answers "ready" and the read that follows blocks until data comes or
/// the socket's own read timeout fires. Give the socket a read timeout shorter than half
/// the keep-alive interval: embedded-tls reports it as an error of kind `TimedOut`, which
/// the client takes as a tick of its timers (keep-alive PINGREQ, deadlines), never as a
/// failure. With embassy, use the async `TlsConnection` and an `AsyncTransport` whose
/// `wait_readable` is a `with_timeout` around the socket's `wait_read_ready`.
pub struct TlsTransport<'a, S: Read + Write> {
    conn: Tls<'a, S>,
    clock: fn() -> u64,
}

impl<'a, S: Read + Write> TlsTransport<'a, S> {
    /// Wraps an opened connection; `clock` gives monotonic milliseconds.
    pub fn new(conn: Tls<'a, S>, clock: fn() -> u64) -> Self {
        Self { conn, clock }
    }

    /// The TLS connection back (to `close` it with a close_notify).
    pub fn into_inner(self) -> Tls<'a, S> {
        self.conn
    }
}

impl<S: Read + Write> embedded_io::ErrorType for TlsTransport<'_, S> {
    type Error = TlsError;
}

impl<S: Read + Write> Read for TlsTransport<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        self.conn.read(buf)
    }
}

impl<S: Read + Write> Write for TlsTransport<'_, S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        self.conn.write(buf)
    }

    fn flush(&mut self) -> Result<(), TlsError> {
        self.conn.flush()
    }
}

impl<S: Read + Write> Transport for TlsTransport<'_, S> {
    fn now_ms(&mut self) -> u64 {
        (self.clock)()
    }

    fn wait_readable(&mut self, _timeout_ms: u32) -> Result<bool, TlsError> {
        Ok(true)
    }
}

/// Opens TLS over `socket` (verifying the broker as `server_name` against `ca_der`), then
/// connects to MQTT as `client_id` and publishes `payload` to `topic` at QoS 1.
///
/// # Errors
/// [`Error::Handshake`] when the broker cannot be verified or TLS fails, [`Error::Mqtt`]
/// for everything after.
#[allow(clippy::too_many_arguments)]
pub fn publish_once<S: Read + Write, R: CryptoRngCore>(
    socket: S,
    rng: R,
    ca_der: &[u8],
    server_name: &str,
    client_id: &str,
    options: ClientOptions<'_>,
    topic: &str,
    payload: &[u8],
    bufs: &mut Buffers,
    clock: fn() -> u64,
) -> Result<(), Error> {
    let config = TlsConfig::new().with_server_name(server_name);
    let mut tls: Tls<'_, S> = TlsConnection::new(socket, &mut bufs.tls_read, &mut bufs.tls_write);
    tls.open(TlsContext::new(&config, VerifyingProvider::new(rng, ca_der)))
        .map_err(Error::Handshake)?;

    let transport = TlsTransport::new(tls, clock);
    let mut client =
        MqttClient::new(transport, client_id, &mut bufs.mqtt_rx, &mut bufs.mqtt_tx).with_options(options);
    client.connect(true)?;
    client.publish(topic, payload, false, QoS::AtLeastOnce)?;
    client.disconnect()?;
    // Send close_notify and get the socket back to close it.
    let _socket = client
        .into_inner()
        .into_inner()
        .close()
        .map_err(|(_, e)| Error::Handshake(e))?;
    Ok(())
}
