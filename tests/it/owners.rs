//! Owners with memory, on real sockets: a client seen holding connections is named as the last
//! known owner of the TIME_WAIT sockets it leaves after it closed them and exited; a process moved
//! into a fresh cgroup is named by that cgroup, also when top cannot see it (another pid
//! namespace).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::netns::{NetNs, Pool, park_netns, with_netns};
use crate::util::conntrend;

/// A client that opens N connections to 127.0.0.1:PORT, says `ready`, waits for a line on stdin,
/// closes them (first: its side goes FIN_WAIT/TIME_WAIT, with no owner), says `closed` and exits.
const CLIENT: &str = "import socket, sys\n\
n, port = int(sys.argv[1]), int(sys.argv[2])\n\
socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(n)]\n\
print('ready', flush=True)\n\
sys.stdin.readline()\n\
for s in socks: s.close()\n\
print('closed', flush=True)\n";

fn client(n: usize, port: u16, cgroup: Option<&str>) -> Command {
    let mut c = Command::new("sh");
    // Into the cgroup first, so the sockets are made there.
    let enter = cgroup.map_or(String::new(), |d| {
        format!("echo $$ > '{d}/cgroup.procs' && ")
    });
    c.args([
        "-c",
        &format!("{enter}exec python3 -c \"$0\" {n} {port}"),
        CLIENT,
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    c
}

/// A listener on 127.0.0.1:`port` and [`client`] connected to it `n` times: the client, what it
/// says, and the server's ends.
fn connected(
    ns: &NetNs,
    n: usize,
    port: u16,
    cgroup: Option<&str>,
) -> (Child, BufReader<ChildStdout>, Vec<TcpStream>) {
    let server = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut c = ns.spawn(&mut client(n, port, cgroup));
    let mut said = BufReader::new(c.stdout.take().unwrap());
    assert_eq!(line(&mut said), "ready\n");
    let accepted = (0..n).map(|_| server.accept().unwrap().0).collect();
    (c, said, accepted)
}

fn line(from: &mut impl BufRead) -> String {
    let mut l = String::new();
    from.read_line(&mut l).unwrap();
    l
}

fn row(report: &Value, pid: u32) -> Option<&Value> {
    report["processes"]
        .as_array()?
        .iter()
        .find(|p| p["pid"] == pid)
}

#[test]
fn a_client_that_closed_and_exited_is_the_last_known_owner_of_its_time_wait() {
    with_netns(|ns| {
        Pool::new(40000, 40099, "").apply(ns);
        let (mut client, mut said, accepted) = connected(ns, 5, 5000, None);
        let pid = client.id();

        let mut top = conntrend();
        top.args(["top", "-i", "1", "--json"])
            .stdout(Stdio::piped());
        let mut top = ns.spawn(&mut top);
        let mut reports = BufReader::new(top.stdout.take().unwrap());
        let first: Value = serde_json::from_str(&line(&mut reports)).unwrap();
        let c = row(&first, pid).unwrap_or_else(|| panic!("{first}"));
        assert_eq!(
            (c["tcp_ports"].as_u64(), c["last_known_ports"].as_u64()),
            (Some(5), Some(0))
        );
        // The command line tells two python3 processes apart (newlines of the script as spaces).
        let cmdline = c["cmdline"].as_str().unwrap();
        assert!(
            cmdline.contains("python3 -c import socket, sys n, port"),
            "{c}"
        );
        assert!(cmdline.ends_with(" 5 5000"), "{c}");

        // The client closes first and exits; the server side closes too: TIME_WAIT on the
        // client's five pool ports, which no process owns.
        writeln!(client.stdin.as_ref().unwrap()).unwrap();
        assert_eq!(line(&mut said), "closed\n");
        client.wait().unwrap();
        drop(accepted);
        let mut last = None;
        for _ in 0..10 {
            let r: Value = serde_json::from_str(&line(&mut reports)).unwrap();
            if row(&r, pid).is_some_and(|c| c["exited"] == true) {
                last = Some(r);
                break;
            }
        }
        let _ = top.kill();
        let _ = top.wait();
        let r = last.expect("a report with the exited client");
        let c = row(&r, pid).unwrap();
        assert_eq!(
            (
                c["tcp_ports"].as_u64(),
                c["last_known_ports"].as_u64(),
                c["udp_ports"].as_u64()
            ),
            (Some(0), Some(5), Some(0)),
            "{r}"
        );
        assert_eq!(r["states"]["time_wait"], 5, "{r}");
        assert!(
            r["processes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["comm"] != "(kernel)"),
            "every ownerless socket is attributed: {r}"
        );
        let d = &r["destinations"][0];
        assert_eq!(d["dst"], "127.0.0.1:5000");
        assert_eq!(
            (d["ownerless"].as_u64(), d["unattributed"].as_u64()),
            (Some(5), Some(0))
        );
        assert_eq!(d["last_known"][0]["pid"], pid);
        assert_eq!(d["last_known"][0]["sockets"], 5);
        assert_eq!(d["likely"], serde_json::json!([]), "nothing left to guess");

        // A one-shot report has no memory: the same sockets are unattributed, and the client,
        // gone, is not named at all.
        let mut once = conntrend();
        once.args(["top", "--json"]);
        let run = ns.run(once);
        let r: Value = serde_json::from_str(run.stdout().trim()).unwrap();
        assert!(row(&r, pid).is_none(), "{r}");
        assert_eq!(r["destinations"][0]["unattributed"], 5, "{r}");
    });
}

/// The cgroup2 mount (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host).
fn cgroup2() -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split_whitespace().nth(4).unwrap().to_string())
        })
        .expect("a cgroup2 mount: the test moves a process into a fresh cgroup")
}

struct Cgroup(String);

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_process_in_a_fresh_cgroup_is_named_by_it_even_from_another_pid_namespace() {
    let name = format!("conntrend-it-{}", std::process::id());
    let dir = Cgroup(format!("{}/{name}", cgroup2()));
    std::fs::create_dir(&dir.0).unwrap();
    let cg_path = dir.0.clone();
    let parked = park_netns(move |ns, park: &mut dyn FnMut(u32)| {
        Pool::new(40000, 40099, "").apply(ns);
        let (mut client, _said, _accepted) = connected(ns, 3, 5001, Some(&cg_path));
        park(client.id());
        let _ = client.kill();
        let _ = client.wait();
    });
    let pid = parked.info;
    let mut top = conntrend();
    top.args(["top", "--json", "--netns", &parked.path]);
    let run = crate::util::run(top);
    run.expect_code(0);
    let r: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let c = row(&r, pid).unwrap_or_else(|| panic!("{r}"));
    assert_eq!(c["cgroup"], format!("/{name}"), "{c}");
    assert_eq!(c["tcp_ports"], 3);

    // From a pid namespace of its own, top cannot see the client: its sockets are grouped, and
    // the group is named by the sockets' cgroup.
    let r = crate::top::top_from_own_pid_namespace(&parked.path);
    let groups: Vec<&Value> = r["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["comm"] == "(other pid namespace)")
        .collect();
    let ours = groups
        .iter()
        .find(|g| g["cgroup"] == format!("/{name}"))
        .unwrap_or_else(|| panic!("{groups:?}"));
    assert_eq!(ours["tcp_ports"], 3, "{ours}");
    drop(parked);
}

#[test]
fn the_timeline_names_the_owner_and_keeps_it_for_the_time_wait_it_leaves() {
    with_netns(|ns| {
        Pool::new(40000, 40099, "").apply(ns);
        let (mut client, mut said, accepted) = connected(ns, 4, 5002, None);
        let pid = client.id();

        let mut run = conntrend();
        run.args(["-i", "1", "-d", "0", "--owners", "--format", "json"])
            .stdout(Stdio::piped());
        let mut run = ns.spawn(&mut run);
        let mut rows = BufReader::new(run.stdout.take().unwrap());
        let mut next_row = || loop {
            let v: Value = serde_json::from_str(&line(&mut rows)).unwrap();
            if v.get("epoch_ms").is_some() {
                return v;
            }
        };
        let first = next_row();
        let who = format!("python3[{pid}]");
        assert_eq!(first["owner"], who.as_str(), "{first}");
        assert_eq!(
            (
                first["owner_ports"].as_u64(),
                first["owner_last_known"].as_u64()
            ),
            (Some(4), Some(0))
        );
        assert_eq!(first["unattributed_ports"], 0);

        writeln!(client.stdin.as_ref().unwrap()).unwrap();
        assert_eq!(line(&mut said), "closed\n");
        client.wait().unwrap();
        drop(accepted);
        let mut after = None;
        for _ in 0..10 {
            let r = next_row();
            if r["owner_last_known"] == 4 {
                after = Some(r);
                break;
            }
        }
        let _ = run.kill();
        let _ = run.wait();
        let r = after.expect("a row with the client's four ports last known");
        assert_eq!(r["owner"], who.as_str(), "{r}");
        assert_eq!(
            (r["owner_ports"].as_u64(), r["unattributed_ports"].as_u64()),
            (Some(4), Some(0)),
            "{r}"
        );
        assert_eq!(r["likely"], Value::Null, "nothing unattributed: {r}");
    });
}

#[test]
fn owners_need_live_sockets() {
    let mut c = conntrend();
    c.args(["-c", "1", "--owners", "--proc-root", "/proc"]);
    let run = crate::util::run(c);
    run.expect_code(2);
    assert!(run.stderr().contains("--owners"), "{}", run.describe());
}
