//! One sample of this network namespace: re-read the pool, dump the protocols asked for through
//! the kernel seam, fold the records. Owns the netlink socket and every buffer for the whole run.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::diag::{DiagError, DiagSocket, Dump, Family, Protocol, Record};
use crate::dst::DstTally;
use crate::pool::{Pool, PoolReader};
use crate::sample::{Measured, Sample, Tally};

/// How many times a sample is taken again when the kernel flags a dump as interrupted.
const DUMP_ATTEMPTS: u32 = 3;

/// Samples through a dump source: the kernel by default, recorded bytes in tests.
pub struct Sampler<D: Dump = DiagSocket> {
    diag: D,
    reader: PoolReader,
    pool: Pool,
    tally: Tally,
    /// The destination fold, when asked for (`--dst`, `top`).
    dst: Option<DstTally>,
    measured: Measured,
    /// TCP over IPv4 and IPv6 in one dump (one walk of the kernel's hash tables), until the
    /// kernel refuses it.
    tcp_one_walk: bool,
    verbose: bool,
}

impl Sampler {
    /// Opens the netlink socket and reads the pool once. `tcp`/`udp` say what to dump.
    pub fn new(tcp: bool, udp: bool, verbose: bool) -> Result<Self> {
        let diag = DiagSocket::open().context("cannot open a NETLINK_SOCK_DIAG socket")?;
        Sampler::with_source(diag, PoolReader::default(), tcp, udp, verbose)
    }
}

impl<D: Dump> Sampler<D> {
    /// A sampler over any dump source and pool reader; reads the pool once.
    pub fn with_source(
        diag: D,
        mut reader: PoolReader,
        tcp: bool,
        udp: bool,
        verbose: bool,
    ) -> Result<Self> {
        let mut pool = Pool::default();
        reader.read(&mut pool)?;
        Ok(Sampler {
            diag,
            reader,
            pool,
            tally: Tally::default(),
            dst: None,
            measured: Measured { tcp, udp },
            tcp_one_walk: true,
            verbose,
        })
    }

    /// Also folds destinations from now on: samples carry the `--dst` columns.
    pub fn track_destinations(&mut self) {
        self.dst = Some(DstTally::default());
    }

    /// The destination fold of the last sample, when tracked.
    pub fn destinations(&mut self) -> Option<&mut DstTally> {
        self.dst.as_mut()
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

    /// Takes one sample now.
    pub fn take(&mut self) -> Result<Sample> {
        self.take_with(&mut ())
    }

    /// Takes one sample now, also showing every record to `extra` (which is reset before each
    /// attempt, like the sample's own counters).
    pub fn take_with(&mut self, extra: &mut impl Visit) -> Result<Sample> {
        let epoch_ms = now_ms();
        self.reader.read(&mut self.pool)?;
        let mut attempt = 1;
        loop {
            self.tally.reset();
            if let Some(dst) = self.dst.as_mut() {
                dst.reset();
            }
            extra.reset();
            match self.dump_all(extra)? {
                Dumped::Clean => break,
                // Happens at most once per run: the TCP dumps go per family from now on.
                Dumped::Redo => continue,
                Dumped::Interrupted => {}
            }
            if self.verbose {
                eprintln!(
                    "conntrend: the socket table changed during the dump (attempt {attempt}/{DUMP_ATTEMPTS}){}",
                    if attempt < DUMP_ATTEMPTS {
                        "; dumping again"
                    } else {
                        "; keeping this one"
                    }
                );
            }
            if attempt == DUMP_ATTEMPTS {
                break;
            }
            attempt += 1;
        }
        let mut sample = Sample::new(epoch_ms, &self.pool, &self.tally, self.measured);
        if let Some(dst) = self.dst.as_mut() {
            sample.dst = Some(dst.worst(self.pool.total(), &self.pool.members).into());
        }
        Ok(sample)
    }

    /// Runs every dump asked for.
    fn dump_all(&mut self, extra: &mut impl Visit) -> Result<Dumped> {
        let mut interrupted = false;
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let wanted = match protocol {
                Protocol::Tcp => self.measured.tcp,
                Protocol::Udp => self.measured.udp,
            };
            if !wanted {
                continue;
            }
            let families: &[Family] = match protocol {
                Protocol::Tcp if self.tcp_one_walk => &[Family::Both],
                _ => &Family::EACH,
            };
            for &family in families {
                let (tally, dst, pool) = (&mut self.tally, &mut self.dst, &self.pool.members);
                let fold = |r: Record<'_>| {
                    tally.add(protocol, &r);
                    extra.visit(protocol, &r);
                    if let (Protocol::Tcp, Some(dst)) = (protocol, dst.as_mut()) {
                        dst.add(&r, pool);
                    }
                };
                match self.diag.dump(family, protocol, fold) {
                    Ok(end) => interrupted |= end.interrupted,
                    Err(e @ DiagError::Kernel(_)) if family == Family::Both => {
                        if self.verbose {
                            eprintln!(
                                "conntrend: one-walk TCP dump refused ({e}); dumping IPv4 and IPv6 separately"
                            );
                        }
                        self.tcp_one_walk = false;
                        return Ok(Dumped::Redo);
                    }
                    Err(e)
                        if protocol == Protocol::Udp && e.is_unsupported() && self.measured.tcp =>
                    {
                        eprintln!(
                            "conntrend: UDP sockets cannot be sampled ({e}); sampling TCP only, UDP fields stay empty"
                        );
                        self.measured.udp = false;
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
        if self.verbose {
            eprintln!("conntrend: folded {} sockets", self.tally.sockets);
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

/// Something that wants to see every record of a sample besides the built-in fold.
pub trait Visit {
    /// Forget what was seen: a new attempt at the sample starts.
    fn reset(&mut self);
    fn visit(&mut self, protocol: Protocol, record: &Record<'_>);
}

/// Nothing extra: the timeline's own path.
impl Visit for () {
    fn reset(&mut self) {}
    #[inline]
    fn visit(&mut self, _: Protocol, _: &Record<'_>) {}
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::diag::{Replay, replay::Answer};

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mix")
    }

    fn sampler(replay: Replay, tcp: bool, udp: bool) -> Sampler<Replay> {
        let dir = fixture();
        let reader = PoolReader::at(
            dir.join("ip_local_port_range.txt"),
            dir.join("ip_local_reserved_ports.txt"),
        );
        Sampler::with_source(replay, reader, tcp, udp, false).unwrap()
    }

    #[test]
    fn missing_udp_diag_leaves_udp_empty_and_keeps_tcp() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V4, Protocol::Udp, Answer::Fail(libc::ENOENT));
        let full = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take()
            .unwrap();
        let mut s = sampler(replay, true, true);
        let first = s.take().unwrap();
        assert_eq!(first.udp_used, None);
        assert_eq!(first.tcp_used, full.tcp_used);
        assert_eq!(first.time_wait, full.time_wait);
        assert!(first.used < full.used, "UDP-only ports no longer counted");
        // Later samples no longer ask for UDP: one TCP dump each (both families at once).
        let before = s.source().dumps;
        assert_eq!(s.take().unwrap().udp_used, None);
        assert_eq!(s.source().dumps - before, 1);
    }

    #[test]
    fn missing_udp_diag_is_an_error_when_only_udp_was_asked_for() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V4, Protocol::Udp, Answer::Fail(libc::ENOENT));
        let err = sampler(replay, false, true).take().unwrap_err();
        assert!(format!("{err:#}").contains("UDP IPv4"), "{err:#}");
    }

    #[test]
    fn other_kernel_errors_fail_the_sample() {
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.set(Family::V6, Protocol::Tcp, Answer::Fail(libc::EPERM));
        let err = sampler(replay, true, true).take().unwrap_err();
        assert!(format!("{err:#}").contains("TCP IPv6"), "{err:#}");
    }

    #[test]
    fn a_refused_one_walk_tcp_dump_falls_back_to_one_dump_per_family() {
        let clean = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take()
            .unwrap();
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.refuse_both = true;
        let mut s = sampler(replay, true, true);
        let first = s.take().unwrap();
        assert_eq!(
            first,
            Sample {
                epoch_ms: first.epoch_ms,
                ..clean
            }
        );
        let before = s.source().dumps;
        s.take().unwrap();
        assert_eq!(
            s.source().dumps - before,
            4,
            "TCP and UDP per family from now on"
        );
    }

    #[test]
    fn interrupted_dumps_are_taken_again_up_to_three_times() {
        let clean = sampler(Replay::from_dir(&fixture()).unwrap(), true, true)
            .take()
            .unwrap();
        // First attempt: the second dump is interrupted; the second attempt is clean.
        let mut replay = Replay::from_dir(&fixture()).unwrap();
        replay.interrupt(&[false, true]);
        let mut s = sampler(replay, true, true);
        let before = s.source().dumps;
        let again = s.take().unwrap();
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
        let kept = s.take().unwrap();
        assert_eq!(s.source().dumps - before, 9);
        assert_eq!(
            kept.tcp_used, clean.tcp_used,
            "counts of one attempt, not accumulated"
        );
    }
}
