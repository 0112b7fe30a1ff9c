//! Job (a) with mqttrs 0.4 (`default-features = false`, i.e. no_std with heapless lists):
//! encode CONNECT (with a will, a user name and a password), PUBLISH (QoS 1) and SUBSCRIBE
//! into a slice; decode CONNACK, PUBLISH (QoS 1) and SUBACK from bytes read at run time.
//! Same inputs as size-umqtt-codec.
#![cfg_attr(target_os = "none", no_std, no_main)]

use fw::opaque;
use mqttrs::{
    Connect, LastWill, Packet, Pid, Protocol, Publish, QoS, QosPid, Subscribe, SubscribeReturnCodes,
    SubscribeTopic, decode_slice, encode_slice,
};

static CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
static PUBLISH: [u8; 15] = [
    0x32, 0x0d, 0x00, 0x07, b'c', b'm', b'd', b'/', b'l', b'e', b'd', 0x00, 0x07, b'o', b'n',
];
static SUBACK: [u8; 5] = [0x90, 0x03, 0x00, 0x01, 0x01];

/// Encodes `p` and hands the bytes to the outside world.
fn send(p: &Packet<'_>, buf: &mut [u8], step: u32) -> Result<u32, u32> {
    let n = encode_slice(p, buf).map_err(|_| step)?;
    opaque(buf.get(..n).ok_or(step)?);
    Ok(n as u32)
}

fn job() -> Result<u32, u32> {
    let mut buf = [0u8; 128];
    let mut acc = 0;

    let connect = Packet::Connect(Connect {
        protocol: Protocol::MQTT311,
        keep_alive: opaque(60),
        client_id: opaque("size-client"),
        clean_session: opaque(true),
        // Will, user name and password: the CONNECT of the tutorials' devices.
        last_will: Some(LastWill {
            topic: opaque("dev/status"),
            message: opaque(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: opaque(true),
        }),
        username: Some(opaque("user")),
        password: Some(opaque(b"secret")),
    });
    acc += send(&connect, &mut buf, 1)?;

    let id = Pid::try_from(opaque(2u16)).map_err(|_| 2u32)?;
    let publish = Packet::Publish(Publish {
        dup: false,
        qospid: QosPid::AtLeastOnce(id),
        retain: false,
        topic_name: opaque("sensors/temp"),
        payload: opaque(b"21.5"),
    });
    acc += send(&publish, &mut buf, 2)?;

    let mut topics = heapless::Vec::new();
    topics
        .push(SubscribeTopic {
            topic_path: heapless::String::from(opaque("cmd/#")),
            qos: QoS::AtLeastOnce,
        })
        .map_err(|_| 3u32)?;
    let subscribe = Packet::Subscribe(Subscribe {
        pid: Pid::try_from(opaque(1u16)).map_err(|_| 3u32)?,
        topics,
    });
    acc += send(&subscribe, &mut buf, 3)?;

    let mut rx = [0u8; 64];

    let n = fw::load(&CONNACK, &mut rx);
    match decode_slice(&rx[..n]) {
        Ok(Some(Packet::Connack(c))) => acc += c.code as u32 + u32::from(c.session_present),
        _ => return Err(4),
    }

    let n = fw::load(&PUBLISH, &mut rx);
    match decode_slice(&rx[..n]) {
        Ok(Some(Packet::Publish(p))) => {
            acc += (p.topic_name.len() + p.payload.len()) as u32;
            acc += p.qospid.pid().map_or(0, |id| u32::from(id.get()));
        }
        _ => return Err(5),
    }

    let n = fw::load(&SUBACK, &mut rx);
    match decode_slice(&rx[..n]) {
        Ok(Some(Packet::Suback(s))) => match s.return_codes.first() {
            Some(SubscribeReturnCodes::Success(q)) => acc += *q as u32 + u32::from(s.pid.get()),
            _ => return Err(6),
        },
        _ => return Err(6),
    }
    Ok(acc)
}

fw::firmware!(job);
