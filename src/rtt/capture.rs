//! Packets from libpcap: a live interface (the filter compiled to BPF and run in the kernel) or a
//! pcap/pcapng file (`-` for standard input), with nanosecond timestamps. Only built with the
//! `pcap` feature (the default).

use anyhow::{Context, Result};
use pcap::{Active, Capture, Error, Offline, Precision};

use super::packet::Link;

/// Where packets come from.
pub enum Packets {
    Live(Capture<Active>),
    File(Capture<Offline>),
}

/// What the next read gave.
pub enum Next<'a> {
    /// Capture time (ns since the epoch) and the frame as captured.
    Packet(i64, &'a [u8]),
    /// A live capture waited its timeout without a packet.
    Idle,
    /// The end of the file.
    End,
}

impl Packets {
    /// A live capture on `iface`; wakes at least every 100 ms so a stop signal is noticed.
    pub fn live(iface: &str, filter: Option<&str>) -> Result<(Packets, Link)> {
        let cap = Capture::from_device(iface)
            .and_then(|c| {
                c.immediate_mode(true)
                    .timeout(100)
                    .snaplen(256)
                    .buffer_size(16 << 20)
                    .precision(Precision::Nano)
                    .open()
            })
            // Non-blocking, waited on with poll(2) beside the stop signal: libpcap's own timeout
            // does not apply in immediate mode.
            .and_then(|c| c.setnonblock())
            .map_err(|e| live_error(iface, e))?;
        let mut p = Packets::Live(cap);
        let link = p.link()?;
        p.filter(filter)?;
        Ok((p, link))
    }

    /// A capture file (pcap or pcapng); `-` is standard input.
    pub fn file(path: &str, filter: Option<&str>) -> Result<(Packets, Link)> {
        let cap = Capture::from_file_with_precision(path, Precision::Nano)
            .with_context(|| format!("cannot read the capture file '{path}'"))?;
        let mut p = Packets::File(cap);
        let link = p.link()?;
        p.filter(filter)?;
        Ok((p, link))
    }

    fn link(&self) -> Result<Link> {
        let lt = match self {
            Packets::Live(c) => c.get_datalink(),
            Packets::File(c) => c.get_datalink(),
        };
        Link::from_linktype(lt.0).with_context(|| {
            format!(
                "link type {} ({}) is not one conntrend reads: Ethernet, Linux cooked, raw IP or loopback",
                lt.0,
                lt.get_name().unwrap_or_default()
            )
        })
    }

    fn filter(&mut self, filter: Option<&str>) -> Result<()> {
        let Some(f) = filter else { return Ok(()) };
        match self {
            Packets::Live(c) => c.filter(f, true),
            Packets::File(c) => c.filter(f, true),
        }
        .map_err(|e| anyhow::anyhow!("-f: cannot compile the filter '{f}': {e}"))
    }

    /// For a live capture: waits up to 100 ms for packets or a stop signal.
    pub fn wait(&self) {
        use std::os::fd::{AsRawFd, BorrowedFd};

        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let Packets::Live(c) = self else { return };
        // SAFETY: the capture's descriptor stays open while `self` is borrowed.
        let fd = unsafe { BorrowedFd::borrow_raw(c.as_raw_fd()) };
        let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
        if let Some(stop) = crate::signal::wake_fd() {
            fds.push(PollFd::new(stop, PollFlags::POLLIN));
        }
        let _ = poll(&mut fds, PollTimeout::from(100u8));
    }

    pub fn next(&mut self) -> Result<Next<'_>> {
        let got = match self {
            Packets::Live(c) => c.next_packet(),
            Packets::File(c) => c.next_packet(),
        };
        match got {
            Ok(p) => {
                let ts = p.header.ts;
                #[allow(clippy::useless_conversion)]
                // time_t and suseconds_t are i64 here, not everywhere
                let ns = i64::from(ts.tv_sec) * 1_000_000_000 + i64::from(ts.tv_usec);
                Ok(Next::Packet(ns, p.data))
            }
            Err(Error::TimeoutExpired) => Ok(Next::Idle),
            Err(Error::NoMorePackets) => Ok(Next::End),
            // A signal interrupted the read (no SA_RESTART): the caller checks for a stop.
            Err(Error::PcapError(e)) if e.contains("Interrupted system call") => Ok(Next::Idle),
            Err(e) => Err(e).context("cannot read packets"),
        }
    }
}

fn live_error(iface: &str, e: Error) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("Operation not permitted") || text.contains("ermission") {
        anyhow::anyhow!(
            "cannot capture on {iface}: {text} (a live capture needs CAP_NET_RAW: run as root, or \
             `setcap cap_net_raw+ep` the binary; -r reads a capture file without privilege)"
        )
    } else if text.contains("No such device") || text.contains("doesn't exist") {
        anyhow::anyhow!("cannot capture on {iface}: no such interface")
    } else {
        anyhow::anyhow!("cannot capture on {iface}: {text}")
    }
}
