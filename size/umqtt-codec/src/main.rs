//! Job (a) with umqtt: encode CONNECT (with a will, a user name and a password), PUBLISH
//! (QoS 1) and SUBSCRIBE into a slice; decode CONNACK, PUBLISH (QoS 1) and SUBACK from
//! bytes read at run time.
//!
//! A client decodes with `decode_from_server`, which leaves out the parsers of packets only a
//! client sends, and encodes with `encode_from_client`, which leaves out the writers of
//! packets only a server sends; with feature `general` (package `size-umqtt-codec-any`) the
//! job uses the general `decode` and `encode` instead, so the report shows both.
#![cfg_attr(target_os = "none", no_std, no_main)]

use fw::opaque;
use umqtt::{
    Connect, Delivery, Entries, LastWill, Packet, PacketId, Publish, QoS, Status, SubAckReturnCode,
    Subscribe, Subscription, TopicFilter, TopicName,
};

#[cfg(feature = "general")]
use umqtt::{decode, encode};
#[cfg(not(feature = "general"))]
use umqtt::{decode_from_server as decode, encode_from_client as encode};

static CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
static PUBLISH: [u8; 15] = [
    0x32, 0x0d, 0x00, 0x07, b'c', b'm', b'd', b'/', b'l', b'e', b'd', 0x00, 0x07, b'o', b'n',
];
static SUBACK: [u8; 5] = [0x90, 0x03, 0x00, 0x01, 0x01];

/// Encodes `p` and hands the bytes to the outside world.
fn send(p: &Packet<'_>, buf: &mut [u8], step: u32) -> Result<u32, u32> {
    let n = encode(p, buf).map_err(|_| step)?;
    opaque(buf.get(..n).ok_or(step)?);
    Ok(n as u32)
}

fn job() -> Result<u32, u32> {
    let mut buf = [0u8; 128];
    let mut acc = 0;

    let connect = Packet::Connect(Connect {
        clean_session: opaque(true),
        keep_alive: opaque(60),
        client_id: opaque("size-client"),
        // Will, user name and password: the CONNECT of the tutorials' devices.
        will: Some(LastWill {
            topic: TopicName::new(opaque("dev/status")).map_err(|_| 1u32)?,
            message: opaque(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: opaque(true),
        }),
        username: Some(opaque("user")),
        password: Some(opaque(b"secret")),
    });
    acc += send(&connect, &mut buf, 1)?;

    let topic = TopicName::new(opaque("sensors/temp")).map_err(|_| 2u32)?;
    let id = PacketId::new(opaque(2)).ok_or(2u32)?;
    let publish = Packet::Publish(Publish::new(
        topic,
        opaque(b"21.5"),
        Delivery::AtLeastOnce(id),
        false,
    ));
    acc += send(&publish, &mut buf, 2)?;

    let subs = [Subscription {
        filter: TopicFilter::new(opaque("cmd/#")).map_err(|_| 3u32)?,
        qos: QoS::AtLeastOnce,
    }];
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(opaque(1)).ok_or(3u32)?,
        topics: Entries::new(&subs),
    });
    acc += send(&subscribe, &mut buf, 3)?;

    let mut rx = [0u8; 64];

    let n = fw::load(&CONNACK, &mut rx);
    match decode(&rx[..n]) {
        Ok(Status::Complete((Packet::ConnAck(c), _))) => {
            acc += u32::from(c.code.as_u8()) + u32::from(c.session_present)
        }
        _ => return Err(4),
    }

    let n = fw::load(&PUBLISH, &mut rx);
    match decode(&rx[..n]) {
        Ok(Status::Complete((Packet::Publish(p), _))) => {
            acc += (p.topic.as_str().len() + p.payload.len()) as u32;
            acc += p.delivery.packet_id().map_or(0, |id| u32::from(id.get()));
        }
        _ => return Err(5),
    }

    let n = fw::load(&SUBACK, &mut rx);
    match decode(&rx[..n]) {
        Ok(Status::Complete((Packet::SubAck(s), _))) => match s.codes.first() {
            Some(SubAckReturnCode::Success(q)) => acc += u32::from(q.as_u8()) + u32::from(s.packet_id.get()),
            _ => return Err(6),
        },
        _ => return Err(6),
    }
    Ok(acc)
}

fw::firmware!(job);
