//! `--source bpf`: what the BPF programs count in the kernel equals, to the socket, what the
//! netlink path folds from one message per socket (every column and every per-state count of the
//! Prometheus file, and `states` by family and peer) on the same namespace at 0, 1k and 100k
//! sockets with every TCP state this harness can hold (TIME_WAIT in both substates, request
//! sockets, bound-only, IPv4 and IPv6) and UDP, also in a namespace with a TCP table of its own;
//! another namespace's sockets are never counted; CAP_BPF and CAP_PERFMON are enough; without
//! privilege auto is refused once and goes on with netlink while `--source bpf` fails in one
//! line; auto stays with netlink in a PID namespace of its own. These load BPF programs: they run
//! as root (CI does) and fail, saying so, otherwise.

mod load;

use std::process::Command;

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool};
use crate::util::{Row, conntrend, parse_json};

/// One sample through `source` (plus `args`): its JSON row without the timestamp, and the
/// Prometheus file's metric lines, sorted.
fn snapshot(ns: &NetNs, source: &str, args: &[&str]) -> (Row, Vec<String>) {
    snapshot_with(ns, source, args, &[])
}

/// [`snapshot`] with environment variables set for conntrend.
fn snapshot_with(
    ns: &NetNs,
    source: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Row, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let prom = dir.path().join("sample.prom");
    let conntrend = || {
        let mut cmd = conntrend();
        cmd.envs(env.iter().copied());
        cmd
    };
    let mut cmd = conntrend();
    cmd.args(["-c", "1", "--format", "json", "--source", source])
        .args(args);
    let run = ns.run(cmd);
    run.expect_code(0);
    let mut row = parse_json(&run.stdout()).samples.remove(0);
    row.remove("epoch_ms");
    let mut cmd = conntrend();
    cmd.args(["-c", "1", "--format", "prom", "--source", source, "-o"])
        .arg(&prom)
        .args(args);
    ns.run(cmd).expect_code(0);
    let text = std::fs::read_to_string(&prom).expect("read the prom file");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    (row, lines)
}

/// Fails, saying why, unless BPF programs can be loaded here.
fn require_bpf(ns: &NetNs) {
    let mut cmd = conntrend();
    cmd.args(["-c", "1", "--source", "bpf", "-o", "/dev/null"]);
    let run = ns.run(cmd);
    assert_eq!(
        run.code(),
        Some(0),
        "these tests load BPF programs: run them as root in the initial user namespace (CI \
         does; sudo make test)\n{}",
        run.describe()
    );
}

/// netlink, bpf, netlink again: once both netlink samples agree (the table held still), the bpf
/// one must be the same, row and metrics. Returns the metrics.
fn same(ns: &NetNs, args: &[&str], what: &str) -> Vec<String> {
    same_with(ns, args, &[], what)
}

/// [`same`] with environment variables set for the bpf run.
fn same_with(ns: &NetNs, args: &[&str], env: &[(&str, &str)], what: &str) -> Vec<String> {
    require_bpf(ns);
    for _ in 0..3 {
        let before = snapshot(ns, "netlink", args);
        let bpf = snapshot_with(ns, "bpf", args, env);
        let after = snapshot(ns, "netlink", args);
        if before == after {
            assert_eq!(bpf, before, "{what}: bpf (left) against netlink (right)");
            return before.1;
        }
    }
    panic!("{what}: the socket table kept changing between two netlink samples");
}

/// The value of metric line `name` (labels included) in `metrics`.
fn metric(metrics: &[String], name: &str) -> u64 {
    let line = metrics
        .iter()
        .find(|l| l.rsplit_once(' ').is_some_and(|(n, _)| n == name))
        .unwrap_or_else(|| panic!("no {name} in {metrics:#?}"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

/// Every state the harness can hold, IPv4 and IPv6, inside and outside the pool's range.
fn every_state(ns: &NetNs) -> Mix<'_> {
    let mut mix = Mix::new(ns);
    mix.listen(false, 5000).listen(true, 5001);
    mix.estab(false, 40020, 5000).estab(true, 40021, 5001);
    mix.time_wait(false, 40030, 5000)
        .time_wait(true, 40031, 5001);
    mix.orphan_fin_wait2(false, 40032, 5000)
        .orphan_fin_wait2(true, 40033, 5001);
    mix.syn_sent(false, 40040, 6000).syn_sent(true, 40041, 6001);
    mix.syn_recv(false, 40042, 7000).syn_recv(true, 40043, 7001);
    mix.fin_wait1(false, 40044, 5000)
        .fin_wait1(true, 40045, 5001);
    mix.fin_wait2(false, 40046, 5000)
        .last_ack(false, 40047, 5000);
    mix.bound(false, 40060)
        .bound(true, 40061)
        .bound(false, 40015);
    mix.udp(false, 40050, None, false)
        .udp(true, 40051, Some(40050), false)
        .udp(false, 40012, None, false);
    mix.settle();
    mix
}

/// The mix, then `total` more sockets, then the pool: 1024-40199 without 40010-40019.
fn loaded(ns: &NetNs, total: usize) -> (Mix<'_>, Option<load::Bulk>) {
    let mix = every_state(ns);
    let bulk = (total > 0).then(|| load::bulk(ns, total));
    Pool::new(1024, 40199, "40010-40019").apply(ns);
    (mix, bulk)
}

#[test]
fn bpf_equals_netlink_on_an_empty_namespace() {
    crate::netns::with_netns(|ns| {
        let metrics = same(ns, &[], "no sockets");
        assert_eq!(
            metric(&metrics, "conntrend_tcp_sockets{state=\"time_wait\"}"),
            0
        );
        assert_eq!(metric(&metrics, "conntrend_udp_sockets"), 0);
    });
}

#[test]
fn bpf_equals_netlink_with_every_state_and_1k_sockets() {
    crate::netns::with_netns(|ns| {
        let _held = loaded(ns, 1000);
        let m = same(ns, &[], "every state + 1k");
        let state = |s: &str| metric(&m, &format!("conntrend_tcp_sockets{{state=\"{s}\"}}"));
        // What the mix adds is there, in each state, through both sources.
        assert!(state("time_wait") >= 2 + 900, "{m:#?}");
        assert_eq!(
            state("fin_wait2"),
            2 + 1 + 1,
            "two orphaned, fin_wait2's and last_ack's"
        );
        assert_eq!(state("syn_recv"), 2, "request sockets as SYN_RECV");
        assert_eq!(state("syn_sent"), 2);
        assert_eq!(state("fin_wait1"), 2);
        assert_eq!(state("close_wait"), 2 + 1);
        assert_eq!(state("last_ack"), 1);
        assert_eq!(
            state("close"),
            3,
            "bound-only sockets, one on a reserved port"
        );
        assert_eq!(state("listen"), 2 + 2 + 10);
        assert_eq!(metric(&m, "conntrend_udp_sockets"), 3 + 10);
    });
}

#[test]
fn bpf_equals_netlink_with_every_state_and_100k_sockets() {
    crate::netns::with_netns(|ns| {
        let _held = loaded(ns, 100_000);
        let m = same(ns, &[], "every state + 100k");
        let tw = metric(&m, "conntrend_tcp_sockets{state=\"time_wait\"}");
        assert!(tw > 90_000, "{m:#?}");
        // On one thread a job's part is the whole table: more than one run's 65,536 steps, so
        // each run goes on where the last one stopped, whatever the machine's CPUs.
        let one = [("CONNTREND_BPF_THREADS", "1")];
        same_with(ns, &[], &one, "every state + 100k, one thread");
    });
}

/// `conntrend states` (with `--all` or not) through netlink, bpf, netlink: once both netlink
/// objects agree, the bpf one must be the same. Returns it.
fn same_states(ns: &NetNs, all: bool, what: &str) -> serde_json::Value {
    let states = |source: &str| {
        let mut cmd = conntrend();
        cmd.args(["states", "--source", source]);
        if all {
            cmd.arg("--all");
        }
        let run = ns.run(cmd);
        run.expect_code(0);
        serde_json::from_str::<serde_json::Value>(&run.stdout()).expect("one JSON object")
    };
    require_bpf(ns);
    for _ in 0..3 {
        let (before, bpf, after) = (states("netlink"), states("bpf"), states("netlink"));
        if before == after {
            assert_eq!(bpf, before, "{what}: bpf (left) against netlink (right)");
            return before;
        }
    }
    panic!("{what}: the socket table kept changing between two netlink samples");
}

#[test]
fn states_counted_in_the_kernel_equal_netlinks_by_family_and_peer() {
    crate::netns::with_netns(|ns| {
        let _held = loaded(ns, 1000);
        let peers = same_states(ns, false, "states, every state + 1k");
        let all = same_states(ns, true, "states --all, every state + 1k");
        // Listeners, unconnected UDP and bound-only sockets have no peer: only --all counts
        // them; the connected ones are in both, by family.
        for table in ["tcp4", "tcp6"] {
            assert_eq!(peers[table]["LISTEN"], 0, "{table}: {peers}");
            assert!(all[table]["LISTEN"].as_u64() > Some(0), "{table}: {all}");
            assert!(
                peers[table]["ESTABLISHED"].as_u64() > Some(0),
                "{table}: {peers}"
            );
            assert!(
                peers[table]["SYN_RECV"].as_u64() > Some(0),
                "{table}: {peers}"
            );
        }
        assert_eq!(peers["tcp"]["CLOSE"], 0, "{peers}");
        assert_eq!(
            all["tcp"]["CLOSE"], 3,
            "the three bound-only sockets: {all}"
        );
        assert_eq!(
            peers["udp6"]["ESTABLISHED"], 1,
            "the connected UDP socket: {peers}"
        );
        assert_eq!(peers["udp4"]["CLOSE"], 0, "{peers}");
        assert!(all["udp4"]["CLOSE"].as_u64() >= Some(2), "{all}");
    });
}

#[test]
fn states_counted_in_the_kernel_equal_netlinks_at_100k_sockets() {
    crate::netns::with_netns(|ns| {
        let _held = loaded(ns, 100_000);
        let peers = same_states(ns, false, "states, every state + 100k");
        assert!(peers["tcp"]["TIME_WAIT"].as_u64() > Some(90_000), "{peers}");
        same_states(ns, true, "states --all, every state + 100k");
    });
}

#[test]
fn more_bound_only_sockets_than_the_dedup_map_takes_are_dumped_instead() {
    crate::netns::with_netns(|ns| {
        // 9,000 bound-only sockets: past the 8,192 the bound-only walk may count exactly, the
        // sample takes that one state from netlink (still one walk of the files too, to know).
        let held: Vec<socket2::Socket> = (20000..29000)
            .map(|port| {
                let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .expect("socket");
                let addr: std::net::SocketAddr = (std::net::Ipv4Addr::LOCALHOST, port).into();
                s.bind(&addr.into()).expect("bind");
                s
            })
            .collect();
        Pool::new(10000, 39999, "").apply(ns);
        let m = same(ns, &[], "9,000 bound-only sockets");
        assert_eq!(metric(&m, "conntrend_tcp_sockets{state=\"close\"}"), 9000);
        assert_eq!(
            metric(&m, "conntrend_pool_protocol_used_ports{protocol=\"tcp\"}"),
            9000
        );
        drop(held);
    });
}

#[test]
fn a_namespace_with_an_established_table_of_its_own_is_walked_whole() {
    crate::netns::with_netns(|ns| {
        // Namespaces made from here get a table of 1024 buckets of their own (not the host's):
        // the walk must find it through the namespace, and cut its parts for that size.
        std::fs::write("/proc/sys/net/ipv4/tcp_child_ehash_entries", "1024")
            .expect("set tcp_child_ehash_entries in the test's namespace");
        // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET only moves this thread.
        let moved = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(moved, 0, "unshare: {}", std::io::Error::last_os_error());
        ns.lo_up();
        assert_eq!(ns.sysctl("tcp_ehash_entries"), "1024", "a table of its own");
        let _held = loaded(ns, 5000);
        let m = same(ns, &[], "a table of its own, 5k sockets");
        assert!(
            metric(&m, "conntrend_tcp_sockets{state=\"time_wait\"}") > 4500,
            "{m:#?}"
        );
    });
}

#[test]
fn cap_bpf_and_cap_perfmon_are_all_it_needs() {
    crate::netns::with_netns(|ns| {
        let _mix = every_state(ns);
        require_bpf(ns);
        // User nobody with only those two capabilities: the same row as root's netlink.
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args([
                "--inh-caps",
                "+bpf,+perfmon",
                "--ambient-caps",
                "+bpf,+perfmon",
            ])
            .arg(env!("CARGO_BIN_EXE_conntrend"))
            .args(["-c", "1", "--format", "json", "--source", "bpf"]);
        let run = ns.run(cmd);
        run.expect_code(0);
        let mut row = parse_json(&run.stdout()).samples.remove(0);
        row.remove("epoch_ms");
        assert_eq!(row, snapshot(ns, "netlink", &[]).0, "{}", run.describe());
    });
}

#[test]
fn auto_stays_with_netlink_in_a_pid_namespace_of_its_own() {
    crate::netns::with_netns(|ns| {
        let _mix = every_state(ns);
        require_bpf(ns);
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--"])
            .arg(env!("CARGO_BIN_EXE_conntrend"))
            .args(["-c", "1", "-v", "--format", "json"]);
        let run = ns.run(cmd);
        run.expect_code(0);
        assert!(
            !run.stdout().contains("\"source\":\"bpf\""),
            "{}",
            run.describe()
        );
        assert!(
            run.stderr().contains(
                "conntrend: source: netlink (--source auto: conntrend runs in a PID namespace \
                 of its own"
            ),
            "{}",
            run.describe()
        );
        let mut row = parse_json(&run.stdout()).samples.remove(0);
        row.remove("epoch_ms");
        assert_eq!(row, snapshot(ns, "netlink", &[]).0);
    });
}

#[test]
fn another_namespaces_sockets_are_never_counted() {
    let parked = crate::netns::park_netns(|ns, park| {
        let held = loaded(ns, 1000);
        park(());
        drop(held);
    });
    crate::netns::with_netns(move |ns| {
        // Here: nothing, though the parked namespace holds a thousand sockets.
        let here = same(ns, &[], "an empty namespace next to a loaded one");
        assert_eq!(
            metric(&here, "conntrend_tcp_sockets{state=\"established\"}"),
            0
        );
        // There, entered with --netns: its sockets, as netlink sees them from inside.
        let there = same(
            ns,
            &["--netns", &parked.path],
            "--netns into the loaded one",
        );
        assert!(metric(&there, "conntrend_tcp_sockets{state=\"time_wait\"}") > 900);
        drop(parked);
    });
}

/// `strace -f -e trace=bpf,openat` around `cmd`: how many bpf() calls, and whether the kernel's
/// BTF was opened.
fn traced(ns: &NetNs, cmd: &Command) -> (usize, bool, crate::util::Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("trace");
    let mut strace = Command::new("strace");
    strace
        .args(["-f", "-qq", "-e", "trace=bpf,openat", "-o"])
        .arg(&log)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let run = ns.run(strace);
    let trace = std::fs::read_to_string(&log).expect("read the trace");
    let calls = trace.lines().filter(|l| l.contains(" bpf(")).count();
    (calls, trace.contains("/sys/kernel/btf/vmlinux"), run)
}

#[test]
fn without_privilege_nothing_changes_and_bpf_says_why_in_one_line() {
    crate::netns::with_netns(|ns| {
        let _mix = every_state(ns);
        let nobody = |args: &[&str]| {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_conntrend"))
                .args(["-c", "1", "--format", "json"])
                .args(args);
            cmd
        };
        // auto tries BPF once: one refused bpf() call, no BTF read, one line on -v, and the row
        // root's netlink gives.
        let (calls, btf, run) = traced(ns, &nobody(&["-v"]));
        run.expect_code(0);
        assert_eq!((calls, btf), (1, false), "{}", run.describe());
        assert_eq!(
            run.stderr()
                .lines()
                .filter(|l| l.contains("source:"))
                .collect::<Vec<_>>(),
            [
                "conntrend: source: netlink (--source auto could not load the BPF programs: \
                 cannot create a BPF map: Operation not permitted (os error 1) (needs root, or \
                 CAP_BPF and CAP_PERFMON))"
            ],
            "{}",
            run.describe()
        );
        assert!(!run.stdout().contains("source=bpf"), "{}", run.describe());
        let mut row = parse_json(&run.stdout()).samples.remove(0);
        row.remove("epoch_ms");
        assert_eq!(
            row,
            snapshot(ns, "netlink", &[]).0,
            "the same row as root's netlink"
        );

        let run = ns.run(nobody(&["--source", "bpf"]));
        run.expect_code(1);
        assert_eq!(
            run.stderr(),
            "conntrend: --source bpf: cannot create a BPF map: Operation not permitted (os error \
             1) (needs root, or CAP_BPF and CAP_PERFMON)\n"
        );
        assert_eq!(run.stdout(), "", "nothing written before the error");

        // As root auto counts in the kernel when the run needs only counts, and says so; bpf
        // says so too, and refuses a run that needs each socket's record before writing
        // anything, where auto stays with netlink and says why.
        require_bpf(ns);
        for (source, why) in [
            ("auto", "--source auto, and this run needs only counts"),
            ("bpf", "--source bpf"),
        ] {
            let mut cmd = conntrend();
            cmd.args(["-c", "1", "-v", "--source", source]);
            let run = ns.run(cmd);
            run.expect_code(0);
            assert!(
                run.stdout().contains("  source=bpf  "),
                "{}",
                run.describe()
            );
            assert!(
                run.stderr()
                    .contains("conntrend: source: bpf (TCP sockets counted")
                    && run.stderr().contains(why),
                "{}",
                run.describe()
            );
        }
        let mut dst = conntrend();
        dst.args(["-c", "1", "-v", "--dst"]);
        let run = ns.run(dst);
        run.expect_code(0);
        assert!(!run.stdout().contains("source=bpf"), "{}", run.describe());
        assert!(
            run.stderr().contains(
                "conntrend: source: netlink (--source auto: this run looks at each socket's record"
            ),
            "{}",
            run.describe()
        );
        for args in [
            &["-c", "1", "--dst"][..],
            &["-c", "1", "--owners"],
            &["conns"],
            &["top"],
        ] {
            let mut cmd = conntrend();
            cmd.args(args).args(["--source", "bpf"]);
            let run = ns.run(cmd);
            run.expect_code(1);
            assert_eq!(run.stdout(), "", "{}", run.describe());
            assert!(
                run.stderr()
                    .starts_with("conntrend: --source bpf counts sockets in the kernel"),
                "{}",
                run.describe()
            );
        }
    });
}
