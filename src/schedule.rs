//! When to sample and when to stop: a drift-free ticker on the monotonic clock, and the stop
//! signal (SIGINT, SIGTERM, SIGHUP) that wakes a waiting run at once.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Sample k is due at `start + k·interval`, however long earlier samples took.
pub struct Ticker {
    start: Instant,
    interval: Duration,
    next: u32,
}

impl Ticker {
    pub fn new(start: Instant, interval: Duration) -> Self {
        Ticker {
            start,
            interval,
            next: 1,
        }
    }

    /// The next slot strictly after `now`, and how many slots were missed to get there.
    pub fn next_after(&mut self, now: Instant) -> (Instant, u32) {
        let mut skipped = 0;
        while self.due(self.next) <= now {
            self.next += 1;
            skipped += 1;
        }
        let at = self.due(self.next);
        self.next += 1;
        (at, skipped)
    }

    fn due(&self, k: u32) -> Instant {
        self.start + self.interval * k
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline was reached.
    Due,
    /// A stop signal arrived.
    Stop,
    /// `gone` said the reader of our output has left.
    ReaderGone,
}

/// How often a wait looks whether the reader of the output is still there.
const READER_CHECK: Duration = Duration::from_millis(200);

/// Receives SIGINT, SIGTERM and SIGHUP for the whole process.
pub struct StopSignal {
    rx: Receiver<()>,
}

impl StopSignal {
    /// Installs the handler; call once per process.
    pub fn install() -> Result<Self> {
        let (tx, rx): (SyncSender<()>, _) = sync_channel(1);
        ctrlc::set_handler(move || {
            let _ = tx.try_send(());
        })
        .context("cannot install the signal handler")?;
        Ok(StopSignal { rx })
    }

    /// True if a stop signal has arrived (without waiting).
    pub fn requested(&self) -> bool {
        self.rx.try_recv().is_ok()
    }

    /// Waits until `deadline`, a stop signal, or `gone()` turning true.
    pub fn wait_until(&self, deadline: Instant, gone: impl Fn() -> bool) -> Wake {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Wake::Due;
            }
            match self.rx.recv_timeout((deadline - now).min(READER_CHECK)) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Wake::Stop,
                Err(RecvTimeoutError::Timeout) => {
                    if gone() {
                        return Wake::ReaderGone;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_drift() {
        let t0 = Instant::now();
        let s = Duration::from_secs(5);
        let mut t = Ticker::new(t0, s);
        // The first sample took 1.2 s: the next slot is still t0+5.
        assert_eq!(t.next_after(t0 + Duration::from_millis(1200)), (t0 + s, 0));
        assert_eq!(
            t.next_after(t0 + s + Duration::from_millis(10)),
            (t0 + s * 2, 0)
        );
    }

    #[test]
    fn overrun_skips_missed_slots() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = Ticker::new(t0, s);
        // Sample 0 ran until 3.5 s: slots 1, 2 and 3 are missed; 4 is next.
        assert_eq!(
            t.next_after(t0 + Duration::from_millis(3500)),
            (t0 + s * 4, 3)
        );
        assert_eq!(t.next_after(t0 + s * 4), (t0 + s * 5, 0));
    }
}
