//! Runs the hash-walk program ([`prog::hash`]) over the calling thread's TCP tables: the
//! established table cut into bucket ranges, one job each, plus one job for the listening table;
//! as many threads as the machine has CPUs take the jobs, each run by run (a run stops after
//! [`Hash::STEPS`] steps and the next goes on from there). The counts of all jobs are added up
//! here.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::prog::{self, HashOffsets, Job, Layout, Table};
use super::{btf, sys};

/// Walks again when a chain strayed (a socket freed and reused while read); after this many
/// walks the counts stand as they are.
const TRIES: usize = 3;

/// Job `j` of `jobs`: its table and bucket range. Job 0 walks the listening table, the others
/// equal parts of the established one of `buckets` buckets (0 while its size is not known: then
/// they only find it), the last open-ended.
fn plan(jobs: u32, buckets: u32, j: u32) -> (Table, u32, u32) {
    if j == 0 {
        return (Table::Listening, 0, u32::MAX);
    }
    if buckets == 0 {
        return (Table::Established, 0, 0);
    }
    let parts = u64::from(jobs - 1);
    let at = |k: u64| (u64::from(buckets) * k / parts) as u32;
    let k = u64::from(j - 1);
    let end = if k + 1 == parts { u32::MAX } else { at(k + 1) };
    (Table::Established, at(k), end)
}

pub struct HashWalk {
    prog: OwnedFd,
    map: OwnedFd,
    jobs: u32,
    threads: usize,
    /// Buckets of the established table, as the last run found them.
    buckets: u32,
    value: Vec<u8>,
    /// What the last [`HashWalk::walk`] counted: TCP sockets per state and their ports.
    pub states: [u32; Layout::STATES],
    /// By family, peer and state ([`Layout::by_family`]).
    pub families: [u32; Layout::FAMILIES / 4],
    pub ports: Box<[u8; Layout::BITMAP]>,
    /// Whether the last [`HashWalk::walk`] ended with a walk that never strayed (else every
    /// one of its [`TRIES`] did, and the counts are the last one's, like a netlink dump that
    /// kept being interrupted).
    pub settled: bool,
}

fn u32_at(v: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(v[at..at + 4].try_into().expect("4 bytes"))
}

fn put(v: &mut [u8], at: usize, n: u32) {
    v[at..at + 4].copy_from_slice(&n.to_ne_bytes());
}

impl HashWalk {
    /// Loads the program for `threads` threads (two established-table jobs a thread); the first
    /// walk finds the size of the established table and cuts it into parts.
    pub fn open(offsets: &HashOffsets, threads: usize) -> Result<HashWalk, String> {
        let threads = threads.clamp(1, 64);
        let jobs = 1 + 2 * threads as u32;
        let len = Job::LEN * jobs as usize;
        let map =
            sys::array_map(len as u32).map_err(|e| format!("cannot create a BPF map: {e}"))?;
        let (insns, callback) = prog::hash(offsets, map.as_raw_fd(), jobs);
        let btf = sys::load_btf(&btf::program_funcs())
            .map_err(|e| format!("cannot load the TCP hash walk's BTF: {e}"))?;
        let funcs = [[0, btf::MAIN], [callback, btf::CALLBACK]];
        let prog = sys::load_runnable("conntrend_hash", &insns, &btf, &funcs)
            .map_err(|e| format!("the kernel refused the TCP hash walk: {e}"))?;
        let walk = HashWalk {
            prog,
            map,
            jobs,
            threads,
            buckets: 0,
            value: vec![0; len],
            states: [0; Layout::STATES],
            families: [0; Layout::FAMILIES / 4],
            ports: Box::new([0; Layout::BITMAP]),
            settled: true,
        };
        Ok(walk)
    }

    /// Walks both tables of the calling thread's network namespace into [`HashWalk::states`]
    /// and [`HashWalk::ports`].
    pub fn walk(&mut self) -> io::Result<()> {
        self.settled = false;
        for _ in 0..TRIES {
            self.value.fill(0);
            for j in 0..self.jobs {
                let (table, first, end) = plan(self.jobs, self.buckets, j);
                let slot = &mut self.value[j as usize * Job::LEN..][..Job::LEN];
                put(slot, Job::TABLE, table as u32);
                put(slot, Job::FIRST, first);
                put(slot, Job::END, end);
            }
            sys::map_write(&self.map, &self.value)?;
            let finished = self.run_all()?;
            sys::map_read(&self.map, &mut self.value)?;
            let size = u32_at(&self.value, Job::LEN + Job::SIZE);
            if size != self.buckets {
                // The first walk, or a namespace with a table of its own: the parts were cut
                // for another size, so again with this one.
                self.buckets = size;
                return self.walk();
            }
            let strays: u32 = self
                .value
                .chunks(Job::LEN)
                .map(|s| u32_at(s, Job::STRAYS))
                .sum();
            if strays == 0 && finished {
                self.settled = true;
                break;
            }
        }
        self.add_up();
        Ok(())
    }

    /// Runs every job to its end, on `threads` threads taking jobs as they come. False when a
    /// job could not walk a chain to its end (a socket that could not be read, or a chain
    /// longer than a run's loop: a walk gone astray, walked again like a stray one).
    fn run_all(&self) -> io::Result<bool> {
        let next = AtomicU32::new(0);
        let work = || -> io::Result<bool> {
            let mut finished = true;
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= self.jobs {
                    return Ok(finished);
                }
                loop {
                    match sys::test_run(&self.prog, j)? {
                        0 => continue,
                        1 => break,
                        2 => {
                            finished = false;
                            break;
                        }
                        _ => {
                            return Err(io::Error::other(
                                "cannot find this network namespace's TCP tables",
                            ));
                        }
                    }
                }
            }
        };
        std::thread::scope(|s| {
            let others: Vec<_> = (1..self.threads).map(|_| s.spawn(work)).collect();
            let mine = work();
            others.into_iter().fold(mine, |acc, t| {
                let theirs = t.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                Ok(acc? & theirs?)
            })
        })
    }

    fn add_up(&mut self) {
        self.states = [0; Layout::STATES];
        self.families = [0; Layout::FAMILIES / 4];
        self.ports.fill(0);
        for slot in self.value.chunks(Job::LEN) {
            for (s, n) in self.states.iter_mut().enumerate() {
                *n += u32_at(slot, Job::STATES + 4 * s);
            }
            for (i, n) in self.families.iter_mut().enumerate() {
                *n += u32_at(slot, Job::FAMILIES + 4 * i);
            }
            for (p, b) in self.ports.iter_mut().zip(&slot[Job::PORTS..]) {
                *p |= b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_cover_the_established_table_once_and_the_listening_table_whole() {
        for (jobs, buckets) in [(2, 1), (3, 1024), (5, 262_144), (9, 1000), (33, 7)] {
            assert_eq!(plan(jobs, buckets, 0), (Table::Listening, 0, u32::MAX));
            let mut next = 0;
            for j in 1..jobs {
                let (table, first, end) = plan(jobs, buckets, j);
                assert_eq!(
                    (table, first),
                    (Table::Established, next),
                    "{jobs} {buckets} {j}"
                );
                assert!(end >= first);
                next = end;
            }
            assert_eq!(
                next,
                u32::MAX,
                "the last part runs to the table's end, whatever it is"
            );
            // Before the size is known the parts are empty: they only find it.
            assert_eq!(plan(jobs, 0, jobs - 1), (Table::Established, 0, 0));
        }
    }
}
