//! Job (b) with umqtt: the blocking `MqttClient` (default `N = 8`, `S = 1024`) over a
//! scripted transport: connect, subscribe (QoS 1), publish QoS 1 (waits for PUBACK),
//! wait_msg delivering an incoming QoS 1 PUBLISH to a callback (and PUBACKing it), ping,
//! disconnect. With feature `store` (package `size-umqtt-client-store`) the session is
//! kept in a `RamStore`, which measures what the persistence seam adds; with `nor`
//! (`size-umqtt-client-nor`) in a `NorFlashStore`.
#![cfg_attr(target_os = "none", no_std, no_main)]

use fw::{ScriptIo, opaque};
use umqtt::QoS;
use umqtt::client::MqttClient;

/// What the broker sends, in order.
static BROKER: [u8; 30] = [
    0x20, 0x02, 0x00, 0x00, // CONNACK accepted
    0x90, 0x03, 0x00, 0x01, 0x01, // SUBACK id 1, granted QoS 1
    0x40, 0x02, 0x00, 0x02, // PUBACK id 2
    0x32, 0x0f, 0x00, 0x07, b'c', b'm', b'd', b'/', b'l', b'e', b'd', 0x00, 0x07, b'o',
    b'n', // PUBLISH QoS 1
    0xd0, 0x00, // PINGRESP
];

fn job() -> Result<u32, u32> {
    let mut rx = [0u8; 256];
    let mut tx = [0u8; 256];
    // Size-umqtt-client-store: the session kept in a store (RAM here; the seam's cost).
    #[cfg(feature = "store")]
    let mut store = umqtt::client::store::RamStore::<1100>::new();
    // Size-umqtt-client-nor: in NorFlashStore over two 4 KiB sectors of NOR flash (in RAM
    // here, as the job runs without hardware; a device passes its HAL's flash).
    #[cfg(feature = "nor")]
    let mut sectors = [0xFFu8; 8192];
    #[cfg(feature = "nor")]
    let mut store = umqtt::client::nor_store::NorFlashStore::<_, 1028>::open(
        umqtt::client::nor_store::RamNorFlash::<4096>(opaque(&mut sectors[..])),
        0,
        8192,
    )
    .map_err(|_| 7u32)?;
    let mut got = 0u32;
    let mut on_message = |topic: &str, msg: &[u8]| got = (topic.len() + msg.len()) as u32;
    let written;
    {
        let mut client: MqttClient<'_, ScriptIo> =
            MqttClient::new(ScriptIo::new(&BROKER), opaque("size-client"), &mut rx, &mut tx);
        #[cfg(any(feature = "store", feature = "nor"))]
        client.set_store(&mut store).map_err(|_| 7u32)?;
        client.set_callback(&mut on_message);
        client.connect(true).map_err(|_| 1u32)?;
        let granted = client
            .subscribe(opaque("cmd/#"), QoS::AtLeastOnce)
            .map_err(|_| 2u32)?;
        if granted != QoS::AtLeastOnce {
            return Err(2);
        }
        client
            .publish(opaque("sensors/temp"), opaque(b"21.5"), false, QoS::AtLeastOnce)
            .map_err(|_| 3u32)?;
        client.wait_msg().map_err(|_| 4u32)?;
        client.ping().map_err(|_| 5u32)?;
        client.disconnect().map_err(|_| 6u32)?;
        written = client.into_inner().written as u32;
    }
    if got == 0 {
        return Err(4);
    }
    Ok(got + written)
}

fw::firmware!(job);
