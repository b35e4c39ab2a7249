//! Packets from libpcap ([`super::libpcap`], loaded at run time): a live interface (the filter
//! compiled to BPF and run in the kernel; non-blocking, waited on with poll(2) beside the stop
//! signal) or a pcap/pcapng file (`-` for standard input), with nanosecond timestamps.

use anyhow::{Context, Result, anyhow};

use super::libpcap::{Handle, OpenError, Read};
use super::packet::Link;

/// Where packets come from.
pub struct Packets {
    handle: Handle,
    live: bool,
}

/// What the next read gave.
pub enum Next<'a> {
    /// Capture time (ns since the epoch) and the frame as captured.
    Packet(i64, &'a [u8]),
    /// A live capture has nothing now.
    Idle,
    /// The end of the file.
    End,
}

impl Packets {
    /// A live capture on `iface`.
    pub fn live(iface: &str, filter: Option<&str>) -> Result<(Packets, Link)> {
        let handle = Handle::live(iface, 256, 16 << 20).map_err(|e| match e {
            OpenError::PermissionDenied(why) => anyhow!(
                "cannot capture on {iface}: {why} (a live capture needs CAP_NET_RAW: run as \
                 root, or `setcap cap_net_raw+ep` the binary; -r reads a capture file without \
                 privilege)"
            ),
            OpenError::NoSuchDevice(why) => {
                anyhow!("cannot capture on {iface}: no such interface ({why})")
            }
            OpenError::Other(why) => anyhow!("cannot capture on {iface}: {why}"),
        })?;
        Packets { handle, live: true }.finish(filter)
    }

    /// A capture file (pcap or pcapng); `-` is standard input.
    pub fn file(path: &str, filter: Option<&str>) -> Result<(Packets, Link)> {
        let handle = Handle::file(path)
            .map_err(|why| anyhow!("cannot read the capture file '{path}': {why}"))?;
        Packets {
            handle,
            live: false,
        }
        .finish(filter)
    }

    fn finish(mut self, filter: Option<&str>) -> Result<(Packets, Link)> {
        let lt = self.handle.datalink();
        let link = Link::from_linktype(lt).with_context(|| {
            format!(
                "link type {lt} is not one conntrend reads: Ethernet, Linux cooked (v1, v2), raw \
                 IP or BSD loopback"
            )
        })?;
        if let Some(f) = filter {
            self.handle
                .set_filter(f)
                .map_err(|why| anyhow!("-f: cannot compile the filter '{f}': {why}"))?;
        }
        Ok((self, link))
    }

    /// For a live capture: waits up to 100 ms for packets or a stop signal.
    pub fn wait(&self) {
        use std::os::fd::BorrowedFd;

        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        if !self.live {
            return;
        }
        // SAFETY: the capture's descriptor stays open while `self` is borrowed.
        let fd = unsafe { BorrowedFd::borrow_raw(self.handle.fd()) };
        let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
        if let Some(stop) = crate::app::signal::wake_fd() {
            fds.push(PollFd::new(stop, PollFlags::POLLIN));
        }
        let _ = poll(&mut fds, PollTimeout::from(100u8));
    }

    pub fn next(&mut self) -> Result<Next<'_>> {
        match self.handle.next() {
            Ok(Read::Packet(hdr, data)) => {
                #[allow(clippy::useless_conversion)]
                // time_t and suseconds_t are i64 here, not everywhere
                let ns = i64::from(hdr.ts.tv_sec) * 1_000_000_000 + i64::from(hdr.ts.tv_usec);
                Ok(Next::Packet(ns, data))
            }
            Ok(Read::None) => Ok(Next::Idle),
            Ok(Read::End) => Ok(Next::End),
            // A signal interrupted the read (no SA_RESTART): the caller checks for a stop.
            Err(why) if why.contains("Interrupted system call") => Ok(Next::Idle),
            Err(why) => Err(anyhow!("cannot read packets: {why}")),
        }
    }
}
