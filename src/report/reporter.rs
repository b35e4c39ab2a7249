//! Messages for the person running conntrend, on standard error and never on the data stream.
//! Writing them never fails a run: a closed or full stderr loses the message, not the data.

use std::io::{self, Write};

use crate::engine::sampler::{DUMP_ATTEMPTS, Event};

/// Prints what the sampler and the run loop noticed; details only with `-v`.
pub struct Reporter {
    verbose: bool,
}

impl Reporter {
    pub fn new(verbose: bool) -> Self {
        Reporter { verbose }
    }

    /// One line, always shown.
    pub fn warn(&self, message: &str) {
        say(message);
    }

    /// One line, shown with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbose {
            say(message);
        }
    }

    /// What the sampler noticed while taking a sample.
    pub fn event(&self, event: &Event) {
        match event {
            Event::ProtocolDropped(p, why) => self.warn(&format!(
                "{} sockets cannot be sampled ({why}); sampling {} only, {} fields stay empty",
                p.name(),
                p.other().name(),
                p.name()
            )),
            Event::OneWalkRefused(why) => self.detail(&format!(
                "one-walk TCP dump refused ({why}); dumping IPv4 and IPv6 separately"
            )),
            Event::Interrupted { attempt, retrying } => self.detail(&format!(
                "the socket table changed during the dump (attempt {attempt}/{DUMP_ATTEMPTS}); {}",
                if *retrying {
                    "dumping again"
                } else {
                    "keeping this one"
                }
            )),
            Event::FellBack(why) => self.warn(why),
            Event::Folded(n) => self.detail(&format!("folded {n} sockets")),
            Event::Source(why) => self.detail(why),
        }
    }
}

/// `conntrend: MESSAGE` on stderr, ignoring any failure to write it.
pub fn say(message: &str) {
    let _ = writeln!(io::stderr().lock(), "conntrend: {message}");
}
