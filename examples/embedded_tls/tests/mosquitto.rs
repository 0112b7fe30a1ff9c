//! Runs the bare-metal sketch on the host against a real mosquitto TLS listener: proof that
//! embedded-tls' `TlsConnection` carries umqtt's client, and that the verifying provider
//! rejects an untrusted CA and a wrong host name (embedded-tls' own `UnsecureProvider` would
//! accept both).
//!
//! Reuses the main crate's broker harness and rcgen fixtures (`tests/support/`).

#[path = "../../../tests/support/broker.rs"]
mod broker;
#[path = "../../../tests/support/tls.rs"]
mod tls;

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use broker::unique;
use embedded_tls::blocking::TlsError;
use rand_core::OsRng;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tls::TlsBroker;
use umqtt::client::ClientOptions;
use umqtt_embedded_tls::{Buffers, Error, publish_once};

/// `std::net::TcpStream` as the `embedded_io` socket a device would have.
struct Socket(TcpStream);

impl embedded_io::ErrorType for Socket {
    type Error = io::Error;
}

impl embedded_io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.0, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::Write::flush(&mut self.0)
    }
}

fn socket(tb: &TlsBroker) -> Socket {
    let tcp = TcpStream::connect(tb.tls_addr()).expect("TCP connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    Socket(tcp)
}

fn der(pem: &std::path::Path) -> Vec<u8> {
    CertificateDer::from_pem_file(pem).expect("CA PEM").to_vec()
}

fn publish(
    tb: &TlsBroker,
    ca_der: &[u8],
    server_name: &str,
    topic: &str,
    payload: &[u8],
) -> Result<(), Error> {
    let mut bufs = Box::new(Buffers::new());
    publish_once(
        socket(tb),
        OsRng,
        ca_der,
        server_name,
        &unique("etls"),
        ClientOptions::default(),
        topic,
        payload,
        &mut bufs,
        umqtt::client::std_net::monotonic_ms,
    )
}

#[test]
fn embedded_tls_publishes_to_mosquitto_with_verification() {
    let tb = TlsBroker::start();
    let topic = unique("etls/ok");
    let ca = tb.pki.ca.to_str().expect("UTF-8 path");
    let sub = broker::mosquitto_sub(tb.tls_port, &["--cafile", ca, "-t", &topic, "-q", "1", "-C", "1"]);
    sub.wait_ready();

    publish(&tb, &der(&tb.pki.ca), "localhost", &topic, b"from embedded-tls")
        .expect("publish over embedded-tls");
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        ["from embedded-tls"],
        "{}",
        sub.stderr()
    );
}

#[test]
fn embedded_tls_rejects_untrusted_ca_and_wrong_name() {
    let tb = TlsBroker::start();
    match publish(&tb, &der(&tb.pki.other_ca), "localhost", "etls/x", b"x") {
        Err(Error::Handshake(TlsError::InvalidCertificate)) => {}
        other => panic!("untrusted CA: expected Handshake(InvalidCertificate), got {other:?}"),
    }
    match publish(&tb, &der(&tb.pki.ca), "wrong.example", "etls/x", b"x") {
        Err(Error::Handshake(TlsError::InvalidCertificate)) => {}
        other => panic!("wrong name: expected Handshake(InvalidCertificate), got {other:?}"),
    }
    assert!(
        !tb.broker.log().contains("New client connected"),
        "{}",
        tb.broker.log()
    );
}
