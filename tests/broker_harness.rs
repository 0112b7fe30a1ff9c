//! Self-tests for the mosquitto harness in `tests/support/broker.rs`: they talk
//! to the broker with hand-written MQTT 3.1.1 bytes over a plain `TcpStream`,
//! so they exercise the harness without depending on the crate under test.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::broker::{self, Broker, BrokerConfig};

/// CONNACK "connection accepted": type 2 (0x20), remaining length 2,
/// acknowledge flags 0 (no session present), return code 0.
const CONNACK_ACCEPTED: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// CONNACK with return code 5, "not authorized". mosquitto 2.0 sends this
/// (rather than 4, "bad user name or password") to MQTT 3.1.1 clients both
/// for wrong credentials and for anonymous clients on a listener with
/// `allow_anonymous false`.
const CONNACK_NOT_AUTHORIZED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];

/// A CONNECT packet for client id "harness", clean session, keep alive 60 s,
/// no will, no credentials.
const CONNECT_ANONYMOUS: [u8; 21] = [
    0x10, // fixed header: packet type 1 (CONNECT), flags 0
    19,   // remaining length: 10 (variable header) + 2 + 7 (client id)
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4 = MQTT 3.1.1
    0x02, // connect flags: clean session only
    0x00, 0x3C, // keep alive: 60 s
    0x00, 0x07, b'h', b'a', b'r', b'n', b'e', b's', b's', // client id "harness"
];

/// DISCONNECT: packet type 14, remaining length 0.
const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// Hand-encodes a CONNECT with client id "harness", clean session, keep
/// alive 60 s and the given user name and password (both shorter than 128
/// bytes, so every length fits in one byte).
fn connect_with_credentials(user: &str, password: &str) -> Vec<u8> {
    let mut payload = Vec::new();
    for field in ["harness", user, password] {
        payload.extend_from_slice(&(field.len() as u16).to_be_bytes()); // length prefix
        payload.extend_from_slice(field.as_bytes());
    }
    let variable_header = [
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
        0x04, // protocol level 4 = MQTT 3.1.1
        0xC2, // connect flags: user name (0x80) + password (0x40) + clean session (0x02)
        0x00, 0x3C, // keep alive: 60 s
    ];
    let remaining = variable_header.len() + payload.len();
    assert!(remaining < 128, "keep the test packet single-byte-length");
    let mut packet = vec![0x10, remaining as u8]; // CONNECT, remaining length
    packet.extend_from_slice(&variable_header);
    packet.extend_from_slice(&payload);
    packet
}

/// Sends `connect` to `addr` and returns the first 4 bytes of the answer.
fn connack_for(addr: SocketAddr, connect: &[u8]) -> [u8; 4] {
    let mut stream = TcpStream::connect(addr).expect("connect to broker");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set read timeout");
    stream.write_all(connect).expect("send CONNECT");
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).expect("read CONNACK");
    if connack == CONNACK_ACCEPTED {
        stream.write_all(&DISCONNECT).expect("send DISCONNECT");
    }
    connack
}

#[test]
fn raw_connect_is_accepted() {
    let broker = Broker::start();
    assert_eq!(broker.addr().port(), broker.port());
    assert_eq!(broker.auth_port(), None);
    let connack = connack_for(broker.addr(), &CONNECT_ANONYMOUS);
    assert_eq!(connack, CONNACK_ACCEPTED, "log:\n{}", broker.log());
}

#[test]
fn password_listener_checks_credentials() {
    let broker = Broker::start_with(BrokerConfig::new().password("alice", "s3cret"));
    let auth = broker.auth_addr().expect("password listener");
    assert_ne!(auth.port(), broker.port());

    let wrong = connack_for(auth, &connect_with_credentials("alice", "wrong"));
    assert_eq!(wrong, CONNACK_NOT_AUTHORIZED, "log:\n{}", broker.log());

    let unknown_user = connack_for(auth, &connect_with_credentials("bob", "s3cret"));
    assert_eq!(unknown_user, CONNACK_NOT_AUTHORIZED, "log:\n{}", broker.log());

    let anonymous = connack_for(auth, &CONNECT_ANONYMOUS);
    assert_eq!(anonymous, CONNACK_NOT_AUTHORIZED, "log:\n{}", broker.log());

    let right = connack_for(auth, &connect_with_credentials("alice", "s3cret"));
    assert_eq!(right, CONNACK_ACCEPTED, "log:\n{}", broker.log());

    // The anonymous listener stays open to everyone.
    let anonymous = connack_for(broker.addr(), &CONNECT_ANONYMOUS);
    assert_eq!(anonymous, CONNACK_ACCEPTED, "log:\n{}", broker.log());
}

#[test]
fn mosquitto_sub_receives_mosquitto_pub() {
    let broker = Broker::start();
    let topic = broker::unique("harness/rt");
    let sub = broker::mosquitto_sub(broker.port(), &["-t", &topic, "-C", "1"]);
    sub.wait_ready();

    let out = broker::mosquitto_pub(broker.port(), &["-t", &topic, "-m", "hello harness"]);
    assert!(
        out.status.success(),
        "mosquitto_pub failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = sub.wait_lines(1, Duration::from_secs(10));
    assert_eq!(
        lines,
        ["hello harness"],
        "raw output: {:?}\nstderr: {}\nlog:\n{}",
        sub.raw_lines(),
        sub.stderr(),
        broker.log()
    );
}

#[test]
fn mosquitto_pub_reports_refused_connection() {
    let broker = Broker::start_with(BrokerConfig::new().password("alice", "s3cret"));
    let auth_port = broker.auth_port().expect("password listener");
    let topic = broker::unique("harness/auth");

    let refused = broker::mosquitto_pub(auth_port, &["-t", &topic, "-m", "x"]);
    assert!(!refused.status.success(), "anonymous publish must be refused");

    let ok = broker::mosquitto_pub(
        auth_port,
        &["-t", &topic, "-m", "x", "-u", "alice", "-P", "s3cret"],
    );
    assert!(
        ok.status.success(),
        "authenticated publish failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn restart_keeps_ports_and_persistent_state() {
    let mut broker = Broker::start_with(BrokerConfig::new().password("alice", "s3cret").persistence(true));
    let (port, auth_port) = (broker.port(), broker.auth_port());
    let topic = broker::unique("harness/keep");
    let out = broker::mosquitto_pub(port, &["-t", &topic, "-m", "kept", "-r", "-q", "1"]);
    assert!(out.status.success(), "retained publish failed");

    broker.restart();
    assert!(broker.is_running());
    assert_eq!((broker.port(), broker.auth_port()), (port, auth_port));
    let connack = connack_for(broker.addr(), &CONNECT_ANONYMOUS);
    assert_eq!(connack, CONNACK_ACCEPTED, "log:\n{}", broker.log());
    let auth = broker.auth_addr().expect("password listener");
    let connack = connack_for(auth, &connect_with_credentials("alice", "s3cret"));
    assert_eq!(connack, CONNACK_ACCEPTED, "log:\n{}", broker.log());

    // The retained message survived thanks to persistence + graceful stop.
    let sub = broker::mosquitto_sub(port, &["-t", &topic, "-C", "1"]);
    assert_eq!(
        sub.wait_lines(1, Duration::from_secs(10)),
        ["kept"],
        "stderr: {}\nlog:\n{}",
        sub.stderr(),
        broker.log()
    );

    // stop() really stops it; restart() brings it back on the same port.
    broker.stop();
    assert!(!broker.is_running());
    broker.restart();
    let connack = connack_for(broker.addr(), &CONNECT_ANONYMOUS);
    assert_eq!(connack, CONNACK_ACCEPTED, "log:\n{}", broker.log());
}

#[test]
fn brokers_run_side_by_side() {
    let a = Broker::start();
    let b = Broker::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    let dir = b.dir().to_path_buf();
    assert!(dir.join("mosquitto.conf").is_file());
    drop(b);
    assert!(!dir.exists(), "temp dir must be removed on drop");
    assert_eq!(connack_for(a.addr(), &CONNECT_ANONYMOUS), CONNACK_ACCEPTED);
}

#[test]
fn unique_ids_are_short_and_distinct() {
    let ids: Vec<String> = (0..1000).map(|_| broker::unique("client")).collect();
    for id in &ids {
        assert!(id.len() <= broker::MAX_CLIENT_ID_LEN, "{id} is too long");
        assert!(id.starts_with("client-"), "{id}");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate ids");

    let long = broker::unique("a-very-long-prefix-that-cannot-fit");
    assert!(long.len() <= broker::MAX_CLIENT_ID_LEN, "{long}");
    assert!(long.starts_with("a-very"), "{long}");
    assert!(broker::unique("é").len() <= broker::MAX_CLIENT_ID_LEN);
}

#[test]
fn tools_are_found() {
    for name in ["mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd"] {
        assert!(broker::tool(name).is_file(), "{name}");
    }
    assert_eq!(broker::ensure_mosquitto(), broker::tool("mosquitto"));
}
