//! `MqttClient` over TLS (rustls, through the hand-written adapter `tests/support/rustls_adapter.rs`) against a real
//! mosquitto with a TLS listener, using a CA and server certificate generated per test
//! with rcgen (`tests/support/tls.rs`).
//!
//! What is pinned down:
//! * with the right CA, publish/subscribe work over TLS, by DNS name and by IP address, at
//!   every QoS, and `check_msg` returns at once on TLS records that carry no data (TLS 1.3
//!   session tickets) instead of blocking in `read`;
//! * an untrusted CA fails the handshake with `UnknownIssuer`, surfaced by
//!   `MqttClient::connect` as `ClientError::Io` (and by `connect_tls` with a message);
//! * a server name the certificate does not cover (`wrong.example`, `127.0.0.2`) fails with
//!   `NotValidForName...`;
//! * user name and password travel over TLS; a wrong password or none is refused with
//!   CONNACK 5 (not authorised);
//! * interop with libmosquitto's TLS: `mosquitto_sub --cafile` receives what we publish,
//!   and we receive what `mosquitto_pub --cafile` publishes;
//! * speaking TLS to the plain port fails cleanly instead of hanging.

#![cfg(feature = "std")]

mod support;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustls::{CertificateError, Error as TlsError};
use support::broker::{self, unique};
use support::tls::{IO_TIMEOUT, TlsBroker, TlsTransport, Transport, connect_tls};
use umqtt::client::std_net::TcpTransport;
use umqtt::client::{ClientError, ClientOptions, MqttClient};
use umqtt::session::ProtocolError;
use umqtt::{ConnectReturnCode, QoS};

type Client = MqttClient<'static, TlsTransport>;

const LINES_TIMEOUT: Duration = Duration::from_secs(10);

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_buf(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

/// Received `(topic, payload)` pairs.
type Inbox = Rc<RefCell<Vec<(String, Vec<u8>)>>>;

/// A client over `transport` (not yet MQTT-connected) and the inbox its callback fills.
fn client(transport: TlsTransport, id: &str, options: ClientOptions<'static>) -> (Client, Inbox) {
    let inbox: Inbox = Rc::default();
    let sink = Rc::clone(&inbox);
    let callback: &'static mut dyn FnMut(&str, &[u8]) = Box::leak(Box::new(move |t: &str, p: &[u8]| {
        sink.borrow_mut().push((t.to_owned(), p.to_vec()))
    }));
    let mut c =
        MqttClient::new(transport, leak_str(id), leak_buf(64 * 1024), leak_buf(4096)).with_options(options);
    c.set_callback(callback);
    (c, inbox)
}

/// Polls `check_msg` (not `wait_msg`: this exercises the TLS `ReadReady`) until `n`
/// messages are in `inbox`, or fails after [`IO_TIMEOUT`].
fn poll_until(c: &mut Client, inbox: &Inbox, n: usize) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + IO_TIMEOUT;
    while inbox.borrow().len() < n {
        assert!(Instant::now() < deadline, "only {:?} arrived", inbox.borrow());
        match c.check_msg() {
            Ok(Some(_)) => {}
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("check_msg: {e:?}"),
        }
    }
    inbox.borrow().clone()
}

/// The `rustls::Error` inside a transport error, if that is what it is.
fn rustls_error(e: &io::Error) -> Option<&TlsError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<TlsError>())
}

/// Connects with `transport` and returns the transport error `connect` fails with.
fn connect_io_error(transport: TlsTransport) -> io::Error {
    let (mut c, _) = client(transport, &unique("tls-bad"), ClientOptions::default());
    match c.connect(true) {
        Err(ClientError::Io(e)) => e,
        other => panic!("expected ClientError::Io, got {other:?}"),
    }
}

#[test]
fn publish_and_subscribe_over_tls() {
    let tb = TlsBroker::start();
    let topic = unique("tls/ps");

    // By DNS name ...
    let (mut sub, inbox) = client(
        tb.transport("localhost"),
        &unique("tls-sub"),
        ClientOptions::default(),
    );
    assert!(!sub.connect(true).expect("subscriber connects over TLS"));
    assert_eq!(
        sub.subscribe(&topic, QoS::ExactlyOnce).expect("subscribe"),
        QoS::ExactlyOnce
    );
    let conn = sub.transport_mut().connection();
    assert!(!conn.is_handshaking());
    assert!(conn.protocol_version().is_some());
    assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));

    // ... and by IP address (the certificate's IP SAN).
    let (mut publisher, _) = client(
        tb.transport("127.0.0.1"),
        &unique("tls-pub"),
        ClientOptions::default(),
    );
    publisher.connect(true).expect("publisher connects over TLS");
    // Larger than a TLS record (16 KiB) and than the transmit buffer (written in two parts).
    let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    publisher
        .publish(&topic, b"qos0", false, QoS::AtMostOnce)
        .expect("publish QoS 0");
    publisher
        .publish(&topic, b"qos1", false, QoS::AtLeastOnce)
        .expect("publish QoS 1");
    publisher
        .publish(&topic, b"qos2", false, QoS::ExactlyOnce)
        .expect("publish QoS 2");
    publisher
        .publish(&topic, &big, false, QoS::AtMostOnce)
        .expect("publish 40 kB");
    publisher.disconnect().expect("disconnect");

    let got = poll_until(&mut sub, &inbox, 4);
    let payloads: Vec<&[u8]> = got.iter().map(|(_, p)| p.as_slice()).collect();
    assert_eq!(payloads, [&b"qos0"[..], b"qos1", b"qos2", &big]);
    assert!(got.iter().all(|(t, _)| *t == topic));
    // Finish the QoS 2 exchange (the PUBREL may still be on its way) before leaving.
    sub.ping().expect("ping");
    while sub.session().ping_outstanding() {
        sub.wait_msg().expect("wait_msg");
    }
    sub.disconnect().expect("disconnect");
    // After DISCONNECT nothing can arrive: wait_msg says so at once instead of waiting on
    // the closed connection.
    let after = sub.wait_msg();
    assert!(
        matches!(after, Err(ClientError::Protocol(ProtocolError::NotConnected))),
        "{after:?}"
    );
}

/// After a TLS 1.3 handshake the server sends session tickets: records with no
/// application data. `ReadReady` (so `check_msg`) must not take them for a packet and block
/// in `read`: a plain peek at the socket, as over TCP, fails this test.
#[test]
fn check_msg_returns_at_once_when_only_tls_records_arrived() {
    let tb = TlsBroker::start();
    // Handshake first, then give the broker time to send what follows it.
    let mut t = connect_tls("127.0.0.1", tb.tls_port, &tb.pki.ca, Some("localhost")).expect("TLS connect");
    t.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    std::thread::sleep(Duration::from_millis(200));
    let pending = {
        t.get_ref().set_nonblocking(true).expect("nonblocking");
        let mut probe = [0u8; 1];
        let r = t.get_ref().peek(&mut probe);
        t.get_ref().set_nonblocking(false).expect("blocking");
        r.is_ok()
    };
    // mosquitto 2.0.11 on OpenSSL 3 negotiates TLS 1.3 and sends session tickets here.
    assert!(
        pending,
        "expected TLS records after the handshake ({:?})",
        t.connection().protocol_version()
    );
    let started = Instant::now();
    assert!(
        !embedded_io::ReadReady::read_ready(&mut t).expect("read_ready"),
        "no MQTT data yet"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let (mut c, inbox) = client(t, &unique("tls-poll"), ClientOptions::default());
    c.connect(true).expect("connect");
    let topic = unique("tls/poll");
    c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe");
    std::thread::sleep(Duration::from_millis(200)); // let anything the broker sends arrive
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(c.check_msg().expect("check_msg"), None);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "check_msg blocked for {:?}",
            started.elapsed()
        );
    }
    assert!(inbox.borrow().is_empty());

    // A ping answered over TLS comes through check_msg too.
    c.ping().expect("ping");
    let deadline = Instant::now() + IO_TIMEOUT;
    while c.session().ping_outstanding() {
        if let Some(other) = c.check_msg().expect("check_msg") {
            panic!("unexpected message on {}", other.topic);
        }
        assert!(Instant::now() < deadline, "no PINGRESP");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.disconnect().expect("disconnect");
}

#[test]
fn untrusted_ca_is_rejected() {
    let tb = TlsBroker::start();
    let e = connect_io_error(tb.transport_with(&tb.pki.other_ca, "localhost"));
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e:?}");
    assert_eq!(
        rustls_error(&e),
        Some(&TlsError::InvalidCertificate(CertificateError::UnknownIssuer)),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "invalid peer certificate: UnknownIssuer");

    // The eager helper used by the command-line tools says where and why.
    let e = connect_tls("127.0.0.1", tb.tls_port, &tb.pki.other_ca, Some("localhost"))
        .expect_err("untrusted CA must fail");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}", tb.tls_port)) && msg.contains("UnknownIssuer"),
        "{msg}"
    );
    // The broker saw the handshake fail and no MQTT connection.
    assert!(
        !tb.broker.log().contains("New client connected"),
        "{}",
        tb.broker.log()
    );
}

#[test]
fn wrong_host_name_is_rejected() {
    let tb = TlsBroker::start();
    for name in ["wrong.example", "127.0.0.2"] {
        let e = connect_io_error(tb.transport(name));
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{name}: {e:?}");
        match rustls_error(&e) {
            Some(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {}
            other => panic!("{name}: expected NotValidForName, got {other:?} ({e})"),
        }
        assert!(
            e.to_string()
                .contains(&format!("certificate not valid for name {name:?}")),
            "{e}"
        );
    }
    // The same certificate is fine for the right names.
    for name in ["localhost", "127.0.0.1"] {
        let (mut c, _) = client(tb.transport(name), &unique("tls-ok"), ClientOptions::default());
        c.connect(true).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        c.disconnect().expect("disconnect");
    }
    let e = connect_tls("127.0.0.1", tb.tls_port, &tb.pki.ca, Some("wrong.example"))
        .expect_err("wrong name must fail");
    assert!(e.to_string().contains("wrong.example"), "{e}");
}

#[test]
fn user_name_and_password_over_tls() {
    let tb = TlsBroker::with_password("alice", "s3cret");
    let options = |password: &'static [u8]| ClientOptions {
        user: Some("alice"),
        password: Some(password),
        ..ClientOptions::default()
    };

    let topic = unique("tls/auth");
    let (mut c, inbox) = client(tb.transport("localhost"), &unique("tls-auth"), options(b"s3cret"));
    c.connect(true).expect("right password is accepted");
    c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe");
    c.publish(&topic, b"secret hello", false, QoS::AtLeastOnce)
        .expect("publish");
    assert_eq!(
        poll_until(&mut c, &inbox, 1),
        [(topic.clone(), b"secret hello".to_vec())]
    );
    c.disconnect().expect("disconnect");

    let (mut c, _) = client(tb.transport("localhost"), &unique("tls-auth"), options(b"wrong"));
    match c.connect(true) {
        Err(ClientError::ConnectionRefused(ConnectReturnCode::NotAuthorized)) => {}
        other => panic!("wrong password: expected ConnectionRefused(NotAuthorized), got {other:?}"),
    }

    let (mut c, _) = client(
        tb.transport("localhost"),
        &unique("tls-anon"),
        ClientOptions::default(),
    );
    match c.connect(true) {
        Err(ClientError::ConnectionRefused(ConnectReturnCode::NotAuthorized)) => {}
        other => panic!("anonymous: expected ConnectionRefused(NotAuthorized), got {other:?}"),
    }
}

#[test]
fn mosquitto_sub_receives_what_we_publish_over_tls() {
    let tb = TlsBroker::start();
    let topic = unique("tls/interop");
    let ca = tb.pki.ca.to_str().expect("UTF-8 temp path");
    let sub = broker::mosquitto_sub(tb.tls_port, &["--cafile", ca, "-t", &topic, "-q", "1", "-C", "2"]);
    sub.wait_ready();

    let (mut c, _) = client(
        tb.transport("localhost"),
        &unique("tls-pub"),
        ClientOptions::default(),
    );
    c.connect(true).expect("connect");
    c.publish(&topic, b"over tls", false, QoS::AtLeastOnce)
        .expect("publish QoS 1");
    c.publish(&topic, b"again", false, QoS::ExactlyOnce)
        .expect("publish QoS 2");
    c.disconnect().expect("disconnect");

    assert_eq!(
        sub.wait_lines(2, LINES_TIMEOUT),
        ["over tls", "again"],
        "{}",
        sub.stderr()
    );
}

#[test]
fn we_receive_what_mosquitto_pub_publishes_over_tls() {
    let tb = TlsBroker::start();
    let topic = unique("tls/interop");
    let (mut c, inbox) = client(
        tb.transport("localhost"),
        &unique("tls-sub"),
        ClientOptions::default(),
    );
    c.connect(true).expect("connect");
    c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe");

    let ca = tb.pki.ca.to_str().expect("UTF-8 temp path");
    let out = broker::mosquitto_pub(
        tb.tls_port,
        &["--cafile", ca, "-t", &topic, "-q", "1", "-m", "from libmosquitto"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        poll_until(&mut c, &inbox, 1),
        [(topic, b"from libmosquitto".to_vec())]
    );
}

/// The run-time choice the `pub`/`sub` tools make: one client type over plain TCP or TLS.
#[test]
fn transport_enum_carries_tcp_and_tls() {
    let tb = TlsBroker::start();
    let topic = unique("tls/enum");
    let tcp = TcpTransport::connect(tb.broker.addr()).expect("TCP connect");
    tcp.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let tls = connect_tls("127.0.0.1", tb.tls_port, &tb.pki.ca, Some("localhost")).expect("TLS connect");
    let transports = [Transport::from(tcp), Transport::from(tls)];
    assert!(matches!(transports[0], Transport::Tcp(_)) && matches!(transports[1], Transport::Tls(_)));

    let received: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let mut clients: Vec<MqttClient<'static, Transport>> = Vec::new();
    for (i, t) in transports.into_iter().enumerate() {
        t.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let sink = Rc::clone(&received);
        let callback: &'static mut dyn FnMut(&str, &[u8]) = Box::leak(Box::new(move |_: &str, p: &[u8]| {
            sink.borrow_mut().push(p.to_vec())
        }));
        let mut c = MqttClient::new(
            t,
            leak_str(&unique(&format!("tls-enum{i}"))),
            leak_buf(1024),
            leak_buf(1024),
        );
        c.set_callback(callback);
        c.connect(true).expect("connect");
        c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe");
        clients.push(c);
    }
    // Each publishes; each receives both messages (check_msg uses the enum's ReadReady).
    clients[0]
        .publish(&topic, b"via tcp", false, QoS::AtLeastOnce)
        .expect("publish over TCP");
    clients[1]
        .publish(&topic, b"via tls", false, QoS::AtLeastOnce)
        .expect("publish over TLS");
    let deadline = Instant::now() + IO_TIMEOUT;
    while received.borrow().len() < 4 {
        assert!(Instant::now() < deadline, "only {:?}", received.borrow());
        for c in &mut clients {
            if c.check_msg().expect("check_msg").is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    let mut got = received.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            b"via tcp".to_vec(),
            b"via tcp".to_vec(),
            b"via tls".to_vec(),
            b"via tls".to_vec()
        ]
    );
}

/// A TLS client on the plain MQTT port: mosquitto reads the ClientHello as a malformed
/// MQTT packet and hangs up; the client must fail, not hang.
#[test]
fn tls_to_the_plain_port_fails_cleanly() {
    let tb = TlsBroker::start();
    let config = support::tls::client_config_from_pem(&tb.pki.ca).expect("CA");
    let t = TlsTransport::connect(("127.0.0.1", tb.broker.port()), "localhost", config).expect("TCP connect");
    t.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    let started = Instant::now();
    let (mut c, _) = client(t, &unique("tls-plain"), ClientOptions::default());
    match c.connect(true) {
        Err(ClientError::Io(e)) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::InvalidData
            ),
            "{e:?}"
        ),
        Err(ClientError::ConnectionClosed) => {}
        other => panic!("expected a transport failure, got {other:?}"),
    }
    assert!(started.elapsed() < IO_TIMEOUT, "took {:?}", started.elapsed());
}

#[test]
fn cafile_problems_are_reported() {
    let missing = std::env::temp_dir().join(unique("no-such-ca"));
    let e = connect_tls("127.0.0.1", 1, &missing, None).expect_err("missing CA file");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");

    let pki = support::tls::Pki::generate();
    // A key is PEM but not a certificate.
    let e = connect_tls("127.0.0.1", 1, &pki.key, None).expect_err("no certificate in the file");
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
}
