//! `conntrend states`: the same keys and numbers as network-connections on the real /proc files of
//! four kernels (its recorded output), exact counts on a held mix in a private namespace with both
//! sources and with `--all`, and the streaming form. script.rs runs the script itself beside it.

mod script;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, with_netns};
use crate::util::{conntrend, run};

const TABLES: [&str; 7] = ["tcp4", "tcp6", "udp4", "udp6", "tcp", "udp", "all"];
const STATES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "UNKNOWN",
];

/// The object as written, checked for exactly the documented keys in order.
fn object(text: &str) -> Value {
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut at = 0;
    for table in TABLES {
        at += text[at..].find(&format!("\"{table}\"")).expect(table);
        let t = v[table]
            .as_object()
            .unwrap_or_else(|| panic!("{table} in {text}"));
        assert_eq!(t.keys().len(), 12, "{table}");
        let mut inner = at;
        for state in STATES {
            inner += text[inner..].find(&format!("\"{state}\"")).expect(state);
            assert!(t[state].is_u64(), "{table}.{state}");
        }
    }
    v
}

/// The nonzero counts of the four base tables, and checks that the sums add up.
fn counts(v: &Value) -> BTreeMap<String, u64> {
    let n = |t: &str, s: &str| v[t][s].as_u64().unwrap();
    for s in STATES {
        assert_eq!(n("tcp", s), n("tcp4", s) + n("tcp6", s), "tcp.{s}");
        assert_eq!(n("udp", s), n("udp4", s) + n("udp6", s), "udp.{s}");
        assert_eq!(n("all", s), n("tcp", s) + n("udp", s), "all.{s}");
    }
    let mut out = BTreeMap::new();
    for t in &TABLES[..4] {
        for s in STATES {
            if n(t, s) > 0 {
                out.insert(format!("{t}.{s}"), n(t, s));
            }
        }
    }
    out
}

fn want(items: &[(&str, u64)]) -> BTreeMap<String, u64> {
    items.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn the_numbers_of_network_connections_on_four_kernels() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/network-connections");
    let mut kernels = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let kernel = entry.unwrap().path();
        if !kernel.is_dir() {
            continue;
        }
        kernels += 1;
        let theirs: Value = serde_json::from_str(
            &std::fs::read_to_string(kernel.join("network-connections.json")).unwrap(),
        )
        .unwrap();
        let r = run({
            let mut c = conntrend();
            c.args(["states", "--proc-root"]).arg(&kernel);
            c
        });
        r.expect_code(0);
        let ours = object(&r.stdout());
        assert_eq!(ours, theirs, "{}", kernel.display());
        assert!(
            counts(&ours).values().sum::<u64>() > 0,
            "{}",
            kernel.display()
        );
    }
    assert_eq!(kernels, 4);
}

/// Every state network-connections names but SYN_SENT/SYN_RECV/CLOSING, on IPv4 and IPv6, with
/// listeners, a bound-only socket and unconnected and connected UDP.
fn build(ns: &NetNs) -> Mix<'_> {
    Pool::new(40000, 40099, "").apply(ns);
    let mut mix = Mix::new(ns);
    mix.listen(false, 5000).listen(true, 5001);
    mix.estab(false, 40020, 5000)
        .estab(true, 40021, 5001)
        .time_wait(false, 40022, 5000)
        .fin_wait2(false, 40023, 5000)
        .last_ack(true, 40024, 5001)
        .fin_wait1(false, 40025, 5000)
        .bound(false, 40060)
        .udp(false, 40050, None, false)
        .udp(true, 40051, Some(40050), false);
    mix.settle();
    mix
}

fn states(ns: &NetNs, args: &[&str]) -> BTreeMap<String, u64> {
    let mut cmd = conntrend();
    cmd.arg("states").args(args);
    let r = ns.run(cmd);
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "{}", r.describe());
    counts(&object(&r.stdout()))
}

#[test]
fn a_held_mix_exactly_from_both_sources() {
    with_netns(|ns| {
        let _mix = build(ns);
        let connected = [
            // 40020 both sides, and 40025's server (its client is FIN_WAIT1).
            ("tcp4.ESTABLISHED", 3),
            ("tcp4.FIN_WAIT1", 1),
            ("tcp4.FIN_WAIT2", 1),
            ("tcp4.CLOSE_WAIT", 1),
            ("tcp4.TIME_WAIT", 1),
            ("tcp6.ESTABLISHED", 2),
            ("tcp6.FIN_WAIT2", 1),
            ("tcp6.LAST_ACK", 1),
            ("udp6.ESTABLISHED", 1),
        ];
        assert_eq!(states(ns, &["--source", "netlink"]), want(&connected));
        assert_eq!(states(ns, &["--source", "proc"]), want(&connected));
        let mut all = connected.to_vec();
        all.extend([("tcp4.LISTEN", 1), ("tcp6.LISTEN", 1), ("udp4.CLOSE", 1)]);
        // /proc/net does not list the bound-only socket; netlink counts it as CLOSE.
        assert_eq!(states(ns, &["--all", "--source", "proc"]), want(&all));
        all.push(("tcp4.CLOSE", 1));
        assert_eq!(states(ns, &["--all", "--source", "netlink"]), want(&all));
    });
}

#[test]
fn streams_one_line_per_sample_with_epoch_ms() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("states.jsonl");
    for _ in 0..2 {
        let r = run({
            let mut c = Command::new(env!("CARGO_BIN_EXE_conntrend"));
            c.args(["states", "-i", "1", "-c", "2", "-o"]).arg(&out);
            c
        });
        r.expect_code(0);
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "appended, never truncated:\n{text}");
    let epochs: Vec<u64> = lines
        .iter()
        .map(|l| {
            let v = object(l);
            assert!(l.starts_with("{\"epoch_ms\":"), "{l}");
            v["epoch_ms"].as_u64().unwrap()
        })
        .collect();
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
    // Without -i/-c: one object, no time; --pretty indents it.
    let r = run({
        let mut c = conntrend();
        c.args(["states", "--pretty"]);
        c
    });
    r.expect_code(0);
    assert!(
        r.stdout()
            .starts_with("{\n    \"tcp4\": {\n        \"ESTABLISHED\": "),
        "four spaces a level, as json.dumps(..., indent=4)\n{}",
        r.describe()
    );
    assert!(object(&r.stdout()).get("epoch_ms").is_none());
}

#[test]
fn bad_input_and_missing_files() {
    for (args, code, want) in [
        (&["states", "-c", "0"][..], 2, "must be at least 1"),
        (
            &["states", "--proc-root", "/nonexistent"],
            1,
            "/nonexistent/net/tcp",
        ),
        (&["states", "--bogus"], 2, "--bogus"),
        // network-connections' PATH is --proc-root: given both ways, or with a namespace, it is
        // refused as --proc-root is.
        (&["states", "/proc", "--proc-root", "/proc"], 2, "[PATH]"),
        (&["states", "/proc", "--pid", "1"], 2, "[PATH]"),
        (&["states", "/proc", "extra"], 2, "extra"),
        (&["states", "/nonexistent"], 1, "/nonexistent/net/tcp"),
    ] {
        let r = run({
            let mut c = conntrend();
            c.args(args);
            c
        });
        r.expect_code(code);
        assert!(r.stderr().contains(want), "{}", r.describe());
        assert!(r.stdout().is_empty(), "{}", r.describe());
    }
}
