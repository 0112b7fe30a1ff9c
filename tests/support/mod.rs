//! Shared helpers for the integration tests (and, via `#[path]`, the examples).

pub mod broker;
pub mod fake_broker;
pub mod scripted;
#[cfg(feature = "std")]
pub mod tls;
