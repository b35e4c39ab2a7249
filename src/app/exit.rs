//! How a run ends and the exit status each ending has — the one place exit codes are decided.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | a normal end: duration, count, a stop signal, or the reader of the output left |
//! | 1 | a runtime failure (the message is printed on stderr) |
//! | 2 | bad input, or something this build cannot do ([`Stop::Unsupported`]) |
//! | 3 | `--exit-on-alert`: an alert started ([`Stop::Alert`]) |
//!
//! Modes return `anyhow::Result<()>`; the endings that are not failures travel as a [`Stop`]
//! inside the error, and [`Exit::of`] sorts them out for `main`.

use std::io;

/// The errors that end a run with a status other than 1.
#[derive(Debug)]
pub enum Stop {
    /// `--exit-on-alert`: this alert started (it was told on stderr and the summary written).
    Alert(String),
    /// Bad input that only the run itself can see (a sysctl name the target namespace lacks):
    /// exit 2, as for flags that make no sense.
    Usage(String),
    /// A run this build cannot make (e.g. `rtt` without the `pcap` feature).
    #[cfg_attr(feature = "pcap", allow(dead_code))]
    Unsupported(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Alert(expr) => write!(f, "stopped by --exit-on-alert: {expr}"),
            Stop::Usage(msg) | Stop::Unsupported(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Stop {}

/// How conntrend exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A runtime failure; its message is to be told.
    Failure,
    /// Bad input or an unsupported run; its message is to be told.
    Usage,
    /// An alert ended the run; it was already told.
    Alert,
}

impl Exit {
    /// Sorts a mode's outcome. A closed pipe is a normal end (`conntrend | head`).
    pub fn of(outcome: &anyhow::Result<()>) -> Exit {
        let Err(e) = outcome else {
            return Exit::Success;
        };
        match e.downcast_ref::<Stop>() {
            Some(Stop::Alert(_)) => Exit::Alert,
            Some(Stop::Usage(_) | Stop::Unsupported(_)) => Exit::Usage,
            None if is_reader_gone(e, false) => Exit::Success,
            None => Exit::Failure,
        }
    }

    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Alert => 3,
        }
    }

    /// True when the error's message still has to be printed.
    pub const fn tells(self) -> bool {
        matches!(self, Exit::Failure | Exit::Usage)
    }
}

/// True when an error means the reader of the output has gone: a closed pipe, or (`tty`) a
/// terminal that hung up.
pub fn is_reader_gone(err: &anyhow::Error, tty: bool) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| {
            e.kind() == io::ErrorKind::BrokenPipe || (tty && e.raw_os_error() == Some(libc::EIO))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_has_its_status() {
        let pipe: anyhow::Result<()> = Err(anyhow::Error::new(io::Error::from(
            io::ErrorKind::BrokenPipe,
        ))
        .context("cannot write to standard output"));
        assert_eq!(Exit::of(&Ok(())).code(), 0);
        assert_eq!(Exit::of(&pipe).code(), 0);
        assert_eq!(Exit::of(&Err(anyhow::anyhow!("no such file"))).code(), 1);
        let unsupported = Err(Stop::Unsupported("no pcap".into()).into());
        assert_eq!(Exit::of(&unsupported), Exit::Usage);
        assert_eq!(Exit::of(&unsupported).code(), 2);
        let alert = Err(Stop::Alert("free<10".into()).into());
        assert_eq!(Exit::of(&alert).code(), 3);
        assert!(!Exit::of(&alert).tells());
    }

    #[test]
    fn a_hung_up_terminal_is_a_departed_reader_only_on_a_terminal() {
        let eio = anyhow::Error::new(io::Error::from_raw_os_error(libc::EIO));
        assert!(is_reader_gone(&eio, true));
        assert!(!is_reader_gone(&eio, false));
    }
}
