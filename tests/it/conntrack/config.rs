//! `conntrack config`: grout's lines first (in grout's order and spelling, a name over several
//! sysctls shown as the lowest with the spread named), then the sysctls, agreeing with `conntrack
//! -C` and /proc/sys; `config set` takes grout's names (all three of grout's documented examples)
//! and Linux's, keeps a value given as 0 as grout does, and writes all or nothing.

use std::process::Command;

use serde_json::Value;

use super::{conntrack_l, ct, flows, netfilter, pairs, set_netfilter};
use crate::netns::with_netns;
use crate::util::run;

/// grout's names, in grout's order, with the sysctls each stands for (the docs' table).
const GROUT: [(&str, &[&str]); 7] = [
    ("max", &["max"]),
    ("closed-timeout", &["tcp_timeout_close"]),
    (
        "new-timeout",
        &[
            "tcp_timeout_syn_sent",
            "tcp_timeout_syn_recv",
            "udp_timeout",
        ],
    ),
    ("established-udp-timeout", &["udp_timeout_stream"]),
    ("established-tcp-timeout", &["tcp_timeout_established"]),
    (
        "half-close-timeout",
        &[
            "tcp_timeout_fin_wait",
            "tcp_timeout_close_wait",
            "tcp_timeout_last_ack",
        ],
    ),
    ("time-wait-timeout", &["tcp_timeout_time_wait"]),
];

#[test]
fn config_show_agrees_with_conntrack_c_and_the_sysctls() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let mut c = Command::new("conntrack");
        c.arg("-C");
        let count: u64 = run(c).stdout().trim().parse().unwrap();
        assert_eq!(count, 5);
        let r = ct(&["config"]);
        r.expect_code(0);
        let out = r.stdout();
        let lines: Vec<&str> = out.lines().collect();
        let max = netfilter("max");
        let pct = count as f64 * 100.0 / max as f64;
        assert_eq!(lines[0], format!("used {count} ({pct:.1}%)"));
        // grout's seven lines: each its name and the lowest of its sysctls.
        for (line, (name, sysctls)) in lines[1..8].iter().zip(GROUT) {
            let low = sysctls.iter().map(|s| netfilter(s)).min().unwrap();
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                (words[0], words[1]),
                (name, low.to_string().as_str()),
                "{out}"
            );
        }
        // Then Linux's: buckets and every timeout sysctl.
        let rest: Vec<(String, u64)> = pairs(&lines[8..].join("\n"));
        assert_eq!(rest[0], ("buckets".to_string(), netfilter("buckets")));
        let timeouts = &rest[1..];
        assert!(timeouts.len() >= 10, "{out}");
        for (name, v) in timeouts {
            assert!(name.contains("timeout"), "{name}");
            assert_eq!(*v, netfilter(name), "{name}");
        }
        assert!(timeouts.iter().any(|(n, _)| n == "tcp_timeout_time_wait"));
        let json = ct(&["config", "show", "--json"]);
        let v: Value = serde_json::from_str(&json.stdout()).unwrap();
        assert_eq!(v["used"], count);
        assert_eq!(v["max"], max);
        assert_eq!(v["udp_timeout"], netfilter("udp_timeout"));
        assert_eq!(v["time-wait-timeout"], netfilter("tcp_timeout_time_wait"));
    });
}

/// Known values in every sysctl grout's names cover: exact lines, the spread named where they
/// disagree, gone once they agree.
#[test]
fn grout_lines_show_the_lowest_and_name_the_spread() {
    with_netns(|_ns| {
        for (name, v) in [
            ("tcp_timeout_close", 11),
            ("tcp_timeout_syn_sent", 121),
            ("tcp_timeout_syn_recv", 61),
            ("udp_timeout", 31),
            ("udp_timeout_stream", 122),
            ("tcp_timeout_established", 1000),
            ("tcp_timeout_fin_wait", 123),
            ("tcp_timeout_close_wait", 62),
            ("tcp_timeout_last_ack", 32),
            ("tcp_timeout_time_wait", 124),
        ] {
            set_netfilter(name, v);
        }
        let r = ct(&["config", "show"]);
        r.expect_code(0);
        let out = r.stdout();
        let max = netfilter("max");
        let want = [
            "used 0 (0.0%)".to_string(),
            format!("max {max}"),
            "closed-timeout 11".into(),
            "new-timeout 31 (spread 31..121: tcp_timeout_syn_sent 121, tcp_timeout_syn_recv 61, \
             udp_timeout 31)"
                .into(),
            "established-udp-timeout 122".into(),
            "established-tcp-timeout 1000".into(),
            "half-close-timeout 32 (spread 32..123: tcp_timeout_fin_wait 123, \
             tcp_timeout_close_wait 62, tcp_timeout_last_ack 32)"
                .into(),
            "time-wait-timeout 124".into(),
            format!("buckets {}", netfilter("buckets")),
        ];
        assert_eq!(out.lines().take(9).collect::<Vec<_>>(), want, "{out}");
        let v: Value = serde_json::from_str(&ct(&["config", "--json"]).stdout()).unwrap();
        assert_eq!(v["new-timeout"], 31);
        assert_eq!(
            v["spread"]["half-close-timeout"]["tcp_timeout_fin_wait"],
            123
        );
        assert!(v["spread"]["closed-timeout"].is_null());
        ct(&["config", "set", "half-close-timeout", "45"]).expect_code(0);
        let out = ct(&["config"]).stdout();
        assert_eq!(out.lines().nth(6), Some("half-close-timeout 45"), "{out}");
    });
}

#[test]
fn config_set_writes_everything_or_nothing() {
    with_netns(|_ns| {
        ct(&[
            "config",
            "set",
            "tcp_timeout_time_wait",
            "61",
            "udp_timeout",
            "17",
        ])
        .expect_code(0);
        assert_eq!(netfilter("tcp_timeout_time_wait"), 61);
        assert_eq!(netfilter("udp_timeout"), 17);
        // max is read-only outside the initial namespace: the write fails after udp_timeout was
        // written, which is put back.
        let r = ct(&["config", "set", "udp_timeout", "18", "max", "1000"]);
        r.expect_code(1);
        assert!(r.stderr().contains("cannot set max"), "{}", r.describe());
        assert!(r.stderr().contains("put back"), "{}", r.describe());
        assert_eq!(netfilter("udp_timeout"), 17);
        // Bad input changes nothing and exits 2.
        for bad in [
            &["udp_timeout", "-5"][..],
            &["udp_timeout", "ten"],
            &["udp_timeout", "2147483648"],
            &["no_such_timeout", "5"],
            &["udp_timeout", "19", "tcp_timeout_close"],
            &["udp_timeout", "19", "udp_timeout", "20"],
            // new-timeout sets udp_timeout too: the same sysctl twice.
            &["new-timeout", "19", "udp_timeout", "20"],
            &["new-timeout", "19", "new-timeout", "20"],
        ] {
            let mut args = vec!["config", "set"];
            args.extend_from_slice(bad);
            let r = ct(&args);
            r.expect_code(2);
            assert_eq!(
                r.stderr()
                    .lines()
                    .filter(|l| l.starts_with("error:"))
                    .count(),
                1,
                "{}",
                r.describe()
            );
            assert_eq!(netfilter("udp_timeout"), 17, "{bad:?} changed something");
        }
    });
}

/// grout ignores a zero timeout ("keep their previous value"): so does `config set`, with one
/// note, for grout's names and Linux's alike, while the other values are written.
#[test]
fn a_zero_keeps_the_previous_value_with_one_note() {
    with_netns(|_ns| {
        let (close, syn_sent) = (
            netfilter("tcp_timeout_close"),
            netfilter("tcp_timeout_syn_sent"),
        );
        let r = ct(&[
            "config",
            "set",
            "closed-timeout",
            "0",
            "udp_timeout_stream",
            "0",
            "time-wait-timeout",
            "33",
        ]);
        r.expect_code(0);
        let err = r.stderr();
        assert_eq!(err.lines().count(), 1, "{}", r.describe());
        assert!(
            err.contains("0 keeps the previous value of closed-timeout, udp_timeout_stream"),
            "{}",
            r.describe()
        );
        assert_eq!(netfilter("tcp_timeout_close"), close);
        assert_eq!(netfilter("tcp_timeout_time_wait"), 33);
        // Only zeros: nothing written, still a success.
        ct(&["config", "set", "new-timeout", "0"]).expect_code(0);
        assert_eq!(netfilter("tcp_timeout_syn_sent"), syn_sent);
        // An unknown name with a zero is still bad input.
        ct(&["config", "set", "nope", "0"]).expect_code(2);
    });
}

/// grout's third example writes the kernel's sysctls; the first two set `max`, which Linux makes
/// read-only outside the initial namespace: they fail as a whole (exit 1, said why, nothing
/// written). [`grout_examples_where_max_is_writable`] runs them where it is writable.
#[test]
fn grout_examples_on_the_kernel() {
    with_netns(|_ns| {
        ct(&[
            "config",
            "set",
            "new-timeout",
            "60",
            "established-udp-timeout",
            "1800",
        ])
        .expect_code(0);
        for s in [
            "tcp_timeout_syn_sent",
            "tcp_timeout_syn_recv",
            "udp_timeout",
        ] {
            assert_eq!(netfilter(s), 60, "{s}");
        }
        assert_eq!(netfilter("udp_timeout_stream"), 1800);
        let out = ct(&["config"]).stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            (lines[3], lines[4]),
            ("new-timeout 60", "established-udp-timeout 1800"),
            "{out}"
        );
        let (close, est) = (
            netfilter("tcp_timeout_close"),
            netfilter("tcp_timeout_established"),
        );
        for example in [
            ["max", "1024", "closed-timeout", "2"],
            ["max", "2048", "established-tcp-timeout", "3600"],
        ] {
            let mut args = vec!["config", "set"];
            args.extend_from_slice(&example);
            let r = ct(&args);
            r.expect_code(1);
            assert!(
                r.stderr().contains("set it on the host"),
                "{}",
                r.describe()
            );
            assert_eq!(
                (
                    netfilter("tcp_timeout_close"),
                    netfilter("tcp_timeout_established")
                ),
                (close, est)
            );
        }
    });
}

/// All three of grout's documented examples, in a namespace whose /proc/sys/net/netfilter is a
/// writable copy (a tmpfs holding the same files), as the initial namespace's is: each exits 0 and
/// writes exactly the sysctls the docs' table names.
#[test]
fn grout_examples_where_max_is_writable() {
    let script = format!(
        "d=$(mktemp -d) && \
         for f in /proc/sys/net/netfilter/nf_conntrack_*; do cat \"$f\" > \"$d/${{f##*/}}\"; done && \
         mount -t tmpfs none /proc/sys/net/netfilter && cp \"$d\"/nf_conntrack_* /proc/sys/net/netfilter/ && rm -r \"$d\" && \
         cd /proc/sys/net/netfilter && \
         {bin} conntrack config set max 1024 closed-timeout 2; echo \"rc=$?\"; grep -H . nf_conntrack_max nf_conntrack_tcp_timeout_close; \
         {bin} conntrack config set max 2048 established-tcp-timeout 3600; echo \"rc=$?\"; grep -H . nf_conntrack_max nf_conntrack_tcp_timeout_established; \
         {bin} conntrack config set new-timeout 60 established-udp-timeout 1800; echo \"rc=$?\"; \
         grep -H . nf_conntrack_tcp_timeout_syn_sent nf_conntrack_tcp_timeout_syn_recv nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; \
         {bin} conntrack config",
        bin = env!("CARGO_BIN_EXE_conntrend")
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--net", "sh", "-c", &script]);
    let r = run(cmd);
    r.expect_code(0);
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    let p = "nf_conntrack_";
    assert_eq!(
        lines[..13],
        [
            "rc=0".to_string(),
            format!("{p}max:1024"),
            format!("{p}tcp_timeout_close:2"),
            "rc=0".into(),
            format!("{p}max:2048"),
            format!("{p}tcp_timeout_established:3600"),
            "rc=0".into(),
            format!("{p}tcp_timeout_syn_sent:60"),
            format!("{p}tcp_timeout_syn_recv:60"),
            format!("{p}udp_timeout:60"),
            format!("{p}udp_timeout_stream:1800"),
            "used 0 (0.0%)".into(),
            "max 2048".into(),
        ],
        "{}",
        r.describe()
    );
    assert_eq!(
        lines[13..17],
        [
            "closed-timeout 2",
            "new-timeout 60",
            "established-udp-timeout 1800",
            "established-tcp-timeout 3600"
        ],
        "{}",
        r.describe()
    );
    assert_eq!(r.stderr(), "", "{}", r.describe());
}

/// `config set --netns`: the names are checked, and the values written, in the target namespace,
/// whatever the caller's namespace has.
#[test]
fn config_set_works_in_the_namespace_it_names() {
    let parked = crate::netns::park_netns(|_ns, park| park(netfilter("udp_timeout")));
    let target_before = parked.info;
    with_netns(move |_ns| {
        let ours = netfilter("udp_timeout");
        let path = parked.path.clone();
        let r = ct(&["config", "set", "--netns", &path, "udp_timeout", "23"]);
        r.expect_code(0);
        // The caller's own value is untouched.
        assert_eq!(netfilter("udp_timeout"), ours);
        let r = ct(&["config", "show", "--netns", &path, "--json"]);
        r.expect_code(0);
        let v: Value = serde_json::from_str(&r.stdout()).unwrap();
        assert_eq!(v["udp_timeout"], 23, "{}", r.describe());
        assert_ne!(
            target_before, 23,
            "the target already had the value written"
        );
        // An unknown name: bad input, told once, exit 2, nothing written.
        let r = ct(&[
            "config",
            "set",
            "--netns",
            &path,
            "udp_timeout",
            "24",
            "nope",
            "5",
        ]);
        r.expect_code(2);
        let errors: Vec<String> = r
            .stderr()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .map(str::to_string)
            .collect();
        assert_eq!(errors.len(), 1, "{}", r.describe());
        assert!(
            errors[0].contains("unknown setting 'nope'"),
            "{}",
            r.describe()
        );
        assert!(errors[0].contains("udp_timeout"), "{}", r.describe());
        assert!(errors[0].contains("half-close-timeout"), "{}", r.describe());
        let r = ct(&["config", "show", "--netns", &path, "--json"]);
        let v: Value = serde_json::from_str(&r.stdout()).unwrap();
        assert_eq!(v["udp_timeout"], 23, "{}", r.describe());
        drop(parked);
    });
}
