//! Replays the curated fuzz corpus (`fuzz/corpus/<target>/*`) on stable, through the same
//! invariant checks the fuzz targets assert (`fuzz/src/checks.rs`), and pins what each named
//! `decode` seed must give. See `fuzz/README.md` and `fuzz/corpus/README.md`.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use checks::{Outcome, check_decode, check_fragmented, check_refused, check_roundtrip, fragment_seed};
use umqtt::{DecodeError, EncodeError, PacketType, Status, decode};

/// What a `decode` seed must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A complete packet of this type (the first one, for multi-packet seeds).
    Complete(PacketType),
    /// `Partial { needed }` with exactly this `needed`.
    Partial(usize),
    /// This exact error.
    Error(DecodeError),
}

use Expect::{Complete, Error, Partial};

/// Every file in `fuzz/corpus/decode/`, with its expected result. Keep in step with
/// `fuzz/corpus/README.md`.
const DECODE_SEEDS: &[(&str, Expect)] = &[
    ("connect_minimal", Complete(PacketType::Connect)),
    ("connect_full", Complete(PacketType::Connect)),
    ("connect_empty_id_persistent", Complete(PacketType::Connect)),
    ("connack_accepted", Complete(PacketType::ConnAck)),
    ("connack_session_present", Complete(PacketType::ConnAck)),
    ("connack_not_authorized", Complete(PacketType::ConnAck)),
    ("publish_qos0", Complete(PacketType::Publish)),
    ("publish_qos1", Complete(PacketType::Publish)),
    ("publish_qos2_dup_retain", Complete(PacketType::Publish)),
    ("publish_sys_topic", Complete(PacketType::Publish)),
    ("publish_utf8_bom_topic", Complete(PacketType::Publish)),
    ("publish_two_byte_length", Complete(PacketType::Publish)),
    ("publish_non_minimal_length", Complete(PacketType::Publish)),
    ("puback", Complete(PacketType::PubAck)),
    ("pubrec", Complete(PacketType::PubRec)),
    ("pubrel", Complete(PacketType::PubRel)),
    ("pubcomp", Complete(PacketType::PubComp)),
    ("subscribe_wildcards", Complete(PacketType::Subscribe)),
    ("suback", Complete(PacketType::SubAck)),
    ("unsubscribe", Complete(PacketType::Unsubscribe)),
    ("unsuback", Complete(PacketType::UnsubAck)),
    ("pingreq", Complete(PacketType::PingReq)),
    ("pingresp", Complete(PacketType::PingResp)),
    ("disconnect", Complete(PacketType::Disconnect)),
    ("two_packets", Complete(PacketType::PingResp)),
    ("stream_mixed", Complete(PacketType::ConnAck)),
    ("partial_first_byte_only", Partial(1)),
    ("partial_length_continues", Partial(1)),
    ("partial_body", Partial(6)),
    ("partial_max_remaining_length", Partial(268_435_455)),
    (
        "remaining_length_5_bytes",
        Error(DecodeError::MalformedRemainingLength),
    ),
    (
        "remaining_length_5_bytes_zero",
        Error(DecodeError::MalformedRemainingLength),
    ),
    ("reserved_type_0", Error(DecodeError::ReservedPacketType(0))),
    ("reserved_type_15", Error(DecodeError::ReservedPacketType(15))),
    (
        "reserved_type_single_byte",
        Error(DecodeError::ReservedPacketType(0)),
    ),
    ("publish_qos3", Error(DecodeError::InvalidQos)),
    ("publish_dup_qos0", Error(DecodeError::DupWithQos0)),
    (
        "pubrel_flags_0",
        Error(DecodeError::InvalidFlags {
            packet_type: PacketType::PubRel,
            flags: 0,
        }),
    ),
    (
        "subscribe_flags_0",
        Error(DecodeError::InvalidFlags {
            packet_type: PacketType::Subscribe,
            flags: 0,
        }),
    ),
    (
        "pingreq_flags_1",
        Error(DecodeError::InvalidFlags {
            packet_type: PacketType::PingReq,
            flags: 1,
        }),
    ),
    ("publish_topic_bad_utf8", Error(DecodeError::InvalidUtf8)),
    ("publish_topic_surrogate", Error(DecodeError::InvalidUtf8)),
    ("publish_topic_overlong_nul", Error(DecodeError::InvalidUtf8)),
    ("publish_topic_nul", Error(DecodeError::NullCharacter)),
    ("connect_client_id_nul", Error(DecodeError::NullCharacter)),
    ("connect_username_bad_utf8", Error(DecodeError::InvalidUtf8)),
    ("publish_topic_empty", Error(DecodeError::EmptyTopic)),
    ("publish_topic_plus", Error(DecodeError::WildcardInTopicName)),
    ("publish_topic_hash", Error(DecodeError::WildcardInTopicName)),
    (
        "connect_will_topic_wildcard",
        Error(DecodeError::WildcardInTopicName),
    ),
    (
        "subscribe_filter_hash_not_last",
        Error(DecodeError::InvalidTopicFilter),
    ),
    (
        "unsubscribe_filter_plus_in_level",
        Error(DecodeError::InvalidTopicFilter),
    ),
    ("subscribe_filter_empty", Error(DecodeError::EmptyTopic)),
    ("puback_packet_id_0", Error(DecodeError::PacketIdZero)),
    ("publish_qos1_packet_id_0", Error(DecodeError::PacketIdZero)),
    ("subscribe_packet_id_0", Error(DecodeError::PacketIdZero)),
    ("unsuback_packet_id_0", Error(DecodeError::PacketIdZero)),
    ("connect_mqisdp_v3", Error(DecodeError::InvalidProtocolName)),
    (
        "connect_protocol_level_5",
        Error(DecodeError::UnsupportedProtocolLevel(5)),
    ),
    ("connect_reserved_flag", Error(DecodeError::ReservedConnectFlag)),
    (
        "connect_will_qos_without_will",
        Error(DecodeError::WillFlagsWithoutWill),
    ),
    (
        "connect_will_retain_without_will",
        Error(DecodeError::WillFlagsWithoutWill),
    ),
    ("connect_will_qos3", Error(DecodeError::InvalidWillQos)),
    (
        "connect_password_without_username",
        Error(DecodeError::PasswordWithoutUserName),
    ),
    ("connect_truncated_payload", Error(DecodeError::UnexpectedEnd)),
    ("connect_trailing_bytes", Error(DecodeError::TrailingBytes)),
    (
        "connack_reserved_flags",
        Error(DecodeError::ReservedConnAckFlags(2)),
    ),
    (
        "connack_return_code_6",
        Error(DecodeError::InvalidConnectReturnCode(6)),
    ),
    (
        "connack_session_present_refused",
        Error(DecodeError::SessionPresentOnRefusal),
    ),
    ("connack_length_3", Error(DecodeError::TrailingBytes)),
    (
        "subscribe_no_filters",
        Error(DecodeError::EmptyPayload(PacketType::Subscribe)),
    ),
    (
        "unsubscribe_no_filters",
        Error(DecodeError::EmptyPayload(PacketType::Unsubscribe)),
    ),
    (
        "suback_no_codes",
        Error(DecodeError::EmptyPayload(PacketType::SubAck)),
    ),
    (
        "subscribe_requested_qos_3",
        Error(DecodeError::InvalidRequestedQos(3)),
    ),
    (
        "subscribe_requested_qos_reserved_bits",
        Error(DecodeError::InvalidRequestedQos(65)),
    ),
    ("subscribe_missing_qos_byte", Error(DecodeError::UnexpectedEnd)),
    ("suback_code_3", Error(DecodeError::InvalidSubAckCode(3))),
    ("puback_length_1", Error(DecodeError::UnexpectedEnd)),
    ("puback_length_3", Error(DecodeError::TrailingBytes)),
    ("pingreq_length_1", Error(DecodeError::TrailingBytes)),
    ("publish_topic_past_end", Error(DecodeError::UnexpectedEnd)),
    ("publish_qos1_no_packet_id", Error(DecodeError::UnexpectedEnd)),
];

/// The targets that have a seed corpus directory.
const TARGETS: &[&str] = &["decode", "roundtrip", "client"];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The seed files of one target, sorted by name (dot-files, which libFuzzer may leave behind,
/// are skipped).
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            (!name.starts_with('.')).then(|| {
                let data = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                (name, data)
            })
        })
        .collect();
    files.sort();
    files
}

fn hex(data: &[u8]) -> String {
    let shown: Vec<String> = data.iter().take(48).map(|b| format!("{b:02x}")).collect();
    let more = if data.len() > 48 { " ..." } else { "" };
    format!("[{}{more}] ({} bytes)", shown.join(" "), data.len())
}

/// Runs `f` on every seed of every target and reports all failing seeds at once.
fn for_each_seed(f: impl Fn(&str, &[u8])) {
    let mut failures = Vec::new();
    for target in TARGETS {
        for (name, data) in seeds(target) {
            if catch_unwind(AssertUnwindSafe(|| f(&name, &data))).is_err() {
                failures.push(format!("{target}/{name} {}", hex(&data)));
            }
        }
    }
    assert!(failures.is_empty(), "failing seeds:\n  {}", failures.join("\n  "));
}

/// `fuzz/corpus/README.md` says what each seed is for; keep it complete.
#[test]
fn every_seed_is_documented() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/README.md");
    let readme = fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    for target in TARGETS {
        for (name, _) in seeds(target) {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "{target}/{name} is not in fuzz/corpus/README.md"
            );
        }
    }
}

#[test]
fn corpus_is_not_empty() {
    for target in TARGETS {
        assert!(
            !seeds(target).is_empty(),
            "no seeds in {}",
            corpus_dir(target).display()
        );
    }
    assert!(
        seeds("decode").len() >= 14,
        "expected at least one seed per packet type"
    );
}

/// Exactly what the `decode` fuzz target runs on each input.
#[test]
fn every_seed_satisfies_the_decode_target_invariants() {
    for_each_seed(|_, data| {
        check_decode(data);
        let seed = fragment_seed(data);
        check_fragmented(data, seed, data.len());
        check_fragmented(data, seed.rotate_left(3), usize::from(seed >> 5));
    });
}

/// Every chunking pattern the short reader can produce, with full-size and tiny buffers.
#[test]
fn every_seed_reads_the_same_in_any_fragmentation() {
    for_each_seed(|_, data| {
        for seed in 0..=u8::MAX {
            for rx_len in [data.len(), 0, 1, 4] {
                check_fragmented(data, seed, rx_len);
            }
        }
    });
}

#[test]
fn decode_seeds_give_the_expected_result() {
    let files = seeds("decode");
    let listed: Vec<&str> = DECODE_SEEDS.iter().map(|(name, _)| *name).collect();
    for (name, _) in &files {
        assert!(
            listed.contains(&name.as_str()),
            "seed decode/{name} has no entry in DECODE_SEEDS"
        );
    }
    for &(name, expect) in DECODE_SEEDS {
        let Some((_, data)) = files.iter().find(|(n, _)| n == name) else {
            panic!("decode/{name} is listed in DECODE_SEEDS but missing from the corpus");
        };
        let got = check_decode(data);
        let ok = match (expect, got) {
            (Complete(t), Outcome::Complete { packet_type, .. }) => t == packet_type,
            (Partial(n), Outcome::Partial { needed }) => n == needed,
            (Error(e), Outcome::Error(got)) => e == got,
            _ => false,
        };
        assert!(
            ok,
            "decode/{name} {}: expected {expect:?}, got {got:?}",
            hex(data)
        );
    }
}

/// Valid seeds re-encode to the same bytes (all of them use the minimal Remaining Length but
/// one, which is checked to shrink by a byte), and survive the full round-trip check.
#[test]
fn valid_decode_seeds_round_trip() {
    for (name, data) in seeds("decode") {
        let Ok(Status::Complete((packet, n))) = decode(&data) else {
            continue;
        };
        if name == "connect_empty_id_persistent" {
            check_refused(&packet, &[EncodeError::EmptyClientIdWithoutCleanSession]);
            continue;
        }
        let bytes = check_roundtrip(&packet);
        if name == "publish_non_minimal_length" {
            assert_eq!(bytes.len() + 1, n, "{name}");
        } else {
            assert_eq!(bytes, data[..n], "{name} did not re-encode byte for byte");
        }
    }
}
