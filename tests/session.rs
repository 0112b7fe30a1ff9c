//! Deterministic unit tests of the pure `Session` state machine: hand-built packets in,
//! packets/events/errors out, with explicit `now` values in milliseconds. Every test name
//! states the behaviour and the spec statement it checks (MQTT 3.1.1 OS numbering).

use umqtt::session::{DEFAULT_RESPONSE_TIMEOUT_MS, Event, Incoming, Phase, ProtocolError, Session};
use umqtt::{
    ConnAck, Connect, ConnectReturnCode, Delivery, EncodeError, Entries, Packet, PacketId, PacketType,
    Publish, QoS, SubAck, SubAckReturnCode, Subscribe, Subscription, TopicFilter, TopicName, Unsubscribe,
};

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

fn id(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero packet id")
}

fn topic(s: &str) -> TopicName<'_> {
    TopicName::new(s).expect("valid topic name")
}

fn filter(s: &str) -> TopicFilter<'_> {
    TopicFilter::new(s).expect("valid topic filter")
}

fn connect_packet(clean_session: bool, keep_alive: u16) -> Connect<'static> {
    Connect {
        clean_session,
        keep_alive,
        client_id: "session-test",
        will: None,
        username: None,
        password: None,
    }
}

fn connack(session_present: bool, code: ConnectReturnCode) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present,
        code,
    })
}

fn accepted() -> Packet<'static> {
    connack(false, ConnectReturnCode::Accepted)
}

/// A session that sent CONNECT at `now` and got an accepted CONNACK at the same instant.
fn connected<const N: usize, const S: usize>(keep_alive: u16, now: u64) -> Session<N, S> {
    let mut s = Session::<N, S>::new();
    let _ = s.connect(connect_packet(true, keep_alive), now).unwrap();
    let r = s.handle_packet(accepted(), now).unwrap();
    assert_eq!(
        r.event,
        Some(Event::Connected {
            session_present: false
        })
    );
    assert_eq!(s.phase(), Phase::Connected);
    s
}

/// Re-opens a dropped session with `clean_session = false` and a CONNACK with SP=1.
fn resume<const N: usize, const S: usize>(s: &mut Session<N, S>, now: u64) {
    s.connection_lost();
    let p = s.connect(connect_packet(false, 0), now).unwrap();
    assert!(matches!(p, Packet::Connect(c) if !c.clean_session));
    let r = s
        .handle_packet(connack(true, ConnectReturnCode::Accepted), now)
        .unwrap();
    assert_eq!(
        r.event,
        Some(Event::Connected {
            session_present: true
        })
    );
}

fn incoming_publish(delivery: Delivery, dup: bool) -> Packet<'static> {
    let mut p = Publish::new(topic("in/topic"), b"payload", delivery, false);
    p.dup = dup;
    Packet::Publish(p)
}

fn reply(packet: Packet<'static>) -> Incoming<'static> {
    Incoming {
        event: None,
        reply: Some(packet),
    }
}

fn event(e: Event<'_>) -> Incoming<'_> {
    Incoming {
        event: Some(e),
        reply: None,
    }
}

/// Publishes one QoS 1 message and acknowledges it; returns the id it used.
fn qos1_cycle<const N: usize, const S: usize>(s: &mut Session<N, S>) -> PacketId {
    let p = s.publish(topic("t"), b"x", QoS::AtLeastOnce, false, 0).unwrap();
    let Delivery::AtLeastOnce(pid) = p.delivery else {
        panic!("QoS 1 publish without id: {p:?}");
    };
    let r = s.handle_packet(Packet::PubAck(pid), 0).unwrap();
    assert_eq!(r.event, Some(Event::Published(pid)));
    pid
}

fn next_qos1_id<const N: usize, const S: usize>(s: &mut Session<N, S>) -> PacketId {
    s.publish(topic("t"), b"x", QoS::AtLeastOnce, false, 0)
        .unwrap()
        .delivery
        .packet_id()
        .unwrap()
}

fn unwrap_publish(p: Packet<'_>) -> Publish<'_> {
    match p {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

const SUBACK_Q1: [SubAckReturnCode; 1] = [SubAckReturnCode::Success(QoS::AtLeastOnce)];

fn suback(n: u16, codes: &[SubAckReturnCode]) -> Packet<'_> {
    Packet::SubAck(SubAck {
        packet_id: id(n),
        codes: Entries::new(codes),
    })
}

// ---------------------------------------------------------------------------------------------
// CONNECT / CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn first_packet_is_the_connect_passed_in_mqtt_3_1_0_1() {
    let mut s: Session = Session::new();
    assert_eq!(s.phase(), Phase::Disconnected);
    let c = connect_packet(true, 60);
    assert_eq!(s.connect(c, 0), Ok(Packet::Connect(c)));
    assert_eq!(s.phase(), Phase::Connecting);
}

#[test]
fn second_connect_is_already_connected_mqtt_3_1_0_2() {
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, 60), 0).unwrap();
    assert_eq!(
        s.connect(connect_packet(true, 60), 1),
        Err(ProtocolError::AlreadyConnected)
    );
    assert_eq!(s.phase(), Phase::Connecting);
    let _ = s.handle_packet(accepted(), 2).unwrap();
    assert_eq!(
        s.connect(connect_packet(true, 60), 3),
        Err(ProtocolError::AlreadyConnected)
    );
    assert_eq!(s.phase(), Phase::Connected);
}

#[test]
fn commands_before_connack_are_not_connected() {
    let subs = [Subscription {
        filter: filter("a/#"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("a/#")];
    // Never connected, then CONNECT sent but no CONNACK yet.
    for connecting in [false, true] {
        let mut s: Session = Session::new();
        if connecting {
            let _ = s.connect(connect_packet(true, 60), 0).unwrap();
        }
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            assert_eq!(
                s.publish(topic("t"), b"x", qos, false, 1),
                Err(ProtocolError::NotConnected)
            );
        }
        assert_eq!(s.subscribe(&subs, 1), Err(ProtocolError::NotConnected));
        assert_eq!(s.unsubscribe(&unsubs, 1), Err(ProtocolError::NotConnected));
        assert_eq!(s.ping(1), Err(ProtocolError::NotConnected));
        assert_eq!(s.disconnect(), Err(ProtocolError::NotConnected));
        assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
    }
}

#[test]
fn any_packet_before_connack_is_unexpected_packet_mqtt_3_2_0_1() {
    let subs = [Subscription {
        filter: filter("a"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("a")];
    let early = [
        incoming_publish(Delivery::AtMostOnce, false),
        incoming_publish(Delivery::AtLeastOnce(id(1)), false),
        incoming_publish(Delivery::ExactlyOnce(id(1)), false),
        Packet::PubAck(id(1)),
        Packet::PubRec(id(1)),
        Packet::PubRel(id(1)),
        Packet::PubComp(id(1)),
        suback(1, &SUBACK_Q1),
        Packet::UnsubAck(id(1)),
        Packet::PingResp,
        Packet::PingReq,
        Packet::Disconnect,
        Packet::Connect(connect_packet(true, 0)),
        Packet::Subscribe(Subscribe {
            packet_id: id(1),
            topics: Entries::new(&subs),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(1),
            topics: Entries::new(&unsubs),
        }),
    ];
    for packet in early {
        let mut s: Session = Session::new();
        let _ = s.connect(connect_packet(true, 60), 0).unwrap();
        assert_eq!(
            s.handle_packet(packet, 1),
            Err(ProtocolError::UnexpectedPacket(packet.packet_type())),
            "{packet:?} before CONNACK"
        );
        assert_ne!(s.phase(), Phase::Connected);
    }
}

#[test]
fn any_packet_while_disconnected_is_unexpected_packet() {
    for packet in [accepted(), Packet::PingResp, Packet::PubAck(id(1))] {
        let mut s: Session = Session::new();
        assert_eq!(
            s.handle_packet(packet, 0),
            Err(ProtocolError::UnexpectedPacket(packet.packet_type()))
        );
        assert_eq!(s.phase(), Phase::Disconnected);
    }
}

#[test]
fn connack_accepted_gives_connected_event_and_no_reply() {
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, 60), 0).unwrap();
    assert_eq!(
        s.handle_packet(accepted(), 5),
        Ok(event(Event::Connected {
            session_present: false
        }))
    );
    assert_eq!(s.phase(), Phase::Connected);
}

#[test]
fn connack_refusal_codes_1_to_5_give_connection_refused_and_disconnect_mqtt_3_2_2_5() {
    use ConnectReturnCode::*;
    for code in [
        UnacceptableProtocolVersion, // [MQTT-3.1.2-2]: rc 1 is reported as such
        IdentifierRejected,
        ServerUnavailable,
        BadUserNameOrPassword,
        NotAuthorized,
    ] {
        let mut s: Session = Session::new();
        let _ = s.connect(connect_packet(true, 60), 0).unwrap();
        assert_eq!(
            s.handle_packet(connack(false, code), 1),
            Err(ProtocolError::ConnectionRefused(code))
        );
        assert_eq!(s.phase(), Phase::Disconnected, "{code:?}");
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(
            s.publish(topic("t"), b"", QoS::AtMostOnce, false, 2),
            Err(ProtocolError::NotConnected)
        );
        // The session can try again.
        assert!(s.connect(connect_packet(true, 60), 3).is_ok());
    }
}

#[test]
fn session_present_on_clean_session_is_protocol_error_mqtt_3_2_2_1() {
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, 60), 0).unwrap();
    assert_eq!(
        s.handle_packet(connack(true, ConnectReturnCode::Accepted), 1),
        Err(ProtocolError::SessionPresentOnCleanSession)
    );
    assert_ne!(s.phase(), Phase::Connected);
}

#[test]
fn session_present_is_reported_when_resuming_a_session_mqtt_3_1_2_4() {
    for sp in [false, true] {
        let mut s: Session = Session::new();
        let _ = s.connect(connect_packet(false, 60), 0).unwrap();
        assert_eq!(
            s.handle_packet(connack(sp, ConnectReturnCode::Accepted), 1),
            Ok(event(Event::Connected { session_present: sp }))
        );
    }
}

#[test]
fn second_connack_is_unexpected_packet() {
    let mut s: Session = connected(60, 0);
    assert_eq!(
        s.handle_packet(accepted(), 1),
        Err(ProtocolError::UnexpectedPacket(PacketType::ConnAck))
    );
}

#[test]
fn client_only_packets_from_server_are_unexpected_packet() {
    let subs = [Subscription {
        filter: filter("a"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("a")];
    let packets = [
        Packet::Connect(connect_packet(true, 0)),
        Packet::Subscribe(Subscribe {
            packet_id: id(1),
            topics: Entries::new(&subs),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: id(1),
            topics: Entries::new(&unsubs),
        }),
        Packet::PingReq,
        Packet::Disconnect,
    ];
    for packet in packets {
        let mut s: Session = connected(60, 0);
        assert_eq!(
            s.handle_packet(packet, 1),
            Err(ProtocolError::UnexpectedPacket(packet.packet_type())),
            "{packet:?}"
        );
    }
}

#[test]
fn connack_overdue_is_connack_timeout() {
    let mut s: Session = Session::new();
    assert_eq!(s.poll_timeout(), None);
    let _ = s.connect(connect_packet(true, 5), 1_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(1_000 + DEFAULT_RESPONSE_TIMEOUT_MS));
    assert_eq!(
        s.handle_timeout(1_000 + DEFAULT_RESPONSE_TIMEOUT_MS - 1),
        Ok(None)
    );
    assert_eq!(
        s.handle_timeout(1_000 + DEFAULT_RESPONSE_TIMEOUT_MS),
        Err(ProtocolError::ConnAckTimeout)
    );

    let mut s: Session = Session::new();
    s.set_response_timeout(2_500);
    let _ = s.connect(connect_packet(true, 1), 100).unwrap();
    // Keep-alive (1 s) does not apply before CONNACK: no PINGREQ while connecting.
    assert_eq!(s.poll_timeout(), Some(2_600));
    assert_eq!(s.handle_timeout(1_100), Ok(None));
    assert_eq!(s.handle_timeout(2_599), Ok(None));
    assert_eq!(s.handle_timeout(2_600), Err(ProtocolError::ConnAckTimeout));
}

// ---------------------------------------------------------------------------------------------
// packet identifiers
// ---------------------------------------------------------------------------------------------

#[test]
fn packet_ids_start_at_1_and_are_shared_by_publish_subscribe_unsubscribe_mqtt_2_3_1_2() {
    let mut s: Session = connected(0, 0);
    let subs = [Subscription {
        filter: filter("a/+"),
        qos: QoS::ExactlyOnce,
    }];
    let unsubs = [filter("a/+")];
    assert_eq!(next_qos1_id(&mut s), id(1));
    let Packet::Subscribe(sub) = s.subscribe(&subs, 0).unwrap() else {
        panic!("not a SUBSCRIBE")
    };
    assert_eq!(sub.packet_id, id(2));
    let Packet::Unsubscribe(unsub) = s.unsubscribe(&unsubs, 0).unwrap() else {
        panic!("not an UNSUBSCRIBE")
    };
    assert_eq!(unsub.packet_id, id(3));
    let p = s.publish(topic("t"), b"", QoS::ExactlyOnce, false, 0).unwrap();
    assert_eq!(p.delivery, Delivery::ExactlyOnce(id(4)));
    assert_eq!(s.inflight(), 4);
}

#[test]
fn packet_id_wraps_from_65535_to_1_and_is_never_0_mqtt_2_3_1_2() {
    let mut s: Session<2, 64> = connected(0, 0);
    for expected in 1..=u16::MAX {
        assert_eq!(qos1_cycle(&mut s).get(), expected);
    }
    assert_eq!(qos1_cycle(&mut s), id(1));
    assert_eq!(qos1_cycle(&mut s), id(2));
    assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
}

#[test]
fn packet_id_allocation_skips_ids_in_flight_mqtt_2_3_1_2() {
    let mut s: Session<4, 256> = connected(0, 0);
    // Ids 1 and 2 stay unacknowledged for the whole test.
    assert_eq!(next_qos1_id(&mut s), id(1));
    let subs = [Subscription {
        filter: filter("x"),
        qos: QoS::AtMostOnce,
    }];
    let Packet::Subscribe(sub) = s.subscribe(&subs, 0).unwrap() else {
        panic!()
    };
    assert_eq!(sub.packet_id, id(2));
    for expected in 3..=u16::MAX {
        assert_eq!(qos1_cycle(&mut s).get(), expected);
    }
    // Wrapped: 1 and 2 are in use, so the next id is 3.
    assert_eq!(qos1_cycle(&mut s), id(3));
    assert!(s.is_pending(id(1)) && s.is_pending(id(2)));
}

#[test]
fn packet_id_is_reused_only_after_the_final_ack_mqtt_2_3_1_3() {
    let mut s: Session<2, 256> = connected(0, 0);
    let p = s
        .publish(topic("q2"), b"once", QoS::ExactlyOnce, false, 0)
        .unwrap();
    assert_eq!(p.delivery, Delivery::ExactlyOnce(id(1)));
    // PUBREC is not the final ack for QoS 2: id 1 stays in use.
    assert_eq!(
        s.handle_packet(Packet::PubRec(id(1)), 0),
        Ok(reply(Packet::PubRel(id(1))))
    );
    assert!(s.is_pending(id(1)));
    for expected in 2..=u16::MAX {
        assert_eq!(qos1_cycle(&mut s).get(), expected);
    }
    assert_eq!(
        qos1_cycle(&mut s),
        id(2),
        "id 1 awaits PUBCOMP and must be skipped"
    );
    // PUBCOMP frees it.
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(1)), 0),
        Ok(event(Event::Published(id(1))))
    );
    assert!(!s.is_pending(id(1)));
    for expected in 3..=u16::MAX {
        assert_eq!(qos1_cycle(&mut s).get(), expected);
    }
    assert_eq!(qos1_cycle(&mut s), id(1));
}

// ---------------------------------------------------------------------------------------------
// outgoing PUBLISH
// ---------------------------------------------------------------------------------------------

#[test]
fn qos0_publish_has_no_id_dup_0_and_is_not_stored_mqtt_4_3_1_1() {
    let mut s: Session = connected(0, 0);
    for retain in [false, true] {
        let p = s
            .publish(topic("t/0"), b"zero", QoS::AtMostOnce, retain, 0)
            .unwrap();
        assert_eq!(p.delivery, Delivery::AtMostOnce);
        assert!(!p.dup);
        assert_eq!(p.retain, retain);
        assert_eq!((p.topic.as_str(), p.payload), ("t/0", &b"zero"[..]));
        let mut buf = [0u8; 32];
        let n = Packet::Publish(p).encode(&mut buf).unwrap();
        assert_eq!(buf[0], 0x30 | u8::from(retain));
        assert_eq!(&buf[2..n], b"\x00\x03t/0zero", "no packet id field");
    }
    assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
    assert_eq!(s.resend().count(), 0);
    // QoS 0 consumed no identifier.
    assert_eq!(next_qos1_id(&mut s), id(1));
}

#[test]
fn qos1_publish_is_stored_until_puback_then_published_mqtt_4_3_2_1() {
    let mut s: Session = connected(0, 0);
    let p = s
        .publish(topic("t/1"), b"one", QoS::AtLeastOnce, true, 0)
        .unwrap();
    assert_eq!(p.delivery, Delivery::AtLeastOnce(id(1)));
    assert!(!p.dup, "first transmission has DUP=0");
    assert!(p.retain);
    assert!(s.is_pending(id(1)));
    assert_eq!(s.inflight(), 1);
    assert_eq!(s.stored_bytes(), Packet::Publish(p).encoded_len());
    assert_eq!(
        s.handle_packet(Packet::PubAck(id(1)), 1),
        Ok(event(Event::Published(id(1))))
    );
    assert!(!s.is_pending(id(1)));
    assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
}

#[test]
fn puback_for_unknown_id_is_protocol_error_mqtt_2_3_1_6() {
    let mut s: Session = connected(0, 0);
    assert_eq!(
        s.handle_packet(Packet::PubAck(id(7)), 0),
        Err(ProtocolError::UnknownPacketId(PacketType::PubAck, id(7)))
    );
    // A second PUBACK for a completed id is unknown too.
    let pid = qos1_cycle(&mut s);
    assert_eq!(
        s.handle_packet(Packet::PubAck(pid), 0),
        Err(ProtocolError::UnknownPacketId(PacketType::PubAck, pid))
    );
}

#[test]
fn acks_of_the_wrong_kind_are_unknown_packet_id_mqtt_2_3_1_6() {
    let mut s: Session = connected(0, 0);
    let q1 = next_qos1_id(&mut s);
    let q2 = s
        .publish(topic("t"), b"", QoS::ExactlyOnce, false, 0)
        .unwrap()
        .delivery
        .packet_id()
        .unwrap();
    let subs = [Subscription {
        filter: filter("f"),
        qos: QoS::AtMostOnce,
    }];
    let Packet::Subscribe(sub) = s.subscribe(&subs, 0).unwrap() else {
        panic!()
    };
    let cases = [
        (Packet::PubRec(q1), PacketType::PubRec, q1), // QoS 1 gets PUBACK, not PUBREC
        (Packet::PubComp(q1), PacketType::PubComp, q1), // nor PUBCOMP
        (Packet::PubAck(q2), PacketType::PubAck, q2), // QoS 2 never gets PUBACK
        (Packet::PubComp(q2), PacketType::PubComp, q2), // PUBCOMP before PUBREC
        (Packet::PubAck(sub.packet_id), PacketType::PubAck, sub.packet_id),
        (
            Packet::UnsubAck(sub.packet_id),
            PacketType::UnsubAck,
            sub.packet_id,
        ),
    ];
    for (packet, ptype, pid) in cases {
        assert_eq!(
            s.handle_packet(packet, 0),
            Err(ProtocolError::UnknownPacketId(ptype, pid)),
            "{packet:?}"
        );
    }
    assert_eq!(s.inflight(), 3, "rejected acks change nothing");
}

#[test]
fn qos2_publish_pubrec_replies_pubrel_and_pubcomp_completes_mqtt_4_3_3_1() {
    let mut s: Session = connected(0, 0);
    let p = s
        .publish(topic("t/2"), b"two", QoS::ExactlyOnce, false, 0)
        .unwrap();
    assert_eq!(p.delivery, Delivery::ExactlyOnce(id(1)));
    assert!(!p.dup);
    assert_eq!(s.stored_bytes(), Packet::Publish(p).encoded_len());
    // PUBREC: reply PUBREL with the same id; the PUBLISH bytes are released.
    assert_eq!(
        s.handle_packet(Packet::PubRec(id(1)), 1),
        Ok(reply(Packet::PubRel(id(1))))
    );
    assert!(s.is_pending(id(1)));
    assert_eq!((s.inflight(), s.stored_bytes()), (1, 0));
    // From now on only PUBREL may be re-sent, never the PUBLISH.
    assert_eq!(s.resend().collect::<Vec<_>>(), [Packet::PubRel(id(1))]);
    // PUBCOMP completes.
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(1)), 2),
        Ok(event(Event::Published(id(1))))
    );
    assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(1)), 3),
        Err(ProtocolError::UnknownPacketId(PacketType::PubComp, id(1)))
    );
}

#[test]
fn publish_is_never_resent_after_pubrel_mqtt_4_3_3_1() {
    let mut s: Session = connected(0, 0);
    let _ = s.publish(topic("t"), b"a", QoS::ExactlyOnce, false, 0).unwrap();
    let _ = s.handle_packet(Packet::PubRec(id(1)), 0).unwrap();
    resume(&mut s, 10);
    let resent: Vec<_> = s.resend().collect();
    assert_eq!(resent, [Packet::PubRel(id(1))]);
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(1)), 11),
        Ok(event(Event::Published(id(1))))
    );
}

#[test]
fn duplicate_pubrec_gets_pubrel_again() {
    let mut s: Session = connected(0, 0);
    let _ = s.publish(topic("t"), b"a", QoS::ExactlyOnce, false, 0).unwrap();
    for _ in 0..3 {
        assert_eq!(
            s.handle_packet(Packet::PubRec(id(1)), 1),
            Ok(reply(Packet::PubRel(id(1))))
        );
        assert_eq!((s.inflight(), s.stored_bytes()), (1, 0));
    }
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(1)), 2),
        Ok(event(Event::Published(id(1))))
    );
}

#[test]
fn pubrels_are_sent_in_the_order_pubrecs_arrive_mqtt_4_6_0_4() {
    let mut s: Session = connected(0, 0);
    for _ in 0..3 {
        let _ = s.publish(topic("t"), b"a", QoS::ExactlyOnce, false, 0).unwrap();
    }
    for n in [2, 3, 1] {
        assert_eq!(
            s.handle_packet(Packet::PubRec(id(n)), 0),
            Ok(reply(Packet::PubRel(id(n))))
        );
    }
    assert_eq!(s.stored_bytes(), 0);
}

#[test]
fn acks_out_of_order_release_the_right_stored_message() {
    let mut s: Session<8, 1024> = connected(0, 0);
    let payloads: [&[u8]; 4] = [b"first", b"second-longer", b"3", b"fourth"];
    for p in payloads {
        let _ = s.publish(topic("t/x"), p, QoS::AtLeastOnce, false, 0).unwrap();
    }
    let _ = s.handle_packet(Packet::PubAck(id(2)), 0).unwrap();
    let _ = s.handle_packet(Packet::PubAck(id(1)), 0).unwrap();
    resume(&mut s, 1);
    let resent: Vec<_> = s.resend().map(unwrap_publish).collect();
    assert_eq!(resent.len(), 2);
    assert_eq!(
        (resent[0].delivery, resent[0].payload),
        (Delivery::AtLeastOnce(id(3)), &b"3"[..])
    );
    assert_eq!(
        (resent[1].delivery, resent[1].payload),
        (Delivery::AtLeastOnce(id(4)), &b"fourth"[..])
    );
}

#[test]
fn inflight_full_is_reported_before_anything_is_sent() {
    let mut s: Session<2, 1024> = connected(30, 0);
    let _ = s.publish(topic("t"), b"a", QoS::AtLeastOnce, false, 0).unwrap();
    let _ = s.publish(topic("t"), b"b", QoS::ExactlyOnce, false, 0).unwrap();
    let stored = s.stored_bytes();
    let deadline = s.poll_timeout();
    let subs = [Subscription {
        filter: filter("f"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("f")];
    // Calls at a later `now` must not count as a send either.
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_eq!(
            s.publish(topic("t"), b"c", qos, false, 5_000),
            Err(ProtocolError::InflightFull)
        );
    }
    assert_eq!(s.subscribe(&subs, 5_000), Err(ProtocolError::InflightFull));
    assert_eq!(s.unsubscribe(&unsubs, 5_000), Err(ProtocolError::InflightFull));
    assert_eq!((s.inflight(), s.stored_bytes()), (2, stored));
    assert_eq!(s.poll_timeout(), deadline);
    assert_eq!(s.resend().count(), 2);
    // QoS 0 needs no slot.
    assert!(s.publish(topic("t"), b"d", QoS::AtMostOnce, false, 5_000).is_ok());
    // Once a slot is free, the next id is 3.
    let _ = s.handle_packet(Packet::PubAck(id(1)), 6_000).unwrap();
    assert_eq!(next_qos1_id(&mut s), id(3));
}

#[test]
fn oversized_message_is_store_full_with_state_unchanged() {
    let mut s: Session<4, 64> = connected(30, 0);
    let big = [0xAA_u8; 100];
    let needed = Packet::Publish(Publish::new(
        topic("t"),
        &big,
        Delivery::AtLeastOnce(id(1)),
        false,
    ))
    .encoded_len();
    assert_eq!(
        s.publish(topic("t"), &big, QoS::AtLeastOnce, false, 1_000),
        Err(ProtocolError::StoreFull { needed })
    );
    assert_eq!((s.inflight(), s.stored_bytes()), (0, 0));
    assert_eq!(s.poll_timeout(), Some(30_000), "a refused command is not a send");

    // With part of the store in use, a message that does not fit in the rest is refused too.
    let small = s
        .publish(topic("t"), &big[..40], QoS::ExactlyOnce, false, 0)
        .unwrap();
    let used = s.stored_bytes();
    assert_eq!(used, Packet::Publish(small).encoded_len());
    assert!(matches!(
        s.publish(topic("t"), &big[..30], QoS::AtLeastOnce, false, 0),
        Err(ProtocolError::StoreFull { .. })
    ));
    assert_eq!((s.inflight(), s.stored_bytes()), (1, used));
    assert_eq!(s.resend().count(), 1);
    // Exactly the remaining space fits.
    let fits = 64
        - used
        - (Packet::Publish(Publish::new(topic("t"), b"", Delivery::AtLeastOnce(id(1)), false)).encoded_len());
    assert!(
        s.publish(topic("t"), &big[..fits], QoS::AtLeastOnce, false, 0)
            .is_ok()
    );
    assert_eq!(s.stored_bytes(), 64);
}

#[test]
fn store_full_does_not_consume_a_packet_id() {
    let mut s: Session<4, 32> = connected(0, 0);
    let big = [0u8; 64];
    assert!(matches!(
        s.publish(topic("t"), &big, QoS::AtLeastOnce, false, 0),
        Err(ProtocolError::StoreFull { .. })
    ));
    assert_eq!(next_qos1_id(&mut s), id(1));
}

#[test]
fn empty_subscribe_or_unsubscribe_is_refused_without_using_an_id_mqtt_3_8_3_3_mqtt_3_10_3_2() {
    let mut s: Session = connected(0, 0);
    assert_eq!(
        s.subscribe(&[], 0),
        Err(ProtocolError::Encode(EncodeError::EmptyPayload))
    );
    assert_eq!(
        s.unsubscribe(&[], 0),
        Err(ProtocolError::Encode(EncodeError::EmptyPayload))
    );
    assert_eq!(s.inflight(), 0);
    assert_eq!(next_qos1_id(&mut s), id(1));
}

// ---------------------------------------------------------------------------------------------
// incoming PUBLISH
// ---------------------------------------------------------------------------------------------

#[test]
fn qos0_publish_in_is_delivered_without_reply_mqtt_3_3_4_1() {
    let mut s: Session = connected(0, 0);
    let p = incoming_publish(Delivery::AtMostOnce, false);
    let Packet::Publish(publish) = p else {
        unreachable!()
    };
    assert_eq!(s.handle_packet(p, 0), Ok(event(Event::Message(publish))));
}

#[test]
fn qos1_publish_in_is_delivered_and_acked_with_same_id_mqtt_4_3_2_2_mqtt_2_3_1_6() {
    let mut s: Session = connected(0, 0);
    for n in [1, 4242, u16::MAX] {
        let p = incoming_publish(Delivery::AtLeastOnce(id(n)), false);
        let Packet::Publish(publish) = p else {
            unreachable!()
        };
        assert_eq!(
            s.handle_packet(p, 0),
            Ok(Incoming {
                event: Some(Event::Message(publish)),
                reply: Some(Packet::PubAck(id(n))),
            })
        );
    }
    // After PUBACK the same id (even with DUP=1) is a new message: delivered and acked again.
    let p = incoming_publish(Delivery::AtLeastOnce(id(1)), true);
    let r = s.handle_packet(p, 0).unwrap();
    assert!(matches!(r.event, Some(Event::Message(m)) if m.dup));
    assert_eq!(r.reply, Some(Packet::PubAck(id(1))));
    // Incoming ids are independent of the client's own ids.
    assert_eq!((s.inflight(), s.incoming_qos2()), (0, 0));
    assert_eq!(next_qos1_id(&mut s), id(1));
}

#[test]
fn qos2_publish_in_is_delivered_once_until_pubrel_mqtt_4_3_3_2() {
    let mut s: Session = connected(0, 0);
    let first = incoming_publish(Delivery::ExactlyOnce(id(9)), false);
    let Packet::Publish(publish) = first else {
        unreachable!()
    };
    assert_eq!(
        s.handle_packet(first, 0),
        Ok(Incoming {
            event: Some(Event::Message(publish)),
            reply: Some(Packet::PubRec(id(9))),
        })
    );
    assert_eq!(s.incoming_qos2(), 1);
    // The server re-sends it (DUP=1): PUBREC again, but no second delivery.
    let dup = incoming_publish(Delivery::ExactlyOnce(id(9)), true);
    for _ in 0..2 {
        assert_eq!(s.handle_packet(dup, 1), Ok(reply(Packet::PubRec(id(9)))));
    }
    assert_eq!(s.incoming_qos2(), 1);
    // PUBREL -> PUBCOMP with the same id, and the id is released.
    assert_eq!(
        s.handle_packet(Packet::PubRel(id(9)), 2),
        Ok(reply(Packet::PubComp(id(9))))
    );
    assert_eq!(s.incoming_qos2(), 0);
    // Now the same id starts a new message.
    let r = s.handle_packet(first, 3).unwrap();
    assert_eq!(r.event, Some(Event::Message(publish)));
    assert_eq!(r.reply, Some(Packet::PubRec(id(9))));
}

#[test]
fn pubrel_for_unknown_id_still_gets_pubcomp_mqtt_4_3_3_2() {
    let mut s: Session = connected(0, 0);
    assert_eq!(
        s.handle_packet(Packet::PubRel(id(77)), 0),
        Ok(reply(Packet::PubComp(id(77))))
    );
    assert_eq!(s.incoming_qos2(), 0);
}

/// With every slot for unreleased QoS 2 ids in use, a new QoS 2 message is neither
/// delivered nor acknowledged (the server keeps it and re-sends it after a reconnect), and
/// the session says so; the connection is not failed.
#[test]
fn incoming_qos2_table_full_defers_the_message() {
    let mut s: Session<2, 64> = connected(0, 0);
    for n in [1, 2] {
        let r = s
            .handle_packet(incoming_publish(Delivery::ExactlyOnce(id(n)), false), 0)
            .unwrap();
        assert_eq!(r.reply, Some(Packet::PubRec(id(n))));
    }
    assert!(!s.qos2_deferred());
    assert_eq!(
        s.handle_packet(incoming_publish(Delivery::ExactlyOnce(id(3)), false), 0),
        Ok(Incoming {
            event: None,
            reply: None
        })
    );
    assert!(s.qos2_deferred());
    assert_eq!(s.incoming_qos2(), 2);
    // A repeat of a tracked id is still answered (it needs no new slot).
    assert_eq!(
        s.handle_packet(incoming_publish(Delivery::ExactlyOnce(id(1)), true), 0),
        Ok(reply(Packet::PubRec(id(1))))
    );
    // QoS 0/1 need no slot.
    assert!(
        s.handle_packet(incoming_publish(Delivery::AtLeastOnce(id(3)), false), 0)
            .is_ok()
    );
    // After a PUBREL frees a slot, a new QoS 2 message fits.
    let _ = s.handle_packet(Packet::PubRel(id(1)), 0).unwrap();
    let r = s
        .handle_packet(incoming_publish(Delivery::ExactlyOnce(id(3)), false), 0)
        .unwrap();
    assert!(matches!(r.event, Some(Event::Message(_))));
}

#[test]
fn acks_are_sent_in_arrival_order_mqtt_4_6_0_2_mqtt_4_6_0_3() {
    let mut s: Session = connected(0, 0);
    let arrivals = [
        Delivery::AtLeastOnce(id(5)),
        Delivery::ExactlyOnce(id(4)),
        Delivery::AtLeastOnce(id(3)),
        Delivery::ExactlyOnce(id(2)),
        Delivery::AtLeastOnce(id(9)),
        Delivery::ExactlyOnce(id(1)),
    ];
    let replies: Vec<_> = arrivals
        .iter()
        .map(|&d| {
            s.handle_packet(incoming_publish(d, false), 0)
                .unwrap()
                .reply
                .unwrap()
        })
        .collect();
    assert_eq!(
        replies,
        [
            Packet::PubAck(id(5)),
            Packet::PubRec(id(4)),
            Packet::PubAck(id(3)),
            Packet::PubRec(id(2)),
            Packet::PubAck(id(9)),
            Packet::PubRec(id(1)),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE
// ---------------------------------------------------------------------------------------------

#[test]
fn suback_completes_subscribe_with_codes_in_order_mqtt_2_3_1_7() {
    let mut s: Session = connected(0, 0);
    let subs = [
        Subscription {
            filter: filter("a/#"),
            qos: QoS::ExactlyOnce,
        },
        Subscription {
            filter: filter("b/+"),
            qos: QoS::AtLeastOnce,
        },
    ];
    let packet = s.subscribe(&subs, 0).unwrap();
    assert_eq!(
        packet,
        Packet::Subscribe(Subscribe {
            packet_id: id(1),
            topics: Entries::new(&subs),
        })
    );
    let codes = [
        SubAckReturnCode::Success(QoS::AtLeastOnce),
        SubAckReturnCode::Failure,
    ];
    let r = s.handle_packet(suback(1, &codes), 0).unwrap();
    assert_eq!(r.reply, None);
    let Some(Event::Subscribed {
        packet_id,
        codes: got,
    }) = r.event
    else {
        panic!("{r:?}")
    };
    assert_eq!(packet_id, id(1));
    assert_eq!(got.iter().collect::<Vec<_>>(), codes);
    assert_eq!(s.inflight(), 0);
}

#[test]
fn suback_with_wrong_number_of_codes_is_count_mismatch() {
    let subs = [
        Subscription {
            filter: filter("a"),
            qos: QoS::AtMostOnce,
        },
        Subscription {
            filter: filter("b"),
            qos: QoS::AtMostOnce,
        },
    ];
    let three = [SubAckReturnCode::Success(QoS::AtMostOnce); 3];
    for (codes, received) in [(&three[..1], 1), (&three[..], 3)] {
        let mut s: Session = connected(0, 0);
        let _ = s.subscribe(&subs, 0).unwrap();
        assert_eq!(
            s.handle_packet(suback(1, codes), 0),
            Err(ProtocolError::SubAckCountMismatch {
                expected: 2,
                received
            })
        );
    }
}

#[test]
fn suback_for_unknown_id_is_protocol_error_mqtt_2_3_1_7() {
    let mut s: Session = connected(0, 0);
    assert_eq!(
        s.handle_packet(suback(3, &SUBACK_Q1), 0),
        Err(ProtocolError::UnknownPacketId(PacketType::SubAck, id(3)))
    );
    // SUBACK answering an UNSUBSCRIBE or a PUBLISH id is unknown as well.
    let unsubs = [filter("u")];
    let _ = s.unsubscribe(&unsubs, 0).unwrap();
    let q1 = next_qos1_id(&mut s);
    for n in [1, q1.get()] {
        assert_eq!(
            s.handle_packet(suback(n, &SUBACK_Q1), 0),
            Err(ProtocolError::UnknownPacketId(PacketType::SubAck, id(n)))
        );
    }
    assert_eq!(s.inflight(), 2);
}

#[test]
fn unsuback_completes_unsubscribe_and_unknown_id_is_protocol_error_mqtt_2_3_1_7() {
    let mut s: Session = connected(0, 0);
    let unsubs = [filter("a/+"), filter("b")];
    assert_eq!(
        s.unsubscribe(&unsubs, 0),
        Ok(Packet::Unsubscribe(Unsubscribe {
            packet_id: id(1),
            topics: Entries::new(&unsubs),
        }))
    );
    assert_eq!(
        s.handle_packet(Packet::UnsubAck(id(2)), 0),
        Err(ProtocolError::UnknownPacketId(PacketType::UnsubAck, id(2)))
    );
    assert_eq!(
        s.handle_packet(Packet::UnsubAck(id(1)), 0),
        Ok(event(Event::Unsubscribed(id(1))))
    );
    assert_eq!(s.inflight(), 0);
    assert_eq!(
        s.handle_packet(Packet::UnsubAck(id(1)), 0),
        Err(ProtocolError::UnknownPacketId(PacketType::UnsubAck, id(1)))
    );
}

// ---------------------------------------------------------------------------------------------
// keep-alive and timeouts
// ---------------------------------------------------------------------------------------------

#[test]
fn pingreq_exactly_at_keep_alive_deadline_not_before_mqtt_3_1_2_23() {
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, 60), 1_000).unwrap();
    // Receiving CONNACK later is not a send: keep-alive counts from the CONNECT.
    let _ = s.handle_packet(accepted(), 1_500).unwrap();
    assert_eq!(s.poll_timeout(), Some(61_000));
    assert_eq!(s.handle_timeout(1_500), Ok(None));
    assert_eq!(s.handle_timeout(60_999), Ok(None));
    assert_eq!(s.handle_timeout(61_000), Ok(Some(Packet::PingReq)));
    // Now waiting for PINGRESP within the response timeout (shorter than the keep-alive).
    assert_eq!(s.poll_timeout(), Some(61_000 + DEFAULT_RESPONSE_TIMEOUT_MS));
}

#[test]
fn late_timer_call_still_sends_pingreq() {
    let mut s: Session = connected(60, 0);
    assert_eq!(s.handle_timeout(100_000), Ok(Some(Packet::PingReq)));
    assert_eq!(s.poll_timeout(), Some(100_000 + DEFAULT_RESPONSE_TIMEOUT_MS));
}

#[test]
fn sending_anything_postpones_the_ping_mqtt_3_1_2_23() {
    let mut s: Session = connected(10, 0);
    let subs = [Subscription {
        filter: filter("f"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("f")];
    assert_eq!(s.poll_timeout(), Some(10_000));
    let _ = s.publish(topic("t"), b"", QoS::AtMostOnce, false, 2_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(12_000));
    let _ = s
        .publish(topic("t"), b"", QoS::AtLeastOnce, false, 3_000)
        .unwrap();
    assert_eq!(s.poll_timeout(), Some(13_000));
    let _ = s.subscribe(&subs, 4_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(14_000));
    let _ = s.unsubscribe(&unsubs, 5_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(15_000));
    // A reply to an incoming packet is a send.
    let r = s
        .handle_packet(incoming_publish(Delivery::AtLeastOnce(id(8)), false), 6_000)
        .unwrap();
    assert!(r.reply.is_some());
    assert_eq!(s.poll_timeout(), Some(16_000));
    let _ = s.handle_packet(Packet::PubRel(id(8)), 7_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(17_000));
    // mark_sent (used after resend) counts as well.
    s.mark_sent(8_000);
    assert_eq!(s.poll_timeout(), Some(18_000));
    assert_eq!(s.handle_timeout(17_999), Ok(None));
    assert_eq!(s.handle_timeout(18_000), Ok(Some(Packet::PingReq)));
}

#[test]
fn receiving_without_replying_does_not_postpone_the_ping() {
    let mut s: Session = connected(10, 0);
    let _ = s
        .publish(topic("t"), b"", QoS::AtLeastOnce, false, 1_000)
        .unwrap();
    // Packets that need no reply: QoS 0 message, PUBACK, SUBACK, PINGRESP.
    let _ = s
        .handle_packet(incoming_publish(Delivery::AtMostOnce, false), 5_000)
        .unwrap();
    let _ = s.handle_packet(Packet::PubAck(id(1)), 6_000).unwrap();
    let _ = s.handle_packet(Packet::PingResp, 7_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(11_000));
    assert_eq!(s.handle_timeout(11_000), Ok(Some(Packet::PingReq)));
}

#[test]
fn keep_alive_0_disables_pings() {
    let mut s: Session = connected(0, 0);
    assert_eq!(s.poll_timeout(), None);
    for now in [0, 65_535_000, u64::MAX] {
        assert_eq!(s.handle_timeout(now), Ok(None));
    }
    // An explicit ping still works and is timed.
    assert_eq!(s.ping(100), Ok(Packet::PingReq));
    assert_eq!(s.poll_timeout(), Some(100 + DEFAULT_RESPONSE_TIMEOUT_MS));
    assert_eq!(s.handle_packet(Packet::PingResp, 200), Ok(event(Event::Pong)));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn pingresp_clears_the_outstanding_ping() {
    let mut s: Session = connected(10, 0);
    assert_eq!(s.handle_timeout(10_000), Ok(Some(Packet::PingReq)));
    assert_eq!(s.handle_packet(Packet::PingResp, 12_000), Ok(event(Event::Pong)));
    // Back to the keep-alive schedule, counted from the PINGREQ.
    assert_eq!(s.poll_timeout(), Some(20_000));
    assert_eq!(s.handle_timeout(19_999), Ok(None));
    assert_eq!(s.handle_timeout(20_000), Ok(Some(Packet::PingReq)));
}

#[test]
fn pingresp_overdue_is_ping_timeout() {
    let mut s: Session = connected(60, 0);
    s.set_response_timeout(5_000);
    assert_eq!(s.handle_timeout(60_000), Ok(Some(Packet::PingReq)));
    assert_eq!(s.poll_timeout(), Some(65_000));
    assert_eq!(s.handle_timeout(64_999), Ok(None));
    assert_eq!(s.handle_timeout(65_000), Err(ProtocolError::PingTimeout));

    // Same for a PINGREQ the application sent itself.
    let mut s: Session = connected(0, 0);
    let _ = s.ping(1_000).unwrap();
    assert_eq!(
        s.handle_timeout(1_000 + DEFAULT_RESPONSE_TIMEOUT_MS - 1),
        Ok(None)
    );
    assert_eq!(
        s.handle_timeout(1_000 + DEFAULT_RESPONSE_TIMEOUT_MS),
        Err(ProtocolError::PingTimeout)
    );
}

#[test]
fn poll_timeout_values_are_exact() {
    let mut s: Session = Session::new();
    s.set_response_timeout(7_000);
    assert_eq!(s.poll_timeout(), None, "disconnected: no timer");
    let _ = s.connect(connect_packet(true, 20), 3_000).unwrap();
    assert_eq!(
        s.poll_timeout(),
        Some(10_000),
        "connecting: CONNECT + response timeout"
    );
    let _ = s.handle_packet(accepted(), 4_000).unwrap();
    assert_eq!(
        s.poll_timeout(),
        Some(23_000),
        "connected: last send + keep-alive"
    );
    let _ = s.publish(topic("t"), b"", QoS::AtMostOnce, false, 9_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(29_000));
    assert_eq!(s.ping(12_000), Ok(Packet::PingReq));
    assert_eq!(
        s.poll_timeout(),
        Some(19_000),
        "ping outstanding: PINGREQ + response timeout"
    );
    let _ = s.handle_packet(Packet::PingResp, 13_000).unwrap();
    assert_eq!(s.poll_timeout(), Some(32_000));
    s.connection_lost();
    assert_eq!(s.poll_timeout(), None);
    // A huge keep-alive does not overflow.
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, u16::MAX), 0).unwrap();
    let _ = s.handle_packet(accepted(), 0).unwrap();
    assert_eq!(s.poll_timeout(), Some(65_535_000));
    s.mark_sent(u64::MAX - 1);
    assert_eq!(s.poll_timeout(), Some(u64::MAX));
}

#[test]
fn keep_alive_shorter_than_response_timeout_still_sends_every_interval_mqtt_3_1_2_23() {
    let mut s: Session = connected(10, 0);
    assert_eq!(s.handle_timeout(10_000), Ok(Some(Packet::PingReq)));
    // No PINGRESP yet (response timeout is 30 s), but 10 s have passed without a send.
    assert_eq!(s.poll_timeout(), Some(20_000));
    assert_eq!(s.handle_timeout(20_000), Ok(Some(Packet::PingReq)));
    assert_eq!(s.handle_timeout(30_000), Ok(Some(Packet::PingReq)));
    // The PINGRESP deadline still counts from the first unanswered PINGREQ.
    assert_eq!(s.handle_timeout(40_000), Err(ProtocolError::PingTimeout));
}

// ---------------------------------------------------------------------------------------------
// reconnect, resend, clean session
// ---------------------------------------------------------------------------------------------

#[test]
fn resend_after_reconnect_has_every_unacked_publish_with_dup_and_pubrels_in_order_mqtt_4_4_0_1() {
    // Also [MQTT-4.6.0-1] (original order), [MQTT-3.3.1-1] (DUP=1), [MQTT-2.3.1-3] (same ids),
    // [MQTT-3.1.2-4] and [MQTT-4.1.0-1] (state survives a clean_session = false reconnect).
    let mut s: Session<8, 1024> = connected(0, 0);
    let subs = [Subscription {
        filter: filter("s"),
        qos: QoS::AtLeastOnce,
    }];
    let _ = s
        .publish(topic("a/1"), b"alpha", QoS::AtLeastOnce, false, 0)
        .unwrap(); // id 1
    let _ = s
        .publish(topic("b/2"), b"bravo", QoS::ExactlyOnce, true, 0)
        .unwrap(); // id 2
    let _ = s
        .publish(topic("c/3"), b"charlie", QoS::ExactlyOnce, false, 0)
        .unwrap(); // id 3
    let _ = s
        .publish(topic("d/4"), b"delta", QoS::AtLeastOnce, false, 0)
        .unwrap(); // id 4
    let _ = s.subscribe(&subs, 0).unwrap(); // id 5
    let _ = s
        .publish(topic("e/5"), b"echo", QoS::ExactlyOnce, false, 0)
        .unwrap(); // id 6
    let _ = s.publish(topic("f/6"), b"", QoS::AtMostOnce, false, 0).unwrap(); // QoS 0: not kept
    assert_eq!(
        s.handle_packet(Packet::PubRec(id(3)), 0),
        Ok(reply(Packet::PubRel(id(3))))
    );
    let _ = s.handle_packet(Packet::PubAck(id(4)), 0).unwrap();

    s.connection_lost();
    assert_eq!(s.phase(), Phase::Disconnected);
    assert_eq!(s.inflight(), 4, "SUBSCRIBE dropped, QoS 1/2 state kept");
    let _ = s.connect(connect_packet(false, 0), 100).unwrap();
    let _ = s
        .handle_packet(connack(true, ConnectReturnCode::Accepted), 100)
        .unwrap();

    let resent: Vec<Packet<'_>> = s.resend().collect();
    assert_eq!(resent.len(), 4, "{resent:?}");
    let expect = |p: Packet<'_>, t: &str, payload: &[u8], d: Delivery, retain: bool| {
        let p = unwrap_publish(p);
        assert!(p.dup, "re-delivery must set DUP: {p:?}");
        assert_eq!(
            (p.topic.as_str(), p.payload, p.delivery, p.retain),
            (t, payload, d, retain)
        );
    };
    expect(resent[0], "a/1", b"alpha", Delivery::AtLeastOnce(id(1)), false);
    expect(resent[1], "b/2", b"bravo", Delivery::ExactlyOnce(id(2)), true);
    assert_eq!(resent[2], Packet::PubRel(id(3)));
    expect(resent[3], "e/5", b"echo", Delivery::ExactlyOnce(id(6)), false);
    // The DUP bit is on the wire (0x08).
    let mut buf = [0u8; 64];
    let _ = resent[0].encode(&mut buf).unwrap();
    assert_eq!(buf[0], 0x3A);
    drop(resent);

    // The handshakes carry on where they stopped.
    assert_eq!(
        s.handle_packet(Packet::PubAck(id(1)), 101),
        Ok(event(Event::Published(id(1))))
    );
    assert_eq!(
        s.handle_packet(Packet::PubRec(id(2)), 101),
        Ok(reply(Packet::PubRel(id(2))))
    );
    assert_eq!(
        s.handle_packet(Packet::PubComp(id(3)), 101),
        Ok(event(Event::Published(id(3))))
    );
    assert_eq!(
        s.handle_packet(suback(5, &SUBACK_Q1), 101),
        Err(ProtocolError::UnknownPacketId(PacketType::SubAck, id(5)))
    );
}

#[test]
fn resend_is_empty_without_unacked_messages() {
    let mut s: Session = connected(0, 0);
    let _ = qos1_cycle(&mut s);
    resume(&mut s, 1);
    assert_eq!(s.resend().count(), 0);
}

#[test]
fn resend_can_repeat_after_another_connection_loss_with_same_ids_mqtt_2_3_1_3() {
    let mut s: Session = connected(0, 0);
    let _ = s.publish(topic("t"), b"m", QoS::AtLeastOnce, false, 0).unwrap();
    for round in 0..3 {
        resume(&mut s, round);
        let resent: Vec<_> = s.resend().map(unwrap_publish).collect();
        assert_eq!(resent.len(), 1);
        assert_eq!(resent[0].delivery, Delivery::AtLeastOnce(id(1)));
        assert!(resent[0].dup);
    }
}

#[test]
fn resumed_session_still_deduplicates_incoming_qos2_mqtt_4_3_3_2_mqtt_3_1_2_4() {
    let mut s: Session = connected(0, 0);
    let r = s
        .handle_packet(incoming_publish(Delivery::ExactlyOnce(id(4)), false), 0)
        .unwrap();
    assert!(r.event.is_some());
    resume(&mut s, 1);
    assert_eq!(s.incoming_qos2(), 1);
    // The server re-sends the PUBLISH (its PUBREC got lost): acknowledge, do not deliver.
    assert_eq!(
        s.handle_packet(incoming_publish(Delivery::ExactlyOnce(id(4)), true), 2),
        Ok(reply(Packet::PubRec(id(4))))
    );
    assert_eq!(
        s.handle_packet(Packet::PubRel(id(4)), 3),
        Ok(reply(Packet::PubComp(id(4))))
    );
    assert_eq!(s.incoming_qos2(), 0);
}

#[test]
fn connect_with_clean_session_drops_all_state_mqtt_3_1_2_6() {
    let mut s: Session = connected(0, 0);
    let _ = s.publish(topic("t"), b"one", QoS::AtLeastOnce, false, 0).unwrap();
    let _ = s.publish(topic("t"), b"two", QoS::ExactlyOnce, false, 0).unwrap();
    let _ = s
        .publish(topic("t"), b"three", QoS::ExactlyOnce, false, 0)
        .unwrap();
    let _ = s.handle_packet(Packet::PubRec(id(3)), 0).unwrap();
    let _ = s
        .handle_packet(incoming_publish(Delivery::ExactlyOnce(id(7)), false), 0)
        .unwrap();
    assert_eq!((s.inflight(), s.incoming_qos2()), (3, 1));
    assert!(s.stored_bytes() > 0);

    s.connection_lost();
    let _ = s.connect(connect_packet(true, 0), 10).unwrap();
    assert_eq!((s.inflight(), s.stored_bytes(), s.incoming_qos2()), (0, 0, 0));
    let _ = s.handle_packet(accepted(), 10).unwrap();
    assert_eq!(s.resend().count(), 0);
    for n in [1, 2, 3] {
        assert!(!s.is_pending(id(n)));
    }
    assert_eq!(
        s.handle_packet(Packet::PubAck(id(1)), 11),
        Err(ProtocolError::UnknownPacketId(PacketType::PubAck, id(1)))
    );
    // A QoS 2 id seen in the old session is a new message now.
    let r = s
        .handle_packet(incoming_publish(Delivery::ExactlyOnce(id(7)), false), 11)
        .unwrap();
    assert!(matches!(r.event, Some(Event::Message(_))));
}

#[test]
fn pending_subscribe_and_unsubscribe_are_dropped_on_connection_lost() {
    let mut s: Session = connected(0, 0);
    let subs = [Subscription {
        filter: filter("s"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("s")];
    let _ = s.subscribe(&subs, 0).unwrap();
    let _ = s.unsubscribe(&unsubs, 0).unwrap();
    assert_eq!(s.inflight(), 2);
    s.connection_lost();
    assert_eq!(s.inflight(), 0);
    assert!(!s.is_pending(id(1)) && !s.is_pending(id(2)));
    resume(&mut s, 1);
    assert_eq!(s.resend().count(), 0, "SUBSCRIBE/UNSUBSCRIBE are never re-sent");
    assert_eq!(
        s.handle_packet(suback(1, &SUBACK_Q1), 2),
        Err(ProtocolError::UnknownPacketId(PacketType::SubAck, id(1)))
    );
}

#[test]
fn connection_lost_while_connecting_allows_a_new_connect() {
    let mut s: Session = Session::new();
    let _ = s.connect(connect_packet(true, 60), 0).unwrap();
    s.connection_lost();
    assert_eq!(s.phase(), Phase::Disconnected);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.connect(connect_packet(true, 60), 1).is_ok());
    assert_eq!(s.phase(), Phase::Connecting);
}

#[test]
fn disconnect_ends_the_connection_and_commands_then_fail_mqtt_3_14_4_2() {
    let mut s: Session = connected(30, 0);
    let _ = s
        .publish(topic("t"), b"kept", QoS::AtLeastOnce, false, 0)
        .unwrap();
    assert_eq!(s.disconnect(), Ok(Packet::Disconnect));
    assert_eq!(s.phase(), Phase::Disconnected);
    assert_eq!(s.poll_timeout(), None, "no keep-alive after DISCONNECT");
    assert_eq!(s.handle_timeout(1_000_000), Ok(None));
    let subs = [Subscription {
        filter: filter("s"),
        qos: QoS::AtMostOnce,
    }];
    let unsubs = [filter("s")];
    assert_eq!(
        s.publish(topic("t"), b"", QoS::AtMostOnce, false, 1),
        Err(ProtocolError::NotConnected)
    );
    assert_eq!(s.subscribe(&subs, 1), Err(ProtocolError::NotConnected));
    assert_eq!(s.unsubscribe(&unsubs, 1), Err(ProtocolError::NotConnected));
    assert_eq!(s.ping(1), Err(ProtocolError::NotConnected));
    assert_eq!(s.disconnect(), Err(ProtocolError::NotConnected));
    assert_eq!(
        s.handle_packet(Packet::PubAck(id(1)), 1),
        Err(ProtocolError::UnexpectedPacket(PacketType::PubAck))
    );
    // QoS 1 state is kept for a later clean_session = false connection.
    assert_eq!(s.inflight(), 1);
    resume(&mut s, 2);
    assert_eq!(s.resend().count(), 1);
}
