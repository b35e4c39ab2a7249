//! The netlink message walk (`diag::walk`) on arbitrary datagrams: it must return an error or a
//! result for any bytes, never panic or read out of bounds, and every record it hands out must be
//! readable in full.
#![no_main]

use conntrend::api::diag::{Record, walk};
use libfuzzer_sys::fuzz_target;

/// Reads every field, so a record view past its bytes would panic here.
fn touch(r: &Record<'_>) -> u64 {
    u64::from(r.family())
        + u64::from(r.state())
        + u64::from(r.src_port())
        + u64::from(r.dst_port())
        + r.src_addr().iter().map(|&b| u64::from(b)).sum::<u64>()
        + r.dst_addr().iter().map(|&b| u64::from(b)).sum::<u64>()
        + u64::from(r.uid())
        + u64::from(r.inode())
}

fuzz_target!(|data: &[u8]| {
    // The sequence number to accept: the one in the first header, as a live dump would have it,
    // so that records are walked rather than skipped as stale.
    let seq = data
        .get(8..12)
        .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
        .unwrap_or(0);
    let mut interrupted = false;
    let mut sum = 0u64;
    let _ = walk(data, seq, &mut interrupted, |r| sum = sum.wrapping_add(touch(&r)));
    std::hint::black_box(sum);
});
