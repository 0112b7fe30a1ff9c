//! Shared code of the umqtt fuzz targets ([`ws`]: the WebSocket frame decoder's invariants).
//!
//! [`checks`] is also compiled into `tests/fuzz_corpus.rs` (stable `cargo test`), so the fuzz
//! targets and the corpus replay assert exactly the same invariants.

pub mod checks;
pub mod ws;
