#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`): show which feature each item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod client;
pub mod error;
mod io;
pub mod packet;
pub mod session;
pub mod status;
#[cfg(feature = "tls")]
pub mod tls;
pub mod topic;
pub mod types;
mod wire;
pub mod ws;

pub use error::{DecodeError, EncodeError, EncodeToError, ReadPacketError};
pub use io::{read_fixed_header, read_packet};
#[cfg(feature = "async")]
pub use io::{read_fixed_header_async, read_packet_async};
pub use packet::{
    ConnAck, Connect, Entries, FixedHeader, LastWill, Packet, Publish, SubAck, SubAckReturnCode, Subscribe,
    Subscription, Unsubscribe, decode, decode_body, decode_from_server, encode, encode_from_client,
    peek_fixed_header,
};
pub use status::Status;
pub use topic::{TopicError, TopicFilter, TopicName, topic_matches};
pub use types::{ConnectReturnCode, Delivery, PacketId, PacketType, QoS};

/// Internals re-exported for benchmarks and fuzz targets only; not covered by semver.
#[doc(hidden)]
pub mod _internal {
    pub use crate::wire::{MAX_REMAINING_LEN, decode_remaining_len, remaining_len_size};
}
