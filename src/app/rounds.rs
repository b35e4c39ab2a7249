//! The one loop of every mode that repeats (the timeline, `states`, `conns`, `top`): make a round,
//! then wait for the next slot of a drift-free ticker, until the count, the duration, a stop
//! signal or the reader's departure. The round itself (take a sample, write it) is the mode's;
//! when to make the next one, and how a run ends, is decided here only.

use std::time::Duration;

use anyhow::Result;

use crate::app::exit::is_reader_gone;
use crate::app::schedule::{Clock, SystemClock, Ticker, Wake};
use crate::app::settings::Target;
use crate::app::sink::Sink;
use crate::diag::Dump;
use crate::engine::sampler::Sampler;
use crate::report::reporter::Reporter;

/// When rounds are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// `None`: one round.
    pub interval: Option<Duration>,
    /// Stop after this many rounds.
    pub count: Option<u64>,
    /// Stop at this time after the start (a round due then or later is not made).
    pub duration: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// One round, duration, count or a stop signal.
    Finished,
    /// The reader of the output left: nothing more can be written, and that is fine.
    ReaderGone,
    /// `--exit-on-alert`: this alert started.
    Alert(String),
}

/// Makes rounds on `schedule`. `round` returns `Some(ending)` to end the run early (an alert);
/// an error from it that means the reader has gone (`tty`: a hung-up terminal too) ends the run
/// as [`Ending::ReaderGone`], any other ends it with that error.
pub fn run(
    schedule: &Schedule,
    clock: &mut dyn Clock,
    reporter: &Reporter,
    tty: bool,
    mut round: impl FnMut(&mut dyn Clock) -> Result<Option<Ending>>,
) -> Result<Ending> {
    let mut ticker = schedule.interval.map(Ticker::new);
    let mut made = 0u64;
    loop {
        match round(clock) {
            Err(e) if is_reader_gone(&e, tty) => return Ok(Ending::ReaderGone),
            Err(e) => return Err(e),
            Ok(Some(ending)) => return Ok(ending),
            Ok(None) => made += 1,
        }
        let Some(ticker) = ticker.as_mut() else {
            return Ok(Ending::Finished);
        };
        if schedule.count.is_some_and(|c| made >= c) || clock.stop_requested() {
            return Ok(Ending::Finished);
        }
        let (next, skipped) = ticker.next_after(clock.elapsed());
        if skipped > 0 {
            reporter.detail(&format!(
                "sampling overran its slot; skipped {skipped} tick(s)"
            ));
        }
        let (wake_at, last) = match schedule.duration {
            Some(end) if next >= end => (end, true),
            _ => (next, false),
        };
        match clock.wait_until(wake_at) {
            Wake::Due if !last => {}
            Wake::Due | Wake::Stop => return Ok(Ending::Finished),
            Wake::ReaderGone => return Ok(Ending::ReaderGone),
        }
    }
}

/// Opens `target` and makes a mode's rounds on it: `rounds` gets the output, whether it is a
/// terminal, the system clock watching it (for a departed reader and a stop signal) and a
/// reporter. A stop signal while waiting for a FIFO's reader ends the run quietly.
pub fn on_output(
    target: &Target,
    rounds: impl FnOnce(&mut Sink, bool, &mut SystemClock, &Reporter) -> Result<Ending>,
) -> Result<()> {
    let Some(mut out) = Sink::open(target)? else {
        return Ok(());
    };
    let tty = out.is_tty();
    let mut clock = SystemClock::start(Some(out.as_fd()))?;
    rounds(&mut out, tty, &mut clock, &Reporter::new(false)).map(|_| ())
}

/// Runs `take` on the sampler, then tells the sampler's events (a source that fell back, a dump
/// retried) whatever the outcome: every mode's way of taking a sample.
pub fn take<D: Dump, T>(
    sampler: &mut Sampler<D>,
    reporter: &Reporter,
    take: impl FnOnce(&mut Sampler<D>) -> Result<T>,
) -> Result<T> {
    let taken = take(sampler);
    for event in sampler.events() {
        reporter.event(&event);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::schedule::testing::Scripted;

    fn rounds(schedule: Schedule, mut clock: Scripted) -> (Ending, Vec<Duration>) {
        let mut at = Vec::new();
        let ending = run(&schedule, &mut clock, &Reporter::new(false), false, |c| {
            at.push(c.elapsed());
            Ok(None)
        })
        .unwrap();
        (ending, at)
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn no_interval_is_one_round() {
        let (ending, at) = rounds(Schedule::default(), Scripted::new());
        assert_eq!((ending, at), (Ending::Finished, vec![Duration::ZERO]));
    }

    #[test]
    fn the_count_ends_the_run() {
        let schedule = Schedule {
            interval: Some(S),
            count: Some(3),
            duration: None,
        };
        let (ending, at) = rounds(schedule, Scripted::new());
        assert_eq!(
            (ending, at),
            (Ending::Finished, vec![Duration::ZERO, S, S * 2])
        );
    }

    #[test]
    fn the_duration_ends_the_run_before_a_round_due_at_its_end() {
        let schedule = Schedule {
            interval: Some(S * 5),
            count: None,
            duration: Some(S * 10),
        };
        let (ending, at) = rounds(schedule, Scripted::new());
        assert_eq!(
            (ending, at),
            (Ending::Finished, vec![Duration::ZERO, S * 5])
        );
    }

    #[test]
    fn a_stop_or_a_departed_reader_ends_the_run() {
        let every = Schedule {
            interval: Some(S),
            ..Schedule::default()
        };
        let mut clock = Scripted::new();
        clock.stop_at = Some(S * 2 + S / 2);
        assert_eq!(rounds(every, clock).1.len(), 3);
        let mut clock = Scripted::new();
        clock.gone_at = Some(S * 2);
        assert_eq!(rounds(every, clock).0, Ending::ReaderGone);
    }

    #[test]
    fn a_closed_pipe_in_a_round_is_a_departed_reader_and_other_errors_are_errors() {
        let every = Schedule {
            interval: Some(S),
            ..Schedule::default()
        };
        let reporter = Reporter::new(false);
        let pipe = run(&every, &mut Scripted::new(), &reporter, false, |_| {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
        });
        assert_eq!(pipe.unwrap(), Ending::ReaderGone);
        let other = run(&every, &mut Scripted::new(), &reporter, false, |_| {
            Err(anyhow::anyhow!("cannot dump"))
        });
        assert_eq!(other.unwrap_err().to_string(), "cannot dump");
        let alert = run(&every, &mut Scripted::new(), &reporter, false, |_| {
            Ok(Some(Ending::Alert("free<1".into())))
        });
        assert_eq!(alert.unwrap(), Ending::Alert("free<1".into()));
    }
}
