//! Shared helpers for the integration tests (and, via `#[path]`, the examples).

pub mod broker;
pub mod fake_broker;
pub mod faulty;
pub mod scripted;
pub mod sim_broker;
#[cfg(feature = "std")]
pub mod tls;
#[cfg(all(feature = "std", feature = "async"))]
pub mod tokio_tcp;
