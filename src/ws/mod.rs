//! MQTT over WebSocket (RFC 6455, client side; MQTT 3.1.1 section 6): the opening
//! [`handshake`], the [`frame`] codec, and [`WsTransport`] / `AsyncWsTransport` (feature
//! `async`), which carry MQTT bytes in binary frames over any `embedded-io` stream.
//!
//! Everything here is `no_std` and allocates nothing: the transports borrow one buffer
//! from the caller (for the handshake, then for received bytes) and mask outgoing data
//! through a 256-byte stack buffer. The WebSocket logic is a sans-IO core shared by the
//! blocking and the async transport; they only move bytes. SHA-1 and base64, needed for the
//! handshake's `Sec-WebSocket-Accept` check, are small private implementations.
//!
//! What the transports do for the client:
//! * MQTT packets may span frames, and frames may span reads, in both directions;
//! * a ping is answered with a pong carrying the same payload, as soon as it is read;
//! * a close frame is answered with a close frame, after which reads return end of stream;
//! * anything RFC 6455 forbids a server to send (masked, text, reserved bits or opcodes,
//!   oversized or fragmented control frames, frames above the configured maximum) is a
//!   [`WsError`] that names it, and the connection is unusable after it.
//!
//! ```no_run
//! # #[cfg(feature = "std")] {
//! use umqtt::client::std_net::TcpTransport;
//! use umqtt::ws::{WsOptions, WsTransport};
//!
//! let tcp = TcpTransport::connect("127.0.0.1:8080")?;
//! // A real program takes the masks and the key from a random number generator.
//! let mut seed = 0x2545_f491_u32;
//! let random = move |buf: &mut [u8]| {
//!     for b in buf {
//!         seed ^= seed << 13;
//!         seed ^= seed >> 17;
//!         seed ^= seed << 5;
//!         *b = seed as u8;
//!     }
//! };
//! let mut buf = [0u8; 1024];
//! let ws = WsTransport::connect(tcp, &WsOptions::new("127.0.0.1:8080"), random, &mut buf)?;
//! // `ws` is an embedded-io stream and a `client::Transport`: hand it to the client.
//! # drop(ws);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod base64;
mod conn;
pub mod frame;
pub mod handshake;
mod sha1;
mod transport;

use core::fmt;

#[cfg(feature = "async")]
pub use transport::AsyncWsTransport;
pub use transport::WsTransport;

/// Default [`WsOptions::max_frame_len`]: the largest MQTT 3.1.1 packet (a 268,435,455-byte
/// body and a 5-byte fixed header). Payload is never buffered whole, so this costs no memory.
pub const DEFAULT_MAX_FRAME_LEN: u64 = 268_435_460;

/// Default [`WsOptions::handshake_timeout_ms`].
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u32 = 10_000;

/// How to open a WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WsOptions<'a> {
    /// The `Host` header: the server's name or address, with `:port` unless it is 80 (or
    /// 443 for TLS).
    pub host: &'a str,
    /// The resource to request; mosquitto accepts any, other brokers commonly use `/mqtt`.
    pub path: &'a str,
    /// The largest data frame payload accepted from the server.
    pub max_frame_len: u64,
    /// How long to wait for the server's `101` response (when the stream is a
    /// `client::Transport`).
    pub handshake_timeout_ms: u32,
}

impl<'a> WsOptions<'a> {
    /// Options for `host` with path `/mqtt`, [`DEFAULT_MAX_FRAME_LEN`] and
    /// [`DEFAULT_HANDSHAKE_TIMEOUT_MS`].
    pub const fn new(host: &'a str) -> Self {
        Self {
            host,
            path: "/mqtt",
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT_MS,
        }
    }

    /// Sets [`path`](Self::path).
    #[must_use]
    pub const fn path(mut self, path: &'a str) -> Self {
        self.path = path;
        self
    }

    /// Sets [`max_frame_len`](Self::max_frame_len).
    #[must_use]
    pub const fn max_frame_len(mut self, max: u64) -> Self {
        self.max_frame_len = max;
        self
    }

    /// Sets [`handshake_timeout_ms`](Self::handshake_timeout_ms).
    #[must_use]
    pub const fn handshake_timeout_ms(mut self, ms: u32) -> Self {
        self.handshake_timeout_ms = ms;
        self
    }
}

/// Why the WebSocket handshake failed or the server's frames were refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WsError {
    /// A buffer is too small for what has to be written into it.
    BufferTooSmall {
        /// The bytes needed.
        needed: usize,
    },
    /// The host for the `Host` header is empty or holds spaces or control characters.
    InvalidHost,
    /// The path is empty, does not start with `/`, or holds spaces or control characters.
    InvalidPath,
    /// The server's HTTP response does not fit the buffer lent to the transport.
    ResponseTooLarge {
        /// The size of that buffer.
        limit: usize,
    },
    /// The server's reply is not an HTTP/1.1 response.
    MalformedResponse,
    /// The server answered with an HTTP status other than 101 (section 4.1).
    UnexpectedStatus(u16),
    /// The 101 response lacks `Upgrade: websocket`.
    MissingUpgrade,
    /// The 101 response lacks `Connection: Upgrade`.
    MissingConnectionUpgrade,
    /// The 101 response lacks `Sec-WebSocket-Accept`.
    MissingAccept,
    /// `Sec-WebSocket-Accept` is not derived from the key this client sent.
    AcceptMismatch,
    /// The server did not select the `mqtt` subprotocol.
    MissingSubprotocol,
    /// The server selected a subprotocol other than `mqtt`.
    WrongSubprotocol,
    /// The server selected a WebSocket extension, though the client offered none.
    UnrequestedExtension,
    /// No complete HTTP response arrived within the handshake timeout.
    NoResponse {
        /// The timeout that passed, in milliseconds.
        timeout_ms: u32,
    },
    /// The server closed the connection before its HTTP response was complete.
    ClosedDuringHandshake,
    /// A frame has one of the reserved bits RSV1-RSV3 set (section 5.2); the value is the
    /// three bits in place (`0x40`, `0x20`, `0x10`).
    ReservedBits(u8),
    /// A frame has a reserved opcode (0x3-0x7, 0xB-0xF).
    ReservedOpcode(u8),
    /// A server frame is masked (section 5.1).
    MaskedFrame,
    /// A text frame: MQTT travels in binary frames only (MQTT 3.1.1, section 6).
    TextFrame,
    /// A control frame announces more than 125 bytes of payload (section 5.5).
    ControlFrameTooLong(u64),
    /// A control frame is not final (section 5.5).
    FragmentedControlFrame,
    /// A data frame is longer than the configured maximum.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A 64-bit payload length has its most significant bit set (section 5.2).
    LengthTooLarge,
    /// A payload length is not written in the fewest bytes (section 5.2).
    NonMinimalLength,
    /// A continuation frame arrived with no fragmented message to continue (section 5.4).
    UnexpectedContinuation,
    /// A new data message began before the final fragment of the last one (section 5.4).
    ExpectedContinuation,
    /// A close frame carries one byte, or a reason that is not UTF-8 (section 5.5.1).
    InvalidClosePayload,
    /// A close frame carries a status code that may not be sent (section 7.4).
    InvalidCloseCode(u16),
    /// The connection ended in the middle of a frame.
    TruncatedFrame,
    /// The WebSocket connection is closed: no more data can be sent.
    Closed,
    /// The underlying stream accepted no bytes of a write.
    WriteZero,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => write!(f, "the buffer is too small: {needed} bytes needed"),
            Self::InvalidHost => f.write_str("the host is empty or holds spaces or control characters"),
            Self::InvalidPath => f.write_str(
                "the path is empty, does not start with '/', or holds spaces or control characters",
            ),
            Self::ResponseTooLarge { limit } => write!(
                f,
                "the server's HTTP response does not fit the {limit}-byte buffer"
            ),
            Self::MalformedResponse => f.write_str("the server's reply is not an HTTP/1.1 response"),
            Self::UnexpectedStatus(code) => write!(
                f,
                "the server answered HTTP status {code} instead of 101 Switching Protocols"
            ),
            Self::MissingUpgrade => f.write_str("the server's 101 response lacks 'Upgrade: websocket'"),
            Self::MissingConnectionUpgrade => {
                f.write_str("the server's 101 response lacks 'Connection: Upgrade'")
            }
            Self::MissingAccept => f.write_str("the server's 101 response lacks Sec-WebSocket-Accept"),
            Self::AcceptMismatch => f.write_str(
                "the server's Sec-WebSocket-Accept does not match the key sent: it did not read the handshake",
            ),
            Self::MissingSubprotocol => f.write_str("the server did not select the 'mqtt' subprotocol"),
            Self::WrongSubprotocol => f.write_str("the server selected a subprotocol other than 'mqtt'"),
            Self::UnrequestedExtension => {
                f.write_str("the server selected a WebSocket extension the client did not offer")
            }
            Self::NoResponse { timeout_ms } => write!(
                f,
                "no HTTP 101 response from the server within {timeout_ms} ms"
            ),
            Self::ClosedDuringHandshake => {
                f.write_str("the server closed the connection before its HTTP response was complete")
            }
            Self::ReservedBits(bits) => write!(f, "a frame has reserved bits set ({bits:#04x})"),
            Self::ReservedOpcode(op) => write!(f, "a frame has the reserved opcode {op:#x}"),
            Self::MaskedFrame => f.write_str("the server sent a masked frame"),
            Self::TextFrame => f.write_str("the server sent a text frame; MQTT uses binary frames only"),
            Self::ControlFrameTooLong(len) => {
                write!(f, "a control frame announces {len} bytes of payload, more than 125")
            }
            Self::FragmentedControlFrame => f.write_str("a control frame is fragmented"),
            Self::FrameTooLarge { len, max } => {
                write!(f, "a frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            Self::LengthTooLarge => f.write_str("a 64-bit frame length has its most significant bit set"),
            Self::NonMinimalLength => f.write_str("a frame length is not written in the fewest bytes"),
            Self::UnexpectedContinuation => {
                f.write_str("a continuation frame arrived without a message to continue")
            }
            Self::ExpectedContinuation => {
                f.write_str("a new message began before the previous one was complete")
            }
            Self::InvalidClosePayload => {
                f.write_str("a close frame carries one byte or a reason that is not UTF-8")
            }
            Self::InvalidCloseCode(code) => write!(f, "a close frame carries the invalid status code {code}"),
            Self::TruncatedFrame => f.write_str("the connection ended in the middle of a frame"),
            Self::Closed => f.write_str("the WebSocket connection is closed"),
            Self::WriteZero => f.write_str("the underlying stream accepted no bytes"),
        }
    }
}

impl core::error::Error for WsError {}

/// Error of [`WsTransport`] and `AsyncWsTransport`: the stream underneath failed, or the
/// WebSocket protocol did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransportError<E> {
    /// The underlying stream's error. One of kind `TimedOut` only says that a time limit
    /// passed; the connection is still usable.
    Io(E),
    /// A WebSocket protocol error; the connection is unusable.
    Ws(WsError),
}

impl<E> From<WsError> for TransportError<E> {
    fn from(e: WsError) -> Self {
        Self::Ws(e)
    }
}

impl<E: fmt::Display> fmt::Display for TransportError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "the connection under the WebSocket failed: {e}"),
            Self::Ws(e) => write!(f, "WebSocket: {e}"),
        }
    }
}

/// The stream's error is part of the message (`embedded_io::Error` does not promise
/// `'static`, so it cannot be the `source`); a WebSocket error is the source.
impl<E: fmt::Display + fmt::Debug> core::error::Error for TransportError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Io(_) => None,
            Self::Ws(e) => Some(e),
        }
    }
}

impl<E: embedded_io::Error> embedded_io::Error for TransportError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Self::Io(e) => e.kind(),
            Self::Ws(WsError::Closed) => embedded_io::ErrorKind::NotConnected,
            Self::Ws(WsError::WriteZero) => embedded_io::ErrorKind::WriteZero,
            Self::Ws(_) => embedded_io::ErrorKind::InvalidData,
        }
    }
}
