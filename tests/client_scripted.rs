//! `MqttClient` driven over `ScriptedTransport`: the broker's bytes are scripted up front and
//! the exact bytes the client writes are compared with hand-encoded MQTT 3.1.1 packets.

mod support;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use support::scripted::{ScriptError, ScriptedTransport, encode_vec, packet_bytes, packets};
use umqtt::client::{Awaited, ClientError, ClientOptions, MqttClient};
use umqtt::session::{Phase, ProtocolError};
use umqtt::{
    ConnectReturnCode, DecodeError, Delivery, EncodeError, Packet, PacketId, PacketType, Publish, QoS,
    TopicError, TopicName,
};

type Client<'b> = MqttClient<'b, ScriptedTransport>;

const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
const CONNACK_SP: [u8; 4] = [0x20, 0x02, 0x01, 0x00];
const PINGREQ: [u8; 2] = [0xC0, 0x00];
const PINGRESP: [u8; 2] = [0xD0, 0x00];
const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// CONNECT for client id "c": clean session as given, keep-alive 60 s, nothing else.
fn connect_bytes(clean: bool, keep_alive: u16) -> Vec<u8> {
    let [ka_hi, ka_lo] = keep_alive.to_be_bytes();
    vec![
        0x10,
        13,
        0x00,
        0x04,
        b'M',
        b'Q',
        b'T',
        b'T',
        0x04,
        if clean { 0x02 } else { 0x00 },
        ka_hi,
        ka_lo,
        0x00,
        0x01,
        b'c',
    ]
}

fn ack(first: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [first, 0x02, hi, lo]
}

fn puback(id: u16) -> [u8; 4] {
    ack(0x40, id)
}
fn pubrec(id: u16) -> [u8; 4] {
    ack(0x50, id)
}
fn pubrel(id: u16) -> [u8; 4] {
    ack(0x62, id)
}
fn pubcomp(id: u16) -> [u8; 4] {
    ack(0x70, id)
}

/// A PUBLISH as the broker would send it.
fn publish_bytes(topic: &str, payload: &[u8], qos: QoS, id: u16, dup: bool, retain: bool) -> Vec<u8> {
    let delivery = Delivery::new(qos, PacketId::new(id)).unwrap();
    let mut p = Publish::new(TopicName::new(topic).unwrap(), payload, delivery, retain);
    p.dup = dup;
    encode_vec(&Packet::Publish(p))
}

/// Whether `r` is the error for a PINGREQ left unanswered.
fn is_ping_timeout<T>(r: Result<T, ClientError<ScriptError>>) -> bool {
    matches!(
        r,
        Err(ClientError::Timeout {
            awaited: Awaited::PingResp,
            ..
        })
    )
}

/// What `wait_msg`/`check_msg` returned, without the borrow: `Some(Publish)` for a message.
fn kind<E>(r: Result<Option<Publish<'_>>, E>) -> Result<Option<PacketType>, E> {
    r.map(|m| m.map(|_| PacketType::Publish))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn new_client<'b>(t: ScriptedTransport, rx: &'b mut [u8], tx: &'b mut [u8]) -> Client<'b> {
    MqttClient::new(t, "c", rx, tx)
}

/// A client that has connected (clean session, keep-alive 60 s); the CONNECT is removed from
/// the captured output and `script` is queued as the broker's next bytes.
fn connected<'b>(rx: &'b mut [u8], tx: &'b mut [u8], script: &[u8]) -> Client<'b> {
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK), rx, tx);
    assert_eq!(c.connect(true), Ok(false));
    assert_eq!(c.transport_mut().take_written(), connect_bytes(true, 60));
    c.transport_mut().push(script);
    c
}

fn written(c: &mut Client<'_>) -> Vec<u8> {
    c.transport_mut().take_written()
}

type Received = RefCell<Vec<(String, Vec<u8>)>>;

fn recorder(got: &Received) -> impl FnMut(&str, &[u8]) + '_ {
    move |t: &str, p: &[u8]| got.borrow_mut().push((t.to_owned(), p.to_vec()))
}

fn received(got: &Received) -> Vec<(String, Vec<u8>)> {
    got.borrow().clone()
}

fn msg(t: &str, p: &[u8]) -> (String, Vec<u8>) {
    (t.to_owned(), p.to_vec())
}

// ---------------------------------------------------------------------------------------------
// connect
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_writes_exact_bytes_with_will_user_password_and_default_keepalive_60() {
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 256]);
    let mut c: Client<'_> = MqttClient::new(
        ScriptedTransport::with_inbound(&CONNACK),
        "dev1",
        &mut rx,
        &mut tx,
    )
    .with_options(ClientOptions {
        user: Some("u"),
        password: Some(b"pw"),
        ..ClientOptions::default()
    });
    c.set_last_will("w/t", b"bye", true, QoS::AtLeastOnce).unwrap();
    assert_eq!(c.connect(true), Ok(false));
    #[rustfmt::skip]
    let expected = [
        0x10, 33,                                   // CONNECT, remaining length 33
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04,   // protocol name, level 4
        0xEE,                                       // user, password, will retain, will QoS 1, will, clean
        0x00, 0x3C,                                 // keep-alive 60 s
        0x00, 0x04, b'd', b'e', b'v', b'1',         // client id
        0x00, 0x03, b'w', b'/', b't',               // will topic
        0x00, 0x03, b'b', b'y', b'e',               // will message
        0x00, 0x01, b'u',                           // user name
        0x00, 0x02, b'p', b'w',                     // password
    ];
    assert_eq!(written(&mut c), expected);
    assert_eq!(c.session().phase(), Phase::Connected);
    assert_eq!(c.transport_mut().unread(), 0);
}

#[test]
fn connect_minimal_bytes_and_session_present_is_returned() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK_SP), &mut rx, &mut tx).with_options(
        ClientOptions {
            keep_alive: 0x1234,
            ..ClientOptions::default()
        },
    );
    assert_eq!(c.connect(false), Ok(true));
    assert_eq!(written(&mut c), connect_bytes(false, 0x1234));
    assert_eq!(c.transport_mut().flushes, 1, "flushed after the packet");
}

#[test]
fn connect_works_with_one_byte_reads() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::bytewise(&CONNACK), &mut rx, &mut tx);
    assert_eq!(c.connect(true), Ok(false));
    assert_eq!(c.transport_mut().reads, 4);
}

#[test]
fn connect_refused_codes_1_to_5_are_connection_refused_mqtt_3_2_2_5() {
    for code in 1..=5u8 {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let t = ScriptedTransport::with_inbound(&[0x20, 0x02, 0x00, code]);
        let mut c = new_client(t, &mut rx, &mut tx);
        let expected = ConnectReturnCode::from_u8(code).unwrap();
        assert_eq!(c.connect(true), Err(ClientError::ConnectionRefused(expected)));
        assert_eq!(c.session().phase(), Phase::Disconnected);
        assert_eq!(
            c.publish("t", b"", false, QoS::AtMostOnce),
            Err(ClientError::Protocol(ProtocolError::NotConnected))
        );
        assert_eq!(
            written(&mut c),
            connect_bytes(true, 60),
            "nothing after the CONNECT"
        );
    }
}

#[test]
fn connect_rejects_a_first_packet_other_than_connack_mqtt_3_2_0_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[&PINGRESP, &CONNACK]);
    let mut c = new_client(ScriptedTransport::with_inbound(&script), &mut rx, &mut tx);
    assert_eq!(
        c.connect(true),
        Err(ClientError::Protocol(ProtocolError::UnexpectedPacket(
            PacketType::PingResp
        )))
    );
    assert_eq!(c.session().phase(), Phase::Disconnected);
}

#[test]
fn connect_rejects_session_present_on_clean_session_mqtt_3_2_2_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK_SP), &mut rx, &mut tx);
    assert_eq!(
        c.connect(true),
        Err(ClientError::Protocol(ProtocolError::SessionPresentOnCleanSession))
    );
    assert_eq!(c.session().phase(), Phase::Disconnected);
}

#[test]
fn connect_eof_before_connack_is_connection_closed() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK[..3]), &mut rx, &mut tx);
    assert_eq!(c.connect(true), Err(ClientError::ConnectionClosed));
    assert_eq!(c.session().phase(), Phase::Disconnected);
}

#[test]
fn invalid_will_topic_is_invalid_topic() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::new(), &mut rx, &mut tx);
    assert_eq!(
        c.set_last_will("w/#", b"", false, QoS::AtMostOnce),
        Err(ClientError::InvalidTopic(TopicError::WildcardInName))
    );
    assert_eq!(
        c.set_last_will("", b"", false, QoS::AtMostOnce),
        Err(ClientError::InvalidTopic(TopicError::Empty))
    );
}

// ---------------------------------------------------------------------------------------------
// publish
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_qos0_writes_exact_bytes_and_reads_nothing_mqtt_4_3_1_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    let reads = c.transport_mut().reads;
    c.publish("t/a", b"hi", false, QoS::AtMostOnce).unwrap();
    c.publish("t/a", b"", true, QoS::AtMostOnce).unwrap();
    assert_eq!(
        written(&mut c),
        cat(&[
            &[0x30, 0x07, 0x00, 0x03, b't', b'/', b'a', b'h', b'i'],
            &[0x31, 0x05, 0x00, 0x03, b't', b'/', b'a'],
        ])
    );
    assert_eq!(c.transport_mut().reads, reads);
    assert_eq!(c.session().inflight(), 0);
}

#[test]
fn publish_qos1_writes_exact_bytes_and_returns_after_puback_mqtt_4_3_2_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &puback(1));
    c.publish("t/a", b"hi", true, QoS::AtLeastOnce).unwrap();
    assert_eq!(
        written(&mut c),
        [0x33, 0x09, 0x00, 0x03, b't', b'/', b'a', 0x00, 0x01, b'h', b'i']
    );
    assert_eq!(c.transport_mut().unread(), 0, "the PUBACK was consumed");
    assert_eq!(c.session().inflight(), 0);
    // The next message gets the next id.
    c.transport_mut().push(&puback(2));
    c.publish("t/a", b"", false, QoS::AtLeastOnce).unwrap();
    assert_eq!(
        written(&mut c),
        [0x32, 0x07, 0x00, 0x03, b't', b'/', b'a', 0x00, 0x02]
    );
}

#[test]
fn publish_qos1_waits_for_its_puback_and_handles_a_message_arriving_first_mqtt_4_3_2_2() {
    let got = Received::default();
    let mut cb = recorder(&got);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[
        &publish_bytes("in/x", b"early", QoS::AtLeastOnce, 0x0102, false, false),
        &PINGRESP,
        &puback(1),
        &publish_bytes("in/y", b"later", QoS::AtMostOnce, 0, false, false),
    ]);
    let mut c = connected(&mut rx, &mut tx, &script);
    c.set_callback(&mut cb);
    c.publish("out", b"m", false, QoS::AtLeastOnce).unwrap();
    assert_eq!(received(&got), [msg("in/x", b"early")]);
    let out = written(&mut c);
    assert_eq!(
        packet_bytes(&out),
        [
            &[0x32, 0x08, 0x00, 0x03, b'o', b'u', b't', 0x00, 0x01, b'm'][..],
            &puback(0x0102)[..],
        ]
    );
    // The message after the PUBACK is still queued.
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(received(&got).len(), 2);
}

#[test]
fn publish_qos1_does_not_return_ok_without_its_puback_mqtt_2_3_1_6() {
    // No PUBACK at all: publish keeps waiting until the stream ends.
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &PINGRESP);
    assert_eq!(
        c.publish("t", b"", false, QoS::AtLeastOnce),
        Err(ClientError::ConnectionClosed)
    );
    assert_eq!(
        c.transport_mut().unread(),
        0,
        "it read everything looking for the PUBACK"
    );
    // A PUBACK for another id is a protocol error.
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &puback(9));
    assert_eq!(
        c.publish("t", b"", false, QoS::AtLeastOnce),
        Err(ClientError::Protocol(ProtocolError::UnknownPacketId(
            PacketType::PubAck,
            PacketId::new(9).unwrap()
        )))
    );
    assert_eq!(
        c.session().phase(),
        Phase::Disconnected,
        "connection closed [MQTT-4.8.0-1]"
    );
}

#[test]
fn a_message_re_sent_after_a_reconnect_is_awaited_within_the_response_timeout() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.set_response_timeout(5_000);
    // The QoS 1 message is written, then the connection ends before its PUBACK.
    assert_eq!(
        c.publish("t", b"m", false, QoS::AtLeastOnce),
        Err(ClientError::ConnectionClosed)
    );
    // A new connection: the server kept the session, takes the re-sent copy, and is silent.
    let mut t = ScriptedTransport::with_inbound(&CONNACK_SP);
    t.silent = true;
    c.replace_transport(t);
    assert_eq!(c.connect(false), Ok(true));
    let out = written(&mut c);
    assert!(
        out.ends_with(&publish_bytes("t", b"m", QoS::AtLeastOnce, 1, true, false)),
        "re-sent with DUP: {out:02x?}"
    );
    // Waiting for it is bounded by the response timeout (not by keep-alive, 60 s), and the
    // error names the PUBACK.
    let start = c.transport_mut().now;
    assert_eq!(
        c.wait_acked(),
        Err(ClientError::Timeout {
            awaited: Awaited::PubAck(PacketId::new(1).unwrap()),
            after_ms: 5_000
        })
    );
    assert!(c.transport_mut().now - start <= 5_000);
}

#[test]
fn publish_qos2_runs_the_full_handshake_with_exact_bytes_mqtt_4_3_3_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[&pubrec(1), &pubcomp(1)]);
    let mut c = connected(&mut rx, &mut tx, &script);
    c.publish("t/a", b"hi", false, QoS::ExactlyOnce).unwrap();
    assert_eq!(
        written(&mut c),
        cat(&[
            &[0x34, 0x09, 0x00, 0x03, b't', b'/', b'a', 0x00, 0x01, b'h', b'i'],
            &pubrel(1),
        ])
    );
    assert_eq!(c.transport_mut().unread(), 0);
    assert_eq!(c.session().inflight(), 0);
}

#[test]
fn publish_qos2_with_bytewise_broker() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.transport_mut().chunk = Some(1);
    c.transport_mut().push(&cat(&[&pubrec(1), &pubcomp(1)]));
    c.publish("t/a", b"hi", false, QoS::ExactlyOnce).unwrap();
    assert_eq!(packets(&written(&mut c)).len(), 2);
}

#[test]
fn publish_with_invalid_topic_or_when_not_connected_writes_nothing() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::new(), &mut rx, &mut tx);
    assert_eq!(
        c.publish("t", b"", false, QoS::AtLeastOnce),
        Err(ClientError::Protocol(ProtocolError::NotConnected))
    );
    assert_eq!(written(&mut c), b"");
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    assert_eq!(
        c.publish("a/+", b"", false, QoS::AtMostOnce),
        Err(ClientError::InvalidTopic(TopicError::WildcardInName))
    );
    assert_eq!(
        c.subscribe("a/b#", QoS::AtMostOnce),
        Err(ClientError::InvalidTopic(TopicError::MisplacedWildcard))
    );
    assert_eq!(
        c.unsubscribe(""),
        Err(ClientError::InvalidTopic(TopicError::Empty))
    );
    assert_eq!(written(&mut c), b"");
    assert_eq!(
        c.session().phase(),
        Phase::Connected,
        "argument errors keep the connection"
    );
}

#[test]
fn publish_larger_than_tx_is_written_field_by_field() {
    let payload: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    // tx holds the CONNECT and the PUBLISH header, not the payload.
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 24]);
    let mut c = connected(&mut rx, &mut tx, &cat(&[&puback(1), &pubrec(2), &pubcomp(2)]));
    c.publish("big/topic", &payload, false, QoS::AtLeastOnce).unwrap();
    let out = written(&mut c);
    // Fixed header: 0x32, remaining length 2 + 9 + 2 + 300 = 313 = 0xB9 0x02.
    assert_eq!(&out[..3], &[0x32, 0xB9, 0x02]);
    assert_eq!(&out[3..14], b"\x00\x09big/topic");
    assert_eq!(&out[14..16], &[0x00, 0x01]);
    assert_eq!(&out[16..], &payload[..]);
    assert_eq!(
        out,
        publish_bytes("big/topic", &payload, QoS::AtLeastOnce, 1, false, false)
    );
    for (qos, id) in [(QoS::ExactlyOnce, 2), (QoS::AtMostOnce, 0)] {
        c.publish("big/topic", &payload, true, qos).unwrap();
        let out = written(&mut c);
        let expected = publish_bytes("big/topic", &payload, qos, id, false, true);
        assert_eq!(&out[..expected.len()], &expected[..], "{qos:?}");
    }
    // The re-send copy kept by the session is intact too.
    assert_eq!(c.session().inflight(), 0);
}

#[test]
fn packet_header_larger_than_tx_is_encode_error_and_nothing_is_written() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 4]);
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK), &mut rx, &mut tx);
    assert_eq!(
        c.connect(true),
        Err(ClientError::Encode(EncodeError::BufferTooSmall { needed: 15 }))
    );
    assert_eq!(written(&mut c), b"");
}

#[test]
fn subscribe_that_cannot_be_encoded_leaves_no_pending_request() {
    let long = "f".repeat(40);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 32]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    assert!(matches!(
        c.subscribe(&long, QoS::AtMostOnce),
        Err(ClientError::Encode(EncodeError::BufferTooSmall { .. }))
    ));
    assert_eq!(written(&mut c), b"");
    assert_eq!(
        c.session().inflight(),
        0,
        "nothing was sent, so nothing awaits a SUBACK"
    );
}

#[test]
fn qos1_publish_larger_than_the_store_is_refused_before_sending() {
    let big = vec![0u8; 1024];
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 32]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    let err = c.publish("t", &big, false, QoS::AtLeastOnce).unwrap_err();
    assert_eq!(
        err,
        ClientError::MessageTooLarge {
            needed: 1032,
            capacity: 1024
        }
    );
    assert_eq!(
        err.to_string(),
        "a QoS 1/2 message of 1032 bytes (encoded) cannot fit the re-send store of 1024 bytes"
    );
    assert!(!err.ends_connection());
    assert_eq!(written(&mut c), b"");
    assert_eq!(c.session().inflight(), 0);
    // At QoS 0 the same message goes out, its payload written after the head.
    c.publish("t", &big, false, QoS::AtMostOnce).unwrap();
    assert_eq!(written(&mut c).len(), 1030);
    let _ = c.replace_transport(ScriptedTransport::with_inbound(&CONNACK_SP));
    assert_eq!(c.connect(false), Ok(true));
    assert_eq!(written(&mut c), connect_bytes(false, 60), "nothing to re-send");
}

#[test]
fn suback_with_wrong_id_is_protocol_error_mqtt_2_3_1_7() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[0x90, 0x03, 0x00, 0x07, 0x00]);
    assert_eq!(
        c.subscribe("s", QoS::AtMostOnce),
        Err(ClientError::Protocol(ProtocolError::UnknownPacketId(
            PacketType::SubAck,
            PacketId::new(7).unwrap()
        )))
    );
}

#[test]
fn unsubscribe_writes_exact_bytes_and_waits_for_unsuback() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &ack(0xB0, 1));
    c.unsubscribe("s/#").unwrap();
    assert_eq!(
        written(&mut c),
        [0xA2, 0x07, 0x00, 0x01, 0x00, 0x03, b's', b'/', b'#']
    );
    assert_eq!(c.transport_mut().unread(), 0);
    assert_eq!(c.session().inflight(), 0);
}

#[test]
fn disconnect_writes_e0_00_and_nothing_more_is_sent_mqtt_3_14_4_2() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.disconnect().unwrap();
    assert_eq!(written(&mut c), DISCONNECT);
    assert_eq!(c.session().phase(), Phase::Disconnected);
    let not_connected = Err(ClientError::Protocol(ProtocolError::NotConnected));
    assert_eq!(c.publish("t", b"", false, QoS::AtMostOnce), not_connected);
    assert_eq!(c.subscribe("t", QoS::AtMostOnce).map(|_| ()), not_connected);
    assert_eq!(c.unsubscribe("t"), not_connected);
    assert_eq!(c.ping(), not_connected);
    assert_eq!(c.disconnect(), not_connected);
    assert_eq!(c.ping_if_due(u64::MAX), Ok(false));
    assert_eq!(
        kind(c.wait_msg()),
        Err(ClientError::Protocol(ProtocolError::NotConnected))
    );
    assert_eq!(written(&mut c), b"");
}

#[test]
fn a_transport_carries_one_connect_mqtt_3_1_0_2_mqtt_3_14_4_2() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    // While connected: a second CONNECT on the same connection is refused, nothing written.
    assert_eq!(
        c.connect(true),
        Err(ClientError::Protocol(ProtocolError::AlreadyConnected))
    );
    assert_eq!(written(&mut c), b"");
    // After DISCONNECT the connection is finished: `connect` asks the transport for a new
    // one, and this one cannot reopen, so no CONNECT is written on the old one.
    c.disconnect().unwrap();
    assert_eq!(written(&mut c), DISCONNECT);
    assert_eq!(c.connect(false), Err(ClientError::TransportClosed));
    assert_eq!(written(&mut c), b"");
}

// receiving
// ---------------------------------------------------------------------------------------------

#[test]
fn wait_msg_delivers_and_acks_per_qos_mqtt_3_3_4_1_mqtt_4_3_2_2_mqtt_4_3_3_2() {
    let got = Received::default();
    let mut cb = recorder(&got);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[
        &publish_bytes("a/0", b"zero", QoS::AtMostOnce, 0, false, false),
        &publish_bytes("a/1", b"one", QoS::AtLeastOnce, 0x1234, false, false),
        &publish_bytes("a/2", b"two", QoS::ExactlyOnce, 0xBEEF, false, false),
        &publish_bytes("a/2", b"two", QoS::ExactlyOnce, 0xBEEF, true, false),
        &pubrel(0xBEEF),
    ]);
    let mut c = connected(&mut rx, &mut tx, &script);
    c.set_callback(&mut cb);
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), b"", "QoS 0: no acknowledgement");
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), puback(0x1234));
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), pubrec(0xBEEF));
    // Duplicate before PUBREL: PUBREC again, not delivered again.
    assert_eq!(kind(c.wait_msg()), Ok(None));
    assert_eq!(written(&mut c), pubrec(0xBEEF));
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PubRel */);
    assert_eq!(written(&mut c), pubcomp(0xBEEF));
    assert_eq!(
        received(&got),
        [msg("a/0", b"zero"), msg("a/1", b"one"), msg("a/2", b"two")]
    );
    assert_eq!(c.session().incoming_qos2(), 0);
}

#[test]
fn wait_msg_works_with_one_byte_reads() {
    let got = Received::default();
    let mut cb = recorder(&got);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.set_callback(&mut cb);
    c.transport_mut().chunk = Some(1);
    c.transport_mut().push(&publish_bytes(
        "b/1",
        b"bytewise",
        QoS::AtLeastOnce,
        3,
        false,
        false,
    ));
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(received(&got), [msg("b/1", b"bytewise")]);
    assert_eq!(written(&mut c), puback(3));
}

#[test]
fn client_without_callback_still_acks_every_message_mqtt_4_5_0_2() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[
        &publish_bytes("a", b"1", QoS::AtLeastOnce, 1, false, false),
        &publish_bytes("a", b"2", QoS::ExactlyOnce, 2, false, false),
        &pubrel(2),
    ]);
    let mut c = connected(&mut rx, &mut tx, &script);
    for _ in 0..3 {
        c.wait_msg().unwrap();
    }
    assert_eq!(written(&mut c), cat(&[&puback(1), &pubrec(2), &pubcomp(2)]));
}

/// Without a callback the application takes a message from `wait_msg`; it is
/// acknowledged when the application calls again (it has finished with it then), so a
/// reset while it handles the message loses nothing. A message held while a publish waits
/// for its PUBACK is acknowledged once handed out and finished with; a repeat of a held
/// QoS 2 message is neither delivered nor answered meanwhile.
#[test]
fn without_a_callback_a_message_is_acknowledged_at_the_next_call() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = publish_bytes("a", b"1", QoS::AtLeastOnce, 1, false, false);
    let mut c = connected(&mut rx, &mut tx, &script);
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), b"", "not yet: the application holds the message");
    c.transport_mut().push(&cat(&[
        &publish_bytes("a", b"2", QoS::ExactlyOnce, 2, false, false),
        &publish_bytes("a", b"2", QoS::ExactlyOnce, 2, true, false),
        &puback(1),
    ]));
    c.publish("t", b"x", false, QoS::AtLeastOnce).unwrap();
    assert_eq!(
        written(&mut c),
        cat(&[
            &puback(1),
            &publish_bytes("t", b"x", QoS::AtLeastOnce, 1, false, false)
        ]),
        "the first message acknowledged when the application came back; 2 held, unanswered"
    );
    assert_eq!(c.held_messages(), 1);
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), b"");
    assert_eq!(c.check_msg(), Ok(None));
    assert_eq!(written(&mut c), pubrec(2));
    assert_eq!(c.session().incoming_qos2(), 1);
}

#[test]
fn message_callback_sees_qos_retain_and_dup() {
    /// (topic, payload, QoS, packet id, retain, DUP)
    type Seen = (String, Vec<u8>, QoS, Option<u16>, bool, bool);
    let seen: RefCell<Vec<Seen>> = RefCell::default();
    let mut cb = |p: &Publish<'_>| {
        seen.borrow_mut().push((
            p.topic.as_str().to_owned(),
            p.payload.to_vec(),
            p.qos(),
            p.delivery.packet_id().map(PacketId::get),
            p.retain,
            p.dup,
        ))
    };
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let script = cat(&[
        &publish_bytes("r", b"x", QoS::AtMostOnce, 0, false, true),
        &publish_bytes("d", b"y", QoS::AtLeastOnce, 7, true, false),
        &publish_bytes("q", b"", QoS::ExactlyOnce, 8, true, true),
    ]);
    let mut c = connected(&mut rx, &mut tx, &script);
    c.set_message_callback(&mut cb);
    for _ in 0..3 {
        assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    }
    assert_eq!(
        *seen.borrow(),
        [
            ("r".to_owned(), b"x".to_vec(), QoS::AtMostOnce, None, true, false),
            (
                "d".to_owned(),
                b"y".to_vec(),
                QoS::AtLeastOnce,
                Some(7),
                false,
                true
            ),
            ("q".to_owned(), vec![], QoS::ExactlyOnce, Some(8), true, true),
        ]
    );
}

#[test]
fn check_msg_returns_none_without_reading_when_nothing_is_ready() {
    let got = Received::default();
    let mut cb = recorder(&got);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.set_callback(&mut cb);
    let reads = c.transport_mut().reads;
    assert_eq!(c.check_msg(), Ok(None));
    assert_eq!(c.check_msg(), Ok(None));
    assert_eq!(c.transport_mut().reads, reads);
    c.transport_mut()
        .push(&publish_bytes("c", b"m", QoS::AtLeastOnce, 4, false, false));
    assert_eq!(kind(c.check_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(received(&got), [msg("c", b"m")]);
    assert_eq!(written(&mut c), puback(4));
    assert_eq!(c.check_msg(), Ok(None));
}

#[test]
fn malformed_bytes_from_broker_are_malformed_with_exact_decode_error_mqtt_4_8_0_1() {
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (vec![0x00, 0x00], DecodeError::ReservedPacketType(0)),
        (vec![0xF0, 0x00], DecodeError::ReservedPacketType(15)),
        // [MQTT-3.6.1-1] / [MQTT-2.2.2-2]: PUBREL with flags 0000.
        (
            pubrel(1).map(|b| if b == 0x62 { 0x60 } else { b }).to_vec(),
            DecodeError::InvalidFlags {
                packet_type: PacketType::PubRel,
                flags: 0,
            },
        ),
        (
            vec![0x41, 0x02, 0x00, 0x01],
            DecodeError::InvalidFlags {
                packet_type: PacketType::PubAck,
                flags: 1,
            },
        ),
        // [MQTT-3.3.1-4]: QoS 3.
        (
            vec![0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01],
            DecodeError::InvalidQos,
        ),
        (vec![0x38, 0x03, 0x00, 0x01, b'a'], DecodeError::DupWithQos0),
        (vec![0x40, 0x02, 0x00, 0x00], DecodeError::PacketIdZero),
        (vec![0x40, 0x03, 0x00, 0x01, 0x00], DecodeError::TrailingBytes),
        (vec![0x30, 0x03, 0x00, 0x05, b'a'], DecodeError::UnexpectedEnd),
        (
            vec![0xD0, 0x80, 0x80, 0x80, 0x80, 0x01],
            DecodeError::MalformedRemainingLength,
        ),
        // [MQTT-1.5.3-1], [MQTT-1.5.3-2]
        (vec![0x30, 0x04, 0x00, 0x02, 0xC3, 0x28], DecodeError::InvalidUtf8),
        (
            vec![0x30, 0x04, 0x00, 0x02, b'a', 0x00],
            DecodeError::NullCharacter,
        ),
        (
            vec![0x30, 0x04, 0x00, 0x02, b'a', b'#'],
            DecodeError::WildcardInTopicName,
        ),
        (
            vec![0x90, 0x03, 0x00, 0x01, 0x03],
            DecodeError::InvalidSubAckCode(0x03),
        ),
    ];
    for (bytes, expected) in cases {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut c = connected(&mut rx, &mut tx, &bytes);
        assert_eq!(
            c.wait_msg(),
            Err(ClientError::Malformed(expected)),
            "{bytes:02x?}"
        );
        assert_eq!(c.session().phase(), Phase::Disconnected, "{bytes:02x?}");
        assert_eq!(written(&mut c), b"", "nothing answered to {bytes:02x?}");
    }
}

#[test]
fn malformed_connack_is_malformed() {
    for (connack, expected) in [
        ([0x20, 0x02, 0x00, 0x06], DecodeError::InvalidConnectReturnCode(6)),
        ([0x20, 0x02, 0x02, 0x00], DecodeError::ReservedConnAckFlags(2)),
        ([0x20, 0x02, 0x01, 0x05], DecodeError::SessionPresentOnRefusal),
    ] {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut c = new_client(ScriptedTransport::with_inbound(&connack), &mut rx, &mut tx);
        assert_eq!(c.connect(true), Err(ClientError::Malformed(expected)));
        assert_eq!(c.session().phase(), Phase::Disconnected);
    }
}

#[test]
fn eof_is_connection_closed() {
    // Between packets and in the middle of one.
    for script in [&[][..], &[0x32, 0x05, 0x00][..], &[0x32][..]] {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut c = connected(&mut rx, &mut tx, script);
        assert_eq!(c.wait_msg(), Err(ClientError::ConnectionClosed));
        assert_eq!(c.session().phase(), Phase::Disconnected);
    }
}

/// Packets only a client sends are refused by type, before their body is parsed (even a
/// malformed body), and end the connection ([MQTT-4.8.0-1]).
#[test]
fn client_only_packets_from_the_server_are_unexpected_packet_mqtt_4_8_0_1() {
    let cases: [(&[u8], PacketType); 5] = [
        (&[0x10, 0x01, 0xff], PacketType::Connect),
        (&[0x82, 0x02, 0x00, 0x00], PacketType::Subscribe),
        (&[0xa2, 0x00], PacketType::Unsubscribe),
        (&[0xc0, 0x00], PacketType::PingReq),
        (&[0xe0, 0x00], PacketType::Disconnect),
    ];
    for (script, ptype) in cases {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut c = connected(&mut rx, &mut tx, script);
        assert_eq!(
            c.wait_msg(),
            Err(ClientError::Protocol(ProtocolError::UnexpectedPacket(ptype))),
            "{ptype}"
        );
        assert_eq!(c.session().phase(), Phase::Disconnected);
        assert_eq!(written(&mut c), b"", "{ptype}: nothing is answered");
    }
}

#[test]
fn transport_read_error_is_io() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &PINGRESP);
    c.transport_mut().fail_next_read = true;
    assert_eq!(c.wait_msg(), Err(ClientError::Io(ScriptError::Read)));
    assert_eq!(c.session().phase(), Phase::Disconnected);
}

#[test]
fn packet_larger_than_rx_is_packet_too_large_and_the_next_packet_is_processed() {
    let got = Received::default();
    let mut cb = recorder(&got);
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 64]);
    let big = publish_bytes("big", &[7u8; 40], QoS::AtMostOnce, 0, false, false);
    let script = cat(&[
        &big,
        &publish_bytes("ok", b"small", QoS::AtLeastOnce, 2, false, false),
    ]);
    let mut c = connected(&mut rx, &mut tx, &script);
    c.set_callback(&mut cb);
    assert_eq!(
        c.wait_msg(),
        Err(ClientError::PacketTooLarge {
            packet_type: PacketType::Publish,
            len: big.len(),
        })
    );
    assert_eq!(
        c.session().phase(),
        Phase::Connected,
        "the stream is still in sync"
    );
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(received(&got), [msg("ok", b"small")]);
    assert_eq!(written(&mut c), puback(2));
}

#[test]
fn packet_larger_than_rx_is_skipped_with_one_byte_reads() {
    let (mut rx, mut tx) = ([0u8; 8], [0u8; 64]);
    let big = publish_bytes("big", &[1u8; 300], QoS::AtLeastOnce, 1, false, false);
    let mut c = connected(&mut rx, &mut tx, &[]);
    c.transport_mut().chunk = Some(1);
    c.transport_mut().push(&cat(&[&big, &PINGRESP]));
    assert_eq!(
        c.wait_msg(),
        Err(ClientError::PacketTooLarge {
            packet_type: PacketType::Publish,
            len: big.len(),
        })
    );
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PingResp */);
}

// ---------------------------------------------------------------------------------------------
// reconnect
// ---------------------------------------------------------------------------------------------

#[test]
fn reconnect_resends_unacked_qos1_publish_with_dup_over_new_transport_mqtt_4_4_0_1() {
    // Also [MQTT-3.3.1-1] (DUP=1), [MQTT-2.3.1-3] (same id), [MQTT-3.1.2-4] / [MQTT-4.1.0-1].
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK), &mut rx, &mut tx);
    assert_eq!(c.connect(false), Ok(false));
    // The connection dies before the PUBACK.
    assert_eq!(
        c.publish("t/a", b"hi", false, QoS::AtLeastOnce),
        Err(ClientError::ConnectionClosed)
    );
    let first = written(&mut c);
    let original = [0x32, 0x09, 0x00, 0x03, b't', b'/', b'a', 0x00, 0x01, b'h', b'i'];
    assert_eq!(first, cat(&[&connect_bytes(false, 60), &original]));
    assert_eq!(c.session().inflight(), 1);

    let old = c.replace_transport(ScriptedTransport::with_inbound(&cat(&[&CONNACK_SP, &puback(1)])));
    assert_eq!(old.unread(), 0);
    assert_eq!(c.connect(false), Ok(true));
    let out = written(&mut c);
    let mut dup = original;
    dup[0] |= 0x08;
    assert_eq!(out, cat(&[&connect_bytes(false, 60), &dup]));
    assert_eq!(packet_bytes(&out)[1][0], 0x3A);
    // The PUBACK for the re-sent message completes it.
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PubAck */);
    assert_eq!(c.session().inflight(), 0);
}

/// `disconnect` writes exactly DISCONNECT; `connect` afterwards asks the transport for a new
/// connection (umqtt.simple opens a new socket) and says so in words when it cannot give one,
/// instead of writing a CONNECT into the closed one.
#[test]
fn connect_after_disconnect_needs_a_new_connection_mqtt_3_14_4_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    assert_eq!(c.disconnect(), Ok(()));
    assert_eq!(written(&mut c), DISCONNECT);
    let refused = c.connect(true);
    assert_eq!(refused, Err(ClientError::TransportClosed));
    assert!(
        written(&mut c).is_empty(),
        "nothing is written into a closed connection"
    );
    assert!(
        refused.unwrap_err().to_string().contains("connection"),
        "the error is a sentence about the connection"
    );
    // Given a new connection, the same client connects again.
    drop(c.replace_transport(ScriptedTransport::with_inbound(&CONNACK)));
    assert_eq!(c.connect(true), Ok(false));
    assert_eq!(written(&mut c), connect_bytes(true, 60));
}

#[test]
fn reconnect_resends_pubrel_not_publish_after_pubrec_mqtt_4_3_3_1() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = new_client(
        ScriptedTransport::with_inbound(&cat(&[&CONNACK, &pubrec(1)])),
        &mut rx,
        &mut tx,
    );
    assert_eq!(c.connect(false), Ok(false));
    assert_eq!(
        c.publish("q", b"2", false, QoS::ExactlyOnce),
        Err(ClientError::ConnectionClosed)
    );
    let _ = c.replace_transport(ScriptedTransport::with_inbound(&cat(&[&CONNACK_SP, &pubcomp(1)])));
    assert_eq!(c.connect(false), Ok(true));
    assert_eq!(written(&mut c), cat(&[&connect_bytes(false, 60), &pubrel(1)]));
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PubComp */);
    assert_eq!(c.session().inflight(), 0);
}

#[test]
fn reconnect_with_clean_session_resends_nothing_mqtt_3_1_2_6() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = connected(&mut rx, &mut tx, &[]);
    assert_eq!(
        c.publish("t", b"x", false, QoS::AtLeastOnce),
        Err(ClientError::ConnectionClosed)
    );
    let _ = written(&mut c);
    let _ = c.replace_transport(ScriptedTransport::with_inbound(&CONNACK));
    assert_eq!(c.connect(true), Ok(false));
    assert_eq!(written(&mut c), connect_bytes(true, 60));
    assert_eq!(c.session().inflight(), 0);
}

// ---------------------------------------------------------------------------------------------
// keep-alive
// ---------------------------------------------------------------------------------------------

fn with_keep_alive<'b>(secs: u16, rx: &'b mut [u8], tx: &'b mut [u8]) -> Client<'b> {
    let mut c = new_client(ScriptedTransport::with_inbound(&CONNACK), rx, tx).with_options(ClientOptions {
        keep_alive: secs,
        ..ClientOptions::default()
    });
    assert_eq!(c.connect(true), Ok(false));
    let _ = written(&mut c);
    c
}

#[test]
fn ping_if_due_sends_pingreq_at_keepalive_and_times_out_without_pingresp_mqtt_3_1_2_23() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    // Default keep-alive 60 s and response timeout 30 s; without a clock the time is 0 at connect.
    let mut c = connected(&mut rx, &mut tx, &[]);
    assert_eq!(c.ping_if_due(59_999), Ok(false));
    assert_eq!(written(&mut c), b"");
    assert_eq!(c.ping_if_due(60_000), Ok(true));
    assert_eq!(written(&mut c), PINGREQ);
    assert_eq!(
        c.ping_if_due(75_000),
        Ok(false),
        "one PINGREQ until answered or timed out"
    );
    assert_eq!(c.ping_if_due(89_999), Ok(false));
    assert!(is_ping_timeout(c.ping_if_due(90_000)));
    assert_eq!(c.session().phase(), Phase::Disconnected);
    assert_eq!(written(&mut c), b"");
}

#[test]
fn ping_if_due_honours_set_response_timeout() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = with_keep_alive(10, &mut rx, &mut tx);
    c.set_response_timeout(2_000);
    assert_eq!(c.ping_if_due(10_000), Ok(true));
    assert_eq!(c.ping_if_due(11_999), Ok(false));
    assert!(is_ping_timeout(c.ping_if_due(12_000)));
    assert_eq!(written(&mut c), PINGREQ);
}

#[test]
fn ping_if_due_is_reset_by_pingresp_and_by_other_sends() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = with_keep_alive(10, &mut rx, &mut tx);
    assert_eq!(c.ping_if_due(10_000), Ok(true));
    c.transport_mut().push(&PINGRESP);
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PingResp */);
    assert_eq!(c.ping_if_due(19_999), Ok(false));
    // The client's own time comes from the transport: this publish is sent at 19 999.
    c.transport_mut().now = 19_999;
    c.publish("t", b"", false, QoS::AtMostOnce).unwrap();
    assert_eq!(c.ping_if_due(29_998), Ok(false));
    assert_eq!(c.ping_if_due(29_999), Ok(true));
    assert_eq!(
        written(&mut c),
        cat(&[&PINGREQ, &[0x30, 0x03, 0x00, 0x01, b't'], &PINGREQ])
    );
}

#[test]
fn keep_alive_0_never_pings() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut c = with_keep_alive(0, &mut rx, &mut tx);
    assert_eq!(c.ping_if_due(u64::MAX), Ok(false));
    assert_eq!(written(&mut c), b"");
}

static CLOCK_WAIT: AtomicU64 = AtomicU64::new(0);
fn clock_wait() -> u64 {
    CLOCK_WAIT.load(Ordering::SeqCst)
}

#[test]
fn clock_drives_keepalive_inside_wait_msg_mqtt_3_1_2_23() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    CLOCK_WAIT.store(1_000, Ordering::SeqCst);
    let mut c =
        new_client(ScriptedTransport::with_inbound(&CONNACK), &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 5,
            ..ClientOptions::default()
        });
    c.set_clock(clock_wait);
    c.set_response_timeout(2_000);
    assert_eq!(c.connect(true), Ok(false));
    let _ = written(&mut c);
    // Not due yet: wait_msg only reads.
    CLOCK_WAIT.store(5_999, Ordering::SeqCst);
    c.transport_mut().push(&PINGRESP);
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PingResp */);
    assert_eq!(written(&mut c), b"");
    // Due: PINGREQ goes out before blocking on the read.
    CLOCK_WAIT.store(6_000, Ordering::SeqCst);
    c.transport_mut().push(&PINGRESP);
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PingResp */);
    assert_eq!(written(&mut c), PINGREQ);
    // Answered, so the next one is due at 11 000.
    CLOCK_WAIT.store(10_999, Ordering::SeqCst);
    c.transport_mut().push(&PINGRESP);
    assert_eq!(kind(c.wait_msg()), Ok(None) /* PingResp */);
    assert_eq!(written(&mut c), b"");
    // Due again, but this time no PINGRESP comes: wait_msg reports the timeout.
    CLOCK_WAIT.store(11_000, Ordering::SeqCst);
    c.transport_mut()
        .push(&publish_bytes("x", b"", QoS::AtMostOnce, 0, false, false));
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), PINGREQ);
    CLOCK_WAIT.store(12_999, Ordering::SeqCst);
    c.transport_mut()
        .push(&publish_bytes("x", b"", QoS::AtMostOnce, 0, false, false));
    assert_eq!(kind(c.wait_msg()), Ok(Some(PacketType::Publish)));
    assert_eq!(written(&mut c), b"");
    CLOCK_WAIT.store(13_000, Ordering::SeqCst);
    assert!(is_ping_timeout(c.wait_msg()));
    assert_eq!(c.session().phase(), Phase::Disconnected);
}

static CLOCK_CHECK: AtomicU64 = AtomicU64::new(0);
fn clock_check() -> u64 {
    CLOCK_CHECK.load(Ordering::SeqCst)
}

#[test]
fn clock_drives_keepalive_inside_check_msg_mqtt_3_1_2_23() {
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    CLOCK_CHECK.store(0, Ordering::SeqCst);
    let mut c =
        new_client(ScriptedTransport::with_inbound(&CONNACK), &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 60,
            ..ClientOptions::default()
        });
    c.set_clock(clock_check);
    assert_eq!(c.connect(true), Ok(false));
    let _ = written(&mut c);
    CLOCK_CHECK.store(59_999, Ordering::SeqCst);
    assert_eq!(c.check_msg(), Ok(None));
    assert_eq!(written(&mut c), b"");
    CLOCK_CHECK.store(60_000, Ordering::SeqCst);
    assert_eq!(c.check_msg(), Ok(None));
    assert_eq!(written(&mut c), PINGREQ);
    CLOCK_CHECK.store(89_999, Ordering::SeqCst);
    assert_eq!(c.check_msg(), Ok(None));
    CLOCK_CHECK.store(90_000, Ordering::SeqCst);
    assert!(is_ping_timeout(c.check_msg()));
    assert_eq!(c.session().phase(), Phase::Disconnected);
    assert_eq!(written(&mut c), b"");
}

static CLOCK_PUBLISH: AtomicU64 = AtomicU64::new(0);
fn clock_publish() -> u64 {
    CLOCK_PUBLISH.load(Ordering::SeqCst)
}

#[test]
fn clock_drives_keepalive_while_publish_waits_for_its_ack_mqtt_3_1_2_23() {
    // The server keeps sending other traffic but withholds the PUBACK past the keep-alive.
    let mut cb = |_: &str, _: &[u8]| CLOCK_PUBLISH.store(10_000, Ordering::SeqCst);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    CLOCK_PUBLISH.store(0, Ordering::SeqCst);
    let mut c =
        new_client(ScriptedTransport::with_inbound(&CONNACK), &mut rx, &mut tx).with_options(ClientOptions {
            keep_alive: 10,
            ..ClientOptions::default()
        });
    c.set_clock(clock_publish);
    c.set_callback(&mut cb);
    assert_eq!(c.connect(true), Ok(false));
    let _ = written(&mut c);
    let script = cat(&[
        &publish_bytes("x", b"", QoS::AtMostOnce, 0, false, false),
        &PINGRESP,
        &puback(1),
    ]);
    c.transport_mut().push(&script);
    c.publish("t", b"", false, QoS::AtLeastOnce).unwrap();
    assert_eq!(
        written(&mut c),
        cat(&[&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x01], &PINGREQ])
    );
}
