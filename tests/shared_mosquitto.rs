//! `client::shared` (one connection, many tasks) against the suite's mosquitto, over tokio
//! TCP: tasks publish and subscribe through handles while one runner owns the connection.
//!
//! What is pinned down:
//! * two tasks publish and receive at the same time over one connection (one CONNECT in
//!   the broker's log), QoS 1 messages in order, commands reaching the subscribing task;
//! * a subscription whose task does not read holds the runner back (back-pressure) and
//!   loses nothing: 30 messages through an inbox that holds five;
//! * across a broker restart that loses the session the runner reconnects by itself,
//!   subscribes again, and both directions work afterwards;
//! * a refused CONNECT stops the runner and every waiting task gets `Stopped`;
//! * requests that cannot fit are refused with their sizes, before anything is queued.

#![cfg(all(feature = "shared", feature = "std"))]

mod support;

use std::cell::Cell;
use std::time::Duration;

use support::broker::{self, Broker, BrokerConfig, Sub, unique};
use support::tokio_tcp::{TokioTcp, within};
use umqtt::QoS;
use umqtt::client::shared::raw::NoopRawMutex;
use umqtt::client::shared::{Reconnect, Runner, Shared, SharedError};
use umqtt::client::{AsyncMqttClient, ClientError, ClientOptions};

/// Reopens the same TCP connection, waiting 100 ms per attempt in a row (at most 1 s).
struct Backoff;

impl Reconnect<TokioTcp> for Backoff {
    async fn reconnect(&mut self, attempt: u32) -> std::io::Result<Option<TokioTcp>> {
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt.min(10)))).await;
        Ok(None)
    }
}

fn options() -> ClientOptions<'static> {
    ClientOptions {
        keep_alive: 5,
        ..ClientOptions::default()
    }
}

/// Waits (without blocking the runtime) until `sub` has printed `n` lines.
async fn lines(sub: &Sub, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let lines = sub.lines();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sub.lines()
}

/// `mosquitto_pub` on a blocking thread, so the runner keeps running meanwhile.
async fn publish_from_outside(port: u16, topic: &str, message: &str) {
    let (topic, message) = (topic.to_owned(), message.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        broker::mosquitto_pub(port, &["-t", &topic, "-m", &message, "-q", "1"])
    })
    .await
    .expect("mosquitto_pub thread");
    assert!(out.status.success(), "{out:?}");
}

/// Waits until `flag` is set by another task.
async fn until(flag: &Cell<bool>) {
    while !flag.get() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn two_tasks_publish_and_receive_over_one_connection() {
    let broker = Broker::start();
    let id = unique("shared");
    let commands = unique("shared/cmd");
    let status = unique("shared/status");
    let watcher = broker::mosquitto_sub(broker.port(), &["-t", &status, "-q", "1"]);
    watcher.wait_ready();

    let shared: Shared<NoopRawMutex> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(broker.addr()).await;
    let client = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options());
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let handle = shared.handle();
    let subscribed = Cell::new(false);

    let receiver = async {
        let mut sub = handle
            .subscribe(&commands, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        assert_eq!(sub.granted(), QoS::AtLeastOnce);
        subscribed.set(true);
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < 3 {
            let m = sub.next(&mut buf).await.expect("next");
            assert_eq!(m.topic, commands);
            got.push(String::from_utf8(m.payload.to_vec()).expect("utf-8"));
        }
        got
    };
    let publisher = async {
        for n in 0..10 {
            let text = format!("s{n}");
            handle
                .publish(&status, text.as_bytes(), QoS::AtLeastOnce, false)
                .await
                .expect("publish");
        }
    };
    let commander = async {
        until(&subscribed).await;
        for n in 0..3 {
            publish_from_outside(broker.port(), &commands, &format!("c{n}")).await;
        }
    };
    let work = within(20, async { tokio::join!(receiver, publisher, commander) });
    let (got, (), ()) = tokio::select! {
        r = work => r,
        e = runner.run() => panic!("the runner ended: {e}"),
    };
    assert_eq!(got, ["c0", "c1", "c2"]);
    let want: Vec<String> = (0..10).map(|n| format!("s{n}")).collect();
    assert_eq!(lines(&watcher, 10).await, want);
    let log = broker.log();
    assert_eq!(
        log.matches(&format!(" as {id} (")).count(),
        1,
        "one connection:\n{log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_inbox_holds_the_runner_back_and_loses_nothing() {
    let broker = Broker::start();
    let id = unique("shared-bp");
    let topic = unique("shared/bp");
    // An inbox of 600 bytes holds five of these 100-byte messages.
    let shared: Shared<NoopRawMutex, 512, 2, 600> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(broker.addr()).await;
    let client = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options());
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let handle = shared.handle();
    let subscribed = Cell::new(false);
    let sent = Cell::new(false);

    let reader = async {
        let mut sub = handle
            .subscribe(&topic, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        subscribed.set(true);
        // Not reading while all 30 are published: the runner must wait, not drop.
        until(&sent).await;
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < 30 {
            let m = sub.next(&mut buf).await.expect("next");
            got.push(String::from_utf8(m.payload[..3].to_vec()).expect("utf-8"));
        }
        got
    };
    let sender = async {
        until(&subscribed).await;
        for n in 0..30 {
            publish_from_outside(broker.port(), &topic, &format!("{n:03}{}", "x".repeat(97))).await;
        }
        sent.set(true);
    };
    let work = within(30, async { tokio::join!(reader, sender) });
    let (got, ()) = tokio::select! {
        r = work => r,
        e = runner.run() => panic!("the runner ended: {e}"),
    };
    let want: Vec<String> = (0..30).map(|n| format!("{n:03}")).collect();
    assert_eq!(got, want);
    assert_eq!(shared.unrouted(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn the_runner_rides_out_a_broker_restart() {
    let broker = Broker::start();
    let port = broker.port();
    let id = unique("shared-rs");
    let commands = unique("shared/rs/cmd");
    let status = unique("shared/rs/status");
    let shared: Shared<NoopRawMutex> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(broker.addr()).await;
    let client = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options());
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let handle = shared.handle();
    let reconnections = Cell::new(0u32);
    let mut log = |_: &ClientError<std::io::Error>| reconnections.set(reconnections.get() + 1);
    runner.set_log(&mut log);

    let work = async {
        let mut sub = handle
            .subscribe(&commands, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        let mut buf = [0u8; 256];
        publish_from_outside(port, &commands, "before").await;
        assert_eq!(sub.next(&mut buf).await.expect("next").payload, b"before");

        // The broker restarts without persistence: the session and subscription are gone.
        let broker = tokio::task::spawn_blocking(move || {
            let mut broker = broker;
            broker.restart();
            broker
        })
        .await
        .expect("restart thread");
        // A QoS 1 publish made while the runner reconnects is sent once it is back.
        let watched = status.clone();
        let watcher = tokio::task::spawn_blocking(move || {
            let sub = broker::mosquitto_sub(port, &["-t", &watched, "-q", "1"]);
            sub.wait_ready();
            sub
        })
        .await
        .expect("mosquitto_sub thread");
        handle
            .publish(&status, b"after", QoS::AtLeastOnce, false)
            .await
            .expect("publish after the restart");
        assert_eq!(lines(&watcher, 1).await, ["after"]);
        // The runner subscribed again: commands arrive.
        publish_from_outside(port, &commands, "again").await;
        assert_eq!(sub.next(&mut buf).await.expect("next").payload, b"again");
        broker
    };
    let broker = tokio::select! {
        b = within(40, work) => b,
        e = runner.run() => panic!("the runner ended: {e}"),
    };
    assert!(reconnections.get() >= 1, "no reconnection was logged");
    let log = broker.log();
    assert!(log.contains(&format!(" as {id} (")), "{log}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_connect_stops_the_runner_and_every_waiting_task() {
    let broker = Broker::start_with(BrokerConfig::new().password("user", "secret"));
    let addr = broker.auth_addr().expect("password listener");
    let shared: Shared<NoopRawMutex> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(addr).await;
    let client = AsyncMqttClient::new(tcp, "no-password", &mut rx, &mut tx).with_options(options());
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let handle = shared.handle();
    let (error, published) = within(10, async {
        tokio::join!(runner.run(), handle.publish("t", b"m", QoS::AtLeastOnce, false))
    })
    .await;
    assert!(matches!(error, ClientError::ConnectionRefused(_)), "{error:?}");
    assert_eq!(published, Err(SharedError::Stopped));
    assert!(shared.stopped());
    assert_eq!(
        handle.subscribe("t", QoS::AtMostOnce).await.map(|_| ()),
        Err(SharedError::Stopped)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn requests_that_cannot_fit_are_refused_with_their_sizes() {
    let shared: Shared<NoopRawMutex, 64, 1, 600> = Shared::new();
    let handle = shared.handle();
    // 12 bytes of header, 1 of topic, 40 of payload: fits once, not twice.
    assert_eq!(handle.try_publish("t", &[0; 40], QoS::AtMostOnce, false), Ok(()));
    assert_eq!(
        handle.try_publish("t", &[0; 40], QoS::AtMostOnce, false),
        Err(SharedError::QueueFull)
    );
    assert_eq!(
        handle.publish("t", &[0; 60], QoS::AtMostOnce, false).await,
        Err(SharedError::RequestTooLarge {
            needed: 73,
            capacity: 64
        })
    );
    assert!(matches!(
        handle.publish("a/#", b"", QoS::AtMostOnce, false).await,
        Err(SharedError::InvalidTopic(_))
    ));
    let long = "f".repeat(200);
    assert_eq!(
        handle.subscribe(&long, QoS::AtMostOnce).await.map(|_| ()),
        Err(SharedError::FilterTooLong { len: 200 })
    );
    // An inbox must take anything the receive buffer can hold.
    let small: Shared<NoopRawMutex, 64, 1, 600> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 64]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp = TokioTcp::connect(listener.local_addr().expect("addr")).await;
    let client = AsyncMqttClient::new(tcp, "c", &mut rx, &mut tx);
    let refused = Runner::new(&small, client, Backoff).map(|_| ());
    assert_eq!(
        refused,
        Err(SharedError::InboxTooSmall {
            needed: 1031,
            capacity: 600
        })
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "a subscription inbox of 600 bytes is smaller than the 1031 bytes the receive buffer can hand it"
    );
}

/// `try_publish` reports no outcome: the runner must not keep one for it. Forty of them
/// (more than the 16 outcomes a `Shared` can hold) followed by a `publish` that waits for
/// its own: every message arrives, and the last call returns.
#[tokio::test(flavor = "current_thread")]
async fn unwaited_outcomes_never_stall_the_runner() {
    let broker = Broker::start();
    let id = unique("shared-try");
    let topic = unique("shared/try");
    let watcher = broker::mosquitto_sub(broker.port(), &["-t", &topic, "-q", "1"]);
    watcher.wait_ready();
    // A queue large enough for all forty at once, so they are queued before any is served.
    let shared: Shared<NoopRawMutex, 4096> = Shared::new();
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let tcp = TokioTcp::connect(broker.addr()).await;
    let client = AsyncMqttClient::new(tcp, &id, &mut rx, &mut tx).with_options(options());
    let mut runner = Runner::new(&shared, client, Backoff).expect("runner");
    let handle = shared.handle();

    let work = async {
        for n in 0..40 {
            let text = format!("t{n}");
            // A full queue is back-pressure: give the runner a turn and try again.
            while let Err(e) = handle.try_publish(&topic, text.as_bytes(), QoS::AtLeastOnce, false) {
                assert_eq!(e, SharedError::QueueFull);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        handle
            .publish(&topic, b"last", QoS::AtLeastOnce, false)
            .await
            .expect("publish");
    };
    tokio::select! {
        () = within(20, work) => {}
        e = runner.run() => panic!("the runner ended: {e}"),
    }
    let mut want: Vec<String> = (0..40).map(|n| format!("t{n}")).collect();
    want.push("last".into());
    assert_eq!(lines(&watcher, 41).await, want);
}
