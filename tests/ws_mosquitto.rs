//! MQTT over WebSocket ([`umqtt::ws::WsTransport`]) against a real mosquitto with a
//! `protocol websockets` listener (started per test by `tests/support/broker.rs`), driven
//! with the codec (`umqtt::encode`, `umqtt::read_packet`), and checked with the
//! `mosquitto_pub` / `mosquitto_sub` command-line clients on the broker's plain listener.
//!
//! What is pinned down:
//! * the handshake succeeds against mosquitto (libwebsockets) with the `mqtt` subprotocol;
//! * CONNECT/CONNACK, PUBLISH QoS 0 and 1 both ways, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP and
//!   DISCONNECT work over binary frames, including a 100 KB message sent as several frames
//!   and one received through a 7-byte read buffer;
//! * `Transport::wait_readable` says false while nothing comes and true when a message does;
//! * `MqttClient::connect` after `disconnect` opens a new TCP connection and WebSocket
//!   through `Transport::reconnect`, and the client works on it;
//! * against a tiny local server that answers wrongly: a bad `Sec-WebSocket-Accept`, a 404,
//!   a missing subprotocol and silence each fail `connect` with the matching `WsError`.
//!
//! Every socket has a read timeout, so a test that waits for something that never comes
//! fails instead of hanging.

#![cfg(feature = "std")]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use embedded_io::{Read, Write};
use support::broker::{self, Broker, BrokerConfig, unique};
use umqtt::client::std_net::TcpTransport;
use umqtt::client::{MqttClient, Transport};
use umqtt::ws::{TransportError, WsError, WsOptions, WsTransport};
use umqtt::{
    Connect, ConnectReturnCode, Delivery, Entries, Packet, PacketId, Publish, QoS, Subscribe, Subscription,
    TopicFilter, TopicName,
};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const LINES_TIMEOUT: Duration = Duration::from_secs(10);

/// Test-only random bytes (xorshift seeded from the clock); firmware uses a hardware RNG.
fn random() -> impl FnMut(&mut [u8]) {
    static COUNT: AtomicU64 = AtomicU64::new(1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut state = nanos ^ COUNT.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 24) as u8;
        }
    }
}

type Ws = WsTransport<'static, TcpTransport, Box<dyn FnMut(&mut [u8]) + Send>>;

/// A TCP connection to `port` (with a read timeout) opened as a WebSocket.
fn ws_connect(port: u16, options: WsOptions<'static>) -> Result<Ws, TransportError<std::io::Error>> {
    let tcp = TcpTransport::connect(("127.0.0.1", port)).expect("TCP connect");
    tcp.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    let buf: &'static mut [u8] = Box::leak(vec![0u8; 2048].into_boxed_slice());
    WsTransport::connect(tcp, &options, Box::new(random()), buf)
}

/// The `Host` header for `port`; leaked, like the buffer, so a `Ws` can keep its options
/// for `reconnect`.
fn host(port: u16) -> &'static str {
    Box::leak(format!("127.0.0.1:{port}").into_boxed_str())
}

fn send(ws: &mut Ws, packet: &Packet<'_>) {
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = umqtt::encode(packet, &mut buf).expect("encode");
    ws.write_all(&buf[..n]).expect("write");
    ws.flush().expect("flush");
}

/// Reads one packet; `rx` holds the body.
fn recv<'b>(ws: &mut Ws, rx: &'b mut [u8]) -> Packet<'b> {
    umqtt::read_packet(ws, rx).unwrap_or_else(|e| panic!("read_packet: {e}"))
}

/// CONNECT with a clean session, and expect CONNACK accepted.
fn mqtt_connect(ws: &mut Ws, client_id: &str) {
    let connect = Connect {
        clean_session: true,
        keep_alive: 30,
        client_id,
        will: None,
        username: None,
        password: None,
    };
    send(ws, &Packet::Connect(connect));
    let mut rx = [0u8; 16];
    match recv(ws, &mut rx) {
        Packet::ConnAck(ack) => assert_eq!(ack.code, ConnectReturnCode::Accepted),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn subscribe(ws: &mut Ws, filter: &str, qos: QoS) {
    let topics = [Subscription {
        filter: TopicFilter::new(filter).unwrap(),
        qos,
    }];
    let id = PacketId::new(7).unwrap();
    send(
        ws,
        &Packet::Subscribe(Subscribe {
            packet_id: id,
            topics: Entries::new(&topics),
        }),
    );
    let mut rx = [0u8; 16];
    match recv(ws, &mut rx) {
        Packet::SubAck(ack) => assert_eq!(ack.packet_id, id),
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

fn ws_broker() -> Broker {
    Broker::start_with(BrokerConfig::new().websockets())
}

#[test]
fn mqtt_client_connects_again_over_a_new_websocket() {
    let broker = ws_broker();
    let port = broker.listener_port(0);
    let id = unique("ws-again");
    let topic = unique("ws/again");
    let ws = ws_connect(port, WsOptions::new(host(port)))
        .unwrap_or_else(|e| panic!("handshake: {e}\n--- log ---\n{}", broker.log()));
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let mut c = MqttClient::new(ws, &id, &mut rx, &mut tx);
    c.connect(true).expect("first connect");
    c.disconnect().expect("disconnect");
    c.connect(true).unwrap_or_else(|e| {
        panic!(
            "connect again over a new WebSocket: {e}\n--- log ---\n{}",
            broker.log()
        )
    });
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
    assert_eq!(log.matches(&format!(" as {id} (")).count(), 2, "{log}");
}

#[test]
fn publish_and_subscribe_over_websocket() {
    let broker = ws_broker();
    let topic = unique("ws/t");
    let sub = broker::mosquitto_sub(broker.port(), &["-t", &topic, "-q", "1"]);
    sub.wait_ready();

    let mut ws = ws_connect(
        broker.listener_port(0),
        WsOptions::new(host(broker.listener_port(0))),
    )
    .unwrap_or_else(|e| panic!("handshake: {e}\n--- log ---\n{}", broker.log()));
    mqtt_connect(&mut ws, &unique("ws-pub"));

    // QoS 0, then QoS 1 with its PUBACK.
    let name = TopicName::new(&topic).unwrap();
    send(
        &mut ws,
        &Packet::Publish(Publish::new(name, b"zero", Delivery::AtMostOnce, false)),
    );
    let id = PacketId::new(1).unwrap();
    send(
        &mut ws,
        &Packet::Publish(Publish::new(name, b"one", Delivery::AtLeastOnce(id), false)),
    );
    let mut rx = [0u8; 16];
    assert_eq!(recv(&mut ws, &mut rx), Packet::PubAck(id));
    assert_eq!(sub.wait_lines(2, LINES_TIMEOUT), ["zero", "one"]);

    // Messages from mosquitto_pub arrive over the WebSocket.
    let inbound = unique("ws/in");
    subscribe(&mut ws, &inbound, QoS::AtLeastOnce);
    assert!(!ws.wait_readable(200).expect("wait"), "nothing was published yet");
    let out = broker::mosquitto_pub(broker.port(), &["-t", &inbound, "-m", "hello ws", "-q", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        ws.wait_readable(10_000).expect("wait"),
        "the message never arrived"
    );
    let mut rx = [0u8; 256];
    let Packet::Publish(p) = recv(&mut ws, &mut rx) else {
        panic!("expected PUBLISH")
    };
    assert_eq!(
        (p.topic.as_str(), p.payload),
        (inbound.as_str(), &b"hello ws"[..])
    );
    if let Delivery::AtLeastOnce(id) = p.delivery {
        send(&mut ws, &Packet::PubAck(id));
    }

    send(&mut ws, &Packet::PingReq);
    let mut rx = [0u8; 16];
    assert_eq!(recv(&mut ws, &mut rx), Packet::PingResp);

    // After DISCONNECT the broker closes; the stream ends cleanly.
    send(&mut ws, &Packet::Disconnect);
    let mut end = [0u8; 8];
    assert_eq!(ws.read(&mut end).expect("read after DISCONNECT"), 0);
}

#[test]
fn large_messages_span_frames_both_ways() {
    let broker = ws_broker();
    let port = broker.listener_port(0);
    let topic = unique("ws/big");
    let sub = broker::mosquitto_sub(broker.port(), &["-t", &topic, "-C", "1"]);
    sub.wait_ready();

    let mut ws = ws_connect(port, WsOptions::new(host(port))).expect("handshake");
    mqtt_connect(&mut ws, &unique("ws-big"));
    let payload = vec![b'x'; 100_000];
    let publish = Packet::Publish(Publish::new(
        TopicName::new(&topic).unwrap(),
        &payload,
        Delivery::AtMostOnce,
        false,
    ));
    let mut buf = vec![0u8; publish.encoded_len()];
    let n = umqtt::encode(&publish, &mut buf).unwrap();
    // Three writes, so three frames: the packet spans frames, split inside its header.
    for piece in [&buf[..1], &buf[1..40_000], &buf[40_000..n]] {
        ws.write_all(piece).unwrap();
    }
    ws.flush().unwrap();
    let lines = sub.wait_lines(1, LINES_TIMEOUT);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].len(), 100_000);

    // And a large message from mosquitto_pub comes back, read 7 bytes at a time.
    subscribe(&mut ws, &topic, QoS::AtMostOnce);
    let body: String = (0..90_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let out = broker::mosquitto_pub(broker.port(), &["-t", &topic, "-m", &body]);
    assert!(out.status.success(), "{out:?}");
    let mut bytes = Vec::new();
    let mut small = [0u8; 7];
    let expected_len = 1 + 3 + 2 + topic.len() + body.len(); // fixed header with a 3-byte length
    while bytes.len() < expected_len {
        let n = ws.read(&mut small).expect("read");
        assert_ne!(n, 0, "stream ended after {} bytes", bytes.len());
        bytes.extend_from_slice(&small[..n]);
    }
    let umqtt::Status::Complete((Packet::Publish(p), used)) = umqtt::decode(&bytes).unwrap() else {
        panic!("expected a complete PUBLISH")
    };
    assert_eq!((used, p.payload), (bytes.len(), body.as_bytes()));
}

/// A one-connection HTTP server on a free port that reads the request and answers with
/// `reply(key)`, `key` being the request's `Sec-WebSocket-Key` (`None`: never answers).
fn scripted_server(reply: impl FnOnce(&str) -> Option<String> + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
            request.push(byte[0]);
        }
        let request = String::from_utf8_lossy(&request).into_owned();
        let key = request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap_or("")
            .to_owned();
        match reply(&key) {
            Some(text) => {
                let _ = stream.write_all(text.as_bytes());
                // Keep the connection open until the client gives up.
                let _ = stream.read(&mut byte);
            }
            None => thread::sleep(Duration::from_secs(3)),
        }
    });
    port
}

fn accept_for(key: &str) -> String {
    String::from_utf8(umqtt::ws::handshake::accept_key(key.as_bytes()).to_vec()).unwrap()
}

fn handshake_error(port: u16, options: WsOptions<'static>) -> WsError {
    match ws_connect(port, options) {
        Ok(_) => panic!("the handshake succeeded"),
        Err(TransportError::Ws(e)) => e,
        Err(e) => panic!("expected a WebSocket error, got {e}"),
    }
}

#[test]
fn scripted_server_with_the_right_answer_is_accepted() {
    let port = scripted_server(|key| {
        Some(format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            accept_for(key)
        ))
    });
    ws_connect(port, WsOptions::new("localhost")).expect("handshake");
}

#[test]
fn bad_accept_is_refused() {
    let port = scripted_server(|_| {
        Some(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
                .to_owned(),
        )
    });
    let e = handshake_error(port, WsOptions::new("localhost"));
    assert_eq!(e, WsError::AcceptMismatch);
    assert!(e.to_string().contains("Sec-WebSocket-Accept"), "{e}");
}

#[test]
fn non_101_status_is_refused() {
    let port = scripted_server(|_| Some("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()));
    let e = handshake_error(port, WsOptions::new("localhost"));
    assert_eq!(e, WsError::UnexpectedStatus(404));
    assert_eq!(
        e.to_string(),
        "the server answered HTTP status 404 instead of 101 Switching Protocols"
    );
}

#[test]
fn missing_subprotocol_is_refused() {
    let port = scripted_server(|key| {
        Some(format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_for(key)
        ))
    });
    assert_eq!(
        handshake_error(port, WsOptions::new("localhost")),
        WsError::MissingSubprotocol
    );
}

#[test]
fn silent_server_gives_an_error_naming_the_missing_101() {
    let port = scripted_server(|_| None);
    let e = handshake_error(port, WsOptions::new("localhost").handshake_timeout_ms(300));
    assert_eq!(e, WsError::NoResponse { timeout_ms: 300 });
    assert_eq!(
        e.to_string(),
        "no HTTP 101 response from the server within 300 ms"
    );
}

#[test]
fn plain_mqtt_port_is_not_a_websocket() {
    // mosquitto's plain listener reads the HTTP request as a malformed CONNECT and closes
    // (or resets) the connection: an error, not a hang.
    let broker = Broker::start();
    match ws_connect(broker.port(), WsOptions::new("localhost")) {
        Ok(_) => panic!("the handshake succeeded"),
        Err(TransportError::Ws(WsError::ClosedDuringHandshake | WsError::MalformedResponse)) => {}
        Err(TransportError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}
