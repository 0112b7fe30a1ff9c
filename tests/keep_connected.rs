//! The client keeps itself connected, blocking and async: keep-alive while blocked in
//! `wait_msg`, deadlines that name what did not arrive (CONNACK, PINGRESP, the end of a
//! packet), an unrelated oversized packet that does not fail a request, and `connect()`
//! again after the broker restarted. Against the suite's mosquitto, or a scripted fake
//! broker where mosquitto cannot misbehave on purpose.

#![cfg(feature = "std")]

mod support;

use std::time::{Duration, Instant};

use support::broker::{Broker, unique};
use support::fake_broker::{self as fake, FakeBroker, RawPacket, Step};
use umqtt::QoS;
use umqtt::client::std_net::TcpTransport;
use umqtt::client::{Awaited, ClientError, ClientOptions, MqttClient};
use umqtt::session::Phase;

fn options(keep_alive: u16) -> ClientOptions<'static> {
    ClientOptions {
        keep_alive,
        connect_timeout_ms: 1_000,
        packet_timeout_ms: 1_000,
        ..ClientOptions::default()
    }
}

/// A QoS 0 PUBLISH to `topic` with `len` bytes of payload.
fn publish_bytes(topic: &str, len: usize) -> Vec<u8> {
    let mut body = fake::mqtt_str(topic);
    body.extend(std::iter::repeat_n(b'x', len));
    fake::frame(0x30, &body)
}

/// A PUBACK for the last PUBLISH the client sent.
fn puback_last() -> Step {
    Step::Reply(Box::new(|received: &[RawPacket]| {
        // A QoS 1 PUBLISH's packet id follows its topic (2-byte length, then the name).
        let publish = received
            .iter()
            .rev()
            .find(|p| p.packet_type() == fake::PUBLISH)
            .expect("the client sent a PUBLISH");
        let topic_len = usize::from(u16::from_be_bytes([publish.body[0], publish.body[1]]));
        let id = [publish.body[2 + topic_len], publish.body[3 + topic_len]];
        fake::frame(fake::PUBACK << 4, &id)
    }))
}

/// A 22-byte PUBLISH whose first 3 bytes arrive at once and then one byte every 300 ms,
/// three times, too slowly for a 1 s packet deadline (the rest never comes).
fn drip_script() -> Vec<Step> {
    let mut script = vec![
        Step::Expect(fake::CONNECT),
        Step::connack(false, 0),
        Step::Send(vec![0x30, 20, 0x00]),
    ];
    for _ in 0..3 {
        script.push(Step::Sleep(Duration::from_millis(300)));
        script.push(Step::Send(vec![b'a']));
    }
    script
}

/// What the drip test accepts: the packet deadline, naming the packet's length and how
/// much of it came.
fn assert_packet_deadline<E: std::fmt::Debug>(err: &ClientError<E>, elapsed: Duration) {
    let ClientError::Timeout {
        awaited: Awaited::PacketEnd {
            received,
            length: Some(22),
        },
        after_ms: 1_000,
    } = *err
    else {
        panic!("expected the packet deadline, got {err:?}");
    };
    assert!((3..22).contains(&received), "{received} bytes");
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_millis(1_800),
        "gave up after {elapsed:?}"
    );
}

fn assert_connack_deadline<E: std::fmt::Debug + std::fmt::Display>(err: &ClientError<E>, elapsed: Duration) {
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                awaited: Awaited::ConnAck,
                after_ms: 1_000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "no CONNACK from the server within 1000 ms");
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_millis(1_800),
        "gave up after {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// blocking
// ---------------------------------------------------------------------------------------------

/// The LED example's loop, literally: blocked in `wait_msg` with keep-alive 2 s for 30 s.
/// The client pings by itself (mosquitto drops a client silent for 1.5x keep-alive), the
/// broker logs the PINGREQs, and the connection still carries a round trip afterwards.
#[test]
fn wait_msg_loop_stays_connected_30_s_with_keep_alive_2() {
    let broker = Broker::start();
    let id = unique("ka30");
    let topic = unique("ka30/t");
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let tcp = TcpTransport::connect(broker.addr()).expect("connect");
    let mut c = MqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options(2));
    c.connect(true).expect("connect");
    let start = Instant::now();
    let mut returns = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // Nothing is published to this client: each return is a PINGRESP.
        assert!(c.wait_msg().expect("wait_msg").is_none());
        returns += 1;
    }
    assert!(returns >= 14, "only {returns} PINGRESPs in 30 s");
    let log = broker.log();
    let pings = log.matches(&format!("Received PINGREQ from {id}")).count();
    assert!(pings >= 14, "mosquitto logged {pings} PINGREQs from {id}:\n{log}");
    assert!(!log.contains("exceeded timeout"), "{log}");

    assert_eq!(
        c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe"),
        QoS::AtLeastOnce
    );
    c.publish(&topic, b"alive", false, QoS::AtLeastOnce)
        .expect("publish");
    let m = c
        .wait_msg()
        .expect("wait_msg")
        .expect("the echo, held during publish");
    assert_eq!((m.topic.as_str(), m.payload), (topic.as_str(), &b"alive"[..]));
    c.disconnect().expect("disconnect");
}

/// A broker that accepts TCP and never answers: `connect` gives up after the connect
/// timeout and says that the CONNACK is missing.
#[test]
fn connect_to_a_broker_that_never_answers_names_the_missing_connack() {
    let fake = FakeBroker::start(vec![
        Step::Expect(fake::CONNECT),
        Step::Sleep(Duration::from_millis(2_500)),
    ]);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let tcp = TcpTransport::connect(fake.addr()).expect("connect");
    let mut c = MqttClient::new(tcp, "mute", &mut rx, &mut tx).with_options(options(60));
    let started = Instant::now();
    let err = c.connect(true).expect_err("no CONNACK");
    assert_connack_deadline(&err, started.elapsed());
    assert_eq!(c.session().phase(), Phase::Disconnected);
    drop(c);
    fake.finish();
}

/// A packet dripped one byte every 300 ms fails `wait_msg` at the packet deadline, with
/// how many of its bytes came.
#[test]
fn a_packet_that_never_completes_fails_at_the_packet_deadline() {
    let fake = FakeBroker::start(drip_script());
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let tcp = TcpTransport::connect(fake.addr()).expect("connect");
    let mut c = MqttClient::new(tcp, "drip", &mut rx, &mut tx).with_options(options(60));
    c.connect(true).expect("connect");
    let started = Instant::now();
    let err = c
        .wait_msg()
        .map(|m| m.is_some())
        .expect_err("the packet never ends");
    assert_packet_deadline(&err, started.elapsed());
    assert!(
        err.to_string().starts_with("an incoming packet stopped after "),
        "{err}"
    );
    assert!(
        err.to_string().ends_with(" of its 22 bytes within 1000 ms"),
        "{err}"
    );
    assert_eq!(c.session().phase(), Phase::Disconnected);
    drop(c);
    fake.finish();
}

/// An oversized PUBLISH arriving between a QoS 1 PUBLISH and its PUBACK: `publish` returns
/// `Ok` (its own acknowledgement came), the big packet is skipped and counted, and the
/// stream stays in sync: the next message is delivered.
#[test]
fn an_oversized_publish_before_the_puback_does_not_fail_the_publish() {
    let fake = FakeBroker::start(vec![
        Step::Expect(fake::CONNECT),
        Step::connack(false, 0),
        Step::Expect(fake::PUBLISH),
        Step::Send(publish_bytes("big", 600)),
        puback_last(),
        Step::Send(publish_bytes("small", 3)),
    ]);
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
    let tcp = TcpTransport::connect(fake.addr()).expect("connect");
    let mut c = MqttClient::new(tcp, "big", &mut rx, &mut tx).with_options(options(60));
    c.connect(true).expect("connect");
    c.publish("t", b"mine", false, QoS::AtLeastOnce)
        .expect("its own PUBACK came");
    assert_eq!(c.skipped_packets(), 1);
    let m = c.wait_msg().expect("wait_msg").expect("the next message");
    assert_eq!((m.topic.as_str(), m.payload), ("small", &b"xxx"[..]));
    c.disconnect().expect("disconnect");
    drop(c);
    let types: Vec<u8> = fake.finish().iter().map(RawPacket::packet_type).collect();
    assert_eq!(types, [fake::CONNECT, fake::PUBLISH, fake::DISCONNECT]);
}

/// umqtt.simple's reconnect: after the broker restarts, the call that was waiting fails
/// with the closed connection, and `connect()` again opens a new one to the same address.
#[test]
fn connect_again_after_a_broker_restart() {
    let mut broker = Broker::start();
    let id = unique("restart");
    let topic = unique("restart/t");
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let tcp = TcpTransport::connect(broker.addr()).expect("connect");
    let mut c = MqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options(60));
    c.connect(true).expect("connect");
    broker.restart();
    let err = c
        .wait_msg()
        .map(|m| m.is_some())
        .expect_err("the broker went away");
    assert!(
        matches!(&err, ClientError::ConnectionClosed)
            || matches!(&err, ClientError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
    assert_eq!(c.session().phase(), Phase::Disconnected);
    assert!(!c.connect(true).expect("connect again"));
    assert_eq!(
        c.subscribe(&topic, QoS::AtLeastOnce).expect("subscribe"),
        QoS::AtLeastOnce
    );
    c.publish(&topic, b"back", false, QoS::AtLeastOnce)
        .expect("publish");
    let m = c.wait_msg().expect("wait_msg").expect("the echo");
    assert_eq!(m.payload, b"back");
    c.disconnect().expect("disconnect");
}

// ---------------------------------------------------------------------------------------------
// async (the same driver; these check its waits over tokio)
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "async")]
mod async_client {
    use super::*;
    use support::tokio_tcp::{TokioTcp, within};
    use umqtt::client::AsyncMqttClient;

    #[tokio::test(flavor = "current_thread")]
    async fn connect_to_a_broker_that_never_answers_names_the_missing_connack() {
        let fake = FakeBroker::start(vec![
            Step::Expect(fake::CONNECT),
            Step::Sleep(Duration::from_millis(2_500)),
        ]);
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let tcp = TokioTcp::connect(fake.addr()).await;
        let mut c = AsyncMqttClient::new(tcp, "mute", &mut rx, &mut tx).with_options(options(60));
        let started = Instant::now();
        let err = within(10, c.connect(true)).await.expect_err("no CONNACK");
        assert_connack_deadline(&err, started.elapsed());
        drop(c);
        tokio::task::spawn_blocking(move || fake.finish())
            .await
            .expect("fake broker");
    }

    /// The server stops answering: blocked in `wait_msg`, the client pings after one
    /// keep-alive interval and reports the missing PINGRESP by 1.5x keep-alive.
    #[tokio::test(flavor = "current_thread")]
    async fn a_silent_server_is_reported_within_1_5x_keep_alive() {
        let fake = FakeBroker::start(vec![
            Step::Expect(fake::CONNECT),
            Step::connack(false, 0),
            Step::Sleep(Duration::from_millis(4_500)),
        ]);
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let tcp = TokioTcp::connect(fake.addr()).await;
        let mut c = AsyncMqttClient::new(tcp, "silent", &mut rx, &mut tx).with_options(options(2));
        within(10, c.connect(true)).await.expect("connect");
        let started = Instant::now();
        let err = within(10, c.wait_msg())
            .await
            .map(|m| m.is_some())
            .expect_err("the server is silent");
        let elapsed = started.elapsed();
        assert!(
            matches!(
                err,
                ClientError::Timeout {
                    awaited: Awaited::PingResp,
                    after_ms: 1_000
                }
            ),
            "{err:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(2_900) && elapsed < Duration::from_millis(3_500),
            "gave up after {elapsed:?}"
        );
        drop(c);
        let sent = tokio::task::spawn_blocking(move || fake.finish())
            .await
            .expect("fake broker");
        let types: Vec<u8> = sent.iter().map(RawPacket::packet_type).collect();
        assert_eq!(types, [fake::CONNECT, fake::PINGREQ]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_packet_that_never_completes_fails_at_the_packet_deadline() {
        let fake = FakeBroker::start(drip_script());
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let tcp = TokioTcp::connect(fake.addr()).await;
        let mut c = AsyncMqttClient::new(tcp, "drip", &mut rx, &mut tx).with_options(options(60));
        within(10, c.connect(true)).await.expect("connect");
        let started = Instant::now();
        let err = within(10, c.wait_msg())
            .await
            .map(|m| m.is_some())
            .expect_err("the packet never ends");
        assert_packet_deadline(&err, started.elapsed());
        drop(c);
        tokio::task::spawn_blocking(move || fake.finish())
            .await
            .expect("fake broker");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_oversized_publish_before_the_puback_does_not_fail_the_publish() {
        let fake = FakeBroker::start(vec![
            Step::Expect(fake::CONNECT),
            Step::connack(false, 0),
            Step::Expect(fake::PUBLISH),
            Step::Send(publish_bytes("big", 600)),
            puback_last(),
            Step::Send(publish_bytes("small", 3)),
        ]);
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 64]);
        let tcp = TokioTcp::connect(fake.addr()).await;
        let mut c = AsyncMqttClient::new(tcp, "big", &mut rx, &mut tx).with_options(options(60));
        within(10, c.connect(true)).await.expect("connect");
        let published = within(10, c.publish("t", b"mine", false, QoS::AtLeastOnce)).await;
        published.expect("its own PUBACK came");
        assert_eq!(c.skipped_packets(), 1);
        let m = within(10, c.wait_msg())
            .await
            .expect("wait_msg")
            .expect("the next message");
        assert_eq!((m.topic.as_str(), m.payload), ("small", &b"xxx"[..]));
        within(10, c.disconnect()).await.expect("disconnect");
        drop(c);
        tokio::task::spawn_blocking(move || fake.finish())
            .await
            .expect("fake broker");
    }

    /// Opens tokio TCP connections to one address, waiting 100 ms per attempt in a row.
    struct Dialer(std::net::SocketAddr);

    impl umqtt::client::AsyncConnector<TokioTcp> for Dialer {
        async fn open(&mut self, attempt: u32) -> std::io::Result<TokioTcp> {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            TokioTcp::try_connect(self.0).await
        }
    }

    /// The async `RobustClient`: across a broker restart that loses every session, a QoS 1
    /// publish reconnects by itself, re-subscribes, and the message comes back.
    #[tokio::test(flavor = "current_thread")]
    async fn robust_client_rides_out_a_broker_restart() {
        let mut broker = Broker::start();
        let id = unique("arobust");
        let topic = unique("arobust/t");
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let tcp = TokioTcp::connect(broker.addr()).await;
        let client = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options(60));
        let mut robust: umqtt::client::AsyncRobustClient<'_, TokioTcp, Dialer> =
            umqtt::client::AsyncRobustClient::new(client, Dialer(broker.addr()));
        within(10, robust.connect()).await.expect("connect");
        let granted = within(10, robust.subscribe(&topic, QoS::AtLeastOnce)).await;
        assert_eq!(granted.expect("subscribe"), QoS::AtLeastOnce);
        let connections_before = broker.log().matches("New client connected").count();

        broker.restart();
        within(
            20,
            robust.publish(&topic, b"after restart", false, QoS::AtLeastOnce),
        )
        .await
        .expect("publish reconnects and succeeds");
        let m = within(10, robust.wait_msg())
            .await
            .expect("wait_msg")
            .expect("the echo: the subscription was made again");
        assert_eq!(m.payload, b"after restart");
        let log = broker.log();
        assert!(
            log.matches("New client connected").count() > connections_before,
            "no new connection in the log:\n{log}"
        );
        within(10, robust.disconnect()).await.expect("disconnect");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connect_again_after_a_broker_restart() {
        let mut broker = Broker::start();
        let id = unique("arestart");
        let topic = unique("arestart/t");
        let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
        let tcp = TokioTcp::connect(broker.addr()).await;
        let mut c = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options(60));
        within(10, c.connect(true)).await.expect("connect");
        broker.restart();
        let err = within(10, c.wait_msg())
            .await
            .map(|m| m.is_some())
            .expect_err("the broker went away");
        assert!(err.ends_connection(), "{err:?}");
        assert!(!within(10, c.connect(true)).await.expect("connect again"));
        let granted = within(10, c.subscribe(&topic, QoS::AtLeastOnce)).await;
        assert_eq!(granted.expect("subscribe"), QoS::AtLeastOnce);
        within(10, c.publish(&topic, b"back", false, QoS::AtLeastOnce))
            .await
            .expect("publish");
        let m = within(10, c.wait_msg())
            .await
            .expect("wait_msg")
            .expect("the echo");
        assert_eq!(m.payload, b"back");
        within(10, c.disconnect()).await.expect("disconnect");
    }
}
