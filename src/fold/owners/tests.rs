//! The attribution fold on hand-made records: a client's connections seen owned, then in
//! TIME_WAIT after it closed them and exited; connections it never was seen owning; memory that
//! forgets 4-tuples once they leave the dump.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::*;
use crate::diag::RecordBuf;
use crate::probes::owners::Owners;

const CLIENT: Who = (100, 7);

struct Fake {
    alive: bool,
}

impl World for Fake {
    fn cgroup(&mut self, id: u64) -> Option<String> {
        Some(format!("/cg{id}"))
    }
    fn alive(&mut self, _: Who) -> bool {
        self.alive
    }
}

fn pool() -> Pool {
    let mut p = Pool::default();
    p.set("40000 40099", "").unwrap();
    p
}

fn process(pid: u32, start: u64) -> Process {
    Process {
        pid,
        start,
        comm: "client".into(),
        cmdline: format!("client --id {pid}"),
        uid: 0,
        cgroup: Some("/app.slice/client.service".into()),
    }
}

/// A TCP socket from local port `port` to 10.0.0.1:443, owned by `inode` (0: none).
fn sock(state: u8, port: u16, inode: u32) -> RecordBuf {
    let mut b = RecordBuf::default();
    b.reset(libc::AF_INET as u8, state)
        .addrs(&[127, 0, 0, 1], &Ipv4Addr::new(10, 0, 0, 1).octets())
        .ports(port, 443)
        .owner(0, inode);
    b
}

/// One sample of `socks`, with `owned` (inode → process) as the scan's answer.
fn sample(
    a: &mut Attribution,
    socks: &[RecordBuf],
    owned: &[(u32, Who)],
    alive: bool,
    now_ms: u64,
) -> Attributed {
    let pool = pool();
    a.reset();
    for s in socks {
        a.visit(&pool, Protocol::Tcp, &s.record());
    }
    let mut owners = Owners::default();
    let mut procs: HashMap<Who, u32> = HashMap::new();
    for &(inode, who) in owned {
        let next = procs.len() as u32;
        let i = *procs.entry(who).or_insert(next);
        if i == next {
            owners.processes.push(process(who.0, who.1));
        }
        owners.by_inode.push((inode, i));
    }
    owners.settle();
    a.finish(&owners, &pool.members, &mut Fake { alive }, now_ms)
}

fn row<'a>(t: &'a Attributed, comm: &str) -> &'a ProcessUse {
    t.processes
        .iter()
        .find(|p| p.comm == comm)
        .unwrap_or_else(|| panic!("no {comm} in {:?}", t.processes))
}

#[test]
fn time_wait_keeps_its_last_owner_until_it_is_gone() {
    use tcp_state::*;
    let mut a = Attribution::default();
    // Sample 1: five connections owned by the client.
    let estab: Vec<_> = (0..5)
        .map(|i| sock(ESTABLISHED, 40000 + i, 500 + u32::from(i)))
        .collect();
    let owned: Vec<_> = (0..5).map(|i| (500 + i, CLIENT)).collect();
    let t = sample(&mut a, &estab, &owned, true, 1_000);
    let c = row(&t, "client");
    assert_eq!((c.tcp_ports, c.last_known_ports, c.established), (5, 0, 5));
    assert_eq!(c.cmdline.as_deref(), Some("client --id 100"));
    assert_eq!(c.cgroup.as_deref(), Some("/app.slice/client.service"));
    assert!(t.destinations.is_empty(), "no ownerless socket yet");

    // Sample 2: the client closed them (TIME_WAIT, no inode) and exited; two connections of
    // another 4-tuple were never seen owned.
    let mut tw: Vec<_> = (0..5).map(|i| sock(TIME_WAIT, 40000 + i, 0)).collect();
    tw.push(sock(TIME_WAIT, 40050, 0));
    tw.push(sock(TIME_WAIT, 40051, 0));
    let t = sample(&mut a, &tw, &[], false, 2_000);
    let c = row(&t, "client");
    assert_eq!((c.tcp_ports, c.last_known_ports), (0, 5));
    assert!(c.exited);
    assert_eq!(row(&t, table::KERNEL).tcp_ports, 2, "the two nobody owned");
    let d = &t.destinations[&Dst::from((Ipv4Addr::new(10, 0, 0, 1), 443))];
    assert_eq!((d.ownerless, d.unattributed), (7, 2));
    assert_eq!(d.last_known.len(), 1);
    assert_eq!((d.last_known[0].pid, d.last_known[0].sockets), (100, 5));
    // The client held connections there a second ago: the likely maker, holding none now.
    assert_eq!(d.likely.len(), 1);
    assert_eq!((d.likely[0].pid, d.likely[0].sockets), (100, 0));
    assert_eq!(a.remembered(), 5);

    // Sample 3: three of the TIME_WAIT sockets are gone: memory forgets them.
    let t = sample(&mut a, &tw[3..5], &[], false, 3_000);
    assert_eq!(row(&t, "client").last_known_ports, 2);
    assert_eq!(a.remembered(), 2);
    // Sample 4: all gone, and long after: nothing is remembered, not even the process.
    let t = sample(&mut a, &[], &[], false, 3_000 + RECENT_MS + 1);
    assert!(t.processes.is_empty(), "{:?}", t.processes);
    assert_eq!(a.remembered(), 0);
    assert!(a.people.is_empty() && a.recent.is_empty());
}

#[test]
fn likely_names_current_holders_first_and_never_as_owners() {
    use tcp_state::*;
    let mut a = Attribution::default();
    let other: Who = (200, 9);
    // The client holds two connections, another process one; ten TIME_WAIT nobody was seen own.
    let mut socks = vec![
        sock(ESTABLISHED, 40000, 1),
        sock(ESTABLISHED, 40001, 2),
        sock(ESTABLISHED, 40002, 3),
    ];
    socks.extend((10..20).map(|i| sock(TIME_WAIT, 40000 + i, 0)));
    let t = sample(
        &mut a,
        &socks,
        &[(1, CLIENT), (2, CLIENT), (3, other)],
        true,
        1_000,
    );
    let d = &t.destinations[&Dst::from((Ipv4Addr::new(10, 0, 0, 1), 443))];
    assert_eq!((d.ownerless, d.unattributed), (10, 10));
    assert!(d.last_known.is_empty());
    let likely: Vec<_> = d.likely.iter().map(|n| (n.pid, n.sockets)).collect();
    assert_eq!(likely, [(100, 2), (200, 1)]);
    let k = row(&t, table::KERNEL);
    assert_eq!(k.tcp_ports, 10);
    assert_eq!(
        row(&t, "client").last_known_ports,
        0,
        "likely is not ownership"
    );
}

#[test]
fn hidden_and_other_namespace_owners_are_named_by_cgroup() {
    use tcp_state::*;
    let mut a = Attribution::default();
    let mut s = sock(ESTABLISHED, 40000, 42);
    let pool = pool();
    a.reset();
    // The cgroup id travels in an attribute RecordBuf cannot carry: ask the fold directly.
    a.visit(&pool, Protocol::Tcp, &s.record());
    a.owned[0].cgroup = 77;
    let owners = Owners {
        nested_pid_namespace: true,
        ..Owners::default()
    };
    let t = a.finish(&owners, &pool.members, &mut Fake { alive: true }, 1);
    let g = row(&t, table::OTHER_PID_NS);
    assert_eq!((g.tcp_ports, g.cgroup.as_deref()), (1, Some("/cg77")));
    assert!(t.other_pid_namespace);
    // Without a nested pid namespace or hidden processes, an unowned inode closed meanwhile.
    s.owner(0, 43);
    a.reset();
    a.visit(&pool, Protocol::Tcp, &s.record());
    let t = a.finish(
        &Owners::default(),
        &pool.members,
        &mut Fake { alive: true },
        2,
    );
    assert!(t.processes.is_empty());
}
