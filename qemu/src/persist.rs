//! Part 0: a QoS 2 session kept in (simulated) NOR flash across a device reset.
//!
//! QEMU's `lm3s6965evb` cannot program its flash, so the "flash" is a block of RAM in the
//! `.uninit` section, behind the library's `RamNorFlash`, an `embedded-storage` NOR flash
//! with NOR rules (programming only clears bits, erase sets a whole 1 KiB sector to
//! `0xFF`): the startup
//! code never touches that section and QEMU keeps RAM across a system reset, so it
//! behaves like flash for this test. The session lives there in the library's
//! `NorFlashStore`, as it would on a device. A magic word tells a first boot from one
//! after the reset.
//!
//! First boot: the client, with its session in that store, connects with
//! `clean_session = false` and publishes at QoS 2; the broker (the script) sends no PUBREC,
//! and the device resets itself (`SYSRESETREQ`) with the message unacknowledged.
//! Second boot: a new client restores the session from the store, reconnects, re-sends the
//! PUBLISH with DUP set, and completes the flow (PUBREC, PUBREL, PUBCOMP); the store is
//! empty afterwards. Both boots log what they see.

use core::mem::MaybeUninit;

use umqtt::QoS;
use umqtt::client::nor_store::{NorFlashStore, RamNorFlash};
use umqtt::client::store::SessionStore;
use umqtt::client::{ClientError, MqttClient};

use crate::check::{self, check};
use crate::transport::ScriptTransport;

const MAGIC: u32 = 0x554D_5154;

/// Bytes of simulated flash: two 1 KiB sectors, one per bank of the store.
const FLASH_LEN: usize = 2048;
const SECTOR: usize = 1024;

/// The simulated flash: a magic word (first: `flash` reads it before the rest) and the
/// flash bytes.
#[repr(C)]
struct Flash {
    magic: u32,
    bytes: [u8; FLASH_LEN],
}

type Store<'a> = NorFlashStore<RamNorFlash<'a, SECTOR>, 64>;

#[unsafe(link_section = ".uninit.SESSION_FLASH")]
static mut FLASH: MaybeUninit<Flash> = MaybeUninit::uninit();

/// The simulated flash, and whether it held a session from before the reset.
fn flash() -> (&'static mut Flash, bool) {
    // SAFETY: single core, no interrupts use it, and this is called once per boot, so the
    // reference is unique. `.uninit` is never written by the startup code; its contents
    // are only read as a `Flash` once the magic word (written with them) says a previous
    // boot left one there.
    let slot = unsafe { &mut *(&raw mut FLASH) };
    let magic = unsafe { core::ptr::read_volatile(slot.as_ptr().cast::<u32>()) };
    if magic == MAGIC {
        // SAFETY: initialised by an earlier boot (see above).
        (unsafe { slot.assume_init_mut() }, true)
    } else {
        (
            slot.write(Flash {
                magic: MAGIC,
                // Not erased: the store formats it.
                bytes: [0; FLASH_LEN],
            }),
            false,
        )
    }
}

/// CONNACK without and with Session Present.
const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];
const CONNACK_RESUMED: &[u8] = &[
    0x20, 0x02, 0x01, 0x00, 0x50, 0x02, 0x00, 0x01, 0x70, 0x02, 0x00, 0x01,
];

/// PUBLISH QoS 2 id 1 "umqtt/kept" = "reset-proof".
#[rustfmt::skip]
const PUBLISH: &[u8] = &[
    0x34, 0x19,                          // PUBLISH QoS 2, remaining length 25 = (2 + 10) + 2 + 11
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'k', b'e', b'p', b't',
    0x00, 0x01,                          // packet id 1
    b'r', b'e', b's', b'e', b't', b'-', b'p', b'r', b'o', b'o', b'f',
];
/// The same, re-sent after the reset: DUP set.
#[rustfmt::skip]
const PUBLISH_DUP: &[u8] = &[
    0x3c, 0x19,
    0x00, 0x0a, b'u', b'm', b'q', b't', b't', b'/', b'k', b'e', b'p', b't',
    0x00, 0x01,
    b'r', b'e', b's', b'e', b't', b'-', b'p', b'r', b'o', b'o', b'f',
];
const PUBREL_1: &[u8] = &[0x62, 0x02, 0x00, 0x01];

/// Runs the boot's half; the first boot ends in a reset and never returns.
pub fn run() {
    let (flash, resumed) = flash();
    let mut store: Store<'_> = match NorFlashStore::open(RamNorFlash(&mut flash.bytes), 0, FLASH_LEN as u32) {
        Ok(store) => store,
        Err(e) => {
            check!(false, "persist: open the flash store: {}", e);
            return;
        }
    };
    let (mut rx, mut tx) = ([0u8; 128], [0u8; 128]);
    let mut client: MqttClient<'_, ScriptTransport> =
        MqttClient::new(ScriptTransport::new(), "qemu-persist", &mut rx, &mut tx);
    if !resumed {
        defmt::info!("persist: boot 1, empty flash");
        check!(client.set_store(&mut store).is_ok(), "persist: set_store");
        client.transport_mut().feed(CONNACK);
        check!(client.connect(false) == Ok(false), "persist: first connect");
        client.transport_mut().clear();
        let sent = client.publish("umqtt/kept", b"reset-proof", false, QoS::ExactlyOnce);
        // The script ends before any PUBREC: the call fails (no PUBREC in time), the
        // message is kept.
        check!(
            matches!(
                sent,
                Err(ClientError::Timeout { .. } | ClientError::ConnectionClosed)
            ),
            "persist: publish without PUBREC: {}",
            sent
        );
        check::bytes("persist: PUBLISH", client.transport_mut().output(), &[PUBLISH]);
        let unacked = client.session().unacked_messages();
        check!(unacked == 1, "persist: {=usize} unacknowledged", unacked);
        drop(client);
        defmt::info!(
            "persist: QoS 2 message sent, no PUBREC; {=usize} bytes of session in flash; resetting",
            store.used()
        );
        if check::failures() == 0 {
            cortex_m::peripheral::SCB::sys_reset();
        }
        return;
    }
    defmt::info!(
        "persist: boot 2, {=usize} bytes of session in flash survived the reset",
        store.used()
    );
    check!(client.set_store(&mut store).is_ok(), "persist: restore");
    let unacked = client.session().unacked_messages();
    check!(unacked == 1, "persist: {=usize} restored", unacked);
    client.transport_mut().feed(CONNACK_RESUMED);
    check!(client.connect(false) == Ok(true), "persist: resumed connect");
    check!(client.wait_acked().is_ok(), "persist: wait_acked");
    let out = client.transport_mut().output();
    // CONNECT first (not checked here: part 2 checks CONNECT), then the re-send.
    let tail = out.get(out.len().saturating_sub(PUBLISH_DUP.len() + PUBREL_1.len())..);
    check::bytes("persist: re-send", tail.unwrap_or(&[]), &[PUBLISH_DUP, PUBREL_1]);
    let done = client.session().unacked_messages() == 0 && client.transport_mut().unread() == 0;
    check!(done, "persist: flow not completed");
    drop(client);
    // Nothing left to restore (a clear marker hides the records; no erase was needed).
    let mut live = 0;
    let replayed = store.replay(&mut |_| {
        live += 1;
        Ok(())
    });
    check!(
        replayed.is_ok() && live == 0,
        "persist: {=usize} records left",
        live
    );
    defmt::info!(
        "persist: re-sent with DUP and completed after the reset: exactly once (flash generation {=u32})",
        store.generation()
    );
    drop(store);
    // The next run of the firmware starts from an empty flash again.
    flash.magic = 0;
}
