//! Issue 9's figures: `conntrend conns` against `ss`, whose free-form text it replaces.
//!
//! Two loads, each in a fresh namespace. (a) `--conns-estab` (100k) ESTABLISHED sockets: both
//! ends of `total / 2` loopback connections, held by holder and server processes
//! (`holders.rs`); `conntrend conns -o laddr,lport,raddr,rport,state,rtt,cwnd,retranssegs` and
//! `ss -tin` print every socket with its tcp_info. (b) `--conns-million` (1M) sockets built the
//! way `load.rs` builds its loads (~94% TIME_WAIT), plus exactly 100 ESTABLISHED clients of a
//! port no other socket has as its remote port; `conntrend conns -F rport=PORT` and `ss -tn
//! 'dport = :PORT'` hand the kernel a filter. `ss -tn` leaves out TIME_WAIT, SYN_RECV, LISTEN
//! and CLOSE sockets, so the kernel skips the TIME_WAIT sockets (94% of this load) before it runs
//! the filter; two more rows compare like with like: `ss -tan 'dport = :PORT'` (TIME_WAIT
//! included, as `conntrend conns` asks) and `conntrend conns -e -F rport=PORT` (ESTABLISHED
//! only), and two show where conntrend's time goes (`-F state=time_wait,…`, `-F state=bound,…`).
//! The outputs are checked first (row counts, the tcp_info fields present, the matching port),
//! then the commands alternate like the other sections, stdout to /dev/null. Builds and
//! measures; the tables are in `conns_report.rs`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use socket2::Socket;

use crate::holders;
use crate::load::{Load, Plan};
use crate::measure::{Launcher, Usage};
use crate::{netns, probe};

/// The fields of measurement (a): the address columns, the state and three from tcp_info.
pub const FIELDS: &str = "laddr,lport,raddr,rport,state,rtt,cwnd,retranssegs";
/// The remote port of the matching connections in (b): below the ephemeral range and unused by
/// the loads' listeners (80, 443, 993 and 600..=991), so only those clients have it as `rport`.
pub const PORT: u16 = 1000;
/// How many connections match in (b).
pub const MATCHING: usize = 100;

/// The two measurements.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Case {
    /// (a): every socket with tcp_info, at `--conns-estab` ESTABLISHED sockets.
    Estab,
    /// (b): a narrow kernel-side filter at `--conns-million` sockets.
    Filter,
}

/// One measured command: how the table names it and what runs.
pub struct Cmd {
    pub name: String,
    /// For the per-run lines on stderr.
    short: &'static str,
    argv: Vec<String>,
    /// (b): the rows it must print.
    rows: usize,
}

impl Cmd {
    fn new(short: &'static str, name: impl Into<String>, argv: &[&str]) -> Cmd {
        Cmd {
            short,
            name: name.into(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            rows: MATCHING,
        }
    }

    fn expecting(self, rows: usize) -> Cmd {
        Cmd { rows, ..self }
    }

    pub fn is_ss(&self) -> bool {
        self.argv[0] == "ss"
    }

    fn argv(&self) -> Vec<&str> {
        self.argv.iter().map(String::as_str).collect()
    }
}

impl Case {
    /// The commands in the order they alternate: conntrend's and the ss command first;
    /// then, for the filter, the like-with-like pair and two state masks that show where
    /// conntrend's time goes (TIME_WAIT only: the filter run on every TIME_WAIT socket; bound
    /// only: the walk of the kernel's bind hash that asking for BOUND_INACTIVE costs).
    pub fn commands(self, conntrend: &str) -> Vec<Cmd> {
        let ct = conntrend;
        match self {
            Case::Estab => vec![
                Cmd::new(
                    "conntrend",
                    format!("conntrend conns -o {FIELDS}"),
                    &[ct, "conns", "-o", FIELDS],
                ),
                Cmd::new("ss -tin", "ss -tin", &["ss", "-tin"]),
            ],
            Case::Filter => {
                let (rport, dport) = (format!("rport={PORT}"), format!("dport = :{PORT}"));
                vec![
                    Cmd::new(
                        "conntrend",
                        format!("conntrend conns -F {rport}"),
                        &[ct, "conns", "-F", &rport],
                    ),
                    Cmd::new(
                        "ss -tn",
                        format!("ss -tn '{dport}'"),
                        &["ss", "-tn", &dport],
                    ),
                    Cmd::new(
                        "ss -tan",
                        format!("ss -tan '{dport}'"),
                        &["ss", "-tan", &dport],
                    ),
                    Cmd::new(
                        "ct -e",
                        format!("conntrend conns -e -F {rport}"),
                        &[ct, "conns", "-e", "-F", &rport],
                    ),
                    Cmd::new(
                        "ct tw",
                        format!("conntrend conns -F state=time_wait,{rport}"),
                        &[ct, "conns", "-F", &format!("state=time_wait,{rport}")],
                    )
                    .expecting(0),
                    Cmd::new(
                        "ct bound",
                        format!("conntrend conns -F state=bound,{rport}"),
                        &[ct, "conns", "-F", &format!("state=bound,{rport}")],
                    )
                    .expecting(0),
                ]
            }
        }
    }

    /// The bound on conntrend's wall time over ss's.
    pub fn target(self) -> f64 {
        match self {
            Case::Estab => 0.5,
            Case::Filter => 0.7,
        }
    }

    /// The load as the tables name it.
    pub fn load(self, total: usize) -> String {
        match self {
            Case::Estab => format!("{} ESTABLISHED", label(total)),
            Case::Filter => format!("{}, {MATCHING} matching", label(total)),
        }
    }
}

/// 1000000 → "1M", 100000 → "100k".
pub fn label(total: usize) -> String {
    if total >= 1_000_000 && total.is_multiple_of(1_000_000) {
        format!("{}M", total / 1_000_000)
    } else {
        crate::report::label(total)
    }
}

/// The measured runs of one case.
pub struct Conns {
    pub case: Case,
    pub total: usize,
    /// What the floor counted right after the build (every socket, TCP and UDP).
    pub sockets: u64,
    pub build: Duration,
    /// What the check before timing found.
    pub check: String,
    /// What ran, in [`Case::commands`] order, and one usage of each per measured round.
    pub commands: Vec<Cmd>,
    pub runs: Vec<Vec<Usage>>,
    pub note: Option<String>,
}

/// Builds the load of `case` at `total` sockets in a fresh namespace, checks the commands'
/// output and alternates them for `runs` rounds after a warm-up.
pub fn measure(
    case: Case,
    total: usize,
    runs: usize,
    conntrend: &str,
    me: &str,
    (threads, fds): (usize, usize),
    quiet: Duration,
) -> io::Result<Conns> {
    netns::enter_fresh()?;
    crate::settle(quiet)?;
    let (load, matching) = match case {
        Case::Estab => (
            Load::with_plan(Plan::established(total, fds), threads, me)?,
            Vec::new(),
        ),
        Case::Filter => {
            let matching = matching()?;
            (Load::build(total, 1, threads, me, fds)?, matching)
        }
    };
    let seen = probe::floor()?;
    let name = case.load(total);
    eprintln!(
        "conns {name}: built in {:.1} s ({:?}); {}",
        load.build_time.as_secs_f64(),
        load.plan,
        seen.line()
    );
    let check = match case {
        Case::Estab => check_estab(conntrend, seen.states[1])?,
        Case::Filter => check_filter(conntrend)?,
    };
    eprintln!("conns {name}: {check}");
    let commands = case.commands(conntrend);
    let mut launcher = Launcher::start(me)?;
    let (rounds, note) = match commands.len() {
        2 => rounds::<2>(runs, &load, &mut launcher, &commands)?,
        6 => rounds::<6>(runs, &load, &mut launcher, &commands)?,
        n => unreachable!("{n} commands"),
    };
    for (k, c) in commands.iter().enumerate() {
        crate::print_walls(
            c.short,
            &rounds.iter().map(|r| r[k].wall).collect::<Vec<_>>(),
        );
    }
    let out = Conns {
        case,
        total,
        sockets: seen.sockets,
        build: load.build_time,
        check,
        commands,
        runs: rounds,
        note,
    };
    drop(launcher);
    drop(load);
    drop(matching);
    Ok(out)
}

/// One warm-up round and `runs` measured rounds of the `N` commands in turn.
fn rounds<const N: usize>(
    runs: usize,
    load: &Load,
    launcher: &mut Launcher,
    commands: &[Cmd],
) -> io::Result<(Vec<Vec<Usage>>, Option<String>)> {
    assert_eq!(commands.len(), N);
    let (rounds, note) = crate::alternate::<N>(runs, load, |k, _| {
        Ok(launcher.run(&commands[k].argv(), false)?.0)
    })?;
    Ok((rounds.into_iter().map(Vec::from).collect(), note))
}

/// `MATCHING` connections from 127.0.0.1 to 127.0.0.1:`PORT`, both ends (and the listener)
/// kept by this process until dropped.
fn matching() -> io::Result<Vec<Socket>> {
    let dst = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), PORT);
    let listener = holders::listener(dst)?;
    let mut held = Vec::with_capacity(2 * MATCHING + 1);
    for _ in 0..MATCHING {
        held.push(holders::connect_from(Ipv4Addr::LOCALHOST.into(), dst)?);
    }
    // The handshakes are complete (the backlog holds them all): accept the server ends.
    for _ in 0..MATCHING {
        held.push(listener.accept()?.0);
    }
    held.push(listener);
    Ok(held)
}

/// Runs `argv` in this namespace and returns its stdout; fails unless it exits 0.
fn output(argv: &[&str]) -> io::Result<String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", argv[0])))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{}` failed: {}",
            argv.join(" "),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// (a): conntrend prints a header and one row per socket, an ESTABLISHED row for each of the
/// `estab` the floor saw, each with rtt, cwnd and retranssegs (checked through `-P`); ss -tin
/// shows as many ESTABLISHED sockets (and, without -a, not the listeners).
fn check_estab(conntrend: &str, estab: u64) -> io::Result<String> {
    let fail = |what: String| Err(io::Error::other(what));
    let text = output(&[conntrend, "conns", "-o", FIELDS])?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let want: Vec<String> = FIELDS.split(',').map(str::to_uppercase).collect();
    if header.split_whitespace().collect::<Vec<_>>() != want {
        return fail(format!("conntrend conns header {header:?}, not {want:?}"));
    }
    let rows: Vec<&str> = lines.collect();
    let text_estab = rows.iter().filter(|r| r.contains(" ESTABLISHED ")).count() as u64;

    let parsable = output(&[conntrend, "conns", "-P", "-o", FIELDS])?;
    let fields: Vec<Vec<&str>> = parsable.lines().map(|l| l.split(',').collect()).collect();
    let estab_rows: Vec<&Vec<&str>> = fields
        .iter()
        .filter(|f| f.get(4) == Some(&"ESTABLISHED"))
        .collect();
    let full = estab_rows
        .iter()
        .filter(|f| f.len() == 8 && f[5..].iter().all(|v| v.parse::<u64>().is_ok()))
        .count();

    let ss = output(&["ss", "-tin"])?;
    // One line per socket (the header first), its tcp_info on the indented line after it.
    let ss_rows: Vec<&str> = ss
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(char::is_whitespace))
        .collect();
    let ss_estab = ss_rows.iter().filter(|l| l.starts_with("ESTAB")).count() as u64;

    if text_estab != estab || estab_rows.len() as u64 != estab || full as u64 != estab {
        return fail(format!(
            "the floor saw {estab} ESTABLISHED sockets; conntrend conns printed {text_estab} \
             ESTABLISHED rows ({} with -P, {full} of them with rtt, cwnd and retranssegs)",
            estab_rows.len()
        ));
    }
    // ss leaves out the listeners without -a; conntrend prints every socket.
    if ss_estab != estab {
        return fail(format!(
            "the floor saw {estab} ESTABLISHED sockets, ss -tin printed {} sockets ({ss_estab} \
             ESTAB)",
            ss_rows.len()
        ));
    }
    Ok(format!(
        "`conntrend conns -o {FIELDS}` printed {} rows, {estab} of them ESTABLISHED (with -P: \
         all {estab} with rtt, cwnd and retranssegs); `ss -tin` printed {} sockets ({ss_estab} \
         ESTAB)",
        rows.len(),
        ss_rows.len()
    ))
}

/// (b): every command prints a header and exactly its rows (`MATCHING`, or none for the state
/// masks without them), each with remote port `PORT`.
fn check_filter(conntrend: &str) -> io::Result<String> {
    let commands = Case::Filter.commands(conntrend);
    for c in &commands {
        // conntrend's rows: LADDR LPORT RADDR RPORT STATE; ss's: State Recv-Q Send-Q Local Peer.
        let (column, header) = if c.is_ss() {
            (4, "State")
        } else {
            (3, "LADDR")
        };
        let text = output(&c.argv())?;
        let lines: Vec<&str> = text.lines().collect();
        let matches = |l: &&str| {
            let f = l.split_whitespace().nth(column).unwrap_or("");
            f == PORT.to_string() || f.ends_with(&format!(":{PORT}"))
        };
        let ok = lines.len() == c.rows + 1
            && lines[0].starts_with(header)
            && lines[1..].iter().all(matches);
        if !ok {
            let shown: Vec<&str> = lines.iter().take(5).copied().collect();
            return Err(io::Error::other(format!(
                "`{}` printed {} lines, not a header and {} rows with remote port {PORT} (first \
                 lines: {shown:?})",
                c.name,
                lines.len(),
                c.rows
            )));
        }
    }
    let names = |rows: usize| {
        let n: Vec<String> = commands
            .iter()
            .filter(|c| c.rows == rows)
            .map(|c| format!("`{}`", c.name))
            .collect();
        n.join(", ")
    };
    Ok(format!(
        "{} each printed a header and {MATCHING} rows, every one with remote port {PORT}; {} \
         printed the header only",
        names(MATCHING),
        names(0)
    ))
}
