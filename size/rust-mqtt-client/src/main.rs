//! The closest job to (b) with rust-mqtt 0.6 (an async MQTT 5 client; `v5` + `bump`
//! features, no allocator, no logging), over the same kind of scripted transport:
//! connect, subscribe (QoS 1) and poll until the SUBACK, publish QoS 1 and poll until the
//! PUBACK, poll one incoming QoS 1 PUBLISH (acknowledged by the client), ping, disconnect.
//! Client limits: 8 subscriptions, receive and send maximum 8, 1 subscription identifier,
//! no user properties, no topic aliases.
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::num::NonZero;

use fw::{ScriptIo, block_on, opaque};
use rust_mqtt::Bytes;
use rust_mqtt::buffer::BumpBuffer;
use rust_mqtt::client::Client;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, SubscriptionOptions, TopicReference,
};
use rust_mqtt::config::KeepAlive;
use rust_mqtt::types::{MqttString, TopicFilter, TopicName};

/// What the broker sends, in order (MQTT 5 encodings).
static BROKER: [u8; 33] = [
    0x20, 0x03, 0x00, 0x00, 0x00, // CONNACK accepted, no properties
    0x90, 0x04, 0x00, 0x01, 0x00, 0x01, // SUBACK id 1, no properties, granted QoS 1
    0x40, 0x02, 0x00, 0x01, // PUBACK id 1 (rust-mqtt reuses the lowest free id; short form)
    0x32, 0x10, 0x00, 0x07, b'c', b'm', b'd', b'/', b'l', b'e', b'd', 0x00, 0x07, 0x00, b'o',
    b'n', // PUBLISH QoS 1
    0xd0, 0x00, // PINGRESP
];

fn job() -> Result<u32, u32> {
    let mut backing = [0u8; 256];
    let mut buffer = BumpBuffer::new(&mut backing);
    let mut client = Client::<'_, '_, ScriptIo, _, 8, 8, 8, 1, 0, 0, 0>::new(&mut buffer);
    block_on(async {
        let options = ConnectOptions::new()
            .clean_start()
            .keep_alive(KeepAlive::Seconds(NonZero::new(opaque(60)).ok_or(1u32)?));
        let id = MqttString::from_str(opaque("size-client")).map_err(|_| 1u32)?;
        client
            .connect(ScriptIo::new(&BROKER), &options, Some(id))
            .await
            .map_err(|_| 1u32)?;

        let filter =
            TopicFilter::new(MqttString::from_str(opaque("cmd/#")).map_err(|_| 2u32)?).ok_or(2u32)?;
        client
            .subscribe(filter, &SubscriptionOptions::new().at_least_once())
            .await
            .map_err(|_| 2u32)?;
        match client.poll().await {
            Ok(Event::Suback(_)) => {}
            _ => return Err(2),
        }

        let topic =
            TopicName::new(MqttString::from_str(opaque("sensors/temp")).map_err(|_| 3u32)?).ok_or(3u32)?;
        let options = PublicationOptions::new(TopicReference::Name(topic)).at_least_once();
        client
            .publish(&options, Bytes::from(&opaque(b"21.5")[..]))
            .await
            .map_err(|_| 3u32)?;
        match client.poll().await {
            Ok(Event::PublishAcknowledged(_)) => {}
            _ => return Err(3),
        }

        let got = match client.poll().await {
            Ok(Event::Publish(p)) => {
                let topic_len = match &p.topic {
                    TopicReference::Name(t) | TopicReference::Mapping(t, _) => t.as_ref().as_str().len(),
                    TopicReference::Alias(_) => 0,
                };
                (topic_len + p.message.len()) as u32
            }
            _ => return Err(4),
        };

        client.ping().await.map_err(|_| 5u32)?;
        let io = client
            .disconnect(&DisconnectOptions::new())
            .await
            .map_err(|_| 6u32)?;
        Ok(got + io.written as u32)
    })
}

fw::firmware!(job);
