//! Arbitrary bytes into the WebSocket frame decoder (`umqtt::ws::frame::Decoder`) and the
//! handshake response check: no panic, never more input consumed than given, the same
//! data, control frames and error whatever the split and data limit, and decoded headers
//! re-encode to the same bytes. Invariants in `fuzz/src/ws.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umqtt_fuzz::ws::check_ws;

fuzz_target!(|data: &[u8]| check_ws(data));
