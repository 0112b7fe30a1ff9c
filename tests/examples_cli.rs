//! The example programs as a user runs them: `led` blocked in `wait_msg` stays connected
//! with `-k 1` and quits on command; `sub` over WebSocket (`--ws`) receives what `pub`
//! sends over TCP; unknown options, an unreachable broker and a QoS 1 message too large to
//! keep are refused with exit status 2 and the reason in words; `persist`, killed with
//! SIGKILL twice mid-job, finishes it with nothing lost. Against the suite's
//! mosquitto. The binaries are the ones `cargo test` builds in `target/*/examples/`.

#![cfg(feature = "tls")]

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::broker::{self, Broker, BrokerConfig, unique};

/// The path of example `name`, next to this test's own binary (`target/<profile>/deps/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples");
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts an example with piped stdout; its lines arrive on the returned channel.
fn spawn(name: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(example(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line containing `needle`, returning everything seen.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} within {within:?}; saw {seen:?}");
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the example did not exit within {within:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unknown_options_are_refused_with_the_usage() {
    for name in ["pub", "sub", "led", "paho", "persist"] {
        let o = run(name, &["--no-such-option", "x"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {o:?}");
        let err = stderr(&o);
        assert!(
            err.contains("error: unknown option --no-such-option"),
            "{name}: {err}"
        );
        assert!(err.contains("usage: "), "{name}: {err}");
    }
}

#[test]
fn an_unreachable_broker_is_an_error_in_words() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
        .to_string();
    let o = run("pub", &["-p", &port, "-t", "t", "-m", "m"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("error: cannot reach 127.0.0.1:{port}: ")),
        "{err}"
    );
    assert!(!err.contains("Os {"), "a Debug dump instead of words: {err}");
}

#[test]
fn a_qos1_message_too_large_to_keep_is_refused_before_connecting() {
    let broker = Broker::start();
    let big = "x".repeat(70 * 1024);
    let port = broker.port().to_string();
    let o = run("pub", &["-p", &port, "-t", "big", "-m", &big, "-q", "1"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = stderr(&o);
    assert!(
        err.contains("is larger than this tool's 65536-byte re-send store"),
        "{err}"
    );
    assert!(
        !broker.log().contains("New client connected"),
        "it connected first"
    );
    // At QoS 0 it goes out.
    let o = run("pub", &["-p", &port, "-t", "big", "-m", &big]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `led`, as the MicroPython original, spends its life in `wait_msg`: with `-k 1` it keeps
/// the connection alive by itself for 4 s (mosquitto would drop it after 1.5 s of
/// silence), then switches the LED and quits on command.
#[test]
fn led_blocks_in_wait_msg_stays_connected_and_quits_on_command() {
    let broker = Broker::start();
    let port = broker.port().to_string();
    let (mut led, lines) = spawn("led", &["-p", &port, "-k", "1"]);
    wait_line(&lines, "waiting for on/off/toggle/quit", Duration::from_secs(10));
    thread::sleep(Duration::from_secs(4));
    let publish = |msg: &str| {
        let o = broker::mosquitto_pub(broker.port(), &["-t", "public/led", "-m", msg]);
        assert!(o.status.success(), "{o:?}");
    };
    publish("toggle");
    wait_line(&lines, "LED is ON", Duration::from_secs(10));
    publish("quit");
    let status = wait_exit(&mut led, Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let log = broker.log();
    assert!(log.contains("Received PINGREQ from led-"), "{log}");
    assert!(!log.contains("exceeded timeout"), "{log}");
}

/// `sub --ws` receives over MQTT-over-WebSocket what `pub` sends over TCP, at QoS 1.
#[test]
fn sub_over_websocket_receives_what_pub_sends_over_tcp() {
    let broker = Broker::start_with(BrokerConfig::new().websockets());
    let topic = unique("cli/ws");
    let ws_port = broker.listener_port(0).to_string();
    let (mut sub, lines) = spawn(
        "sub",
        &["-p", &ws_port, "--ws", "-t", &topic, "-q", "1", "-C", "1", "-v"],
    );
    // Subscribed once mosquitto has logged the SUBSCRIBE.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !broker
        .log()
        .contains(&format!("Received SUBSCRIBE from umqtt-sub-{}", sub.id()))
    {
        assert!(
            Instant::now() < deadline,
            "sub never subscribed:\n{}",
            broker.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let o = run(
        "pub",
        &[
            "-p",
            &broker.port().to_string(),
            "-t",
            &topic,
            "-m",
            "over ws",
            "-q",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let seen = wait_line(&lines, "over ws", Duration::from_secs(10));
    assert_eq!(
        seen.last().map(String::as_str),
        Some(format!("{topic} over ws").as_str())
    );
    let status = wait_exit(&mut sub, Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

/// `persist` survives `kill -9`: killed twice in the middle of its job, started again each
/// time with the same store, it finishes, and a persistent-session subscriber has every
/// reading (QoS 1: the one in flight at a kill may come twice, none may be missing).
#[test]
fn persist_survives_kill_9_mid_publish_and_finishes_the_job() {
    let broker = Broker::start();
    let port = broker.port().to_string();
    let topic = unique("readings");
    let reader = broker::mosquitto_sub(broker.port(), &["-t", &topic, "-q", "1"]);
    reader.wait_ready();
    let dir = std::env::temp_dir().join(unique("persist-example"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = dir.join("session");
    let store = store.to_str().expect("utf-8 path");
    let id = unique("persist");
    let args = [
        "--store",
        store,
        "-n",
        "300",
        "-t",
        &topic,
        "-i",
        &id,
        "-p",
        &port,
        "--interval-ms",
        "2",
    ];
    for kill_at in ["published 60", "published 170"] {
        let (mut job, lines) = spawn("persist", &args);
        wait_line(&lines, kill_at, Duration::from_secs(20));
        // SIGKILL: no destructor, no DISCONNECT, whatever write was under way.
        job.kill().expect("kill -9");
        let _ = job.wait();
    }
    let (mut job, lines) = spawn("persist", &args);
    let seen = wait_line(&lines, "done: 300 readings", Duration::from_secs(30));
    assert!(wait_exit(&mut job, Duration::from_secs(10)).success(), "{seen:?}");
    // It went on where the killed run stopped, not from the start.
    let resumed: u32 = seen
        .iter()
        .find_map(|l| l.strip_prefix("resuming at ")?.split(' ').next()?.parse().ok())
        .expect("a resuming line");
    assert!(resumed > 170, "{seen:?}");
    let got = reader.wait_lines(300, Duration::from_secs(10));
    let mut numbers: Vec<u32> = got.iter().map(|l| l.parse().expect("a number")).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers, (0..300).collect::<Vec<u32>>(), "missing readings");
    let _ = std::fs::remove_dir_all(&dir);
}
