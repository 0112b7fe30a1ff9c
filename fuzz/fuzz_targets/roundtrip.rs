//! A structured description of a packet (any of the 14 kinds) -> a `umqtt::Packet` -> encode
//! -> decode.
//!
//! * Descriptions the constructors reject (`TopicName::new`, `TopicFilter::new`,
//!   `PacketId::new`, `Delivery::new`) are skipped, after checking the topic validators against
//!   an independent reading of section 4.7.
//! * A packet that breaks a rule the encoder enforces (NUL in a string, password without user
//!   name, empty client id without clean session, DUP at QoS 0, empty list, session present on
//!   a refusal) must be refused with that rule's `EncodeError`, whatever the buffer size, with
//!   nothing written.
//! * Any other packet goes through `checks::check_roundtrip`: exact-size buffer -> decode gives
//!   the same packet; short buffers -> `BufferTooSmall { needed }` with the buffer untouched;
//!   `encode_to` writes the same bytes. The encoding is then read back through `read_packet`
//!   in short reads.
//!
//! Byte 0 of the input picks the packet kind (`% 14`, in `Packet` declaration order), so seeds
//! stay readable; the rest feeds the derived `Arbitrary` descriptions.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use umqtt::{
    ConnAck, Connect, ConnectReturnCode, Delivery, EncodeError, Entries, LastWill, Packet, PacketId, Publish,
    QoS, SubAck, SubAckReturnCode, Subscribe, Subscription, TopicFilter, TopicName, Unsubscribe,
};
use umqtt_fuzz::checks::{check_fragmented, check_refused, check_roundtrip};

/// Longest string or binary field (1.5.3).
const MAX_FIELD: usize = 65_535;

/// A string: raw fuzz bytes (valid UTF-8 prefix), topic-shaped levels joined by `/`, or a run
/// of one repeated byte (see [`repeat_len`]).
#[derive(Debug, Arbitrary)]
enum Text<'a> {
    Raw(&'a str),
    Levels(Vec<Level<'a>>),
    Long(u8),
}

/// Binary data: raw fuzz bytes, or a run of one repeated byte (see [`repeat_len`]).
#[derive(Debug, Arbitrary)]
enum Bytes<'a> {
    Raw(&'a [u8]),
    Long(u8),
}

/// Length of a `Long(n)` run: 65,534 to 65,536 bytes (either side of the 1.5.3 field limit)
/// for `n` = 0, 1, 2, otherwise 0 to 15. Long runs are rare on purpose: scanning 64 KiB under
/// coverage instrumentation costs ~5 ms, which would otherwise dominate the exec rate.
fn repeat_len(n: u8) -> usize {
    if n < 3 {
        MAX_FIELD - 1 + usize::from(n)
    } else {
        usize::from(n % 16)
    }
}

impl Bytes<'_> {
    fn render(&self) -> Vec<u8> {
        match self {
            Self::Raw(b) => b.to_vec(),
            Self::Long(n) => vec![*n; repeat_len(*n)],
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Level<'a> {
    Word(&'a str),
    Empty,
    Plus,
    Hash,
    Sys,
    Nul,
    NonAscii,
    PlusInWord,
}

impl Text<'_> {
    fn render(&self) -> String {
        match self {
            Self::Raw(s) => (*s).to_owned(),
            Self::Levels(levels) => levels
                .iter()
                .map(|l| match l {
                    Level::Word(w) => *w,
                    Level::Empty => "",
                    Level::Plus => "+",
                    Level::Hash => "#",
                    Level::Sys => "$SYS",
                    Level::Nul => "\0",
                    Level::NonAscii => "\u{feff}é\u{1f600}",
                    Level::PlusInWord => "a+",
                })
                .collect::<Vec<_>>()
                .join("/"),
            Self::Long(n) => "a".repeat(repeat_len(*n)),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct WillDesc<'a> {
    topic: Text<'a>,
    message: Bytes<'a>,
    qos: u8,
    retain: bool,
}

#[derive(Debug, Arbitrary)]
struct ConnectDesc<'a> {
    clean_session: bool,
    keep_alive: u16,
    client_id: Text<'a>,
    will: Option<WillDesc<'a>>,
    username: Option<Text<'a>>,
    password: Option<Bytes<'a>>,
}

#[derive(Debug, Arbitrary)]
struct ConnAckDesc {
    session_present: bool,
    code: u8,
}

#[derive(Debug, Arbitrary)]
struct PublishDesc<'a> {
    dup: bool,
    qos: u8,
    packet_id: u16,
    retain: bool,
    topic: Text<'a>,
    payload: Bytes<'a>,
}

#[derive(Debug, Arbitrary)]
struct SubscribeDesc<'a> {
    packet_id: u16,
    topics: Vec<(Text<'a>, u8)>,
}

#[derive(Debug, Arbitrary)]
struct SubAckDesc {
    packet_id: u16,
    codes: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct UnsubscribeDesc<'a> {
    packet_id: u16,
    topics: Vec<Text<'a>>,
}

/// One description per packet kind, in `umqtt::Packet` order.
#[derive(Debug)]
enum Desc<'a> {
    Connect(ConnectDesc<'a>),
    ConnAck(ConnAckDesc),
    Publish(PublishDesc<'a>),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(SubscribeDesc<'a>),
    SubAck(SubAckDesc),
    Unsubscribe(UnsubscribeDesc<'a>),
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
}

impl<'a> Arbitrary<'a> for Desc<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? % 14 {
            0 => Self::Connect(u.arbitrary()?),
            1 => Self::ConnAck(u.arbitrary()?),
            2 => Self::Publish(u.arbitrary()?),
            3 => Self::PubAck(u.arbitrary()?),
            4 => Self::PubRec(u.arbitrary()?),
            5 => Self::PubRel(u.arbitrary()?),
            6 => Self::PubComp(u.arbitrary()?),
            7 => Self::Subscribe(u.arbitrary()?),
            8 => Self::SubAck(u.arbitrary()?),
            9 => Self::Unsubscribe(u.arbitrary()?),
            10 => Self::UnsubAck(u.arbitrary()?),
            11 => Self::PingReq,
            12 => Self::PingResp,
            _ => Self::Disconnect,
        })
    }
}

fn qos(b: u8) -> QoS {
    match b % 3 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Section 4.7 / 1.5.3, read independently of `umqtt::topic`.
fn expect_valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD && !s.contains(['\0', '+', '#'])
}

fn expect_valid_filter(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_FIELD || s.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = s.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| match *level {
        "+" => true,
        "#" => i + 1 == levels.len(),
        other => !other.contains(['+', '#']),
    })
}

/// Topic matching (4.7.1, 4.7.2), read independently of `umqtt::topic_matches`.
fn expect_match(filter: &str, name: &str) -> bool {
    fn levels(f: &[&str], n: &[&str]) -> bool {
        match (f.split_first(), n.split_first()) {
            // `#` matches its parent level and everything below it.
            (Some((&"#", _)), _) => true,
            (Some((&"+", f_rest)), Some((_, n_rest))) => levels(f_rest, n_rest),
            (Some((fl, f_rest)), Some((nl, n_rest))) => fl == nl && levels(f_rest, n_rest),
            (None, None) => true,
            _ => false,
        }
    }
    // [MQTT-4.7.2-1] a leading wildcard does not match names starting with `$`.
    if name.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    levels(&f, &n)
}

/// `TopicFilter::matches` against the oracle, for names made from the filters themselves
/// (wildcards filled in a few ways) so that both matches and near-misses are common.
fn check_matching(filters: &[TopicFilter<'_>]) {
    let mut names = vec!["$SYS/x".to_owned(), "x".to_owned(), "/".to_owned()];
    for f in filters {
        names.push(f.replace('+', "x").replace('#', "x/y"));
        names.push(f.replace("/#", "").replace('+', ""));
        names.push(format!("${}", f.replace(['+', '#'], "x")));
    }
    for f in filters {
        for n in &names {
            let Ok(name) = TopicName::new(n) else { continue };
            assert_eq!(f.matches(name), expect_match(f, n), "{f:?} vs {n:?}");
        }
    }
}

/// `TopicName::new`, after checking it against the oracle and the filter rules.
fn topic_name(s: &str) -> Option<TopicName<'_>> {
    let name = TopicName::new(s).ok();
    assert_eq!(name.is_some(), expect_valid_name(s), "TopicName::new({s:?})");
    // (Skipped for 64 KiB names: it adds nothing there but instrumented scanning time.)
    if let Some(name) = name.filter(|_| s.len() <= MAX_LIST_TEXT) {
        // A valid name is a valid filter that matches exactly itself.
        let filter = TopicFilter::new(s).expect("a valid topic name is a valid filter");
        assert!(filter.matches(name), "{s:?} does not match itself");
        let all = TopicFilter::new("#").expect("`#` is a valid filter");
        assert_eq!(
            all.matches(name),
            !s.starts_with('$'),
            "`#` vs {s:?} [MQTT-4.7.2-1]"
        );
    }
    name
}

fn topic_filter(s: &str) -> Option<TopicFilter<'_>> {
    let filter = TopicFilter::new(s).ok();
    assert_eq!(
        filter.is_some(),
        expect_valid_filter(s),
        "TopicFilter::new({s:?})"
    );
    filter
}

/// Round trip when no rule is broken, refusal with one of the broken rules otherwise.
fn check(packet: &Packet<'_>, broken: &[EncodeError]) {
    if broken.is_empty() {
        let bytes = check_roundtrip(packet);
        let seed = bytes.last().copied().unwrap_or(0);
        check_fragmented(&bytes, seed, bytes.len());
    } else {
        check_refused(packet, broken);
    }
}

fn check_id(id: u16, make: impl FnOnce(PacketId) -> Packet<'static>) {
    if let Some(id) = PacketId::new(id) {
        check(&make(id), &[]);
    }
}

fn check_connect(c: &ConnectDesc<'_>) {
    let client_id = c.client_id.render();
    let username = c.username.as_ref().map(Text::render);
    let password = c.password.as_ref().map(Bytes::render);
    let will_topic = c.will.as_ref().map(|w| w.topic.render());
    let will_message = c.will.as_ref().map(|w| w.message.render());
    let will = match (&c.will, &will_topic, &will_message) {
        (Some(w), Some(topic), Some(message)) => {
            let Some(topic) = topic_name(topic) else { return };
            Some(LastWill {
                topic,
                message,
                qos: qos(w.qos),
                retain: w.retain,
            })
        }
        _ => None,
    };
    let connect = Connect {
        clean_session: c.clean_session,
        keep_alive: c.keep_alive,
        client_id: &client_id,
        will,
        username: username.as_deref(),
        password: password.as_deref(),
    };
    let mut broken = Vec::new();
    let strings = [Some(client_id.as_str()), username.as_deref()];
    if strings.iter().flatten().any(|s| s.contains('\0')) {
        broken.push(EncodeError::NullCharacter);
    }
    let fields = [
        Some(client_id.len()),
        username.as_ref().map(String::len),
        password.as_ref().map(Vec::len),
        will_message.as_ref().map(Vec::len),
    ];
    if fields.iter().flatten().any(|&n| n > MAX_FIELD) {
        broken.push(EncodeError::FieldTooLong);
    }
    if client_id.is_empty() && !c.clean_session {
        broken.push(EncodeError::EmptyClientIdWithoutCleanSession);
    }
    if password.is_some() && username.is_none() {
        broken.push(EncodeError::PasswordWithoutUserName);
    }
    check(&Packet::Connect(connect), &broken);
}

fn check_connack(c: &ConnAckDesc) {
    let code = ConnectReturnCode::from_u8(c.code % 6).expect("0..=5 are defined");
    let packet = Packet::ConnAck(ConnAck {
        session_present: c.session_present,
        code,
    });
    let broken = if c.session_present && code != ConnectReturnCode::Accepted {
        vec![EncodeError::SessionPresentOnRefusal]
    } else {
        vec![]
    };
    check(&packet, &broken);
}

fn check_publish(p: &PublishDesc<'_>) {
    let topic = p.topic.render();
    let Some(topic_name) = topic_name(&topic) else {
        return;
    };
    let qos = qos(p.qos);
    let Some(delivery) = Delivery::new(qos, PacketId::new(p.packet_id)) else {
        return;
    };
    let payload = p.payload.render();
    let mut publish = Publish::new(topic_name, &payload, delivery, p.retain);
    publish.dup = p.dup;
    let broken = if p.dup && qos == QoS::AtMostOnce {
        vec![EncodeError::DupWithQos0]
    } else {
        vec![]
    };
    check(&Packet::Publish(publish), &broken);
}

/// Lists with a 64 KiB filter are checked by the validators only, not round-tripped: a decoded
/// list re-validates its filters on every iteration, comparison and encode, so one such exec
/// costs tens of milliseconds under instrumentation (long fields are round-tripped through
/// CONNECT and PUBLISH instead).
const MAX_LIST_TEXT: usize = 1024;

fn empty_rule(len: usize) -> Vec<EncodeError> {
    if len == 0 {
        vec![EncodeError::EmptyPayload]
    } else {
        vec![]
    }
}

fn check_subscribe(s: &SubscribeDesc<'_>) {
    let Some(packet_id) = PacketId::new(s.packet_id) else {
        return;
    };
    let rendered: Vec<(String, u8)> = s.topics.iter().map(|(t, q)| (t.render(), *q)).collect();
    let mut subs = Vec::new();
    for (text, q) in &rendered {
        let Some(filter) = topic_filter(text) else { return };
        subs.push(Subscription { filter, qos: qos(*q) });
    }
    if rendered.iter().any(|(t, _)| t.len() > MAX_LIST_TEXT) {
        return;
    }
    check_matching(&subs.iter().map(|s| s.filter).collect::<Vec<_>>());
    let packet = Packet::Subscribe(Subscribe {
        packet_id,
        topics: Entries::new(&subs),
    });
    check(&packet, &empty_rule(subs.len()));
}

fn check_suback(s: &SubAckDesc) {
    let Some(packet_id) = PacketId::new(s.packet_id) else {
        return;
    };
    let codes: Vec<SubAckReturnCode> = s
        .codes
        .iter()
        .map(|&b| match b % 4 {
            3 => SubAckReturnCode::Failure,
            q => SubAckReturnCode::Success(qos(q)),
        })
        .collect();
    let packet = Packet::SubAck(SubAck {
        packet_id,
        codes: Entries::new(&codes),
    });
    check(&packet, &empty_rule(codes.len()));
}

fn check_unsubscribe(s: &UnsubscribeDesc<'_>) {
    let Some(packet_id) = PacketId::new(s.packet_id) else {
        return;
    };
    let rendered: Vec<String> = s.topics.iter().map(Text::render).collect();
    let mut filters = Vec::new();
    for text in &rendered {
        let Some(filter) = topic_filter(text) else { return };
        filters.push(filter);
    }
    if rendered.iter().any(|t| t.len() > MAX_LIST_TEXT) {
        return;
    }
    check_matching(&filters);
    let packet = Packet::Unsubscribe(Unsubscribe {
        packet_id,
        topics: Entries::new(&filters),
    });
    check(&packet, &empty_rule(filters.len()));
}

fuzz_target!(|desc: Desc<'_>| {
    match &desc {
        Desc::Connect(c) => check_connect(c),
        Desc::ConnAck(c) => check_connack(c),
        Desc::Publish(p) => check_publish(p),
        Desc::PubAck(id) => check_id(*id, Packet::PubAck),
        Desc::PubRec(id) => check_id(*id, Packet::PubRec),
        Desc::PubRel(id) => check_id(*id, Packet::PubRel),
        Desc::PubComp(id) => check_id(*id, Packet::PubComp),
        Desc::Subscribe(s) => check_subscribe(s),
        Desc::SubAck(s) => check_suback(s),
        Desc::Unsubscribe(s) => check_unsubscribe(s),
        Desc::UnsubAck(id) => check_id(*id, Packet::UnsubAck),
        Desc::PingReq => check(&Packet::PingReq, &[]),
        Desc::PingResp => check(&Packet::PingResp, &[]),
        Desc::Disconnect => check(&Packet::Disconnect, &[]),
    }
});
