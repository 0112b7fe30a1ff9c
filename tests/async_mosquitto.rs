//! The async client (`AsyncMqttClient`, feature `async`) against a real mosquitto, over
//! tokio's `TcpStream` through `embedded-io-adapters`. It drives the same `Session` as the
//! blocking client, so these tests check the async plumbing: QoS 0/1/2 both ways, keep-alive,
//! and the no-executor-dependency promise (the library only needs `embedded-io-async`).

#![cfg(all(feature = "async", feature = "std"))]

mod support;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use embedded_io_adapters::tokio_1::FromTokio;
use support::broker::{Broker, unique};
use tokio::net::TcpStream;
use umqtt::client::{AsyncMqttClient, ClientOptions};
use umqtt::{PacketType, QoS};

type Transport = FromTokio<TcpStream>;

async fn tcp(broker: &Broker) -> Transport {
    let stream = TcpStream::connect(broker.addr())
        .await
        .expect("connect to mosquitto");
    stream.set_nodelay(true).expect("nodelay");
    FromTokio::new(stream)
}

/// Runs `fut` with a deadline so a broken test fails instead of hanging.
async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("timed out")
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
    let mut sub: AsyncMqttClient<'_, Transport> =
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
    let mut publisher: AsyncMqttClient<'_, Transport> =
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

#[tokio::test]
async fn async_keep_alive_pings_keep_an_idle_connection_open() {
    let broker = Broker::start();
    let id = unique("aka");
    let topic = unique("async/ka");
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let echoed = std::cell::Cell::new(false);
    let mut on_message = |_: &str, msg: &[u8]| echoed.set(msg == b"alive");
    let mut client: AsyncMqttClient<'_, Transport> =
        AsyncMqttClient::new(tcp(&broker).await, &id, &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 1,
            ..ClientOptions::default()
        });
    client.set_callback(&mut on_message);
    within(10, client.connect(true)).await.expect("connect");

    // Idle for more than three keep-alive intervals; the timer sends a PINGREQ each second
    // and we read the PINGRESP that answers it.
    let start = Instant::now();
    let mut pongs = 0;
    while start.elapsed() < Duration::from_millis(3_600) {
        let now = start.elapsed().as_millis() as u64;
        if within(5, client.ping_if_due(now)).await.expect("ping_if_due") {
            assert_eq!(
                within(5, client.wait_msg()).await.expect("wait_msg"),
                PacketType::PingResp
            );
            pongs += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        pongs >= 3,
        "only {pongs} PINGREQ/PINGRESP round trips in 3.6 s with keep-alive 1 s"
    );

    // Still connected: a QoS 1 round trip through the broker works.
    assert_eq!(
        within(10, client.subscribe(&topic, QoS::AtLeastOnce))
            .await
            .expect("subscribe"),
        QoS::AtLeastOnce
    );
    within(10, client.publish(&topic, b"alive", false, QoS::AtLeastOnce))
        .await
        .expect("publish");
    // The echo may already have arrived while publish waited for its PUBACK.
    while !echoed.get() {
        within(10, client.wait_msg()).await.expect("wait_msg");
    }
    within(10, client.disconnect()).await.expect("disconnect");
}
