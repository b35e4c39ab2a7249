//! `conntrend rtt`: passive round-trip times from packets, live or from a capture file — pping's
//! timestamp RTT and connmon's sequence RTT, holes, reordering and duplicate ACKs — with a per-flow
//! summary at the end. The engine ([`engine`]) is pure and bounded; libpcap ([`capture`]) is
//! loaded at run time and behind the `pcap` cargo feature.

#[cfg(feature = "pcap")]
mod capture;
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
    let (mut packets, link) = match &config.input {
        Input::Live(iface) => Packets::live(iface, config.filter.as_deref())?,
        Input::File(path) => Packets::file(path, config.filter.as_deref())?,
    };
    let live = matches!(config.input, Input::Live(_));
    let Some(mut out) = Sink::open(&Target::Stdout)? else {
        return Ok(());
    };
    let tty = out.is_tty();
    let mut engine = engine::Engine::new(config.limits);
    let mut buf = Vec::with_capacity(64 * 1024);
    output::header(config.format, &mut buf);
    let started = Instant::now();
    let (mut seen, mut first_ns) = (0u64, None::<i64>);
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
        let (t, frame) = match packets.next()? {
            Next::Packet(t, frame) => (t, frame),
            Next::Idle => {
                if !buf.is_empty() && !write(&mut buf, &mut out)? {
                    return Ok(());
                }
                packets.wait();
                continue;
            }
            Next::End => break,
        };
        seen += 1;
        let first = *first_ns.get_or_insert(t);
        if !live
            && config
                .seconds
                .is_some_and(|s| t - first >= s as i64 * 1_000_000_000)
        {
            break;
        }
        if config.emulate && !live {
            let due = Duration::from_nanos((t - first).max(0) as u64);
            while started.elapsed() < due && !signal::requested() {
                std::thread::sleep((due - started.elapsed()).min(Duration::from_millis(100)));
            }
        }
        let Some(seg) = packet::parse(link, frame) else {
            continue;
        };
        let Some(line) = engine.packet(t, &seg) else {
            continue;
        };
        if config.quick && !line.has_rtt() {
            continue;
        }
        output::line(config.format, &line, &mut buf);
        if (live || config.emulate || buf.len() >= 32 * 1024) && !write(&mut buf, &mut out)? {
            return Ok(());
        }
    }
    let untracked = engine.untracked_packets;
    let flows = engine.finish();
    output::summary(config.format, &flows, untracked, &mut buf);
    write(&mut buf, &mut out)?;
    Ok(())
}
