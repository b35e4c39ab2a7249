//! Recorded dumps played back through the same walk as live ones, so the sampler and the fold can
//! be tested (and benchmarked) without a kernel. A dump can also be scripted to fail or to come
//! back flagged as interrupted.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::Path;

use super::{DiagError, Dump, DumpEnd, Family, Protocol, Record, Walk, walk};

/// What one (protocol, family) dump answers.
#[derive(Debug)]
pub enum Answer {
    /// These recorded bytes (one or more datagrams, ending with NLMSG_DONE).
    Bytes(Vec<u8>),
    /// This error, as the kernel would have sent it.
    Fail(i32),
}

/// A dump source replaying recorded bytes.
#[derive(Debug, Default)]
pub struct Replay {
    answers: [[Option<Answer>; 2]; 2],
    /// Refuse the one-walk TCP dump (as a kernel without the older request would).
    pub refuse_both: bool,
    /// Dumps to flag NLM_F_DUMP_INTR, oldest first: `true` flags the next dump.
    interrupts: VecDeque<bool>,
    /// Dumps served so far.
    pub dumps: u32,
}

impl Replay {
    /// Loads `tcp4.bin`, `tcp6.bin`, `udp4.bin`, `udp6.bin` from `dir` (as recorded by
    /// examples/record_fixture.rs).
    pub fn from_dir(dir: &Path) -> io::Result<Replay> {
        let mut replay = Replay::default();
        for (protocol, p) in [(Protocol::Tcp, "tcp"), (Protocol::Udp, "udp")] {
            for (family, f) in [(Family::V4, "4"), (Family::V6, "6")] {
                let bytes = fs::read(dir.join(format!("{p}{f}.bin")))?;
                replay.set(family, protocol, Answer::Bytes(bytes));
            }
        }
        Ok(replay)
    }

    pub fn set(&mut self, family: Family, protocol: Protocol, answer: Answer) {
        self.answers[protocol as usize][family as usize] = Some(answer);
    }

    /// Flags the next dumps as interrupted (`true`) or not, in order.
    pub fn interrupt(&mut self, pattern: &[bool]) {
        self.interrupts.extend(pattern);
    }
}

impl Dump for Replay {
    fn dump(
        &mut self,
        family: Family,
        protocol: Protocol,
        visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError> {
        self.dumps += 1;
        let flagged = self.interrupts.pop_front().unwrap_or(false);
        let family = match (family, protocol) {
            (Family::Both, Protocol::Udp) => return Err(DiagError::Kernel(libc::EINVAL)),
            // TCP over both families: both recordings, in turn, as one dump.
            (Family::Both, Protocol::Tcp) if self.refuse_both => {
                return Err(DiagError::Kernel(libc::EINVAL));
            }
            (Family::Both, Protocol::Tcp) => {
                let mut visit = visit;
                let mut interrupted = flagged;
                for family in Family::EACH {
                    let end = self.replay(family, protocol, &mut visit)?;
                    interrupted |= end.interrupted;
                }
                return Ok(DumpEnd { interrupted });
            }
            (family, _) => family,
        };
        let end = self.replay(family, protocol, visit)?;
        Ok(DumpEnd {
            interrupted: end.interrupted || flagged,
        })
    }
}

impl Replay {
    fn replay(
        &self,
        family: Family,
        protocol: Protocol,
        visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError> {
        match &self.answers[protocol as usize][family as usize] {
            None => Err(DiagError::Kernel(libc::ENOENT)),
            Some(Answer::Fail(errno)) => Err(DiagError::Kernel(*errno)),
            Some(Answer::Bytes(bytes)) => {
                let seq = bytes
                    .get(8..12)
                    .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
                    .unwrap_or(0);
                let mut interrupted = false;
                match walk(bytes, seq, &mut interrupted, visit)? {
                    Walk::Done => Ok(DumpEnd { interrupted }),
                    Walk::More => Err(DiagError::Malformed("the recording ends before NLMSG_DONE")),
                }
            }
        }
    }
}
