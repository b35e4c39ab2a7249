//! One sample of this network namespace: re-read the pool, dump the protocols asked for through
//! the kernel seam, fold the records into the counters and into whatever visitors the mode brings.
//! Owns the netlink socket and every buffer for the whole run. It prints nothing: what happened
//! along the way (retries, fallbacks) is left as [`Event`]s for the run loop's reporter.

use anyhow::{Context, Result, bail};

use crate::diag::{
    DiagSocket, Dump, Family, Protocol, Protocols, Query, Record, Source, SourceChoice,
};
use crate::fold::Visit;
use crate::fold::sample::{Sample, Tally};
use crate::probes::pool::{Pool, PoolReader};

/// How many times a sample is taken again when the kernel flags a dump as interrupted.
pub const DUMP_ATTEMPTS: u32 = 3;

/// Something worth telling the person running conntrend, noticed while sampling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The socket table changed during attempt `attempt` of a sample's dumps.
    Interrupted { attempt: u32, retrying: bool },
    /// The one-walk TCP dump was refused (the reason); TCP is dumped per family from now on.
    OneWalkRefused(String),
    /// This protocol cannot be dumped here (the reason); its fields stay empty from now on.
    ProtocolDropped(Protocol, String),
    /// The source was refused (the reason) and the run goes on from /proc/net.
    FellBack(String),
    /// Sockets folded into the sample.
    Folded(u64),
    /// Which source the samples come from and why, when that is not plain netlink.
    Source(String),
}

/// Samples through a dump source: the kernel by default, recorded bytes in tests.
pub struct Sampler<D: Dump = DiagSocket> {
    diag: D,
    reader: PoolReader,
    pool: Pool,
    tally: Tally,
    /// What is dumped; a protocol the kernel cannot dump leaves the set.
    protocols: Protocols,
    /// TCP over IPv4 and IPv6 in one dump (one walk of the kernel's hash tables), until the
    /// kernel refuses it.
    tcp_one_walk: bool,
    /// Since the caller last drained them.
    events: Vec<Event>,
}

impl Sampler {
    /// Opens the netlink socket (in the calling thread's network namespace) and reads the pool.
    pub fn open(protocols: Protocols) -> Result<Self> {
        let diag = DiagSocket::open().context("cannot open a NETLINK_SOCK_DIAG socket")?;
        Sampler::with_source(diag, PoolReader::default(), protocols)
    }
}

impl Sampler<Source> {
    /// Opens the source `choice` names (in the calling thread's network namespace) and reads the
    /// pool of `proc_root` (the live sysctls when `None`). A fall-back at opening is an event.
    pub fn from_choice(
        choice: &SourceChoice,
        proc_root: Option<&std::path::Path>,
        protocols: Protocols,
        needs_pool: bool,
    ) -> Result<Self> {
        let (source, fell_back) = Source::open(choice).map_err(|e| match (choice, &e) {
            (SourceChoice::Proc(_), _) | (_, crate::diag::DiagError::Bpf(_)) => {
                anyhow::anyhow!("{e}")
            }
            _ => anyhow::Error::new(e).context("cannot open a NETLINK_SOCK_DIAG socket"),
        })?;
        let reader = match proc_root {
            _ if !needs_pool => PoolReader::none(),
            Some(root) => PoolReader::under(root),
            None => PoolReader::default(),
        };
        let mut sampler = Sampler::with_source(source, reader, protocols)?;
        sampler.events.extend(fell_back.map(Event::FellBack));
        Ok(sampler)
    }
}

impl<D: Dump> Sampler<D> {
    /// A sampler over any dump source and pool reader; reads the pool once.
    pub fn with_source(diag: D, mut reader: PoolReader, protocols: Protocols) -> Result<Self> {
        let mut pool = Pool::default();
        reader.read(&mut pool)?;
        Ok(Sampler {
            diag,
            reader,
            pool,
            tally: Tally::default(),
            protocols,
            tcp_one_walk: true,
            events: Vec::new(),
        })
    }

    /// The pool as last read.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The dump source.
    pub fn source(&self) -> &D {
        &self.diag
    }

    /// The counters of the last sample (ports held per protocol, TCP states).
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The protocols sampled now.
    pub fn protocols(&self) -> Protocols {
        self.protocols
    }

    /// What happened since the last call, oldest first.
    pub fn events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Asks every later dump for `query` (states, extensions, a kernel-side filter) instead of
    /// every socket bare. A source without a kernel behind it still dumps everything: visitors
    /// that asked for a narrower query check what they are shown.
    pub fn set_query(&mut self, query: &Query) {
        self.diag.set_query(query);
    }

    /// Whether samples are counted in the kernel (`--source bpf`, or auto when the iterators
    /// load) for a run whose visitors `needs_records` or not; decided at the first call.
    pub fn counts_in_kernel(&mut self, needs_records: bool) -> Result<bool> {
        let (counting, note) = self.diag.counting(needs_records)?;
        self.events.extend(note.map(Event::Source));
        Ok(counting)
    }

    /// Takes one sample now, stamped `epoch_ms`, also showing every record to `extra` (which is
    /// reset before each attempt, like the sample's own counters).
    pub fn take(&mut self, epoch_ms: u64, extra: &mut impl Visit) -> Result<Sample> {
        self.take_within(DUMP_ATTEMPTS, epoch_ms, extra)
    }

    /// As [`Sampler::take`], but an interrupted dump is kept as it is, never taken again: for a
    /// visitor that hands records on as they arrive and cannot take them back (`conns`).
    pub fn take_once(&mut self, epoch_ms: u64, extra: &mut impl Visit) -> Result<Sample> {
        self.take_within(1, epoch_ms, extra)
    }

    fn take_within(
        &mut self,
        attempts: u32,
        epoch_ms: u64,
        extra: &mut impl Visit,
    ) -> Result<Sample> {
        self.reader.read(&mut self.pool)?;
        let mut attempt = 1;
        loop {
            self.tally.reset();
            extra.reset();
            match self.dump_all(extra)? {
                Dumped::Clean => break,
                // Happens at most once per run: the TCP dumps go per family from now on.
                Dumped::Redo => continue,
                Dumped::Interrupted => {}
            }
            let retrying = attempt < attempts;
            self.events.push(Event::Interrupted { attempt, retrying });
            if !retrying {
                break;
            }
            attempt += 1;
        }
        self.events.push(Event::Folded(self.tally.sockets));
        Ok(Sample::new(
            epoch_ms,
            &self.pool,
            &self.tally,
            self.protocols,
        ))
    }

    /// Runs every dump asked for.
    fn dump_all(&mut self, extra: &mut impl Visit) -> Result<Dumped> {
        if self.counts_in_kernel(extra.needs_records())? {
            match self.diag.counts(self.protocols) {
                Ok((counts, interrupted)) => {
                    self.tally.add_counts(counts, self.protocols);
                    extra.add_counts(counts);
                    return Ok(match interrupted {
                        true => Dumped::Interrupted,
                        false => Dumped::Clean,
                    });
                }
                // Auto's choice failed: this sample and the next ones are dumped.
                Err(e) => match self.diag.stop_counting(&e) {
                    Some(note) => self.events.push(Event::Source(note)),
                    None => return Err(e.into()),
                },
            }
        }
        let mut interrupted = false;
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            if !self.protocols.has(protocol) {
                continue;
            }
            let families: &[Family] = match protocol {
                Protocol::Tcp if self.tcp_one_walk => &[Family::Both],
                _ => &Family::EACH,
            };
            for &family in families {
                let (tally, pool) = (&mut self.tally, &self.pool);
                let fold = |r: Record<'_>| {
                    tally.add(protocol, &r);
                    extra.visit(pool, protocol, &r);
                };
                match self.diag.dump(family, protocol, fold) {
                    Ok(end) => interrupted |= end.interrupted,
                    Err(e) if self.diag.fall_back(&e) => {
                        self.events.push(Event::FellBack(format!(
                            "the {} {} dump was refused ({e}); reading /proc/net instead",
                            protocol.name(),
                            family.name()
                        )));
                        return Ok(Dumped::Redo);
                    }
                    Err(e @ crate::diag::DiagError::Kernel(_)) if family == Family::Both => {
                        self.events.push(Event::OneWalkRefused(e.to_string()));
                        self.tcp_one_walk = false;
                        return Ok(Dumped::Redo);
                    }
                    // Losing UDP keeps TCP going; the other way round there is nothing left.
                    Err(e)
                        if protocol == Protocol::Udp
                            && e.is_unsupported()
                            && self.protocols.tcp =>
                    {
                        self.events
                            .push(Event::ProtocolDropped(protocol, e.to_string()));
                        self.protocols = self.protocols.without(protocol);
                        self.tally.udp_ports.clear();
                        break;
                    }
                    Err(e) => bail!(
                        "cannot dump {} {} sockets: {e}",
                        protocol.name(),
                        family.name()
                    ),
                }
            }
        }
        Ok(if interrupted {
            Dumped::Interrupted
        } else {
            Dumped::Clean
        })
    }
}

/// How one round of dumps went.
enum Dumped {
    Clean,
    /// The kernel flagged a dump NLM_F_DUMP_INTR.
    Interrupted,
    /// The dumps must run again (the one-walk TCP request was refused).
    Redo,
}

/// Recorded dumps for the tests of every mode's loop: the `mix` fixture (tests/fixtures/mix), a
/// namespace's sockets in every state with its port range.
#[cfg(test)]
pub mod testing {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::diag::Replay;

    pub fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mix")
    }

    /// The fixture's dumps, to be altered before use.
    pub fn mix() -> Replay {
        Replay::from_dir(&fixture()).unwrap()
    }

    /// A sampler over `replay` with the fixture's pool.
    pub fn sampler(replay: Replay, protocols: Protocols) -> Sampler<Replay> {
        let dir = fixture();
        let reader = PoolReader::at(
            dir.join("ip_local_port_range.txt"),
            dir.join("ip_local_reserved_ports.txt"),
        );
        Sampler::with_source(replay, reader, protocols).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::fixture;
    use super::*;
    use crate::diag::{Replay, replay::Answer};

    fn sampler(replay: Replay, tcp: bool, udp: bool) -> Sampler<Replay> {
        super::testing::sampler(replay, Protocols { tcp, udp })
    }

    #[test]
    fn missing_udp_diag_leaves_udp_empty_and_keeps_tcp() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V4, Protocol::Udp, Answer::Fail(libc::ENOENT));
        let full = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take(1, &mut ())
            .unwrap();
        let mut s = sampler(replay, true, true);
        let first = s.take(1, &mut ()).unwrap();
        assert_eq!(first.udp_used, None);
        assert_eq!(first.tcp_used, full.tcp_used);
        assert_eq!(first.time_wait, full.time_wait);
        assert!(first.used < full.used, "UDP-only ports no longer counted");
        // Later samples no longer ask for UDP: one TCP dump each (both families at once).
        let events: Vec<Event> = s.events().collect();
        assert!(
            matches!(&events[0], Event::ProtocolDropped(Protocol::Udp, why) if why.contains("ENOENT")),
            "{events:?}"
        );
        let before = s.source().dumps;
        assert_eq!(s.take(1, &mut ()).unwrap().udp_used, None);
        assert_eq!(s.source().dumps - before, 1);
        assert!(
            !s.events().any(|e| matches!(e, Event::ProtocolDropped(..))),
            "said once"
        );
    }

    #[test]
    fn missing_udp_diag_is_an_error_when_only_udp_was_asked_for() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V4, Protocol::Udp, Answer::Fail(libc::ENOENT));
        let err = sampler(replay, false, true).take(1, &mut ()).unwrap_err();
        assert!(format!("{err:#}").contains("UDP IPv4"), "{err:#}");
    }

    #[test]
    fn other_kernel_errors_fail_the_sample() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V6, Protocol::Tcp, Answer::Fail(libc::EPERM));
        let err = sampler(replay, true, true).take(1, &mut ()).unwrap_err();
        assert!(format!("{err:#}").contains("TCP IPv6"), "{err:#}");
    }

    #[test]
    fn a_refused_one_walk_tcp_dump_falls_back_to_one_dump_per_family() {
        let clean = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take(1, &mut ())
            .unwrap();
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.refuse_both = true;
        let mut s = sampler(replay, true, true);
        let first = s.take(1, &mut ()).unwrap();
        assert_eq!(
            first,
            Sample {
                epoch_ms: first.epoch_ms,
                ..clean
            }
        );
        let before = s.source().dumps;
        s.take(1, &mut ()).unwrap();
        assert_eq!(
            s.source().dumps - before,
            4,
            "TCP and UDP per family from now on"
        );
    }

    #[test]
    fn interrupted_dumps_are_taken_again_up_to_three_times() {
        let clean = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take(1, &mut ())
            .unwrap();
        // First attempt: the second dump is interrupted; the second attempt is clean.
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.interrupt(&[false, true]);
        let mut s = sampler(replay, true, true);
        let before = s.source().dumps;
        let again = s.take(1, &mut ()).unwrap();
        assert_eq!(
            s.source().dumps - before,
            6,
            "one repeat of the three dumps"
        );
        assert_eq!(
            again,
            Sample {
                epoch_ms: again.epoch_ms,
                ..clean.clone()
            }
        );
        // Always interrupted: three attempts, then the last is kept.
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.interrupt(&[true; 20]);
        let mut s = sampler(replay, true, true);
        let before = s.source().dumps;
        let kept = s.take(1, &mut ()).unwrap();
        assert_eq!(s.source().dumps - before, 9);
        let retries: Vec<Event> = s
            .events()
            .filter(|e| matches!(e, Event::Interrupted { .. }))
            .collect();
        assert_eq!(
            retries,
            [
                Event::Interrupted {
                    attempt: 1,
                    retrying: true
                },
                Event::Interrupted {
                    attempt: 2,
                    retrying: true
                },
                Event::Interrupted {
                    attempt: 3,
                    retrying: false
                },
            ]
        );
        assert_eq!(
            kept.tcp_used, clean.tcp_used,
            "counts of one attempt, not accumulated"
        );
    }
}
