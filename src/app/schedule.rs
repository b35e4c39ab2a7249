//! When to sample and when to stop: a drift-free ticker on the monotonic clock, and the clock the
//! run loop waits on — the system's (woken by a stop signal or a departed reader), or a scripted
//! one in tests, so the loop runs in-process without wall-clock waits.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::app::signal;

/// Sample k is due at `k·interval` after the start, however long earlier samples took.
pub struct Ticker {
    interval: Duration,
    next: u32,
}

impl Ticker {
    pub fn new(interval: Duration) -> Self {
        Ticker { interval, next: 1 }
    }

    /// The next slot strictly after `now` (time since the start), and how many slots were missed.
    pub fn next_after(&mut self, now: Duration) -> (Duration, u32) {
        let mut skipped = 0;
        while self.due(self.next) <= now {
            self.next += 1;
            skipped += 1;
        }
        let at = self.due(self.next);
        self.next += 1;
        (at, skipped)
    }

    fn due(&self, k: u32) -> Duration {
        self.interval * k
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline was reached.
    Due,
    /// A stop signal arrived.
    Stop,
    /// The reader of our output has left.
    ReaderGone,
}

/// Time as the run loop sees it.
pub trait Clock {
    /// Wall-clock milliseconds since the Unix epoch.
    fn epoch_ms(&self) -> u64;
    /// Monotonic time since the run started.
    fn elapsed(&self) -> Duration;
    /// True once a stop was asked for.
    fn stop_requested(&self) -> bool;
    /// Waits until `at` (since the start), a stop, or the reader's departure.
    fn wait_until(&mut self, at: Duration) -> Wake;
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The real clock: waits in poll(2) on the stop signal's pipe and on the output, whose
/// POLLERR/POLLHUP says that the reader of a pipe has gone (`conntrend | head -3`).
pub struct SystemClock {
    start: Instant,
    /// A duplicate of the output's descriptor (the same open pipe or file), owned, so the clock
    /// never polls a descriptor that someone else closed or that was never valid.
    output: Option<OwnedFd>,
}

impl SystemClock {
    /// Starts now. `output` is watched for a departed reader.
    pub fn start(output: Option<BorrowedFd<'_>>) -> std::io::Result<Self> {
        Ok(SystemClock {
            start: Instant::now(),
            output: output.map(|fd| fd.try_clone_to_owned()).transpose()?,
        })
    }
}

impl Clock for SystemClock {
    fn epoch_ms(&self) -> u64 {
        now_ms()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn stop_requested(&self) -> bool {
        signal::requested()
    }

    fn wait_until(&mut self, at: Duration) -> Wake {
        loop {
            if signal::requested() {
                return Wake::Stop;
            }
            let now = self.elapsed();
            if now >= at {
                return Wake::Due;
            }
            let left = (at - now).as_millis().min(i32::MAX as u128) as i32;
            let out = self.output.as_ref().map(|fd| fd.as_fd());
            let mut fds = Vec::with_capacity(2);
            if let Some(out) = out {
                fds.push(PollFd::new(out, PollFlags::empty()));
            }
            if let Some(stop) = signal::wake_fd() {
                fds.push(PollFd::new(stop, PollFlags::POLLIN));
            }
            // Round up so a wait never ends a millisecond early and spins.
            let timeout = PollTimeout::try_from(left.saturating_add(1)).unwrap_or(PollTimeout::MAX);
            if poll(&mut fds, timeout).is_ok()
                && out.is_some()
                && fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
            {
                return Wake::ReaderGone;
            }
        }
    }
}

/// A clock for tests of the loops: it jumps to each deadline at once. A run starts at
/// [`testing::EPOCH0`]; a stop signal or the reader's departure can be scripted at a moment.
#[cfg(test)]
pub mod testing {
    use super::*;

    pub const EPOCH0: u64 = 1_764_039_600_000; // 2025-11-25T03:00:00Z

    #[derive(Default)]
    pub struct Scripted {
        pub now: Duration,
        pub stop_at: Option<Duration>,
        pub gone_at: Option<Duration>,
    }

    impl Scripted {
        pub fn new() -> Self {
            Scripted::default()
        }
    }

    impl Clock for Scripted {
        fn epoch_ms(&self) -> u64 {
            EPOCH0 + self.now.as_millis() as u64
        }

        fn elapsed(&self) -> Duration {
            self.now
        }

        fn stop_requested(&self) -> bool {
            self.stop_at.is_some_and(|s| self.now >= s)
        }

        fn wait_until(&mut self, at: Duration) -> Wake {
            if let Some(s) = self.stop_at.filter(|&s| s <= at) {
                self.now = self.now.max(s);
                return Wake::Stop;
            }
            if let Some(g) = self.gone_at.filter(|&g| g <= at) {
                self.now = self.now.max(g);
                return Wake::ReaderGone;
            }
            self.now = at;
            Wake::Due
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_drift() {
        let s = Duration::from_secs(5);
        let mut t = Ticker::new(s);
        // The first sample took 1.2 s: the next slot is still 5 s after the start.
        assert_eq!(t.next_after(Duration::from_millis(1200)), (s, 0));
        assert_eq!(t.next_after(s + Duration::from_millis(10)), (s * 2, 0));
    }

    #[test]
    fn overrun_skips_missed_slots() {
        let s = Duration::from_secs(1);
        let mut t = Ticker::new(s);
        // Sample 0 ran until 3.5 s: slots 1, 2 and 3 are missed; 4 is next.
        assert_eq!(t.next_after(Duration::from_millis(3500)), (s * 4, 3));
        assert_eq!(t.next_after(s * 4), (s * 5, 0));
    }
}
