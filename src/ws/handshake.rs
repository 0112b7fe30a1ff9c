//! The opening handshake (RFC 6455, section 4) from the client's side: [`Handshake`]
//! writes the HTTP/1.1 Upgrade request into a caller buffer and checks the server's
//! response, which may arrive in any number of pieces.
//!
//! The request asks for the `mqtt` subprotocol (MQTT 3.1.1, section 6). The response must
//! be `101 Switching Protocols` with `Upgrade: websocket`, `Connection: Upgrade`, the
//! `Sec-WebSocket-Accept` value that proves the server read this request's key, and
//! `Sec-WebSocket-Protocol: mqtt`. Header names are compared without regard to case.

use super::WsError;
use super::base64;
use super::sha1::sha1;
use crate::status::Status;

/// The GUID that RFC 6455 (section 1.3) appends to the key before hashing it.
pub const GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The subprotocol MQTT over WebSocket uses (MQTT 3.1.1, section 6).
pub const SUBPROTOCOL: &str = "mqtt";

/// Length of a `Sec-WebSocket-Key` value: base64 of 16 bytes.
pub const KEY_LEN: usize = base64::encoded_len(16);

/// Length of a `Sec-WebSocket-Accept` value: base64 of a 20-byte SHA-1 digest.
pub const ACCEPT_LEN: usize = base64::encoded_len(20);

/// The `Sec-WebSocket-Accept` value a server must answer to `key` (the base64 text sent in
/// `Sec-WebSocket-Key`): base64 of the SHA-1 of the key followed by [`GUID`].
///
/// ```
/// let accept = umqtt::ws::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; ACCEPT_LEN] {
    let digest = sha1(&[key, GUID]);
    let mut out = [0u8; ACCEPT_LEN];
    base64::encode(&digest, &mut out);
    out
}

/// One opening handshake: the key sent and the accept value expected back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handshake {
    key: [u8; KEY_LEN],
    accept: [u8; ACCEPT_LEN],
}

/// Appends byte strings to a buffer, remembering whether one did not fit.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.out.get_mut(self.len..end) {
            Some(dst) if !self.overflow => dst.copy_from_slice(bytes),
            _ => self.overflow = true,
        }
        self.len = end;
    }
}

/// Whether `s` is non-empty printable ASCII without spaces: safe to put on a request line
/// or in a header without letting the caller inject lines.
fn is_token_text(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

impl Handshake {
    /// A handshake whose `Sec-WebSocket-Key` is the base64 of `nonce`. RFC 6455 asks for a
    /// nonce "randomly selected" for each connection.
    pub fn new(nonce: [u8; 16]) -> Self {
        let mut key = [0u8; KEY_LEN];
        base64::encode(&nonce, &mut key);
        Self {
            accept: accept_key(&key),
            key,
        }
    }

    /// The `Sec-WebSocket-Key` value sent.
    pub fn key(&self) -> &str {
        core::str::from_utf8(&self.key).unwrap_or("")
    }

    /// The `Sec-WebSocket-Accept` value the server must answer.
    pub fn expected_accept(&self) -> &str {
        core::str::from_utf8(&self.accept).unwrap_or("")
    }

    /// Writes the Upgrade request for `path` (for example `/mqtt`) on `host` (the `Host`
    /// header: a name or address, with `:port` when the port is not the default) into the
    /// start of `out`, and returns its length.
    ///
    /// # Errors
    /// [`WsError::InvalidHost`] or [`WsError::InvalidPath`] for text that is empty or holds
    /// spaces or control characters (a path must also start with `/`), and
    /// [`WsError::BufferTooSmall`] when the request does not fit.
    pub fn write_request(&self, host: &str, path: &str, out: &mut [u8]) -> Result<usize, WsError> {
        if !is_token_text(host) {
            return Err(WsError::InvalidHost);
        }
        if !is_token_text(path) || !path.starts_with('/') {
            return Err(WsError::InvalidPath);
        }
        let mut c = Cursor {
            out,
            len: 0,
            overflow: false,
        };
        for part in [
            b"GET ".as_slice(),
            path.as_bytes(),
            b" HTTP/1.1\r\nHost: ",
            host.as_bytes(),
            b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
            &self.key,
            b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ",
            SUBPROTOCOL.as_bytes(),
            b"\r\n\r\n",
        ] {
            c.put(part);
        }
        if c.overflow {
            return Err(WsError::BufferTooSmall { needed: c.len });
        }
        Ok(c.len)
    }

    /// Checks the server's response in `buf` (everything received so far, from its first
    /// byte). `Complete(n)` means a valid `101` response of `n` bytes; any bytes after it are
    /// already WebSocket frames. `Partial` means nothing wrong has been seen yet.
    ///
    /// The status is judged as soon as the status line is complete, so a refusal is
    /// reported without waiting for the headers. Never panics.
    ///
    /// # Errors
    /// [`WsError::MalformedResponse`] for something that is not an HTTP/1.1 response,
    /// [`WsError::UnexpectedStatus`] for a status other than 101, and
    /// [`WsError::MissingUpgrade`], [`WsError::MissingConnectionUpgrade`],
    /// [`WsError::MissingAccept`], [`WsError::AcceptMismatch`],
    /// [`WsError::MissingSubprotocol`], [`WsError::WrongSubprotocol`] or
    /// [`WsError::UnrequestedExtension`] for a 101 response that does not complete the
    /// handshake.
    pub fn check_response(&self, buf: &[u8]) -> Result<Status<usize>, WsError> {
        const VERSION: &[u8] = b"HTTP/1.1 ";
        let Some(line_end) = find(buf, b"\r\n") else {
            let seen = buf.len().min(VERSION.len());
            if buf.get(..seen) != VERSION.get(..seen) {
                return Err(WsError::MalformedResponse);
            }
            return Ok(Status::need(1));
        };
        let status_line = buf.get(..line_end).unwrap_or(&[]);
        let code = status_line
            .strip_prefix(VERSION)
            .and_then(|rest| match rest {
                [a, b, c] | [a, b, c, b' ', ..] => Some([*a, *b, *c]),
                _ => None,
            })
            .filter(|digits| digits.iter().all(u8::is_ascii_digit))
            .map(|[a, b, c]| u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
            .ok_or(WsError::MalformedResponse)?;
        if code != 101 {
            return Err(WsError::UnexpectedStatus(code));
        }
        let headers_start = line_end + 2;
        let rest = buf.get(headers_start..).unwrap_or(&[]);
        // The header section ends with an empty line.
        let (headers, total) = if rest.starts_with(b"\r\n") {
            (&[][..], headers_start + 2)
        } else {
            match find(rest, b"\r\n\r\n") {
                Some(end) => (rest.get(..end + 2).unwrap_or(&[]), headers_start + end + 4),
                None => return Ok(Status::need(1)),
            }
        };
        self.check_headers(headers).map(|()| Status::Complete(total))
    }

    /// Checks the header lines (each ending with CRLF) of a 101 response.
    fn check_headers(&self, headers: &[u8]) -> Result<(), WsError> {
        let (mut upgrade, mut connection, mut accept, mut protocol) = (false, false, None, None);
        let lines = match headers.strip_suffix(b"\n") {
            Some(body) => body.split(|&b| b == b'\n'),
            None => return Err(WsError::MissingUpgrade), // no header lines at all
        };
        for line in lines {
            let line = line.strip_suffix(b"\r").ok_or(WsError::MalformedResponse)?;
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(WsError::MalformedResponse)?;
            let (name, value) = line.split_at(colon);
            // A name is a token: no white space (this also refuses obsolete line folding).
            if name.is_empty() || !name.iter().all(u8::is_ascii_graphic) {
                return Err(WsError::MalformedResponse);
            }
            let value = trim(value.get(1..).unwrap_or(&[]));
            if name.eq_ignore_ascii_case(b"upgrade") {
                upgrade |= value.eq_ignore_ascii_case(b"websocket");
            } else if name.eq_ignore_ascii_case(b"connection") {
                connection |= value
                    .split(|&b| b == b',')
                    .any(|token| trim(token).eq_ignore_ascii_case(b"upgrade"));
            } else if name.eq_ignore_ascii_case(b"sec-websocket-accept") {
                accept = Some(value);
            } else if name.eq_ignore_ascii_case(b"sec-websocket-protocol") {
                protocol = Some(value);
            } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") && !value.is_empty() {
                // Section 4.1: the client offered none, so the server may not use any.
                return Err(WsError::UnrequestedExtension);
            }
        }
        if !upgrade {
            return Err(WsError::MissingUpgrade);
        }
        if !connection {
            return Err(WsError::MissingConnectionUpgrade);
        }
        match accept {
            None => return Err(WsError::MissingAccept),
            Some(value) if value != self.accept => return Err(WsError::AcceptMismatch),
            Some(_) => {}
        }
        match protocol {
            None => Err(WsError::MissingSubprotocol),
            Some(value) if value != SUBPROTOCOL.as_bytes() => Err(WsError::WrongSubprotocol),
            Some(_) => Ok(()),
        }
    }
}

/// The position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `value` without leading and trailing spaces and tabs.
fn trim(value: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_space(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_space(b)).map_or(start, |p| p + 1);
    value.get(start..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: [u8; 16] = *b"the sample nonce";

    fn response(accept: &str) -> std::string::String {
        std::format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nsec-websocket-protocol:  mqtt \r\n\r\n"
        )
    }

    #[test]
    fn rfc6455_example_key() {
        // Section 1.3: the nonce "the sample nonce" gives this key and accept value.
        let hs = Handshake::new(NONCE);
        assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(hs.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn request_bytes() {
        let hs = Handshake::new(NONCE);
        let mut out = [0xa5; 300];
        let n = hs.write_request("broker.local:8080", "/mqtt", &mut out).unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            "GET /mqtt HTTP/1.1\r\nHost: broker.local:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        );
        assert_eq!(
            hs.write_request("broker.local:8080", "/mqtt", &mut out[..n - 1]),
            Err(WsError::BufferTooSmall { needed: n })
        );
        assert_eq!(hs.write_request("", "/", &mut out), Err(WsError::InvalidHost));
        assert_eq!(
            hs.write_request("a\r\nX: y", "/", &mut out),
            Err(WsError::InvalidHost)
        );
        assert_eq!(hs.write_request("a", "mqtt", &mut out), Err(WsError::InvalidPath));
        assert_eq!(hs.write_request("a", "/a b", &mut out), Err(WsError::InvalidPath));
    }

    #[test]
    fn valid_response_every_prefix_partial() {
        let hs = Handshake::new(NONCE);
        let mut r = response(hs.expected_accept()).into_bytes();
        let len = r.len();
        for cut in 0..len {
            assert!(
                matches!(hs.check_response(&r[..cut]), Ok(Status::Partial { .. })),
                "prefix {cut}"
            );
        }
        assert_eq!(hs.check_response(&r), Ok(Status::Complete(len)));
        // Frame bytes after the response are not part of it.
        r.extend_from_slice(&[0x82, 0x00]);
        assert_eq!(hs.check_response(&r), Ok(Status::Complete(len)));
    }

    #[test]
    fn status_other_than_101_is_reported_from_the_status_line() {
        let hs = Handshake::new(NONCE);
        assert_eq!(
            hs.check_response(b"HTTP/1.1 404 Not Found\r\n"),
            Err(WsError::UnexpectedStatus(404))
        );
        assert_eq!(
            hs.check_response(b"HTTP/1.1 200\r\n"),
            Err(WsError::UnexpectedStatus(200))
        );
        assert_eq!(
            hs.check_response(b"SSH-2.0-OpenSSH"),
            Err(WsError::MalformedResponse)
        );
        assert_eq!(
            hs.check_response(b"HTTP/1.0 101 x\r\n"),
            Err(WsError::MalformedResponse)
        );
        assert_eq!(
            hs.check_response(b"HTTP/1.1 1O1 x\r\n"),
            Err(WsError::MalformedResponse)
        );
        assert_eq!(
            hs.check_response(b"\x10\x02\x00\x00"),
            Err(WsError::MalformedResponse)
        );
    }

    #[test]
    fn each_header_error() {
        let hs = Handshake::new(NONCE);
        let good = response(hs.expected_accept());
        let check = |text: &str| hs.check_response(text.as_bytes());
        assert_eq!(
            check(&good.replace("upgrade: WebSocket\r\n", "")),
            Err(WsError::MissingUpgrade)
        );
        assert_eq!(
            check(&good.replace("WebSocket", "h2c")),
            Err(WsError::MissingUpgrade)
        );
        assert_eq!(
            check(&good.replace("keep-alive, Upgrade", "keep-alive")),
            Err(WsError::MissingConnectionUpgrade)
        );
        let no_accept = good.replace(
            &std::format!("Sec-WebSocket-Accept: {}\r\n", hs.expected_accept()),
            "",
        );
        assert_eq!(check(&no_accept), Err(WsError::MissingAccept));
        assert_eq!(
            check(&response("s3pPLMBiTxaQ9kGzzO0oo+xK4oo=")),
            Err(WsError::AcceptMismatch)
        );
        assert_eq!(
            check(&good.replace("sec-websocket-protocol:  mqtt \r\n", "")),
            Err(WsError::MissingSubprotocol)
        );
        assert_eq!(
            check(&good.replace(" mqtt ", "mqttv3.1")),
            Err(WsError::WrongSubprotocol)
        );
        assert_eq!(
            check(&good.replace(
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            )),
            Err(WsError::UnrequestedExtension)
        );
        assert_eq!(
            check(&good.replace("upgrade:", "upgrade")),
            Err(WsError::MalformedResponse)
        );
        assert_eq!(
            check(&good.replace("\r\nupgrade", "\r\n upgrade")),
            Err(WsError::MalformedResponse)
        );
        assert_eq!(
            check("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            Err(WsError::MissingUpgrade)
        );
    }
}
