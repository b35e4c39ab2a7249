//! `-F`, `-e`, `-L`, `-4` and `-6` on a held mix of every state this harness can hold, over
//! loopback and non-loopback local addresses of both families: each case's rows are exactly the
//! recorded rows a predicate written here selects, and the same with and without the kernel-side
//! filter (`--no-kernel-filter`); bound-only sockets; v4-mapped peers.

use std::net::IpAddr;

use super::mix::{Conn, Mix, loopback, within};
use super::{DEFAULT, diff, json_rows, rows};
use crate::netns::{NetNs, with_netns};

/// Listeners, ESTABLISHED pairs, TIME_WAIT, SYN_SENT, SYN_RECEIVED, FIN_WAIT_1/2, CLOSE_WAIT,
/// LAST_ACK and BOUND on 127.0.0.1/127.0.0.2/10.9.0.1 and ::1/fd00:9::1: 29 rows.
fn build(ns: &NetNs) -> Mix<'_> {
    let mut m = Mix::new(ns);
    m.listen("127.0.0.1:5000")
        .listen("10.9.0.1:6000")
        .listen("[::1]:5001")
        .listen("[fd00:9::1]:6001");
    m.estab("127.0.0.1:40020", "127.0.0.1:5000")
        .estab("127.0.0.2:40021", "127.0.0.1:5000")
        .estab("10.9.0.1:40022", "10.9.0.1:6000")
        .fin_wait2("127.0.0.1:40023", "127.0.0.1:5000")
        .estab("[::1]:40024", "[::1]:5001")
        .estab("[fd00:9::1]:40025", "[fd00:9::1]:6001")
        .time_wait("127.0.0.1:40030", "127.0.0.1:5000")
        .time_wait("10.9.0.1:40031", "10.9.0.1:6000")
        .time_wait("[::1]:40032", "[::1]:5001")
        .syn_sent("127.0.0.1:40033", "127.0.0.1:5099")
        .syn_recv("[::1]:40034", "[::1]:5098")
        .fin_wait1("127.0.0.2:40035", "127.0.0.1:5000")
        .last_ack("[::1]:40036", "[::1]:5001")
        .bound("127.0.0.1:40060")
        .bound("[::1]:40061");
    m.settle();
    assert_eq!(m.rows.len(), 29);
    m
}

type Pred = Box<dyn Fn(&Conn) -> bool>;

fn st(names: &'static [&'static str]) -> Pred {
    Box::new(move |c| names.contains(&c.state.as_str()))
}

fn port_in(p: u16, lo: u16, hi: u16) -> bool {
    (lo..=hi).contains(&p)
}

/// Every filter form, as (arguments, which recorded rows they select).
fn cases() -> Vec<(Vec<&'static str>, Pred)> {
    let f = |spec: &'static str| vec!["-F", spec];
    vec![
        (
            f("laddr=127.0.0.1"),
            Box::new(|c: &Conn| c.laddr == ip("127.0.0.1")),
        ),
        (
            f("laddr=127.0.0.0/8"),
            Box::new(|c: &Conn| within(c.laddr, "127.0.0.0/8")),
        ),
        (
            f("laddr=10.9.0.0/24"),
            Box::new(|c: &Conn| within(c.laddr, "10.9.0.0/24")),
        ),
        (f("laddr=::1"), Box::new(|c: &Conn| c.laddr == ip("::1"))),
        (
            f("laddr=fd00:9::/32"),
            Box::new(|c: &Conn| within(c.laddr, "fd00:9::/32")),
        ),
        (
            f("raddr=127.0.0.2"),
            Box::new(|c: &Conn| c.raddr == ip("127.0.0.2")),
        ),
        (
            f("raddr=127.0.0.0/30"),
            Box::new(|c: &Conn| within(c.raddr, "127.0.0.0/30")),
        ),
        (f("raddr=::1"), Box::new(|c: &Conn| c.raddr == ip("::1"))),
        (
            f("raddr=fd00:9::/64"),
            Box::new(|c: &Conn| within(c.raddr, "fd00:9::/64")),
        ),
        (f("lport=5000"), Box::new(|c: &Conn| c.lport == 5000)),
        (
            f("lport=40020-40024"),
            Box::new(|c: &Conn| port_in(c.lport, 40020, 40024)),
        ),
        (f("rport=5000"), Box::new(|c: &Conn| c.rport == 5000)),
        (
            f("rport=5000-5001"),
            Box::new(|c: &Conn| port_in(c.rport, 5000, 5001)),
        ),
        (
            f("rport=40030-40036"),
            Box::new(|c: &Conn| port_in(c.rport, 40030, 40036)),
        ),
        // State names: connstat's and Linux's, any case.
        (f("state=established"), st(&["ESTABLISHED"])),
        (f("state=ESTABLISHED"), st(&["ESTABLISHED"])),
        (f("state=listen"), st(&["LISTEN"])),
        (f("state=Time_Wait"), st(&["TIME_WAIT"])),
        (f("state=syn_sent"), st(&["SYN_SENT"])),
        (f("state=SYN_RECEIVED"), st(&["SYN_RECEIVED"])),
        (f("state=syn_recv"), st(&["SYN_RECEIVED"])),
        (f("state=FIN_WAIT_1"), st(&["FIN_WAIT_1"])),
        (f("state=fin_wait1"), st(&["FIN_WAIT_1"])),
        (f("state=fin_wait_2"), st(&["FIN_WAIT_2"])),
        (f("state=FIN_WAIT2"), st(&["FIN_WAIT_2"])),
        (f("state=close_wait"), st(&["CLOSE_WAIT"])),
        (f("state=Last_Ack"), st(&["LAST_ACK"])),
        (f("state=bound"), st(&["BOUND"])),
        // Several elements: all must match.
        (
            f("laddr=127.0.0.0/8,rport=5000,state=established"),
            Box::new(|c: &Conn| {
                within(c.laddr, "127.0.0.0/8") && c.rport == 5000 && c.state == "ESTABLISHED"
            }),
        ),
        (
            f("raddr=::1,lport=40000-40099"),
            Box::new(|c: &Conn| c.raddr == ip("::1") && port_in(c.lport, 40000, 40099)),
        ),
        (
            f("lport=5000-5001,state=listen"),
            Box::new(|c: &Conn| port_in(c.lport, 5000, 5001) && c.state == "LISTEN"),
        ),
        (vec!["-e"], st(&["ESTABLISHED"])),
        (
            vec!["-L"],
            Box::new(|c: &Conn| !loopback(c.laddr) && !loopback(c.raddr)),
        ),
        (vec!["-4"], Box::new(|c: &Conn| c.laddr.is_ipv4())),
        (vec!["-6"], Box::new(|c: &Conn| c.laddr.is_ipv6())),
        (
            vec!["-4", "-e"],
            Box::new(|c: &Conn| c.laddr.is_ipv4() && c.state == "ESTABLISHED"),
        ),
        (
            vec!["-6", "-L"],
            Box::new(|c: &Conn| c.laddr.is_ipv6() && !loopback(c.laddr) && !loopback(c.raddr)),
        ),
        (
            vec!["-e", "-F", "lport=40000-40099"],
            Box::new(|c: &Conn| c.state == "ESTABLISHED" && port_in(c.lport, 40000, 40099)),
        ),
        (
            vec!["-L", "-F", "state=time_wait"],
            Box::new(|c: &Conn| c.state == "TIME_WAIT" && !loopback(c.laddr)),
        ),
    ]
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn with_kernel_filter_off(args: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec!["--no-kernel-filter"];
    v.extend(args);
    v
}

#[test]
fn without_a_filter_every_socket_of_the_namespace() {
    with_netns(|ns| {
        let m = build(ns);
        let mut want_text: Vec<String> = m.want().iter().map(Conn::parsable).collect();
        want_text.sort();
        // Exactly as text too: addresses as Rust and inet_ntop write them, no padding; then the
        // JSON writer and -o in any case.
        let got = [
            ("-P", rows(ns, &[])),
            ("--json", json_rows(ns, &[])),
            ("-o in mixed case", upper(ns)),
        ];
        let mut bad: Vec<String> = got
            .iter()
            .filter(|(_, g)| *g != m.want())
            .map(|(what, g)| format!("{what}:\n{}", diff(&m.want(), g)))
            .collect();
        // Exactly as text too: addresses as Rust and inet_ntop write them, no padding.
        let text = sorted(super::ok(ns, &["-P", "-o", DEFAULT]));
        if text != want_text {
            let missing = want_text.iter().filter(|l| !text.contains(l));
            let extra = text.iter().filter(|l| !want_text.contains(l));
            let lines: Vec<String> = (missing.map(|l| format!("  missing {l}")))
                .chain(extra.map(|l| format!("  extra   {l}")))
                .collect();
            bad.push(format!("-P text:\n{}", lines.join("\n")));
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    });
}

/// The default fields asked for in mixed case (`parsable` checks the values come in that order).
fn upper(ns: &NetNs) -> Vec<Conn> {
    let mut v: Vec<Conn> = super::parsable(ns, "LADDR,Lport,rAddr,RPORT,State", &[])
        .iter()
        .map(|r| super::conn(&r.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>()))
        .collect();
    v.sort();
    v
}

/// Sockets that are only bound (no listen, no connect) are listed, as BOUND, and `state=bound`
/// selects exactly them.
#[test]
fn bound_only_sockets_are_bound() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000").listen("[::1]:5001");
        m.estab("127.0.0.1:40020", "127.0.0.1:5000")
            .bound("127.0.0.1:40060")
            .bound("[::1]:40061");
        m.settle();
        let all = rows(ns, &[]);
        assert!(all == m.want(), "every socket:\n{}", diff(&m.want(), &all));
        let want = m.select("bound", |c| c.state == "BOUND");
        let got = rows(ns, &["-F", "state=bound"]);
        assert!(got == want, "state=bound:\n{}", diff(&want, &got));
        let got = rows(ns, &["--no-kernel-filter", "-F", "state=BOUND"]);
        assert!(
            got == want,
            "state=BOUND in user space:\n{}",
            diff(&want, &got)
        );
    });
}

#[test]
fn every_filter_form_selects_exactly_the_matching_rows() {
    with_netns(|ns| {
        let m = build(ns);
        let mut bad = Vec::new();
        for (args, keep) in cases() {
            let want = m.select(&format!("{args:?}"), keep);
            let got = rows(ns, &args);
            if got != want {
                bad.push(format!("{args:?}\n{}", diff(&want, &got)));
            }
        }
        assert!(
            bad.is_empty(),
            "{} cases wrong:\n{}",
            bad.len(),
            bad.join("\n")
        );
        // The JSON writer sees the same rows.
        let want = m.select("-e -L", |c| c.state == "ESTABLISHED" && !loopback(c.laddr));
        assert_eq!(json_rows(ns, &["-e", "-L"]), want);
    });
}

#[test]
fn the_same_rows_with_and_without_the_kernel_side_filter() {
    with_netns(|ns| {
        let m = build(ns);
        let mut bad = Vec::new();
        for (args, keep) in cases() {
            // The case must discriminate; whether the rows are right is the test above's job.
            m.select(&format!("{args:?}"), keep);
            let kernel = rows(ns, &args);
            let user = rows(ns, &with_kernel_filter_off(&args));
            if kernel != user {
                bad.push(format!("{args:?}\n  kernel {kernel:?}\n  user   {user:?}"));
            }
        }
        assert!(
            bad.is_empty(),
            "{} cases differ:\n{}",
            bad.len(),
            bad.join("\n")
        );
        // More fields than the default: still the same rows, field for field.
        let fields = format!("{DEFAULT},inode,uid");
        for args in [&["-F", "rport=5000-5001"][..], &["-e", "-6"], &["-L"]] {
            let k = sorted(super::ok(ns, &[&["-P", "-o", &fields][..], args].concat()));
            let u = sorted(super::ok(
                ns,
                &[&["--no-kernel-filter", "-P", "-o", &fields][..], args].concat(),
            ));
            assert_eq!(k, u, "{args:?}");
        }
    });
}

fn sorted(text: String) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// IPv4 clients of a dual-stack listener: the accepted sockets are IPv6 with v4-mapped addresses.
/// An IPv4 prefix matches them, `-L` drops the loopback ones; kernel and user space agree.
#[test]
fn v4_mapped_peers() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.dual_listen(7000).listen("127.0.0.1:5000");
        m.estab("127.0.0.1:40040", "127.0.0.1:7000")
            .estab("10.9.0.1:40041", "10.9.0.1:7000")
            .estab("127.0.0.1:40042", "127.0.0.1:5000")
            .estab("[::1]:40043", "[::1]:7000");
        m.settle();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(
            m.rows.iter().any(|c| c.laddr == mapped && c.rport == 40040),
            "the harness made no v4-mapped socket: {:#?}",
            m.rows
        );
        let text = super::ok(ns, &["-P", "-o", DEFAULT, "-F", "lport=7000,rport=40040"]);
        assert_eq!(
            text,
            "::ffff:127.0.0.1,7000,::ffff:127.0.0.1,40040,ESTABLISHED\n"
        );
        let cases: Vec<(Vec<&str>, Pred)> = vec![
            (
                vec!["-F", "raddr=127.0.0.0/8"],
                Box::new(|c: &Conn| within(c.raddr, "127.0.0.0/8")),
            ),
            (
                vec!["-F", "raddr=10.9.0.1/32"],
                Box::new(|c: &Conn| within(c.raddr, "10.9.0.1/32")),
            ),
            (
                vec!["-F", "laddr=127.0.0.0/8,lport=7000"],
                Box::new(|c: &Conn| within(c.laddr, "127.0.0.0/8") && c.lport == 7000),
            ),
            (
                vec!["-L"],
                Box::new(|c: &Conn| !loopback(c.laddr) && !loopback(c.raddr)),
            ),
        ];
        for (args, keep) in cases {
            let want = m.select(&format!("{args:?}"), keep);
            assert_eq!(rows(ns, &args), want, "{args:?}");
            assert_eq!(
                rows(ns, &with_kernel_filter_off(&args)),
                want,
                "{args:?} in user space"
            );
        }
    });
}
