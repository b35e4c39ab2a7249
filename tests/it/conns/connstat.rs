//! connstat's last rules, as its source has them (illumos-gate usr/src/cmd/connstat): `-o all`
//! (libofmt: the whole field table, alone, never with `-P`), `-4` with `-6` refused, exit statuses
//! (conntrend's 2 for bad input, 1 for a failure; connstat exits 1 for both), `inunordersegs`
//! counted exactly on segments the test made arrive out of order, and the README's Linux form of
//! connstat(8)'s example 4 run as written.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::mix::{Mix, sa, tcp_socket};
use super::{Ordered, conns, num, ok, parsable};
use crate::netns::{NetNs, with_netns};

/// connstat's field table in its order (connstat_tcp.c `tcp_fields`): what its `-o all` prints.
const CONNSTAT_ALL: [&str; 23] = [
    "laddr",
    "raddr",
    "lport",
    "rport",
    "inbytes",
    "insegs",
    "inunorderbytes",
    "inunordersegs",
    "outbytes",
    "outsegs",
    "retransbytes",
    "retranssegs",
    "suna",
    "unsent",
    "swnd",
    "cwnd",
    "rwnd",
    "mss",
    "rto",
    "rtt",
    "rtts",
    "rttc",
    "state",
];

/// Linux's fields, in `--help`'s order: after connstat's under `-o all`.
const LINUX: &str = "rttvar,minrtt,rqueue,wqueue,retrans,lost,reordering,unacked,sacked,\
                     deliveryrate,pacingrate,cong,timer,expires,uid,inode,pid,comm,rmem,wmem,\
                     rcvbuf,sndbuf";

#[test]
fn all_is_connstat_s_table_in_its_order_then_linux_s_fields() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        let (_c, _s) = m.pair("127.0.0.1:40110", "127.0.0.1:5000");
        let mut every: Vec<String> = CONNSTAT_ALL.iter().map(|f| f.to_string()).collect();
        every.extend(LINUX.split(',').map(String::from));
        for spelling in ["all", "ALL", "All"] {
            let text = ok(ns, &["-o", spelling, "-F", "lport=40110"]);
            let mut lines = text.lines();
            let labels: Vec<String> = lines
                .next()
                .unwrap()
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            assert_eq!(labels, every, "-o {spelling}:\n{text}");
            assert_eq!(lines.count(), 1, "one connection:\n{text}");
        }
        let text = ok(ns, &["--json", "-o", "all", "-F", "lport=40110"]);
        let objs: Vec<Ordered> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let [o] = &objs[..] else {
            panic!("one connection: {text}")
        };
        assert_eq!(o.keys()[0], "epoch_ms");
        let every: Vec<&str> = every.iter().map(String::as_str).collect();
        assert_eq!(o.keys()[1..], every[..]);
        assert_eq!(o.get("state"), "ESTABLISHED");
        assert_eq!(o.get("lport").as_u64(), Some(40110));
        for never in ["inunorderbytes", "rtts", "rttc"] {
            assert_eq!(o.get(never), &Value::Null, "{never}");
        }
        assert!(o.get("rtt").as_u64().is_some_and(|us| us > 0), "{o:?}");
        assert_eq!(o.get("inunordersegs").as_u64(), Some(0), "{o:?}");

        // -P rows are read by position: connstat (and libofmt) refuse `all` there; `all` is the
        // whole list or nothing.
        for (args, say) in [
            (&["-P", "-o", "all"][..], "-o all"),
            (&["-o", "lport,all"], "all stands alone"),
            (&["-o", "all,"], "all stands alone"),
        ] {
            let r = conns(ns, args);
            r.expect_code(2);
            assert!(r.stdout().is_empty(), "{}", r.describe());
            assert!(r.stderr().contains(say), "{}", r.describe());
        }
    });
}

/// connstat_main.c: `-4` clears IPv6 and `-6` refuses to run once IPv6 is cleared (and the other
/// way round), "Invalid combination of IPv4 and IPv6 arguments", in either order.
#[test]
fn ipv4_with_ipv6_is_refused_in_either_order() {
    with_netns(|ns| {
        for args in [
            &["-4", "-6"][..],
            &["-6", "-4"],
            &["--ipv4", "--ipv6"],
            &["-46"],
            &["-e", "-6", "-P", "-o", "lport", "-4"],
        ] {
            let r = conns(ns, args);
            r.expect_code(2);
            assert!(r.stdout().is_empty(), "{}", r.describe());
            let err = r.stderr();
            assert!(
                err.contains("--ipv4") && err.contains("--ipv6") && err.contains("cannot be used"),
                "{}",
                r.describe()
            );
        }
    });
}

/// connstat exits 1 on every error, bad flags included (usage(1), and die() is verrx(1, ...)).
/// conns keeps conntrend's convention: 2 for a command line that can never work, 1 for a failure
/// of the run; both are "not 0", which is what connstat documents.
#[test]
fn bad_input_exits_2_and_a_failed_run_1() {
    with_netns(|ns| {
        let r = conns(ns, &["-4", "-6"]);
        r.expect_code(2);
        let r = conns(ns, &["--proc-root", "/nonexistent"]);
        r.expect_code(1);
        assert!(
            r.stderr().contains("/nonexistent/net/tcp"),
            "{}",
            r.describe()
        );
        assert!(r.stdout().is_empty(), "{}", r.describe());
    });
}

/// `rcv_ooopack` of `ss -ti` for the one socket `filter` selects (absent = 0, as ss leaves it out).
fn ss_ooopack(ns: &NetNs, filter: &[&str]) -> u64 {
    let text = ns.stdout(&[&["ss", "-tinH"][..], filter].concat());
    let word = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rcv_ooopack:"));
    word.map_or(0, |n| n.parse().unwrap())
}

/// The client writes 100 bytes, then 500 that leave as two segments (its MSS is 288); the first
/// (152 bytes on the wire: 20 of IPv4, 32 of TCP with timestamps, 100 of data) is dropped on its
/// way in until both others have arrived. The server has then received exactly two segments out of
/// order; the retransmission that fills the hole arrives in order.
#[test]
fn inunordersegs_counts_the_segments_that_arrived_out_of_order() {
    with_netns(|ns| {
        let server = ["sport", "=", ":5000", "dport", "=", ":40130"];
        let listener = tcp_socket(sa("127.0.0.1:5000"), false);
        listener.listen(1).unwrap();
        let c = tcp_socket(sa("127.0.0.1:40130"), false);
        c.set_tcp_mss(300).unwrap();
        c.connect(&sa("127.0.0.1:5000").into()).unwrap();
        c.set_tcp_nodelay(true).unwrap();
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        ns.nft(
            "table inet conns_ooo {\n chain input {\n type filter hook input priority 0;\n \
             tcp dport 5000 ip length 152 drop\n }\n}\n",
        );
        (&c).write_all(&[1u8; 100]).unwrap();
        // Sent (and lost) before the rest is written, so that it leaves alone.
        ns.wait_until("the first segment sent", || {
            let info = ns.stdout(&["ss", "-tinH", "sport", "=", ":40130"]);
            info.contains("bytes_sent:")
        });
        (&c).write_all(&[2u8; 500]).unwrap();
        ns.wait_until("two segments out of order", || ss_ooopack(ns, &server) == 2);
        ns.nft("delete table inet conns_ooo\n");
        let mut got = vec![0u8; 600];
        (&s).read_exact(&mut got)
            .expect("all 600 bytes once the drop ends");
        assert!(got[..100].iter().all(|b| *b == 1) && got[100..].iter().all(|b| *b == 2));
        for (filter, want) in [("lport=5000,rport=40130", 2), ("lport=40130", 0)] {
            let rows = parsable(ns, "lport,inunordersegs,inunorderbytes", &["-F", filter]);
            assert_eq!(rows.len(), 1, "{filter}: {rows:?}");
            assert_eq!(num(&rows[0], "inunordersegs"), want, "{filter}");
            assert_eq!(rows[0][2].1, "", "Linux counts no out-of-order bytes");
        }
        assert_eq!(ss_ooopack(ns, &server), 2, "ss agrees");
        drop((c, s, listener));
    });
}

/// Example 4 of docs/conns.md, as written, for one connection of the namespace: the ports swapped for
/// the test's, two periods of two reports instead of five-second periods without end, and a copy
/// of conntrend's rows kept to work the averages out by hand.
#[test]
fn example_4_of_the_manual_runs_as_the_readme_writes_it() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/conns.md"))
        .expect("docs/conns.md");
    let block = readme
        .split("```")
        .find(|b| b.contains("avg rtt = %dus"))
        .expect("example 4's script in docs/conns.md");
    let script = block.trim_start_matches("sh").trim().to_string();
    for part in ["lport=41934,rport=50001", "-i 1 |", "every=5"] {
        assert!(script.contains(part), "{part} in\n{script}");
    }
    with_netns(move |ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        let (_c, _s) = m.pair("127.0.0.1:40140", "127.0.0.1:5000");
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("rows");
        let script = script
            .replace("lport=41934,rport=50001", "lport=40140,rport=5000")
            .replace("every=5", "every=2")
            .replace("-i 1 |", &format!("-i 1 -c 4 | tee {} |", raw.display()))
            .replace(
                "conntrend ",
                &format!("{} ", env!("CARGO_BIN_EXE_conntrend")),
            );
        let mut bash = Command::new("bash");
        bash.args(["-c", &script]);
        let r = ns.run(bash);
        r.expect_code(0);
        assert!(r.stderr().is_empty(), "{}", r.describe());
        let rows = std::fs::read_to_string(&raw).unwrap();
        let rtts: Vec<u64> = rows.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(rtts.len(), 4, "one row a report:\n{rows}");
        let want: String = rtts
            .chunks(2)
            .map(|p| format!("avg rtt = {}us\n", p.iter().sum::<u64>() / 2))
            .collect();
        assert_eq!(r.stdout(), want, "rows:\n{rows}");
        assert!(rtts.iter().all(|&us| us > 0), "{rows}");
    });
}
