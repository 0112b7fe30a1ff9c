//! A tiny scripted MQTT "broker" for client tests that need a server to misbehave in ways a
//! real broker never does (refused subscriptions, reserved CONNACK codes, wrong packet ids,
//! malformed packets).
//!
//! [`FakeBroker::start`] binds a free loopback port, accepts exactly one connection on a
//! background thread and runs a [`Step`] script against it. Framing is done here by hand
//! (fixed header + remaining length), independently of the crate under test. After the
//! script the thread keeps reading until the client closes the connection, so bytes the
//! client sends late are recorded instead of provoking a TCP reset that could destroy data
//! still unread by the client. [`FakeBroker::finish`] joins the thread and returns every
//! packet the client sent; drop (or shut down) the client first.
//!
//! ```ignore
//! let fake = FakeBroker::start(vec![
//!     Step::Expect(CONNECT),
//!     Step::connack(false, 0),
//!     Step::Expect(SUBSCRIBE),
//!     Step::suback(&[0x80]),
//! ]);
//! // ... connect a client to fake.addr() ...
//! let packets = fake.finish();
//! ```

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the fake broker waits for the client to connect and for each packet.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Packet type numbers (the high nibble of the first byte).
pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const UNSUBSCRIBE: u8 = 10;
pub const UNSUBACK: u8 = 11;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;

/// One packet as received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// The first byte (type and flags).
    pub header: u8,
    /// Everything after the remaining length.
    pub body: Vec<u8>,
}

impl RawPacket {
    /// The packet type (high nibble of the first byte).
    pub fn packet_type(&self) -> u8 {
        self.header >> 4
    }

    /// The packet identifier, for the types whose variable header starts with one.
    pub fn packet_id(&self) -> Option<u16> {
        match self.packet_type() {
            PUBACK | PUBREC | PUBREL | PUBCOMP | SUBSCRIBE | SUBACK | UNSUBSCRIBE | UNSUBACK => {
                Some(u16::from_be_bytes([*self.body.first()?, *self.body.get(1)?]))
            }
            _ => None,
        }
    }
}

/// Computes bytes to send from the packets received so far.
pub type ReplyFn = Box<dyn FnOnce(&[RawPacket]) -> Vec<u8> + Send>;

/// One scripted action.
pub enum Step {
    /// Read one packet and require this packet type.
    Expect(u8),
    /// Write these bytes verbatim.
    Send(Vec<u8>),
    /// Write the bytes computed from the packets received so far.
    Reply(ReplyFn),
    /// Pause.
    Sleep(Duration),
}

impl Step {
    /// A CONNACK with the given Session Present flag and return code (any byte, reserved
    /// values included).
    pub fn connack(session_present: bool, code: u8) -> Step {
        Step::Send(vec![CONNACK << 4, 2, u8::from(session_present), code])
    }

    /// A SUBACK with `codes`, answering the packet id of the last SUBSCRIBE received.
    pub fn suback(codes: &[u8]) -> Step {
        Step::suback_id_offset(0, codes)
    }

    /// A SUBACK with `codes` whose packet id is the last SUBSCRIBE's id plus `offset`
    /// (wrapping, skipping 0), to provoke an unknown-packet-id error.
    pub fn suback_id_offset(offset: u16, codes: &[u8]) -> Step {
        let codes = codes.to_vec();
        Step::Reply(Box::new(move |received: &[RawPacket]| {
            let id = last_id(received, SUBSCRIBE);
            let mut id = id.wrapping_add(offset);
            if id == 0 {
                id = 1;
            }
            let mut body = id.to_be_bytes().to_vec();
            body.extend_from_slice(&codes);
            frame(SUBACK << 4, &body)
        }))
    }
}

/// The packet id of the last received packet of type `ptype`; panics (in the broker thread,
/// reported by [`FakeBroker::finish`]) when there is none.
fn last_id(received: &[RawPacket], ptype: u8) -> u16 {
    received
        .iter()
        .rev()
        .find(|p| p.packet_type() == ptype)
        .and_then(RawPacket::packet_id)
        .unwrap_or_else(|| panic!("fake broker: no packet of type {ptype} with an id received yet"))
}

/// Encodes a Remaining Length (1 to 4 bytes).
pub fn remaining_length(mut len: usize) -> Vec<u8> {
    assert!(len <= 268_435_455, "remaining length {len} too large");
    let mut out = Vec::new();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return out;
        }
    }
}

/// A whole packet: `header`, the Remaining Length of `body`, `body`.
pub fn frame(header: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![header];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

/// An MQTT UTF-8 string: 2-byte big-endian length, then the bytes.
pub fn mqtt_str(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

/// A server that runs one script against one client connection.
pub struct FakeBroker {
    addr: SocketAddr,
    thread: Option<JoinHandle<Result<Vec<RawPacket>, String>>>,
}

impl FakeBroker {
    /// Binds a free loopback port and starts serving `script` on a background thread.
    pub fn start(script: Vec<Step>) -> FakeBroker {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("fake broker bind: {e}"));
        let addr = listener.local_addr().expect("bound listener has an address");
        let thread = thread::spawn(move || serve(&listener, script));
        FakeBroker {
            addr,
            thread: Some(thread),
        }
    }

    /// Where to connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the script to finish and the client to close the connection (at most
    /// [`TIMEOUT`] after the last packet), and returns everything the client sent. Panics
    /// when a step failed (for example an `Expect` got another packet type).
    pub fn finish(mut self) -> Vec<RawPacket> {
        let thread = self.thread.take().expect("finish is called once");
        match thread.join() {
            Ok(Ok(packets)) => packets,
            Ok(Err(why)) => panic!("fake broker script failed: {why}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn serve(listener: &TcpListener, script: Vec<Step>) -> Result<Vec<RawPacket>, String> {
    let mut stream = accept(listener)?;
    let mut received = Vec::new();
    for (n, step) in script.into_iter().enumerate() {
        match step {
            Step::Expect(ptype) => {
                let packet = read_raw(&mut stream)
                    .map_err(|e| format!("step {n}: expected packet type {ptype}, read failed: {e}"))?
                    .ok_or_else(|| format!("step {n}: expected packet type {ptype}, connection closed"))?;
                let got = packet.packet_type();
                received.push(packet);
                if got != ptype {
                    return Err(format!(
                        "step {n}: expected packet type {ptype}, got {got}: {received:?}"
                    ));
                }
            }
            Step::Send(bytes) => write(&mut stream, &bytes).map_err(|e| format!("step {n}: write: {e}"))?,
            Step::Reply(f) => {
                let bytes = f(&received);
                write(&mut stream, &bytes).map_err(|e| format!("step {n}: write: {e}"))?;
            }
            Step::Sleep(d) => thread::sleep(d),
        }
    }
    // Drain until the client hangs up; a timeout or reset also ends the conversation.
    while let Ok(Some(packet)) = read_raw(&mut stream) {
        received.push(packet);
    }
    Ok(received)
}

fn accept(listener: &TcpListener) -> Result<TcpStream, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(TIMEOUT))
                    .map_err(|e| e.to_string())?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("no client connected: {e}")),
        }
    }
}

fn write(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes)?;
    stream.flush()
}

/// Reads one packet; `Ok(None)` on a clean end of stream before its first byte.
fn read_raw(stream: &mut TcpStream) -> io::Result<Option<RawPacket>> {
    let mut first = [0u8; 1];
    if stream.read(&mut first)? == 0 {
        return Ok(None);
    }
    let mut len = 0usize;
    for shift in 0..4 {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b)?;
        len |= usize::from(b[0] & 0x7F) << (7 * shift);
        if b[0] & 0x80 == 0 {
            let mut body = vec![0u8; len];
            stream.read_exact(&mut body)?;
            return Ok(Some(RawPacket {
                header: first[0],
                body,
            }));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "malformed remaining length from client",
    ))
}
