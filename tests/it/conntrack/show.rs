//! `conntrack show`: the held flows listed exactly and as `conntrack -L` lists them, each filter
//! against the same flows, and grout's table derived by hand from `conntrack -L -o id` (ids,
//! ICMP identifiers, counters, mark and zone) by grout's layout rules.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    Flow, conntrack_l, conntrack_l_with, ct, flow, flows, hold_flows, listed, set_netfilter, track,
};
use crate::netns::{NetNs, with_netns};

#[test]
fn show_lists_exactly_the_tracked_flows_as_conntrack_does() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("conntrack -L to list the five flows", || {
            conntrack_l() == want
        });
        assert_eq!(listed(&[]), want);
        assert_eq!(listed(&[]), conntrack_l());
        // Filters, each against the same held flows.
        let only = |f: &dyn Fn(&Flow) -> bool| -> BTreeSet<Flow> {
            want.iter().filter(|x| f(x)).cloned().collect()
        };
        assert_eq!(listed(&["-p", "udp"]), only(&|f| f.0 == "udp"));
        assert_eq!(listed(&["-6"]), only(&|f| f.2 == "::1"));
        assert_eq!(
            listed(&["-4", "-p", "6"]),
            only(&|f| f.0 == "tcp" && f.2 != "::1")
        );
        assert_eq!(
            listed(&["--state", "time_wait"]),
            only(&|f| f.1 == "TIME_WAIT")
        );
        assert_eq!(
            listed(&["--state", "UNREPLIED"]),
            only(&|f| f.1 == "UNREPLIED")
        );
        assert_eq!(listed(&["--port", "7000"]), only(&|f| f.5 == 7000));
        assert_eq!(listed(&["--dst", "::1/128"]), only(&|f| f.3 == "::1"));
        assert_eq!(
            listed(&["--src", "127.0.0.0/8", "--port", "9002"]),
            only(&|f| f.5 == 9002)
        );
        // --sport and --dport are conntrack's: the original direction's ports, and they agree
        // with conntrack -L given the same flags (conntrack wants -p with them; we do not).
        for args in [
            &["-p", "tcp", "--dport", "7000"][..],
            &["-p", "udp", "--sport", "41010"],
            &["-p", "tcp", "--sport", "7000"],
        ] {
            assert_eq!(listed(args), conntrack_l_with(args), "{args:?}");
        }
        assert_eq!(listed(&["--dport", "7000"]), only(&|f| f.5 == 7000));
        assert!(listed(&["--sport", "7000"]).is_empty());
        // The text form: grout's header and two rows per flow, fwd and rev.
        let text = ct(&[]);
        text.expect_code(0);
        let out = text.stdout();
        let header = out.lines().next().unwrap();
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            [
                "ID", "STATE", "FLOW", "SRC", "DST", "PROTO", "SPORT", "DPORT", "EXPIRES", "MARK",
                "ZONE"
            ],
            "{out}"
        );
        assert_eq!(out.lines().count(), 1 + 2 * want.len(), "{out}");
    });
}

/// An entry of `conntrack -L -o id`: the cells of grout's fwd and rev rows, as grout's rules
/// make them from it (state spelled as grout does, ICMP's identifier in both port columns).
fn rows_of(line: &str, counters: bool) -> [Vec<String>; 2] {
    let words: Vec<&str> = line.split_whitespace().collect();
    let value = |key: &str, nth: usize| -> Option<String> {
        words
            .iter()
            .filter_map(|w| w.strip_prefix(key))
            .nth(nth)
            .map(str::to_string)
    };
    let proto = words[0];
    let state = match proto {
        "tcp" => match words[3] {
            "SYN_SENT" => "new".to_string(),
            "SYN_SENT2" => "simsyn_sent".to_string(),
            "CLOSE" => "closed".to_string(),
            s => s.to_ascii_lowercase(),
        },
        _ if line.contains("[UNREPLIED]") => "new".to_string(),
        _ => "established".to_string(),
    };
    let port = |key: &str, nth| value(key, nth).or_else(|| value("id=", nth)).unwrap();
    let id: u32 = value("id=", if proto == "icmp" { 2 } else { 0 })
        .unwrap()
        .parse()
        .unwrap();
    let count = |key: &str, nth| {
        if counters {
            value(key, nth).unwrap()
        } else {
            String::new()
        }
    };
    let mut fwd = vec![
        format!("0x{id:08x}"),
        state,
        "fwd".into(),
        value("src=", 0).unwrap(),
        value("dst=", 0).unwrap(),
        proto.to_ascii_uppercase(),
        port("sport=", 0),
        port("dport=", 0),
        words[2].to_string(),
        value("mark=", 0).unwrap(),
        value("zone=", 0).unwrap_or("0".into()),
    ];
    let mut rev = vec![
        String::new(),
        String::new(),
        "rev".into(),
        value("src=", 1).unwrap(),
        value("dst=", 1).unwrap(),
        String::new(),
        port("sport=", 1),
        port("dport=", 1),
        String::new(),
        String::new(),
        String::new(),
    ];
    if counters {
        fwd.extend([count("packets=", 0), count("bytes=", 0)]);
        rev.extend([count("packets=", 1), count("bytes=", 1)]);
    }
    [fwd, rev]
}

/// grout's layout of `rows` under `header`: each column as wide as its widest cell, two spaces
/// apart, numbers (all but STATE FLOW SRC DST PROTO) on the right, trailing blanks cut.
fn layout(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let left = ["STATE", "FLOW", "SRC", "DST", "PROTO"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([header[i].len()])
            .max()
            .unwrap()
    };
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = width(i);
                if left.contains(&header[i]) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

/// Sends one ICMP echo request with identifier `id` to 127.0.0.1 (the kernel answers it).
fn echo(id: u16) {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw socket");
    let mut m = [8u8, 0, 0, 0, 0, 0, 0, 1, b'a', b'b', b'c', b'd'];
    m[4..6].copy_from_slice(&id.to_be_bytes());
    let mut sum: u32 = m
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let to: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.send_to(&m, &to.into()).expect("send the echo request");
}

/// `conntrack -L -o id`'s lines, before and after `between`, when no timeout ticked meanwhile
/// (tried again otherwise, at most 10 times): what `between` saw is then exactly what they saw.
fn steady<T>(mut between: impl FnMut() -> T) -> (Vec<String>, T) {
    let listing = || {
        let mut cmd = std::process::Command::new("conntrack");
        cmd.args(["-L", "-o", "id"]);
        let mut lines: Vec<String> = crate::util::run(cmd)
            .stdout()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    for _ in 0..10 {
        let before = listing();
        let seen = between();
        if listing() == before {
            return (before, seen);
        }
    }
    panic!("the conntrack table kept changing");
}

fn grout_table(ns: &NetNs, counters: bool) {
    let (_mix, _udp, want) = hold_flows(ns);
    echo(4321);
    ns.wait_until("the five flows and the echo", || {
        let mut cmd = std::process::Command::new("conntrack");
        cmd.args(["-L", "-p", "icmp"]);
        conntrack_l_with(&["-p", "tcp"]).len() + conntrack_l_with(&["-p", "udp"]).len()
            == want.len()
            && crate::util::run(cmd).stdout().contains("id=4321")
    });
    let (lines, (text, json)) =
        steady(|| (ct(&["show"]).stdout(), ct(&["show", "--json"]).stdout()));
    assert_eq!(lines.len(), 6, "{lines:?}");
    let mut header = vec![
        "ID", "STATE", "FLOW", "SRC", "DST", "PROTO", "SPORT", "DPORT", "EXPIRES", "MARK", "ZONE",
    ];
    if counters {
        header.extend(["PACKETS", "BYTES"]);
    }
    let entries: Vec<[Vec<String>; 2]> = lines.iter().map(|l| rows_of(l, counters)).collect();
    let flat: Vec<Vec<String>> = entries.iter().flat_map(|e| e.clone()).collect();
    let want_lines = layout(&header, &flat);
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got[0], want_lines[0], "{text}");
    // Entries come in the dump's order: compare each entry's pair of rows as a set.
    let pairs = |l: &[String]| -> BTreeSet<(String, String)> {
        l.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
    };
    let got_rows: Vec<String> = got[1..].iter().map(|s| s.to_string()).collect();
    assert_eq!(pairs(&got_rows), pairs(&want_lines[1..]), "{text}");
    // JSON: the same ids, the ICMP identifier, the counters.
    let objects: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 6, "{json}");
    for o in &objects {
        let id = format!("0x{:08x}", o["id"].as_u64().unwrap());
        let fwd = flat
            .iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("{id} {json}"));
        assert_eq!(o["grout_state"], fwd[1].as_str(), "{o}");
        if counters {
            assert_eq!(o["orig_packets"].to_string(), fwd[11], "{o}");
            assert_eq!(o["orig_bytes"].to_string(), fwd[12], "{o}");
        } else {
            assert!(o["orig_packets"].is_null(), "{o}");
        }
    }
    let icmp = objects.iter().find(|o| o["proto"] == "icmp").unwrap();
    assert_eq!(
        (&icmp["orig_icmp_id"], &icmp["orig_icmp_type"]),
        (&4321.into(), &8.into())
    );
    assert_eq!(
        (&icmp["reply_icmp_type"], &icmp["grout_state"]),
        (&0.into(), &"established".into())
    );
    if counters {
        // The answered UDP flow: one datagram of 4 bytes each way, 20 + 8 + 4 bytes on the wire.
        let udp = objects.iter().find(|o| o["orig_dport"] == 9001).unwrap();
        let c: Vec<&Value> = ["orig_packets", "orig_bytes", "reply_packets", "reply_bytes"]
            .iter()
            .map(|k| &udp[*k])
            .collect();
        assert_eq!(
            c,
            [&Value::from(1), &32.into(), &1.into(), &32.into()],
            "{udp}"
        );
    }
}

#[test]
fn show_is_grout_s_table_as_derived_from_conntrack_l() {
    with_netns(|ns| {
        track(ns);
        grout_table(ns, false);
    });
}

/// With nf_conntrack_acct on, each row ends with its direction's packets and bytes.
#[test]
fn with_accounting_each_direction_has_its_packets_and_bytes() {
    with_netns(|ns| {
        track(ns);
        set_netfilter("acct", 1);
        grout_table(ns, true);
    });
}

/// `--mark` and `--zone` pick what `conntrack -L --mark/--zone` picks: a mark set by an nftables
/// rule on the answered UDP flow, and zone 7 set before tracking on the unanswered one.
#[test]
fn mark_and_zone_filters_agree_with_conntrack() {
    with_netns(|ns| {
        track(ns);
        ns.nft(
            "table inet marks {\n chain zoning {\n type filter hook output priority -300;\n \
             udp dport 9002 ct zone set 7\n }\n chain marking {\n type filter hook output \
             priority 10;\n udp dport 9001 ct mark set 42\n }\n}\n",
        );
        let (_mix, _udp, want) = hold_flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let lo4 = "127.0.0.1";
        let marked = BTreeSet::from([flow("udp", "REPLIED", lo4, lo4, 41010, 9001)]);
        let zoned = BTreeSet::from([flow("udp", "UNREPLIED", lo4, lo4, 41011, 9002)]);
        for mark in ["42", "0x2a", "0x2a/0xff", "0x12a/0xff"] {
            let got = listed(&["--mark", mark]);
            if mark == "0x12a/0xff" {
                assert!(got.is_empty(), "{mark}: {got:?}");
            } else {
                assert_eq!(got, marked, "{mark}");
            }
        }
        assert_eq!(
            listed(&["--mark", "42"]),
            conntrack_l_with(&["--mark", "42"])
        );
        assert_eq!(listed(&["--zone", "7"]), zoned);
        assert_eq!(listed(&["--zone", "7"]), conntrack_l_with(&["--zone", "7"]));
        let rest: BTreeSet<Flow> = want.difference(&zoned).cloned().collect();
        assert_eq!(listed(&["--zone", "0"]), rest);
        // The text rows carry them too: MARK 42 on the marked flow, ZONE 7 on the other.
        let text = ct(&["show", "-p", "udp"]).stdout();
        let fwd: Vec<&str> = text.lines().filter(|l| l.contains(" fwd ")).collect();
        assert!(
            fwd.iter()
                .any(|l| l.contains("41010") && l.ends_with("  42     0")),
            "{text}"
        );
        assert!(
            fwd.iter()
                .any(|l| l.contains("41011") && l.ends_with("   0     7")),
            "{text}"
        );
    });
}
