//! The sampler on recorded kernel bytes: dumps captured by `examples/record_fixture.rs` are replayed
//! through the real sampler (walk, fold, pool), and every column is compared with what `ss`,
//! recorded at the same moment in the same namespace, implies. Needs no root and no namespace.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use conntrend::api::PoolReader;
use conntrend::api::Sample;
use conntrend::api::Sampler;
use conntrend::api::diag::{Protocols, Replay, walk};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The sample the real sampler takes from the recorded dumps and sysctl texts of fixture `name`.
fn fold(name: &str) -> Sample {
    let dir = fixture(name);
    let replay = Replay::from_dir(&dir).unwrap();
    let reader = PoolReader::at(
        dir.join("ip_local_port_range.txt"),
        dir.join("ip_local_reserved_ports.txt"),
    );
    let mut sampler = Sampler::with_source(replay, reader, Protocols::ALL).unwrap();
    sampler.take(0, &mut ()).unwrap()
}

/// (state, local port) of every socket in an `ss -tanH`/`ss -uanH` listing.
fn ss(name: &str, file: &str) -> Vec<(String, u16)> {
    fs::read_to_string(fixture(name).join(file))
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = f[3].rsplit(':').next().unwrap().parse().unwrap();
            (f[0].to_string(), port)
        })
        .collect()
}

/// The recorded range, read without conntrend's parser: (lo, hi).
fn recorded_range(name: &str) -> (u16, u16) {
    let text = fs::read_to_string(fixture(name).join("ip_local_port_range.txt")).unwrap();
    let v: Vec<u16> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (v[0], v[1])
}

#[test]
fn mix_fixture_matches_what_ss_saw() {
    matches_what_ss_saw("mix");
}

#[test]
fn large_fixture_matches_what_ss_saw() {
    matches_what_ss_saw("large");
}

fn matches_what_ss_saw(name: &str) {
    let sample = fold(name);
    let tcp = ss(name, "ss-tcp.txt");
    let udp = ss(name, "ss-udp.txt");

    // The recorder reserves 40100-40109 (checked here against the recorded text).
    let reserved = fs::read_to_string(fixture(name).join("ip_local_reserved_ports.txt")).unwrap();
    assert_eq!(reserved.trim(), "40100-40109");
    let (lo, hi) = recorded_range(name);
    let in_pool = |p: &u16| (lo..=hi).contains(p) && !(40100..=40109).contains(p);
    let mut tcp_ports: BTreeSet<u16> = tcp.iter().map(|s| s.1).filter(in_pool).collect();
    // The recorder also holds a bound-only TCP socket on 40500 (state BOUND_INACTIVE), which the
    // ss of Debian 12 does not list; conntrend asks for that state and must count the port.
    tcp_ports.insert(40500);
    let udp_ports: BTreeSet<u16> = udp.iter().map(|s| s.1).filter(in_pool).collect();
    let count = |state: &str| tcp.iter().filter(|s| s.0 == state).count() as u32;

    assert_eq!(sample.total_port, u32::from(hi - lo) + 1 - 10);
    assert_eq!(sample.tcp_used, Some(tcp_ports.len() as u32));
    assert_eq!(sample.udp_used, Some(udp_ports.len() as u32));
    assert_eq!(sample.used, tcp_ports.union(&udp_ports).count() as u32);
    assert_eq!(sample.free, sample.total_port - sample.used);
    assert_eq!(sample.time_wait, Some(count("TIME-WAIT")));
    assert_eq!(sample.estab, Some(count("ESTAB")));
    assert_eq!(sample.syn, Some(count("SYN-SENT") + count("SYN-RECV")));
    assert_eq!(sample.close_wait, Some(count("CLOSE-WAIT")));
    assert_eq!(sample.last_ack, Some(count("LAST-ACK")));
    assert_eq!(
        sample.fin_wait,
        Some(count("FIN-WAIT-1") + count("FIN-WAIT-2"))
    );
    // The mix is not trivial: every kind it was built with is present.
    assert!(count("TIME-WAIT") > 0 && count("CLOSE-WAIT") > 0 && count("FIN-WAIT-2") > 0);
    assert!(
        tcp_ports.intersection(&udp_ports).count() > 0,
        "a port held by TCP and UDP"
    );
}

#[test]
fn a_dump_cut_short_is_an_error_not_a_smaller_count() {
    let bytes = fs::read(fixture("mix").join("tcp4.bin")).unwrap();
    let seq = u32::from_ne_bytes(bytes[8..12].try_into().unwrap());
    let cut = &bytes[..bytes.len() - 30];
    let mut interrupted = false;
    assert!(walk(cut, seq, &mut interrupted, |_| {}).is_err());
}
