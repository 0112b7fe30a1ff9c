//! Replays the `ws_frame` fuzz seeds (`fuzz/corpus/ws_frame/`) on stable through the same
//! invariants the fuzz target asserts (`fuzz/src/ws.rs`), with every value of the control
//! byte, so the split patterns and data limits are all exercised.

#[path = "../fuzz/src/ws.rs"]
mod ws;

use std::fs;
use std::path::Path;

#[test]
fn ws_frame_seeds_satisfy_the_target_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ws_frame");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        let mut data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for ctl in 0..=u8::MAX {
            data[0] = ctl;
            ws::check_ws(&data);
        }
        count += 1;
    }
    assert!(count >= 5, "expected the ws_frame seeds in {}", dir.display());
}

#[test]
fn seeds_decode_as_described() {
    let seed = |name: &str| {
        let data = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/ws_frame")
                .join(name),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        ws::run(&data[1..], &[0], usize::MAX, 1 << 20)
    };
    assert_eq!(seed("binary_connack").data, b"\x20\x02\x00\x00");
    assert_eq!(seed("fragmented_with_ping").data, b"\x30\x05\x00\x01ab\x00");
    assert_eq!(
        seed("len16_then_close").controls,
        [(8, Some(1000), b"\x03\xe8bye".to_vec())]
    );
    assert_eq!(seed("len64").data.len(), 70_000);
    assert_eq!(
        seed("masked_server_frame").error,
        Some(umqtt::ws::WsError::MaskedFrame)
    );
    assert_eq!(seed("text_frame").error, Some(umqtt::ws::WsError::TextFrame));
}
