//! Packets from libpcap ([`super::libpcap`], loaded at run time): a live interface (the filter
//! compiled to BPF and run in the kernel; non-blocking, waited on with poll(2) beside the stop
//! signal) or a pcap/pcapng file (`-` for standard input), with nanosecond timestamps.

use anyhow::{Context, Result, anyhow, bail};

use super::libpcap::{FilterError, Handle, OpenError, Read};
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
    /// A live capture on `iface`; `None` when a stop signal came while the filter compiled.
    pub fn live(iface: &str, filter: Option<&str>) -> Result<Option<(Packets, Link)>> {
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
        Packets::finish(handle, true, filter)
    }

    /// A capture file (pcap or pcapng); `-` is standard input. `None` as for [`Packets::live`].
    pub fn file(path: &str, filter: Option<&str>) -> Result<Option<(Packets, Link)>> {
        let handle = Handle::file(path)
            .map_err(|why| anyhow!("cannot read the capture file '{path}': {why}"))?;
        Packets::finish(handle, false, filter)
    }

    fn finish(handle: Handle, live: bool, filter: Option<&str>) -> Result<Option<(Packets, Link)>> {
        let lt = handle.datalink();
        let link = Link::from_linktype(lt).with_context(|| {
            format!(
                "link type {lt} is not one conntrend reads: Ethernet, Linux cooked (v1, v2), raw \
                 IP or BSD loopback"
            )
        })?;
        let handle = match filter {
            None => handle,
            Some(f) => match handle.set_filter(f, crate::app::signal::requested) {
                Ok(handle) => handle,
                Err(FilterError::Stopped) => return Ok(None),
                Err(FilterError::Bad(why)) => bail!("-f: cannot compile the filter '{f}': {why}"),
            },
        };
        Ok(Some((Packets { handle, live }, link)))
    }

    /// For a live capture: waits up to 100 ms for packets or a stop signal.
    pub fn wait(&self) {
        if !self.live {
            return;
        }
        // SAFETY: libpcap keeps the capture's descriptor open while `self.handle` lives.
        unsafe { wait_for(self.handle.fd(), 100) };
    }

    pub fn next(&mut self) -> Result<Next<'_>> {
        let ns_per_tick = self.handle.ns_per_tick();
        match self.handle.next() {
            Ok(Read::Packet(hdr, data)) => {
                #[allow(clippy::useless_conversion)]
                // time_t and suseconds_t are i64 here, not everywhere
                let ns = timestamp_ns(
                    i64::from(hdr.ts.tv_sec),
                    i64::from(hdr.ts.tv_usec),
                    ns_per_tick,
                );
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

/// Waits up to `timeout_ms` for the capture's descriptor `capture_fd` (as
/// pcap_get_selectable_fd gave it) to be readable, or for a stop signal. libpcap gives -1 when
/// the capture has no descriptor to select on: then only the stop signal is waited for, at most
/// 10 ms, so that packets are still read soon after they come.
///
/// # Safety
///
/// A `capture_fd` other than -1 must be an open descriptor for the whole call.
unsafe fn wait_for(capture_fd: i32, timeout_ms: u8) {
    use std::os::fd::BorrowedFd;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = Vec::with_capacity(2);
    let timeout = if capture_fd >= 0 {
        // SAFETY: not -1, so open for the whole call (the caller's promise).
        let fd = unsafe { BorrowedFd::borrow_raw(capture_fd) };
        fds.push(PollFd::new(fd, PollFlags::POLLIN));
        timeout_ms
    } else {
        timeout_ms.min(10)
    };
    if let Some(stop) = crate::app::signal::wake_fd() {
        fds.push(PollFd::new(stop, PollFlags::POLLIN));
    }
    if fds.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(timeout.into()));
    } else {
        let _ = poll(&mut fds, PollTimeout::from(timeout));
    }
}

/// A capture time in nanoseconds since the epoch: seconds, and the fraction in ticks of
/// `ns_per_tick` nanoseconds (libpcap's `tv_usec`, which holds nanoseconds or microseconds by the
/// precision in use).
/// Saturating: pcapng's 64-bit times can exceed what i64 nanoseconds hold (then the largest);
/// a time before the epoch is the epoch, so differences of two times never overflow.
fn timestamp_ns(sec: i64, frac: i64, ns_per_tick: i64) -> i64 {
    sec.saturating_mul(1_000_000_000)
        .saturating_add(frac.saturating_mul(ns_per_tick))
        .max(0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_capture_without_a_selectable_descriptor_waits_without_it() {
        let start = Instant::now();
        // SAFETY: -1 is no descriptor.
        unsafe { wait_for(-1, 20) };
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn timestamps_scale_by_the_precision_in_use_and_saturate() {
        assert_eq!(
            timestamp_ns(1_700_000_000, 123_456_789, 1),
            1_700_000_000_123_456_789
        );
        assert_eq!(
            timestamp_ns(1_700_000_000, 123_456, 1000),
            1_700_000_000_123_456_000
        );
        // pcapng allows 64-bit times: beyond what i64 nanoseconds hold, the largest; before the
        // epoch, the epoch (times are never negative).
        assert_eq!(timestamp_ns(i64::MAX / 10, 999_999, 1000), i64::MAX);
        assert_eq!(timestamp_ns(-5, 0, 1), 0);
    }
}
