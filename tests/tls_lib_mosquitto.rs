//! The library's TLS transport (`umqtt::tls`, feature `tls`) against a real mosquitto,
//! driven with the codec until the new client lands: mutual TLS (`require_certificate
//! true`), verification failures in words, and `wss` (TLS under
//! [`umqtt::ws::WsTransport`]). Certificates are made per test with rcgen
//! (`tests/support/tls.rs`); mosquitto_pub / mosquitto_sub on the plain listener check
//! what went through.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_io::{Read, Write};
use support::broker::{self, Broker, BrokerConfig, unique};
use support::tls::Pki;
use umqtt::client::{MqttClient, Transport};
use umqtt::tls::{TlsError, TlsOptions, TlsTransport};
use umqtt::ws::{WsOptions, WsTransport};
use umqtt::{
    Connect, ConnectReturnCode, Delivery, Entries, Packet, PacketId, Publish, QoS, Subscribe, Subscription,
    TopicFilter, TopicName,
};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const LINES_TIMEOUT: Duration = Duration::from_secs(10);

fn send<T: Write>(t: &mut T, packet: &Packet<'_>)
where
    T::Error: std::fmt::Debug,
{
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = umqtt::encode(packet, &mut buf).expect("encode");
    t.write_all(&buf[..n]).expect("write");
    t.flush().expect("flush");
}

fn recv<'b, T: Read>(t: &mut T, rx: &'b mut [u8]) -> Result<Packet<'b>, umqtt::ReadPacketError<T::Error>> {
    umqtt::read_packet(t, rx)
}

fn connect_packet(client_id: &str) -> Packet<'_> {
    Packet::Connect(Connect {
        clean_session: true,
        keep_alive: 30,
        client_id,
        will: None,
        username: None,
        password: None,
    })
}

fn mqtt_connect<T: Read + Write>(t: &mut T, client_id: &str)
where
    T::Error: std::fmt::Debug,
{
    send(t, &connect_packet(client_id));
    let mut rx = [0u8; 16];
    match recv(t, &mut rx) {
        Ok(Packet::ConnAck(ack)) => assert_eq!(ack.code, ConnectReturnCode::Accepted),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn subscribe<T: Read + Write>(t: &mut T, filter: &str)
where
    T::Error: std::fmt::Debug,
{
    let topics = [Subscription {
        filter: TopicFilter::new(filter).unwrap(),
        qos: QoS::AtMostOnce,
    }];
    let id = PacketId::new(3).unwrap();
    send(
        t,
        &Packet::Subscribe(Subscribe {
            packet_id: id,
            topics: Entries::new(&topics),
        }),
    );
    let mut rx = [0u8; 16];
    assert!(matches!(recv(t, &mut rx), Ok(Packet::SubAck(a)) if a.packet_id == id));
}

/// A broker whose listener 0 is TLS with `require_certificate true`, trusting `pki.ca`
/// for client certificates.
fn mutual_tls_broker(pki: &Pki) -> Broker {
    Broker::start_with(BrokerConfig::new().listener([
        format!("cafile {}", pki.ca.display()),
        format!("certfile {}", pki.cert.display()),
        format!("keyfile {}", pki.key.display()),
        "require_certificate true".to_owned(),
    ]))
}

/// A broker whose listener 0 is TLS without client authentication.
fn tls_broker(pki: &Pki) -> Broker {
    Broker::start_with(BrokerConfig::new().listener([
        format!("certfile {}", pki.cert.display()),
        format!("keyfile {}", pki.key.display()),
    ]))
}

fn tls(port: u16, options: &TlsOptions) -> Result<TlsTransport, TlsError> {
    let t = TlsTransport::connect("localhost", port, options)?;
    t.tcp().set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    Ok(t)
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::generate();
    let broker = mutual_tls_broker(&pki);
    let topic = unique("mtls/t");
    let sub = broker::mosquitto_sub(broker.port(), &["-t", &topic]);
    sub.wait_ready();

    let options = TlsOptions::new()
        .ca_file(&pki.ca)
        .client_cert(&pki.client_cert, &pki.client_key);
    let mut t = tls(broker.listener_port(0), &options)
        .unwrap_or_else(|e| panic!("TLS: {e}\n--- log ---\n{}", broker.log()));
    mqtt_connect(&mut t, &unique("mtls"));
    // TLS 1.3 session tickets arrive after the handshake: they are not data.
    assert!(!t.wait_readable(200).expect("wait"), "nothing was sent to us");
    let name = TopicName::new(&topic).unwrap();
    send(
        &mut t,
        &Packet::Publish(Publish::new(name, b"mutual", Delivery::AtMostOnce, false)),
    );
    assert_eq!(sub.wait_lines(1, LINES_TIMEOUT), ["mutual"]);

    send(&mut t, &Packet::PingReq);
    assert!(t.wait_readable(10_000).expect("wait"));
    let mut rx = [0u8; 8];
    assert!(matches!(recv(&mut t, &mut rx), Ok(Packet::PingResp)));
}

/// umqtt.simple's reconnect over mutual TLS: after `disconnect`, `connect()` again opens a
/// new TCP connection and runs a new handshake with the same certificate, and the session
/// works (the broker logs two connections for the client id).
#[test]
fn mqtt_client_connects_again_over_mutual_tls() {
    let pki = Pki::generate();
    let broker = mutual_tls_broker(&pki);
    let id = unique("mtls-again");
    let topic = unique("mtls/again");
    let options = TlsOptions::new()
        .ca_file(&pki.ca)
        .client_cert(&pki.client_cert, &pki.client_key);
    let t = tls(broker.listener_port(0), &options)
        .unwrap_or_else(|e| panic!("TLS: {e}\n--- log ---\n{}", broker.log()));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let mut c = MqttClient::new(t, &id, &mut rx, &mut tx);
    c.connect(true).expect("first connect");
    c.disconnect().expect("disconnect");
    c.connect(true).expect("connect again over a new TLS connection");
    assert_eq!(
        c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe"),
        QoS::AtLeastOnce
    );
    c.publish(&topic, b"again", false, QoS::AtLeastOnce)
        .expect("publish");
    let m = c.wait_msg().expect("wait_msg").expect("the echo");
    assert_eq!(m.payload, b"again");
    c.disconnect().expect("disconnect");
    let log = broker.log();
    let connects = log.matches(&format!(" as {id} (")).count();
    assert_eq!(connects, 2, "{log}");
}

/// The refusal of a client certificate: during the handshake (TLS 1.2), or on the first
/// read after it (TLS 1.3, where the server judges the certificate after the client has
/// finished). Either way it is a `TlsError` saying so.
fn refusal(broker: &Broker, options: &TlsOptions) -> TlsError {
    let mut t = match tls(broker.listener_port(0), options) {
        Err(e) => return e,
        Ok(t) => t,
    };
    send(&mut t, &connect_packet("refused"));
    let mut rx = [0u8; 16];
    match recv(&mut t, &mut rx) {
        Err(umqtt::ReadPacketError::Read(e)) => match e.into_inner().map(|i| i.downcast::<TlsError>()) {
            Some(Ok(e)) => *e,
            other => panic!("expected a TlsError inside the io::Error, got {other:?}"),
        },
        other => panic!("expected the server to refuse, got {other:?}"),
    }
}

#[test]
fn mutual_tls_without_a_client_certificate_is_refused_in_words() {
    let pki = Pki::generate();
    let broker = mutual_tls_broker(&pki);
    let e = refusal(&broker, &TlsOptions::new().ca_file(&pki.ca));
    assert!(matches!(e, TlsError::ClientCertificateRequired), "{e:?}");
    assert_eq!(e.to_string(), "the server requires a client certificate");
}

#[test]
fn mutual_tls_with_an_untrusted_client_certificate_is_refused_in_words() {
    let pki = Pki::generate();
    let broker = mutual_tls_broker(&pki);
    let options = TlsOptions::new()
        .ca_file(&pki.ca)
        .client_cert(&pki.untrusted_client_cert, &pki.untrusted_client_key);
    let e = refusal(&broker, &options);
    assert!(matches!(e, TlsError::ClientCertificateRefused(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("the server refused the client certificate"),
        "{e}"
    );
}

#[test]
fn verification_failures_are_put_into_words() {
    let pki = Pki::generate();
    let broker = tls_broker(&pki);
    let port = broker.listener_port(0);

    let e = tls(port, &TlsOptions::new().ca_file(&pki.other_ca)).unwrap_err();
    assert!(matches!(e, TlsError::UnknownIssuer), "{e:?}");
    assert_eq!(
        e.to_string(),
        "the server's certificate is not signed by a trusted CA"
    );

    let e = tls(
        port,
        &TlsOptions::new().ca_file(&pki.ca).server_name("wrong.example"),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "certificate not valid for name \"wrong.example\"");

    // The built-in roots do not know the test CA.
    let e = tls(port, &TlsOptions::new()).unwrap_err();
    assert!(matches!(e, TlsError::UnknownIssuer), "{e:?}");

    let missing = pki.dir().join("missing.pem");
    let e = tls(port, &TlsOptions::new().ca_file(&missing)).unwrap_err();
    assert!(matches!(e, TlsError::ReadPem { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot use {}", missing.display())),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());

    let e = tls(port, &TlsOptions::new().ca_file(&pki.key)).unwrap_err();
    assert!(matches!(e, TlsError::NoCaCertificate { .. }), "{e:?}");

    // By IP address, as the certificate also names 127.0.0.1.
    let mut t = TlsTransport::connect("127.0.0.1", port, &TlsOptions::new().ca_file(&pki.ca)).expect("by IP");
    mqtt_connect(&mut t, &unique("tls-ip"));
}

/// Test-only random bytes (xorshift seeded from the clock); firmware uses a hardware RNG.
fn random() -> impl FnMut(&mut [u8]) {
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 24) as u8;
        }
    }
}

#[test]
fn mqtt_over_wss() {
    let pki = Pki::generate();
    let broker = Broker::start_with(BrokerConfig::new().websockets_tls(&pki.cert, &pki.key));
    let port = broker.listener_port(0);
    let topic = unique("wss/t");
    let sub = broker::mosquitto_sub(broker.port(), &["-t", &topic]);
    sub.wait_ready();

    let t = tls(port, &TlsOptions::new().ca_file(&pki.ca))
        .unwrap_or_else(|e| panic!("TLS: {e}\n--- log ---\n{}", broker.log()));
    let mut buf = [0u8; 2048];
    let host = format!("localhost:{port}");
    let mut ws = WsTransport::connect(t, &WsOptions::new(&host), random(), &mut buf)
        .unwrap_or_else(|e| panic!("WebSocket: {e}\n--- log ---\n{}", broker.log()));
    mqtt_connect(&mut ws, &unique("wss"));
    let name = TopicName::new(&topic).unwrap();
    send(
        &mut ws,
        &Packet::Publish(Publish::new(name, b"over wss", Delivery::AtMostOnce, false)),
    );
    assert_eq!(sub.wait_lines(1, LINES_TIMEOUT), ["over wss"]);

    let inbound = unique("wss/in");
    subscribe(&mut ws, &inbound);
    assert!(!ws.wait_readable(200).expect("wait"));
    let out = broker::mosquitto_pub(broker.port(), &["-t", &inbound, "-m", "back"]);
    assert!(out.status.success(), "{out:?}");
    assert!(ws.wait_readable(10_000).expect("wait"));
    let mut rx = [0u8; 128];
    let Ok(Packet::Publish(p)) = recv(&mut ws, &mut rx) else {
        panic!("expected PUBLISH")
    };
    assert_eq!(p.payload, b"back");
}
