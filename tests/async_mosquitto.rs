//! The async client (`AsyncMqttClient`, feature `async`) against a real mosquitto, over
//! tokio's `TcpStream` through `embedded-io-adapters`. It drives the same `Session` as the
//! blocking client, so these tests check the async plumbing: QoS 0/1/2 both ways, keep-alive,
//! and the no-executor-dependency promise (the library only needs `embedded-io-async`).

#![cfg(all(feature = "async", feature = "std"))]

mod support;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use support::broker::{Broker, unique};
use support::tokio_tcp::{TokioTcp, within};
use umqtt::QoS;
use umqtt::client::{AsyncMqttClient, ClientOptions};

async fn tcp(broker: &Broker) -> TokioTcp {
    TokioTcp::connect(broker.addr()).await
}

#[tokio::test]
async fn async_publish_and_receive_at_qos_0_1_2() {
    let broker = Broker::start();
    let topic = unique("async/qos");
    let (sub_id, pub_id) = (unique("asub"), unique("apub"));

    let received = RefCell::new(Vec::<(String, Vec<u8>, QoS)>::new());
    let mut on_message = |p: &umqtt::Publish<'_>| {
        received
            .borrow_mut()
            .push((p.topic.to_string(), p.payload.to_vec(), p.qos()));
    };
    let (mut rx1, mut tx1) = ([0u8; 512], [0u8; 512]);
    let mut sub: AsyncMqttClient<'_, TokioTcp> =
        AsyncMqttClient::new(tcp(&broker).await, &sub_id, &mut rx1, &mut tx1);
    sub.set_message_callback(&mut on_message);
    within(10, sub.connect(true)).await.expect("subscriber connects");
    assert_eq!(
        within(10, sub.subscribe(&topic, QoS::ExactlyOnce))
            .await
            .expect("subscribe"),
        QoS::ExactlyOnce
    );

    let (mut rx2, mut tx2) = ([0u8; 512], [0u8; 512]);
    let mut publisher: AsyncMqttClient<'_, TokioTcp> =
        AsyncMqttClient::new(tcp(&broker).await, &pub_id, &mut rx2, &mut tx2);
    assert!(
        !within(10, publisher.connect(true)).await.expect("connect"),
        "no session present"
    );
    for (qos, payload) in [
        (QoS::AtMostOnce, &b"zero"[..]),
        (QoS::AtLeastOnce, b"one"),
        (QoS::ExactlyOnce, b"two"),
    ] {
        within(10, publisher.publish(&topic, payload, false, qos))
            .await
            .expect("publish acknowledged");
    }
    assert_eq!(
        publisher.session().unacked_messages(),
        0,
        "every QoS 1/2 publish was acknowledged"
    );

    // The QoS 2 message is delivered on PUBLISH; its PUBREL may come after, so read until
    // three messages arrived and the incoming QoS 2 exchange is released.
    within(10, async {
        while received.borrow().len() < 3 || sub.session().incoming_qos2() > 0 {
            sub.wait_msg().await.expect("wait_msg");
        }
    })
    .await;
    within(10, publisher.disconnect()).await.expect("disconnect");
    within(10, sub.disconnect()).await.expect("disconnect");
    drop(sub);
    let got = received.into_inner();
    let want: Vec<(String, Vec<u8>, QoS)> = vec![
        (topic.clone(), b"zero".to_vec(), QoS::AtMostOnce),
        (topic.clone(), b"one".to_vec(), QoS::AtLeastOnce),
        (topic.clone(), b"two".to_vec(), QoS::ExactlyOnce),
    ];
    assert_eq!(got, want);
}

/// The LED example's loop, async: blocked in `wait_msg` with keep-alive 2 s for 30 s, the
/// client pings by itself (mosquitto drops a client silent for 1.5x keep-alive) and the
/// connection still carries a QoS 1 round trip afterwards.
#[tokio::test(flavor = "current_thread")]
async fn async_wait_msg_loop_keeps_the_connection_alive_for_30_s() {
    let broker = Broker::start();
    let id = unique("aka");
    let topic = unique("async/ka");
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let mut client =
        AsyncMqttClient::new(tcp(&broker).await, &id, &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 2,
            ..ClientOptions::default()
        });
    within(10, client.connect(true)).await.expect("connect");
    let start = Instant::now();
    let mut packets = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // Each return is a PINGRESP: nothing else is sent to this client.
        assert!(within(5, client.wait_msg()).await.expect("wait_msg").is_none());
        packets += 1;
    }
    assert!(
        packets >= 14,
        "only {packets} PINGRESPs in 30 s with keep-alive 2 s"
    );
    let log = broker.log();
    assert!(
        log.matches(&format!("Received PINGREQ from {id}")).count() >= 14,
        "mosquitto logged too few PINGREQs from {id}"
    );
    assert!(
        !log.contains("exceeded timeout"),
        "mosquitto dropped the client:\n{log}"
    );

    assert_eq!(
        within(10, client.subscribe(&topic, QoS::AtLeastOnce))
            .await
            .expect("subscribe"),
        QoS::AtLeastOnce
    );
    within(10, client.publish(&topic, b"alive", false, QoS::AtLeastOnce))
        .await
        .expect("publish");
    // The echo arrived while publish waited for its PUBACK: it was held for wait_msg.
    let msg = within(10, client.wait_msg())
        .await
        .expect("wait_msg")
        .expect("the echo");
    assert_eq!((msg.topic.as_str(), msg.payload), (topic.as_str(), &b"alive"[..]));
    within(10, client.disconnect()).await.expect("disconnect");
}
