//! The codec on its own, no I/O: encode a CONNECT and a PUBLISH into stack buffers, print
//! them as hex, and decode them back.
//!
//! ```text
//! cargo run --example codec
//! ```

use umqtt::{Connect, Delivery, Packet, PacketId, Publish, Status, TopicName, decode};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connect = Packet::Connect(Connect {
        clean_session: true,
        keep_alive: 60,
        client_id: "esp32-livingroom",
        will: None,
        username: None,
        password: None,
    });
    let publish = Packet::Publish(Publish::new(
        TopicName::new("home/living_room/light")?,
        b"on",
        Delivery::AtLeastOnce(PacketId::new(1).ok_or("id")?),
        false,
    ));
    let mut buf = [0u8; 128];
    for packet in [connect, publish] {
        let n = packet.encode(&mut buf)?;
        println!("{:?}\n  -> {} bytes: {}", packet.packet_type(), n, hex(&buf[..n]));
        match decode(&buf[..n])? {
            Status::Complete((decoded, used)) => {
                assert_eq!((decoded, used), (packet, n));
                println!("  <- decoded back: {decoded:?}");
            }
            Status::Partial { needed } => println!("  <- incomplete, {needed} more bytes needed"),
        }
    }
    Ok(())
}
