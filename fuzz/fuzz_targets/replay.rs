//! The whole sample path on arbitrary recorded dumps: the input is split into four recordings
//! (TCP/UDP × IPv4/IPv6) replayed through the sampler with `--dst`'s fold, so the walk, the fold,
//! the destination ranking and the retry logic meet malformed, truncated and interrupted dumps.
#![no_main]

use conntrend::api::diag::Answer;
use conntrend::api::diag::{Family, Protocol, Protocols, Replay};
use conntrend::api::DstTally;
use conntrend::api::PoolReader;
use conntrend::api::Sampler;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0xA5);
    let mut replay = Replay::default();
    for (family, protocol) in [
        (Family::V4, Protocol::Tcp),
        (Family::V6, Protocol::Tcp),
        (Family::V4, Protocol::Udp),
        (Family::V6, Protocol::Udp),
    ] {
        let bytes = parts.next().unwrap_or_default().to_vec();
        replay.set(family, protocol, Answer::Bytes(bytes));
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/mix");
    let reader = PoolReader::at(
        format!("{dir}/ip_local_port_range.txt"),
        format!("{dir}/ip_local_reserved_ports.txt"),
    );
    let Ok(mut sampler) = Sampler::with_source(replay, reader, Protocols::ALL) else {
        return;
    };
    let mut dst = DstTally::default();
    if sampler.take(0, &mut dst).is_ok() {
        let pool = sampler.pool();
        std::hint::black_box(dst.ranked(pool.total(), &pool.members));
    }
});
