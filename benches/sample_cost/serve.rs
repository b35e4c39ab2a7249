//! Issue 12's figures: what one scrape of `conntrend serve` costs against one plain sample, and
//! whether the exporter's memory stays small and flat over many scrapes.
//!
//! (a) Latency, at `--serve-load` (100k) sockets built as `load.rs` builds the loads, in a fresh
//! namespace: two exporters run there (`conntrend serve --listen 127.0.0.1:PORT --min-interval 0`,
//! as shipped with `--dst-top 5`, and the same with `--dst-top 0`), so every scrape is a fresh
//! sample. After a check that a scrape sees the load, the bench alternates `conntrend -c 1 -o
//! /dev/null`, `conntrend -c 1 --dst -o /dev/null` and one `GET /metrics` to each exporter, for
//! at least [`MIN_SCRAPE_RUNS`] rounds after a warm-up. A scrape's wall time runs from connect
//! to the end of the answer (a tiny HTTP/1.1 client below, over loopback in the namespace); its
//! CPU time is the exporter's utime + stime (/proc/PID/stat) across it, its peak RSS the
//! exporter's VmHWM.
//!
//! (b) Memory, at `--serve-rss-load` (1k) ESTABLISHED sockets in another fresh namespace (both
//! ends of 500 loopback connections, held by a holder and a server process: a load that stays the
//! same however long the run takes, where TIME_WAIT would expire after 60 s or, topped up, grow
//! the sample's buffers midway; a small load keeps 10,000 fresh samples to well under a minute):
//! `--serve-scrapes` (10,000) scrapes one after another, the exporter's VmRSS read from
//! /proc/PID/status, and its count of memory mappings from /proc/PID/maps (a new malloc arena or
//! thread stack shows there), after the first scrape and after every [`RSS_EVERY`]-th.
//!
//! The client closes each connection with a reset once the answer has ended (SO_LINGER 0), so
//! scrapes leave no TIME_WAIT socket behind: otherwise each would add one socket (and one
//! destination) to the namespace the next scrape samples.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::load::{Load, Plan};
use crate::measure::{Launcher, Usage};
use crate::report::label;
use crate::{netns, probe};

/// What runs, in the order it alternates.
pub const KINDS: [&str; 4] = [
    "conntrend -c 1",
    "conntrend -c 1 --dst",
    "scrape: serve (--dst-top 5)",
    "scrape: serve --dst-top 0",
];
/// Fewest measured rounds of the latency part, whatever `--runs` says.
pub const MIN_SCRAPE_RUNS: usize = 21;
/// The memory part reads VmRSS after every this many scrapes.
pub const RSS_EVERY: usize = 1000;
/// The two exporters' ports, inside the bench's namespace.
const PORTS: [u16; 2] = [9959, 9960];
/// Connect, send and receive deadline of one scrape; startup deadline of an exporter.
const TIMEOUT: Duration = Duration::from_secs(10);
/// What Prometheus sends (its Accept header asks for OpenMetrics first).
const REQUEST: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sample_cost\r\n\
Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";

/// `conntrend serve` running in the current namespace; stopped (SIGTERM, then SIGKILL after
/// 3 s) and reaped when dropped.
pub struct Exporter {
    child: Child,
    port: u16,
}

impl Exporter {
    /// Starts `conntrend serve --listen 127.0.0.1:PORT --min-interval 0 EXTRA…` and waits until
    /// it answers a scrape; returns it and that first answer's body.
    pub fn start(conntrend: &str, port: u16, extra: &[&str]) -> io::Result<(Exporter, String)> {
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(conntrend)
            .args(["serve", "--listen", &listen, "--min-interval", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        let mut ex = Exporter { child, port };
        let start = Instant::now();
        loop {
            if let Some(status) = ex.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "conntrend serve --listen {listen} ended: {status}"
                )));
            }
            match scrape(port) {
                Ok((_, body)) => return Ok((ex, body)),
                Err(e) if start.elapsed() > TIMEOUT => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("conntrend serve --listen {listen} did not answer: {e}"),
                    ));
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// One field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> io::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .ok_or_else(|| io::Error::other(format!("no {field} in /proc/PID/status")))
    }

    /// How many memory mappings the exporter has (lines of /proc/PID/maps).
    pub fn mappings(&self) -> io::Result<usize> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.child.id()))?;
        Ok(maps.lines().count())
    }

    /// The exporter's CPU time so far, all threads (utime + stime of /proc/PID/stat).
    pub fn cpu(&self) -> io::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name, which is in parentheses: state is field 3, utime 14.
        let after = stat.rsplit_once(')').map_or("", |x| x.1);
        let f: Vec<u64> = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse().ok())
            .collect();
        // SAFETY: sysconf takes no pointers.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        match f[..] {
            [utime, stime] => Ok(Duration::from_nanos((utime + stime) * 1_000_000_000 / hz)),
            _ => Err(io::Error::other(
                "cannot read utime and stime of the exporter",
            )),
        }
    }

    /// One scrape as a measured run: its wall time, the exporter's CPU time across it and its
    /// peak RSS (VmHWM) after it.
    fn measured_scrape(&self) -> io::Result<(Usage, String)> {
        let cpu = self.cpu()?;
        let (wall, body) = scrape(self.port)?;
        let usage = Usage {
            wall,
            cpu: self.cpu()?.saturating_sub(cpu),
            maxrss_kib: self.status_kib("VmHWM")?,
        };
        Ok((usage, body))
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            if start.elapsed() > Duration::from_secs(3) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One `GET /metrics` to 127.0.0.1:`port`: wall time from connect to the end of the answer, and
/// the body. Fails unless the status is 200.
pub fn scrape(port: u16) -> io::Result<(Duration, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    s.write_all(REQUEST)?;
    let mut answer = Vec::with_capacity(16 << 10);
    s.read_to_end(&mut answer)?;
    let wall = start.elapsed();
    // A reset instead of a FIN: no TIME_WAIT left in the sampled namespace.
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
    drop(s);
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200 ") {
        let first = head.lines().next().unwrap_or("");
        return Err(io::Error::other(format!("GET /metrics: {first:?}")));
    }
    Ok((wall, body.to_string()))
}

/// The value of `series` (name and labels, exactly as exposed) in a scrape's body.
pub fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn samples_total(body: &str) -> u64 {
    value(body, "conntrend_samples_total").unwrap_or(-1.0) as u64
}

/// Part (a), measured.
pub struct Latency {
    pub total: usize,
    /// What the floor counted right after the build.
    pub sockets: u64,
    pub build: Duration,
    /// What the check before timing found.
    pub check: String,
    /// One usage per [`KINDS`] entry per measured round.
    pub runs: Vec<[Usage; 4]>,
    /// Scrapes of the first exporter and the samples it says it took, after the last one.
    pub scrapes: u64,
    pub samples: u64,
    pub note: Option<String>,
}

/// Part (b), measured.
pub struct Memory {
    pub total: usize,
    /// What the floor counted right after the build.
    pub sockets: u64,
    pub scrapes: usize,
    /// (scrapes so far, VmRSS KiB, memory mappings), from right after the first scrape.
    pub rss: Vec<(usize, u64, usize)>,
    /// VmHWM after the last scrape.
    pub hwm_kib: u64,
    pub wall: Duration,
    pub median_scrape: Duration,
    pub samples: u64,
}

/// Part (a): builds `total` sockets in a fresh namespace, starts the two exporters, checks a
/// scrape and alternates the four [`KINDS`].
pub fn latency(
    o: &crate::options::Options,
    me: &str,
    (threads, fds): (usize, usize),
    quiet: Duration,
) -> io::Result<Latency> {
    let total = o.serve_load;
    netns::enter_fresh()?;
    crate::settle(quiet)?;
    let load = Load::build(total, 1, threads, me, fds)?;
    let build = load.build_time;
    let sockets = probe::floor()?.sockets;
    let mut launcher = Launcher::start(me)?;
    let (full, body) = Exporter::start(&o.conntrend, PORTS[0], &[])?;
    let (bare, _) = Exporter::start(&o.conntrend, PORTS[1], &["--dst-top", "0"])?;
    let tw = value(&body, "conntrend_tcp_sockets{state=\"time_wait\"}").unwrap_or(0.0);
    let used = value(&body, "conntrend_pool_used_ports").unwrap_or(0.0);
    let dsts = body
        .lines()
        .filter(|l| l.starts_with("conntrend_destination_used_ports{"))
        .count();
    if tw < load.plan.time_wait as f64 * 0.9 {
        return Err(io::Error::other(format!(
            "a scrape saw {tw} TIME_WAIT sockets, the load made {}:\n{body}",
            load.plan.time_wait
        )));
    }
    let check = format!(
        "a scrape at {} answered {} bytes: time_wait {tw}, pool ports used {used}, {dsts} \
         destinations",
        label(total),
        body.len()
    );
    eprintln!(
        "serve {}: built in {:.1} s; {check}",
        label(total),
        build.as_secs_f64()
    );
    let ct = o.conntrend.as_str();
    let mut scrapes = 1;
    let runs = o.runs.max(MIN_SCRAPE_RUNS);
    let (runs, note) = crate::alternate(runs, &load, |k, _| match k {
        0 => Ok(launcher.run(&[ct, "-c", "1", "-o", "/dev/null"], false)?.0),
        1 => Ok(launcher
            .run(&[ct, "-c", "1", "--dst", "-o", "/dev/null"], false)?
            .0),
        2 => {
            scrapes += 1;
            Ok(full.measured_scrape()?.0)
        }
        _ => Ok(bare.measured_scrape()?.0),
    })?;
    let (_, last) = full.measured_scrape()?;
    scrapes += 1;
    for (k, kind) in KINDS.iter().enumerate() {
        crate::print_walls(kind, &runs.iter().map(|r| r[k].wall).collect::<Vec<_>>());
    }
    drop((full, bare, launcher, load));
    Ok(Latency {
        total,
        sockets,
        build,
        check,
        runs,
        scrapes,
        samples: samples_total(&last),
        note,
    })
}

/// Part (b): `--serve-scrapes` scrapes of one exporter at `--serve-rss-load` ESTABLISHED
/// sockets, VmRSS and mappings every [`RSS_EVERY`].
pub fn memory(
    o: &crate::options::Options,
    me: &str,
    (threads, fds): (usize, usize),
    quiet: Duration,
) -> io::Result<Memory> {
    let total = o.serve_rss_load;
    netns::enter_fresh()?;
    crate::settle(quiet)?;
    let load = Load::with_plan(Plan::established(total, fds), threads, me)?;
    let sockets = probe::floor()?.sockets;
    // The scrape that shows it is up is the first of the run.
    let (ex, mut last) = Exporter::start(&o.conntrend, PORTS[0], &[])?;
    let mut rss = vec![(1, ex.status_kib("VmRSS")?, ex.mappings()?)];
    let mut walls = Vec::with_capacity(o.serve_scrapes);
    eprintln!(
        "serve: {} scrapes at {} sockets, VmRSS every {RSS_EVERY}…",
        o.serve_scrapes,
        label(total)
    );
    let start = Instant::now();
    for n in 2..=o.serve_scrapes {
        let (wall, body) = scrape(PORTS[0])?;
        walls.push(wall);
        if n % RSS_EVERY == 0 || n == o.serve_scrapes {
            let (kib, maps) = (ex.status_kib("VmRSS")?, ex.mappings()?);
            rss.push((n, kib, maps));
            eprintln!("  {n} scrapes: VmRSS {kib} kB, {maps} mappings");
        }
        last = body;
    }
    let wall = start.elapsed();
    let hwm_kib = ex.status_kib("VmHWM")?;
    drop((ex, load));
    Ok(Memory {
        total,
        sockets,
        scrapes: o.serve_scrapes,
        rss,
        hwm_kib,
        wall,
        median_scrape: crate::measure::median(&walls),
        samples: samples_total(&last),
    })
}
