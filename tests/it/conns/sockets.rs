//! Fields the test can know from its own sockets without any counter: the owner (pid, comm, uid),
//! the inode `fstat` gives, SO_SNDBUF/SO_RCVBUF, the queue of bytes sent but not read; and the same
//! rows read from outside the namespace (`--netns`) and through `/proc` (`--source proc`).

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::Command;

use socket2::Socket;

use super::mix::Mix;
use super::{DEFAULT, diff, get, num, parsable, rows};
use crate::netns::{park_netns, with_netns};

fn inode(s: &Socket) -> u64 {
    // SAFETY: fstat on a descriptor this test owns, into a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::fstat(s.as_raw_fd(), &mut st) }, 0, "fstat");
    st.st_ino
}

#[test]
fn owner_inode_and_buffers_of_the_tests_own_sockets() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        let (c, s) = m.pair("127.0.0.1:40140", "127.0.0.1:5000");
        m.time_wait("127.0.0.1:40141", "127.0.0.1:5000");
        m.settle();
        // Fixed sizes, so autotuning cannot move them while conns looks.
        c.set_send_buffer_size(65_536).unwrap();
        s.set_recv_buffer_size(80_000).unwrap();
        let me = std::process::id() as u64;
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        // SAFETY: geteuid takes no arguments and cannot fail.
        let uid = unsafe { libc::geteuid() } as u64;
        let fields = "lport,rport,state,uid,inode,pid,comm,sndbuf,rcvbuf";
        for (sock, filter) in [(&c, "lport=40140"), (&s, "rport=40140")] {
            let r = parsable(ns, fields, &["-F", filter]);
            assert_eq!(r.len(), 1, "{filter}: {r:?}");
            let r = &r[0];
            assert_eq!(get(r, "state"), "ESTABLISHED");
            assert_eq!(num(r, "uid"), uid, "{r:?}");
            assert_eq!(num(r, "inode"), inode(sock), "fstat's st_ino: {r:?}");
            assert_eq!(num(r, "pid"), me, "{r:?}");
            assert_eq!(get(r, "comm"), comm.trim_end(), "{r:?}");
            let sndbuf = sock.send_buffer_size().unwrap() as u64;
            let rcvbuf = sock.recv_buffer_size().unwrap() as u64;
            assert_eq!(num(r, "sndbuf"), sndbuf, "SO_SNDBUF: {r:?}");
            assert_eq!(num(r, "rcvbuf"), rcvbuf, "SO_RCVBUF: {r:?}");
        }
        // A TIME_WAIT socket belongs to no process: no pid, no inode.
        let r = parsable(ns, fields, &["-F", "lport=40141"]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(get(&r[0], "state"), "TIME_WAIT");
        assert_eq!((get(&r[0], "pid"), get(&r[0], "inode")), ("", ""), "{r:?}");
        drop((c, s));
    });
}

fn sorted_lines(text: String) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// `ss -tnH <filter>`'s Recv-Q and Send-Q of the one socket it shows.
fn ss_queues(ns: &crate::netns::NetNs, filter: &[&str]) -> (u64, u64) {
    let text = ns.stdout(&[&["ss", "-tnH"][..], filter].concat());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "ss {filter:?}:\n{text}");
    let f: Vec<&str> = lines[0].split_whitespace().collect();
    (f[1].parse().unwrap(), f[2].parse().unwrap())
}

#[test]
fn bytes_not_yet_read_are_the_receive_queue() {
    const UNREAD: usize = 777;
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        let (c, s) = m.pair("127.0.0.1:40150", "127.0.0.1:5000");
        (&c).write_all(&[1u8; UNREAD]).unwrap();
        let server = ["sport", "=", ":5000", "dport", "=", ":40150"];
        let client = ["sport", "=", ":40150"];
        ns.wait_until("the bytes queued and acknowledged", || {
            ss_queues(ns, &server) == (UNREAD as u64, 0) && ss_queues(ns, &client) == (0, 0)
        });
        let fields = "rqueue,wqueue,inbytes,unsent,suna";
        let r = parsable(ns, fields, &["-F", "lport=5000,rport=40150"]);
        assert_eq!(r.len(), 1, "{r:?}");
        let got = (
            num(&r[0], "rqueue"),
            num(&r[0], "wqueue"),
            num(&r[0], "inbytes"),
        );
        assert_eq!(got, (UNREAD as u64, 0, UNREAD as u64), "server {r:?}");
        let r = parsable(ns, fields, &["-F", "lport=40150"]);
        let got = (num(&r[0], "rqueue"), num(&r[0], "wqueue"));
        assert_eq!(got, (0, 0), "client {r:?}");
        assert_eq!((num(&r[0], "unsent"), num(&r[0], "suna")), (0, 0), "{r:?}");
        drop((c, s));
    });
}

/// Run from the host namespace with `--netns PATH` or `--pid PID` (a process living in the
/// namespace), conns reports the sockets of that namespace.
#[test]
fn netns_and_pid_report_another_namespace() {
    let parked = park_netns(|ns, park| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000").listen("[::1]:5001");
        m.estab("127.0.0.1:40160", "127.0.0.1:5000")
            .estab("[::1]:40161", "[::1]:5001")
            .time_wait("127.0.0.1:40162", "127.0.0.1:5000");
        m.settle();
        // A child started from this thread lives in this namespace.
        let mut sleeper = ns.spawn(Command::new("sleep").arg("60"));
        park((m.want(), sleeper.id()));
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        drop(m);
    });
    let (want, pid) = &parked.info;
    let pid = pid.to_string();
    for (flag, target) in [("--netns", parked.path.as_str()), ("--pid", pid.as_str())] {
        let r = crate::util::run({
            let mut c = crate::util::conntrend();
            c.args(["conns", "-P", "-o", DEFAULT, flag, target]);
            c
        });
        r.expect_code(0);
        let mut got: Vec<_> = r
            .stdout()
            .lines()
            .map(|l| super::conn(&l.split(',').collect::<Vec<_>>()))
            .collect();
        got.sort();
        assert!(
            &got == want,
            "{flag}:\n{}\n{}",
            diff(want, &got),
            r.describe()
        );
    }
}

/// The /proc/net tables list the same connections (they have no bound-only sockets, which the mix
/// leaves out), and the filters apply to them the same way.
#[test]
fn the_same_rows_through_proc() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000")
            .listen("[::1]:5001")
            .listen("10.9.0.1:6000");
        m.estab("127.0.0.1:40170", "127.0.0.1:5000")
            .estab("10.9.0.1:40171", "10.9.0.1:6000")
            .estab("[::1]:40172", "[::1]:5001")
            .time_wait("127.0.0.1:40173", "127.0.0.1:5000")
            .fin_wait2("[::1]:40174", "[::1]:5001")
            .syn_recv("127.0.0.1:40175", "127.0.0.1:5098");
        m.settle();
        for args in [
            &[][..],
            &["-F", "rport=5000"],
            &["-e", "-6"],
            &["-L"],
            &["-F", "laddr=127.0.0.0/8,state=syn_recv"],
        ] {
            let want = rows(ns, args);
            let mut all = vec!["--source", "proc"];
            all.extend(args);
            let got = rows(ns, &all);
            assert!(
                got == want,
                "{args:?}: proc vs netlink\n{}",
                diff(&want, &got)
            );
            if args.is_empty() {
                assert_eq!(got, m.want(), "the mix itself");
            }
        }
        // What /proc/net/tcp carries besides the socket id: the same values. (Queues of connected
        // sockets only: for a listener netlink's "write queue" is the backlog limit, /proc's 0.)
        for (fields, filter) in [
            ("laddr,lport,rport,state,uid,inode", &[][..]),
            ("lport,rport,rqueue,wqueue", &["-e"]),
        ] {
            let args = [&["-P", "-o", fields][..], filter].concat();
            let netlink = sorted_lines(super::ok(ns, &args));
            let proc = sorted_lines(super::ok(ns, &[&["--source", "proc"][..], &args].concat()));
            assert_eq!(proc, netlink, "{args:?}");
        }
    });
}
