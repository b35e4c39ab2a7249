//! The shapes of the report: the text table (capital header, fixed widths, blanks for empty
//! values), `-P` and `--json` with empty tcp_info fields for TIME_WAIT and request sockets,
//! `-T u|d`, `-i/-c`, and what ends an interval run (SIGINT, SIGTERM, a closed pipe).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::mix::{Conn, Mix};
use super::{DEFAULT, conn, get, json, ok, parsable};
use crate::netns::{NetNs, with_netns};

/// Two listeners, an ESTABLISHED pair of each family, a TIME_WAIT client. (Bound-only sockets are
/// the filter tests' business.)
fn build(ns: &NetNs) -> Mix<'_> {
    let mut m = Mix::new(ns);
    m.listen("127.0.0.1:5000").listen("[::1]:5001");
    m.estab("127.0.0.1:40020", "127.0.0.1:5000")
        .estab("[::1]:40021", "[::1]:5001")
        .time_wait("127.0.0.1:40030", "127.0.0.1:5000");
    m.settle();
    m
}

/// Where each header label starts, and the labels.
fn columns(header: &str) -> Vec<(usize, &str)> {
    let mut v = Vec::new();
    let mut at = 0;
    for label in header.split_whitespace() {
        at += header[at..].find(label).unwrap();
        v.push((at, label));
        at += label.len();
    }
    v
}

/// The values of a text row, each read where its header label starts: the value must begin
/// exactly there (after a blank), and an empty value is all blanks up to the next column.
fn cells<'a>(header: &str, line: &'a str) -> Vec<&'a str> {
    let cols = columns(header);
    let mut v = Vec::new();
    for (i, (at, label)) in cols.iter().enumerate() {
        let end = cols.get(i + 1).map_or(line.len(), |(next, _)| *next);
        let cell = line.get(*at..end.min(line.len())).unwrap_or("");
        assert!(
            *at == 0 || line.as_bytes().get(at - 1).is_none_or(|b| *b == b' '),
            "{label} does not start at column {at}:\n{header}\n{line}"
        );
        assert!(
            cell.trim().is_empty()
                || (!cell.starts_with(' ') && cell.trim_end().chars().all(|c| c != ' ')),
            "{label}: {cell:?} is not one left-aligned value at column {at}:\n{header}\n{line}"
        );
        v.push(cell.trim_end());
    }
    v
}

/// The text table: header labels, then rows read through [`cells`].
fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_else(|| panic!("no header:\n{text}"));
    let labels = columns(header).iter().map(|(_, l)| l.to_string()).collect();
    let rows = lines
        .map(|l| cells(header, l).iter().map(|c| c.to_string()).collect())
        .collect();
    (labels, rows)
}

fn sorted_conns(rows: &[Vec<String>]) -> Vec<Conn> {
    let mut v: Vec<Conn> = rows
        .iter()
        .map(|r| conn(&r.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    v.sort();
    v
}

#[test]
fn text_table_has_a_capital_header_and_fixed_columns() {
    with_netns(|ns| {
        let m = build(ns);
        let text = ok(ns, &[]);
        let header = text.lines().next().unwrap();
        assert_eq!(
            columns(header)[..2],
            [(0, "LADDR"), (40, "LPORT")],
            "width 39:\n{text}"
        );
        let (labels, rows) = table(&text);
        assert_eq!(labels, ["LADDR", "LPORT", "RADDR", "RPORT", "STATE"]);
        assert_eq!(sorted_conns(&rows), m.want(), "\n{text}");
        let cols = columns(header);
        assert_eq!(cols[3].0 - cols[2].0, 40, "RADDR is 39 wide:\n{text}");

        // -4: IPv4 rows only, addresses 15 wide.
        let text = ok(ns, &["-4"]);
        let header = text.lines().next().unwrap();
        let cols = columns(header);
        assert_eq!(
            cols[..2],
            [(0, "LADDR"), (16, "LPORT")],
            "width 15:\n{text}"
        );
        assert_eq!(cols[3].0 - cols[2].0, 16, "RADDR is 15 wide:\n{text}");
        let (_, rows) = table(&text);
        assert_eq!(sorted_conns(&rows), m.select("-4", |c| c.laddr.is_ipv4()));

        // Names in any case, printed in capitals; an empty value (TIME_WAIT has no rtt) is blanks
        // and the next column stays in place.
        let text = ok(
            ns,
            &[
                "-4",
                "-o",
                "lport,Rtt,STATE,cwnd",
                "-F",
                "lport=40020-40030",
            ],
        );
        let (labels, rows) = table(&text);
        assert_eq!(labels, ["LPORT", "RTT", "STATE", "CWND"]);
        let mut rows = rows;
        rows.sort();
        assert_eq!(rows.len(), 2, "\n{text}");
        assert_eq!(rows[0][0], "40020");
        assert!(
            rows[0][1].parse::<u64>().is_ok(),
            "rtt of an ESTABLISHED socket:\n{text}"
        );
        assert_eq!(rows[0][2], "ESTABLISHED");
        assert_eq!(rows[1][..3], ["40030", "", "TIME_WAIT"], "\n{text}");
        assert_eq!(rows[1][3], "", "\n{text}");
    });
}

/// The fields kernel's tcp_info feeds (TIME_WAIT and request sockets have none).
const INFO: &str = "inbytes,insegs,outbytes,outsegs,retransbytes,retranssegs,unsent,cwnd,mss,rto,\
                    rtt,rttvar,minrtt,unacked,sacked,lost,retrans,reordering,deliveryrate,pacingrate";
/// Accepted and always empty: Linux does not keep them.
const NEVER: &str = "inunorderbytes,rtts,rttc";

#[test]
fn time_wait_and_request_sockets_have_empty_tcp_info_fields() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        m.estab("127.0.0.1:40020", "127.0.0.1:5000")
            .time_wait("127.0.0.1:40030", "127.0.0.1:5000")
            .syn_recv("127.0.0.1:40031", "127.0.0.1:5098");
        m.settle();
        let fields = format!("lport,rport,state,{INFO},{NEVER}");
        let rows = parsable(ns, &fields, &["-F", "rport=1-65535"]);
        let objs = json(ns, &fields, &["-F", "rport=1-65535"]);
        let mut seen = Vec::new();
        for r in &rows {
            let state = get(r, "state");
            seen.push(format!("{}>{} {state}", get(r, "lport"), get(r, "rport")));
            let obj = objs
                .iter()
                .find(|o| {
                    let port = |k| (o.get(k).as_u64(), get(r, k).parse().ok());
                    let same = |(a, b): (Option<u64>, Option<u64>)| a.is_some() && a == b;
                    same(port("lport")) && same(port("rport"))
                })
                .unwrap_or_else(|| panic!("{r:?} not in the JSON: {objs:?}"));
            assert_eq!(obj.get("state"), state, "{obj:?}");
            for f in NEVER.split(',') {
                assert_eq!(get(r, f), "", "{f} of {r:?}");
                assert_eq!(obj.get(f), &Value::Null, "{f} of {obj:?}");
            }
            let timewait_or_request = matches!(state, "TIME_WAIT" | "SYN_RECEIVED");
            for f in INFO.split(',') {
                if timewait_or_request {
                    assert_eq!(get(r, f), "", "{f} of {r:?}");
                    assert_eq!(obj.get(f), &Value::Null, "{f} of {obj:?}");
                } else if ["mss", "cwnd", "rto", "rtt", "inbytes"].contains(&f) {
                    assert!(get(r, f).parse::<u64>().is_ok(), "{f} of {r:?}");
                    assert!(obj.get(f).is_u64(), "{f} of {obj:?}");
                }
            }
        }
        seen.sort();
        let want = [
            "40020>5000 ESTABLISHED",
            "40030>5000 TIME_WAIT",
            "40031>5098 ESTABLISHED",
            "5000>40020 ESTABLISHED",
            "5098>40031 SYN_RECEIVED",
        ];
        assert_eq!(seen, want);
    });
}

#[test]
fn json_types_and_order() {
    with_netns(|ns| {
        let m = build(ns);
        let fields = "state,laddr,lport,inode,rtt,cong,raddr,rport,comm,timer,pid";
        let objs = json(ns, fields, &[]);
        assert_eq!(objs.len(), m.rows.len());
        for o in &objs {
            for k in ["comm", "timer"] {
                let v = o.get(k);
                assert!(v.is_string() || v.is_null(), "{k} {o:?}");
            }
            if o.get("state") != "TIME_WAIT" {
                assert!(o.get("comm").is_string(), "this test owns it: {o:?}");
                assert!(o.get("pid").is_u64(), "this test owns it: {o:?}");
            }
            for k in ["state", "laddr", "raddr"] {
                assert!(o.get(k).is_string(), "{k} {o:?}");
            }
            for k in ["lport", "rport"] {
                assert!(o.get(k).is_u64(), "{k} {o:?}");
            }
            let est = o.get("state") == "ESTABLISHED";
            if est {
                assert!(o.get("rtt").is_u64(), "{o:?}");
                assert!(o.get("cong").is_string(), "{o:?}");
                assert!(o.get("inode").as_u64().is_some_and(|n| n > 0), "{o:?}");
            }
            if o.get("state") == "TIME_WAIT" {
                assert_eq!(o.get("rtt"), &Value::Null, "{o:?}");
            }
        }
    });
}

fn secs_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `-P` reports separated by `-T` lines (those without a comma): (timestamp, rows) per report. Like
/// connstat's, a parsable timestamp line may start with "= "; the timestamp is what follows.
fn reports(text: &str) -> Vec<(String, Vec<Conn>)> {
    let mut out: Vec<(String, Vec<Conn>)> = Vec::new();
    for line in text.lines() {
        if !line.contains(',') {
            let stamp = line.strip_prefix("= ").unwrap_or(line);
            out.push((stamp.to_string(), Vec::new()));
        } else {
            let last = out
                .last_mut()
                .unwrap_or_else(|| panic!("no stamp first:\n{text}"));
            last.1.push(conn(&line.split(',').collect::<Vec<_>>()));
        }
    }
    for r in &mut out {
        r.1.sort();
    }
    out
}

#[test]
fn interval_and_count_give_that_many_reports_with_timestamps() {
    with_netns(|ns| {
        let m = build(ns);
        // -T u: integer seconds since the epoch before each report, one second apart.
        let before = secs_now();
        let start = Instant::now();
        let text = ok(ns, &["-i", "1", "-c", "2", "-T", "u", "-P", "-o", DEFAULT]);
        let took = start.elapsed();
        let after = secs_now();
        let got = reports(&text);
        assert_eq!(got.len(), 2, "two reports:\n{text}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{took:?}"
        );
        let stamps: Vec<u64> = got.iter().map(|(s, _)| s.parse().expect(s)).collect();
        assert!(
            stamps.iter().all(|s| (before..=after).contains(s)),
            "{stamps:?}\n{text}"
        );
        assert!((1..=2).contains(&(stamps[1] - stamps[0])), "{stamps:?}");
        for (_, rows) in &got {
            assert_eq!(rows, &m.want(), "\n{text}");
        }
        // In the text table the timestamp line comes before the header.
        let before = secs_now();
        let text = ok(ns, &["-T", "u", "-F", "state=listen"]);
        let after = secs_now();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "stamp, header, two listeners:\n{text}");
        let stamp: u64 = lines[0].parse().unwrap_or_else(|_| panic!("{text}"));
        assert!((before..=after).contains(&stamp), "{text}");
        assert!(lines[1].starts_with("LADDR "), "{text}");

        // -T d: date(1)'s default format (C locale, UTC here), which date itself reads back.
        let mut cmd = crate::util::conntrend();
        cmd.args([
            "conns",
            "-T",
            "d",
            "-P",
            "-o",
            DEFAULT,
            "-F",
            "state=listen",
        ])
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
        let before = secs_now();
        let r = ns.run(cmd);
        let after = secs_now();
        r.expect_code(0);
        let text = r.stdout();
        let got = reports(&text);
        assert_eq!(got.len(), 1, "\n{text}");
        assert_eq!(got[0].1, m.select("listen", |c| c.state == "LISTEN"));
        let stamp = &got[0].0;
        let date = |args: &[&str]| {
            let out = Command::new("date")
                .args(args)
                .env("TZ", "UTC")
                .env("LC_ALL", "C")
                .output()
                .unwrap();
            assert!(out.status.success(), "date {args:?}: {out:?}");
            String::from_utf8(out.stdout)
                .unwrap()
                .trim_end()
                .to_string()
        };
        let secs: u64 = date(&["-d", stamp, "+%s"]).parse().unwrap();
        assert!(
            (before..=after).contains(&secs),
            "{stamp} is {secs}, not in {before}..={after}"
        );
        assert_eq!(
            &date(&["-d", &format!("@{secs}")]),
            stamp,
            "date's own format"
        );

        // --json: each report is every row again, a second later.
        let objs = json(ns, DEFAULT, &["-i", "1", "-c", "2"]);
        let n = m.rows.len();
        assert_eq!(objs.len(), 2 * n, "{objs:?}");
        let ms = |o: &super::Ordered| o.get("epoch_ms").as_u64().unwrap();
        let first = objs[..n].iter().map(ms).max().unwrap();
        let second = objs[n..].iter().map(ms).min().unwrap();
        assert!((900..3000).contains(&(second - first)), "{first} {second}");
    });
}

/// SIGINT, SIGTERM, or the reader going away (the next write meets EPIPE): status 0, no complaint.
#[test]
fn an_interval_run_ends_on_sigint_sigterm_and_a_closed_pipe_with_status_0() {
    with_netns(|ns| {
        let _m = build(ns);
        for signal in [Some(libc::SIGINT), Some(libc::SIGTERM), None] {
            let mut cmd = crate::util::conntrend();
            cmd.args(["conns", "-i", "1", "-P", "-o", "lport"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = ns.spawn(&mut cmd);
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let first = lines.next().expect("a first row").unwrap();
            assert!(first.parse::<u16>().is_ok(), "{first}");
            match signal {
                // SAFETY: signalling our own child.
                Some(sig) => unsafe { libc::kill(child.id() as i32, sig) },
                None => {
                    drop(lines);
                    0
                }
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("conns -i 1 still running 5 s after {signal:?} (None: pipe closed)");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{signal:?}: {err}");
            assert!(err.is_empty(), "{signal:?}: {err}");
        }
    });
}
