//! The closest job to (b) with minimq 0.13 (an async MQTT 5 client; its packet codec is
//! private, so only the client can be measured), over the same kind of scripted transport:
//! connect, subscribe (QoS 1) and wait for the SUBACK, publish QoS 1 and wait for the
//! PUBACK, receive one incoming QoS 1 PUBLISH (acknowledged by the client), disconnect.
//! minimq has no explicit ping: keep-alive PINGREQs are sent from inside `poll`/`recv`,
//! which are measured. minimq needs an `embassy-time` driver; a dummy one reading a
//! volatile tick counter is included (a few bytes).
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::task::Waker;

use fw::{ScriptIo, block_on, opaque};
use minimq::{Buffers, ConfigBuilder, Publication, QoS, Session, TopicFilter};

/// What the broker sends, in order (MQTT 5 encodings).
static BROKER: [u8; 33] = [
    0x20, 0x03, 0x00, 0x00, 0x00, // CONNACK accepted, no properties
    0x90, 0x04, 0x00, 0x01, 0x00, 0x01, // SUBACK id 1, no properties, granted QoS 1
    0x40, 0x02, 0x00, 0x02, // PUBACK id 2 (success, short form)
    0x32, 0x10, 0x00, 0x07, b'c', b'm', b'd', b'/', b'l', b'e', b'd', 0x00, 0x07, 0x00, b'o',
    b'n', // PUBLISH QoS 1
    0xd0, 0x00, // PINGRESP
];

struct Ticks;

static mut NOW: u64 = 0;

impl embassy_time_driver::Driver for Ticks {
    fn now(&self) -> u64 {
        // SAFETY: single-threaded; a volatile read of our own static.
        unsafe { core::ptr::read_volatile(&raw const NOW) }
    }

    fn schedule_wake(&self, _at: u64, waker: &Waker) {
        waker.wake_by_ref();
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: Ticks = Ticks);

fn job() -> Result<u32, u32> {
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 256];
    let config = ConfigBuilder::new(Buffers::new(&mut rx, &mut tx))
        .client_id(opaque("size-client"))
        .map_err(|_| 1u32)?
        .keepalive_interval(60);
    let mut session = Session::new(config);
    block_on(async {
        let mut conn = session.connect(ScriptIo::new(&BROKER)).await.map_err(|_| 1u32)?;

        let filter = [TopicFilter::new(opaque("cmd/#"))
            .options(minimq::SubscriptionOptions::default().maximum_qos(QoS::AtLeastOnce))];
        let op = conn.subscribe(&filter, &[]).await.map_err(|_| 2u32)?;
        while !conn.is_complete(&op) {
            if conn.poll().await.map_err(|_| 2u32)?.is_some() {
                return Err(2);
            }
        }

        let publication = Publication::bytes(opaque("sensors/temp"), opaque(b"21.5")).qos(QoS::AtLeastOnce);
        let op = conn.publish(publication).await.map_err(|_| 3u32)?.ok_or(3u32)?;
        while !conn.is_complete(&op) {
            if conn.poll().await.map_err(|_| 3u32)?.is_some() {
                return Err(3);
            }
        }

        let got = {
            let msg = conn.recv().await.map_err(|_| 4u32)?;
            (msg.topic().len() + msg.payload().len()) as u32
        };

        conn.disconnect().await.map_err(|_| 6u32)?;
        let written = conn.into_inner().written as u32;
        Ok(got + written)
    })
}

fw::firmware!(job);
