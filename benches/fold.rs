//! Criterion micro-benchmark of the fold alone: recorded sock_diag dump bytes (committed fixtures)
//! walked in place and folded into counters, then turned into one sample. No kernel, no root.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use conntrend::api::Pool;
use conntrend::api::diag::{Protocol, Protocols, walk};
use conntrend::api::{Sample, Tally};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

struct Fixture {
    dumps: Vec<(Protocol, Vec<u8>)>,
    pool: Pool,
    sockets: u64,
}

fn load(name: &str) -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dumps: Vec<(Protocol, Vec<u8>)> = [
        (Protocol::Tcp, "tcp4.bin"),
        (Protocol::Tcp, "tcp6.bin"),
        (Protocol::Udp, "udp4.bin"),
        (Protocol::Udp, "udp6.bin"),
    ]
    .into_iter()
    .map(|(p, f)| (p, fs::read(dir.join(f)).expect("fixture")))
    .collect();
    let read = |f: &str| fs::read_to_string(dir.join(f)).expect("fixture");
    let mut pool = Pool::default();
    pool.set(
        &read("ip_local_port_range.txt"),
        &read("ip_local_reserved_ports.txt"),
    )
    .expect("fixture pool");
    let mut tally = Tally::default();
    fold(&dumps, &mut tally);
    let sockets = tally.sockets;
    Fixture {
        dumps,
        pool,
        sockets,
    }
}

fn fold(dumps: &[(Protocol, Vec<u8>)], tally: &mut Tally) {
    tally.reset();
    for (protocol, bytes) in dumps {
        let seq = u32::from_ne_bytes(bytes[8..12].try_into().unwrap());
        let mut interrupted = false;
        walk(bytes, seq, &mut interrupted, |r| tally.add(*protocol, &r)).expect("fixture walks");
    }
}

fn bench_fold(c: &mut Criterion) {
    for name in ["mix", "large"] {
        let fx = load(name);
        let mut group = c.benchmark_group("fold");
        group.throughput(Throughput::Elements(fx.sockets));
        let mut tally = Tally::default();
        group.bench_function(format!("{name} ({} sockets)", fx.sockets), |b| {
            b.iter(|| {
                fold(black_box(&fx.dumps), &mut tally);
                black_box(Sample::new(0, &fx.pool, &tally, Protocols::ALL))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_fold);
criterion_main!(benches);
