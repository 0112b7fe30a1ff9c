//! Arbitrary bytes into `umqtt::decode`, as one buffer and as a stream of short reads.
//!
//! * `decode` never panics, and every invariant in `checks::check_decode` holds: agreement
//!   with `peek_fixed_header`, exact `consumed`/`needed`, prefixes are `Partial`, and a decoded
//!   packet re-encodes to the same bytes (when the Remaining Length was minimal) and back.
//! * The same bytes, split into chunks chosen by the first (and last) byte, go through
//!   `read_packet` packet by packet, with a full-size and with a tiny receive buffer; each
//!   result must equal what whole-buffer decoding says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umqtt_fuzz::checks::{check_decode, check_fragmented, fragment_seed};

fuzz_target!(|data: &[u8]| {
    check_decode(data);
    let seed = fragment_seed(data);
    // A receive buffer that fits any body in the input...
    check_fragmented(data, seed, data.len());
    // ...and one of 0 to 7 bytes, so most bodies take the `TooLarge` skip path.
    check_fragmented(data, seed.rotate_left(3), usize::from(seed >> 5));
});
