//! Issue 10's figures: `conntrend conntrack show` of ~100k tracked entries against `conntrack -L`
//! (conntrack-tools), both to /dev/null, and what `--conntrack` adds to a sample at 100k sockets.
//!
//! Tracking is turned on in the bench's fresh namespace by an nftables rule with a `ct`
//! expression (table `inet tracking`, an output-hook chain, `ct state new accept`). The show
//! entries are UDP flows over loopback that are never answered: four datagrams from each of many
//! 127.40/14 source addresses (kernel-picked ports) to four bound, never-read ports of 127.0.0.2,
//! so each one is an UNREPLIED entry; the namespace's `nf_conntrack_udp_timeout` is raised first so
//! that none expires while measuring. The `--conntrack` rows use the usual socket load (`load.rs`)
//! built with tracking on, so its TIME_WAIT connections are tracked too.
//!
//! The floor (hidden mode `--ct-floor`) is the least a listing can cost: one ctnetlink dump
//! drained through a 32 KiB buffer, counting the messages. Before timing, the text and JSON
//! listings, `conntrack -L` and the floor must all count what `nf_conntrack_count` says.
//!
//! Only this namespace's sysctls are written; `nf_conntrack_max` is global (read-only here) and
//! only checked.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netlink_sys::{Socket, SocketAddr};

use crate::conntrack_report::Runs;
use crate::load::Load;
use crate::measure::{Launcher, Usage};
use crate::options::Options;
use crate::report::label;

/// What the show section alternates.
pub const SHOW_KINDS: [&str; 4] = [
    "conntrend conntrack show",
    "conntrend conntrack show --json",
    "conntrack -L",
    "ctnetlink drain (floor)",
];

/// What the `--conntrack` section alternates.
pub const COLUMN_KINDS: [&str; 2] = ["conntrend -c 1", "conntrend -c 1 --conntrack"];

const DIR: &str = "/proc/sys/net/netfilter";
/// Seconds an unanswered UDP entry lives in the bench namespace (the default is 30).
const UDP_TIMEOUT: &str = "600";
/// The never-read receivers of the UDP flows.
const DST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const DST_PORTS: [u16; 4] = [5000, 5001, 5002, 5003];

const NETLINK_NETFILTER: isize = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET: the request.
const CT_GET: u16 = 1 << 8 | 1;
/// NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW: each entry of the answer.
const CT_NEW: u16 = 1 << 8;

/// Turns tracking on in the current namespace: an nft rule with a `ct` expression.
pub fn track() -> io::Result<()> {
    let rules = "table inet tracking {\n chain out {\n  type filter hook output priority 0;\n  \
                 ct state new accept\n }\n}\n";
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `nft` (nftables): {e}")))?;
    io::Write::write_all(&mut nft.stdin.take().expect("piped"), rules.as_bytes())?;
    let status = nft.wait()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "nft could not add the tracking rule: {status}"
        )));
    }
    Ok(())
}

/// `nf_conntrack_NAME` of the current namespace.
pub fn netfilter(name: &str) -> io::Result<u64> {
    let path = format!("{DIR}/nf_conntrack_{name}");
    std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?
        .trim()
        .parse()
        .map_err(|_| io::Error::other(format!("{path}: not a number")))
}

/// Makes `entries` unanswered UDP flows (one conntrack entry each); returns how long it took.
/// Fails when the global `nf_conntrack_max` leaves no room for them.
pub fn udp_entries(entries: usize) -> io::Result<Duration> {
    let start = Instant::now();
    let (max, count) = (netfilter("max")?, netfilter("count")?);
    if max < entries as u64 + count {
        return Err(io::Error::other(format!(
            "nf_conntrack_max is {max} (global, read-only in a namespace): no room for {entries} \
             entries beside the {count} there"
        )));
    }
    let path = format!("{DIR}/nf_conntrack_udp_timeout");
    std::fs::write(&path, UDP_TIMEOUT)
        .map_err(|e| io::Error::new(e.kind(), format!("write {UDP_TIMEOUT} to {path}: {e}")))?;
    let receivers = DST_PORTS
        .iter()
        .map(|&p| UdpSocket::bind(SocketAddrV4::new(DST, p)))
        .collect::<io::Result<Vec<_>>>()?;
    for source in 0..entries.div_ceil(DST_PORTS.len()) {
        // 127.40.0.0/14: 262,144 addresses, one socket each.
        let [_, a, b, c] = (source as u32).to_be_bytes();
        let src = Ipv4Addr::new(127, 40 + (a & 3), b, c);
        let socket = UdpSocket::bind(SocketAddrV4::new(src, 0))?;
        let first = source * DST_PORTS.len();
        for &port in &DST_PORTS[..DST_PORTS.len().min(entries - first)] {
            socket.send_to(b"ct", SocketAddrV4::new(DST, port))?;
        }
    }
    drop(receivers);
    Ok(start.elapsed())
}

/// Empties the namespace's table (`conntrack -F`) before the bench leaves it, so that the
/// kernel's cleanup of ~100k entries does not run during the next section.
fn flush() -> io::Result<()> {
    output(&["conntrack", "-F"]).map(drop)
}

/// Hidden mode `--ct-floor`: one ctnetlink dump of every entry drained through a 32 KiB buffer,
/// counting messages and reading nothing else. Prints `entries=N`.
pub fn floor() -> io::Result<u64> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    // nlmsghdr (flags REQUEST | DUMP, seq 1) and nfgenmsg (AF_UNSPEC, version 0, res_id 0).
    let mut request = [0u8; 20];
    request[0..4].copy_from_slice(&20u32.to_ne_bytes());
    request[4..6].copy_from_slice(&CT_GET.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    request[6..8].copy_from_slice(&flags.to_ne_bytes());
    request[8..12].copy_from_slice(&1u32.to_ne_bytes());
    socket.send(&request, 0)?;
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut entries = 0;
    loop {
        buf.clear();
        let n = socket.recv(&mut buf, 0)?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            match u16::from_ne_bytes([buf[off + 4], buf[off + 5]]) {
                CT_NEW => entries += 1,
                NLMSG_DONE => return Ok(entries),
                NLMSG_ERROR => {
                    let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap());
                    return Err(io::Error::from_raw_os_error(-code));
                }
                _ => {}
            }
            off += (len.max(16) + 3) & !3;
        }
    }
}

/// The check before timing: every lister sees the same number of entries as the kernel counts.
/// Returns one line saying so; fails otherwise.
pub fn check_show(conntrend: &str, me: &str) -> io::Result<String> {
    let count = netfilter("count")?;
    // The text listing has a header line.
    let text = output(&[conntrend, "conntrack", "show"])?
        .lines()
        .count()
        .saturating_sub(1);
    let json = output(&[conntrend, "conntrack", "show", "--json"])?;
    let json = json.lines().count();
    let tools = output(&["conntrack", "-L"])?.lines().count();
    let floor: usize = output(&[me, "--ct-floor"])?
        .trim()
        .strip_prefix("entries=")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let line = format!(
        "nf_conntrack_count {count}; conntrend conntrack show {text} rows, --json {json} lines; \
         conntrack -L {tools} lines; the floor drained {floor} entries"
    );
    if [text, json, floor].iter().any(|&n| n != tools) || tools as u64 != count {
        return Err(io::Error::other(format!("the listings disagree: {line}")));
    }
    Ok(line)
}

/// What `argv` prints on stdout (read while it runs: megabytes, more than a pipe holds); its
/// stderr is dropped. Fails unless it exits 0.
fn output(argv: &[&str]) -> io::Result<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", argv[0])))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} failed: {}",
            argv.join(" "),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One run of show kind `k`, output discarded.
pub fn sample_show(l: &mut Launcher, conntrend: &str, me: &str, k: usize) -> io::Result<Usage> {
    let argv: &[&str] = match k {
        0 => &[conntrend, "conntrack", "show"],
        1 => &[conntrend, "conntrack", "show", "--json"],
        2 => &["conntrack", "-L"],
        _ => &[me, "--ct-floor"],
    };
    Ok(l.run(argv, false)?.0)
}

/// The check before timing the columns: `--conntrack` fills them, and the table holds about as
/// many entries as the load has connections. Returns the sample's ct fields.
pub fn check_columns(conntrend: &str) -> io::Result<String> {
    let csv = output(&[conntrend, "-c", "1", "--conntrack"])?;
    let header = csv
        .lines()
        .find_map(|l| l.strip_prefix("# columns: "))
        .unwrap_or("");
    let row = csv.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    let fields: Vec<(&str, &str)> = header.split(',').zip(row.split(',')).collect();
    let get = |name: &str| fields.iter().find(|f| f.0 == name).map_or("", |f| f.1);
    let used: u64 = get("ct_used").parse().unwrap_or(0);
    if used == 0 || get("ct_max").is_empty() {
        return Err(io::Error::other(format!(
            "`conntrend -c 1 --conntrack` has no conntrack columns:\n{csv}"
        )));
    }
    Ok(format!(
        "ct_used={used} ct_max={} ct_drops={} (the same sample: used={} time_wait={} estab={})",
        get("ct_max"),
        get("ct_drops"),
        get("used"),
        get("time_wait"),
        get("estab")
    ))
}

/// What `--conntrack` adds to a sample, measured in this process with conntrend's own reader:
/// opening the three files (`nf_conntrack_count`, `nf_conntrack_max`,
/// `/proc/net/stat/nf_conntrack`) and reading them once, the mean of 1000.
pub fn reads_cost() -> io::Result<Duration> {
    const N: u32 = 1000;
    let start = Instant::now();
    for _ in 0..N {
        let mut reader = conntrend::api::UsageReader::open()?;
        std::hint::black_box(reader.read()?);
    }
    Ok(start.elapsed() / N)
}

/// One run of column kind `k`, output discarded.
pub fn sample_columns(l: &mut Launcher, conntrend: &str, k: usize) -> io::Result<Usage> {
    let argv: &[&str] = match k {
        0 => &[conntrend, "-c", "1", "-o", "/dev/null"],
        _ => &[conntrend, "-c", "1", "--conntrack", "-o", "/dev/null"],
    };
    Ok(l.run(argv, false)?.0)
}

/// `conntrend conntrack show`, `--json`, `conntrack -L` and the ctnetlink floor alternately on
/// `--ct-entries` UDP entries in a fresh namespace with tracking on.
pub fn measure_show(o: &Options, me: &str, quiet: Duration) -> io::Result<Runs<4>> {
    crate::netns::enter_fresh()?;
    crate::settle(quiet)?;
    track()?;
    let build = udp_entries(o.ct_entries)?;
    let check = check_show(&o.conntrend, me)?;
    eprintln!(
        "conntrack {}: built in {:.1} s; {check}",
        label(o.ct_entries),
        build.as_secs_f64()
    );
    let mut launcher = Launcher::start(me)?;
    // UDP entries do not expire while measuring (the namespace's timeout was raised): no budget.
    let mut runs = Vec::new();
    for round in 0..=o.runs {
        let mut usages = [Usage::default(); 4];
        for (k, slot) in usages.iter_mut().enumerate() {
            *slot = sample_show(&mut launcher, &o.conntrend, me, k)?;
        }
        if round > 0 {
            runs.push(usages);
        }
    }
    let r = Runs {
        total: o.ct_entries,
        build,
        runs,
        check,
        after: format!("nf_conntrack_count after the runs: {}", netfilter("count")?),
        note: None,
        reads: None,
    };
    flush()?;
    for (k, kind) in SHOW_KINDS.iter().enumerate() {
        crate::print_walls(kind, &r.walls(k));
    }
    Ok(r)
}

/// `conntrend -c 1` with and without `--conntrack` alternately on the usual load of `--ct-load`
/// sockets, built in a fresh namespace with tracking on.
pub fn measure_columns(
    o: &Options,
    me: &str,
    threads: usize,
    fds: usize,
    quiet: Duration,
) -> io::Result<Runs<2>> {
    crate::netns::enter_fresh()?;
    crate::settle(quiet)?;
    track()?;
    let load = Load::build(o.ct_load, 1, threads, me, fds)?;
    let reads = reads_cost()?;
    let check = check_columns(&o.conntrend)?;
    eprintln!(
        "--conntrack at {}: built in {:.1} s; {check}; its reads in process: {:.1} µs",
        label(o.ct_load),
        load.build_time.as_secs_f64(),
        reads.as_secs_f64() * 1e6
    );
    let mut launcher = Launcher::start(me)?;
    let (runs, note) = crate::alternate(o.runs, &load, |k, _| {
        sample_columns(&mut launcher, &o.conntrend, k)
    })?;
    let r = Runs {
        total: o.ct_load,
        build: load.build_time,
        runs,
        check,
        after: format!("nf_conntrack_count after the runs: {}", netfilter("count")?),
        note,
        reads: Some(reads),
    };
    flush()?;
    for (k, kind) in COLUMN_KINDS.iter().enumerate() {
        crate::print_walls(kind, &r.walls(k));
    }
    Ok(r)
}
