//! `rtt`'s frame parser (`modes::rtt::packet::parse`) on arbitrary bytes under an arbitrary link
//! type, and what it parses fed to the RTT engine: never a panic, whatever the frame or the
//! order of the segments and their times.
//!
//! Input: byte 0 picks the link type (one of those conntrend reads, or one it refuses); the rest
//! is frames, each `[len: u8][dt: i8][len bytes]` (dt in ms since the previous frame, negative
//! going back in time; the last frame takes what is left). fuzz/seed.sh seeds it with the frames
//! of the golden captures in tests/fixtures/rtt.
#![no_main]

use conntrend::api::rtt::{Engine, Limits, Link, parse};
use libfuzzer_sys::fuzz_target;

/// pcap link types: Ethernet, Linux cooked v1 and v2, raw IP (five numbers), BSD loopback (NULL,
/// LOOP), and one conntrend does not read.
const LINKTYPES: [i32; 11] = [1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(link) = Link::from_linktype(LINKTYPES[usize::from(pick) % LINKTYPES.len()]) else {
        return;
    };
    let mut engine = Engine::new(Limits {
        max_flows: 4,
        ts_timeout_ns: 50_000_000,
        idle_ns: 200_000_000,
    });
    let (mut t, mut at) = (0i64, rest);
    while let [len, dt, tail @ ..] = at {
        let len = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(len);
        t += i64::from(*dt as i8) * 1_000_000;
        if let Some(seg) = parse(link, frame) {
            if let Some(line) = engine.packet(t, &seg) {
                std::hint::black_box((line.has_rtt(), line.flow.len()));
            }
        }
        at = next;
    }
    std::hint::black_box(engine.finish());
});
