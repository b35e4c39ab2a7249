//! `conntrend rtt`: passive round-trip times from packets, live or from a capture file — pping's
//! timestamp RTT and connmon's sequence RTT, holes, reordering and duplicate ACKs — with a per-flow
//! summary at the end. The engine ([`engine`]) is pure and bounded; libpcap ([`capture`]) is
//! loaded at run time and behind the `pcap` cargo feature.

#[cfg(feature = "pcap")]
mod capture;
#[cfg_attr(not(feature = "pcap"), allow(dead_code))]
pub mod connmon;
// Without packet capture nothing feeds the engine; it is still built, so it stays sound.
#[cfg_attr(not(feature = "pcap"), allow(dead_code))]
pub mod engine;
#[cfg(feature = "pcap")]
mod libpcap;
#[cfg_attr(not(feature = "pcap"), allow(dead_code))]
pub mod output;
#[cfg_attr(not(feature = "pcap"), allow(dead_code))]
pub mod packet;

use std::path::PathBuf;

use anyhow::Result;

pub use engine::Limits;
pub use output::Format;

/// Where packets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Live(String),
    /// A pcap or pcapng file; `-` for standard input.
    File(String),
}

/// `conntrend rtt`'s settings.
#[derive(Debug, Clone)]
pub struct RttConfig {
    pub input: Input,
    pub filter: Option<String>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long: wall time live, capture time from a file.
    pub seconds: Option<u64>,
    /// Only lines with an RTT.
    pub quick: bool,
    pub format: Format,
    /// `-l`: keep the RTTs through the local host's applications (live; connmon hides them).
    pub show_local: bool,
    /// `-q`: no summary at the end (nor periodic ones).
    pub quiet: bool,
    /// `--sumInt` / `-v`: connmon's summary line on stderr every this many ns of capture time.
    pub sum_int_ns: Option<i64>,
    /// Replay a file at its recorded pace.
    pub emulate: bool,
    pub limits: Limits,
    pub netns: Option<PathBuf>,
}

#[cfg(not(feature = "pcap"))]
pub fn run(_config: &RttConfig) -> Result<()> {
    Err(crate::app::exit::Stop::Unsupported(
        "this conntrend was built without packet capture (the `pcap` cargo feature): build it \
         with the default features (`cargo build --release`) to use `rtt`"
            .into(),
    )
    .into())
}

#[cfg(feature = "pcap")]
pub fn run(config: &RttConfig) -> Result<()> {
    use std::time::{Duration, Instant};

    use anyhow::Context;

    use crate::app::exit::is_reader_gone;
    use crate::app::session::Session;
    use crate::app::settings::Target;
    use crate::app::signal;
    use crate::app::sink::Sink;
    use capture::{Next, Packets};

    Session::enter(config.netns.as_deref())?;
    let opened = match &config.input {
        Input::Live(iface) => Packets::live(iface, config.filter.as_deref())?,
        Input::File(path) => Packets::file(path, config.filter.as_deref())?,
    };
    // A stop signal while libpcap compiled the filter: nothing was read, nothing is said.
    let Some((mut packets, link)) = opened else {
        return Ok(());
    };
    let live = matches!(config.input, Input::Live(_));
    let Some(mut out) = Sink::open(&Target::Stdout)? else {
        return Ok(());
    };
    let tty = out.is_tty();
    let mut engine = engine::Engine::new(config.limits);
    if let (Input::Live(iface), false) = (&config.input, config.show_local) {
        engine.hide_local(connmon::local_addresses(iface));
    }
    let mut periodic = config.sum_int_ns.map(connmon::Periodic::new);
    let mut clock = connmon::Clock::default();
    let mut said_first = false;
    let mut buf = Vec::with_capacity(64 * 1024);
    output::header(config.format, &mut buf);
    let started = Instant::now();
    let (mut seen, mut first_ns) = (0u64, None::<i64>);
    // -s from a file, in capture nanoseconds (saturating: `-s` is any u64).
    let limit_ns = config.seconds.map(|s| {
        i64::try_from(s)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000)
    });
    // A read error part-way (a truncated file, a writer that died): what was read before it is
    // still written, with the summary, and then the error ends the run.
    let mut failure = None;
    let write = |buf: &mut Vec<u8>, out: &mut crate::app::sink::Sink| -> Result<bool> {
        use std::io::Write as _;
        let r = out
            .write_all(buf)
            .context("cannot write to standard output");
        buf.clear();
        match r {
            Err(e) if is_reader_gone(&e, tty) => Ok(false),
            Err(e) => Err(e),
            Ok(()) => Ok(true),
        }
    };
    loop {
        if signal::requested() || config.count.is_some_and(|c| seen >= c) {
            break;
        }
        if live
            && config
                .seconds
                .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
        let (t, frame) = match packets.next() {
            Err(e) => {
                failure = Some(e);
                break;
            }
            Ok(Next::Packet(t, frame)) => (t, frame),
            Ok(Next::Idle) => {
                if !buf.is_empty() && !write(&mut buf, &mut out)? {
                    return Ok(());
                }
                packets.wait();
                continue;
            }
            Ok(Next::End) => break,
        };
        seen += 1;
        let first = *first_ns.get_or_insert(t);
        // Times are never negative (capture::timestamp_ns): the difference cannot overflow.
        if !live && limit_ns.is_some_and(|limit| t - first >= limit) {
            break;
        }
        if config.emulate && !live {
            let due = Duration::from_nanos((t - first).max(0) as u64);
            pace(
                due,
                || started.elapsed(),
                signal::requested,
                std::thread::sleep,
            );
        }
        let parsed = packet::parse_sized(link, frame);
        if let Some(p) = periodic.as_mut() {
            p.count(parsed.as_ref().map(|(seg, _)| seg.ts.is_some()));
            if parsed.is_some() && !said_first {
                said_first = true;
                to_stderr(connmon::first_packet(t).as_bytes());
            }
        }
        let shown = parsed.and_then(|(seg, wire)| {
            let line = engine.packet_sized(t, &seg, wire)?;
            let shown = if config.format.is_connmon() {
                connmon::prints(&line, config.quick)
            } else {
                !config.quick || line.has_rtt()
            };
            shown.then(|| output::line(config.format, &line, &mut clock, &mut buf))
        });
        if let Some(p) = periodic.as_mut()
            && let Some(summary) = p.tick(t, engine.directions(), engine.one_way_packets)
        {
            to_stderr(summary.as_bytes());
        }
        if shown.is_none() {
            continue;
        }
        if (live || config.emulate || buf.len() >= 32 * 1024) && !write(&mut buf, &mut out)? {
            return Ok(());
        }
    }
    let untracked = engine.untracked_packets;
    let flows = engine.finish();
    let written = if config.quiet {
        write(&mut buf, &mut out)
    } else if config.format.is_connmon() {
        // connmon's stdout has only its lines: the summary goes to stderr.
        let written = write(&mut buf, &mut out);
        output::summary(config.format, &flows, untracked, &mut buf);
        to_stderr(&buf);
        written
    } else {
        output::summary(config.format, &flows, untracked, &mut buf);
        write(&mut buf, &mut out)
    };
    match failure {
        Some(e) => Err(e),
        None => written.map(drop),
    }
}

/// Summaries on stderr; a stderr that cannot be written to loses them, nothing more.
#[cfg(feature = "pcap")]
fn to_stderr(text: &[u8]) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text);
}

/// `-e`: waits until `elapsed()` reaches `due` (the packet's offset in the capture), in sleeps of
/// at most 100 ms so a stop signal (`stopped`) is seen.
#[cfg_attr(not(feature = "pcap"), allow(dead_code))]
fn pace(
    due: std::time::Duration,
    mut elapsed: impl FnMut() -> std::time::Duration,
    stopped: impl Fn() -> bool,
    mut sleep: impl FnMut(std::time::Duration),
) {
    use std::time::Duration;
    // One clock reading per round: the time left cannot go below zero between a check and its
    // use.
    loop {
        let left = due.saturating_sub(elapsed());
        if left.is_zero() || stopped() {
            return;
        }
        sleep(left.min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::pace;

    /// The clock passes `due` between the check and the sleep's computation: the wait ends, it
    /// does not panic ("overflow when subtracting durations").
    #[test]
    fn pacing_when_the_clock_passes_the_due_time_mid_check() {
        let due = Duration::from_millis(500);
        let readings = [
            due - Duration::from_nanos(1),
            due + Duration::from_millis(1),
        ];
        let at = Cell::new(0);
        let mut slept = Vec::new();
        pace(
            due,
            || {
                let r = readings[at.get().min(readings.len() - 1)];
                at.set(at.get() + 1);
                r
            },
            || false,
            |d| slept.push(d),
        );
        assert!(
            slept.iter().all(|d| *d <= Duration::from_nanos(1)),
            "{slept:?}"
        );
        // Before the due time: sleeps of at most 100 ms until it is reached; a stop ends it.
        let now = Cell::new(Duration::ZERO);
        let mut slept = Vec::new();
        pace(
            due,
            || now.get(),
            || false,
            |d| {
                slept.push(d);
                now.set(now.get() + d);
            },
        );
        assert_eq!(slept.len(), 5);
        assert_eq!(now.get(), due);
        let mut slept = Vec::new();
        pace(due, || Duration::ZERO, || true, |d| slept.push(d));
        assert!(slept.is_empty());
    }
}
