//! `conntrend states` beside the network-connections script itself (vendored at the commit the
//! fixtures come from, run with python3): byte for byte on the four kernels' files, on a saved tree
//! with the state codes the script has no name for, and live on one namespace, where a socket that
//! was bound and then refused is held too.
//!
//! The script's key order comes from two Python sets, so it changes with the string-hash seed from
//! run to run; everything else it prints is fixed. `--pretty` must print exactly what the script's
//! own `json.dumps(..., indent=4)` prints for the script's numbers in conntrend's key order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use socket2::{Domain, SockAddr, Socket, Type};

use super::{STATES, TABLES, build, counts, object, states, want};
use crate::netns::{NetNs, with_netns};
use crate::util::{Run, conntrend, run};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/network-connections"
);

/// `python3 network_connections.py [PATH]`, run where the caller is (its namespace too).
fn script(path: Option<&Path>) -> Run {
    let mut c = Command::new("python3");
    c.arg(Path::new(FIXTURES).join("network_connections.py"));
    c.args(path);
    let r = run(c);
    assert!(
        r.code().is_some(),
        "python3 did not run; these tests need it (apt-get install -y python3)\n{}",
        r.describe()
    );
    r
}

/// The script's object, re-printed by Python's json.dumps(..., indent=4) with conntrend's key
/// order: what `--pretty` must print, byte for byte.
fn in_our_order(script_stdout: &str) -> String {
    let program = format!(
        "import json, sys\nd = json.load(sys.stdin)\n\
         print(json.dumps({{t: {{s: d[t][s] for s in {STATES:?}}} for t in {TABLES:?}}}, indent=4))"
    );
    let mut child = Command::new("python3")
        .args(["-c", &program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script_stdout.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "json.dumps of\n{script_stdout}");
    String::from_utf8(out.stdout).unwrap()
}

/// The script's numbers (its keys in any order, all there).
fn script_counts(r: &Run) -> BTreeMap<String, u64> {
    let v: Value =
        serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}: {}", r.describe()));
    for t in TABLES {
        assert_eq!(v[t].as_object().map(|o| o.len()), Some(12), "{t}: {v}");
    }
    counts(&v)
}

fn states_of(args: &[&str], path: &Path) -> Run {
    let mut c = conntrend();
    c.arg("states").args(args).arg(path);
    let r = run(c);
    r.expect_code(0);
    r
}

#[test]
fn pretty_is_the_script_s_bytes_on_four_kernels() {
    let mut kernels = 0;
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let kernel = entry.unwrap().path();
        if !kernel.is_dir() {
            continue;
        }
        kernels += 1;
        let theirs = script(Some(&kernel));
        theirs.expect_code(0);
        let recorded: Value = serde_json::from_str(
            &std::fs::read_to_string(kernel.join("network-connections.json")).unwrap(),
        )
        .unwrap();
        let parsed: Value = serde_json::from_str(&theirs.stdout()).unwrap();
        assert_eq!(parsed, recorded, "the vendored script is the one recorded");
        // PATH as the script takes it.
        let pretty = states_of(&["--pretty"], &kernel).stdout();
        assert_eq!(
            pretty,
            in_our_order(&theirs.stdout()),
            "{}",
            kernel.display()
        );
        let compact = states_of(&[], &kernel).stdout();
        assert_eq!(object(&compact), recorded, "{}", kernel.display());
    }
    assert_eq!(kernels, 4);
}

/// One /proc/net line in the kernel's format: slot, local and remote address:port, state.
fn line(slot: u32, local: &str, remote: &str, state: &str) -> String {
    format!(
        "{slot:4}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000     0        0 \
         {} 1 0000000000000000 20 4 30 10 -1\n",
        1000 + slot
    )
}

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                      retrnsmt   uid  timeout inode\n";

/// A saved tree with these TCP and UDP lines (no IPv6 files, as on a kernel without IPv6).
fn tree(tcp: &[String], udp: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("net")).unwrap();
    for (name, lines) in [("tcp", tcp), ("udp", udp)] {
        let text = std::iter::once(HEADER.to_string()).chain(lines.iter().cloned());
        std::fs::write(dir.path().join("net").join(name), text.collect::<String>()).unwrap();
    }
    dir
}

/// The script's STATE_MAP names codes 1 to 11, maps 12 and 13 to UNKNOWN, and its `state_id <
/// len(STATE_MAP)` test sends every code from 13 up to UNKNOWN: conntrend counts a /proc file the
/// same way (through netlink, request sockets are SYN_RECV and bound-only sockets CLOSE).
#[test]
fn codes_the_script_has_no_name_for_are_unknown() {
    let (me, peer, nobody) = ("0100007F:9C40", "0200000A:01BB", "00000000:0000");
    let tcp = [
        line(0, me, peer, "01"),
        line(1, me, peer, "07"),
        line(2, me, peer, "0C"),
        line(3, me, peer, "0D"),
        line(4, me, peer, "0E"),
        line(5, me, peer, "FF"),
        line(6, me, nobody, "0A"),
        line(7, me, nobody, "0C"),
    ];
    let udp = [line(0, me, peer, "07"), line(1, me, peer, "01")];
    let dir = tree(&tcp, &udp);
    // Worked out by hand from the script's code: the remote-zero lines are dropped first.
    let hand = want(&[
        ("tcp4.ESTABLISHED", 1),
        ("tcp4.CLOSE", 1),
        ("tcp4.UNKNOWN", 4),
        ("udp4.CLOSE", 1),
        ("udp4.ESTABLISHED", 1),
    ]);
    let theirs = script(Some(dir.path()));
    theirs.expect_code(0);
    assert_eq!(script_counts(&theirs), hand, "the script");
    assert_eq!(counts(&object(&states_of(&[], dir.path()).stdout())), hand);
    let pretty = states_of(&["--pretty"], dir.path()).stdout();
    assert_eq!(pretty, in_our_order(&theirs.stdout()));

    // Code 0 is no state (the kernel never writes it): the script stops on it (KeyError, exit 1);
    // conntrend counts it UNKNOWN.
    let dir = tree(&[line(0, me, peer, "00")], &[]);
    let theirs = script(Some(dir.path()));
    theirs.expect_code(1);
    assert!(
        theirs.stderr().contains("KeyError"),
        "{}",
        theirs.describe()
    );
    let ours = counts(&object(&states_of(&[], dir.path()).stdout()));
    assert_eq!(ours, want(&[("tcp4.UNKNOWN", 1)]));
}

/// A TCP socket bound to `local`, whose connect to `refused` (nothing listens) was refused: the
/// kernel keeps it in its bind table only, in CLOSE, with the peer's address and port 0.
fn refused(local: &str, refused: &str) -> Socket {
    let (local, to): (std::net::SocketAddr, std::net::SocketAddr) =
        (local.parse().unwrap(), refused.parse().unwrap());
    let s = Socket::new(Domain::for_address(local), Type::STREAM, None).unwrap();
    s.bind(&SockAddr::from(local)).unwrap();
    let e = s.connect(&SockAddr::from(to)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    s
}

/// conns' view of one local port through netlink: `laddr,lport,raddr,rport,state` rows.
fn netlink_rows(ns: &NetNs, lport: u16) -> String {
    let mut c = conntrend();
    c.args(["conns", "--source", "netlink", "-P", "-o"])
        .arg("laddr,lport,raddr,rport,state")
        .arg("-F")
        .arg(format!("lport={lport}"));
    let r = ns.run(c);
    r.expect_code(0);
    r.stdout()
}

#[test]
fn live_on_one_namespace_the_script_s_numbers_from_every_source() {
    with_netns(|ns| {
        let mut mix = build(ns);
        mix.syn_sent(false, 40026, 5002).syn_recv(true, 40027, 5003);
        mix.settle();
        let _refused = [
            refused("127.0.0.1:40070", "127.0.0.1:40071"),
            refused("[::1]:40072", "[::1]:40073"),
        ];
        // What each source sees of the refused sockets: /proc/net lists neither (so the script
        // cannot count them); netlink has each in CLOSE (conns' BOUND) with the peer's address.
        for file in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
            let text = std::fs::read_to_string(file).unwrap();
            for port in [":9C86 ", ":9C88 "] {
                assert!(!text.contains(port), "{file} lists {port}:\n{text}");
            }
        }
        assert_eq!(
            netlink_rows(ns, 40070),
            "127.0.0.1,40070,127.0.0.1,0,BOUND\n"
        );
        assert_eq!(netlink_rows(ns, 40072), "::1,40072,::1,0,BOUND\n");

        let theirs = script(None);
        theirs.expect_code(0);
        let hand = want(&[
            // 40020 both sides and 40025's server; 40021 both sides and 40027's client.
            ("tcp4.ESTABLISHED", 3),
            ("tcp4.SYN_SENT", 1),
            ("tcp4.FIN_WAIT1", 1),
            ("tcp4.FIN_WAIT2", 1),
            ("tcp4.CLOSE_WAIT", 1),
            ("tcp4.TIME_WAIT", 1),
            ("tcp6.ESTABLISHED", 3),
            ("tcp6.SYN_RECV", 1),
            ("tcp6.FIN_WAIT2", 1),
            ("tcp6.LAST_ACK", 1),
            ("udp6.ESTABLISHED", 1),
        ]);
        assert_eq!(script_counts(&theirs), hand, "the script");
        let from: BTreeMap<&str, BTreeMap<String, u64>> = [
            ("netlink", states(ns, &["--source", "netlink"])),
            ("auto", states(ns, &[])),
            ("proc", states(ns, &["--source", "proc"])),
            ("PATH /proc", states(ns, &["/proc"])),
        ]
        .into_iter()
        .collect();
        for (source, ours) in &from {
            assert_eq!(ours, &hand, "{source}");
        }
        let mut c = conntrend();
        c.args(["states", "--pretty"]);
        let r = ns.run(c);
        r.expect_code(0);
        assert_eq!(r.stdout(), in_our_order(&theirs.stdout()));
        // --all counts them, as the bound-only socket: CLOSE, through netlink only.
        let all = states(ns, &["--all", "--source", "netlink"]);
        assert_eq!((all["tcp4.CLOSE"], all["tcp6.CLOSE"]), (2, 1), "{all:?}");
        let all = states(ns, &["--all", "--source", "proc"]);
        assert!(!all.contains_key("tcp4.CLOSE"), "{all:?}");
        drop(mix);
    });
}
