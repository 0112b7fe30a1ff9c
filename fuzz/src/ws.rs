//! Invariants of the WebSocket frame decoder (`umqtt::ws::frame`) and handshake response
//! check, shared by the `ws_frame` fuzz target and `tests/ws_fuzz_corpus.rs` (stable replay).

use umqtt::Status;
use umqtt::ws::WsError;
use umqtt::ws::frame::{Decoder, Event, FrameHeader, MAX_HEADER_LEN};
use umqtt::ws::handshake::Handshake;

/// Everything the decoder produced from one input, and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Data payload, concatenated.
    pub data: Vec<u8>,
    /// Control frames: (is ping, is pong, close code, payload).
    pub controls: Vec<(u8, Option<u16>, Vec<u8>)>,
    /// The error that stopped decoding, if any.
    pub error: Option<WsError>,
}

/// Feeds `data` to a fresh decoder in pieces whose lengths come from `sizes` (cycled; 0 means
/// "the rest"), returning at most `limit` data bytes per call.
pub fn run(data: &[u8], sizes: &[usize], limit: usize, max_frame: u64) -> Outcome {
    let mut dec = Decoder::new(max_frame);
    let mut out = Outcome {
        data: Vec::new(),
        controls: Vec::new(),
        error: None,
    };
    let mut pos = 0;
    let mut size = sizes.iter().copied().cycle();
    'pieces: while pos < data.len() {
        let len = match size.next() {
            Some(0) | None => data.len() - pos,
            Some(n) => n.min(data.len() - pos),
        };
        let mut piece = &data[pos..pos + len];
        pos += len;
        loop {
            match dec.decode(piece, limit) {
                Err(e) => {
                    out.error = Some(e);
                    break 'pieces;
                }
                Ok((n, event)) => {
                    assert!(n <= piece.len(), "consumed {n} of {}", piece.len());
                    piece = &piece[n..];
                    match event {
                        Some(Event::Data(d)) => {
                            assert!(!d.is_empty() && d.len() <= limit, "data chunk of {}", d.len());
                            out.data.extend_from_slice(d);
                        }
                        Some(Event::Ping) => out.controls.push((9, None, dec.control_payload().to_vec())),
                        Some(Event::Pong) => out.controls.push((10, None, dec.control_payload().to_vec())),
                        Some(Event::Close { code }) => {
                            assert!(dec.is_closed());
                            out.controls.push((8, code, dec.control_payload().to_vec()));
                        }
                        None => {
                            // Only three reasons to stop: input used up, the limit, or closed.
                            assert!(
                                piece.is_empty() || dec.is_closed() || (limit == 0 && dec.at_data()),
                                "stopped with {} bytes left",
                                piece.len()
                            );
                            if limit == 0 && !piece.is_empty() && dec.at_data() {
                                break 'pieces;
                            }
                            break;
                        }
                    }
                }
            }
            if dec.is_closed() {
                break 'pieces;
            }
        }
    }
    out
}

/// Everything checked on one fuzz input.
pub fn check_ws(data: &[u8]) {
    // The first byte chooses the split pattern and the data limit; the rest is the stream.
    let (&ctl, stream) = match data.split_first() {
        Some(x) => x,
        None => return,
    };
    let whole = run(stream, &[0], usize::MAX, 1 << 16);
    let sizes = [usize::from(ctl & 7) + 1, usize::from(ctl >> 3 & 7) + 1, 3, 1];
    let limit = usize::from(ctl >> 6) * 5 + 1;
    let split = run(stream, &sizes, limit, 1 << 16);
    // How the bytes arrive never changes what they mean.
    assert_eq!(whole, split, "split {sizes:?} limit {limit}");
    run(stream, &[1], 0, 1 << 16);

    // A decoded header re-encodes to the same bytes (lengths are minimal by rule), and every
    // strict prefix of it is Partial.
    if let Ok(Status::Complete((h, n))) = FrameHeader::decode(stream) {
        assert!(n <= MAX_HEADER_LEN);
        assert_eq!(h.encoded_len(), n);
        let mut buf = [0u8; MAX_HEADER_LEN];
        assert_eq!(h.encode(&mut buf), Ok(n));
        assert_eq!(&buf[..n], &stream[..n]);
        for cut in 0..n {
            assert!(matches!(
                FrameHeader::decode(&stream[..cut]),
                Ok(Status::Partial { .. })
            ));
        }
    }

    // The handshake check never panics, and a Complete length lies inside the input.
    let hs = Handshake::new([ctl; 16]);
    if let Ok(Status::Complete(n)) = hs.check_response(stream) {
        assert!(n <= stream.len());
    }
}
