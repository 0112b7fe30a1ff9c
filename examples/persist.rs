//! A job that survives `kill -9`: publish `count` numbered readings at QoS 1 with the
//! session kept in a crash-safe file ([`FileStore`]). Kill it at any instant and start it
//! again with the same `--store`: it restores the session, re-sends what the broker had
//! not acknowledged (DUP set, in order), and carries on after the last reading it knows was
//! taken. Nothing is lost; a reading in flight at the kill may arrive twice (QoS 1).
//!
//! ```text
//! cargo run --features std --example persist -- --store /tmp/job -n 1000
//! mosquitto_sub -t readings -q 1 -c -i reader   # in another terminal
//! ```
//!
//! Progress is two files: the session store `<store>` and `<store>.done`, the number of
//! readings whose `publish` returned (written after each one). A reading that `publish`
//! took but had not finished with when the process died is in the restored session, and
//! is not published a second time.

#[path = "common/args.rs"]
mod args;

use std::path::Path;
use std::time::Duration;

use umqtt::QoS;
use umqtt::client::MqttClient;
use umqtt::client::file_store::FileStore;
use umqtt::client::std_net::TcpTransport;
use umqtt::packet::Packet;

const USAGE: &str = "usage: persist --store path [-n count] [-t topic] [-i client-id] \
[-h host] [-p port] [--interval-ms ms]";

fn main() {
    let a = args::Args::parse(
        USAGE,
        &[],
        &[
            "--store",
            "-n",
            "-t",
            "-i",
            "-h",
            "--host",
            "-p",
            "--port",
            "--interval-ms",
        ],
    );
    let Some(store) = a.get(&["--store"]) else {
        args::fail_usage("--store is required", USAGE);
    };
    let job = Job {
        store,
        count: a.num(&["-n"], 100),
        topic: a.get(&["-t"]).unwrap_or("readings"),
        client_id: a.get(&["-i"]).unwrap_or("persist-example"),
        host: a.get(&["-h", "--host"]).unwrap_or("127.0.0.1"),
        port: a.num(&["-p", "--port"], 1883),
        interval: Duration::from_millis(a.num(&["--interval-ms"], 0)),
    };
    if let Err(e) = run(&job) {
        args::fail(&e.to_string());
    }
}

struct Job<'a> {
    store: &'a str,
    count: u32,
    topic: &'a str,
    client_id: &'a str,
    host: &'a str,
    port: u16,
    interval: Duration,
}

fn run(job: &Job<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let done_path = format!("{}.done", job.store);
    let done: u32 = std::fs::read_to_string(&done_path).map_or(0, |s| s.trim().parse().unwrap_or(0));
    let mut store = FileStore::open(job.store, 64 * 1024)?;
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let transport = TcpTransport::connect((job.host, job.port))?;
    let mut client: MqttClient<_, 16, 4096> =
        MqttClient::new_sized(transport, job.client_id, &mut rx, &mut tx);
    client.set_store(&mut store)?;
    // The readings the previous run handed to `publish` whose acknowledgement it did not
    // see: the session re-sends them, so the job goes on after the last of them.
    let mut next = done;
    for packet in client.session().resend() {
        if let Packet::Publish(p) = packet
            && let Some(n) = std::str::from_utf8(p.payload)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
        {
            println!("restored reading {n}");
            next = next.max(n + 1);
        }
    }
    client.connect(false)?;
    client.wait_acked()?;
    record(&done_path, next)?;
    println!("resuming at {next} of {}", job.count);
    for n in next..job.count {
        client.publish(job.topic, n.to_string().as_bytes(), false, QoS::AtLeastOnce)?;
        record(&done_path, n + 1)?;
        println!("published {n}");
        std::thread::sleep(job.interval);
    }
    client.disconnect()?;
    println!("done: {} readings", job.count);
    Ok(())
}

/// Writes the progress file so that a crash leaves the old or the new number.
fn record(path: &str, done: u32) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, done.to_string())?;
    std::fs::rename(&tmp, Path::new(path))
}
