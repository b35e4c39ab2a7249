//! `conntrend conntrack`: in private namespaces whose nftables rules turn connection tracking on,
//! a known set of flows is listed exactly and as `conntrack -L` lists it, in grout's layout
//! ([`show`]); `config` agrees with `conntrack -C` and the sysctls, speaks grout's names and sets
//! them all-or-nothing ([`config`]); `delete` removes what `conntrack -D` would ([`delete`]);
//! `events` sees what `conntrack -E` sees ([`events`]); `flush` empties the table; `stats` equals
//! `conntrack -S` summed; the timeline's `--conntrack` columns follow the count.

mod config;
mod delete;
mod events;
mod show;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::process::Command;

use serde_json::Value;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, with_netns};
use crate::util::{conntrend, run};

/// A flow as both tools describe it: protocol, state, original src, dst, sport, dport.
pub type Flow = (String, String, String, String, u16, u16);

/// Turns tracking on in this namespace: a rule with a `ct` expression on output.
pub fn track(ns: &NetNs) {
    ns.nft(
        "table inet tracking {\n chain out {\n type filter hook output priority 0;\n \
         ct state new accept\n }\n}\n",
    );
}

pub fn ct(args: &[&str]) -> crate::util::Run {
    let mut cmd = conntrend();
    cmd.arg("conntrack").args(args);
    run(cmd)
}

/// `conntrend ct show --json`, as flows.
pub fn listed(args: &[&str]) -> BTreeSet<Flow> {
    let mut all = vec!["show", "--json"];
    all.extend_from_slice(args);
    let r = ct(&all);
    r.expect_code(0);
    json_flows(&r.stdout())
}

/// JSON Lines of entries (show's, delete's), as flows.
pub fn json_flows(text: &str) -> BTreeSet<Flow> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {l}"))
                    .to_string()
            };
            let p = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {l}")) as u16;
            (
                s("proto"),
                s("state"),
                s("orig_src"),
                s("orig_dst"),
                p("orig_sport"),
                p("orig_dport"),
            )
        })
        .collect()
}

/// `conntrack -L` of this namespace, as flows (its own text format, parsed).
pub fn conntrack_l() -> BTreeSet<Flow> {
    conntrack_l_with(&[])
}

/// `conntrack -L ARGS` of this namespace, as flows.
pub fn conntrack_l_with(args: &[&str]) -> BTreeSet<Flow> {
    let mut cmd = Command::new("conntrack");
    cmd.arg("-L").args(args);
    let r = run(cmd);
    r.expect_code(0);
    r.stdout()
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let first = |key: &str| {
                words
                    .iter()
                    .find_map(|w| w.strip_prefix(key))
                    .unwrap_or_else(|| panic!("{key} in {l}"))
                    .to_string()
            };
            let src_at = words.iter().position(|w| w.starts_with("src=")).unwrap();
            // TCP: `tcp 6 TIMEOUT STATE src=...`; others: flags in brackets after the first tuple.
            let state = if words[0] == "tcp" {
                words[src_at - 1].to_string()
            } else if l.contains("[UNREPLIED]") {
                "UNREPLIED".to_string()
            } else if l.contains("[ASSURED]") {
                "ASSURED".to_string()
            } else {
                "REPLIED".to_string()
            };
            let addr = |s: String| s.parse::<std::net::IpAddr>().unwrap().to_string();
            (
                words[0].to_string(),
                state,
                addr(first("src=")),
                addr(first("dst=")),
                first("sport=").parse().unwrap(),
                first("dport=").parse().unwrap(),
            )
        })
        .collect()
}

pub fn flow(proto: &str, state: &str, src: &str, dst: &str, sport: u16, dport: u16) -> Flow {
    let (p, s) = (proto.to_string(), state.to_string());
    (p, s, src.to_string(), dst.to_string(), sport, dport)
}

/// Counts lines `name value` into pairs.
pub fn pairs(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap_or_else(|| panic!("{l}"));
            (n.to_string(), v.parse().unwrap_or_else(|_| panic!("{l}")))
        })
        .collect()
}

pub fn netfilter(name: &str) -> u64 {
    let path = format!("/proc/sys/net/netfilter/nf_conntrack_{name}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

/// Sets a sysctl of this namespace's table (`nf_conntrack_NAME`).
pub fn set_netfilter(name: &str, value: u64) {
    let path = format!("/proc/sys/net/netfilter/nf_conntrack_{name}");
    std::fs::write(&path, format!("{value}\n")).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// Turns tracking on and holds [`hold_flows`]' flows.
pub fn flows(ns: &NetNs) -> (Mix<'_>, Vec<UdpSocket>, BTreeSet<Flow>) {
    track(ns);
    hold_flows(ns)
}

/// Holds: two ESTABLISHED TCP connections (IPv4 41001 -> 7000, IPv6 41002 -> 7001), one in
/// TIME_WAIT (41003 -> 7000), one UDP flow answered (41010 -> 9001) and one never answered
/// (41011 -> 9002). Returns what each tool should list.
pub fn hold_flows(ns: &NetNs) -> (Mix<'_>, Vec<UdpSocket>, BTreeSet<Flow>) {
    let mut mix = Mix::new(ns);
    mix.listen(false, 7000)
        .listen(true, 7001)
        .estab(false, 41001, 7000)
        .estab(true, 41002, 7001)
        .time_wait(false, 41003, 7000);
    let server = UdpSocket::bind("127.0.0.1:9001").unwrap();
    let quiet = UdpSocket::bind("127.0.0.1:9002").unwrap();
    let answered = UdpSocket::bind("127.0.0.1:41010").unwrap();
    let unanswered = UdpSocket::bind("127.0.0.1:41011").unwrap();
    answered.send_to(b"ping", "127.0.0.1:9001").unwrap();
    let mut buf = [0u8; 8];
    let (_, from) = server.recv_from(&mut buf).unwrap();
    server.send_to(b"pong", from).unwrap();
    answered.recv_from(&mut buf).unwrap();
    unanswered.send_to(b"ping", "127.0.0.1:9002").unwrap();
    let lo4 = "127.0.0.1";
    let want = BTreeSet::from([
        flow("tcp", "ESTABLISHED", lo4, lo4, 41001, 7000),
        flow("tcp", "ESTABLISHED", "::1", "::1", 41002, 7001),
        flow("tcp", "TIME_WAIT", lo4, lo4, 41003, 7000),
        flow("udp", "REPLIED", lo4, lo4, 41010, 9001),
        flow("udp", "UNREPLIED", lo4, lo4, 41011, 9002),
    ]);
    (mix, vec![server, quiet, answered, unanswered], want)
}

#[test]
fn flush_empties_the_table() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let r = ct(&["flush"]);
        r.expect_code(0);
        assert_eq!(r.stdout(), "flushed 5 entries\n");
        let mut c = Command::new("conntrack");
        c.arg("-C");
        assert_eq!(run(c).stdout().trim(), "0");
        assert!(listed(&[]).is_empty());
    });
}

/// `conntrack -S` summed over its per-CPU lines, by name.
fn conntrack_s() -> Vec<(String, u64)> {
    let mut cmd = Command::new("conntrack");
    cmd.arg("-S");
    let text = run(cmd).stdout();
    let mut sums: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        for word in line.split_whitespace().filter(|w| !w.starts_with("cpu=")) {
            let (k, v) = word.split_once('=').unwrap();
            let v: u64 = v.parse().unwrap();
            match sums.iter_mut().find(|(n, _)| n == k) {
                Some((_, s)) => *s += v,
                None => sums.push((k.to_string(), v)),
            }
        }
    }
    sums
}

/// Sends one bare TCP ACK for no known connection: with `nf_conntrack_tcp_loose` 0 conntrack
/// counts it invalid.
fn stray_ack() {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).expect("raw socket");
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&5555u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&7999u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&1u32.to_be_bytes());
    tcp[8..12].copy_from_slice(&1u32.to_be_bytes());
    tcp[12] = 5 << 4; // 20-byte header
    tcp[13] = 0x10; // ACK
    tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
    // Checksum over the pseudo-header (127.0.0.1 both ends, protocol 6, length 20) and header.
    let mut sum: u32 = 0x7f00 + 0x0001 + 0x7f00 + 0x0001 + 6 + 20;
    for w in tcp.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    tcp[16..18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let to: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.send_to(&tcp, &to.into()).expect("send the stray ACK");
}

#[test]
fn stats_equal_conntrack_s_summed() {
    with_netns(|ns| {
        track(ns);
        std::fs::write("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", "0").unwrap();
        for _ in 0..3 {
            stray_ack();
        }
        ns.wait_until("an invalid packet counted", || {
            conntrack_s().iter().any(|(n, v)| n == "invalid" && *v > 0)
        });
        let r = ct(&["stats"]);
        r.expect_code(0);
        let ours = pairs(&r.stdout());
        let theirs = conntrack_s();
        assert_eq!(ours, theirs, "{}", r.describe());
        let json: Value = serde_json::from_str(&ct(&["stats", "--json"]).stdout()).unwrap();
        let invalid = theirs.iter().find(|(n, _)| n == "invalid").unwrap().1;
        assert!(invalid >= 3);
        assert_eq!(json["invalid"], invalid);
    });
}

#[test]
fn the_timeline_columns_follow_the_count() {
    with_netns(|ns| {
        track(ns);
        let mut mix = Mix::new(ns);
        mix.listen(false, 7000);
        let mut cmd = conntrend();
        cmd.args(["--conntrack", "-i", "1", "-c", "3", "--format", "json"]);
        let r = ns.run_changing(cmd, || {
            mix.estab(false, 41001, 7000).estab(false, 41002, 7000);
        });
        r.expect_code(0);
        let lines: Vec<Value> = r
            .stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let samples: Vec<&Value> = lines.iter().filter(|v| v["epoch_ms"].is_u64()).collect();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0]["ct_used"], 0, "{}", r.describe());
        assert_eq!(samples[2]["ct_used"], 2, "{}", r.describe());
        assert_eq!(samples[2]["ct_max"], netfilter("max"));
        for s in &samples {
            assert_eq!(s["ct_drops"], 0);
        }
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["peak_ct_used"], 2);
        assert_eq!(summary["ct_drops"], 0);
    });
}

/// A namespace whose /proc shows no conntrack table (masked here by an empty tmpfs, as a kernel
/// without nf_conntrack would have it): the command says so and exits 1; the timeline's columns
/// stay empty with one note.
#[test]
fn without_a_table_the_command_fails_and_the_columns_stay_empty() {
    let script = format!(
        "mount -t tmpfs none /proc/sys/net/netfilter && {bin} conntrack config; echo \"rc=$?\"; \
         {bin} --conntrack -c 2 -i 1",
        bin = env!("CARGO_BIN_EXE_conntrend")
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--net", "sh", "-c", &script]);
    let r = run(cmd);
    r.expect_code(0);
    let (out, err) = (r.stdout(), r.stderr());
    assert!(out.starts_with("rc=1\n"), "{}", r.describe());
    assert!(err.contains("connection tracking is not available in this network namespace"));
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 2, "{}", r.describe());
    for row in rows {
        assert!(row.ends_with(",,,"), "ct columns not empty: {row}");
    }
    let notes = err.matches("the conntrack columns stay empty").count();
    assert_eq!(notes, 1, "{}", r.describe());
}

#[test]
fn top_shows_the_table_s_usage() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let mut cmd = conntrend();
        cmd.args(["top", "--json"]);
        let r = run(cmd);
        r.expect_code(0);
        let v: Value = serde_json::from_str(&r.stdout()).unwrap();
        assert_eq!(v["conntrack"]["used"], 5, "{}", r.describe());
        assert_eq!(v["conntrack"]["max"], netfilter("max"));
        let mut cmd = conntrend();
        cmd.arg("top");
        let text = run(cmd).stdout();
        assert!(text.contains("\nct     used 5 ("), "{text}");
    });
}

/// ctnetlink answers only CAP_NET_ADMIN: without it (dropped from the bounding set, which works
/// as root and inside a user namespace alike), `flush`, `show`, `delete` and `events` say so
/// (exit 1) and `stats` falls back to /proc/net/stat/nf_conntrack with one note.
#[test]
fn without_cap_net_admin_ctnetlink_is_explained() {
    with_netns(|ns| {
        track(ns);
        let as_nobody = |args: &[&str]| {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--bounding-set=-net_admin", "--inh-caps=-net_admin"])
                .arg(env!("CARGO_BIN_EXE_conntrend"))
                .arg("conntrack")
                .args(args);
            run(cmd)
        };
        for args in [
            &["flush"][..],
            &["show"],
            &["delete", "--port", "9"],
            &["events"],
        ] {
            let r = as_nobody(args);
            r.expect_code(1);
            assert!(r.stderr().contains("CAP_NET_ADMIN"), "{}", r.describe());
            assert_eq!(r.stderr().lines().count(), 1, "{}", r.describe());
        }
        let r = as_nobody(&["stats"]);
        r.expect_code(0);
        assert!(
            r.stderr().contains("/proc/net/stat/nf_conntrack"),
            "{}",
            r.describe()
        );
        assert_eq!(pairs(&r.stdout()), conntrack_s());
    });
}
